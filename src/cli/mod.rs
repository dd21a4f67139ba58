//! Command-line interface (clap derive). One file per subcommand turns arguments into typed
//! requests; the work is done by the library modules.
mod build;
mod completions;
mod config;
mod down;
mod events;
mod exec;
mod export;
mod generate;
mod graph;
mod images;
mod ingress;
mod init;
mod logs;
mod ls;
mod man;
mod parse;
mod publish;
mod pull;
mod quadlet;
mod registry;
mod restart;
mod run;
mod status;
mod stop;
mod target;
mod test;
mod up;
mod validate;
mod watch;

use crate::error::{Error, RequestError};
use crate::ui::{Printer, Verbosity};
use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// pactown — turn markpact READMEs into running container ecosystems.
#[derive(Debug, Parser)]
#[command(name = "pactown", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Print only errors and requested output.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print debug details (no short form: `-v` is `down -v`, as in Compose).
    #[arg(long, global = true)]
    pub verbose: bool,
    /// Format of pactown's own messages on stderr: `text`, or `json` (one object per line).
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        env = "PACTOWN_LOG_FORMAT"
    )]
    pub log_format: LogFormat,
    /// The ecosystem file, for every command that reads one (as its FILE argument; default:
    /// the only `*.pactown.yaml` in the current folder). Goes before the command, like
    /// Compose's `-f`: after `logs`/`events`, `-f` is `--follow`.
    #[arg(short = 'f', long = "file", value_name = "FILE", env = "PACTOWN_FILE")]
    pub file: Option<PathBuf>,
    /// Project name: replaces the ecosystem file's `name:` in container, network, volume and
    /// label names (Compose's `-p`). Goes before the command.
    #[arg(
        short = 'p',
        long = "project-name",
        value_name = "NAME",
        env = "PACTOWN_PROJECT_NAME"
    )]
    pub project_name: Option<String>,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Format of pactown's own messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Lines for humans.
    Text,
    /// One JSON object per line: `{"level": "info", "message": "…"}`.
    Json,
}

/// pactown's subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse one markpact README and show its blocks (or the canonical JSON).
    Parse(parse::Args),
    /// Check an ecosystem file and every README it names; report all problems at once.
    Validate(validate::Args),
    /// Show the dependency graph (tree, dot, mermaid or json).
    Graph(graph::Args),
    /// Print the fully resolved ecosystem file (defaults, variables, ports, environment).
    Config(config::Args),
    /// Scaffold a working two-service ecosystem.
    Init(init::Args),
    /// Write an ecosystem file for a folder of markpact READMEs.
    Generate(generate::Args),
    /// Build the images of an ecosystem (for CI).
    Build(build::Args),
    /// Manage pactown's base images.
    Images(images::Args),
    /// Build, start and health-check an ecosystem.
    Up(up::Args),
    /// Run one markpact README without an ecosystem file (foreground, `-d` or `--once`).
    Run(run::Args),
    /// Stop and remove an ecosystem's containers and network.
    Down(down::Args),
    /// Run a command in a running service container (a TTY when stdin is one); its exit code.
    Exec(exec::Args),
    /// Stop an ecosystem's containers (or some services') and keep them.
    Stop(stop::StopArgs),
    /// Start the stopped containers again (no rebuild, no health wait: see `up -d`).
    Start(stop::StartArgs),
    /// Show the services of an ecosystem and their health.
    #[command(alias = "ps")]
    Status(status::Args),
    /// Show (and follow) service logs.
    Logs(logs::Args),
    /// List every ecosystem on the engine, with how many of its containers run.
    Ls(ls::Args),
    /// Show (and follow) lifecycle events with anomalies flagged.
    Events(events::Args),
    /// Restart one or more services.
    Restart(restart::Args),
    /// Write deployment files: Quadlet units, a Compose file or Kubernetes manifests.
    Export(export::Args),
    /// Install an ecosystem as rootless Quadlet units and start it under systemd.
    Quadlet(quadlet::Args),
    /// The public ingress: print its local CA's root certificate (`ingress ca`).
    Ingress(ingress::Args),
    /// Run a markpact registry (`registry serve`).
    Registry(registry::Args),
    /// Publish the services' READMEs to a registry.
    Publish(publish::Args),
    /// Pull `registry:` READMEs into .pactown/vendor and pin them in pactown.lock.
    Pull(pull::Args),
    /// Bring an ecosystem up and rebuild/replace services as their READMEs change.
    Watch(watch::Args),
    /// Run the READMEs' `markpact:test` blocks against the running ecosystem.
    Test(test::Args),
    /// Print the shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(completions::Args),
    /// Print the man page, or write one per command with `-o DIR`.
    Man(man::Args),
}

/// Parses the command line, runs the command and maps the result to an exit code
/// (0 ok, 1 error, 2 invalid input or usage, 3 readiness time-out).
pub async fn run() -> ExitCode {
    let parsed = Cli::command()
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m).map(|cli| (cli, m)));
    let (cli, matches) = match parsed {
        Ok(parsed) => parsed,
        Err(err) => {
            let code = if err.use_stderr() { 2 } else { 0 };
            let _ = err.print();
            return ExitCode::from(code);
        }
    };
    let globals = Globals {
        file: cli.file.clone(),
        file_on_command_line: matches.value_source("file") == Some(ValueSource::CommandLine),
        project_name: cli.project_name.clone(),
    };
    let verbosity = if cli.quiet {
        Verbosity::Quiet
    } else if cli.verbose {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    };
    let mut printer = Printer::new(verbosity);
    printer.json = cli.log_format == LogFormat::Json;
    match dispatch(cli.command, &globals, &printer).await {
        Ok(code) => code,
        Err(err) => {
            match &err {
                Error::Invalid(diags) => printer.diagnostics(&diags.0),
                other => printer.error(&other.to_string()),
            }
            ExitCode::from(err.exit_code())
        }
    }
}

/// The top-level `-f/--file` and `-p/--project-name` (or `PACTOWN_FILE`,
/// `PACTOWN_PROJECT_NAME`), handed to every command that reads an ecosystem file.
#[derive(Debug, Clone, Default)]
pub struct Globals {
    /// `-f FILE` or `PACTOWN_FILE`.
    pub file: Option<PathBuf>,
    /// Whether `file` came from `-f` on the command line (else from the environment, which a
    /// command's own FILE argument overrides).
    pub file_on_command_line: bool,
    /// `-p NAME` or `PACTOWN_PROJECT_NAME`.
    pub project_name: Option<String>,
}

impl Globals {
    /// The ecosystem file to use: the command's FILE argument, else `-f`/`PACTOWN_FILE`.
    ///
    /// # Errors
    /// `-f A` and a FILE argument `B` that name different files.
    pub fn file(&self, argument: Option<&Path>) -> Result<Option<PathBuf>, Error> {
        match (argument, &self.file) {
            (Some(a), Some(f)) if self.file_on_command_line && a != f.as_path() => {
                Err(RequestError::TwoFiles {
                    flag: f.clone(),
                    argument: a.to_path_buf(),
                }
                .into())
            }
            (Some(a), _) => Ok(Some(a.to_path_buf())),
            (None, f) => Ok(f.clone()),
        }
    }

    /// [`Globals::file`] resolved to an existing ecosystem file (the only `*.pactown.yaml` in
    /// the current folder when none is named).
    ///
    /// # Errors
    /// As [`Globals::file`]; no file found.
    pub fn resolved_file(&self, argument: Option<&Path>) -> Result<PathBuf, Error> {
        Ok(crate::config::resolve_file(
            self.file(argument)?.as_deref(),
        )?)
    }

    /// Reads the ecosystem file at `file` and applies `-p`.
    ///
    /// # Errors
    /// An invalid file; a bad project name.
    pub fn ecosystem(&self, file: &Path) -> Result<crate::config::Ecosystem, Error> {
        let mut eco = crate::config::load(file)?;
        self.rename(&mut eco)?;
        Ok(eco)
    }

    /// Loads the project of `file` (READMEs with `unpulled` as policy) and applies `-p`.
    ///
    /// # Errors
    /// An invalid project; a bad project name.
    pub fn project(
        &self,
        file: &Path,
        unpulled: crate::project::Unpulled,
    ) -> Result<crate::project::Project, Error> {
        let mut project = crate::project::load_with(file, unpulled)?;
        self.rename(&mut project.ecosystem)?;
        Ok(project)
    }

    /// For commands that take `[FILE] [SERVICE…]`: the ecosystem file and the services. The
    /// first argument is the file when it ends in `.yaml`/`.yml` or is a file, else the first
    /// service (so `pactown -f x.yaml logs api` and `pactown logs api` read `api` as a service).
    ///
    /// # Errors
    /// As [`Globals::file`].
    pub fn file_and_services(
        &self,
        first: Option<&Path>,
        services: &[String],
    ) -> Result<(Option<PathBuf>, Vec<String>), Error> {
        match first {
            Some(p) if !looks_like_file(p) => {
                let mut all = vec![p.to_string_lossy().into_owned()];
                all.extend(services.iter().cloned());
                Ok((self.file(None)?, all))
            }
            _ => Ok((self.file(first)?, services.to_vec())),
        }
    }

    /// The ecosystem name to use instead of the file's: a command's own `--name`, else `-p`.
    ///
    /// # Errors
    /// `-p` and `--name` that differ; a name that cannot be used in resource names.
    pub fn name(&self, own: Option<&str>) -> Result<Option<String>, Error> {
        let name = match (own, self.project_name.as_deref()) {
            (Some(n), Some(p)) if n != p => {
                return Err(RequestError::TwoNames {
                    name: n.to_string(),
                    project: p.to_string(),
                }
                .into())
            }
            (Some(n), _) | (None, Some(n)) => n,
            (None, None) => return Ok(None),
        };
        crate::config::check_project_name(name)?;
        Ok(Some(name.to_string()))
    }

    /// Applies `-p` to a loaded ecosystem (its `name:` is replaced).
    ///
    /// # Errors
    /// A name that cannot be used in resource names.
    pub fn rename(&self, eco: &mut crate::config::Ecosystem) -> Result<(), Error> {
        if let Some(name) = self.name(None)? {
            eco.name = name;
        }
        Ok(())
    }
}

/// Whether a positional argument names an ecosystem file rather than a service.
fn looks_like_file(p: &Path) -> bool {
    matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) || p.is_file()
}

async fn dispatch(
    command: Command,
    globals: &Globals,
    printer: &Printer,
) -> Result<ExitCode, Error> {
    match command {
        Command::Parse(args) => parse::run(args, printer),
        Command::Validate(args) => validate::run(args, globals, printer),
        Command::Graph(args) => graph::run(args, globals, printer),
        Command::Config(args) => config::run(args, globals, printer),
        Command::Init(args) => init::run(args, printer),
        Command::Generate(args) => generate::run(args, printer),
        Command::Build(args) => build::run(args, globals, printer).await,
        Command::Images(args) => images::run(args, printer).await,
        Command::Up(args) => up::run(args, globals, printer).await,
        Command::Run(args) => run::run(args, globals, printer).await,
        Command::Down(args) => down::run(args, globals, printer).await,
        Command::Exec(args) => exec::run(args, globals, printer).await,
        Command::Stop(args) => stop::stop(args, globals, printer).await,
        Command::Start(args) => stop::start(args, globals, printer).await,
        Command::Status(args) => status::run(args, globals, printer).await,
        Command::Logs(args) => logs::run(args, globals, printer).await,
        Command::Ls(args) => ls::run(args, printer).await,
        Command::Events(args) => events::run(args, globals, printer).await,
        Command::Restart(args) => restart::run(args, globals, printer).await,
        Command::Export(args) => export::run(args, globals, printer),
        Command::Quadlet(args) => quadlet::run(args, globals, printer).await,
        Command::Ingress(args) => ingress::run(args, globals, printer).await,
        Command::Registry(args) => registry::run(args, printer).await,
        Command::Publish(args) => publish::run(args, globals, printer).await,
        Command::Pull(args) => pull::run(args, globals, printer).await,
        Command::Watch(args) => watch::run(args, globals, printer).await,
        Command::Test(args) => test::run(args, globals, printer).await,
        Command::Completions(args) => completions::run(&args, printer),
        Command::Man(args) => man::run(&args, printer),
    }
}

#[cfg(test)]
mod tests {
    use super::{Cli, Command, Globals};
    use clap::{CommandFactory, Parser};
    use std::path::{Path, PathBuf};

    /// The whole command builds (clap's debug assertions catch a flag that two args of one
    /// command share, e.g. a global `-f` against `logs -f`), and the lines that mix the
    /// top-level `-f`/`-p` with the commands' own `-f`/`-p` parse to what they mean.
    #[test]
    fn global_file_and_project_name_do_not_clash_with_command_flags() {
        Cli::command().debug_assert();
        let parse = |line: &str| {
            Cli::try_parse_from(line.split_whitespace()).unwrap_or_else(|e| panic!("{line}: {e}"))
        };
        let cli = parse("pactown -f x.yaml -p demo logs -f api");
        assert_eq!(cli.file.as_deref(), Some(Path::new("x.yaml")));
        assert_eq!(cli.project_name.as_deref(), Some("demo"));
        let Command::Logs(logs) = &cli.command else {
            panic!("not logs")
        };
        assert!(logs.follow);
        let globals = Globals {
            file: cli.file.clone(),
            file_on_command_line: true,
            project_name: None,
        };
        // `api` is the first positional (clap's FILE) but reads as a service
        assert_eq!(
            globals
                .file_and_services(logs.target.file.as_deref(), &logs.services)
                .unwrap(),
            (Some(PathBuf::from("x.yaml")), vec!["api".to_string()])
        );
        // `-v` is Compose's `down -v`; verbosity is `--verbose` only
        let cli = parse("pactown -f x.yaml down -v --verbose");
        assert!(cli.verbose);
        assert!(matches!(&cli.command, Command::Down(a) if a.volumes));
        assert!(Cli::try_parse_from(["pactown", "-v", "status"]).is_err());
        let cli = parse("pactown -f x.yaml events -f");
        assert!(matches!(&cli.command, Command::Events(a) if a.follow));
        let cli = parse("pactown --file x.yaml graph -f json");
        assert!(
            matches!(&cli.command, Command::Graph(a) if a.format == super::graph::Format::Json)
        );
        let cli = parse("pactown -f x.yaml run api -e A=1 -- sh -c true");
        assert!(
            matches!(&cli.command, Command::Run(a) if a.command == ["sh", "-c", "true"] && a.env.len() == 1)
        );
        let cli = parse("pactown -f x.yaml run -T --no-deps api ls -la");
        assert!(
            matches!(&cli.command, Command::Run(a) if a.no_tty && a.no_deps && a.command == ["ls", "-la"])
        );
        let cli = parse("pactown -p demo run README.md -p 9000");
        assert_eq!(cli.project_name.as_deref(), Some("demo"));
        assert!(matches!(&cli.command, Command::Run(a) if a.port == Some(9000)));
        for line in [
            "pactown -f x.yaml up -d",
            "pactown -f x.yaml watch --json",
            "pactown -f x.yaml build api",
            "pactown -f x.yaml validate",
            "pactown -f x.yaml config --json",
            "pactown -f x.yaml status --json",
            "pactown -f x.yaml down",
            "pactown -f x.yaml stop api --timeout 1",
            "pactown -f x.yaml start api",
            "pactown -f x.yaml exec api -r 2 -- sh -c true",
            "pactown -f x.yaml exec -T api ls -la",
            "pactown -f x.yaml up api --no-deps -d",
            "pactown -f x.yaml test",
            "pactown -f x.yaml publish",
            "pactown -f x.yaml pull",
            "pactown -f x.yaml export compose",
            "pactown -f x.yaml export quadlet -o out",
            "pactown -f x.yaml quadlet install --dry-run",
            "pactown -f x.yaml ingress ca",
            "pactown --project-name demo -q status",
        ] {
            let cli = parse(line);
            assert!(cli.file.is_some() || cli.project_name.is_some(), "{line}");
        }
        // after the command, `-p` is not the project name
        assert!(Cli::try_parse_from(["pactown", "status", "-p", "demo"]).is_err());
    }

    /// `logs --since/--until/-t` parse to Unix seconds and a flag; a bad time is a usage
    /// error that names the accepted forms.
    #[test]
    fn logs_time_window_and_timestamps() {
        let cli = Cli::try_parse_from([
            "pactown",
            "logs",
            "x.yaml",
            "api",
            "--since",
            "2026-12-02T15:04:05Z",
            "--until",
            "1796227445",
            "-t",
            "--tail",
            "3",
        ])
        .unwrap();
        let Command::Logs(logs) = &cli.command else {
            panic!("not logs")
        };
        assert_eq!(logs.since, Some(1_796_223_845));
        assert_eq!(logs.until, Some(1_796_227_445));
        assert!(logs.timestamps && !logs.follow);
        assert_eq!(logs.tail, Some(3));
        assert_eq!(logs.services, ["api"]);

        let before = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let cli =
            Cli::try_parse_from(["pactown", "logs", "--since", "1h30m", "--timestamps"]).unwrap();
        let Command::Logs(logs) = &cli.command else {
            panic!("not logs")
        };
        let since = u64::try_from(logs.since.unwrap()).unwrap();
        assert!(
            (before - 5400..=before - 5400 + 5).contains(&since),
            "{since}"
        );
        assert!(logs.timestamps && logs.until.is_none());

        let err = Cli::try_parse_from(["pactown", "logs", "--until", "yesterday"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        let msg = err.to_string();
        assert!(
            msg.contains("--until") && msg.contains("yesterday"),
            "{msg}"
        );
        assert!(msg.contains("RFC 3339") && msg.contains("1h30m"), "{msg}");
    }

    #[test]
    fn file_argument_and_flag() {
        let from_flag = Globals {
            file: Some(PathBuf::from("a.yaml")),
            file_on_command_line: true,
            project_name: None,
        };
        assert_eq!(from_flag.file(None).unwrap(), Some(PathBuf::from("a.yaml")));
        assert_eq!(
            from_flag.file(Some(Path::new("a.yaml"))).unwrap(),
            Some(PathBuf::from("a.yaml"))
        );
        let err = from_flag.file(Some(Path::new("b.yaml"))).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("-f a.yaml"), "{err}");
        // PACTOWN_FILE is a default: the command's FILE argument wins
        let from_env = Globals {
            file_on_command_line: false,
            ..from_flag
        };
        assert_eq!(
            from_env.file(Some(Path::new("b.yaml"))).unwrap(),
            Some(PathBuf::from("b.yaml"))
        );
    }

    #[test]
    fn project_name_is_checked_and_agrees_with_name() {
        let g = Globals {
            project_name: Some("demo".into()),
            ..Globals::default()
        };
        assert_eq!(g.name(None).unwrap().as_deref(), Some("demo"));
        assert_eq!(g.name(Some("demo")).unwrap().as_deref(), Some("demo"));
        assert_eq!(g.name(Some("other")).unwrap_err().exit_code(), 2);
        let bad = Globals {
            project_name: Some("Bad Name!".into()),
            ..Globals::default()
        };
        let err = bad.name(None).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("bad-name"), "{err}");
    }
}
