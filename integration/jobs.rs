//! One-shot jobs and services without a port, on real engines: a migration job runs to
//! completion before its dependant's process starts (timestamps printed by both processes), a
//! worker without a port is healthy by running, a scheduler without a port by its `health_cmd`
//! run inside the container, a second `up` does not run the job again, and a failing job keeps
//! its dependant from starting while `up` fails naming it with its last log lines. Watch mode
//! leaves a completed job alone when another service is edited and runs it again (before its
//! dependant) when its own README changes.
use crate::common::{self, pactown, text, Down};
use pactown::engine::EngineKind;
use std::path::{Path, PathBuf};

/// `migrate`: works for a second, prints when it finished (`MIGRATE_FINISHED <unix time>`) and
/// exits with `MIGRATE_EXIT` (after printing a reason when that is not 0).
const MIGRATE: &str = r#"# migrate

```python markpact:file path=migrate.py
import os, sys, time

print("migrating", flush=True)
time.sleep(1)
code = int(os.environ.get("MIGRATE_EXIT", "0"))
if code:
    print("migration failed: boom", flush=True)
    sys.exit(code)
print("MIGRATE_FINISHED %.3f" % time.time(), flush=True)
```

```bash markpact:run
python3 migrate.py
```
"#;

/// `worker` / `beat`: a process without a port; it touches `/tmp/<service>-ready` after
/// `READY_AFTER` seconds and keeps running.
const WORKER: &str = r#"# worker

```python markpact:file path=worker.py
import os, time

print("%s up" % os.environ["SERVICE_NAME"], flush=True)
time.sleep(float(os.environ.get("READY_AFTER", "0")))
open("/tmp/%s-ready" % os.environ["SERVICE_NAME"], "w").close()
while True:
    time.sleep(1)
```

```bash markpact:run
python3 worker.py
```
"#;

fn api() -> String {
    common::python_service(
        "api",
        r#"print("API_STARTED %.3f" % time.time(), flush=True)"#,
        r#"        self.reply(200, "ok")"#,
    )
}

fn write_eco(dir: &Path, name: &str, base: u16, migrate_exit: u8) -> PathBuf {
    std::fs::write(dir.join("migrate.md"), MIGRATE).unwrap();
    std::fs::write(dir.join("worker.md"), WORKER).unwrap();
    std::fs::write(dir.join("api.md"), api()).unwrap();
    let yaml = format!(
        r#"name: {name}
base_port: {base}
services:
  migrate:
    readme: migrate.md
    kind: job
    timeout: 60
    env:
      MIGRATE_EXIT: "{migrate_exit}"
  worker:
    readme: worker.md
    port: null
  beat:
    readme: worker.md
    port: null
    health_cmd: test -f /tmp/beat-ready
    timeout: 60
    env:
      READY_AFTER: "2"
  api:
    readme: api.md
    port: {base}
    health_check: /health
    timeout: 60
    depends_on: [migrate, worker, beat]
"#
    );
    let file = dir.join(format!("{name}.pactown.yaml"));
    std::fs::write(&file, yaml).unwrap();
    file
}

fn base(kind: EngineKind) -> u16 {
    common::free_base() / 2 * 2 + if kind == EngineKind::Docker { 0 } else { 1 }
}

/// The number after `marker` in the logs of `service`.
fn stamp(logs: &str, marker: &str) -> f64 {
    logs.lines()
        .find_map(|l| l.split(marker).nth(1))
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {marker} in:\n{logs}"))
}

fn jobs_gate_dependants_and_are_not_rerun(kind: EngineKind) {
    if !common::available(kind) {
        return;
    }
    let engine = common::cli(kind);
    let tmp = tempfile::tempdir().unwrap();
    let name = common::unique("jobs");
    let file = write_eco(tmp.path(), &name, base(kind), 0);
    let f = file.to_str().unwrap();
    let _guard = Down::new(&file, kind).timeout(1);
    let o = pactown(&["up", f, "-d", "--engine", engine, "--timeout", "300"]);
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("migrate completed in"), "{out}");

    // the dependant's process started only after the job had finished
    let logs = |svc: &str| text(&pactown(&["logs", f, svc, "--engine", engine]));
    let finished = stamp(&logs("migrate"), "MIGRATE_FINISHED");
    let started = stamp(&logs("api"), "API_STARTED");
    assert!(
        started > finished,
        "api started at {started}, before the job finished at {finished}"
    );

    let status = common::status_json(kind, f, &[]);
    let migrate = common::row(&status, "migrate");
    assert_eq!(migrate["kind"], "job", "{status}");
    assert_eq!(migrate["state"], "completed", "{status}");
    assert_eq!(migrate["replicas"][0]["exit_code"], 0, "{status}");
    for svc in ["worker", "beat", "api"] {
        let row = common::row(&status, svc);
        assert_eq!(row["state"], "running", "{svc}: {status}");
        assert_eq!(row["health"]["healthy"], true, "{svc}: {status}");
    }
    // the portless services publish nothing
    assert!(common::row(&status, "worker")["url"].is_null(), "{status}");
    assert!(common::row(&status, "beat")["replicas"][0]["host_port"].is_null());
    // the health_cmd really runs inside the container: remove its file and beat is unhealthy
    let beat = format!("{name}-beat-1");
    common::cli_output(kind, &["exec", &beat, "rm", "/tmp/beat-ready"]);
    let status = common::status_json(kind, f, &[]);
    let row = common::row(&status, "beat");
    assert_eq!(row["health"]["healthy"], false, "{status}");
    assert!(
        row["health"]["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("health_cmd exited with code 1"),
        "{status}"
    );
    common::cli_output(kind, &["exec", &beat, "touch", "/tmp/beat-ready"]);

    // a second `up` with nothing changed does not run the job again
    let job = format!("{name}-migrate-1");
    let started_at = || common::cli_output(kind, &["inspect", "-f", "{{.State.StartedAt}}", &job]);
    let before = started_at();
    let o = pactown(&["up", f, "-d", "--engine", engine, "--timeout", "120"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("migrate unchanged, completed before"),
        "{}",
        text(&o)
    );
    assert_eq!(started_at(), before, "the job ran again");
    assert_eq!(logs("migrate").matches("MIGRATE_FINISHED").count(), 1);
}

fn a_failing_job_blocks_its_dependant(kind: EngineKind) {
    if !common::available(kind) {
        return;
    }
    let engine = common::cli(kind);
    let tmp = tempfile::tempdir().unwrap();
    let name = common::unique("jobfail");
    let file = write_eco(tmp.path(), &name, base(kind), 3);
    let f = file.to_str().unwrap();
    let _guard = Down::new(&file, kind).timeout(1);
    let o = pactown(&["up", f, "-d", "--engine", engine, "--timeout", "300"]);
    assert!(!o.status.success(), "{}", text(&o));
    let out = text(&o);
    // `up` names the job, its exit code and its last log lines, and what did not start
    assert!(out.contains("`migrate`"), "{out}");
    assert!(out.contains("exited with code 3"), "{out}");
    assert!(out.contains("migrate | migration failed: boom"), "{out}");
    assert!(out.contains("not started: api"), "{out}");
    // the dependant's process never ran
    let api = format!("{name}-api-1");
    let state = common::cli_output(kind, &["inspect", "-f", "{{.State.Status}}", &api]);
    assert!(
        state == "created" || state.is_empty() || state == "configured",
        "api is {state}"
    );
    let logs = text(&pactown(&["logs", f, "api", "--engine", engine]));
    assert!(!logs.contains("API_STARTED"), "{logs}");
    let status = common::status_json(kind, f, &[]);
    assert_eq!(
        common::row(&status, "migrate")["state"],
        "failed",
        "{status}"
    );
}

/// A `pactown watch` child, stopped (SIGINT, then killed) on drop so a failing test does not
/// leave it running.
struct WatchChild(std::process::Child);

impl Drop for WatchChild {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            common::stop_child(&mut self.0);
        }
    }
}

/// Watch mode replaces an edited service but leaves a completed job alone (also when the edit
/// is saved right after `up`, before the watcher's first reconcile ended), does not print the
/// job's log again at every log rescan, and runs a job whose README changed again before its
/// edited dependant starts.
fn watch_does_not_rerun_a_completed_job(kind: EngineKind) {
    if !common::available(kind) {
        return;
    }
    let engine = common::cli(kind);
    let tmp = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let name = common::unique("jobwatch");
    let port = base(kind);
    let file = write_eco(tmp.path(), &name, port, 0);
    let f = file.to_str().unwrap();
    let _guard = Down::new(&file, kind).timeout(1);
    let log = out.path().join("watch.log");
    let err = out.path().join("watch.err");
    let mut child = WatchChild(
        common::pactown_cmd()
            .args(["watch", f, "--engine", engine, "--timeout", "300"])
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .unwrap(),
    );
    let body_is = |want: &str, secs: u64| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            if common::http_get(&format!("http://127.0.0.1:{port}/")) == (200, want.to_string()) {
                return;
            }
            if std::time::Instant::now() > deadline {
                let err = std::fs::read_to_string(&err).unwrap_or_default();
                panic!("api never answered {want:?}:\n{err}");
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    };
    // `up` is done once the api answers: the edit is saved at once, while watch mode may still
    // be in its first reconcile
    body_is("ok", 300);
    let job = format!("{name}-migrate-1");
    let started_at = || common::cli_output(kind, &["inspect", "-f", "{{.State.StartedAt}}", &job]);
    let before = started_at();
    let edit = |file: &str, from: &str, to: &str| {
        let path = tmp.path().join(file);
        let source = std::fs::read_to_string(&path).unwrap();
        assert!(source.contains(from), "{file}: no {from:?}");
        std::fs::write(&path, source.replace(from, to)).unwrap();
    };
    edit(
        "api.md",
        r#"self.reply(200, "ok")"#,
        r#"self.reply(200, "edited")"#,
    );
    body_is("edited", 300);
    assert_eq!(started_at(), before, "watch ran the completed job again");
    let logs = |svc: &str| text(&pactown(&["logs", f, svc, "--engine", engine]));
    assert_eq!(logs("migrate").matches("MIGRATE_FINISHED").count(), 1);
    // the log follower (a rescan every 2 s) does not show the exited job again
    std::thread::sleep(std::time::Duration::from_secs(5));
    let shown = std::fs::read_to_string(&log).unwrap();
    assert!(!shown.contains("MIGRATE_FINISHED"), "{shown}");

    // the job's README changes (and the api's, in the same save): the job runs again, and the
    // new api process starts only after it finished
    edit(
        "migrate.md",
        "print(\"migrating\"",
        "print(\"migrating v2\"",
    );
    edit("api.md", r#""edited""#, r#""edited twice""#);
    body_is("edited twice", 300);
    assert_ne!(started_at(), before, "the changed job did not run again");
    let migrate = logs("migrate");
    assert!(migrate.contains("migrating v2"), "{migrate}");
    let finished = stamp(&migrate, "MIGRATE_FINISHED");
    let started = stamp(&logs("api"), "API_STARTED");
    assert!(
        started > finished,
        "api started at {started}, before the job finished at {finished}"
    );
    std::thread::sleep(std::time::Duration::from_secs(5));
    let shown = std::fs::read_to_string(&log).unwrap();
    assert_eq!(shown.matches("MIGRATE_FINISHED").count(), 1, "{shown}");
    let status = common::status_json(kind, f, &[]);
    assert_eq!(
        common::row(&status, "migrate")["state"],
        "completed",
        "{status}"
    );
    common::stop_child(&mut child.0);
}

crate::per_engine!(sync:
    jobs_gate_dependants_and_are_not_rerun,
    a_failing_job_blocks_its_dependant,
    watch_does_not_rerun_a_completed_job,
);
