//! Helpers shared by the integration tests.
use pactown::engine::EngineKind;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

/// True when a missing engine must fail the test instead of skipping it.
pub fn engines_required() -> bool {
    std::env::var("PACTOWN_REQUIRE_ENGINES").is_ok_and(|v| v == "1")
}

/// Path of the Docker socket used by the tests.
pub fn docker_socket() -> PathBuf {
    std::env::var("DOCKER_HOST")
        .ok()
        .and_then(|h| h.strip_prefix("unix://").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("/var/run/docker.sock"))
}

/// Whether Docker is reachable; panics when it is not but engines are required.
pub fn docker_available() -> bool {
    let ok = std::os::unix::net::UnixStream::connect(docker_socket()).is_ok();
    if !ok && engines_required() {
        panic!(
            "PACTOWN_REQUIRE_ENGINES=1 but no Docker socket at {}",
            docker_socket().display()
        );
    }
    if !ok {
        eprintln!("skipping: no Docker engine");
    }
    ok
}

/// A name unique to this test run, for containers, networks and ecosystems.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{:x}", std::process::id(), nanos)
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Path of the Podman API socket used by the tests (`CONTAINER_HOST` when it is a unix URL).
pub fn podman_socket() -> PathBuf {
    std::env::var("CONTAINER_HOST")
        .ok()
        .and_then(|h| h.strip_prefix("unix://").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("/run/podman/podman.sock"))
}

/// Whether Podman's API socket answers; panics when it does not but engines are required.
pub fn podman_available() -> bool {
    let ok = std::os::unix::net::UnixStream::connect(podman_socket()).is_ok();
    if !ok && engines_required() {
        panic!(
            "PACTOWN_REQUIRE_ENGINES=1 but no Podman socket at {}",
            podman_socket().display()
        );
    }
    if !ok {
        eprintln!("skipping: no Podman engine");
    }
    ok
}

/// The engines reachable here, each connected through `pactown::engine::connect` (Docker
/// first). Missing ones are skipped, or fail the test under `PACTOWN_REQUIRE_ENGINES=1`.
pub async fn engines() -> Vec<std::sync::Arc<dyn pactown::engine::Engine>> {
    use pactown::config::EngineChoice;
    let mut out = Vec::new();
    for (choice, available) in [
        (EngineChoice::Docker, docker_available as fn() -> bool),
        (EngineChoice::Podman, podman_available as fn() -> bool),
    ] {
        if !available() {
            continue;
        }
        match pactown::engine::connect(choice).await {
            Ok(engine) => out.push(engine),
            Err(err) if engines_required() => panic!("{choice:?}: {err}"),
            Err(err) => eprintln!("skipping {choice:?}: {err}"),
        }
    }
    out
}

/// Whether `kind`'s socket answers; panics when it does not but engines are required.
pub fn available(kind: pactown::engine::EngineKind) -> bool {
    match kind {
        pactown::engine::EngineKind::Docker => docker_available(),
        pactown::engine::EngineKind::Podman => podman_available(),
    }
}

/// `kind` connected through `pactown::engine::connect`, or `None` (the test skips) when its
/// socket is missing; a missing or broken engine fails under `PACTOWN_REQUIRE_ENGINES=1`.
pub async fn connect(
    kind: pactown::engine::EngineKind,
) -> Option<std::sync::Arc<dyn pactown::engine::Engine>> {
    if !available(kind) {
        return None;
    }
    match pactown::engine::connect(choice(kind)).await {
        Ok(engine) => {
            assert_eq!(
                engine.kind(),
                kind,
                "asked for {kind}, connected to another engine"
            );
            Some(engine)
        }
        Err(err) if engines_required() => panic!("{kind}: {err}"),
        Err(err) => {
            eprintln!("skipping {kind}: {err}");
            None
        }
    }
}

/// The `--engine` value / [`pactown::config::EngineChoice`] for `kind`.
pub fn choice(kind: pactown::engine::EngineKind) -> pactown::config::EngineChoice {
    match kind {
        pactown::engine::EngineKind::Docker => pactown::config::EngineChoice::Docker,
        pactown::engine::EngineKind::Podman => pactown::config::EngineChoice::Podman,
    }
}

/// The command-line client of `kind` (`docker` or `podman`), for checks from outside pactown.
pub fn cli(kind: pactown::engine::EngineKind) -> &'static str {
    match kind {
        pactown::engine::EngineKind::Docker => "docker",
        pactown::engine::EngineKind::Podman => "podman",
    }
}

/// Runs the engine's CLI; its trimmed stdout.
pub fn cli_output(kind: pactown::engine::EngineKind, args: &[&str]) -> String {
    let out = std::process::Command::new(cli(kind))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", cli(kind)));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Generates one test per engine for each named `fn NAME(kind: EngineKind)` of the calling
/// module: `docker::NAME` and `podman::NAME` (filter with `docker::` / `podman::`). `async`
/// bodies run on a multi-thread tokio runtime; `sync` bodies are plain tests.
#[macro_export]
macro_rules! per_engine {
    (async: $($name:ident),* $(,)?) => {
        $crate::per_engine!(@async docker, Docker, $($name),*);
        $crate::per_engine!(@async podman, Podman, $($name),*);
    };
    (sync: $($name:ident),* $(,)?) => {
        $crate::per_engine!(@sync docker, Docker, $($name),*);
        $crate::per_engine!(@sync podman, Podman, $($name),*);
    };
    (@async $module:ident, $kind:ident, $($name:ident),*) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $name() {
                    super::$name(pactown::engine::EngineKind::$kind).await;
                }
            )*
        }
    };
    (@sync $module:ident, $kind:ident, $($name:ident),*) => {
        mod $module {
            $(
                #[test]
                fn $name() {
                    super::$name(pactown::engine::EngineKind::$kind);
                }
            )*
        }
    };
}

/// A command's exit code, stdout and stderr, for assertion messages.
pub fn text(o: &std::process::Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs the docker CLI and returns its output.
pub fn docker(args: &[&str]) -> std::process::Output {
    std::process::Command::new("docker")
        .args(args)
        .output()
        .expect("run docker")
}

/// The system CA bundle, handed to builds when `PACTOWN_CA_BUNDLE` is unset (the build machines
/// reach PyPI and npm through a TLS-intercepting proxy).
const CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The `pactown` binary under test, without arguments: `NO_COLOR=1`, the ambient
/// `PACTOWN_ENGINE`, `PACTOWN_FILE`, `PACTOWN_PROJECT_NAME` and `PACTOWN_TENANT` removed (each test names its engine,
/// file and tenant), and `PACTOWN_CA_BUNDLE` set to [`CA_BUNDLE`] when it is unset and that
/// file exists. Add environment, a working directory or pipes before running it.
pub fn pactown_cmd() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pactown"));
    c.env("NO_COLOR", "1")
        .env_remove("PACTOWN_ENGINE")
        .env_remove("PACTOWN_FILE")
        .env_remove("PACTOWN_PROJECT_NAME")
        .env_remove("PACTOWN_TENANT");
    if std::env::var_os("PACTOWN_CA_BUNDLE").is_none() && Path::new(CA_BUNDLE).exists() {
        c.env("PACTOWN_CA_BUNDLE", CA_BUNDLE);
    }
    c
}

/// Runs `pactown ARGS` ([`pactown_cmd`]) to the end; its output, whatever the exit code.
pub fn pactown(args: &[&str]) -> Output {
    pactown_cmd().args(args).output().expect("run pactown")
}

/// [`pactown`] in the folder `dir` (for relative ecosystem files).
pub fn pactown_in(dir: &Path, args: &[&str]) -> Output {
    pactown_cmd()
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run pactown")
}

/// A successful command's stdout parsed as JSON; panics with the whole output otherwise.
pub fn stdout_json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", text(o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("bad JSON ({e}): {}", text(o)))
}

/// `pactown status FILE --json --engine KIND EXTRA…`, parsed; panics when it fails.
pub fn status_json(kind: EngineKind, file: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["status", file, "--json", "--engine", cli(kind)];
    args.extend_from_slice(extra);
    stdout_json(&pactown(&args))
}

/// The row of `service` in `status --json` output (`status["services"]`); panics when absent.
pub fn row<'a>(status: &'a serde_json::Value, service: &str) -> &'a serde_json::Value {
    status["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == service)
        .unwrap_or_else(|| panic!("no {service} in {status}"))
}

/// GET `http://HOST:PORT/PATH` over plain HTTP/1.0 with std only; (status, body). A connection
/// error or an unreadable answer gives status 0; reading gives up after 15 s.
pub fn http_get(url: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let Ok(mut s) = std::net::TcpStream::connect(host) else {
        return (0, String::new());
    };
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let _ = write!(s, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n");
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    let status = buf
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = buf
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// A port of 127.0.0.1 that was free just now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `base_port` for a test's ecosystem: 20000–39999, from a port that was free just now (the
/// orchestrator moves on when one is busy anyway).
pub fn free_base() -> u16 {
    20_000 + free_port() % 20_000
}

/// An even `base_port` (room for two services) in 20000–29999 for Docker and 30000–39999 for
/// Podman, so the two engines' runs of one test never share ports.
pub fn free_base_for(kind: EngineKind) -> u16 {
    let offset = if kind == EngineKind::Docker {
        0
    } else {
        10_000
    };
    20_000 + offset + (free_port() % 5_000) * 2
}

/// Copies a folder recursively.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// Stops a background `pactown` like Ctrl-C does: SIGINT, up to 30 s to exit, then SIGKILL.
pub fn stop_child(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Runs `pactown down FILE --engine KIND --timeout 2` (plus `--name`, `--tenant` when given)
/// when dropped, so a test brings its ecosystem down even when it fails; a failed clean-up is
/// printed, not raised.
pub struct Down {
    file: PathBuf,
    kind: EngineKind,
    name: Option<String>,
    tenant: Option<String>,
    timeout: u32,
}

impl Down {
    /// Brings the ecosystem of `file` down on `kind`.
    pub fn new(file: impl Into<PathBuf>, kind: EngineKind) -> Self {
        Self {
            file: file.into(),
            kind,
            name: None,
            tenant: None,
            timeout: 2,
        }
    }

    /// Also passes `--name NAME`, for a file that may be broken by then.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Brings down the copy of `tenant` (`--tenant`) instead of the file's own ecosystem.
    #[must_use]
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// Waits `secs` for each container to stop (`--timeout`) instead of 2.
    #[must_use]
    pub fn timeout(mut self, secs: u32) -> Self {
        self.timeout = secs;
        self
    }
}

impl Drop for Down {
    fn drop(&mut self) {
        let timeout = self.timeout.to_string();
        let mut args = vec![
            "down",
            self.file.to_str().unwrap(),
            "--engine",
            cli(self.kind),
            "--timeout",
            &timeout,
        ];
        if let Some(name) = &self.name {
            args.extend(["--name", name]);
        }
        if let Some(tenant) = &self.tenant {
            args.extend(["--tenant", tenant]);
        }
        let o = pactown(&args);
        if !o.status.success() {
            eprintln!("cleanup failed: {}", text(&o));
        }
    }
}

/// `name id` of every container of the ecosystem `name` on `kind`, sorted.
pub fn container_ids(kind: EngineKind, name: &str) -> Vec<String> {
    let filter = format!("label=io.pactown.ecosystem={name}");
    let mut v: Vec<String> = cli_output(
        kind,
        &[
            "ps",
            "-a",
            "--no-trunc",
            "--filter",
            &filter,
            "--format",
            "{{.Names}} {{.ID}}",
        ],
    )
    .lines()
    .map(str::to_string)
    .collect();
    v.sort();
    v
}

/// A markpact README of a stdlib-only Python HTTP service listening on `$PORT`: `prelude` runs
/// first at the top of `server.py` (which imports `http.server`, `os`, `sys`, `time` and
/// `urllib.request`), then every GET runs `handler` — the body of `do_GET`, indented by 8 spaces,
/// answering with `self.reply(code, body)`.
pub fn python_service(title: &str, prelude: &str, handler: &str) -> String {
    format!(
        r#"# {title}

```python markpact:file path=server.py
import http.server, os, sys, time, urllib.request

{prelude}

class H(http.server.BaseHTTPRequestHandler):
    def reply(self, code, body):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
{handler}

    def log_message(self, *a):
        pass

http.server.ThreadingHTTPServer(("0.0.0.0", int(os.environ["PORT"])), H).serve_forever()
```

```bash markpact:run
python3 server.py
```
"#
    )
}

/// The original pactown's release whose examples are checked (`PACTOWN_ORIGINAL_VERSION`
/// overrides).
pub const ORIGINAL_VERSION: &str = "0.1.173";

/// A working copy of the original's `examples/NAME` (from [`original_sdist`], unchanged) in
/// `into/NAME`, or `None` when PyPI cannot be reached; panics when the example has no
/// `saas.pactown.yaml`.
pub fn original_example(into: &Path, name: &str) -> Option<PathBuf> {
    let sdist = original_sdist(into)?;
    let example = sdist.join("examples").join(name);
    assert!(
        example.join("saas.pactown.yaml").is_file(),
        "no examples/{name}/saas.pactown.yaml in {}",
        sdist.display()
    );
    let dir = into.join(name);
    copy_dir(&example, &dir);
    Some(dir)
}

/// Downloads the original pactown's source distribution from PyPI with pip (3 tries) into
/// `into` and returns the unpacked folder, or `None` when PyPI cannot be reached (a failure
/// when [`engines_required`]).
pub fn original_sdist(into: &Path) -> Option<PathBuf> {
    let version =
        std::env::var("PACTOWN_ORIGINAL_VERSION").unwrap_or_else(|_| ORIGINAL_VERSION.into());
    let mut last = None;
    for attempt in 1..=3u64 {
        let mut cmd = Command::new("python3");
        cmd.args(["-m", "pip", "download", "--no-deps", "--no-binary", ":all:"])
            .args(["--disable-pip-version-check", "-q", "-d"])
            .arg(into)
            .arg(format!("pactown=={version}"));
        let ca = Path::new("/etc/ssl/certs/ca-certificates.crt");
        if std::env::var_os("PIP_CERT").is_none() && ca.is_file() {
            cmd.env("PIP_CERT", ca);
        }
        let o = cmd.output().expect("run python3 -m pip");
        if o.status.success() {
            last = None;
            break;
        }
        last = Some(text(&o));
        std::thread::sleep(Duration::from_secs(attempt * 3));
    }
    if let Some(err) = last {
        if engines_required() {
            panic!("cannot download the original pactown {version} from PyPI: {err}");
        }
        eprintln!("skipping: PyPI not reachable: {err}");
        return None;
    }
    let tarball = into.join(format!("pactown-{version}.tar.gz"));
    let o = Command::new("tar")
        .arg("-xzf")
        .arg(&tarball)
        .arg("-C")
        .arg(into)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    Some(into.join(format!("pactown-{version}")))
}

/// `GET url` with curl (10 s at most, no proxy): the JSON body of a 2xx answer.
pub fn get_json(url: &str) -> serde_json::Value {
    curl_json(url, &[])
}

/// `POST url` with a JSON body, like [`get_json`].
pub fn post_json(url: &str, body: &serde_json::Value) -> serde_json::Value {
    let body = body.to_string();
    curl_json(
        url,
        &[
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "-d",
            &body,
        ],
    )
}

fn curl_json(url: &str, extra: &[&str]) -> serde_json::Value {
    let body = Command::new("curl")
        .args(["-fsS", "--max-time", "10", "--noproxy", "*"])
        .args(extra)
        .arg(url)
        .output()
        .unwrap();
    assert!(body.status.success(), "{url}: {}", text(&body));
    serde_json::from_slice(&body.stdout)
        .unwrap_or_else(|e| panic!("{url}: not JSON ({e}): {}", text(&body)))
}
