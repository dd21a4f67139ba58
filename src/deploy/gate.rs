//! The health gate: waiting until replicas are ready — probed through their port
//! ([`super::health`]), by their `health_cmd` inside the container, or by running — or until
//! a job has exited. Every deploy path (`up`, watch mode, `restart`, `run`) waits here.
//!
//! Schedule: probes go out every [`FIRST_DELAY`] for the first [`FAST_FOR`] (a developer's
//! edit is usually healthy within it, and a slower back-off would add up to a second to every
//! replacement), then the delay grows by 30 % up to [`MAX_DELAY`]. Containers are inspected at
//! most every [`INSPECT_EVERY`] so one that exits is reported at once without flooding the
//! engine.
use super::health::{HealthProbe, ProbeOutcome, ProbeTarget, PROBE_TIMEOUT};
use crate::engine::{Engine, EngineError};
use std::time::{Duration, Instant};

/// First delay between probes.
pub const FIRST_DELAY: Duration = Duration::from_millis(25);
/// How long probes keep the first delay.
pub const FAST_FOR: Duration = Duration::from_secs(3);
/// Longest delay between probes.
pub const MAX_DELAY: Duration = Duration::from_secs(1);
/// Shortest time between two inspections of a container that is not healthy yet.
pub const INSPECT_EVERY: Duration = Duration::from_millis(200);

/// Why a service did not become healthy.
#[derive(Debug)]
pub enum WaitError {
    /// Still unhealthy when the time ran out; the last probe's answer.
    TimedOut {
        /// The last reason given.
        last: String,
    },
    /// A container exited (or was restarted) before it became healthy.
    Exited {
        /// Container id.
        container: String,
        /// Exit code, when known.
        exit_code: Option<i64>,
        /// Engine state (`exited`, `restarting`…).
        state: String,
    },
    /// A job exited with a code other than 0.
    JobFailed {
        /// Container id.
        container: String,
        /// Exit code, when known.
        exit_code: Option<i64>,
        /// True when the kernel killed it for its memory limit.
        oom_killed: bool,
    },
    /// The engine failed while we asked about the container.
    Engine(EngineError),
}

impl std::fmt::Display for WaitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WaitError::TimedOut { last } => write!(f, "not healthy in time (last probe: {last})"),
            WaitError::Exited {
                exit_code, state, ..
            } => match exit_code {
                Some(code) => write!(
                    f,
                    "container exited with code {code} before it became healthy (state {state})"
                ),
                None => write!(
                    f,
                    "container stopped before it became healthy (state {state})"
                ),
            },
            WaitError::JobFailed {
                exit_code,
                oom_killed,
                ..
            } => {
                match exit_code {
                    Some(code) => write!(f, "job failed: exited with code {code}")?,
                    None => write!(f, "job failed: stopped without an exit code")?,
                }
                if *oom_killed {
                    write!(f, " (killed for going over its memory limit)")?;
                }
                Ok(())
            }
            WaitError::Engine(e) => write!(f, "{e}"),
        }
    }
}

/// How long a service judged by [`Readiness::Running`] must keep running before it counts as
/// healthy: a worker that dies on start (an import error, a missing variable) fails `up`
/// instead of passing it.
pub const RUNNING_GRACE: Duration = Duration::from_secs(1);
/// Longest single run of a `health_cmd`.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest delay between two looks at a running job.
pub const JOB_POLL: Duration = Duration::from_millis(250);

/// How one replica is judged healthy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// Probed from the host through its published port ([`HealthProbe`]).
    Probe(ProbeTarget),
    /// A command run inside the container (`health_cmd`) must exit 0.
    Command {
        /// Container id.
        container_id: String,
        /// The command (exec form).
        argv: Vec<String>,
    },
    /// No port and no `health_cmd`: it must be running (for [`RUNNING_GRACE`] while waiting).
    Running {
        /// Container id.
        container_id: String,
    },
}

impl Readiness {
    /// The container judged.
    #[must_use]
    pub fn container_id(&self) -> &str {
        match self {
            Readiness::Probe(t) => &t.container_id,
            Readiness::Command { container_id, .. } | Readiness::Running { container_id } => {
                container_id
            }
        }
    }

    /// How a replica is judged: its `health_cmd` inside the container, else its published
    /// `host_port` (HTTP on `health_path`, or a connection), else running.
    #[must_use]
    pub fn new(
        container_id: &str,
        health_cmd: Option<&str>,
        host_port: Option<u16>,
        health_path: Option<String>,
    ) -> Readiness {
        let container_id = container_id.to_string();
        if let Some(cmd) = health_cmd {
            return Readiness::Command {
                container_id,
                argv: crate::config::shell_argv(cmd),
            };
        }
        match host_port {
            Some(host_port) => Readiness::Probe(ProbeTarget {
                container_id,
                host_port,
                path: health_path,
                host: None,
            }),
            None => Readiness::Running { container_id },
        }
    }

    /// The same, probing the port on `host` (a Swarm task on another node) when given.
    #[must_use]
    pub fn at(self, host: Option<std::net::IpAddr>) -> Readiness {
        match self {
            Readiness::Probe(t) if host.is_some() => Readiness::Probe(ProbeTarget { host, ..t }),
            other => other,
        }
    }

    /// [`Readiness::new`] from a container's labels (`io.pactown.health-cmd`,
    /// `io.pactown.health-path`) and published port.
    #[must_use]
    pub fn of_container(
        container_id: &str,
        labels: &std::collections::BTreeMap<String, String>,
        host_port: Option<u16>,
    ) -> Readiness {
        use crate::config::labels as l;
        Readiness::new(
            container_id,
            labels.get(l::HEALTH_CMD).map(String::as_str),
            host_port,
            labels.get(l::HEALTH_PATH).cloned(),
        )
    }
}

/// Judges one replica once, within `timeout`: the probe, the command's exit code (its last
/// output line as the reason when it fails), or whether the container runs.
pub async fn check_once(
    engine: &dyn Engine,
    probe: &dyn HealthProbe,
    target: &Readiness,
    timeout: Duration,
) -> ProbeOutcome {
    let started = Instant::now();
    match target {
        Readiness::Probe(t) => probe.probe(t, timeout).await,
        Readiness::Command { container_id, argv } => {
            match engine.exec(container_id, argv, timeout).await {
                Ok(out) if out.exit_code == Some(0) => ProbeOutcome::Healthy {
                    latency: started.elapsed(),
                    status: None,
                },
                Ok(out) => {
                    let last = out
                        .output
                        .lines()
                        .rev()
                        .find(|l| !l.trim().is_empty())
                        .map(|l| format!(": {}", l.trim()))
                        .unwrap_or_default();
                    ProbeOutcome::Unhealthy(match (out.timed_out, out.exit_code) {
                        (true, _) => format!("health_cmd still running after {timeout:?}"),
                        (false, Some(code)) => format!("health_cmd exited with code {code}{last}"),
                        (false, None) => format!("health_cmd ended without an exit code{last}"),
                    })
                }
                // where pactown cannot run it (a Swarm task on another node), the engine's own
                // health check may tell
                Err(e) => match engine.health_verdict(container_id).await {
                    Ok(Some(Ok(()))) => ProbeOutcome::Healthy {
                        latency: started.elapsed(),
                        status: None,
                    },
                    Ok(Some(Err(why))) => ProbeOutcome::Unhealthy(why),
                    _ => ProbeOutcome::Unhealthy(format!("health_cmd could not run: {e}")),
                },
            }
        }
        Readiness::Running { container_id } => match engine.inspect_container(container_id).await {
            Ok(d) if d.running && d.info.state != "restarting" => ProbeOutcome::Healthy {
                latency: started.elapsed(),
                status: None,
            },
            Ok(d) => ProbeOutcome::Unhealthy(format!("container is {}", d.info.state)),
            Err(e) => ProbeOutcome::Unhealthy(e.to_string()),
        },
    }
}

/// Probes every target until all are healthy, a container exits, or `timeout` passes. The first
/// probe goes out at once, then on the schedule of the module docs. Returns the time taken.
///
/// # Errors
/// [`WaitError`].
pub async fn wait_healthy(
    engine: &dyn Engine,
    probe: &dyn HealthProbe,
    targets: &[ProbeTarget],
    timeout: Duration,
) -> Result<Duration, WaitError> {
    let targets: Vec<Readiness> = targets.iter().cloned().map(Readiness::Probe).collect();
    wait_ready(engine, probe, &targets, timeout).await
}

/// [`wait_healthy`] for any [`Readiness`]: a `health_cmd` is run inside the container on the
/// same schedule; a service judged by running counts once it has run for [`RUNNING_GRACE`].
///
/// # Errors
/// [`WaitError`].
pub async fn wait_ready(
    engine: &dyn Engine,
    probe: &dyn HealthProbe,
    targets: &[Readiness],
    timeout: Duration,
) -> Result<Duration, WaitError> {
    let started = Instant::now();
    let deadline = started + timeout;
    let mut pending: Vec<&Readiness> = targets.iter().collect();
    let mut delay = FIRST_DELAY;
    let mut last = String::from("no probe answered yet");
    // restart counts seen at the first look; a later increase means the process died
    let mut baseline: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    let mut last_inspect: Option<Instant> = None;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let per_probe = remaining.min(PROBE_TIMEOUT).max(Duration::from_millis(100));
        let per_command = remaining
            .min(COMMAND_TIMEOUT)
            .max(Duration::from_millis(100));
        let results = futures_util::future::join_all(pending.iter().map(|t| {
            let limit = if matches!(t, Readiness::Command { .. }) {
                per_command
            } else {
                per_probe
            };
            check_once(engine, probe, t, limit)
        }))
        .await;
        let mut still = Vec::new();
        for (t, r) in pending.into_iter().zip(results) {
            match r {
                ProbeOutcome::Unhealthy(reason) => {
                    last = reason;
                    still.push(t);
                }
                ProbeOutcome::Healthy { .. }
                    if matches!(t, Readiness::Running { .. })
                        && started.elapsed() < RUNNING_GRACE =>
                {
                    last = format!("running for less than {RUNNING_GRACE:?}");
                    still.push(t);
                }
                ProbeOutcome::Healthy { .. } => {}
            }
        }
        pending = still;
        if pending.is_empty() {
            return Ok(started.elapsed());
        }
        let inspect = last_inspect.is_none_or(|at: Instant| at.elapsed() >= INSPECT_EVERY)
            || Instant::now() >= deadline;
        if inspect {
            last_inspect = Some(Instant::now());
        }
        for t in pending.iter().filter(|_| inspect) {
            let id = t.container_id();
            let d = engine
                .inspect_container(id)
                .await
                .map_err(WaitError::Engine)?;
            let base = *baseline.entry(id.to_string()).or_insert(d.restart_count);
            if !d.running || d.info.state == "restarting" || d.restart_count > base {
                return Err(WaitError::Exited {
                    container: id.to_string(),
                    exit_code: d.exit_code,
                    state: d.info.state,
                });
            }
        }
        if Instant::now() >= deadline {
            return Err(WaitError::TimedOut { last });
        }
        let mut sleep = delay.min(deadline.saturating_duration_since(Instant::now()));
        if pending
            .iter()
            .all(|t| matches!(t, Readiness::Running { .. }))
        {
            // nothing to probe: look again when the grace has passed
            sleep = sleep.max(RUNNING_GRACE.saturating_sub(started.elapsed()));
        }
        tokio::time::sleep(sleep).await;
        if started.elapsed() >= FAST_FOR {
            delay = (delay.mul_f64(1.3)).min(MAX_DELAY);
        }
    }
}

/// Waits until the job container `id` has exited, at most `timeout`; returns the time taken.
/// Looks every 50 ms at first, then at most every [`JOB_POLL`].
///
/// # Errors
/// [`WaitError::JobFailed`] when it exited with another code than 0 (or was killed),
/// [`WaitError::TimedOut`] when it still runs at the deadline, [`WaitError::Engine`].
pub async fn wait_completed(
    engine: &dyn Engine,
    id: &str,
    timeout: Duration,
) -> Result<Duration, WaitError> {
    let started = Instant::now();
    let deadline = started + timeout;
    let mut delay = FIRST_DELAY;
    loop {
        let d = engine
            .inspect_container(id)
            .await
            .map_err(WaitError::Engine)?;
        if !d.running && d.info.state != "created" && d.info.state != "restarting" {
            return match d.exit_code {
                Some(0) => Ok(started.elapsed()),
                code => Err(WaitError::JobFailed {
                    container: id.to_string(),
                    exit_code: code,
                    oom_killed: d.oom_killed,
                }),
            };
        }
        if Instant::now() >= deadline {
            return Err(WaitError::TimedOut {
                last: format!("job still {}", d.info.state),
            });
        }
        let sleep = delay.min(deadline.saturating_duration_since(Instant::now()));
        tokio::time::sleep(sleep).await;
        delay = (delay.mul_f64(1.5)).min(JOB_POLL);
    }
}
