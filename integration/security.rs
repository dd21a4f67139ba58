//! Real-engine tests of the isolation policy, driven through the `pactown` binary on dockerd:
//! hardened defaults on every runtime that needs a writable place (PHP, Rust), OOM kill and
//! pids limit reported by `status`, and tenant copies that cannot resolve or reach each other.
//! Every test brings its ecosystems down in a guard, even when it fails.
use crate::common::{self, free_base, http_get, pactown, row, text, Down};
use pactown::engine::EngineKind;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Runs the docker CLI; its trimmed stdout.
fn docker(args: &[&str]) -> String {
    common::cli_output(EngineKind::Docker, args)
}

/// A stdlib-only Python probe service: `/health`, `/whoami`, `/write?PATH`, `/resolve?HOST`,
/// `/fetch?URL`, `/boom` (allocates until killed), `/bomb` (starts a fork bomb).
const PROBE: &str = r#"# probe

```python markpact:file path=server.py
import http.server, os, socket, subprocess, sys, urllib.request

# every process forks forever; a failed fork (pids limit) just waits and tries again
BOMB = "import os, time\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        time.sleep(0.05)\n"

class H(http.server.BaseHTTPRequestHandler):
    def reply(self, code, body):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def do_GET(self):
        path, _, arg = self.path.partition("?")
        try:
            if path == "/health":
                return self.reply(200, "ok")
            if path == "/whoami":
                return self.reply(200, "%d" % os.getuid())
            if path == "/write":
                with open(arg, "w") as f:
                    f.write("x")
                return self.reply(200, "written")
            if path == "/resolve":
                return self.reply(200, socket.gethostbyname(arg))
            if path == "/fetch":
                with urllib.request.urlopen(arg, timeout=3) as r:
                    return self.reply(200, r.read().decode())
            if path == "/boom":
                self.reply(200, "allocating")
                hog = []
                while True:
                    hog.append(b"x" * (4 << 20))
            if path == "/bomb":
                subprocess.Popen([sys.executable, "-c", BOMB])
                return self.reply(200, "bombing")
            return self.reply(404, "no")
        except Exception as e:
            return self.reply(500, "%s: %s" % (type(e).__name__, e))

    def log_message(self, *a):
        pass

print("token=" + os.environ.get("API_TOKEN", "none"), flush=True)
http.server.ThreadingHTTPServer(("0.0.0.0", int(os.environ["PORT"])), H).serve_forever()
```

```bash markpact:run
python3 server.py
```
"#;

fn write_eco(dir: &Path, name: &str, services: &str) -> PathBuf {
    std::fs::write(dir.join("probe.md"), PROBE).unwrap();
    let yaml = format!("name: {name}\nbase_port: {}\n{services}", free_base());
    let file = dir.join(format!("{name}.pactown.yaml"));
    std::fs::write(&file, yaml).unwrap();
    file
}

/// `status --json` of the ecosystem in `file` on Docker, `extra` arguments added.
fn status(file: &str, extra: &[&str]) -> serde_json::Value {
    common::status_json(EngineKind::Docker, file, extra)
}

fn inspect(container: &str, format: &str) -> String {
    docker(&["inspect", "-f", format, container])
}

#[test]
fn hardened_defaults_hold_and_every_runtime_still_runs() {
    if !common::docker_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let name = common::unique("sec-hard");
    for case in ["php-builtin", "rust-std"] {
        std::fs::copy(
            common::repo_root()
                .join("tests/fixtures/build")
                .join(case)
                .join("README.md"),
            tmp.path().join(format!("{case}.md")),
        )
        .unwrap();
    }
    let file = write_eco(
        tmp.path(),
        &name,
        "services:\n  probe:\n    readme: probe.md\n    health_check: /health\n    volumes:\n      data: /data\n  php:\n    readme: php-builtin.md\n    health_check: /\n  rust:\n    readme: rust-std.md\n    timeout: 300\n",
    );
    let f = file.to_str().unwrap();
    let _guard = Down::new(&file, EngineKind::Docker).timeout(1);
    let o = pactown(&["up", f, "-d", "--engine", "docker", "--timeout", "300"]);
    assert!(o.status.success(), "{}", text(&o));

    for svc in ["probe", "php", "rust"] {
        let c = format!("{name}-{svc}-1");
        assert_eq!(inspect(&c, "{{.HostConfig.ReadonlyRootfs}}"), "true", "{c}");
        assert_eq!(inspect(&c, "{{.HostConfig.CapDrop}}"), "[ALL]", "{c}");
        assert!(
            inspect(&c, "{{.HostConfig.SecurityOpt}}").contains("no-new-privileges"),
            "{c}"
        );
        assert_eq!(inspect(&c, "{{.HostConfig.PidsLimit}}"), "512", "{c}");
        assert!(
            inspect(&c, "{{json .HostConfig.Tmpfs}}").contains("/tmp"),
            "{c}"
        );
    }
    let st = status(f, &[]);
    for svc in ["probe", "php", "rust"] {
        let r = row(&st, svc);
        assert_eq!(r["health"]["healthy"], true, "{r}");
        assert_eq!(r["hardening"]["read_only"], true, "{r}");
        assert_eq!(r["limits"]["pids"], 512, "{r}");
    }
    let url = row(&st, "probe")["url"].as_str().unwrap().to_string();
    // the image's unprivileged user, a read-only root, a writable /tmp and data volume
    assert_eq!(http_get(&format!("{url}/whoami")), (200, "10001".into()));
    // the root file system is read-only even where the service's user owns the directory…
    let (code, body) = http_get(&format!("{url}/write?/home/app/x"));
    assert_eq!(code, 500, "{body}");
    assert!(body.contains("Read-only file system"), "{body}");
    // …while the working directory is a writable per-container copy of the image's /app
    assert_eq!(http_get(&format!("{url}/write?/app/x")).0, 200);
    assert_eq!(http_get(&format!("{url}/write?/tmp/x")).0, 200);
    assert_eq!(http_get(&format!("{url}/write?/data/x")).0, 200);
    let vol = format!("{name}-data");
    assert_eq!(
        docker(&[
            "volume",
            "inspect",
            "-f",
            "{{index .Labels \"io.pactown.ecosystem\"}}",
            &vol
        ]),
        name
    );
    drop(_guard);
    docker(&["volume", "rm", "-f", &vol]);
}

#[test]
fn memory_and_pids_limits_are_enforced_and_reported() {
    if !common::docker_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let name = common::unique("sec-lim");
    let file = write_eco(
        tmp.path(),
        &name,
        "profiles:\n  tiny: {cpus: 0.25, memory: 48m, pids: 24}\nservices:\n  hog:\n    readme: probe.md\n    health_check: /health\n    auto_restart: false\n    profile: tiny\n    resources: {pids: 64}\n  bomb:\n    readme: probe.md\n    health_check: /health\n    auto_restart: false\n    profile: tiny\n    resources: {memory: 512m}\n  calm:\n    readme: probe.md\n    health_check: /health\n",
    );
    let f = file.to_str().unwrap();
    let _guard = Down::new(&file, EngineKind::Docker).timeout(1);
    let o = pactown(&["up", f, "-d", "--engine", "docker", "--timeout", "120"]);
    assert!(o.status.success(), "{}", text(&o));

    let st = status(f, &[]);
    let hog = row(&st, "hog");
    assert_eq!(hog["limits"]["memory"], 48 << 20, "{hog}");
    assert_eq!(hog["limits"]["nano_cpus"], 250_000_000, "{hog}");
    assert_eq!(hog["limits"]["pids"], 64, "{hog}");
    let o = pactown(&["status", f, "--engine", "docker"]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("cpu=0.25 mem=48m pids=64"),
        "{}",
        text(&o)
    );

    // 1. allocating past 48m gets the service OOM-killed, and status says so
    let hog_url = hog["url"].as_str().unwrap().to_string();
    let _ = http_get(&format!("{hog_url}/boom"));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let st = status(f, &[]);
        let r = &row(&st, "hog")["replicas"][0];
        if r["oom_killed"] == true {
            assert_eq!(r["exit_code"], 137, "killed by SIGKILL: {r}");
            break;
        }
        assert!(Instant::now() < deadline, "hog was not OOM-killed: {r}");
        std::thread::sleep(Duration::from_millis(500));
    }

    // 2. a fork bomb stops at 24 processes; the host and the other services stay responsive
    let bomb = format!("{name}-bomb-1");
    let bomb_url = row(&st, "bomb")["url"].as_str().unwrap().to_string();
    assert_eq!(http_get(&format!("{bomb_url}/bomb")).0, 200);
    std::thread::sleep(Duration::from_secs(3));
    let procs = docker(&["top", &bomb, "-eo", "pid"]).lines().count() - 1;
    assert!(
        procs <= 24,
        "{procs} processes in a container limited to 24"
    );
    assert!(
        procs >= 20,
        "the bomb did not reach the limit ({procs} processes)"
    );
    let t = Instant::now();
    let ok = Command::new("true").status().unwrap().success();
    assert!(ok && t.elapsed() < Duration::from_secs(2), "host is slow");
    let calm = row(&st, "calm")["url"].as_str().unwrap().to_string();
    let t = Instant::now();
    assert_eq!(http_get(&format!("{calm}/health")).0, 200);
    assert!(t.elapsed() < Duration::from_secs(5), "calm answered slowly");
    // bound the bomb: kill it right away
    docker(&["rm", "-f", &bomb]);
}

#[test]
fn tenants_cannot_resolve_or_reach_each_other() {
    if !common::docker_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let name = common::unique("sec-ten");
    let file = write_eco(
        tmp.path(),
        &name,
        "services:\n  api:\n    readme: probe.md\n    health_check: /health\n  web:\n    readme: probe.md\n    health_check: /health\n    depends_on: [api]\n",
    );
    let f = file.to_str().unwrap();
    let _a = Down::new(&file, EngineKind::Docker).tenant("a").timeout(1);
    let _b = Down::new(&file, EngineKind::Docker).tenant("b").timeout(1);
    for (t, off) in [("a", "1000"), ("b", "2000")] {
        let o = pactown(&[
            "up",
            f,
            "-d",
            "--engine",
            "docker",
            "--tenant",
            t,
            "--port-offset",
            off,
            "--timeout",
            "120",
        ]);
        assert!(o.status.success(), "{}", text(&o));
    }
    let a = format!("{name}--a");
    let b = format!("{name}--b");
    assert_eq!(
        inspect(
            &format!("{a}-api-1"),
            "{{index .Config.Labels \"io.pactown.tenant\"}}"
        ),
        "a"
    );
    assert_eq!(
        docker(&[
            "network",
            "inspect",
            "-f",
            "{{index .Labels \"io.pactown.tenant\"}}",
            &format!("pactown-{b}")
        ]),
        "b"
    );
    let sa = status(f, &["--tenant", "a"]);
    let sb = status(f, &["--tenant", "b"]);
    assert_eq!(sa["ecosystem"], a.as_str());
    assert_eq!(row(&sa, "api")["health"]["healthy"], true);
    assert_eq!(row(&sb, "api")["health"]["healthy"], true);
    let web_a = row(&sa, "web")["url"].as_str().unwrap().to_string();
    assert_ne!(web_a, row(&sb, "web")["url"].as_str().unwrap());

    // inside tenant a, `api` is a's api
    let (code, ip_a) = http_get(&format!("{web_a}/resolve?api"));
    assert_eq!(code, 200, "{ip_a}");
    let api_a_ip = inspect(
        &format!("{a}-api-1"),
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
    );
    assert_eq!(ip_a, api_a_ip);
    // b's containers have no name in a's DNS
    let (code, body) = http_get(&format!("{web_a}/resolve?{b}-api-1"));
    assert_eq!(code, 500, "tenant a resolved b's api: {body}");
    // and b's api address is not reachable from a
    let api_b_ip = inspect(
        &format!("{b}-api-1"),
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
    );
    let port_b = row(&sb, "api")["url"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .to_string();
    let (code, body) = http_get(&format!("{web_a}/fetch?http://{api_b_ip}:{port_b}/health"));
    assert_eq!(code, 500, "tenant a reached b's api: {body}");
    // while a reaches its own api by name
    let port_a = row(&sa, "api")["url"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .to_string();
    let (code, body) = http_get(&format!("{web_a}/fetch?http://api:{port_a}/health"));
    assert_eq!((code, body.as_str()), (200, "ok"));
}

#[test]
fn events_report_oom_kills_restarts_and_the_restart_loop() {
    if !common::docker_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let name = common::unique("sec-ev");
    let file = write_eco(
        tmp.path(),
        &name,
        "services:\n  hog:\n    readme: probe.md\n    health_check: /health\n    resources: {memory: 48m}\n",
    );
    let f = file.to_str().unwrap();
    let _guard = Down::new(&file, EngineKind::Docker).timeout(1);
    let o = pactown(&["up", f, "-d", "--engine", "docker", "--timeout", "120"]);
    assert!(o.status.success(), "{}", text(&o));
    let url = row(&status(f, &[]), "hog")["url"]
        .as_str()
        .unwrap()
        .to_string();
    let c = format!("{name}-hog-1");
    // three OOM kills; the restart policy brings it back each time
    for n in 1..=3 {
        let deadline = Instant::now() + Duration::from_secs(30);
        while http_get(&format!("{url}/health")).0 != 200 {
            assert!(Instant::now() < deadline, "hog did not come back ({n})");
            std::thread::sleep(Duration::from_millis(200));
        }
        let _ = http_get(&format!("{url}/boom"));
        let deadline = Instant::now() + Duration::from_secs(30);
        while inspect(&c, "{{.RestartCount}}").parse::<u32>().unwrap_or(0) < n {
            assert!(Instant::now() < deadline, "no restart after OOM {n}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    // the engine may record the last start a moment after the container answers
    let deadline = Instant::now() + Duration::from_secs(15);
    let events: Vec<serde_json::Value> = loop {
        let o = pactown(&[
            "events", f, "--json", "--since", "300", "--engine", "docker",
        ]);
        assert!(o.status.success(), "{}", text(&o));
        let events: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        let restarts = events.iter().filter(|e| e["kind"] == "restarted").count();
        if restarts >= 3 || Instant::now() > deadline {
            break events;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "oom-killed").count(),
        3,
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| **k == "restarted").count(),
        3,
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&"started") && kinds.contains(&"created"),
        "{kinds:?}"
    );
    assert!(
        events
            .iter()
            .all(|e| e["service"] == "hog" && e["ecosystem"] == name.as_str()),
        "{events:?}"
    );
    assert!(
        events.iter().any(|e| e["anomaly"] == "restart-loop"),
        "{events:?}"
    );
    assert!(events.iter().any(|e| e["anomaly"] == "oom"), "{events:?}");
    // status flags both anomalies
    let st = status(f, &[]);
    let anomalies = &row(&st, "hog")["anomalies"];
    assert!(
        anomalies
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "restart-loop"),
        "{anomalies}"
    );
}

/// The engine layer on both engines: a container created with the hardening and limits of a
/// spec runs with them (read-only root, writable tmpfs, no capabilities, limits), and
/// `inspect_container` reads them back.
#[tokio::test]
async fn both_engines_apply_and_report_hardening_and_limits() {
    use pactown::engine::{ContainerSpec, Hardening, ResourceLimits, VolumeMount};
    use std::collections::BTreeMap;
    for engine in common::engines().await {
        let name = common::unique(&format!("sec-eng-{}", engine.kind()));
        let vol = format!("{name}-data");
        let spec = ContainerSpec {
            name: name.clone(),
            image: "debian:bookworm-slim".into(),
            labels: BTreeMap::from([("io.pactown.test".to_string(), name.clone())]),
            command: Some(vec![
                "sh".into(),
                "-c".into(),
                "touch /x 2>/dev/null || echo root-ro; touch /tmp/y && echo tmp-rw; \
                 touch /data/z && echo data-rw; grep CapEff /proc/self/status; \
                 grep NoNewPrivs /proc/self/status"
                    .into(),
            ]),
            hardening: Hardening {
                read_only: true,
                no_new_privileges: true,
                cap_drop: vec!["ALL".into()],
                tmpfs: BTreeMap::from([(
                    "/tmp".to_string(),
                    pactown::config::TMP_OPTIONS.to_string(),
                )]),
                volumes: vec![VolumeMount {
                    source: Some(vol.clone()),
                    target: "/data".into(),
                    labels: BTreeMap::from([("io.pactown.test".to_string(), name.clone())]),
                }],
                ..Hardening::default()
            },
            limits: ResourceLimits {
                nano_cpus: Some(500_000_000),
                memory: Some(64 << 20),
                pids: Some(32),
            },
            ..ContainerSpec::default()
        };
        let id = engine.create_container(&spec).await.unwrap();
        let d = engine.inspect_container(&id).await.unwrap();
        engine.start_container(&id).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while engine.inspect_container(&id).await.unwrap().running
            || engine
                .inspect_container(&id)
                .await
                .unwrap()
                .started_at
                .is_none()
        {
            assert!(
                Instant::now() < deadline,
                "{} did not finish",
                engine.kind()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let stream = engine
            .logs(&id, &pactown::engine::LogQuery::default())
            .await
            .unwrap();
        use futures_util::StreamExt;
        let lines: Vec<String> = stream.map(|l| l.unwrap().text).collect().await;
        engine.remove_container(&id).await.unwrap();
        let _ = Command::new(engine.kind().to_string())
            .args(["volume", "rm", "-f", &vol])
            .output();
        let text = lines.join("\n");
        let kind = engine.kind();
        assert!(text.contains("root-ro"), "{kind}: {text}");
        assert!(text.contains("tmp-rw"), "{kind}: {text}");
        assert!(text.contains("data-rw"), "{kind}: {text}");
        assert!(text.contains("CapEff:\t0000000000000000"), "{kind}: {text}");
        assert!(text.contains("NoNewPrivs:\t1"), "{kind}: {text}");
        assert!(d.hardening.read_only, "{kind}: {d:?}");
        assert!(d.hardening.no_new_privileges, "{kind}: {d:?}");
        assert!(d.hardening.tmpfs.contains_key("/tmp"), "{kind}: {d:?}");
        assert_eq!(d.limits.memory, Some(64 << 20), "{kind}");
        assert_eq!(d.limits.nano_cpus, Some(500_000_000), "{kind}");
        assert_eq!(d.limits.pids, Some(32), "{kind}");
    }
}

#[test]
fn secrets_are_resolved_for_the_container_and_masked_in_logs() {
    if !common::docker_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let name = common::unique("sec-secret");
    let file = write_eco(
        tmp.path(),
        &name,
        "services:\n  api:\n    readme: probe.md\n    health_check: /health\n    env:\n      API_TOKEN: ${SEC_TEST_TOKEN}\n",
    );
    let f = file.to_str().unwrap();
    let _guard = Down::new(&file, EngineKind::Docker).timeout(1);
    let token = format!("tok-{}", common::unique("v"));
    let o = common::pactown_cmd()
        .args(["up", f, "-d", "--engine", "docker", "--timeout", "120"])
        .env("SEC_TEST_TOKEN", &token)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    // the container got the value
    let env = inspect(&format!("{name}-api-1"), "{{json .Config.Env}}");
    assert!(env.contains(&format!("API_TOKEN={token}")), "{env}");
    // `logs` (with the same environment) shows the service's output with the value masked
    let o = common::pactown_cmd()
        .args(["logs", f, "--engine", "docker"])
        .env("SEC_TEST_TOKEN", &token)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("token=***"), "{out}");
    assert!(!out.contains(&token), "{out}");
}
