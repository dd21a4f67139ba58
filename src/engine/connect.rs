//! Finding a running engine: which sockets to try for a [`EngineChoice`], connecting, negotiating
//! the API version and telling Docker from Podman.
//!
//! - Docker: `DOCKER_HOST` (`unix://` or `tcp://`), else `unix:///var/run/docker.sock`.
//! - Podman: `CONTAINER_HOST`, else `unix:///run/podman/podman.sock`, then
//!   `unix://$XDG_RUNTIME_DIR/podman/podman.sock` (rootless).
//! - Auto: the Docker candidates first, then the Podman ones.
//!
//! Which engine answered is read from its `/version` reply (Podman names a "Podman Engine"
//! component), so `DOCKER_HOST` pointing at a Podman socket is reported as Podman.
use super::docker::DockerEngine;
use super::{Engine, EngineError, EngineKind, EngineResult};
use crate::config::EngineChoice;
use bollard::{Docker, API_DEFAULT_VERSION};
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
        EngineChoice::Docker => docker(),
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
    let mut failures = Vec::new();
    for candidate in &list {
        match probe(&candidate.url).await {
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

fn unreachable(choice: EngineChoice, failures: &[(Candidate, String)]) -> EngineError {
    let socket = failures
        .iter()
        .map(|(c, _)| c.url.as_str())
        .collect::<Vec<_>>()
        .join(" or ");
    let reason = if failures.len() == 1 {
        failures.first().map(|(_, r)| r.clone()).unwrap_or_default()
    } else {
        failures
            .iter()
            .map(|(c, r)| format!("{r} ({})", c.kind))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let hint = match choice {
        EngineChoice::Docker => {
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

/// Tries one address: connect, negotiate the API version, read `/version`.
async fn probe(url: &str) -> Result<DockerEngine, String> {
    let client = open(url)?;
    let client = client
        .negotiate_version()
        .await
        .map_err(|e| describe_connect_error(&e))?;
    let version = client
        .version()
        .await
        .map_err(|e| describe_connect_error(&e))?;
    let is_podman = version
        .components
        .as_ref()
        .is_some_and(|cs| cs.iter().any(|c| c.name.contains("Podman")));
    let kind = if is_podman {
        EngineKind::Podman
    } else {
        EngineKind::Docker
    };
    let mut client = client;
    client.set_timeout(REQUEST_TIMEOUT);
    Ok(DockerEngine::new(client, kind, normalize(url)))
}

fn normalize(url: &str) -> String {
    if url.starts_with('/') {
        format!("unix://{url}")
    } else {
        url.to_string()
    }
}

fn open(url: &str) -> Result<Docker, String> {
    let url = normalize(url);
    if let Some(path) = url.strip_prefix("unix://") {
        if !Path::new(path).exists() {
            return Err("no socket file there".to_string());
        }
        Docker::connect_with_unix(&url, PROBE_TIMEOUT_SECS, API_DEFAULT_VERSION)
            .map_err(|e| describe_connect_error(&e))
    } else if url.starts_with("tcp://") || url.starts_with("http://") {
        Docker::connect_with_http(&url, PROBE_TIMEOUT_SECS, API_DEFAULT_VERSION)
            .map_err(|e| describe_connect_error(&e))
    } else {
        Err(format!(
            "unsupported address `{url}` (use unix:///path or tcp://host:port)"
        ))
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
                    "no socket file there".into(),
                ),
                (
                    Candidate {
                        kind: EngineKind::Podman,
                        url: "unix:///b.sock".into(),
                    },
                    "Connection refused (os error 111)".into(),
                ),
            ],
        );
        let text = err.to_string();
        assert!(text.starts_with("no container engine answers at unix:///a.sock or unix:///b.sock: no socket file there (docker), Connection refused (os error 111) (podman). Start Docker"), "{text}");
    }
}
