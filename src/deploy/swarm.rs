//! The Swarm variant of the plan and of a service's start, used by [`super::scheduler`] when
//! the engine is an orchestrator ([`crate::engine::Engine::services`]): everything else — the
//! dependency order, the early start of gated services (the image's start script holds the
//! process until its dependencies answer, `PACTOWN_WAIT_FOR`), the health gate, the events —
//! is the scheduler's own.
//!
//! One Swarm service per pactown service, named `<ecosystem>-<service>`, with the service's own
//! name as its DNS alias on the ecosystem's overlay network, and the container of
//! [`super::spec::container_spec`] (same env, labels, isolation and limits as on Docker or
//! Podman). Its labels hold the config hash, so the plan per service is one of
//! [`ReplicaAction::Create`], [`ReplicaAction::Recreate`] (a Swarm update: start-first,
//! parallelism 1, failure action rollback) or [`ReplicaAction::Keep`]; the replicas are its
//! tasks. After a create or update the tasks of the new config are awaited (a task that fails
//! is named with its node and error), then the health gate probes each of them through the
//! port it publishes in host mode. A new version that does not pass the gate is rolled back
//! (`docker service rollback`), so our probe, not only Swarm's task state, decides.
use super::event::DeployEvent;
use super::plan::{DesiredService, Plan, ReplicaAction, ServicePlan};
use super::replica::ReplicaState;
use super::scheduler::{ServiceOutcome, ServiceStatus, Shared};
use super::spec::container_spec;
use crate::config::labels;
use crate::engine::swarm::{ServiceRequest, Services, TaskInfo};
use crate::engine::{ContainerInfo, EngineError};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// How often task states are read while waiting.
const POLL: Duration = Duration::from_millis(100);

/// The Swarm service name of `service` of `ecosystem`.
#[must_use]
pub fn service_name(ecosystem: &str, service: &str) -> String {
    format!("{ecosystem}-{service}")
}

/// The Swarm service for `d` (pure): the container spec every engine gets, without a
/// replica number (the tasks' slots are the replicas), running `image` (the pushed reference)
/// instead of the local tag when given.
#[must_use]
pub fn request(
    at: super::spec::Placement<'_>,
    d: &DesiredService,
    image: Option<&str>,
) -> ServiceRequest {
    let mut container = container_spec(at, d, 1, None);
    container.labels.remove(labels::REPLICA);
    if let Some(pushed) = image {
        container.image = pushed.to_string();
    }
    ServiceRequest {
        name: service_name(at.ecosystem, &d.name),
        labels: container.labels.clone(),
        container,
        replicas: d.replicas,
        port: d.port,
        endpoint_mode: d.endpoint_mode,
        job: d.job,
        spread: true,
        health: d
            .health_cmd
            .as_deref()
            .map(|c| (crate::config::shell_argv(c), d.timeout)),
    }
}

/// What the swarm's nodes run for each service: with `images: {repo: …}` in the ecosystem
/// file, the images are pushed there (only missing layers go) and the nodes pull them by
/// digest; without, a single-node swarm runs the local images (with a warning) and a swarm of
/// several nodes is refused, since its other nodes could not find them.
///
/// # Errors
/// [`super::error::DeployError::SwarmNeedsPushedImages`], push and engine errors.
pub async fn images(
    engine: &dyn crate::engine::Engine,
    services: &dyn Services,
    eco: &crate::config::Ecosystem,
    images: &BTreeMap<String, crate::image::ServiceImage>,
    sink: &super::event::Sink,
) -> Result<BTreeMap<String, String>, crate::error::Error> {
    use crate::image::push::{push_services, ImageRepo, PushOptions};
    let nodes = services.nodes().await?.len();
    let Some(repo) = eco.build.image_repo.as_deref() else {
        if nodes > 1 {
            let mut local: Vec<&str> = images.values().map(|i| i.tag.as_str()).collect();
            local.sort_unstable();
            return Err(super::error::DeployError::SwarmNeedsPushedImages {
                nodes,
                images: local.join(", "),
            }
            .into());
        }
        sink(&DeployEvent::Warning {
            message: "single-node swarm: running the local images (a swarm of several nodes pulls them: set `images: {repo: REGISTRY/NAMESPACE}` to push them)"
                .into(),
        });
        return Ok(BTreeMap::new());
    };
    let opts = PushOptions {
        repo: Some(ImageRepo::parse(repo).map_err(crate::error::Error::Push)?),
        tags: Vec::new(),
        auth_file: None,
        insecure: Vec::new(),
    };
    let list: Vec<crate::image::ServiceImage> = images.values().cloned().collect();
    let pushed = push_services(engine, eco, &list, &opts, &|_| {})
        .await
        .map_err(crate::error::Error::Push)?;
    Ok(pushed
        .services
        .into_iter()
        .map(|(service, p)| (service, p.reference))
        .collect())
}

/// The plan against the ecosystem's Swarm services: one action per service (replica 1 stands
/// for the whole service), services whose name left the file are orphans. The services come
/// back as [`ContainerInfo`] rows (id, name, labels) so the scheduler retires them like
/// containers.
///
/// # Errors
/// Engine errors listing the services.
pub async fn plan(
    services: &dyn Services,
    ecosystem: &str,
    desired: &[DesiredService],
) -> Result<(Plan, Vec<ContainerInfo>), EngineError> {
    let existing = services
        .list_services(&super::ecosystem_filter(ecosystem))
        .await?;
    let wanted: BTreeSet<&str> = desired.iter().map(|d| d.name.as_str()).collect();
    let orphans = existing
        .iter()
        .filter(|s| {
            !s.labels
                .get(labels::SERVICE)
                .is_some_and(|n| wanted.contains(n.as_str()))
        })
        .map(|s| s.id.clone())
        .collect();
    let plans = desired
        .iter()
        .map(|d| {
            let mine: Vec<_> = existing
                .iter()
                .filter(|s| s.labels.get(labels::SERVICE) == Some(&d.name))
                .collect();
            let action = match mine.first() {
                None => ReplicaAction::Create,
                Some(s) if s.labels.get(labels::CONFIG_HASH) != Some(&d.config_hash) => {
                    ReplicaAction::Recreate {
                        old_id: s.id.clone(),
                        host_port: None,
                    }
                }
                Some(s) => ReplicaAction::Keep {
                    id: s.id.clone(),
                    host_port: None,
                },
            };
            ServicePlan {
                service: d.name.clone(),
                replicas: vec![(1, action)],
                remove: mine.iter().skip(1).map(|s| s.id.clone()).collect(),
            }
        })
        .collect();
    let rows = existing
        .into_iter()
        .map(|s| ContainerInfo {
            id: s.id,
            name: s.name,
            image: s.image,
            state: if s.running > 0 { "running" } else { "created" }.to_string(),
            status: format!("{}/{} running", s.running, s.replicas),
            labels: s.labels,
            ports: Vec::new(),
        })
        .collect();
    Ok((
        Plan {
            services: plans,
            orphans,
        },
        rows,
    ))
}

/// Creates or updates the Swarm service of `d` as its plan says and waits until a task of the
/// new config runs in every slot; its tasks become the outcome's replicas (and `to_start`, when
/// something changed). False, with the outcome failed (the failing task named), otherwise.
pub(crate) async fn apply(
    shared: &Shared,
    services: &dyn Services,
    d: &DesiredService,
    actions: &[(u32, ReplicaAction)],
    outcome: &mut ServiceOutcome,
    to_start: &mut Vec<String>,
) -> bool {
    let req = request(
        shared.placement(),
        d,
        shared.opts.images.get(&d.name).map(String::as_str),
    );
    let applied = match actions.first().map(|(_, a)| a) {
        Some(ReplicaAction::Keep { id, .. } | ReplicaAction::Start { id, .. }) => {
            Ok((id.clone(), false))
        }
        Some(ReplicaAction::Recreate { old_id, .. }) => services
            .update_service(old_id, &req)
            .await
            .map(|()| (old_id.clone(), true)),
        Some(ReplicaAction::Create) | None => {
            services.create_service(&req).await.map(|id| (id, true))
        }
    };
    let (id, changed) = match applied {
        Ok(x) => x,
        Err(e) => {
            fail(
                shared,
                d,
                outcome,
                format!("could not create or update: {e}"),
            );
            return false;
        }
    };
    if changed {
        outcome.changed = true;
        shared.emit(&DeployEvent::Created {
            service: d.name.clone(),
            container: req.name.clone(),
        });
    }
    let updated = changed && matches!(actions.first(), Some((_, ReplicaAction::Recreate { .. })));
    let converged = match converge(shared, services, d).await {
        Ok(tasks) if updated => update_done(shared, services, d).await.map(|()| tasks),
        other => other,
    };
    match converged {
        Ok(tasks) => {
            outcome.replicas = tasks
                .iter()
                .map(|t| ReplicaState {
                    replica: t.slot,
                    host: t.node_ip(),
                    id: t.id.clone(),
                    host_port: d
                        .port
                        .and_then(|p| t.ports.iter().find(|(c, _)| *c == p).map(|(_, h)| *h)),
                })
                .collect();
            if changed {
                to_start.extend(tasks.into_iter().map(|t| t.id));
            }
            true
        }
        Err(Converge::RolledBack(reason)) => {
            let message = format!(
                "new version of `{}` failed: {reason}; Swarm rolled service {id:.12} back",
                d.name
            );
            shared.emit(&DeployEvent::RolledBack {
                service: d.name.clone(),
                replica: 1,
                reason,
                log: Vec::new(),
                id: None,
            });
            outcome.fail(ServiceStatus::RolledBack(message));
            false
        }
        Err(Converge::Failed(reason)) => {
            if matches!(actions.first(), Some((_, ReplicaAction::Recreate { .. }))) {
                roll_back(shared, services, d, &id, reason, outcome).await;
            } else {
                fail(shared, d, outcome, reason);
            }
            false
        }
    }
}

fn fail(shared: &Shared, d: &DesiredService, outcome: &mut ServiceOutcome, reason: String) {
    shared.emit(&DeployEvent::Failed {
        service: Some(d.name.clone()),
        message: reason.clone(),
    });
    outcome.fail(ServiceStatus::Failed(reason));
}

/// The health gate failed for a Swarm service: when the plan updated it, it is rolled back
/// (and the status says so); the failing task is named either way.
pub(crate) async fn gate_failed(
    shared: &Shared,
    services: &dyn Services,
    d: &DesiredService,
    actions: &[(u32, ReplicaAction)],
    status: ServiceStatus,
    outcome: &mut ServiceOutcome,
) {
    let reason = match &status {
        ServiceStatus::Failed(r) | ServiceStatus::TimedOut(r) => r.clone(),
        _ => {
            outcome.fail(status);
            return;
        }
    };
    let tasks = services
        .tasks(&service_filter(&shared.ecosystem, &d.name))
        .await
        .unwrap_or_default();
    let named = tasks
        .iter()
        .find(|t| {
            outcome.replicas.iter().any(|r| r.id == t.id)
                && (!t.is_running() || t.desired_state != "running")
        })
        .or_else(|| {
            tasks
                .iter()
                .find(|t| outcome.replicas.iter().any(|r| r.id == t.id))
        })
        .map(|t| format!(" [{}]", t.describe()))
        .unwrap_or_default();
    let reason = format!("{reason}{named}");
    match actions.first() {
        Some((_, ReplicaAction::Recreate { old_id, .. })) => {
            roll_back(shared, services, d, old_id, reason, outcome).await;
        }
        _ => outcome.fail(match status {
            ServiceStatus::TimedOut(_) => ServiceStatus::TimedOut(reason),
            _ => ServiceStatus::Failed(reason),
        }),
    }
}

/// Rolls service `id` back to its previous version and waits (the service's time-out) until
/// Swarm reports the roll-back complete.
async fn roll_back(
    shared: &Shared,
    services: &dyn Services,
    d: &DesiredService,
    id: &str,
    reason: String,
    outcome: &mut ServiceOutcome,
) {
    let message = format!("new version of `{}` failed: {reason}", d.name);
    let back = match services.rollback_service(id).await {
        Ok(()) => wait_rolled_back(services, &shared.ecosystem, &d.name, shared.timeout(d)).await,
        Err(e) => Err(e.to_string()),
    };
    shared.emit(&DeployEvent::RolledBack {
        service: d.name.clone(),
        replica: 1,
        reason,
        log: Vec::new(),
        id: back.is_ok().then(|| id.to_string()),
    });
    match back {
        Ok(()) => outcome.fail(ServiceStatus::RolledBack(format!(
            "{message}; rolled back to the previous version"
        ))),
        Err(e) => outcome.fail(ServiceStatus::Failed(format!(
            "{message}; the previous version did not come back: {e}"
        ))),
    }
}

async fn wait_rolled_back(
    services: &dyn Services,
    ecosystem: &str,
    service: &str,
    timeout: Duration,
) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    let filter = service_filter(ecosystem, service);
    loop {
        let state = services
            .list_services(&filter)
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .next()
            .and_then(|s| s.update);
        if let Some(u) = &state {
            if u.state == "rollback_completed" {
                return Ok(());
            }
            if u.state == "rollback_paused" {
                return Err(format!(
                    "Swarm paused the roll-back: {}",
                    u.message.clone().unwrap_or_default()
                ));
            }
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "roll-back not complete after {}s (state {})",
                timeout.as_secs(),
                state.map_or_else(|| "none".to_string(), |u| u.state)
            ));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Waits (the service's time-out) until Swarm has finished updating the service of `d`.
async fn update_done(
    shared: &Shared,
    services: &dyn Services,
    d: &DesiredService,
) -> Result<(), Converge> {
    let timeout = shared.timeout(d);
    let deadline = Instant::now() + timeout;
    let filter = service_filter(&shared.ecosystem, &d.name);
    loop {
        let update = services
            .list_services(&filter)
            .await
            .map_err(|e| Converge::Failed(e.to_string()))?
            .into_iter()
            .next()
            .and_then(|s| s.update);
        match update {
            None => return Ok(()),
            Some(u) if u.state == "completed" => return Ok(()),
            Some(u) if u.state.starts_with("rollback") => {
                return Err(Converge::RolledBack(u.message.unwrap_or(u.state)))
            }
            Some(u) if u.state == "paused" => {
                return Err(Converge::Failed(format!(
                    "Swarm paused the update: {}",
                    u.message.unwrap_or_default()
                )))
            }
            Some(u) if Instant::now() >= deadline => {
                return Err(Converge::Failed(format!(
                    "update not complete after {}s (state {})",
                    timeout.as_secs(),
                    u.state
                )))
            }
            Some(_) => tokio::time::sleep(POLL).await,
        }
    }
}

/// `restart` of a Swarm service: a forced update (every task replaced by a new one of the same
/// spec, start-first on the update config), then waits up to `timeout` until a new task runs in
/// every slot and Swarm has finished. A job's new task may also have completed.
///
/// # Errors
/// [`DeployError::Restart`](super::error::DeployError::Restart) when the service is gone, Swarm rolls back or pauses the update, a
/// new task fails, or the time runs out (the failing task named); engine errors.
pub async fn restart(
    services: &dyn Services,
    ecosystem: &str,
    service: &str,
    timeout: Duration,
) -> Result<(), crate::error::Error> {
    let failed = |reason: String| super::error::DeployError::Restart {
        service: service.to_string(),
        reason,
    };
    let filter = service_filter(ecosystem, service);
    let Some(svc) = services.list_services(&filter).await?.into_iter().next() else {
        return Err(super::error::DeployError::NotRunning {
            service: service.to_string(),
            ecosystem: ecosystem.to_string(),
        }
        .into());
    };
    let old: BTreeSet<String> = services
        .tasks(&filter)
        .await?
        .into_iter()
        .map(|t| t.id)
        .collect();
    services.force_update(&svc.id).await?;
    let deadline = Instant::now() + timeout;
    loop {
        let tasks = services.tasks(&filter).await?;
        let fresh: Vec<&TaskInfo> = tasks
            .iter()
            .filter(|t| !old.contains(&t.id) && t.is_current())
            .collect();
        if let Some(bad) = tasks
            .iter()
            .find(|t| !old.contains(&t.id) && matches!(t.state.as_str(), "failed" | "rejected"))
        {
            return Err(failed(format!("a new task failed: {}", bad.describe())).into());
        }
        let update = services
            .list_services(&filter)
            .await?
            .into_iter()
            .next()
            .and_then(|s| s.update);
        if let Some(u) = update
            .as_ref()
            .filter(|u| u.state.starts_with("rollback") || u.state == "paused")
        {
            return Err(failed(format!(
                "Swarm stopped the restart ({}): {}",
                u.state,
                u.message.as_deref().unwrap_or("")
            ))
            .into());
        }
        let done = fresh
            .iter()
            .filter(|t| t.is_running() || t.state == "complete")
            .count();
        if update.as_ref().is_none_or(|u| u.state != "updating")
            && done >= usize::try_from(svc.replicas).unwrap_or(usize::MAX)
        {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let waiting = fresh
                .iter()
                .find(|t| !t.is_running())
                .map(|t| format!(" [{}]", t.describe()))
                .unwrap_or_default();
            return Err(failed(format!(
                "new tasks not running {}s after the restart{waiting}",
                timeout.as_secs()
            ))
            .into());
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The label filter of one service's tasks.
fn service_filter(ecosystem: &str, service: &str) -> Vec<String> {
    vec![
        format!("{}={ecosystem}", labels::ECOSYSTEM),
        format!("{}={service}", labels::SERVICE),
    ]
}

enum Converge {
    /// A task of the new config failed, or too few ran in time.
    Failed(String),
    /// Swarm rolled the update back itself (its failure action).
    RolledBack(String),
}

/// Waits (the service's time-out) until every slot has a running task of `d`'s config (a job:
/// running or complete) publishing its port.
async fn converge(
    shared: &Shared,
    services: &dyn Services,
    d: &DesiredService,
) -> Result<Vec<TaskInfo>, Converge> {
    let timeout = shared.timeout(d);
    let deadline = Instant::now() + timeout;
    let filter = service_filter(&shared.ecosystem, &d.name);
    let mut waiting = String::from("no task yet");
    loop {
        let tasks = services
            .tasks(&filter)
            .await
            .map_err(|e| Converge::Failed(e.to_string()))?;
        let mine: Vec<&TaskInfo> = tasks
            .iter()
            .filter(|t| t.labels.get(labels::CONFIG_HASH) == Some(&d.config_hash))
            .collect();
        if let Some(t) = mine
            .iter()
            .find(|t| t.has_ended() && !(d.job && t.state == "complete") && t.state != "shutdown")
        {
            let update = services
                .list_services(&filter)
                .await
                .ok()
                .and_then(|s| s.into_iter().next())
                .and_then(|s| s.update);
            if update.is_some_and(|u| u.state.starts_with("rollback")) {
                return Err(Converge::RolledBack(t.describe()));
            }
            return Err(Converge::Failed(format!(
                "task failed before it became healthy: {}",
                t.describe()
            )));
        }
        let mut by_slot: BTreeMap<u32, &TaskInfo> = BTreeMap::new();
        for t in mine.iter().filter(|t| {
            t.desired_state != "shutdown"
                && (t.is_running() || (d.job && t.state == "complete"))
                && (d.port.is_none() || d.job || !t.ports.is_empty())
        }) {
            by_slot.entry(t.slot).or_insert(t);
        }
        if by_slot.len() >= usize::try_from(d.replicas).unwrap_or(usize::MAX) {
            return Ok(by_slot.into_values().cloned().collect());
        }
        if let Some(t) = mine.iter().find(|t| !t.is_running()) {
            waiting = t.describe();
        }
        if Instant::now() >= deadline {
            return Err(Converge::Failed(format!(
                "{} of {} replicas running after {}s; {waiting}",
                by_slot.len(),
                d.replicas,
                timeout.as_secs()
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn request_carries_the_container_spec_without_a_replica() {
        let d = DesiredService::new(
            "api",
            "pactown/python-api:abc",
            "sha256:1",
            BTreeMap::from([("A".to_string(), "1".to_string())]),
            8001,
            2,
            true,
            Some("/health".into()),
            Duration::from_secs(30),
            vec!["db".into()],
        );
        let at = super::super::spec::Placement {
            ecosystem: "shop",
            network: "pactown-shop",
            ecosystem_file: Some(Path::new("/srv/shop.pactown.yaml")),
        };
        let r = request(at, &d, None);
        assert_eq!(r.name, "shop-api");
        assert_eq!(r.container.aliases, vec!["api".to_string()]);
        assert!(!r.labels.contains_key(labels::REPLICA));
        assert_eq!(r.labels.get(labels::CONFIG_HASH), Some(&d.config_hash));
        let spec = crate::engine::swarm::service_spec(&r);
        let json = serde_json::to_value(&spec).unwrap();
        assert_eq!(json["EndpointSpec"]["Mode"], "dnsrr");
        assert_eq!(json["EndpointSpec"]["Ports"][0]["PublishMode"], "host");
        assert_eq!(json["UpdateConfig"]["Order"], "start-first");
        assert_eq!(json["UpdateConfig"]["Parallelism"], 1);
        assert_eq!(json["UpdateConfig"]["FailureAction"], "rollback");
        assert_eq!(json["Mode"]["Replicated"]["Replicas"], 2);
        assert_eq!(json["TaskTemplate"]["Networks"][0]["Aliases"][0], "api");
        assert_eq!(json["TaskTemplate"]["ContainerSpec"]["Init"], true);
        assert_eq!(json["TaskTemplate"]["RestartPolicy"]["Condition"], "any");

        // `endpoint_mode: vip` reaches the spec, and changes the config hash (an update)
        let vip = d
            .clone()
            .with_endpoint_mode(crate::config::EndpointMode::Vip);
        assert_ne!(vip.config_hash, d.config_hash);
        let spec = crate::engine::swarm::service_spec(&request(at, &vip, None));
        let json = serde_json::to_value(&spec).unwrap();
        assert_eq!(json["EndpointSpec"]["Mode"], "vip");
        assert_eq!(json["EndpointSpec"]["Ports"][0]["PublishMode"], "host");

        // no health check without a `health_cmd`; with one, the tasks run it, with the
        // service's time-out as the start period
        assert!(json["TaskTemplate"]["ContainerSpec"]["HealthCheck"].is_null());
        let cmd = d.clone().with_shape(false, Some("test -f /tmp/ok".into()));
        let spec = crate::engine::swarm::service_spec(&request(at, &cmd, None));
        let json = serde_json::to_value(&spec).unwrap();
        let check = &json["TaskTemplate"]["ContainerSpec"]["HealthCheck"];
        assert_eq!(
            check["Test"],
            serde_json::json!(["CMD", "/bin/sh", "-c", "test -f /tmp/ok"])
        );
        assert_eq!(check["StartPeriod"], 30_000_000_000_i64);
        assert_eq!(check["Retries"], 3);
    }
}
