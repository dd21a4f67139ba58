//! Finding a running engine: which sockets to try for a [`EngineChoice`], connecting, negotiating
//! the API version and telling Docker from Podman.
//!
//! - Docker: `DOCKER_HOST` (`unix://` or `tcp://`), else `unix:///var/run/docker.sock`.
//! - Podman: `CONTAINER_HOST`, else `unix:///run/podman/podman.sock`, then
//!   `unix://$XDG_RUNTIME_DIR/podman/podman.sock` (rootless).
//! - Auto: the Docker candidates first, then the Podman ones.
//!
//! Which engine answered, its version and its API version are read from the headers of one
//! `GET /_ping` (Podman sends `Libpod-Api-Version` and `Server: Libpod/4.3.1`, Docker
//! `Server: Docker/20.10.24`; both send `Api-Version`), so `DOCKER_HOST` pointing at a Podman
//! socket is reported as Podman. `/version` is not used: Podman 4.3 takes 0.4 s to answer it
//! (it gathers host facts), `/_ping` ~1 ms; bollard's `negotiate_version` would ask `/version`,
//! so the client is opened at `min(Api-Version, bollard's default)` directly.
use super::docker::DockerEngine;
use super::{Engine, EngineError, EngineKind, EngineResult};
use crate::config::EngineChoice;
use bollard::{ClientVersion, Docker, API_DEFAULT_VERSION};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Seconds to wait for an engine to answer while probing.
const PROBE_TIMEOUT_SECS: u64 = 5;
/// Seconds to wait for a reply's headers once connected (builds stream, so this bounds only
/// requests such as `stop` that answer when done).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(600);

const DOCKER_DEFAULT: &str = "unix:///var/run/docker.sock";
const PODMAN_SYSTEM: &str = "unix:///run/podman/podman.sock";

/// An engine address to try, with the engine expected there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The engine expected at this address.
    pub kind: EngineKind,
    /// `unix:///path` or `tcp://host:port`.
    pub url: String,
}

/// The addresses to try for `choice`, in order, reading the environment through `env`.
pub fn candidates(choice: EngineChoice, env: &dyn Fn(&str) -> Option<String>) -> Vec<Candidate> {
    let set = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    let docker = || {
        vec![Candidate {
            kind: EngineKind::Docker,
            url: set("DOCKER_HOST").unwrap_or_else(|| DOCKER_DEFAULT.to_string()),
        }]
    };
    let podman = || match set("CONTAINER_HOST") {
        Some(url) => vec![Candidate {
            kind: EngineKind::Podman,
            url,
        }],
        None => {
            let mut list = vec![Candidate {
                kind: EngineKind::Podman,
                url: PODMAN_SYSTEM.to_string(),
            }];
            if let Some(dir) = set("XDG_RUNTIME_DIR") {
                list.push(Candidate {
                    kind: EngineKind::Podman,
                    url: format!("unix://{}/podman/podman.sock", dir.trim_end_matches('/')),
                });
            }
            list
        }
    };
    match choice {
        EngineChoice::Docker | EngineChoice::Swarm => docker(),
        EngineChoice::Podman => podman(),
        EngineChoice::Auto => {
            let mut list = docker();
            for c in podman() {
                if !list.contains(&c) {
                    list.push(c);
                }
            }
            list
        }
    }
}

/// Connects to the engine chosen by `choice` (see the module docs for the order).
///
/// # Errors
/// [`EngineError::Unreachable`] naming every address tried and how to start an engine.
pub async fn connect(choice: EngineChoice) -> EngineResult<Arc<dyn Engine>> {
    let list = candidates(choice, &|name| std::env::var(name).ok());
    connect_first(choice, &list).await
}

/// Connects to the first of `list` that answers; `choice` only words the error.
///
/// # Errors
/// [`EngineError::Unreachable`] naming every address tried and how to start the engine chosen.
pub async fn connect_first(
    choice: EngineChoice,
    list: &[Candidate],
) -> EngineResult<Arc<dyn Engine>> {
    let mut failures = Vec::new();
    for candidate in list {
        match probe(&candidate.url).await {
            Ok(engine) if choice == EngineChoice::Swarm => {
                return Ok(Arc::new(super::SwarmEngine::new(engine).await?))
            }
            Ok(engine) => return Ok(Arc::new(engine)),
            Err(reason) => failures.push((candidate.clone(), reason)),
        }
    }
    Err(unreachable(choice, &failures))
}

/// Connects to exactly one address (`unix:///path`, a bare `/path`, or `tcp://host:port`).
///
/// # Errors
/// [`EngineError::Unreachable`] when nothing answers there.
pub async fn connect_to(url: &str) -> EngineResult<Arc<dyn Engine>> {
    match probe(url).await {
        Ok(engine) => Ok(Arc::new(engine)),
        Err(reason) => Err(unreachable(
            EngineChoice::Auto,
            &[(
                Candidate {
                    kind: EngineKind::Docker,
                    url: normalize(url),
                },
                reason,
            )],
        )),
    }
}

fn unreachable(choice: EngineChoice, failures: &[(Candidate, ProbeFailure)]) -> EngineError {
    let socket = failures
        .iter()
        .map(|(c, _)| c.url.as_str())
        .collect::<Vec<_>>()
        .join(" or ");
    let reason = if failures.len() == 1 {
        failures
            .first()
            .map(|(_, r)| r.to_string())
            .unwrap_or_default()
    } else {
        failures
            .iter()
            .map(|(c, r)| format!("{r} ({})", c.kind))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let hint = match choice {
        EngineChoice::Docker | EngineChoice::Swarm => {
            "Start Docker (`sudo systemctl start docker`, or `bash integration/setup-engines.sh` in a pactown checkout) or point DOCKER_HOST at a running engine"
        }
        EngineChoice::Podman => {
            "Start Podman's API service (`podman system service --time=0 unix:///run/podman/podman.sock &`, or `bash integration/setup-engines.sh` in a pactown checkout) or point CONTAINER_HOST at it"
        }
        EngineChoice::Auto => {
            "Start Docker (`sudo systemctl start docker`) or Podman's API service (`podman system service --time=0 unix:///run/podman/podman.sock &`) — `bash integration/setup-engines.sh` in a pactown checkout does both — or set DOCKER_HOST / CONTAINER_HOST"
        }
    };
    EngineError::Unreachable {
        socket: if socket.is_empty() {
            "(no address)".to_string()
        } else {
            socket
        },
        reason: if reason.is_empty() {
            "no answer".to_string()
        } else {
            reason
        },
        hint: hint.to_string(),
    }
}

/// Why one engine address did not answer: the `reason` of [`EngineError::Unreachable`].
#[derive(Debug, thiserror::Error)]
pub enum ProbeFailure {
    /// A `unix://` address whose file does not exist.
    #[error("no socket file there")]
    NoSocket,
    /// Neither `unix://` nor `tcp://`/`http://`.
    #[error("unsupported address `{0}` (use unix:///path or tcp://host:port)")]
    Unsupported(String),
    /// Connecting or talking failed (`Connection refused (os error 111)`).
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// Connected, no reply in time.
    #[error("no answer within {PROBE_TIMEOUT_SECS} s")]
    Timeout,
    /// Something answered, not over HTTP.
    #[error("the reply is not HTTP (is this a container engine socket?)")]
    NotHttp,
    /// The engine answered `/_ping` with another status than 200.
    #[error("the engine answered {code} to /_ping: {body}")]
    PingStatus {
        /// The status code as sent.
        code: String,
        /// The reply body, trimmed.
        body: String,
    },
    /// The engine client could not be opened or negotiate its API version: the most specific
    /// message of its error chain ([`describe_connect_error`]).
    #[error("{0}")]
    Client(String),
}

/// What one `GET /_ping` told about the engine behind an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ping {
    /// Docker or Podman (Podman adds `Libpod-Api-Version` and answers as `Server: Libpod/…`).
    pub kind: EngineKind,
    /// The engine's highest API version (`Api-Version` header), when it sent one.
    pub api_version: Option<(usize, usize)>,
    /// The server version from the `Server` header (`20.10.24+dfsg1`, `4.3.1`).
    pub server_version: String,
}

/// Reads what a `/_ping` reply's status and headers say about the engine; `body` is the
/// reply body of a failed ping, for the message.
pub(crate) fn read_ping(
    status: u16,
    headers: &hyper::HeaderMap,
    body: &str,
) -> Result<Ping, ProbeFailure> {
    if status != 200 {
        return Err(ProbeFailure::PingStatus {
            code: status.to_string(),
            body: body.trim().to_string(),
        });
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let server = header("server").unwrap_or_default();
    let libpod = header("libpod-api-version");
    let kind = if libpod.is_some() || server.starts_with("Libpod") {
        EngineKind::Podman
    } else {
        EngineKind::Docker
    };
    let server_version = server
        .split_once('/')
        .map(|(_, rest)| {
            rest.split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .filter(|v| !v.is_empty())
        .or_else(|| libpod.map(str::to_string))
        .unwrap_or_default();
    let api_version = header("api-version").and_then(|v| {
        let (major, minor) = v.split_once('.')?;
        Some((major.trim().parse().ok()?, minor.trim().parse().ok()?))
    });
    Ok(Ping {
        kind,
        api_version,
        server_version,
    })
}

/// Largest `/_ping` error body read for the message.
const MAX_PING_BODY: usize = 4096;

/// `GET /_ping` over `stream` with hyper's HTTP/1 client: status, headers and (on failure) a
/// bounded body.
async fn exchange<S>(stream: S) -> Result<Ping, ProbeFailure>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    use http_body_util::BodyExt;
    use hyper::header::{HeaderValue, HOST};
    let not_http = |_: hyper::Error| ProbeFailure::NotHttp;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake::<_, String>(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(not_http)?;
    let driver = tokio::spawn(connection);
    let mut request = hyper::Request::get("/_ping")
        .body(String::new())
        .map_err(|_| ProbeFailure::NotHttp)?;
    request
        .headers_mut()
        .insert(HOST, HeaderValue::from_static("engine"));
    let response = sender.send_request(request).await.map_err(not_http);
    let result = match response {
        Ok(response) => {
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let body = if status == 200 {
                String::new()
            } else {
                let limited = http_body_util::Limited::new(response.into_body(), MAX_PING_BODY);
                match limited.collect().await {
                    Ok(b) => String::from_utf8_lossy(&b.to_bytes()).into_owned(),
                    Err(_) => String::new(),
                }
            };
            read_ping(status, &headers, &body)
        }
        Err(e) => Err(e),
    };
    driver.abort();
    result
}

/// Sends `GET /_ping` over a fresh connection and reads the reply headers: one round trip of
/// about a millisecond on both engines, where Podman takes 0.4 s to answer `/version`.
async fn ping(url: &str) -> Result<Ping, ProbeFailure> {
    let url = normalize(url);
    let talk = async {
        if let Some(path) = url.strip_prefix("unix://") {
            if !Path::new(path).exists() {
                return Err(ProbeFailure::NoSocket);
            }
            exchange(tokio::net::UnixStream::connect(path).await?).await
        } else if let Some(rest) = url
            .strip_prefix("tcp://")
            .or_else(|| url.strip_prefix("http://"))
        {
            let addr = rest.trim_end_matches('/');
            exchange(tokio::net::TcpStream::connect(addr).await?).await
        } else {
            Err(ProbeFailure::Unsupported(url.clone()))
        }
    };
    tokio::time::timeout(Duration::from_secs(PROBE_TIMEOUT_SECS), talk)
        .await
        .map_err(|_| ProbeFailure::Timeout)?
}

/// Tries one address: one `/_ping` tells the engine, its version and its API version; the
/// client is then opened at `min(engine API, bollard's)` without a `/version` round trip.
async fn probe(url: &str) -> Result<DockerEngine, ProbeFailure> {
    let facts = ping(url).await?;
    let mut client = match facts.api_version {
        Some((major_version, minor_version)) => {
            let ours = (
                API_DEFAULT_VERSION.major_version,
                API_DEFAULT_VERSION.minor_version,
            );
            let (major_version, minor_version) = ours.min((major_version, minor_version));
            open(
                url,
                &ClientVersion {
                    major_version,
                    minor_version,
                },
            )?
        }
        // an engine that does not announce its API version: ask `/version`
        None => open(url, API_DEFAULT_VERSION)?
            .negotiate_version()
            .await
            .map_err(|e| ProbeFailure::Client(describe_connect_error(&e)))?,
    };
    client.set_timeout(REQUEST_TIMEOUT);
    Ok(DockerEngine::new(client, facts.kind, normalize(url))
        .with_server_version(facts.server_version))
}

fn normalize(url: &str) -> String {
    if url.starts_with('/') {
        format!("unix://{url}")
    } else {
        url.to_string()
    }
}

fn open(url: &str, version: &ClientVersion) -> Result<Docker, ProbeFailure> {
    let url = normalize(url);
    let client = |e: bollard::errors::Error| ProbeFailure::Client(describe_connect_error(&e));
    if let Some(path) = url.strip_prefix("unix://") {
        if !Path::new(path).exists() {
            return Err(ProbeFailure::NoSocket);
        }
        Docker::connect_with_unix(&url, PROBE_TIMEOUT_SECS, version).map_err(client)
    } else if url.starts_with("tcp://") || url.starts_with("http://") {
        Docker::connect_with_http(&url, PROBE_TIMEOUT_SECS, version).map_err(client)
    } else {
        Err(ProbeFailure::Unsupported(url))
    }
}

/// The most specific message in an error chain (e.g. `Connection refused (os error 111)`).
pub(crate) fn describe_connect_error(err: &bollard::errors::Error) -> String {
    use bollard::errors::Error as B;
    match err {
        B::RequestTimeoutError => {
            return format!("no answer within {PROBE_TIMEOUT_SECS} s");
        }
        B::DockerResponseServerError {
            status_code,
            message,
        } => return format!("the engine answered {status_code}: {message}"),
        _ => {}
    }
    let mut deepest: &dyn std::error::Error = err;
    while let Some(next) = deepest.source() {
        deepest = next;
    }
    let text = deepest.to_string();
    if text.is_empty() {
        err.to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_string())
        }
    }

    fn urls(list: &[Candidate]) -> Vec<&str> {
        list.iter().map(|c| c.url.as_str()).collect()
    }

    #[test]
    fn docker_defaults_and_docker_host() {
        assert_eq!(
            urls(&candidates(EngineChoice::Docker, &env_of(&[]))),
            vec!["unix:///var/run/docker.sock"]
        );
        assert_eq!(
            urls(&candidates(
                EngineChoice::Docker,
                &env_of(&[("DOCKER_HOST", "tcp://127.0.0.1:2375")])
            )),
            vec!["tcp://127.0.0.1:2375"]
        );
    }

    #[test]
    fn podman_order() {
        assert_eq!(
            urls(&candidates(
                EngineChoice::Podman,
                &env_of(&[("XDG_RUNTIME_DIR", "/run/user/1000/")])
            )),
            vec![
                "unix:///run/podman/podman.sock",
                "unix:///run/user/1000/podman/podman.sock"
            ]
        );
        assert_eq!(
            urls(&candidates(
                EngineChoice::Podman,
                &env_of(&[
                    ("CONTAINER_HOST", "unix:///tmp/p.sock"),
                    ("XDG_RUNTIME_DIR", "/x")
                ])
            )),
            vec!["unix:///tmp/p.sock"]
        );
    }

    #[test]
    fn auto_tries_docker_first() {
        let list = candidates(EngineChoice::Auto, &env_of(&[("DOCKER_HOST", "")]));
        assert_eq!(
            urls(&list),
            vec![
                "unix:///var/run/docker.sock",
                "unix:///run/podman/podman.sock"
            ]
        );
        assert_eq!(list[0].kind, EngineKind::Docker);
        assert_eq!(list[1].kind, EngineKind::Podman);
    }

    #[tokio::test]
    async fn missing_socket_is_one_clear_sentence() {
        let Err(err) = connect_to("unix:///nonexistent/pactown/docker.sock").await else {
            panic!("a missing socket must not connect");
        };
        let text = err.to_string();
        assert!(
            text.contains("unix:///nonexistent/pactown/docker.sock"),
            "{text}"
        );
        assert!(text.contains("no socket file there"), "{text}");
        assert!(text.contains("systemctl start docker"), "{text}");
        assert!(!text.contains('\n'), "{text}");
    }

    /// Serves `reply` (raw bytes) to the first connection on a fresh unix socket and pings it.
    async fn ping_raw(reply: &'static str) -> Result<Ping, ProbeFailure> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("engine.sock");
        let listener = tokio::net::UnixListener::bind(&path).unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0_u8; 1024];
            let _ = s.read(&mut buf).await;
            let _ = s.write_all(reply.as_bytes()).await;
            let _ = s.shutdown().await;
        });
        let r = ping(&format!("unix://{}", path.display())).await;
        server.abort();
        r
    }

    const PODMAN_PING: &str = "HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nBuilder-Version: \r\nLibpod-Api-Version: 4.3.1\r\nLibpod-Buildah-Version: 1.28.2\r\nServer: Libpod/4.3.1 (linux)\r\nContent-Length: 2\r\n\r\nOK";
    const DOCKER_PING: &str = "HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nDocker-Experimental: false\r\nOstype: linux\r\nServer: Docker/20.10.24+dfsg1 (linux)\r\nContent-Length: 2\r\n\r\nOK";

    #[tokio::test]
    async fn ping_headers_tell_the_engine() {
        assert_eq!(
            ping_raw(PODMAN_PING).await.unwrap(),
            Ping {
                kind: EngineKind::Podman,
                api_version: Some((1, 41)),
                server_version: "4.3.1".into()
            }
        );
        assert_eq!(
            ping_raw(DOCKER_PING).await.unwrap(),
            Ping {
                kind: EngineKind::Docker,
                api_version: Some((1, 41)),
                server_version: "20.10.24+dfsg1".into()
            }
        );
        // header names are case-insensitive; a missing Api-Version falls back to /version
        let p = ping_raw(
            "HTTP/1.0 200 OK\r\nserver: Docker/27.1.0 (linux)\r\nContent-Length: 2\r\n\r\nOK",
        )
        .await
        .unwrap();
        assert_eq!(p.kind, EngineKind::Docker);
        assert_eq!(p.api_version, None);
        assert_eq!(p.server_version, "27.1.0");
    }

    #[tokio::test]
    async fn ping_errors_are_sentences() {
        let e = ping_raw("SSH-2.0-OpenSSH_9.2\r\n").await.unwrap_err();
        assert!(e.to_string().contains("not HTTP"), "{e}");
        let e = ping_raw("HTTP/1.1 500 Internal Server Error\r\nServer: Libpod/4.3.1\r\nContent-Length: 16\r\n\r\n{\"cause\":\"boom\"}")
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "the engine answered 500 to /_ping: {\"cause\":\"boom\"}"
        );
    }

    #[tokio::test]
    async fn missing_podman_socket_is_one_clear_sentence() {
        let list = candidates(
            EngineChoice::Podman,
            &env_of(&[("CONTAINER_HOST", "unix:///nonexistent/pactown/podman.sock")]),
        );
        let Err(err) = connect_first(EngineChoice::Podman, &list).await else {
            panic!("a missing socket must not connect");
        };
        let text = err.to_string();
        assert_eq!(
            text,
            "no container engine answers at unix:///nonexistent/pactown/podman.sock: no socket \
             file there. Start Podman's API service (`podman system service --time=0 \
             unix:///run/podman/podman.sock &`, or `bash integration/setup-engines.sh` in a \
             pactown checkout) or point CONTAINER_HOST at it"
        );
    }

    #[test]
    fn auto_failure_names_every_socket() {
        let err = unreachable(
            EngineChoice::Auto,
            &[
                (
                    Candidate {
                        kind: EngineKind::Docker,
                        url: "unix:///a.sock".into(),
                    },
                    ProbeFailure::NoSocket,
                ),
                (
                    Candidate {
                        kind: EngineKind::Podman,
                        url: "unix:///b.sock".into(),
                    },
                    ProbeFailure::Io(std::io::Error::from_raw_os_error(111)),
                ),
            ],
        );
        let text = err.to_string();
        assert!(text.starts_with("no container engine answers at unix:///a.sock or unix:///b.sock: no socket file there (docker), Connection refused (os error 111) (podman). Start Docker"), "{text}");
    }
}
