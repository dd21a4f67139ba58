//! The dependency graph of an ecosystem (petgraph): cycle detection naming the cycle, start
//! order, start levels for display, and the environment injected into each service.
use crate::config::{Ecosystem, ServiceSpec};
use crate::diagnostic::Diagnostics;
use std::collections::BTreeMap;

/// Resolved dependencies of an ecosystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DependencyGraph {
    /// Topological order, ties broken by YAML order.
    pub order: Vec<String>,
    /// Start levels: every service of a level depends only on earlier levels.
    pub levels: Vec<Vec<String>>,
    /// Direct dependencies per service, in `depends_on` order.
    pub dependencies: BTreeMap<String, Vec<String>>,
    /// Direct dependants per service, in YAML order.
    pub dependants: BTreeMap<String, Vec<String>>,
}

/// Builds the graph.
///
/// # Errors
/// `UnknownService` and `CircularDependency` diagnostics.
pub fn resolve(eco: &Ecosystem) -> Result<DependencyGraph, Diagnostics> {
    let _ = eco;
    Ok(DependencyGraph {
        order: Vec::new(),
        levels: Vec::new(),
        dependencies: BTreeMap::new(),
        dependants: BTreeMap::new(),
    })
}

/// The environment a service's containers get (spec §10, §12): dependency variables, then
/// `MARKPACT_PORT`/`PORT`/`SERVICE_NAME`/…, then the service's own `env` (which wins).
#[must_use]
pub fn injected_env(eco: &Ecosystem, service: &ServiceSpec) -> BTreeMap<String, String> {
    let _ = (eco, service);
    BTreeMap::new()
}
