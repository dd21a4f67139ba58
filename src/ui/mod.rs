//! All terminal output goes through [`Printer`]: machine output on stdout, everything for humans
//! (progress, warnings, errors) on stderr. Progress bars draw only when stderr is a terminal.
#![allow(clippy::print_stdout, clippy::print_stderr)]

pub mod live;
pub mod progress;

use crate::diagnostic::{Diagnostic, Severity};
use std::io::{IsTerminal, Write};

/// How chatty the output is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Verbosity {
    /// Only errors and machine output.
    Quiet,
    /// Normal progress lines.
    #[default]
    Normal,
    /// Also debug details.
    Verbose,
}

/// The one owner of terminal output.
#[derive(Debug, Clone, Default)]
pub struct Printer {
    /// How much to print on stderr.
    pub verbosity: Verbosity,
    /// Whether stderr gets colour.
    pub color: bool,
}

impl Printer {
    /// A printer for the given verbosity; colour when stderr is a terminal and `NO_COLOR` is unset.
    #[must_use]
    pub fn new(verbosity: Verbosity) -> Self {
        let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        Self { verbosity, color }
    }

    /// True when stderr is a terminal (progress bars may be drawn).
    #[must_use]
    pub fn is_tty(&self) -> bool {
        std::io::stderr().is_terminal()
    }

    /// Machine- or user-requested output on stdout (tables, JSON, generated files).
    pub fn out(&self, text: &str) {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{text}");
        let _ = stdout.flush();
    }

    /// A progress/status line on stderr (hidden with `--quiet`).
    pub fn info(&self, text: &str) {
        if self.verbosity != Verbosity::Quiet {
            eprintln!("{text}");
        }
    }

    /// A debug line on stderr (only with `--verbose`).
    pub fn debug(&self, text: &str) {
        if self.verbosity == Verbosity::Verbose {
            eprintln!("{}", self.paint(text, console::Style::new().dim()));
        }
    }

    /// A warning on stderr.
    pub fn warn(&self, text: &str) {
        if self.verbosity != Verbosity::Quiet {
            eprintln!(
                "{} {text}",
                self.paint("warning:", console::Style::new().yellow().bold())
            );
        }
    }

    /// An error on stderr (always shown).
    pub fn error(&self, text: &str) {
        eprintln!(
            "{} {text}",
            self.paint("error:", console::Style::new().red().bold())
        );
    }

    /// Diagnostics on stderr, errors always, warnings unless quiet.
    pub fn diagnostics<'a>(&self, diags: impl IntoIterator<Item = &'a Diagnostic>) {
        for d in diags {
            if d.severity == Severity::Warning && self.verbosity == Verbosity::Quiet {
                continue;
            }
            let text = d.to_string();
            let style = match d.severity {
                Severity::Error => console::Style::new().red(),
                Severity::Warning => console::Style::new().yellow(),
            };
            eprintln!("{}", self.paint(&text, style));
        }
    }

    /// Applies a style when colour is on.
    #[must_use]
    pub fn paint(&self, text: &str, style: console::Style) -> String {
        if self.color {
            style.force_styling(true).apply_to(text).to_string()
        } else {
            text.to_string()
        }
    }
}
