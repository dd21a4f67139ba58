//! Structured lifecycle events of an ecosystem, read from the engine's event stream (filtered by
//! the ecosystem label), and the anomaly rules flagged on them and in `status`:
//!
//! - **restart loop**: a container started [`RESTART_LOOP_STARTS`] times within
//!   [`RESTART_LOOP_WINDOW`] seconds after dying (or, in `status`, restarted at least that often
//!   and up for less than the window);
//! - **repeated health failures**: [`HEALTH_FAILURES`] failed health checks in a row;
//! - **OOM**: the kernel killed a container for going over its memory limit.
use crate::engine::{labels, EngineEvent};
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};

/// Starts within [`RESTART_LOOP_WINDOW`] that make a restart loop.
pub const RESTART_LOOP_STARTS: usize = 3;
/// Window of the restart-loop rule, seconds.
pub const RESTART_LOOP_WINDOW: i64 = 60;
/// Failed health checks in a row that are flagged.
pub const HEALTH_FAILURES: u32 = 3;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    /// A container was created.
    Created,
    /// A container started (the first time).
    Started,
    /// A container started again after it died (restart policy or `restart`).
    Restarted,
    /// A container's process exited.
    Died,
    /// The kernel killed a container for going over its memory limit.
    OomKilled,
    /// A health check passed.
    HealthPassed,
    /// A health check failed.
    HealthFailed,
    /// A container was stopped.
    Stopped,
    /// A container was removed.
    Removed,
}

impl EventKind {
    /// The kebab-case name (`oom-killed`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Created => "created",
            EventKind::Started => "started",
            EventKind::Restarted => "restarted",
            EventKind::Died => "died",
            EventKind::OomKilled => "oom-killed",
            EventKind::HealthPassed => "health-passed",
            EventKind::HealthFailed => "health-failed",
            EventKind::Stopped => "stopped",
            EventKind::Removed => "removed",
        }
    }
}

/// One lifecycle event of a service container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LifecycleEvent {
    /// Unix time, seconds.
    pub time: i64,
    /// What happened.
    pub kind: EventKind,
    /// Ecosystem (label).
    pub ecosystem: String,
    /// Tenant (label), when the container belongs to one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Service (label).
    pub service: String,
    /// Container name.
    pub container: String,
    /// Exit code of a `died` event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    /// The anomaly this event completes, if any (`restart-loop`, `health-failures`, `oom`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anomaly: Option<String>,
}

impl LifecycleEvent {
    /// One human line: `12:00:01 api (shop-api-1) died exit 137  [anomaly: oom]`.
    #[must_use]
    pub fn line(&self) -> String {
        let t = self.time.rem_euclid(86_400);
        let mut s = format!(
            "{:02}:{:02}:{:02} {} ({}) {}",
            t / 3600,
            (t % 3600) / 60,
            t % 60,
            self.service,
            self.container,
            self.kind.as_str()
        );
        if let Some(c) = self.exit_code {
            s.push_str(&format!(" exit {c}"));
        }
        if let Some(a) = &self.anomaly {
            s.push_str(&format!("  [anomaly: {a}]"));
        }
        s
    }
}

/// Maps an engine event to a lifecycle event; `None` for actions pactown does not report
/// (exec, attach, resize…) and for containers without a service label (helpers).
#[must_use]
pub fn classify(e: &EngineEvent) -> Option<LifecycleEvent> {
    let service = e.attributes.get(labels::SERVICE)?.clone();
    let action = e.action.as_str();
    let kind = match action {
        "create" => EventKind::Created,
        "start" => EventKind::Started,
        "die" => EventKind::Died,
        "oom" => EventKind::OomKilled,
        "stop" => EventKind::Stopped,
        "destroy" | "remove" => EventKind::Removed,
        a if a.starts_with("health_status") && a.ends_with("unhealthy") => EventKind::HealthFailed,
        a if a.starts_with("health_status") && a.ends_with("healthy") => EventKind::HealthPassed,
        _ => return None,
    };
    Some(LifecycleEvent {
        time: e.time,
        kind,
        ecosystem: e
            .attributes
            .get(labels::ECOSYSTEM)
            .cloned()
            .unwrap_or_default(),
        tenant: e.attributes.get(labels::TENANT).cloned(),
        service,
        container: e.attributes.get("name").cloned().unwrap_or_default(),
        exit_code: (kind == EventKind::Died)
            .then(|| e.attributes.get("exitCode").and_then(|c| c.parse().ok()))
            .flatten(),
        anomaly: None,
    })
}

/// Applies the anomaly rules to a stream of events, per container.
#[derive(Debug, Default)]
pub struct AnomalyTracker {
    died: BTreeMap<String, bool>,
    starts_after_death: BTreeMap<String, VecDeque<i64>>,
    health_failures: BTreeMap<String, u32>,
}

impl AnomalyTracker {
    /// Turns a `start` after a `die` into `restarted` and sets `anomaly` when a rule fires.
    pub fn observe(&mut self, mut e: LifecycleEvent) -> LifecycleEvent {
        let key = e.container.clone();
        match e.kind {
            EventKind::Died => {
                self.died.insert(key, true);
            }
            EventKind::Started => {
                if self.died.get(&key).copied().unwrap_or(false) {
                    e.kind = EventKind::Restarted;
                    let starts = self.starts_after_death.entry(key.clone()).or_default();
                    starts.push_back(e.time);
                    while starts
                        .front()
                        .is_some_and(|t| e.time - *t > RESTART_LOOP_WINDOW)
                    {
                        starts.pop_front();
                    }
                    if starts.len() >= RESTART_LOOP_STARTS {
                        e.anomaly = Some("restart-loop".into());
                    }
                }
                self.died.insert(key, false);
            }
            EventKind::OomKilled => e.anomaly = Some("oom".into()),
            EventKind::HealthFailed => {
                let n = self.health_failures.entry(key).or_insert(0);
                *n += 1;
                if *n >= HEALTH_FAILURES {
                    e.anomaly = Some("health-failures".into());
                }
            }
            EventKind::HealthPassed => {
                self.health_failures.insert(key, 0);
            }
            _ => {}
        }
        e
    }
}

/// Anomalies of a container from what `inspect` says: `oom` when it was OOM-killed,
/// `restart-loop` when it restarted at least [`RESTART_LOOP_STARTS`] times and has been up for
/// less than [`RESTART_LOOP_WINDOW`] seconds (or is down).
#[must_use]
pub fn container_anomalies(oom_killed: bool, restarts: u64, uptime: Option<u64>) -> Vec<String> {
    let mut out = Vec::new();
    if oom_killed {
        out.push("oom".to_string());
    }
    let window = u64::try_from(RESTART_LOOP_WINDOW).unwrap_or(60);
    if restarts >= RESTART_LOOP_STARTS as u64 && uptime.is_none_or(|u| u < window) {
        out.push("restart-loop".to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(action: &str, time: i64) -> EngineEvent {
        EngineEvent {
            kind: "container".into(),
            action: action.into(),
            id: "c1".into(),
            attributes: BTreeMap::from([
                (labels::SERVICE.to_string(), "api".to_string()),
                (labels::ECOSYSTEM.to_string(), "shop".to_string()),
                ("name".to_string(), "shop-api-1".to_string()),
                ("exitCode".to_string(), "137".to_string()),
            ]),
            time,
        }
    }

    #[test]
    fn classifies_and_flags_restart_loops_oom_and_health() {
        let mut t = AnomalyTracker::default();
        let mut kinds = Vec::new();
        let mut anomalies = Vec::new();
        for (a, time) in [
            ("create", 0),
            ("start", 1),
            ("exec_start: sh", 2),
            ("die", 3),
            ("start", 4),
            ("die", 5),
            ("start", 6),
            ("die", 7),
            ("start", 8),
            ("oom", 9),
        ] {
            if let Some(e) = classify(&ev(a, time)) {
                let e = t.observe(e);
                kinds.push(e.kind);
                anomalies.push(e.anomaly.clone());
            }
        }
        use EventKind::*;
        assert_eq!(
            kinds,
            [Created, Started, Died, Restarted, Died, Restarted, Died, Restarted, OomKilled]
        );
        assert_eq!(anomalies[7].as_deref(), Some("restart-loop"));
        assert_eq!(anomalies[5], None);
        assert_eq!(anomalies[8].as_deref(), Some("oom"));
        let mut t = AnomalyTracker::default();
        let fails: Vec<Option<String>> = (0..3)
            .map(|i| {
                t.observe(classify(&ev("health_status: unhealthy", i)).unwrap())
                    .anomaly
            })
            .collect();
        assert_eq!(fails, [None, None, Some("health-failures".into())]);
        let died = classify(&ev("die", 1)).unwrap();
        assert_eq!(died.exit_code, Some(137));
        assert!(died.line().contains("api (shop-api-1) died exit 137"));
    }

    #[test]
    fn status_rules() {
        assert_eq!(container_anomalies(true, 0, Some(5)), ["oom"]);
        assert_eq!(container_anomalies(false, 3, Some(5)), ["restart-loop"]);
        assert!(container_anomalies(false, 3, Some(600)).is_empty());
        assert!(container_anomalies(false, 1, None).is_empty());
    }
}
