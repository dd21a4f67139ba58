//! `pactown watch` (= `pactown up --watch`): bring the ecosystem up, then rebuild and replace a
//! service whenever its README changes and reconcile when the ecosystem file changes, with the
//! live status view and the logs in the foreground (or JSON events with `--json`).
use crate::deploy::watch::{watch, Session, WatchEvent, WatchOptions};
use crate::deploy::HttpProbe;
use crate::engine::Engine;
use crate::error::Error;
use crate::observe::follow::{Follower, LineSink};
use crate::observe::status::{status, StatusReport};
use crate::ui::live::{LiveRow, LiveView};
use crate::ui::Printer;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Arguments of `pactown watch`.
#[derive(Debug, clap::Args)]
#[group(id = "WatchArgs")]
pub struct Args {
    /// Everything `up` takes.
    #[command(flatten)]
    pub up: super::up::Args,
    /// Print watch events as JSON lines on stdout (no live view, no logs).
    #[arg(long)]
    pub json: bool,
}

/// Runs `pactown watch`.
///
/// # Errors
/// As `pactown up`.
pub async fn run(mut args: Args, printer: &Printer) -> Result<ExitCode, Error> {
    if args.up.detach {
        return Err(Error::Other(
            "`pactown watch` runs in the foreground; drop --detach".into(),
        ));
    }
    args.up.watch = true;
    super::up::run_with(args.up, args.json, printer).await
}

/// What the foreground part does.
#[derive(Debug, Clone)]
pub(super) struct Foreground {
    /// Watch the files and reconcile on change.
    pub watch: bool,
    /// JSON events on stdout instead of the live view and logs.
    pub json: bool,
    /// Watch options (build and deploy options as `up` used them).
    pub opts: WatchOptions,
}

/// The foreground part of `up`: live status view + logs (+ the watch loop) until Ctrl+C.
///
/// # Errors
/// The file watcher or the engine fails at the start.
pub(super) async fn foreground(
    engine: Arc<dyn Engine>,
    file: &Path,
    name: &str,
    fg: Foreground,
    printer: &Printer,
) -> Result<(), Error> {
    let view = Arc::new(if fg.json {
        LiveView::with_mode(printer, false)
    } else {
        LiveView::new(printer)
    });
    let follower = Follower::new();
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };

    // logs
    let logs = if fg.json {
        None
    } else {
        let v = Arc::clone(&view);
        let sink: LineSink = Arc::new(move |line: String| v.log(&line));
        let color = view.is_live();
        let engine = Arc::clone(&engine);
        let name = name.to_string();
        let follower = follower.clone();
        let stop = stopped();
        Some(tokio::spawn(async move {
            follower
                .run(engine, &name, color, Duration::from_secs(2), sink, stop)
                .await
        }))
    };
    // status table
    let table = if fg.json {
        None
    } else {
        let v = Arc::clone(&view);
        let engine = Arc::clone(&engine);
        let name = name.to_string();
        let stop = stopped();
        Some(tokio::spawn(async move {
            tokio::pin!(stop);
            loop {
                if let Ok(report) = status(engine.as_ref(), &HttpProbe, &name, None).await {
                    let title = format!(
                        "pactown · {} on {} · Ctrl+C stops",
                        report.ecosystem, report.engine
                    );
                    v.show(&title, &live_rows(&report));
                }
                tokio::select! {
                    () = &mut stop => break,
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }))
    };

    let result = if fg.watch {
        let mut session = Session::new(
            Arc::clone(&engine),
            Arc::new(HttpProbe),
            file,
            name,
            fg.opts.clone(),
            printer,
        );
        let p = printer.clone();
        let json = fg.json;
        let f = follower.clone();
        let on_event = move |e: WatchEvent| {
            if matches!(
                e,
                WatchEvent::Replaced { .. }
                    | WatchEvent::Started { .. }
                    | WatchEvent::RolledBack { .. }
            ) {
                f.rescan();
            }
            show_event(&p, json, &e);
        };
        watch(&mut session, &on_event, ctrl_c).await
    } else {
        if !view.is_live() {
            printer.info("following logs; Ctrl+C stops the ecosystem");
        }
        ctrl_c.await;
        Ok(())
    };
    let _ = stop_tx.send(true);
    if let Some(t) = table {
        let _ = t.await;
    }
    if let Some(t) = logs {
        let _ = t.await;
    }
    view.finish();
    result
}

/// The live table's rows from a status report.
fn live_rows(report: &StatusReport) -> Vec<LiveRow> {
    report
        .services
        .iter()
        .map(|s| LiveRow {
            service: s.service.clone(),
            state: s.state.clone(),
            health: s
                .health
                .as_ref()
                .filter(|h| h.healthy)
                .map(|h| format!("{:.1}ms", h.latency_ms.unwrap_or(0.0))),
            unhealthy: s.health.as_ref().is_some_and(|h| !h.healthy),
            restarts: s.restarts,
            url: s.url.clone(),
        })
        .collect()
}

/// A watch event for humans (stderr) or as a JSON line (stdout).
fn show_event(p: &Printer, json: bool, e: &WatchEvent) {
    if json {
        match serde_json::to_string(e) {
            Ok(line) => p.out(&line),
            Err(err) => p.error(&format!("cannot write JSON event: {err}")),
        }
        return;
    }
    let ok = p.paint("✔", console::Style::new().green());
    match e {
        WatchEvent::Watching { files, .. } => {
            p.info(&format!("watching {} files for changes", files.len()));
            for f in files {
                p.debug(&format!("  {}", f.display()));
            }
        }
        WatchEvent::Changed { files } => {
            let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
            p.info(&format!("↻ changed: {}", names.join(", ")));
        }
        WatchEvent::Invalid { diagnostics } => {
            p.diagnostics(diagnostics);
            p.warn("not applied; the running version keeps serving");
        }
        WatchEvent::Built { image } => {
            let cached = image.steps.iter().filter(|s| s.cached).count();
            p.info(&format!(
                "  {} image built in {:.2}s ({cached}/{} steps from cache)",
                image.service,
                image.seconds,
                image.steps.len()
            ));
        }
        WatchEvent::Replaced {
            service,
            host_port,
            downtime_ms,
            ..
        } => p.info(&format!(
            "{ok} {service} replaced, serving again after {downtime_ms}ms{}",
            host_port
                .map(|h| format!(" at http://127.0.0.1:{h}"))
                .unwrap_or_default()
        )),
        WatchEvent::RolledBack {
            service,
            reason,
            log,
            id,
            ..
        } => {
            p.error(&format!("new version of {service} failed: {reason}"));
            for line in log {
                p.info(&format!("  {service} | {line}"));
            }
            if id.is_some() {
                p.warn(&format!("{service}: the previous version runs again"));
            }
        }
        WatchEvent::Started {
            service, host_port, ..
        } => p.info(&format!(
            "{ok} {service} started{}",
            host_port
                .map(|h| format!(" at http://127.0.0.1:{h}"))
                .unwrap_or_default()
        )),
        WatchEvent::Removed { service, id } => {
            p.info(&format!("  {service}: removed container {id:.12}"));
        }
        WatchEvent::Unhealthy {
            service,
            reason,
            log,
        } => {
            p.error(&format!("{service} is not healthy: {reason}"));
            for line in log {
                p.info(&format!("  {service} | {line}"));
            }
            p.warn(&format!(
                "{service}: fix its README and save; watching goes on, the other services keep running"
            ));
        }
        WatchEvent::Failed { service, message } => match service {
            Some(s) => p.error(&format!(
                "{s}: {message} (the running version keeps serving)"
            )),
            None => p.error(message),
        },
        WatchEvent::Reconciled { changed, ms, .. } => {
            if !changed.is_empty() {
                p.info(&format!("  applied in {ms}ms: {}", changed.join(", ")));
            }
        }
    }
}

/// The watch options matching `up`'s build and deploy options.
pub(super) fn options(
    build: crate::image::BuildOptions,
    deploy: crate::deploy::DeployOptions,
) -> WatchOptions {
    WatchOptions {
        build,
        deploy,
        ..WatchOptions::default()
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    #[test]
    fn watch_and_up_watch_parse() {
        super::super::Cli::command().debug_assert();
        let cli = super::super::Cli::try_parse_from(["pactown", "watch", "x.yaml", "--json"]);
        assert!(
            matches!(cli.map(|c| c.command), Ok(super::super::Command::Watch(a)) if a.json),
            "watch --json parses"
        );
        let cli = super::super::Cli::try_parse_from(["pactown", "up", "--watch", "-d"]);
        assert!(cli.is_err(), "--watch conflicts with --detach");
        for args in [
            &["pactown", "up", "--watch", "--tenant", "acme"][..],
            &[
                "pactown",
                "watch",
                "--tenant",
                "acme",
                "--port-offset",
                "1000",
            ][..],
            &["pactown", "restart", "x.yaml", "api", "--tenant", "acme"][..],
            &["pactown", "events", "-f", "--health-interval", "1"][..],
        ] {
            let cli = super::super::Cli::try_parse_from(args);
            assert!(cli.is_ok(), "{args:?}: {:?}", cli.err());
        }
    }
}
