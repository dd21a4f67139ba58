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

/// `ticker`: a worker without a port printing `tick N` every half second.
const TICKER: &str = r#"# ticker

```python markpact:file path=ticker.py
import time

i = 0
while True:
    print("tick %d" % i, flush=True)
    i += 1
    time.sleep(0.5)
```

```bash markpact:run
python3 ticker.py
```
"#;

fn unix_now() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    i64::try_from(d.as_secs()).unwrap()
}

/// `pactown logs -t …` of the ticker: each line's timestamp (Unix seconds, fraction dropped)
/// and tick number, checking every line is `ticker | <RFC 3339> tick N`.
fn ticks(f: &str, engine: &str, extra: &[&str]) -> Vec<(i64, u64)> {
    let mut args = vec!["logs", f, "ticker", "--engine", engine, "-t"];
    args.extend_from_slice(extra);
    let o = pactown(&args);
    assert!(o.status.success(), "{}", text(&o));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| {
            let rest = l.strip_prefix("ticker | ").unwrap_or_else(|| panic!("{l}"));
            let (stamp, tick) = rest.split_once(' ').unwrap_or_else(|| panic!("{l}"));
            let at = pactown::engine::log_time::parse_rfc3339(stamp)
                .unwrap_or_else(|| panic!("not RFC 3339: {stamp} in {l}"));
            let n = tick.strip_prefix("tick ").unwrap_or_else(|| panic!("{l}"));
            (at, n.parse().unwrap_or_else(|e| panic!("{l}: {e}")))
        })
        .collect()
}

/// `logs --since/--until` select by the engine's timestamps (Unix seconds, RFC 3339 and
/// durations), and `-t` prefixes each line with an RFC 3339 timestamp after `service |`.
fn logs_since_until_and_timestamps(kind: EngineKind) {
    if !common::available(kind) {
        return;
    }
    let engine = common::cli(kind);
    let tmp = tempfile::tempdir().unwrap();
    let name = common::unique("ticks");
    std::fs::write(tmp.path().join("ticker.md"), TICKER).unwrap();
    let file = tmp.path().join(format!("{name}.pactown.yaml"));
    std::fs::write(
        &file,
        format!("name: {name}\nservices:\n  ticker:\n    readme: ticker.md\n    port: null\n"),
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let _guard = Down::new(&file, kind).name(&name).timeout(1);
    let o = pactown(&["up", f, "-d", "--engine", engine, "--timeout", "300"]);
    assert!(o.status.success(), "{}", text(&o));

    // lines before `mid` (a whole second, ≥ 2 s after the first tick) and after it
    let deadline = Instant::now() + Duration::from_secs(60);
    while ticks(f, engine, &[]).is_empty() {
        assert!(Instant::now() < deadline, "the ticker printed nothing");
        std::thread::sleep(Duration::from_millis(300));
    }
    let mid = unix_now() + 2;
    while unix_now() < mid + 3 {
        std::thread::sleep(Duration::from_millis(200));
    }
    let all = ticks(f, engine, &[]);
    let first = all.first().unwrap().1;
    let last = all.last().unwrap().1;
    assert!(all.iter().any(|(at, _)| *at < mid), "{all:?}");
    assert!(all.iter().any(|(at, _)| *at > mid), "{all:?}");

    // --since (Unix seconds): nothing older, and the newest line is there
    let since = ticks(f, engine, &["--since", &mid.to_string()]);
    assert!(!since.is_empty(), "{all:?}");
    assert!(since.iter().all(|(at, _)| *at >= mid), "{since:?}");
    assert!(since.iter().all(|(_, n)| *n > first), "{since:?}");
    assert!(since.iter().any(|(_, n)| *n >= last), "{since:?}");

    // --until (RFC 3339, with an offset): nothing newer, and the first line is there
    let until = ticks(f, engine, &["--until", &rfc3339_at_plus_two(mid)]);
    assert!(!until.is_empty(), "{all:?}");
    assert!(until.iter().all(|(at, _)| *at <= mid), "{until:?}");
    assert!(until.iter().all(|(_, n)| *n < last), "{until:?}");
    assert_eq!(until.first().unwrap().1, first, "{until:?}");

    // both, with durations and the tail of the window
    let window = ticks(
        f,
        engine,
        &["--since", "1h", "--until", &mid.to_string(), "--tail", "2"],
    );
    assert_eq!(window.len(), 2, "{window:?}");
    assert_eq!(window.last(), until.last(), "{window:?} vs {until:?}");

    // without -t the lines have no timestamp; a bad time is a usage error naming the forms
    let o = pactown(&["logs", f, "ticker", "--engine", engine, "--since", "10m"]);
    assert!(o.status.success(), "{}", text(&o));
    let plain = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        plain.lines().all(|l| l.starts_with("ticker | tick ")),
        "{plain}"
    );
    let o = pactown(&["logs", f, "--engine", engine, "--since", "last week"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("RFC 3339"), "{}", text(&o));

    // --json: one object per line, the same lines as the text
    let o = pactown(&[
        "logs",
        f,
        "ticker",
        "--engine",
        engine,
        "--until",
        &mid.to_string(),
        "--json",
        "-t",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let objects: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    assert_eq!(objects.len(), until.len(), "{objects:?}");
    for (v, (_, n)) in objects.iter().zip(&until) {
        assert_eq!(v["service"], "ticker", "{v}");
        assert_eq!(v["replica"], 1, "{v}");
        assert_eq!(v["stream"], "stdout", "{v}");
        assert_eq!(v["text"], format!("tick {n}"), "{v}");
        assert!(v["timestamp"].is_string(), "{v}");
    }
}

/// `secs` as RFC 3339 at UTC+02:00 (`YYYY-MM-DDTHH:MM:SS+02:00`), from `date`.
fn rfc3339_at_plus_two(secs: i64) -> String {
    let o = std::process::Command::new("date")
        .env("TZ", "Etc/GMT-2")
        .args(["-d", &format!("@{secs}"), "+%Y-%m-%dT%H:%M:%S+02:00"])
        .output()
        .unwrap();
    let t = String::from_utf8(o.stdout).unwrap().trim().to_string();
    assert_eq!(
        pactown::engine::log_time::parse_rfc3339(&t),
        Some(secs),
        "{t}"
    );
    t
}

crate::per_engine!(sync:
    polyglot_comes_up_talks_restarts_is_idempotent_and_goes_down,
    a_cycle_or_a_bad_readme_fails_before_anything_starts,
    replicas_share_one_alias_and_all_get_probed,
    logs_since_until_and_timestamps,
);
