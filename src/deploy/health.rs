//! Readiness: pactown probes each service itself (the same code on Docker and Podman, whose
//! health checks are not scheduled here): HTTP GET on the published 127.0.0.1 port, success =
//! status < 400; without a health path the port must accept a connection that the service (not
//! just the engine's port proxy) keeps open or answers.
use async_trait::async_trait;
use hyper_util::rt::TokioIo;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

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
    /// Where the port is published when not on 127.0.0.1 (a Swarm task on another node).
    pub host: Option<IpAddr>,
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
    #[error("connect {addr}:{port}: {cause}")]
    Connect {
        /// The address probed.
        addr: IpAddr,
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
    #[error("GET {path} on {addr}:{port}: {cause}")]
    Protocol {
        /// The address probed.
        addr: IpAddr,
        /// Published port.
        port: u16,
        /// The probed path.
        path: String,
        /// The innermost error (e.g. `connection closed before message completed`).
        cause: String,
    },
    /// The connection check: the engine's port proxy accepted, the service was not there.
    #[error("{0}:{1} accepted and closed at once")]
    ClosedAtOnce(IpAddr, u16),
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
    http_ready_at(LOOPBACK, port, path, timeout).await
}

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// [`http_ready`] on `addr` instead of 127.0.0.1.
///
/// # Errors
/// As [`http_ready`].
pub async fn http_ready_at(
    addr: IpAddr,
    port: u16,
    path: &str,
    timeout: Duration,
) -> Result<u16, ProbeError> {
    use hyper::header::{HeaderValue, ACCEPT, CONNECTION, HOST, USER_AGENT};
    let protocol = |e: &(dyn std::error::Error + 'static)| ProbeError::Protocol {
        addr,
        port,
        path: path.to_string(),
        cause: root_cause(e),
    };
    let attempt = async {
        let stream = TcpStream::connect((addr, port))
            .await
            .map_err(|e| ProbeError::Connect {
                addr,
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
        if let Ok(host) = HeaderValue::from_str(&format!("{addr}:{port}")) {
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
        let addr = target.host.unwrap_or(LOOPBACK);
        let result = match &target.path {
            Some(path) => http_ready_at(addr, target.host_port, path, timeout)
                .await
                .map(Some),
            None => tcp_ready_at(addr, target.host_port, timeout)
                .await
                .map(|()| None),
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
    tcp_ready_at(LOOPBACK, port, timeout).await
}

/// [`tcp_ready`] on `addr` instead of 127.0.0.1.
///
/// # Errors
/// As [`tcp_ready`].
pub async fn tcp_ready_at(addr: IpAddr, port: u16, timeout: Duration) -> Result<(), ProbeError> {
    let attempt = async {
        let mut stream =
            TcpStream::connect((addr, port))
                .await
                .map_err(|e| ProbeError::Connect {
                    addr,
                    port,
                    cause: e.to_string(),
                })?;
        let _ = stream.write_all(b"HEAD / HTTP/1.0\r\n\r\n").await;
        let mut byte = [0u8; 1];
        match tokio::time::timeout(Duration::from_millis(150), stream.read(&mut byte)).await {
            Ok(Ok(0)) | Ok(Err(_)) => Err(ProbeError::ClosedAtOnce(addr, port)),
            Ok(Ok(_)) | Err(_) => Ok(()),
        }
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .unwrap_or(Err(ProbeError::NoConnection(timeout)))
}

pub use super::gate::{
    check_once, wait_completed, wait_healthy, wait_ready, Readiness, WaitError, COMMAND_TIMEOUT,
    JOB_POLL, RUNNING_GRACE,
};

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
            host: None,
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
