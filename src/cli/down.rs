//! `pactown down`: remove the ecosystem's containers and network, found by label. Needs only the
//! ecosystem name, so it works on a project whose READMEs (or even YAML) are broken.
use crate::config::EngineChoice;
use crate::error::Error;
use crate::orchestrator;
use crate::ui::Printer;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `pactown down`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The ecosystem file (default: the only *.pactown.yaml in the current folder).
    pub file: Option<PathBuf>,
    /// The ecosystem name, when the file cannot be read.
    #[arg(long)]
    pub name: Option<String>,
    /// Seconds to wait for each container to stop before killing it.
    #[arg(long, value_name = "S", default_value_t = 10)]
    pub timeout: u64,
    /// Container engine.
    #[arg(long, env = "PACTOWN_ENGINE", value_enum)]
    pub engine: Option<EngineChoice>,
    /// Address the side-by-side copy of this tenant (`up --tenant`).
    #[arg(long, value_name = "NAME", env = "PACTOWN_TENANT")]
    pub tenant: Option<String>,
}

/// Runs `pactown down`.
///
/// # Errors
/// No ecosystem name; engine errors.
pub async fn run(args: Args, printer: &Printer) -> Result<ExitCode, Error> {
    let target = orchestrator::target(args.file.as_deref(), args.name.as_deref())?
        .with_tenant(args.tenant.as_deref(), None)?;
    let engine = orchestrator::connect(args.engine, target.ecosystem.as_ref()).await?;
    let report = orchestrator::down(
        engine.as_ref(),
        &target.name,
        Duration::from_secs(args.timeout),
        printer,
    )
    .await?;
    if report.containers.is_empty() && report.networks.is_empty() {
        printer.info(&format!("{}: nothing to remove", target.name));
    } else {
        printer.info(&format!(
            "{} is down: {} containers, {} networks removed",
            target.name,
            report.containers.len(),
            report.networks.len()
        ));
    }
    Ok(ExitCode::SUCCESS)
}
