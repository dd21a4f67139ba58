//! `pactown events`: the ecosystem's lifecycle events — container events from the engine
//! (created, started, died, restarted, OOM-killed, stopped, removed) and pactown's own from its
//! journal (builds, health checks) — in time order, with anomalies flagged; with `-f`, also live,
//! probing every running service's health meanwhile. On Swarm the engine's part also holds the
//! service events and the tasks of other nodes (`crate::engine::swarm`'s events module).
use crate::deploy::HttpProbe;
use crate::error::Error;
use crate::observe::events::LifecycleEvent;
use crate::observe::feed::{self, FeedOptions};
use crate::observe::journal::Journal;
use crate::ui::Printer;
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `pactown events`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: super::target::TargetArgs,
    /// Keep following new events (until Ctrl+C), probing the services' health meanwhile.
    #[arg(short, long)]
    pub follow: bool,
    /// One JSON object per line on stdout.
    #[arg(long)]
    pub json: bool,
    /// Show events of the last S seconds first.
    #[arg(long, value_name = "S", default_value_t = 3600)]
    pub since: u64,
    /// With `-f`: probe every running service's health each S seconds (0: do not probe).
    #[arg(long, value_name = "S", default_value_t = 5)]
    pub health_interval: u64,
}

/// Runs `pactown events`.
///
/// # Errors
/// No ecosystem name; engine errors.
pub async fn run(
    args: Args,
    globals: &super::Globals,
    printer: &Printer,
) -> Result<ExitCode, Error> {
    let (target, engine) = args.target.connect(globals).await?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let opts = FeedOptions {
        since: now.saturating_sub(i64::try_from(args.since).unwrap_or(i64::MAX)),
        follow: args.follow,
        health_interval: (args.health_interval > 0)
            .then(|| Duration::from_secs(args.health_interval)),
        journal: Journal::for_ecosystem(&target.name),
        ports: target
            .ecosystem
            .iter()
            .flat_map(|e| {
                e.services
                    .iter()
                    .filter_map(|s| s.port.map(|p| (s.name.clone(), p)))
            })
            .collect(),
    };
    let json = args.json;
    let mut emit = |event: LifecycleEvent| {
        if json {
            printer.out(&serde_json::to_string(&event).unwrap_or_default());
        } else {
            printer.out(&event.line());
        }
    };
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    feed::run(
        engine.as_ref(),
        &HttpProbe,
        &target.name,
        opts,
        printer,
        &mut emit,
        stop,
    )
    .await?;
    Ok(ExitCode::SUCCESS)
}
