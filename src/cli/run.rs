//! `pactown run README.md`: one README without an ecosystem file, built, hardened and
//! health-checked as `up` does ([`crate::deploy::run`]).
use crate::config::EngineChoice;
use crate::deploy::run::{RunMode, RunOutcome};
use crate::deploy::{DeployOptions, HttpProbe, UpOptions};
use crate::error::Error;
use crate::image::BuildOptions;
use crate::project::SingleService;
use crate::ui::Printer;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Arguments of `pactown run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The markpact README to run.
    pub readme: PathBuf,
    /// Port the program listens on (its `PORT`/`MARKPACT_PORT`), published on 127.0.0.1
    /// (the next free one when taken); default 8000.
    #[arg(short, long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1024..), conflicts_with = "once")]
    pub port: Option<u16>,
    /// An environment variable for the program, `KEY=VALUE` (repeatable).
    #[arg(short = 'e', long = "env", value_name = "K=V", value_parser = parse_env)]
    pub env: Vec<(String, String)>,
    /// Return once it is healthy and leave it running (stop it with `pactown down --name …`).
    #[arg(short, long, conflicts_with = "once")]
    pub detach: bool,
    /// Run it once to completion (no port, no restart) and exit with its exit code.
    #[arg(long)]
    pub once: bool,
    /// Container engine.
    #[arg(long, env = "PACTOWN_ENGINE", value_enum)]
    pub engine: Option<EngineChoice>,
    /// Seconds it may take to become healthy (with `--once`: to finish); default 60.
    #[arg(long, value_name = "S")]
    pub timeout: Option<u64>,
    /// Extra CA bundle for HTTPS inside builds (e.g. an intercepting proxy's CA).
    #[arg(long, value_name = "FILE", env = "PACTOWN_CA_BUNDLE")]
    pub ca_bundle: Option<PathBuf>,
    /// Rebuild the image ignoring the layer cache.
    #[arg(long)]
    pub no_cache: bool,
}

fn parse_env(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if crate::config::rules::is_env_name(k) => Ok((k.to_string(), v.to_string())),
        Some((k, _)) => Err(format!(
            "`{k}` is not a variable name: use letters, digits and `_`, not starting with a digit"
        )),
        None => Err(format!("`{text}` is not KEY=VALUE")),
    }
}

/// Exit code after Ctrl+C.
const INTERRUPTED: u8 = 130;

/// Runs `pactown run`.
///
/// # Errors
/// Invalid README, build, engine and readiness errors.
pub async fn run(args: Args, printer: &Printer) -> Result<ExitCode, Error> {
    let service = SingleService {
        port: args.port,
        env: args.env.into_iter().collect::<BTreeMap<_, _>>(),
        job: args.once,
    };
    let project = crate::project::single(&args.readme, &service)?;
    printer.diagnostics(&project.warnings);
    let engine = crate::deploy::connect(args.engine, None).await?;
    let jobs = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let opts = UpOptions {
        build: BuildOptions {
            no_cache: args.no_cache,
            ca_bundle: args.ca_bundle,
            jobs,
        },
        deploy: DeployOptions {
            timeout: args.timeout.map(Duration::from_secs),
            ..DeployOptions::default()
        },
        journal: None,
        services: None,
    };
    let mode = if args.once {
        RunMode::Once
    } else if args.detach {
        RunMode::Detach
    } else {
        RunMode::Foreground
    };
    printer.info(&format!(
        "running {} as {} on {}",
        args.readme.display(),
        project.ecosystem.name,
        engine.kind()
    ));
    let outcome =
        crate::deploy::run::run(engine, Arc::new(HttpProbe), &project, mode, opts, printer).await?;
    Ok(match outcome {
        RunOutcome::Detached { .. } => ExitCode::SUCCESS,
        RunOutcome::Interrupted => ExitCode::from(INTERRUPTED),
        RunOutcome::Exited(code) => ExitCode::from(u8::try_from(code.clamp(0, 255)).unwrap_or(1)),
    })
}
