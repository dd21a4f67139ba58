//! Watch mode against a real dockerd: `pactown watch --json` on a copy of `examples/polyglot`
//! (unique ecosystem name and ports), driven by editing the files and reading the JSON events.
//! The ecosystem is brought down in a guard, even when the test fails.
use crate::common::{self, Down};
use pactown::engine::EngineKind;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// Ceiling for edit-to-new-response. The benchmark's target is 3 s on an idle machine
/// (benches/watch-bench.sh measures it: about 2.3 s); this test runs next to the other
/// real-engine tests on 2 shared cores, where the same loop measured 2.8–3.2 s at a load of 8,
/// so the default ceiling is 6 s (a cold build takes 9–13 s). `PACTOWN_WATCH_TARGET_MS=3000`
/// enforces the benchmark target.
fn target() -> Duration {
    std::env::var("PACTOWN_WATCH_TARGET_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(Duration::from_secs(6), Duration::from_millis)
}

/// `watch` child with its event stream; SIGINT + wait + `pactown down` on drop.
struct Watching {
    child: Child,
    events: Receiver<Value>,
    seen: Vec<Value>,
    stderr: PathBuf,
    /// Dropped after the child is stopped.
    _down: Down,
}

impl Watching {
    fn start(file: &Path, name: &str, dir: &Path) -> Self {
        let stderr = dir.join("watch.stderr");
        let mut cmd = common::pactown_cmd();
        cmd.args([
            "watch",
            file.to_str().unwrap(),
            "--json",
            "--engine",
            "docker",
            "--timeout",
            "120",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::from(std::fs::File::create(&stderr).unwrap()));
        let mut child = cmd.spawn().expect("run pactown watch");
        let out = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                match serde_json::from_str::<Value>(&line) {
                    Ok(v) => {
                        if tx.send(v).is_err() {
                            break;
                        }
                    }
                    Err(e) => eprintln!("not a JSON event ({e}): {line}"),
                }
            }
        });
        Self {
            child,
            events: rx,
            seen: Vec::new(),
            stderr,
            _down: Down::new(file, EngineKind::Docker).name(name),
        }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Events until one matches `pred` (returned); panics after `within`.
    fn until(&mut self, within: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(v) => {
                    self.seen.push(v.clone());
                    if pred(&v) {
                        return v;
                    }
                }
                Err(RecvTimeoutError::Timeout) => panic!(
                    "no matching event within {within:?}; seen: {:#?}\n--- stderr\n{}",
                    self.seen,
                    self.stderr()
                ),
                Err(RecvTimeoutError::Disconnected) => panic!(
                    "pactown watch ended; seen: {:#?}\n--- stderr\n{}",
                    self.seen,
                    self.stderr()
                ),
            }
        }
    }

    /// The events seen since `from` (an index into `seen`).
    fn since(&self, from: usize) -> &[Value] {
        &self.seen[from..]
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        common::stop_child(&mut self.child);
    }
}

/// GET over HTTP/1.0; `None` while nothing answers.
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let status = buf.split_whitespace().nth(1)?.parse().ok()?;
    let body = buf.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    Some((status, body))
}

/// Polls until the body at `port/path` contains `needle`; the time it took.
fn wait_for_body(port: u16, path: &str, needle: &str, within: Duration) -> Duration {
    let t = Instant::now();
    loop {
        if let Some((200, body)) = get(port, path) {
            if body.contains(needle) {
                return t.elapsed();
            }
        }
        assert!(
            t.elapsed() < within,
            "{path} on {port} never contained {needle}"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{from:?} not in {}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn readme_edits_hot_reload_one_service_and_file_edits_reconcile() {
    if !common::docker_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("eco");
    common::copy_dir(&common::repo_root().join("examples/polyglot"), &dir);
    let name = common::unique("watch");
    let file = dir.join("polyglot.pactown.yaml");
    // own ports (integration tests run in parallel): 95xx
    let yaml = std::fs::read_to_string(&file)
        .unwrap()
        .replace("name: polyglot", &format!("name: {name}"))
        .replace("port: 81", "port: 95");
    std::fs::write(&file, &yaml).unwrap();
    // api's image of its own (a file naming this run): an api image with the example's content
    // may already exist without its local build chain (pulled from a registry by an earlier
    // test), and then no build here could find the dependency layer in the cache
    let api_readme = dir.join("api/README.md");
    let mut text = std::fs::read_to_string(&api_readme).unwrap();
    text.push_str(&format!(
        "\n```text markpact:file path=run-id.txt\n{name}\n```\n"
    ));
    std::fs::write(&api_readme, text).unwrap();
    let mut w = Watching::start(&file, &name, tmp.path());
    w.until(Duration::from_secs(600), |e| e["event"] == "watching");
    let before = common::container_ids(EngineKind::Docker, &name);
    assert_eq!(before.len(), 4, "{before:?}");
    let api_port = 9500;
    assert!(wait_for_body(api_port, "/health", "\"ok\"", Duration::from_secs(5)) < target());

    // 1. a code edit in api's README: only api is rebuilt (dependency layer from cache) and
    //    replaced; the new code answers within the target; the others keep their containers
    let mark = w.seen.len();
    let readme = dir.join("api/README.md");
    // unique per run: image tags are content hashes, a repeated edit would find its image
    let marker = format!("\"{name}\"");
    let edited = Instant::now();
    edit(
        &readme,
        r#"return {"status": "ok", "service": "api"}"#,
        &format!(r#"return {{"status": "ok", "service": "api", "build": {marker}}}"#),
    );
    wait_for_body(api_port, "/health", &marker, Duration::from_secs(60));
    let latency = edited.elapsed();
    eprintln!("edit → new response: {latency:?}");
    let done = w.until(Duration::from_secs(60), |e| e["event"] == "reconciled");
    assert_eq!(done["changed"], serde_json::json!(["api"]), "{done}");
    let events = w.since(mark).to_vec();
    let built: Vec<&Value> = events.iter().filter(|e| e["event"] == "built").collect();
    assert_eq!(built.len(), 1, "only api is rebuilt: {events:#?}");
    let image = &built[0]["image"];
    assert_eq!(image["service"], "api");
    assert_eq!(image["cached"], false);
    let steps = image["steps"].as_array().unwrap();
    // the dependency image's tag exists: its install step does not run (if it ran, the layer
    // cache would have to serve it)
    let install = steps.iter().find(|s| {
        let i = s["instruction"].as_str().unwrap();
        i.contains("pip install") || i.contains("uv pip sync")
    });
    assert!(
        install.is_none_or(|i| i["cached"] == true),
        "deps were reinstalled although the deps block did not change: {steps:#?}"
    );
    let app_copy = steps.last().unwrap();
    assert_eq!(
        app_copy["cached"], false,
        "the app layer is rebuilt: {steps:#?}"
    );
    let replaced: Vec<&Value> = events.iter().filter(|e| e["event"] == "replaced").collect();
    assert_eq!(replaced.len(), 1, "{events:#?}");
    assert_eq!(replaced[0]["service"], "api");
    assert_eq!(replaced[0]["host_port"], api_port);
    eprintln!("downtime: {}ms", replaced[0]["downtime_ms"]);
    let after = common::container_ids(EngineKind::Docker, &name);
    let api_line = |v: &[String]| {
        v.iter()
            .find(|l| l.starts_with(&format!("{name}-api-1 ")))
            .cloned()
    };
    assert_ne!(
        api_line(&after),
        api_line(&before),
        "api got a new container"
    );
    let others = |v: &[String]| -> Vec<String> {
        v.iter()
            .filter(|l| !l.starts_with(&format!("{name}-api-1 ")))
            .cloned()
            .collect()
    };
    assert_eq!(others(&after), others(&before), "dependants were touched");
    assert!(
        latency < target(),
        "edit → new response took {latency:?} (target {:?})",
        target()
    );

    // 2. a README that no longer parses: reported with file:line, the running version serves on
    let mark = w.seen.len();
    let web_readme = dir.join("web/README.md");
    let good_web = std::fs::read_to_string(&web_readme).unwrap();
    std::fs::write(
        &web_readme,
        format!("{good_web}\n```bash markpact:run\nnode other.js\n"),
    )
    .unwrap();
    let invalid = w.until(Duration::from_secs(30), |e| e["event"] == "invalid");
    let diags = invalid["diagnostics"].as_array().unwrap();
    assert!(
        diags.iter().any(|d| d["severity"] == "error"
            && d["file"].as_str().unwrap().ends_with("web/README.md")
            && d["line"].as_u64().unwrap() > 0),
        "{invalid:#}"
    );
    assert!(
        !w.since(mark)
            .iter()
            .any(|e| e["event"] == "replaced" || e["event"] == "removed"),
        "{:#?}",
        w.since(mark)
    );
    assert_eq!(
        common::container_ids(EngineKind::Docker, &name),
        after,
        "a parse error touched containers"
    );
    assert_eq!(get(9501, "/health").map(|r| r.0), Some(200));
    std::fs::write(&web_readme, &good_web).unwrap();
    let fixed = w.until(Duration::from_secs(30), |e| e["event"] == "reconciled");
    assert_eq!(fixed["changed"], serde_json::json!([]), "{fixed}");

    // 3. the ecosystem file gains a service: it starts, nothing else changes
    let with_extra = format!(
        "{}\n  extra:\n    readme: site/README.md\n    port: 9504\n    health_check: /\n    timeout: 30\n",
        yaml.trim_end()
    );
    std::fs::write(&file, with_extra).unwrap();
    let started = w.until(Duration::from_secs(120), |e| e["event"] == "started");
    assert_eq!(started["service"], "extra", "{started}");
    let port = u16::try_from(started["host_port"].as_u64().unwrap()).unwrap();
    assert_eq!(get(port, "/").map(|r| r.0), Some(200));
    let done = w.until(Duration::from_secs(30), |e| e["event"] == "reconciled");
    assert_eq!(done["changed"], serde_json::json!(["extra"]), "{done}");
    let now = common::container_ids(EngineKind::Docker, &name);
    assert_eq!(now.len(), 5, "{now:?}");
    assert!(
        after.iter().all(|l| now.contains(l)),
        "{after:?} vs {now:?}"
    );

    // 4. code that crashes at start: the new container fails, the previous version comes back
    let mark = w.seen.len();
    edit(
        &readme,
        "from fastapi import FastAPI",
        "from fastapi import NoSuchThing",
    );
    let rolled = w.until(Duration::from_secs(120), |e| e["event"] == "rolled_back");
    assert_eq!(rolled["service"], "api", "{rolled}");
    assert!(
        rolled["id"].is_string(),
        "previous version is back: {rolled}"
    );
    assert!(
        rolled["log"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l.as_str().unwrap().contains("NoSuchThing")),
        "the failure's log is reported: {rolled:#}"
    );
    w.until(Duration::from_secs(30), |e| e["event"] == "reconciled");
    assert!(
        !w.since(mark).iter().any(|e| e["event"] == "replaced"),
        "{:#?}",
        w.since(mark)
    );
    let (code, body) = get(api_port, "/health").unwrap();
    assert_eq!(code, 200);
    assert!(
        body.contains(&marker),
        "the previous version serves: {body}"
    );

    // 5. a removed service stops
    std::fs::write(&file, &yaml).unwrap();
    let removed = w.until(Duration::from_secs(60), |e| e["event"] == "removed");
    assert_eq!(removed["service"], "extra", "{removed}");
    w.until(Duration::from_secs(30), |e| e["event"] == "reconciled");
    assert_eq!(common::container_ids(EngineKind::Docker, &name).len(), 4);
}
