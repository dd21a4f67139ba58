//! `status`: the ecosystem as the engine sees it (found by labels, so it works from any shell
//! and after a crash), with a health probe of every service made now.
use crate::config::ingress::INGRESS_SERVICE;
use crate::config::labels;
use crate::config::Ecosystem;
use crate::deploy::health::{check_once, HealthProbe, ProbeOutcome, Readiness};
use crate::deploy::plan::host_port_of;
use crate::engine::{ContainerDetails, Engine, EngineError, EngineKind, Hardening, ResourceLimits};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// Health of a service as probed now.
#[derive(Debug, Clone, Serialize)]
pub struct HealthNow {
    /// True when the probe succeeded.
    pub healthy: bool,
    /// Probe latency in milliseconds (when healthy).
    pub latency_ms: Option<f64>,
    /// HTTP status (when probed over HTTP and answered).
    pub http_status: Option<u16>,
    /// Why it is unhealthy.
    pub detail: Option<String>,
}

/// One container of a service.
#[derive(Debug, Clone, Serialize)]
pub struct ReplicaStatus {
    /// Replica number.
    pub replica: u32,
    /// Container name.
    pub name: String,
    /// Container id.
    pub id: String,
    /// Engine state.
    pub state: String,
    /// Published host port.
    pub host_port: Option<u16>,
    /// Restarts done by the engine's restart policy.
    pub restarts: u64,
    /// Seconds since it started (when running).
    pub uptime_seconds: Option<u64>,
    /// Exit code of the last run (when it exited).
    pub exit_code: Option<i64>,
    /// True when the kernel killed it for going over its memory limit.
    pub oom_killed: bool,
    /// Its health probed now (running replicas with a published port).
    pub health: Option<HealthNow>,
    /// Where its port is published when not on 127.0.0.1 (a Swarm task on another node).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<std::net::IpAddr>,
}

/// One service.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceStatusRow {
    /// Service name.
    pub service: String,
    /// Running replicas.
    pub running: usize,
    /// Replicas asked for (from the ecosystem file when readable, else the containers found).
    pub desired: u32,
    /// `running`, `partial`, `exited`, `restarting`, `absent`…; for a job `completed` (it
    /// exited 0), `failed` (another code) or `running`.
    pub state: String,
    /// `service` or `job`.
    pub kind: String,
    /// `http://127.0.0.1:<port>` of the first replica.
    pub url: Option<String>,
    /// Health probed now, over every running replica: healthy when all are (latency = the
    /// slowest); otherwise the first failing replica's reason, with the count when there are
    /// several.
    pub health: Option<HealthNow>,
    /// Image the containers run.
    pub image: Option<String>,
    /// Uptime of the longest-running replica, seconds.
    pub uptime_seconds: Option<u64>,
    /// Restarts summed over replicas.
    pub restarts: u64,
    /// The containers.
    pub replicas: Vec<ReplicaStatus>,
    /// cgroup limits of the first replica, as the engine reports them.
    pub limits: Option<ResourceLimits>,
    /// Isolation of the first replica, as the engine reports it.
    pub hardening: Option<Hardening>,
    /// Anomalies of any replica ([`super::events::container_anomalies`]): `oom`,
    /// `restart-loop`; and `health-failures` ([`apply_journal`]).
    pub anomalies: Vec<String>,
    /// On Swarm: the service's latest rolling update (or roll-back) and its state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update: Option<crate::engine::swarm::UpdateState>,
}

/// The whole ecosystem.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    /// Ecosystem name.
    pub ecosystem: String,
    /// Engine in use.
    pub engine: EngineKind,
    /// Services: those of the file first (YAML order), then any others found by label.
    pub services: Vec<ServiceStatusRow>,
}

/// Collects the status: one list call, then inspects and probes in parallel.
///
/// # Errors
/// Engine errors.
pub async fn status(
    engine: &dyn Engine,
    probe: &dyn HealthProbe,
    ecosystem: &str,
    file: Option<&Ecosystem>,
) -> Result<StatusReport, EngineError> {
    let containers = engine
        .list_containers(&crate::deploy::ecosystem_filter(ecosystem))
        .await?;
    let details: Vec<Option<ContainerDetails>> = futures_util::future::join_all(
        containers
            .iter()
            .map(|c| async { engine.inspect_container(&c.id).await.ok() }),
    )
    .await;
    let now = now_unix();

    let mut order: Vec<String> = file
        .map(|e| e.services.iter().map(|s| s.name.clone()).collect())
        .unwrap_or_default();
    let mut by_service: BTreeMap<String, Vec<(usize, ReplicaStatus)>> = BTreeMap::new();
    for (i, (c, d)) in containers.iter().zip(&details).enumerate() {
        let service = c.labels.get(labels::SERVICE).cloned().unwrap_or_default();
        if !order.contains(&service) {
            order.push(service.clone());
        }
        let port = file.and_then(|e| {
            e.service(&service).and_then(|s| s.port).or_else(|| {
                (service == INGRESS_SERVICE)
                    .then(|| crate::deploy::ingress::listener(e).map(|(p, _)| p))
                    .flatten()
            })
        });
        let running = d.as_ref().map_or(c.state == "running", |d| d.running);
        let uptime = d
            .as_ref()
            .filter(|_| running)
            .and_then(|d| d.started_at.as_deref())
            .and_then(parse_rfc3339)
            .map(|t| now.saturating_sub(t));
        by_service.entry(service).or_default().push((
            i,
            ReplicaStatus {
                replica: c
                    .labels
                    .get(labels::REPLICA)
                    .and_then(|r| r.parse().ok())
                    .unwrap_or(1),
                name: c.name.clone(),
                id: c.id.clone(),
                state: c.state.clone(),
                host_port: host_port_of(c, port),
                restarts: d.as_ref().map_or(0, |d| d.restart_count),
                uptime_seconds: uptime,
                exit_code: d.as_ref().filter(|d| !d.running).and_then(|d| d.exit_code),
                oom_killed: d.as_ref().is_some_and(|d| d.oom_killed),
                health: None,
                host: crate::deploy::plan::host_of(c),
            },
        ));
    }

    let mut rows = Vec::new();
    let mut probes = Vec::new();
    for service in order {
        let mut reps = by_service.remove(&service).unwrap_or_default();
        reps.sort_by_key(|(_, r)| r.replica);
        let first_idx = reps.first().map(|(i, _)| *i);
        let replicas: Vec<ReplicaStatus> = reps.into_iter().map(|(_, r)| r).collect();
        let desired = file
            .and_then(|e| e.service(&service))
            .map_or(u32::try_from(replicas.len()).unwrap_or(u32::MAX), |s| {
                s.replicas
            });
        let running = replicas.iter().filter(|r| r.state == "running").count();
        let state = if replicas.is_empty() {
            "absent".to_string()
        } else if running == replicas.len() && running as u64 >= u64::from(desired) {
            "running".to_string()
        } else if running > 0 {
            "partial".to_string()
        } else {
            replicas
                .first()
                .map_or_else(|| "absent".to_string(), |r| r.state.clone())
        };
        let first_labels = first_idx
            .and_then(|i| containers.get(i))
            .map(|c| c.labels.clone())
            .unwrap_or_default();
        let job = first_labels.get(labels::KIND).is_some_and(|k| k == "job")
            || file
                .and_then(|e| e.service(&service))
                .is_some_and(crate::config::ServiceSpec::is_job);
        // a job is judged by how it exited; the others are probed while running (a service
        // without a port by its `health_cmd`, or by running)
        let state = match replicas.first() {
            Some(r) if job && r.state == "exited" => {
                if r.exit_code == Some(0) {
                    "completed".to_string()
                } else {
                    "failed".to_string()
                }
            }
            _ => state,
        };
        for (n, r) in replicas.iter().enumerate() {
            if r.state == "running" && !job {
                probes.push((
                    rows.len(),
                    n,
                    Readiness::of_container(&r.id, &first_labels, r.host_port).at(r.host),
                ));
            }
        }
        let first_details = first_idx
            .and_then(|i| details.get(i))
            .and_then(Option::as_ref);
        rows.push(ServiceStatusRow {
            limits: first_details.map(|d| d.limits),
            anomalies: {
                let mut a: Vec<String> = replicas
                    .iter()
                    .flat_map(|r| {
                        super::events::container_anomalies(
                            r.oom_killed,
                            r.restarts,
                            r.uptime_seconds,
                        )
                    })
                    .collect();
                a.sort();
                a.dedup();
                a
            },
            hardening: first_details.map(|d| d.hardening.clone()),
            url: replicas.first().and_then(|r| r.host_port).map(|p| {
                let scheme = file
                    .filter(|_| service == INGRESS_SERVICE)
                    .and_then(crate::deploy::ingress::listener)
                    .map_or("http", |(_, s)| s);
                format!("{scheme}://127.0.0.1:{p}")
            }),
            image: first_idx
                .and_then(|i| containers.get(i))
                .map(|c| c.image.clone()),
            uptime_seconds: replicas.iter().filter_map(|r| r.uptime_seconds).max(),
            restarts: replicas.iter().map(|r| r.restarts).sum(),
            service,
            running,
            desired,
            state,
            kind: if job { "job" } else { "service" }.to_string(),
            health: None,
            replicas,
            update: None,
        });
    }
    let results = futures_util::future::join_all(probes.iter().map(|(_, _, t)| {
        // a `health_cmd` is an exec in the container: slower than a probe from the host
        let limit = if matches!(t, Readiness::Command { .. }) {
            crate::deploy::health::COMMAND_TIMEOUT
        } else {
            Duration::from_secs(2)
        };
        check_once(engine, probe, t, limit)
    }))
    .await;
    for ((row, n, _), r) in probes.iter().zip(results) {
        if let Some(replica) = rows.get_mut(*row).and_then(|row| row.replicas.get_mut(*n)) {
            replica.health = Some(health_now(r));
        }
    }
    for row in &mut rows {
        row.health = service_health(&row.replicas);
    }
    if let Some(services) = engine.services() {
        // Swarm: the replicas asked for and the update state come from the services
        let filter = crate::deploy::ecosystem_filter(ecosystem);
        for svc in services.list_services(&filter).await? {
            let name = svc.labels.get(labels::SERVICE);
            if let Some(row) = rows.iter_mut().find(|r| Some(&r.service) == name) {
                row.desired = svc.replicas;
                row.update = svc.update;
            }
        }
    }
    Ok(StatusReport {
        ecosystem: ecosystem.to_string(),
        engine: engine.kind(),
        services: rows,
    })
}

fn health_now(r: ProbeOutcome) -> HealthNow {
    match r {
        ProbeOutcome::Healthy { latency, status } => HealthNow {
            healthy: true,
            latency_ms: Some((latency.as_secs_f64() * 10_000.0).round() / 10.0),
            http_status: status,
            detail: None,
        },
        ProbeOutcome::Unhealthy(reason) => HealthNow {
            healthy: false,
            latency_ms: None,
            http_status: None,
            detail: Some(reason),
        },
    }
}

/// A service's health from its replicas' probes: healthy when every probed replica is (latency =
/// the slowest), else the first failing replica's reason (naming it and the count when more
/// than one replica was probed); `None` when none was probed.
fn service_health(replicas: &[ReplicaStatus]) -> Option<HealthNow> {
    let probed: Vec<(&ReplicaStatus, &HealthNow)> = replicas
        .iter()
        .filter_map(|r| r.health.as_ref().map(|h| (r, h)))
        .collect();
    let (_, first) = probed.first()?;
    let failing: Vec<&(&ReplicaStatus, &HealthNow)> =
        probed.iter().filter(|(_, h)| !h.healthy).collect();
    let Some((bad, h)) = failing.first() else {
        return Some(HealthNow {
            healthy: true,
            latency_ms: probed
                .iter()
                .filter_map(|(_, h)| h.latency_ms)
                .reduce(f64::max),
            http_status: first.http_status,
            detail: None,
        });
    };
    let reason = h.detail.clone().unwrap_or_default();
    Some(HealthNow {
        healthy: false,
        latency_ms: None,
        http_status: h.http_status,
        detail: Some(if probed.len() > 1 {
            format!(
                "{}/{} replicas unhealthy; {}: {reason}",
                failing.len(),
                probed.len(),
                bad.name
            )
        } else {
            reason
        }),
    })
}

/// Records this status's probes in the journal and flags `health-failures`: a probe that failed
/// is recorded as `health-failed`, one that passed as `health-passed` only when the last recorded
/// result of that container was a failure or there was none (a healthy ecosystem adds nothing).
/// A container is flagged when the journal's tail ends in [`super::events::HEALTH_FAILURES`]
/// failed checks in a row, counting the probe made now (for replicas not probed now, the journal
/// alone counts).
pub fn apply_journal(
    report: &mut StatusReport,
    journal: &super::journal::Journal,
    tenant: Option<&str>,
    _printer: &crate::ui::Printer,
) {
    use super::events::{EventKind, LifecycleEvent, HEALTH_FAILURES};
    let history = super::journal::health_history(&journal.tail(super::journal::TAIL_BYTES));
    let mut record = Vec::new();
    for row in &mut report.services {
        let mut flagged = false;
        for r in row.replicas.iter().filter(|r| r.state == "running") {
            let before = history.get(&r.name).copied().unwrap_or_default();
            let now = r.health.as_ref();
            let failures = match now {
                Some(h) if h.healthy => {
                    if before.last != Some(true) {
                        let mut e = LifecycleEvent::now(
                            EventKind::HealthPassed,
                            &report.ecosystem,
                            &row.service,
                            &r.name,
                        )
                        .with_tenant(tenant);
                        e.duration_ms = h.latency_ms.map(|ms| ms.round() as u64);
                        record.push(e);
                    }
                    0
                }
                Some(h) => {
                    let mut e = LifecycleEvent::now(
                        EventKind::HealthFailed,
                        &report.ecosystem,
                        &row.service,
                        &r.name,
                    )
                    .with_tenant(tenant);
                    e.detail = h.detail.as_deref().map(super::journal::detail);
                    record.push(e);
                    before.failures_in_row.saturating_add(1)
                }
                None => before.failures_in_row,
            };
            flagged |= failures >= HEALTH_FAILURES;
        }
        if flagged {
            row.anomalies.push("health-failures".to_string());
            row.anomalies.sort();
            row.anomalies.dedup();
        }
    }
    super::journal::record(Some(journal), &record);
}

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Seconds since the epoch of an RFC 3339 time (`2024-05-01T10:00:00.123Z`, `…+02:00`);
/// `None` before 1970 or when it is not one.
#[must_use]
pub fn parse_rfc3339(s: &str) -> Option<u64> {
    crate::engine::log_time::parse_rfc3339(s).and_then(|t| u64::try_from(t).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_engine_times() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:10Z"), Some(10));
        assert_eq!(
            parse_rfc3339("2024-05-01T10:00:00.123456789Z"),
            Some(1_714_557_600)
        );
        assert_eq!(
            parse_rfc3339("2024-05-01T12:00:00+02:00"),
            Some(1_714_557_600)
        );
        assert_eq!(parse_rfc3339("0001-01-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("garbage"), None);
    }

    fn health(healthy: bool) -> HealthNow {
        HealthNow {
            healthy,
            latency_ms: healthy.then_some(1.5),
            http_status: None,
            detail: (!healthy).then(|| "GET /health answered 500".to_string()),
        }
    }

    fn replica(n: u32, health: Option<HealthNow>) -> ReplicaStatus {
        ReplicaStatus {
            replica: n,
            name: format!("shop-api-{n}"),
            id: format!("id{n}"),
            state: "running".into(),
            host_port: Some(1),
            restarts: 0,
            uptime_seconds: Some(5),
            exit_code: None,
            oom_killed: false,
            health,
            host: None,
        }
    }

    #[test]
    fn service_health_covers_every_replica() {
        assert!(service_health(&[replica(1, None)]).is_none());
        let all = service_health(&[
            replica(1, Some(health(true))),
            replica(
                2,
                Some(HealthNow {
                    latency_ms: Some(7.0),
                    ..health(true)
                }),
            ),
        ])
        .unwrap();
        assert!(all.healthy);
        assert_eq!(all.latency_ms, Some(7.0));
        let one_bad = service_health(&[
            replica(1, Some(health(true))),
            replica(2, Some(health(false))),
        ])
        .unwrap();
        assert!(!one_bad.healthy);
        assert_eq!(
            one_bad.detail.as_deref(),
            Some("1/2 replicas unhealthy; shop-api-2: GET /health answered 500")
        );
        let single = service_health(&[replica(1, Some(health(false)))]).unwrap();
        assert_eq!(single.detail.as_deref(), Some("GET /health answered 500"));
        let mut row = row("shop-api-1", false);
        row.replicas = vec![
            replica(1, Some(health(true))),
            replica(2, Some(health(false))),
        ];
        let table = crate::ui::status::table(&StatusReport {
            ecosystem: "shop".into(),
            engine: EngineKind::Docker,
            services: vec![row],
        });
        assert!(table.contains("unhealthy 1/2"), "{table}");
    }

    fn row(name: &str, healthy: bool) -> ServiceStatusRow {
        ServiceStatusRow {
            service: "api".into(),
            running: 1,
            desired: 1,
            state: "running".into(),
            kind: "service".into(),
            url: None,
            health: Some(health(healthy)),
            image: None,
            uptime_seconds: Some(5),
            restarts: 0,
            replicas: vec![ReplicaStatus {
                name: name.into(),
                ..replica(1, Some(health(healthy)))
            }],
            limits: None,
            hardening: None,
            anomalies: Vec::new(),
            update: None,
        }
    }

    #[test]
    fn the_journal_records_probes_and_flags_three_failures_in_a_row() {
        use crate::observe::events::EventKind;
        use crate::observe::journal::Journal;
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::at(dir.path().join("shop.jsonl"));
        let printer = crate::ui::Printer::new(crate::ui::Verbosity::Quiet);
        let mut flags = Vec::new();
        for healthy in [true, true, false, false, false, true] {
            let mut report = StatusReport {
                ecosystem: "shop".into(),
                engine: EngineKind::Docker,
                services: vec![row("shop-api-1", healthy)],
            };
            apply_journal(&mut report, &journal, None, &printer);
            flags.push(report.services[0].anomalies.clone());
        }
        let none: Vec<String> = Vec::new();
        assert_eq!(
            flags,
            [
                none.clone(),
                none.clone(),
                none.clone(),
                none.clone(),
                vec!["health-failures".to_string()],
                none
            ]
        );
        // passes are recorded only after a failure or when nothing was recorded
        let kinds: Vec<EventKind> = journal.read_since(0).iter().map(|e| e.kind).collect();
        use EventKind::*;
        assert_eq!(
            kinds,
            [
                HealthPassed,
                HealthFailed,
                HealthFailed,
                HealthFailed,
                HealthPassed
            ]
        );
        let table = crate::ui::status::table(&StatusReport {
            ecosystem: "shop".into(),
            engine: EngineKind::Docker,
            services: vec![ServiceStatusRow {
                anomalies: vec!["health-failures".into()],
                update: None,
                ..row("shop-api-1", false)
            }],
        });
        assert!(table.contains("running !health-failures"), "{table}");
    }
}
