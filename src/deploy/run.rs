//! `pactown run README.md`: one README without an ecosystem file, through the same build,
//! hardening, deploy and health probe as `up` ([`super::up`]) — the project is the one-service
//! ecosystem of [`crate::project::single`]. Then, by mode:
//! - foreground: the program's output from its start until Ctrl+C (or until it exits for good),
//!   then everything is removed;
//! - detached (`-d`): returns once it is healthy, leaving it running;
//! - once (`--once`): the README runs as a job, its output is shown as it comes, and the result
//!   is the program's exit code; its container is removed afterwards.
use super::error::DeployError;
use super::health::HealthProbe;
use super::up::{check, deploy_project, UpOptions};
use super::{container_name, ServiceStatus};
use crate::engine::{Engine, LogQuery};
use crate::error::Error;
use crate::project::Project;
use crate::ui::Printer;
use futures_util::StreamExt;
use std::sync::Arc;
use std::time::Duration;

/// How `run` behaves once the service is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RunMode {
    /// Show its output until Ctrl+C, then remove it.
    #[default]
    Foreground,
    /// Return once it is healthy; it keeps running.
    Detach,
    /// Run it to completion and return its exit code.
    Once,
}

/// How a `run` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOutcome {
    /// Healthy and left running (`-d`).
    Detached {
        /// Its published host port.
        host_port: Option<u16>,
    },
    /// Stopped by Ctrl+C and removed.
    Interrupted,
    /// The program exited with this code (`--once`, or a foreground program that ended).
    Exited(i64),
}

/// Seconds the engine waits after SIGTERM when `run` removes the service.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs the one-service `project` ([`crate::project::single`]) in `mode`. Ctrl+C while it
/// builds or starts removes what was started, except with `-d`.
///
/// # Errors
/// Build and engine errors; with `-d` or in the foreground, `up`'s readiness errors (the
/// containers are removed again in the foreground).
pub async fn run(
    engine: Arc<dyn Engine>,
    probe: Arc<dyn HealthProbe>,
    project: &Project,
    mode: RunMode,
    opts: UpOptions,
    printer: &Printer,
) -> Result<RunOutcome, Error> {
    let eco = &project.ecosystem;
    let Some(service) = eco.services.first() else {
        return Err(DeployError::NothingToRun.into());
    };
    let container = container_name(&eco.name, &service.name, 1);
    let sink = crate::ui::events::sink(printer, crate::ui::events::EventOutput::Text);
    if mode == RunMode::Once {
        // a new run every time: the job of an earlier run (same name) is not kept as done
        super::down(&engine, &eco.name, STOP_TIMEOUT, false, &sink).await?;
    }
    let output = (mode == RunMode::Once).then(|| {
        tokio::spawn(stream_output(
            Arc::clone(&engine),
            container.clone(),
            printer.clone(),
        ))
    });
    let deployed = tokio::select! {
        r = deploy_project(Arc::clone(&engine), probe, project, opts, &sink) => r,
        _ = tokio::signal::ctrl_c() => {
            printer.warn("interrupted");
            if let Some(t) = &output {
                t.abort();
            }
            if mode != RunMode::Detach {
                super::down(&engine, &eco.name, STOP_TIMEOUT, false, &sink).await?;
            }
            return Ok(RunOutcome::Interrupted);
        }
    };
    let report = match deployed {
        Ok(r) => r,
        Err(e) => {
            if let Some(t) = &output {
                t.abort();
            }
            return Err(e);
        }
    };
    let outcome = report.outcomes.get(&service.name);
    if let Some(mut task) = output {
        // the job has ended (or never started): the rest of its output, then its exit code
        if tokio::time::timeout(Duration::from_secs(10), &mut task)
            .await
            .is_err()
        {
            task.abort();
        }
        let code = match outcome.map(|o| &o.status) {
            Some(ServiceStatus::Completed) => Some(0),
            _ => engine
                .inspect_container(&container)
                .await
                .ok()
                .filter(|d| !d.running && d.info.state == "exited")
                .and_then(|d| d.exit_code),
        };
        let Some(code) = code else {
            // it did not run to an exit (no start, time-out): the verdict of `up`
            let verdict = check(engine.as_ref(), &report, printer).await;
            super::down(&engine, &eco.name, STOP_TIMEOUT, false, &sink).await?;
            verdict?;
            return Err(DeployError::DidNotRun {
                service: service.name.clone(),
            }
            .into());
        };
        super::down(&engine, &eco.name, STOP_TIMEOUT, false, &sink).await?;
        return Ok(RunOutcome::Exited(code));
    }
    if let Err(e) = check(engine.as_ref(), &report, printer).await {
        if mode == RunMode::Foreground {
            super::down(&engine, &eco.name, STOP_TIMEOUT, false, &sink).await?;
        }
        return Err(e);
    }
    let host_port = outcome
        .and_then(|o| o.replicas.first())
        .and_then(|r| r.host_port);
    if let Some(p) = host_port {
        printer.info(&format!("  {} at http://127.0.0.1:{p}", service.name));
    }
    if mode == RunMode::Detach {
        printer.info(&format!(
            "  running detached; stop it with `pactown down --name {}`",
            eco.name
        ));
        return Ok(RunOutcome::Detached { host_port });
    }
    let ended = tokio::select! {
        code = follow_until_exit(Arc::clone(&engine), &container, printer) => Some(code),
        _ = tokio::signal::ctrl_c() => None,
    };
    printer.info(&format!("stopping {}", service.name));
    super::down(&engine, &eco.name, STOP_TIMEOUT, false, &sink).await?;
    Ok(match ended {
        Some(code) => RunOutcome::Exited(code),
        None => RunOutcome::Interrupted,
    })
}

/// Prints the output of `container` from its start (waiting until it exists), until it exits.
async fn stream_output(engine: Arc<dyn Engine>, container: String, printer: Printer) {
    loop {
        match engine.inspect_container(&container).await {
            Ok(d) if d.running || d.info.state == "exited" => break,
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    if let Ok(mut lines) = engine.logs(&container, &LogQuery::following()).await {
        while let Some(Ok(line)) = lines.next().await {
            printer.out(&line.text);
        }
    }
}

/// Prints the output of the running `container` from its start and keeps following it across
/// restarts by the engine; returns the exit code once it has stopped for good.
async fn follow_until_exit(engine: Arc<dyn Engine>, container: &str, printer: &Printer) -> i64 {
    let mut tail = None;
    loop {
        let query = LogQuery {
            tail,
            ..LogQuery::following()
        };
        if let Ok(mut lines) = engine.logs(container, &query).await {
            while let Some(Ok(line)) = lines.next().await {
                printer.out(&line.text);
            }
        }
        // the stream ended: restarted by the engine (follow again, new lines only) or exited
        tokio::time::sleep(Duration::from_millis(500)).await;
        match engine.inspect_container(container).await {
            Ok(d) if !d.running && d.info.state != "restarting" => {
                return d.exit_code.unwrap_or(1);
            }
            Ok(_) => tail = Some(0),
            Err(_) => return 1,
        }
    }
}
