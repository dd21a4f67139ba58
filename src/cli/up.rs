//! `pactown up`: build what is missing, start every service as soon as its own dependencies are
//! healthy, then (without `-d`) follow the logs until Ctrl+C, which takes the ecosystem down.
use crate::build::BuildOptions;
use crate::config::EngineChoice;
use crate::error::Error;
use crate::orchestrator::logs::{show_logs, LogOptions};
use crate::orchestrator::{self, DeployOptions, HttpProbe, UpOptions};
use crate::ui::Printer;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Arguments of `pactown up`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The ecosystem file (default: the only *.pactown.yaml in the current folder).
    pub file: Option<PathBuf>,
    /// Return once every service is healthy instead of following the logs.
    #[arg(short, long)]
    pub detach: bool,
    /// Container engine.
    #[arg(long, env = "PACTOWN_ENGINE", value_enum)]
    pub engine: Option<EngineChoice>,
    /// Seconds each service may take to become healthy (overrides `timeout:` in the file).
    #[arg(long, value_name = "S")]
    pub timeout: Option<u64>,
    /// Extra CA bundle for HTTPS inside builds (e.g. an intercepting proxy's CA).
    #[arg(long, value_name = "FILE", env = "PACTOWN_CA_BUNDLE")]
    pub ca_bundle: Option<PathBuf>,
    /// Most containers created/started at once.
    #[arg(long, value_name = "N", default_value_t = orchestrator::DEFAULT_CONCURRENCY, env = "PACTOWN_CONCURRENCY")]
    pub concurrency: usize,
    /// Rebuild images ignoring the layer cache.
    #[arg(long)]
    pub no_cache: bool,
}

/// Exit code after Ctrl+C.
const INTERRUPTED: u8 = 130;

/// Runs `pactown up`.
///
/// # Errors
/// Invalid project, build, engine and readiness errors.
pub async fn run(args: Args, printer: &Printer) -> Result<ExitCode, Error> {
    let started = Instant::now();
    let file = crate::config::resolve_file(args.file.as_deref())?;
    let project = crate::project::load_with(&file, crate::project::Unpulled::Fail)?;
    printer.diagnostics(&project.warnings);
    let eco = &project.ecosystem;
    let engine = orchestrator::connect(args.engine, Some(eco)).await?;
    let jobs = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let opts = UpOptions {
        build: BuildOptions {
            no_cache: args.no_cache,
            ca_bundle: args
                .ca_bundle
                .clone()
                .or_else(|| eco.build.ca_bundle.clone()),
            jobs,
        },
        deploy: DeployOptions {
            concurrency: args.concurrency,
            timeout: args.timeout.map(Duration::from_secs),
            ..DeployOptions::default()
        },
    };
    printer.info(&format!(
        "bringing up {} ({} services) on {}",
        eco.name,
        eco.services.len(),
        engine.kind()
    ));
    let up = orchestrator::up(
        Arc::clone(&engine),
        Arc::new(HttpProbe),
        &project,
        opts,
        printer,
    );
    let report = tokio::select! {
        r = up => r?,
        _ = tokio::signal::ctrl_c() => {
            printer.warn("interrupted");
            if !args.detach {
                orchestrator::down(engine.as_ref(), &eco.name, Duration::from_secs(10), printer).await?;
            }
            return Ok(ExitCode::from(INTERRUPTED));
        }
    };
    let changed = report.outcomes.values().filter(|o| o.changed).count();
    if changed == 0 && report.removed == 0 {
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
    if args.detach {
        return Ok(ExitCode::SUCCESS);
    }

    printer.info("following logs; Ctrl+C stops the ecosystem");
    let log_opts = LogOptions {
        services: Vec::new(),
        tail: Some(0),
        follow: true,
        color: stdout_color(),
    };
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    show_logs(Arc::clone(&engine), &eco.name, &log_opts, printer, stop).await?;
    printer.info(&format!("stopping {}", eco.name));
    orchestrator::down(engine.as_ref(), &eco.name, Duration::from_secs(10), printer).await?;
    Ok(ExitCode::SUCCESS)
}

/// Colour for stdout: a terminal and `NO_COLOR` unset.
pub(super) fn stdout_color() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}
