//! Docker Swarm as an engine: the Docker Engine's own multi-node orchestrator, driven through
//! the same API (bollard's services, tasks and nodes calls).
//!
//! [`SwarmEngine`] wraps the [`DockerEngine`] of a swarm manager. Images are built and pushed
//! there as on plain Docker. What runs is different: one Swarm *service* per ecosystem service
//! ([`Services`]: create, update with `update_config` start-first / parallelism 1 / failure
//! action rollback, roll back, remove) whose *tasks* are the replicas. So that the deploy and
//! observe code need not know, the container calls of [`Engine`] address tasks here:
//! [`Engine::list_containers`] lists the current tasks carrying the labels (replica = the
//! task's slot, ports = the ports it publishes in host mode on its node),
//! [`Engine::inspect_container`] reads a task's state (and, when it runs on this node, its
//! container's isolation), [`Engine::logs`] reads a task's output from whichever node runs it,
//! [`Engine::exec`] runs in a task's container when it is on this node. An id that is not a
//! task is passed on to the Docker engine unchanged.
//!
//! Networks are overlays (attachable, so `docker run --network` can join them for debugging).
//! The endpoint mode is [`EndpointMode::Dnsrr`] by default: the service's virtual IP and the
//! ingress routing mesh need IPVS, which some kernels lack (this machine's among them); the
//! replicas publish their port in host mode on an engine-chosen port of their node instead.
use super::docker::{label_filters, status, to_btree, to_hash, volume_mount, DockerEngine};
use super::{
    BuildFailure, BuildOutcome, BuildProgress, BuildRequest, ContainerDetails, ContainerInfo,
    ContainerSpec, Engine, EngineError, EngineEvent, EngineInfo, EngineKind, EngineResult,
    ExecOutcome, ImageInfo, LabelFilter, LogLine, LogQuery, PortBinding, PushError, PushReport,
    PushRequest, ResourceLimits,
};
use async_trait::async_trait;
use bollard::models::{
    EndpointPortConfig, EndpointPortConfigProtocolEnum, EndpointPortConfigPublishModeEnum,
    EndpointSpec, EndpointSpecModeEnum, HealthConfig, Limit, Mount, MountTmpfsOptions, MountType,
    NetworkAttachmentConfig, NetworkCreateRequest, ServiceSpec, ServiceSpecMode,
    ServiceSpecModeReplicated, ServiceSpecRollbackConfig, ServiceSpecRollbackConfigOrderEnum,
    ServiceSpecUpdateConfig, ServiceSpecUpdateConfigFailureActionEnum,
    ServiceSpecUpdateConfigOrderEnum, Task, TaskSpec, TaskSpecContainerSpec,
    TaskSpecContainerSpecPrivileges, TaskSpecResources, TaskSpecRestartPolicy,
    TaskSpecRestartPolicyConditionEnum,
};
use bollard::query_parameters::{
    InspectNetworkOptionsBuilder, InspectServiceOptions, ListNodesOptions,
    ListServicesOptionsBuilder, ListTasksOptions, UpdateServiceOptionsBuilder,
};
use futures_util::stream::BoxStream;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

pub use crate::config::EndpointMode;

mod events;
pub use events::TASK_POLL;

/// One Swarm service pactown wants.
#[derive(Debug, Clone)]
pub struct ServiceRequest {
    /// Swarm service name (`<ecosystem>-<service>`; the service's own name is its DNS alias).
    pub name: String,
    /// Labels of the service (the container labels carry the same).
    pub labels: BTreeMap<String, String>,
    /// The container of every replica (image, env, labels, isolation, limits, network and
    /// aliases); its name and host ports are not used.
    pub container: ContainerSpec,
    /// Replicas.
    pub replicas: u32,
    /// Container port published in host mode on an engine-chosen port of the task's node.
    pub port: Option<u16>,
    /// DNS round robin or a virtual IP.
    pub endpoint_mode: EndpointMode,
    /// A job: never restarted once it exited.
    pub job: bool,
    /// The `health_cmd` (exec form) as the tasks' health check, with the time a task may take
    /// to pass it first: Swarm keeps a task `starting` until it passes and replaces one that
    /// turns unhealthy, on whichever node it runs.
    pub health: Option<(Vec<String>, Duration)>,
    /// Spread the replicas over the nodes (at most one per node while there are enough).
    pub spread: bool,
}

/// The update (or roll-back) Swarm is carrying out or finished last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpdateState {
    /// `updating`, `paused`, `completed`, `rollback_started`, `rollback_paused`,
    /// `rollback_completed`.
    pub state: String,
    /// Swarm's message.
    pub message: Option<String>,
}

/// A Swarm service as listed.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceInfo {
    /// Service id.
    pub id: String,
    /// Swarm service name.
    pub name: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Replicas asked for.
    pub replicas: u32,
    /// Tasks running now.
    pub running: u64,
    /// Image of the current spec.
    pub image: String,
    /// The latest update, when there was one.
    pub update: Option<UpdateState>,
    /// True when the service has a previous spec to roll back to.
    pub has_previous: bool,
}

/// One task (a replica on a node).
#[derive(Debug, Clone, Serialize)]
pub struct TaskInfo {
    /// Task id.
    pub id: String,
    /// Service id.
    pub service_id: String,
    /// Swarm service name.
    pub service_name: String,
    /// Slot (the replica number).
    pub slot: u32,
    /// Node id.
    pub node_id: String,
    /// Node host name.
    pub node: String,
    /// The node's address (where its host-mode ports are published).
    pub node_addr: String,
    /// Current state (`new` … `running`, `complete`, `failed`, `shutdown`, `rejected`…).
    pub state: String,
    /// State Swarm wants (`running`, `shutdown`…).
    pub desired_state: String,
    /// Swarm's message, and the error when it failed.
    pub message: String,
    /// Error text of a failed task.
    pub error: Option<String>,
    /// Its container (on the task's node).
    pub container_id: Option<String>,
    /// Exit code of its container.
    pub exit_code: Option<i64>,
    /// Published host ports (host mode): (container port, host port).
    pub ports: Vec<(u16, u16)>,
    /// Labels of its container.
    pub labels: BTreeMap<String, String>,
    /// Image of its spec.
    pub image: String,
    /// RFC 3339 time of its last state change.
    pub since: Option<String>,
    /// RFC 3339 time it was created.
    pub created: Option<String>,
}

impl TaskInfo {
    /// True for a task Swarm still wants (not one being shut down or replaced).
    #[must_use]
    pub fn is_current(&self) -> bool {
        matches!(
            self.desired_state.as_str(),
            "running" | "ready" | "accepted"
        ) || (self.desired_state == "complete" && self.state == "complete")
    }

    /// True while its process runs.
    #[must_use]
    pub fn is_running(&self) -> bool {
        self.state == "running"
    }

    /// True when it ended and will not run again.
    #[must_use]
    pub fn has_ended(&self) -> bool {
        matches!(
            self.state.as_str(),
            "complete" | "failed" | "shutdown" | "rejected" | "orphaned" | "remove"
        )
    }

    /// The node's address when it is not this machine's loopback (where a probe must go).
    #[must_use]
    pub fn node_ip(&self) -> Option<std::net::IpAddr> {
        self.node_addr
            .parse::<std::net::IpAddr>()
            .ok()
            .filter(|ip| !ip.is_loopback() && !ip.is_unspecified())
    }

    /// One line naming the task for an error: `api.2 (task abc) on node vm: failed: …`.
    #[must_use]
    pub fn describe(&self) -> String {
        let mut s = format!(
            "{}.{} (task {:.12}) on node {} ({}): {}",
            self.service_name, self.slot, self.id, self.node, self.node_addr, self.state
        );
        if let Some(e) = self.error.as_deref().filter(|e| !e.is_empty()) {
            s.push_str(&format!(": {e}"));
        } else if !self.message.is_empty() {
            s.push_str(&format!(" ({})", self.message));
        }
        if let Some(c) = self.exit_code.filter(|c| *c != 0) {
            s.push_str(&format!(", exit code {c}"));
        }
        s
    }
}

/// A node of the swarm.
#[derive(Debug, Clone, Serialize)]
pub struct NodeInfo {
    /// Node id.
    pub id: String,
    /// Host name.
    pub hostname: String,
    /// Address it is reached at.
    pub addr: String,
    /// `ready`, `down`…
    pub state: String,
    /// `active`, `pause`, `drain`.
    pub availability: String,
    /// True for a manager.
    pub manager: bool,
}

/// What a service-level engine (Swarm) does besides containers.
#[async_trait]
pub trait Services: Send + Sync {
    /// The nodes of the swarm.
    async fn nodes(&self) -> EngineResult<Vec<NodeInfo>>;
    /// Services carrying all the labels.
    async fn list_services(&self, labels: &LabelFilter) -> EngineResult<Vec<ServiceInfo>>;
    /// Creates a service; returns its id.
    async fn create_service(&self, request: &ServiceRequest) -> EngineResult<String>;
    /// Replaces the spec of service `id` (a rolling update on the update config).
    async fn update_service(&self, id: &str, request: &ServiceRequest) -> EngineResult<()>;
    /// Rolls service `id` back to its previous spec.
    async fn rollback_service(&self, id: &str) -> EngineResult<()>;
    /// Replaces every task of service `id` with a new one of the same spec, on its update
    /// config (`docker service update --force`).
    async fn force_update(&self, id: &str) -> EngineResult<()>;
    /// Removes a service and with it its tasks (no error if it is gone).
    async fn remove_service(&self, id: &str) -> EngineResult<()>;
    /// Tasks (current and past) of the services carrying all the labels.
    async fn tasks(&self, labels: &LabelFilter) -> EngineResult<Vec<TaskInfo>>;
}

/// A swarm manager's Docker engine (module docs).
#[derive(Debug)]
pub struct SwarmEngine {
    docker: DockerEngine,
}

/// Engine-facing state names of a task, so the code written for containers reads them.
fn container_state(task_state: &str) -> &'static str {
    match task_state {
        "running" => "running",
        "complete" | "failed" | "shutdown" | "rejected" | "orphaned" | "remove" => "exited",
        _ => "created",
    }
}

/// True when every `key=value` (or `key`) of `filter` is in `labels`.
fn matches(labels: &BTreeMap<String, String>, filter: &LabelFilter) -> bool {
    filter.iter().all(|f| match f.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
        None => labels.contains_key(f.as_str()),
    })
}

/// The host port each container port of a task is published on, `(container, host)`, in the
/// order Swarm lists them. A task's status can list a port twice: Docker 20.10 binds an
/// engine-chosen host port for IPv4 (`0.0.0.0`) and picks a different one for IPv6 (`[::]`),
/// listed after it; only the first answers on the node's IPv4 address, so it is the one kept.
/// (Keeping the lower of the two made a healthy task look refused, at random.)
fn published_ports(ports: Vec<EndpointPortConfig>) -> Vec<(u16, u16)> {
    let mut out: Vec<(u16, u16)> = Vec::new();
    for p in ports {
        let (Some(target), Some(published)) = (
            p.target_port.and_then(|t| u16::try_from(t).ok()),
            p.published_port.and_then(|t| u16::try_from(t).ok()),
        ) else {
            continue;
        };
        if out.iter().all(|(t, _)| *t != target) {
            out.push((target, published));
        }
    }
    out
}

/// Parses a size such as `64m`, `1g`, `512k` or `1048576` into bytes.
fn size_bytes(v: &str) -> Option<i64> {
    let v = v.trim().to_ascii_lowercase();
    let (digits, unit) = match v.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => v.split_at(i),
        None => (v.as_str(), ""),
    };
    let n: i64 = digits.parse().ok()?;
    let mult: i64 = match unit {
        "" | "b" => 1,
        "k" | "kb" => 1 << 10,
        "m" | "mb" => 1 << 20,
        "g" | "gb" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mult)
}

/// A tmpfs mount from pactown's option string (`rw,nosuid,nodev,size=64m,mode=1777`): Swarm
/// (API 1.41) takes the size and the mode; it mounts tmpfs `nosuid,nodev,noexec` itself.
fn tmpfs_mount(target: &str, options: &str) -> Mount {
    let mut size = None;
    let mut mode = None;
    for o in options.split(',') {
        if let Some(v) = o.strip_prefix("size=") {
            size = size_bytes(v);
        } else if let Some(v) = o.strip_prefix("mode=") {
            mode = i64::from_str_radix(v, 8).ok();
        }
    }
    Mount {
        target: Some(target.to_string()),
        typ: Some(MountType::TMPFS),
        tmpfs_options: Some(MountTmpfsOptions {
            size_bytes: size,
            mode,
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The Swarm spec of a request (pure).
#[must_use]
pub fn service_spec(request: &ServiceRequest) -> ServiceSpec {
    let c = &request.container;
    let h = &c.hardening;
    let mut mounts: Vec<Mount> = h
        .tmpfs
        .iter()
        .map(|(target, options)| tmpfs_mount(target, options))
        .collect();
    mounts.extend(h.volumes.iter().map(volume_mount));
    let container = TaskSpecContainerSpec {
        image: Some(c.image.clone()),
        labels: Some(to_hash(&c.labels)),
        command: c.command.clone(),
        env: Some(c.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        user: h.user.clone(),
        read_only: h.read_only.then_some(true),
        // honoured from API 1.46 (Docker 27) on; older managers ignore it (README)
        privileges: h
            .no_new_privileges
            .then(|| TaskSpecContainerSpecPrivileges {
                no_new_privileges: Some(true),
                ..Default::default()
            }),
        capability_drop: (!h.cap_drop.is_empty()).then(|| h.cap_drop.clone()),
        capability_add: (!h.cap_add.is_empty()).then(|| h.cap_add.clone()),
        mounts: (!mounts.is_empty()).then_some(mounts),
        init: c.init.then_some(true),
        stop_grace_period: c
            .stop_timeout
            .and_then(|s| i64::try_from(s).ok())
            .map(|s| s.saturating_mul(1_000_000_000)),
        health_check: request.health.as_ref().map(|(argv, start)| HealthConfig {
            test: Some(
                std::iter::once("CMD".to_string())
                    .chain(argv.iter().cloned())
                    .collect(),
            ),
            interval: Some(1_000_000_000),
            timeout: Some(5_000_000_000),
            retries: Some(3),
            start_period: Some(i64::try_from(start.as_nanos()).unwrap_or(i64::MAX)),
            start_interval: None,
        }),
        ..Default::default()
    };
    let limits = (c.limits != ResourceLimits::default()).then_some(Limit {
        nano_cpus: c.limits.nano_cpus,
        memory_bytes: c.limits.memory,
        pids: c.limits.pids,
    });
    let restart = if request.job {
        TaskSpecRestartPolicyConditionEnum::NONE
    } else if c.restart {
        TaskSpecRestartPolicyConditionEnum::ANY
    } else {
        TaskSpecRestartPolicyConditionEnum::ON_FAILURE
    };
    let second: i64 = 1_000_000_000;
    ServiceSpec {
        name: Some(request.name.clone()),
        labels: Some(to_hash(&request.labels)),
        task_template: Some(TaskSpec {
            container_spec: Some(container),
            resources: limits.map(|l| TaskSpecResources {
                limits: Some(l),
                ..Default::default()
            }),
            restart_policy: Some(TaskSpecRestartPolicy {
                condition: Some(restart),
                delay: Some(second),
                ..Default::default()
            }),
            placement: request.spread.then(|| bollard::models::TaskSpecPlacement {
                preferences: Some(vec![bollard::models::TaskSpecPlacementPreferences {
                    spread: Some(bollard::models::TaskSpecPlacementSpread {
                        spread_descriptor: Some("node.id".to_string()),
                    }),
                }]),
                ..Default::default()
            }),
            networks: Some(vec![NetworkAttachmentConfig {
                target: Some(c.network.clone()),
                aliases: Some(c.aliases.clone()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        mode: Some(ServiceSpecMode {
            replicated: Some(ServiceSpecModeReplicated {
                replicas: Some(i64::from(request.replicas)),
            }),
            ..Default::default()
        }),
        update_config: Some(ServiceSpecUpdateConfig {
            parallelism: Some(1),
            order: Some(ServiceSpecUpdateConfigOrderEnum::START_FIRST),
            failure_action: Some(ServiceSpecUpdateConfigFailureActionEnum::ROLLBACK),
            // our own probe judges the new tasks (the deploy core's health gate); Swarm's
            // watch for tasks that die right after their start is kept short
            monitor: Some(second),
            ..Default::default()
        }),
        rollback_config: Some(ServiceSpecRollbackConfig {
            parallelism: Some(1),
            order: Some(ServiceSpecRollbackConfigOrderEnum::START_FIRST),
            ..Default::default()
        }),
        endpoint_spec: Some(EndpointSpec {
            mode: Some(match request.endpoint_mode {
                EndpointMode::Dnsrr => EndpointSpecModeEnum::DNSRR,
                EndpointMode::Vip => EndpointSpecModeEnum::VIP,
            }),
            ports: request.port.map(|p| {
                vec![EndpointPortConfig {
                    protocol: Some(EndpointPortConfigProtocolEnum::TCP),
                    target_port: Some(i64::from(p)),
                    publish_mode: Some(EndpointPortConfigPublishModeEnum::HOST),
                    ..Default::default()
                }]
            }),
        }),
        ..Default::default()
    }
}

impl SwarmEngine {
    /// The service `id` as the manager has it, and its version index (what an update must
    /// name).
    async fn current_service(&self, id: &str) -> EngineResult<(bollard::models::Service, i32)> {
        let current = self
            .client()
            .inspect_service(id, None::<InspectServiceOptions>)
            .await
            .map_err(|e| {
                self.docker
                    .api_or_missing("inspect swarm service", &format!("service {id}"), &e)
            })?;
        let version = current
            .version
            .as_ref()
            .and_then(|v| v.index)
            .and_then(|v| i32::try_from(v).ok())
            .unwrap_or(0);
        Ok((current, version))
    }

    /// Wraps the engine of a swarm manager.
    ///
    /// # Errors
    /// [`EngineError::Api`] when the engine is not a manager of an active swarm, saying how to
    /// make it one.
    pub async fn new(docker: DockerEngine) -> EngineResult<Self> {
        match docker.client().inspect_swarm().await {
            Ok(_) => Ok(Self { docker }),
            Err(e) => Err(EngineError::Api {
                operation: "use Docker Swarm".into(),
                message: format!(
                    "{} is not a swarm manager ({}). Make it one with `docker swarm init \
                     --advertise-addr ADDR` (or join it to a swarm as a manager), or pick \
                     another engine with --engine docker|podman",
                    docker.endpoint(),
                    docker.message(&e)
                ),
            }),
        }
    }

    fn client(&self) -> &bollard::Docker {
        self.docker.client()
    }

    async fn node_map(&self) -> BTreeMap<String, NodeInfo> {
        self.nodes()
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|n| (n.id.clone(), n))
            .collect()
    }

    fn task_info(
        t: Task,
        nodes: &BTreeMap<String, NodeInfo>,
        names: &BTreeMap<String, String>,
    ) -> TaskInfo {
        let status = t.status.unwrap_or_default();
        let container = t.spec.and_then(|s| s.container_spec).unwrap_or_default();
        let node_id = t.node_id.unwrap_or_default();
        let node = nodes.get(&node_id);
        let service_id = t.service_id.unwrap_or_default();
        let mut labels = to_btree(container.labels);
        let slot = t.slot.and_then(|s| u32::try_from(s).ok()).unwrap_or(0);
        labels.insert(crate::config::labels::REPLICA.to_string(), slot.to_string());
        TaskInfo {
            id: t.id.unwrap_or_default(),
            service_name: names.get(&service_id).cloned().unwrap_or_default(),
            service_id,
            slot,
            node: node.map(|n| n.hostname.clone()).unwrap_or_default(),
            node_addr: node.map(|n| n.addr.clone()).unwrap_or_default(),
            node_id,
            state: status.state.map(|s| s.to_string()).unwrap_or_default(),
            desired_state: t.desired_state.map(|s| s.to_string()).unwrap_or_default(),
            message: status.message.unwrap_or_default(),
            error: status.err,
            container_id: status
                .container_status
                .as_ref()
                .and_then(|c| c.container_id.clone()),
            exit_code: status.container_status.and_then(|c| c.exit_code),
            ports: published_ports(status.port_status.and_then(|p| p.ports).unwrap_or_default()),
            labels,
            image: container.image.unwrap_or_default(),
            since: status.timestamp,
            created: t.created_at,
        }
    }

    async fn task(&self, id: &str) -> EngineResult<Option<TaskInfo>> {
        let t = match self.client().inspect_task(id).await {
            Ok(t) => t,
            Err(e) if matches!(status(&e), Some(404 | 400)) => return Ok(None),
            Err(e) => return Err(self.docker.api(format!("inspect task {id}"), &e)),
        };
        let names = match &t.service_id {
            Some(sid) => match self
                .client()
                .inspect_service(sid, None::<InspectServiceOptions>)
                .await
            {
                Ok(s) => {
                    BTreeMap::from([(sid.clone(), s.spec.and_then(|s| s.name).unwrap_or_default())])
                }
                Err(_) => BTreeMap::new(),
            },
            None => BTreeMap::new(),
        };
        Ok(Some(Self::task_info(t, &self.node_map().await, &names)))
    }

    fn container_info(t: &TaskInfo) -> ContainerInfo {
        let host_ip = if t.node_addr.is_empty() || t.node_addr == "0.0.0.0" {
            "127.0.0.1".to_string()
        } else {
            t.node_addr.clone()
        };
        ContainerInfo {
            id: t.id.clone(),
            name: format!("{}.{}", t.service_name, t.slot),
            image: t.image.clone(),
            state: container_state(&t.state).to_string(),
            status: format!("{} on {}", t.state, t.node),
            labels: t.labels.clone(),
            ports: t
                .ports
                .iter()
                .map(|(c, h)| PortBinding {
                    container_port: *c,
                    host_ip: host_ip.clone(),
                    host_port: *h,
                })
                .collect(),
        }
    }

    /// The local container of task `id`, when the task runs on this node.
    async fn local_container(&self, t: &TaskInfo) -> Option<String> {
        let id = t.container_id.clone()?;
        self.docker.inspect_container(&id).await.ok().map(|_| id)
    }
}

#[async_trait]
impl Services for SwarmEngine {
    async fn nodes(&self) -> EngineResult<Vec<NodeInfo>> {
        let nodes = self
            .client()
            .list_nodes(None::<ListNodesOptions>)
            .await
            .map_err(|e| self.docker.api("list swarm nodes", &e))?;
        Ok(nodes
            .into_iter()
            .map(|n| {
                let spec = n.spec.unwrap_or_default();
                let status = n.status.unwrap_or_default();
                let addr = n
                    .manager_status
                    .as_ref()
                    .and_then(|m| m.addr.clone())
                    .and_then(|a| a.rsplit_once(':').map(|(h, _)| h.to_string()))
                    .or(status.addr)
                    .unwrap_or_default();
                NodeInfo {
                    id: n.id.unwrap_or_default(),
                    hostname: n.description.and_then(|d| d.hostname).unwrap_or_default(),
                    addr,
                    state: status.state.map(|s| s.to_string()).unwrap_or_default(),
                    availability: spec.availability.map(|a| a.to_string()).unwrap_or_default(),
                    manager: n.manager_status.is_some(),
                }
            })
            .collect())
    }

    async fn list_services(&self, labels: &LabelFilter) -> EngineResult<Vec<ServiceInfo>> {
        let options = ListServicesOptionsBuilder::default()
            .filters(&label_filters(labels))
            .status(true)
            .build();
        let services = self
            .client()
            .list_services(Some(options))
            .await
            .map_err(|e| self.docker.api("list swarm services", &e))?;
        let mut out: Vec<ServiceInfo> = services
            .into_iter()
            .map(|s| {
                let spec = s.spec.unwrap_or_default();
                ServiceInfo {
                    id: s.id.unwrap_or_default(),
                    name: spec.name.unwrap_or_default(),
                    labels: to_btree(spec.labels),
                    replicas: spec
                        .mode
                        .and_then(|m| m.replicated)
                        .and_then(|r| r.replicas)
                        .and_then(|r| u32::try_from(r).ok())
                        .unwrap_or(0),
                    running: s
                        .service_status
                        .and_then(|st| st.running_tasks)
                        .unwrap_or(0),
                    image: spec
                        .task_template
                        .and_then(|t| t.container_spec)
                        .and_then(|c| c.image)
                        .unwrap_or_default(),
                    update: s.update_status.and_then(|u| {
                        Some(UpdateState {
                            state: u.state?.to_string(),
                            message: u.message,
                        })
                    }),
                    has_previous: false,
                }
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    async fn create_service(&self, request: &ServiceRequest) -> EngineResult<String> {
        let created = self
            .client()
            .create_service(service_spec(request), None)
            .await
            .map_err(|e| {
                self.docker
                    .api(format!("create swarm service {}", request.name), &e)
            })?;
        Ok(created.id.unwrap_or_default())
    }

    async fn update_service(&self, id: &str, request: &ServiceRequest) -> EngineResult<()> {
        let (_, version) = self.current_service(id).await?;
        let options = UpdateServiceOptionsBuilder::default()
            .version(version)
            .build();
        self.client()
            .update_service(id, service_spec(request), options, None)
            .await
            .map_err(|e| {
                self.docker
                    .api(format!("update swarm service {}", request.name), &e)
            })?;
        Ok(())
    }

    async fn rollback_service(&self, id: &str) -> EngineResult<()> {
        let (current, version) = self.current_service(id).await?;
        // with `rollback=previous` the manager takes the service's previous spec itself (the
        // body is the current one, as `docker service rollback` sends it)
        let previous = current.spec.unwrap_or_default();
        let options = UpdateServiceOptionsBuilder::default()
            .version(version)
            .rollback("previous")
            .build();
        self.client()
            .update_service(id, previous, options, None)
            .await
            .map_err(|e| self.docker.api(format!("roll back swarm service {id}"), &e))?;
        Ok(())
    }

    async fn force_update(&self, id: &str) -> EngineResult<()> {
        let (current, version) = self.current_service(id).await?;
        let mut spec = current.spec.unwrap_or_default();
        let mut template = spec.task_template.unwrap_or_default();
        template.force_update = Some(template.force_update.unwrap_or(0).wrapping_add(1));
        spec.task_template = Some(template);
        let options = UpdateServiceOptionsBuilder::default()
            .version(version)
            .build();
        self.client()
            .update_service(id, spec, options, None)
            .await
            .map_err(|e| self.docker.api(format!("restart swarm service {id}"), &e))?;
        Ok(())
    }

    async fn remove_service(&self, id: &str) -> EngineResult<()> {
        match self.client().delete_service(id).await {
            Ok(()) => Ok(()),
            Err(e) if status(&e) == Some(404) => Ok(()),
            Err(e) => Err(self.docker.api(format!("remove swarm service {id}"), &e)),
        }
    }

    async fn tasks(&self, labels: &LabelFilter) -> EngineResult<Vec<TaskInfo>> {
        let services = self.list_services(labels).await?;
        self.tasks_of(&services, labels).await
    }
}

impl SwarmEngine {
    /// The tasks of `services` whose container carries `labels`, by service and slot, the
    /// newest task of a slot first.
    async fn tasks_of(
        &self,
        services: &[ServiceInfo],
        labels: &LabelFilter,
    ) -> EngineResult<Vec<TaskInfo>> {
        if services.is_empty() {
            return Ok(Vec::new());
        }
        let names: BTreeMap<String, String> = services
            .iter()
            .map(|s| (s.id.clone(), s.name.clone()))
            .collect();
        let filters: HashMap<String, Vec<String>> =
            HashMap::from([("service".to_string(), names.keys().cloned().collect())]);
        let tasks = self
            .client()
            .list_tasks(Some(ListTasksOptions {
                filters: Some(filters),
            }))
            .await
            .map_err(|e| self.docker.api("list swarm tasks", &e))?;
        let nodes = self.node_map().await;
        let mut out: Vec<TaskInfo> = tasks
            .into_iter()
            .map(|t| Self::task_info(t, &nodes, &names))
            .filter(|t| matches(&t.labels, labels))
            .collect();
        // by service and slot, the newest task of a slot first
        out.sort_by(|a, b| {
            a.service_name
                .cmp(&b.service_name)
                .then(a.slot.cmp(&b.slot))
                .then(b.since.cmp(&a.since))
        });
        Ok(out)
    }
}

#[async_trait]
impl Engine for SwarmEngine {
    fn kind(&self) -> EngineKind {
        self.docker.kind()
    }

    fn services(&self) -> Option<&dyn Services> {
        Some(self)
    }

    async fn info(&self) -> EngineResult<EngineInfo> {
        self.docker.info().await
    }

    async fn image(&self, reference: &str) -> EngineResult<Option<ImageInfo>> {
        self.docker.image(reference).await
    }

    async fn build(
        &self,
        request: BuildRequest,
        progress: &(dyn Fn(BuildProgress) + Send + Sync),
    ) -> EngineResult<Result<BuildOutcome, BuildFailure>> {
        self.docker.build(request, progress).await
    }

    async fn tag_image(&self, image: &str, target: &str) -> EngineResult<()> {
        self.docker.tag_image(image, target).await
    }

    async fn push_image(
        &self,
        request: &PushRequest,
        progress: &(dyn Fn(String) + Send + Sync),
    ) -> Result<PushReport, PushError> {
        self.docker.push_image(request, progress).await
    }

    async fn import_image(
        &self,
        tarball: Vec<u8>,
        tag: &str,
        changes: &[String],
    ) -> EngineResult<()> {
        self.docker.import_image(tarball, tag, changes).await
    }

    async fn ensure_network(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> EngineResult<()> {
        // the cluster's network, not a copy this node still holds of one just removed
        let swarm_scope = InspectNetworkOptionsBuilder::default()
            .scope("swarm")
            .build();
        match self.client().inspect_network(name, Some(swarm_scope)).await {
            Ok(_) => return Ok(()),
            Err(err) if status(&err) == Some(404) => {}
            Err(err) => return Err(self.docker.api(format!("inspect network {name}"), &err)),
        }
        let request = NetworkCreateRequest {
            name: name.to_string(),
            driver: Some("overlay".to_string()),
            attachable: Some(true),
            labels: Some(to_hash(labels)),
            ..Default::default()
        };
        match self.client().create_network(request).await {
            Ok(_) => Ok(()),
            Err(err) if status(&err) == Some(409) => Ok(()),
            Err(err) => Err(self
                .docker
                .api(format!("create overlay network {name}"), &err)),
        }
    }

    /// Waits (at most 30 s) while the tasks of removed services still hold endpoints on it (or
    /// the manager still counts them), and until this node dropped its copy.
    async fn remove_network(&self, name: &str) -> EngineResult<()> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            match self.client().remove_network(name).await {
                Ok(()) => {
                    // this node drops its copy a moment later: wait for it, so a `down` is
                    // complete when it returns
                    while tokio::time::Instant::now() < deadline
                        && self.client().inspect_network(name, None).await.is_ok()
                    {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    return Ok(());
                }
                // a removed overlay lingers on the nodes for a moment: the manager says
                // "not found" (not a 404) meanwhile
                Err(err)
                    if status(&err) == Some(404)
                        || self.docker.message(&err).contains("not found") =>
                {
                    return Ok(())
                }
                Err(err)
                    if (self.docker.message(&err).contains("active endpoints")
                        || self.docker.message(&err).contains("in use by task"))
                        && tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(err) => return Err(self.docker.api(format!("remove network {name}"), &err)),
            }
        }
    }

    async fn list_networks(&self, labels: &LabelFilter) -> EngineResult<Vec<String>> {
        self.docker.list_networks(labels).await
    }

    /// A one-off container on this node (`pactown run SERVICE -- CMD`), as on Docker.
    async fn run_attached(
        &self,
        spec: &ContainerSpec,
        tty: bool,
    ) -> EngineResult<super::AttachedExec> {
        self.docker.run_attached(spec, tty).await
    }

    async fn resize_tty(
        &self,
        id: &str,
        container: bool,
        rows: u16,
        cols: u16,
    ) -> EngineResult<()> {
        self.docker.resize_tty(id, container, rows, cols).await
    }

    /// This node's volumes: Swarm creates a task's volume on the node that runs it.
    async fn list_volumes(&self, labels: &LabelFilter) -> EngineResult<Vec<String>> {
        self.docker.list_volumes(labels).await
    }

    async fn remove_volume(&self, name: &str) -> EngineResult<()> {
        self.docker.remove_volume(name).await
    }

    async fn create_container(&self, spec: &ContainerSpec) -> EngineResult<String> {
        self.docker.create_container(spec).await
    }

    async fn start_container(&self, id: &str) -> EngineResult<()> {
        match self.task(id).await? {
            // Swarm starts its tasks itself
            Some(_) => Ok(()),
            None => self.docker.start_container(id).await,
        }
    }

    async fn stop_container(&self, id: &str, timeout: Duration) -> EngineResult<()> {
        match self.task(id).await? {
            // a task stops with its service (`Services::remove_service`)
            Some(_) => Ok(()),
            None => self.docker.stop_container(id, timeout).await,
        }
    }

    async fn remove_container(&self, id: &str) -> EngineResult<()> {
        match self.task(id).await? {
            Some(_) => Ok(()),
            None => self.docker.remove_container(id).await,
        }
    }

    async fn kill_container(&self, id: &str, signal: &str) -> EngineResult<()> {
        match self.task(id).await? {
            Some(t) => match self.local_container(&t).await {
                Some(c) => self.docker.kill_container(&c, signal).await,
                None => Err(EngineError::Api {
                    operation: format!("kill task {id}"),
                    message: format!("it runs on node {}, not on this one", t.node),
                }),
            },
            None => self.docker.kill_container(id, signal).await,
        }
    }

    async fn health_verdict(&self, id: &str) -> EngineResult<Option<Result<(), String>>> {
        let Some(t) = self.task(id).await? else {
            return Ok(None);
        };
        if self.local_container(&t).await.is_some() {
            return Ok(None);
        }
        // the node ran the health check: a task with one turns `running` only once it passed
        Ok(Some(if t.state == "running" {
            Ok(())
        } else {
            Err(format!(
                "task {} on node {} is {} (its health check runs there){}",
                t.id,
                t.node,
                t.state,
                if t.message.is_empty() {
                    String::new()
                } else {
                    format!(": {}", t.message)
                }
            ))
        }))
    }

    async fn exec(
        &self,
        id: &str,
        command: &[String],
        timeout: Duration,
    ) -> EngineResult<ExecOutcome> {
        match self.task(id).await? {
            Some(t) => match self.local_container(&t).await {
                Some(c) => self.docker.exec(&c, command, timeout).await,
                None => Err(EngineError::Api {
                    operation: format!("run a command in task {id}"),
                    message: format!(
                        "it runs on node {}, and a command can run only in a task on the \
                         manager pactown talks to",
                        t.node
                    ),
                }),
            },
            None => self.docker.exec(id, command, timeout).await,
        }
    }

    async fn list_containers(&self, labels: &LabelFilter) -> EngineResult<Vec<ContainerInfo>> {
        Ok(self
            .tasks(labels)
            .await?
            .iter()
            .filter(|t| t.is_current())
            .map(Self::container_info)
            .collect())
    }

    async fn inspect_container(&self, id: &str) -> EngineResult<ContainerDetails> {
        let Some(t) = self.task(id).await? else {
            return self.docker.inspect_container(id).await;
        };
        let info = Self::container_info(&t);
        let running = t.is_running() && t.desired_state == "running";
        let mut details = ContainerDetails {
            info,
            running,
            exit_code: t.exit_code.filter(|_| t.has_ended()),
            oom_killed: false,
            restart_count: 0,
            started_at: t.since.clone().filter(|_| running),
            image_id: String::new(),
            hardening: super::Hardening::default(),
            limits: ResourceLimits::default(),
        };
        if let Some(c) = self.local_container(&t).await {
            if let Ok(local) = self.docker.inspect_container(&c).await {
                details.hardening = local.hardening;
                details.limits = local.limits;
                details.image_id = local.image_id;
                details.oom_killed = local.oom_killed;
                details.started_at = details.started_at.or(local.started_at);
            }
        }
        if !running && details.info.state == "running" {
            // Swarm is shutting it down
            details.info.state = "exited".into();
        }
        Ok(details)
    }

    async fn logs(
        &self,
        id: &str,
        query: &LogQuery,
    ) -> EngineResult<BoxStream<'static, EngineResult<LogLine>>> {
        match self.task(id).await? {
            Some(t) => match self.local_container(&t).await {
                // the local container's log is complete at once; the task log API goes
                // through the node's agent
                Some(c) => self.docker.logs(&c, query).await,
                None => Ok(self.docker.task_log_lines(id, query)),
            },
            None => self.docker.logs(id, query).await,
        }
    }

    async fn events(
        &self,
        labels: &LabelFilter,
    ) -> EngineResult<BoxStream<'static, EngineResult<EngineEvent>>> {
        self.docker.events(labels).await
    }

    async fn events_window(
        &self,
        labels: &LabelFilter,
        since: i64,
        until: Option<i64>,
    ) -> EngineResult<BoxStream<'static, EngineResult<EngineEvent>>> {
        self.swarm_events(labels, since, until).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_tmpfs() {
        assert_eq!(size_bytes("64m"), Some(64 << 20));
        assert_eq!(size_bytes("1048576"), Some(1_048_576));
        assert_eq!(size_bytes("2x"), None);
        let m = tmpfs_mount("/tmp", "rw,nosuid,nodev,size=64m,mode=1777");
        let o = m.tmpfs_options.unwrap();
        assert_eq!(o.size_bytes, Some(64 << 20));
        assert_eq!(o.mode, Some(0o1777));
    }

    #[test]
    fn the_ipv4_binding_of_a_port_listed_twice_is_kept() {
        let port = |target: i64, published: i64| EndpointPortConfig {
            target_port: Some(target),
            published_port: Some(published),
            ..Default::default()
        };
        // as a task's status listed them: 0.0.0.0:32928 first, then [::]:32926
        assert_eq!(
            published_ports(vec![
                port(8000, 32928),
                port(8000, 32926),
                port(9000, 31000)
            ]),
            [(8000, 32928), (9000, 31000)]
        );
        assert!(published_ports(vec![EndpointPortConfig::default()]).is_empty());
    }

    #[test]
    fn label_filter_matching() {
        let l = BTreeMap::from([("a".to_string(), "1".to_string())]);
        assert!(matches(&l, &vec!["a=1".into()]));
        assert!(matches(&l, &vec!["a".into()]));
        assert!(!matches(&l, &vec!["a=2".into()]));
    }
}
