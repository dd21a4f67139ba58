//! Compose export: one service per ecosystem service on one named network, with the service
//! name as DNS alias, `depends_on` with `condition: service_healthy`, a curl-free health check,
//! `restart` from `auto_restart`, the injected and own environment, and ports published on
//! 127.0.0.1. Built from serde structs; Compose's `$` interpolation is neutralised by writing
//! every `$` in a value as `$$`.
use super::{check_names, health_argv, health_path, health_timing, service_env, service_image};
use super::{ExportError, ImageMap};
use crate::config::Ecosystem;
use crate::engine::labels;
use indexmap::IndexMap;
use serde::Serialize;
use std::collections::BTreeMap;

/// The key of the ecosystem's network inside the Compose file.
pub const NETWORK_KEY: &str = "pactown";

/// A Compose file.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ComposeFile {
    /// Services in YAML order.
    pub services: IndexMap<String, Service>,
    /// Networks.
    pub networks: IndexMap<String, Network>,
}

/// A Compose service.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Service {
    /// Image reference.
    pub image: String,
    /// Number of containers.
    #[serde(skip_serializing_if = "is_one")]
    pub scale: u32,
    /// Run an init process (fast, clean stops).
    pub init: bool,
    /// Environment (`$` already doubled).
    pub environment: BTreeMap<String, String>,
    /// `127.0.0.1:HOST:CONTAINER` (only with one container).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<String>,
    /// Network membership with aliases.
    pub networks: IndexMap<String, ServiceNetwork>,
    /// Dependencies and the condition to wait for.
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub depends_on: IndexMap<String, DependsOn>,
    /// The health check.
    pub healthcheck: Healthcheck,
    /// `always` or `no`.
    pub restart: String,
    /// Capabilities dropped.
    pub cap_drop: Vec<String>,
    /// Security options.
    pub security_opt: Vec<String>,
    /// pactown labels.
    pub labels: BTreeMap<String, String>,
}

fn is_one(n: &u32) -> bool {
    *n == 1
}

/// A service's network entry.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ServiceNetwork {
    /// DNS aliases.
    pub aliases: Vec<String>,
}

/// A `depends_on` entry.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DependsOn {
    /// `service_healthy`.
    pub condition: String,
}

/// A health check in exec form.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Healthcheck {
    /// `["CMD", argv…]`.
    pub test: Vec<String>,
    /// Interval, e.g. `2s`.
    pub interval: String,
    /// Timeout.
    pub timeout: String,
    /// Retries.
    pub retries: u64,
    /// Start period.
    pub start_period: String,
}

/// A network.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Network {
    /// The engine network name.
    pub name: String,
    /// pactown labels.
    pub labels: BTreeMap<String, String>,
}

/// `$` → `$$` (Compose interpolates `$VAR` and `${VAR}` in every value).
fn literal(value: &str) -> String {
    value.replace('$', "$$")
}

/// Maps an ecosystem to a Compose model (pure).
///
/// # Errors
/// [`ExportError::Unsafe`] naming the service and key; [`ExportError::MissingImage`].
pub fn to_compose(eco: &Ecosystem, images: &ImageMap) -> Result<ComposeFile, ExportError> {
    check_names(eco)?;
    let mut services = IndexMap::new();
    for svc in &eco.services {
        let env = service_env(eco, svc)?;
        let timing = health_timing(svc);
        let mut test = vec!["CMD".to_string()];
        test.extend(health_argv(svc.port, health_path(svc)?));
        let labels = BTreeMap::from([
            (labels::MANAGED.to_string(), "true".to_string()),
            (labels::ECOSYSTEM.to_string(), literal(&eco.name)),
            (labels::SERVICE.to_string(), svc.name.clone()),
        ]);
        services.insert(
            svc.name.clone(),
            Service {
                image: service_image(images, &svc.name)?.to_string(),
                scale: svc.replicas,
                init: true,
                environment: env.iter().map(|(k, v)| (k.clone(), literal(v))).collect(),
                ports: if svc.replicas == 1 {
                    vec![format!("127.0.0.1:{0}:{0}", svc.port)]
                } else {
                    Vec::new()
                },
                networks: IndexMap::from([(
                    NETWORK_KEY.to_string(),
                    ServiceNetwork {
                        aliases: vec![svc.name.clone()],
                    },
                )]),
                depends_on: svc
                    .depends_on
                    .iter()
                    .map(|d| {
                        (
                            d.name.clone(),
                            DependsOn {
                                condition: "service_healthy".into(),
                            },
                        )
                    })
                    .collect(),
                healthcheck: Healthcheck {
                    test,
                    interval: format!("{}s", timing.interval),
                    timeout: format!("{}s", timing.timeout),
                    retries: timing.retries,
                    start_period: format!("{}s", timing.start_period),
                },
                restart: if svc.auto_restart { "always" } else { "no" }.into(),
                cap_drop: vec!["ALL".into()],
                security_opt: vec!["no-new-privileges:true".into()],
                labels,
            },
        );
    }
    let networks = IndexMap::from([(
        NETWORK_KEY.to_string(),
        Network {
            name: eco.network_name(),
            labels: BTreeMap::from([
                (labels::MANAGED.to_string(), "true".to_string()),
                (labels::ECOSYSTEM.to_string(), literal(&eco.name)),
            ]),
        },
    )]);
    Ok(ComposeFile { services, networks })
}

/// Renders the Compose file text (pure).
///
/// # Errors
/// As [`to_compose`], or [`ExportError::Serialize`].
pub fn render(eco: &Ecosystem, images: &ImageMap) -> Result<String, ExportError> {
    let file = to_compose(eco, images)?;
    let body = serde_yaml::to_string(&file).map_err(|e| ExportError::Serialize {
        what: "compose file".into(),
        message: e.to_string(),
    })?;
    Ok(format!(
        "# Generated by pactown from {} — do not edit; re-run `pactown export compose`.\n{body}",
        eco.file
            .file_name()
            .map_or_else(
                || "the ecosystem file".into(),
                |n| n.to_string_lossy().into_owned()
            )
            .replace(['\n', '\r'], " ")
    ))
}
