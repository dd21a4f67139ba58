//! Container engines behind one small async trait. [`docker`] talks to the Docker Engine API with
//! bollard, for Docker and for Podman's Docker-compatible API ([`podman`]: why, and Podman's
//! quirks). The deploy and observe modules only see [`Engine`]; the
//! engine knows containers, images and networks, never ecosystems. [`connect()`] finds a running
//! engine ([`connect`](mod@connect) module: sockets tried, version negotiation).
pub mod build_log;
pub mod connect;
pub mod docker;
pub mod fake;
pub mod log_time;
pub mod podman;
pub mod push;
pub mod swarm;

pub use connect::{connect, connect_to};
pub use docker::DockerEngine;
pub use push::{PushError, PushReport, PushRequest, RegistryCredentials};
pub use swarm::{Services, SwarmEngine};

use async_trait::async_trait;
use futures_util::stream::BoxStream;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// Which engine implementation is in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    /// Docker Engine.
    Docker,
    /// Podman.
    Podman,
}

impl std::fmt::Display for EngineKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EngineKind::Docker => "docker",
            EngineKind::Podman => "podman",
        })
    }
}

/// Errors from an engine, phrased for the user.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// No engine answers on the socket tried.
    #[error("no container engine answers at {socket}: {reason}. {hint}")]
    Unreachable {
        /// Socket or URL tried.
        socket: String,
        /// What went wrong.
        reason: String,
        /// How to start one.
        hint: String,
    },
    /// An object that does not exist.
    #[error("{what} not found")]
    NotFound {
        /// The object, e.g. `container shop-api-1`.
        what: String,
    },
    /// The engine answered with an error.
    #[error("{operation} failed: {message}")]
    Api {
        /// What pactown asked for.
        operation: String,
        /// The engine's message.
        message: String,
    },
}

/// Result alias for engine calls.
pub type EngineResult<T> = Result<T, EngineError>;

/// Facts about a connected engine.
#[derive(Debug, Clone, Serialize)]
pub struct EngineInfo {
    /// Docker or Podman.
    pub kind: EngineKind,
    /// Server version string.
    pub version: String,
    /// Negotiated API version.
    pub api_version: String,
    /// Socket or URL in use.
    pub endpoint: String,
}

/// A local image.
#[derive(Debug, Clone, Serialize)]
pub struct ImageInfo {
    /// Image id (`sha256:…`).
    pub id: String,
    /// Size in bytes.
    pub size: u64,
    /// Labels of the image.
    pub labels: BTreeMap<String, String>,
}

/// An image build request: an in-memory tar with a `Containerfile` at its root.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    /// Tag to give the result.
    pub tag: String,
    /// The build context as an uncompressed tar.
    pub context: Vec<u8>,
    /// Name of the Containerfile inside the context.
    pub containerfile: String,
    /// Labels to add to the image.
    pub labels: BTreeMap<String, String>,
    /// Do not use the layer cache.
    pub no_cache: bool,
}

/// One line of build output, streamed while the build runs.
#[derive(Debug, Clone)]
pub struct BuildProgress {
    /// The line as the engine printed it.
    pub line: String,
}

/// One step of a finished build (a Containerfile instruction) and whether the cache served it.
#[derive(Debug, Clone, Serialize)]
pub struct BuildStep {
    /// 1-based step number.
    pub number: usize,
    /// The instruction, e.g. `RUN /opt/venv/bin/pip install -r requirements.txt`.
    pub instruction: String,
    /// True when the layer came from the cache.
    pub cached: bool,
}

/// The result of a successful build.
#[derive(Debug, Clone, Serialize)]
pub struct BuildOutcome {
    /// Image id.
    pub image_id: String,
    /// Steps with their cache status, in order (the build's own cache report).
    pub steps: Vec<BuildStep>,
    /// The full build log.
    pub log: Vec<String>,
}

/// A failed build: the step that failed and the log.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct BuildFailure {
    /// The engine's error message.
    pub message: String,
    /// The step that failed, when known.
    pub step: Option<String>,
    /// The full build log up to the failure.
    pub log: Vec<String>,
}

/// A port published on the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortBinding {
    /// Port inside the container.
    pub container_port: u16,
    /// Host address, normally `127.0.0.1`.
    pub host_ip: String,
    /// Host port.
    pub host_port: u16,
}

/// Everything needed to create a container.
#[derive(Debug, Clone, Default)]
pub struct ContainerSpec {
    /// Container name.
    pub name: String,
    /// Image tag or id.
    pub image: String,
    /// Environment variables.
    pub env: BTreeMap<String, String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Network to join.
    pub network: String,
    /// DNS aliases on that network.
    pub aliases: Vec<String>,
    /// Published ports.
    pub ports: Vec<PortBinding>,
    /// Restart the container when it exits (unless stopped).
    pub restart: bool,
    /// Run an init process as PID 1 (fast, clean stop).
    pub init: bool,
    /// Override the image command.
    pub command: Option<Vec<String>>,
    /// Engine-side healthcheck command (exec form), shown by the engine; pactown probes itself.
    pub healthcheck: Option<Vec<String>>,
    /// Seconds the engine waits after SIGTERM.
    pub stop_timeout: Option<u64>,
    /// Isolation settings (read-only root, capabilities, tmpfs, volumes, user).
    pub hardening: Hardening,
    /// cgroup limits (CPU, memory, processes).
    pub limits: ResourceLimits,
}

/// A volume mounted into a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VolumeMount {
    /// Named volume (created on first use); `None` for an anonymous volume, which the engine
    /// fills from the image's content at that path and removes with the container.
    pub source: Option<String>,
    /// Path inside the container.
    pub target: String,
    /// Labels given to a named volume the engine creates.
    pub labels: BTreeMap<String, String>,
}

/// Isolation of a container. `Default` is the engine's default (nothing hardened).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Hardening {
    /// Mount the root file system read-only.
    pub read_only: bool,
    /// Set `no-new-privileges`.
    pub no_new_privileges: bool,
    /// Capabilities dropped (`ALL` for every one).
    pub cap_drop: Vec<String>,
    /// Capabilities added back.
    pub cap_add: Vec<String>,
    /// tmpfs mounts: path → mount options (e.g. `rw,nosuid,nodev,size=64m,mode=1777`).
    pub tmpfs: BTreeMap<String, String>,
    /// Volume mounts.
    pub volumes: Vec<VolumeMount>,
    /// User to run as; `None` keeps the image's `USER`.
    pub user: Option<String>,
}

/// cgroup limits of a container; `None` = unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ResourceLimits {
    /// CPU quota in units of 10⁻⁹ CPUs (`NanoCpus`).
    pub nano_cpus: Option<i64>,
    /// Memory limit in bytes (swap is limited to the same value: no extra swap).
    pub memory: Option<i64>,
    /// Most processes/threads.
    pub pids: Option<i64>,
}

/// A container as listed by the engine.
#[derive(Debug, Clone, Serialize)]
pub struct ContainerInfo {
    /// Container id.
    pub id: String,
    /// Name without the leading slash.
    pub name: String,
    /// Image as given at create time.
    pub image: String,
    /// `created`, `running`, `exited`, `restarting`…
    pub state: String,
    /// Engine status text (e.g. `Up 3 minutes`).
    pub status: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Published ports.
    pub ports: Vec<PortBinding>,
}

/// Details of one container.
#[derive(Debug, Clone, Serialize)]
pub struct ContainerDetails {
    /// Summary fields.
    pub info: ContainerInfo,
    /// True while running.
    pub running: bool,
    /// Exit code of the last run.
    pub exit_code: Option<i64>,
    /// True when the kernel OOM-killed it.
    pub oom_killed: bool,
    /// How often the engine restarted it.
    pub restart_count: u64,
    /// RFC 3339 start time.
    pub started_at: Option<String>,
    /// Image id the container runs.
    pub image_id: String,
    /// Isolation as the engine reports it.
    pub hardening: Hardening,
    /// cgroup limits as the engine reports them.
    pub limits: ResourceLimits,
}

/// A line of container output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// True for stderr.
    pub stderr: bool,
    /// The line without its newline.
    pub text: String,
    /// When the engine logged it (RFC 3339 as the engine gives it), when
    /// [`LogQuery::timestamps`] asked for it.
    pub timestamp: Option<String>,
}

/// Which output [`Engine::logs`] reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogQuery {
    /// The last N lines (of those in the time window) first; all when `None`.
    pub tail: Option<usize>,
    /// Keep following new lines.
    pub follow: bool,
    /// Only lines logged at or after this Unix second.
    pub since: Option<i64>,
    /// Only lines logged at or before this Unix second.
    pub until: Option<i64>,
    /// Give each line the engine's timestamp ([`LogLine::timestamp`]).
    pub timestamps: bool,
}

impl LogQuery {
    /// The whole log, then new lines as they come.
    #[must_use]
    pub fn following() -> Self {
        Self {
            follow: true,
            ..Self::default()
        }
    }

    /// The last `n` lines.
    #[must_use]
    pub fn last(n: usize) -> Self {
        Self {
            tail: Some(n),
            ..Self::default()
        }
    }
}

/// A lifecycle event from the engine.
#[derive(Debug, Clone, Serialize)]
pub struct EngineEvent {
    /// `container`, `network`, `image`…
    pub kind: String,
    /// `start`, `die`, `oom`, `health_status`…
    pub action: String,
    /// Object id.
    pub id: String,
    /// Object attributes (labels, name, exit code…).
    pub attributes: BTreeMap<String, String>,
    /// Unix time in seconds.
    pub time: i64,
    /// Unix time in nanoseconds (0 when the engine does not say).
    pub time_nano: i64,
}

/// The result of a command run inside a running container ([`Engine::exec`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExecOutcome {
    /// Exit code of the command (`None` when the engine does not say or it timed out).
    pub exit_code: Option<i64>,
    /// True when it was still running at the time limit (it is left to finish on its own).
    pub timed_out: bool,
    /// Its output (stdout and stderr interleaved), at most [`EXEC_OUTPUT_LIMIT`] bytes: the end
    /// is kept.
    pub output: String,
}

/// A piece of an attached exec's output ([`Engine::exec_attach`]).
#[derive(Debug, Clone)]
pub struct ExecChunk {
    /// True for stderr (never with a TTY, whose output is one stream).
    pub stderr: bool,
    /// The bytes as the command wrote them.
    pub bytes: bytes::Bytes,
}

/// A command running in a container with its streams attached ([`Engine::exec_attach`]).
pub struct AttachedExec {
    /// The engine's exec id, for [`Engine::exec_exit_code`].
    pub id: String,
    /// Its output as it comes; ends when the command exits.
    pub output: BoxStream<'static, EngineResult<ExecChunk>>,
    /// Its stdin.
    pub input: std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>,
}

impl std::fmt::Debug for AttachedExec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttachedExec")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Most bytes of output an [`Engine::exec`] keeps.
pub const EXEC_OUTPUT_LIMIT: usize = 16 * 1024;

/// Label filter `key=value` (or just `key`) for listing.
pub type LabelFilter = Vec<String>;

/// What pactown needs from a container engine.
#[async_trait]
pub trait Engine: Send + Sync {
    /// Docker or Podman.
    fn kind(&self) -> EngineKind;

    /// The service-level side of an orchestrating engine (Docker Swarm: [`swarm`]); `None` for
    /// an engine that runs containers only. When it is `Some`, the container calls address the
    /// orchestrator's tasks (see [`swarm`]).
    fn services(&self) -> Option<&dyn Services> {
        None
    }

    /// Checks the engine answers; version facts.
    async fn info(&self) -> EngineResult<EngineInfo>;

    /// Looks up a local image by tag or id.
    async fn image(&self, reference: &str) -> EngineResult<Option<ImageInfo>>;

    /// Builds an image, calling `progress` for each output line.
    async fn build(
        &self,
        request: BuildRequest,
        progress: &(dyn Fn(BuildProgress) + Send + Sync),
    ) -> EngineResult<Result<BuildOutcome, BuildFailure>>;

    /// Gives the local image `image` (tag or id) the additional name `target` (`repo:tag`).
    async fn tag_image(&self, image: &str, target: &str) -> EngineResult<()>;

    /// Pushes a local image reference (`REGISTRY/REPO:TAG`) to its registry, calling `progress`
    /// with each line the engine reports. Only layers the registry lacks are uploaded (the
    /// engine decides; see [`push`](mod@push)).
    async fn push_image(
        &self,
        request: &PushRequest,
        progress: &(dyn Fn(String) + Send + Sync),
    ) -> Result<PushReport, PushError>;

    /// Imports a root file system tarball (optionally gzip-compressed) as an image.
    async fn import_image(
        &self,
        tarball: Vec<u8>,
        tag: &str,
        changes: &[String],
    ) -> EngineResult<()>;

    /// Creates the network if it does not exist.
    async fn ensure_network(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> EngineResult<()>;

    /// Removes a network (no error if it is gone).
    async fn remove_network(&self, name: &str) -> EngineResult<()>;

    /// Names of networks carrying all the given labels.
    async fn list_networks(&self, labels: &LabelFilter) -> EngineResult<Vec<String>>;

    /// Creates the container of `spec` with its streams attached (stdin open, a TTY when
    /// `tty`) and starts it, as `docker run -it` does: the [`AttachedExec`]'s id is the
    /// container's; its exit code is then the container's ([`Engine::inspect_container`]).
    /// The caller removes it.
    async fn run_attached(&self, spec: &ContainerSpec, tty: bool) -> EngineResult<AttachedExec> {
        let _ = tty;
        Err(EngineError::Api {
            operation: format!("run container {} attached", spec.name),
            message: format!("{} cannot attach to a container", self.kind()),
        })
    }

    /// Sets the TTY size (`rows` × `cols`) of an attached exec ([`Engine::exec_attach`]) or, with
    /// `container`, of a container ([`Engine::run_attached`]). The default does nothing.
    async fn resize_tty(
        &self,
        id: &str,
        container: bool,
        rows: u16,
        cols: u16,
    ) -> EngineResult<()> {
        let _ = (id, container, rows, cols);
        Ok(())
    }

    /// Names of volumes carrying all the given labels.
    async fn list_volumes(&self, labels: &LabelFilter) -> EngineResult<Vec<String>>;

    /// Removes a volume (no error if it is gone; an error while a container uses it).
    async fn remove_volume(&self, name: &str) -> EngineResult<()>;

    /// Creates a container; returns its id.
    async fn create_container(&self, spec: &ContainerSpec) -> EngineResult<String>;

    /// Starts a container.
    async fn start_container(&self, id: &str) -> EngineResult<()>;

    /// Stops a container, waiting at most `timeout` before killing it.
    async fn stop_container(&self, id: &str, timeout: Duration) -> EngineResult<()>;

    /// Removes a container (forcefully; no error if it is gone).
    async fn remove_container(&self, id: &str) -> EngineResult<()>;

    /// Kills a container with a signal (tests, `restart`).
    async fn kill_container(&self, id: &str, signal: &str) -> EngineResult<()>;

    /// Renames a container. `Ok(false)` when its DNS name on its networks does not follow the
    /// rename while it runs (Podman 4 keeps the old name until a restart; the default: not
    /// supported), so nothing was renamed.
    async fn rename_container(&self, id: &str, name: &str) -> EngineResult<bool> {
        let _ = (id, name);
        Ok(false)
    }

    /// Runs `command` (exec form) inside the running container `id` as its user, in its working
    /// directory and environment, and waits for it at most `timeout` (then
    /// [`ExecOutcome::timed_out`] says so).
    async fn exec(
        &self,
        id: &str,
        command: &[String],
        timeout: Duration,
    ) -> EngineResult<ExecOutcome>;

    /// The engine's own verdict on the `health_cmd` of container `id` when [`Engine::exec`]
    /// could not run it: `Some(Ok(()))` healthy, `Some(Err(why))` not (yet), `None` (the
    /// default) when the engine has none. On Swarm, for a task on another node,
    /// the node runs the command as the task's health check and the task only turns `running`
    /// once it passed.
    async fn health_verdict(&self, _id: &str) -> EngineResult<Option<Result<(), String>>> {
        Ok(None)
    }

    /// Starts `command` (exec form) in the running container `id` with stdin, stdout and stderr
    /// attached (`pactown exec`), in one pseudo-terminal when `tty`. Not every backend can.
    async fn exec_attach(
        &self,
        id: &str,
        command: &[String],
        tty: bool,
    ) -> EngineResult<AttachedExec> {
        let _ = (command, tty);
        Err(EngineError::Api {
            operation: format!("attach a command to container {id}"),
            message: format!("the {} backend cannot attach to a container", self.kind()),
        })
    }

    /// Exit code of an attached exec once its output ended (`None` while it runs).
    async fn exec_exit_code(&self, exec_id: &str) -> EngineResult<Option<i64>> {
        Err(EngineError::Api {
            operation: format!("inspect exec {exec_id}"),
            message: format!("the {} backend cannot attach to a container", self.kind()),
        })
    }

    /// Containers (running or not) carrying all the given labels.
    async fn list_containers(&self, labels: &LabelFilter) -> EngineResult<Vec<ContainerInfo>>;

    /// Inspects one container.
    async fn inspect_container(&self, id: &str) -> EngineResult<ContainerDetails>;

    /// Output of a container as `query` selects it: the last `tail` lines of the `since`..`until`
    /// window (all when `None`), then new ones if `follow`.
    async fn logs(
        &self,
        id: &str,
        query: &LogQuery,
    ) -> EngineResult<BoxStream<'static, EngineResult<LogLine>>>;

    /// Lifecycle events of objects carrying all the given labels, from now on.
    async fn events(
        &self,
        labels: &LabelFilter,
    ) -> EngineResult<BoxStream<'static, EngineResult<EngineEvent>>>;

    /// Lifecycle events from `since` (Unix seconds) on; with `until`, the stream ends there.
    /// The default ignores the window and streams from now on (engines without history).
    async fn events_window(
        &self,
        labels: &LabelFilter,
        since: i64,
        until: Option<i64>,
    ) -> EngineResult<BoxStream<'static, EngineResult<EngineEvent>>> {
        let _ = (since, until);
        self.events(labels).await
    }
}
