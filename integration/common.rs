//! Helpers shared by the integration tests.
use std::path::PathBuf;

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
