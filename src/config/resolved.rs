//! The fully resolved ecosystem file (`pactown config`): every default filled in, variables
//! substituted, ports assigned, as an ecosystem file pactown reads again to the same model, plus
//! the environment each container gets. Secrets are never written: a secret `env:` value stays a
//! `${NAME}` reference. Pure: the caller passes the injected environment and the variables.
use super::model::{DependsOn, Ecosystem, ReadmeSource, ServiceSpec};
use indexmap::IndexMap;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The resolved file.
#[derive(Debug, Clone, Serialize)]
pub struct ResolvedFile {
    /// Ecosystem name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// First auto port (kept, though every service below has its port written out).
    pub base_port: u16,
    /// The engine network.
    pub network: String,
    /// `engine:` when the file chose one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine: Option<super::EngineChoice>,
    /// `registry:`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<IndexMap<String, String>>,
    /// `build:`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build: Option<IndexMap<String, String>>,
    /// `images:`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub images: Option<IndexMap<String, String>>,
    /// `env_file:` relative to the file's folder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env_file: Option<String>,
    /// `ingress:`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingress: Option<IndexMap<&'static str, serde_json::Value>>,
    /// Services in file order.
    pub services: IndexMap<String, ResolvedService>,
}

/// One resolved service.
#[derive(Debug, Clone, Serialize)]
pub struct ResolvedService {
    /// README location as written (relative path or `registry:…`).
    pub readme: String,
    /// `service` or `job`.
    pub kind: &'static str,
    /// The port (auto ports resolved); `null` for a job or a portless service.
    pub port: Option<u16>,
    /// HTTP health path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check: Option<String>,
    /// Health command.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_cmd: Option<String>,
    /// Seconds to become healthy.
    pub timeout: u64,
    /// Containers.
    pub replicas: u32,
    /// Restart policy.
    pub auto_restart: bool,
    /// The service's own `env:`: resolved values, secrets as `${NAME}` references, references
    /// that cannot be resolved here as written.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// `env_file:` relative to the file's folder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env_file: Option<String>,
    /// Dependencies.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<ResolvedDependency>,
    /// Hardening, every key written out.
    pub security: IndexMap<&'static str, serde_json::Value>,
    /// Limits (pids always: the default applies).
    pub resources: IndexMap<&'static str, serde_json::Value>,
    /// Named volumes.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub volumes: BTreeMap<String, String>,
    /// `expose: {host, path}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expose: Option<IndexMap<&'static str, String>>,
    /// `framework:`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub framework: Option<String>,
    /// `build_cmd:`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_cmd: Option<String>,
    /// `build_targets:`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub build_targets: Vec<String>,
}

/// A `depends_on` entry.
#[derive(Debug, Clone, Serialize)]
pub struct ResolvedDependency {
    /// `NAME` or `NAME@VERSION`.
    pub name: String,
    /// Extra variable for its URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env_var: Option<String>,
    /// Explicit endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

/// `$` → `$$`, so a value reads back as itself through interpolation.
fn literal(text: &str) -> String {
    text.replace('$', "$$")
}

fn relative(dir: &Path, p: &Path) -> String {
    let rel = if dir == Path::new(".") {
        p
    } else {
        p.strip_prefix(dir).unwrap_or(p)
    };
    literal(&rel.display().to_string())
}

/// The resolved file of `eco`. `lookup(service, NAME)` resolves an `env:` reference (the
/// process environment, the `env_file`s and `.env`, as `up` does); `None` keeps it as written.
#[must_use]
pub fn resolve(
    eco: &Ecosystem,
    lookup: &dyn Fn(&ServiceSpec, &str) -> Option<String>,
) -> ResolvedFile {
    let map = |pairs: &[(&str, Option<String>)]| -> Option<IndexMap<String, String>> {
        let m: IndexMap<String, String> = pairs
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| ((*k).to_string(), literal(v))))
            .collect();
        (!m.is_empty()).then_some(m)
    };
    ResolvedFile {
        name: literal(&eco.name),
        version: literal(&eco.version),
        description: eco.description.as_deref().map(literal),
        base_port: eco.base_port,
        network: literal(&eco.network_name()),
        engine: eco.engine,
        registry: eco.registry.as_ref().and_then(|r| {
            map(&[
                ("url", Some(r.url.clone())),
                ("namespace", Some(r.namespace.clone())),
            ])
        }),
        build: map(&[(
            "ca_bundle",
            eco.build
                .ca_bundle
                .as_ref()
                .map(|p| relative(&eco.dir, p).replace("$$", "$")),
        )]),
        images: map(&[("repo", eco.build.image_repo.clone())]),
        env_file: eco.env_file.as_deref().map(|p| relative(&eco.dir, p)),
        ingress: eco.ingress.as_ref().map(|i| {
            let mut m = IndexMap::from([("tls", serde_json::json!(i.tls.to_string()))]);
            if let Some(e) = &i.email {
                m.insert("email", serde_json::json!(literal(e)));
            }
            if let Some(c) = &i.acme_ca {
                m.insert("acme_ca", serde_json::json!(literal(c)));
            }
            m.insert("http_port", serde_json::json!(i.http_port));
            m.insert("https_port", serde_json::json!(i.https_port));
            m
        }),
        services: eco
            .services
            .iter()
            .map(|svc| (svc.name.clone(), service(eco, svc, lookup)))
            .collect(),
    }
}

fn service(
    eco: &Ecosystem,
    svc: &ServiceSpec,
    lookup: &dyn Fn(&ServiceSpec, &str) -> Option<String>,
) -> ResolvedService {
    let env = svc
        .env
        .iter()
        .map(|(k, v)| (k.clone(), env_value(svc, k, v, lookup)))
        .collect();
    let sec = &svc.security;
    let security = IndexMap::from([
        ("read_only", serde_json::Value::Bool(sec.read_only)),
        (
            "no_new_privileges",
            serde_json::Value::Bool(sec.no_new_privileges),
        ),
        (
            "drop_capabilities",
            serde_json::Value::Bool(sec.drop_capabilities),
        ),
        ("non_root", serde_json::Value::Bool(sec.non_root)),
        ("cap_add", serde_json::json!(sec.cap_add)),
    ]);
    let res = &svc.resources;
    let mut resources = IndexMap::new();
    if let Some(c) = res.cpus_text() {
        resources.insert("cpus", serde_json::Value::String(c));
    }
    if let Some(m) = res.memory_text() {
        resources.insert("memory", serde_json::Value::String(m));
    }
    resources.insert("pids", serde_json::json!(res.effective_pids()));
    ResolvedService {
        readme: match &svc.readme {
            ReadmeSource::Local { relative, .. } => literal(relative),
            ReadmeSource::Registry { .. } => literal(&svc.readme.label()),
        },
        kind: svc.kind.as_str(),
        port: svc.port,
        health_check: svc.health_check.as_deref().map(literal),
        health_cmd: svc.health_cmd.as_deref().map(literal),
        timeout: svc.timeout,
        replicas: svc.replicas,
        auto_restart: svc.auto_restart,
        env,
        env_file: svc.env_file.as_deref().map(|p| relative(&eco.dir, p)),
        depends_on: svc.depends_on.iter().map(dependency).collect(),
        security,
        resources,
        volumes: svc
            .volumes
            .iter()
            .map(|(k, v)| (k.clone(), literal(v)))
            .collect(),
        expose: svc
            .expose
            .as_ref()
            .map(|e| IndexMap::from([("host", literal(&e.host)), ("path", literal(&e.path))])),
        framework: svc.framework.as_deref().map(literal),
        build_cmd: svc.build_cmd.as_deref().map(literal),
        build_targets: svc.build_targets.iter().map(|t| literal(t)).collect(),
    }
}

fn dependency(d: &DependsOn) -> ResolvedDependency {
    ResolvedDependency {
        name: match &d.version {
            Some(v) => format!("{}@{v}", d.name),
            None => d.name.clone(),
        },
        env_var: d.env_var.clone(),
        endpoint: d.endpoint.as_deref().map(literal),
    }
}

/// A secret stays a reference (its own name when it was written in clear); any other value is
/// resolved when every variable it references is known, else kept as written.
fn env_value(
    svc: &ServiceSpec,
    key: &str,
    raw: &str,
    lookup: &dyn Fn(&ServiceSpec, &str) -> Option<String>,
) -> String {
    if crate::secrets::is_secret_env(svc, key) {
        return if crate::secrets::has_clear_text(raw) {
            format!("${{{key}}}")
        } else {
            raw.to_string()
        };
    }
    match crate::secrets::interpolate(raw, &|n| lookup(svc, n)) {
        Ok(v) => literal(&v),
        Err(_) => raw.to_string(),
    }
}

/// The environment each container of each service gets (`injected` from the graph, then the
/// hardening defaults, then the service's own env resolved like [`resolve`]), secrets masked.
#[must_use]
pub fn environments(
    eco: &Ecosystem,
    injected: &BTreeMap<String, BTreeMap<String, String>>,
    lookup: &dyn Fn(&ServiceSpec, &str) -> Option<String>,
) -> IndexMap<String, BTreeMap<String, String>> {
    eco.services
        .iter()
        .map(|svc| {
            let mut env = injected.get(&svc.name).cloned().unwrap_or_default();
            for (k, v) in svc.security.env() {
                env.entry(k).or_insert(v);
            }
            for (k, raw) in &svc.env {
                let shown = if crate::secrets::is_secret_env(svc, k) {
                    crate::secrets::MASK.to_string()
                } else {
                    crate::secrets::interpolate(raw, &|n| lookup(svc, n))
                        .unwrap_or_else(|_| raw.clone())
                };
                env.insert(k.clone(), shown);
            }
            (svc.name.clone(), env)
        })
        .collect()
}
