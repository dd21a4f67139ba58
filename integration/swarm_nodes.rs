//! `--engine swarm` on two real nodes: this machine's dockerd as the manager and a second
//! dockerd in its own network namespace as a worker (`integration/swarm-worker.sh`: own data
//! root, exec root and socket, a veth pair with addresses this test picks). The images go to a
//! registry the test starts on the host end of the veth (`images: {repo: …}` makes `up` push
//! them), both nodes pull them through `127.0.0.1:PORT` (plain HTTP is allowed on loopback; the
//! worker's loopback port is forwarded to the host end). A 2-replica service spreads over both
//! nodes, one on one node reaches one on the other by name through the overlay, and draining the
//! worker moves its tasks to the manager with the ecosystem healthy throughout the check.
//!
//! Needs a daemon that is in no swarm (the manager must advertise the veth address); everything
//! it creates — namespace, veth, daemon, registries, swarm — is removed at the end.
use crate::common::{self, http_get, pactown, row, stdout_json, text};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const FORWARDER: &str = r#"import asyncio, sys
lport, target, tport = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
async def pipe(r, w):
    try:
        while data := await r.read(65536):
            w.write(data)
            await w.drain()
    finally:
        w.close()
async def handle(r, w):
    try:
        tr, tw = await asyncio.open_connection(target, tport)
    except OSError:
        w.close()
        return
    await asyncio.gather(pipe(r, tw), pipe(tr, w), return_exceptions=True)
async def main():
    s = await asyncio.start_server(handle, "127.0.0.1", lport)
    async with s:
        await s.serve_forever()
asyncio.run(main())
"#;

/// Everything the test set up, torn down in reverse order on drop.
struct Cluster {
    dir: PathBuf,
    tag: String,
    file: Option<PathBuf>,
    children: Vec<Child>,
    swarm: bool,
    worker_up: bool,
    /// The pushed images' repository prefix (`127.0.0.1:PORT/pt/`): their local tags go too.
    pushed: Option<String>,
}

impl Cluster {
    fn worker_socket(&self) -> String {
        format!("unix://{}/docker.sock", self.dir.join("node").display())
    }

    fn worker_docker(&self, args: &[&str]) -> std::process::Output {
        Command::new("docker")
            .env("DOCKER_HOST", self.worker_socket())
            .args(args)
            .output()
            .unwrap()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(f) = &self.file {
            let o = pactown(&["down", f.to_str().unwrap(), "--engine", "swarm"]);
            if !o.status.success() {
                eprintln!("cleanup: {}", text(&o));
            }
        }
        if self.worker_up {
            let _ = self.worker_docker(&["swarm", "leave", "--force"]);
        }
        if self.swarm {
            let o = common::docker(&["swarm", "leave", "--force"]);
            if !o.status.success() {
                eprintln!("cleanup: docker swarm leave: {}", text(&o));
            }
        }
        if let Some(prefix) = &self.pushed {
            let o = common::docker(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
            for image in String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter(|i| i.starts_with(prefix.as_str()))
            {
                let _ = common::docker(&["rmi", image]);
            }
        }
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let node = self.dir.join("node");
        let o = Command::new("bash")
            .arg(common::repo_root().join("integration/swarm-worker.sh"))
            .args(["down", node.to_str().unwrap(), &self.tag])
            .output()
            .unwrap();
        if !o.status.success() {
            eprintln!("cleanup: swarm-worker.sh down: {}", text(&o));
        }
    }
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn registry(dir: &Path, name: &str, addr: &str) -> Child {
    let config = dir.join(format!("{name}.yml"));
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nstorage: {{filesystem: {{rootdirectory: {}}}}}\nhttp: {{addr: {addr}}}\n",
            dir.join("registry").display()
        ),
    )
    .unwrap();
    Command::new("docker-registry")
        .args(["serve", config.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join(format!("{name}.log"))).unwrap())
        .spawn()
        .unwrap()
}

/// Polls `url` until it answers 200 (at most `secs`).
fn wait_http(url: &str, secs: u64) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if http_get(url).0 == 200 {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

/// Node id of every running task of a Swarm service.
fn task_nodes(service: &str) -> Vec<String> {
    let o = common::docker(&[
        "service",
        "ps",
        "-q",
        "--filter",
        "desired-state=running",
        service,
    ]);
    assert!(o.status.success(), "{}", text(&o));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|id| {
            let o = common::docker(&["inspect", "--format", "{{.NodeID}} {{.Status.State}}", id]);
            String::from_utf8_lossy(&o.stdout).trim().to_string()
        })
        .filter(|l| l.ends_with(" running"))
        .map(|l| l.trim_end_matches(" running").to_string())
        .collect()
}

/// `/sum` of every running api replica, through the address and port `status` reports.
fn sums(status: &serde_json::Value) -> Vec<String> {
    row(status, "api")["replicas"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["state"] == "running")
        .map(|r| {
            let host = r["host"].as_str().unwrap_or("127.0.0.1");
            let port = r["host_port"].as_u64().unwrap();
            let (code, body) = http_get(&format!("http://{host}:{port}/sum"));
            assert_eq!(code, 200, "api replica on {host}:{port}: {body}");
            body
        })
        .collect()
}

#[test]
fn swarm_two_nodes_spread_cross_node_dns_and_drain() {
    if !common::docker_available() {
        return;
    }
    let root = nix_is_root();
    let tools = [
        "ip",
        "nsenter",
        "setsid",
        "docker-registry",
        "python3",
        "curl",
    ];
    let missing: Vec<&str> = tools.iter().copied().filter(|t| !have(t)).collect();
    if !root || !missing.is_empty() {
        assert!(
            !common::engines_required(),
            "the two-node Swarm test needs root and {missing:?}"
        );
        eprintln!("skipping: needs root and {missing:?}");
        return;
    }
    let state = text(&common::docker(&[
        "info",
        "--format",
        "{{.Swarm.LocalNodeState}}",
    ]));
    if !state.contains("inactive") {
        assert!(
            !common::engines_required(),
            "the two-node Swarm test needs a daemon in no swarm (it is: {state})"
        );
        eprintln!("skipping: the daemon is already in a swarm");
        return;
    }

    let tmp = tempfile::tempdir().unwrap();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let tag = format!("sw{:06x}", nanos & 0xff_ffff);
    let (a, b) = (200 + (nanos % 50), (nanos / 50) % 250);
    let host_ip = format!("10.{a}.{b}.1");
    let node_ip = format!("10.{a}.{b}.2");
    let mut cluster = Cluster {
        dir: tmp.path().to_path_buf(),
        tag: tag.clone(),
        file: None,
        children: Vec::new(),
        swarm: false,
        worker_up: false,
        pushed: None,
    };

    // the second node
    let node_dir = tmp.path().join("node");
    let o = Command::new("bash")
        .arg(common::repo_root().join("integration/swarm-worker.sh"))
        .args(["up", node_dir.to_str().unwrap(), &tag, &host_ip, &node_ip])
        .output()
        .unwrap();
    cluster.worker_up = true;
    assert!(o.status.success(), "second dockerd: {}", text(&o));

    // the swarm: this daemon manages, the namespace's joins as a worker
    let o = common::docker(&["swarm", "init", "--advertise-addr", &host_ip]);
    assert!(o.status.success(), "{}", text(&o));
    cluster.swarm = true;
    let token = common::docker(&["swarm", "join-token", "-q", "worker"]);
    let token = String::from_utf8_lossy(&token.stdout).trim().to_string();
    let o = cluster.worker_docker(&[
        "swarm",
        "join",
        "--token",
        &token,
        "--advertise-addr",
        &node_ip,
        &format!("{host_ip}:2377"),
    ]);
    assert!(o.status.success(), "join: {}", text(&o));

    // a registry on the host end of the veth (and on loopback for this daemon's push); the
    // worker reaches it at its own 127.0.0.1:PORT through a forwarder in its namespace
    let port = common::free_port();
    cluster.children.push(registry(
        tmp.path(),
        "reg-local",
        &format!("127.0.0.1:{port}"),
    ));
    cluster.children.push(registry(
        tmp.path(),
        "reg-veth",
        &format!("{host_ip}:{port}"),
    ));
    let fwd = tmp.path().join("forward.py");
    std::fs::write(&fwd, FORWARDER).unwrap();
    cluster.children.push(
        Command::new("nsenter")
            .arg(format!("--net=/var/run/netns/pt-{tag}"))
            .args([
                "python3",
                fwd.to_str().unwrap(),
                &port.to_string(),
                &host_ip,
            ])
            .arg(port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    assert!(wait_http(&format!("http://127.0.0.1:{port}/v2/"), 20));
    assert!(wait_http(&format!("http://{host_ip}:{port}/v2/"), 20));

    let name = common::unique("swnodes");
    let file = crate::swarm::write_eco(
        tmp.path(),
        &name,
        common::free_base(),
        "      API_VERSION: \"1\"\n",
    );
    // api is judged by a `health_cmd`: on the worker Swarm runs it as the task's health check
    // (pactown can run commands only in tasks on the manager)
    let mut yaml = std::fs::read_to_string(&file).unwrap().replacen(
        "    replicas: 2\n    health_check: /health\n",
        "    replicas: 2\n    health_cmd: >-\n      python3 -c \"import os, urllib.request as u; u.urlopen('http://127.0.0.1:' + os.environ['PORT'] + '/health', timeout=3)\"\n",
        1,
    );
    assert!(yaml.contains("health_cmd"), "{yaml}");
    yaml.push_str(&format!("images:\n  repo: 127.0.0.1:{port}/pt\n"));
    std::fs::write(&file, yaml).unwrap();
    let f = file.to_str().unwrap();
    cluster.file = Some(file.clone());
    cluster.pushed = Some(format!("127.0.0.1:{port}/pt/{name}-"));

    let o = pactown(&["up", f, "-d", "--engine", "swarm", "--timeout", "240"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        !text(&o).contains("single-node swarm"),
        "pushed, not local: {}",
        text(&o)
    );

    // the two replicas of api run on the two nodes, from the pushed image
    let api = format!("{name}-api");
    let mut nodes = task_nodes(&api);
    nodes.sort();
    nodes.dedup();
    assert_eq!(nodes.len(), 2, "api's replicas spread over both nodes");
    let image = common::docker(&[
        "service",
        "inspect",
        &api,
        "--format",
        "{{.Spec.TaskTemplate.ContainerSpec.Image}}",
    ]);
    let image = String::from_utf8_lossy(&image.stdout).trim().to_string();
    assert!(
        image.starts_with(&format!("127.0.0.1:{port}/pt/")) && image.contains("@sha256:"),
        "{image}"
    );
    let check = common::docker(&[
        "service",
        "inspect",
        &api,
        "--format",
        "{{json .Spec.TaskTemplate.ContainerSpec.Healthcheck}}",
    ]);
    let check = String::from_utf8_lossy(&check.stdout).to_string();
    assert!(
        check.contains("\"CMD\",\"/bin/sh\",\"-c\"") && check.contains("urlopen"),
        "the health_cmd is the tasks' health check: {check}"
    );

    // db runs on one node; api on both: one of them reaches db across nodes by its name
    let st = stdout_json(&pactown(&["status", f, "--json", "--engine", "swarm"]));
    assert_eq!(row(&st, "api")["running"], 2, "{st}");
    assert_eq!(row(&st, "api")["health"]["healthy"], true, "{st}");
    let answers = sums(&st);
    assert_eq!(answers.len(), 2, "{st}");
    for a in &answers {
        assert_eq!(a, "api-1 got db-1");
    }

    // `events` shows the tasks of both nodes, though this daemon sees only its own containers
    let started =
        crate::swarm::containers_with(&crate::swarm::events(f), "started", &format!("{api}."));
    assert_eq!(started.len(), 2, "one start per node: {started:?}");

    // drain the worker: its tasks move to the manager and the ecosystem stays healthy
    let worker = cluster.worker_docker(&["info", "--format", "{{.Swarm.NodeID}}"]);
    let worker = String::from_utf8_lossy(&worker.stdout).trim().to_string();
    let on_worker = common::docker(&[
        "node",
        "ps",
        &worker,
        "--no-trunc",
        "--filter",
        "desired-state=running",
        "--format",
        "{{.ID}}",
    ]);
    let worker_tasks: Vec<String> = String::from_utf8_lossy(&on_worker.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert!(!worker_tasks.is_empty(), "{}", text(&on_worker));
    let following = crate::swarm::Following::start(f, tmp.path());
    let o = common::docker(&["node", "update", "--availability", "drain", &worker]);
    assert!(o.status.success(), "{}", text(&o));
    let deadline = Instant::now() + Duration::from_secs(120);
    let settled = loop {
        let on_worker = [api.clone(), format!("{name}-db")]
            .iter()
            .flat_map(|s| task_nodes(s))
            .filter(|n| n == &worker)
            .count();
        let st = stdout_json(&pactown(&["status", f, "--json", "--engine", "swarm"]));
        let healthy = ["api", "db"].iter().all(|s| {
            let r = row(&st, s);
            r["running"] == r["desired"] && r["health"]["healthy"] == true
        });
        if on_worker == 0 && healthy {
            break Some(st);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let st = settled.expect("the worker's tasks were rescheduled on the manager and healthy");
    // followed live: the worker's tasks stopped (seen in the task list) and their
    // replacements started
    std::thread::sleep(Duration::from_secs(2));
    let live = following.stop();
    let stopped = crate::swarm::containers_with(&live, "stopped", &format!("{name}-"));
    for t in &worker_tasks {
        assert!(
            stopped.iter().any(|c| c.ends_with(&format!(".{t}"))),
            "the worker's task {t} stopped: {live:#?}"
        );
    }
    assert!(
        !crate::swarm::containers_with(&live, "started", &format!("{name}-")).is_empty(),
        "{live:#?}"
    );
    for a in sums(&st) {
        assert_eq!(a, "api-1 got db-1");
    }
    let mut nodes = task_nodes(&api);
    nodes.dedup();
    assert_eq!(nodes.len(), 1, "all of api on the manager now");
    assert_ne!(nodes[0], worker);
}

fn nix_is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}
