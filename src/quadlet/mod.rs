//! Quadlet export: an ecosystem as rootless systemd units run by Podman.
//!
//! [`to_units`] is pure: it maps the ecosystem and each service's image to typed units
//! ([`unit`]), applies the target Podman's limits ([`unit::ContainerUnit::downgrade`]) and
//! serializes them deterministically. [`install`] does the IO (`pactown quadlet install`).
//!
//! Per ecosystem `eco` with services `svc`:
//! - `eco.network` — the ecosystem's network (`NetworkName=` from the file, default
//!   `pactown-eco`);
//! - `eco-svc.container` (or `eco-svc-N.container` per replica when `replicas > 1`) — the
//!   service's image on that network with the DNS alias `svc`, the injected and own environment,
//!   `PublishPort=127.0.0.1:PORT:PORT` (first replica), a curl-free health check,
//!   `Notify=healthy` (so systemd waits for health before starting dependants, which
//!   `Requires=`/`After=` every replica of their dependencies), `Restart=` from `auto_restart`,
//!   `DropCapability=ALL`, `NoNewPrivileges=true`, a PID limit and `MemoryMax=`. A service
//!   without a port has its `health_cmd` as health check, or none (ready once started); a job
//!   (`kind: job`) is `Type=oneshot` with `RemainAfterExit=yes`, no health check and
//!   `Restart=no`: its unit is active once the container exited 0, so dependants start only
//!   then, and not at all when it fails;
//! - `eco.target` — a plain systemd target that wants every container service. Quadlet does not
//!   read targets, so it goes where systemd reads units ([`UnitFile::path`]).
//!
//! Images that name a registry (`reg.example:5000/acme/api@sha256:…`) get `Pull=missing`; local
//! references (`localhost/…`, or bare names qualified with [`QuadletOptions::image_prefix`]) get
//! `Pull=never`. `TimeoutStartSec=` covers the health allowance (a job: its `timeout`) plus, for
//! pulled images, [`QuadletOptions::pull_timeout`]. With [`QuadletOptions::auto_update`] registry
//! images also get `AutoUpdate=registry`.
pub mod escape;
pub mod install;
pub mod unit;
pub mod version;

pub use install::Scope;
pub use version::PodmanVersion;

use crate::config::labels;
use crate::config::{Ecosystem, ServiceSpec};
use crate::export::{self, ExportError, GeneratedFile, ImageMap};
use unit::{
    ContainerSection, ContainerUnit, InstallSection, NetworkUnit, Notify, PublishPort, Restart,
    ServiceSection, TargetUnit, UnitSection,
};

/// What a generated file is, which decides where `install` puts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitKind {
    /// A Quadlet `.container` file.
    Container,
    /// A Quadlet `.network` file.
    Network,
    /// A plain systemd `.target`.
    Target,
    /// A plain systemd `.service` (the ingress proxy).
    Service,
    /// A configuration file of a [`UnitKind::Service`] (the ingress Caddyfile), below
    /// `pactown/` of the configuration root.
    Config,
}

/// One generated unit file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitFile {
    /// What it is.
    pub kind: UnitKind,
    /// File name, e.g. `shop-api.container`.
    pub name: String,
    /// Full text.
    pub contents: String,
    /// For a container: the image `install` pulls before starting it (`Pull=missing` images).
    pub pull_image: Option<String>,
    /// For a container: seconds its start may take once the image is present (start period
    /// plus the probes that may fail after it), which `install` waits before rolling back.
    pub start_secs: u64,
}

impl UnitFile {
    /// Where the file goes, relative to the configuration root of `scope` (`~/.config` for a
    /// user, `/etc` for the system): Quadlet files under `containers/systemd/`, the target where
    /// systemd reads units (`systemd/user/` or `systemd/system/`). `export quadlet` writes this
    /// layout, so copying the folder onto that root installs it.
    #[must_use]
    pub fn path(&self, scope: Scope) -> std::path::PathBuf {
        let dir = match (self.kind, scope) {
            (UnitKind::Container | UnitKind::Network, _) => "containers/systemd",
            (UnitKind::Target | UnitKind::Service, Scope::User) => "systemd/user",
            (UnitKind::Target | UnitKind::Service, Scope::System) => "systemd/system",
            (UnitKind::Config, _) => "pactown",
        };
        std::path::Path::new(dir).join(&self.name)
    }

    /// The file as an export entry at [`UnitFile::path`].
    #[must_use]
    pub fn exported(&self, scope: Scope) -> GeneratedFile {
        GeneratedFile {
            name: self.path(scope).to_string_lossy().into_owned(),
            contents: self.contents.clone(),
        }
    }

    /// The systemd unit this file becomes (`NAME.service` for a container, `NAME-network.service`
    /// for a network, the target itself).
    #[must_use]
    pub fn systemd_unit(&self) -> String {
        match self.kind {
            UnitKind::Container => format!("{}.service", self.name.trim_end_matches(".container")),
            UnitKind::Network => {
                format!("{}-network.service", self.name.trim_end_matches(".network"))
            }
            UnitKind::Target | UnitKind::Service => self.name.clone(),
            // `ECO/Caddyfile` configures `ECO-ingress.service`
            UnitKind::Config => format!(
                "{}-{}.service",
                self.name.split('/').next().unwrap_or_default(),
                crate::config::ingress::INGRESS_SERVICE
            ),
        }
    }
}

/// Options of the Quadlet export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuadletOptions {
    /// Target Podman version (keys it lacks are rewritten or dropped).
    pub podman_version: PodmanVersion,
    /// `MemoryMax=` of each container service.
    pub memory_max: String,
    /// PID limit of each container.
    pub pids_limit: u32,
    /// Registry prefix added to image references without one (`localhost` for images built on
    /// the same host by the Podman CLI).
    pub image_prefix: String,
    /// Target that starts the units at boot/login: `default.target` (rootless) or
    /// `multi-user.target` (system).
    pub wanted_by: String,
    /// Seconds `TimeoutStartSec=` allows for pulling a `Pull=missing` image.
    pub pull_timeout: u64,
    /// Rootless units for a host on cgroup v1 (or hybrid v1/v2): there the user's systemd cannot
    /// delegate cgroups, and Quadlet's `--cgroups=split` fails (`mkdir
    /// /sys/fs/cgroup/pids/…/user@UID.service/runtime: permission denied`). With this set each
    /// container runs with `--cgroups=disabled` inside its service's cgroup; Podman then ignores
    /// resource limits (memory, PIDs, CPUs), which rootless cgroup v1 cannot enforce anyway.
    pub rootless_cgroup_v1: bool,
    /// `AutoUpdate=registry` on containers whose image comes from a registry (by tag, so that
    /// `podman auto-update` can find a newer image behind it).
    pub auto_update: bool,
    /// System units (`/etc`, `systemctl`): the ingress runs with a dynamic user and
    /// `CAP_NET_BIND_SERVICE`; user units run it as the user.
    pub system: bool,
    /// The Caddy binary the ingress unit runs (Debian's `caddy` package: `/usr/bin/caddy`).
    pub caddy: String,
}

impl Default for QuadletOptions {
    fn default() -> Self {
        Self {
            podman_version: PodmanVersion::DEFAULT,
            memory_max: "1G".into(),
            pids_limit: 2048,
            image_prefix: "localhost".into(),
            wanted_by: "default.target".into(),
            pull_timeout: 300,
            rootless_cgroup_v1: false,
            auto_update: false,
            system: false,
            caddy: "/usr/bin/caddy".into(),
        }
    }
}

/// Name of the systemd service Quadlet generates for a container unit of one replica.
#[must_use]
pub fn service_unit_name(eco: &Ecosystem, svc: &ServiceSpec, replica: u32) -> String {
    format!("{}.service", container_base(eco, svc, replica))
}

/// Name of the ecosystem's target unit.
#[must_use]
pub fn target_name(eco: &Ecosystem) -> String {
    format!("{}.target", eco.name)
}

fn container_base(eco: &Ecosystem, svc: &ServiceSpec, replica: u32) -> String {
    if svc.replicas > 1 {
        format!("{}-{}-{replica}", eco.name, svc.name)
    } else {
        format!("{}-{}", eco.name, svc.name)
    }
}

/// The registry host an image reference names (`reg:5000` of `reg:5000/a:1`), if any.
fn registry_host(image: &str) -> Option<&str> {
    let (first, _) = image.split_once('/')?;
    (first.contains('.') || first.contains(':') || first == "localhost").then_some(first)
}

/// Adds `prefix/` to an image reference whose first component is not a registry host.
fn qualify(image: &str, prefix: &str) -> String {
    if registry_host(image).is_some() || prefix.is_empty() {
        image.to_string()
    } else {
        format!("{prefix}/{image}")
    }
}

/// Whether `image` (as given, before [`qualify`]) comes from a registry: it names a registry
/// host other than `localhost`. Those get `Pull=missing`, everything else `Pull=never`.
fn pulled(image: &str) -> bool {
    registry_host(image).is_some_and(|h| h != "localhost")
}

/// Maps an ecosystem to its Quadlet units (pure: no IO). `images` gives each service's image
/// reference. Files come in a fixed order: the network, the containers in YAML order, the target.
///
/// # Errors
/// [`ExportError::Unsafe`] naming the service and key of a value that cannot be expressed;
/// [`ExportError::MissingImage`]; [`ExportError::Unsupported`] for a Podman without Quadlet.
pub fn to_units(
    eco: &Ecosystem,
    images: &ImageMap,
    opts: &QuadletOptions,
) -> Result<Vec<UnitFile>, ExportError> {
    export::check_names(eco)?;
    let eco_labels = |svc: Option<&str>| {
        let mut l = vec![
            (labels::MANAGED.to_string(), "true".to_string()),
            (labels::ECOSYSTEM.to_string(), eco.name.clone()),
        ];
        if let Some(s) = svc {
            l.push((labels::SERVICE.to_string(), s.to_string()));
        }
        l
    };
    let network_file = format!("{}.network", eco.name);
    let target = target_name(eco);
    let mut files = vec![UnitFile {
        kind: UnitKind::Network,
        name: network_file.clone(),
        contents: NetworkUnit {
            description: format!("pactown ecosystem {} network", eco.name),
            network_name: eco.network_name(),
            label: eco_labels(None),
        }
        .render()?,
        pull_image: None,
        start_secs: 0,
    }];
    let mut all_services = Vec::new();
    for svc in &eco.services {
        let given = export::service_image(images, &svc.name)?;
        let pull = pulled(given);
        let image = qualify(given, &opts.image_prefix);
        let env = export::service_env(eco, svc)?;
        let health_cmd = export::service_health_argv(svc)?;
        let timing = export::health_timing(svc);
        let health = |v: u64| health_cmd.as_ref().map(|_| v);
        // the start period, then the probes that may still fail before the container counts
        // as unhealthy; a job or a service without a probe: its `timeout`
        let start_secs = if health_cmd.is_some() {
            timing.start_period
                + timing
                    .retries
                    .saturating_mul(timing.interval + timing.timeout)
        } else {
            svc.timeout
        };
        let pull_secs = if pull { opts.pull_timeout } else { 0 };
        let mut requires = Vec::new();
        for dep in &svc.depends_on {
            let Some(d) = eco.service(&dep.name) else {
                return Err(ExportError::unsafe_value(
                    &svc.name,
                    "depends_on",
                    format!("`{}` is not a service of this ecosystem", dep.name),
                ));
            };
            for r in 1..=d.replicas {
                requires.push(service_unit_name(eco, d, r));
            }
        }
        for replica in 1..=svc.replicas {
            let base = container_base(eco, svc, replica);
            let mut label = eco_labels(Some(&svc.name));
            label.push((labels::REPLICA.to_string(), replica.to_string()));
            let mut unit = ContainerUnit {
                service: svc.name.clone(),
                comments: Vec::new(),
                unit: UnitSection {
                    description: format!(
                        "pactown ecosystem {} service {} (replica {replica})",
                        eco.name, svc.name
                    ),
                    requires: requires.clone(),
                    after: requires.clone(),
                    part_of: vec![target.clone()],
                },
                container: ContainerSection {
                    image: image.clone(),
                    container_name: base.clone(),
                    pull: Some(if pull { "missing" } else { "never" }.into()),
                    auto_update: (opts.auto_update && pull).then(|| "registry".into()),
                    network: vec![network_file.clone()],
                    network_alias: vec![svc.name.clone()],
                    environment: env
                        .iter()
                        .filter(|(k, _)| !crate::secrets::is_secret_env(svc, k))
                        .chain(
                            svc.security
                                .env()
                                .iter()
                                .filter(|(k, _)| !env.contains_key(*k)),
                        )
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                    label,
                    publish_port: match svc.port {
                        Some(port) if replica == 1 => vec![PublishPort {
                            host: port,
                            container: port,
                        }],
                        _ => Vec::new(),
                    },
                    health_cmd: health_cmd.clone(),
                    health_interval: health(timing.interval),
                    health_timeout: health(timing.timeout),
                    health_retries: health(timing.retries),
                    health_start_period: health(timing.start_period),
                    // probe every second while starting, so dependants start as soon as this
                    // answers; the startup check gives up (Podman restarts the container) after
                    // the start period
                    health_startup: health_cmd.as_ref().map(|cmd| unit::StartupHealth {
                        cmd: cmd.clone(),
                        interval: 1,
                        timeout: timing.timeout,
                        retries: timing.start_period.max(1),
                        success: 1,
                    }),
                    // a job is ready when it exited 0 (Type=oneshot), one without a probe
                    // when it runs
                    notify: if health_cmd.is_some() {
                        Notify::Healthy
                    } else {
                        Notify::Started
                    },
                    pids_limit: Some(svc.resources.pids.unwrap_or(opts.pids_limit)),
                    drop_capability: svc.security.cap_drop(),
                    no_new_privileges: svc.security.no_new_privileges,
                    run_init: true,
                    podman_args: {
                        let mut a = isolation_args(eco, svc, images.built_by_pactown(&svc.name));
                        if opts.rootless_cgroup_v1 {
                            // after Quadlet's own --cgroups=split, so this one wins
                            a.push("--cgroups=disabled".into());
                        }
                        a
                    },
                },
                service_section: ServiceSection {
                    oneshot: svc.is_job(),
                    restart: if svc.auto_restart && !svc.is_job() {
                        Restart::Always
                    } else {
                        Restart::No
                    },
                    restart_sec: (!svc.is_job()).then_some(2),
                    timeout_start_sec: Some(start_secs + pull_secs + 30),
                    memory_max: Some(
                        svc.resources
                            .memory_text()
                            .map_or_else(|| opts.memory_max.clone(), |m| m.to_uppercase()),
                    ),
                },
                install: InstallSection {
                    wanted_by: vec![opts.wanted_by.clone(), target.clone()],
                },
            };
            if opts.rootless_cgroup_v1 {
                unit.comments.push(
                    "cgroup v1 host: rootless Podman runs this container with --cgroups=disabled; memory, PID and CPU limits are not enforced"
                        .into(),
                );
            }
            unit.downgrade(opts.podman_version)?;
            all_services.push(format!("{base}.service"));
            files.push(UnitFile {
                kind: UnitKind::Container,
                name: format!("{base}.container"),
                contents: unit.render()?,
                pull_image: pull.then(|| image.clone()),
                start_secs,
            });
        }
    }
    files.extend(ingress_units(eco, opts, &target)?);
    if files.iter().any(|f| f.kind == UnitKind::Service) {
        all_services.push(ingress_unit_name(eco));
    }
    files.push(UnitFile {
        kind: UnitKind::Target,
        name: target,
        contents: TargetUnit {
            description: format!("pactown ecosystem {}", eco.name),
            wants: all_services.clone(),
            after: all_services,
            wanted_by: vec![opts.wanted_by.clone()],
        }
        .render()?,
        pull_image: None,
        start_secs: 0,
    });
    Ok(files)
}

/// Name of the ecosystem's ingress unit: `<ecosystem>-ingress.service`.
#[must_use]
pub fn ingress_unit_name(eco: &Ecosystem) -> String {
    format!(
        "{}-{}.service",
        eco.name,
        crate::config::ingress::INGRESS_SERVICE
    )
}

/// Caddy's `XDG_DATA_HOME` below systemd's state folder (`StateDirectory=`):
/// `pactown-<ecosystem>-ingress`.
#[must_use]
pub fn ingress_state_dir(eco: &Ecosystem) -> String {
    format!(
        "pactown-{}-{}",
        eco.name,
        crate::config::ingress::INGRESS_SERVICE
    )
}

/// The ingress of an ecosystem with `ingress:` and exposed services: its Caddyfile
/// (`pactown/<ecosystem>/Caddyfile` below the configuration root, routing each host to the
/// service's published `127.0.0.1:PORT`) and `<ecosystem>-ingress.service` running the host's
/// Caddy on it, wanted by the target and started after the exposed services. Nothing without.
fn ingress_units(
    eco: &Ecosystem,
    opts: &QuadletOptions,
    target: &str,
) -> Result<Vec<UnitFile>, ExportError> {
    let upstream = |svc: &ServiceSpec| svc.port.map(|p| format!("127.0.0.1:{p}"));
    let caddyfile = crate::ingress::caddyfile(eco, &upstream, None).map_err(|e| {
        ExportError::unsafe_value(
            crate::config::ingress::INGRESS_SERVICE,
            "ingress",
            e.to_string(),
        )
    })?;
    let Some(caddyfile) = caddyfile else {
        return Ok(Vec::new());
    };
    let mut after = Vec::new();
    for (svc, _) in crate::ingress::exposed(eco) {
        for r in 1..=svc.replicas {
            after.push(service_unit_name(eco, svc, r));
        }
    }
    let state = ingress_state_dir(eco);
    let config = format!("%E/pactown/{}/Caddyfile", eco.name);
    let unit = unit::IngressUnit {
        description: format!("pactown ecosystem {} ingress (Caddy)", eco.name),
        after,
        part_of: vec![target.to_string()],
        exec_start: format!("{} run --config {config} --adapter caddyfile", opts.caddy),
        environment: vec![
            // Caddy wants a home even when both XDG folders are set
            ("HOME".into(), format!("%S/{state}")),
            ("XDG_DATA_HOME".into(), format!("%S/{state}")),
            ("XDG_CONFIG_HOME".into(), format!("%S/{state}")),
        ],
        state_directory: state,
        system: opts.system,
        wanted_by: vec![opts.wanted_by.clone(), target.to_string()],
    };
    Ok(vec![
        UnitFile {
            kind: UnitKind::Config,
            name: format!("{}/Caddyfile", eco.name),
            contents: caddyfile,
            pull_image: None,
            start_secs: 0,
        },
        UnitFile {
            kind: UnitKind::Service,
            name: ingress_unit_name(eco),
            contents: unit.render()?,
            pull_image: None,
            start_secs: 15,
        },
    ])
}

/// The Podman secret a unit reads a secret-looking variable from: `<ecosystem>-<name>` in
/// lowercase with `_` as `-` (create it with `printf %s "$VALUE" | podman secret create NAME -`).
#[must_use]
pub fn secret_name(eco: &Ecosystem, key: &str) -> String {
    format!(
        "{}-{}",
        eco.name,
        key.to_ascii_lowercase().replace('_', "-")
    )
}

/// `PodmanArgs=` words for the isolation settings every supported Podman understands as flags:
/// read-only root with a tmpfs `/tmp`, capabilities added back, the root user opt-out, CPU
/// limit and named volumes (volume names as `pactown up` gives them).
fn isolation_args(eco: &Ecosystem, svc: &ServiceSpec, built_by_pactown: bool) -> Vec<String> {
    let sec = &svc.security;
    let mut args = Vec::new();
    if sec.read_only {
        args.push("--read-only".to_string());
        args.push("--tmpfs".to_string());
        args.push(format!("/tmp:{}", crate::config::TMP_OPTIONS));
        for p in crate::config::writable_image_paths(built_by_pactown) {
            args.push("--volume".to_string());
            args.push((*p).to_string());
        }
    }
    // secret-looking variables come from Podman secrets, never from the unit text
    for key in export::service_env(eco, svc)
        .unwrap_or_default()
        .keys()
        .filter(|k| crate::secrets::is_secret_env(svc, k))
    {
        args.push("--secret".to_string());
        args.push(format!("{},type=env,target={key}", secret_name(eco, key)));
    }
    for p in [eco.env_file.as_ref(), svc.env_file.as_ref()]
        .into_iter()
        .flatten()
    {
        args.push("--env-file".to_string());
        args.push(p.display().to_string());
    }
    for c in &sec.cap_add {
        args.push("--cap-add".to_string());
        args.push(c.clone());
    }
    if let Some(u) = sec.user() {
        args.push("--user".to_string());
        args.push(u);
    }
    if let Some(c) = svc.resources.cpus_text() {
        args.push("--cpus".to_string());
        args.push(c);
    }
    for (vol, target) in &svc.volumes {
        args.push("--volume".to_string());
        args.push(format!(
            "{}:{target}",
            crate::config::volume_name(&eco.name, vol)
        ));
    }
    args
}

#[cfg(test)]
mod tests {
    use super::{pulled, qualify};

    #[test]
    fn registry_images_are_pulled_local_ones_never() {
        assert!(pulled("127.0.0.1:5000/acme/api@sha256:ab"));
        assert!(pulled("ghcr.io/acme/api:1"));
        assert!(!pulled("localhost/acme/api:1"));
        assert!(!pulled("pactown/python-api:abc"));
    }

    #[test]
    fn qualifies_bare_references_only() {
        assert_eq!(
            qualify("pactown/python-a:1", "localhost"),
            "localhost/pactown/python-a:1"
        );
        assert_eq!(
            qualify("docker.io/pactown/a:1", "localhost"),
            "docker.io/pactown/a:1"
        );
        assert_eq!(qualify("localhost/a:1", "localhost"), "localhost/a:1");
        assert_eq!(qualify("reg:5000/a:1", "localhost"), "reg:5000/a:1");
        assert_eq!(qualify("a:1", ""), "a:1");
    }
}
