//! Typed Quadlet units and their deterministic serializer.
//!
//! Each unit is a struct of sections; each section renders its keys in a fixed order. Every
//! value goes through [`super::escape`] on the way out (word-list keys quoted, raw keys checked
//! and `%`/`$` doubled), so no user text is ever spliced into the file unescaped. Repeated keys
//! are written one per line (`Environment=`, `Label=`, `Requires=`…), which Quadlet and systemd
//! both accumulate.
use super::escape;
use super::version::PodmanVersion;
use crate::export::ExportError;
use std::fmt::Write as _;

/// How the unit tells systemd it is ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Notify {
    /// When the container has started (Quadlet's default).
    #[default]
    Started,
    /// When the container's health check first passes (`Notify=healthy`).
    Healthy,
}

/// systemd's `Restart=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Restart {
    /// `Restart=always`.
    #[default]
    Always,
    /// `Restart=no`.
    No,
}

/// `PublishPort=127.0.0.1:HOST:CONTAINER`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishPort {
    /// Host port (bound on 127.0.0.1 only).
    pub host: u16,
    /// Container port.
    pub container: u16,
}

/// `HealthStartupCmd=`, `HealthStartupInterval=`, `HealthStartupTimeout=`,
/// `HealthStartupRetries=` and `HealthStartupSuccess=`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StartupHealth {
    /// The probe as an exec-form argv (written as JSON).
    pub cmd: Vec<String>,
    /// Seconds between probes.
    pub interval: u64,
    /// Seconds a probe may take.
    pub timeout: u64,
    /// Failed probes before Podman restarts the container.
    pub retries: u64,
    /// Passed probes before the regular check takes over.
    pub success: u64,
}

/// The `[Unit]` section.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UnitSection {
    /// `Description=`.
    pub description: String,
    /// `Requires=` (systemd unit names).
    pub requires: Vec<String>,
    /// `After=`.
    pub after: Vec<String>,
    /// `PartOf=`.
    pub part_of: Vec<String>,
}

/// The `[Container]` section.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContainerSection {
    /// `Image=`.
    pub image: String,
    /// `ContainerName=`.
    pub container_name: String,
    /// `Pull=` (`never` for locally built images).
    pub pull: Option<String>,
    /// `AutoUpdate=` (`registry`: `podman auto-update` pulls a newer image of the tag).
    pub auto_update: Option<String>,
    /// `Network=` (`NAME.network` references a network unit).
    pub network: Vec<String>,
    /// `NetworkAlias=`.
    pub network_alias: Vec<String>,
    /// `Environment=` pairs in order.
    pub environment: Vec<(String, String)>,
    /// `Label=` pairs in order.
    pub label: Vec<(String, String)>,
    /// `PublishPort=`.
    pub publish_port: Vec<PublishPort>,
    /// `HealthCmd=` as an exec-form argv (written as JSON).
    pub health_cmd: Option<Vec<String>>,
    /// `HealthInterval=` seconds.
    pub health_interval: Option<u64>,
    /// `HealthTimeout=` seconds.
    pub health_timeout: Option<u64>,
    /// `HealthRetries=`.
    pub health_retries: Option<u64>,
    /// `HealthStartPeriod=` seconds.
    pub health_start_period: Option<u64>,
    /// The startup health check (`HealthStartup*=`): probed often until it first passes, then
    /// the regular check takes over.
    pub health_startup: Option<StartupHealth>,
    /// `Notify=`.
    pub notify: Notify,
    /// `PidsLimit=`.
    pub pids_limit: Option<u32>,
    /// `DropCapability=`.
    pub drop_capability: Vec<String>,
    /// `NoNewPrivileges=true`.
    pub no_new_privileges: bool,
    /// `RunInit=true`: an init process as PID 1 forwards signals, so stops are quick and clean.
    pub run_init: bool,
    /// `PodmanArgs=` words (options an older Quadlet has no key for).
    pub podman_args: Vec<String>,
}

/// The `[Service]` section.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceSection {
    /// `Type=oneshot` with `RemainAfterExit=yes`: a job (`kind: job`); the unit is active once
    /// the container exited 0, so units with `Requires=`/`After=` on it start only then.
    pub oneshot: bool,
    /// `Restart=`.
    pub restart: Restart,
    /// `RestartSec=` seconds.
    pub restart_sec: Option<u64>,
    /// `TimeoutStartSec=` seconds.
    pub timeout_start_sec: Option<u64>,
    /// `MemoryMax=` (e.g. `1G`).
    pub memory_max: Option<String>,
}

/// The `[Install]` section.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InstallSection {
    /// `WantedBy=`.
    pub wanted_by: Vec<String>,
}

/// A `.container` unit.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContainerUnit {
    /// Service the unit belongs to (for error messages).
    pub service: String,
    /// `# …` lines at the top (pactown's own text, e.g. downgrade notes).
    pub comments: Vec<String>,
    /// `[Unit]`.
    pub unit: UnitSection,
    /// `[Container]`.
    pub container: ContainerSection,
    /// `[Service]`.
    pub service_section: ServiceSection,
    /// `[Install]`.
    pub install: InstallSection,
}

/// A `.network` unit.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetworkUnit {
    /// `[Unit] Description=`.
    pub description: String,
    /// `[Network] NetworkName=`.
    pub network_name: String,
    /// `[Network] Label=` pairs.
    pub label: Vec<(String, String)>,
}

/// A plain systemd `.target` grouping the ecosystem (not a Quadlet file; installed next to the
/// user's systemd units).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TargetUnit {
    /// `Description=`.
    pub description: String,
    /// `Wants=` (the container services).
    pub wants: Vec<String>,
    /// `After=`.
    pub after: Vec<String>,
    /// `[Install] WantedBy=`.
    pub wanted_by: Vec<String>,
}

/// Writes `key=value` lines for one section; values are escaped by the typed helpers only.
struct SectionWriter<'a> {
    out: String,
    service: &'a str,
}

impl<'a> SectionWriter<'a> {
    fn new(service: &'a str) -> Self {
        Self {
            out: String::new(),
            service,
        }
    }

    fn section(&mut self, name: &str) {
        if !self.out.is_empty() {
            self.out.push('\n');
        }
        let _ = writeln!(self.out, "[{name}]");
    }

    /// A raw key: one line, `%`/`$` doubled.
    fn raw(&mut self, key: &'static str, value: &str) -> Result<(), ExportError> {
        let escaped = escape::raw(value).map_err(|problem| {
            ExportError::unsafe_value(self.service, key, format!("value {problem}"))
        })?;
        let _ = writeln!(self.out, "{key}={escaped}");
        Ok(())
    }

    /// A word-list key with one word.
    fn word(&mut self, key: &'static str, word: &str) -> Result<(), ExportError> {
        self.words(key, &[word])
    }

    /// A word-list key.
    fn words<S: AsRef<str>>(&mut self, key: &'static str, words: &[S]) -> Result<(), ExportError> {
        if let Some(bad) = words.iter().find(|w| !escape::quotable(w.as_ref())) {
            return Err(ExportError::unsafe_value(
                self.service,
                key,
                format!(
                    "`{}` contains NUL or a C1 control character",
                    bad.as_ref().escape_debug()
                ),
            ));
        }
        let _ = writeln!(self.out, "{key}={}", escape::quoted_words(words));
        Ok(())
    }

    /// pactown's own text holding systemd specifiers (`%E`, `%S`), written as is: only letters,
    /// digits, `%`, `/`, `.`, `_`, `-`, `=` and single spaces (names were checked before).
    fn specifier(&mut self, key: &'static str, value: &str) -> Result<(), ExportError> {
        let ok = !value.is_empty()
            && !value.contains("  ")
            && value.bytes().all(|b| {
                b.is_ascii_alphanumeric()
                    || matches!(b, b'%' | b'/' | b'.' | b'_' | b'-' | b'=' | b' ')
            });
        if !ok {
            return Err(ExportError::unsafe_value(
                self.service,
                key,
                format!("`{}` holds more than names and paths", value.escape_debug()),
            ));
        }
        let _ = writeln!(self.out, "{key}={value}");
        Ok(())
    }

    fn number(&mut self, key: &'static str, value: u64) {
        let _ = writeln!(self.out, "{key}={value}");
    }

    fn seconds(&mut self, key: &'static str, value: u64) {
        let _ = writeln!(self.out, "{key}={value}s");
    }

    fn comment(&mut self, text: &str) -> Result<(), ExportError> {
        if text.chars().any(char::is_control) {
            return Err(ExportError::unsafe_value(
                self.service,
                "comment",
                "comment text must be one line",
            ));
        }
        let _ = writeln!(self.out, "# {text}");
        Ok(())
    }
}

fn pair(k: &str, v: &str) -> String {
    format!("{k}={v}")
}

impl UnitSection {
    fn write(&self, w: &mut SectionWriter<'_>) -> Result<(), ExportError> {
        w.section("Unit");
        w.raw("Description", &self.description)?;
        for r in &self.requires {
            w.raw("Requires", r)?;
        }
        for a in &self.after {
            w.raw("After", a)?;
        }
        for p in &self.part_of {
            w.raw("PartOf", p)?;
        }
        Ok(())
    }
}

impl ContainerUnit {
    /// Rewrites keys the target Podman's Quadlet does not know into `PodmanArgs=` equivalents,
    /// drops what it cannot express at all (leaving a comment), and refuses versions without
    /// Quadlet. Idempotent.
    ///
    /// # Errors
    /// [`ExportError::Unsupported`] below Podman 4.4.
    pub fn downgrade(&mut self, version: PodmanVersion) -> Result<(), ExportError> {
        if version < PodmanVersion::V4_4 {
            return Err(ExportError::Unsupported {
                version: version.to_string(),
                reason: "Quadlet first shipped in Podman 4.4; use `pactown export compose` or `kube` instead".into(),
            });
        }
        let c = &mut self.container;
        if version < PodmanVersion::V5_2 {
            for alias in std::mem::take(&mut c.network_alias) {
                c.podman_args.push("--network-alias".into());
                c.podman_args.push(alias);
            }
        }
        if version < PodmanVersion::V5_0 && c.notify == Notify::Healthy {
            c.notify = Notify::Started;
            if version >= PodmanVersion::V4_7 {
                c.podman_args.push("--sdnotify=healthy".into());
            } else {
                self.comments.push(format!(
                    "Podman {version} cannot wait for health (--sdnotify=healthy needs 4.7): dependants start when this container has started"
                ));
            }
        }
        if version < PodmanVersion::V4_7 {
            if let Some(limit) = c.pids_limit.take() {
                c.podman_args.push("--pids-limit".into());
                c.podman_args.push(limit.to_string());
            }
        }
        if version < PodmanVersion::V4_6 {
            if let Some(pull) = c.pull.take() {
                c.podman_args.push("--pull".into());
                c.podman_args.push(pull);
            }
        }
        if version < PodmanVersion::V4_5 {
            let moved = [
                ("--health-interval", c.health_interval.take(), "s"),
                ("--health-timeout", c.health_timeout.take(), "s"),
                ("--health-retries", c.health_retries.take(), ""),
                ("--health-start-period", c.health_start_period.take(), "s"),
            ];
            for (flag, value, unit) in moved {
                if let Some(v) = value {
                    c.podman_args.push(flag.into());
                    c.podman_args.push(format!("{v}{unit}"));
                }
            }
            if let Some(s) = c.health_startup.take() {
                let cmd = argv_json(&s.cmd)?;
                c.podman_args.extend([
                    "--health-startup-cmd".into(),
                    cmd,
                    "--health-startup-interval".into(),
                    format!("{}s", s.interval),
                    "--health-startup-timeout".into(),
                    format!("{}s", s.timeout),
                    "--health-startup-retries".into(),
                    s.retries.to_string(),
                    "--health-startup-success".into(),
                    s.success.to_string(),
                ]);
            }
        }
        Ok(())
    }

    /// Renders the unit file text.
    ///
    /// # Errors
    /// [`ExportError::Unsafe`] when a value cannot be expressed (naming the service and key).
    pub fn render(&self) -> Result<String, ExportError> {
        let mut w = SectionWriter::new(&self.service);
        for c in &self.comments {
            w.comment(c)?;
        }
        self.unit.write(&mut w)?;
        let c = &self.container;
        w.section("Container");
        w.raw("Image", &c.image)?;
        w.raw("ContainerName", &c.container_name)?;
        if let Some(pull) = &c.pull {
            w.raw("Pull", pull)?;
        }
        if let Some(policy) = &c.auto_update {
            w.raw("AutoUpdate", policy)?;
        }
        for n in &c.network {
            w.raw("Network", n)?;
        }
        for a in &c.network_alias {
            w.raw("NetworkAlias", a)?;
        }
        for (k, v) in &c.environment {
            w.word("Environment", &pair(k, v))
                .map_err(|e| rekey(e, &format!("env.{k}")))?;
        }
        for (k, v) in &c.label {
            w.word("Label", &pair(k, v))?;
        }
        for p in &c.publish_port {
            w.raw(
                "PublishPort",
                &format!("127.0.0.1:{}:{}", p.host, p.container),
            )?;
        }
        if let Some(argv) = &c.health_cmd {
            w.raw("HealthCmd", &argv_json(argv)?)?;
        }
        if let Some(v) = c.health_interval {
            w.seconds("HealthInterval", v);
        }
        if let Some(v) = c.health_timeout {
            w.seconds("HealthTimeout", v);
        }
        if let Some(v) = c.health_retries {
            w.number("HealthRetries", v);
        }
        if let Some(v) = c.health_start_period {
            w.seconds("HealthStartPeriod", v);
        }
        if let Some(s) = &c.health_startup {
            w.raw("HealthStartupCmd", &argv_json(&s.cmd)?)?;
            w.seconds("HealthStartupInterval", s.interval);
            w.seconds("HealthStartupTimeout", s.timeout);
            w.number("HealthStartupRetries", s.retries);
            w.number("HealthStartupSuccess", s.success);
        }
        if c.notify == Notify::Healthy {
            w.raw("Notify", "healthy")?;
        }
        if let Some(v) = c.pids_limit {
            w.number("PidsLimit", u64::from(v));
        }
        for cap in &c.drop_capability {
            w.raw("DropCapability", cap)?;
        }
        if c.no_new_privileges {
            w.raw("NoNewPrivileges", "true")?;
        }
        if c.run_init {
            w.raw("RunInit", "true")?;
        }
        if !c.podman_args.is_empty() {
            w.words("PodmanArgs", &c.podman_args)?;
        }
        let s = &self.service_section;
        w.section("Service");
        if s.oneshot {
            w.raw("Type", "oneshot")?;
            w.raw("RemainAfterExit", "yes")?;
        }
        w.raw(
            "Restart",
            match s.restart {
                Restart::Always => "always",
                Restart::No => "no",
            },
        )?;
        if let Some(v) = s.restart_sec {
            w.number("RestartSec", v);
        }
        if let Some(v) = s.timeout_start_sec {
            w.number("TimeoutStartSec", v);
        }
        if let Some(m) = &s.memory_max {
            w.raw("MemoryMax", m)?;
        }
        write_install(&mut w, &self.install.wanted_by)?;
        Ok(w.out)
    }
}

/// An exec-form argv as the JSON array Quadlet's `Health*Cmd=` keys take.
fn argv_json(argv: &[String]) -> Result<String, ExportError> {
    serde_json::to_string(argv).map_err(|e| ExportError::Serialize {
        what: "HealthCmd".into(),
        message: e.to_string(),
    })
}

fn write_install(w: &mut SectionWriter<'_>, wanted_by: &[String]) -> Result<(), ExportError> {
    if !wanted_by.is_empty() {
        w.section("Install");
        for t in wanted_by {
            w.raw("WantedBy", t)?;
        }
    }
    Ok(())
}

fn rekey(err: ExportError, key: &str) -> ExportError {
    match err {
        ExportError::Unsafe {
            service, reason, ..
        } => ExportError::Unsafe {
            service,
            key: key.to_string(),
            reason,
        },
        other => other,
    }
}

impl NetworkUnit {
    /// Renders the unit file text.
    ///
    /// # Errors
    /// [`ExportError::Unsafe`] for a value that cannot be expressed.
    pub fn render(&self) -> Result<String, ExportError> {
        let mut w = SectionWriter::new(crate::export::ECOSYSTEM_KEY_OWNER);
        w.section("Unit");
        w.raw("Description", &self.description)?;
        w.section("Network");
        w.raw("NetworkName", &self.network_name)?;
        for (k, v) in &self.label {
            w.word("Label", &pair(k, v))?;
        }
        Ok(w.out)
    }
}

impl TargetUnit {
    /// Renders the unit file text.
    ///
    /// # Errors
    /// [`ExportError::Unsafe`] for a value that cannot be expressed.
    pub fn render(&self) -> Result<String, ExportError> {
        let mut w = SectionWriter::new(crate::export::ECOSYSTEM_KEY_OWNER);
        w.section("Unit");
        w.raw("Description", &self.description)?;
        for x in &self.wants {
            w.raw("Wants", x)?;
        }
        for x in &self.after {
            w.raw("After", x)?;
        }
        write_install(&mut w, &self.wanted_by)?;
        Ok(w.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ContainerUnit {
        ContainerUnit {
            service: "api".into(),
            unit: UnitSection {
                description: "x".into(),
                ..UnitSection::default()
            },
            container: ContainerSection {
                image: "localhost/a:1".into(),
                container_name: "e-api".into(),
                network_alias: vec!["api".into()],
                notify: Notify::Healthy,
                health_interval: Some(2),
                pids_limit: Some(64),
                pull: Some("never".into()),
                ..ContainerSection::default()
            },
            ..ContainerUnit::default()
        }
    }

    #[test]
    fn downgrade_moves_keys_to_podman_args() {
        let mut u = sample();
        u.downgrade(PodmanVersion::new(4, 4)).unwrap();
        assert!(u.container.network_alias.is_empty());
        assert_eq!(u.container.notify, Notify::Started);
        assert_eq!(
            u.container.podman_args,
            [
                "--network-alias",
                "api",
                "--pids-limit",
                "64",
                "--pull",
                "never",
                "--health-interval",
                "2s"
            ]
        );
        assert_eq!(u.comments.len(), 1);
        let text = u.render().unwrap();
        assert!(!text.contains("Notify="), "{text}");
        assert!(
            text.contains("PodmanArgs=\"--network-alias\" \"api\""),
            "{text}"
        );
    }

    #[test]
    fn downgrade_keeps_health_wait_from_4_7() {
        let mut u = sample();
        u.downgrade(PodmanVersion::new(4, 9)).unwrap();
        assert!(u
            .container
            .podman_args
            .contains(&"--sdnotify=healthy".to_string()));
        assert!(u.comments.is_empty());
        let mut new = sample();
        new.downgrade(PodmanVersion::new(5, 2)).unwrap();
        assert!(new.container.podman_args.is_empty());
        assert!(new.render().unwrap().contains("Notify=healthy\n"));
    }

    #[test]
    fn refuses_versions_without_quadlet() {
        let mut u = sample();
        assert!(matches!(
            u.downgrade(PodmanVersion::new(4, 3)),
            Err(ExportError::Unsupported { .. })
        ));
    }

    #[test]
    fn environment_error_names_the_key() {
        let mut u = sample();
        u.container.environment = vec![("BAD".into(), "a\0b".into())];
        let err = u.render().unwrap_err().to_string();
        assert!(
            err.contains("service `api`") && err.contains("env.BAD"),
            "{err}"
        );
    }
}

/// A plain systemd `.service` running Caddy from the host's package as the ecosystem's ingress
/// (not a Quadlet file; installed next to the target).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IngressUnit {
    /// `Description=`.
    pub description: String,
    /// `Wants=` and `After=` (the exposed services: started before, but the proxy stays up when
    /// one fails).
    pub after: Vec<String>,
    /// `PartOf=` (the target).
    pub part_of: Vec<String>,
    /// `ExecStart=` (pactown's own text with `%E`: names and paths only).
    pub exec_start: String,
    /// `Environment=` pairs (pactown's own text with `%S`: names and paths only).
    pub environment: Vec<(String, String)>,
    /// `StateDirectory=` (Caddy's data: certificates, the local CA).
    pub state_directory: String,
    /// System scope: `DynamicUser=yes` with only `CAP_NET_BIND_SERVICE` (ports below 1024) and a
    /// read-only view of the system; a user unit runs as its user.
    pub system: bool,
    /// `[Install] WantedBy=`.
    pub wanted_by: Vec<String>,
}

impl IngressUnit {
    /// Renders the unit file text.
    ///
    /// # Errors
    /// [`ExportError::Unsafe`] for a value that cannot be expressed.
    pub fn render(&self) -> Result<String, ExportError> {
        let mut w = SectionWriter::new(crate::config::ingress::INGRESS_SERVICE);
        w.section("Unit");
        w.raw("Description", &self.description)?;
        w.raw("Wants", "network-online.target")?;
        w.raw("After", "network-online.target")?;
        for x in &self.after {
            w.raw("Wants", x)?;
            w.raw("After", x)?;
        }
        for p in &self.part_of {
            w.raw("PartOf", p)?;
        }
        w.section("Service");
        w.raw("Type", "notify")?;
        w.specifier("ExecStart", &self.exec_start)?;
        for (k, v) in &self.environment {
            w.specifier("Environment", &pair(k, v))?;
        }
        w.raw("StateDirectory", &self.state_directory)?;
        if self.system {
            w.raw("DynamicUser", "yes")?;
            w.raw("AmbientCapabilities", "CAP_NET_BIND_SERVICE")?;
            w.raw("CapabilityBoundingSet", "CAP_NET_BIND_SERVICE")?;
            w.raw("ProtectSystem", "strict")?;
            w.raw("ProtectHome", "yes")?;
            w.raw("PrivateTmp", "yes")?;
        }
        w.raw("NoNewPrivileges", "yes")?;
        w.raw("Restart", "always")?;
        w.number("RestartSec", 2);
        w.number("TimeoutStartSec", 60);
        w.number("TimeoutStopSec", 10);
        w.number("LimitNOFILE", 65_536);
        write_install(&mut w, &self.wanted_by)?;
        Ok(w.out)
    }
}
