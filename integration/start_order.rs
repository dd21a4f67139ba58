//! The early start of dependants, on real engines: a dependant's container is started while its
//! dependency is still starting, and its start script holds the service's own process until the
//! dependency answers its health check (`PACTOWN_WAIT_FOR`); when the dependency fails, the held
//! dependant is stopped without its process ever running.
use crate::common::{self, pactown, text, Down};
use pactown::engine::EngineKind;
use std::path::{Path, PathBuf};

/// `slow`: listens only after SLOW_DELAY seconds (or exits 3 when that is `fail`).
fn slow() -> String {
    common::python_service(
        "slow",
        r#"delay = os.environ.get("SLOW_DELAY", "0")
if delay == "fail":
    print("slow: giving up", flush=True)
    sys.exit(3)
time.sleep(float(delay))"#,
        r#"        self.reply(200, "ok")"#,
    )
}

/// `eager`: refuses to start (exit 4) unless its dependency already answers, so it only comes
/// up healthy when it was held until then.
fn eager() -> String {
    common::python_service(
        "eager",
        r#"try:
    urllib.request.urlopen(os.environ["SLOW_URL"] + "/health", timeout=2).read()
except Exception as e:
    print("eager: started before slow was healthy: %s" % e, flush=True)
    sys.exit(4)
print("eager: process started", flush=True)"#,
        r#"        self.reply(200, "ok")"#,
    )
}

fn write_eco(dir: &Path, name: &str, base: u16, slow_delay: &str) -> PathBuf {
    std::fs::write(dir.join("slow.md"), slow()).unwrap();
    std::fs::write(dir.join("eager.md"), eager()).unwrap();
    let yaml = format!(
        "name: {name}\nbase_port: {base}\nservices:\n  slow:\n    readme: slow.md\n    port: {base}\n    health_check: /health\n    timeout: 60\n    env:\n      SLOW_DELAY: \"{slow_delay}\"\n  eager:\n    readme: eager.md\n    port: {}\n    health_check: /health\n    timeout: 60\n    depends_on:\n      - slow\n",
        base + 1
    );
    let file = dir.join(format!("{name}.pactown.yaml"));
    std::fs::write(&file, yaml).unwrap();
    file
}

fn dependant_is_held_until_its_dependency_is_healthy(kind: EngineKind) {
    if !common::available(kind) {
        return;
    }
    let engine = common::cli(kind);
    let tmp = tempfile::tempdir().unwrap();
    let name = common::unique("held");
    // 8 s: long enough that even a slow engine starts eager before slow answers
    let file = write_eco(tmp.path(), &name, common::free_base_for(kind), "8");
    let f = file.to_str().unwrap();
    let _guard = Down::new(&file, kind).timeout(1);
    let o = pactown(&["up", f, "-d", "--engine", engine, "--timeout", "300"]);
    assert!(o.status.success(), "{}", text(&o));

    // the dependant's container was started early and waited in its start script (≥ 1 s)…
    let logs = pactown(&["logs", f, "eager", "--engine", engine]);
    let logs = text(&logs);
    assert!(
        logs.contains("pactown: waiting for http://slow:"),
        "eager was not held by its start script:\n{logs}"
    );
    // …and its process ran only once slow answered (it exits otherwise)
    assert!(logs.contains("eager: process started"), "{logs}");
    assert!(!logs.contains("started before slow"), "{logs}");
    // The start script says "waiting for" only after 20 failed polls (≥ 1 s), so its line
    // proves eager's container ran while slow could not yet answer. (Comparing the engines'
    // StartedAt times instead failed under load: Podman's container create can lag by seconds.)
}

fn held_dependant_is_stopped_when_its_dependency_fails(kind: EngineKind) {
    if !common::available(kind) {
        return;
    }
    let engine = common::cli(kind);
    let tmp = tempfile::tempdir().unwrap();
    let name = common::unique("heldfail");
    let file = write_eco(tmp.path(), &name, common::free_base_for(kind), "fail");
    let f = file.to_str().unwrap();
    let _guard = Down::new(&file, kind).timeout(1);
    let o = pactown(&["up", f, "-d", "--engine", engine, "--timeout", "60"]);
    assert!(!o.status.success(), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("slow: giving up"), "{out}");
    assert!(out.contains("eager"), "{out}");
    let state = common::cli_output(
        kind,
        &[
            "inspect",
            "-f",
            "{{.State.Running}}",
            &format!("{name}-eager-1"),
        ],
    );
    assert_eq!(state.trim(), "false", "the held dependant must be stopped");
    let logs = text(&pactown(&["logs", f, "eager", "--engine", engine]));
    assert!(
        !logs.contains("eager:"),
        "the dependant's process must never have run:\n{logs}"
    );
}

crate::per_engine!(sync:
    dependant_is_held_until_its_dependency_is_healthy,
    held_dependant_is_stopped_when_its_dependency_fails,
);
