//! Per-service scheduling: one tokio task per service waits for exactly its own dependencies,
//! applies its part of the plan through the replica lifecycle ([`super::replica`]) and waits
//! until it is healthy; a slow service holds back only its own dependants, a failed one stops
//! its dependants (transitively) and leaves everything else running for inspection. A
//! [`Semaphore`] caps concurrent creates and starts. `up`, watch mode, `restart` and `run` all
//! deploy through [`deploy`]; they differ only in [`DeployOptions`].
//!
//! When to start a service's containers ([`Replacement::InPlace`], `up`):
//! - they are created (or recreated) at once, while the dependencies are still starting;
//! - **gated** services ([`DesiredService::gated`]: the image's start script waits for the
//!   dependencies itself, [`crate::image::start_script`]) are started as soon as their
//!   dependencies' containers are *started*, so their container start overlaps with the
//!   dependencies' process start-up; if a dependency then fails, they are stopped while still
//!   held, before their process ran;
//! - the others are started once their dependencies are *healthy*.
//!
//! With [`Replacement::Rolling`] (watch mode) nothing is touched before the dependencies are
//! healthy; then each replica is replaced one after the other and rolled back to its previous
//! version when the new one fails ([`super::replica::replace`]); a service whose plan keeps
//! everything is trusted as it runs, unless it is listed in [`DeployOptions::check`].
//!
//! Either way a service is probed for health only from the moment its dependencies are healthy.
use super::event::{DeployEvent, Sink};
use super::plan::{plan, DesiredService, Plan, ReplicaAction};
use super::ports::PortBook;
use super::replica::{self, ReplicaState};
use super::spec::Placement;
use crate::config::labels;
use crate::engine::{Engine, EngineError};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{watch, Semaphore};

/// How a changed replica is replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Replacement {
    /// Remove the old container and create the new one at once, start it with its service
    /// (`up`); a failed service is left as it is for inspection.
    #[default]
    InPlace,
    /// Once the dependencies are healthy, one replica after the other: remove, start the new
    /// version, probe it, and roll back to the previous version when it fails (watch mode).
    Rolling,
}

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
    /// How changed replicas are replaced.
    pub replacement: Replacement,
    /// The version of each service that ran healthy before (watch mode): the rollback target.
    pub previous: BTreeMap<String, DesiredService>,
    /// Services whose unchanged containers are looked at (running, one probe) instead of
    /// trusted or restarted (watch mode's first reconcile, and services known to have failed).
    pub check: BTreeSet<String>,
    /// Time a removed container gets to stop after SIGTERM; `None`: killed and removed at once.
    pub stop_timeout: Option<Duration>,
    /// Image references to run instead of the local tags, by service (pushed images, for the
    /// nodes of a swarm to pull).
    pub images: BTreeMap<String, String>,
    /// Services of the ecosystem outside this deploy (`up SERVICE…`): their containers are left
    /// as they are — neither planned nor removed as orphans.
    pub leave: BTreeSet<String>,
    /// The ingress's routes: a changed exposed service is replaced behind the running ingress
    /// with no gap ([`super::surge`]).
    pub proxy: Option<Arc<super::surge::ProxyRoutes>>,
}

impl Default for DeployOptions {
    fn default() -> Self {
        Self {
            concurrency: super::DEFAULT_CONCURRENCY,
            timeout: None,
            check_ports: true,
            ecosystem_file: None,
            replacement: Replacement::InPlace,
            previous: BTreeMap::new(),
            check: BTreeSet::new(),
            stop_timeout: None,
            images: BTreeMap::new(),
            leave: BTreeSet::new(),
            proxy: None,
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
    /// Its new version failed and the previous one serves again (rolling replacement).
    RolledBack(String),
    /// Not started because a dependency failed.
    Skipped {
        /// The dependency that failed.
        dependency: String,
    },
}

impl ServiceStatus {
    /// Serving (healthy, completed for a job, or rolled back to the previous version): its
    /// dependants may start.
    #[must_use]
    pub fn is_ready(&self) -> bool {
        matches!(
            self,
            ServiceStatus::Healthy | ServiceStatus::Completed | ServiceStatus::RolledBack(_)
        )
    }
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
    /// Last log lines of a failed container that was removed (rolling replacement) or looked
    /// at ([`DeployOptions::check`]).
    pub log: Vec<String>,
}

impl ServiceOutcome {
    fn new(service: &str) -> Self {
        Self {
            service: service.to_string(),
            status: ServiceStatus::Healthy,
            replicas: Vec::new(),
            changed: false,
            moved_ports: Vec::new(),
            began: None,
            healthy_at: None,
            ready_in: None,
            log: Vec::new(),
        }
    }

    /// Records a replica's failure: the first one stays, except that nothing serving
    /// (failed, timed out) outranks a roll-back to the previous version.
    pub(crate) fn fail(&mut self, status: ServiceStatus) {
        let replace = match &self.status {
            ServiceStatus::Healthy | ServiceStatus::Completed => true,
            ServiceStatus::RolledBack(_) => !matches!(status, ServiceStatus::RolledBack(_)),
            _ => false,
        };
        if replace {
            self.status = status;
        }
    }
}

/// The result of a deploy.
#[derive(Debug, Clone)]
pub struct DeployReport {
    /// The plan that was carried out.
    pub plan: Plan,
    /// Outcome per service.
    pub outcomes: BTreeMap<String, ServiceOutcome>,
    /// Containers removed because their service left the file (or surplus replicas; every
    /// container when nothing is desired: `down`).
    pub removed: Vec<Removal>,
}

/// A container the deploy removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removal {
    /// Container id.
    pub id: String,
    /// Container name.
    pub name: String,
    /// Its service (from its label; empty when it had none).
    pub service: String,
}

impl DeployReport {
    /// The services of the removed containers.
    #[must_use]
    pub fn removed_services(&self) -> BTreeSet<String> {
        self.removed.iter().map(|r| r.service.clone()).collect()
    }

    /// True when every service is healthy (and every job completed).
    #[must_use]
    pub fn all_healthy(&self) -> bool {
        self.outcomes
            .values()
            .all(|o| matches!(o.status, ServiceStatus::Healthy | ServiceStatus::Completed))
    }

    /// The services that failed, timed out or were rolled back themselves (not the skipped
    /// ones), in name order.
    #[must_use]
    pub fn failures(&self) -> Vec<&ServiceOutcome> {
        self.outcomes
            .values()
            .filter(|o| {
                matches!(
                    o.status,
                    ServiceStatus::Failed(_)
                        | ServiceStatus::TimedOut(_)
                        | ServiceStatus::RolledBack(_)
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

/// What every service task of one deploy shares.
pub(crate) struct Shared {
    pub engine: Arc<dyn Engine>,
    pub probe: Arc<dyn super::health::HealthProbe>,
    pub ecosystem: String,
    pub network: String,
    pub opts: DeployOptions,
    pub ports: PortBook,
    pub creates: Semaphore,
    pub sink: Sink,
}

impl Shared {
    pub fn placement(&self) -> Placement<'_> {
        Placement {
            ecosystem: &self.ecosystem,
            network: &self.network,
            ecosystem_file: self.opts.ecosystem_file.as_deref(),
        }
    }

    pub fn emit(&self, e: &DeployEvent) {
        (self.sink)(e);
    }

    pub fn timeout(&self, d: &DesiredService) -> Duration {
        self.opts.timeout.unwrap_or(d.timeout)
    }
}

/// Brings `desired` up on the engine: removes orphans, then runs one task per service that waits
/// for its own dependencies, applies its part of the plan and waits until it is healthy. The
/// network must exist. Never returns early on a service failure: the report says what happened.
///
/// # Errors
/// Engine errors while listing or removing orphans; per-service errors are in the report.
pub async fn deploy(
    engine: Arc<dyn Engine>,
    probe: Arc<dyn super::health::HealthProbe>,
    ecosystem: &str,
    network: &str,
    desired: Vec<DesiredService>,
    opts: DeployOptions,
    sink: &Sink,
) -> Result<DeployReport, EngineError> {
    // on Swarm the plan is one action per service, against its Swarm services (listed as
    // `existing`, so they are retired like containers)
    let (mut the_plan, existing) = match engine.services() {
        Some(services) => super::swarm::plan(services, ecosystem, &desired).await?,
        None => {
            let existing = engine
                .list_containers(&super::ecosystem_filter(ecosystem))
                .await?;
            (plan(&desired, &existing), existing)
        }
    };
    if !opts.leave.is_empty() {
        let left: BTreeSet<&str> = existing
            .iter()
            .filter(|c| {
                c.labels
                    .get(crate::config::labels::SERVICE)
                    .is_some_and(|s| opts.leave.contains(s))
            })
            .map(|c| c.id.as_str())
            .collect();
        the_plan.orphans.retain(|id| !left.contains(id.as_str()));
    }
    let shared = Arc::new(Shared {
        engine,
        probe,
        ecosystem: ecosystem.to_string(),
        network: network.to_string(),
        ports: PortBook::new(opts.check_ports),
        creates: Semaphore::new(opts.concurrency.max(1)),
        opts,
        sink: Arc::clone(sink),
    });
    let surplus: BTreeSet<&str> = the_plan
        .orphans
        .iter()
        .chain(the_plan.services.iter().flat_map(|s| s.remove.iter()))
        .map(String::as_str)
        .collect();
    let removed = retire_all(
        &shared,
        existing.iter().filter(|c| surplus.contains(c.id.as_str())),
    )
    .await?;
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
                shared.ports.claim(*p);
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

/// Retires `containers` concurrently, reporting each removal; every one is tried.
///
/// # Errors
/// The first engine error, after the others were tried.
async fn retire_all<'a>(
    shared: &Shared,
    containers: impl Iterator<Item = &'a crate::engine::ContainerInfo>,
) -> Result<Vec<Removal>, EngineError> {
    let containers: Vec<_> = containers.collect();
    let results = futures_util::future::join_all(containers.iter().map(|c| async {
        match shared.engine.services() {
            // a Swarm service goes with its tasks
            Some(services) => services.remove_service(&c.id).await,
            None => replica::retire(shared, &c.id).await,
        }
    }))
    .await;
    let mut removed = Vec::new();
    let mut first_err = None;
    for (c, r) in containers.into_iter().zip(results) {
        match r {
            Ok(()) => {
                let service = c.labels.get(labels::SERVICE).cloned().unwrap_or_default();
                shared.emit(&DeployEvent::Removed {
                    service: service.clone(),
                    id: c.id.clone(),
                });
                removed.push(Removal {
                    id: c.id.clone(),
                    name: c.name.clone(),
                    service,
                });
            }
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(removed),
    }
}

async fn run_service(
    shared: &Shared,
    d: &DesiredService,
    mut deps: Vec<(String, watch::Receiver<Phase>)>,
    actions: Vec<(u32, ReplicaAction)>,
    me: &watch::Sender<Phase>,
) -> ServiceOutcome {
    let mut outcome = ServiceOutcome::new(&d.name);
    // a job that already ran to completion with this config is not run again
    let actions = if d.job {
        replica::keep_completed(shared.engine.as_ref(), actions).await
    } else {
        actions
    };
    let noop = actions
        .iter()
        .all(|(_, a)| matches!(a, ReplicaAction::Keep { .. }));
    let same_config = actions
        .iter()
        .all(|(_, a)| matches!(a, ReplicaAction::Keep { .. } | ReplicaAction::Start { .. }));
    // Swarm replaces a service's tasks itself (start-first, parallelism 1): in place here
    let swarm = shared.engine.services();
    let look = same_config && shared.opts.check.contains(&d.name) && swarm.is_none();
    // a changed exposed service is replaced behind the ingress (`up` too), one replica after
    // the other once its dependencies are healthy
    let surge = shared
        .opts
        .proxy
        .as_ref()
        .is_some_and(|p| p.port_of(&d.name).is_some())
        && actions
            .iter()
            .any(|(_, a)| matches!(a, ReplicaAction::Recreate { .. }));
    let rolling = (shared.opts.replacement == Replacement::Rolling || surge) && swarm.is_none();

    // in place: create (or recreate) the containers right away, while the dependencies are
    // still starting; only the start has to wait for them
    let mut to_start = Vec::new();
    let mut pending = actions;
    if !rolling && !look && swarm.is_none() {
        for (replica, action) in std::mem::take(&mut pending) {
            match replica::prepare(shared, d, replica, action, &mut outcome).await {
                Ok((state, start)) => {
                    if start {
                        to_start.push(state.id.clone());
                    }
                    outcome.replicas.push(state);
                }
                Err(e) => {
                    let message = format!("could not create: {e}");
                    outcome.status = ServiceStatus::Failed(e.to_string());
                    shared.emit(&DeployEvent::Failed {
                        service: Some(d.name.clone()),
                        message,
                    });
                    return outcome;
                }
            }
        }
    }
    // a gated service's start script waits for its dependencies itself: start its containers
    // as soon as the dependencies' containers are started, so its container start overlaps
    // with their process start-up (and never delays theirs)
    let early = !rolling && !look && d.gated && !deps.is_empty();
    let mut held = false;
    if early {
        for (_, rx) in &mut deps {
            let _ = rx.wait_for(|p| *p != Phase::Pending).await;
        }
        if deps.iter().all(|(_, rx)| *rx.borrow() != Phase::Failed) {
            if !start(shared, d, &pending, &mut to_start, &mut outcome).await {
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
            if !noop {
                shared.emit(&DeployEvent::NotStarted {
                    service: d.name.clone(),
                    dependency: name.clone(),
                });
            }
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
    if look {
        me.send_replace(Phase::Started);
        replica::look(shared, d, &pending, &mut outcome).await;
        return outcome;
    }
    if rolling {
        me.send_replace(Phase::Started);
        if noop {
            // nothing changed: trusted as it runs (watch mode does not probe what it keeps)
            outcome.replicas = replica::kept(d, &pending);
            return outcome;
        }
        replica::roll(shared, d, pending, &mut outcome).await;
        if outcome.status.is_ready() {
            ready(shared, d, &mut outcome, began);
        }
        return outcome;
    }
    if !early {
        if !start(shared, d, &pending, &mut to_start, &mut outcome).await {
            return outcome;
        }
        me.send_replace(Phase::Started);
    }
    match replica::gate(shared, d, &outcome.replicas).await {
        Ok(()) => {
            if d.job {
                outcome.status = ServiceStatus::Completed;
            }
            for r in outcome.replicas.iter().filter(|r| to_start.contains(&r.id)) {
                shared.emit(&DeployEvent::Started {
                    service: d.name.clone(),
                    replica: r.replica,
                    id: r.id.clone(),
                    host_port: r.host_port,
                });
            }
            ready(shared, d, &mut outcome, began);
        }
        Err(status) => match swarm {
            Some(services) => {
                super::swarm::gate_failed(shared, services, d, &pending, status, &mut outcome)
                    .await;
            }
            None => outcome.status = status,
        },
    }
    outcome
}

/// Starts a service's prepared containers, or on Swarm creates or updates its service and
/// waits for its tasks (which become the replicas and, when new, `to_start`).
async fn start(
    shared: &Shared,
    d: &DesiredService,
    actions: &[(u32, ReplicaAction)],
    to_start: &mut Vec<String>,
    outcome: &mut ServiceOutcome,
) -> bool {
    match shared.engine.services() {
        Some(services) => {
            super::swarm::apply(shared, services, d, actions, outcome, to_start).await
        }
        None => replica::start_all(shared, d, to_start, outcome).await,
    }
}

/// Records that `d` is serving and says so.
fn ready(shared: &Shared, d: &DesiredService, outcome: &mut ServiceOutcome, began: Instant) {
    if matches!(outcome.status, ServiceStatus::RolledBack(_)) {
        return;
    }
    let now = Instant::now();
    outcome.healthy_at = Some(now);
    outcome.ready_in = Some(now.duration_since(began));
    if d.job {
        outcome.status = ServiceStatus::Completed;
    }
    shared.emit(&DeployEvent::Ready {
        service: d.name.clone(),
        job: d.job,
        changed: outcome.changed,
        seconds: now.duration_since(began).as_secs_f64(),
        host_port: outcome.replicas.first().and_then(|r| r.host_port),
    });
}
