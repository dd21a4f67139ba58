//! Log following that survives replacements: the ecosystem's containers are listed again every
//! `rescan` (and whenever [`Follower::rescan`] is called), and a stream is opened for each
//! container not followed yet. Containers present at the start show only new lines; containers
//! that appear later (watch mode replaced or added them) show their output from the beginning.
use super::logs::container_prefix;
use crate::engine::{labels, Engine, EngineError};
use futures_util::StreamExt;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// Where prefixed log lines go.
pub type LineSink = Arc<dyn Fn(String) + Send + Sync>;

/// A handle to ask the follower to look for new containers now.
#[derive(Debug, Clone, Default)]
pub struct Follower {
    wake: Arc<Notify>,
}

impl Follower {
    /// A new handle.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Look for new containers at once (after a replacement).
    pub fn rescan(&self) {
        self.wake.notify_one();
    }

    /// Follows the logs of every container of `ecosystem` until `stop` resolves, sending
    /// `service | line` to `sink` (coloured prefixes when `color`).
    ///
    /// # Errors
    /// The first listing of the containers fails.
    pub async fn run(
        &self,
        engine: Arc<dyn Engine>,
        ecosystem: &str,
        color: bool,
        rescan: Duration,
        sink: LineSink,
        stop: impl Future<Output = ()>,
    ) -> Result<(), EngineError> {
        let filter = super::ecosystem_filter(ecosystem);
        let mut tasks: BTreeMap<String, JoinHandle<()>> = BTreeMap::new();
        let mut first = true;
        tokio::pin!(stop);
        loop {
            let listed = engine.list_containers(&filter).await;
            let containers = match listed {
                Ok(c) => c,
                Err(e) if first => return Err(e),
                Err(_) => Vec::new(),
            };
            let mut services: Vec<&str> = containers
                .iter()
                .filter_map(|c| c.labels.get(labels::SERVICE).map(String::as_str))
                .collect();
            services.sort_unstable();
            services.dedup();
            let width = services.iter().map(|s| s.len()).max().unwrap_or(0);
            let ids: BTreeSet<&str> = containers.iter().map(|c| c.id.as_str()).collect();
            tasks.retain(|id, t| {
                let keep = ids.contains(id.as_str()) && !t.is_finished();
                if !keep {
                    t.abort();
                }
                keep
            });
            for c in &containers {
                if tasks.contains_key(&c.id) {
                    continue;
                }
                let p = container_prefix(c, &services, width, color);
                let tail = if first { Some(0) } else { None };
                let Ok(mut stream) = engine.logs(&c.id, tail, true).await else {
                    continue;
                };
                let sink = Arc::clone(&sink);
                tasks.insert(
                    c.id.clone(),
                    tokio::spawn(async move {
                        while let Some(Ok(line)) = stream.next().await {
                            sink(format!("{p} {}", line.text));
                        }
                    }),
                );
            }
            first = false;
            tokio::select! {
                () = &mut stop => break,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(rescan) => {}
            }
        }
        for t in tasks.values() {
            t.abort();
        }
        Ok(())
    }
}
