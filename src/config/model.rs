//! The normalized ecosystem model: what the rest of pactown works with after the YAML has been
//! read, defaulted and validated.
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Which container engine to use.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum EngineChoice {
    /// A running Docker first, then Podman.
    #[default]
    Auto,
    /// Docker Engine API.
    Docker,
    /// Podman API.
    Podman,
    /// Docker Swarm through the Docker Engine API of a swarm manager: one Swarm service per
    /// service ([`crate::engine::swarm`]).
    Swarm,
}

/// How the replicas of a service are reached on Docker Swarm (`endpoint_mode:`, as in Compose's
/// `deploy.endpoint_mode`); containers on one host ignore it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EndpointMode {
    /// DNS round robin: the service name resolves to the tasks' addresses on the overlay, and
    /// each replica publishes its port in host mode (works without IPVS).
    #[default]
    Dnsrr,
    /// A virtual IP per service (needs IPVS in the kernel); the port is still published in host
    /// mode, per replica.
    Vip,
}

/// Where a service's README comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum ReadmeSource {
    /// A file relative to the ecosystem file's folder (already joined with it).
    Local {
        /// Path as written in the YAML (normalized).
        relative: String,
        /// Path joined with the ecosystem file's folder.
        path: PathBuf,
    },
    /// `registry:NAMESPACE/NAME@VERSION`.
    Registry {
        /// Registry namespace.
        namespace: String,
        /// Artifact name.
        name: String,
        /// Version or `latest`.
        version: String,
    },
}

/// One `depends_on` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DependsOn {
    /// The service depended on.
    pub name: String,
    /// Version constraint from the `name@1.2` form, informational.
    pub version: Option<String>,
    /// Extra variable name for the dependency URL.
    pub env_var: Option<String>,
    /// Explicit endpoint used verbatim instead of the derived URL.
    pub endpoint: Option<String>,
    /// Line in the YAML.
    pub line: usize,
}

/// What a service is: a long-running process, or a one-shot job that runs to completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceKind {
    /// Runs until stopped; healthy by its probe (HTTP path, port, `health_cmd`, or running).
    #[default]
    Service,
    /// Runs once to completion (a database migration, a seed): done when it exited 0; its
    /// dependants start only then (Compose's `service_completed_successfully`). Not restarted,
    /// no port, one container.
    Job,
}

impl ServiceKind {
    /// `service` or `job`, as written in the ecosystem file.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceKind::Service => "service",
            ServiceKind::Job => "job",
        }
    }
}

/// A service of the ecosystem, defaults applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceSpec {
    /// Name (key in `services:`).
    pub name: String,
    /// Position in YAML order, 0-based.
    pub index: usize,
    /// Line of the service key in the YAML.
    pub line: usize,
    /// README location.
    pub readme: ReadmeSource,
    /// `kind:` — a long-running service (default) or a one-shot job.
    pub kind: ServiceKind,
    /// Port the service listens on inside its container and is published on (host side may move
    /// to the next free port at `up`); `None` for a service without a port (`port: null`: a
    /// queue consumer, a scheduler) and for jobs.
    pub port: Option<u16>,
    /// HTTP path probed for health, if any (needs a port).
    pub health_check: Option<String>,
    /// `health_cmd:` — a shell command run inside the container (`/bin/sh -c`); exit 0 =
    /// healthy. Instead of `health_check`, and the probe of a service without a port.
    pub health_cmd: Option<String>,
    /// Seconds to become healthy.
    pub timeout: u64,
    /// Number of containers behind the service's DNS alias.
    pub replicas: u32,
    /// `endpoint_mode:` — how a Swarm service's replicas are reached.
    pub endpoint_mode: EndpointMode,
    /// Restart the container when it exits.
    pub auto_restart: bool,
    /// Service environment, applied last.
    pub env: BTreeMap<String, String>,
    /// Dependencies in YAML order.
    pub depends_on: Vec<DependsOn>,
    /// `target` key (default `web`).
    pub target: String,
    /// `framework` key, informational.
    pub framework: Option<String>,
    /// `build_cmd` key, informational in v1.
    pub build_cmd: Option<String>,
    /// `build_targets` key, informational in v1.
    pub build_targets: Vec<String>,
    /// `security:` opt-outs from the hardened defaults.
    pub security: Security,
    /// Resource limits: the service's `resources:` over its `profile:` (already merged).
    pub resources: Resources,
    /// `profile:` name, when the service references one of the ecosystem's `profiles:`.
    pub profile: Option<String>,
    /// `volumes:` named volumes for data: volume name → path inside the container.
    pub volumes: BTreeMap<String, String>,
    /// `env_file:` of the service (resolved relative to the ecosystem file), read after the
    /// ecosystem's `env_file:`.
    pub env_file: Option<PathBuf>,
    /// `expose:` — reachable from outside through the ecosystem's `ingress:` under a host name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expose: Option<super::ingress::Expose>,
}

impl ServiceSpec {
    /// True for a one-shot job.
    #[must_use]
    pub fn is_job(&self) -> bool {
        self.kind == ServiceKind::Job
    }

    /// How graphs and listings show its port: `:8000`, `job` or `no port`.
    #[must_use]
    pub fn port_label(&self) -> String {
        match (self.port, self.kind) {
            (_, ServiceKind::Job) => "job".to_string(),
            (Some(p), _) => format!(":{p}"),
            (None, _) => "no port".to_string(),
        }
    }

    /// The argv of its `health_cmd` (`/bin/sh -c CMD`), when it has one.
    #[must_use]
    pub fn health_argv(&self) -> Option<Vec<String>> {
        self.health_cmd.as_deref().map(shell_argv)
    }

    /// A service with the defaults of an ecosystem file (spec §12) where it sets nothing but
    /// the name: README `<name>/README.md` at `readme_path`, no health check, 60 s time-out, one
    /// replica, auto-restart, target `web`, hardened security, no env, dependencies, limits or
    /// volumes; position 0, line 0.
    #[must_use]
    pub fn with_defaults(name: &str, port: impl Into<Option<u16>>, readme_path: PathBuf) -> Self {
        Self {
            name: name.to_string(),
            index: 0,
            line: 0,
            readme: ReadmeSource::Local {
                relative: format!("{name}/README.md"),
                path: readme_path,
            },
            kind: ServiceKind::Service,
            port: port.into(),
            health_check: None,
            health_cmd: None,
            timeout: 60,
            replicas: 1,
            endpoint_mode: EndpointMode::Dnsrr,
            auto_restart: true,
            env: BTreeMap::new(),
            depends_on: Vec::new(),
            target: "web".into(),
            framework: None,
            build_cmd: None,
            build_targets: Vec::new(),
            security: Security::default(),
            resources: Resources::default(),
            profile: None,
            volumes: BTreeMap::new(),
            env_file: None,
            expose: None,
        }
    }
}

/// `/bin/sh -c CMD`: how a `health_cmd` runs inside a container.
#[must_use]
pub fn shell_argv(cmd: &str) -> Vec<String> {
    vec!["/bin/sh".to_string(), "-c".to_string(), cmd.to_string()]
}

/// Container isolation of a service. Every field defaults to the hardened setting; `security:`
/// in the YAML turns single ones off (and `pactown validate` warns about each).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Security {
    /// Root file system mounted read-only (a tmpfs `/tmp` and the `volumes:` stay writable).
    pub read_only: bool,
    /// `no-new-privileges`: setuid binaries cannot raise privileges.
    pub no_new_privileges: bool,
    /// Drop every Linux capability (ports ≥ 1024 need none).
    pub drop_capabilities: bool,
    /// Run as the image's unprivileged user; `false` runs as root.
    pub non_root: bool,
    /// Capabilities added back (e.g. `NET_BIND_SERVICE`).
    pub cap_add: Vec<String>,
}

impl Default for Security {
    fn default() -> Self {
        Self {
            read_only: true,
            no_new_privileges: true,
            drop_capabilities: true,
            non_root: true,
            cap_add: Vec::new(),
        }
    }
}

/// Mount options of the writable tmpfs `/tmp` of a read-only container. `noexec` is explicit:
/// Docker adds it to every tmpfs anyway and Podman does not, so without it a program that runs
/// what it wrote to `/tmp` would work on one engine only. Nothing pactown generates executes
/// from `/tmp`: binaries built for `go run` / `cargo run` live under `/app`
/// (see `crate::image::shim`).
pub const TMP_OPTIONS: &str = "rw,noexec,nosuid,nodev,size=256m,mode=1777";

/// The engine name of a service's named volume: `<ecosystem>-<volume>`.
#[must_use]
pub fn volume_name(ecosystem: &str, volume: &str) -> String {
    format!("{ecosystem}-{volume}")
}

impl Security {
    /// Variables a read-only container needs so tools that write under `$HOME` keep working
    /// (`HOME=/tmp`); empty when the root file system is writable.
    #[must_use]
    pub fn env(&self) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        if self.read_only {
            env.insert("HOME".to_string(), "/tmp".to_string());
        }
        env
    }

    /// The user override: `0:0` when the service opts out of `non_root`.
    #[must_use]
    pub fn user(&self) -> Option<String> {
        (!self.non_root).then(|| "0:0".to_string())
    }

    /// Capabilities dropped: `ALL` unless the service opts out.
    #[must_use]
    pub fn cap_drop(&self) -> Vec<String> {
        if self.drop_capabilities {
            vec!["ALL".to_string()]
        } else {
            Vec::new()
        }
    }
}

/// Paths inside an image pactown built (local `pactown/<runtime>-<service>:<hex>` or pushed,
/// see [`crate::export::ImageMap`]) that stay writable, with
/// their image content, under a read-only root: the service's working directory `/app`. Services
/// write next to their code (SQLite files, uploads, caches; Rust's `cargo run` takes a lock in
/// `target/`), as they do when run by hand. `/app` gets an anonymous volume, which the engine
/// fills from the image and removes with the container, so every container starts from the
/// image's files; the rest of the root file system (system, toolchains, `/opt/venv`) stays
/// read-only.
#[must_use]
pub fn writable_image_paths(built_by_pactown: bool) -> &'static [&'static str] {
    if built_by_pactown {
        &["/app"]
    } else {
        &[]
    }
}

/// Default process limit of a service container when neither `resources:` nor a profile sets one.
pub const DEFAULT_PIDS_LIMIT: u32 = 512;

/// cgroup limits of a service (`resources:` or a named profile).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Resources {
    /// CPU limit in thousandths of a CPU (`cpus: 0.5` → 500).
    pub millicpus: Option<u64>,
    /// Memory limit in bytes (`memory: 256m`).
    pub memory: Option<u64>,
    /// Most processes/threads (`pids: 128`).
    pub pids: Option<u32>,
}

impl Resources {
    /// `self`, with unset fields taken from `base`.
    #[must_use]
    pub fn over(self, base: Resources) -> Resources {
        Resources {
            millicpus: self.millicpus.or(base.millicpus),
            memory: self.memory.or(base.memory),
            pids: self.pids.or(base.pids),
        }
    }

    /// True when no limit is set.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.millicpus.is_none() && self.memory.is_none() && self.pids.is_none()
    }

    /// The pids limit applied to containers: the configured one or [`DEFAULT_PIDS_LIMIT`].
    #[must_use]
    pub fn effective_pids(&self) -> u32 {
        self.pids.unwrap_or(DEFAULT_PIDS_LIMIT)
    }

    /// `cpus` as written in Compose / `--cpus` (`0.5`, `2`).
    #[must_use]
    pub fn cpus_text(&self) -> Option<String> {
        self.millicpus.map(|m| {
            let whole = m / 1000;
            let frac = m % 1000;
            if frac == 0 {
                whole.to_string()
            } else {
                let f = format!("{frac:03}");
                format!("{whole}.{}", f.trim_end_matches('0'))
            }
        })
    }

    /// Memory in the largest exact binary unit (`256m`, `1g`, `1500k`, bytes otherwise).
    #[must_use]
    pub fn memory_text(&self) -> Option<String> {
        self.memory.map(|b| {
            for (unit, size) in [("g", 1u64 << 30), ("m", 1 << 20), ("k", 1 << 10)] {
                if b % size == 0 {
                    return format!("{}{unit}", b / size);
                }
            }
            b.to_string()
        })
    }
}

/// `registry:` settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegistryConfig {
    /// Base URL of the registry.
    pub url: String,
    /// Namespace to publish into / pull from.
    pub namespace: String,
}

/// `build:` settings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct BuildSettings {
    /// Extra CA bundle added to builds (resolved relative to the ecosystem file).
    pub ca_bundle: Option<PathBuf>,
    /// `images: {repo: REGISTRY/NAMESPACE}`: where `build --push` pushes.
    pub image_repo: Option<String>,
}

/// A loaded, validated ecosystem file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ecosystem {
    /// The YAML file as the user named it.
    pub file: PathBuf,
    /// Folder of the YAML file (README paths are relative to it).
    pub dir: PathBuf,
    /// Ecosystem name (default `unnamed-ecosystem`).
    pub name: String,
    /// Version (default `0.1.0`).
    pub version: String,
    /// Free text.
    pub description: Option<String>,
    /// First auto-assigned port (default 8000).
    pub base_port: u16,
    /// Where local sandboxes would go (kept for compatibility).
    pub sandbox_root: PathBuf,
    /// Network name override; default `pactown-<name>`.
    pub network: Option<String>,
    /// Registry settings.
    pub registry: Option<RegistryConfig>,
    /// Build settings.
    pub build: BuildSettings,
    /// Engine choice from the file.
    pub engine: Option<EngineChoice>,
    /// Named resource profiles (`profiles:`), e.g. `free`, `pro`.
    pub profiles: BTreeMap<String, Resources>,
    /// `env_file:` for every service (resolved relative to the ecosystem file).
    pub env_file: Option<PathBuf>,
    /// Tenant of a side-by-side copy (`up --tenant`); `name` then already carries it.
    pub tenant: Option<String>,
    /// `ingress:` — the public reverse proxy in front of the exposed services, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingress: Option<super::ingress::Ingress>,
    /// Services in YAML order.
    pub services: Vec<ServiceSpec>,
}

impl Ecosystem {
    /// A service by name.
    #[must_use]
    pub fn service(&self, name: &str) -> Option<&ServiceSpec> {
        self.services.iter().find(|s| s.name == name)
    }

    /// The engine network of this ecosystem.
    #[must_use]
    pub fn network_name(&self) -> String {
        self.network
            .clone()
            .unwrap_or_else(|| format!("pactown-{}", self.name))
    }
}

impl ReadmeSource {
    /// How the README is written in the ecosystem file: the relative path, or
    /// `registry:NAMESPACE/NAME@VERSION`.
    #[must_use]
    pub fn label(&self) -> String {
        match self {
            ReadmeSource::Local { relative, .. } => relative.clone(),
            ReadmeSource::Registry {
                namespace,
                name,
                version,
            } => format!("registry:{namespace}/{name}@{version}"),
        }
    }
}
