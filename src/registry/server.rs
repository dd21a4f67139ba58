//! The registry HTTP server (axum). Reads are open; publish and delete need a bearer token
//! scoped to the namespace. Every refused request gets a 4xx with a JSON [`ErrorBody`]; only a
//! failure of the server's own storage answers 5xx.
use super::auth::{Denied, Tokens};
use super::model::{
    is_valid_name, ArtifactInfo, ErrorBody, PublishRequest, VersionInfo, MAX_BODY_BYTES,
    MAX_DESCRIPTION_CHARS, MAX_METADATA_BYTES, MAX_README_BYTES, MAX_TAGS, MAX_TAG_CHARS,
    MAX_VERSION_BYTES,
};
use super::openapi;
use super::ratelimit::RateLimiter;
use super::store::{Store, StoreError};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Route of the health check.
pub const HEALTH: &str = "/health";
/// Route of the OpenAPI document.
pub const OPENAPI: &str = "/openapi.json";
/// Route of the artifact list.
pub const ARTIFACTS: &str = "/v1/artifacts";
/// Route of one artifact.
pub const ARTIFACT: &str = "/v1/artifacts/{namespace}/{name}";
/// Route of one version.
pub const VERSION: &str = "/v1/artifacts/{namespace}/{name}/{version}";
/// Route of one version's README.
pub const README: &str = "/v1/artifacts/{namespace}/{name}/{version}/readme";
/// Route of publishing.
pub const PUBLISH: &str = "/v1/publish";
/// Route of the namespace list.
pub const NAMESPACES: &str = "/v1/namespaces";

/// Every (method, path) the router serves; the OpenAPI document is checked against it.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", HEALTH),
    ("get", OPENAPI),
    ("get", ARTIFACTS),
    ("get", ARTIFACT),
    ("delete", ARTIFACT),
    ("get", VERSION),
    ("get", README),
    ("post", PUBLISH),
    ("get", NAMESPACES),
];

/// How to run a server.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Address to listen on (port 0 picks a free port).
    pub bind: SocketAddr,
    /// Storage folder.
    pub storage: PathBuf,
    /// Accepted write tokens.
    pub tokens: Tokens,
    /// Requests per second per client IP (0 = unlimited).
    pub rate: f64,
    /// Burst size per client IP.
    pub burst: u32,
    /// Connection timeouts and caps.
    pub limits: ConnLimits,
}

/// How long a client may take and how many connections it may hold (against slowloris-style
/// clients that open connections and never finish a request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnLimits {
    /// Time to send a request's headers; also how long an idle keep-alive connection stays open.
    pub header_timeout: Duration,
    /// Time to send a request's body (and for the handler to answer).
    pub body_timeout: Duration,
    /// Total lifetime of one connection, however busy.
    pub max_lifetime: Duration,
    /// Open connections per client IP; more are answered 429 and closed.
    pub max_per_client: usize,
    /// Open connections in total; more are answered 503 and closed.
    pub max_total: usize,
}

impl Default for ConnLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_lifetime: Duration::from_secs(300),
            max_per_client: 64,
            max_total: 1024,
        }
    }
}

impl ServeConfig {
    /// A loopback server on a free port with no rate limit (for tests and embedding).
    #[must_use]
    pub fn local(storage: PathBuf, tokens: Tokens) -> Self {
        Self {
            bind: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            storage,
            tokens,
            rate: 0.0,
            burst: 1,
            limits: ConnLimits::default(),
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The storage folder could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
}

/// A started server.
#[derive(Debug)]
pub struct Running {
    /// The address it listens on.
    pub addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Base URL, `http://ADDR`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, finishes in-flight requests and returns.
    ///
    /// # Errors
    /// The server's IO error, if it failed.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        (&mut self.task).await.map_err(std::io::Error::other)?
    }

    /// Waits until the server ends (it ends on its own only on an IO error).
    ///
    /// # Errors
    /// The server's IO error.
    pub async fn wait(self) -> std::io::Result<()> {
        let Running { task, shutdown, .. } = self;
        let result = task.await.map_err(std::io::Error::other)?;
        drop(shutdown);
        result
    }
}

/// True for loopback addresses (the only ones a default registry binds).
#[must_use]
pub fn is_loopback(addr: &SocketAddr) -> bool {
    addr.ip().is_loopback()
}

/// Opens the storage, binds and starts serving in the background.
///
/// # Errors
/// Storage and bind errors.
pub async fn start(config: ServeConfig) -> Result<Running, ServeError> {
    let storage = config.storage.clone();
    let store = tokio::task::spawn_blocking(move || Store::open(&storage))
        .await
        .map_err(|e| {
            ServeError::Store(StoreError::Io {
                context: "storage task failed",
                path: config.storage.clone(),
                source: std::io::Error::other(e),
            })
        })??;
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .map_err(|source| ServeError::Bind {
            addr: config.bind,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| ServeError::Bind {
        addr: config.bind,
        source,
    })?;
    let state = AppState {
        store: Arc::new(store),
        tokens: Arc::new(config.tokens),
        limiter: Arc::new(RateLimiter::new(config.rate, config.burst)),
        body_timeout: config.limits.body_timeout,
    };
    let app = router(state);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve_loop(listener, app, config.limits, rx));
    Ok(Running {
        addr,
        shutdown: Some(tx),
        task,
    })
}

/// Shared state of the handlers.
#[derive(Debug, Clone)]
pub struct AppState {
    store: Arc<Store>,
    tokens: Arc<Tokens>,
    limiter: Arc<RateLimiter>,
    body_timeout: Duration,
}

/// Open connections, per client IP and in total.
#[derive(Debug, Default)]
struct Slots(std::sync::Mutex<(HashMap<IpAddr, usize>, usize)>);

/// One open connection; frees its slot when dropped.
struct Slot {
    slots: Arc<Slots>,
    ip: IpAddr,
}

impl Slots {
    fn lock(&self) -> std::sync::MutexGuard<'_, (HashMap<IpAddr, usize>, usize)> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Takes a slot for a new connection from `ip`, or says which cap it would exceed.
fn acquire(slots: &Arc<Slots>, ip: IpAddr, limits: &ConnLimits) -> Result<Slot, ApiError> {
    let mut guard = slots.lock();
    let (per_ip, total) = &mut *guard;
    if *total >= limits.max_total {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "too_many_connections",
            format!(
                "the registry has {} open connections; retry later",
                limits.max_total
            ),
        ));
    }
    let mine = per_ip.entry(ip).or_insert(0);
    if *mine >= limits.max_per_client {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_connections",
            format!(
                "{ip} already has {} open connections; close some or reuse one",
                limits.max_per_client
            ),
        ));
    }
    *mine += 1;
    *total += 1;
    Ok(Slot {
        slots: Arc::clone(slots),
        ip,
    })
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut guard = self.slots.lock();
        let (per_ip, total) = &mut *guard;
        *total = total.saturating_sub(1);
        if let Some(n) = per_ip.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                per_ip.remove(&self.ip);
            }
        }
    }
}

/// Answers a connection over a cap with the JSON error and closes it, without reading the
/// request (the rest of what it sends is drained for a moment, so the answer is not lost to a
/// reset).
async fn refuse(mut stream: tokio::net::TcpStream, err: ApiError) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let answer = super::guard::error_response(err.status, err.code, &err.message);
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(&answer).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 4096];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<(), std::io::Error>(())
    })
    .await;
}

/// The accept loop: every connection gets a slot (per-client and total caps), a header read
/// timeout (which also closes idle keep-alive connections), a maximum lifetime, and a
/// [`super::guard::Guarded`] socket, so heads hyper would refuse itself get the JSON error body;
/// requests get a time limit in [`time_limit`]. Ends on `shutdown`, letting in-flight requests finish.
async fn serve_loop(
    listener: tokio::net::TcpListener,
    app: Router,
    limits: ConnLimits,
    mut shutdown: tokio::sync::oneshot::Receiver<()>,
) -> std::io::Result<()> {
    let slots = Arc::new(Slots::default());
    let (close_tx, close_rx) = tokio::sync::watch::channel(false);
    let (done_tx, mut done_rx) = tokio::sync::mpsc::channel::<()>(1);
    loop {
        let (stream, peer) = tokio::select! {
            biased;
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::debug!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let slot = match acquire(&slots, peer.ip(), &limits) {
            Ok(slot) => slot,
            Err(err) => {
                tokio::spawn(refuse(stream, err));
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let refusal = super::guard::RefusalSlot::default();
        let service = {
            let app = app.clone();
            let slot = refusal.clone();
            tower::service_fn(move |mut req: axum::http::Request<hyper::body::Incoming>| {
                let app = app.clone();
                // the guard's stand-in for a head it refused: answer with the refusal
                let refused = (req.uri().path() == super::guard::REFUSED_PATH)
                    .then(|| super::guard::take_refusal(&slot))
                    .flatten();
                req.extensions_mut().insert(ConnectInfo(peer));
                async move {
                    match refused {
                        Some(r) => {
                            let mut resp =
                                ApiError::new(r.status, r.code, r.message).into_response();
                            resp.headers_mut()
                                .insert(header::CONNECTION, HeaderValue::from_static("close"));
                            Ok(resp)
                        }
                        None => tower::ServiceExt::oneshot(app, req).await,
                    }
                }
            })
        };
        let service = hyper_util::service::TowerToHyperService::new(service);
        let mut close = close_rx.clone();
        let done = done_tx.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let _done = done;
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .keep_alive(true);
            let conn = builder.serve_connection(
                hyper_util::rt::TokioIo::new(super::guard::Guarded::new(stream, refusal)),
                service,
            );
            let mut conn = std::pin::pin!(conn);
            let _ = tokio::time::timeout(limits.max_lifetime, async {
                let mut closing = false;
                loop {
                    tokio::select! {
                        _ = conn.as_mut() => break,
                        _ = close.changed(), if !closing => {
                            closing = true;
                            conn.as_mut().graceful_shutdown();
                        }
                    }
                }
            })
            .await;
        });
    }
    drop(listener);
    let _ = close_tx.send(true);
    drop(done_tx);
    // Every connection task holds a sender; all dropped = all finished.
    let _ = done_rx.recv().await;
    Ok(())
}

/// Gives every request [`ConnLimits::body_timeout`] to send its body and be answered: a stalled
/// upload gets 408 with the JSON error and the connection is closed.
async fn time_limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let close = super::guard::closes_after(req.method(), req.headers());
    let mut resp = match tokio::time::timeout(state.body_timeout, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => {
            let mut resp = ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                format!(
                    "the request was not complete within {} s; send the body at once",
                    state.body_timeout.as_secs()
                ),
            )
            .into_response();
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            resp
        }
    };
    if close {
        // the guard stopped checking this connection's heads (a chunked body): no next request
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

/// The router with every route, the JSON fallbacks and the rate limiter.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route(HEALTH, get(health))
        .route(OPENAPI, get(openapi_doc))
        .route(ARTIFACTS, get(list_artifacts))
        .route(ARTIFACT, get(get_artifact).delete(delete_artifact))
        .route(VERSION, get(get_version))
        .route(README, get(get_readme))
        .route(PUBLISH, post(publish))
        .route(NAMESPACES, get(namespaces))
        .fallback(unknown_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(state.clone(), rate_limit))
        .layer(middleware::from_fn_with_state(state.clone(), time_limit))
        .with_state(state)
}

/// A refused or failed request: status, stable code, message.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    fn not_found(what: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", what)
    }

    fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.code.into(),
            message: self.message,
        };
        let mut resp = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict { .. } => {
                Self::new(StatusCode::CONFLICT, "version_conflict", e.to_string())
            }
            StoreError::NotFound(what) => Self::not_found(format!("artifact {what} not found")),
            other => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "storage_error",
                other.to_string(),
            ),
        }
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            format!("worker failed: {e}"),
        )
    })?
}

async fn rate_limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !state.limiter.disabled() {
        let ip = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
        if let Err(wait) = state.limiter.check(ip, Instant::now()) {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let mut err = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("too many requests from {ip}; retry in {secs} s"),
            );
            err.retry_after = Some(secs.max(1));
            return err.into_response();
        }
    }
    next.run(req).await
}

async fn unknown_route(req: Request) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "unknown_route",
        format!(
            "no route {} {}; see /openapi.json for the API",
            req.method(),
            req.uri().path()
        ),
    )
}

async fn method_not_allowed(req: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "{} is not allowed on {}; see /openapi.json",
            req.method(),
            req.uri().path()
        ),
    )
}

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok", "service": "pactown-registry"}))
}

async fn openapi_doc() -> Json<serde_json::Value> {
    Json(openapi::document())
}

/// Query of `GET /v1/artifacts`.
#[derive(Debug, Deserialize)]
struct ListQuery {
    namespace: Option<String>,
    search: Option<String>,
}

async fn list_artifacts(
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Vec<ArtifactInfo>>, ApiError> {
    let Query(q) = query.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            format!("invalid query string: {}", e.body_text()),
        )
    })?;
    let needle = q.search.as_deref().map(str::to_lowercase);
    let snap = state.store.snapshot();
    let list = snap
        .artifacts
        .values()
        .filter(|a| q.namespace.as_deref().is_none_or(|ns| a.namespace == ns))
        .filter(|a| {
            needle.as_deref().is_none_or(|n| {
                a.name.to_lowercase().contains(n)
                    || a.description.to_lowercase().contains(n)
                    || a.tags.iter().any(|t| t.to_lowercase().contains(n))
            })
        })
        .map(super::model::ArtifactRecord::info)
        .collect();
    Ok(Json(list))
}

fn path_error(e: &PathRejection) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_path",
        format!("invalid path: {}", e.body_text()),
    )
}

async fn get_artifact(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Json<ArtifactInfo>, ApiError> {
    let Path((ns, name)) = path.map_err(|e| path_error(&e))?;
    let snap = state.store.snapshot();
    snap.artifacts
        .get(&format!("{ns}/{name}"))
        .map(|a| Json(a.info()))
        .ok_or_else(|| ApiError::not_found(format!("artifact {ns}/{name} not found")))
}

async fn find_version(
    state: &AppState,
    ns: &str,
    name: &str,
    version: &str,
) -> Result<VersionInfo, ApiError> {
    let snap = state.store.snapshot();
    let artifact = snap
        .artifacts
        .get(&format!("{ns}/{name}"))
        .ok_or_else(|| ApiError::not_found(format!("artifact {ns}/{name} not found")))?;
    let rec = artifact.get_version(version).cloned().ok_or_else(|| {
        ApiError::not_found(format!(
            "version {version} of {ns}/{name} not found (versions: {})",
            artifact.info().versions.join(", ")
        ))
    })?;
    let store = Arc::clone(&state.store);
    let stored = rec.clone();
    let (readme, metadata) = blocking(move || {
        Ok((
            store.read_blob(&stored.checksum)?,
            store.read_metadata(&stored)?,
        ))
    })
    .await?;
    Ok(VersionInfo {
        version: rec.version,
        readme_content: readme,
        checksum: rec.checksum,
        published_at: rec.published_at,
        metadata,
    })
}

async fn get_version(
    State(state): State<AppState>,
    path: Result<Path<(String, String, String)>, PathRejection>,
) -> Result<Json<VersionInfo>, ApiError> {
    let Path((ns, name, version)) = path.map_err(|e| path_error(&e))?;
    find_version(&state, &ns, &name, &version).await.map(Json)
}

async fn get_readme(
    State(state): State<AppState>,
    path: Result<Path<(String, String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path((ns, name, version)) = path.map_err(|e| path_error(&e))?;
    let v = find_version(&state, &ns, &name, &version).await?;
    let mut resp = Json(serde_json::json!({"content": v.readme_content})).into_response();
    if let Ok(etag) = HeaderValue::from_str(&format!("\"sha256:{}\"", v.checksum)) {
        resp.headers_mut().insert(header::ETAG, etag);
    }
    Ok(resp)
}

async fn namespaces(State(state): State<AppState>) -> Json<serde_json::Value> {
    let snap = state.store.snapshot();
    let mut list: Vec<&str> = snap
        .artifacts
        .values()
        .map(|a| a.namespace.as_str())
        .collect();
    list.sort_unstable();
    list.dedup();
    Json(serde_json::json!({ "namespaces": list }))
}

fn denied(d: Denied, namespace: Option<&str>) -> ApiError {
    match d {
        Denied::Missing => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "this request needs `Authorization: Bearer TOKEN` (set PACTOWN_REGISTRY_TOKEN for the pactown client)",
        ),
        Denied::Unknown => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the bearer token is not known to this registry",
        ),
        Denied::Scope => ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "the token may not write namespace `{}`; ask for a token scoped to it",
                namespace.unwrap_or_default()
            ),
        ),
        Denied::ReadOnly => ApiError::new(
            StatusCode::FORBIDDEN,
            "read_only",
            "this registry was started without --token-file and accepts no writes",
        ),
    }
}

fn auth_header(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
}

async fn delete_artifact(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Path((ns, name)) = path.map_err(|e| path_error(&e))?;
    state
        .tokens
        .authorize(auth_header(&headers), Some(&ns))
        .map_err(|d| denied(d, Some(&ns)))?;
    let store = Arc::clone(&state.store);
    let (n, m) = (ns.clone(), name.clone());
    blocking(move || store.delete(&n, &m).map_err(ApiError::from)).await?;
    Ok(Json(serde_json::json!({
        "success": true,
        "message": format!("Deleted {ns}/{name}"),
    })))
}

/// Checks a publish request's fields (names, semver, tags, size, markpact).
///
/// # Errors
/// 413 for an oversized README, 422 for everything else.
pub fn validate_publish(req: &PublishRequest) -> Result<(), ApiError> {
    for (what, value) in [("name", &req.name), ("namespace", &req.namespace)] {
        if !is_valid_name(value) {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_name",
                format!("{what} `{value}` must match [a-z0-9][a-z0-9._-]{{0,63}}"),
            ));
        }
    }
    if req.version.len() > MAX_VERSION_BYTES {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_version",
            format!(
                "version is {} bytes; the limit is {MAX_VERSION_BYTES}",
                req.version.len()
            ),
        ));
    }
    if let Err(e) = semver::Version::parse(&req.version) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_version",
            format!(
                "version `{}` is not semver ({e}); write e.g. 1.2.3",
                req.version
            ),
        ));
    }
    if req.readme_content.len() > MAX_README_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "readme_too_large",
            format!(
                "README is {} bytes; the limit is {MAX_README_BYTES}",
                req.readme_content.len()
            ),
        ));
    }
    if req.description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(ApiError::invalid(format!(
            "description is longer than {MAX_DESCRIPTION_CHARS} characters"
        )));
    }
    let metadata = serde_json::to_vec(&req.metadata).map_or(usize::MAX, |v| v.len());
    if metadata > MAX_METADATA_BYTES {
        return Err(ApiError::invalid(format!(
            "metadata is {metadata} bytes of JSON; the limit is {MAX_METADATA_BYTES} (keep large data in the README)"
        )));
    }
    if req.tags.len() > MAX_TAGS {
        return Err(ApiError::invalid(format!("more than {MAX_TAGS} tags")));
    }
    if let Some(bad) = req
        .tags
        .iter()
        .find(|t| t.trim().is_empty() || t.chars().count() > MAX_TAG_CHARS)
    {
        return Err(ApiError::invalid(format!(
            "tag `{bad}` must be 1 to {MAX_TAG_CHARS} characters"
        )));
    }
    Ok(())
}

fn check_markpact(req: &PublishRequest) -> Result<(), ApiError> {
    let name = std::path::Path::new("README.md");
    match crate::markpact::parse(name, req.readme_content.as_bytes()) {
        Ok(_) => Ok(()),
        Err(diags) => {
            let shown: Vec<String> = diags
                .0
                .iter()
                .filter(|d| d.is_error())
                .take(5)
                .map(ToString::to_string)
                .collect();
            Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_readme",
                format!(
                    "readme_content is not a valid markpact document: {}",
                    shown.join("; ")
                ),
            ))
        }
    }
}

async fn publish(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    state
        .tokens
        .authorize(auth_header(&headers), None)
        .map_err(|d| denied(d, None))?;
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("request body is over {MAX_BODY_BYTES} bytes"),
            )
        } else {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", e.body_text())
        }
    })?;
    let json_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json_type {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the publish request as `Content-Type: application/json`",
        ));
    }
    let req: PublishRequest = serde_json::from_slice(&body).map_err(|e| {
        let code = if e.is_data() {
            "invalid_request"
        } else {
            "invalid_json"
        };
        let status = if e.is_data() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::BAD_REQUEST
        };
        ApiError::new(status, code, format!("publish body: {e}"))
    })?;
    state
        .tokens
        .authorize(auth_header(&headers), Some(&req.namespace))
        .map_err(|d| denied(d, Some(&req.namespace)))?;
    validate_publish(&req)?;
    let store = Arc::clone(&state.store);
    let published = blocking(move || {
        check_markpact(&req)?;
        store.publish(&req).map_err(ApiError::from)
    })
    .await?;
    let mut resp = Json(&published.response).into_response();
    resp.headers_mut().insert(
        "x-pactown-created",
        HeaderValue::from_static(if published.created { "true" } else { "false" }),
    );
    Ok(resp)
}
