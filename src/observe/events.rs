//! Structured lifecycle events of an ecosystem: container events read from the engine's event
//! stream (filtered by the ecosystem label), and pactown's own events (builds, health checks)
//! read from its journal ([`super::journal`]), merged in time order ([`merge`]); and the anomaly
//! rules flagged on them and in `status`:
//!
//! - **restart loop**: a container started [`RESTART_LOOP_STARTS`] times within
//!   [`RESTART_LOOP_WINDOW`] seconds after dying (or, in `status`, restarted at least that often
//!   and up for less than the window);
//! - **repeated health failures**: [`HEALTH_FAILURES`] failed health checks in a row;
//! - **OOM**: the kernel killed a container for going over its memory limit.
use crate::config::labels;
use crate::engine::EngineEvent;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

/// Starts within [`RESTART_LOOP_WINDOW`] that make a restart loop.
pub const RESTART_LOOP_STARTS: usize = 3;
/// Window of the restart-loop rule, seconds.
pub const RESTART_LOOP_WINDOW: i64 = 60;
/// Failed health checks in a row that are flagged.
pub const HEALTH_FAILURES: u32 = 3;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
    /// A Swarm service was created.
    ServiceCreated,
    /// A Swarm service was updated: its spec changed, or its update (or roll-back) moved on
    /// (the detail says which: `update: rollback_started`, `image: …`, `replicas: 1 → 2`).
    ServiceUpdated,
    /// A Swarm service was removed.
    ServiceRemoved,
    /// An image build began (the tag was not present).
    BuildStarted,
    /// A service's image is ready: built, or found by its tag (`cached`).
    BuildFinished,
    /// A service's image could not be built.
    BuildFailed,
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
            EventKind::ServiceCreated => "service-created",
            EventKind::ServiceUpdated => "service-updated",
            EventKind::ServiceRemoved => "service-removed",
            EventKind::BuildStarted => "build-started",
            EventKind::BuildFinished => "build-finished",
            EventKind::BuildFailed => "build-failed",
        }
    }

    /// True for the build events (no container).
    #[must_use]
    pub fn is_build(self) -> bool {
        matches!(
            self,
            EventKind::BuildStarted | EventKind::BuildFinished | EventKind::BuildFailed
        )
    }
}

/// One lifecycle event of a service (a container event, a build or a health check). The JSON
/// form is one object; fields that do not apply are left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleEvent {
    /// Unix time, seconds.
    pub time: i64,
    /// Unix time, milliseconds (orders events within a second).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_ms: Option<i64>,
    /// What happened.
    pub kind: EventKind,
    /// Ecosystem (label).
    pub ecosystem: String,
    /// Tenant (label), when the container belongs to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Service (label).
    pub service: String,
    /// Container name (empty for build events).
    #[serde(default)]
    pub container: String,
    /// Exit code of a `died` event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    /// Image tag of a build event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// `build-finished`: true when the tag existed and nothing was built.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached: Option<bool>,
    /// Build time (build events) or probe latency (`health-passed`), milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Why a build or a health check failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The anomaly this event completes, if any (`restart-loop`, `health-failures`, `oom`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anomaly: Option<String>,
}

impl LifecycleEvent {
    /// An event of `kind` happening now (other fields empty).
    #[must_use]
    pub fn now(kind: EventKind, ecosystem: &str, service: &str, container: &str) -> Self {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        Self {
            time: ms.div_euclid(1000),
            time_ms: Some(ms),
            kind,
            ecosystem: ecosystem.to_string(),
            tenant: None,
            service: service.to_string(),
            container: container.to_string(),
            exit_code: None,
            image: None,
            cached: None,
            duration_ms: None,
            detail: None,
            anomaly: None,
        }
    }

    /// The tenant of the event.
    #[must_use]
    pub fn with_tenant(mut self, tenant: Option<&str>) -> Self {
        self.tenant = tenant.map(str::to_string);
        self
    }

    /// Milliseconds since the epoch, for ordering.
    #[must_use]
    pub fn sort_key(&self) -> i64 {
        self.time_ms
            .unwrap_or_else(|| self.time.saturating_mul(1000))
    }

    /// One human line: `12:00:01 api (shop-api-1) died exit 137  [anomaly: oom]`,
    /// `12:00:00 api build-finished pactown/python-api:0123456789ab in 3.20s`.
    #[must_use]
    pub fn line(&self) -> String {
        let t = self.time.rem_euclid(86_400);
        let mut s = format!(
            "{:02}:{:02}:{:02} {}",
            t / 3600,
            (t % 3600) / 60,
            t % 60,
            self.service,
        );
        if !self.container.is_empty() {
            s.push_str(&format!(" ({})", self.container));
        }
        s.push(' ');
        s.push_str(self.kind.as_str());
        if let Some(image) = &self.image {
            s.push_str(&format!(" {image}"));
        }
        if let Some(c) = self.exit_code {
            s.push_str(&format!(" exit {c}"));
        }
        if self.cached == Some(true) {
            s.push_str(" (cached)");
        } else if let Some(ms) = self.duration_ms {
            if self.kind.is_build() {
                s.push_str(&format!(" in {:.2}s", ms as f64 / 1000.0));
            } else {
                s.push_str(&format!(" {ms}ms"));
            }
        }
        if let Some(d) = &self.detail {
            s.push_str(&format!(": {d}"));
        }
        if let Some(a) = &self.anomaly {
            s.push_str(&format!("  [anomaly: {a}]"));
        }
        s
    }
}

/// Merges two event lists into one in time order (stable: on equal times `a` comes first).
#[must_use]
pub fn merge(a: Vec<LifecycleEvent>, b: Vec<LifecycleEvent>) -> Vec<LifecycleEvent> {
    let mut all = a;
    all.extend(b);
    all.sort_by_key(LifecycleEvent::sort_key);
    all
}

/// Maps an engine event to a lifecycle event; `None` for actions pactown does not report
/// (exec, attach, resize…) and for containers without a service label (helpers).
#[must_use]
pub fn classify(e: &EngineEvent) -> Option<LifecycleEvent> {
    let service = e.attributes.get(labels::SERVICE)?.clone();
    let action = e.action.as_str();
    let mut detail = None;
    let kind = match (e.kind.as_str(), action) {
        ("service", "create") => EventKind::ServiceCreated,
        ("service", "remove") => EventKind::ServiceRemoved,
        ("service", "update") => {
            detail = service_change(&e.attributes);
            EventKind::ServiceUpdated
        }
        ("service", _) => return None,
        _ => container_kind(action)?,
    };
    Some(LifecycleEvent {
        time: e.time,
        time_ms: (e.time_nano > 0).then_some(e.time_nano / 1_000_000),
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
        image: None,
        cached: None,
        duration_ms: None,
        detail,
        anomaly: None,
    })
}

/// What a Swarm service update changed, from the event's `*.new`/`*.old` attributes.
fn service_change(a: &BTreeMap<String, String>) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(state) = a.get("updatestate.new").filter(|s| !s.is_empty()) {
        parts.push(format!("update: {state}"));
    }
    if let Some(image) = a.get("image.new").filter(|s| !s.is_empty()) {
        parts.push(format!("image: {image}"));
    }
    if let Some(n) = a.get("replicas.new").filter(|s| !s.is_empty()) {
        let old = a.get("replicas.old").map_or("?", String::as_str);
        parts.push(format!("replicas: {old} → {n}"));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// The lifecycle kind of a container event's action.
fn container_kind(action: &str) -> Option<EventKind> {
    Some(match action {
        "create" => EventKind::Created,
        "start" => EventKind::Started,
        "die" => EventKind::Died,
        "oom" => EventKind::OomKilled,
        "stop" => EventKind::Stopped,
        "destroy" | "remove" => EventKind::Removed,
        a if a.starts_with("health_status") && a.ends_with("unhealthy") => EventKind::HealthFailed,
        a if a.starts_with("health_status") && a.ends_with("healthy") => EventKind::HealthPassed,
        _ => return None,
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
        let key = slot_of(&e.container).to_string();
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
            EventKind::ServiceUpdated => {
                let state = e.detail.as_deref().unwrap_or_default();
                if state.contains("update: rollback_started") {
                    e.anomaly = Some("rolled-back".into());
                } else if state.contains("update: paused") {
                    e.anomaly = Some("update-paused".into());
                }
            }
            _ => {}
        }
        e
    }
}

/// The replica a container stands for: a Swarm task's container (`SERVICE.SLOT.TASK`, a new
/// task for each restart) counts as its slot `SERVICE.SLOT`, any other container as itself.
fn slot_of(container: &str) -> &str {
    match container.rsplit_once('.') {
        Some((slot, task))
            if task.len() == 25
                && task
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                && slot.rsplit_once('.').is_some_and(|(_, n)| {
                    !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())
                }) =>
        {
            slot
        }
        _ => container,
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
            time_nano: 0,
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
    fn merge_orders_engine_and_journal_events_by_time() {
        let mut started = classify(&ev("start", 10)).unwrap();
        started.time_ms = Some(10_400);
        let created = classify(&ev("create", 10)).unwrap(); // whole seconds only: 10_000
        let mut built = LifecycleEvent::now(EventKind::BuildFinished, "shop", "api", "");
        built.time = 10;
        built.time_ms = Some(10_200);
        let mut passed = LifecycleEvent::now(EventKind::HealthPassed, "shop", "api", "shop-api-1");
        passed.time = 10;
        passed.time_ms = Some(10_900);
        let kinds: Vec<EventKind> = merge(vec![created, started], vec![built, passed])
            .iter()
            .map(|e| e.kind)
            .collect();
        use EventKind::*;
        assert_eq!(kinds, [Created, BuildFinished, Started, HealthPassed]);
    }

    #[test]
    fn json_shape_keeps_the_old_fields_and_adds_optional_ones() {
        let died = classify(&ev("die", 7)).unwrap();
        let v = serde_json::to_value(&died).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "time",
                "kind",
                "ecosystem",
                "service",
                "container",
                "exit_code"
            ]
        );
        let mut built = LifecycleEvent::now(EventKind::BuildFinished, "shop", "api", "");
        built.image = Some("pactown/python-api:1".into());
        built.cached = Some(false);
        built.duration_ms = Some(3200);
        let text = serde_json::to_string(&built).unwrap();
        assert!(text.contains("\"kind\":\"build-finished\""), "{text}");
        let back: LifecycleEvent = serde_json::from_str(&text).unwrap();
        assert_eq!(back, built);
        assert!(built
            .line()
            .ends_with("api build-finished pactown/python-api:1 in 3.20s"));
    }

    #[test]
    fn status_rules() {
        assert_eq!(container_anomalies(true, 0, Some(5)), ["oom"]);
        assert_eq!(container_anomalies(false, 3, Some(5)), ["restart-loop"]);
        assert!(container_anomalies(false, 3, Some(600)).is_empty());
        assert!(container_anomalies(false, 1, None).is_empty());
    }

    #[test]
    fn swarm_service_events_and_task_slots() {
        let mut update = ev("update", 5);
        update.kind = "service".into();
        update
            .attributes
            .insert("updatestate.new".into(), "rollback_started".into());
        update
            .attributes
            .insert("image.new".into(), "r/a@sha256:1".into());
        let e = AnomalyTracker::default().observe(classify(&update).unwrap());
        assert_eq!(e.kind, EventKind::ServiceUpdated);
        assert_eq!(
            e.detail.as_deref(),
            Some("update: rollback_started, image: r/a@sha256:1")
        );
        assert_eq!(e.anomaly.as_deref(), Some("rolled-back"));
        let mut other = update.clone();
        other.action = "exec_start".into();
        assert!(classify(&other).is_none());
        other.action = "remove".into();
        assert_eq!(classify(&other).unwrap().kind, EventKind::ServiceRemoved);

        // a task that died and a new task in its slot: a restart of the slot
        let mut t = AnomalyTracker::default();
        let mut kinds = Vec::new();
        for (action, id) in [("start", "a1"), ("die", "a1"), ("start", "b2")] {
            let mut e = ev(action, 1);
            e.attributes
                .insert("name".into(), format!("shop-api.2.{id:0>25}"));
            kinds.push(t.observe(classify(&e).unwrap()).kind);
        }
        assert_eq!(
            kinds,
            [EventKind::Started, EventKind::Died, EventKind::Restarted]
        );
        assert_eq!(slot_of(&format!("shop-api.2.{:0>25}", "a1")), "shop-api.2");
        assert_eq!(slot_of("shop-api-1"), "shop-api-1");
        assert_eq!(slot_of("a.b.c"), "a.b.c");
    }
}
