//! `up`: validate → build missing images → network → deploy with per-service scheduling →
//! report. On a failure it prints the failing service's last log lines and leaves everything as
//! it is for inspection.
use super::error::DeployError;
use super::event::{DeployEvent, Sink};
use super::health::HealthProbe;
use super::plan::DesiredService;
use super::scheduler::{deploy, DeployOptions, DeployReport, ServiceStatus};
use crate::config::ingress::INGRESS_SERVICE;
use crate::config::labels;
use crate::engine::Engine;
use crate::error::Error;
use crate::image::{build_services, BuildEvent, BuildOptions, ServiceImage};
use crate::observe::events::{EventKind, LifecycleEvent};
use crate::observe::journal::{self, BuildRecorder, Journal};
use crate::project::Project;
use crate::ui::Printer;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Log lines shown for a service that failed to start.
pub const FAILURE_LOG_LINES: usize = 30;

/// Options of `up`.
#[derive(Debug, Clone, Default)]
pub struct UpOptions {
    /// Build options (CA bundle, no-cache, jobs).
    pub build: BuildOptions,
    /// Deploy options (concurrency, time-out override).
    pub deploy: DeployOptions,
    /// Where builds and health results are recorded (`None`: nowhere).
    pub journal: Option<Journal>,
    /// Only these services (`up SERVICE…`, see [`selection`]); the others are neither built nor
    /// touched. `None`: all.
    pub services: Option<BTreeSet<String>>,
}

/// The services `up SERVICE…` deploys: those named plus, unless `no_deps`, everything they
/// depend on (transitively), as Compose does.
///
/// # Errors
/// [`DeployError::UnknownService`] for a name the ecosystem file does not define.
pub fn selection(
    project: &Project,
    services: &[String],
    no_deps: bool,
) -> Result<BTreeSet<String>, DeployError> {
    let mut out = BTreeSet::new();
    let mut todo: Vec<String> = Vec::new();
    for s in services {
        if project.ecosystem.service(s).is_none() {
            return Err(DeployError::UnknownService {
                service: s.clone(),
                file: project.ecosystem.file.clone(),
            });
        }
        todo.push(s.clone());
    }
    while let Some(s) = todo.pop() {
        if !out.insert(s.clone()) || no_deps {
            continue;
        }
        todo.extend(project.graph.dependencies_of(&s).iter().cloned());
    }
    Ok(out)
}

/// The desired state of every service of `eco`, running the built `images` (by service name).
///
/// # Errors
/// [`DeployError::NoImage`] when a service has no image.
pub(crate) fn desired_services(
    eco: &crate::config::Ecosystem,
    images: &BTreeMap<String, ServiceImage>,
    only: Option<&BTreeSet<String>>,
) -> Result<Vec<DesiredService>, Error> {
    eco.services
        .iter()
        .filter(|spec| only.is_none_or(|o| o.contains(&spec.name)))
        .map(|spec| {
            let image = images.get(&spec.name).ok_or_else(|| DeployError::NoImage {
                service: spec.name.clone(),
            })?;
            Ok(DesiredService::from_spec(
                eco,
                spec,
                &image.tag,
                &image.image_id,
            ))
        })
        .collect()
}

/// Creates the ecosystem's network (labelled with the ecosystem and tenant) if it is missing;
/// returns its name.
///
/// # Errors
/// Engine errors.
pub(crate) async fn ensure_network(
    engine: &dyn Engine,
    eco: &crate::config::Ecosystem,
) -> Result<String, crate::engine::EngineError> {
    let network = eco.network_name();
    let mut net_labels = BTreeMap::from([
        (labels::ECOSYSTEM.to_string(), eco.name.clone()),
        (labels::MANAGED.to_string(), "true".to_string()),
    ]);
    if let Some(t) = &eco.tenant {
        net_labels.insert(labels::TENANT.to_string(), t.clone());
    }
    engine.ensure_network(&network, &net_labels).await?;
    Ok(network)
}

/// Builds every image of `project` that is missing (content-addressed tags: an unchanged README
/// is found by its tag), recording builds in the journal and reporting them on `sink`; the
/// images by service name.
///
/// # Errors
/// The first build error.
pub async fn build_images(
    engine: &dyn Engine,
    project: &Project,
    build: &BuildOptions,
    journal: Option<&Journal>,
    sink: &Sink,
) -> Result<BTreeMap<String, ServiceImage>, crate::image::BuildError> {
    build_images_of(engine, project, None, build, journal, sink).await
}

/// [`build_images`] of the services in `only` (`None`: all).
pub(crate) async fn build_images_of(
    engine: &dyn Engine,
    project: &Project,
    only: Option<&BTreeSet<String>>,
    build: &BuildOptions,
    journal: Option<&Journal>,
    sink: &Sink,
) -> Result<BTreeMap<String, ServiceImage>, crate::image::BuildError> {
    let eco = &project.ecosystem;
    let names: Vec<String> = eco
        .services
        .iter()
        .map(|s| s.name.clone())
        .filter(|s| only.is_none_or(|o| o.contains(s)))
        .collect();
    let recorder = BuildRecorder::new(journal, &eco.name, eco.tenant.as_deref(), names.clone());
    let rec = &recorder;
    let on_event = move |e: BuildEvent| {
        rec.event(&e);
        match e {
            BuildEvent::Started { service, tag } => {
                sink(&DeployEvent::Building { service, tag });
            }
            BuildEvent::Line { service, line } => sink(&DeployEvent::BuildLine { service, line }),
            BuildEvent::Building { .. } | BuildEvent::Finished { .. } => {}
        }
    };
    let images = build_services(engine, eco, &project.docs, &names, build, &on_event)
        .await
        .inspect_err(|e| recorder.failed(e))?;
    for image in images.iter().filter(|i| !i.cached) {
        sink(&DeployEvent::Built {
            image: image.clone(),
        });
    }
    Ok(images.into_iter().map(|i| (i.service.clone(), i)).collect())
}

/// Brings the whole project up and waits until every service is healthy (and every job
/// completed).
///
/// # Errors
/// Build and engine errors; [`Error::Readiness`] when a service timed out (exit code 3);
/// [`DeployError::Unhealthy`] when one exited or failed to start.
pub async fn up(
    engine: Arc<dyn Engine>,
    probe: Arc<dyn HealthProbe>,
    project: &Project,
    opts: UpOptions,
    sink: &Sink,
    printer: &Printer,
) -> Result<DeployReport, Error> {
    let report = deploy_project(Arc::clone(&engine), probe, project, opts, sink).await?;
    check(engine.as_ref(), &report, printer).await?;
    Ok(report)
}

/// [`up`] without the final verdict: builds, deploys and records the health results, and
/// returns the report whatever the services' outcome (`pactown run --once` judges a job by its
/// exit code itself; watch mode keeps going).
///
/// # Errors
/// Build and engine errors.
pub async fn deploy_project(
    engine: Arc<dyn Engine>,
    probe: Arc<dyn HealthProbe>,
    project: &Project,
    opts: UpOptions,
    sink: &Sink,
) -> Result<DeployReport, Error> {
    let eco = &project.ecosystem;
    let images = build_images_of(
        engine.as_ref(),
        project,
        opts.services.as_ref(),
        &opts.build,
        opts.journal.as_ref(),
        sink,
    )
    .await?;
    let desired = desired_state(
        engine.as_ref(),
        eco,
        &images,
        opts.services.as_ref(),
        &opts.build,
        sink,
    )
    .await?;
    let network = ensure_network(engine.as_ref(), eco).await?;

    let mut deploy_opts = opts.deploy;
    deploy_opts.images = run_images(engine.as_ref(), eco, &images, sink).await?;
    deploy_opts.proxy = super::surge::ProxyRoutes::of(eco, engine.as_ref());
    if let Some(only) = &opts.services {
        deploy_opts.leave = eco
            .services
            .iter()
            .map(|s| s.name.clone())
            .filter(|s| !only.contains(s))
            .chain(std::iter::once(INGRESS_SERVICE.to_string()))
            .collect();
    }
    if deploy_opts.ecosystem_file.is_none() {
        deploy_opts.ecosystem_file = std::fs::canonicalize(&eco.file).ok();
    }
    let report = deploy(
        Arc::clone(&engine),
        probe,
        &eco.name,
        &network,
        desired,
        deploy_opts,
        sink,
    )
    .await?;
    journal::record(
        opts.journal.as_ref(),
        &health_events(&eco.name, eco.tenant.as_deref(), &report),
    );
    Ok(report)
}

/// The image reference each service runs when it is not the local tag (`DeployOptions::images`):
/// on Swarm the pushed images by digest ([`super::swarm::images`]); empty on a container engine.
///
/// # Errors
/// Push and engine errors, a swarm of several nodes without `images: {repo: …}`.
pub(crate) async fn run_images(
    engine: &dyn Engine,
    eco: &crate::config::Ecosystem,
    images: &BTreeMap<String, ServiceImage>,
    sink: &Sink,
) -> Result<BTreeMap<String, String>, Error> {
    match engine.services() {
        Some(services) => super::swarm::images(engine, services, eco, images, sink).await,
        None => Ok(BTreeMap::new()),
    }
}

/// What `up` (and each watch-mode round) deploys: the services of `eco` (the `only` ones when
/// given) running the built `images`, plus the ecosystem's ingress for a whole-ecosystem deploy on
/// a container engine (a selection leaves the ingress as it is; Swarm has none).
///
/// # Errors
/// [`DeployError::NoImage`] and the ingress image's build errors.
pub(crate) async fn desired_state(
    engine: &dyn Engine,
    eco: &crate::config::Ecosystem,
    images: &BTreeMap<String, ServiceImage>,
    only: Option<&BTreeSet<String>>,
    build: &BuildOptions,
    sink: &Sink,
) -> Result<Vec<DesiredService>, Error> {
    let mut desired = desired_services(eco, images, only)?;
    if only.is_none() && engine.services().is_none() {
        if let Some(ingress) = ingress_service(engine, eco, build, sink).await? {
            desired.push(ingress);
        }
    }
    Ok(desired)
}

/// The ingress of `eco` (its image built when missing), when the file has an `ingress:` with
/// exposed services.
async fn ingress_service(
    engine: &dyn Engine,
    eco: &crate::config::Ecosystem,
    build: &BuildOptions,
    sink: &Sink,
) -> Result<Option<DesiredService>, crate::image::BuildError> {
    if !crate::ingress::wanted(eco) {
        return Ok(None);
    }
    let log = |line: String| {
        sink(&DeployEvent::BuildLine {
            service: INGRESS_SERVICE.to_string(),
            line,
        });
    };
    let Some(image) = crate::image::ingress::ensure(
        engine,
        eco,
        crate::image::ingress::Upstreams::for_engine(engine.kind()),
        build.no_cache,
        &log,
    )
    .await?
    else {
        return Ok(None);
    };
    Ok(super::ingress::desired(eco, &image))
}

/// The health results of a deploy as journal events: `health-passed` for every replica of a
/// healthy service, `health-failed` (with the reason) for those of a service that failed or
/// timed out; skipped services have no result.
#[must_use]
pub fn health_events(
    ecosystem: &str,
    tenant: Option<&str>,
    report: &DeployReport,
) -> Vec<LifecycleEvent> {
    let mut out = Vec::new();
    for o in report.outcomes.values() {
        let (kind, detail) = match &o.status {
            ServiceStatus::Healthy => (EventKind::HealthPassed, None),
            ServiceStatus::Completed => (EventKind::HealthPassed, Some("job completed".into())),
            ServiceStatus::Failed(r)
            | ServiceStatus::TimedOut(r)
            | ServiceStatus::RolledBack(r) => (EventKind::HealthFailed, Some(journal::detail(r))),
            ServiceStatus::Skipped { .. } => continue,
        };
        for r in &o.replicas {
            let container = super::container_name(ecosystem, &o.service, r.replica);
            let mut e =
                LifecycleEvent::now(kind, ecosystem, &o.service, &container).with_tenant(tenant);
            e.detail.clone_from(&detail);
            out.push(e);
        }
    }
    out
}

/// Turns a deploy report into the command's result: prints the last log lines of each failed
/// service and returns the error (time-outs → [`Error::Readiness`]).
///
/// # Errors
/// As described.
pub async fn check(
    engine: &dyn Engine,
    report: &DeployReport,
    printer: &Printer,
) -> Result<(), Error> {
    let failures = report.failures();
    if failures.is_empty() {
        return Ok(());
    }
    let mut timed_out = false;
    let mut messages = Vec::new();
    for f in &failures {
        let reason = match &f.status {
            ServiceStatus::TimedOut(r) => {
                timed_out = true;
                r.clone()
            }
            ServiceStatus::Failed(r) | ServiceStatus::RolledBack(r) => r.clone(),
            _ => continue,
        };
        printer.error(&format!("service `{}`: {reason}", f.service));
        if let Some(r) = f.replicas.first() {
            let lines = last_log_lines(engine, &r.id, FAILURE_LOG_LINES).await;
            if lines.is_empty() {
                printer.info(&format!("  (no output from {})", f.service));
            } else {
                printer.info(&format!(
                    "  last {} log lines of {}:",
                    lines.len(),
                    f.service
                ));
                for line in lines {
                    printer.info(&format!("  {} | {line}", f.service));
                }
            }
        }
        messages.push(format!("`{}` {reason}", f.service));
    }
    let skipped: Vec<&str> = report
        .outcomes
        .values()
        .filter(|o| matches!(o.status, ServiceStatus::Skipped { .. }))
        .map(|o| o.service.as_str())
        .collect();
    let mut text = format!("ecosystem is not healthy: {}", messages.join("; "));
    if !skipped.is_empty() {
        text.push_str(&format!(" (not started: {})", skipped.join(", ")));
    }
    text.push_str(". Containers are left as they are: inspect with `pactown status`/`pactown logs`, remove with `pactown down`.");
    if timed_out {
        Err(Error::Readiness(text))
    } else {
        Err(DeployError::Unhealthy { summary: text }.into())
    }
}

pub use super::replica::last_log_lines;
