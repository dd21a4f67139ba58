//! Fixtures shared by the export tests (`tests/export_hostile.rs`, `tests/export_snapshots.rs`)
//! and the real-tool export tests (`integration/export.rs`), included with `#[path]`.
use pactown::config::{DependsOn, Ecosystem, ServiceSpec};
use pactown::export::ImageMap;
use std::collections::BTreeMap;
use std::path::Path;

/// One entry of `tests/fixtures/export/hostile.json`.
#[derive(serde::Deserialize)]
pub struct Hostile {
    /// What the value exercises.
    pub name: String,
    /// The value.
    pub value: String,
    /// Exporters must refuse it (rather than carry it exactly).
    pub refused: bool,
}

/// The hostile values.
pub fn hostile() -> Vec<Hostile> {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/export/hostile.json"),
    )
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// A service on `port` probed at `health`, 30 s time-out, with `env` and dependencies `deps`.
pub fn service(
    name: &str,
    port: u16,
    health: &str,
    env: BTreeMap<String, String>,
    deps: &[&str],
) -> ServiceSpec {
    ServiceSpec {
        line: 1,
        health_check: Some(health.into()),
        timeout: 30,
        env,
        depends_on: deps
            .iter()
            .map(|d| DependsOn {
                name: (*d).into(),
                version: None,
                env_var: None,
                endpoint: None,
                line: 1,
            })
            .collect(),
        ..ServiceSpec::with_defaults(name, port, format!("{name}/README.md").into())
    }
}

/// An ecosystem `name` of `services` (base port 8000, in the current folder).
pub fn ecosystem(name: &str, services: Vec<ServiceSpec>) -> Ecosystem {
    Ecosystem {
        file: format!("{name}.pactown.yaml").into(),
        dir: ".".into(),
        name: name.into(),
        version: "0.1.0".into(),
        description: None,
        base_port: 8000,
        sandbox_root: ".".into(),
        network: None,
        registry: None,
        build: Default::default(),
        engine: None,
        profiles: BTreeMap::new(),
        env_file: None,
        tenant: None,
        ingress: None,
        services,
    }
}

/// The `shop` fixture (tests/fixtures/eco/shop) with fixed image tags, so snapshots and
/// expectations do not move when the build renderer changes.
pub fn shop() -> (Ecosystem, ImageMap) {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/eco/shop/shop.pactown.yaml");
    let project = pactown::project::load(&path).unwrap();
    let images = project
        .ecosystem
        .services
        .iter()
        .map(|s| {
            (
                s.name.clone(),
                format!("pactown/python-{}:0123456789ab", s.name),
            )
        })
        .collect();
    (project.ecosystem, images)
}

/// The `jobs` fixture (tests/fixtures/eco/jobs): a migration job, services without a port (one
/// with a `health_cmd`) and a job nothing depends on, with fixed image tags.
pub fn jobs() -> (Ecosystem, ImageMap) {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/eco/jobs/jobs.pactown.yaml");
    let project = pactown::project::load(&path).unwrap();
    let images = project
        .ecosystem
        .services
        .iter()
        .map(|s| {
            (
                s.name.clone(),
                format!("pactown/python-{}:0123456789ab", s.name),
            )
        })
        .collect();
    (project.ecosystem, images)
}
