//! Readiness: pactown probes each service itself (the same code on Docker and Podman, whose
//! health checks are not scheduled here): HTTP GET on the published 127.0.0.1 port, success =
//! status < 400; without a health path the port must accept a connection that the service (not
//! just the engine's port proxy) keeps open or answers.
use crate::engine::{Engine, EngineError};
use async_trait::async_trait;
use hyper_util::rt::TokioIo;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// First delay between probes.
pub const FIRST_DELAY: Duration = Duration::from_millis(50);
/// Longest delay between probes.
pub const MAX_DELAY: Duration = Duration::from_secs(1);
/// Longest single probe.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// One replica to probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeTarget {
    /// Container id (the fake engine probes by id).
    pub container_id: String,
    /// Published port on 127.0.0.1.
    pub host_port: u16,
    /// HTTP path, or `None` for a connection check.
    pub path: Option<String>,
}

/// The result of one probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeOutcome {
    /// The service answered.
    Healthy {
        /// Time the probe took.
        latency: Duration,
        /// HTTP status, when probed over HTTP.
        status: Option<u16>,
    },
    /// Not (yet) healthy, with the reason.
    Unhealthy(String),
}

impl ProbeOutcome {
    /// True when healthy.
    #[must_use]
    pub fn is_healthy(&self) -> bool {
        matches!(self, ProbeOutcome::Healthy { .. })
    }
}

/// Something that can tell whether a replica is healthy right now.
#[async_trait]
pub trait HealthProbe: Send + Sync {
    /// Probes once, within `timeout`.
    async fn probe(&self, target: &ProbeTarget, timeout: Duration) -> ProbeOutcome;
}

/// Why one probe found a replica not ready; its text is the reason [`ProbeOutcome::Unhealthy`]
/// carries (and `status`/`events` show).
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// Nothing accepted a connection on the port.
    #[error("connect 127.0.0.1:{port}: {cause}")]
    Connect {
        /// Published port.
        port: u16,
        /// The innermost error (e.g. `Connection refused (os error 111)`).
        cause: String,
    },
    /// No answer within the probe's time.
    #[error("no answer within {0:?}")]
    NoAnswer(Duration),
    /// The connection check could not connect within the probe's time.
    #[error("no connection within {0:?}")]
    NoConnection(Duration),
    /// The health path answered with a status of 400 or more.
    #[error("GET {path} answered {status}")]
    Status {
        /// The probed path.
        path: String,
        /// Its status code.
        status: u16,
    },
    /// Connected, but the answer was not HTTP or the connection broke off.
    #[error("GET {path} on 127.0.0.1:{port}: {cause}")]
    Protocol {
        /// Published port.
        port: u16,
        /// The probed path.
        path: String,
        /// The innermost error (e.g. `connection closed before message completed`).
        cause: String,
    },
    /// The connection check: the engine's port proxy accepted, the service was not there.
    #[error("127.0.0.1:{0} accepted and closed at once")]
    ClosedAtOnce(u16),
}

/// The real probe: HTTP/1.1 GET (or a connection check) on 127.0.0.1.
///
/// HTTP goes through hyper's HTTP/1 client connection on a fresh TCP connection per probe:
/// nothing is pooled (a replaced container behind the same port is never judged through a
/// stale connection), no proxy applies (`HTTP_PROXY` is not read), no redirect is followed (a
/// 3xx counts as healthy, like any status below 400), and connect plus answer are bounded by
/// the probe's time limit. A loopback probe takes a fraction of a millisecond; no client is set
/// up (no TLS roots loaded) for it.
#[derive(Debug, Clone, Copy, Default)]
pub struct HttpProbe;

/// The innermost source of an error: the cause (refused, reset, not HTTP) is at the end of
/// the chain.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut inner = e;
    while let Some(next) = inner.source() {
        inner = next;
    }
    inner.to_string()
}

/// `GET path` on 127.0.0.1:port within `timeout`: the status when it is below 400.
///
/// # Errors
/// [`ProbeError`]: no connection, no answer in time, not HTTP, or a status of 400 or more.
pub async fn http_ready(port: u16, path: &str, timeout: Duration) -> Result<u16, ProbeError> {
    use hyper::header::{HeaderValue, ACCEPT, CONNECTION, HOST, USER_AGENT};
    let protocol = |e: &(dyn std::error::Error + 'static)| ProbeError::Protocol {
        port,
        path: path.to_string(),
        cause: root_cause(e),
    };
    let attempt = async {
        let stream =
            TcpStream::connect(("127.0.0.1", port))
                .await
                .map_err(|e| ProbeError::Connect {
                    port,
                    cause: e.to_string(),
                })?;
        let _ = stream.set_nodelay(true);
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake::<_, String>(TokioIo::new(stream))
                .await
                .map_err(|e| protocol(&e))?;
        let mut request = hyper::Request::get(path)
            .body(String::new())
            .map_err(|e| protocol(&e))?;
        let headers = request.headers_mut();
        if let Ok(host) = HeaderValue::from_str(&format!("127.0.0.1:{port}")) {
            headers.insert(HOST, host);
        }
        headers.insert(USER_AGENT, HeaderValue::from_static("pactown"));
        headers.insert(ACCEPT, HeaderValue::from_static("*/*"));
        headers.insert(CONNECTION, HeaderValue::from_static("close"));
        // the connection is driven only until the status line and headers are in; dropping it
        // then closes the socket without reading the body
        let answer = sender.send_request(request);
        tokio::pin!(answer, connection);
        let response = tokio::select! {
            biased;
            answer = &mut answer => answer,
            // a `Connection: close` answer can end the connection before the answer is picked
            // up: it was handed over by then, or the connection broke off without one
            ended = &mut connection => match ended {
                Ok(()) => answer.await,
                Err(e) => Err(e),
            },
        }
        .map_err(|e| protocol(&e))?;
        let status = response.status().as_u16();
        if status < 400 {
            Ok(status)
        } else {
            Err(ProbeError::Status {
                path: path.to_string(),
                status,
            })
        }
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .unwrap_or(Err(ProbeError::NoAnswer(timeout)))
}

#[async_trait]
impl HealthProbe for HttpProbe {
    async fn probe(&self, target: &ProbeTarget, timeout: Duration) -> ProbeOutcome {
        let started = Instant::now();
        let result = match &target.path {
            Some(path) => http_ready(target.host_port, path, timeout).await.map(Some),
            None => tcp_ready(target.host_port, timeout).await.map(|()| None),
        };
        match result {
            Ok(status) => ProbeOutcome::Healthy {
                latency: started.elapsed(),
                status,
            },
            Err(reason) => ProbeOutcome::Unhealthy(reason.to_string()),
        }
    }
}

/// A connection check that is not fooled by the engine's port proxy (which accepts every
/// connection and closes it when the container is not listening): after connecting, send a
/// harmless request line; any answer, or a connection held open for 150 ms, counts as ready; an
/// immediate close does not. (Not HTTP: a service without a health path may speak anything.)
///
/// # Errors
/// Why the port is not ready.
pub async fn tcp_ready(port: u16, timeout: Duration) -> Result<(), ProbeError> {
    let attempt = async {
        let mut stream =
            TcpStream::connect(("127.0.0.1", port))
                .await
                .map_err(|e| ProbeError::Connect {
                    port,
                    cause: e.to_string(),
                })?;
        let _ = stream.write_all(b"HEAD / HTTP/1.0\r\n\r\n").await;
        let mut byte = [0u8; 1];
        match tokio::time::timeout(Duration::from_millis(150), stream.read(&mut byte)).await {
            Ok(Ok(0)) | Ok(Err(_)) => Err(ProbeError::ClosedAtOnce(port)),
            Ok(Ok(_)) | Err(_) => Ok(()),
        }
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .unwrap_or(Err(ProbeError::NoConnection(timeout)))
}

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
            }),
            None => Readiness::Running { container_id },
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
                Err(e) => ProbeOutcome::Unhealthy(format!("health_cmd could not run: {e}")),
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
/// probe goes out at once, then the delay grows from 50 ms to 1 s. Returns the time taken.
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
        for t in &pending {
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
        delay = (delay.mul_f64(1.3)).min(MAX_DELAY);
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// A one-port server that answers each connection with the next of `answers` (raw bytes,
    /// `None` = accept and hold without answering).
    async fn serve(answers: Vec<Option<&'static str>>) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            for answer in answers {
                let (mut s, _) = listener.accept().await.unwrap();
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    let n = s.read(&mut buf).await.unwrap();
                    let request = String::from_utf8_lossy(&buf[..n]).to_string();
                    assert!(request.starts_with("GET /health HTTP/1.1\r\n"), "{request}");
                    assert!(request.contains("user-agent: pactown\r\n"), "{request}");
                    match answer {
                        Some(resp) => s.write_all(resp.as_bytes()).await.unwrap(),
                        None => tokio::time::sleep(Duration::from_secs(5)).await,
                    }
                });
            }
        });
        port
    }

    fn target(port: u16) -> ProbeTarget {
        ProbeTarget {
            container_id: "x".into(),
            host_port: port,
            path: Some("/health".into()),
        }
    }

    #[tokio::test]
    async fn http_probe_judges_by_status_and_follows_no_redirect() {
        let port = serve(vec![
            Some("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
            Some("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"),
            // a redirect to a port nothing listens on: followed, the probe would fail
            Some(
                "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:9/\r\nContent-Length: 0\r\n\r\n",
            ),
            // chunked, no length: the status is enough
            Some("HTTP/1.1 204 No Content\r\n\r\n"),
        ])
        .await;
        let t = target(port);
        let first = HttpProbe.probe(&t, Duration::from_secs(2)).await;
        assert!(
            matches!(
                first,
                ProbeOutcome::Healthy {
                    status: Some(200),
                    ..
                }
            ),
            "{first:?}"
        );
        let second = HttpProbe.probe(&t, Duration::from_secs(2)).await;
        assert_eq!(
            second,
            ProbeOutcome::Unhealthy("GET /health answered 503".into())
        );
        let third = HttpProbe.probe(&t, Duration::from_secs(2)).await;
        assert!(
            matches!(
                third,
                ProbeOutcome::Healthy {
                    status: Some(302),
                    ..
                }
            ),
            "{third:?}"
        );
        let fourth = HttpProbe.probe(&t, Duration::from_secs(2)).await;
        assert!(
            matches!(
                fourth,
                ProbeOutcome::Healthy {
                    status: Some(204),
                    ..
                }
            ),
            "{fourth:?}"
        );
    }

    #[tokio::test]
    async fn http_probe_names_refused_silent_and_garbled_answers() {
        // nothing listening: the reason names the port and the refusal
        let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let free = closed.local_addr().unwrap().port();
        drop(closed);
        let refused = HttpProbe.probe(&target(free), Duration::from_secs(2)).await;
        let ProbeOutcome::Unhealthy(reason) = refused else {
            panic!("{refused:?}")
        };
        assert!(
            reason.starts_with(&format!("connect 127.0.0.1:{free}: ")),
            "{reason}"
        );
        assert!(reason.to_lowercase().contains("refused"), "{reason}");

        let port = serve(vec![None, Some("SSH-2.0-OpenSSH_9.6\r\n")]).await;
        let started = Instant::now();
        let silent = HttpProbe
            .probe(&target(port), Duration::from_millis(300))
            .await;
        assert_eq!(
            silent,
            ProbeOutcome::Unhealthy("no answer within 300ms".into())
        );
        assert!(started.elapsed() < Duration::from_secs(2));
        let garbled = HttpProbe.probe(&target(port), Duration::from_secs(2)).await;
        let ProbeOutcome::Unhealthy(reason) = garbled else {
            panic!("{garbled:?}")
        };
        assert!(
            reason.starts_with(&format!("GET /health on 127.0.0.1:{port}: ")),
            "{reason}"
        );
    }

    #[tokio::test]
    async fn tcp_ready_rejects_accept_then_close() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            // like a port proxy without a backend: accept and drop
            let (s, _) = listener.accept().await.unwrap();
            drop(s);
            // like a listening service: accept and hold
            let (_s, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(1)).await;
        });
        let closed = tcp_ready(port, Duration::from_secs(1)).await.unwrap_err();
        assert_eq!(
            closed.to_string(),
            format!("127.0.0.1:{port} accepted and closed at once")
        );
        assert!(tcp_ready(port, Duration::from_secs(1)).await.is_ok());
    }
}
