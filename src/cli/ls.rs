//! `pactown ls`: every ecosystem on the engine, with how many of its containers run.
use crate::config::EngineChoice;
use crate::error::Error;
use crate::observe::inventory;
use crate::ui::Printer;
use std::process::ExitCode;

/// Arguments of `pactown ls`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON on stdout (an array, one object per ecosystem).
    #[arg(long)]
    pub json: bool,
    /// Container engine.
    #[arg(long, env = "PACTOWN_ENGINE", value_enum)]
    pub engine: Option<EngineChoice>,
}

/// Runs `pactown ls`.
///
/// # Errors
/// Engine errors.
pub async fn run(args: Args, printer: &Printer) -> Result<ExitCode, Error> {
    let engine = crate::deploy::connect(args.engine, None).await?;
    let list = inventory::ecosystems(engine.as_ref()).await?;
    if args.json {
        let json = serde_json::to_string_pretty(&list).map_err(Error::json("render JSON"))?;
        printer.out(&json);
    } else if list.is_empty() {
        printer.info(&format!("no ecosystems on {}", engine.kind()));
    } else {
        printer.out(crate::ui::inventory::table(&list).trim_end());
    }
    Ok(ExitCode::SUCCESS)
}
