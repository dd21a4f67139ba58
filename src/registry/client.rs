//! HTTP client of the registry API. Every README it returns has been checked against the
//! checksum the server reports for it.
use super::model::{
    is_sha256_hex, is_valid_name, is_valid_version, printable, sha256_hex, ArtifactInfo, ErrorBody,
    PublishRequest, PublishResponse, VersionInfo,
};
use std::time::Duration;

/// Registry URL used when neither `--registry`, `PACTOWN_REGISTRY_URL` nor the ecosystem file
/// names one.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8800";

/// Largest answer the client reads (a README of [`super::model::MAX_README_BYTES`], JSON-escaped
/// at worst 6 bytes per byte, plus metadata); a longer answer is refused unread.
pub const MAX_ANSWER_BYTES: usize = 8 * super::model::MAX_README_BYTES;

/// What can go wrong talking to a registry.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL is not usable.
    #[error("registry URL `{url}`: {reason}")]
    Url {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// A name, namespace or version that cannot be sent.
    #[error("{0}")]
    Invalid(String),
    /// No connection or no complete answer.
    #[error("registry at {url} is not reachable: {source}; start one with `pactown registry serve` or pass --registry URL")]
    Unreachable {
        /// The URL requested.
        url: String,
        /// The transport error.
        source: reqwest::Error,
    },
    /// The server refused the request.
    #[error("registry answered {status} ({error}) for {url}: {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// The server's error code.
        error: String,
        /// The server's message.
        message: String,
        /// The URL requested.
        url: String,
    },
    /// The answer is not the expected JSON.
    #[error("registry answer from {url} is not valid: {reason}")]
    Decode {
        /// The URL requested.
        url: String,
        /// Why.
        reason: String,
    },
    /// The answer is well-formed JSON but not an answer to the request (another version, a
    /// version that is not semver, a malformed checksum): nothing of it is used.
    #[error("registry at {url} answered with {reason}; nothing was written — the registry is broken or hostile")]
    Untrusted {
        /// The URL requested.
        url: String,
        /// What is wrong, values escaped.
        reason: UntrustedAnswer,
    },
    /// A README does not match its checksum.
    #[error("README of {artifact} does not match its checksum (expected {expected}, got {actual}); the registry or the connection is corrupting data")]
    Checksum {
        /// `namespace/name@version`.
        artifact: String,
        /// Checksum announced.
        expected: String,
        /// Checksum computed.
        actual: String,
    },
}

impl ClientError {
    /// The HTTP status when the server answered with an error.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A registry client.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

/// A publish that succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishOutcome {
    /// The server's answer.
    pub response: PublishResponse,
    /// False when the same content was already there.
    pub created: bool,
}

fn check_word(what: &str, value: &str) -> Result<(), ClientError> {
    if is_valid_name(value) {
        Ok(())
    } else {
        Err(ClientError::Invalid(format!(
            "{what} `{value}` must match [a-z0-9][a-z0-9._-]{{0,63}}"
        )))
    }
}

fn check_version(value: &str) -> Result<(), ClientError> {
    let ok = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | '*'));
    if ok {
        Ok(())
    } else {
        Err(ClientError::Invalid(format!(
            "version `{value}` is not a semver version or `latest`"
        )))
    }
}

/// Checks that `info` answers a request for `requested` (an exact version, or `latest`/`*`):
/// the version it names is valid semver (so safe as a path segment) and, for an exact request,
/// the one asked for; the checksum is a sha256. A registry answer is trusted no more than a
/// publish request.
/// What is wrong with a registry answer ([`ClientError::Untrusted`]), values escaped and cut;
/// it reads after "answered with".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UntrustedAnswer {
    /// The body passed the size cap.
    #[error("more than {0} bytes")]
    TooLarge(usize),
    /// The version is not semver (so not safe as a path segment).
    #[error("version `{0}`, which is not a semver version")]
    NotSemver(String),
    /// Another version than the exact one requested.
    #[error("version `{got}` to a request for `{requested}`")]
    OtherVersion {
        /// The version answered.
        got: String,
        /// The version requested.
        requested: String,
    },
    /// The checksum is not a sha256 in hex.
    #[error("checksum `{0}`, which is not a hex sha256")]
    Checksum(String),
}

fn check_answer(requested: &str, info: &VersionInfo) -> Result<(), UntrustedAnswer> {
    if !is_valid_version(&info.version) {
        return Err(UntrustedAnswer::NotSemver(printable(&info.version, 80)));
    }
    let any = requested == "latest" || requested == "*";
    if !any && info.version != requested {
        return Err(UntrustedAnswer::OtherVersion {
            got: printable(&info.version, 80),
            requested: requested.to_string(),
        });
    }
    if !is_sha256_hex(&info.checksum) {
        return Err(UntrustedAnswer::Checksum(printable(&info.checksum, 80)));
    }
    Ok(())
}

impl Client {
    /// A client for `base` (`http://HOST:PORT`, optionally with a path prefix). `token` is sent
    /// as a bearer token on writes.
    ///
    /// # Errors
    /// [`ClientError::Url`] for a URL that is not http(s), or https in a build without the
    /// `registry-tls` feature.
    pub fn new(base: &str, token: Option<String>) -> Result<Self, ClientError> {
        let trimmed = base.trim().trim_end_matches('/');
        let bad = |reason: &str| ClientError::Url {
            url: base.to_string(),
            reason: reason.to_string(),
        };
        if trimmed.starts_with("https://") {
            if !cfg!(feature = "registry-tls") {
                return Err(bad(
                    "this pactown was built without TLS support (cargo feature `registry-tls`); use an http:// URL or rebuild with --features registry-tls",
                ));
            }
        } else if !trimmed.starts_with("http://") {
            return Err(bad("must start with http:// or https://"));
        }
        let url = reqwest::Url::parse(trimmed).map_err(|e| bad(&e.to_string()))?;
        if url.host_str().is_none_or(str::is_empty) {
            return Err(bad("has no host"));
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| bad(&e.to_string()))?;
        Ok(Self {
            base: trimmed.to_string(),
            token: token.filter(|t| !t.trim().is_empty()),
            http,
        })
    }

    /// The base URL.
    #[must_use]
    pub fn base(&self) -> &str {
        &self.base
    }

    /// A warning when this client talks plain http to a registry that is not on loopback: a
    /// token and every README then cross the network in clear and can be changed in transit.
    #[must_use]
    pub fn plain_http_warning(&self) -> Option<String> {
        let url = reqwest::Url::parse(&self.base).ok()?;
        if url.scheme() != "http" {
            return None;
        }
        let host = url.host_str()?;
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let local = bare.parse::<std::net::IpAddr>().map_or_else(
            |_| bare.eq_ignore_ascii_case("localhost"),
            |ip| ip.is_loopback(),
        );
        (!local).then(|| {
            format!(
                "registry {} is plain http and not on this machine: tokens and READMEs travel unencrypted and can be altered on the way; use https://",
                self.base
            )
        })
    }

    async fn send<T: serde::de::DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
        url: &str,
    ) -> Result<(T, reqwest::header::HeaderMap), ClientError> {
        let resp = req
            .send()
            .await
            .map_err(|source| ClientError::Unreachable {
                url: url.to_string(),
                source,
            })?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let mut resp = resp;
        let mut bytes = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|source| ClientError::Unreachable {
                url: url.to_string(),
                source,
            })?
        {
            if bytes.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(ClientError::Untrusted {
                    url: url.to_string(),
                    reason: UntrustedAnswer::TooLarge(MAX_ANSWER_BYTES),
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            let body: Option<ErrorBody> = serde_json::from_slice(&bytes).ok();
            let (error, message) = body.map_or_else(
                || {
                    (
                        "http_error".to_string(),
                        String::from_utf8_lossy(&bytes).chars().take(300).collect(),
                    )
                },
                |b| (b.error, b.message),
            );
            return Err(ClientError::Api {
                status: status.as_u16(),
                error,
                message,
                url: url.to_string(),
            });
        }
        let value = serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode {
            url: url.to_string(),
            reason: e.to_string(),
        })?;
        Ok((value, headers))
    }

    fn authed(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    /// Checks that the registry answers `GET /health`.
    ///
    /// # Errors
    /// Transport and API errors.
    pub async fn health(&self) -> Result<(), ClientError> {
        let url = format!("{}/health", self.base);
        let _: (serde_json::Value, _) = self.send(self.http.get(&url), &url).await?;
        Ok(())
    }

    /// Publishes a README.
    ///
    /// # Errors
    /// Transport and API errors (401/403 token, 409 immutable version, 413, 422…).
    pub async fn publish(&self, req: &PublishRequest) -> Result<PublishOutcome, ClientError> {
        check_word("namespace", &req.namespace)?;
        check_word("name", &req.name)?;
        let url = format!("{}/v1/publish", self.base);
        let (response, headers): (PublishResponse, _) = self
            .send(self.authed(self.http.post(&url).json(req)), &url)
            .await?;
        let expected = sha256_hex(req.readme_content.as_bytes());
        if response.checksum != expected {
            return Err(ClientError::Checksum {
                artifact: format!("{}/{}@{}", req.namespace, req.name, req.version),
                expected,
                actual: response.checksum,
            });
        }
        let created = headers
            .get("x-pactown-created")
            .is_none_or(|v| v.as_bytes() != b"false");
        Ok(PublishOutcome { response, created })
    }

    /// One version (or `latest`) with its README, checksum verified.
    ///
    /// # Errors
    /// Transport and API errors (404…), [`ClientError::Checksum`].
    pub async fn version(
        &self,
        namespace: &str,
        name: &str,
        version: &str,
    ) -> Result<VersionInfo, ClientError> {
        check_word("namespace", namespace)?;
        check_word("name", name)?;
        check_version(version)?;
        let url = format!("{}/v1/artifacts/{namespace}/{name}/{version}", self.base);
        let (info, _): (VersionInfo, _) = self.send(self.http.get(&url), &url).await?;
        check_answer(version, &info).map_err(|reason| ClientError::Untrusted {
            url: url.clone(),
            reason,
        })?;
        let actual = sha256_hex(info.readme_content.as_bytes());
        if actual != info.checksum {
            return Err(ClientError::Checksum {
                artifact: format!("{namespace}/{name}@{}", info.version),
                expected: info.checksum,
                actual,
            });
        }
        Ok(info)
    }

    /// One artifact's summary.
    ///
    /// # Errors
    /// Transport and API errors.
    pub async fn artifact(&self, namespace: &str, name: &str) -> Result<ArtifactInfo, ClientError> {
        check_word("namespace", namespace)?;
        check_word("name", name)?;
        let url = format!("{}/v1/artifacts/{namespace}/{name}", self.base);
        Ok(self.send(self.http.get(&url), &url).await?.0)
    }

    /// Artifacts, optionally of one namespace and matching a search text.
    ///
    /// # Errors
    /// Transport and API errors.
    pub async fn list(
        &self,
        namespace: Option<&str>,
        search: Option<&str>,
    ) -> Result<Vec<ArtifactInfo>, ClientError> {
        let mut url = reqwest::Url::parse(&format!("{}/v1/artifacts", self.base)).map_err(|e| {
            ClientError::Url {
                url: self.base.clone(),
                reason: e.to_string(),
            }
        })?;
        {
            let mut q = url.query_pairs_mut();
            if let Some(ns) = namespace {
                q.append_pair("namespace", ns);
            }
            if let Some(s) = search {
                q.append_pair("search", s);
            }
        }
        let text = url.to_string();
        Ok(self.send(self.http.get(url), &text).await?.0)
    }

    /// Deletes an artifact.
    ///
    /// # Errors
    /// Transport and API errors.
    pub async fn delete(&self, namespace: &str, name: &str) -> Result<(), ClientError> {
        check_word("namespace", namespace)?;
        check_word("name", name)?;
        let url = format!("{}/v1/artifacts/{namespace}/{name}", self.base);
        let _: (serde_json::Value, _) =
            self.send(self.authed(self.http.delete(&url)), &url).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert!(Client::new("http://127.0.0.1:8800/", None).is_ok());
        assert_eq!(
            Client::new("http://127.0.0.1:8800/", None).unwrap().base(),
            "http://127.0.0.1:8800"
        );
        assert!(Client::new("ftp://x", None).is_err());
        assert!(Client::new("127.0.0.1:8800", None).is_err());
        if !cfg!(feature = "registry-tls") {
            let err = Client::new("https://reg.example", None).unwrap_err();
            assert!(err.to_string().contains("registry-tls"), "{err}");
        }
    }
}
