//! Deploy exports: the same ecosystem rendered as Quadlet units ([`crate::quadlet`]), a Compose
//! file ([`compose`]) or Kubernetes manifests ([`kube`]).
//!
//! Every generator is pure (`&Ecosystem` + image map → files, no IO) and builds its output from
//! typed structs. Values that come from a README or the ecosystem file are checked here first:
//! anything that cannot be expressed safely in the target format is an [`ExportError::Unsafe`]
//! naming the service and the key. [`write_atomically`] puts a generated file set into a folder,
//! replacing only the files a previous export wrote there (its manifest).
pub mod compose;
pub mod kube;

use crate::config::{Ecosystem, ServiceSpec};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Image reference per service name (the tag the build module gives each service, or the
/// pushed reference from a metadata file), and which of those images pactown built.
///
/// Whether an image is pactown's decides what an export keeps writable under a read-only root
/// (`/app`, [`crate::config::writable_image_paths`]) and the numeric user Kubernetes runs it
/// as. A local build tag (`pactown/<runtime>-<service>:<hex>`) says so by its name; a pushed
/// image (`REGISTRY/NS/<ecosystem>-<service>@sha256:…`) does not, so [`ImageMap::insert_built`]
/// records it from the metadata file of the push.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageMap {
    refs: BTreeMap<String, String>,
    built: BTreeSet<String>,
}

impl ImageMap {
    /// An empty map.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `service`'s image to `reference`; it counts as pactown's when it is a local pactown
    /// build tag (`pactown/…`, also `localhost/pactown/…`). The previous reference, if any.
    pub fn insert(&mut self, service: String, reference: String) -> Option<String> {
        if reference.starts_with("pactown/") || reference.starts_with("localhost/pactown/") {
            self.built.insert(service.clone());
        } else {
            self.built.remove(&service);
        }
        self.refs.insert(service, reference)
    }

    /// Sets `service`'s image to `reference`, an image pactown built and pushed (whatever its
    /// name). The previous reference, if any.
    pub fn insert_built(&mut self, service: String, reference: String) -> Option<String> {
        self.built.insert(service.clone());
        self.refs.insert(service, reference)
    }

    /// `service`'s image reference.
    #[must_use]
    pub fn get(&self, service: &str) -> Option<&String> {
        self.refs.get(service)
    }

    /// Whether `service` has an image.
    #[must_use]
    pub fn contains_key(&self, service: &str) -> bool {
        self.refs.contains_key(service)
    }

    /// Whether `service`'s image is one pactown built (see [`ImageMap`]).
    #[must_use]
    pub fn built_by_pactown(&self, service: &str) -> bool {
        self.built.contains(service)
    }
}

impl std::ops::Index<&str> for ImageMap {
    type Output = String;

    /// `service`'s image reference.
    ///
    /// # Panics
    /// When `service` has none (use [`ImageMap::get`] where it may be missing).
    #[allow(clippy::indexing_slicing)]
    fn index(&self, service: &str) -> &String {
        &self.refs[service]
    }
}

impl<const N: usize> From<[(String, String); N]> for ImageMap {
    fn from(pairs: [(String, String); N]) -> Self {
        pairs.into_iter().collect()
    }
}

impl FromIterator<(String, String)> for ImageMap {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(pairs: I) -> Self {
        let mut map = Self::new();
        for (service, reference) in pairs {
            map.insert(service, reference);
        }
        map
    }
}

/// Longest environment value pactown exports (systemd's line limit is far larger; this keeps
/// units readable and rejects accidental file dumps).
pub const MAX_ENV_VALUE: usize = 32 * 1024;

/// Errors of the exporters.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// A value cannot be expressed safely in the output format.
    #[error("service `{service}`, key `{key}`: {reason}")]
    Unsafe {
        /// Service name (or `(ecosystem)` for ecosystem-level keys).
        service: String,
        /// The key, e.g. `env.API_TOKEN` or `health_check`.
        key: String,
        /// What is wrong and what to do.
        reason: String,
    },
    /// No image was given for a service.
    #[error("service `{service}` has no image; build it first (`pactown build`)")]
    MissingImage {
        /// Service name.
        service: String,
    },
    /// The requested Podman version cannot run what the ecosystem needs.
    #[error("Podman {version}: {reason}")]
    Unsupported {
        /// The target version.
        version: String,
        /// What is missing.
        reason: String,
    },
    /// A YAML document could not be serialized.
    #[error("cannot serialize {what}: {message}")]
    Serialize {
        /// What was being written.
        what: String,
        /// The serializer's message.
        message: String,
    },
    /// Writing the output failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The IO error.
        source: std::io::Error,
    },
}

impl ExportError {
    pub(crate) fn unsafe_value(service: &str, key: &str, reason: impl Into<String>) -> Self {
        ExportError::Unsafe {
            service: service.to_string(),
            key: key.to_string(),
            reason: reason.into(),
        }
    }
}

/// One generated file: a name (a relative path of plain names) and its contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    /// File name, e.g. `shop-api.container` or `containers/systemd/shop-api.container`.
    pub name: String,
    /// Full text.
    pub contents: String,
}

/// Label of ecosystem-level keys in [`ExportError::Unsafe`].
pub const ECOSYSTEM_KEY_OWNER: &str = "(ecosystem)";

/// Checks the names every exporter turns into engine, DNS or file names: the ecosystem name,
/// the network name and each service name.
///
/// # Errors
/// [`ExportError::Unsafe`] naming the first bad name.
pub fn check_names(eco: &Ecosystem) -> Result<(), ExportError> {
    if !crate::config::rules::is_resource_name(&eco.name) {
        return Err(ExportError::unsafe_value(
            ECOSYSTEM_KEY_OWNER,
            "name",
            format!(
                "`{}` cannot be used in unit, container and file names; use letters, digits, `_`, `.` and `-` (at most 63 characters)",
                eco.name.escape_debug()
            ),
        ));
    }
    let network = eco.network_name();
    if !crate::config::rules::is_resource_name(&network) {
        return Err(ExportError::unsafe_value(
            ECOSYSTEM_KEY_OWNER,
            "network",
            format!(
                "`{}` is not a valid network name; use letters, digits, `_`, `.` and `-`",
                network.escape_debug()
            ),
        ));
    }
    for svc in &eco.services {
        if !crate::config::rules::is_service_name(&svc.name) {
            return Err(ExportError::unsafe_value(
                &svc.name.escape_debug().to_string(),
                "name",
                "service names must match [a-z0-9][a-z0-9-]* (at most 63 characters): they become DNS names and unit names",
            ));
        }
        if svc.replicas == 0 {
            return Err(ExportError::unsafe_value(
                &svc.name,
                "replicas",
                "must be at least 1",
            ));
        }
    }
    Ok(())
}

/// The environment of a service as exported: the injected variables (dependency URLs, port,
/// names), then the service's own `env`, then — unless that sets it — the list its image's start
/// script waits for ([`crate::image::start_script`]), so the exported containers too start their
/// process only once their dependencies answer (systemd's `After=` and Kubernetes do not wait
/// for health); each name and value checked.
///
/// # Errors
/// [`ExportError::Unsafe`] for a name that is not `[A-Za-z_][A-Za-z0-9_]*`, a value with a NUL
/// byte or C1 control character, or a value longer than [`MAX_ENV_VALUE`].
pub fn service_env(
    eco: &Ecosystem,
    svc: &ServiceSpec,
) -> Result<BTreeMap<String, String>, ExportError> {
    let mut env = crate::graph::injected_env(eco, svc);
    let wait = crate::graph::wait_for(eco, svc);
    if !wait.is_empty() {
        env.entry(crate::image::start_script::WAIT_FOR_VAR.to_string())
            .or_insert(wait);
    }
    for (name, value) in &env {
        let key = format!("env.{}", name.escape_debug());
        if !crate::config::rules::is_env_name(name) {
            return Err(ExportError::unsafe_value(
                &svc.name,
                &key,
                "variable names must match [A-Za-z_][A-Za-z0-9_]*",
            ));
        }
        check_env_value(&svc.name, &key, value)?;
    }
    Ok(env)
}

/// Checks one environment value: no NUL (the kernel cannot pass it), no C1 control characters
/// (they do not survive systemd's escaping as UTF-8), at most [`MAX_ENV_VALUE`] bytes.
///
/// # Errors
/// [`ExportError::Unsafe`] naming the service and key.
pub fn check_env_value(service: &str, key: &str, value: &str) -> Result<(), ExportError> {
    if value.len() > MAX_ENV_VALUE {
        return Err(ExportError::unsafe_value(
            service,
            key,
            format!(
                "value is {} bytes; at most {MAX_ENV_VALUE} are exported",
                value.len()
            ),
        ));
    }
    if let Some(c) = value
        .chars()
        .find(|&c| c == '\0' || ('\u{80}'..='\u{9f}').contains(&c))
    {
        return Err(ExportError::unsafe_value(
            service,
            key,
            format!(
                "value contains the control character U+{:04X}, which cannot be passed safely; remove it",
                u32::from(c)
            ),
        ));
    }
    Ok(())
}

/// The health-check path of a service, checked: it must start with `/` and use only URL path
/// characters that need no escaping in any output format (`A-Z a-z 0-9 - . _ ~ / ? = & + ,`).
///
/// # Errors
/// [`ExportError::Unsafe`] naming the service and `health_check`.
pub fn health_path(svc: &ServiceSpec) -> Result<Option<&str>, ExportError> {
    let Some(path) = svc.health_check.as_deref() else {
        return Ok(None);
    };
    if crate::config::rules::is_health_path(path) {
        Ok(Some(path))
    } else {
        Err(ExportError::unsafe_value(
            &svc.name,
            "health_check",
            format!(
                "`{}` is not a plain URL path; use `/` followed by letters, digits and `-._~/?=&+,`",
                path.escape_debug()
            ),
        ))
    }
}

/// The image of a service from the map, checked to be a plain image reference
/// (`[a-z0-9./_:@-]`, no whitespace or shell characters).
///
/// # Errors
/// [`ExportError::MissingImage`] or [`ExportError::Unsafe`] (key `image`).
pub fn service_image<'a>(images: &'a ImageMap, service: &str) -> Result<&'a str, ExportError> {
    let image = images
        .get(service)
        .ok_or_else(|| ExportError::MissingImage {
            service: service.to_string(),
        })?;
    let ok = !image.is_empty()
        && image.len() <= 255
        && image
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && image
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "./_:@-".contains(c));
    if ok {
        Ok(image)
    } else {
        Err(ExportError::unsafe_value(
            service,
            "image",
            format!("`{}` is not a valid image reference", image.escape_debug()),
        ))
    }
}

/// The shell-free health probe every exporter uses: bash's `/dev/tcp` (bash is in every pactown
/// image, curl is not). With a path it sends an HTTP/1.0 GET and requires a 2xx/3xx status line;
/// without one it only opens the TCP connection. The returned argv is exec form.
#[must_use]
pub fn health_argv(port: u16, path: Option<&str>) -> Vec<String> {
    let script = match path {
        Some(path) => format!(
            "exec 3<>/dev/tcp/127.0.0.1/{port} && printf 'GET {path} HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' [23][0-9][0-9]'"
        ),
        None => format!("exec 3<>/dev/tcp/127.0.0.1/{port}"),
    };
    vec!["/bin/bash".into(), "-c".into(), script]
}

/// The health probe of a service in exec form, as every exporter runs it inside the container:
/// its `health_cmd` through `/bin/sh -c`, else [`health_argv`] on its port; `None` for a job
/// and for a service without port and `health_cmd` (healthy = running).
///
/// # Errors
/// [`ExportError::Unsafe`] for a bad health path.
pub fn service_health_argv(svc: &ServiceSpec) -> Result<Option<Vec<String>>, ExportError> {
    if svc.is_job() {
        return Ok(None);
    }
    if let Some(argv) = svc.health_argv() {
        return Ok(Some(argv));
    }
    match svc.port {
        Some(port) => Ok(Some(health_argv(port, health_path(svc)?))),
        None => Ok(None),
    }
}

/// What a dependant waits for on one dependency in the exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    /// Its health check passes (Compose `service_healthy`).
    Healthy,
    /// It runs (a service without a health probe; Compose `service_started`).
    Started,
    /// It exited 0 (a job; Compose `service_completed_successfully`).
    Completed,
}

/// What a dependant waits for on `dep`: completed for a job, healthy when it has a health
/// probe ([`service_health_argv`]), started otherwise.
#[must_use]
pub fn readiness(dep: &ServiceSpec) -> Readiness {
    if dep.is_job() {
        Readiness::Completed
    } else if dep.health_cmd.is_some() || dep.port.is_some() {
        Readiness::Healthy
    } else {
        Readiness::Started
    }
}

/// Health-check timing shared by the exporters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthTiming {
    /// Seconds between probes.
    pub interval: u64,
    /// Seconds a probe may take.
    pub timeout: u64,
    /// Failures before unhealthy.
    pub retries: u64,
    /// Grace period in seconds (the service's `timeout`).
    pub start_period: u64,
}

/// Timing for a service: probe every 2 s, 3 s per probe, and enough retries to cover the
/// service's start-up `timeout`.
#[must_use]
pub fn health_timing(svc: &ServiceSpec) -> HealthTiming {
    HealthTiming {
        interval: 2,
        timeout: 3,
        retries: 3,
        start_period: svc.timeout.max(1),
    }
}

/// PyYAML's implicit resolvers (YAML 1.1) for booleans, integers, floats, nulls, timestamps,
/// merge and value keys, plus the single-letter booleans of the YAML 1.1 spec.
static YAML11_IMPLICIT: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(
    || {
        regex::Regex::new(concat!(
        r"^(?:",
        r"y|Y|n|N|yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF",
        r"|[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+",
        r"|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+",
        r"|[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?",
        r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)",
        r"|~|null|Null|NULL",
        r"|[0-9]{4}-[0-9]{2}-[0-9]{2}",
        r"|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?",
        r"|<<|=",
        r")$"
    ))
    .ok()
    },
);

/// True for a plain scalar that a YAML 1.1 reader (PyYAML and the tools built on it) would not
/// read as a string: `yes`, `NO`, `on`, `0x1`, `012`, `1_000`, `1:20`, `2024-01-01`, `<<`…
fn yaml11_retyped(plain: &str) -> bool {
    YAML11_IMPLICIT
        .as_ref()
        .is_some_and(|re| re.is_match(plain))
}

/// Serialized YAML (serde_yaml, YAML 1.2) with every plain scalar that a YAML 1.1 reader would
/// retype (see [`yaml11_retyped`]) single-quoted, keys and values alike; block scalar bodies are
/// left alone.
#[must_use]
pub fn quote_yaml11(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    // Indentation of the line that opened a block scalar (`key: |`), while inside its body.
    let mut block: Option<usize> = None;
    for line in text.split_inclusive('\n') {
        let content = line.trim_end_matches('\n');
        let indent = content.len() - content.trim_start_matches(' ').len();
        if let Some(open) = block {
            if content.trim().is_empty() || indent > open {
                out.push_str(line);
                continue;
            }
            block = None;
        }
        let (head, mut rest) = content.split_at(indent);
        out.push_str(head);
        while let Some(item) = rest.strip_prefix("- ") {
            out.push_str("- ");
            rest = item;
        }
        let fixed = match split_mapping(rest) {
            Some((key, value)) => format!("{}: {}", quote_plain(key), quote_plain(value)),
            None => match rest.strip_suffix(':') {
                Some(key) if !key.contains(": ") => format!("{}:", quote_plain(key)),
                _ => quote_plain(rest),
            },
        };
        let trimmed = fixed.trim_end();
        if trimmed.ends_with(['|', '>']) || trimmed.ends_with("|-") || trimmed.ends_with(">-") {
            block = Some(indent);
        }
        out.push_str(&fixed);
        out.push_str(&line[content.len()..]);
    }
    out
}

/// `key: value` of a line, when the key is a plain scalar.
fn split_mapping(text: &str) -> Option<(&str, &str)> {
    if text.starts_with(['\'', '"', '?']) {
        return None;
    }
    text.split_once(": ")
}

/// True for a plain scalar that YAML 1.2 (core schema) already reads as a number, boolean or
/// null: serde_yaml writes such a scalar plain only for a real number/boolean (a string that
/// looks like one it quotes), so it must stay as it is.
fn yaml12_typed(plain: &str) -> bool {
    let digits = plain.trim_start_matches(['+', '-']);
    let float_chars = digits
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'));
    matches!(
        plain,
        "true" | "True" | "TRUE" | "false" | "False" | "FALSE" | "~" | "null" | "Null" | "NULL"
    ) || (float_chars && plain.parse::<f64>().is_ok())
        || plain
            .strip_prefix("0x")
            .is_some_and(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit()))
        || plain
            .strip_prefix("0o")
            .is_some_and(|o| !o.is_empty() && o.chars().all(|c| ('0'..='7').contains(&c)))
        || matches!(digits.to_ascii_lowercase().as_str(), ".inf" | ".nan")
}

fn quote_plain(scalar: &str) -> String {
    if yaml11_retyped(scalar) && !yaml12_typed(scalar) && !scalar.contains('\'') {
        format!("'{scalar}'")
    } else {
        scalar.to_string()
    }
}

/// Name of the manifest `write_atomically` keeps in an output folder: the files pactown wrote
/// there, one per line after a comment. Only those are ever replaced or removed.
pub const MANIFEST: &str = ".pactown-export";

/// The files a previous export wrote into `dir` (its manifest; none without one).
fn read_manifest(dir: &Path) -> Result<Vec<String>, ExportError> {
    let path = dir.join(MANIFEST);
    match crate::input::read_capped_string(&path, crate::input::MAX_CONFIG_BYTES) {
        Ok(text) => Ok(text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter(|l| valid_file_name(l))
            .map(str::to_string)
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(source) => Err(ExportError::Io {
            context: format!("cannot read {}", path.display()),
            source,
        }),
    }
}

/// A relative path of plain names (`a.container`, `containers/systemd/a.container`): no empty,
/// hidden, `.` or `..` component and no leading `/`, so nothing lands outside the folder.
fn valid_file_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('/')
        && name
            .split('/')
            .all(|part| !part.is_empty() && !part.starts_with('.'))
        && name != MANIFEST
}

/// Creates the sub-folders of `name` below `dir`, refusing a component that exists and is not
/// a real folder (a symlink could lead outside `dir`).
fn make_parents(dir: &Path, name: &str) -> Result<(), ExportError> {
    let mut at = dir.to_path_buf();
    let parts: Vec<&str> = name.split('/').collect();
    for part in parts.iter().take(parts.len().saturating_sub(1)) {
        at.push(part);
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(ExportError::Io {
                    context: format!(
                        "{} exists and is not a folder (a symlink is not followed); move it away",
                        at.display()
                    ),
                    source: std::io::Error::from(std::io::ErrorKind::InvalidInput),
                })
            }
            Err(_) => std::fs::create_dir(&at).map_err(|source| ExportError::Io {
                context: format!("cannot create {}", at.display()),
                source,
            })?,
        }
    }
    Ok(())
}

/// Writes `files` into the folder `dir` (created when missing) and replaces only what pactown
/// wrote there before: a manifest ([`MANIFEST`]) lists the files of the last export, and a
/// file of that list that is no longer generated is removed; every other file in `dir` (the
/// user's own units, notes…) is left alone, and a generated name that collides with such a file
/// is refused before anything is written. New contents go to temporary files first and are
/// renamed into place once all are written, so a failure leaves the old files.
///
/// # Errors
/// [`ExportError::Io`] with the path involved: `dir` is not a folder, a name is not a plain file
/// name, a name collides with a file pactown did not write, or a write fails.
pub fn write_atomically(dir: &Path, files: &[GeneratedFile]) -> Result<(), ExportError> {
    let io = |context: String| move |source| ExportError::Io { context, source };
    let refuse = |context: String| ExportError::Io {
        context,
        source: std::io::Error::from(std::io::ErrorKind::InvalidInput),
    };
    if let Some(bad) = files.iter().find(|f| !valid_file_name(&f.name)) {
        return Err(refuse(format!(
            "refusing to write file name `{}`",
            bad.name
        )));
    }
    match std::fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(refuse(format!(
                "{} exists and is not a folder; give -o a folder for the unit files",
                dir.display()
            )))
        }
        Err(_) => {
            std::fs::create_dir_all(dir).map_err(io(format!("cannot create {}", dir.display())))?
        }
    }
    let previous = read_manifest(dir)?;
    for file in files {
        let path = dir.join(&file.name);
        if path.symlink_metadata().is_ok() && !previous.contains(&file.name) {
            return Err(refuse(format!(
                "{} exists and was not written by pactown (not in {}); move it away or export to another folder",
                path.display(),
                dir.join(MANIFEST).display()
            )));
        }
    }
    for file in files {
        make_parents(dir, &file.name)?;
    }
    let stamp = std::process::id();
    let tmp_of = |name: &str| {
        let path = dir.join(name);
        let base = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        path.with_file_name(format!(".{base}.pactown-tmp-{stamp}"))
    };
    let mut manifest = String::from(
        "# Files written by `pactown export`; only these are replaced or removed by the next export.\n",
    );
    let written = (|| {
        for file in files {
            let tmp = tmp_of(&file.name);
            std::fs::write(&tmp, &file.contents)
                .map_err(io(format!("cannot write {}", tmp.display())))?;
            manifest.push_str(&file.name);
            manifest.push('\n');
        }
        let tmp = tmp_of(MANIFEST);
        std::fs::write(&tmp, &manifest).map_err(io(format!("cannot write {}", tmp.display())))
    })();
    if let Err(e) = written {
        for name in files.iter().map(|f| f.name.as_str()).chain([MANIFEST]) {
            let _ = std::fs::remove_file(tmp_of(name));
        }
        return Err(e);
    }
    for name in files.iter().map(|f| f.name.as_str()).chain([MANIFEST]) {
        let path = dir.join(name);
        std::fs::rename(tmp_of(name), &path)
            .map_err(io(format!("cannot write {}", path.display())))?;
    }
    for stale in previous
        .iter()
        .filter(|p| !files.iter().any(|f| &f.name == *p))
    {
        let _ = std::fs::remove_file(dir.join(stale));
    }
    Ok(())
}

/// Writes one file atomically (temporary file next to it, then rename).
///
/// # Errors
/// [`ExportError::Io`].
pub fn write_file_atomically(path: &Path, contents: &str) -> Result<(), ExportError> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map_or_else(|| "export".into(), |n| n.to_string_lossy().into_owned());
    let tmp = parent.join(format!(".{name}.pactown-tmp-{}", std::process::id()));
    std::fs::write(&tmp, contents).map_err(|source| ExportError::Io {
        context: format!("cannot write {}", tmp.display()),
        source,
    })?;
    std::fs::rename(&tmp, path).map_err(|source| {
        let _ = std::fs::remove_file(&tmp);
        ExportError::Io {
            context: format!("cannot write {}", path.display()),
            source,
        }
    })
}
