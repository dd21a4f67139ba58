//! Podman through its Docker-compatible API: the few places where Podman 4.3 answers
//! differently from Docker 20.10, used by [`DockerEngine`](super::DockerEngine) when
//! [`EngineKind::Podman`](super::EngineKind) answered.
//!
//! # Why bollard on the compat API, not `podman-api` on libpod
//!
//! pactown drives Podman with the same bollard code as Docker, against the Docker-compatible
//! endpoints Podman serves on the same socket (`/v1.41/…`). Decided from measurements on the
//! 2-core dev machine (Podman 4.3.1, `curl --unix-socket`, tiny `FROM debian` + `RUN` + `HEALTHCHECK`
//! context) and the shared engine notes (`/work/shared/engines/README.md`):
//!
//! - **Builds.** `podman-api` 0.11 (the latest release, libpod models of Podman 4.4) has no
//!   `outputformat` build option, so its builds are OCI format: the `HEALTHCHECK` is dropped and
//!   `layers=true` gets no cache hits (same context built twice: 1.77 s, 1.91 s). The compat
//!   `/build` uses Docker format and caches by default (1.86 s cold, **0.33 s** cached) and keeps
//!   the `HEALTHCHECK` in the image (`podman image inspect` shows `[CMD-SHELL true]`).
//!   libpod `/build` only matches that with `layers=true&outputformat=application/vnd.docker…`
//!   (0.14–0.19 s cached), which `podman-api` cannot send.
//! - **Everything else is as fast on compat**: list containers 0.6–3.5 ms (libpod 0.7–1.0 ms),
//!   list networks 0.7 ms, image 404 0.9 ms; image inspect of the eight polyglot images
//!   22 ms per lookup on compat, 20 ms on libpod `…/json`, 25 ms on libpod `…/exists` (Podman's
//!   image store, not the API, is the cost; Docker: ~5 ms). Compat networks, aliases
//!   (aardvark-dns), port bindings, labels, restart policy, `Init`, logs and events all behave
//!   like Docker's (see the integration suite, run on both engines).
//! - **One client, one code path**: `podman-api` pulls `containers-api` (a second HTTP stack)
//!   and a second set of models, and every operation would be written twice.
//! - **The slow endpoints are avoided on both APIs**: `/version` and `/info` take 0.4 s and
//!   0.2–0.4 s on Podman (they gather host facts); [`connect`](super::connect) reads engine kind,
//!   version and API version from the headers of one `/_ping` (~1 ms) instead. That took
//!   `pactown status` on Podman from ~1 s to 6–8 ms (Docker: 7 ms), and a no-op `build` of
//!   the four polyglot services from 1.4 s to 58–62 ms (Docker: 13–16 ms; the difference is the
//!   eight image inspections, see above). Release build, mean of 20.
//!
//! # Health
//!
//! Images built through the compat API keep their `HEALTHCHECK`, and containers get one at
//! create time, but Podman schedules health checks with systemd timers, which do not exist here:
//! the engine-side status stays `starting`. pactown therefore probes health itself (HTTP to the
//! published 127.0.0.1 port, same code on both engines); engine health is informational only.
//!
//! # Quirks handled here
//!
//! - images built through the compat API are stored as `docker.io/library/NAME:TAG` (or
//!   `docker.io/NS/NAME:TAG`): `podman_aliases` gives the names to look under;
//! - import `changes` are read only as repeated query parameters: `repeat_changes`;
//! - container states Docker's API does not know (`stopped`, `configured`, `initialized`):
//!   `reread` maps them and parses the reply again.
use bollard::errors::Error as BollardError;
use bollard::BollardRequest;

/// Podman-only container states → the Docker state that means the same.
fn docker_state(state: &str) -> Option<&'static str> {
    match state {
        "stopped" => Some("exited"),
        "configured" | "initialized" => Some("created"),
        "unknown" => Some("dead"),
        _ => None,
    }
}

fn fix_state_field(value: &mut serde_json::Value, field: &str) {
    if let Some(slot) = value.get_mut(field) {
        if let Some(mapped) = slot.as_str().and_then(docker_state) {
            *slot = serde_json::Value::String(mapped.to_string());
        }
    }
}

/// Inspect reply: `State.Status`.
pub(crate) fn fix_inspect_states(value: &mut serde_json::Value) {
    if let Some(state) = value.get_mut("State") {
        fix_state_field(state, "Status");
    }
}

/// List reply: each item's `State`.
pub(crate) fn fix_list_states(value: &mut serde_json::Value) {
    if let Some(items) = value.as_array_mut() {
        for item in items {
            fix_state_field(item, "State");
        }
    }
}

/// When a reply did not fit bollard's types, repairs the raw JSON with `fix` and reads it again;
/// otherwise hands back the original error.
pub(crate) fn reread<T: serde::de::DeserializeOwned>(
    err: BollardError,
    fix: fn(&mut serde_json::Value),
) -> Result<T, BollardError> {
    if let BollardError::JsonDataError { contents, .. } = &err {
        if let Ok(mut value) = serde_json::from_str::<serde_json::Value>(contents) {
            fix(&mut value);
            if let Ok(typed) = serde_json::from_value(value) {
                return Ok(typed);
            }
        }
    }
    Err(err)
}

/// Names Podman may have stored a compat-API image under: `x:1` → `docker.io/library/x:1`,
/// `ns/x:1` → `docker.io/ns/x:1`. Empty when the reference already names a registry.
pub(crate) fn podman_aliases(reference: &str) -> Vec<String> {
    if reference.starts_with("sha256:") {
        return Vec::new();
    }
    match reference.split_once('/') {
        None => vec![format!("docker.io/library/{reference}")],
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            Vec::new()
        }
        Some(_) => vec![
            format!("docker.io/{reference}"),
            format!("localhost/{reference}"),
        ],
    }
}

/// Rewrites `/images/create?...&changes=A%0AB` into `changes=A&changes=B`: bollard joins the
/// changes with newlines, Docker splits them again, Podman only reads repeated parameters.
pub(crate) fn repeat_changes(mut request: BollardRequest) -> BollardRequest {
    let uri = request.uri().to_string();
    let Some((base, query)) = uri.split_once('?') else {
        return request;
    };
    if !query.contains("changes=") {
        return request;
    }
    let mut parts = Vec::new();
    for pair in query.split('&') {
        if let Some(value) = pair.strip_prefix("changes=") {
            let value = value.replace("%0a", "%0A");
            parts.extend(
                value
                    .split("%0A")
                    .filter(|v| !v.is_empty())
                    .map(|v| format!("changes={v}")),
            );
        } else {
            parts.push(pair.to_string());
        }
    }
    if let Ok(new_uri) = format!("{base}?{}", parts.join("&")).parse() {
        *request.uri_mut() = new_uri;
    }
    request
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn podman_alias_names() {
        assert_eq!(podman_aliases("x:1"), vec!["docker.io/library/x:1"]);
        assert_eq!(
            podman_aliases("pactown/x:1"),
            vec!["docker.io/pactown/x:1", "localhost/pactown/x:1"]
        );
        assert!(podman_aliases("docker.io/library/x:1").is_empty());
        assert!(podman_aliases("localhost/x:1").is_empty());
        assert!(podman_aliases("sha256:abc").is_empty());
    }

    #[test]
    fn changes_are_repeated() {
        let request = BollardRequest::new(bollard::body_full(bytes::Bytes::new()));
        let mut request = request;
        *request.uri_mut() = "http://localhost/v1.41/images/create?fromSrc=-&repo=a%3A1&changes=CMD+%5B%22bash%22%5D%0AENV+A%3D1"
            .parse()
            .unwrap();
        let out = repeat_changes(request);
        assert_eq!(
            out.uri().query(),
            Some("fromSrc=-&repo=a%3A1&changes=CMD+%5B%22bash%22%5D&changes=ENV+A%3D1")
        );
    }

    #[test]
    fn podman_states_are_read_as_docker_states() {
        let raw = r#"{"Id":"abc","State":{"Status":"stopped","Running":false,"ExitCode":0}}"#;
        let err = BollardError::JsonDataError {
            message: "unknown variant `stopped`".into(),
            contents: raw.into(),
            column: 0,
        };
        let c: bollard::models::ContainerInspectResponse = reread(err, fix_inspect_states).unwrap();
        assert_eq!(
            c.state.unwrap().status.unwrap().to_string(),
            "exited".to_string()
        );
        let raw = r#"[{"Id":"a","State":"configured"},{"Id":"b","State":"running"}]"#;
        let err = BollardError::JsonDataError {
            message: String::new(),
            contents: raw.into(),
            column: 0,
        };
        let list: Vec<bollard::models::ContainerSummary> = reread(err, fix_list_states).unwrap();
        let states: Vec<String> = list.iter().map(|c| c.state.unwrap().to_string()).collect();
        assert_eq!(states, vec!["created", "running"]);
    }
}
