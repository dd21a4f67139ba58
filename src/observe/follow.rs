//! Log following that survives replacements: the ecosystem's containers are listed again every
//! `rescan` (and whenever [`Follower::rescan`] is called), and a stream is opened for each
//! container not followed yet. Containers present at the start show only new lines; containers
//! that appear later (watch mode replaced or added them) show their output from the beginning.
//! A stream ends when its container stops: it is opened again only once the container runs
//! again (a restart), skipping the lines already read, so an exited container (a completed job)
//! is not shown again at every rescan.
use super::logs::container_prefix;
use crate::config::labels;
use crate::engine::{Engine, EngineError, LogQuery};
use futures_util::StreamExt;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// Where prefixed log lines go.
pub type LineSink = Arc<dyn Fn(String) + Send + Sync>;

/// A handle to ask the follower to look for new containers now.
#[derive(Debug, Clone, Default)]
pub struct Follower {
    wake: Arc<Notify>,
}

impl Follower {
    /// A new handle.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Look for new containers at once (after a replacement).
    pub fn rescan(&self) {
        self.wake.notify_one();
    }

    /// Follows the logs of every container of `ecosystem` until `stop` resolves, sending
    /// `service | line` to `sink` (coloured prefixes when `color`).
    ///
    /// # Errors
    /// The first listing of the containers fails.
    pub async fn run(
        &self,
        engine: Arc<dyn Engine>,
        ecosystem: &str,
        color: bool,
        rescan: Duration,
        sink: LineSink,
        stop: impl Future<Output = ()>,
    ) -> Result<(), EngineError> {
        let filter = crate::deploy::ecosystem_filter(ecosystem);
        let mut tasks: BTreeMap<String, Task> = BTreeMap::new();
        // lines read so far per container (kept while a stopped container's stream has ended)
        let mut read: BTreeMap<String, usize> = BTreeMap::new();
        let mut first = true;
        tokio::pin!(stop);
        loop {
            let listed = engine.list_containers(&filter).await;
            let containers = match listed {
                Ok(c) => c,
                Err(e) if first => return Err(e),
                Err(_) => Vec::new(),
            };
            let mut services: Vec<&str> = containers
                .iter()
                .filter_map(|c| c.labels.get(labels::SERVICE).map(String::as_str))
                .collect();
            services.sort_unstable();
            services.dedup();
            let width = services.iter().map(|s| s.len()).max().unwrap_or(0);
            let running: BTreeMap<&str, bool> = containers
                .iter()
                .map(|c| (c.id.as_str(), c.state == "running"))
                .collect();
            // (counted before a task is dropped: an ended stream of a container that runs again
            // is reopened past what it read)
            for (id, t) in &tasks {
                read.insert(id.clone(), t.count.load(Ordering::Relaxed));
            }
            read.retain(|id, _| running.contains_key(id.as_str()));
            // gone containers are dropped; an ended stream is reopened once its container runs
            // (Docker may end the stream just before it lists the container as exited)
            tasks.retain(|id, t| {
                let keep = match running.get(id.as_str()) {
                    None => false,
                    Some(running) => !(t.handle.is_finished() && *running),
                };
                if !keep {
                    t.handle.abort();
                }
                keep
            });
            for c in &containers {
                if tasks.contains_key(&c.id) {
                    continue;
                }
                let p = container_prefix(c, &services, width, color);
                // lines of this container read before (by an ended stream, or its history when
                // it was there at the start)
                let seen = match read.get(&c.id) {
                    Some(n) => Ok(*n),
                    None if first => history_lines(engine.as_ref(), &c.id).await,
                    None => Ok(0),
                };
                let Ok(seen) = seen else {
                    continue;
                };
                let Ok(stream) = engine.logs(&c.id, &LogQuery::following()).await else {
                    continue;
                };
                let mut stream = stream.skip(seen);
                let count = Arc::new(AtomicUsize::new(seen));
                let counter = Arc::clone(&count);
                let sink = Arc::clone(&sink);
                tasks.insert(
                    c.id.clone(),
                    Task {
                        handle: tokio::spawn(async move {
                            while let Some(Ok(line)) = stream.next().await {
                                counter.fetch_add(1, Ordering::Relaxed);
                                sink(format!("{p} {}", line.text));
                            }
                        }),
                        count,
                    },
                );
            }
            first = false;
            tokio::select! {
                () = &mut stop => break,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(rescan) => {}
            }
        }
        for t in tasks.values() {
            t.handle.abort();
        }
        Ok(())
    }
}

/// One followed container: its stream's task and how many of its log lines were read.
struct Task {
    handle: JoinHandle<()>,
    count: Arc<AtomicUsize>,
}

/// How many log lines `id` has now (its history, not shown when it was there at the start).
async fn history_lines(engine: &dyn Engine, id: &str) -> Result<usize, EngineError> {
    let mut lines = engine.logs(id, &LogQuery::default()).await?;
    let mut n = 0;
    while let Some(line) = lines.next().await {
        line?;
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::fake::{Behaviour, FakeEngine};
    use crate::engine::ContainerSpec;
    use std::sync::Mutex;

    async fn container(engine: &FakeEngine, service: &str) -> String {
        let image = format!("{service}:1");
        engine.set_behaviour(
            &image,
            Behaviour {
                log: vec![format!("{service} done")],
                ..Behaviour::default()
            },
        );
        let spec = ContainerSpec {
            name: format!("eco-{service}-1"),
            image,
            network: "eco".into(),
            labels: [
                (labels::ECOSYSTEM.to_string(), "eco".to_string()),
                (labels::SERVICE.to_string(), service.to_string()),
            ]
            .into(),
            ..ContainerSpec::default()
        };
        let id = engine.create_container(&spec).await.unwrap();
        engine.start_container(&id).await.unwrap();
        id
    }

    /// The fake's log streams end at once, like a followed stream of a container that stopped:
    /// an exited container's log is shown once (not at every rescan), a running one's stream is
    /// reopened past the lines already shown, and one there at the start shows no history.
    #[tokio::test]
    async fn ended_streams_are_not_shown_again() {
        let engine = Arc::new(FakeEngine::new());
        engine
            .ensure_network("eco", &BTreeMap::new())
            .await
            .unwrap();
        let old = container(&engine, "old").await;
        engine.crash(&old, 0);
        let lines = Arc::new(Mutex::new(Vec::<String>::new()));
        let out = Arc::clone(&lines);
        let sink: LineSink = Arc::new(move |l| out.lock().unwrap().push(l));
        let follower = Follower::new();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let run = tokio::spawn({
            let follower = follower.clone();
            let engine: Arc<dyn Engine> = engine.clone();
            async move {
                follower
                    .run(
                        engine,
                        "eco",
                        false,
                        Duration::from_millis(10),
                        sink,
                        async {
                            let _ = rx.await;
                        },
                    )
                    .await
            }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        let job = container(&engine, "job").await;
        engine.crash(&job, 0);
        container(&engine, "web").await;
        follower.rescan();
        // about 20 rescans
        tokio::time::sleep(Duration::from_millis(250)).await;
        tx.send(()).unwrap();
        run.await.unwrap().unwrap();
        let mut shown = lines.lock().unwrap().clone();
        shown.sort();
        let shown: Vec<String> = shown
            .iter()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        assert_eq!(
            shown,
            [
                "job | eco-job-1 starting",
                "job | job done",
                "web | eco-web-1 starting",
                "web | web done"
            ],
            "{shown:?}"
        );
    }
}
