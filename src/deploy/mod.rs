//! Bringing an ecosystem up and down on an [`crate::engine::Engine`]: desired state, plan,
//! per-service scheduling with health gates, recreate-on-change, watch mode.
//!
//! The engine is the only state: every container carries the labels of
//! [`crate::config::labels`], so [`plan`] compares what runs with what the ecosystem file asks
//! for, [`scheduler`] starts each service as soon as its own dependencies are healthy,
//! [`health`] probes the published ports, and [`down`] and [`restart`] find the containers by
//! label from any shell. Reading what runs is [`crate::observe`]'s job.
pub mod down;
pub mod error;
pub mod event;
pub mod gate;
pub mod health;
pub mod ingress;
pub mod isolation;
pub mod oneoff;
pub mod plan;
pub mod ports;
pub mod replica;
pub mod restart;
pub mod run;
pub mod scheduler;
pub mod session;
pub mod spec;
pub mod stop;
pub mod surge;
pub mod swarm;
pub mod up;
pub mod watch;

pub use down::{down, DownReport};
pub use health::{HealthProbe, HttpProbe, ProbeOutcome, ProbeTarget};
pub use plan::{plan, DesiredService, Plan, ReplicaAction, ServicePlan};
pub use scheduler::{deploy, DeployOptions, DeployReport, ServiceOutcome, ServiceStatus};
pub use up::{up, UpOptions};

use crate::config::labels;

/// Default cap on concurrent container creates/starts.
pub const DEFAULT_CONCURRENCY: usize = 16;

/// The container name of a replica: `<eco>-<service>-<n>`.
#[must_use]
pub fn container_name(ecosystem: &str, service: &str, replica: u32) -> String {
    format!("{ecosystem}-{service}-{replica}")
}

/// The label filter selecting everything of one ecosystem.
#[must_use]
pub fn ecosystem_filter(ecosystem: &str) -> Vec<String> {
    vec![format!("{}={ecosystem}", labels::ECOSYSTEM)]
}

/// Which ecosystem a lifecycle command addresses.
#[derive(Debug, Clone)]
pub struct Target {
    /// Ecosystem name (the value of `io.pactown.ecosystem`).
    pub name: String,
    /// The ecosystem file when it could be read without errors.
    pub ecosystem: Option<crate::config::Ecosystem>,
}

impl Target {
    /// The target of a tenant's copy (`--tenant`): the tenant's ecosystem name, and the file's
    /// ecosystem moved to the tenant's ports.
    ///
    /// # Errors
    /// [`crate::Error::Tenant`] for a bad tenant name or a port past 65535.
    pub fn with_tenant(
        self,
        tenant: Option<&str>,
        port_offset: Option<u16>,
    ) -> Result<Target, crate::error::Error> {
        let Some(t) = tenant else { return Ok(self) };
        crate::config::tenant::check_name(t)?;
        let ecosystem = match self.ecosystem {
            Some(e) => Some(crate::config::tenant::apply(e, t, port_offset)?),
            None => None,
        };
        Ok(Target {
            name: crate::config::tenant::tenant_name(&self.name, t),
            ecosystem,
        })
    }
}

/// Resolves the ecosystem a command addresses from `--name` and/or the ecosystem file. Only the
/// name is required: when the file (or a README) has errors, the name is still read from it so
/// `down`/`status`/`logs` work on a broken project.
///
/// # Errors
/// [`crate::Error::Invalid`] when neither a name nor a readable file is given.
pub fn target(
    file: Option<&std::path::Path>,
    name: Option<&str>,
) -> Result<Target, crate::error::Error> {
    let path = match (file, name) {
        (None, Some(n)) => {
            return Ok(Target {
                name: n.to_string(),
                ecosystem: None,
            })
        }
        (f, _) => crate::config::resolve_file(f)?,
    };
    let text = crate::config::read_text(&path);
    let partial = match &text {
        Ok(t) => Some(crate::config::parse_partial(&path, t)),
        Err(_) => None,
    };
    let ecosystem = partial
        .as_ref()
        .filter(|p| !p.diagnostics.has_errors())
        .and_then(|p| p.ecosystem.clone());
    if let Some(n) = name {
        return Ok(Target {
            name: n.to_string(),
            ecosystem,
        });
    }
    if let Some(eco) = partial.and_then(|p| p.ecosystem) {
        return Ok(Target {
            name: eco.name,
            ecosystem,
        });
    }
    match text {
        Err(d) => Err(d.into()),
        Ok(t) => raw_name(&t).map_or_else(
            || Err(crate::error::RequestError::NoEcosystemName(path.clone()).into()),
            |n| {
                Ok(Target {
                    name: n,
                    ecosystem: None,
                })
            },
        ),
    }
}

/// The top-level `name:` of a YAML text that may be otherwise broken.
fn raw_name(text: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let v = l.strip_prefix("name:")?.trim();
        let v = v.split(" #").next().unwrap_or(v).trim();
        let v = v.trim_matches(|c| c == '"' || c == '\'');
        (!v.is_empty()).then(|| v.to_string())
    })
}

/// Connects to the engine chosen on the command line, else in the ecosystem file, else the
/// first that answers.
///
/// # Errors
/// The engine is unreachable.
pub async fn connect(
    flag: Option<crate::config::EngineChoice>,
    eco: Option<&crate::config::Ecosystem>,
) -> Result<std::sync::Arc<dyn crate::engine::Engine>, crate::engine::EngineError> {
    let choice = flag
        .or_else(|| eco.and_then(|e| e.engine))
        .unwrap_or_default();
    connect_engine(choice).await
}

async fn connect_engine(
    choice: crate::config::EngineChoice,
) -> Result<std::sync::Arc<dyn crate::engine::Engine>, crate::engine::EngineError> {
    crate::engine::connect(choice).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn raw_name_reads_broken_yaml() {
        assert_eq!(
            super::raw_name("services: [\nname: shop # x\n"),
            Some("shop".into())
        );
        assert_eq!(super::raw_name("  name: nested\n"), None);
    }
}
