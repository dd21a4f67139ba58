//! `pactown up`: arguments → [`crate::deploy::session`] (build what is missing, start every
//! service as soon as its own dependencies are healthy, then without `-d` the foreground until
//! Ctrl+C, which takes the ecosystem down).
use crate::config::EngineChoice;
use crate::deploy::session::{self, UpRequest};
use crate::error::Error;
use crate::project::RunAs;
use crate::ui::Printer;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `pactown up`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The ecosystem file (default: `-f`/`PACTOWN_FILE`, else the only `*.pactown.yaml` in the
    /// current folder).
    pub file: Option<PathBuf>,
    /// Only these services, with the services they depend on (with `-d`); the others are left
    /// as they are.
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
    /// With SERVICE…: not the services they depend on (those are assumed to run already).
    #[arg(long)]
    pub no_deps: bool,
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

impl Args {
    /// The request these arguments make (`json`: events as JSON lines, `pactown watch --json`).
    fn request(&self, json: bool, globals: &super::Globals) -> Result<UpRequest, Error> {
        let (file, services) = globals.file_and_services(self.file.as_deref(), &self.services)?;
        if self.no_deps && services.is_empty() {
            return Err(crate::error::RequestError::NoDepsWithoutServices.into());
        }
        if !services.is_empty() && (!self.detach || self.watch) {
            return Err(crate::error::RequestError::ServicesNeedDetach(services.join(" ")).into());
        }
        Ok(UpRequest {
            file,
            services,
            no_deps: self.no_deps,
            detach: self.detach,
            engine: self.engine,
            timeout: self.timeout.map(Duration::from_secs),
            ca_bundle: self.ca_bundle.clone(),
            concurrency: self.concurrency,
            no_cache: self.no_cache,
            watch: self.watch,
            json,
            run_as: RunAs {
                tenant: self.tenant.clone(),
                port_offset: self.port_offset,
                project_name: globals.name(None)?,
            },
        })
    }
}

/// Runs `pactown up`.
///
/// # Errors
/// Invalid project, build, engine and readiness errors.
pub async fn run(
    args: Args,
    globals: &super::Globals,
    printer: &Printer,
) -> Result<ExitCode, Error> {
    run_with(args, false, globals, printer).await
}

/// Runs `pactown up`; `json` prints deploy events as JSON lines (`pactown watch --json`).
///
/// # Errors
/// Invalid project, build, engine and readiness errors.
pub(super) async fn run_with(
    args: Args,
    json: bool,
    globals: &super::Globals,
    printer: &Printer,
) -> Result<ExitCode, Error> {
    let started = session::start(args.request(json, globals)?, printer).await?;
    if started.interrupted {
        return Ok(ExitCode::from(INTERRUPTED));
    }
    let mut tests_failed = false;
    if args.test && started.report.is_some() {
        let report = super::test::run_suite(
            std::sync::Arc::clone(&started.engine),
            &started.project,
            &started.file,
            Vec::new(),
        )
        .await?;
        super::test::show(&report, &super::test::Output::default(), &started.printer)?;
        tests_failed = !report.ok();
    }
    if args.detach {
        return Ok(if tests_failed {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        });
    }
    session::foreground_then_down(started)
        .await
        .map(|()| ExitCode::SUCCESS)
}

/// Colour for stdout: a terminal and `NO_COLOR` unset.
pub(super) fn stdout_color() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}
