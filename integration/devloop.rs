//! The developer loop on real engines: `pactown test` (HTTP lines against the published port,
//! shell lines in a one-off container of the service's image on the ecosystem network), its
//! table, JSON and JUnit output, `up --test`; and watch mode started with a broken service that
//! keeps watching, recovers when the README is fixed on disk and leaves the healthy services'
//! containers alone.
use crate::common::{self, pactown, text, Down};
use pactown::engine::EngineKind;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// A stdlib Python service: GET /health → 200, other GETs → 404, POST /echo → 201 with the
/// body; `extra` (test blocks…) is appended to the README.
fn service(title: &str, extra: &str) -> String {
    format!(
        r#"# {title}

```python markpact:file path=server.py
import http.server, json, os

class H(http.server.BaseHTTPRequestHandler):
    def reply(self, code, body):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/health":
            self.reply(200, "ok")
        else:
            self.reply(404, "no such page")

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n).decode()
        ok = self.path == "/echo" and json.loads(body or "null") == {{"a": 1}}
        self.reply(201 if ok else 400, body)

    def log_message(self, *a):
        pass

http.server.ThreadingHTTPServer(("0.0.0.0", int(os.environ["PORT"])), H).serve_forever()
```

```bash markpact:run
python3 server.py
```
{extra}"#
    )
}

/// `api` has passing tests (HTTP and shell, one reaching `store` by name with the injected
/// `STORE_PORT`); `store`'s tests fail (a wrong status, and a shell line printing XML-hostile
/// text then exiting 3).
fn write_test_eco(dir: &Path, name: &str, base: u16) -> PathBuf {
    let api = service(
        "api",
        r#"
```text markpact:test http
GET /health EXPECT 200
POST /echo BODY {"a": 1} EXPECT 201
get /missing EXPECT 404
```

```bash markpact:test shell
test "$GREETING" = hello
test "$(pwd)" = /app && test -f server.py
python3 -c "import os, urllib.request; urllib.request.urlopen('http://store:' + os.environ['STORE_PORT'] + '/health', timeout=5)"
```
"#,
    );
    let store = service(
        "store",
        r#"
```text markpact:test http
GET /health EXPECT 500
```

```bash markpact:test shell
echo "<oops> & ]]> done"; exit 3
```
"#,
    );
    std::fs::write(dir.join("api.md"), api).unwrap();
    std::fs::write(dir.join("store.md"), store).unwrap();
    let yaml = format!(
        "name: {name}\nbase_port: {base}\nservices:\n  store:\n    readme: store.md\n    port: {base}\n    health_check: /health\n  api:\n    readme: api.md\n    port: {}\n    health_check: /health\n    env: {{GREETING: hello}}\n    depends_on: [store]\n",
        base + 1
    );
    let file = dir.join(format!("{name}.pactown.yaml"));
    std::fs::write(&file, yaml).unwrap();
    file
}

/// Names of the leftover one-off test containers of `name`.
fn test_containers(kind: EngineKind, name: &str) -> String {
    common::cli_output(
        kind,
        &[
            "ps",
            "-a",
            "--filter",
            &format!("label=io.pactown.test-of={name}"),
            "--format",
            "{{.Names}}",
        ],
    )
}

/// (name, failure message) of every testcase of a JUnit file; panics when it is not
/// well-formed XML.
fn junit_cases(xml: &str) -> Vec<(String, Option<String>)> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut out: Vec<(String, Option<String>)> = Vec::new();
    loop {
        match reader
            .read_event()
            .unwrap_or_else(|e| panic!("bad XML ({e}):\n{xml}"))
        {
            Event::Eof => break,
            Event::Start(e) | Event::Empty(e) => {
                let attr = |k: &str| {
                    e.try_get_attribute(k).unwrap().map(|a| {
                        a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .unwrap()
                            .into_owned()
                    })
                };
                match e.name().as_ref() {
                    b"testcase" => out.push((attr("name").unwrap(), None)),
                    b"failure" => out.last_mut().unwrap().1 = attr("message"),
                    _ => {}
                }
            }
            _ => {}
        }
    }
    out
}

fn pactown_test_passing_and_failing(kind: EngineKind) {
    let dir = tempfile::tempdir().unwrap();
    let name = common::unique("ptest");
    let file = write_test_eco(dir.path(), &name, common::free_base_for(kind));
    let f = file.to_str().unwrap();
    let engine = common::cli(kind);
    let _down = Down::new(&file, kind);

    // up --test: everything healthy, then the tests run; store's fail, so -d exits 1
    let o = pactown(&["up", f, "-d", "--test", "--engine", engine]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let table = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        table.contains("pass") && table.contains("FAIL"),
        "{}",
        text(&o)
    );
    assert!(
        table.contains("store.md:") && table.contains("got 200, expected 500"),
        "{table}"
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("6 passed, 2 failed"),
        "{}",
        text(&o)
    );

    // only api: all pass, JSON and JUnit
    let junit = dir.path().join("api.xml");
    let o = pactown(&[
        "test",
        f,
        "api",
        "--json",
        "--junit",
        junit.to_str().unwrap(),
        "--engine",
        engine,
    ]);
    let v: Value = common::stdout_json(&o);
    assert_eq!(
        (v["tests"].as_u64(), v["failed"].as_u64()),
        (Some(6), Some(0)),
        "{v:#}"
    );
    let results = v["results"].as_array().unwrap();
    assert!(results
        .iter()
        .all(|r| r["service"] == "api" && r["passed"] == true));
    assert_eq!(results[2]["test"], "GET /missing EXPECT 404");
    assert_eq!(results[2]["detail"], "404");
    assert_eq!(results[3]["mode"], "shell");
    assert_eq!(results[3]["detail"], "exit 0");
    let cases = junit_cases(&std::fs::read_to_string(&junit).unwrap());
    assert_eq!(cases.len(), 6);
    assert!(
        cases.iter().all(|(_, failure)| failure.is_none()),
        "{cases:?}"
    );
    assert!(cases[0].0.contains("api.md:") && cases[0].0.ends_with("GET /health EXPECT 200"));

    // everything: store fails, exit 1; the failures carry their README line and output
    let junit = dir.path().join("all.xml");
    let o = pactown(&[
        "test",
        f,
        "--json",
        "--junit",
        junit.to_str().unwrap(),
        "--engine",
        engine,
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (v["passed"].as_u64(), v["failed"].as_u64()),
        (Some(6), Some(2)),
        "{v:#}"
    );
    let failed: Vec<&Value> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["passed"] == false)
        .collect();
    assert!(failed.iter().all(|r| r["service"] == "store"));
    let shell = failed.iter().find(|r| r["mode"] == "shell").unwrap();
    assert_eq!(shell["detail"], "exit 3");
    assert_eq!(shell["output"], serde_json::json!(["<oops> & ]]> done"]));
    let readme = std::fs::read_to_string(dir.path().join("store.md")).unwrap();
    let line = readme
        .lines()
        .position(|l| l.starts_with("echo \"<oops>"))
        .unwrap()
        + 1;
    assert_eq!(shell["line"].as_u64(), Some(line as u64));
    let cases = junit_cases(&std::fs::read_to_string(&junit).unwrap());
    assert_eq!(cases.len(), 8);
    let with_failure: Vec<&(String, Option<String>)> =
        cases.iter().filter(|(_, f)| f.is_some()).collect();
    assert_eq!(with_failure.len(), 2, "{cases:?}");
    assert!(
        with_failure
            .iter()
            .any(|(n, f)| n.ends_with("echo \"<oops> & ]]> done\"; exit 3")
                && f.as_deref() == Some("exit 3")),
        "{cases:?}"
    );

    // an unknown service is a usage error; no one-off container is left behind
    let o = pactown(&["test", f, "nosuch", "--engine", engine]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no service `nosuch`"));
    assert_eq!(test_containers(kind, &name), "");

    // after `down`, every test fails with the reason instead of erroring out
    let o = pactown(&["down", f, "--engine", engine, "--timeout", "2"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = pactown(&["test", f, "api", "--json", "--engine", engine]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["failed"].as_u64(), Some(6), "{v:#}");
    assert!(v["results"][0]["detail"]
        .as_str()
        .unwrap()
        .contains("is not running"));
}

/// `watch --json` child whose events are read on a thread.
struct Watching {
    child: std::process::Child,
    events: Receiver<Value>,
    seen: Vec<Value>,
    stderr: PathBuf,
}

impl Watching {
    fn start(kind: EngineKind, file: &Path, dir: &Path) -> Self {
        let stderr = dir.join("watch.stderr");
        let mut cmd = common::pactown_cmd();
        cmd.args([
            "watch",
            file.to_str().unwrap(),
            "--json",
            "--engine",
            common::cli(kind),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::from(std::fs::File::create(&stderr).unwrap()));
        let mut child = cmd.spawn().expect("run pactown watch");
        let out = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    if tx.send(v).is_err() {
                        break;
                    }
                }
            }
        });
        Self {
            child,
            events: rx,
            seen: Vec::new(),
            stderr,
        }
    }

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
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => panic!(
                    "no matching event within {within:?}; seen: {:#?}\n--- stderr\n{}",
                    self.seen,
                    std::fs::read_to_string(&self.stderr).unwrap_or_default()
                ),
            }
        }
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        common::stop_child(&mut self.child);
    }
}

/// A service whose process prints a marker and exits 1.
fn broken() -> String {
    "# broken\n\n```python markpact:file path=server.py\nimport sys\nprint(\"boom-marker: cannot start\", flush=True)\nsys.exit(1)\n```\n\n```bash markpact:run\npython3 server.py\n```\n".to_string()
}

fn watch_recovers_a_broken_service(kind: EngineKind) {
    let dir = tempfile::tempdir().unwrap();
    let name = common::unique("pwfix");
    let base = common::free_base_for(kind);
    std::fs::write(dir.path().join("ok.md"), service("ok", "")).unwrap();
    std::fs::write(dir.path().join("flaky.md"), broken()).unwrap();
    std::fs::write(dir.path().join("front.md"), service("front", "")).unwrap();
    let yaml = format!(
        "name: {name}\nbase_port: {base}\nservices:\n  ok:\n    readme: ok.md\n    port: {base}\n    health_check: /health\n  flaky:\n    readme: flaky.md\n    port: {}\n    health_check: /health\n    timeout: 30\n  front:\n    readme: front.md\n    port: {}\n    health_check: /health\n    depends_on: [flaky]\n",
        base + 1,
        base + 2
    );
    let file = dir.path().join(format!("{name}.pactown.yaml"));
    std::fs::write(&file, yaml).unwrap();
    let _down = Down::new(&file, kind).name(&name);

    let mut w = Watching::start(kind, &file, dir.path());
    // the failure is shown with the failing container's last log lines, and watching goes on
    let unhealthy = w.until(Duration::from_secs(240), |e| {
        e["event"] == "unhealthy" && e["service"] == "flaky"
    });
    assert!(
        unhealthy["log"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l.as_str().unwrap().contains("boom-marker")),
        "{unhealthy:#}"
    );
    w.until(Duration::from_secs(30), |e| e["event"] == "watching");
    assert_eq!(
        common::http_get(&format!("http://127.0.0.1:{base}/health")).0,
        200
    );
    let ok_before: Vec<String> = common::container_ids(kind, &name)
        .into_iter()
        .filter(|l| l.starts_with(&format!("{name}-ok-")))
        .collect();
    assert_eq!(ok_before.len(), 1, "{ok_before:?}");

    // fix the README on disk: flaky is rebuilt and becomes healthy, front (waiting for it) starts
    std::fs::write(dir.path().join("flaky.md"), service("flaky fixed", "")).unwrap();
    w.until(Duration::from_secs(240), |e| {
        matches!(e["event"].as_str(), Some("replaced" | "started")) && e["service"] == "flaky"
    });
    let front = w.until(Duration::from_secs(120), |e| {
        e["event"] == "started" && e["service"] == "front"
    });
    assert_eq!(
        front["host_port"].as_u64(),
        Some(u64::from(base + 2)),
        "{front:#}"
    );
    for port in [base + 1, base + 2] {
        let got = common::http_get(&format!("http://127.0.0.1:{port}/health"));
        assert_eq!(got.0, 200, "{port}: {got:?}");
    }
    // the healthy sibling was not touched
    let ok_after: Vec<String> = common::container_ids(kind, &name)
        .into_iter()
        .filter(|l| l.starts_with(&format!("{name}-ok-")))
        .collect();
    assert_eq!(ok_before, ok_after);
    // the stream carries `up`'s own events too: ok's one `started` is from `up`; watch mode
    // neither started, replaced nor removed it afterwards
    let ok_events: Vec<&Value> = w
        .seen
        .iter()
        .filter(|e| e["service"] == "ok" && e["event"] != "unhealthy" && e.get("id").is_some())
        .collect();
    assert!(
        ok_events.len() == 1 && ok_events[0]["event"] == "started",
        "ok was touched: {ok_events:#?}"
    );
    assert!(
        w.child.try_wait().unwrap().is_none(),
        "watch must still run"
    );
}

crate::per_engine!(sync: pactown_test_passing_and_failing, watch_recovers_a_broken_service);
