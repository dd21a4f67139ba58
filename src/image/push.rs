//! `pactown build --push`: ship the built service images to an OCI registry.
//!
//! For each service image (`pactown/<runtime>-<service>:<content tag>`, see [`super::cache_key`]):
//!
//! 1. a one-instruction build `FROM <local image>` + `LABEL org.opencontainers.image.*` gives the
//!    pushed image its OCI labels ([`oci_labels`]) without touching the local build: the
//!    content tags that `up`, `watch` and `export` use stay a function of the READMEs alone, and
//!    the label step adds no layer (the engine caches it, so an unchanged ecosystem pushes an
//!    identical image);
//! 2. it is named `REGISTRY/NAMESPACE/<ecosystem>-<service>:<content tag>` plus one name per
//!    `--tag` template ([`expand_tag`]: `{git_sha}`, `{git_short_sha}`, `{git_branch}`,
//!    `{version}`, literal text);
//! 3. each name is pushed through the engine ([`Engine::push_image`]), which uploads only the
//!    layers the registry lacks.
//!
//! Before anything is pushed the registry is asked `GET /v2/` over plain HTTP ([`probe`]):
//! unreachable or 5xx is a transient failure (exit 75); a registry that answers plain HTTP is
//! allowed only on a loopback address or when named with `--insecure-registry`. Credentials come
//! from `--registry-auth-file`, else the engine's usual files ([`credentials`]); they go to the
//! engine in the push request and are never printed.
use super::{failing_step_log, ServiceImage};
use crate::config::Ecosystem;
use crate::engine::{
    BuildProgress, BuildRequest, Engine, EngineError, EngineKind, PushError, PushRequest,
    RegistryCredentials,
};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Errors of `build --push` outside the engine's push itself.
#[derive(Debug, thiserror::Error)]
pub enum ImagePushError {
    /// A flag or setting is wrong (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The engine's push (or the registry probe) failed; see [`PushError::is_transient`].
    #[error(transparent)]
    Push(#[from] PushError),
    /// Adding the OCI labels (a one-step build) failed.
    #[error("labelling the image of service `{service}` failed: {message}")]
    Label {
        /// Service name.
        service: String,
        /// The engine's message (with the log's last lines).
        message: String,
    },
    /// A credentials file could not be read.
    #[error("{path}: {problem}")]
    Credentials {
        /// The file.
        path: String,
        /// What is wrong.
        problem: CredentialProblem,
    },
}

/// What is wrong with a credentials file (docker `config.json`, podman `auth.json`) or the
/// credential helper it names.
#[derive(Debug, thiserror::Error)]
pub enum CredentialProblem {
    /// The file could not be read.
    #[error("cannot read: {0}")]
    Unreadable(std::io::Error),
    /// Not the JSON of such a file.
    #[error("not a docker config.json / auth.json (line {line}: {kind})")]
    NotAuthFile {
        /// 1-based line of the JSON error.
        line: usize,
        /// `invalid JSON`, `unexpected value`, `truncated`…
        kind: &'static str,
    },
    /// An `auth` entry that is not base64 of `USER:PASSWORD`.
    #[error("the `auth` entry of {registry} is not {what}")]
    BadAuth {
        /// The registry host.
        registry: String,
        /// `base64`, `UTF-8` or `base64 of USER:PASSWORD`.
        what: &'static str,
    },
    /// `credHelpers`/`credsStore` names a program that cannot be a helper.
    #[error("credential helper name `{0}` is not valid")]
    BadHelperName(String),
    /// The helper could not be started or failed while running.
    #[error("cannot run {program}: {source}")]
    HelperFailed {
        /// `docker-credential-NAME`.
        program: String,
        /// The error.
        source: std::io::Error,
    },
    /// The helper did not answer in time.
    #[error("{0} did not answer within 30 s")]
    HelperTimeout(String),
    /// The helper's answer was not its JSON.
    #[error("{0} answered something that is not its JSON")]
    HelperReply(String),
}

/// What is wrong with a `build --metadata-file` file ([`read_metadata`]).
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    /// It could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Not its JSON.
    #[error("{}:{line}: not a pactown build metadata file ({source})", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line of the JSON error.
        line: usize,
        /// The error.
        source: serde_json::Error,
    },
    /// A digest that is not `sha256:<64 hex>`.
    #[error("{}: service `{service}`: digest `{digest}` is not sha256:<64 hex>", path.display())]
    Digest {
        /// The file.
        path: PathBuf,
        /// The service.
        service: String,
        /// The digest as written.
        digest: String,
    },
}

impl ImagePushError {
    /// 75 for transient failures (CI may retry), 2 for usage errors, else 1.
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        match self {
            ImagePushError::Usage(_) => 2,
            ImagePushError::Push(p) if p.is_transient() => 75,
            _ => 1,
        }
    }
}

impl From<EngineError> for ImagePushError {
    fn from(e: EngineError) -> Self {
        ImagePushError::Push(PushError::Engine(e))
    }
}

/// `REGISTRY/NAMESPACE` to push to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageRepo {
    /// `HOST[:PORT]`.
    pub registry: String,
    /// One or more path components (`acme`, `acme/team`).
    pub namespace: String,
}

impl ImageRepo {
    /// Parses `REGISTRY/NAMESPACE` (`127.0.0.1:5000/acme`, `ghcr.io/acme/team`).
    ///
    /// # Errors
    /// [`ImagePushError::Usage`] naming what is wrong.
    pub fn parse(text: &str) -> Result<Self, ImagePushError> {
        let t = text.trim().trim_end_matches('/');
        let bad = |why: &str| {
            ImagePushError::Usage(format!(
                "image repository `{text}`: {why}; expected REGISTRY/NAMESPACE, e.g. ghcr.io/acme or 127.0.0.1:5000/acme"
            ))
        };
        if t.contains("://") {
            return Err(bad("leave out the scheme"));
        }
        let Some((registry, namespace)) = t.split_once('/') else {
            return Err(bad("no namespace"));
        };
        let host_ok = !registry.is_empty()
            && (registry.contains('.') || registry.contains(':') || registry == "localhost")
            && registry
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c));
        if !host_ok {
            return Err(bad(
                "the first part must be a registry host (with a `.` or `:PORT`, or `localhost`)",
            ));
        }
        let component_ok = |c: &str| {
            !c.is_empty()
                && c.chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "._-".contains(ch))
                && c.starts_with(|ch: char| ch.is_ascii_alphanumeric())
                && c.ends_with(|ch: char| ch.is_ascii_alphanumeric())
        };
        if !namespace.split('/').all(component_ok) {
            return Err(bad(
                "namespace components are lowercase letters, digits, `.`, `_` and `-`",
            ));
        }
        Ok(Self {
            registry: registry.to_string(),
            namespace: namespace.to_string(),
        })
    }

    /// `REGISTRY/NAMESPACE/<ecosystem>-<service>`.
    #[must_use]
    pub fn repository(&self, ecosystem: &str, service: &str) -> String {
        format!(
            "{}/{}/{}",
            self.registry,
            self.namespace,
            super::cache_key::repository_component(&format!("{ecosystem}-{service}"))
        )
    }
}

/// What git says about the work tree holding the ecosystem file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GitInfo {
    /// Full commit id of `HEAD`.
    pub sha: String,
    /// Branch name (`CI`'s branch variables on a detached `HEAD`), empty when unknown.
    pub branch: String,
    /// `remote.origin.url` without credentials, empty when none.
    pub source: String,
    /// Commit time of `HEAD` (Unix seconds).
    pub commit_time: Option<i64>,
}

/// Reads [`GitInfo`] for `dir` with the `git` command; `None` outside a work tree or without git.
#[must_use]
pub fn git_info(dir: &Path) -> Option<GitInfo> {
    let git = |args: &[&str]| -> Option<String> {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let sha = git(&["rev-parse", "--verify", "HEAD"]).filter(|s| s.len() >= 7)?;
    let mut branch = git(&["rev-parse", "--abbrev-ref", "HEAD"]).unwrap_or_default();
    if branch == "HEAD" {
        branch = [
            "GITHUB_HEAD_REF",
            "GITHUB_REF_NAME",
            "CI_COMMIT_REF_NAME",
            "BRANCH_NAME",
        ]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .unwrap_or_default();
    }
    let source = git(&["config", "--get", "remote.origin.url"])
        .map(|u| strip_credentials(&u))
        .unwrap_or_default();
    let commit_time = git(&["log", "-1", "--format=%ct", "HEAD"]).and_then(|t| t.parse().ok());
    Some(GitInfo {
        sha,
        branch,
        source,
        commit_time,
    })
}

/// `https://user:token@host/x` → `https://host/x` (a source label must not leak a token).
fn strip_credentials(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        if path.is_empty() {
            format!("{scheme}://{host}")
        } else {
            format!("{scheme}://{host}/{path}")
        }
    } else {
        url.to_string()
    }
}

/// A tag made valid: `[A-Za-z0-9_.-]`, other characters become `-`, no leading `.`/`-`, at most
/// 128 characters (`feature/login` → `feature-login`).
#[must_use]
pub fn sanitize_tag(text: &str) -> String {
    let mut out: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    while out.starts_with(['.', '-']) {
        out.remove(0);
    }
    out.truncate(128);
    out
}

/// Values the tag templates can use.
#[derive(Debug, Clone, Default)]
pub struct TagVars {
    /// Git facts, when in a work tree.
    pub git: Option<GitInfo>,
    /// `version:` of the ecosystem file.
    pub version: String,
}

/// Expands one `--tag` template: `{git_sha}`, `{git_short_sha}` (12 hex), `{git_branch}`
/// (sanitized), `{version}`; other text is kept.
///
/// # Errors
/// [`ImagePushError::Usage`] for an unknown placeholder, a git placeholder outside a work tree,
/// or a result that is not a valid tag.
pub fn expand_tag(template: &str, vars: &TagVars) -> Result<String, ImagePushError> {
    let usage = |why: String| ImagePushError::Usage(format!("--tag `{template}`: {why}"));
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(rest.get(..open).unwrap_or_default());
        let after = rest.get(open + 1..).unwrap_or_default();
        let Some(close) = after.find('}') else {
            return Err(usage("unclosed `{`".into()));
        };
        let name = after.get(..close).unwrap_or_default();
        let git = || {
            vars.git.as_ref().ok_or_else(|| {
                usage(format!(
                    "`{{{name}}}` needs the ecosystem file to be in a git work tree"
                ))
            })
        };
        let value = match name {
            "git_sha" => git()?.sha.clone(),
            "git_short_sha" => git()?.sha.chars().take(12).collect(),
            "git_branch" => {
                let b = &git()?.branch;
                if b.is_empty() {
                    return Err(usage(
                        "the branch is unknown (detached HEAD and no CI branch variable)".into(),
                    ));
                }
                b.clone()
            }
            "version" => vars.version.clone(),
            other => {
                return Err(usage(format!(
                    "unknown placeholder `{{{other}}}`; use {{git_sha}}, {{git_short_sha}}, {{git_branch}} or {{version}}"
                )))
            }
        };
        out.push_str(&value);
        rest = after.get(close + 1..).unwrap_or_default();
    }
    out.push_str(rest);
    let tag = sanitize_tag(&out);
    if tag.is_empty() {
        return Err(usage("expands to an empty tag".into()));
    }
    Ok(tag)
}

/// The OCI labels of a pushed service image: `title` (`<ecosystem>-<service>`), `version`,
/// `description` (when the ecosystem file has one), `source` and `revision` (in a git work
/// tree), `created` (RFC 3339 of `SOURCE_DATE_EPOCH`, else of the commit time; left out when
/// neither is known, so that the label step stays cacheable).
#[must_use]
pub fn oci_labels(
    eco: &Ecosystem,
    service: &str,
    git: Option<&GitInfo>,
    source_date_epoch: Option<i64>,
) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let key = |k: &str| format!("org.opencontainers.image.{k}");
    labels.insert(key("title"), format!("{}-{service}", eco.name));
    labels.insert(key("version"), eco.version.clone());
    if let Some(d) = eco.description.as_ref().filter(|d| !d.trim().is_empty()) {
        labels.insert(key("description"), d.trim().to_string());
    }
    if let Some(g) = git {
        labels.insert(key("revision"), g.sha.clone());
        if !g.source.is_empty() {
            labels.insert(key("source"), g.source.clone());
        }
    }
    if let Some(t) = source_date_epoch.or_else(|| git.and_then(|g| g.commit_time)) {
        if let Some(ts) = rfc3339(t) {
            labels.insert(key("created"), ts);
        }
    }
    labels
}

/// `SOURCE_DATE_EPOCH` from the environment.
///
/// # Errors
/// [`ImagePushError::Usage`] when it is set but not a non-negative integer.
pub fn source_date_epoch() -> Result<Option<i64>, ImagePushError> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) if v.trim().is_empty() => Ok(None),
        Ok(v) => v
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .map(Some)
            .ok_or_else(|| {
                ImagePushError::Usage(format!(
                    "SOURCE_DATE_EPOCH=`{v}` is not a Unix time in seconds"
                ))
            }),
        Err(_) => Ok(None),
    }
}

/// Unix seconds → `YYYY-MM-DDTHH:MM:SSZ` (civil-from-days, proleptic Gregorian).
fn rfc3339(secs: i64) -> Option<String> {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    if !(0..=9999).contains(&year) {
        return None;
    }
    Some(format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    ))
}

/// Options of a push run.
#[derive(Debug, Clone, Default)]
pub struct PushOptions {
    /// Where to push.
    pub repo: Option<ImageRepo>,
    /// `--tag` templates.
    pub tags: Vec<String>,
    /// `--registry-auth-file`.
    pub auth_file: Option<PathBuf>,
    /// `--insecure-registry` hosts (plain HTTP or unverified TLS allowed).
    pub insecure: Vec<String>,
}

/// One pushed service image (a row of the metadata file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushedImage {
    /// Pushed reference with the content tag (`REGISTRY/NS/<eco>-<service>:<tag>`).
    pub image: String,
    /// The registry's manifest digest (`sha256:…`).
    pub digest: String,
    /// `REGISTRY/NS/<eco>-<service>@sha256:…`, what exports pin.
    pub reference: String,
    /// Every tag pushed (the content tag first).
    pub tags: Vec<String>,
    /// Image size in bytes (uncompressed, as the engine reports it).
    pub size: u64,
    /// Layers uploaded (`null` when the engine does not report it: Podman 4.3).
    pub layers_uploaded: Option<usize>,
    /// Layers the registry already had (`null` likewise).
    pub layers_reused: Option<usize>,
    /// The local image that was pushed (`pactown/<runtime>-<service>:<tag>`).
    pub local: String,
    /// Seconds the label step and the pushes took.
    pub seconds: f64,
}

/// The metadata file (`--metadata-file`, `--json` with `--push`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushMetadata {
    /// Ecosystem name.
    pub ecosystem: String,
    /// `REGISTRY/NAMESPACE`.
    pub repo: String,
    /// Engine that pushed (`docker` / `podman`).
    pub engine: String,
    /// Commit pushed, when in a git work tree.
    pub revision: Option<String>,
    /// Per service.
    pub services: BTreeMap<String, PushedImage>,
}

/// How the registry answered the plain-HTTP probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// It speaks plain HTTP.
    PlainHttp,
    /// Not plain HTTP: TLS (the engine verifies it).
    Tls,
}

/// Seconds the probe waits for the registry.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Asks `http://REGISTRY/v2/` whether the registry is up and whether it speaks plain HTTP.
/// A TLS server answers a plain request with an error (Go's: `400 Client sent an HTTP request to
/// an HTTPS server`) or closes the connection, which both count as [`Transport::Tls`].
///
/// # Errors
/// [`PushError::Transient`] when nothing listens, the probe times out, or the registry answers
/// 5xx over plain HTTP.
pub async fn probe(registry: &str) -> Result<Transport, PushError> {
    let transient = |message: String| PushError::Transient {
        reference: registry.to_string(),
        message,
    };
    let client = reqwest::Client::builder()
        .timeout(PROBE_TIMEOUT)
        .no_proxy()
        .build()
        .map_err(|e| transient(format!("cannot create an HTTP client: {e}")))?;
    match client.get(format!("http://{registry}/v2/")).send().await {
        Ok(resp) => {
            let status = resp.status();
            let api = resp
                .headers()
                .contains_key("docker-distribution-api-version");
            if status.is_server_error() {
                Err(transient(format!("registry answered {status}")))
            } else if api || status == reqwest::StatusCode::OK {
                Ok(Transport::PlainHttp)
            } else {
                Ok(Transport::Tls)
            }
        }
        Err(e) if e.is_connect() => Err(transient(format!(
            "cannot connect to {registry}: {}",
            error_chain(&e)
        ))),
        Err(e) if e.is_timeout() => Err(transient(format!(
            "{registry} did not answer within {} s",
            PROBE_TIMEOUT.as_secs()
        ))),
        // a TLS server hanging up on plain HTTP, or garbage: not a plain-HTTP registry
        Err(_) => Ok(Transport::Tls),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        out.push_str(": ");
        out.push_str(&s.to_string());
        src = s.source();
    }
    out
}

/// Whether a registry host is on the loopback (`localhost`, `127.0.0.0/8`, `[::1]`).
#[must_use]
pub fn is_loopback(registry: &str) -> bool {
    let host = if let Some(rest) = registry.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        registry.rsplit_once(':').map_or(registry, |(h, _)| h)
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Files to look for credentials in, in order, for `engine`.
#[must_use]
pub fn credential_files(engine: EngineKind) -> Vec<PathBuf> {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let home = env("HOME");
    let docker = env("DOCKER_CONFIG")
        .map(|d| d.join("config.json"))
        .or_else(|| home.as_ref().map(|h| h.join(".docker/config.json")));
    let mut files = Vec::new();
    if engine == EngineKind::Podman {
        files.extend(env("REGISTRY_AUTH_FILE"));
        files.extend(env("XDG_RUNTIME_DIR").map(|d| d.join("containers/auth.json")));
        files.extend(
            home.as_ref()
                .map(|h| h.join(".config/containers/auth.json")),
        );
    }
    files.extend(docker);
    files
}

#[derive(Debug, Default, Deserialize)]
struct AuthFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: BTreeMap<String, String>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default, rename = "identitytoken")]
    identity_token: Option<String>,
}

/// `https://host:5000/v1/` → `host:5000` (the spellings `docker login` and `podman login` use).
fn auth_key_host(key: &str) -> &str {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    k.split('/').next().unwrap_or(k)
}

/// Credentials for `registry`: `explicit` (`--registry-auth-file`) when given, else the first of
/// [`credential_files`] with an entry for it. `None` when none has one (anonymous push).
///
/// # Errors
/// [`ImagePushError::Credentials`] when a file is unreadable or malformed (an explicit file must
/// exist), or a credential helper fails.
pub async fn credentials(
    registry: &str,
    engine: EngineKind,
    explicit: Option<&Path>,
) -> Result<Option<RegistryCredentials>, ImagePushError> {
    let files = match explicit {
        Some(p) => vec![p.to_path_buf()],
        None => credential_files(engine),
    };
    for path in files {
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && explicit.is_none() => continue,
            Err(e) => {
                return Err(ImagePushError::Credentials {
                    path: path.display().to_string(),
                    problem: CredentialProblem::Unreadable(e),
                })
            }
        };
        let bad = |problem: CredentialProblem| ImagePushError::Credentials {
            path: path.display().to_string(),
            problem,
        };
        let file: AuthFile = serde_json::from_str(&text).map_err(|e| {
            bad(CredentialProblem::NotAuthFile {
                line: e.line(),
                kind: e.classify_name(),
            })
        })?;
        if let Some((_, entry)) = file
            .auths
            .iter()
            .find(|(k, _)| auth_key_host(k) == registry)
        {
            return entry_credentials(registry, entry).map(Some).map_err(bad);
        }
        if let Some(helper) = file
            .cred_helpers
            .iter()
            .find(|(k, _)| auth_key_host(k) == registry)
            .map(|(_, v)| v.clone())
            .or(file.creds_store.clone())
        {
            if let Some(c) = helper_credentials(registry, &helper).await.map_err(bad)? {
                return Ok(Some(c));
            }
        }
    }
    Ok(None)
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "read error",
            serde_json::error::Category::Syntax => "invalid JSON",
            serde_json::error::Category::Data => "unexpected value",
            serde_json::error::Category::Eof => "truncated",
        }
    }
}

fn entry_credentials(
    registry: &str,
    e: &AuthEntry,
) -> Result<RegistryCredentials, CredentialProblem> {
    let bad_auth = |what| CredentialProblem::BadAuth {
        registry: registry.to_string(),
        what,
    };
    let mut c = RegistryCredentials {
        server: registry.to_string(),
        ..RegistryCredentials::default()
    };
    if let Some(token) = e.identity_token.as_ref().filter(|t| !t.is_empty()) {
        c.identity_token = Some(token.clone());
    }
    if let Some(auth) = e.auth.as_ref().filter(|a| !a.is_empty()) {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .map_err(|_| bad_auth("base64"))?;
        let text = String::from_utf8(decoded).map_err(|_| bad_auth("UTF-8"))?;
        let Some((user, pass)) = text.split_once(':') else {
            return Err(bad_auth("base64 of USER:PASSWORD"));
        };
        c.username = Some(user.to_string());
        c.password = Some(pass.to_string());
    } else if let (Some(u), Some(p)) = (&e.username, &e.password) {
        c.username = Some(u.clone());
        c.password = Some(p.clone());
    }
    Ok(c)
}

/// Asks `docker-credential-HELPER get` (the protocol docker and podman use) for `registry`.
async fn helper_credentials(
    registry: &str,
    helper: &str,
) -> Result<Option<RegistryCredentials>, CredentialProblem> {
    use tokio::io::AsyncWriteExt;
    if !helper
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
    {
        return Err(CredentialProblem::BadHelperName(helper.to_string()));
    }
    let program = format!("docker-credential-{helper}");
    let mut child = match tokio::process::Command::new(&program)
        .arg("get")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
    {
        Ok(c) => c,
        Err(source) => return Err(CredentialProblem::HelperFailed { program, source }),
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(registry.as_bytes()).await;
    }
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .map_err(|_| CredentialProblem::HelperTimeout(program.clone()))?
        .map_err(|source| CredentialProblem::HelperFailed {
            program: program.clone(),
            source,
        })?;
    if !out.status.success() {
        // "credentials not found in native keychain": anonymous
        return Ok(None);
    }
    #[derive(Deserialize)]
    struct Reply {
        #[serde(rename = "Username", default)]
        username: String,
        #[serde(rename = "Secret", default)]
        secret: String,
    }
    let reply: Reply = serde_json::from_slice(&out.stdout)
        .map_err(|_| CredentialProblem::HelperReply(program.clone()))?;
    let mut c = RegistryCredentials {
        server: registry.to_string(),
        ..RegistryCredentials::default()
    };
    if reply.username == "<token>" {
        c.identity_token = Some(reply.secret);
    } else {
        c.username = Some(reply.username);
        c.password = Some(reply.secret);
    }
    Ok(Some(c))
}

/// Progress of a push run, for the UI.
#[derive(Debug, Clone)]
pub enum PushEvent {
    /// A service's push begins.
    Started {
        /// Service name.
        service: String,
        /// Reference with the content tag.
        image: String,
    },
    /// A status line from the engine.
    Line {
        /// Service name.
        service: String,
        /// The line.
        line: String,
    },
    /// A service is pushed.
    Finished {
        /// Service name.
        service: String,
        /// Its digest.
        digest: String,
    },
}

/// The Containerfile of the label step.
fn label_containerfile(base: &str, labels: &BTreeMap<String, String>) -> String {
    let quote = super::containerfile::env_value;
    let pairs: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{}={}", quote(k), quote(v)))
        .collect();
    format!("FROM {base}\nLABEL {}\n", pairs.join(" \\\n      "))
}

/// Pushes each built image (see the module docs). Services are pushed one after another, so
/// layers shared between services are uploaded once and then found (or mounted) by the rest.
///
/// # Errors
/// The first failure: [`ImagePushError::Usage`] for bad settings (before anything is pushed),
/// [`ImagePushError::Push`] from the probe or the engine.
pub async fn push_services(
    engine: &dyn Engine,
    eco: &Ecosystem,
    images: &[ServiceImage],
    opts: &PushOptions,
    events: &(dyn Fn(PushEvent) + Send + Sync),
) -> Result<PushMetadata, ImagePushError> {
    let Some(repo) = opts.repo.clone() else {
        return Err(ImagePushError::Usage(
            "--push needs a repository: --repo REGISTRY/NAMESPACE, `images: {repo: …}` in the ecosystem file, or PACTOWN_IMAGE_REPO".into(),
        ));
    };
    let git = git_info(&eco.dir);
    let vars = TagVars {
        git: git.clone(),
        version: eco.version.clone(),
    };
    let mut extra_tags = Vec::new();
    for t in &opts.tags {
        let tag = expand_tag(t, &vars)?;
        if !extra_tags.contains(&tag) {
            extra_tags.push(tag);
        }
    }
    let epoch = source_date_epoch()?;
    let insecure = opts.insecure.iter().any(|h| h == &repo.registry);
    let transport = probe(&repo.registry).await?;
    if transport == Transport::PlainHttp && !insecure && !is_loopback(&repo.registry) {
        return Err(ImagePushError::Usage(format!(
            "registry {} speaks plain HTTP and is not on this machine's loopback: anything could read or change the images on the way. Use TLS, or pass --insecure-registry {} (Docker also needs it in the daemon's insecure-registries)",
            repo.registry, repo.registry
        )));
    }
    let creds = credentials(&repo.registry, engine.kind(), opts.auth_file.as_deref()).await?;

    let mut metadata = PushMetadata {
        ecosystem: eco.name.clone(),
        repo: format!("{}/{}", repo.registry, repo.namespace),
        engine: engine.kind().to_string(),
        revision: git.as_ref().map(|g| g.sha.clone()),
        services: BTreeMap::new(),
    };
    for image in images {
        let start = Instant::now();
        let repository = repo.repository(&eco.name, &image.service);
        let content_tag = split_tag(&image.tag).to_string();
        let target = format!("{repository}:{content_tag}");
        events(PushEvent::Started {
            service: image.service.clone(),
            image: target.clone(),
        });
        let labels = oci_labels(eco, &image.service, git.as_ref(), epoch);
        let containerfile = label_containerfile(&image.tag, &labels);
        let request = BuildRequest {
            tag: target.clone(),
            context: super::context::containerfile_only(&containerfile).map_err(|e| {
                ImagePushError::Label {
                    service: image.service.clone(),
                    message: e.to_string(),
                }
            })?,
            containerfile: super::context::CONTAINERFILE.to_string(),
            labels: BTreeMap::new(),
            no_cache: false,
        };
        let line = |p: BuildProgress| {
            events(PushEvent::Line {
                service: image.service.clone(),
                line: p.line,
            });
        };
        if let Err(failure) = engine.build(request, &line).await? {
            let tail = failing_step_log(&failure);
            return Err(ImagePushError::Label {
                service: image.service.clone(),
                message: format!("{} ({})", failure.message, tail.join(" / ")),
            });
        }
        let mut tags = vec![content_tag.clone()];
        for t in &extra_tags {
            if !tags.contains(t) {
                engine
                    .tag_image(&target, &format!("{repository}:{t}"))
                    .await?;
                tags.push(t.clone());
            }
        }
        let mut first = None;
        for t in &tags {
            let request = PushRequest {
                reference: format!("{repository}:{t}"),
                credentials: creds.clone(),
                insecure: insecure || transport == Transport::PlainHttp,
            };
            let progress = |l: String| {
                events(PushEvent::Line {
                    service: image.service.clone(),
                    line: l,
                });
            };
            let report = engine.push_image(&request, &progress).await?;
            if first.is_none() {
                first = Some(report);
            }
        }
        let Some(report) = first else {
            continue;
        };
        let size = engine.image(&target).await?.map_or(image.size, |i| i.size);
        events(PushEvent::Finished {
            service: image.service.clone(),
            digest: report.digest.clone(),
        });
        metadata.services.insert(
            image.service.clone(),
            PushedImage {
                image: target.clone(),
                reference: format!("{repository}@{}", report.digest),
                digest: report.digest,
                tags,
                size,
                layers_uploaded: report.layers_uploaded,
                layers_reused: report.layers_reused,
                local: image.tag.clone(),
                seconds: (start.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
            },
        );
    }
    Ok(metadata)
}

/// The tag of `repo:tag` (after the last `/`).
#[must_use]
pub fn split_tag(reference: &str) -> &str {
    crate::engine::push::split_reference(reference).1
}

/// Reads a metadata file written by `build --metadata-file`.
///
/// # Errors
/// [`MetadataError`] naming the file and what is wrong.
pub fn read_metadata(path: &Path) -> Result<PushMetadata, MetadataError> {
    let text = std::fs::read_to_string(path).map_err(|source| MetadataError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let meta: PushMetadata =
        serde_json::from_str(&text).map_err(|source| MetadataError::Parse {
            path: path.to_path_buf(),
            line: source.line(),
            source,
        })?;
    for (service, img) in &meta.services {
        let hex = img.digest.strip_prefix("sha256:").unwrap_or_default();
        if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(MetadataError::Digest {
                path: path.to_path_buf(),
                service: service.clone(),
                digest: img.digest.clone(),
            });
        }
    }
    Ok(meta)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repos_parse() {
        let r = ImageRepo::parse("127.0.0.1:5000/acme").unwrap();
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.repository("shop", "api"), "127.0.0.1:5000/acme/shop-api");
        assert_eq!(
            ImageRepo::parse("ghcr.io/acme/team/").unwrap().namespace,
            "acme/team"
        );
        for bad in [
            "acme",
            "acme/x",
            "https://ghcr.io/acme",
            "ghcr.io/Acme",
            "ghcr.io/",
        ] {
            assert!(ImageRepo::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tags_expand() {
        let vars = TagVars {
            git: Some(GitInfo {
                sha: "0123456789abcdef0123456789abcdef01234567".into(),
                branch: "feature/Login".into(),
                source: String::new(),
                commit_time: None,
            }),
            version: "1.2.0".into(),
        };
        assert_eq!(expand_tag("latest", &vars).unwrap(), "latest");
        assert_eq!(
            expand_tag("{git_short_sha}", &vars).unwrap(),
            "0123456789ab"
        );
        assert_eq!(expand_tag("{git_branch}", &vars).unwrap(), "feature-Login");
        assert_eq!(
            expand_tag("v{version}-{git_short_sha}", &vars).unwrap(),
            "v1.2.0-0123456789ab"
        );
        assert_eq!(expand_tag("{git_sha}", &vars).unwrap().len(), 40);
        assert!(expand_tag("{nope}", &vars).is_err());
        assert!(expand_tag("{git_sha", &vars).is_err());
        assert!(expand_tag("{git_sha}", &TagVars::default()).is_err());
        assert!(expand_tag("///", &vars).is_err());
        assert_eq!(sanitize_tag(".-x y"), "x-y");
    }

    #[test]
    fn times_format() {
        assert_eq!(rfc3339(0).unwrap(), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(946_684_800).unwrap(), "2000-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_709_251_199).unwrap(), "2024-02-29T23:59:59Z");
    }

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback("127.0.0.1:5000"));
        assert!(is_loopback("localhost:5000"));
        assert!(is_loopback("[::1]:5000"));
        assert!(!is_loopback("10.0.0.1:5000"));
        assert!(!is_loopback("ghcr.io"));
    }

    #[test]
    fn credentials_strip() {
        assert_eq!(
            strip_credentials("https://u:tok@github.com/acme/x.git"),
            "https://github.com/acme/x.git"
        );
        assert_eq!(
            strip_credentials("git@github.com:a/b"),
            "git@github.com:a/b"
        );
    }

    #[tokio::test]
    async fn auth_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        let auth = base64::engine::general_purpose::STANDARD.encode("ci:s3cret");
        std::fs::write(
            &path,
            format!(r#"{{"auths": {{"https://127.0.0.1:5000/v1/": {{"auth": "{auth}"}}}}}}"#),
        )
        .unwrap();
        let c = credentials("127.0.0.1:5000", EngineKind::Docker, Some(&path))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(c.username.as_deref(), Some("ci"));
        assert_eq!(c.password.as_deref(), Some("s3cret"));
        assert!(credentials("other:1", EngineKind::Docker, Some(&path))
            .await
            .unwrap()
            .is_none());
        std::fs::write(&path, "{").unwrap();
        let err = credentials("127.0.0.1:5000", EngineKind::Docker, Some(&path))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("config.json") && !err.contains("s3cret"),
            "{err}"
        );
        assert!(
            credentials("x:1", EngineKind::Docker, Some(&dir.path().join("missing")))
                .await
                .is_err()
        );
    }

    #[test]
    fn label_file_quotes() {
        let labels = BTreeMap::from([("a".to_string(), "x\"$y".to_string())]);
        assert_eq!(
            label_containerfile("pactown/python-api:abc", &labels),
            "FROM pactown/python-api:abc\nLABEL \"a\"=\"x\\\"\\$y\"\n"
        );
    }
}

#[cfg(test)]
mod config_tests {
    #[test]
    fn images_repo_is_read_and_checked() {
        let path = std::path::Path::new("/tmp/x/shop.pactown.yaml");
        let base = "name: shop\nservices:\n  api:\n    readme: api.md\n";
        // the README does not exist: only the `images` diagnostics matter here
        let read = |extra: &str| crate::config::parse_partial(path, &format!("{extra}{base}"));
        let ok = read("images: {repo: 127.0.0.1:5000/acme}\n");
        assert_eq!(
            ok.ecosystem.unwrap().build.image_repo.as_deref(),
            Some("127.0.0.1:5000/acme")
        );
        let bad = read("images:\n  repo: acme\n");
        assert!(bad.ecosystem.unwrap().build.image_repo.is_none());
        let text = format!("{:?}", bad.diagnostics);
        assert!(text.contains("images.repo"), "{text}");
        let unknown = read("images: {tag: x}\n");
        assert!(format!("{:?}", unknown.diagnostics).contains("tag"));
    }
}
