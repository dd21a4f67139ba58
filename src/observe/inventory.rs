//! Every ecosystem on an engine (`pactown ls`): the containers pactown manages, grouped by their
//! `io.pactown.ecosystem` label, with how many run.
use crate::config::labels;
use crate::engine::{Engine, EngineError};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// One ecosystem as the engine shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EcosystemSummary {
    /// The ecosystem's name (a tenant's copy has its own, see `tenant`).
    pub name: String,
    /// The tenant of a side-by-side copy (`up --tenant`).
    pub tenant: Option<String>,
    /// The ecosystem file it was brought up from, as recorded at `up`.
    pub file: Option<String>,
    /// Its services, sorted.
    pub services: Vec<String>,
    /// Containers in all.
    pub containers: usize,
    /// Containers running now.
    pub running: usize,
    /// `running` (all run), `partial`, `stopped` (none runs).
    pub state: &'static str,
}

/// The ecosystems of every container carrying `io.pactown.managed=true`, sorted by name.
///
/// # Errors
/// The engine cannot list containers.
pub async fn ecosystems(engine: &dyn Engine) -> Result<Vec<EcosystemSummary>, EngineError> {
    let filter = vec![format!("{}=true", labels::MANAGED)];
    let mut by_name: BTreeMap<String, (EcosystemSummary, BTreeSet<String>)> = BTreeMap::new();
    for c in engine.list_containers(&filter).await? {
        let Some(name) = c.labels.get(labels::ECOSYSTEM) else {
            continue;
        };
        let (summary, services) = by_name.entry(name.clone()).or_insert_with(|| {
            (
                EcosystemSummary {
                    name: name.clone(),
                    tenant: None,
                    file: None,
                    services: Vec::new(),
                    containers: 0,
                    running: 0,
                    state: "stopped",
                },
                BTreeSet::new(),
            )
        });
        summary.containers += 1;
        if c.state == "running" {
            summary.running += 1;
        }
        if summary.tenant.is_none() {
            summary.tenant = c.labels.get(labels::TENANT).cloned();
        }
        if summary.file.is_none() {
            summary.file = c.labels.get(labels::ECOSYSTEM_FILE).cloned();
        }
        if let Some(s) = c.labels.get(labels::SERVICE) {
            services.insert(s.clone());
        }
    }
    Ok(by_name
        .into_values()
        .map(|(mut s, services)| {
            s.services = services.into_iter().collect();
            s.state = match s.running {
                0 => "stopped",
                n if n == s.containers => "running",
                _ => "partial",
            };
            s
        })
        .collect())
}
