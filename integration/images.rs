//! Real-engine tests of `build`, once on Docker and once on Podman (`images::docker::…`,
//! `images::podman::…`): each runtime's fixture README (tests/fixtures/build/) is built into an
//! image, run with the port published on 127.0.0.1, and must answer HTTP 200 on its health path.
//! Python and Node also prove the cache: after a code-only change the dependency-install step
//! comes from the cache (per the build's own step report), and an identical README builds
//! nothing. Base images and dependency layers are shared by every test on an engine, so each
//! runtime's cold build happens once per engine.
use crate::common;
use pactown::engine::{ContainerSpec, Engine, EngineKind, PortBinding};
use pactown::image::{self, BuildOptions, ServiceImage};
use pactown::markpact::{self, Markpact};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub(crate) fn ca_bundle() -> Option<PathBuf> {
    std::env::var_os("PACTOWN_CA_BUNDLE")
        .map(PathBuf::from)
        .or_else(|| Some(PathBuf::from("/etc/ssl/certs/ca-certificates.crt")))
        .filter(|p| p.exists())
}

fn fixture(case: &str) -> String {
    std::fs::read_to_string(
        common::repo_root()
            .join("tests/fixtures/build")
            .join(case)
            .join("README.md"),
    )
    .unwrap()
}

/// Builds one service from README text through `image::build_services`.
pub(crate) async fn build(engine: &dyn Engine, service: &str, readme: &str) -> ServiceImage {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "name: {service}\nservices:\n  {service}:\n    readme: README.md\n    port: 8000\n"
    );
    let eco_path = dir.path().join("eco.pactown.yaml");
    std::fs::write(&eco_path, &yaml).unwrap();
    std::fs::write(dir.path().join("README.md"), readme).unwrap();
    let eco = pactown::config::parse(&eco_path, &yaml).unwrap_or_else(|d| panic!("{d}"));
    let doc: Markpact = markpact::parse(Path::new("README.md"), readme.as_bytes())
        .unwrap_or_else(|d| panic!("{d}"));
    let docs = BTreeMap::from([(service.to_string(), doc)]);
    let opts = BuildOptions {
        ca_bundle: ca_bundle(),
        ..BuildOptions::default()
    };
    let events = |_e: image::BuildEvent| {};
    let mut images = image::build_services(engine, &eco, &docs, &[], &opts, &events)
        .await
        .unwrap_or_else(|e| {
            if let image::BuildError::Failed { log_tail, .. } = &e {
                eprintln!("{}", log_tail.join("\n"));
            }
            panic!("{e}")
        });
    assert_eq!(images.len(), 1);
    images.remove(0)
}

/// One HTTP/1.0 GET; the status code, or None when nothing answers.
async fn http_status(port: u16, path: &str) -> Option<u16> {
    let mut stream = tokio::time::timeout(
        Duration::from_secs(2),
        tokio::net::TcpStream::connect(("127.0.0.1", port)),
    )
    .await
    .ok()?
    .ok()?;
    let req = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    stream.write_all(req.as_bytes()).await.ok()?;
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buf))
        .await
        .ok()?
        .ok()?;
    let text = String::from_utf8_lossy(&buf);
    text.split_whitespace().nth(1)?.parse().ok()
}

/// Runs the image with the port published on 127.0.0.1 and waits for 200 on `path`.
async fn run_and_probe(engine: &dyn Engine, image: &ServiceImage, path: &str) {
    let port = crate::common::free_port();
    let name = common::unique(&format!("pactown-itest-{}", image.service));
    let spec = ContainerSpec {
        name: name.clone(),
        image: image.tag.clone(),
        env: BTreeMap::from([
            ("PORT".to_string(), "8000".to_string()),
            ("MARKPACT_PORT".to_string(), "8000".to_string()),
        ]),
        ports: vec![PortBinding {
            container_port: 8000,
            host_ip: "127.0.0.1".into(),
            host_port: port,
        }],
        init: true,
        ..ContainerSpec::default()
    };
    let id = engine.create_container(&spec).await.unwrap();
    engine.start_container(&id).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut last = None;
    while Instant::now() < deadline {
        last = http_status(port, path).await;
        if last == Some(200) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    if last != Some(200) {
        let mut logs = engine
            .logs(&id, &pactown::engine::LogQuery::last(50))
            .await
            .unwrap();
        let mut text = String::new();
        while let Some(Ok(line)) = futures_util::StreamExt::next(&mut logs).await {
            text.push_str(&line.text);
            text.push('\n');
        }
        let _ = engine.remove_container(&id).await;
        panic!(
            "{} never answered 200 on {path} (last: {last:?}); logs:\n{text}",
            image.tag
        );
    }
    engine.remove_container(&id).await.unwrap();
}

pub(crate) fn remove_images(kind: EngineKind, tags: &[&str]) {
    let _ = std::process::Command::new(common::cli(kind))
        .arg("rmi")
        .arg("--force")
        .args(tags)
        .output();
}

/// Builds, runs and probes one runtime, then checks an identical README builds nothing.
async fn build_run_probe(kind: EngineKind, case: &str, path: &str) {
    let Some(engine) = common::connect(kind).await else {
        return;
    };
    let service = common::unique(&format!("it-{case}"));
    // a unique service name gives a new tag, so a real build runs (its layers may be cached)
    let readme = fixture(case);
    let image = build(engine.as_ref(), &service, &readme).await;
    assert!(!image.cached);
    assert!(image
        .tag
        .starts_with(&format!("pactown/{}-", image.runtime)));
    run_and_probe(engine.as_ref(), &image, path).await;
    // identical README → no build
    let again = build(engine.as_ref(), &service, &readme).await;
    assert!(again.cached, "identical README rebuilt: {again:?}");
    assert_eq!(again.tag, image.tag);
    assert!(again.steps.is_empty());
    remove_images(kind, &[&image.tag]);
}

/// Builds once, then again after a code-only change, and checks the install step was cached.
async fn code_change_keeps_deps(
    kind: EngineKind,
    case: &str,
    code_path: &str,
    install_marker: &str,
    path: &str,
) {
    let Some(engine) = common::connect(kind).await else {
        return;
    };
    let service = common::unique(&format!("it-{case}"));
    let original = fixture(case);
    let code_line = format!("markpact:file path={code_path}\n");
    assert!(original.contains(&code_line), "{case}: no {code_path}");
    let marker = |n: u32| {
        let comment = if code_path.ends_with(".py") {
            "#"
        } else {
            "//"
        };
        original.replacen(
            &code_line,
            &format!("{code_line}{comment} {service} v{n}\n"),
            1,
        )
    };
    let first = build(engine.as_ref(), &service, &marker(1)).await;
    assert!(!first.cached);
    run_and_probe(engine.as_ref(), &first, path).await;

    let second = build(engine.as_ref(), &service, &marker(2)).await;
    assert!(!second.cached);
    assert_ne!(second.tag, first.tag);
    // the dependency image's tag exists, so its build (the install step) does not run at all;
    // if it did, the layer cache would have to serve it
    let install = second
        .steps
        .iter()
        .find(|s| s.instruction.contains(install_marker));
    assert!(
        install.is_none_or(|s| s.cached),
        "install step rebuilt after a code-only change: {install:?}"
    );
    assert!(
        first.deps_image.is_none() || first.deps_image == second.deps_image,
        "{first:?} {second:?}"
    );
    let code_copy = second
        .steps
        .iter()
        .find(|s| s.instruction.contains("\"code/\""))
        .unwrap_or_else(|| panic!("no code step in {:?}", second.steps));
    assert!(
        !code_copy.cached,
        "code layer came from the cache: {code_copy:?}"
    );
    run_and_probe(engine.as_ref(), &second, path).await;

    let third = build(engine.as_ref(), &service, &marker(2)).await;
    assert!(third.cached);
    assert_eq!(third.tag, second.tag);
    remove_images(kind, &[&first.tag, &second.tag]);
}

async fn python_fastapi_builds_runs_and_caches_deps(kind: EngineKind) {
    code_change_keeps_deps(kind, "python-fastapi", "main.py", "uv pip sync", "/health").await;
}

async fn node_express_builds_runs_and_caches_deps(kind: EngineKind) {
    code_change_keeps_deps(kind, "node-express", "server.js", "npm install", "/health").await;
}

async fn go_stdlib_builds_and_runs(kind: EngineKind) {
    build_run_probe(kind, "go-http", "/health").await;
}

async fn rust_std_builds_and_runs(kind: EngineKind) {
    build_run_probe(kind, "rust-std", "/health").await;
}

/// axum + tokio from the crate registry: the dependency graph is built in its own layer (a stub
/// main before the code), so after a code-only edit the `cargo build` of that layer comes from
/// the cache per the build's step report, and only the crate itself is compiled again.
async fn rust_crates_build_run_and_cache_deps(kind: EngineKind) {
    code_change_keeps_deps(kind, "rust-axum", "src/main.rs", "cargo build", "/health").await;
}

async fn php_builtin_server_builds_and_runs(kind: EngineKind) {
    build_run_probe(kind, "php-builtin", "/health").await;
}

async fn static_site_is_served_without_run_block(kind: EngineKind) {
    build_run_probe(kind, "static-site", "/").await;
}

async fn failing_install_reports_service_step_and_log(kind: EngineKind) {
    let Some(engine) = common::connect(kind).await else {
        return;
    };
    let service = common::unique("it-fail");
    let readme = "```python markpact:deps\npactown-no-such-package-xyz==0.0.1\n```\n\n\
                  ```python markpact:file path=main.py\nprint(1)\n```\n\n\
                  ```bash markpact:run\npython3 main.py\n```\n";
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!("name: {service}\nservices:\n  {service}:\n    readme: README.md\n");
    let eco_path = dir.path().join("eco.pactown.yaml");
    std::fs::write(&eco_path, &yaml).unwrap();
    let eco = pactown::config::parse(&eco_path, &yaml).unwrap_or_else(|d| panic!("{d}"));
    let doc = markpact::parse(Path::new("README.md"), readme.as_bytes()).unwrap();
    let docs = BTreeMap::from([(service.clone(), doc)]);
    let opts = BuildOptions {
        ca_bundle: ca_bundle(),
        ..BuildOptions::default()
    };
    let err = image::build_services(engine.as_ref(), &eco, &docs, &[], &opts, &|_| {})
        .await
        .unwrap_err();
    match err {
        image::BuildError::Failed {
            service: failed,
            step,
            log_tail,
            ..
        } => {
            assert_eq!(failed, service);
            let step = step.unwrap_or_default();
            assert!(step.contains("uv pip compile"), "{step}");
            assert!(
                log_tail
                    .iter()
                    .any(|l| l.contains("pactown-no-such-package-xyz")),
                "{log_tail:#?}"
            );
        }
        other => panic!("unexpected error: {other}"),
    }
}

/// Two builds of one README at the same time (two shells, parallel CI jobs) build it once: the
/// second waits for the first's per-tag lock, then finds the tag; both end with the same image id.
async fn concurrent_builds_of_one_readme_build_once(kind: EngineKind) {
    let Some(engine) = common::connect(kind).await else {
        return;
    };
    let service = common::unique("it-twice");
    let readme = fixture("static-site");
    let (a, b) = tokio::join!(
        build(engine.as_ref(), &service, &readme),
        build(engine.as_ref(), &service, &readme)
    );
    assert_eq!(a.tag, b.tag);
    assert_eq!(a.image_id, b.image_id, "the tag moved to a second build");
    assert_eq!(
        [a.cached, b.cached].iter().filter(|c| !**c).count(),
        1,
        "exactly one of the two must build: {a:?} {b:?}"
    );
    remove_images(kind, &[&a.tag]);
}

crate::per_engine!(async:
    concurrent_builds_of_one_readme_build_once,
    python_fastapi_builds_runs_and_caches_deps,
    node_express_builds_runs_and_caches_deps,
    go_stdlib_builds_and_runs,
    rust_std_builds_and_runs,
    rust_crates_build_run_and_cache_deps,
    php_builtin_server_builds_and_runs,
    static_site_is_served_without_run_block,
    failing_install_reports_service_step_and_log,
);
