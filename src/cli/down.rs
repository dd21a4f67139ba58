//! `pactown down`: remove the ecosystem's containers and network, found by label. Needs only the
//! ecosystem name, so it works on a project whose READMEs (or even YAML) are broken.
use crate::error::Error;
use crate::ui::Printer;
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `pactown down`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: super::target::TargetArgs,
    /// Seconds to wait for each container to stop before killing it.
    #[arg(long, value_name = "S", default_value_t = 10)]
    pub timeout: u64,
    /// Also remove the ecosystem's named volumes (`volumes:` data), as `docker compose down -v`.
    #[arg(short = 'v', long)]
    pub volumes: bool,
}

/// Runs `pactown down`.
///
/// # Errors
/// No ecosystem name; engine errors.
pub async fn run(
    args: Args,
    globals: &super::Globals,
    printer: &Printer,
) -> Result<ExitCode, Error> {
    let (target, engine) = args.target.connect(globals).await?;
    let sink = crate::ui::events::sink(printer, crate::ui::events::EventOutput::Text);
    let report = crate::deploy::down(
        &engine,
        &target.name,
        Duration::from_secs(args.timeout),
        args.volumes,
        &sink,
    )
    .await?;
    if report.containers.is_empty() && report.networks.is_empty() && report.volumes.is_empty() {
        printer.info(&format!("{}: nothing to remove", target.name));
    } else if args.volumes {
        printer.info(&format!(
            "{} is down: {} containers, {} networks, {} volumes removed",
            target.name,
            report.containers.len(),
            report.networks.len(),
            report.volumes.len()
        ));
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
