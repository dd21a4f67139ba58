//! `pactown run README.md`: one README without an ecosystem file, built, hardened and
//! health-checked as `up` does ([`crate::deploy::run`]). `pactown run SERVICE [--] CMD…`: a
//! one-off container from a service of the ecosystem file, as `docker compose run`
//! ([`crate::deploy::oneoff`]).
use crate::config::EngineChoice;
use crate::deploy::run::{RunMode, RunOutcome};
use crate::deploy::{DeployOptions, HttpProbe, UpOptions};
use crate::error::{Error, RequestError};
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
    /// The markpact README to run (a file, or a name ending in `.md`); otherwise a service of
    /// the ecosystem file (`-f`/`PACTOWN_FILE`/the current folder) to run a one-off command in.
    #[arg(value_name = "README|SERVICE")]
    pub readme: PathBuf,
    /// With SERVICE: the command for the one-off container (default: the service's own); put
    /// `--` before it when it has options of its own.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CMD"
    )]
    pub command: Vec<String>,
    /// With SERVICE: do not bring up the services it depends on first.
    #[arg(long)]
    pub no_deps: bool,
    /// With SERVICE: no pseudo-terminal even when stdin is a terminal (`-T`, as in Compose).
    #[arg(short = 'T', long)]
    pub no_tty: bool,
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
pub async fn run(
    args: Args,
    globals: &super::Globals,
    printer: &Printer,
) -> Result<ExitCode, Error> {
    if !is_readme(&args.readme) {
        return oneoff(args, globals, printer).await;
    }
    if !args.command.is_empty() {
        return Err(RequestError::RunReadmeCommand(args.readme.display().to_string()).into());
    }
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

/// A README argument: an existing file or a name ending in `.md`.
fn is_readme(p: &std::path::Path) -> bool {
    p.is_file()
        || p.extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("md") || e.eq_ignore_ascii_case("markdown"))
}

/// `pactown run SERVICE [--] CMD…`.
async fn oneoff(
    args: Args,
    globals: &super::Globals,
    printer: &Printer,
) -> Result<ExitCode, Error> {
    use std::io::IsTerminal as _;
    let service = args.readme.display().to_string();
    for (given, flag) in [
        (args.port.is_some(), "--port"),
        (args.detach, "--detach"),
        (args.once, "--once"),
        (args.timeout.is_some(), "--timeout"),
    ] {
        if given {
            return Err(RequestError::RunServiceFlag { flag, service }.into());
        }
    }
    let file = globals.resolved_file(None)?;
    let run_as = crate::project::RunAs {
        project_name: globals.name(None)?,
        ..crate::project::RunAs::default()
    };
    let project = crate::project::load_for_run(&file, &run_as)?;
    printer.diagnostics(&project.warnings);
    let printer = printer
        .clone()
        .with_secrets(crate::project::secret_values(&project));
    let eco = &project.ecosystem;
    let engine = crate::deploy::connect(args.engine, Some(eco)).await?;
    let jobs = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let opts = UpOptions {
        build: BuildOptions {
            no_cache: args.no_cache,
            ca_bundle: args.ca_bundle.or_else(|| eco.build.ca_bundle.clone()),
            jobs,
        },
        deploy: DeployOptions {
            ecosystem_file: std::fs::canonicalize(&file).ok(),
            ..DeployOptions::default()
        },
        journal: crate::observe::journal::Journal::for_ecosystem(&eco.name),
        services: None,
    };
    // Docker 20.10's attached TTY stream loses output (bollard reads a raw TTY chunk that
    // starts with a byte below 3 as a frame header): there the one-off gets pipes, no TTY.
    let terminal =
        !args.no_tty && std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let tty = terminal && engine.kind() != crate::engine::EngineKind::Docker;
    if terminal && !tty {
        printer.debug("Docker: the one-off command gets pipes, not a TTY");
    }
    let job = crate::deploy::oneoff::OneOff {
        service,
        command: args.command,
        env: args.env.into_iter().collect(),
        no_deps: args.no_deps,
        tty,
    };
    let sink = crate::ui::events::sink(&printer, crate::ui::events::EventOutput::Text);
    // the terminal goes raw only once the container runs: build and dependency output first
    let raw = std::sync::Mutex::new(None);
    let on_output = |chunk: &crate::engine::ExecChunk| {
        if tty {
            if let Ok(mut r) = raw.lock() {
                r.get_or_insert_with(crate::ui::terminal::RawMode::enable);
            }
        }
        crate::ui::terminal::raw_output(chunk.stderr, &chunk.bytes);
    };
    let code = crate::deploy::oneoff::run_oneoff(
        engine,
        &project,
        &job,
        opts,
        Some(crate::ui::terminal::stdin_chunks()),
        &on_output,
        &sink,
        &printer,
    )
    .await;
    drop(raw);
    Ok(ExitCode::from(
        code?.map_or(1, |c| u8::try_from(c.clamp(0, 255)).unwrap_or(1)),
    ))
}
