//! Zero-downtime replacement of an exposed service behind the running ingress (`up` and watch
//! mode on Docker).
//!
//! A replica publishes a fixed host port, which the engine cannot hand from one container to
//! another, so a plain replacement ([`super::replica`]) stops the old container before the new
//! one starts. Behind the ingress the proxy bridges that gap. Its Caddyfile
//! ([`crate::image::ingress::Upstreams::Containers`]) names a single-replica service by its
//! container name `<eco>-<svc>-1` first and by `<eco>-<svc>-1-surge` second (`lb_policy first`,
//! a failed dial retried on the other at once), and Docker's DNS follows a container rename, so
//! renames steer the proxy without reloading it (a Caddy reload re-binds its listeners and drops
//! connections that arrive meanwhile). For a changed replica:
//! 1. a **surge** container of the new version starts under the second name (no network alias,
//!    an engine-chosen port on 127.0.0.1) and must pass the service's health gate; if it does
//!    not, it is removed and the old version never stopped serving (rolled back);
//! 2. the old container is renamed away: new requests find the surge container; once the proxy
//!    has no request in flight to the old one (Caddy's upstream counts, read through its admin
//!    socket, which only a command inside the ingress container reaches), it is removed;
//! 3. the final container (the service's name, alias and host port) starts and must pass the
//!    gate; once the proxy tries the service's name again ([`crate::ingress::FAIL_DURATION`]
//!    after its last failed dial), the surge container is renamed away, drains the same way and
//!    is removed.
//!
//! Requests through the proxy never meet a stopped container; the host port (direct access from
//! the host, dependants on the network) has the plain replacement's gap. A surge container left
//! by an interrupted deploy is removed by the next deploy's plan (its replica label is not a
//! number), and a replica left under another name is recreated ([`super::plan`]).
use super::event::DeployEvent;
use super::plan::DesiredService;
use super::replica::{gate, last_log_lines, status_reason, ReplicaState, FAILED_LOG_LINES};
use super::scheduler::{ServiceOutcome, ServiceStatus, Shared};
use super::spec::container_spec;
use crate::config::{labels, Ecosystem};
use crate::engine::{Engine, EngineError, PortBinding};
use crate::image::ingress::{Upstreams, ADMIN_SOCKET};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The `io.pactown.replica` label of a surge container.
pub const SURGE_REPLICA: &str = "surge";

/// The longest a drain waits for in-flight requests.
const MAX_DRAIN: Duration = Duration::from_secs(30);

/// The services whose replacement the ingress can be steered around (a deploy option): the
/// single-replica, long-running, exposed services, by container port, when the engine's DNS
/// follows a rename ([`Upstreams::Containers`]).
#[derive(Debug, Clone)]
pub struct ProxyRoutes {
    ports: BTreeMap<String, u16>,
}

impl ProxyRoutes {
    /// The routes of `eco` on `engine`: `None` without an ingress with exposed services, on
    /// Swarm (no ingress there) and where the ingress reaches services by alias.
    #[must_use]
    pub fn of(eco: &Ecosystem, engine: &dyn Engine) -> Option<Arc<Self>> {
        let steered = crate::ingress::wanted(eco)
            && engine.services().is_none()
            && Upstreams::for_engine(engine.kind()) == Upstreams::Containers;
        steered.then(|| {
            let ports = crate::ingress::exposed(eco)
                .filter(|(s, _)| crate::image::ingress::by_container_name(s))
                .filter_map(|(s, _)| Some((s.name.clone(), s.port?)))
                .collect();
            Arc::new(Self { ports })
        })
    }

    /// The container port of `service` when its replacement is steered (module docs).
    #[must_use]
    pub fn port_of(&self, service: &str) -> Option<u16> {
        self.ports.get(service).copied()
    }
}

/// Why the proxy could not be steered away from a container.
#[derive(Debug, thiserror::Error)]
enum SteerError {
    #[error("{0}")]
    Engine(#[from] EngineError),
    #[error("{0}")]
    Failed(String),
}

/// The running ingress container of the deploy's ecosystem.
async fn running_ingress(shared: &Shared) -> Option<String> {
    let filter = super::ingress::label_filter(&shared.ecosystem);
    let found = shared.engine.list_containers(&filter).await.ok()?;
    found
        .into_iter()
        .find(|c| c.state == "running")
        .map(|c| c.id)
}

/// Runs `command` in the ingress container; its output when it fails.
async fn in_ingress(
    engine: &dyn Engine,
    ingress: &str,
    command: &[&str],
) -> Result<String, SteerError> {
    let argv: Vec<String> = command.iter().map(|s| (*s).to_string()).collect();
    let out = engine.exec(ingress, &argv, Duration::from_secs(10)).await?;
    if out.exit_code == Some(0) {
        Ok(out.output)
    } else {
        Err(SteerError::Failed(format!(
            "`{}` in the ingress container {}: {}",
            command.first().copied().unwrap_or_default(),
            if out.timed_out { "timed out" } else { "failed" },
            out.output.trim()
        )))
    }
}

/// One entry of Caddy's `GET /reverse_proxy/upstreams`.
#[derive(Debug, serde::Deserialize)]
struct Upstream {
    address: String,
    num_requests: u64,
}

/// Requests the proxy has in flight to `address`.
async fn in_flight(engine: &dyn Engine, ingress: &str, address: &str) -> Result<u64, SteerError> {
    let out = in_ingress(
        engine,
        ingress,
        &[
            "curl",
            "-sS",
            "--max-time",
            "5",
            "--unix-socket",
            ADMIN_SOCKET,
            "-H",
            "Host: ",
            "http://localhost/reverse_proxy/upstreams",
        ],
    )
    .await?;
    let upstreams: Vec<Upstream> = serde_json::from_str(out.trim())
        .map_err(|e| SteerError::Failed(format!("Caddy's upstream list: {e}")))?;
    Ok(upstreams
        .iter()
        .filter(|u| u.address == address)
        .map(|u| u.num_requests)
        .sum())
}

/// Waits until the proxy has no request in flight to `address` (at most [`MAX_DRAIN`]).
async fn drain(engine: &dyn Engine, ingress: &str, address: &str) -> Result<(), SteerError> {
    let deadline = Instant::now() + MAX_DRAIN;
    while in_flight(engine, ingress, address).await? > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// The name of the surge container of the replica container `name`.
#[must_use]
pub fn surge_name(name: &str) -> String {
    format!("{name}-{SURGE_REPLICA}")
}

/// Replaces replica `replica` of `d` (container `old_id` on `old_port`) behind the ingress
/// (module docs). `false` when the ingress does not route to `d` by container name or does not
/// run: nothing was done and the caller replaces it plainly.
pub(crate) async fn replace(
    shared: &Shared,
    d: &DesiredService,
    replica: u32,
    old_id: &str,
    old_port: Option<u16>,
    outcome: &mut ServiceOutcome,
) -> bool {
    let Some(routes) = shared.opts.proxy.as_deref() else {
        return false;
    };
    let Some(port) = routes.port_of(&d.name).filter(|_| replica == 1) else {
        return false;
    };
    let Some(ingress) = running_ingress(shared).await else {
        return false;
    };
    let engine = shared.engine.as_ref();
    // an ingress started by an older pactown has no admin socket to count requests on: it is
    // replaced after its services in this deploy, so this once the replacement is plain
    if in_flight(engine, &ingress, "").await.is_err() {
        return false;
    }
    let name = super::container_name(&shared.ecosystem, &d.name, replica);
    let surge_at = surge_name(&name);
    let old = ReplicaState {
        replica,
        id: old_id.to_string(),
        host_port: old_port,
        host: None,
    };

    // 1. the surge container, beside the old one
    let surge = match start_surge(shared, d, replica, &surge_at).await {
        Ok(s) => s,
        Err(e) => {
            keep_old(shared, d, old, outcome, e.to_string(), Vec::new());
            return true;
        }
    };
    if let Err(status) = gate(shared, d, std::slice::from_ref(&surge)).await {
        let log = last_log_lines(engine, &surge.id, FAILED_LOG_LINES).await;
        let _ = engine.remove_container(&surge.id).await;
        keep_old(shared, d, old, outcome, status_reason(&status), log);
        return true;
    }
    // 2. new requests to the surge container; the old one drains and goes
    if let Err(e) = step_aside(engine, &ingress, old_id, &name, port).await {
        let _ = engine.rename_container(old_id, &name).await;
        let _ = engine.remove_container(&surge.id).await;
        keep_old(
            shared,
            d,
            old,
            outcome,
            format!("could not steer the ingress: {e}"),
            Vec::new(),
        );
        return true;
    }
    // 3. the final container; the surge container drains and goes
    let t0 = Instant::now();
    match final_replica(shared, d, replica, old_id, old_port, outcome).await {
        Ok(state) => {
            // the proxy skips the service's name for a while after its last failed dial (while
            // the old container was away): the surge container steps aside once it tries again
            tokio::time::sleep(crate::ingress::FAIL_DURATION + Duration::from_millis(250)).await;
            let drained = step_aside(engine, &ingress, &surge.id, &surge_at, port).await;
            let _ = engine.remove_container(&surge.id).await;
            super::replica::replaced(shared, d, old_id, state, t0, true, outcome);
            if let Err(e) = drained {
                outcome.fail(ServiceStatus::Failed(format!(
                    "`{}` was replaced, but its surge container did not drain: {e}",
                    d.name
                )));
            }
        }
        Err((reason, log)) => {
            // the surge container keeps serving through the ingress; the next deploy replaces it
            shared.emit(&DeployEvent::Unhealthy {
                service: d.name.clone(),
                reason: reason.clone(),
                log: log.clone(),
            });
            outcome.log = log;
            outcome.fail(ServiceStatus::Failed(format!(
                "new version of `{}` serves through the ingress from {surge_at}, but not on its own port: {reason}",
                d.name
            )));
        }
    }
    true
}

/// Renames container `id` (reached by the proxy as `name:port`) away and waits until the proxy
/// has no request in flight to it.
async fn step_aside(
    engine: &dyn Engine,
    ingress: &str,
    id: &str,
    name: &str,
    port: u16,
) -> Result<(), SteerError> {
    let away = format!("{name}-{id:.12}");
    if !engine.rename_container(id, &away).await? {
        return Err(SteerError::Failed(format!(
            "the {} engine does not rename a running container's DNS name",
            engine.kind()
        )));
    }
    drain(engine, ingress, &format!("{name}:{port}")).await
}

/// Creates and starts the surge container `name` of `d`: the replica's spec without its alias,
/// on an engine-chosen port, with a replica label a plan removes.
async fn start_surge(
    shared: &Shared,
    d: &DesiredService,
    replica: u32,
    name: &str,
) -> Result<ReplicaState, EngineError> {
    let engine = shared.engine.as_ref();
    // a surge container left by an interrupted deploy
    let _ = engine.remove_container(name).await;
    let mut spec = container_spec(shared.placement(), d, replica, None);
    spec.name = name.to_string();
    spec.aliases.clear();
    spec.restart = false;
    spec.labels
        .insert(labels::REPLICA.to_string(), SURGE_REPLICA.to_string());
    spec.ports = d
        .port
        .map(|container_port| PortBinding {
            container_port,
            host_ip: "127.0.0.1".to_string(),
            host_port: 0,
        })
        .into_iter()
        .collect();
    let id = {
        let _permit = shared.creates.acquire().await.ok();
        super::isolation::prepare_volumes(engine, &spec).await?;
        let id = engine.create_container(&spec).await?;
        if let Err(e) = engine.start_container(&id).await {
            let _ = engine.remove_container(&id).await;
            return Err(e);
        }
        id
    };
    let host_port = engine.inspect_container(&id).await.ok().and_then(|c| {
        c.info
            .ports
            .iter()
            .find(|p| Some(p.container_port) == d.port)
            .map(|p| p.host_port)
    });
    if host_port.is_none() {
        let _ = engine.remove_container(&id).await;
        return Err(EngineError::Api {
            operation: format!("publish the port of {name}"),
            message: "the engine chose no host port".to_string(),
        });
    }
    Ok(ReplicaState {
        replica,
        id,
        host_port,
        host: None,
    })
}

/// The old container replaced by the final one on `old_port`; the failure's reason and log.
async fn final_replica(
    shared: &Shared,
    d: &DesiredService,
    replica: u32,
    old_id: &str,
    old_port: Option<u16>,
    outcome: &mut ServiceOutcome,
) -> Result<ReplicaState, (String, Vec<String>)> {
    super::replica::retire(shared, old_id)
        .await
        .map_err(|e| (format!("could not remove {old_id:.12}: {e}"), Vec::new()))?;
    if let Some(p) = old_port {
        shared.ports.release(p);
    }
    let state = super::replica::run(shared, d, d, replica, old_port, outcome)
        .await
        .map_err(|e| (e.to_string(), Vec::new()))?;
    match gate(shared, d, std::slice::from_ref(&state)).await {
        Ok(()) => Ok(state),
        Err(status) => Err((
            status_reason(&status),
            last_log_lines(shared.engine.as_ref(), &state.id, FAILED_LOG_LINES).await,
        )),
    }
}

/// The new version failed beside the old one, which kept serving: a roll-back.
fn keep_old(
    shared: &Shared,
    d: &DesiredService,
    old: ReplicaState,
    outcome: &mut ServiceOutcome,
    reason: String,
    log: Vec<String>,
) {
    shared.emit(&DeployEvent::RolledBack {
        service: d.name.clone(),
        replica: old.replica,
        reason: reason.clone(),
        log: log.clone(),
        id: Some(old.id.clone()),
    });
    outcome.log = log;
    outcome.replicas.push(old);
    outcome.fail(ServiceStatus::RolledBack(format!(
        "new version of `{}` failed: {reason}",
        d.name
    )));
}
