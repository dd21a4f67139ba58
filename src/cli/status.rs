//! `pactown status` (alias `ps`): what runs, from the engine's labels, with health probed now
//! (recorded in the event journal, which also flags repeated health failures).
use crate::config::EngineChoice;
use crate::error::Error;
use crate::orchestrator::journal::Journal;
use crate::orchestrator::status::{apply_journal, render_table};
use crate::orchestrator::{self, HttpProbe};
use crate::ui::Printer;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `pactown status`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The ecosystem file (default: the only *.pactown.yaml in the current folder).
    pub file: Option<PathBuf>,
    /// The ecosystem name, when the file cannot be read.
    #[arg(long)]
    pub name: Option<String>,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Container engine.
    #[arg(long, env = "PACTOWN_ENGINE", value_enum)]
    pub engine: Option<EngineChoice>,
    /// Address the side-by-side copy of this tenant (`up --tenant`).
    #[arg(long, value_name = "NAME", env = "PACTOWN_TENANT")]
    pub tenant: Option<String>,
}

/// Runs `pactown status`.
///
/// # Errors
/// No ecosystem name; engine errors.
pub async fn run(args: Args, printer: &Printer) -> Result<ExitCode, Error> {
    let target = orchestrator::target(args.file.as_deref(), args.name.as_deref())?
        .with_tenant(args.tenant.as_deref(), None)?;
    let engine = orchestrator::connect(args.engine, target.ecosystem.as_ref()).await?;
    let mut report = orchestrator::status(
        engine.as_ref(),
        &HttpProbe,
        &target.name,
        target.ecosystem.as_ref(),
    )
    .await?;
    if let Some(journal) = Journal::for_ecosystem(&target.name) {
        apply_journal(&mut report, &journal, args.tenant.as_deref(), printer);
    }
    if args.json {
        let text = serde_json::to_string_pretty(&report)
            .map_err(|e| Error::Other(format!("cannot write JSON: {e}")))?;
        printer.out(&text);
    } else {
        printer.out(&render_table(&report));
    }
    Ok(ExitCode::SUCCESS)
}
