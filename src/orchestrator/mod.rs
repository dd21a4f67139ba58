//! Bringing an ecosystem up and down on an [`crate::engine::Engine`]: per-service scheduling,
//! health probes, env injection and recreate-on-change.
//!
//! The engine is the only state: every container carries the labels of
//! [`crate::engine::labels`], so [`plan`] compares what runs with what the ecosystem file asks
//! for, [`scheduler`] starts each service as soon as its own dependencies are healthy,
//! [`health`] probes the published ports, and [`down`], [`status`], [`logs`] and [`restart`] find
//! the containers by label from any shell.
pub mod config_hash;
pub mod down;
pub mod health;
pub mod logs;
pub mod plan;
pub mod restart;
pub mod scheduler;
pub mod status;
pub mod up;

pub use down::{down, DownReport};
pub use health::{HealthProbe, HttpProbe, ProbeOutcome, ProbeTarget};
pub use plan::{plan, DesiredService, Plan, ReplicaAction, ServicePlan};
pub use scheduler::{deploy, DeployOptions, DeployReport, ServiceOutcome, ServiceStatus};
pub use status::{status, StatusReport};
pub use up::{up, UpOptions};

use crate::engine::labels;

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
