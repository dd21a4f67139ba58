//! `restart`: stop and start the named services' containers in place (found by label, like
//! `down`: no rebuild, no config change; on Swarm, new tasks replace the service's tasks, see
//! [`super::swarm::restart`]), then wait until they are healthy through the one
//! health gate ([`super::gate`]), each reported as [`DeployEvent::Restarted`] on the deploy stream.
use super::error::DeployError;
use super::event::{DeployEvent, Sink};
use super::health::{wait_completed, wait_ready, HealthProbe, Readiness, WaitError};
use super::plan::{host_of, host_port_of};
use crate::config::labels;
use crate::engine::{ContainerInfo, Engine};
use crate::error::Error;
use std::collections::BTreeMap;
use std::time::Duration;

/// Options of a restart.
#[derive(Debug, Clone)]
pub struct RestartOptions {
    /// Time the engine waits after SIGTERM.
    pub stop_timeout: Duration,
    /// Time allowed to become healthy again.
    pub timeout: Duration,
    /// Container port per service (from the ecosystem file) when known; otherwise the first
    /// published port is probed.
    pub ports: BTreeMap<String, u16>,
}

/// Restarts each service in `services` (concurrently; empty: every service that has
/// containers), waiting for each to be healthy again.
///
/// # Errors
/// [`DeployError::NotRunning`] for an unknown or absent service, [`Error::Readiness`] on a time-out.
pub async fn restart(
    engine: &dyn Engine,
    probe: &dyn HealthProbe,
    ecosystem: &str,
    services: &[String],
    opts: &RestartOptions,
    sink: &Sink,
) -> Result<(), Error> {
    let all = engine
        .list_containers(&super::ecosystem_filter(ecosystem))
        .await?;
    let every: Vec<String>;
    let services = if services.is_empty() {
        every = all
            .iter()
            .filter_map(|c| c.labels.get(labels::SERVICE).cloned())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        if every.is_empty() {
            return Err(DeployError::NothingToRestart {
                ecosystem: ecosystem.to_string(),
            }
            .into());
        }
        &every
    } else {
        services
    };
    let mut jobs = Vec::new();
    for service in services {
        let of_service = |c: &ContainerInfo| c.labels.get(labels::SERVICE) == Some(service);
        let containers: Vec<ContainerInfo> =
            all.iter().filter(|c| of_service(c)).cloned().collect();
        if containers.is_empty() {
            return Err(DeployError::NotRunning {
                service: service.clone(),
                ecosystem: ecosystem.to_string(),
            }
            .into());
        }
        jobs.push(async move {
            let containers = match engine.services() {
                // Swarm replaces the tasks (a forced update); its new tasks are probed
                Some(services) => {
                    super::swarm::restart(services, ecosystem, service, opts.timeout).await?;
                    let filter = super::ecosystem_filter(ecosystem);
                    let now = engine.list_containers(&filter).await?;
                    now.into_iter().filter(|c| of_service(c)).collect()
                }
                None => {
                    for c in &containers {
                        engine.stop_container(&c.id, opts.stop_timeout).await?;
                        engine.start_container(&c.id).await?;
                    }
                    containers
                }
            };
            let mut targets = Vec::new();
            let mut job = None;
            for c in &containers {
                if c.labels.get(labels::KIND).is_some_and(|k| k == "job") {
                    job = Some(c.id.clone());
                }
                let port = opts.ports.get(service).copied();
                // a task on another node publishes its port there
                targets.push(
                    Readiness::of_container(&c.id, &c.labels, host_port_of(c, port)).at(host_of(c)),
                );
            }
            // a job is run again, to completion
            let waited = match &job {
                Some(id) => wait_completed(engine, id, opts.timeout).await,
                None => wait_ready(engine, probe, &targets, opts.timeout).await,
            };
            match waited {
                Ok(t) => {
                    sink(&DeployEvent::Restarted {
                        service: service.clone(),
                        job: job.is_some(),
                        seconds: t.as_secs_f64(),
                        host_port: containers
                            .first()
                            .and_then(|c| host_port_of(c, opts.ports.get(service).copied())),
                    });
                    Ok(())
                }
                Err(WaitError::TimedOut { last }) => Err(Error::Readiness(format!(
                    "service `{service}` not healthy {}s after restart (last probe: {last})",
                    opts.timeout.as_secs()
                ))),
                Err(WaitError::Engine(e)) => Err(Error::Engine(e)),
                Err(e) => Err(DeployError::Restart {
                    service: service.clone(),
                    reason: e.to_string(),
                }
                .into()),
            }
        });
    }
    for r in futures_util::future::join_all(jobs).await {
        r?;
    }
    Ok(())
}
