//! Command-line interface (clap derive). One file per subcommand turns arguments into typed
//! requests; the work is done by the library modules.
mod build;
mod completions;
mod config;
mod down;
mod events;
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
mod target;
mod test;
mod up;
mod validate;
mod watch;

use crate::error::Error;
use crate::ui::{Printer, Verbosity};
use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// pactown — turn markpact READMEs into running container ecosystems.
#[derive(Debug, Parser)]
#[command(name = "pactown", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Print only errors and requested output.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print debug details.
    #[arg(short, long, global = true)]
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
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let code = if err.use_stderr() { 2 } else { 0 };
            let _ = err.print();
            return ExitCode::from(code);
        }
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
    match dispatch(cli.command, &printer).await {
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

async fn dispatch(command: Command, printer: &Printer) -> Result<ExitCode, Error> {
    match command {
        Command::Parse(args) => parse::run(args, printer),
        Command::Validate(args) => validate::run(args, printer),
        Command::Graph(args) => graph::run(args, printer),
        Command::Config(args) => config::run(args, printer),
        Command::Init(args) => init::run(args, printer),
        Command::Generate(args) => generate::run(args, printer),
        Command::Build(args) => build::run(args, printer).await,
        Command::Images(args) => images::run(args, printer).await,
        Command::Up(args) => up::run(args, printer).await,
        Command::Run(args) => run::run(args, printer).await,
        Command::Down(args) => down::run(args, printer).await,
        Command::Status(args) => status::run(args, printer).await,
        Command::Logs(args) => logs::run(args, printer).await,
        Command::Ls(args) => ls::run(args, printer).await,
        Command::Events(args) => events::run(args, printer).await,
        Command::Restart(args) => restart::run(args, printer).await,
        Command::Export(args) => export::run(args, printer),
        Command::Quadlet(args) => quadlet::run(args, printer).await,
        Command::Ingress(args) => ingress::run(args, printer),
        Command::Registry(args) => registry::run(args, printer).await,
        Command::Publish(args) => publish::run(args, printer).await,
        Command::Pull(args) => pull::run(args, printer).await,
        Command::Watch(args) => watch::run(args, printer).await,
        Command::Test(args) => test::run(args, printer).await,
        Command::Completions(args) => completions::run(&args, printer),
        Command::Man(args) => man::run(&args, printer),
    }
}
