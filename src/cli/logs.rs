//! `pactown logs`: the services' output, multiplexed with `service |` prefixes.
use crate::engine::LogQuery;
use crate::error::Error;
use crate::observe::logs::{parse_time_now, show_logs, LogOptions};
use crate::ui::Printer;
use std::process::ExitCode;

/// Arguments of `pactown logs`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: super::target::TargetArgs,
    /// Only these services.
    pub services: Vec<String>,
    /// Keep following new output.
    #[arg(short, long)]
    pub follow: bool,
    /// Show only the last N lines of each container first.
    #[arg(long, value_name = "N")]
    pub tail: Option<usize>,
    /// Only lines logged since T: a duration before now (`10s`, `5m`, `2h`, `1d`, `1h30m`),
    /// Unix seconds or an RFC 3339 time (`2026-12-02T15:04:05Z`).
    #[arg(long, value_name = "T", value_parser = parse_time_now)]
    pub since: Option<i64>,
    /// Only lines logged until T (the forms of `--since`).
    #[arg(long, value_name = "T", value_parser = parse_time_now)]
    pub until: Option<i64>,
    /// Prefix each line with the engine's timestamp (after `service |`).
    #[arg(short, long)]
    pub timestamps: bool,
    /// One JSON object per line (`service`, `replica`, `container`, `stream`, `timestamp` with
    /// `-t`, `text`).
    #[arg(long)]
    pub json: bool,
}

/// Runs `pactown logs`.
///
/// # Errors
/// No ecosystem name, unknown service, engine errors.
pub async fn run(
    mut args: Args,
    globals: &super::Globals,
    printer: &Printer,
) -> Result<ExitCode, Error> {
    let (file, services) =
        globals.file_and_services(args.target.file.as_deref(), &args.services)?;
    args.target.file = file;
    args.services = services;
    let (target, engine) = args.target.connect(globals).await?;
    let opts = LogOptions {
        services: args.services,
        query: LogQuery {
            tail: args.tail,
            follow: args.follow,
            since: args.since,
            until: args.until,
            timestamps: args.timestamps,
        },
        json: args.json,
        color: super::up::stdout_color(),
    };
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    // mask the secret values the services get (as `up` resolves them) in the output
    let mut printer = printer.clone();
    if let Some(mut eco) = target.ecosystem.clone() {
        let process_env: std::collections::BTreeMap<String, String> = std::env::vars().collect();
        if crate::secrets::resolve(&mut eco, &process_env).is_ok() {
            for svc in &eco.services {
                printer = printer.with_secrets(crate::secrets::secret_values(svc));
            }
        }
    }
    show_logs(engine, &target.name, &opts, &printer, stop).await?;
    Ok(ExitCode::SUCCESS)
}
