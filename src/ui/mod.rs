//! All terminal output goes through [`Printer`]: machine output on stdout, everything for humans
//! (progress, warnings, errors) on stderr. Progress bars draw only when stderr is a terminal.
#![allow(clippy::print_stdout, clippy::print_stderr)]

pub mod events;
pub mod inventory;
pub mod live;
pub mod progress;
pub mod status;
pub mod table;
pub mod terminal;
pub mod trace;

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
    /// Secret values replaced by `***` in everything printed (see [`crate::secrets`]).
    pub secrets: std::sync::Arc<Vec<String>>,
    /// Messages on stderr as JSON lines (`--log-format json`).
    pub json: bool,
}

impl Printer {
    /// A printer for the given verbosity; colour when stderr is a terminal and `NO_COLOR` is unset.
    #[must_use]
    pub fn new(verbosity: Verbosity) -> Self {
        let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        Self {
            verbosity,
            color,
            secrets: std::sync::Arc::default(),
            json: false,
        }
    }

    /// This printer, also masking the given secret values in everything it prints.
    #[must_use]
    pub fn with_secrets(mut self, values: Vec<String>) -> Self {
        let mut all: Vec<String> = self.secrets.as_ref().clone();
        all.extend(values);
        // longest first, so a value that contains another is masked whole
        all.sort_by_key(|v| std::cmp::Reverse(v.len()));
        all.dedup();
        self.secrets = std::sync::Arc::new(all);
        self
    }

    fn clean<'a>(&self, text: &'a str) -> std::borrow::Cow<'a, str> {
        if self.secrets.is_empty() {
            std::borrow::Cow::Borrowed(text)
        } else {
            std::borrow::Cow::Owned(crate::secrets::redact(text, &self.secrets))
        }
    }

    /// True when stderr is a terminal (progress bars may be drawn).
    #[must_use]
    pub fn is_tty(&self) -> bool {
        std::io::stderr().is_terminal()
    }

    /// Machine- or user-requested output on stdout (tables, JSON, generated files).
    pub fn out(&self, text: &str) {
        let text = self.clean(text);
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{text}");
        let _ = stdout.flush();
    }

    /// One JSON message line on stderr (`extra`'s fields are added to it).
    pub fn json_line(&self, level: &str, text: &str, extra: Option<serde_json::Value>) {
        let time = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let mut v = serde_json::json!({
            "time": (time * 1000.0).round() / 1000.0,
            "level": level,
            "message": console::strip_ansi_codes(&self.clean(text)),
        });
        if let (Some(serde_json::Value::Object(extra)), Some(obj)) = (extra, v.as_object_mut()) {
            obj.extend(extra);
        }
        eprintln!("{v}");
    }

    /// A progress/status line on stderr (hidden with `--quiet`).
    pub fn info(&self, text: &str) {
        if self.verbosity != Verbosity::Quiet {
            if self.json {
                return self.json_line("info", text, None);
            }
            eprintln!("{}", self.clean(text));
        }
    }

    /// A debug line on stderr (only with `--verbose`).
    pub fn debug(&self, text: &str) {
        if self.verbosity == Verbosity::Verbose {
            if self.json {
                return self.json_line("debug", text, None);
            }
            eprintln!(
                "{}",
                self.paint(&self.clean(text), console::Style::new().dim())
            );
        }
    }

    /// A warning on stderr.
    pub fn warn(&self, text: &str) {
        if self.verbosity != Verbosity::Quiet {
            if self.json {
                return self.json_line("warn", text, None);
            }
            eprintln!(
                "{} {}",
                self.paint("warning:", console::Style::new().yellow().bold()),
                self.clean(text)
            );
        }
    }

    /// An error on stderr (always shown).
    pub fn error(&self, text: &str) {
        if self.json {
            return self.json_line("error", text, None);
        }
        eprintln!(
            "{} {}",
            self.paint("error:", console::Style::new().red().bold()),
            self.clean(text)
        );
    }

    /// Diagnostics on stderr, errors always, warnings unless quiet.
    pub fn diagnostics<'a>(&self, diags: impl IntoIterator<Item = &'a Diagnostic>) {
        for d in diags {
            if d.severity == Severity::Warning && self.verbosity == Verbosity::Quiet {
                continue;
            }
            if self.json {
                let level = match d.severity {
                    Severity::Error => "error",
                    Severity::Warning => "warn",
                };
                self.json_line(
                    level,
                    &d.message,
                    Some(serde_json::json!({
                        "code": d.code.as_str(),
                        "file": d.file,
                        "line": d.line,
                        "column": d.column,
                        "hint": d.hint,
                    })),
                );
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
