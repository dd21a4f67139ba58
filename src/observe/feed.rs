//! The event feed of `pactown events`: the engine's container events and pactown's journal
//! ([`super::journal`]) merged in time order over a history window, then (when following) the
//! live engine stream, new journal lines (polled) and the results of active health monitoring
//! ([`super::monitor`]), all passed through one [`AnomalyTracker`].
use super::events::{classify, merge, AnomalyTracker, LifecycleEvent};
use super::journal::{self, Journal};
use super::monitor::HealthMonitor;
use crate::deploy::health::HealthProbe;
use crate::engine::{Engine, EngineError};
use crate::ui::Printer;
use futures_util::StreamExt;
use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

/// How often a followed journal is read for new lines.
pub const JOURNAL_POLL: Duration = Duration::from_millis(250);

/// What the feed shows.
#[derive(Debug, Clone, Default)]
pub struct FeedOptions {
    /// Start of the history window, Unix seconds.
    pub since: i64,
    /// Keep following after the history.
    pub follow: bool,
    /// While following, probe every running container this often (`None`: no monitoring).
    pub health_interval: Option<Duration>,
    /// The ecosystem's journal (`None`: engine events only).
    pub journal: Option<Journal>,
    /// Container port per service, for the health probes.
    pub ports: BTreeMap<String, u16>,
}

/// Runs the feed of `ecosystem`, passing each event (anomalies set) to `emit`, until the history
/// is shown (without `follow`), the engine's stream ends, or `stop` resolves.
///
/// # Errors
/// The engine's event stream cannot be opened or fails.
pub async fn run(
    engine: &dyn Engine,
    probe: &dyn HealthProbe,
    ecosystem: &str,
    opts: FeedOptions,
    printer: &Printer,
    emit: &mut (dyn FnMut(LifecycleEvent) + Send),
    stop: impl Future<Output = ()>,
) -> Result<(), EngineError> {
    tokio::pin!(stop);
    let filter = crate::deploy::ecosystem_filter(ecosystem);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    // the engine keeps whole seconds: one more takes in everything of the current second, and
    // the live stream goes on from exactly there
    let split = now.saturating_add(1);
    let mut history = engine
        .events_window(&filter, opts.since, Some(split))
        .await?;
    let mut from_engine = Vec::new();
    loop {
        let item = tokio::select! {
            item = history.next() => item,
            () = &mut stop => return Ok(()),
        };
        let Some(item) = item else { break };
        if let Some(e) = classify(&item?) {
            from_engine.push(e);
        }
    }
    let (from_journal, cursor) = match &opts.journal {
        Some(j) => {
            let (events, cursor) = j.history_and_cursor(opts.since);
            (events, Some(cursor.skipping_pid(std::process::id())))
        }
        None => (Vec::new(), None),
    };
    let mut tracker = AnomalyTracker::default();
    for e in merge(from_engine, from_journal) {
        emit(tracker.observe(e));
    }
    if !opts.follow {
        return Ok(());
    }

    let mut live = engine.events_window(&filter, split, None).await?;
    let mut cursor = cursor;
    let mut poll = tokio::time::interval(JOURNAL_POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut health = opts.health_interval.map(|d| {
        let mut t = tokio::time::interval(d);
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t
    });
    let probe_timeout = opts
        .health_interval
        .unwrap_or(Duration::from_secs(2))
        .clamp(Duration::from_millis(500), Duration::from_secs(2));
    let mut monitor = HealthMonitor::new(opts.ports.clone());
    loop {
        tokio::select! {
            () = &mut stop => break,
            item = live.next() => {
                let Some(item) = item else { break };
                if let Some(e) = classify(&item?) {
                    emit(tracker.observe(e));
                }
            }
            _ = poll.tick(), if cursor.is_some() => {
                if let Some(c) = cursor.as_mut() {
                    for e in c.poll() {
                        emit(tracker.observe(e));
                    }
                }
            }
            _ = async {
                match health.as_mut() {
                    Some(t) => t.tick().await,
                    None => std::future::pending().await,
                }
            } => {
                match monitor.round(engine, probe, ecosystem, probe_timeout).await {
                    Ok(events) => {
                        journal::record(opts.journal.as_ref(), &events);
                        for e in events {
                            emit(tracker.observe(e));
                        }
                    }
                    Err(e) => printer.debug(&format!("health monitoring: {e}")),
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::fake::FakeEngine;
    use crate::observe::events::EventKind;

    #[tokio::test]
    async fn history_comes_from_the_journal_with_anomalies_flagged() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::at(dir.path().join("shop.jsonl"));
        let mut old = LifecycleEvent::now(EventKind::BuildFinished, "shop", "api", "");
        old.time -= 7200;
        old.time_ms = old.time_ms.map(|t| t - 7_200_000);
        let mut events = vec![old];
        for _ in 0..3 {
            events.push(LifecycleEvent::now(
                EventKind::HealthFailed,
                "shop",
                "api",
                "shop-api-1",
            ));
        }
        journal.append(&events).unwrap();
        let engine = FakeEngine::new();
        let printer = Printer::new(crate::ui::Verbosity::Quiet);
        let mut seen = Vec::new();
        let opts = FeedOptions {
            since: events[1].time - 60,
            journal: Some(journal),
            ..FeedOptions::default()
        };
        run(
            &engine,
            &crate::deploy::HttpProbe,
            "shop",
            opts,
            &printer,
            &mut |e| seen.push(e),
            std::future::pending(),
        )
        .await
        .unwrap();
        // the build is outside the window; the third failure in a row is flagged
        let anomalies: Vec<Option<&str>> = seen.iter().map(|e| e.anomaly.as_deref()).collect();
        assert_eq!(anomalies, [None, None, Some("health-failures")]);
    }
}
