//! An in-memory [`Engine`] for scheduler and planning tests: containers, networks and images
//! live in maps, every call is recorded with a time stamp, and each image can be told how long
//! its containers take to become healthy or after how long they exit. It proves scheduling logic
//! only; real behaviour is proven by the tests in `integration/`.
use super::{
    BuildFailure, BuildOutcome, BuildProgress, BuildRequest, ContainerDetails, ContainerInfo,
    ContainerSpec, Engine, EngineError, EngineEvent, EngineInfo, EngineKind, EngineResult,
    ExecOutcome, ImageInfo, LabelFilter, LogLine, LogQuery, PushError, PushReport, PushRequest,
};
use async_trait::async_trait;
use futures_util::stream::{self, BoxStream, StreamExt};
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How containers of an image behave.
#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    /// Time from start until the container counts as healthy.
    pub ready_after: Duration,
    /// Exit this long after start (with [`Behaviour::exit_code`]), before ever being healthy.
    pub exit_after: Option<Duration>,
    /// The code of that exit; `None` = 1.
    pub exit_code: Option<i64>,
    /// Never becomes healthy (but keeps running).
    pub never_ready: bool,
    /// Lines the container "prints".
    pub log: Vec<String>,
}

/// One recorded engine call.
#[derive(Debug, Clone)]
pub struct Call {
    /// When it happened.
    pub at: Instant,
    /// `create`, `start`, `stop`, `remove`, `list`, `inspect`, `network`…
    pub op: &'static str,
    /// Container name (or network/image name).
    pub target: String,
}

#[derive(Debug, Clone)]
struct FakeContainer {
    spec: ContainerSpec,
    id: String,
    state: String,
    started_at: Option<Instant>,
    exit_code: Option<i64>,
    restart_count: u64,
}

#[derive(Debug, Default)]
struct State {
    containers: BTreeMap<String, FakeContainer>,
    networks: BTreeMap<String, BTreeMap<String, String>>,
    volumes: BTreeMap<String, BTreeMap<String, String>>,
    images: BTreeMap<String, ImageInfo>,
    behaviours: BTreeMap<String, Behaviour>,
    calls: Vec<Call>,
    next_id: u64,
}

/// Why a fake container is not healthy ([`FakeEngine::health`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FakeUnhealthy {
    /// No container with that id.
    #[error("no such container")]
    NoSuchContainer,
    /// Not running (`created`, `exited`…).
    #[error("container is {0}")]
    NotRunning(String),
    /// Its image's [`Behaviour`] never gets ready.
    #[error("never ready")]
    NeverReady,
    /// Running, not yet for its `ready_after`.
    #[error("starting ({up:?} of {ready_after:?})")]
    Starting {
        /// How long it has run.
        up: Duration,
        /// When it gets ready.
        ready_after: Duration,
    },
}

/// The fake engine. Cheap to create; share it behind an `Arc`.
#[derive(Debug, Default)]
pub struct FakeEngine {
    state: Mutex<State>,
}

fn matches(labels: &BTreeMap<String, String>, filter: &LabelFilter) -> bool {
    filter.iter().all(|f| match f.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
        None => labels.contains_key(f.as_str()),
    })
}

impl FakeEngine {
    /// An empty engine.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Sets how containers of `image` behave.
    pub fn set_behaviour(&self, image: &str, behaviour: Behaviour) {
        self.lock().behaviours.insert(image.to_string(), behaviour);
    }

    /// Adds a local image.
    pub fn add_image(&self, tag: &str, id: &str) {
        self.lock().images.insert(
            tag.to_string(),
            ImageInfo {
                id: id.to_string(),
                size: 0,
                labels: BTreeMap::new(),
            },
        );
    }

    /// Every call so far.
    #[must_use]
    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// Forgets the recorded calls.
    pub fn clear_calls(&self) {
        self.lock().calls.clear();
    }

    /// The first call of `op` on `target`.
    #[must_use]
    pub fn call_time(&self, op: &str, target: &str) -> Option<Instant> {
        self.lock()
            .calls
            .iter()
            .find(|c| c.op == op && c.target == target)
            .map(|c| c.at)
    }

    /// Names of the networks.
    #[must_use]
    pub fn networks(&self) -> Vec<String> {
        self.lock().networks.keys().cloned().collect()
    }

    /// The spec a container was created with, by name.
    #[must_use]
    pub fn spec_of(&self, name: &str) -> Option<ContainerSpec> {
        self.lock()
            .containers
            .values()
            .find(|c| c.spec.name == name)
            .map(|c| c.spec.clone())
    }

    /// Simulates a crash: the container exits with `code` (and the restart policy restarts it).
    pub fn crash(&self, id: &str, code: i64) {
        let mut st = self.lock();
        if let Some(c) = st.containers.get_mut(id) {
            if c.spec.restart {
                c.restart_count += 1;
                c.started_at = Some(Instant::now());
            } else {
                c.state = "exited".into();
                c.exit_code = Some(code);
                c.started_at = None;
            }
        }
    }

    /// Health of a container now, from its image's [`Behaviour`]: `Ok` when healthy.
    ///
    /// # Errors
    /// [`FakeUnhealthy`]: why it is not healthy.
    pub fn health(&self, id: &str) -> Result<(), FakeUnhealthy> {
        let mut st = self.lock();
        Self::refresh(&mut st);
        let c = st
            .containers
            .get(id)
            .ok_or(FakeUnhealthy::NoSuchContainer)?;
        if c.state != "running" {
            return Err(FakeUnhealthy::NotRunning(c.state.clone()));
        }
        let b = st
            .behaviours
            .get(&c.spec.image)
            .cloned()
            .unwrap_or_default();
        let up = c.started_at.map_or(Duration::ZERO, |t| t.elapsed());
        if b.never_ready {
            return Err(FakeUnhealthy::NeverReady);
        }
        if up >= b.ready_after {
            Ok(())
        } else {
            Err(FakeUnhealthy::Starting {
                up,
                ready_after: b.ready_after,
            })
        }
    }

    fn refresh(st: &mut State) {
        let State {
            containers,
            behaviours,
            ..
        } = st;
        for c in containers.values_mut() {
            let b = behaviours.get(&c.spec.image);
            if let (Some(exit), Some(t)) = (b.and_then(|b| b.exit_after), c.started_at) {
                if c.state == "running" && t.elapsed() >= exit {
                    c.state = "exited".into();
                    c.exit_code = Some(b.and_then(|b| b.exit_code).unwrap_or(1));
                }
            }
        }
    }

    fn record(st: &mut State, op: &'static str, target: &str) {
        st.calls.push(Call {
            at: Instant::now(),
            op,
            target: target.to_string(),
        });
    }

    fn info_of(c: &FakeContainer) -> ContainerInfo {
        ContainerInfo {
            id: c.id.clone(),
            name: c.spec.name.clone(),
            image: c.spec.image.clone(),
            state: c.state.clone(),
            status: c.state.clone(),
            labels: c.spec.labels.clone(),
            ports: c.spec.ports.clone(),
        }
    }

    fn not_found(id: &str) -> EngineError {
        EngineError::NotFound {
            what: format!("container {id}"),
        }
    }
}

#[async_trait]
impl Engine for FakeEngine {
    fn kind(&self) -> EngineKind {
        EngineKind::Docker
    }

    async fn info(&self) -> EngineResult<EngineInfo> {
        Ok(EngineInfo {
            kind: EngineKind::Docker,
            version: "fake".into(),
            api_version: "1.41".into(),
            endpoint: "memory".into(),
        })
    }

    async fn image(&self, reference: &str) -> EngineResult<Option<ImageInfo>> {
        Ok(self.lock().images.get(reference).cloned())
    }

    async fn build(
        &self,
        request: BuildRequest,
        progress: &(dyn Fn(BuildProgress) + Send + Sync),
    ) -> EngineResult<Result<BuildOutcome, BuildFailure>> {
        progress(BuildProgress {
            line: format!("fake build of {}", request.tag),
        });
        let id = format!("sha256:{:064x}", request.context.len());
        self.add_image(&request.tag, &id);
        Ok(Ok(BuildOutcome {
            image_id: id,
            steps: Vec::new(),
            log: Vec::new(),
        }))
    }

    async fn tag_image(&self, image: &str, target: &str) -> EngineResult<()> {
        let mut st = self.lock();
        Self::record(&mut st, "tag", target);
        let Some(info) = st.images.get(image).cloned() else {
            return Err(EngineError::NotFound {
                what: format!("image {image}"),
            });
        };
        st.images.insert(target.to_string(), info);
        Ok(())
    }

    async fn push_image(
        &self,
        request: &PushRequest,
        _progress: &(dyn Fn(String) + Send + Sync),
    ) -> Result<PushReport, PushError> {
        let mut st = self.lock();
        Self::record(&mut st, "push", &request.reference);
        let Some(info) = st.images.get(&request.reference) else {
            return Err(PushError::Engine(EngineError::NotFound {
                what: format!("image {}", request.reference),
            }));
        };
        Ok(PushReport {
            digest: crate::image::cache_key::digest(info.id.as_bytes()),
            manifest_size: None,
            layers_uploaded: None,
            layers_reused: None,
        })
    }

    async fn import_image(
        &self,
        _tarball: Vec<u8>,
        tag: &str,
        _changes: &[String],
    ) -> EngineResult<()> {
        self.add_image(tag, &format!("sha256:import-{tag}"));
        Ok(())
    }

    async fn ensure_network(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> EngineResult<()> {
        let mut st = self.lock();
        Self::record(&mut st, "network", name);
        st.networks
            .entry(name.to_string())
            .or_insert_with(|| labels.clone());
        Ok(())
    }

    async fn remove_network(&self, name: &str) -> EngineResult<()> {
        let mut st = self.lock();
        Self::record(&mut st, "remove-network", name);
        st.networks.remove(name);
        Ok(())
    }

    async fn list_networks(&self, labels: &LabelFilter) -> EngineResult<Vec<String>> {
        Ok(self
            .lock()
            .networks
            .iter()
            .filter(|(_, l)| matches(l, labels))
            .map(|(n, _)| n.clone())
            .collect())
    }

    async fn list_volumes(&self, labels: &LabelFilter) -> EngineResult<Vec<String>> {
        Ok(self
            .lock()
            .volumes
            .iter()
            .filter(|(_, l)| matches(l, labels))
            .map(|(n, _)| n.clone())
            .collect())
    }

    async fn remove_volume(&self, name: &str) -> EngineResult<()> {
        let mut st = self.lock();
        if st.containers.values().any(|c| {
            c.spec
                .hardening
                .volumes
                .iter()
                .any(|v| v.source.as_deref() == Some(name))
        }) {
            return Err(EngineError::Api {
                operation: format!("remove volume {name}"),
                message: "volume is in use".into(),
            });
        }
        Self::record(&mut st, "remove-volume", name);
        st.volumes.remove(name);
        Ok(())
    }

    async fn create_container(&self, spec: &ContainerSpec) -> EngineResult<String> {
        let mut st = self.lock();
        if st.containers.values().any(|c| c.spec.name == spec.name) {
            return Err(EngineError::Api {
                operation: format!("create container {}", spec.name),
                message: "name already in use".into(),
            });
        }
        if !st.networks.contains_key(&spec.network) {
            return Err(EngineError::NotFound {
                what: format!("network {}", spec.network),
            });
        }
        st.next_id += 1;
        let id = format!("fake{:08}", st.next_id);
        Self::record(&mut st, "create", &spec.name);
        for v in &spec.hardening.volumes {
            if let Some(source) = &v.source {
                st.volumes
                    .entry(source.clone())
                    .or_insert_with(|| v.labels.clone());
            }
        }
        st.containers.insert(
            id.clone(),
            FakeContainer {
                spec: spec.clone(),
                id: id.clone(),
                state: "created".into(),
                started_at: None,
                exit_code: None,
                restart_count: 0,
            },
        );
        Ok(id)
    }

    async fn start_container(&self, id: &str) -> EngineResult<()> {
        let mut st = self.lock();
        let c = st
            .containers
            .get_mut(id)
            .ok_or_else(|| Self::not_found(id))?;
        c.state = "running".into();
        c.started_at = Some(Instant::now());
        c.exit_code = None;
        let name = c.spec.name.clone();
        Self::record(&mut st, "start", &name);
        Ok(())
    }

    async fn stop_container(&self, id: &str, _timeout: Duration) -> EngineResult<()> {
        let mut st = self.lock();
        let c = st
            .containers
            .get_mut(id)
            .ok_or_else(|| Self::not_found(id))?;
        c.state = "exited".into();
        c.exit_code = Some(0);
        c.started_at = None;
        let name = c.spec.name.clone();
        Self::record(&mut st, "stop", &name);
        Ok(())
    }

    async fn remove_container(&self, id: &str) -> EngineResult<()> {
        let mut st = self.lock();
        if let Some(c) = st.containers.remove(id) {
            Self::record(&mut st, "remove", &c.spec.name);
        }
        Ok(())
    }

    async fn kill_container(&self, id: &str, _signal: &str) -> EngineResult<()> {
        self.crash(id, 137);
        Ok(())
    }

    /// The command "succeeds" (exit 0) when the container is healthy by its [`Behaviour`].
    async fn exec(
        &self,
        id: &str,
        _command: &[String],
        _timeout: Duration,
    ) -> EngineResult<ExecOutcome> {
        {
            let mut st = self.lock();
            let name = st
                .containers
                .get(id)
                .map(|c| c.spec.name.clone())
                .ok_or_else(|| Self::not_found(id))?;
            Self::record(&mut st, "exec", &name);
        }
        let (exit_code, output) = match self.health(id) {
            Ok(()) => (0, String::new()),
            Err(e) => (1, e.to_string()),
        };
        Ok(ExecOutcome {
            exit_code: Some(exit_code),
            timed_out: false,
            output,
        })
    }

    async fn list_containers(&self, labels: &LabelFilter) -> EngineResult<Vec<ContainerInfo>> {
        let mut st = self.lock();
        Self::refresh(&mut st);
        Self::record(&mut st, "list", "");
        Ok(st
            .containers
            .values()
            .filter(|c| matches(&c.spec.labels, labels))
            .map(Self::info_of)
            .collect())
    }

    async fn inspect_container(&self, id: &str) -> EngineResult<ContainerDetails> {
        let mut st = self.lock();
        Self::refresh(&mut st);
        let c = st.containers.get(id).ok_or_else(|| Self::not_found(id))?;
        Ok(ContainerDetails {
            info: Self::info_of(c),
            running: c.state == "running",
            exit_code: c.exit_code,
            oom_killed: false,
            restart_count: c.restart_count,
            started_at: c.started_at.map(|_| "1970-01-01T00:00:00Z".to_string()),
            image_id: st
                .images
                .get(&c.spec.image)
                .map(|i| i.id.clone())
                .unwrap_or_default(),
            hardening: c.spec.hardening.clone(),
            limits: c.spec.limits,
        })
    }

    async fn logs(
        &self,
        id: &str,
        query: &LogQuery,
    ) -> EngineResult<BoxStream<'static, EngineResult<LogLine>>> {
        let st = self.lock();
        let c = st.containers.get(id).ok_or_else(|| Self::not_found(id))?;
        let mut lines = vec![format!("{} starting", c.spec.name)];
        if let Some(b) = st.behaviours.get(&c.spec.image) {
            lines.extend(b.log.iter().cloned());
        }
        let skip = query.tail.map_or(0, |t| lines.len().saturating_sub(t));
        let lines: Vec<EngineResult<LogLine>> = lines
            .into_iter()
            .skip(skip)
            .map(|text| {
                Ok(LogLine {
                    stderr: false,
                    text,
                    timestamp: None,
                })
            })
            .collect();
        Ok(stream::iter(lines).boxed())
    }

    async fn events(
        &self,
        _labels: &LabelFilter,
    ) -> EngineResult<BoxStream<'static, EngineResult<EngineEvent>>> {
        Ok(stream::empty().boxed())
    }
}
