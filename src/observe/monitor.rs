//! Active health monitoring for `pactown events -f`: every round probes each running container
//! of the ecosystem once (HTTP through its published 127.0.0.1 port, like `up` and `status`) and
//! reports `health-failed` on every failure and `health-passed` on the first pass and after a
//! failure, so a healthy service costs one line when monitoring starts and nothing after.
use super::events::{EventKind, LifecycleEvent};
use super::journal;
use crate::config::labels;
use crate::deploy::health::{HealthProbe, ProbeOutcome, ProbeTarget};
use crate::deploy::plan::host_port_of;
use crate::engine::{Engine, EngineError};
use std::collections::BTreeMap;
use std::time::Duration;

/// Health state per container between rounds.
#[derive(Debug, Default)]
pub struct HealthMonitor {
    /// Container port per service (from the ecosystem file when it could be read).
    ports: BTreeMap<String, u16>,
    /// Last result per container name.
    last: BTreeMap<String, bool>,
}

impl HealthMonitor {
    /// A monitor; `ports` maps services to their container port (a service missing there is
    /// probed on its first published port).
    #[must_use]
    pub fn new(ports: BTreeMap<String, u16>) -> Self {
        Self {
            ports,
            last: BTreeMap::new(),
        }
    }

    /// The event a probe result of `container` makes: `health-failed` on every failure,
    /// `health-passed` on the first pass and on recovery, nothing while it stays healthy.
    pub fn judge(&mut self, container: &str, healthy: bool) -> Option<EventKind> {
        let before = self.last.insert(container.to_string(), healthy);
        match (healthy, before) {
            (false, _) => Some(EventKind::HealthFailed),
            (true, Some(true)) => None,
            (true, _) => Some(EventKind::HealthPassed),
        }
    }

    /// Forgets a container (it stopped): its next pass counts as the first.
    pub fn forget(&mut self, container: &str) {
        self.last.remove(container);
    }

    /// One round: probes every running container of `ecosystem` (each within `timeout`) and
    /// returns the events to report.
    ///
    /// # Errors
    /// Listing the containers fails.
    pub async fn round(
        &mut self,
        engine: &dyn Engine,
        probe: &dyn HealthProbe,
        ecosystem: &str,
        timeout: Duration,
    ) -> Result<Vec<LifecycleEvent>, EngineError> {
        let containers = engine
            .list_containers(&crate::deploy::ecosystem_filter(ecosystem))
            .await?;
        let mut targets = Vec::new();
        for c in &containers {
            let Some(service) = c.labels.get(labels::SERVICE) else {
                continue;
            };
            let port = self.ports.get(service).copied().unwrap_or(0);
            match host_port_of(c, port) {
                Some(host_port) if c.state == "running" => targets.push((
                    c,
                    service,
                    ProbeTarget {
                        container_id: c.id.clone(),
                        host_port,
                        path: c.labels.get(labels::HEALTH_PATH).cloned(),
                        host: crate::deploy::plan::host_of(c),
                    },
                )),
                _ => self.forget(&c.name),
            }
        }
        let results = futures_util::future::join_all(
            targets
                .iter()
                .map(|(_, _, target)| probe.probe(target, timeout)),
        )
        .await;
        let mut events = Vec::new();
        for ((c, service, _), outcome) in targets.iter().zip(results) {
            let Some(kind) = self.judge(&c.name, outcome.is_healthy()) else {
                continue;
            };
            let eco = c
                .labels
                .get(labels::ECOSYSTEM)
                .map_or(ecosystem, String::as_str);
            let mut e = LifecycleEvent::now(kind, eco, service, &c.name)
                .with_tenant(c.labels.get(labels::TENANT).map(String::as_str));
            match outcome {
                ProbeOutcome::Healthy { latency, .. } => {
                    e.duration_ms = Some(u64::try_from(latency.as_millis()).unwrap_or(u64::MAX));
                }
                ProbeOutcome::Unhealthy(reason) => e.detail = Some(journal::detail(&reason)),
            }
            events.push(e);
        }
        Ok(events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_are_reported_first_and_after_failures_only() {
        let mut m = HealthMonitor::default();
        let seq: Vec<Option<EventKind>> = [true, true, false, false, true, true]
            .iter()
            .map(|h| m.judge("c", *h))
            .collect();
        use EventKind::*;
        assert_eq!(
            seq,
            [
                Some(HealthPassed),
                None,
                Some(HealthFailed),
                Some(HealthFailed),
                Some(HealthPassed),
                None
            ]
        );
        m.forget("c");
        assert_eq!(m.judge("c", true), Some(HealthPassed));
    }
}
