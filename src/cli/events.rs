//! `pactown events`: the ecosystem's lifecycle events (started, died, restarted, OOM-killed,
//! health, stopped…) from the engine's event stream, with anomalies flagged.
use crate::config::EngineChoice;
use crate::error::Error;
use crate::orchestrator::{
    self,
    events::{classify, AnomalyTracker},
};
use crate::ui::Printer;
use futures_util::StreamExt;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `pactown events`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The ecosystem file (default: the only *.pactown.yaml in the current folder).
    pub file: Option<PathBuf>,
    /// The ecosystem name, when the file cannot be read.
    #[arg(long)]
    pub name: Option<String>,
    /// Address the side-by-side copy of this tenant (`up --tenant`).
    #[arg(long, value_name = "NAME", env = "PACTOWN_TENANT")]
    pub tenant: Option<String>,
    /// Keep following new events (until Ctrl+C).
    #[arg(short, long)]
    pub follow: bool,
    /// One JSON object per line on stdout.
    #[arg(long)]
    pub json: bool,
    /// Show events of the last S seconds first.
    #[arg(long, value_name = "S", default_value_t = 3600)]
    pub since: u64,
    /// Container engine.
    #[arg(long, env = "PACTOWN_ENGINE", value_enum)]
    pub engine: Option<EngineChoice>,
}

/// Runs `pactown events`.
///
/// # Errors
/// No ecosystem name; engine errors.
pub async fn run(args: Args, printer: &Printer) -> Result<ExitCode, Error> {
    let target = orchestrator::target(args.file.as_deref(), args.name.as_deref())?
        .with_tenant(args.tenant.as_deref(), None)?;
    let engine = orchestrator::connect(args.engine, target.ecosystem.as_ref()).await?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let since = now.saturating_sub(i64::try_from(args.since).unwrap_or(i64::MAX));
    // the engine keeps whole seconds: one more takes in everything of the current second
    let until = (!args.follow).then_some(now.saturating_add(1));
    let mut stream = engine
        .events_window(&orchestrator::ecosystem_filter(&target.name), since, until)
        .await?;
    let mut tracker = AnomalyTracker::default();
    let stop = tokio::signal::ctrl_c();
    tokio::pin!(stop);
    loop {
        let item = tokio::select! {
            item = stream.next() => item,
            _ = &mut stop => break,
        };
        let Some(item) = item else { break };
        let Some(event) = classify(&item?) else {
            continue;
        };
        let event = tracker.observe(event);
        if args.json {
            printer.out(&serde_json::to_string(&event).unwrap_or_default());
        } else {
            printer.out(&event.line());
        }
    }
    Ok(ExitCode::SUCCESS)
}
