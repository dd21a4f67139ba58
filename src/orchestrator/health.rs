//! Readiness: pactown probes each service itself (the same code on Docker and Podman, whose
//! health checks are not scheduled here): HTTP GET on the published 127.0.0.1 port, success =
//! status < 400; without a health path the port must accept a connection that the service (not
//! just the engine's port proxy) keeps open or answers.
use crate::engine::{Engine, EngineError};
use async_trait::async_trait;
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

/// The real probe: HTTP/1.1 GET (or a connection check) on 127.0.0.1.
#[derive(Debug, Clone, Copy, Default)]
pub struct HttpProbe;

#[async_trait]
impl HealthProbe for HttpProbe {
    async fn probe(&self, target: &ProbeTarget, timeout: Duration) -> ProbeOutcome {
        let started = Instant::now();
        let result = match &target.path {
            Some(path) => tokio::time::timeout(timeout, http_status(target.host_port, path))
                .await
                .unwrap_or_else(|_| Err(format!("no answer within {timeout:?}")))
                .and_then(|status| {
                    if status < 400 {
                        Ok(Some(status))
                    } else {
                        Err(format!("GET {path} answered {status}"))
                    }
                }),
            None => tcp_ready(target.host_port, timeout).await.map(|()| None),
        };
        match result {
            Ok(status) => ProbeOutcome::Healthy {
                latency: started.elapsed(),
                status,
            },
            Err(reason) => ProbeOutcome::Unhealthy(reason),
        }
    }
}

/// `GET path` on 127.0.0.1:port; the status code of the answer.
///
/// # Errors
/// A phrase describing the connection or protocol problem.
pub async fn http_status(port: u16, path: &str) -> Result<u16, String> {
    let (status, _) = http_get(port, path, false).await?;
    Ok(status)
}

/// `GET path` on 127.0.0.1:port with `Connection: close`; status and (when `body`) the body.
///
/// # Errors
/// A phrase describing the connection or protocol problem.
pub async fn http_get(port: u16, path: &str, body: bool) -> Result<(u16, String), String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| format!("connect 127.0.0.1:{port}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: pactown\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("send to 127.0.0.1:{port}: {e}"))?;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("read from 127.0.0.1:{port}: {e}"))?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        if !body && buf.windows(2).any(|w| w == b"\r\n") {
            break;
        }
    }
    if buf.is_empty() {
        return Err(format!(
            "127.0.0.1:{port} closed the connection without answering"
        ));
    }
    let text = String::from_utf8_lossy(&buf);
    let status_line = text.lines().next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .filter(|_| status_line.starts_with("HTTP/"))
        .ok_or_else(|| format!("not an HTTP answer: {status_line:?}"))?;
    let body_text = if body {
        let raw = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        if text
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(raw)
        } else {
            raw.to_string()
        }
    } else {
        String::new()
    };
    Ok((status, body_text))
}

/// Decodes a chunked HTTP body (best effort, for tests and messages).
fn dechunk(mut raw: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = raw.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(rest.get(..n).unwrap_or_default());
        raw = rest.get(n..).unwrap_or_default().trim_start_matches("\r\n");
    }
    out
}

/// A connection check that is not fooled by the engine's port proxy (which accepts every
/// connection and closes it when the container is not listening): after connecting, send a
/// harmless request line; any answer, or a connection held open for 150 ms, counts as ready; an
/// immediate close does not.
///
/// # Errors
/// Why the port is not ready.
pub async fn tcp_ready(port: u16, timeout: Duration) -> Result<(), String> {
    let attempt = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|e| format!("connect 127.0.0.1:{port}: {e}"))?;
        let _ = stream.write_all(b"HEAD / HTTP/1.0\r\n\r\n").await;
        let mut byte = [0u8; 1];
        match tokio::time::timeout(Duration::from_millis(150), stream.read(&mut byte)).await {
            Ok(Ok(0)) | Ok(Err(_)) => Err(format!("127.0.0.1:{port} accepted and closed at once")),
            Ok(Ok(_)) | Err(_) => Ok(()),
        }
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .unwrap_or_else(|_| Err(format!("no connection within {timeout:?}")))
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
            WaitError::Engine(e) => write!(f, "{e}"),
        }
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
    let started = Instant::now();
    let deadline = started + timeout;
    let mut pending: Vec<&ProbeTarget> = targets.iter().collect();
    let mut delay = FIRST_DELAY;
    let mut last = String::from("no probe answered yet");
    // restart counts seen at the first look; a later increase means the process died
    let mut baseline: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let per_probe = remaining.min(PROBE_TIMEOUT).max(Duration::from_millis(100));
        let results =
            futures_util::future::join_all(pending.iter().map(|t| probe.probe(t, per_probe))).await;
        let mut still = Vec::new();
        for (t, r) in pending.into_iter().zip(results) {
            if let ProbeOutcome::Unhealthy(reason) = r {
                last = reason;
                still.push(t);
            }
        }
        pending = still;
        if pending.is_empty() {
            return Ok(started.elapsed());
        }
        for t in &pending {
            let d = engine
                .inspect_container(&t.container_id)
                .await
                .map_err(WaitError::Engine)?;
            let base = *baseline
                .entry(t.container_id.clone())
                .or_insert(d.restart_count);
            if !d.running || d.info.state == "restarting" || d.restart_count > base {
                return Err(WaitError::Exited {
                    container: t.container_id.clone(),
                    exit_code: d.exit_code,
                    state: d.info.state,
                });
            }
        }
        if Instant::now() >= deadline {
            return Err(WaitError::TimedOut { last });
        }
        let sleep = delay.min(deadline.saturating_duration_since(Instant::now()));
        tokio::time::sleep(sleep).await;
        delay = (delay.mul_f64(1.3)).min(MAX_DELAY);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    #[tokio::test]
    async fn http_status_parses_and_probe_judges() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            for status in ["200 OK", "503 Service Unavailable"] {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 512];
                let _ = s.read(&mut buf).await.unwrap();
                let resp = format!("HTTP/1.1 {status}\r\nContent-Length: 2\r\n\r\nok");
                s.write_all(resp.as_bytes()).await.unwrap();
            }
        });
        let target = ProbeTarget {
            container_id: "x".into(),
            host_port: port,
            path: Some("/health".into()),
        };
        let first = HttpProbe.probe(&target, Duration::from_secs(2)).await;
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
        let second = HttpProbe.probe(&target, Duration::from_secs(2)).await;
        assert!(!second.is_healthy(), "{second:?}");
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
        assert!(tcp_ready(port, Duration::from_secs(1)).await.is_err());
        assert!(tcp_ready(port, Duration::from_secs(1)).await.is_ok());
    }
}
