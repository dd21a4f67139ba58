//! `pactown up`: build what is missing, start every service as soon as its own dependencies are
//! healthy, then (without `-d`) follow the logs until Ctrl+C, which takes the ecosystem down.
use crate::config::EngineChoice;
use crate::deploy::watch::{TenantCopy, WatchOptions};
use crate::deploy::{DeployOptions, HttpProbe, UpOptions};
use crate::error::Error;
use crate::image::BuildOptions;
use crate::observe::journal::Journal;
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
    #[arg(long, value_name = "N", default_value_t = crate::deploy::DEFAULT_CONCURRENCY, env = "PACTOWN_CONCURRENCY")]
    pub concurrency: usize,
    /// Rebuild images ignoring the layer cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Keep running: rebuild and replace a service when its README changes, reconcile when the
    /// ecosystem file changes.
    #[arg(short, long, conflicts_with = "detach")]
    pub watch: bool,
    /// Run a separate copy of the ecosystem for this tenant: own network, names and ports
    /// (with `--watch`, the copy is the one rebuilt and replaced).
    #[arg(long, value_name = "NAME", env = "PACTOWN_TENANT")]
    pub tenant: Option<String>,
    /// Ports of the tenant's copy are the file's ports plus this (default: derived from the
    /// tenant name, a multiple of 1000).
    #[arg(long, value_name = "N", requires = "tenant")]
    pub port_offset: Option<u16>,
    /// Once every service is healthy, run the READMEs' `markpact:test` blocks (as
    /// `pactown test`); with `-d` the exit code is 1 when a test failed.
    #[arg(long)]
    pub test: bool,
}

/// Exit code after Ctrl+C.
const INTERRUPTED: u8 = 130;

/// Runs `pactown up`.
///
/// # Errors
/// Invalid project, build, engine and readiness errors.
pub async fn run(args: Args, printer: &Printer) -> Result<ExitCode, Error> {
    run_with(args, false, printer).await
}

/// Runs `pactown up`; `json` prints watch events as JSON lines (`pactown watch --json`).
///
/// # Errors
/// Invalid project, build, engine and readiness errors.
pub(super) async fn run_with(args: Args, json: bool, printer: &Printer) -> Result<ExitCode, Error> {
    let mut printer = printer.clone();
    let started = Instant::now();
    let file = crate::config::resolve_file(args.file.as_deref())?;
    let mut project = crate::project::load_with(&file, crate::project::Unpulled::Fail)?;
    printer.diagnostics(&project.warnings);
    if let Some(t) = &args.tenant {
        project.ecosystem = crate::config::tenant::apply(project.ecosystem, t, args.port_offset)
            .map_err(Error::Other)?;
        printer.info(&format!(
            "tenant {t}: ecosystem {}, network {}",
            project.ecosystem.name,
            project.ecosystem.network_name()
        ));
    }
    let process_env: std::collections::BTreeMap<String, String> = std::env::vars().collect();
    crate::secrets::resolve(&mut project.ecosystem, &process_env)
        .map_err(|e| Error::Other(e.to_string()))?;
    for svc in &project.ecosystem.services {
        printer = printer.with_secrets(crate::secrets::secret_values(svc));
    }
    let printer = &printer;
    let eco = &project.ecosystem;
    let engine = crate::deploy::connect(args.engine, Some(eco)).await?;
    let journal = Journal::for_ecosystem(&eco.name);
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
        journal: journal.clone(),
    };
    let opts_copy = opts.clone();
    printer.info(&format!(
        "bringing up {} ({} services) on {}",
        eco.name,
        eco.services.len(),
        engine.kind()
    ));
    let up = crate::deploy::up(
        Arc::clone(&engine),
        Arc::new(HttpProbe),
        &project,
        opts,
        printer,
    );
    let report = tokio::select! {
        r = up => r,
        _ = tokio::signal::ctrl_c() => {
            printer.warn("interrupted");
            if !args.detach {
                crate::deploy::down(engine.as_ref(), &eco.name, Duration::from_secs(10), printer).await?;
            }
            return Ok(ExitCode::from(INTERRUPTED));
        }
    };
    let report = match report {
        Ok(r) => r,
        // watch mode keeps going: the failure is shown (with the last log lines, by `up`), the
        // healthy services keep running, and saving a fixed README rebuilds the failed one
        Err(e @ (Error::Readiness(_) | Error::Other(_) | Error::Build(_))) if args.watch => {
            printer.error(&e.to_string());
            printer.warn("watching anyway: fix the README and save; healthy services keep running");
            return foreground_then_down(
                &args, json, &file, &eco.name, engine, opts_copy, journal, printer,
            )
            .await;
        }
        Err(e) => return Err(e),
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
    let mut tests_failed = false;
    if args.test {
        let report =
            super::test::run_suite(Arc::clone(&engine), &project, &file, Vec::new(), printer)
                .await?;
        super::test::show(&report, &super::test::Output::default(), printer)?;
        tests_failed = !report.ok();
    }
    if args.detach {
        return Ok(if tests_failed {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        });
    }

    foreground_then_down(
        &args, json, &file, &eco.name, engine, opts_copy, journal, printer,
    )
    .await
}

/// The foreground part of `up` (logs, live view, watch loop) until Ctrl+C, then `down`.
#[allow(clippy::too_many_arguments)]
async fn foreground_then_down(
    args: &Args,
    json: bool,
    file: &std::path::Path,
    name: &str,
    engine: Arc<dyn crate::engine::Engine>,
    opts_copy: UpOptions,
    journal: Option<Journal>,
    printer: &Printer,
) -> Result<ExitCode, Error> {
    let fg = super::watch::Foreground {
        watch: args.watch,
        json,
        opts: WatchOptions {
            tenant: args.tenant.as_ref().map(|t| TenantCopy {
                name: t.clone(),
                port_offset: args.port_offset,
            }),
            journal,
            ..super::watch::options(
                opts_copy.build,
                DeployOptions {
                    ecosystem_file: std::fs::canonicalize(file).ok(),
                    ..opts_copy.deploy
                },
            )
        },
    };
    let result = super::watch::foreground(Arc::clone(&engine), file, name, fg, printer).await;
    printer.info(&format!("stopping {name}"));
    crate::deploy::down(engine.as_ref(), name, Duration::from_secs(10), printer).await?;
    result.map(|()| ExitCode::SUCCESS)
}

/// Colour for stdout: a terminal and `NO_COLOR` unset.
pub(super) fn stdout_color() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}
