//! Desired state versus what runs: a pure comparison of the ecosystem's services with the
//! containers the engine lists under the ecosystem's labels. No IO, so it is unit-tested directly.
use super::isolation::{self, Isolation};
use crate::config::config_hash::{config_hash, HashInput};
use crate::config::labels;
use crate::config::{Ecosystem, ServiceSpec};
use crate::engine::ContainerInfo;
use crate::image::start_script::WAIT_FOR_VAR;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Everything pactown wants for one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredService {
    /// Service name (also its DNS alias).
    pub name: String,
    /// Image tag to run.
    pub image: String,
    /// Image id (part of the config hash).
    pub image_id: String,
    /// Full environment: injected dependency variables, then the service's own `env`.
    pub env: BTreeMap<String, String>,
    /// Container port, published on 127.0.0.1 (host side may move to a free port); `None`: the
    /// service has no port (a worker, a job) and publishes nothing.
    pub port: Option<u16>,
    /// A one-shot job: run to completion, done when it exited 0 (never restarted, not rerun by
    /// the next `up` once it succeeded with the same config).
    pub job: bool,
    /// Shell command run inside the container as its health probe (`health_cmd`).
    pub health_cmd: Option<String>,
    /// Number of containers.
    pub replicas: u32,
    /// Restart policy.
    pub restart: bool,
    /// HTTP health path; `None` = the port must accept connections.
    pub health_path: Option<String>,
    /// Time allowed to become healthy.
    pub timeout: Duration,
    /// Direct dependencies (must be healthy before this one starts).
    pub dependencies: Vec<String>,
    /// Isolation and cgroup limits of the containers ([`super::isolation`]).
    pub isolation: Isolation,
    /// Hash of the fields above that shape the containers.
    pub config_hash: String,
    /// Host port asked for replica 1 instead of `port` (the ingress publishes its listener on
    /// its public port); `None`: the same number as `port`.
    pub host_port: Option<u16>,
    /// Further `(container port, host port)` pairs published on 127.0.0.1 exactly as given (the
    /// ingress's plain-HTTP port).
    pub extra_ports: Vec<(u16, u16)>,
    /// How a Swarm service's replicas are reached (containers on one host ignore it).
    pub endpoint_mode: crate::config::EndpointMode,
    /// The containers' start script waits for the dependencies itself (the env holds the
    /// generated [`WAIT_FOR_VAR`] list), so they may be started before the dependencies are
    /// healthy ([`super::scheduler`]).
    pub gated: bool,
}

impl DesiredService {
    /// Builds the desired state of `spec` running `image` (tag) / `image_id`, with the env of
    /// [`crate::graph::injected_env`] and the isolation of [`isolation::for_service`] (the
    /// runtime is read from the pactown image tag).
    #[must_use]
    pub fn from_spec(eco: &Ecosystem, spec: &ServiceSpec, image: &str, image_id: &str) -> Self {
        let mut env = crate::graph::injected_env(eco, spec);
        // the service's own `env` may set the variable (empty: no waiting), which also turns
        // off the early start
        let wait = crate::graph::wait_for(eco, spec);
        // only when the start script can hold it for every dependency (a portless one or a job
        // has no entry): otherwise it starts once they are healthy or completed
        let gated = !wait.is_empty()
            && crate::graph::all_waitable(eco, spec)
            && env
                .entry(WAIT_FOR_VAR.to_string())
                .or_insert_with(|| wait.clone())
                == &wait;
        let iso = isolation::for_service(eco, spec, isolation::runtime_of_tag(image));
        let mut d = Self::new(
            &spec.name,
            image,
            image_id,
            env,
            spec.port,
            spec.replicas,
            spec.auto_restart,
            spec.health_check.clone(),
            Duration::from_secs(spec.timeout),
            spec.depends_on.iter().map(|d| d.name.clone()).collect(),
        )
        .with_shape(spec.is_job(), spec.health_cmd.clone())
        .with_isolation(iso);
        d.gated = gated;
        d.with_endpoint_mode(spec.endpoint_mode)
    }

    /// Sets the Swarm endpoint mode and recomputes the config hash.
    #[must_use]
    pub fn with_endpoint_mode(mut self, mode: crate::config::EndpointMode) -> Self {
        self.endpoint_mode = mode;
        self.config_hash = self.hash();
        self
    }

    /// Makes it a job (or not) with `health_cmd` as its probe, and recomputes the config hash.
    #[must_use]
    pub fn with_shape(mut self, job: bool, health_cmd: Option<String>) -> Self {
        self.job = job;
        self.health_cmd = health_cmd;
        self.config_hash = self.hash();
        self
    }

    /// Sets the isolation (its variables are added where the env does not set them) and
    /// recomputes the config hash.
    #[must_use]
    pub fn with_isolation(mut self, iso: Isolation) -> Self {
        for (k, v) in &iso.env {
            self.env.entry(k.clone()).or_insert_with(|| v.clone());
        }
        self.isolation = iso;
        self.config_hash = self.hash();
        self
    }

    fn hash(&self) -> String {
        let default = Isolation::default();
        config_hash(&HashInput {
            image: &self.image,
            image_id: &self.image_id,
            env: &self.env,
            port: self.port,
            job: self.job,
            health_cmd: self.health_cmd.as_deref(),
            replicas: self.replicas,
            restart: self.restart,
            health_path: self.health_path.as_deref(),
            isolation: (self.isolation != default).then_some(&self.isolation),
            host_port: self.host_port,
            extra_ports: &self.extra_ports,
            endpoint_mode: (self.endpoint_mode != crate::config::EndpointMode::Dnsrr)
                .then_some(self.endpoint_mode),
        })
    }

    /// Publishes the port on `host_port` (replica 1) and `extra` as they are, and recomputes the
    /// config hash.
    #[must_use]
    pub fn with_host_ports(mut self, host_port: u16, extra: Vec<(u16, u16)>) -> Self {
        self.host_port = Some(host_port);
        self.extra_ports = extra;
        self.config_hash = self.hash();
        self
    }

    /// The host port replica `replica` asks for.
    #[must_use]
    pub fn wanted_host_port(&self, replica: u32) -> Option<u16> {
        match self.host_port {
            Some(p) if replica <= 1 && self.port.is_some() => Some(p),
            _ => super::ports::replica_port(self.port, replica),
        }
    }

    /// Builds a desired service from its parts and computes the config hash.
    #[allow(clippy::too_many_arguments)]
    #[must_use]
    pub fn new(
        name: &str,
        image: &str,
        image_id: &str,
        env: BTreeMap<String, String>,
        port: impl Into<Option<u16>>,
        replicas: u32,
        restart: bool,
        health_path: Option<String>,
        timeout: Duration,
        dependencies: Vec<String>,
    ) -> Self {
        let replicas = replicas.max(1);
        let mut d = Self {
            name: name.to_string(),
            image: image.to_string(),
            image_id: image_id.to_string(),
            env,
            port: port.into(),
            job: false,
            health_cmd: None,
            replicas,
            restart,
            health_path,
            timeout,
            dependencies,
            isolation: Isolation::default(),
            config_hash: String::new(),
            host_port: None,
            extra_ports: Vec::new(),
            endpoint_mode: crate::config::EndpointMode::Dnsrr,
            gated: false,
        };
        d.config_hash = d.hash();
        d
    }
}

/// What to do with one replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplicaAction {
    /// Running with the same config: leave it alone.
    Keep {
        /// Container id.
        id: String,
        /// Its published host port, if it has one.
        host_port: Option<u16>,
    },
    /// Same config but not running: start it again.
    Start {
        /// Container id.
        id: String,
        /// Its published host port, if it has one.
        host_port: Option<u16>,
    },
    /// Config changed: remove the old container and create a new one.
    Recreate {
        /// The old container's id.
        old_id: String,
        /// The host port the old container publishes for the service's port (the new one
        /// keeps it when it is free).
        host_port: Option<u16>,
    },
    /// No container yet.
    Create,
}

/// The plan for one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePlan {
    /// Service name.
    pub service: String,
    /// One action per replica number (1-based), in order.
    pub replicas: Vec<(u32, ReplicaAction)>,
    /// Containers of this service beyond the wanted replicas (or duplicates): removed.
    pub remove: Vec<String>,
}

impl ServicePlan {
    /// True when every replica is kept and nothing is removed.
    #[must_use]
    pub fn is_noop(&self) -> bool {
        self.remove.is_empty()
            && self
                .replicas
                .iter()
                .all(|(_, a)| matches!(a, ReplicaAction::Keep { .. }))
    }
}

/// The plan for an ecosystem.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// One entry per desired service, in the order given.
    pub services: Vec<ServicePlan>,
    /// Containers with the ecosystem's labels whose service is no longer in the file.
    pub orphans: Vec<String>,
}

impl Plan {
    /// True when nothing needs to change.
    #[must_use]
    pub fn is_noop(&self) -> bool {
        self.orphans.is_empty() && self.services.iter().all(ServicePlan::is_noop)
    }

    /// The plan of one service.
    #[must_use]
    pub fn service(&self, name: &str) -> Option<&ServicePlan> {
        self.services.iter().find(|s| s.service == name)
    }
}

/// The host port a container publishes for `container_port` (its first published one when it
/// does not publish that one, or when the port is not known).
#[must_use]
pub fn host_port_of(info: &ContainerInfo, container_port: impl Into<Option<u16>>) -> Option<u16> {
    let wanted = container_port.into();
    info.ports
        .iter()
        .find(|p| Some(p.container_port) == wanted)
        .or_else(|| info.ports.first())
        .map(|p| p.host_port)
}

/// The address a container publishes its ports on when it is not this machine's loopback (a
/// Swarm task on another node); `None` for 127.0.0.1.
#[must_use]
pub fn host_of(info: &ContainerInfo) -> Option<std::net::IpAddr> {
    info.ports
        .first()
        .and_then(|p| p.host_ip.parse::<std::net::IpAddr>().ok())
        .filter(|ip| !ip.is_loopback() && !ip.is_unspecified())
}

/// A replica container left under a name of its own (`<eco>-<svc>-<n>-…`) by an interrupted
/// replacement behind the ingress ([`super::surge`]): it is recreated under its name.
fn renamed_away(c: &ContainerInfo, service: &str, replica: u32) -> bool {
    c.labels.get(labels::ECOSYSTEM).is_some_and(|eco| {
        c.name
            .strip_prefix(&super::container_name(eco, service, replica))
            .is_some_and(|rest| rest.starts_with('-'))
    })
}

/// Compares `desired` with the `existing` containers of the ecosystem (as listed by its labels).
#[must_use]
pub fn plan(desired: &[DesiredService], existing: &[ContainerInfo]) -> Plan {
    let mut by_service: BTreeMap<&str, Vec<&ContainerInfo>> = BTreeMap::new();
    for c in existing {
        let service = c.labels.get(labels::SERVICE).map_or("", String::as_str);
        by_service.entry(service).or_default().push(c);
    }
    let wanted: BTreeSet<&str> = desired.iter().map(|d| d.name.as_str()).collect();
    let orphans = by_service
        .iter()
        .filter(|(name, _)| !wanted.contains(*name))
        .flat_map(|(_, cs)| cs.iter().map(|c| c.id.clone()))
        .collect();

    let services = desired
        .iter()
        .map(|d| {
            let containers = by_service.get(d.name.as_str()).cloned().unwrap_or_default();
            let mut by_replica: BTreeMap<u32, &ContainerInfo> = BTreeMap::new();
            let mut remove = Vec::new();
            for c in containers {
                let replica = c
                    .labels
                    .get(labels::REPLICA)
                    .and_then(|r| r.parse::<u32>().ok());
                match replica {
                    Some(n) if (1..=d.replicas).contains(&n) && !by_replica.contains_key(&n) => {
                        by_replica.insert(n, c);
                    }
                    _ => remove.push(c.id.clone()),
                }
            }
            let replicas = (1..=d.replicas)
                .map(|n| {
                    let action = match by_replica.get(&n) {
                        None => ReplicaAction::Create,
                        Some(c)
                            if c.labels.get(labels::CONFIG_HASH) != Some(&d.config_hash)
                                || renamed_away(c, &d.name, n) =>
                        {
                            ReplicaAction::Recreate {
                                old_id: c.id.clone(),
                                host_port: c
                                    .ports
                                    .iter()
                                    .find(|p| Some(p.container_port) == d.port)
                                    .map(|p| p.host_port),
                            }
                        }
                        Some(c) if c.state == "running" => ReplicaAction::Keep {
                            id: c.id.clone(),
                            host_port: host_port_of(c, d.port),
                        },
                        Some(c) => ReplicaAction::Start {
                            id: c.id.clone(),
                            host_port: host_port_of(c, d.port),
                        },
                    };
                    (n, action)
                })
                .collect();
            ServicePlan {
                service: d.name.clone(),
                replicas,
                remove,
            }
        })
        .collect();
    Plan { services, orphans }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::PortBinding;

    fn desired(name: &str, replicas: u32) -> DesiredService {
        DesiredService::new(
            name,
            "img:1",
            "sha256:1",
            BTreeMap::new(),
            8100,
            replicas,
            true,
            Some("/health".into()),
            Duration::from_secs(5),
            vec![],
        )
    }

    fn container(id: &str, service: &str, replica: u32, hash: &str, state: &str) -> ContainerInfo {
        let mut l = BTreeMap::new();
        l.insert(labels::SERVICE.to_string(), service.to_string());
        l.insert(labels::REPLICA.to_string(), replica.to_string());
        l.insert(labels::CONFIG_HASH.to_string(), hash.to_string());
        ContainerInfo {
            id: id.into(),
            name: format!("eco-{service}-{replica}"),
            image: "img:1".into(),
            state: state.into(),
            status: String::new(),
            labels: l,
            ports: vec![PortBinding {
                container_port: 8100,
                host_ip: "127.0.0.1".into(),
                host_port: 8105,
            }],
        }
    }

    #[test]
    fn a_replica_left_renamed_away_is_recreated_and_a_surge_container_removed() {
        let d = desired("api", 1);
        let h = d.config_hash.clone();
        let mut away = container("a1", "api", 1, &h, "running");
        away.labels
            .insert(labels::ECOSYSTEM.to_string(), "eco".to_string());
        away.name = "eco-api-1-0123456789ab".to_string();
        let mut surge = container("s1", "api", 1, &h, "running");
        surge.labels.insert(
            labels::REPLICA.to_string(),
            super::super::surge::SURGE_REPLICA.to_string(),
        );
        let p = plan(std::slice::from_ref(&d), &[away.clone(), surge]);
        let svc = &p.services[0];
        assert!(matches!(
            svc.replicas[0].1,
            ReplicaAction::Recreate { ref old_id, .. } if old_id == "a1"
        ));
        assert!(svc.remove.contains(&"s1".to_string()), "{svc:?}");
        // under its own name it is kept
        away.name = "eco-api-1".to_string();
        let p = plan(std::slice::from_ref(&d), &[away]);
        assert!(matches!(
            p.services[0].replicas[0].1,
            ReplicaAction::Keep { .. }
        ));
    }

    #[test]
    fn classifies_each_replica() {
        let d = desired("api", 3);
        let h = d.config_hash.clone();
        let existing = vec![
            container("a1", "api", 1, &h, "running"),
            container("a2", "api", 2, "old", "running"),
            container("a4", "api", 4, &h, "running"),
            container("x1", "gone", 1, "zz", "running"),
        ];
        let p = plan(&[d], &existing);
        assert_eq!(p.orphans, vec!["x1".to_string()]);
        let s = p.service("api").unwrap();
        assert_eq!(
            s.replicas,
            vec![
                (
                    1,
                    ReplicaAction::Keep {
                        id: "a1".into(),
                        host_port: Some(8105)
                    }
                ),
                (
                    2,
                    ReplicaAction::Recreate {
                        old_id: "a2".into(),
                        host_port: Some(8105)
                    }
                ),
                (3, ReplicaAction::Create),
            ]
        );
        assert_eq!(s.remove, vec!["a4".to_string()]);
        assert!(!p.is_noop());
    }

    #[test]
    fn stopped_container_is_started_not_recreated() {
        let d = desired("api", 1);
        let h = d.config_hash.clone();
        let p = plan(&[d], &[container("a1", "api", 1, &h, "exited")]);
        assert!(matches!(
            p.service("api").unwrap().replicas[0].1,
            ReplicaAction::Start { .. }
        ));
    }
}
