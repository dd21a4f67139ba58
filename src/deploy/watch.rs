//! Watch mode: the developer loop of `pactown up --watch` / `pactown watch`.
//!
//! The ecosystem file and every local service README are watched (notify, debounced). Any change
//! runs [`Session::reconcile`]: a new desired state from the files, then the one deploy path
//! ([`super::scheduler::deploy`]) with [`Replacement::Rolling`]: images are rebuilt when their
//! README's bytes changed (content-addressed tags; the dependency layer stays cached when the
//! `deps` block did not change), services whose config hash is unchanged are not touched, a
//! dependant is recreated only when its injected environment changed, services added to the
//! file start and removed ones stop. A changed replica is replaced and rolled back to the
//! version that ran before when the new one fails ([`super::replica`]).
//!
//! A parse error keeps everything running as it is and is reported with `file:line`.
//!
//! **Failed services.** Watch mode keeps going when a service is not healthy — also when the
//! first `up` left one failed: the first reconcile looks at every service once
//! ([`DeployOptions::check`]), reports the failing ones (with their last log lines) and
//! remembers them. A failed service is never a rollback target, and its dependants wait (not
//! created, not touched) until it is healthy; when its README changes it is rebuilt and replaced
//! like any other, and once healthy its waiting dependants start in the same reconcile.
//!
//! **Jobs** (`kind: job`). A job that completed with its current config is not run again. When
//! its README or config changes it is run again, and its dependants start only once it
//! completed. A changed job that fails is not rolled back; its dependants wait for an edit.
use super::error::DeployError;
use super::event::{millis, DeployEvent, Sink};
use super::health::HealthProbe;
use super::plan::{DesiredService, ReplicaAction};
use super::scheduler::{deploy, DeployOptions, Replacement, ServiceStatus};
use super::up::{build_images, desired_state, ensure_network, health_events, run_images};
use crate::config::ReadmeSource;
use crate::engine::Engine;
use crate::error::Error;
use crate::image::BuildOptions;
use crate::observe::journal::{self, Journal};
use crate::project::RunAs;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Default quiet time after the last file event before a change is handled.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(100);
/// Default time an old container gets to stop after SIGTERM when its service left the file.
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(3);

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
    /// Which copy runs (`--tenant`): the file is read and then moved to the tenant's name and
    /// ports on every reconcile.
    pub run_as: RunAs,
    /// Where builds and health results are recorded (`None`: nowhere).
    pub journal: Option<Journal>,
}

impl Default for WatchOptions {
    fn default() -> Self {
        Self {
            build: BuildOptions::default(),
            deploy: DeployOptions::default(),
            debounce: DEFAULT_DEBOUNCE,
            stop_timeout: DEFAULT_STOP_TIMEOUT,
            run_as: RunAs::default(),
            journal: None,
        }
    }
}

/// The result of one reconcile.
#[derive(Debug, Clone, Default)]
pub struct ReconcileReport {
    /// The project did not parse; nothing was touched.
    pub invalid: bool,
    /// Services whose containers changed.
    pub changed: Vec<String>,
    /// Services left untouched.
    pub unchanged: Vec<String>,
    /// Services (or `""` for the whole project) that failed, with the reason.
    pub failed: Vec<(String, String)>,
    /// Wall-clock time of the reconcile.
    pub elapsed: Duration,
}

/// A watch session: the ecosystem file, the engine, and the last desired state that ran
/// healthy (the rollback target of each service).
pub struct Session {
    engine: Arc<dyn Engine>,
    probe: Arc<dyn HealthProbe>,
    file: PathBuf,
    name: String,
    opts: WatchOptions,
    applied: BTreeMap<String, DesiredService>,
    files: Vec<PathBuf>,
    /// Services known not to be healthy (see the module docs).
    failed: BTreeSet<String>,
    /// No reconcile ran yet: the first looks at every unchanged service once.
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
    ) -> Self {
        Self {
            engine,
            probe,
            files: watched_files(file, &[]),
            file: file.to_path_buf(),
            name: name.to_string(),
            opts,
            applied: BTreeMap::new(),
            failed: BTreeSet::new(),
            first: true,
        }
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

    /// Brings what runs in line with the files: reparse, rebuild changed images, then deploy
    /// the new desired state with rolling replacement. Problems are reported as events and in
    /// the report; what runs keeps running.
    ///
    /// # Errors
    /// Engine errors while listing containers or creating the network.
    pub async fn reconcile(&mut self, sink: &Sink) -> Result<ReconcileReport, Error> {
        let started = Instant::now();
        let mut report = ReconcileReport::default();
        let give_up = |report: &mut ReconcileReport, service: Option<String>, message: String| {
            report
                .failed
                .push((service.clone().unwrap_or_default(), message.clone()));
            sink(&DeployEvent::Failed { service, message });
            report.elapsed = started.elapsed();
        };
        self.files = watched_files(&self.file, &self.files);
        let project = match crate::project::load_for_run(&self.file, &self.opts.run_as) {
            Ok(p) => p,
            Err(crate::project::RunLoadError::Invalid(d)) => {
                report.invalid = true;
                sink(&DeployEvent::Invalid { diagnostics: d.0 });
                report.elapsed = started.elapsed();
                return Ok(report);
            }
            Err(e) => {
                give_up(&mut report, None, e.to_string());
                return Ok(report);
            }
        };
        if project.ecosystem.name != self.name {
            let message = format!(
                "the ecosystem name changed from `{}` to `{}`; stop watch mode and run `pactown down`/`up` to rename",
                self.name, project.ecosystem.name
            );
            give_up(&mut report, None, message);
            return Ok(report);
        }
        let eco = &project.ecosystem;
        let images = match build_images(
            self.engine.as_ref(),
            &project,
            &self.opts.build,
            self.opts.journal.as_ref(),
            sink,
        )
        .await
        {
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
                give_up(&mut report, service, message);
                return Ok(report);
            }
        };
        let desired = desired_state(
            self.engine.as_ref(),
            eco,
            &images,
            None,
            &self.opts.build,
            sink,
        )
        .await?;
        let network = ensure_network(self.engine.as_ref(), eco).await?;
        let references = match run_images(self.engine.as_ref(), eco, &images, sink).await {
            Ok(i) => i,
            Err(e) => {
                give_up(&mut report, None, e.to_string());
                return Ok(report);
            }
        };
        let check: BTreeSet<String> = if self.first {
            desired.iter().map(|d| d.name.clone()).collect()
        } else {
            self.failed.clone()
        };
        let opts = DeployOptions {
            replacement: Replacement::Rolling,
            previous: self
                .applied
                .iter()
                .filter(|(k, _)| !self.failed.contains(*k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            check: check.clone(),
            stop_timeout: Some(self.opts.stop_timeout),
            images: references,
            proxy: super::surge::ProxyRoutes::of(eco, self.engine.as_ref()),
            ..self.opts.deploy.clone()
        };
        let by_name: BTreeMap<String, DesiredService> = desired
            .iter()
            .map(|d| (d.name.clone(), d.clone()))
            .collect();
        let deployed = deploy(
            Arc::clone(&self.engine),
            Arc::clone(&self.probe),
            &eco.name,
            &network,
            desired,
            opts,
            sink,
        )
        .await?;
        journal::record(
            self.opts.journal.as_ref(),
            &health_events(&eco.name, eco.tenant.as_deref(), &deployed),
        );
        // services that left the file count as changed
        report.changed.extend(
            deployed
                .removed_services()
                .into_iter()
                .filter(|s| !by_name.contains_key(s)),
        );
        for name in &project.graph.order {
            let (Some(o), Some(sp), Some(d)) = (
                deployed.outcomes.get(name),
                deployed.plan.service(name),
                by_name.get(name),
            ) else {
                continue;
            };
            let same_config = sp.remove.is_empty()
                && sp.replicas.iter().all(|(_, a)| {
                    matches!(a, ReplicaAction::Keep { .. } | ReplicaAction::Start { .. })
                });
            let untouched = sp.is_noop() || (same_config && check.contains(name));
            match &o.status {
                ServiceStatus::Skipped { dependency } => {
                    if sp.is_noop() {
                        // running (its start script holds the process until the dependency answers)
                        report.unchanged.push(name.clone());
                    } else {
                        report.failed.push((
                            name.clone(),
                            format!("waits for `{dependency}` to become healthy"),
                        ));
                    }
                    continue;
                }
                _ if untouched => report.unchanged.push(name.clone()),
                _ => report.changed.push(name.clone()),
            }
            match &o.status {
                ServiceStatus::Healthy | ServiceStatus::Completed => {
                    self.applied.insert(name.clone(), d.clone());
                    self.failed.remove(name);
                }
                // the previous version serves again: not a failed service
                ServiceStatus::RolledBack(message) => {
                    report.failed.push((name.clone(), message.clone()));
                }
                ServiceStatus::Failed(message) | ServiceStatus::TimedOut(message) => {
                    report.failed.push((name.clone(), message.clone()));
                    self.failed.insert(name.clone());
                    if untouched {
                        self.applied.remove(name);
                    }
                }
                ServiceStatus::Skipped { .. } => {}
            }
        }
        self.first = false;
        self.applied.retain(|k, _| by_name.contains_key(k));
        self.failed.retain(|k| by_name.contains_key(k));
        report.elapsed = started.elapsed();
        sink(&DeployEvent::Reconciled {
            changed: report.changed.clone(),
            unchanged: report.unchanged.clone(),
            ms: millis(report.elapsed),
        });
        Ok(report)
    }
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
    sink: &Sink,
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
    .map_err(|source| DeployError::Watch {
        path: PathBuf::new(),
        source,
    })?;
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
                    .map_err(|source| DeployError::Watch {
                        path: d.clone(),
                        source,
                    })?;
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
        r = session.reconcile(sink) => { r?; }
    }
    if session.files != before {
        rewatch(&session.files, &mut watcher)?;
    }
    sink(&DeployEvent::Watching {
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
        sink(&DeployEvent::Changed { files });
        let before = session.files.clone();
        tokio::select! {
            () = &mut stop => return Ok(()),
            r = session.reconcile(sink) => {
                if let Err(e) = r {
                    sink(&DeployEvent::Failed { service: None, message: e.to_string() });
                }
            }
        }
        if session.files != before {
            rewatch(&session.files, &mut watcher)?;
            sink(&DeployEvent::Watching {
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
