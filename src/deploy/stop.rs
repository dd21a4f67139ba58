//! `pactown stop` / `pactown start`: stop an ecosystem's containers and keep them, or start the
//! stopped ones again — found by label like `down`, so only the name is needed. Neither
//! recreates anything or waits for health (`up -d` does both through the deploy core).
use crate::config::labels;
use crate::engine::{ContainerInfo, Engine, EngineError};
use std::collections::BTreeSet;
use std::time::Duration;

/// The containers of `ecosystem` that belong to `services` (all when empty), in `order` of
/// their service (services missing from `order` last, by name), then by name.
async fn containers(
    engine: &dyn Engine,
    ecosystem: &str,
    services: &[String],
    order: &[String],
) -> Result<Vec<ContainerInfo>, EngineError> {
    let wanted: BTreeSet<&str> = services.iter().map(String::as_str).collect();
    let mut all: Vec<ContainerInfo> = engine
        .list_containers(&super::ecosystem_filter(ecosystem))
        .await?
        .into_iter()
        .filter(|c| {
            wanted.is_empty()
                || c.labels
                    .get(labels::SERVICE)
                    .is_some_and(|s| wanted.contains(s.as_str()))
        })
        .collect();
    let rank = |c: &ContainerInfo| {
        let service = c.labels.get(labels::SERVICE).map_or("", String::as_str);
        (
            order
                .iter()
                .position(|s| s == service)
                .unwrap_or(order.len()),
            service.to_string(),
            c.name.clone(),
        )
    };
    all.sort_by_key(rank);
    Ok(all)
}

/// Stops the running containers of `services` (all when empty), dependants first (`order` is
/// the start order), each given `timeout` after SIGTERM; returns the containers stopped.
///
/// # Errors
/// Engine errors.
pub async fn stop(
    engine: &dyn Engine,
    ecosystem: &str,
    services: &[String],
    order: &[String],
    timeout: Duration,
) -> Result<Vec<ContainerInfo>, EngineError> {
    let mut list = containers(engine, ecosystem, services, order).await?;
    list.reverse();
    let mut stopped = Vec::new();
    for c in list.into_iter().filter(|c| c.state == "running") {
        engine.stop_container(&c.id, timeout).await?;
        stopped.push(c);
    }
    Ok(stopped)
}

/// Starts the stopped containers of `services` (all when empty), in start `order`; returns the
/// containers started. Completed jobs are started too only when named.
///
/// # Errors
/// Engine errors.
pub async fn start(
    engine: &dyn Engine,
    ecosystem: &str,
    services: &[String],
    order: &[String],
) -> Result<Vec<ContainerInfo>, EngineError> {
    let list = containers(engine, ecosystem, services, order).await?;
    let mut started = Vec::new();
    for c in list.into_iter().filter(|c| c.state != "running") {
        let job = c.labels.get(labels::KIND).is_some_and(|k| k == "job");
        if job && services.is_empty() {
            continue;
        }
        engine.start_container(&c.id).await?;
        started.push(c);
    }
    Ok(started)
}
