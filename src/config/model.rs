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
    /// Port the service listens on inside its container and is published on (host side may move
    /// to the next free port at `up`).
    pub port: u16,
    /// HTTP path probed for health, if any.
    pub health_check: Option<String>,
    /// Seconds to become healthy.
    pub timeout: u64,
    /// Number of containers behind the service's DNS alias.
    pub replicas: u32,
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
