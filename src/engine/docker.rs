//! [`Engine`] over the Docker Engine API with bollard. The same code drives Podman through the
//! Docker-compatible API on its socket (why: see [`podman`](super::podman)); [`DockerEngine::kind`]
//! says which one answered. Podman's differences live in [`podman`](super::podman) and are used
//! here: image lookup under `docker.io/…` names, repeated import `changes`, Podman-only container
//! states. Log frames may split a line from its newline (Podman): output is buffered by line.
use super::build_log::{successfully_built, LineBuffer, StepParser};
use super::connect::describe_connect_error;
use super::podman::{fix_inspect_states, fix_list_states, podman_aliases, repeat_changes, reread};
use super::push::PushStatus;
use super::{
    BuildFailure, BuildOutcome, BuildProgress, BuildRequest, ContainerDetails, ContainerInfo,
    ContainerSpec, Engine, EngineError, EngineEvent, EngineInfo, EngineKind, EngineResult,
    ExecOutcome, Hardening, ImageInfo, LabelFilter, LogLine, LogQuery, PortBinding, PushError,
    PushReport, PushRequest, ResourceLimits, VolumeMount,
};
use async_trait::async_trait;
use bollard::auth::DockerCredentials;
use bollard::container::LogOutput;
use bollard::errors::Error as BollardError;
use bollard::models::{
    ContainerCreateBody, EndpointSettings, HealthConfig, HostConfig, Mount, MountType,
    MountVolumeOptions, NetworkCreateRequest, NetworkingConfig, PortBinding as ApiPortBinding,
    PortMap, RestartPolicy, RestartPolicyNameEnum,
};
use bollard::query_parameters::{
    BuildImageOptionsBuilder, CreateContainerOptionsBuilder, CreateImageOptionsBuilder,
    EventsOptionsBuilder, KillContainerOptionsBuilder, ListContainersOptionsBuilder,
    ListNetworksOptionsBuilder, ListVolumesOptionsBuilder, LogsOptionsBuilder,
    PushImageOptionsBuilder, RemoveContainerOptionsBuilder, RemoveVolumeOptionsBuilder,
    StopContainerOptionsBuilder, TagImageOptionsBuilder,
};
use bollard::{body_full, Docker};
use futures_util::stream::{self, BoxStream, StreamExt};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;

/// A Docker or Podman engine reached through the Docker Engine API.
pub struct DockerEngine {
    client: Docker,
    kind: EngineKind,
    endpoint: String,
    /// Server version read when connecting (`/_ping`'s `Server` header); empty when unknown.
    server_version: String,
    /// Serializes network creation: Docker 20.10 happily creates two networks of one name.
    network_lock: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for DockerEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DockerEngine")
            .field("kind", &self.kind)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl DockerEngine {
    /// A second handle on the same daemon (same client and endpoint), for a stream that outlives
    /// the borrow of this one.
    pub(crate) fn duplicate(&self) -> Self {
        Self {
            client: self.client.clone(),
            kind: self.kind,
            endpoint: self.endpoint.clone(),
            server_version: self.server_version.clone(),
            network_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// Creates the named volumes of `spec` that do not exist yet, with their labels: Podman's
    /// compat API ignores a mount's volume labels when the mount creates the volume, and
    /// `down -v` finds the volumes by label.
    async fn create_labelled_volumes(&self, spec: &ContainerSpec) -> EngineResult<()> {
        for v in &spec.hardening.volumes {
            let Some(name) = &v.source else { continue };
            if v.labels.is_empty() {
                continue;
            }
            match self.client.inspect_volume(name).await {
                Ok(_) => continue,
                Err(err) if status(&err) == Some(404) => {}
                Err(err) => return Err(self.api(format!("inspect volume {name}"), &err)),
            }
            let request = bollard::models::VolumeCreateRequest {
                name: Some(name.clone()),
                labels: Some(v.labels.clone().into_iter().collect()),
                ..Default::default()
            };
            match self.client.create_volume(request).await {
                Ok(_) => {}
                // made by a concurrent create
                Err(err) if status(&err) == Some(409) => {}
                Err(err) => return Err(self.api(format!("create volume {name}"), &err)),
            }
        }
        Ok(())
    }

    /// Wraps a connected client whose API version has been negotiated.
    #[must_use]
    pub fn new(client: Docker, kind: EngineKind, endpoint: String) -> Self {
        Self {
            client,
            kind,
            endpoint,
            server_version: String::new(),
            network_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// Records the server version learnt while connecting, so [`Engine::info`] need not ask
    /// `/version` (0.4 s on Podman 4.3).
    #[must_use]
    pub fn with_server_version(mut self, version: String) -> Self {
        self.server_version = version;
        self
    }

    /// The address this engine was reached at.
    #[must_use]
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub(crate) fn api(&self, operation: impl Into<String>, err: &BollardError) -> EngineError {
        EngineError::Api {
            operation: operation.into(),
            message: self.message(err),
        }
    }

    pub(crate) fn message(&self, err: &BollardError) -> String {
        match err {
            BollardError::DockerResponseServerError { message, .. } => message.trim().to_string(),
            BollardError::DockerStreamError { error } => error.trim().to_string(),
            BollardError::JsonSerdeError { .. } => {
                format!(
                    "unexpected reply from {} at {}: {err}",
                    self.kind, self.endpoint
                )
            }
            other => format!(
                "{} at {}: {}",
                self.kind,
                self.endpoint,
                describe_connect_error(other)
            ),
        }
    }

    /// The bollard client (the Swarm backend drives services, tasks and nodes through it).
    pub(crate) fn client(&self) -> &Docker {
        &self.client
    }

    /// Maps 404 to [`EngineError::NotFound`], anything else to [`EngineError::Api`].
    pub(crate) fn api_or_missing(
        &self,
        operation: &str,
        what: &str,
        err: &BollardError,
    ) -> EngineError {
        if status(err) == Some(404) {
            EngineError::NotFound {
                what: what.to_string(),
            }
        } else {
            self.api(operation, err)
        }
    }

    async fn inspect_image(&self, reference: &str) -> EngineResult<Option<ImageInfo>> {
        match self.client.inspect_image(reference).await {
            Ok(image) => Ok(Some(ImageInfo {
                id: image.id.unwrap_or_default(),
                size: image.size.and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
                labels: image
                    .config
                    .and_then(|c| c.labels)
                    .map(|l| l.into_iter().collect())
                    .unwrap_or_default(),
            })),
            Err(err) if status(&err) == Some(404) => Ok(None),
            Err(err) => Err(self.api(format!("inspect image {reference}"), &err)),
        }
    }
}

/// Adds `tlsVerify=false` to a push request (Podman reads it; plain-HTTP registries only).
fn no_tls_verify(mut request: bollard::BollardRequest) -> bollard::BollardRequest {
    let uri = request.uri().to_string();
    if !uri.contains("/push") {
        return request;
    }
    let sep = if uri.contains('?') { '&' } else { '?' };
    if let Ok(new_uri) = format!("{uri}{sep}tlsVerify=false").parse() {
        *request.uri_mut() = new_uri;
    }
    request
}

pub(crate) fn status(err: &BollardError) -> Option<u16> {
    match err {
        BollardError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// A named (or anonymous, when `source` is `None`) volume mount with its labels: the same on a
/// container and on a Swarm task.
pub(crate) fn volume_mount(v: &super::VolumeMount) -> Mount {
    Mount {
        target: Some(v.target.clone()),
        source: v.source.clone(),
        typ: Some(MountType::VOLUME),
        volume_options: (!v.labels.is_empty()).then(|| MountVolumeOptions {
            labels: Some(to_hash(&v.labels)),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub(crate) fn to_hash(map: &BTreeMap<String, String>) -> HashMap<String, String> {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

pub(crate) fn to_btree(map: Option<HashMap<String, String>>) -> BTreeMap<String, String> {
    map.map(|m| m.into_iter().collect()).unwrap_or_default()
}

pub(crate) fn label_filters(labels: &LabelFilter) -> HashMap<String, Vec<String>> {
    let mut filters = HashMap::new();
    if !labels.is_empty() {
        filters.insert("label".to_string(), labels.clone());
    }
    filters
}

fn parse_port_key(key: &str) -> Option<u16> {
    key.split('/').next().and_then(|p| p.parse().ok())
}

fn ports_from_map(map: Option<PortMap>) -> Vec<PortBinding> {
    let mut ports = Vec::new();
    for (key, bindings) in map.unwrap_or_default() {
        let Some(container_port) = parse_port_key(&key) else {
            continue;
        };
        for b in bindings.unwrap_or_default() {
            let Some(host_port) = b.host_port.as_deref().and_then(|p| p.parse().ok()) else {
                continue;
            };
            ports.push(PortBinding {
                container_port,
                host_ip: b.host_ip.unwrap_or_default(),
                host_port,
            });
        }
    }
    ports.sort_by(|a, b| {
        (a.container_port, &a.host_ip, a.host_port).cmp(&(
            b.container_port,
            &b.host_ip,
            b.host_port,
        ))
    });
    ports.dedup();
    ports
}

/// Adds the isolation settings and cgroup limits of a spec to its `HostConfig`.
fn harden(mut host: HostConfig, h: &Hardening, limits: &ResourceLimits) -> HostConfig {
    host.readonly_rootfs = h.read_only.then_some(true);
    if h.no_new_privileges {
        host.security_opt = Some(vec!["no-new-privileges:true".to_string()]);
    }
    host.cap_drop = (!h.cap_drop.is_empty()).then(|| h.cap_drop.clone());
    host.cap_add = (!h.cap_add.is_empty()).then(|| h.cap_add.clone());
    host.tmpfs = (!h.tmpfs.is_empty()).then(|| to_hash(&h.tmpfs));
    let mounts: Vec<Mount> = h.volumes.iter().map(volume_mount).collect();
    host.mounts = (!mounts.is_empty()).then_some(mounts);
    host.nano_cpus = limits.nano_cpus;
    host.memory = limits.memory;
    // no swap beyond the memory limit, so the limit really bounds the container
    host.memory_swap = limits.memory;
    host.pids_limit = limits.pids;
    host
}

/// The isolation settings and limits an inspected container runs with.
fn read_hardening(
    host: HostConfig,
    config: &bollard::models::ContainerConfig,
) -> (Hardening, ResourceLimits) {
    let no_new_privileges = host.security_opt.as_ref().is_some_and(|opts| {
        opts.iter()
            .any(|o| o == "no-new-privileges" || o == "no-new-privileges:true")
    });
    let volumes = host
        .mounts
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m.typ == Some(MountType::VOLUME))
        .map(|m| VolumeMount {
            source: m.source.filter(|s| !s.is_empty()),
            target: m.target.unwrap_or_default(),
            labels: BTreeMap::new(),
        })
        .collect();
    let hardening = Hardening {
        read_only: host.readonly_rootfs.unwrap_or(false),
        no_new_privileges,
        cap_drop: host.cap_drop.unwrap_or_default(),
        cap_add: host.cap_add.unwrap_or_default(),
        tmpfs: to_btree(host.tmpfs),
        volumes,
        user: config.user.clone().filter(|u| !u.is_empty()),
    };
    let positive = |v: Option<i64>| v.filter(|n| *n > 0);
    let limits = ResourceLimits {
        nano_cpus: positive(host.nano_cpus),
        memory: positive(host.memory),
        pids: positive(host.pids_limit),
    };
    (hardening, limits)
}

struct LogState {
    inner: BoxStream<'static, Result<LogOutput, BollardError>>,
    stdout: LogChannel,
    stderr: LogChannel,
    /// The engine was asked for timestamps: each frame starts with one.
    timestamps: bool,
    queue: VecDeque<EngineResult<LogLine>>,
    done: bool,
    operation: String,
    engine: String,
}

/// One output stream's unfinished line and the timestamp of its first frame.
#[derive(Default)]
struct LogChannel {
    buffer: LineBuffer,
    timestamp: Option<String>,
}

impl LogChannel {
    /// Adds a frame (its timestamp split off); returns the lines it completed, each with the
    /// timestamp of the frame that began it (Podman sends a partial line's pieces as frames of
    /// their own, each with a timestamp; Docker joins them).
    fn push(&mut self, bytes: &[u8], stamp: Option<String>) -> Vec<(String, Option<String>)> {
        let mut begun = self.timestamp.take();
        let lines = self
            .buffer
            .push_bytes(bytes)
            .into_iter()
            .map(|text| (text, begun.take().or_else(|| stamp.clone())))
            .collect();
        if !bytes.ends_with(b"\n") {
            self.timestamp = begun.or(stamp);
        }
        lines
    }

    fn finish(&mut self) -> Option<(String, Option<String>)> {
        let stamp = self.timestamp.take();
        self.buffer.finish().map(|text| (text, stamp))
    }
}

/// A frame of a log asked for with timestamps: its leading `<RFC 3339> ` and the rest; no
/// timestamp when it does not start with one (a TTY's raw chunk may not).
fn split_timestamp(bytes: &[u8]) -> (Option<String>, &[u8]) {
    let Some(space) = bytes.iter().take(48).position(|b| *b == b' ') else {
        return (None, bytes);
    };
    let (head, rest) = bytes.split_at(space);
    match std::str::from_utf8(head) {
        Ok(t) if super::log_time::parse_rfc3339(t).is_some() => {
            (Some(t.to_string()), rest.get(1..).unwrap_or_default())
        }
        _ => (None, bytes),
    }
}

impl LogState {
    fn flush(&mut self) {
        for (stderr, channel) in [(false, &mut self.stdout), (true, &mut self.stderr)] {
            if let Some((text, timestamp)) = channel.finish() {
                self.queue.push_back(Ok(LogLine {
                    stderr,
                    text,
                    timestamp,
                }));
            }
        }
    }
}

async fn next_log_line(mut st: LogState) -> Option<(EngineResult<LogLine>, LogState)> {
    loop {
        if let Some(item) = st.queue.pop_front() {
            return Some((item, st));
        }
        if st.done {
            return None;
        }
        match st.inner.next().await {
            Some(Ok(output)) => {
                let (is_err, bytes) = match output {
                    LogOutput::StdErr { message } => (true, message),
                    LogOutput::StdOut { message } | LogOutput::Console { message } => {
                        (false, message)
                    }
                    LogOutput::StdIn { .. } => continue,
                };
                let (stamp, bytes) = if st.timestamps {
                    split_timestamp(&bytes)
                } else {
                    (None, &bytes[..])
                };
                let channel = if is_err {
                    &mut st.stderr
                } else {
                    &mut st.stdout
                };
                for (text, timestamp) in channel.push(bytes, stamp) {
                    st.queue.push_back(Ok(LogLine {
                        stderr: is_err,
                        text,
                        timestamp,
                    }));
                }
            }
            Some(Err(err)) => {
                st.flush();
                let message = match &err {
                    BollardError::DockerResponseServerError { message, .. } => message.clone(),
                    other => format!("{}: {}", st.engine, describe_connect_error(other)),
                };
                st.queue.push_back(Err(EngineError::Api {
                    operation: st.operation.clone(),
                    message,
                }));
                st.done = true;
            }
            None => {
                st.flush();
                st.done = true;
            }
        }
    }
}

/// The last `n` lines of a finite log stream and how many lines it had in all.
async fn keep_last(
    mut lines: BoxStream<'static, EngineResult<LogLine>>,
    n: usize,
) -> EngineResult<(VecDeque<LogLine>, usize)> {
    let mut last = VecDeque::with_capacity(n.min(4096));
    let mut total = 0;
    while let Some(line) = lines.next().await {
        let line = line?;
        total += 1;
        if n == 0 {
            continue;
        }
        if last.len() == n {
            last.pop_front();
        }
        last.push_back(line);
    }
    Ok((last, total))
}

impl DockerEngine {
    /// Creates the container of `spec`; with `interactive` (its value: a TTY or not) stdin is
    /// kept open for one attach, as `docker run -i` does.
    async fn create(
        &self,
        spec: &ContainerSpec,
        interactive: Option<bool>,
    ) -> EngineResult<String> {
        if self.kind == EngineKind::Podman {
            self.create_labelled_volumes(spec).await?;
        }
        let mut exposed = Vec::new();
        let mut bindings: PortMap = HashMap::new();
        for port in &spec.ports {
            let key = format!("{}/tcp", port.container_port);
            if !exposed.contains(&key) {
                exposed.push(key.clone());
            }
            let host_ip = if port.host_ip.is_empty() {
                "127.0.0.1".to_string()
            } else {
                port.host_ip.clone()
            };
            let host_port = if port.host_port == 0 {
                String::new()
            } else {
                port.host_port.to_string()
            };
            bindings
                .entry(key)
                .or_insert_with(|| Some(Vec::new()))
                .get_or_insert_with(Vec::new)
                .push(ApiPortBinding {
                    host_ip: Some(host_ip),
                    host_port: Some(host_port),
                });
        }
        let network = (!spec.network.is_empty()).then(|| spec.network.clone());
        let host_config = HostConfig {
            port_bindings: (!bindings.is_empty()).then_some(bindings),
            network_mode: network.clone(),
            restart_policy: spec.restart.then_some(RestartPolicy {
                name: Some(RestartPolicyNameEnum::UNLESS_STOPPED),
                maximum_retry_count: None,
            }),
            init: spec.init.then_some(true),
            ..Default::default()
        };
        let host_config = harden(host_config, &spec.hardening, &spec.limits);
        let networking_config = network.map(|net| NetworkingConfig {
            endpoints_config: Some(HashMap::from([(
                net,
                EndpointSettings {
                    aliases: (!spec.aliases.is_empty()).then(|| spec.aliases.clone()),
                    ..Default::default()
                },
            )])),
        });
        let healthcheck = spec.healthcheck.as_ref().map(|cmd| HealthConfig {
            test: Some(
                std::iter::once("CMD".to_string())
                    .chain(cmd.iter().cloned())
                    .collect(),
            ),
            interval: Some(5_000_000_000),
            timeout: Some(5_000_000_000),
            retries: Some(3),
            start_period: None,
            start_interval: None,
        });
        // an interactive container keeps stdin open for one attach of all three streams
        let attach = interactive.map(|_| true);
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            labels: Some(to_hash(&spec.labels)),
            exposed_ports: (!exposed.is_empty()).then_some(exposed),
            cmd: spec.command.clone(),
            user: spec.hardening.user.clone(),
            healthcheck,
            stop_timeout: spec
                .stop_timeout
                .map(|s| i64::try_from(s).unwrap_or(i64::MAX)),
            host_config: Some(host_config),
            networking_config,
            tty: interactive,
            open_stdin: attach,
            stdin_once: attach,
            attach_stdin: attach,
            attach_stdout: attach,
            attach_stderr: attach,
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::default()
            .name(&spec.name)
            .build();
        let created = self
            .client
            .create_container(Some(options), body)
            .await
            .map_err(|e| {
                if status(&e) == Some(404) {
                    EngineError::NotFound {
                        what: format!("image {} (for container {})", spec.image, spec.name),
                    }
                } else {
                    self.api(format!("create container {}", spec.name), &e)
                }
            })?;
        Ok(created.id)
    }

    /// The engine's log stream of `id` split into lines (`tail` as the engine counts it).
    fn log_lines(&self, id: &str, query: &LogQuery) -> BoxStream<'static, EngineResult<LogLine>> {
        self.lines_of(id, query, false)
    }

    /// The log stream of the Swarm task `id` (from whichever node runs it) split into lines.
    pub(crate) fn task_log_lines(
        &self,
        id: &str,
        query: &LogQuery,
    ) -> BoxStream<'static, EngineResult<LogLine>> {
        self.lines_of(id, query, true)
    }

    fn lines_of(
        &self,
        id: &str,
        query: &LogQuery,
        task: bool,
    ) -> BoxStream<'static, EngineResult<LogLine>> {
        let tail = query
            .tail
            .map_or_else(|| "all".to_string(), |n| n.to_string());
        // the APIs take Unix seconds as i32 (0: no limit)
        let secs = |t: Option<i64>| t.map_or(0, |t| i32::try_from(t.max(0)).unwrap_or(i32::MAX));
        // Swarm's task logs ignore `until`: it is applied here, on the engine's timestamps
        let until_here = if task { query.until } else { None };
        let timestamps = query.timestamps || until_here.is_some();
        let options = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .follow(query.follow)
            .since(secs(query.since))
            .until(secs(query.until))
            .timestamps(timestamps)
            .tail(&tail)
            .build();
        let inner = if task {
            self.client.task_logs(id, Some(options)).boxed()
        } else {
            self.client.logs(id, Some(options)).boxed()
        };
        let state = LogState {
            inner,
            stdout: LogChannel::default(),
            stderr: LogChannel::default(),
            timestamps,
            queue: VecDeque::new(),
            done: false,
            operation: format!("read logs of {id}"),
            engine: format!("{} at {}", self.kind, self.endpoint),
        };
        let lines = stream::unfold(state, next_log_line);
        let Some(until) = until_here else {
            return lines.boxed();
        };
        let keep_stamp = query.timestamps;
        lines
            .filter_map(move |line| {
                let line = match line {
                    Ok(mut l) => {
                        let at = l
                            .timestamp
                            .as_deref()
                            .and_then(super::log_time::parse_rfc3339);
                        if at.is_some_and(|at| at > until) {
                            None
                        } else {
                            if !keep_stamp {
                                l.timestamp = None;
                            }
                            Some(Ok(l))
                        }
                    }
                    Err(e) => Some(Err(e)),
                };
                std::future::ready(line)
            })
            .boxed()
    }

    /// One build attempt; see [`Engine::build`].
    async fn build_once(
        &self,
        request: BuildRequest,
        progress: &(dyn Fn(BuildProgress) + Send + Sync),
    ) -> EngineResult<Result<BuildOutcome, BuildFailure>> {
        let labels = to_hash(&request.labels);
        let options = BuildImageOptionsBuilder::default()
            .dockerfile(&request.containerfile)
            .t(&request.tag)
            .labels(&labels)
            .nocache(request.no_cache)
            .rm(true)
            .forcerm(true)
            .build();
        let mut stream =
            self.client
                .build_image(options, None, Some(body_full(request.context.into())));

        let mut lines = LineBuffer::new();
        let mut steps = StepParser::new();
        let mut log: Vec<String> = Vec::new();
        let mut image_id: Option<String> = None;
        let mut short_id: Option<String> = None;
        let mut take = |line: String, log: &mut Vec<String>, steps: &mut StepParser| {
            steps.line(&line);
            if let Some(id) = successfully_built(&line) {
                short_id = Some(id);
            }
            progress(BuildProgress { line: line.clone() });
            log.push(line);
        };

        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => {
                    for text in [info.stream, info.status].into_iter().flatten() {
                        for line in lines.push(&text) {
                            take(line, &mut log, &mut steps);
                        }
                    }
                    if let Some(id) = info.aux.and_then(|a| a.id) {
                        image_id = Some(id);
                    }
                }
                Err(err @ BollardError::DockerStreamError { .. })
                | Err(err @ BollardError::DockerResponseServerError { .. }) => {
                    if let Some(rest) = lines.finish() {
                        take(rest, &mut log, &mut steps);
                    }
                    let message = self.message(&err);
                    for line in message.lines() {
                        progress(BuildProgress {
                            line: line.to_string(),
                        });
                        log.push(line.to_string());
                    }
                    return Ok(Err(BuildFailure {
                        message,
                        step: steps.current().map(|s| s.instruction.clone()),
                        log,
                    }));
                }
                Err(err) => return Err(self.api(format!("build image {}", request.tag), &err)),
            }
        }
        if let Some(rest) = lines.finish() {
            take(rest, &mut log, &mut steps);
        }

        let image_id = match image_id {
            Some(id) => id,
            None => match self.image(&request.tag).await? {
                Some(image) => image.id,
                None => {
                    return Ok(Err(BuildFailure {
                        message: format!(
                            "the build ended without an image tagged {} (last id seen: {})",
                            request.tag,
                            short_id.as_deref().unwrap_or("none")
                        ),
                        step: None,
                        log,
                    }))
                }
            },
        };
        Ok(Ok(BuildOutcome {
            image_id,
            steps: steps.finish(),
            log,
        }))
    }

    /// Podman's layer store can race with a concurrent image removal while the builder looks for
    /// a cached layer ("layer not known"); the same build succeeds when tried again.
    fn is_transient_build_failure(&self, failure: &BuildFailure) -> bool {
        self.kind == EngineKind::Podman && failure.message.contains("layer not known")
    }
}

/// The first 12 characters of a container id (or a name), for traces.
fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

#[async_trait]
impl Engine for DockerEngine {
    fn kind(&self) -> EngineKind {
        self.kind
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn info(&self) -> EngineResult<EngineInfo> {
        let version = if self.server_version.is_empty() {
            self.client
                .version()
                .await
                .map_err(|e| self.api("read engine version", &e))?
                .version
                .unwrap_or_default()
        } else {
            self.client
                .ping()
                .await
                .map_err(|e| self.api("ping engine", &e))?;
            self.server_version.clone()
        };
        Ok(EngineInfo {
            kind: self.kind,
            version,
            api_version: self.client.client_version().to_string(),
            endpoint: self.endpoint.clone(),
        })
    }

    #[tracing::instrument(level = "debug", skip_all, fields(reference = %reference))]
    async fn image(&self, reference: &str) -> EngineResult<Option<ImageInfo>> {
        if let Some(found) = self.inspect_image(reference).await? {
            return Ok(Some(found));
        }
        if self.kind == EngineKind::Podman {
            for alias in podman_aliases(reference) {
                if let Some(found) = self.inspect_image(&alias).await? {
                    return Ok(Some(found));
                }
            }
        }
        Ok(None)
    }

    async fn build(
        &self,
        request: BuildRequest,
        progress: &(dyn Fn(BuildProgress) + Send + Sync),
    ) -> EngineResult<Result<BuildOutcome, BuildFailure>> {
        let mut attempt = 1;
        loop {
            let result = self.build_once(request.clone(), progress).await?;
            match result {
                Err(failure) if attempt < 3 && self.is_transient_build_failure(&failure) => {
                    progress(BuildProgress {
                        line: format!(
                            "pactown: the engine lost a cached layer during the build ({}); retrying",
                            failure.message.trim()
                        ),
                    });
                    attempt += 1;
                }
                other => return Ok(other),
            }
        }
    }

    async fn tag_image(&self, image: &str, target: &str) -> EngineResult<()> {
        let (repo, tag) = super::push::split_reference(target);
        let options = TagImageOptionsBuilder::default()
            .repo(repo)
            .tag(tag)
            .build();
        let source =
            if self.kind == EngineKind::Podman && self.inspect_image(image).await?.is_none() {
                podman_aliases(image)
                    .into_iter()
                    .next()
                    .unwrap_or_else(|| image.to_string())
            } else {
                image.to_string()
            };
        self.client
            .tag_image(&source, Some(options))
            .await
            .map_err(|e| {
                self.api_or_missing(
                    &format!("tag {image} as {target}"),
                    &format!("image {image}"),
                    &e,
                )
            })
    }

    async fn push_image(
        &self,
        request: &PushRequest,
        progress: &(dyn Fn(String) + Send + Sync),
    ) -> Result<PushReport, PushError> {
        let (repo, tag) = request.split();
        let options = PushImageOptionsBuilder::default().tag(tag).build();
        let credentials = request.credentials.as_ref().map(|c| DockerCredentials {
            username: c.username.clone(),
            password: c.password.clone(),
            identitytoken: c.identity_token.clone(),
            serveraddress: Some(c.server.clone()),
            ..Default::default()
        });
        // Podman verifies TLS unless told otherwise; Docker decides from its own
        // insecure-registries list (127.0.0.0/8 is on it by default) and ignores the parameter
        let client = if request.insecure && self.kind == EngineKind::Podman {
            self.client.clone().with_request_modifier(no_tls_verify)
        } else {
            self.client.clone()
        };
        let mut stream = client.push_image(repo, Some(options), credentials);
        let mut fold = PushStatus::new();
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => {
                    if let Some(text) = info.status {
                        fold.status(&text);
                        progress(text);
                    }
                }
                Err(BollardError::DockerStreamError { error }) => {
                    return Err(PushError::from_message(&request.reference, &error));
                }
                Err(err @ BollardError::DockerResponseServerError { .. }) => {
                    if status(&err) == Some(404) {
                        return Err(PushError::Engine(EngineError::NotFound {
                            what: format!("image {}", request.reference),
                        }));
                    }
                    return Err(PushError::from_message(
                        &request.reference,
                        &self.message(&err),
                    ));
                }
                Err(err) => {
                    return Err(PushError::Engine(
                        self.api(format!("push {}", request.reference), &err),
                    ))
                }
            }
        }
        fold.finish().ok_or_else(|| PushError::Rejected {
            reference: request.reference.clone(),
            message: format!("{} reported no manifest digest for the push", self.kind),
        })
    }

    async fn import_image(
        &self,
        tarball: Vec<u8>,
        tag: &str,
        changes: &[String],
    ) -> EngineResult<()> {
        let client = self.client.clone().with_request_modifier(repeat_changes);
        let options = CreateImageOptionsBuilder::default()
            .from_src("-")
            .repo(tag)
            .changes(changes.to_vec())
            .build();
        let mut stream = client.create_image(Some(options), Some(body_full(tarball.into())), None);
        while let Some(item) = stream.next().await {
            item.map_err(|e| self.api(format!("import image {tag}"), &e))?;
        }
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(name = %name))]
    async fn ensure_network(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> EngineResult<()> {
        let _guard = self.network_lock.lock().await;
        match self.client.inspect_network(name, None).await {
            Ok(_) => return Ok(()),
            Err(err) if status(&err) == Some(404) => {}
            Err(err) => return Err(self.api(format!("inspect network {name}"), &err)),
        }
        let request = NetworkCreateRequest {
            name: name.to_string(),
            driver: Some("bridge".to_string()),
            labels: Some(to_hash(labels)),
            ..Default::default()
        };
        match self.client.create_network(request).await {
            Ok(created) => {
                // Docker 20.10 creates a second network of the same name (with a warning) when
                // another process won the race: drop ours, keep the first.
                if created.warning.contains("already exists") {
                    match self.client.remove_network(&created.id).await {
                        Ok(()) => {}
                        Err(err) if status(&err) == Some(404) => {}
                        Err(err) => {
                            return Err(self.api(format!("remove duplicate network {name}"), &err))
                        }
                    }
                }
                Ok(())
            }
            Err(err) if status(&err) == Some(409) || self.message(&err).contains("already") => {
                Ok(())
            }
            Err(err) => Err(self.api(format!("create network {name}"), &err)),
        }
    }

    #[tracing::instrument(level = "debug", skip_all, fields(name = %name))]
    async fn remove_network(&self, name: &str) -> EngineResult<()> {
        match self.client.remove_network(name).await {
            Ok(()) => Ok(()),
            Err(err) if status(&err) == Some(404) => Ok(()),
            Err(err) => Err(self.api(format!("remove network {name}"), &err)),
        }
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn list_networks(&self, labels: &LabelFilter) -> EngineResult<Vec<String>> {
        let options = ListNetworksOptionsBuilder::default()
            .filters(&label_filters(labels))
            .build();
        let networks = self
            .client
            .list_networks(Some(options))
            .await
            .map_err(|e| self.api("list networks", &e))?;
        let mut names: Vec<String> = networks.into_iter().filter_map(|n| n.name).collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn list_volumes(&self, labels: &LabelFilter) -> EngineResult<Vec<String>> {
        let options = ListVolumesOptionsBuilder::default()
            .filters(&label_filters(labels))
            .build();
        let listed = self
            .client
            .list_volumes(Some(options))
            .await
            .map_err(|e| self.api("list volumes", &e))?;
        let mut names: Vec<String> = listed
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(|v| v.name)
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    async fn remove_volume(&self, name: &str) -> EngineResult<()> {
        let options = RemoveVolumeOptionsBuilder::default().force(false).build();
        match self.client.remove_volume(name, Some(options)).await {
            Ok(()) => Ok(()),
            Err(err) if status(&err) == Some(404) => Ok(()),
            Err(err) => Err(self.api(format!("remove volume {name}"), &err)),
        }
    }

    #[tracing::instrument(level = "debug", skip_all, fields(name = %spec.name))]
    async fn create_container(&self, spec: &ContainerSpec) -> EngineResult<String> {
        self.create(spec, None).await
    }

    async fn run_attached(
        &self,
        spec: &ContainerSpec,
        tty: bool,
    ) -> EngineResult<super::AttachedExec> {
        use bollard::query_parameters::AttachContainerOptionsBuilder;
        let id = self.create(spec, Some(tty)).await?;
        let operation = format!("attach to container {}", spec.name);
        let options = AttachContainerOptionsBuilder::default()
            .stream(true)
            .stdin(true)
            .stdout(true)
            .stderr(true)
            .build();
        let attached = match self.client.attach_container(&id, Some(options)).await {
            Ok(a) => a,
            Err(e) => {
                let _ = self.remove_container(&id).await;
                return Err(self.api(operation, &e));
            }
        };
        if let Err(e) = self.start_container(&id).await {
            let _ = self.remove_container(&id).await;
            return Err(e);
        }
        Ok(super::AttachedExec {
            id,
            output: exec_chunks(attached.output, operation, self.kind),
            input: attached.input,
        })
    }

    #[tracing::instrument(level = "debug", skip_all, fields(id = %short(id)))]
    async fn start_container(&self, id: &str) -> EngineResult<()> {
        self.client.start_container(id, None).await.map_err(|e| {
            self.api_or_missing(
                &format!("start container {id}"),
                &format!("container {id}"),
                &e,
            )
        })
    }

    #[tracing::instrument(level = "debug", skip_all, fields(id = %short(id)))]
    async fn stop_container(&self, id: &str, timeout: Duration) -> EngineResult<()> {
        let secs = i32::try_from(timeout.as_secs()).unwrap_or(i32::MAX);
        let options = StopContainerOptionsBuilder::default().t(secs).build();
        self.client
            .stop_container(id, Some(options))
            .await
            .map_err(|e| {
                self.api_or_missing(
                    &format!("stop container {id}"),
                    &format!("container {id}"),
                    &e,
                )
            })
    }

    #[tracing::instrument(level = "debug", skip_all, fields(id = %short(id)))]
    async fn rename_container(&self, id: &str, name: &str) -> EngineResult<bool> {
        if self.kind != EngineKind::Docker {
            return Ok(false);
        }
        let options = bollard::query_parameters::RenameContainerOptions {
            name: name.to_string(),
        };
        match self.client.rename_container(id, options).await {
            Ok(()) => Ok(true),
            // it has that name already
            Err(err) if status(&err) == Some(409) && self.message(&err).contains("same name") => {
                Ok(true)
            }
            Err(err) => Err(self.api(format!("rename container {id} to {name}"), &err)),
        }
    }

    async fn remove_container(&self, id: &str) -> EngineResult<()> {
        let options = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        match self.client.remove_container(id, Some(options)).await {
            Ok(()) => Ok(()),
            Err(err) if status(&err) == Some(404) => Ok(()),
            // "removal of container … is already in progress"
            Err(err) if status(&err) == Some(409) && self.message(&err).contains("in progress") => {
                Ok(())
            }
            Err(err) => Err(self.api(format!("remove container {id}"), &err)),
        }
    }

    async fn kill_container(&self, id: &str, signal: &str) -> EngineResult<()> {
        let options = KillContainerOptionsBuilder::default()
            .signal(signal)
            .build();
        self.client
            .kill_container(id, Some(options))
            .await
            .map_err(|e| {
                self.api_or_missing(
                    &format!("kill container {id}"),
                    &format!("container {id}"),
                    &e,
                )
            })
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn exec(
        &self,
        id: &str,
        command: &[String],
        timeout: Duration,
    ) -> EngineResult<ExecOutcome> {
        use bollard::exec::{CreateExecOptions, StartExecResults};
        let operation = format!("run `{}` in container {id}", command.join(" "));
        let created = self
            .client
            .create_exec(
                id,
                CreateExecOptions {
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    cmd: Some(command.to_vec()),
                    ..CreateExecOptions::default()
                },
            )
            .await
            .map_err(|e| self.api_or_missing(&operation, &format!("container {id}"), &e))?;
        let started = self
            .client
            .start_exec(&created.id, None)
            .await
            .map_err(|e| self.api(operation.clone(), &e))?;
        let mut output = Vec::new();
        let mut timed_out = false;
        if let StartExecResults::Attached {
            output: mut out, ..
        } = started
        {
            let read = async {
                while let Some(frame) = out.next().await {
                    match frame {
                        Ok(f) => {
                            output.extend_from_slice(&f.into_bytes());
                            let excess = output.len().saturating_sub(super::EXEC_OUTPUT_LIMIT);
                            output.drain(..excess);
                        }
                        Err(_) => break,
                    }
                }
            };
            timed_out = tokio::time::timeout(timeout, read).await.is_err();
        }
        let exit_code = if timed_out {
            None
        } else {
            self.client
                .inspect_exec(&created.id)
                .await
                .map_err(|e| self.api(operation, &e))?
                .exit_code
        };
        Ok(ExecOutcome {
            exit_code,
            timed_out,
            output: String::from_utf8_lossy(&output).into_owned(),
        })
    }

    async fn exec_attach(
        &self,
        id: &str,
        command: &[String],
        tty: bool,
    ) -> EngineResult<super::AttachedExec> {
        use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
        let operation = format!("run `{}` in container {id}", command.join(" "));
        let created = self
            .client
            .create_exec(
                id,
                CreateExecOptions {
                    attach_stdin: Some(true),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    tty: Some(tty),
                    cmd: Some(command.to_vec()),
                    ..CreateExecOptions::default()
                },
            )
            .await
            .map_err(|e| self.api_or_missing(&operation, &format!("container {id}"), &e))?;
        let started = self
            .client
            .start_exec(
                &created.id,
                Some(StartExecOptions {
                    detach: false,
                    tty,
                    output_capacity: None,
                }),
            )
            .await
            .map_err(|e| self.api(operation.clone(), &e))?;
        let StartExecResults::Attached { output, input } = started else {
            return Err(EngineError::Api {
                operation,
                message: "the engine started it detached".into(),
            });
        };
        let output = exec_chunks(output, operation, self.kind);
        Ok(super::AttachedExec {
            id: created.id,
            output,
            input,
        })
    }

    async fn resize_tty(
        &self,
        id: &str,
        container: bool,
        rows: u16,
        cols: u16,
    ) -> EngineResult<()> {
        // Docker 20.10 answers a resize with a NUL byte on the TTY stream, which bollard then
        // reads as a frame header and the rest of the output is lost: Docker keeps its default
        // size.
        if self.kind == EngineKind::Docker {
            return Ok(());
        }
        let result = if container {
            let options = bollard::query_parameters::ResizeContainerTTYOptions {
                h: i32::from(rows),
                w: i32::from(cols),
            };
            self.client.resize_container_tty(id, options).await
        } else {
            let options = bollard::query_parameters::ResizeExecOptions {
                h: i32::from(rows),
                w: i32::from(cols),
            };
            self.client.resize_exec(id, options).await
        };
        result.map_err(|e| self.api(format!("resize the terminal of {id}"), &e))
    }

    async fn exec_exit_code(&self, exec_id: &str) -> EngineResult<Option<i64>> {
        let info = self
            .client
            .inspect_exec(exec_id)
            .await
            .map_err(|e| self.api(format!("inspect exec {exec_id}"), &e))?;
        Ok(if info.running == Some(true) {
            None
        } else {
            info.exit_code
        })
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn list_containers(&self, labels: &LabelFilter) -> EngineResult<Vec<ContainerInfo>> {
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&label_filters(labels))
            .build();
        let list: Vec<bollard::models::ContainerSummary> =
            match self.client.list_containers(Some(options)).await {
                Ok(list) => list,
                Err(err) => {
                    reread(err, fix_list_states).map_err(|e| self.api("list containers", &e))?
                }
            };
        let mut out: Vec<ContainerInfo> = list
            .into_iter()
            .map(|c| {
                let mut ports: Vec<PortBinding> = c
                    .ports
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|p| {
                        Some(PortBinding {
                            container_port: p.private_port,
                            host_ip: p.ip.unwrap_or_default(),
                            host_port: p.public_port.filter(|port| *port != 0)?,
                        })
                    })
                    .collect();
                ports.sort_by(|a, b| {
                    (a.container_port, &a.host_ip, a.host_port).cmp(&(
                        b.container_port,
                        &b.host_ip,
                        b.host_port,
                    ))
                });
                ports.dedup();
                ContainerInfo {
                    id: c.id.unwrap_or_default(),
                    name: c
                        .names
                        .and_then(|n| n.into_iter().next())
                        .map(|n| n.trim_start_matches('/').to_string())
                        .unwrap_or_default(),
                    image: c.image.unwrap_or_default(),
                    state: c.state.map(|s| s.to_string()).unwrap_or_default(),
                    status: c.status.unwrap_or_default(),
                    labels: to_btree(c.labels),
                    ports,
                }
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(id = %short(id)))]
    async fn inspect_container(&self, id: &str) -> EngineResult<ContainerDetails> {
        let c: bollard::models::ContainerInspectResponse =
            match self.client.inspect_container(id, None).await {
                Ok(c) => c,
                Err(err) => reread(err, fix_inspect_states).map_err(|e| {
                    self.api_or_missing(
                        &format!("inspect container {id}"),
                        &format!("container {id}"),
                        &e,
                    )
                })?,
            };
        let state = c.state.unwrap_or_default();
        let config = c.config.unwrap_or_default();
        let (hardening, limits) = read_hardening(c.host_config.unwrap_or_default(), &config);
        let state_text = state.status.map(|s| s.to_string()).unwrap_or_default();
        let running = state.running.unwrap_or(false);
        let status = match (&state_text[..], state.exit_code) {
            ("exited", Some(code)) => format!("exited ({code})"),
            _ => state_text.clone(),
        };
        Ok(ContainerDetails {
            info: ContainerInfo {
                id: c.id.unwrap_or_default(),
                name: c
                    .name
                    .map(|n| n.trim_start_matches('/').to_string())
                    .unwrap_or_default(),
                image: config.image.unwrap_or_default(),
                state: state_text,
                status,
                labels: to_btree(config.labels),
                ports: ports_from_map(c.network_settings.and_then(|n| n.ports)),
            },
            running,
            exit_code: state.exit_code,
            oom_killed: state.oom_killed.unwrap_or(false),
            restart_count: c
                .restart_count
                .and_then(|n| u64::try_from(n).ok())
                .unwrap_or(0),
            started_at: state
                .started_at
                .filter(|s| !s.is_empty() && !s.starts_with("0001-01-01")),
            image_id: c.image.unwrap_or_default(),
            hardening,
            limits,
        })
    }

    async fn logs(
        &self,
        id: &str,
        query: &LogQuery,
    ) -> EngineResult<BoxStream<'static, EngineResult<LogLine>>> {
        // A follow stream yields nothing until output arrives, so check the container first.
        match self.inspect_container(id).await {
            Ok(_) => {}
            Err(EngineError::Api { message, .. }) => {
                return Err(EngineError::Api {
                    operation: format!("read logs of {id}"),
                    message,
                })
            }
            Err(other) => return Err(other),
        }
        // Podman's own `tail` miscounts partial lines (a line written in two pieces comes back
        // joined to its neighbour or as an extra empty line), so on Podman the whole log (of the
        // `since`..`until` window) is read and the tail is taken here, keeping at most `n` lines
        // in memory. Docker takes its tail of the whole log before it applies the window
        // (`--tail 2 --until <an hour ago>` gives nothing), so with a window it is done here too.
        let window = query.since.is_some() || query.until.is_some();
        if let (Some(n), true) = (query.tail, self.kind == EngineKind::Podman || window) {
            let all = LogQuery {
                tail: None,
                follow: false,
                ..*query
            };
            let history = self.log_lines(id, &all);
            let (last, total) = keep_last(history, n).await?;
            let rest = if query.follow {
                let follow = LogQuery {
                    follow: true,
                    ..all
                };
                self.log_lines(id, &follow).skip(total).boxed()
            } else {
                stream::empty().boxed()
            };
            return Ok(stream::iter(last.into_iter().map(Ok)).chain(rest).boxed());
        }
        Ok(self.log_lines(id, query))
    }

    async fn events_window(
        &self,
        labels: &LabelFilter,
        since: i64,
        until: Option<i64>,
    ) -> EngineResult<BoxStream<'static, EngineResult<EngineEvent>>> {
        self.event_stream(
            "container",
            label_filters(labels),
            since.to_string(),
            until.map(|u| u.to_string()),
        )
    }

    async fn events(
        &self,
        labels: &LabelFilter,
    ) -> EngineResult<BoxStream<'static, EngineResult<EngineEvent>>> {
        // The request is sent on first poll; `since` = now keeps events between this call and
        // that poll (both engines replay them).
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let since = format!("{}.{:09}", now.as_secs(), now.subsec_nanos());
        self.event_stream("container", label_filters(labels), since, None)
    }
}

impl DockerEngine {
    /// Events of objects of type `typ` (`container`, `service`…) that pass `filters`, from
    /// `since`, up to `until` when given.
    pub(crate) fn event_stream(
        &self,
        typ: &str,
        mut filters: HashMap<String, Vec<String>>,
        since: String,
        until: Option<String>,
    ) -> EngineResult<BoxStream<'static, EngineResult<EngineEvent>>> {
        filters.insert("type".to_string(), vec![typ.to_string()]);
        let mut builder = EventsOptionsBuilder::default()
            .since(&since)
            .filters(&filters);
        if let Some(u) = &until {
            builder = builder.until(u);
        }
        let options = builder.build();
        let engine = format!("{} at {}", self.kind, self.endpoint);
        let events = self
            .client
            .events(Some(options))
            .map(move |item| match item {
                Ok(msg) => {
                    let actor = msg.actor.unwrap_or_default();
                    Ok(EngineEvent {
                        kind: msg.typ.map(|t| t.to_string()).unwrap_or_default(),
                        action: msg.action.unwrap_or_default(),
                        id: actor.id.unwrap_or_default(),
                        attributes: to_btree(actor.attributes),
                        time: msg.time.unwrap_or(0),
                        time_nano: msg.time_nano.unwrap_or(0),
                    })
                }
                Err(err) => Err(EngineError::Api {
                    operation: "watch engine events".to_string(),
                    message: match &err {
                        BollardError::DockerResponseServerError { message, .. } => message.clone(),
                        other => format!("{engine}: {}", describe_connect_error(other)),
                    },
                }),
            });
        Ok(events.boxed())
    }
}

/// The frames of an attached exec or container as [`super::ExecChunk`]s (stdin echoes dropped).
fn exec_chunks(
    output: std::pin::Pin<
        Box<dyn futures_util::Stream<Item = Result<LogOutput, BollardError>> + Send>,
    >,
    operation: String,
    kind: EngineKind,
) -> BoxStream<'static, EngineResult<super::ExecChunk>> {
    output
        .filter_map(move |frame| {
            let op = operation.clone();
            async move {
                match frame {
                    Ok(LogOutput::StdErr { message }) => Some(Ok(super::ExecChunk {
                        stderr: true,
                        bytes: message,
                    })),
                    Ok(LogOutput::StdOut { message } | LogOutput::Console { message }) => {
                        Some(Ok(super::ExecChunk {
                            stderr: false,
                            bytes: message,
                        }))
                    }
                    Ok(LogOutput::StdIn { .. }) => None,
                    Err(e) => Some(Err(EngineError::Api {
                        operation: op,
                        message: format!("{kind}: {e}"),
                    })),
                }
            }
        })
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Docker sends one frame per line (`<ts> text\n`, partial pieces joined); Podman sends a
    /// partial line's pieces as frames of their own, each with a timestamp: the line keeps the
    /// timestamp of its first piece, and the later pieces' timestamps are dropped.
    #[test]
    fn log_frames_lose_their_timestamps_to_the_line() {
        let mut ch = LogChannel::default();
        let mut push = |frame: &[u8]| {
            let (stamp, rest) = split_timestamp(frame);
            ch.push(rest, stamp)
        };
        let some = |t: &str| Some(t.to_string());
        assert_eq!(
            push(b"2026-12-02T15:37:28.825866957Z line0\n"),
            [("line0".into(), some("2026-12-02T15:37:28.825866957Z"))]
        );
        assert!(push(b"2026-12-02T15:37:29Z part").is_empty());
        assert_eq!(
            push(b"2026-12-02T15:37:30Z ial0\n"),
            [("partial0".into(), some("2026-12-02T15:37:29Z"))]
        );
        // a frame without a timestamp (a TTY chunk) is text as it is
        assert_eq!(
            push(b"no stamp here\n"),
            [("no stamp here".into(), None::<String>)]
        );
        assert_eq!(split_timestamp(b"12:00 lunch").0, None);
        let (stamp, rest) = split_timestamp(b"2026-12-02T15:37:29Z ");
        assert_eq!(
            (stamp.as_deref(), rest),
            (Some("2026-12-02T15:37:29Z"), &b""[..])
        );
    }

    #[test]
    fn port_map_is_read() {
        let map: PortMap = HashMap::from([
            (
                "8000/tcp".to_string(),
                Some(vec![ApiPortBinding {
                    host_ip: Some("127.0.0.1".into()),
                    host_port: Some("49153".into()),
                }]),
            ),
            ("9000/tcp".to_string(), None),
        ]);
        assert_eq!(
            ports_from_map(Some(map)),
            vec![PortBinding {
                container_port: 8000,
                host_ip: "127.0.0.1".into(),
                host_port: 49153
            }]
        );
    }
}
