//! An `up` session, from the request to the running ecosystem, then (without `-d`) the
//! foreground — live status view, logs, and with `--watch` the watch loop — until Ctrl+C, which
//! takes the ecosystem down. `pactown up`, `pactown watch` and `up --watch` are this one path;
//! the cli only turns arguments into an [`UpRequest`].
use super::error::DeployError;
use super::event::{DeployEvent, Sink};
use super::scheduler::{DeployOptions, DeployReport};
use super::up::UpOptions;
use super::watch::{watch, Session, WatchOptions};
use super::HttpProbe;
use crate::config::EngineChoice;
use crate::engine::Engine;
use crate::error::Error;
use crate::image::BuildOptions;
use crate::observe::follow::{Follower, LineSink};
use crate::observe::journal::Journal;
use crate::observe::status::{status, StatusReport};
use crate::project::{Project, RunAs};
use crate::ui::events::EventOutput;
use crate::ui::live::{LiveRow, LiveView};
use crate::ui::Printer;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Time each container gets to stop when the session ends.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// What `up` is asked to do.
#[derive(Debug, Clone, Default)]
pub struct UpRequest {
    /// The ecosystem file (`None`: the only one in the current folder).
    pub file: Option<PathBuf>,
    /// Return once healthy instead of staying in the foreground.
    pub detach: bool,
    /// Engine chosen on the command line.
    pub engine: Option<EngineChoice>,
    /// Overrides every service's health time-out.
    pub timeout: Option<Duration>,
    /// Extra CA bundle for builds.
    pub ca_bundle: Option<PathBuf>,
    /// Most creates/starts in flight.
    pub concurrency: usize,
    /// Rebuild ignoring the layer cache.
    pub no_cache: bool,
    /// Watch the files and reconcile on change.
    pub watch: bool,
    /// Events as JSON lines on stdout (`watch --json`) instead of the live view and logs.
    pub json: bool,
    /// Which copy runs.
    pub run_as: RunAs,
    /// `up SERVICE…`: only these (and their dependencies unless `no_deps`); empty: all.
    pub services: Vec<String>,
    /// `up --no-deps`: not the dependencies of `services`.
    pub no_deps: bool,
}

/// A started session: the project as it runs, its engine and what `up` did.
pub struct Started {
    /// The loaded project (tenant applied, secrets resolved).
    pub project: Project,
    /// The ecosystem file.
    pub file: PathBuf,
    /// The engine it runs on.
    pub engine: Arc<dyn Engine>,
    /// What the deploy did; `None` when it failed and watch mode goes on anyway.
    pub report: Option<DeployReport>,
    /// The printer with the project's secrets masked.
    pub printer: Printer,
    /// Ctrl+C came while starting (the ecosystem is already down unless detached).
    pub interrupted: bool,
    request: UpRequest,
    opts: UpOptions,
}

impl std::fmt::Debug for Started {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Started")
            .field("file", &self.file)
            .field("interrupted", &self.interrupted)
            .finish_non_exhaustive()
    }
}

/// The event sink of a session: text on stderr, or JSON lines on stdout.
fn sink_for(request: &UpRequest, printer: &Printer) -> Sink {
    let output = if request.json {
        EventOutput::JsonLines
    } else {
        EventOutput::Text
    };
    crate::ui::events::sink(printer, output)
}

/// Loads the project, connects to its engine, builds what is missing and brings every service
/// up (healthy, jobs completed).
///
/// # Errors
/// Invalid project, build, engine and readiness errors (in watch mode a failed service is
/// shown and the session goes on).
pub async fn start(request: UpRequest, printer: &Printer) -> Result<Started, Error> {
    let started = Instant::now();
    let file = crate::config::resolve_file(request.file.as_deref())?;
    let project = crate::project::load_for_run(&file, &request.run_as)?;
    printer.diagnostics(&project.warnings);
    let printer = printer
        .clone()
        .with_secrets(crate::project::secret_values(&project));
    let eco = &project.ecosystem;
    if let Some(t) = &request.run_as.tenant {
        printer.info(&format!(
            "tenant {t}: ecosystem {}, network {}",
            eco.name,
            eco.network_name()
        ));
    }
    let services = if request.services.is_empty() {
        None
    } else {
        Some(super::up::selection(
            &project,
            &request.services,
            request.no_deps,
        )?)
    };
    let engine = super::connect(request.engine, Some(eco)).await?;
    let jobs = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let opts = UpOptions {
        build: BuildOptions {
            no_cache: request.no_cache,
            ca_bundle: request
                .ca_bundle
                .clone()
                .or_else(|| eco.build.ca_bundle.clone()),
            jobs,
        },
        deploy: DeployOptions {
            concurrency: request.concurrency,
            timeout: request.timeout,
            ecosystem_file: std::fs::canonicalize(&file).ok(),
            ..DeployOptions::default()
        },
        journal: Journal::for_ecosystem(&eco.name),
        services,
    };
    printer.info(&format!(
        "bringing up {} ({} services) on {}",
        eco.name,
        eco.services.len(),
        engine.kind()
    ));
    let sink = sink_for(&request, &printer);
    let up = super::up(
        Arc::clone(&engine),
        Arc::new(HttpProbe),
        &project,
        opts.clone(),
        &sink,
        &printer,
    );
    let (result, interrupted) = tokio::select! {
        r = up => (Some(r), false),
        _ = tokio::signal::ctrl_c() => (None, true),
    };
    let mut session = Started {
        file,
        engine: Arc::clone(&engine),
        report: None,
        printer: printer.clone(),
        interrupted,
        request,
        opts,
        project,
    };
    let Some(result) = result else {
        printer.warn("interrupted");
        if !session.request.detach {
            let name = &session.project.ecosystem.name;
            super::down(&engine, name, STOP_TIMEOUT, false, &sink).await?;
        }
        return Ok(session);
    };
    match result {
        Ok(report) => {
            summary(&session.project, &report, started, &printer);
            session.report = Some(report);
            Ok(session)
        }
        // watch mode keeps going: the failure is shown (with the last log lines, by `up`), the
        // healthy services keep running, and saving a fixed README rebuilds the failed one
        Err(
            e @ (Error::Readiness(_)
            | Error::Deploy(DeployError::Unhealthy { .. })
            | Error::Build(_)),
        ) if session.request.watch => {
            printer.error(&e.to_string());
            printer.warn("watching anyway: fix the README and save; healthy services keep running");
            Ok(session)
        }
        Err(e) => Err(e),
    }
}

/// "is up" / "is up to date" and one URL per service.
fn summary(project: &Project, report: &DeployReport, started: Instant, printer: &Printer) {
    let eco = &project.ecosystem;
    let changed = report.outcomes.values().filter(|o| o.changed).count();
    if changed == 0 && report.removed.is_empty() {
        printer.info(&format!(
            "{} is up to date ({:.2}s)",
            eco.name,
            started.elapsed().as_secs_f64()
        ));
    } else {
        printer.info(&format!(
            "{} is up: {} healthy, {changed} started ({:.2}s)",
            eco.name,
            report.outcomes.len(),
            started.elapsed().as_secs_f64()
        ));
    }
    for spec in &eco.services {
        if let Some(port) = report
            .outcomes
            .get(&spec.name)
            .and_then(|o| o.replicas.first())
            .and_then(|r| r.host_port)
        {
            printer.info(&format!(
                "  {:<12} http://127.0.0.1:{port}{}",
                spec.name,
                spec.health_check.as_deref().unwrap_or("")
            ));
        }
    }
    if let Some(ing) = &eco.ingress {
        for (spec, e) in crate::ingress::exposed(eco) {
            let (scheme, port) = if ing.tls == crate::config::ingress::TlsMode::Off {
                ("http", ing.http_port)
            } else {
                ("https", ing.https_port)
            };
            let port = match (scheme, port) {
                ("https", 443) | ("http", 80) => String::new(),
                (_, p) => format!(":{p}"),
            };
            printer.info(&format!(
                "  {:<12} {scheme}://{}{port}{} (ingress, on 127.0.0.1)",
                spec.name, e.host, e.path
            ));
        }
    }
}

/// The foreground until Ctrl+C (logs and the live view; with `--watch` the watch loop), then
/// `down`.
///
/// # Errors
/// The file watcher or the engine fails at the start; `down` fails.
pub async fn foreground_then_down(s: Started) -> Result<(), Error> {
    let name = s.project.ecosystem.name.clone();
    let printer = &s.printer;
    let result = foreground(&s).await;
    printer.info(&format!("stopping {name}"));
    super::down(
        &s.engine,
        &name,
        STOP_TIMEOUT,
        false,
        &sink_for(&s.request, printer),
    )
    .await?;
    result
}

async fn foreground(s: &Started) -> Result<(), Error> {
    let printer = &s.printer;
    let name = s.project.ecosystem.name.clone();
    let json = s.request.json;
    let view = Arc::new(if json {
        LiveView::with_mode(printer, false)
    } else {
        LiveView::new(printer)
    });
    let follower = Follower::new();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let mut tasks = Vec::new();
    if !json {
        // logs
        let v = Arc::clone(&view);
        let sink: LineSink = Arc::new(move |line: String| v.log(&line));
        let color = view.is_live();
        let (engine, eco, follower, stop) = (
            Arc::clone(&s.engine),
            name.clone(),
            follower.clone(),
            stopped(),
        );
        tasks.push(tokio::spawn(async move {
            let _ = follower
                .run(engine, &eco, color, Duration::from_secs(2), sink, stop)
                .await;
        }));
        // status table
        let (v, engine, eco, stop) = (
            Arc::clone(&view),
            Arc::clone(&s.engine),
            name.clone(),
            stopped(),
        );
        tasks.push(tokio::spawn(async move {
            tokio::pin!(stop);
            loop {
                if let Ok(report) = status(engine.as_ref(), &HttpProbe, &eco, None).await {
                    let title = format!(
                        "pactown · {} on {} · Ctrl+C stops",
                        report.ecosystem, report.engine
                    );
                    v.show(&title, &live_rows(&report));
                }
                tokio::select! {
                    () = &mut stop => break,
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }));
    }
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let result = if s.request.watch {
        let opts = WatchOptions {
            build: s.opts.build.clone(),
            deploy: s.opts.deploy.clone(),
            run_as: s.request.run_as.clone(),
            journal: s.opts.journal.clone(),
            ..WatchOptions::default()
        };
        let mut session = Session::new(
            Arc::clone(&s.engine),
            Arc::new(HttpProbe),
            &s.file,
            &name,
            opts,
        );
        let inner = sink_for(&s.request, printer);
        let f = follower.clone();
        let sink: Sink = Arc::new(move |e: &DeployEvent| {
            if matches!(
                e,
                DeployEvent::Replaced { .. }
                    | DeployEvent::Started { .. }
                    | DeployEvent::RolledBack { .. }
            ) {
                f.rescan();
            }
            inner(e);
        });
        watch(&mut session, &sink, ctrl_c).await
    } else {
        if !view.is_live() {
            printer.info("following logs; Ctrl+C stops the ecosystem");
        }
        ctrl_c.await;
        Ok(())
    };
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = t.await;
    }
    view.finish();
    result
}

/// The live table's rows from a status report.
fn live_rows(report: &StatusReport) -> Vec<LiveRow> {
    report
        .services
        .iter()
        .map(|s| LiveRow {
            service: s.service.clone(),
            state: s.state.clone(),
            health: s
                .health
                .as_ref()
                .filter(|h| h.healthy)
                .map(|h| format!("{:.1}ms", h.latency_ms.unwrap_or(0.0))),
            unhealthy: s.health.as_ref().is_some_and(|h| !h.healthy),
            restarts: s.restarts,
            url: s.url.clone(),
        })
        .collect()
}
