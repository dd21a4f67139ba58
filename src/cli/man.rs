//! `pactown man [-o DIR]`: man pages generated from the CLI definition — `pactown(1)` on stdout,
//! or with `-o` one page per command (`pactown.1`, `pactown-up.1`, …) written into DIR.
use super::Cli;
use crate::error::Error;
use crate::ui::Printer;
use clap::CommandFactory;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `pactown man`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write `pactown.1` and a page per command into this folder (created when missing;
    /// only those files are written), e.g. `/usr/local/share/man/man1`.
    #[arg(short, long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

/// Prints or writes the pages.
///
/// # Errors
/// The folder cannot be created or written.
pub fn run(args: &Args, printer: &Printer) -> Result<ExitCode, Error> {
    let cmd = Cli::command();
    let Some(dir) = &args.out_dir else {
        let mut page = Vec::new();
        clap_mangen::Man::new(cmd)
            .render(&mut page)
            .map_err(|e| Error::io("cannot render the man page", e))?;
        return super::completions::write_stdout(&page);
    };
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
    clap_mangen::generate_to(cmd, dir)
        .map_err(|e| Error::io(format!("cannot write man pages into {}", dir.display()), e))?;
    printer.info(&format!("man pages written to {}", dir.display()));
    Ok(ExitCode::SUCCESS)
}
