//! `pactown status` (alias `ps`): what runs, from the engine's labels, with health probed now
//! (recorded in the event journal, which also flags repeated health failures).
use crate::deploy::HttpProbe;
use crate::error::Error;
use crate::observe::journal::Journal;
use crate::observe::status::apply_journal;
use crate::ui::Printer;
use std::process::ExitCode;

/// Arguments of `pactown status`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: super::target::TargetArgs,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Runs `pactown status`.
///
/// # Errors
/// No ecosystem name; engine errors.
pub async fn run(
    args: Args,
    globals: &super::Globals,
    printer: &Printer,
) -> Result<ExitCode, Error> {
    let (target, engine) = args.target.connect(globals).await?;
    let mut report = crate::observe::status(
        engine.as_ref(),
        &HttpProbe,
        &target.name,
        target.ecosystem.as_ref(),
    )
    .await?;
    if let Some(journal) = Journal::for_ecosystem(&target.name) {
        apply_journal(
            &mut report,
            &journal,
            args.target.tenant.as_deref(),
            printer,
        );
    }
    if args.json {
        let text = serde_json::to_string_pretty(&report).map_err(Error::json("write JSON"))?;
        printer.out(&text);
    } else {
        printer.out(&crate::ui::status::table(&report));
    }
    Ok(ExitCode::SUCCESS)
}
