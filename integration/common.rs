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
