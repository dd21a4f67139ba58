//! Watch mode: the developer loop of `pactown up --watch` / `pactown watch`.
//!
//! The ecosystem file and every local service README are watched (notify, debounced). Any change
//! runs [`Session::reconcile`]: reparse the whole project, rebuild images (content-addressed tags,
//! so only a README whose bytes changed is rebuilt, and Docker's layer cache reuses the
//! dependency layer when the `deps` block did not change), compute the desired state and compare
//! it with what runs ([`super::plan`]). Services whose config hash is unchanged are not touched;
//! a dependant is recreated only when its injected environment changed (its hash includes it).
//! Services added to the file start, removed ones stop.
//!
//! **Replacement strategy.** Every replica publishes a fixed host port on 127.0.0.1; the engine
//! cannot hand a published port from one container to another, and a second container cannot
//! bind it while the first runs. Without a proxy in front, a new container that is health-checked
//! before the old one stops would have to run on another port and be started a second time on
//! the real one, doubling the boot. pactown therefore keeps the old version serving for the
//! whole rebuild (the slow part), then kills and removes it (no grace period: this is a dev loop
//! and SIGTERM handling would add to every edit), starts the new container on the same port and
//! health-checks it every 25 ms; if the new version does not become healthy, it is removed and the previous
//! version is started again (rollback) so the service keeps working. With several replicas the
//! replicas are replaced one after the other, so the others keep answering on the shared alias.
//! The gap (kill → new container healthy) is measured and reported as `downtime_ms`.
//!
//! A parse error keeps everything running as it is and is reported with `file:line`.
//!
//! **Failed services.** Watch mode keeps going when a service is not healthy — also when the
//! first `up` left one failed: the first reconcile probes every service once, reports the
//! failing ones ([`WatchEvent::Unhealthy`], with their last log lines) and remembers them. A
//! failed service is never a rollback target (its replacement that fails again is simply
//! removed), and its dependants wait (not created, not touched) until it is healthy; when its
//! README changes it is rebuilt and replaced like any other, and once healthy its waiting
//! dependants start in the same reconcile. Healthy services are not touched.
//!
//! **Jobs** (`kind: job`). A job that completed (exited 0) with its current config is not run
//! again by a reconcile, whatever else changed. When its README or config changes it is run
//! again, and the services after it in the reconcile (its dependants among them) start only
//! once it completed. A changed job that fails is not rolled back (that would run the previous
//! version again): its container stays for `logs`/`status`, and its dependants wait until an
//! edit makes it complete.
use super::health::{
    wait_completed, wait_ready, HealthProbe, ProbeOutcome, ProbeTarget, Readiness, WaitError,
};
use super::plan::{host_port_of, plan, DesiredService, ReplicaAction};
use super::scheduler::{replica_spec, DeployOptions};
use crate::config::labels;
use crate::config::ReadmeSource;
use crate::diagnostic::Diagnostic;
use crate::engine::{ContainerInfo, Engine};
use crate::error::Error;
use crate::image::{build_services, BuildEvent, BuildOptions, ServiceImage};
use crate::observe::events::{EventKind, LifecycleEvent};
use crate::observe::journal::{self, BuildRecorder, Journal};
use crate::project::Project;
use crate::ui::Printer;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Default quiet time after the last file event before a change is handled.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(100);
/// Default time an old container gets to stop after SIGTERM when it is replaced.
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(3);
/// Delay between health probes of a new container.
const FAST_PROBE: Duration = Duration::from_millis(25);
/// A new container is inspected (has it exited?) every this many probes.
const INSPECT_EVERY: u64 = 8;
/// Log lines of a failed new container included in a rollback event.
const ROLLBACK_LOG_LINES: usize = 20;

/// Options of watch mode.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// Build options (CA bundle, no-cache, jobs).
    pub build: BuildOptions,
    /// Deploy options (time-out override, ecosystem file label).
    pub deploy: DeployOptions,
    /// Quiet time after the last file event.
    pub debounce: Duration,
    /// Time a container of a service removed from the file gets to stop gracefully.
    pub stop_timeout: Duration,
    /// Run the tenant's copy of the ecosystem (`--tenant`): the file is read and then moved to
    /// the tenant's name and ports on every reconcile.
    pub tenant: Option<TenantCopy>,
    /// Where builds and health results are recorded (`None`: nowhere).
    pub journal: Option<Journal>,
}

/// The tenant a watch session runs ([`crate::config::tenant::apply`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantCopy {
    /// Tenant name.
    pub name: String,
    /// Port offset (default: derived from the name).
    pub port_offset: Option<u16>,
}

impl Default for WatchOptions {
    fn default() -> Self {
        Self {
            build: BuildOptions::default(),
            deploy: DeployOptions::default(),
            debounce: DEFAULT_DEBOUNCE,
            stop_timeout: DEFAULT_STOP_TIMEOUT,
            tenant: None,
            journal: None,
        }
    }
}

/// What watch mode did, as a stream of events (`pactown watch --json` prints one JSON object
/// per line, tagged by `event`).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum WatchEvent {
    /// Watching these files.
    Watching {
        /// Ecosystem name.
        ecosystem: String,
        /// The ecosystem file and the local READMEs.
        files: Vec<PathBuf>,
    },
    /// Files changed; a reconcile follows.
    Changed {
        /// The changed files among those watched.
        files: Vec<PathBuf>,
    },
    /// The project does not parse; nothing was touched.
    Invalid {
        /// The errors (and warnings), each with file and line.
        diagnostics: Vec<Diagnostic>,
    },
    /// An image was built (not found by its tag).
    Built {
        /// The image with its build steps and their cache status.
        image: ServiceImage,
    },
    /// A replica was replaced by a new container that is healthy.
    Replaced {
        /// Service name.
        service: String,
        /// Replica number.
        replica: u32,
        /// The removed container.
        old_id: String,
        /// The new container.
        new_id: String,
        /// Published host port (`None` for a service without a port).
        host_port: Option<u16>,
        /// From killing the old container until the new one answered its health probe.
        downtime_ms: u64,
    },
    /// A new version did not become healthy; the previous one runs again.
    RolledBack {
        /// Service name.
        service: String,
        /// Replica number.
        replica: u32,
        /// Why the new version failed.
        reason: String,
        /// Last log lines of the failed container.
        log: Vec<String>,
        /// The container running the previous version again, if it came back.
        id: Option<String>,
    },
    /// A replica was started (new service, new replica or a stopped container).
    Started {
        /// Service name.
        service: String,
        /// Replica number.
        replica: u32,
        /// Container id.
        id: String,
        /// Published host port.
        host_port: Option<u16>,
    },
    /// A container was removed (its service left the file, or a surplus replica).
    Removed {
        /// Service name.
        service: String,
        /// Container id.
        id: String,
    },
    /// A service is not healthy (found so by the first reconcile, or its new container did not
    /// become healthy); watch mode goes on and rebuilds it when its README changes.
    Unhealthy {
        /// Service name.
        service: String,
        /// Why.
        reason: String,
        /// Last log lines of the failing container.
        log: Vec<String>,
    },
    /// Something failed; what runs stays as it is.
    Failed {
        /// The service concerned, when there is one.
        service: Option<String>,
        /// What went wrong.
        message: String,
    },
    /// A reconcile finished.
    Reconciled {
        /// Services whose containers changed.
        changed: Vec<String>,
        /// Services left untouched.
        unchanged: Vec<String>,
        /// Time from the start of the reconcile.
        ms: u64,
    },
}

/// The result of one reconcile.
#[derive(Debug, Clone, Default)]
pub struct ReconcileReport {
    /// The project did not parse; nothing was touched.
    pub invalid: bool,
    /// Images that were built (the others were found by tag).
    pub built: Vec<ServiceImage>,
    /// Services whose containers changed.
    pub changed: Vec<String>,
    /// Services left untouched.
    pub unchanged: Vec<String>,
    /// Services (or `""` for the whole project) that failed, with the reason.
    pub failed: Vec<(String, String)>,
    /// Wall-clock time of the reconcile.
    pub elapsed: Duration,
}

/// Callback receiving watch events.
pub type EventSink<'a> = &'a (dyn Fn(WatchEvent) + Send + Sync);

/// A watch session: the ecosystem file, the engine, and the last desired state that was applied
/// (used to roll a service back when its new version fails).
pub struct Session {
    engine: Arc<dyn Engine>,
    probe: Arc<dyn HealthProbe>,
    file: PathBuf,
    name: String,
    opts: WatchOptions,
    printer: Printer,
    applied: BTreeMap<String, DesiredService>,
    files: Vec<PathBuf>,
    /// Services known not to be healthy (see the module docs).
    failed: BTreeSet<String>,
    /// Services held back because a dependency is failed or held back itself.
    waiting: BTreeSet<String>,
    /// No reconcile ran yet: the first probes every unchanged service once.
    first: bool,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("file", &self.file)
            .field("name", &self.name)
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A session for the ecosystem `name` defined in `file`. Nothing runs until
    /// [`Session::reconcile`].
    #[must_use]
    pub fn new(
        engine: Arc<dyn Engine>,
        probe: Arc<dyn HealthProbe>,
        file: &Path,
        name: &str,
        opts: WatchOptions,
        printer: &Printer,
    ) -> Self {
        let mut s = Self {
            engine,
            probe,
            file: file.to_path_buf(),
            name: name.to_string(),
            opts,
            printer: printer.clone(),
            applied: BTreeMap::new(),
            files: Vec::new(),
            failed: BTreeSet::new(),
            waiting: BTreeSet::new(),
            first: true,
        };
        s.files = watched_files(&s.file, &[]);
        s
    }

    /// The files watched: the ecosystem file and every local README it names (absolute).
    #[must_use]
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// The services known not to be healthy.
    #[must_use]
    pub fn failed(&self) -> &BTreeSet<String> {
        &self.failed
    }

    /// Brings what runs in line with the files: reparse, rebuild changed images, then start,
    /// replace or remove only the services whose config hash differs. Problems are reported as
    /// events and in the report; what runs keeps running.
    ///
    /// # Errors
    /// Engine errors while listing containers or creating the network.
    pub async fn reconcile(&mut self, on_event: EventSink<'_>) -> Result<ReconcileReport, Error> {
        let started = Instant::now();
        let mut report = ReconcileReport::default();
        self.files = watched_files(&self.file, &self.files);
        let project = match crate::project::load(&self.file) {
            // `${VAR}` references resolved as `up` resolves them (else the config hash differs
            // and the containers would get the literal references)
            Ok(mut p) => {
                let process_env: std::collections::BTreeMap<String, String> =
                    std::env::vars().collect();
                let moved = match &self.opts.tenant {
                    Some(t) => {
                        crate::config::tenant::apply(p.ecosystem.clone(), &t.name, t.port_offset)
                            .map(|e| p.ecosystem = e)
                    }
                    None => Ok(()),
                };
                let resolved = moved.and_then(|()| {
                    crate::secrets::resolve(&mut p.ecosystem, &process_env)
                        .map_err(|e| e.to_string())
                });
                if let Err(e) = resolved {
                    report.failed.push((String::new(), e.clone()));
                    on_event(WatchEvent::Failed {
                        service: None,
                        message: e,
                    });
                    report.elapsed = started.elapsed();
                    return Ok(report);
                }
                p
            }
            Err(d) => {
                report.invalid = true;
                on_event(WatchEvent::Invalid { diagnostics: d.0 });
                report.elapsed = started.elapsed();
                return Ok(report);
            }
        };
        if project.ecosystem.name != self.name {
            let message = format!(
                "the ecosystem name changed from `{}` to `{}`; stop watch mode and run `pactown down`/`up` to rename",
                self.name, project.ecosystem.name
            );
            report.failed.push((String::new(), message.clone()));
            on_event(WatchEvent::Failed {
                service: None,
                message,
            });
            report.elapsed = started.elapsed();
            return Ok(report);
        }
        let images = match self.build(&project).await {
            Ok(i) => i,
            Err(e) => {
                let service = match &e {
                    crate::image::BuildError::Failed { service, .. }
                    | crate::image::BuildError::Plan { service, .. } => Some(service.clone()),
                    _ => None,
                };
                let mut message = e.to_string();
                if let crate::image::BuildError::Failed { log_tail, .. } = &e {
                    for line in log_tail.iter().rev().take(10).rev() {
                        message.push_str("\n  | ");
                        message.push_str(line);
                    }
                }
                report
                    .failed
                    .push((service.clone().unwrap_or_default(), message.clone()));
                on_event(WatchEvent::Failed { service, message });
                report.elapsed = started.elapsed();
                return Ok(report);
            }
        };
        for image in images.values().filter(|i| !i.cached) {
            report.built.push(image.clone());
            on_event(WatchEvent::Built {
                image: image.clone(),
            });
        }
        let eco = &project.ecosystem;
        let desired = super::up::desired_services(eco, &images)?;
        let network = super::up::ensure_network(self.engine.as_ref(), eco).await?;
        let existing = self
            .engine
            .list_containers(&super::ecosystem_filter(&self.name))
            .await?;
        let the_plan = plan(&desired, &existing);
        let by_id: BTreeMap<&str, &ContainerInfo> =
            existing.iter().map(|c| (c.id.as_str(), c)).collect();

        // services that left the file
        let mut gone: BTreeSet<String> = BTreeSet::new();
        for id in &the_plan.orphans {
            let service = by_id
                .get(id.as_str())
                .and_then(|c| c.labels.get(labels::SERVICE))
                .cloned()
                .unwrap_or_default();
            self.stop_and_remove(id).await;
            gone.insert(service.clone());
            on_event(WatchEvent::Removed {
                service,
                id: id.clone(),
            });
        }
        report.changed.extend(gone);

        let mut claimed = BTreeSet::new();
        for c in &existing {
            for p in &c.ports {
                claimed.insert(p.host_port);
            }
        }
        let ctx = Ctx {
            network: &network,
            on_event,
        };
        let desired_by_name: BTreeMap<&str, &DesiredService> =
            desired.iter().map(|d| (d.name.as_str(), d)).collect();
        for name in &project.graph.order {
            let (Some(d), Some(sp)) = (
                desired_by_name.get(name.as_str()),
                the_plan.service(name.as_str()),
            ) else {
                continue;
            };
            // a job that already ran to completion with this config is not run again
            let mut sp = (*sp).clone();
            if d.job {
                sp.replicas =
                    super::scheduler::keep_completed(self.engine.as_ref(), sp.replicas).await;
            }
            if let Some(dep) = d
                .dependencies
                .iter()
                .find(|n| self.failed.contains(*n) || self.waiting.contains(*n))
            {
                // a dependant of a failed service waits (and is not touched) until it is healthy
                self.waiting.insert(name.clone());
                if sp.is_noop() {
                    // running (its start script holds the process until `dep` answers)
                    report.unchanged.push(name.clone());
                } else {
                    let message = format!("waits for `{dep}` to become healthy");
                    report.failed.push((name.clone(), message.clone()));
                    on_event(WatchEvent::Failed {
                        service: Some(name.clone()),
                        message,
                    });
                }
                continue;
            }
            self.waiting.remove(name);
            // unchanged config: on the first reconcile (right after `up`) and for a service
            // known to have failed, look instead of restarting what `up` just saw fail
            let same_config = sp.remove.is_empty()
                && sp.replicas.iter().all(|(_, a)| {
                    matches!(a, ReplicaAction::Keep { .. } | ReplicaAction::Start { .. })
                });
            let look = same_config && (self.first || self.failed.contains(name));
            if sp.is_noop() || look {
                report.unchanged.push(name.clone());
                if look {
                    if let Err((reason, log)) = self.check_running(d, &sp).await {
                        report.failed.push((name.clone(), reason.clone()));
                        on_event(WatchEvent::Unhealthy {
                            service: name.clone(),
                            reason,
                            log,
                        });
                        self.failed.insert(name.clone());
                        self.applied.remove(name);
                        continue;
                    }
                    self.failed.remove(name);
                }
                self.applied.insert(name.clone(), (*d).clone());
                continue;
            }
            report.changed.push(name.clone());
            for id in &sp.remove {
                self.stop_and_remove(id).await;
                on_event(WatchEvent::Removed {
                    service: name.clone(),
                    id: id.clone(),
                });
            }
            let mut ok = true;
            // a replica ended with nothing serving (not rolled back)
            let mut down = false;
            for (replica, action) in &sp.replicas {
                let result = match action {
                    ReplicaAction::Keep { .. } => Ok(()),
                    ReplicaAction::Start { id, host_port } => {
                        self.start_existing(&ctx, d, *replica, id, *host_port).await
                    }
                    ReplicaAction::Create => {
                        let wanted = replica_port(d.port, *replica);
                        self.create_new(&ctx, d, *replica, wanted, &mut claimed)
                            .await
                    }
                    ReplicaAction::Recreate { old_id } => {
                        let old = by_id.get(old_id.as_str()).copied();
                        // a failed version is no rollback target
                        let prev = if self.failed.contains(name) {
                            None
                        } else {
                            self.applied.get(name.as_str()).cloned()
                        };
                        // keep the port the old container had, unless the file moved it
                        let wanted = match (old, &prev) {
                            (Some(c), Some(p)) if p.port == d.port => {
                                host_port_of(c, d.port).or(d.port)
                            }
                            _ => replica_port(d.port, *replica),
                        };
                        match self
                            .replace(&ctx, d, prev.as_ref(), *replica, old_id, wanted)
                            .await
                        {
                            Ok(()) => Ok(()),
                            // the previous version serves again: not a failed service
                            Err((message, Serving::Previous)) => {
                                report.failed.push((name.clone(), message));
                                ok = false;
                                continue;
                            }
                            Err((message, Serving::Nothing)) => Err(message),
                        }
                    }
                };
                if let Err(message) = result {
                    ok = false;
                    down = true;
                    report.failed.push((name.clone(), message));
                }
            }
            if ok {
                self.applied.insert(name.clone(), (*d).clone());
                self.failed.remove(name);
            } else if down {
                self.failed.insert(name.clone());
            }
        }
        self.first = false;
        self.applied
            .retain(|k, _| desired_by_name.contains_key(k.as_str()));
        self.failed
            .retain(|k| desired_by_name.contains_key(k.as_str()));
        self.waiting
            .retain(|k| desired_by_name.contains_key(k.as_str()));
        report.elapsed = started.elapsed();
        on_event(WatchEvent::Reconciled {
            changed: report.changed.clone(),
            unchanged: report.unchanged.clone(),
            ms: millis(report.elapsed),
        });
        Ok(report)
    }

    async fn build(
        &self,
        project: &Project,
    ) -> Result<BTreeMap<String, ServiceImage>, crate::image::BuildError> {
        let eco = &project.ecosystem;
        let recorder = BuildRecorder::new(
            self.opts.journal.as_ref(),
            &eco.name,
            eco.tenant.as_deref(),
            eco.services.iter().map(|s| s.name.clone()).collect(),
            &self.printer,
        );
        let rec = &recorder;
        let printer = self.printer.clone();
        let on_build = move |e: BuildEvent| {
            rec.event(&e);
            match e {
                BuildEvent::Started { service, tag } => {
                    printer.debug(&format!("{service}: image {tag}"));
                }
                BuildEvent::Line { service, line } => {
                    printer.debug(&format!("{service} | {line}"));
                }
                BuildEvent::Building { .. } | BuildEvent::Finished { .. } => {}
            }
        };
        let images = build_services(
            self.engine.as_ref(),
            eco,
            &project.docs,
            &[],
            &self.opts.build,
            &on_build,
        )
        .await
        .inspect_err(|e| recorder.failed(e))?;
        Ok(images.into_iter().map(|i| (i.service.clone(), i)).collect())
    }

    async fn stop_and_remove(&self, id: &str) {
        // a container that is already stopped or gone is fine: the removal decides
        let _ = self.engine.stop_container(id, self.opts.stop_timeout).await;
        if let Err(e) = self.engine.remove_container(id).await {
            self.printer
                .warn(&format!("could not remove container {id:.12}: {e}"));
        }
    }

    fn timeout(&self, d: &DesiredService) -> Duration {
        self.opts.deploy.timeout.unwrap_or(d.timeout)
    }

    /// Creates and starts one replica of `d` on `host_port`; its id.
    async fn run_replica(
        &self,
        ctx: &Ctx<'_>,
        d: &DesiredService,
        replica: u32,
        host_port: Option<u16>,
    ) -> Result<String, String> {
        let spec = replica_spec(
            Arc::clone(&self.engine),
            Arc::clone(&self.probe),
            &self.name,
            ctx.network,
            &self.opts.deploy,
            &self.printer,
            d,
            replica,
            host_port,
        );
        let id = self
            .engine
            .create_container(&spec)
            .await
            .map_err(|e| format!("could not create {}: {e}", spec.name))?;
        if let Err(e) = self.engine.start_container(&id).await {
            let _ = self.engine.remove_container(&id).await;
            return Err(format!("could not start {}: {e}", spec.name));
        }
        Ok(id)
    }

    /// Waits until the replica answers its probe and records the result in the journal.
    async fn healthy(
        &self,
        d: &DesiredService,
        replica: u32,
        id: &str,
        host_port: Option<u16>,
    ) -> Result<(), String> {
        let result = self.wait_until_healthy(d, id, host_port).await;
        let container = super::container_name(&self.name, &d.name, replica);
        let (kind, detail) = match &result {
            Ok(()) => (EventKind::HealthPassed, None),
            Err(reason) => (EventKind::HealthFailed, Some(journal::detail(reason))),
        };
        let mut event = LifecycleEvent::now(kind, &self.name, &d.name, &container)
            .with_tenant(self.opts.tenant.as_ref().map(|t| t.name.as_str()));
        event.detail = detail;
        journal::record(self.opts.journal.as_ref(), &[event], &self.printer);
        result
    }

    /// The probe loop of [`Session::healthy`]: probes every [`FAST_PROBE`] (the shared
    /// [`wait_healthy`] backs off to 1 s, which costs the developer loop up to a second after a
    /// boot); every [`INSPECT_EVERY`] probes the container is inspected so one that exits is
    /// reported at once.
    async fn wait_until_healthy(
        &self,
        d: &DesiredService,
        id: &str,
        host_port: Option<u16>,
    ) -> Result<(), String> {
        let timeout = self.timeout(d);
        if d.job {
            return wait_completed(self.engine.as_ref(), id, timeout)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string());
        }
        let (Some(port), None) = (host_port, &d.health_cmd) else {
            // a `health_cmd`, or nothing to probe from the host: the shared wait runs the
            // command inside the container, or checks that it keeps running
            let target = Readiness::new(
                id,
                d.health_cmd.as_deref(),
                host_port,
                d.health_path.clone(),
            );
            return wait_ready(
                self.engine.as_ref(),
                self.probe.as_ref(),
                &[target],
                timeout,
            )
            .await
            .map(|_| ())
            .map_err(|e| e.to_string());
        };
        let target = ProbeTarget {
            container_id: id.to_string(),
            host_port: port,
            path: d.health_path.clone(),
        };
        let deadline = Instant::now() + timeout;
        let mut last = String::from("no probe answered yet");
        let mut base_restarts = None;
        for n in 0u64.. {
            let left = deadline.saturating_duration_since(Instant::now());
            match self
                .probe
                .probe(
                    &target,
                    left.min(Duration::from_secs(2))
                        .max(Duration::from_millis(100)),
                )
                .await
            {
                ProbeOutcome::Healthy { .. } => return Ok(()),
                ProbeOutcome::Unhealthy(reason) => last = reason,
            }
            if n % INSPECT_EVERY == INSPECT_EVERY - 1 || Instant::now() >= deadline {
                let info = self
                    .engine
                    .inspect_container(id)
                    .await
                    .map_err(|e| e.to_string())?;
                let base = *base_restarts.get_or_insert(info.restart_count);
                if !info.running || info.info.state == "restarting" || info.restart_count > base {
                    return Err(WaitError::Exited {
                        container: id.to_string(),
                        exit_code: info.exit_code,
                        state: info.info.state,
                    }
                    .to_string());
                }
            }
            if Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(FAST_PROBE).await;
        }
        Err(format!(
            "not healthy after {}s (last probe: {last})",
            timeout.as_secs()
        ))
    }

    /// One quick look at every replica of an unchanged service: running, and answering one
    /// probe. The reason and the failing container's last log lines otherwise.
    async fn check_running(
        &self,
        d: &DesiredService,
        sp: &super::plan::ServicePlan,
    ) -> Result<(), (String, Vec<String>)> {
        for (replica, action) in &sp.replicas {
            let (ReplicaAction::Keep { id, host_port } | ReplicaAction::Start { id, host_port }) =
                action
            else {
                continue;
            };
            let failure = match self.engine.inspect_container(id).await {
                Err(e) => Some(e.to_string()),
                // a job is fine while it runs and once it exited 0
                Ok(info) if d.job => match info.exit_code {
                    Some(code) if !info.running && code != 0 => {
                        Some(format!("job container {id:.12} exited with code {code}"))
                    }
                    _ => None,
                },
                Ok(info) if !info.running || info.info.state == "restarting" => Some(format!(
                    "container {id:.12} is {}{}",
                    info.info.state,
                    info.exit_code
                        .map(|c| format!(" (exit code {c})"))
                        .unwrap_or_default()
                )),
                // a restarting container may list no port: probe the one it was given; a
                // `health_cmd` or a portless service: running is enough for this quick look
                Ok(_) => match (
                    host_port.or_else(|| replica_port(d.port, *replica)),
                    &d.health_cmd,
                ) {
                    (Some(port), None) => {
                        let target = ProbeTarget {
                            container_id: id.clone(),
                            host_port: port,
                            path: d.health_path.clone(),
                        };
                        match self.probe.probe(&target, Duration::from_secs(2)).await {
                            ProbeOutcome::Healthy { .. } => None,
                            ProbeOutcome::Unhealthy(r) => Some(format!("not healthy: {r}")),
                        }
                    }
                    _ => None,
                },
            };
            if let Some(reason) = failure {
                let log =
                    super::up::last_log_lines(self.engine.as_ref(), id, ROLLBACK_LOG_LINES).await;
                return Err((reason, log));
            }
        }
        Ok(())
    }

    async fn start_existing(
        &self,
        ctx: &Ctx<'_>,
        d: &DesiredService,
        replica: u32,
        id: &str,
        host_port: Option<u16>,
    ) -> Result<(), String> {
        // a stopped container may list no port: it gets back the one it was created with
        let host_port = host_port.or_else(|| replica_port(d.port, replica));
        self.engine
            .start_container(id)
            .await
            .map_err(|e| format!("could not start {id:.12}: {e}"))?;
        self.healthy(d, replica, id, host_port).await?;
        (ctx.on_event)(WatchEvent::Started {
            service: d.name.clone(),
            replica,
            id: id.to_string(),
            host_port,
        });
        Ok(())
    }

    async fn create_new(
        &self,
        ctx: &Ctx<'_>,
        d: &DesiredService,
        replica: u32,
        wanted: Option<u16>,
        claimed: &mut BTreeSet<u16>,
    ) -> Result<(), String> {
        let host_port = match wanted {
            Some(wanted) => {
                let host_port = free_port(wanted, claimed)
                    .ok_or_else(|| format!("no free host port at or above {wanted}"))?;
                if host_port != wanted {
                    self.printer.warn(&format!(
                        "{}: host port {wanted} is busy, published on 127.0.0.1:{host_port} instead",
                        d.name
                    ));
                }
                Some(host_port)
            }
            None => None,
        };
        let id = self.run_replica(ctx, d, replica, host_port).await?;
        if let Err(reason) = self.healthy(d, replica, &id, host_port).await {
            // shown with its log; the container is removed so the next edit starts afresh
            let log =
                super::up::last_log_lines(self.engine.as_ref(), &id, ROLLBACK_LOG_LINES).await;
            let _ = self.engine.remove_container(&id).await;
            (ctx.on_event)(WatchEvent::Unhealthy {
                service: d.name.clone(),
                reason: reason.clone(),
                log,
            });
            return Err(reason);
        }
        (ctx.on_event)(WatchEvent::Started {
            service: d.name.clone(),
            replica,
            id,
            host_port,
        });
        Ok(())
    }

    /// Stop-then-start replacement with rollback (see the module docs for why).
    async fn replace(
        &self,
        ctx: &Ctx<'_>,
        d: &DesiredService,
        prev: Option<&DesiredService>,
        replica: u32,
        old_id: &str,
        wanted: Option<u16>,
    ) -> Result<(), (String, Serving)> {
        let t0 = Instant::now();
        // the old version is killed and removed in one call (no SIGTERM grace period): this is
        // a development loop, and the grace period would add to every edit's latency
        self.engine.remove_container(old_id).await.map_err(|e| {
            (
                format!("could not remove the old container {old_id:.12}: {e}"),
                Serving::Previous,
            )
        })?;
        // the old container's port is free again; anything else taken meanwhile is skipped
        let mut claimed = BTreeSet::new();
        let host_port = match wanted {
            Some(wanted) => Some(free_port(wanted, &mut claimed).ok_or_else(|| {
                (
                    format!("no free host port at or above {wanted}"),
                    Serving::Nothing,
                )
            })?),
            None => None,
        };
        let attempt = match self.run_replica(ctx, d, replica, host_port).await {
            Ok(id) => match self.healthy(d, replica, &id, host_port).await {
                Ok(()) => Ok(id),
                Err(reason) => Err((reason, Some(id))),
            },
            Err(reason) => Err((reason, None)),
        };
        let (reason, failed_id) = match attempt {
            Ok(new_id) => {
                (ctx.on_event)(WatchEvent::Replaced {
                    service: d.name.clone(),
                    replica,
                    old_id: old_id.to_string(),
                    new_id,
                    host_port,
                    downtime_ms: millis(t0.elapsed()),
                });
                return Ok(());
            }
            Err(e) => e,
        };
        let mut log = Vec::new();
        if let Some(id) = &failed_id {
            log = super::up::last_log_lines(self.engine.as_ref(), id, ROLLBACK_LOG_LINES).await;
            // a failed job stays (its logs and exit code show in `logs` and `status`)
            if !d.job {
                let _ = self.engine.remove_container(id).await;
            }
        }
        let message = format!("new version of `{}` failed: {reason}", d.name);
        // a job is not rolled back: that would run the previous version again; its dependants
        // wait until an edit makes it complete
        let Some(prev) = prev.filter(|_| !d.job) else {
            (ctx.on_event)(WatchEvent::RolledBack {
                service: d.name.clone(),
                replica,
                reason: reason.clone(),
                log,
                id: None,
            });
            return Err((message, Serving::Nothing));
        };
        let back = match self.run_replica(ctx, prev, replica, host_port).await {
            Ok(id) => self
                .healthy(prev, replica, &id, host_port)
                .await
                .map(|()| id),
            Err(e) => Err(e),
        };
        (ctx.on_event)(WatchEvent::RolledBack {
            service: d.name.clone(),
            replica,
            reason,
            log,
            id: back.as_ref().ok().cloned(),
        });
        match back {
            Ok(_) => Err((message, Serving::Previous)),
            Err(e) => Err((
                format!("{message}; the previous version did not come back: {e}"),
                Serving::Nothing,
            )),
        }
    }
}

/// What serves after a failed replacement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Serving {
    /// The previous version (rolled back, or never removed).
    Previous,
    /// Nothing.
    Nothing,
}

struct Ctx<'a> {
    network: &'a str,
    on_event: EventSink<'a>,
}

/// The host port a replica asks for: the service port for replica 1, 10000 above per further
/// replica (as `up` does).
fn replica_port(port: Option<u16>, replica: u32) -> Option<u16> {
    let port = port?;
    Some(if replica <= 1 {
        port
    } else {
        u16::try_from(u32::from(port) + 10_000 * (replica - 1)).unwrap_or(30_000)
    })
}

/// `wanted` when it can be bound on 127.0.0.1 and is not claimed, else the next such port.
fn free_port(wanted: u16, claimed: &mut BTreeSet<u16>) -> Option<u16> {
    let mut port = wanted;
    loop {
        if !claimed.contains(&port) && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            claimed.insert(port);
            return Some(port);
        }
        port = port.checked_add(1)?;
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The ecosystem file and the local READMEs it names, absolute; `previous` when the file cannot
/// be read (so a broken file keeps the last watch set).
#[must_use]
pub fn watched_files(file: &Path, previous: &[PathBuf]) -> Vec<PathBuf> {
    let abs = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let Ok(text) = crate::config::read_text(file) else {
        return previous.to_vec();
    };
    let partial = crate::config::parse_partial(file, &text);
    let Some(eco) = partial.ecosystem else {
        return previous.to_vec();
    };
    let mut out = vec![abs(file)];
    for s in &eco.services {
        if let ReadmeSource::Local { path, .. } = &s.readme {
            let p = abs(path);
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    out
}

/// The changed paths among `watched` (compared by absolute path).
#[must_use]
pub fn relevant(changed: &[PathBuf], watched: &[PathBuf]) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = changed
        .iter()
        .filter(|p| watched.contains(p))
        .cloned()
        .collect();
    out.sort();
    out.dedup();
    out
}

/// True for events that can change a file's content (not opens and reads).
fn is_write(kind: &notify::EventKind) -> bool {
    use notify::event::{AccessKind, AccessMode, EventKind};
    match kind {
        EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_) => true,
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) | EventKind::Any | EventKind::Other => false,
    }
}

/// Watches the session's files until `stop` resolves: one reconcile once the watcher is in
/// place, then one after each (debounced) change. Events that arrive during a reconcile are
/// merged into the next one.
///
/// # Errors
/// The file watcher cannot be set up, or the first reconcile fails; engine errors of later
/// reconciles are reported as events and do not end the loop.
pub async fn watch(
    session: &mut Session,
    on_event: EventSink<'_>,
    stop: impl Future<Output = ()>,
) -> Result<(), Error> {
    use notify::{RecursiveMode, Watcher};
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Vec<PathBuf>>();
    // notify's own watcher, debounced below: the ready-made debouncers drop the event kind, and
    // inotify reports every open, so pactown's own reads of the files would trigger a reconcile
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(event) = res {
            if is_write(&event.kind) {
                let _ = tx.send(event.paths);
            }
        }
    })
    .map_err(|e| Error::Other(format!("cannot watch files: {e}")))?;
    let mut dirs: BTreeSet<PathBuf> = BTreeSet::new();
    let mut rewatch =
        |files: &[PathBuf], watcher: &mut notify::RecommendedWatcher| -> Result<(), Error> {
            // directories, not files: editors replace a file by renaming a new one over it
            let wanted: BTreeSet<PathBuf> = files
                .iter()
                .filter_map(|f| f.parent().map(Path::to_path_buf))
                .collect();
            for d in dirs.difference(&wanted) {
                let _ = watcher.unwatch(d);
            }
            for d in wanted.difference(&dirs) {
                watcher
                    .watch(d, RecursiveMode::NonRecursive)
                    .map_err(|e| Error::Other(format!("cannot watch {}: {e}", d.display())))?;
            }
            dirs = wanted;
            Ok(())
        };
    rewatch(&session.files, &mut watcher)?;
    tokio::pin!(stop);
    // the first reconcile (it fills the last applied state; a no-op right after `up`) runs with
    // the watcher in place: a file saved while `up` ran or before this point is seen by this
    // reconcile, one saved later arrives as an event (before, an edit saved in between was lost)
    let before = session.files.clone();
    tokio::select! {
        () = &mut stop => return Ok(()),
        r = session.reconcile(on_event) => { r?; }
    }
    if session.files != before {
        rewatch(&session.files, &mut watcher)?;
    }
    on_event(WatchEvent::Watching {
        ecosystem: session.name.clone(),
        files: session.files.clone(),
    });
    loop {
        let mut changed = tokio::select! {
            () = &mut stop => return Ok(()),
            next = rx.recv() => match next {
                Some(paths) => paths,
                None => return Ok(()),
            },
        };
        // debounce: wait until no write arrived for `debounce`
        while let Ok(Some(more)) = tokio::time::timeout(session.opts.debounce, rx.recv()).await {
            changed.extend(more);
        }
        let files = relevant(&changed, &session.files);
        if files.is_empty() {
            continue;
        }
        on_event(WatchEvent::Changed { files });
        let before = session.files.clone();
        tokio::select! {
            () = &mut stop => return Ok(()),
            r = session.reconcile(on_event) => {
                if let Err(e) = r {
                    on_event(WatchEvent::Failed { service: None, message: e.to_string() });
                }
            }
        }
        if session.files != before {
            rewatch(&session.files, &mut watcher)?;
            on_event(WatchEvent::Watching {
                ecosystem: session.name.clone(),
                files: session.files.clone(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_and_reads_do_not_count_as_changes() {
        use notify::event::{AccessKind, AccessMode, CreateKind, EventKind, ModifyKind};
        assert!(!is_write(&EventKind::Access(AccessKind::Open(
            AccessMode::Any
        ))));
        assert!(!is_write(&EventKind::Access(AccessKind::Close(
            AccessMode::Read
        ))));
        assert!(is_write(&EventKind::Access(AccessKind::Close(
            AccessMode::Write
        ))));
        assert!(is_write(&EventKind::Modify(ModifyKind::Any)));
        assert!(is_write(&EventKind::Create(CreateKind::File)));
    }

    #[test]
    fn replica_ports_follow_up() {
        assert_eq!(replica_port(Some(8100), 1), Some(8100));
        assert_eq!(replica_port(Some(8100), 2), Some(18100));
        assert_eq!(replica_port(Some(60000), 2), Some(30_000));
        assert_eq!(replica_port(None, 2), None);
    }

    #[test]
    fn free_port_skips_claimed_and_bound() {
        let held = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = held.local_addr().unwrap().port();
        let mut claimed = BTreeSet::new();
        let got = free_port(port, &mut claimed).unwrap();
        assert_ne!(got, port, "a bound port is not free");
        assert!(claimed.contains(&got));
        let next = free_port(got, &mut claimed).unwrap();
        assert_ne!(next, got, "a claimed port is not handed out twice");
    }

    #[test]
    fn watched_files_lists_file_and_readmes_and_keeps_previous_on_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("a")).unwrap();
        std::fs::write(dir.path().join("a/README.md"), "# a\n").unwrap();
        let file = dir.path().join("x.pactown.yaml");
        std::fs::write(
            &file,
            "name: x\nservices:\n  a:\n    readme: a/README.md\n    port: 8100\n",
        )
        .unwrap();
        let files = watched_files(&file, &[]);
        assert_eq!(files.len(), 2, "{files:?}");
        assert!(files[1].ends_with("a/README.md"), "{files:?}");
        std::fs::remove_file(&file).unwrap();
        assert_eq!(watched_files(&file, &files), files);
        let changed = vec![
            files[1].clone(),
            dir.path().join("a/other.txt"),
            files[1].clone(),
        ];
        assert_eq!(relevant(&changed, &files), vec![files[1].clone()]);
    }
}
