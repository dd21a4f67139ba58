//! The events of an ecosystem on a swarm (`pactown events --engine swarm`). A manager's Docker
//! daemon reports container events for the tasks on its own node only, so three sources are
//! merged: those container events; the service events of the ecosystem's Swarm services
//! (created, updated — with Swarm's update state and the image and replica changes —, removed);
//! and, for the tasks on other nodes, events made from the task list: each task's creation and
//! its current state for the history window, and every state change seen by reading the task
//! list each [`TASK_POLL`] while following.
//!
//! Service events carry no labels, so a service event belongs to the ecosystem when its
//! service does: the services carrying the labels when the stream opens, and those created
//! later (inspected when their `create` event arrives). A service removed before the stream
//! opened is not known any more; its history is the journal's.
use super::{matches, Services, SwarmEngine, TaskInfo};
use crate::config::labels;
use crate::engine::docker::{to_btree, DockerEngine};
use crate::engine::log_time::parse_rfc3339;
use crate::engine::{Engine, EngineEvent, EngineResult, LabelFilter};
use futures_util::stream::{self, BoxStream, StreamExt};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often the task list is read for the state changes of tasks on other nodes.
pub const TASK_POLL: Duration = Duration::from_secs(1);

/// Labels of the known services of the ecosystem, by Swarm service name.
type Known = Arc<Mutex<BTreeMap<String, BTreeMap<String, String>>>>;

impl SwarmEngine {
    /// The events of the objects carrying `labels` from `since` (Unix seconds), up to `until`
    /// when given, else following (module docs).
    pub(super) async fn swarm_events(
        &self,
        filter: &LabelFilter,
        since: i64,
        until: Option<i64>,
    ) -> EngineResult<BoxStream<'static, EngineResult<EngineEvent>>> {
        let containers = self.docker.events_window(filter, since, until).await?;
        let services = self.list_services(filter).await?;
        let tasks = self.tasks_of(&services, filter).await?;
        let known: Known = Arc::new(Mutex::new(
            services.into_iter().map(|s| (s.name, s.labels)).collect(),
        ));
        let raw = self.docker.event_stream(
            "service",
            HashMap::new(),
            since.to_string(),
            until.map(|u| u.to_string()),
        )?;
        let client = self.client().clone();
        let (f, k) = (filter.clone(), Arc::clone(&known));
        let services = raw
            .then(move |item| {
                let (client, filter, known) = (client.clone(), f.clone(), Arc::clone(&k));
                async move {
                    match item {
                        Ok(e) => Ok(service_event(&client, &filter, &known, e).await),
                        Err(e) => Err(e),
                    }
                }
            })
            .filter_map(|item| async move { item.transpose() });
        let local = self.local_node().await;
        let mut history: Vec<EngineEvent> = tasks
            .iter()
            .filter(|t| Some(&t.node_id) != local.as_ref())
            .flat_map(task_history)
            .filter(|e| e.time >= since && until.is_none_or(|u| e.time < u))
            .collect();
        history.sort_by_key(|e| e.time);
        if until.is_some() {
            return Ok(containers
                .chain(services)
                .chain(stream::iter(history.into_iter().map(Ok)))
                .boxed());
        }
        let poller = TaskPoller {
            engine: SwarmEngine {
                docker: DockerEngine::duplicate(&self.docker),
            },
            filter: filter.clone(),
            local,
            seen: tasks
                .into_iter()
                .map(|t| (t.id.clone(), t.state.clone()))
                .collect(),
        };
        let changes = stream::unfold(poller, |mut p| async move {
            tokio::time::sleep(TASK_POLL).await;
            let events = p.round().await;
            Some((stream::iter(events), p))
        })
        .flatten();
        Ok(stream::select(
            stream::select(containers, services.boxed()),
            stream::iter(history.into_iter().map(Ok)).chain(changes),
        )
        .boxed())
    }

    /// The id of the node this daemon is (`None` when it does not say).
    async fn local_node(&self) -> Option<String> {
        let info = self.client().info().await.ok()?;
        info.swarm?.node_id.filter(|n| !n.is_empty())
    }
}

/// A service event as one of the ecosystem's (its service's labels as attributes), or `None`
/// when the service is not one of them. A created service is inspected once to learn that.
async fn service_event(
    client: &bollard::Docker,
    filter: &LabelFilter,
    known: &Known,
    mut e: EngineEvent,
) -> Option<EngineEvent> {
    let name = e.attributes.get("name")?.clone();
    let mut labels = known.lock().ok()?.get(&name).cloned();
    if labels.is_none() && e.action == "create" {
        let spec = client
            .inspect_service(
                &e.id,
                None::<bollard::query_parameters::InspectServiceOptions>,
            )
            .await
            .ok()?
            .spec?;
        let found = to_btree(spec.labels);
        if matches(&found, filter) {
            known.lock().ok()?.insert(name.clone(), found.clone());
            labels = Some(found);
        }
    }
    let labels = labels?;
    for key in [labels::ECOSYSTEM, labels::SERVICE, labels::TENANT] {
        if let Some(v) = labels.get(key) {
            e.attributes.insert(key.to_string(), v.clone());
        }
    }
    Some(e)
}

/// The container event name of a task's state (`None` while it is on its way to running).
fn state_action(state: &str) -> Option<&'static str> {
    match state {
        "running" => Some("start"),
        "complete" | "failed" | "rejected" | "orphaned" => Some("die"),
        "shutdown" | "remove" => Some("stop"),
        _ => None,
    }
}

/// A task's event as a container event: its container's labels, the name Docker gives the
/// container (`SERVICE.SLOT.TASK`), the node, the exit code.
fn task_event(t: &TaskInfo, action: &str, time: i64) -> EngineEvent {
    let mut attributes = t.labels.clone();
    attributes.insert(
        "name".into(),
        format!("{}.{}.{}", t.service_name, t.slot, t.id),
    );
    attributes.insert("node".into(), t.node.clone());
    if action == "die" {
        let code = t.exit_code.unwrap_or(i64::from(t.state != "complete"));
        attributes.insert("exitCode".into(), code.to_string());
    }
    EngineEvent {
        kind: "container".into(),
        action: action.into(),
        id: t.id.clone(),
        attributes,
        time,
        time_nano: 0,
    }
}

/// What the task list still tells of a task: its creation and its current state.
fn task_history(t: &TaskInfo) -> Vec<EngineEvent> {
    let mut out = Vec::new();
    if let Some(created) = t.created.as_deref().and_then(parse_rfc3339) {
        out.push(task_event(t, "create", created));
    }
    if let (Some(action), Some(at)) = (
        state_action(&t.state),
        t.since.as_deref().and_then(parse_rfc3339),
    ) {
        out.push(task_event(t, action, at));
    }
    out
}

/// Reads the task list and reports what changed on the other nodes since the last round.
struct TaskPoller {
    engine: SwarmEngine,
    filter: LabelFilter,
    local: Option<String>,
    seen: BTreeMap<String, String>,
}

impl TaskPoller {
    async fn round(&mut self) -> Vec<EngineResult<EngineEvent>> {
        let tasks = match self.engine.tasks(&self.filter).await {
            Ok(t) => t,
            Err(e) => return vec![Err(e)],
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let mut out = Vec::new();
        for t in &tasks {
            let before = self.seen.insert(t.id.clone(), t.state.clone());
            if Some(&t.node_id) == self.local.as_ref() || before.as_deref() == Some(&t.state) {
                continue;
            }
            let at = t.since.as_deref().and_then(parse_rfc3339).unwrap_or(now);
            if before.is_none() {
                out.push(Ok(task_event(t, "create", at)));
            }
            if let Some(action) = state_action(&t.state) {
                out.push(Ok(task_event(t, action, at)));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(state: &str) -> TaskInfo {
        TaskInfo {
            id: "t".repeat(25),
            service_id: "s".into(),
            service_name: "shop-api".into(),
            slot: 2,
            node_id: "n2".into(),
            node: "worker".into(),
            node_addr: "10.0.0.2".into(),
            state: state.into(),
            desired_state: "running".into(),
            message: String::new(),
            error: None,
            container_id: None,
            exit_code: None,
            ports: Vec::new(),
            labels: BTreeMap::from([(labels::SERVICE.to_string(), "api".to_string())]),
            image: "i".into(),
            since: Some("2026-12-03T10:00:05.123Z".into()),
            created: Some("2026-12-03T10:00:01Z".into()),
        }
    }

    #[test]
    fn tasks_become_container_events() {
        let h = task_history(&task("running"));
        let actions: Vec<(&str, i64)> = h.iter().map(|e| (e.action.as_str(), e.time)).collect();
        let t0 = parse_rfc3339("2026-12-03T10:00:01Z").unwrap();
        assert_eq!(actions, [("create", t0), ("start", t0 + 4)]);
        assert_eq!(
            h[1].attributes["name"],
            format!("shop-api.2.{}", "t".repeat(25))
        );
        assert_eq!(h[1].attributes["node"], "worker");
        let failed = task_history(&task("failed"));
        assert_eq!(failed[1].action, "die");
        assert_eq!(failed[1].attributes["exitCode"], "1");
        let mut done = task("complete");
        done.exit_code = Some(0);
        assert_eq!(task_history(&done)[1].attributes["exitCode"], "0");
        assert_eq!(task_history(&task("preparing")).len(), 1);
        assert_eq!(state_action("shutdown"), Some("stop"));
    }
}
