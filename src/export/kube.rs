//! Kubernetes export: per service a ConfigMap with its environment (injected dependency URLs
//! included), a Deployment (replicas from the file, exec-form probes, dropped capabilities) and a
//! Service named like the service, so `http://<dep>:<port>` resolves in a cluster. Built from
//! serde structs. The environment reaches the container through `envFrom`, where Kubernetes does
//! no `$(VAR)` expansion, so values need no escaping.
//!
//! Named volumes (`volumes:` of a service) become PersistentVolumeClaims named like the engine
//! volume `pactown up` uses (`<ecosystem>-<volume>`, so `podman kube play` reuses its data),
//! `ReadWriteOnce` with a request of [`PVC_SIZE`] (resize the claim in the manifest as needed;
//! the cluster's default StorageClass provides it), one claim per volume even when several
//! services mount it.
use super::{check_names, health_argv, health_path, health_timing, service_env, service_image};
use super::{ExportError, ImageMap};
use crate::config::{Ecosystem, ServiceSpec};
use serde::Serialize;
use std::collections::BTreeMap;

/// Object metadata.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Metadata {
    /// Name.
    pub name: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
}

/// A ConfigMap.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMap {
    /// `v1`.
    pub api_version: String,
    /// `ConfigMap`.
    pub kind: String,
    /// Metadata.
    pub metadata: Metadata,
    /// Data.
    pub data: BTreeMap<String, String>,
}

/// A Deployment.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    /// `apps/v1`.
    pub api_version: String,
    /// `Deployment`.
    pub kind: String,
    /// Metadata.
    pub metadata: Metadata,
    /// Spec.
    pub spec: DeploymentSpec,
}

/// Deployment spec.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DeploymentSpec {
    /// Replicas.
    pub replicas: u32,
    /// Selector.
    pub selector: Selector,
    /// Pod template.
    pub template: PodTemplate,
}

/// Label selector.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Selector {
    /// Labels to match.
    pub match_labels: BTreeMap<String, String>,
}

/// Pod template.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PodTemplate {
    /// Metadata.
    pub metadata: Metadata,
    /// Pod spec.
    pub spec: PodSpec,
}

/// Pod spec.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    /// Restart policy (`Always`, the only value a Deployment accepts).
    pub restart_policy: String,
    /// Containers.
    pub containers: Vec<Container>,
    /// Volumes (an `emptyDir` for `/tmp` of a read-only container, claims of named volumes).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<PodVolume>,
}

/// Storage requested by the PersistentVolumeClaim of a named volume.
pub const PVC_SIZE: &str = "1Gi";

/// A pod volume.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PodVolume {
    /// Name.
    pub name: String,
    /// An empty folder that lives as long as the pod (`/tmp` of a read-only container).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub empty_dir: Option<BTreeMap<String, String>>,
    /// A claim (a named volume).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub persistent_volume_claim: Option<ClaimRef>,
}

/// A reference to a PersistentVolumeClaim.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ClaimRef {
    /// The claim's name.
    pub claim_name: String,
}

/// A PersistentVolumeClaim.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PersistentVolumeClaim {
    /// `v1`.
    pub api_version: String,
    /// `PersistentVolumeClaim`.
    pub kind: String,
    /// Metadata.
    pub metadata: Metadata,
    /// Spec.
    pub spec: ClaimSpec,
}

/// PersistentVolumeClaim spec.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ClaimSpec {
    /// `ReadWriteOnce`.
    pub access_modes: Vec<String>,
    /// Requested storage.
    pub resources: ClaimResources,
}

/// Resources of a claim.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ClaimResources {
    /// `storage: 1Gi`.
    pub requests: BTreeMap<String, String>,
}

/// A volume mount of a container.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct VolumeMountK {
    /// Volume name.
    pub name: String,
    /// Path in the container.
    pub mount_path: String,
}

/// A container.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    /// Name.
    pub name: String,
    /// Image.
    pub image: String,
    /// `IfNotPresent` (images are built locally).
    pub image_pull_policy: String,
    /// Ports.
    pub ports: Vec<ContainerPort>,
    /// Environment sources.
    pub env_from: Vec<EnvFrom>,
    /// Readiness probe.
    pub readiness_probe: Probe,
    /// Liveness probe.
    pub liveness_probe: Probe,
    /// Security context.
    pub security_context: SecurityContext,
    /// Resources.
    pub resources: Resources,
    /// Volume mounts.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volume_mounts: Vec<VolumeMountK>,
}

/// A container port.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ContainerPort {
    /// Port in the container.
    pub container_port: u16,
    /// Host port (bound on 127.0.0.1), single-replica services only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_port: Option<u16>,
    /// Host IP.
    #[serde(rename = "hostIP", skip_serializing_if = "Option::is_none")]
    pub host_ip: Option<String>,
}

/// `envFrom` entry.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct EnvFrom {
    /// ConfigMap reference.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_map_ref: Option<NameRef>,
    /// Secret reference (secret-looking variables; the Secret is created by the operator).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<NameRef>,
}

/// A reference by name.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct NameRef {
    /// Name.
    pub name: String,
}

/// An exec probe.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Probe {
    /// Command.
    pub exec: ExecAction,
    /// Delay before the first probe.
    pub initial_delay_seconds: u64,
    /// Interval.
    pub period_seconds: u64,
    /// Timeout.
    pub timeout_seconds: u64,
    /// Failures before acting.
    pub failure_threshold: u64,
}

/// Exec action.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ExecAction {
    /// argv.
    pub command: Vec<String>,
}

/// Security context.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SecurityContext {
    /// `false` unless the service opts out of `no_new_privileges`.
    pub allow_privilege_escalation: bool,
    /// Read-only root file system.
    pub read_only_root_filesystem: bool,
    /// Refuse to start as root (unless the service opts out of `non_root`).
    pub run_as_non_root: bool,
    /// Capabilities.
    pub capabilities: Capabilities,
}

/// Capabilities.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Capabilities {
    /// Dropped.
    pub drop: Vec<String>,
    /// Added back.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub add: Vec<String>,
}

/// Resources.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Resources {
    /// Limits.
    pub limits: BTreeMap<String, String>,
}

/// A Service.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct KubeService {
    /// `v1`.
    pub api_version: String,
    /// `Service`.
    pub kind: String,
    /// Metadata.
    pub metadata: Metadata,
    /// Spec.
    pub spec: ServiceSpecK,
}

/// Service spec.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ServiceSpecK {
    /// Selector.
    pub selector: BTreeMap<String, String>,
    /// Ports.
    pub ports: Vec<ServicePort>,
}

/// Service port.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ServicePort {
    /// Name.
    pub name: String,
    /// Port.
    pub port: u16,
    /// Target port.
    pub target_port: u16,
}

/// One document of the output.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Document {
    /// A PersistentVolumeClaim (a named volume).
    PersistentVolumeClaim(PersistentVolumeClaim),
    /// A ConfigMap.
    ConfigMap(ConfigMap),
    /// A Deployment.
    Deployment(Deployment),
    /// A Service.
    Service(KubeService),
}

fn labels_for(eco: &Ecosystem, svc: &ServiceSpec) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_string(), svc.name.clone()),
        ("app.kubernetes.io/part-of".to_string(), eco.name.clone()),
        (
            "app.kubernetes.io/managed-by".to_string(),
            "pactown".to_string(),
        ),
    ])
}

/// `limits:` of a container: `cpu` in millicores, `memory` in bytes (default `1Gi`). Kubernetes
/// has no per-container process limit; the node's `podPidsLimit` applies.
fn kube_limits(r: &crate::config::Resources) -> BTreeMap<String, String> {
    let mut limits = BTreeMap::new();
    limits.insert(
        "memory".to_string(),
        r.memory
            .map_or_else(|| "1Gi".to_string(), |b| b.to_string()),
    );
    if let Some(m) = r.millicpus {
        limits.insert("cpu".to_string(), format!("{m}m"));
    }
    limits
}

/// A DNS-1123 label: lowercase letters, digits and `-`, starting and ending with a letter or
/// digit, at most 63 characters.
fn is_dns_label(name: &str) -> bool {
    name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// The claim name (`<ecosystem>-<volume>`, as `pactown up` names the engine volume) and the pod
/// volume name (`vol-<volume>`) of a named volume.
///
/// # Errors
/// [`ExportError::Unsafe`] when Kubernetes cannot take the names.
fn volume_names(
    eco: &Ecosystem,
    svc: &ServiceSpec,
    vol: &str,
) -> Result<(String, String), ExportError> {
    let claim = crate::config::volume_name(&eco.name, vol);
    let pod = format!("vol-{}", vol.replace('.', "-"));
    // a DNS subdomain: dot-separated DNS labels
    let claim_ok = claim.len() <= 253 && claim.split('.').all(is_dns_label);
    if !claim_ok || !is_dns_label(&pod) {
        return Err(ExportError::unsafe_value(
            &svc.name,
            &format!("volumes.{vol}"),
            format!(
                "Kubernetes cannot name the volume claim `{claim}`: use lowercase letters, digits,                  `-` and `.` in the ecosystem and volume names (volume name at most 59 characters)"
            ),
        ));
    }
    Ok((claim, pod))
}

/// The claim of a named volume.
fn claim(eco: &Ecosystem, name: &str) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        api_version: "v1".into(),
        kind: "PersistentVolumeClaim".into(),
        metadata: Metadata {
            name: name.to_string(),
            labels: BTreeMap::from([
                ("app.kubernetes.io/part-of".to_string(), eco.name.clone()),
                (
                    "app.kubernetes.io/managed-by".to_string(),
                    "pactown".to_string(),
                ),
            ]),
        },
        spec: ClaimSpec {
            access_modes: vec!["ReadWriteOnce".into()],
            resources: ClaimResources {
                requests: BTreeMap::from([("storage".to_string(), PVC_SIZE.to_string())]),
            },
        },
    }
}

/// Maps an ecosystem to Kubernetes objects (pure): per service the claims of its named volumes
/// (each claim once), a ConfigMap, a Deployment and a Service, in YAML order.
///
/// # Errors
/// [`ExportError::Unsafe`] naming the service and key; [`ExportError::MissingImage`].
pub fn to_documents(eco: &Ecosystem, images: &ImageMap) -> Result<Vec<Document>, ExportError> {
    check_names(eco)?;
    let mut docs = Vec::new();
    let mut claimed = std::collections::BTreeSet::new();
    for svc in &eco.services {
        let mut volumes = Vec::new();
        let mut mounts = Vec::new();
        if svc.security.read_only {
            volumes.push(PodVolume {
                name: "tmp".into(),
                empty_dir: Some(BTreeMap::new()),
                persistent_volume_claim: None,
            });
            mounts.push(VolumeMountK {
                name: "tmp".into(),
                mount_path: "/tmp".into(),
            });
        }
        for (vol, target) in &svc.volumes {
            let (claim_name, pod_name) = volume_names(eco, svc, vol)?;
            if volumes.iter().any(|v| v.name == pod_name) {
                return Err(ExportError::unsafe_value(
                    &svc.name,
                    &format!("volumes.{vol}"),
                    format!("two volumes of the service map to the pod volume name `{pod_name}`; rename one"),
                ));
            }
            if claimed.insert(claim_name.clone()) {
                docs.push(Document::PersistentVolumeClaim(claim(eco, &claim_name)));
            }
            volumes.push(PodVolume {
                name: pod_name.clone(),
                empty_dir: None,
                persistent_volume_claim: Some(ClaimRef { claim_name }),
            });
            mounts.push(VolumeMountK {
                name: pod_name,
                mount_path: target.clone(),
            });
        }
        let env = service_env(eco, svc)?;
        let labels = labels_for(eco, svc);
        let selector = BTreeMap::from([("app.kubernetes.io/name".to_string(), svc.name.clone())]);
        let timing = health_timing(svc);
        let command = health_argv(svc.port, health_path(svc)?);
        let probe = |initial: u64, failures: u64| Probe {
            exec: ExecAction {
                command: command.clone(),
            },
            initial_delay_seconds: initial,
            period_seconds: timing.interval,
            timeout_seconds: timing.timeout,
            failure_threshold: failures,
        };
        let env_name = format!("{}-env", svc.name);
        // secret-looking variables never go into the ConfigMap: the pod reads them from a
        // Secret `<service>-secrets` the operator creates (`kubectl create secret generic`)
        let has_secrets = env.keys().any(|k| crate::secrets::is_secret_key(k));
        docs.push(Document::ConfigMap(ConfigMap {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            metadata: Metadata {
                name: env_name.clone(),
                labels: labels.clone(),
            },
            data: env
                .iter()
                .filter(|(k, _)| !crate::secrets::is_secret_key(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }));
        let single = svc.replicas == 1;
        docs.push(Document::Deployment(Deployment {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            metadata: Metadata {
                name: svc.name.clone(),
                labels: labels.clone(),
            },
            spec: DeploymentSpec {
                replicas: svc.replicas,
                selector: Selector {
                    match_labels: selector.clone(),
                },
                template: PodTemplate {
                    metadata: Metadata {
                        name: svc.name.clone(),
                        labels: labels.clone(),
                    },
                    spec: PodSpec {
                        // Deployments only allow `Always`; `auto_restart: false` has no equivalent here.
                        restart_policy: "Always".into(),
                        containers: vec![Container {
                            name: svc.name.clone(),
                            image: service_image(images, &svc.name)?.to_string(),
                            image_pull_policy: "IfNotPresent".into(),
                            ports: vec![ContainerPort {
                                container_port: svc.port,
                                host_port: single.then_some(svc.port),
                                host_ip: single.then(|| "127.0.0.1".to_string()),
                            }],
                            env_from: std::iter::once(EnvFrom {
                                config_map_ref: Some(NameRef { name: env_name }),
                                secret_ref: None,
                            })
                            .chain(has_secrets.then(|| EnvFrom {
                                config_map_ref: None,
                                secret_ref: Some(NameRef {
                                    name: format!("{}-secrets", svc.name),
                                }),
                            }))
                            .collect(),
                            readiness_probe: probe(1, timing.retries),
                            liveness_probe: probe(timing.start_period, timing.retries),
                            security_context: SecurityContext {
                                allow_privilege_escalation: !svc.security.no_new_privileges,
                                read_only_root_filesystem: svc.security.read_only,
                                run_as_non_root: svc.security.non_root,
                                capabilities: Capabilities {
                                    drop: svc.security.cap_drop(),
                                    add: svc.security.cap_add.clone(),
                                },
                            },
                            resources: Resources {
                                limits: kube_limits(&svc.resources),
                            },
                            volume_mounts: mounts,
                        }],
                        volumes,
                    },
                },
            },
        }));
        docs.push(Document::Service(KubeService {
            api_version: "v1".into(),
            kind: "Service".into(),
            metadata: Metadata {
                name: svc.name.clone(),
                labels,
            },
            spec: ServiceSpecK {
                selector,
                ports: vec![ServicePort {
                    name: "http".into(),
                    port: svc.port,
                    target_port: svc.port,
                }],
            },
        }));
    }
    Ok(docs)
}

/// Renders the multi-document YAML (pure).
///
/// # Errors
/// As [`to_documents`], or [`ExportError::Serialize`].
pub fn render(eco: &Ecosystem, images: &ImageMap) -> Result<String, ExportError> {
    let mut out = String::new();
    for doc in to_documents(eco, images)? {
        let text = serde_yaml::to_string(&doc).map_err(|e| ExportError::Serialize {
            what: "Kubernetes manifest".into(),
            message: e.to_string(),
        })?;
        out.push_str("---\n");
        out.push_str(&text);
    }
    Ok(out)
}
