//! `pactown completions SHELL`: the shell completion script, generated from the CLI definition.
use super::Cli;
use crate::error::Error;
use crate::ui::Printer;
use clap::CommandFactory;
use std::io::Write;
use std::process::ExitCode;

/// Arguments of `pactown completions`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell: bash, zsh, fish, elvish or powershell. Install e.g. with
    /// `pactown completions bash > /etc/bash_completion.d/pactown`.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Prints the script on stdout.
///
/// # Errors
/// stdout cannot be written (a closed pipe, as with `| head`, ends quietly).
pub fn run(args: &Args, _printer: &Printer) -> Result<ExitCode, Error> {
    // into memory first: clap_complete panics when its writer fails
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "pactown", &mut script);
    write_stdout(&script)
}

/// Writes `bytes` to stdout; a reader that went away (broken pipe) is not an error.
pub(super) fn write_stdout(bytes: &[u8]) -> Result<ExitCode, Error> {
    match std::io::stdout().lock().write_all(bytes) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Error::io("cannot write to stdout", e))
        }
        _ => Ok(ExitCode::SUCCESS),
    }
}
