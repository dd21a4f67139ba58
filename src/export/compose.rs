//! Compose export: one service per ecosystem service on one named network, with the service
//! name as DNS alias, `depends_on` with `condition: service_healthy` (`service_started` on a
//! service without port and `health_cmd`, `service_completed_successfully` on a job, which gets
//! no restart and no health check), a curl-free health check,
//! `restart: always` from `auto_restart` (without it, Compose's default `no`), the injected and own environment, and ports published on
//! 127.0.0.1. Built from serde structs; Compose's `$` interpolation is neutralised by writing
//! every `$` in a value as `$$`.
use super::{check_names, health_timing, service_env, service_health_argv, service_image};
use super::{ExportError, ImageMap, Readiness};
use crate::config::labels;
use crate::config::{Ecosystem, ServiceSpec};
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
    /// Named volumes of the services' `volumes:`.
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub volumes: IndexMap<String, Volume>,
}

/// A named volume.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Volume {
    /// The engine volume name (`<ecosystem>-<volume>`, as `pactown up` names it).
    pub name: String,
    /// pactown labels.
    pub labels: BTreeMap<String, String>,
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
    /// Environment (`$` doubled, except in `${VAR}` references, which Compose resolves).
    pub environment: BTreeMap<String, String>,
    /// `env_file:` of the ecosystem and the service.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env_file: Vec<String>,
    /// `127.0.0.1:HOST:CONTAINER` (only with one container).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<String>,
    /// Network membership with aliases.
    pub networks: IndexMap<String, ServiceNetwork>,
    /// Dependencies and the condition to wait for.
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub depends_on: IndexMap<String, DependsOn>,
    /// The health check (none for a job, or a service without port and `health_cmd`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    /// `always`; `None` (no key) for Compose's default `no` — written out, a plain `no` is read
    /// as the boolean false by YAML 1.1 parsers such as docker-compose 1.x, which then refuses
    /// the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart: Option<String>,
    /// Capabilities dropped.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_drop: Vec<String>,
    /// Capabilities added back.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_add: Vec<String>,
    /// Security options.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub security_opt: Vec<String>,
    /// Read-only root file system.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    /// tmpfs mounts (`/tmp:OPTIONS`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tmpfs: Vec<String>,
    /// User override (`0:0` when the service opts out of `non_root`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Named volumes (`VOLUME:/path`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<String>,
    /// CPU limit (`0.5`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpus: Option<String>,
    /// Memory limit (`256m`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem_limit: Option<String>,
    /// Process limit.
    pub pids_limit: u32,
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
    /// `service_healthy`, `service_started` (no health probe) or
    /// `service_completed_successfully` (a job).
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

/// A Compose environment value: `${VAR}` references stay for Compose to resolve from the
/// caller's environment or `.env`/`env_file`; a secret ([`crate::secrets::is_secret_env`])
/// written in clear becomes a reference to a variable of its own name
/// (`DB_PASSWORD: ${DB_PASSWORD}`), so its value is never written into the file; any other `$`
/// is doubled.
fn compose_value(svc: &ServiceSpec, key: &str, value: &str) -> String {
    if crate::secrets::is_secret_env(svc, key) && crate::secrets::has_clear_text(value) {
        format!("${{{key}}}")
    } else if !crate::secrets::references(value).is_empty() {
        value.to_string()
    } else {
        literal(value)
    }
}

/// Maps an ecosystem to a Compose model (pure).
///
/// # Errors
/// [`ExportError::Unsafe`] naming the service and key; [`ExportError::MissingImage`].
pub fn to_compose(eco: &Ecosystem, images: &ImageMap) -> Result<ComposeFile, ExportError> {
    check_names(eco)?;
    let mut services = IndexMap::new();
    let mut volumes = IndexMap::new();
    for svc in &eco.services {
        let sec = &svc.security;
        let res = &svc.resources;
        let extra_env = sec.env();
        let image = service_image(images, &svc.name)?.to_string();
        let mut svc_volumes: Vec<String> = if sec.read_only {
            crate::config::writable_image_paths(images.built_by_pactown(&svc.name))
                .iter()
                .map(|p| (*p).to_string())
                .collect()
        } else {
            Vec::new()
        };
        for (vol, target) in &svc.volumes {
            let name = crate::config::volume_name(&eco.name, vol);
            svc_volumes.push(format!("{}:{target}", literal(&name)));
            volumes.insert(
                name.clone(),
                Volume {
                    name: literal(&name),
                    labels: BTreeMap::from([
                        (labels::MANAGED.to_string(), "true".to_string()),
                        (labels::ECOSYSTEM.to_string(), literal(&eco.name)),
                    ]),
                },
            );
        }
        let env = service_env(eco, svc)?;
        let timing = health_timing(svc);
        let healthcheck = service_health_argv(svc)?.map(|argv| Healthcheck {
            test: std::iter::once("CMD".to_string())
                .chain(argv.iter().map(|a| literal(a)))
                .collect(),
            interval: format!("{}s", timing.interval),
            timeout: format!("{}s", timing.timeout),
            retries: timing.retries,
            start_period: format!("{}s", timing.start_period),
        });
        let labels = BTreeMap::from([
            (labels::MANAGED.to_string(), "true".to_string()),
            (labels::ECOSYSTEM.to_string(), literal(&eco.name)),
            (labels::SERVICE.to_string(), svc.name.clone()),
        ]);
        services.insert(
            svc.name.clone(),
            Service {
                image,
                scale: svc.replicas,
                init: true,
                environment: env
                    .iter()
                    .chain(extra_env.iter().filter(|(k, _)| !env.contains_key(*k)))
                    .map(|(k, v)| (k.clone(), compose_value(svc, k, v)))
                    .collect(),
                env_file: [eco.env_file.as_ref(), svc.env_file.as_ref()]
                    .into_iter()
                    .flatten()
                    .map(|p| literal(&p.display().to_string()))
                    .collect(),
                ports: match svc.port {
                    Some(port) if svc.replicas == 1 => vec![format!("127.0.0.1:{port}:{port}")],
                    _ => Vec::new(),
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
                                condition: condition(eco.service(&d.name)).into(),
                            },
                        )
                    })
                    .collect(),
                healthcheck,
                restart: (svc.auto_restart && !svc.is_job()).then(|| "always".to_string()),
                cap_drop: sec.cap_drop(),
                cap_add: sec.cap_add.clone(),
                security_opt: if sec.no_new_privileges {
                    vec!["no-new-privileges:true".into()]
                } else {
                    Vec::new()
                },
                read_only: sec.read_only,
                tmpfs: if sec.read_only {
                    vec![format!("/tmp:{}", crate::config::TMP_OPTIONS)]
                } else {
                    Vec::new()
                },
                user: sec.user(),
                volumes: svc_volumes,
                cpus: res.cpus_text(),
                mem_limit: res.memory_text(),
                pids_limit: res.effective_pids(),
                labels,
            },
        );
    }
    if let Some((name, service, volume)) = ingress_service(eco)? {
        volumes.insert(volume.name.clone(), volume);
        services.insert(name, service);
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
    Ok(ComposeFile {
        services,
        networks,
        volumes,
    })
}

/// The ecosystem's ingress as a Compose service, when it has `ingress:` and exposed services:
/// `pactown/ingress-<ecosystem>:<hash>` (the image `pactown build` and `pactown up` make: Debian's
/// Caddy plus the Caddyfile routing each exposed host to `SERVICE:PORT`), hardened like under
/// `up`, started after the exposed services, publishing Caddy's listeners on the ingress's ports
/// on 127.0.0.1 and keeping certificates and the local CA in the volume
/// `<ecosystem>-ingress-data` (the one `up` uses, so `pactown ingress ca` and the trust of
/// clients carry over).
fn ingress_service(eco: &Ecosystem) -> Result<Option<(String, Service, Volume)>, ExportError> {
    use crate::config::ingress::INGRESS_SERVICE;
    use crate::image::ingress::{caddyfile, tag};
    let Some(ing) = eco.ingress.as_ref() else {
        return Ok(None);
    };
    let file = caddyfile(eco, crate::image::ingress::Upstreams::Alias).map_err(|e| {
        ExportError::Unsafe {
            service: INGRESS_SERVICE.to_string(),
            key: "ingress".to_string(),
            reason: e.to_string(),
        }
    })?;
    let Some(file) = file else {
        return Ok(None);
    };
    let ports = crate::deploy::ingress::published(ing)
        .into_iter()
        .map(|(container, host)| format!("127.0.0.1:{host}:{container}"))
        .collect();
    let hardening = crate::deploy::ingress::hardening(eco);
    let labels = BTreeMap::from([
        (labels::MANAGED.to_string(), "true".to_string()),
        (labels::ECOSYSTEM.to_string(), literal(&eco.name)),
        (labels::SERVICE.to_string(), INGRESS_SERVICE.to_string()),
    ]);
    let data = crate::deploy::ingress::data_volume(&eco.name);
    let volume = Volume {
        name: literal(&data),
        labels: labels.clone(),
    };
    let service = Service {
        image: tag(&eco.name, &file),
        scale: 1,
        init: true,
        environment: BTreeMap::new(),
        env_file: Vec::new(),
        ports,
        networks: IndexMap::from([(
            NETWORK_KEY.to_string(),
            ServiceNetwork {
                aliases: vec![INGRESS_SERVICE.to_string()],
            },
        )]),
        depends_on: crate::ingress::exposed(eco)
            .map(|(svc, _)| {
                (
                    svc.name.clone(),
                    DependsOn {
                        condition: condition(Some(svc)).into(),
                    },
                )
            })
            .collect(),
        healthcheck: None,
        restart: Some("always".to_string()),
        cap_drop: hardening.cap_drop,
        cap_add: hardening.cap_add,
        security_opt: if hardening.no_new_privileges {
            vec!["no-new-privileges:true".into()]
        } else {
            Vec::new()
        },
        read_only: hardening.read_only,
        tmpfs: hardening
            .tmpfs
            .iter()
            .map(|(path, options)| format!("{path}:{options}"))
            .collect(),
        user: hardening.user,
        volumes: hardening
            .volumes
            .iter()
            .filter_map(|v| {
                let source = v.source.as_deref()?;
                Some(format!("{}:{}", literal(source), v.target))
            })
            .collect(),
        cpus: None,
        mem_limit: None,
        pids_limit: crate::config::DEFAULT_PIDS_LIMIT,
        labels,
    };
    Ok(Some((INGRESS_SERVICE.to_string(), service, volume)))
}

/// The `depends_on` condition for a dependency `svc` (a name the file does not define waits for
/// health, as `pactown up` would).
fn condition(svc: Option<&ServiceSpec>) -> &'static str {
    match svc.map(super::readiness) {
        Some(Readiness::Completed) => "service_completed_successfully",
        Some(Readiness::Started) => "service_started",
        Some(Readiness::Healthy) | None => "service_healthy",
    }
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
    let body = super::quote_yaml11(&body);
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
