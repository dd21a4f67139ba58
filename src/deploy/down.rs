//! `down`: everything carrying `io.pactown.ecosystem=<name>` goes — containers (stopped
//! gracefully in parallel, then removed) and networks. Needs only the ecosystem name.
use crate::engine::{Engine, EngineError};
use crate::ui::Printer;
use std::time::Duration;

/// What `down` removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DownReport {
    /// Names of removed containers.
    pub containers: Vec<String>,
    /// Names of removed networks.
    pub networks: Vec<String>,
}

/// Stops (waiting at most `stop_timeout` each, all in parallel) and removes every container of
/// the ecosystem, then its networks.
///
/// # Errors
/// The first engine error; what could be removed is removed.
pub async fn down(
    engine: &dyn Engine,
    ecosystem: &str,
    stop_timeout: Duration,
    printer: &Printer,
) -> Result<DownReport, EngineError> {
    let filter = super::ecosystem_filter(ecosystem);
    let containers = engine.list_containers(&filter).await?;
    let results = futures_util::future::join_all(containers.iter().map(|c| async move {
        if c.state == "running" || c.state == "restarting" {
            // a container that is gone or already stopping is fine; the removal decides
            let _ = engine.stop_container(&c.id, stop_timeout).await;
        }
        let r = engine.remove_container(&c.id).await;
        if r.is_ok() {
            printer.info(&format!("  removed {}", c.name));
        }
        r.map(|()| c.name.clone())
    }))
    .await;
    let mut report = DownReport::default();
    let mut first_err = None;
    for r in results {
        match r {
            Ok(name) => report.containers.push(name),
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    for net in engine.list_networks(&filter).await? {
        match engine.remove_network(&net).await {
            Ok(()) => {
                printer.info(&format!("  removed network {net}"));
                report.networks.push(net);
            }
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(report),
    }
}
