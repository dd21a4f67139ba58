//! Pushing an image to an OCI registry through the engine API (`POST /images/{name}/push`, the
//! same endpoint on Docker and on Podman's compat socket).
//!
//! What each engine reports (measured on Docker 20.10.24 and Podman 4.3.1 against distribution
//! 2.8.2):
//!
//! - **Docker** streams one status per layer — `Preparing`, `Pushing` (progress), then `Pushed`
//!   (uploaded), `Layer already exists` (the registry has the blob) or `Mounted from REPO`
//!   (cross-repository mount, nothing uploaded) — and ends with `TAG: digest: sha256:… size: N`.
//!   The per-layer counts in [`PushReport`] come from those statuses.
//!   Bytes are not reported: `progressDetail.current` counts the uncompressed layer tar as the
//!   engine reads it (`total` is the sum of the file sizes), not the compressed bytes sent, and
//!   bollard's `PushImageInfo` has no layer `id` to tie a progress line to a layer.
//! - **Podman 4.3** (compat endpoint) streams only `The push refers to repository […]` and the
//!   final `TAG: digest: …` line: no per-layer results, so [`PushReport::layers_uploaded`] is
//!   `None`. Its libpod endpoint (`/libpod/images/{name}/push`) is no better on 4.3: it prints
//!   `Copying blob sha256:…` for every layer whether it was uploaded or skipped, and no digest.
//!   Podman only skips layers the registry has, like Docker (the integration tests count the
//!   registry's blob uploads to prove it on both engines).
//! - Plain HTTP: Docker allows it for `127.0.0.0/8` by itself (and for registries listed in the
//!   daemon's `insecure-registries`); Podman needs `tlsVerify=false` on the request, which
//!   [`PushRequest::insecure`] sends. TLS registries are verified by the engine against its own
//!   CA folders (`/etc/docker/certs.d/HOST:PORT/`, `/etc/containers/certs.d/HOST:PORT/`).
//!
//! Credentials travel in the `X-Registry-Auth` header of that one request and are never logged:
//! [`RegistryCredentials`] prints as `<redacted>`.

/// Credentials for one registry, as the engine's `X-Registry-Auth` header carries them.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RegistryCredentials {
    /// Registry host (`HOST[:PORT]`).
    pub server: String,
    /// User name (with `password`).
    pub username: Option<String>,
    /// Password or access token (with `username`).
    pub password: Option<String>,
    /// OAuth identity token (instead of user name and password).
    pub identity_token: Option<String>,
}

impl std::fmt::Debug for RegistryCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryCredentials")
            .field("server", &self.server)
            .field("username", &self.username.as_ref().map(|_| "<redacted>"))
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field(
                "identity_token",
                &self.identity_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// One push: a local image reference and how to reach its registry.
#[derive(Debug, Clone)]
pub struct PushRequest {
    /// `REGISTRY/REPOSITORY:TAG`, an existing local name.
    pub reference: String,
    /// Credentials, when the registry needs them.
    pub credentials: Option<RegistryCredentials>,
    /// Plain HTTP or unverified TLS is allowed (the caller decided: a loopback plain-HTTP
    /// registry or `--insecure-registry`); sent to Podman as `tlsVerify=false`.
    pub insecure: bool,
}

impl PushRequest {
    /// The repository part of [`PushRequest::reference`] and its tag.
    #[must_use]
    pub fn split(&self) -> (&str, &str) {
        split_reference(&self.reference)
    }
}

/// `host:5000/ns/name:tag` → (`host:5000/ns/name`, `tag`); without a tag, `latest`.
#[must_use]
pub fn split_reference(reference: &str) -> (&str, &str) {
    let last_slash = reference.rfind('/').map_or(0, |i| i + 1);
    match reference
        .get(last_slash..)
        .and_then(|tail| tail.rfind(':'))
        .map(|i| i + last_slash)
    {
        Some(colon) => (
            reference.get(..colon).unwrap_or(reference),
            reference.get(colon + 1..).unwrap_or("latest"),
        ),
        None => (reference, "latest"),
    }
}

/// What a push did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PushReport {
    /// The registry's manifest digest (`sha256:…`).
    pub digest: String,
    /// Size of the manifest in bytes, when reported.
    pub manifest_size: Option<u64>,
    /// Layers uploaded; `None` when the engine does not say (Podman 4.3).
    pub layers_uploaded: Option<usize>,
    /// Layers the registry already had (or mounted from another repository); `None` when the
    /// engine does not say.
    pub layers_reused: Option<usize>,
}

/// Why a push failed. [`PushError::is_transient`] tells CI whether a retry can help.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The registry could not be reached, answered 5xx, or timed out: retrying may help.
    #[error("push of {reference} failed (transient, retry later): {message}")]
    Transient {
        /// The reference pushed.
        reference: String,
        /// The engine's or registry's message.
        message: String,
    },
    /// The registry refused the credentials (or none were found).
    #[error(
        "push of {reference} was refused: {message}. Log in (`docker login` / `podman login`) or \
         pass --registry-auth-file FILE (a docker config.json / Podman auth.json)"
    )]
    Unauthorized {
        /// The reference pushed.
        reference: String,
        /// The engine's message.
        message: String,
    },
    /// The registry or engine rejected the push for another reason.
    #[error("push of {reference} failed: {message}")]
    Rejected {
        /// The reference pushed.
        reference: String,
        /// The engine's message.
        message: String,
    },
    /// The engine itself failed (not reachable, local image missing).
    #[error(transparent)]
    Engine(#[from] super::EngineError),
}

impl PushError {
    /// True for failures a later retry may fix (exit status 75).
    #[must_use]
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            PushError::Transient { .. } | PushError::Engine(super::EngineError::Unreachable { .. })
        )
    }

    /// Classifies an engine's push error message for `reference`.
    #[must_use]
    pub fn from_message(reference: &str, message: &str) -> Self {
        let reference = reference.to_string();
        let message = message.trim().to_string();
        match classify(&message) {
            Failure::Transient => PushError::Transient { reference, message },
            Failure::Unauthorized => PushError::Unauthorized { reference, message },
            Failure::Other => PushError::Rejected { reference, message },
        }
    }
}

/// Kinds of push failure, from the engine's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    Transient,
    Unauthorized,
    Other,
}

/// Docker and Podman put the registry's HTTP status or the dial error into the message text;
/// there is no structured code. Authentication first: a 401 is never worth retrying.
fn classify(message: &str) -> Failure {
    let m = message.to_ascii_lowercase();
    const AUTH: [&str; 6] = [
        "unauthorized",
        "authentication required",
        "no basic auth credentials",
        "denied",
        "401 unauthorized",
        "403 forbidden",
    ];
    const TRANSIENT: [&str; 20] = [
        "connection refused",
        "connection reset",
        "no route to host",
        "network is unreachable",
        "i/o timeout",
        "timeout",
        "timed out",
        "deadline exceeded",
        "tls handshake",
        "server misbehaving",
        "unexpected eof",
        "broken pipe",
        "internal server error",
        "bad gateway",
        "service unavailable",
        "gateway timeout",
        "status: 5",
        "status code 5",
        "statuscode: 5",
        "too many requests",
    ];
    if AUTH.iter().any(|p| m.contains(p)) {
        Failure::Unauthorized
    } else if TRANSIENT.iter().any(|p| m.contains(p))
        || [" 500", " 502", " 503", " 504"]
            .iter()
            .any(|code| m.contains(code))
    {
        Failure::Transient
    } else {
        Failure::Other
    }
}

/// Folds the status lines of a push stream into a [`PushReport`].
#[derive(Debug, Default)]
pub struct PushStatus {
    digest: Option<String>,
    size: Option<u64>,
    uploaded: usize,
    reused: usize,
    per_layer: bool,
}

impl PushStatus {
    /// A fresh fold.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one status text.
    pub fn status(&mut self, status: &str) {
        let s = status.trim();
        if s == "Pushed" {
            self.uploaded += 1;
            self.per_layer = true;
        } else if s == "Layer already exists" || s.starts_with("Mounted from") {
            self.reused += 1;
            self.per_layer = true;
        } else if s == "Preparing" || s == "Waiting" || s == "Pushing" {
            self.per_layer = true;
        } else if let Some((_, rest)) = s.split_once(": digest: ") {
            // `TAG: digest: sha256:… size: N`
            let mut words = rest.split_whitespace();
            if let Some(d) = words.next().filter(|d| d.starts_with("sha256:")) {
                self.digest = Some(d.to_string());
            }
            if words.next() == Some("size:") {
                self.size = words.next().and_then(|n| n.parse().ok());
            }
        }
    }

    /// The digest seen so far.
    #[must_use]
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// The report; `None` when no digest was reported.
    #[must_use]
    pub fn finish(self) -> Option<PushReport> {
        let digest = self.digest?;
        Some(PushReport {
            digest,
            manifest_size: self.size,
            layers_uploaded: self.per_layer.then_some(self.uploaded),
            layers_reused: self.per_layer.then_some(self.reused),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_statuses_fold() {
        let mut s = PushStatus::new();
        for line in [
            "The push refers to repository [127.0.0.1:5000/exp/a]",
            "Preparing",
            "Preparing",
            "Preparing",
            "Pushing",
            "Pushed",
            "Layer already exists",
            "Mounted from exp/b",
            "1: digest: sha256:6530464fb80bd5afba9e90c5dffc631b5a3faf2408e94aa3e2a62aa1ff3872a8 size: 736",
        ] {
            s.status(line);
        }
        let r = s.finish().unwrap();
        assert_eq!(
            r.digest,
            "sha256:6530464fb80bd5afba9e90c5dffc631b5a3faf2408e94aa3e2a62aa1ff3872a8"
        );
        assert_eq!(r.manifest_size, Some(736));
        assert_eq!(r.layers_uploaded, Some(1));
        assert_eq!(r.layers_reused, Some(2));
    }

    #[test]
    fn podman_statuses_have_no_layer_counts() {
        let mut s = PushStatus::new();
        s.status("The push refers to repository [127.0.0.1:5000/exp/b:1]");
        s.status("1: digest: sha256:5ebadfc2f12ec01fd240392b4c24c491aeba5d4e14f5152a6b76498fda92297a size: 580");
        let r = s.finish().unwrap();
        assert_eq!(r.layers_uploaded, None);
        assert_eq!(r.manifest_size, Some(580));
        assert!(PushStatus::new().finish().is_none());
    }

    #[test]
    fn failures_are_classified() {
        let t = |m: &str| PushError::from_message("r", m).is_transient();
        assert!(t(
            r#"Get "https://127.0.0.1:5999/v2/": dial tcp 127.0.0.1:5999: connect: connection refused"#
        ));
        assert!(t(
            "received unexpected HTTP status: 503 Service Unavailable"
        ));
        assert!(t("net/http: TLS handshake timeout"));
        assert!(!t("unauthorized: authentication required"));
        assert!(!t("no basic auth credentials"));
        assert!(matches!(
            PushError::from_message("r", "name unknown: repository name not known to registry"),
            PushError::Rejected { .. }
        ));
        assert!(matches!(
            PushError::from_message("r", "denied: requested access to the resource is denied"),
            PushError::Unauthorized { .. }
        ));
    }

    #[test]
    fn references_split() {
        assert_eq!(
            split_reference("127.0.0.1:5000/ns/api:abc"),
            ("127.0.0.1:5000/ns/api", "abc")
        );
        assert_eq!(
            split_reference("127.0.0.1:5000/ns/api"),
            ("127.0.0.1:5000/ns/api", "latest")
        );
    }

    #[test]
    fn credentials_do_not_print() {
        let c = RegistryCredentials {
            server: "r".into(),
            username: Some("u".into()),
            password: Some("hunter2".into()),
            identity_token: None,
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
