//! Per-service scheduling: one tokio task per service creates its containers at once and waits
//! for exactly its own dependencies; a slow service holds back only its own dependants, a failed
//! one stops its dependants (transitively) and leaves everything else running for inspection.
//! A [`Semaphore`] caps concurrent creates and starts.
//!
//! When to start a service's containers:
//! - **gated** services ([`DesiredService::gated`]: the image's start script waits for the
//!   dependencies itself, [`crate::image::start_script`]) are started as soon as their
//!   dependencies' containers are *started*, so their container start overlaps with the
//!   dependencies' process start-up; if a dependency then fails, they are stopped while still
//!   held, before their process ran;
//! - the others are started once their dependencies are *healthy*.
//!
//! Either way a service is probed for health only from the moment its dependencies are healthy.
use super::health::{wait_completed, wait_ready, HealthProbe, Readiness, WaitError};
use super::plan::{DesiredService, Plan, ReplicaAction};
use super::{container_name, plan};
use crate::config::labels;
use crate::engine::{ContainerSpec, Engine, EngineError, PortBinding};
use crate::ui::Printer;
use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{watch, Semaphore};

/// Options of a deploy.
#[derive(Debug, Clone)]
pub struct DeployOptions {
    /// Most creates/starts in flight at once.
    pub concurrency: usize,
    /// Overrides every service's health time-out.
    pub timeout: Option<Duration>,
    /// Test host ports by binding them and move to the next free one when taken.
    pub check_ports: bool,
    /// The ecosystem file, recorded in a label.
    pub ecosystem_file: Option<PathBuf>,
}

impl Default for DeployOptions {
    fn default() -> Self {
        Self {
            concurrency: super::DEFAULT_CONCURRENCY,
            timeout: None,
            check_ports: true,
            ecosystem_file: None,
        }
    }
}

/// How a service ended up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceStatus {
    /// All replicas answered their health probe.
    Healthy,
    /// A job ran to completion (exited 0), now or in an earlier `up` with the same config.
    Completed,
    /// Did not become healthy in time.
    TimedOut(String),
    /// Failed to start (exited, engine error).
    Failed(String),
    /// Not started because a dependency failed.
    Skipped {
        /// The dependency that failed.
        dependency: String,
    },
}

impl ServiceStatus {
    /// Healthy, or completed for a job: its dependants may start.
    #[must_use]
    pub fn is_ready(&self) -> bool {
        matches!(self, ServiceStatus::Healthy | ServiceStatus::Completed)
    }
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
}

/// The outcome of one service.
#[derive(Debug, Clone)]
pub struct ServiceOutcome {
    /// Service name.
    pub service: String,
    /// Final status.
    pub status: ServiceStatus,
    /// Its replicas (ids and host ports).
    pub replicas: Vec<ReplicaState>,
    /// True when at least one container was created, recreated or started.
    pub changed: bool,
    /// Ports that were busy and replaced by `(wanted, used)`.
    pub moved_ports: Vec<(u16, u16)>,
    /// When its dependencies were all healthy and work on it began.
    pub began: Option<Instant>,
    /// When it became healthy.
    pub healthy_at: Option<Instant>,
    /// Time from start to healthy.
    pub ready_in: Option<Duration>,
}

/// The result of a deploy.
#[derive(Debug, Clone)]
pub struct DeployReport {
    /// The plan that was carried out.
    pub plan: Plan,
    /// Outcome per service.
    pub outcomes: BTreeMap<String, ServiceOutcome>,
    /// Containers removed because their service left the file (or surplus replicas).
    pub removed: usize,
}

impl DeployReport {
    /// True when every service is healthy (and every job completed).
    #[must_use]
    pub fn all_healthy(&self) -> bool {
        self.outcomes.values().all(|o| o.status.is_ready())
    }

    /// The services that failed or timed out themselves (not the skipped ones), in name order.
    #[must_use]
    pub fn failures(&self) -> Vec<&ServiceOutcome> {
        self.outcomes
            .values()
            .filter(|o| {
                matches!(
                    o.status,
                    ServiceStatus::Failed(_) | ServiceStatus::TimedOut(_)
                )
            })
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Nothing started yet.
    Pending,
    /// Its containers are started (or were running), not yet healthy.
    Started,
    /// Healthy, or completed for a job.
    Healthy,
    Failed,
}

/// Host ports claimed by this run (so two services never pick the same free port).
#[derive(Debug, Default)]
struct PortBook {
    claimed: Mutex<BTreeSet<u16>>,
}

impl PortBook {
    fn claim_existing(&self, port: u16) {
        if let Ok(mut c) = self.claimed.lock() {
            c.insert(port);
        }
    }

    /// `wanted` if free, else the next free port above it.
    fn allocate(&self, wanted: u16, check: bool) -> Option<u16> {
        let mut claimed = self.claimed.lock().ok()?;
        let mut port = wanted;
        loop {
            let free = !claimed.contains(&port)
                && (!check || TcpListener::bind(("127.0.0.1", port)).is_ok());
            if free {
                claimed.insert(port);
                return Some(port);
            }
            port = port.checked_add(1)?;
        }
    }
}

struct Shared {
    engine: Arc<dyn Engine>,
    probe: Arc<dyn HealthProbe>,
    ecosystem: String,
    network: String,
    opts: DeployOptions,
    ports: PortBook,
    creates: Semaphore,
    printer: Printer,
}

/// Brings `desired` up on the engine: removes orphans, then runs one task per service that waits
/// for its own dependencies, applies its part of the plan and waits until it is healthy. The
/// network must exist. Never returns early on a service failure: the report says what happened.
///
/// # Errors
/// Engine errors while listing or removing orphans; per-service errors are in the report.
pub async fn deploy(
    engine: Arc<dyn Engine>,
    probe: Arc<dyn HealthProbe>,
    ecosystem: &str,
    network: &str,
    desired: Vec<DesiredService>,
    opts: DeployOptions,
    printer: &Printer,
) -> Result<DeployReport, EngineError> {
    let existing = engine
        .list_containers(&super::ecosystem_filter(ecosystem))
        .await?;
    let the_plan = plan(&desired, &existing);

    let surplus: Vec<String> = the_plan
        .orphans
        .iter()
        .chain(the_plan.services.iter().flat_map(|s| s.remove.iter()))
        .cloned()
        .collect();
    let removed = surplus.len();
    for r in
        futures_util::future::join_all(surplus.iter().map(|id| engine.remove_container(id))).await
    {
        r?;
    }

    let shared = Arc::new(Shared {
        engine,
        probe,
        ecosystem: ecosystem.to_string(),
        network: network.to_string(),
        ports: PortBook::default(),
        creates: Semaphore::new(opts.concurrency.max(1)),
        opts,
        printer: printer.clone(),
    });
    // ports held by containers we keep are not free for new ones
    for s in &the_plan.services {
        for (_, a) in &s.replicas {
            if let ReplicaAction::Keep {
                host_port: Some(p), ..
            }
            | ReplicaAction::Start {
                host_port: Some(p), ..
            } = a
            {
                shared.ports.claim_existing(*p);
            }
        }
    }

    let mut senders: BTreeMap<String, watch::Sender<Phase>> = BTreeMap::new();
    for d in &desired {
        senders.insert(d.name.clone(), watch::channel(Phase::Pending).0);
    }
    let mut tasks = Vec::new();
    for d in desired {
        let Some(me) = senders.get(&d.name).cloned() else {
            continue;
        };
        // a dependency outside the deploy set is assumed to be running already
        let deps: Vec<(String, watch::Receiver<Phase>)> = d
            .dependencies
            .iter()
            .filter_map(|n| senders.get(n).map(|s| (n.clone(), s.subscribe())))
            .collect();
        let actions = the_plan
            .service(&d.name)
            .map(|s| s.replicas.clone())
            .unwrap_or_default();
        let shared = Arc::clone(&shared);
        tasks.push(tokio::spawn(async move {
            let outcome = run_service(&shared, &d, deps, actions, &me).await;
            let phase = if outcome.status.is_ready() {
                Phase::Healthy
            } else {
                Phase::Failed
            };
            me.send_replace(phase);
            outcome
        }));
    }
    drop(senders);

    let mut outcomes = BTreeMap::new();
    for t in tasks {
        match t.await {
            Ok(o) => {
                outcomes.insert(o.service.clone(), o);
            }
            Err(e) => {
                return Err(EngineError::Api {
                    operation: "service task".into(),
                    message: e.to_string(),
                })
            }
        }
    }
    Ok(DeployReport {
        plan: the_plan,
        outcomes,
        removed,
    })
}

async fn run_service(
    shared: &Shared,
    d: &DesiredService,
    mut deps: Vec<(String, watch::Receiver<Phase>)>,
    actions: Vec<(u32, ReplicaAction)>,
    me: &watch::Sender<Phase>,
) -> ServiceOutcome {
    let mut outcome = ServiceOutcome {
        service: d.name.clone(),
        status: ServiceStatus::Healthy,
        replicas: Vec::new(),
        changed: false,
        moved_ports: Vec::new(),
        began: None,
        healthy_at: None,
        ready_in: None,
    };
    // a job that already ran to completion with this config is not run again
    let actions = if d.job {
        keep_completed(shared.engine.as_ref(), actions).await
    } else {
        actions
    };
    // create (or recreate) the containers right away, while the dependencies are still
    // starting: only the start has to wait for them
    let mut to_start = Vec::new();
    for (replica, action) in actions {
        match prepare(shared, d, replica, action, &mut outcome).await {
            Ok((state, start)) => {
                if start {
                    to_start.push(state.id.clone());
                }
                outcome.replicas.push(state);
            }
            Err(e) => {
                outcome.status = ServiceStatus::Failed(e.to_string());
                shared
                    .printer
                    .error(&format!("{}: could not create: {e}", d.name));
                return outcome;
            }
        }
    }
    // a gated service's start script waits for its dependencies itself: start its containers
    // as soon as the dependencies' containers are started, so its container start overlaps
    // with their process start-up (and never delays theirs)
    let early = d.gated && !deps.is_empty();
    let mut held = false;
    if early {
        for (_, rx) in &mut deps {
            let _ = rx.wait_for(|p| *p != Phase::Pending).await;
        }
        if deps.iter().all(|(_, rx)| *rx.borrow() != Phase::Failed) {
            if !start_all(shared, d, &to_start, &mut outcome).await {
                return outcome;
            }
            me.send_replace(Phase::Started);
            held = true;
        }
    }
    for (name, mut rx) in deps {
        let phase = rx
            .wait_for(|p| matches!(p, Phase::Healthy | Phase::Failed))
            .await
            .map_or(Phase::Failed, |p| *p);
        if phase != Phase::Healthy {
            shared.printer.warn(&format!(
                "{}: not started because its dependency `{name}` is not healthy",
                d.name
            ));
            if held {
                // held in its start script: stop it so it never runs
                for id in &to_start {
                    let _ = shared
                        .engine
                        .stop_container(id, Duration::from_secs(2))
                        .await;
                }
            }
            outcome.status = ServiceStatus::Skipped { dependency: name };
            return outcome;
        }
    }
    let began = Instant::now();
    outcome.began = Some(began);
    if !early {
        if !start_all(shared, d, &to_start, &mut outcome).await {
            return outcome;
        }
        me.send_replace(Phase::Started);
    }

    let timeout = shared.opts.timeout.unwrap_or(d.timeout);
    if d.job {
        finish_job(shared, d, &mut outcome, began, timeout).await;
        return outcome;
    }
    let targets: Vec<Readiness> = outcome.replicas.iter().map(|r| readiness(d, r)).collect();
    match wait_ready(
        shared.engine.as_ref(),
        shared.probe.as_ref(),
        &targets,
        timeout,
    )
    .await
    {
        Ok(_) => {
            let now = Instant::now();
            outcome.healthy_at = Some(now);
            outcome.ready_in = Some(now.duration_since(began));
            let url = outcome
                .replicas
                .first()
                .and_then(|r| r.host_port)
                .map(|p| format!(" at http://127.0.0.1:{p}"))
                .unwrap_or_default();
            if outcome.changed {
                shared.printer.info(&format!(
                    "{} {} healthy in {:.2}s{url}",
                    shared.printer.paint("✔", console::Style::new().green()),
                    d.name,
                    now.duration_since(began).as_secs_f64()
                ));
            } else {
                shared
                    .printer
                    .info(&format!("  {} unchanged, healthy{url}", d.name));
            }
        }
        Err(WaitError::TimedOut { last }) => {
            outcome.status = ServiceStatus::TimedOut(format!(
                "not healthy after {}s (last probe: {last})",
                timeout.as_secs()
            ));
        }
        Err(e) => outcome.status = ServiceStatus::Failed(e.to_string()),
    }
    outcome
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
}

/// A job's replica actions with [`ReplicaAction::Start`] of a stopped container of the same
/// config that exited 0 turned into [`ReplicaAction::Keep`]: it ran to completion before and is
/// not run again (like Compose; `up` and watch mode). One that failed, or never ran, keeps its
/// start.
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

/// Waits for a started (or kept) job to run to completion and sets the outcome:
/// [`ServiceStatus::Completed`] on exit 0, failed with the exit code otherwise.
async fn finish_job(
    shared: &Shared,
    d: &DesiredService,
    outcome: &mut ServiceOutcome,
    began: Instant,
    timeout: Duration,
) {
    let Some(id) = outcome.replicas.first().map(|r| r.id.clone()) else {
        outcome.status = ServiceStatus::Failed("the job has no container".into());
        return;
    };
    match wait_completed(shared.engine.as_ref(), &id, timeout).await {
        Ok(_) => {
            let now = Instant::now();
            outcome.status = ServiceStatus::Completed;
            outcome.healthy_at = Some(now);
            outcome.ready_in = Some(now.duration_since(began));
            if outcome.changed {
                shared.printer.info(&format!(
                    "{} {} completed in {:.2}s",
                    shared.printer.paint("✔", console::Style::new().green()),
                    d.name,
                    now.duration_since(began).as_secs_f64()
                ));
            } else {
                shared
                    .printer
                    .info(&format!("  {} unchanged, completed before", d.name));
            }
        }
        Err(WaitError::TimedOut { last }) => {
            outcome.status = ServiceStatus::TimedOut(format!(
                "job did not finish within {}s ({last})",
                timeout.as_secs()
            ));
        }
        Err(e) => outcome.status = ServiceStatus::Failed(e.to_string()),
    }
}

/// Starts the containers `ids` (bounded by the create semaphore); false (with the outcome set to
/// failed) when one could not be started.
async fn start_all(
    shared: &Shared,
    d: &DesiredService,
    ids: &[String],
    outcome: &mut ServiceOutcome,
) -> bool {
    for id in ids {
        let _permit = shared.creates.acquire().await.ok();
        if let Err(e) = shared.engine.start_container(id).await {
            outcome.status = ServiceStatus::Failed(e.to_string());
            shared
                .printer
                .error(&format!("{}: could not start: {e}", d.name));
            return false;
        }
        outcome.changed = true;
        shared
            .printer
            .debug(&format!("{}: started {id:.12}", d.name));
    }
    true
}

/// Gets a replica ready to start: the state and whether it still needs a start.
async fn prepare(
    shared: &Shared,
    d: &DesiredService,
    replica: u32,
    action: ReplicaAction,
    outcome: &mut ServiceOutcome,
) -> Result<(ReplicaState, bool), EngineError> {
    match action {
        ReplicaAction::Keep { id, host_port } => Ok((
            ReplicaState {
                replica,
                id,
                host_port,
            },
            false,
        )),
        ReplicaAction::Start { id, host_port } => Ok((
            ReplicaState {
                replica,
                id,
                host_port,
            },
            true,
        )),
        ReplicaAction::Recreate { old_id } => {
            let _permit = shared.creates.acquire().await.ok();
            shared.engine.remove_container(&old_id).await?;
            create(shared, d, replica, outcome).await.map(|s| (s, true))
        }
        ReplicaAction::Create => {
            let _permit = shared.creates.acquire().await.ok();
            create(shared, d, replica, outcome).await.map(|s| (s, true))
        }
    }
}

async fn create(
    shared: &Shared,
    d: &DesiredService,
    replica: u32,
    outcome: &mut ServiceOutcome,
) -> Result<ReplicaState, EngineError> {
    let host_port = match d.port {
        Some(port) => Some(publish_port(shared, d, port, replica, outcome)?),
        None => None,
    };
    let spec = container_spec(shared, d, replica, host_port);
    super::isolation::prepare_volumes(shared.engine.as_ref(), &spec).await?;
    let id = shared.engine.create_container(&spec).await?;
    outcome.changed = true;
    shared
        .printer
        .debug(&format!("{}: created {}", d.name, spec.name));
    Ok(ReplicaState {
        replica,
        id,
        host_port,
    })
}

/// The host port replica `replica` of `d` publishes its container `port` on. Replica 1
/// publishes the service port; further replicas publish 10000 above per replica (18100,
/// 28100…) so they do not take the ports of the services that follow in the file.
fn publish_port(
    shared: &Shared,
    d: &DesiredService,
    port: u16,
    replica: u32,
    outcome: &mut ServiceOutcome,
) -> Result<u16, EngineError> {
    let wanted = if replica <= 1 {
        port
    } else {
        u16::try_from(u32::from(port) + 10_000 * (replica - 1)).unwrap_or(30_000)
    };
    let host_port = shared
        .ports
        .allocate(wanted, shared.opts.check_ports)
        .ok_or_else(|| EngineError::Api {
            operation: format!("publish port of {}", d.name),
            message: format!("no free host port at or above {wanted}"),
        })?;
    if host_port != wanted && replica == 1 {
        outcome.moved_ports.push((wanted, host_port));
        shared.printer.warn(&format!(
            "{}: host port {wanted} is busy, published on 127.0.0.1:{host_port} instead",
            d.name
        ));
    }
    Ok(host_port)
}

fn container_spec(
    shared: &Shared,
    d: &DesiredService,
    replica: u32,
    host_port: Option<u16>,
) -> ContainerSpec {
    let mut l = BTreeMap::new();
    l.insert(labels::ECOSYSTEM.to_string(), shared.ecosystem.clone());
    l.insert(labels::SERVICE.to_string(), d.name.clone());
    l.insert(labels::REPLICA.to_string(), replica.to_string());
    l.insert(labels::CONFIG_HASH.to_string(), d.config_hash.clone());
    l.insert(labels::MANAGED.to_string(), "true".to_string());
    if let Some(p) = &d.health_path {
        l.insert(labels::HEALTH_PATH.to_string(), p.clone());
    }
    if let Some(c) = &d.health_cmd {
        l.insert(labels::HEALTH_CMD.to_string(), c.clone());
    }
    if d.job {
        l.insert(labels::KIND.to_string(), "job".to_string());
    }
    if let Some(f) = &shared.opts.ecosystem_file {
        l.insert(labels::ECOSYSTEM_FILE.to_string(), f.display().to_string());
    }
    for (k, v) in &d.isolation.labels {
        l.entry(k.clone()).or_insert_with(|| v.clone());
    }
    ContainerSpec {
        name: container_name(&shared.ecosystem, &d.name, replica),
        image: d.image.clone(),
        env: d.env.clone(),
        labels: l,
        network: shared.network.clone(),
        aliases: vec![d.name.clone()],
        ports: d
            .port
            .zip(host_port)
            .map(|(container_port, host_port)| PortBinding {
                container_port,
                host_ip: "127.0.0.1".to_string(),
                host_port,
            })
            .into_iter()
            .collect(),
        restart: d.restart && !d.job,
        init: true,
        command: None,
        healthcheck: None,
        stop_timeout: Some(10),
        hardening: d.isolation.hardening.clone(),
        limits: d.isolation.limits,
    }
}

/// The container spec `deploy` would create for one replica of `d` publishing `host_port`, for
/// callers that replace a single service outside a full deploy (watch mode). Kept as a thin
/// wrapper so the spec has one definition.
#[allow(clippy::too_many_arguments)]
pub(crate) fn replica_spec(
    engine: Arc<dyn Engine>,
    probe: Arc<dyn HealthProbe>,
    ecosystem: &str,
    network: &str,
    opts: &DeployOptions,
    printer: &Printer,
    d: &DesiredService,
    replica: u32,
    host_port: Option<u16>,
) -> ContainerSpec {
    let shared = Shared {
        engine,
        probe,
        ecosystem: ecosystem.to_string(),
        network: network.to_string(),
        ports: PortBook::default(),
        creates: Semaphore::new(1),
        opts: opts.clone(),
        printer: printer.clone(),
    };
    container_spec(&shared, d, replica, host_port)
}
