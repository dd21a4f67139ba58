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
//!
//! A read-only service whose image keeps paths writable with their image content
//! ([`crate::config::writable_image_paths`]: `/app` of a pactown image) gets, per path, an
//! `emptyDir` and an init container of the same image, user, security context and limits that
//! copies the image's files into it ([`copy_command`]); the service mounts the filled volume at
//! the path. That is what the anonymous volume of `pactown up`, Quadlet and Compose does: every
//! pod starts from the image's files, writes stay in the pod, the rest of the root file system
//! stays read-only.
use super::{check_names, health_timing, service_env, service_health_argv, service_image};
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

/// A Job: a one-shot service (`kind: job`) that no other service depends on, run once to
/// completion (no retries: `backoffLimit: 0`, like `pactown up`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct KubeJob {
    /// `batch/v1`.
    pub api_version: String,
    /// `Job`.
    pub kind: String,
    /// Metadata.
    pub metadata: Metadata,
    /// Spec.
    pub spec: JobSpec,
}

/// The spec of a Job.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct JobSpec {
    /// Retries after a failure: 0.
    pub backoff_limit: u32,
    /// The pod (`restartPolicy: Never`).
    pub template: PodTemplate,
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
    /// Init containers (filling the writable image paths of a read-only container).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub init_containers: Vec<InitContainer>,
    /// Containers.
    pub containers: Vec<Container>,
    /// Volumes (`emptyDir`s for `/tmp` and the writable image paths of a read-only container,
    /// claims of named volumes).
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
    /// Ports (none for a service without a port, or a job).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<ContainerPort>,
    /// Environment sources.
    pub env_from: Vec<EnvFrom>,
    /// Readiness probe (none for a job, or a service without port and `health_cmd`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readiness_probe: Option<Probe>,
    /// Liveness probe (likewise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub liveness_probe: Option<Probe>,
    /// Security context.
    pub security_context: SecurityContext,
    /// Resources.
    pub resources: Resources,
    /// Volume mounts.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volume_mounts: Vec<VolumeMountK>,
}

/// An init container: copies the image's content of one writable path into the `emptyDir` the
/// service then mounts at that path; or a job (`kind: job`) a dependant waits for, run to
/// completion before the dependant's container starts.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct InitContainer {
    /// Name (`init-<path>`, unique in the pod).
    pub name: String,
    /// Image (the service's).
    pub image: String,
    /// `IfNotPresent` (images are built locally).
    pub image_pull_policy: String,
    /// Exec-form argv of fixed strings ([`copy_command`]); empty for a job (the image's own
    /// command).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// Environment sources (a job's ConfigMap and Secret).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env_from: Vec<EnvFrom>,
    /// Security context (the service's).
    pub security_context: SecurityContext,
    /// Resources (the service's limits).
    pub resources: Resources,
    /// The `emptyDir`, mounted at the staging path.
    pub volume_mounts: Vec<VolumeMountK>,
}

/// Folder under which an init container mounts the `emptyDir` it fills: the writable path
/// `/app` is staged at `/pactown-init/app`.
pub const INIT_STAGING: &str = "/pactown-init";

/// The argv that copies the image's content of `path` into `staging`: `find PATH -mindepth 1
/// -maxdepth 1 -exec cp -a -t STAGING {} +`, so every entry keeps its mode, owner, times and
/// links, and `find` fails when a copy fails. Entries one by one, because `cp -a PATH/. STAGING`
/// would also copy the times of `PATH` onto the volume's root, which a cluster's `emptyDir`
/// (root's, mode 0777) refuses to a non-root user. No shell: `path` and `staging` come from
/// [`crate::config::writable_image_paths`] and [`INIT_STAGING`], never from a README.
#[must_use]
pub fn copy_command(path: &str, staging: &str) -> Vec<String> {
    [
        "/usr/bin/find",
        path,
        "-mindepth",
        "1",
        "-maxdepth",
        "1",
        "-exec",
        "/bin/cp",
        "-a",
        "-t",
        staging,
        "{}",
        "+",
    ]
    .iter()
    .map(|s| (*s).to_string())
    .collect()
}

/// A path as a name part: `/app` → `app`, other characters than ASCII letters and digits → `-`.
fn path_slug(path: &str) -> String {
    path.trim_matches('/')
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

/// The name of the init container that fills `path`: `init-<path>` (`pactown-init-<path>` for
/// a service that is itself called `init-<path>`, as container names are unique in a pod).
fn init_container_name(service: &str, path: &str) -> String {
    let name = format!("init-{}", path_slug(path));
    if name == service {
        format!("pactown-{name}")
    } else {
        name
    }
}

/// The pod volume name of a writable image path of `service` (`app-<service>` for `/app`): a
/// DNS label, never `tmp` nor `vol-…`. The service is in the name because `podman kube play`
/// (4.3) turns an `emptyDir` into a named volume called like the pod volume, shared by every pod
/// that uses the name. A name too long for a label ends in 12 hex digits of the service name's
/// sha256 instead.
fn image_path_volume(service: &str, path: &str) -> String {
    let slug = path_slug(path);
    let name = format!("{slug}-{service}");
    if is_dns_label(&name) {
        name
    } else {
        let digest = crate::image::cache_key::digest(service.as_bytes());
        format!("{slug}-{}", crate::image::cache_key::short(&digest))
    }
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
    /// The numeric uid of pactown images' `app` user: Kubernetes cannot check `runAsNonRoot`
    /// against a user name and refuses such a container without it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_as_user: Option<u32>,
    /// The numeric gid of pactown images' `app` group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_as_group: Option<u32>,
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
    /// A Job (`kind: job` without dependants).
    Job(KubeJob),
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
    to_documents_with(eco, images, &KubeOptions::default())
}

/// Choices of the Kubernetes export.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KubeOptions {
    /// For `podman kube play` on Podman before 4.6, which gives init containers the pod's
    /// `restartPolicy: Always` and keeps restarting the finished copy step
    /// (containers/podman#15631): pods get `restartPolicy: OnFailure`, which Podman accepts and
    /// a Kubernetes Deployment does not.
    pub podman_play: bool,
}

/// [`to_documents`] with options.
///
/// # Errors
/// As [`to_documents`].
pub fn to_documents_with(
    eco: &Ecosystem,
    images: &ImageMap,
    opts: &KubeOptions,
) -> Result<Vec<Document>, ExportError> {
    check_names(eco)?;
    let mut docs = Vec::new();
    let mut claimed = std::collections::BTreeSet::new();
    for svc in &eco.services {
        let image = service_image(images, &svc.name)?.to_string();
        let parts = pod_parts(eco, svc, &image, images.built_by_pactown(&svc.name))?;
        for vol in svc.volumes.keys() {
            let (claim_name, _) = volume_names(eco, svc, vol)?;
            if claimed.insert(claim_name.clone()) {
                docs.push(Document::PersistentVolumeClaim(claim(eco, &claim_name)));
            }
        }
        let env = service_env(eco, svc)?;
        let labels = labels_for(eco, svc);
        let selector = BTreeMap::from([("app.kubernetes.io/name".to_string(), svc.name.clone())]);
        let timing = health_timing(svc);
        let command = service_health_argv(svc)?;
        let probe = |initial: u64, failures: u64| {
            command.as_ref().map(|command| Probe {
                exec: ExecAction {
                    command: command.clone(),
                },
                initial_delay_seconds: initial,
                period_seconds: timing.interval,
                timeout_seconds: timing.timeout,
                failure_threshold: failures,
            })
        };
        docs.push(Document::ConfigMap(ConfigMap {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            metadata: Metadata {
                name: env_config_map(svc),
                labels: labels.clone(),
            },
            data: env
                .iter()
                .filter(|(k, _)| !crate::secrets::is_secret_env(svc, k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }));
        if svc.is_job() {
            // a job some service depends on runs as an init container of each dependant's pod
            // (so the dependant starts only after it exited 0); one nobody depends on is a Job
            if eco
                .services
                .iter()
                .any(|s| s.depends_on.iter().any(|d| d.name == svc.name))
            {
                continue;
            }
            docs.push(Document::Job(KubeJob {
                api_version: "batch/v1".into(),
                kind: "Job".into(),
                metadata: Metadata {
                    name: svc.name.clone(),
                    labels: labels.clone(),
                },
                spec: JobSpec {
                    backoff_limit: 0,
                    template: PodTemplate {
                        metadata: Metadata {
                            name: svc.name.clone(),
                            labels,
                        },
                        spec: PodSpec {
                            restart_policy: "Never".into(),
                            init_containers: parts.init_containers,
                            containers: vec![Container {
                                name: svc.name.clone(),
                                image,
                                image_pull_policy: "IfNotPresent".into(),
                                ports: Vec::new(),
                                env_from: parts.env_from,
                                readiness_probe: None,
                                liveness_probe: None,
                                security_context: parts.security_context,
                                resources: parts.resources,
                                volume_mounts: parts.mounts,
                            }],
                            volumes: parts.volumes,
                        },
                    },
                },
            }));
            continue;
        }
        let mut init_containers = Vec::new();
        let mut volumes = parts.volumes;
        // the jobs it depends on, in `depends_on` order, each after its own copy steps
        for dep in &svc.depends_on {
            let Some(job) = eco.service(&dep.name).filter(|d| d.is_job()) else {
                continue;
            };
            let job_image = service_image(images, &job.name)?.to_string();
            let job_parts = pod_parts(eco, job, &job_image, images.built_by_pactown(&job.name))?;
            for mut c in job_parts.init_containers {
                c.name = format!("{}-{}", job.name, c.name);
                init_containers.push(c);
            }
            init_containers.push(InitContainer {
                name: job.name.clone(),
                image: job_image,
                image_pull_policy: "IfNotPresent".into(),
                command: Vec::new(),
                env_from: job_parts.env_from,
                security_context: job_parts.security_context,
                resources: job_parts.resources,
                volume_mounts: job_parts.mounts,
            });
            for v in job_parts.volumes {
                if !volumes.iter().any(|have| have.name == v.name) {
                    volumes.push(v);
                }
            }
        }
        init_containers.extend(parts.init_containers);
        let ports: Vec<ContainerPort> = svc
            .port
            .map(|port| {
                let single = svc.replicas == 1;
                ContainerPort {
                    container_port: port,
                    host_port: single.then_some(port),
                    host_ip: single.then(|| "127.0.0.1".to_string()),
                }
            })
            .into_iter()
            .collect();
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
                        // Deployments only allow `Always`; `auto_restart: false` has no equivalent
                        // here. `OnFailure` only for `podman kube play` before 4.6 (see KubeOptions).
                        restart_policy: if opts.podman_play {
                            "OnFailure".into()
                        } else {
                            "Always".into()
                        },
                        init_containers,
                        containers: vec![Container {
                            name: svc.name.clone(),
                            image,
                            image_pull_policy: "IfNotPresent".into(),
                            ports,
                            env_from: parts.env_from,
                            readiness_probe: probe(1, timing.retries),
                            liveness_probe: probe(timing.start_period, timing.retries),
                            security_context: parts.security_context,
                            resources: parts.resources,
                            volume_mounts: parts.mounts,
                        }],
                        volumes,
                    },
                },
            },
        }));
        // a service without a port has nothing to reach
        if let Some(port) = svc.port {
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
                        port,
                        target_port: port,
                    }],
                },
            }));
        }
    }
    Ok(docs)
}

/// The name of a service's ConfigMap: `<service>-env`.
fn env_config_map(svc: &ServiceSpec) -> String {
    format!("{}-env", svc.name)
}

/// What a service's pod needs besides its container's name, image, ports and probes.
struct PodParts {
    security_context: SecurityContext,
    resources: Resources,
    volumes: Vec<PodVolume>,
    mounts: Vec<VolumeMountK>,
    init_containers: Vec<InitContainer>,
    env_from: Vec<EnvFrom>,
}

/// The security context, limits, volumes (tmp, writable image paths with their copy steps,
/// named volumes) and environment sources of `svc` running `image` (`built_by_pactown`: see
/// [`ImageMap::built_by_pactown`]).
fn pod_parts(
    eco: &Ecosystem,
    svc: &ServiceSpec,
    image: &str,
    built_by_pactown: bool,
) -> Result<PodParts, ExportError> {
    let security_context = SecurityContext {
        allow_privilege_escalation: !svc.security.no_new_privileges,
        read_only_root_filesystem: svc.security.read_only,
        run_as_non_root: svc.security.non_root,
        run_as_user: (svc.security.non_root && built_by_pactown)
            .then_some(crate::image::provider::APP_UID),
        run_as_group: (svc.security.non_root && built_by_pactown)
            .then_some(crate::image::provider::APP_UID),
        capabilities: Capabilities {
            drop: svc.security.cap_drop(),
            add: svc.security.cap_add.clone(),
        },
    };
    let resources = Resources {
        limits: kube_limits(&svc.resources),
    };
    let mut volumes = Vec::new();
    let mut mounts = Vec::new();
    let mut init_containers = Vec::new();
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
        for path in crate::config::writable_image_paths(built_by_pactown) {
            // a named volume mounted right there keeps the path writable (and its data)
            if svc
                .volumes
                .values()
                .any(|t| t.trim_end_matches('/') == *path)
            {
                continue;
            }
            let name = image_path_volume(&svc.name, path);
            let staging = format!("{INIT_STAGING}{path}");
            volumes.push(PodVolume {
                name: name.clone(),
                empty_dir: Some(BTreeMap::new()),
                persistent_volume_claim: None,
            });
            init_containers.push(InitContainer {
                name: init_container_name(&svc.name, path),
                image: image.to_string(),
                image_pull_policy: "IfNotPresent".into(),
                command: copy_command(path, &staging),
                env_from: Vec::new(),
                security_context: security_context.clone(),
                resources: resources.clone(),
                volume_mounts: vec![VolumeMountK {
                    name: name.clone(),
                    mount_path: staging,
                }],
            });
            mounts.push(VolumeMountK {
                name,
                mount_path: (*path).to_string(),
            });
        }
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
    let has_secrets = service_env(eco, svc)?
        .keys()
        .any(|k| crate::secrets::is_secret_env(svc, k));
    // secret-looking variables never go into the ConfigMap: the pod reads them from a Secret
    // `<service>-secrets` the operator creates (`kubectl create secret generic`)
    let env_from = std::iter::once(EnvFrom {
        config_map_ref: Some(NameRef {
            name: env_config_map(svc),
        }),
        secret_ref: None,
    })
    .chain(has_secrets.then(|| EnvFrom {
        config_map_ref: None,
        secret_ref: Some(NameRef {
            name: format!("{}-secrets", svc.name),
        }),
    }))
    .collect();
    Ok(PodParts {
        security_context,
        resources,
        volumes,
        mounts,
        init_containers,
        env_from,
    })
}

/// Renders the multi-document YAML (pure).
///
/// # Errors
/// As [`to_documents`], or [`ExportError::Serialize`].
pub fn render(eco: &Ecosystem, images: &ImageMap) -> Result<String, ExportError> {
    render_with(eco, images, &KubeOptions::default())
}

/// [`render`] with options.
///
/// # Errors
/// As [`render`].
pub fn render_with(
    eco: &Ecosystem,
    images: &ImageMap,
    opts: &KubeOptions,
) -> Result<String, ExportError> {
    let mut out = String::new();
    for doc in to_documents_with(eco, images, opts)? {
        let text = serde_yaml::to_string(&doc).map_err(|e| ExportError::Serialize {
            what: "Kubernetes manifest".into(),
            message: e.to_string(),
        })?;
        out.push_str("---\n");
        out.push_str(&super::quote_yaml11(&text));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn copy_command_is_fixed_strings_without_a_shell() {
        assert_eq!(
            copy_command("/app", "/pactown-init/app"),
            [
                "/usr/bin/find",
                "/app",
                "-mindepth",
                "1",
                "-maxdepth",
                "1",
                "-exec",
                "/bin/cp",
                "-a",
                "-t",
                "/pactown-init/app",
                "{}",
                "+"
            ]
        );
    }

    #[test]
    fn image_path_names_are_dns_labels_unique_per_service() {
        assert_eq!(image_path_volume("api", "/app"), "app-api");
        let long = "a".repeat(63);
        let name = image_path_volume(&long, "/app");
        assert!(is_dns_label(&name), "{name}");
        assert_eq!(name.len(), "app-".len() + 12);
        assert_ne!(name, image_path_volume(&"b".repeat(63), "/app"));
        assert_eq!(init_container_name("api", "/app"), "init-app");
        assert_eq!(init_container_name("init-app", "/app"), "pactown-init-app");
    }
}
