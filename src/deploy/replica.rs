//! The replica lifecycle every deploy path shares: create (port, volumes, spec), start, hold,
//! probe (the health gate), look at a running one, replace with roll-back, retire.
//!
//! **Rolling replacement** ([`replace`], watch mode). Every replica publishes a fixed host port
//! on 127.0.0.1; the engine cannot hand a published port from one container to another, and a
//! second container cannot bind it while the first runs. Without a proxy in front, a new
//! container that is health-checked before the old one stops would have to run on another port
//! and be started a second time on the real one, doubling the boot. So the old version keeps
//! serving for the whole rebuild (the slow part), then is killed and removed (no grace period:
//! this is a dev loop), the new container starts on the same port and is probed; if it does not
//! become healthy it is removed and the previous version is started again. The gap is reported
//! as `downtime_ms`. A failed job is not rolled back (that would run the previous version
//! again): its container stays for `logs`/`status`.
use super::event::{millis, DeployEvent};
use super::health::{wait_completed, wait_ready, ProbeOutcome, ProbeTarget, Readiness, WaitError};
use super::plan::{DesiredService, ReplicaAction};
use super::scheduler::{ServiceOutcome, ServiceStatus, Shared};
use super::spec::container_spec;
use crate::engine::{Engine, EngineError};
use futures_util::StreamExt;
use std::time::{Duration, Instant};

/// Log lines of a failed container kept in its outcome and events.
pub const FAILED_LOG_LINES: usize = 20;

/// A replica that could not be created or started.
#[derive(Debug, thiserror::Error)]
#[error("could not {step} {service}: {source}")]
pub struct RunFailed {
    step: &'static str,
    service: String,
    source: EngineError,
}

/// One running replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaState {
    /// Replica number, 1-based.
    pub replica: u32,
    /// Container id.
    pub id: String,
    /// Published host port.
    pub host_port: Option<u16>,
    /// Where the port is published when not on 127.0.0.1 (a Swarm task on another node).
    pub host: Option<std::net::IpAddr>,
}

/// Stops (when the deploy gives a stop time-out) and removes a container.
pub(crate) async fn retire(shared: &Shared, id: &str) -> Result<(), EngineError> {
    if let Some(t) = shared.opts.stop_timeout {
        // a container that is already stopped or gone is fine: the removal decides
        let _ = shared.engine.stop_container(id, t).await;
    }
    shared.engine.remove_container(id).await
}

/// A job's replica actions with [`ReplicaAction::Start`] of a stopped container of the same
/// config that exited 0 turned into [`ReplicaAction::Keep`]: it ran to completion before and is
/// not run again (like Compose). One that failed, or never ran, keeps its start.
pub(crate) async fn keep_completed(
    engine: &dyn Engine,
    actions: Vec<(u32, ReplicaAction)>,
) -> Vec<(u32, ReplicaAction)> {
    let mut out = Vec::with_capacity(actions.len());
    for (replica, action) in actions {
        let action = match action {
            ReplicaAction::Start { id, host_port } => {
                let done = engine
                    .inspect_container(&id)
                    .await
                    .is_ok_and(|c| c.info.state == "exited" && c.exit_code == Some(0));
                if done {
                    ReplicaAction::Keep { id, host_port }
                } else {
                    ReplicaAction::Start { id, host_port }
                }
            }
            other => other,
        };
        out.push((replica, action));
    }
    out
}

/// The replicas that exist already (kept or to be started), with their ports.
pub(crate) fn kept(d: &DesiredService, actions: &[(u32, ReplicaAction)]) -> Vec<ReplicaState> {
    actions
        .iter()
        .filter_map(|(replica, a)| match a {
            ReplicaAction::Keep { id, host_port } | ReplicaAction::Start { id, host_port } => {
                Some(existing(d, *replica, id, *host_port))
            }
            _ => None,
        })
        .collect()
}

/// An existing replica's state; a stopped container may list no port, so it gets the one it was
/// created with.
fn existing(d: &DesiredService, replica: u32, id: &str, host_port: Option<u16>) -> ReplicaState {
    ReplicaState {
        replica,
        id: id.to_string(),
        host_port: host_port.or_else(|| d.wanted_host_port(replica)),
        host: None,
    }
}

/// Gets a replica ready to start (in place): the state and whether it still needs a start.
pub(crate) async fn prepare(
    shared: &Shared,
    d: &DesiredService,
    replica: u32,
    action: ReplicaAction,
    outcome: &mut ServiceOutcome,
) -> Result<(ReplicaState, bool), EngineError> {
    match action {
        ReplicaAction::Keep { id, host_port } => Ok((existing(d, replica, &id, host_port), false)),
        ReplicaAction::Start { id, host_port } => Ok((existing(d, replica, &id, host_port), true)),
        ReplicaAction::Recreate { old_id, host_port } => {
            let _permit = shared.creates.acquire().await.ok();
            shared.engine.remove_container(&old_id).await?;
            if let Some(p) = host_port {
                shared.ports.release(p);
            }
            create(shared, d, replica, host_port, outcome)
                .await
                .map(|s| (s, true))
        }
        ReplicaAction::Create => {
            let _permit = shared.creates.acquire().await.ok();
            create(shared, d, replica, None, outcome)
                .await
                .map(|s| (s, true))
        }
    }
}

/// Creates replica `replica` of `d`, publishing `prefer` (the old container's port) or the
/// replica's own port, or the next free one.
pub(crate) async fn create(
    shared: &Shared,
    d: &DesiredService,
    replica: u32,
    prefer: Option<u16>,
    outcome: &mut ServiceOutcome,
) -> Result<ReplicaState, EngineError> {
    let host_port = match prefer.or_else(|| d.wanted_host_port(replica)) {
        Some(wanted) if d.port.is_some() => {
            let used = shared
                .ports
                .allocate(wanted)
                .ok_or_else(|| EngineError::Api {
                    operation: format!("publish port of {}", d.name),
                    message: format!("no free host port at or above {wanted}"),
                })?;
            if used != wanted && replica == 1 {
                outcome.moved_ports.push((wanted, used));
                shared.emit(&DeployEvent::PortMoved {
                    service: d.name.clone(),
                    wanted,
                    used,
                });
            }
            Some(used)
        }
        _ => None,
    };
    let spec = container_spec(shared.placement(), d, replica, host_port);
    super::isolation::prepare_volumes(shared.engine.as_ref(), &spec).await?;
    let id = shared.engine.create_container(&spec).await?;
    outcome.changed = true;
    shared.emit(&DeployEvent::Created {
        service: d.name.clone(),
        container: spec.name.clone(),
    });
    Ok(ReplicaState {
        replica,
        id,
        host_port,
        host: None,
    })
}

/// Starts the containers `ids` (bounded by the create semaphore); false (with the outcome set to
/// failed) when one could not be started.
pub(crate) async fn start_all(
    shared: &Shared,
    d: &DesiredService,
    ids: &[String],
    outcome: &mut ServiceOutcome,
) -> bool {
    for id in ids {
        let _permit = shared.creates.acquire().await.ok();
        if let Err(e) = shared.engine.start_container(id).await {
            outcome.status = ServiceStatus::Failed(e.to_string());
            shared.emit(&DeployEvent::Failed {
                service: Some(d.name.clone()),
                message: format!("could not start: {e}"),
            });
            return false;
        }
        outcome.changed = true;
    }
    true
}

/// How a replica of `d` is judged healthy: its `health_cmd` inside the container, else its
/// published port (HTTP on the health path, or a connection), else running.
fn readiness(d: &DesiredService, r: &ReplicaState) -> Readiness {
    Readiness::new(
        &r.id,
        d.health_cmd.as_deref(),
        r.host_port,
        d.health_path.clone(),
    )
    .at(r.host)
}

/// The health gate: waits until every replica is healthy (a job: until it exited 0), or says
/// why not as the service's status.
pub(crate) async fn gate(
    shared: &Shared,
    d: &DesiredService,
    replicas: &[ReplicaState],
) -> Result<(), ServiceStatus> {
    let timeout = shared.timeout(d);
    let engine = shared.engine.as_ref();
    let waited = if d.job {
        let Some(r) = replicas.first() else {
            return Err(ServiceStatus::Failed("the job has no container".into()));
        };
        wait_completed(engine, &r.id, timeout).await
    } else {
        let targets: Vec<Readiness> = replicas.iter().map(|r| readiness(d, r)).collect();
        wait_ready(engine, shared.probe.as_ref(), &targets, timeout).await
    };
    match waited {
        Ok(_) => Ok(()),
        Err(WaitError::TimedOut { last }) if d.job => Err(ServiceStatus::TimedOut(format!(
            "job did not finish within {}s ({last})",
            timeout.as_secs()
        ))),
        Err(WaitError::TimedOut { last }) => Err(ServiceStatus::TimedOut(format!(
            "not healthy after {}s (last probe: {last})",
            timeout.as_secs()
        ))),
        Err(e) => Err(ServiceStatus::Failed(e.to_string())),
    }
}

/// One quick look at every existing replica of an unchanged service (running, and answering
/// one probe) instead of trusting or restarting it; a failure is reported with the failing
/// container's last log lines.
pub(crate) async fn look(
    shared: &Shared,
    d: &DesiredService,
    actions: &[(u32, ReplicaAction)],
    outcome: &mut ServiceOutcome,
) {
    outcome.replicas = kept(d, actions);
    for r in &outcome.replicas {
        let failure = match shared.engine.inspect_container(&r.id).await {
            Err(e) => Some(e.to_string()),
            // a job is fine while it runs and once it exited 0
            Ok(info) if d.job => match info.exit_code {
                Some(code) if !info.running && code != 0 => Some(format!(
                    "job container {:.12} exited with code {code}",
                    r.id
                )),
                _ => None,
            },
            Ok(info) if !info.running || info.info.state == "restarting" => Some(format!(
                "container {:.12} is {}{}",
                r.id,
                info.info.state,
                info.exit_code
                    .map(|c| format!(" (exit code {c})"))
                    .unwrap_or_default()
            )),
            // a `health_cmd` or a portless service: running is enough for this quick look
            Ok(_) => match (r.host_port, &d.health_cmd) {
                (Some(port), None) => {
                    let target = ProbeTarget {
                        container_id: r.id.clone(),
                        host_port: port,
                        path: d.health_path.clone(),
                        host: r.host,
                    };
                    match shared.probe.probe(&target, Duration::from_secs(2)).await {
                        ProbeOutcome::Healthy { .. } => None,
                        ProbeOutcome::Unhealthy(r) => Some(format!("not healthy: {r}")),
                    }
                }
                _ => None,
            },
        };
        if let Some(reason) = failure {
            let log = last_log_lines(shared.engine.as_ref(), &r.id, FAILED_LOG_LINES).await;
            shared.emit(&DeployEvent::Unhealthy {
                service: d.name.clone(),
                reason: reason.clone(),
                log: log.clone(),
            });
            outcome.log = log;
            outcome.status = ServiceStatus::Failed(reason);
            return;
        }
    }
}

/// Rolling replacement of a changed service, one replica after the other (module docs).
pub(crate) async fn roll(
    shared: &Shared,
    d: &DesiredService,
    actions: Vec<(u32, ReplicaAction)>,
    outcome: &mut ServiceOutcome,
) {
    for (replica, action) in actions {
        match action {
            ReplicaAction::Keep { .. } => outcome.replicas.extend(kept(d, &[(replica, action)])),
            ReplicaAction::Start { .. } => {
                let state = kept(d, &[(replica, action)]).remove(0);
                let started = start_all(shared, d, std::slice::from_ref(&state.id), outcome).await;
                if started {
                    settle_new(shared, d, state, outcome, false).await;
                }
            }
            ReplicaAction::Create => match run(shared, d, d, replica, None, outcome).await {
                Ok(state) => settle_new(shared, d, state, outcome, true).await,
                Err(e) => outcome.fail(ServiceStatus::Failed(e.to_string())),
            },
            ReplicaAction::Recreate { old_id, host_port } => {
                if !super::surge::replace(shared, d, replica, &old_id, host_port, outcome).await {
                    replace(shared, d, replica, &old_id, host_port, outcome).await;
                }
            }
        }
    }
}

/// Probes a replica that was just started; on failure its log is kept and (when `remove`, and
/// it is not a job) the container removed so the next edit starts afresh.
async fn settle_new(
    shared: &Shared,
    d: &DesiredService,
    state: ReplicaState,
    outcome: &mut ServiceOutcome,
    remove: bool,
) {
    match gate(shared, d, std::slice::from_ref(&state)).await {
        Ok(()) => {
            shared.emit(&DeployEvent::Started {
                service: d.name.clone(),
                replica: state.replica,
                id: state.id.clone(),
                host_port: state.host_port,
            });
            outcome.replicas.push(state);
        }
        Err(status) => {
            let reason = match &status {
                ServiceStatus::Failed(r) | ServiceStatus::TimedOut(r) => r.clone(),
                other => format!("{other:?}"),
            };
            let log = last_log_lines(shared.engine.as_ref(), &state.id, FAILED_LOG_LINES).await;
            if remove && !d.job {
                let _ = shared.engine.remove_container(&state.id).await;
            } else {
                outcome.replicas.push(state);
            }
            shared.emit(&DeployEvent::Unhealthy {
                service: d.name.clone(),
                reason,
                log: log.clone(),
            });
            outcome.log = log;
            outcome.fail(status);
        }
    }
}

/// Creates and starts replica `replica` of `version` (the desired one or the previous one)
/// on `prefer` or its own port; removed again when it cannot start.
pub(crate) async fn run(
    shared: &Shared,
    d: &DesiredService,
    version: &DesiredService,
    replica: u32,
    prefer: Option<u16>,
    outcome: &mut ServiceOutcome,
) -> Result<ReplicaState, RunFailed> {
    let _permit = shared.creates.acquire().await.ok();
    let state = create(shared, version, replica, prefer, outcome)
        .await
        .map_err(|source| RunFailed {
            step: "create",
            service: d.name.clone(),
            source,
        })?;
    if let Err(source) = shared.engine.start_container(&state.id).await {
        let _ = shared.engine.remove_container(&state.id).await;
        if let Some(p) = state.host_port {
            shared.ports.release(p);
        }
        return Err(RunFailed {
            step: "start",
            service: d.name.clone(),
            source,
        });
    }
    Ok(state)
}

/// Stop-then-start replacement of one replica with roll-back (module docs).
async fn replace(
    shared: &Shared,
    d: &DesiredService,
    replica: u32,
    old_id: &str,
    old_port: Option<u16>,
    outcome: &mut ServiceOutcome,
) {
    let t0 = Instant::now();
    // the old version is killed and removed in one call (no SIGTERM grace period): this is
    // a development loop, and the grace period would add to every edit's latency
    if let Err(e) = shared.engine.remove_container(old_id).await {
        outcome.fail(ServiceStatus::RolledBack(format!(
            "could not remove the old container {old_id:.12}: {e}"
        )));
        return;
    }
    if let Some(p) = old_port {
        shared.ports.release(p);
    }
    let attempt = match run(shared, d, d, replica, old_port, outcome).await {
        Ok(state) => match gate(shared, d, std::slice::from_ref(&state)).await {
            Ok(()) => Ok(state),
            Err(status) => Err((status_reason(&status), Some(state))),
        },
        Err(e) => Err((e.to_string(), None)),
    };
    let (reason, failed) = match attempt {
        Ok(state) => {
            replaced(shared, d, old_id, state, t0, false, outcome);
            return;
        }
        Err(e) => e,
    };
    let mut log = Vec::new();
    let mut port = old_port;
    if let Some(state) = &failed {
        log = last_log_lines(shared.engine.as_ref(), &state.id, FAILED_LOG_LINES).await;
        port = state.host_port;
        if d.job {
            // a failed job stays (its logs and exit code show in `logs` and `status`)
            outcome.replicas.push(state.clone());
        } else {
            let _ = shared.engine.remove_container(&state.id).await;
            if let Some(p) = state.host_port {
                shared.ports.release(p);
            }
        }
    }
    outcome.log.clone_from(&log);
    let message = format!("new version of `{}` failed: {reason}", d.name);
    // a job is not rolled back: that would run the previous version again; its dependants
    // wait until an edit makes it complete
    let previous = shared.opts.previous.get(&d.name).filter(|_| !d.job);
    let back = match previous {
        Some(prev) => match run(shared, d, prev, replica, port, outcome).await {
            Ok(state) => match gate(shared, prev, std::slice::from_ref(&state)).await {
                Ok(()) => Ok(state),
                Err(status) => Err(status_reason(&status)),
            },
            Err(e) => Err(e.to_string()),
        },
        None => Err(String::new()),
    };
    shared.emit(&DeployEvent::RolledBack {
        service: d.name.clone(),
        replica,
        reason,
        log,
        id: back.as_ref().ok().map(|s| s.id.clone()),
    });
    match back {
        Ok(state) => {
            outcome.replicas.push(state);
            outcome.fail(ServiceStatus::RolledBack(message));
        }
        Err(e) if e.is_empty() => outcome.fail(ServiceStatus::Failed(message)),
        Err(e) => outcome.fail(ServiceStatus::Failed(format!(
            "{message}; the previous version did not come back: {e}"
        ))),
    }
}

/// Records replica `state` of `d` as the healthy replacement of `old_id` (`t0`: when the old
/// one went from its port; `proxied`: behind the ingress, with no gap there).
pub(crate) fn replaced(
    shared: &Shared,
    d: &DesiredService,
    old_id: &str,
    state: ReplicaState,
    t0: Instant,
    proxied: bool,
    outcome: &mut ServiceOutcome,
) {
    shared.emit(&DeployEvent::Replaced {
        service: d.name.clone(),
        replica: state.replica,
        old_id: old_id.to_string(),
        new_id: state.id.clone(),
        host_port: state.host_port,
        downtime_ms: millis(t0.elapsed()),
        proxied,
    });
    outcome.replicas.push(state);
}

/// The reason a status carries.
pub(crate) fn status_reason(status: &ServiceStatus) -> String {
    match status {
        ServiceStatus::Failed(r) | ServiceStatus::TimedOut(r) | ServiceStatus::RolledBack(r) => {
            r.clone()
        }
        ServiceStatus::Skipped { dependency } => format!("waits for `{dependency}`"),
        ServiceStatus::Healthy | ServiceStatus::Completed => String::new(),
    }
}

/// The last `n` lines a container printed (empty on any error; at most 5 s).
pub async fn last_log_lines(engine: &dyn Engine, id: &str, n: usize) -> Vec<String> {
    let Ok(stream) = engine.logs(id, &crate::engine::LogQuery::last(n)).await else {
        return Vec::new();
    };
    let collected = tokio::time::timeout(
        Duration::from_secs(5),
        stream
            .filter_map(|l| async move { l.ok().map(|l| l.text) })
            .collect::<Vec<_>>(),
    )
    .await
    .unwrap_or_default();
    let skip = collected.len().saturating_sub(n);
    collected.into_iter().skip(skip).collect()
}
