//! Per-service build progress: an indicatif spinner per service when stderr is a terminal, plain
//! status lines otherwise (build output only with `--verbose`).
#![allow(clippy::print_stderr)]

use super::{Printer, Verbosity};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// Shows build events of several services at once.
#[derive(Debug)]
pub struct BuildProgressView {
    printer: Printer,
    multi: Option<MultiProgress>,
    bars: Mutex<BTreeMap<String, ProgressBar>>,
}

impl BuildProgressView {
    /// A view; bars only when stderr is a terminal and output is not quiet.
    #[must_use]
    pub fn new(printer: &Printer) -> Self {
        let bars_on = printer.is_tty() && printer.verbosity != Verbosity::Quiet;
        Self {
            printer: printer.clone(),
            multi: bars_on
                .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10))),
            bars: Mutex::new(BTreeMap::new()),
        }
    }

    fn with_bar(&self, service: &str, f: impl FnOnce(&ProgressBar)) {
        let Some(multi) = &self.multi else { return };
        let Ok(mut bars) = self.bars.lock() else {
            return;
        };
        let bar = bars.entry(service.to_string()).or_insert_with(|| {
            let bar = multi.add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {prefix:.bold} {wide_msg} {elapsed:>4}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_prefix(service.to_string());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        f(bar);
    }

    /// A service's build started.
    pub fn started(&self, service: &str, tag: &str) {
        if self.multi.is_some() {
            self.with_bar(service, |b| b.set_message(tag.to_string()));
        } else {
            self.printer.info(&format!("{service}: {tag}"));
        }
    }

    /// A line of build output.
    pub fn line(&self, service: &str, line: &str) {
        if self.multi.is_some() {
            let plain = console::strip_ansi_codes(line);
            let short: String = plain.trim().chars().take(100).collect();
            if !short.is_empty() {
                self.with_bar(service, |b| b.set_message(short));
            }
        } else {
            self.printer
                .debug(&format!("{service} | {}", console::strip_ansi_codes(line)));
        }
    }

    /// A service's image is ready.
    pub fn finished(&self, service: &str, cached: bool) {
        let what = if cached { "cached (no build)" } else { "built" };
        if self.multi.is_some() {
            self.with_bar(service, |b| b.finish_with_message(what.to_string()));
        } else {
            self.printer.info(&format!("{service}: {what}"));
        }
    }

    /// Removes all bars (before printing results or errors).
    pub fn clear(&self) {
        if let Some(multi) = &self.multi {
            let _ = multi.clear();
        }
    }
}
