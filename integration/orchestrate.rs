//! Integration tests: the orchestrator against a real engine, once on Docker and once on Podman
//! (`orchestrate::docker::…`, `orchestrate::podman::…`), driven through the `pactown` binary on
//! a copy of `examples/polyglot` with a unique ecosystem name and an engine-specific port range
//! (both engines' tests run in parallel). The images are content-addressed, so every test on one
//! engine shares them: the first `up` builds, the rest start. Every test brings its ecosystem
//! down in a guard, even when it fails.
use crate::common::{self, http_get, pactown, row, text, Down};
use pactown::engine::EngineKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The engine's CLI (`docker …` / `podman …`), trimmed stdout.
fn engine_cli(kind: EngineKind, args: &[&str]) -> String {
    common::cli_output(kind, args)
}

/// First two digits of the published ports of `kind`'s copy, `base` for the first test.
fn port_prefix(kind: EngineKind, base: u16) -> u16 {
    match kind {
        EngineKind::Docker => base,
        EngineKind::Podman => base + 3,
    }
}

/// A copy of the polyglot example under a unique ecosystem name, its ports moved from 81xx to
/// `{prefix}xx` and `engine: {kind}` in the file (the tests also pass `--engine`).
fn polyglot_copy(dir: &Path, name: &str, kind: EngineKind, prefix: u16) -> PathBuf {
    common::copy_dir(&common::repo_root().join("examples/polyglot"), dir);
    let file = dir.join("polyglot.pactown.yaml");
    let yaml = std::fs::read_to_string(&file).unwrap();
    let moved = yaml
        .replace("name: polyglot", &format!("name: {name}\nengine: {kind}"))
        .replace("port: 81", &format!("port: {prefix}"));
    assert!(moved.contains(&format!("port: {prefix}00")), "{moved}");
    std::fs::write(&file, moved).unwrap();
    file
}

fn labelled(engine: EngineKind, kind: &str, name: &str) -> Vec<String> {
    let filter = format!("label=io.pactown.ecosystem={name}");
    let out = match kind {
        "container" => engine_cli(engine, &["ps", "-aq", "--filter", &filter]),
        _ => engine_cli(engine, &["network", "ls", "-q", "--filter", &filter]),
    };
    out.lines()
        .map(str::to_string)
        .filter(|l| !l.is_empty())
        .collect()
}

fn polyglot_comes_up_talks_restarts_is_idempotent_and_goes_down(kind: EngineKind) {
    if !common::available(kind) {
        return;
    }
    let engine = common::cli(kind);
    let prefix = port_prefix(kind, 81);
    let tmp = tempfile::tempdir().unwrap();
    let name = common::unique("poly");
    let file = polyglot_copy(tmp.path(), &name, kind, prefix);
    let f = file.to_str().unwrap();
    let guard = Down::new(&file, kind).name(&name);

    // 1. up -d: builds what is missing, starts by dependencies, returns when all are healthy
    let o = pactown(&["up", f, "-d", "--engine", engine, "--timeout", "120"]);
    assert!(o.status.success(), "{}", text(&o));

    // 2. status --json matches reality, and names the engine
    let st = common::status_json(kind, f, &[]);
    assert_eq!(st["ecosystem"], name.as_str());
    assert_eq!(st["engine"], engine);
    for s in ["api", "web", "gateway", "site"] {
        let row = row(&st, s);
        assert_eq!(row["running"], 1, "{row}");
        assert_eq!(row["desired"], 1, "{row}");
        assert_eq!(row["state"], "running", "{row}");
        assert_eq!(row["health"]["healthy"], true, "{row}");
        let url = row["url"].as_str().unwrap();
        assert!(url.contains(&format!(":{prefix}")), "{url}");
        let (code, _) = http_get(&format!(
            "{url}{}",
            if s == "site" { "/" } else { "/health" }
        ));
        assert_eq!(code, 200, "{s} at {url}");
    }
    let running = common::container_ids(kind, &name);
    assert_eq!(running.len(), 4, "{running:?}");
    assert!(running
        .iter()
        .any(|l| l.starts_with(&format!("{name}-web-1 "))));
    // labels: every container says which ecosystem and service it belongs to
    let labels = engine_cli(
        kind,
        &[
            "inspect",
            "-f",
            "{{index .Config.Labels \"io.pactown.service\"}}",
            &format!("{name}-gateway-1"),
        ],
    );
    assert_eq!(labels, "gateway");

    // 3. web reaches the API through its injected URL (container DNS on the ecosystem network:
    //    Docker's embedded DNS, or netavark + aardvark-dns on Podman)
    let web = row(&st, "web")["url"].as_str().unwrap().to_string();
    let (code, body) = http_get(&format!("{web}/api-items"));
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["api_url"], format!("http://api:{prefix}00"), "{v}");
    assert_eq!(v["api"]["items"][0]["name"], "apple", "{v}");
    let gw = row(&st, "gateway")["url"].as_str().unwrap().to_string();
    let (code, body) = http_get(&format!("{gw}/web/api-items"));
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("banana"), "{body}");

    // 4. no-op second up recreates nothing (the engine comes from the file's `engine:` key)
    let t = Instant::now();
    let o = pactown(&["up", f, "-d"]);
    let noop = t.elapsed();
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains(&format!("on {engine}"))
            || String::from_utf8_lossy(&o.stderr).contains(&format!("on {engine}")),
        "{}",
        text(&o)
    );
    assert_eq!(
        common::container_ids(kind, &name),
        running,
        "no-op up changed containers"
    );
    eprintln!("{engine}: no-op up took {noop:?}");
    assert!(noop < Duration::from_secs(3), "no-op up took {noop:?}");

    // 5. the process dies → the restart policy brings the container back, status counts it
    let api = format!("{name}-api-1");
    engine_cli(kind, &["exec", &api, "sh", "-c", "kill -TERM 1"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let st = common::status_json(kind, f, &[]);
        let row = row(&st, "api");
        if row["restarts"].as_u64().unwrap_or(0) >= 1 && row["health"]["healthy"] == true {
            break;
        }
        assert!(Instant::now() < deadline, "api did not come back: {row}");
        std::thread::sleep(Duration::from_millis(300));
    }
    // same container, restarted in place
    assert_eq!(common::container_ids(kind, &name), running);

    // 6. restart command
    let o = pactown(&["restart", f, "web", "--engine", engine]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(http_get(&format!("{web}/health")).0, 200);

    // 7. logs of one service
    let o = pactown(&["logs", f, "api", "--engine", engine, "--tail", "5"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("GET /health"),
        "{}",
        text(&o)
    );

    // 8. down leaves nothing with our labels
    drop(guard);
    assert!(labelled(kind, "container", &name).is_empty());
    assert!(labelled(kind, "network", &name).is_empty());
}

fn a_cycle_or_a_bad_readme_fails_before_anything_starts(kind: EngineKind) {
    if !common::available(kind) {
        return;
    }
    let engine = common::cli(kind);
    let tmp = tempfile::tempdir().unwrap();
    let name = common::unique("broken");
    let file = polyglot_copy(tmp.path(), &name, kind, port_prefix(kind, 82));
    let f = file.to_str().unwrap();
    let _guard = Down::new(&file, kind).name(&name);

    // a cycle: api depends on gateway, which depends on api
    let yaml = std::fs::read_to_string(&file).unwrap();
    let cyclic = yaml.replace(
        "    env:\n      ITEMS:",
        "    depends_on:\n      - gateway\n    env:\n      ITEMS:",
    );
    assert_ne!(cyclic, yaml);
    std::fs::write(&file, &cyclic).unwrap();
    let o = pactown(&["up", f, "-d", "--engine", engine]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("CircularDependency"),
        "{}",
        text(&o)
    );
    assert!(labelled(kind, "container", &name).is_empty());
    assert!(labelled(kind, "network", &name).is_empty());

    // a bad README: an unclosed fence
    std::fs::write(&file, &yaml).unwrap();
    let readme = tmp.path().join("web/README.md");
    let mut text_ = std::fs::read_to_string(&readme).unwrap();
    text_.push_str("\n```bash markpact:run\nnode other.js\n");
    std::fs::write(&readme, text_).unwrap();
    let o = pactown(&["up", f, "-d", "--engine", engine]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("README.md"),
        "{}",
        text(&o)
    );
    assert!(labelled(kind, "container", &name).is_empty());

    // down still works on the broken project (only the name is needed)
    let o = pactown(&["down", f, "--engine", engine]);
    assert!(o.status.success(), "{}", text(&o));

    // the file's `engine:` picks the engine without a flag; `--engine` wins over the file
    std::fs::write(&file, &yaml).unwrap();
    let o = pactown(&["status", f, "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let st: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(st["engine"], engine, "{st}");
    let other = match kind {
        EngineKind::Docker => EngineKind::Podman,
        EngineKind::Podman => EngineKind::Docker,
    };
    if common::available(other) {
        assert_eq!(
            common::status_json(other, f, &[])["engine"],
            common::cli(other)
        );
    }
}

fn replicas_share_one_alias_and_all_get_probed(kind: EngineKind) {
    if !common::available(kind) {
        return;
    }
    let engine = common::cli(kind);
    let tmp = tempfile::tempdir().unwrap();
    let name = common::unique("replicas");
    // own port range (tests run in parallel) and two API replicas
    let file = polyglot_copy(tmp.path(), &name, kind, port_prefix(kind, 83));
    let f = file.to_str().unwrap();
    let _guard = Down::new(&file, kind).name(&name);
    let yaml = std::fs::read_to_string(&file).unwrap().replace(
        "    health_check: /health\n    timeout: 60\n    env:",
        "    health_check: /health\n    timeout: 60\n    replicas: 2\n    env:",
    );
    assert!(yaml.contains("replicas: 2"));
    std::fs::write(&file, yaml).unwrap();

    let o = pactown(&["up", f, "-d", "--engine", engine, "--timeout", "120"]);
    assert!(o.status.success(), "{}", text(&o));
    let st = common::status_json(kind, f, &[]);
    let api = row(&st, "api");
    assert_eq!(api["running"], 2, "{api}");
    assert_eq!(api["desired"], 2, "{api}");
    assert_eq!(api["state"], "running", "{api}");
    for n in 1..=2 {
        let c = format!("{name}-api-{n}");
        let aliases = engine_cli(
            kind,
            &[
                "inspect",
                "-f",
                "{{range .NetworkSettings.Networks}}{{.Aliases}}{{end}}",
                &c,
            ],
        );
        assert!(aliases.contains("api"), "{c}: {aliases}");
        // status probes every replica, not just the first
        assert_eq!(api["replicas"][n - 1]["health"]["healthy"], true, "{api}");
        let port = api["replicas"][n - 1]["host_port"].as_u64().unwrap();
        assert_eq!(http_get(&format!("http://127.0.0.1:{port}/health")).0, 200);
    }
    // web reaches "api" (either replica) through the shared alias
    let web = row(&st, "web")["url"].as_str().unwrap().to_string();
    let (code, body) = http_get(&format!("{web}/api-items"));
    assert_eq!(code, 200, "{body}");
    // one replica whose process is frozen (the container still runs) makes the service
    // unhealthy, and status says which
    let second = format!("{name}-api-2");
    engine_cli(kind, &["exec", &second, "sh", "-c", "kill -STOP -1"]);
    let st = common::status_json(kind, f, &[]);
    engine_cli(kind, &["exec", &second, "sh", "-c", "kill -CONT -1"]);
    let api = row(&st, "api");
    assert_eq!(api["health"]["healthy"], false, "{api}");
    let detail = api["health"]["detail"].as_str().unwrap_or_default();
    assert!(
        detail.starts_with(&format!("1/2 replicas unhealthy; {second}:")),
        "{api}"
    );
    assert_eq!(api["replicas"][0]["health"]["healthy"], true, "{api}");
}

crate::per_engine!(sync:
    polyglot_comes_up_talks_restarts_is_idempotent_and_goes_down,
    a_cycle_or_a_bad_readme_fails_before_anything_starts,
    replicas_share_one_alias_and_all_get_probed,
);
