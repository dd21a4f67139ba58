//! The live view of `pactown up` in the foreground: on a terminal, the status table stays at the
//! top of the screen and is redrawn in place, while log lines scroll below it (a terminal scroll
//! region, DECSTBM). When stdout is not a terminal, `NO_COLOR` is set or output is quiet, it
//! falls back to plain lines: log lines as they come, and one line per service whose state
//! changed.
#![allow(clippy::print_stdout)]

use super::{Printer, Verbosity};
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;

/// One service row of the live table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveRow {
    /// Service name.
    pub service: String,
    /// `running`, `partial`, `exited`…
    pub state: String,
    /// `Some(latency)` text when the health probe succeeded, `None` when it failed or none ran.
    pub health: Option<String>,
    /// True when a probe ran and failed.
    pub unhealthy: bool,
    /// Restarts done by the engine.
    pub restarts: u64,
    /// `http://127.0.0.1:<port>`.
    pub url: Option<String>,
}

impl LiveRow {
    fn health_text(&self) -> String {
        match (&self.health, self.unhealthy) {
            (Some(l), _) => format!("healthy {l}"),
            (None, true) => "unhealthy".to_string(),
            (None, false) => "-".to_string(),
        }
    }
}

#[derive(Debug, Default)]
struct Inner {
    /// Lines of the table currently drawn (live mode).
    drawn: usize,
    /// Terminal size the scroll region was set for.
    size: Option<(u16, u16)>,
    /// Last state line per service (plain mode).
    last: BTreeMap<String, String>,
}

/// Owns stdout while `up` runs in the foreground.
#[derive(Debug)]
pub struct LiveView {
    printer: Printer,
    live: bool,
    inner: Mutex<Inner>,
}

impl LiveView {
    /// Live on a terminal stdout without `NO_COLOR` and not quiet; plain lines otherwise.
    #[must_use]
    pub fn new(printer: &Printer) -> Self {
        let live = std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none()
            && printer.verbosity != Verbosity::Quiet;
        Self::with_mode(printer, live)
    }

    /// A view in the given mode.
    #[must_use]
    pub fn with_mode(printer: &Printer, live: bool) -> Self {
        Self {
            printer: printer.clone(),
            live,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// True when the table is drawn in place.
    #[must_use]
    pub fn is_live(&self) -> bool {
        self.live
    }

    /// Shows the current status: redraws the table (live) or prints the services whose state
    /// or health changed (plain).
    pub fn show(&self, title: &str, rows: &[LiveRow]) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if !self.live {
            for r in rows {
                let line = format!(
                    "{}: {} {}{}",
                    r.service,
                    r.state,
                    if r.health.is_some() {
                        "healthy"
                    } else if r.unhealthy {
                        "unhealthy"
                    } else {
                        "-"
                    },
                    r.url.as_ref().map(|u| format!(" {u}")).unwrap_or_default()
                );
                if inner.last.get(&r.service) != Some(&line) {
                    self.printer.info(&format!("status {line}"));
                    inner.last.insert(r.service.clone(), line);
                }
            }
            return;
        }
        let size = console::Term::stdout().size();
        let mut table = vec![title.to_string()];
        table.extend(render_rows(rows, true));
        let reset = inner.size != Some(size) || inner.drawn != table.len();
        let text = frame(&table, size, reset);
        inner.size = Some(size);
        inner.drawn = table.len();
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }

    /// A log line: scrolls below the table (live) or is printed as is (plain).
    pub fn log(&self, line: &str) {
        if self.live {
            // the lock keeps a table redraw from splitting the line
            let _guard = self.inner.lock();
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        } else {
            self.printer.out(line);
        }
    }

    /// Gives the whole screen back (resets the scroll region, cursor to the last line).
    pub fn finish(&self) {
        if !self.live {
            return;
        }
        let Ok(inner) = self.inner.lock() else {
            return;
        };
        if let Some((rows, _)) = inner.size {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "\x1b[r\x1b[{rows};1H");
            let _ = out.flush();
        }
    }
}

/// The table: header plus one line per service (`SERVICE STATE HEALTH RESTARTS URL`), columns
/// padded to the widest cell; states coloured when `color`.
#[must_use]
pub fn render_rows(rows: &[LiveRow], color: bool) -> Vec<String> {
    let mut cells: Vec<[String; 5]> = vec![[
        "SERVICE".into(),
        "STATE".into(),
        "HEALTH".into(),
        "RESTARTS".into(),
        "URL".into(),
    ]];
    for r in rows {
        cells.push([
            r.service.clone(),
            r.state.clone(),
            r.health_text(),
            r.restarts.to_string(),
            r.url.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    let mut widths = [0usize; 5];
    for c in &cells {
        for (w, cell) in widths.iter_mut().zip(c.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    cells
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let padded: Vec<String> = c
                .iter()
                .zip(widths.iter())
                .enumerate()
                .map(|(col, (cell, w))| {
                    let text = format!("{cell:<w$}");
                    if !color || i == 0 {
                        return text;
                    }
                    let style = match (col, cell.as_str()) {
                        (1, "running") => console::Style::new().green(),
                        (1, _) => console::Style::new().red(),
                        (2, h) if h.starts_with("healthy") => console::Style::new().green(),
                        (2, "unhealthy") => console::Style::new().red(),
                        _ => return text,
                    };
                    style.force_styling(true).apply_to(text).to_string()
                })
                .collect();
            let line = padded.join("  ").trim_end().to_string();
            if color && i == 0 {
                console::Style::new()
                    .bold()
                    .force_styling(true)
                    .apply_to(line)
                    .to_string()
            } else {
                line
            }
        })
        .collect()
}

/// The escape sequence that draws `table` on the first lines of a `(rows, cols)` terminal and
/// keeps the cursor in the scroll region below it. With `reset`, the screen is cleared and the
/// region set again (first draw, resize, or a table of another height).
#[must_use]
pub fn frame(table: &[String], (rows, cols): (u16, u16), reset: bool) -> String {
    let height = table.len() + 1; // the table, then a blank separator line
    let mut s = String::new();
    if reset {
        let top = (height + 1).min(usize::from(rows));
        s.push_str(&format!("\x1b[r\x1b[2J\x1b[{top};{rows}r\x1b[{rows};1H"));
    }
    s.push_str("\x1b7");
    for (i, line) in table
        .iter()
        .chain(std::iter::once(&String::new()))
        .enumerate()
    {
        if i >= usize::from(rows).saturating_sub(1) {
            break;
        }
        s.push_str(&format!(
            "\x1b[{};1H\x1b[2K{}",
            i + 1,
            console::truncate_str(line, usize::from(cols), "…")
        ));
    }
    s.push_str("\x1b8");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(service: &str, state: &str, health: Option<&str>) -> LiveRow {
        LiveRow {
            service: service.into(),
            state: state.into(),
            health: health.map(str::to_string),
            unhealthy: health.is_none(),
            restarts: 1,
            url: Some("http://127.0.0.1:8100".into()),
        }
    }

    #[test]
    fn table_is_aligned() {
        let lines = render_rows(
            &[
                row("api", "running", Some("2.1ms")),
                row("gateway", "exited", None),
            ],
            false,
        );
        assert_eq!(
            lines,
            vec![
                "SERVICE  STATE    HEALTH         RESTARTS  URL",
                "api      running  healthy 2.1ms  1         http://127.0.0.1:8100",
                "gateway  exited   unhealthy      1         http://127.0.0.1:8100",
            ]
        );
    }

    #[test]
    fn frame_sets_region_below_table_and_restores_cursor() {
        let table = vec!["t".to_string(), "a".to_string()];
        let f = frame(&table, (40, 80), true);
        // table (2 lines) + separator = 3 lines, the logs scroll in lines 4..=40
        assert!(f.starts_with("\x1b[r\x1b[2J\x1b[4;40r\x1b[40;1H"), "{f:?}");
        assert!(f.contains("\x1b7\x1b[1;1H\x1b[2Kt\x1b[2;1H\x1b[2Ka\x1b[3;1H\x1b[2K\x1b8"));
        let redraw = frame(&table, (40, 80), false);
        assert!(redraw.starts_with("\x1b7"), "no reset on a plain redraw");
        let narrow = frame(&["abcdefghij".to_string()], (10, 5), false);
        assert!(narrow.contains("abcd…"), "{narrow:?}");
    }

    #[test]
    fn plain_mode_reports_changes_once() {
        let view = LiveView::with_mode(&Printer::default(), false);
        view.show("x", &[row("api", "running", Some("1ms"))]);
        let first = view.inner.lock().unwrap().last.clone();
        // latency changes alone do not make a new line
        view.show("x", &[row("api", "running", Some("9ms"))]);
        assert_eq!(view.inner.lock().unwrap().last, first);
        view.show("x", &[row("api", "exited", None)]);
        assert_ne!(view.inner.lock().unwrap().last, first);
    }
}
