//! `--engine swarm` on a real single-node Docker Swarm: one Swarm service per service on one
//! overlay network, health-ordered by the images' start scripts, healthy by our own probes
//! through the ports the tasks publish in host mode; `status`, `logs`, `down`; a rolling update
//! that passes and one whose new version fails our probe and is rolled back.
//!
//! The daemon is shared: a test that finds it outside a swarm initialises one
//! (`--advertise-addr 127.0.0.1`) and leaves it again at the end; one that finds a swarm leaves
//! it as it was. Everything else a test creates carries its unique ecosystem name.
use crate::common::{self, http_get, pactown, row, stdout_json, text};
use std::path::{Path, PathBuf};

/// Joins a swarm for one test: initialises one when the daemon is in none, and leaves it on
/// drop only then.
pub struct SwarmGuard {
    initialised: bool,
}

impl SwarmGuard {
    /// `None` when there is no Docker (the test skips; a failure under `PACTOWN_REQUIRE_ENGINES`).
    pub fn join() -> Option<Self> {
        if !common::docker_available() {
            return None;
        }
        let state = text(&common::docker(&[
            "info",
            "--format",
            "{{.Swarm.LocalNodeState}}",
        ]));
        if state.contains("active") && !state.contains("inactive") {
            return Some(Self { initialised: false });
        }
        let o = common::docker(&["swarm", "init", "--advertise-addr", "127.0.0.1"]);
        assert!(o.status.success(), "docker swarm init: {}", text(&o));
        Some(Self { initialised: true })
    }
}

impl Drop for SwarmGuard {
    fn drop(&mut self) {
        if self.initialised {
            let o = common::docker(&["swarm", "leave", "--force"]);
            if !o.status.success() {
                eprintln!("docker swarm leave: {}", text(&o));
            }
        }
    }
}

/// `pactown down --engine swarm` when dropped (before the swarm is left: declare it after the
/// [`SwarmGuard`]).
struct SwarmDown(PathBuf);

impl Drop for SwarmDown {
    fn drop(&mut self) {
        let o = pactown(&["down", self.0.to_str().unwrap(), "--engine", "swarm"]);
        if !o.status.success() {
            eprintln!("cleanup failed: {}", text(&o));
        }
    }
}

/// `db`: answers `/value` with `db-<DB_VERSION>`.
fn db() -> String {
    common::python_service(
        "db",
        r#"print("db: listening", flush=True)"#,
        r#"        if self.path == "/value":
            self.reply(200, "db-" + os.environ.get("DB_VERSION", "1"))
        else:
            self.reply(200, "ok")"#,
    )
}

/// `api`: `/sum` asks db by its service name over the overlay; `API_MODE=broken` fails its
/// health check (the process runs: only our probe can tell).
fn api() -> String {
    common::python_service(
        "api",
        r#"print("api: started, db at " + os.environ["DB_URL"], flush=True)"#,
        r#"        if self.path == "/health" and os.environ.get("API_MODE") == "broken":
            self.reply(500, "broken")
        elif self.path == "/sum":
            got = urllib.request.urlopen(os.environ["DB_URL"] + "/value", timeout=5).read().decode()
            self.reply(200, "api-" + os.environ.get("API_VERSION", "1") + " got " + got)
        else:
            self.reply(200, "ok")"#,
    )
}

pub(crate) fn write_eco(dir: &Path, name: &str, base: u16, api_env: &str) -> PathBuf {
    std::fs::write(dir.join("db.md"), db()).unwrap();
    std::fs::write(dir.join("api.md"), api()).unwrap();
    let yaml = format!(
        "name: {name}\nbase_port: {base}\nservices:\n  db:\n    readme: db.md\n    port: {base}\n    health_check: /health\n    timeout: 90\n  api:\n    readme: api.md\n    port: {}\n    replicas: 2\n    health_check: /health\n    timeout: 90\n    depends_on:\n      - db\n    env:\n{api_env}",
        base + 1
    );
    let file = dir.join(format!("{name}.pactown.yaml"));
    std::fs::write(&file, yaml).unwrap();
    file
}

/// `docker service ls` names of the ecosystem's services.
fn swarm_services(name: &str) -> Vec<String> {
    let o = common::docker(&[
        "service",
        "ls",
        "--filter",
        &format!("label=io.pactown.ecosystem={name}"),
        "--format",
        "{{.Name}}",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let mut v: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

/// GET `/sum` from every running replica of api (by the host ports `status` reports).
fn sums(status: &serde_json::Value) -> Vec<String> {
    row(status, "api")["replicas"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["state"] == "running")
        .map(|r| {
            let port = r["host_port"].as_u64().unwrap();
            let (code, body) = http_get(&format!("http://127.0.0.1:{port}/sum"));
            assert_eq!(code, 200, "api replica on {port}: {body}");
            body
        })
        .collect()
}

fn status(file: &str) -> serde_json::Value {
    stdout_json(&pactown(&["status", file, "--json", "--engine", "swarm"]))
}

/// `pactown events FILE --engine swarm --json` of the last 15 minutes, one value per event.
pub(crate) fn events(file: &str) -> Vec<serde_json::Value> {
    let o = pactown(&[
        "events", file, "--engine", "swarm", "--json", "--since", "900",
    ]);
    assert!(o.status.success(), "events: {}", text(&o));
    parse_lines(&String::from_utf8_lossy(&o.stdout))
}

fn parse_lines(out: &str) -> Vec<serde_json::Value> {
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// The distinct containers with an event of `kind` whose name starts with `prefix`.
pub(crate) fn containers_with(
    events: &[serde_json::Value],
    kind: &str,
    prefix: &str,
) -> std::collections::BTreeSet<String> {
    events
        .iter()
        .filter(|e| e["kind"] == kind)
        .filter_map(|e| e["container"].as_str())
        .filter(|c| c.starts_with(prefix))
        .map(str::to_string)
        .collect()
}

/// `pactown events -f FILE --engine swarm --json` running in the background (no history, no
/// probes), its output going to a file; [`Following::stop`] ends it and reads the events.
pub(crate) struct Following {
    child: std::process::Child,
    out: PathBuf,
}

impl Following {
    pub(crate) fn start(file: &str, dir: &Path) -> Self {
        let out = dir.join("events.jsonl");
        let child = common::pactown_cmd()
            .args([
                "events",
                file,
                "--engine",
                "swarm",
                "--json",
                "-f",
                "--since",
                "0",
                "--health-interval",
                "0",
            ])
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("run pactown events -f");
        // the stream is open once the history (none) is out
        std::thread::sleep(std::time::Duration::from_secs(2));
        Self { child, out }
    }

    pub(crate) fn stop(mut self) -> Vec<serde_json::Value> {
        common::stop_child(&mut self.child);
        parse_lines(&std::fs::read_to_string(&self.out).unwrap_or_default())
    }
}

#[test]
fn swarm_up_status_logs_down_with_dependencies() {
    let Some(_swarm) = SwarmGuard::join() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let name = common::unique("swarm");
    let file = write_eco(
        tmp.path(),
        &name,
        common::free_base(),
        "      API_VERSION: \"1\"\n",
    );
    let f = file.to_str().unwrap();
    let _down = SwarmDown(file.clone());

    let o = pactown(&["up", f, "-d", "--engine", "swarm", "--timeout", "180"]);
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains("single-node swarm") && out.contains("local images"),
        "a single node may use local images, with a warning:\n{out}"
    );
    assert_eq!(
        swarm_services(&name),
        vec![format!("{name}-api"), format!("{name}-db")],
        "one Swarm service per service"
    );
    // one attachable overlay network
    let net = common::docker(&[
        "network",
        "inspect",
        &format!("pactown-{name}"),
        "--format",
        "{{.Driver}} {{.Attachable}}",
    ]);
    assert_eq!(String::from_utf8_lossy(&net.stdout).trim(), "overlay true");

    let st = status(f);
    let api = row(&st, "api");
    assert_eq!(api["desired"], 2, "{st}");
    assert_eq!(api["running"], 2, "{st}");
    assert_eq!(row(&st, "db")["running"], 1, "{st}");
    assert_eq!(api["health"]["healthy"], true, "{st}");
    // both replicas answer through their own host-mode port, reaching db by its name
    let answers = sums(&st);
    assert_eq!(answers.len(), 2, "{st}");
    for a in &answers {
        assert_eq!(a, "api-1 got db-1");
    }
    // the same isolation as on Docker: read-only root, no capabilities, the image's user
    let task_container = common::docker(&[
        "ps",
        "-q",
        "--filter",
        &format!("label=com.docker.swarm.service.name={name}-api"),
    ]);
    let id = String::from_utf8_lossy(&task_container.stdout)
        .lines()
        .next()
        .unwrap()
        .to_string();
    let inspect = common::docker(&[
        "inspect",
        &id,
        "--format",
        "{{.HostConfig.ReadonlyRootfs}} {{.HostConfig.CapDrop}} {{.Config.User}} {{.HostConfig.Init}}",
    ]);
    let inspect = String::from_utf8_lossy(&inspect.stdout).trim().to_string();
    assert!(inspect.starts_with("true [ALL]"), "{inspect}");
    assert!(inspect.ends_with("true"), "an init as PID 1: {inspect}");

    // logs of every replica, by task
    let logs = text(&pactown(&["logs", f, "api", "--engine", "swarm"]));
    assert!(logs.contains("api: started, db at http://db:"), "{logs}");

    // a second `up` changes nothing
    let o = pactown(&["up", f, "-d", "--engine", "swarm", "--timeout", "180"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("is up to date"), "{}", text(&o));

    // `endpoint_mode: vip` on api updates it to a virtual IP; db keeps DNS round robin, and
    // each api replica still answers on its host-mode port
    let yaml = std::fs::read_to_string(&file).unwrap();
    let yaml = yaml.replacen(
        "    replicas: 2\n",
        "    replicas: 2\n    endpoint_mode: vip\n",
        1,
    );
    std::fs::write(&file, yaml).unwrap();
    let o = pactown(&["up", f, "-d", "--engine", "swarm", "--timeout", "180"]);
    assert!(o.status.success(), "{}", text(&o));
    let mode = |svc: &str| {
        let o = common::docker(&[
            "service",
            "inspect",
            &format!("{name}-{svc}"),
            "--format",
            "{{.Spec.EndpointSpec.Mode}}",
        ]);
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    assert_eq!(
        (mode("api").as_str(), mode("db").as_str()),
        ("vip", "dnsrr")
    );
    let answers = sums(&status(f));
    assert_eq!(answers, vec!["api-1 got db-1"; 2]);

    // restart replaces every task of api (new task ids), waits until they answer; db stays
    let tasks = |st: &serde_json::Value, svc: &str| -> Vec<String> {
        row(st, svc)["replicas"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["state"] == "running")
            .map(|r| r["id"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    let before = status(f);
    let o = pactown(&["restart", f, "api", "--engine", "swarm", "--timeout", "120"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("api"), "{}", text(&o));
    let after = status(f);
    let (old, new) = (tasks(&before, "api"), tasks(&after, "api"));
    assert_eq!(new.len(), 2, "{after}");
    assert!(new.iter().all(|t| !old.contains(t)), "{old:?} -> {new:?}");
    assert_eq!(tasks(&before, "db"), tasks(&after, "db"));
    assert_eq!(sums(&after), vec!["api-1 got db-1"; 2]);

    let o = pactown(&["down", f, "--engine", "swarm"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(swarm_services(&name).is_empty());
    // the manager removes the overlay at once; this node's copy goes a moment later
    let gone = (0..40).any(|_| {
        let net = common::docker(&["network", "inspect", &format!("pactown-{name}")]);
        !net.status.success() || {
            std::thread::sleep(std::time::Duration::from_millis(250));
            false
        }
    });
    assert!(gone, "the overlay network is removed");
}

#[test]
fn swarm_rolling_update_and_roll_back_of_a_failing_version() {
    let Some(_swarm) = SwarmGuard::join() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let name = common::unique("swroll");
    let base = common::free_base();
    let file = write_eco(tmp.path(), &name, base, "      API_VERSION: \"1\"\n");
    let f = file.to_str().unwrap();
    let _down = SwarmDown(file.clone());
    let o = pactown(&["up", f, "-d", "--engine", "swarm", "--timeout", "180"]);
    assert!(o.status.success(), "{}", text(&o));

    // a good new version: rolled out one replica at a time, start-first
    write_eco(tmp.path(), &name, base, "      API_VERSION: \"2\"\n");
    let o = pactown(&["up", f, "-d", "--engine", "swarm", "--timeout", "120"]);
    assert!(o.status.success(), "{}", text(&o));
    let st = status(f);
    assert_eq!(row(&st, "api")["update"]["state"], "completed", "{st}");
    for a in sums(&st) {
        assert_eq!(a, "api-2 got db-1");
    }

    // a new version whose process runs but fails our probe: rolled back to version 2
    write_eco(
        tmp.path(),
        &name,
        base,
        "      API_VERSION: \"3\"\n      API_MODE: broken\n",
    );
    let o = pactown(&["up", f, "-d", "--engine", "swarm", "--timeout", "20"]);
    assert!(!o.status.success(), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("rolled back"), "{out}");
    assert!(
        out.contains(&format!("{name}-api.")),
        "names the task: {out}"
    );
    let st = status(f);
    let api = row(&st, "api");
    assert_eq!(api["update"]["state"], "rollback_completed", "{st}");
    assert_eq!(api["running"], 2, "{st}");
    for a in sums(&st) {
        assert_eq!(a, "api-2 got db-1", "the previous version serves again");
    }

    // `events` tells it on Swarm: the services' creation, the update, the roll-back (flagged),
    // and the tasks' containers
    let ev = events(f);
    let of = |kind: &str, svc: &str| -> Vec<&serde_json::Value> {
        ev.iter()
            .filter(|e| e["kind"] == kind && e["service"] == svc)
            .collect()
    };
    assert!(!of("service-created", "db").is_empty(), "{ev:#?}");
    let updates = of("service-updated", "api");
    let detail = |e: &&serde_json::Value| e["detail"].as_str().unwrap_or_default().to_string();
    assert!(
        updates
            .iter()
            .any(|e| detail(e).contains("update: completed")),
        "{updates:#?}"
    );
    assert!(
        updates.iter().any(
            |e| detail(e).contains("update: rollback_started") && e["anomaly"] == "rolled-back"
        ),
        "{updates:#?}"
    );
    // two replicas of three versions (v3's tasks were started, then rolled back)
    let started = containers_with(&ev, "started", &format!("{name}-api."));
    assert!(started.len() >= 5, "{started:?}");
}

#[test]
fn swarm_watch_rolls_out_a_readme_edit_and_leaves_the_rest() {
    let Some(_swarm) = SwarmGuard::join() else {
        return;
    };
    if !crate::oci_registry::registry_available() {
        return;
    }
    // watch mode pushes each rebuilt image and the update runs it by digest, as `up` does
    let registry = crate::oci_registry::OciRegistry::plain();
    let tmp = tempfile::tempdir().unwrap();
    let name = common::unique("swwatch");
    let file = write_eco(
        tmp.path(),
        &name,
        common::free_base(),
        "      API_VERSION: \"1\"\n",
    );
    let mut yaml = std::fs::read_to_string(&file).unwrap();
    yaml.push_str(&format!("images:\n  repo: {}/pt\n", registry.host));
    std::fs::write(&file, yaml).unwrap();
    let f = file.to_str().unwrap();
    let image_of = || {
        let o = common::docker(&[
            "service",
            "inspect",
            &format!("{name}-api"),
            "--format",
            "{{.Spec.TaskTemplate.ContainerSpec.Image}}",
        ]);
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    let _down = SwarmDown(file.clone());
    let log = tmp.path().join("watch.log");
    let mut watch = common::pactown_cmd()
        .args([
            "watch",
            f,
            "--engine",
            "swarm",
            "--json",
            "--timeout",
            "180",
        ])
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run pactown watch");
    let wait = |what: &str, secs: u64, check: &dyn Fn() -> bool| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        while !check() {
            assert!(
                std::time::Instant::now() < deadline,
                "{what} within {secs} s; watch said:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
    };
    let serving = |body: &'static str| {
        move || {
            let o = pactown(&["status", f, "--json", "--engine", "swarm"]);
            let Ok(st) = serde_json::from_slice::<serde_json::Value>(&o.stdout) else {
                return false;
            };
            let Some(r) = st["services"]
                .as_array()
                .and_then(|rows| rows.iter().find(|r| r["service"] == "api"))
            else {
                return false;
            };
            r["running"] == 2
                && r["health"]["healthy"] == true
                && r["replicas"].as_array().is_some_and(|rs| {
                    rs.iter().filter(|r| r["state"] == "running").all(|r| {
                        r["host_port"].as_u64().is_some_and(|p| {
                            http_get(&format!("http://127.0.0.1:{p}/sum")).1 == body
                        })
                    })
                })
        }
    };
    wait("the first deploy", 300, &serving("api-1 got db-1"));
    let tasks = |svc: &str| -> Vec<String> {
        let st = status(f);
        let mut v: Vec<String> = row(&st, svc)["replicas"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["state"] == "running")
            .map(|r| r["id"].as_str().unwrap_or_default().to_string())
            .collect();
        v.sort();
        v
    };
    let (api_before, db_before) = (tasks("api"), tasks("db"));
    let pushed = format!("{}/pt/{name}-api", registry.host);
    let image_before = image_of();
    assert!(
        image_before.starts_with(&pushed) && image_before.contains("@sha256:"),
        "{image_before}"
    );

    // a code edit in api's README: rebuilt and rolled out as a Swarm update; db is untouched
    let readme = tmp.path().join("api.md");
    let code = std::fs::read_to_string(&readme).unwrap();
    assert!(code.contains("\"api-\""), "{code}");
    std::fs::write(&readme, code.replace("\"api-\"", "\"edited-\"")).unwrap();
    wait(
        "the edit served by both replicas",
        240,
        &serving("edited-1 got db-1"),
    );
    let api_after = tasks("api");
    assert_eq!(api_after.len(), 2);
    assert!(
        api_after.iter().all(|t| !api_before.contains(t)),
        "new tasks: {api_before:?} -> {api_after:?}"
    );
    assert_eq!(tasks("db"), db_before, "db keeps its task");
    // the reconcile returns once Swarm finished the update
    let reconciled = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .matches("\"reconciled\"")
            .count()
            >= 2
    };
    wait("the second reconcile", 120, &reconciled);
    let state = common::docker(&[
        "service",
        "inspect",
        &format!("{name}-api"),
        "--format",
        "{{.UpdateStatus.State}}",
    ]);
    assert_eq!(String::from_utf8_lossy(&state.stdout).trim(), "completed");
    let image_after = image_of();
    assert!(
        image_after.starts_with(&pushed) && image_after != image_before,
        "the edit was pushed and runs by its new digest: {image_before} -> {image_after}"
    );
    common::stop_child(&mut watch);
}
