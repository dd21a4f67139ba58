//! `down`: reconciling to nothing. The deploy core ([`super::deploy`]) gets an empty desired
//! state, so every container carrying `io.pactown.ecosystem=<name>` is planned for removal and
//! retired by the one replica lifecycle (stopped gracefully in parallel, then removed, each
//! reported as [`super::event::DeployEvent::Removed`]); then the ecosystem's networks go, and
//! with `volumes` its named volumes (`volumes:` data, labelled with the ecosystem) too.
//! Needs only the ecosystem name, so it works on a project whose READMEs (or YAML) are broken.
use super::event::Sink;
use super::scheduler::{DeployOptions, Removal};
use crate::engine::{Engine, EngineError};
use std::sync::Arc;
use std::time::Duration;

/// What `down` removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DownReport {
    /// The removed containers.
    pub containers: Vec<Removal>,
    /// Names of removed networks.
    pub networks: Vec<String>,
    /// Names of removed volumes (only when asked for).
    pub volumes: Vec<String>,
}

/// Stops (waiting at most `stop_timeout` each, all in parallel) and removes every container of
/// the ecosystem, then its networks and, with `volumes`, its named volumes.
///
/// # Errors
/// The first engine error; every container is tried, networks and volumes only when all
/// containers went (a volume another container still uses is an error naming it).
pub async fn down(
    engine: &Arc<dyn Engine>,
    ecosystem: &str,
    stop_timeout: Duration,
    volumes: bool,
    sink: &Sink,
) -> Result<DownReport, EngineError> {
    let opts = DeployOptions {
        stop_timeout: Some(stop_timeout),
        check_ports: false,
        ..DeployOptions::default()
    };
    let report = super::deploy(
        Arc::clone(engine),
        Arc::new(super::HttpProbe),
        ecosystem,
        "",
        Vec::new(),
        opts,
        sink,
    )
    .await?;
    // one-off containers (`run SERVICE -- CMD`) left behind would hold the network
    super::oneoff::remove_leftovers(engine.as_ref(), ecosystem).await?;
    let filter = super::ecosystem_filter(ecosystem);
    let mut networks = Vec::new();
    let mut first_err = None;
    for net in engine.list_networks(&filter).await? {
        match engine.remove_network(&net).await {
            Ok(()) => networks.push(net),
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    let mut removed_volumes = Vec::new();
    if volumes {
        for vol in engine.list_volumes(&filter).await? {
            match engine.remove_volume(&vol).await {
                Ok(()) => removed_volumes.push(vol),
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(DownReport {
            containers: report.removed,
            networks,
            volumes: removed_volumes,
        }),
    }
}
