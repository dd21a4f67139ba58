//! `pactown down`.
use crate::error::Error;
use crate::ui::Printer;
use std::process::ExitCode;

/// Arguments of `pactown down`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `pactown down`.
pub async fn run(args: Args, printer: &Printer) -> Result<ExitCode, Error> {
    let _ = (args, printer);
    Err(Error::Other("not implemented yet".into()))
}
