//! Rendering [`DeployEvent`]s: text lines on stderr (as JSON lines with `--log-format json`,
//! the event's fields beside the message), or the bare event as one JSON line on stdout
//! (`watch --json`).
use super::Printer;
use crate::deploy::event::{DeployEvent, Sink};
use std::sync::Arc;

/// How events are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventOutput {
    /// Human text on stderr (JSON lines when the printer is in JSON mode).
    Text,
    /// One JSON object per event on stdout.
    JsonLines,
}

/// A sink rendering every event with `printer`.
#[must_use]
pub fn sink(printer: &Printer, output: EventOutput) -> Sink {
    let p = printer.clone();
    Arc::new(move |e: &DeployEvent| show(&p, output, e))
}

#[derive(Clone, Copy)]
enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

fn say(p: &Printer, level: Level, text: &str, e: &DeployEvent) {
    if p.json {
        let enabled = match level {
            Level::Debug => p.verbosity == super::Verbosity::Verbose,
            Level::Info | Level::Warn => p.verbosity != super::Verbosity::Quiet,
            Level::Error => true,
        };
        if enabled {
            let name = match level {
                Level::Debug => "debug",
                Level::Info => "info",
                Level::Warn => "warn",
                Level::Error => "error",
            };
            p.json_line(name, text, serde_json::to_value(e).ok());
        }
        return;
    }
    match level {
        Level::Debug => p.debug(text),
        Level::Info => p.info(text),
        Level::Warn => p.warn(text),
        Level::Error => p.error(text),
    }
}

fn url(service: &str, host_port: Option<u16>) -> String {
    // the ingress's scheme is the file's (`tls:`); its host names follow in the summary
    let scheme = if service == crate::config::ingress::INGRESS_SERVICE {
        ""
    } else {
        "http://"
    };
    host_port
        .map(|h| format!(" at {scheme}127.0.0.1:{h}"))
        .unwrap_or_default()
}

/// Shows one event.
pub fn show(p: &Printer, output: EventOutput, e: &DeployEvent) {
    if output == EventOutput::JsonLines {
        match serde_json::to_string(e) {
            Ok(line) => p.out(&line),
            Err(err) => p.error(&format!("cannot write JSON event: {err}")),
        }
        return;
    }
    let ok = p.paint("✔", console::Style::new().green());
    match e {
        DeployEvent::Watching { files, .. } => {
            say(
                p,
                Level::Info,
                &format!("watching {} files for changes", files.len()),
                e,
            );
            for f in files {
                p.debug(&format!("  {}", f.display()));
            }
        }
        DeployEvent::Changed { files } => {
            let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
            say(
                p,
                Level::Info,
                &format!("↻ changed: {}", names.join(", ")),
                e,
            );
        }
        DeployEvent::Invalid { diagnostics } => {
            p.diagnostics(diagnostics);
            p.warn("not applied; the running version keeps serving");
        }
        DeployEvent::Building { service, tag } => {
            say(p, Level::Debug, &format!("{service}: image {tag}"), e);
        }
        DeployEvent::BuildLine { service, line } => {
            say(p, Level::Debug, &format!("{service} | {line}"), e);
        }
        DeployEvent::Built { image } => {
            let cached = image.steps.iter().filter(|s| s.cached).count();
            say(
                p,
                Level::Info,
                &format!(
                    "  {} image built in {:.2}s ({cached}/{} steps from cache)",
                    image.service,
                    image.seconds,
                    image.steps.len()
                ),
                e,
            );
        }
        DeployEvent::Created { service, container } => {
            say(
                p,
                Level::Debug,
                &format!("{service}: created {container}"),
                e,
            );
        }
        DeployEvent::PortMoved {
            service,
            wanted,
            used,
        } => say(
            p,
            Level::Warn,
            &format!(
                "{service}: host port {wanted} is busy, published on 127.0.0.1:{used} instead"
            ),
            e,
        ),
        DeployEvent::Started {
            service,
            id,
            host_port,
            ..
        } => say(
            p,
            Level::Debug,
            &format!("{service}: started {id:.12}{}", url(service, *host_port)),
            e,
        ),
        DeployEvent::Replaced {
            service,
            host_port,
            downtime_ms,
            proxied,
            ..
        } => say(
            p,
            Level::Info,
            &if *proxied {
                format!(
                    "{ok} {service} replaced with no gap through the ingress (its own port: {downtime_ms}ms){}",
                    url(service, *host_port)
                )
            } else {
                format!(
                    "{ok} {service} replaced, serving again after {downtime_ms}ms{}",
                    url(service, *host_port)
                )
            },
            e,
        ),
        DeployEvent::Ready {
            service,
            job,
            changed,
            seconds,
            host_port,
        } => {
            let text = match (job, changed) {
                (true, true) => format!("{ok} {service} completed in {seconds:.2}s"),
                (true, false) => format!("  {service} unchanged, completed before"),
                (false, true) => {
                    format!(
                        "{ok} {service} healthy in {seconds:.2}s{}",
                        url(service, *host_port)
                    )
                }
                (false, false) => {
                    format!("  {service} unchanged, healthy{}", url(service, *host_port))
                }
            };
            say(p, Level::Info, &text, e);
        }
        DeployEvent::Restarted {
            service,
            job,
            seconds,
            host_port,
        } => {
            let text = if *job {
                format!("{ok} {service} ran again, completed in {seconds:.2}s")
            } else {
                format!(
                    "{ok} {service} restarted, healthy in {seconds:.2}s{}",
                    url(service, *host_port)
                )
            };
            say(p, Level::Info, &text, e);
        }
        DeployEvent::RolledBack {
            service,
            reason,
            log,
            id,
            ..
        } => {
            say(
                p,
                Level::Error,
                &format!("new version of {service} failed: {reason}"),
                e,
            );
            for line in log {
                p.info(&format!("  {service} | {line}"));
            }
            if id.is_some() {
                p.warn(&format!("{service}: the previous version runs again"));
            }
        }
        DeployEvent::Removed { service, id } => say(
            p,
            Level::Info,
            &format!("  {service}: removed container {id:.12}"),
            e,
        ),
        DeployEvent::Unhealthy {
            service,
            reason,
            log,
        } => {
            say(
                p,
                Level::Error,
                &format!("{service} is not healthy: {reason}"),
                e,
            );
            for line in log {
                p.info(&format!("  {service} | {line}"));
            }
            p.warn(&format!(
                "{service}: fix its README and save; watching goes on, the other services keep running"
            ));
        }
        DeployEvent::NotStarted {
            service,
            dependency,
        } => say(
            p,
            Level::Warn,
            &format!("{service}: not started because its dependency `{dependency}` is not healthy"),
            e,
        ),
        DeployEvent::Warning { message } => say(p, Level::Warn, message, e),
        DeployEvent::Failed { service, message } => match service {
            Some(s) => say(p, Level::Error, &format!("{s}: {message}"), e),
            None => say(p, Level::Error, message, e),
        },
        DeployEvent::Reconciled { changed, ms, .. } => {
            if !changed.is_empty() {
                say(
                    p,
                    Level::Info,
                    &format!("  applied in {ms}ms: {}", changed.join(", ")),
                    e,
                );
            }
        }
    }
}
