//! The Quadlet export under real systemd: a "VPS" container (Debian trixie, systemd as PID 1,
//! Podman 5.4 + Quadlet, Debian's docker-registry; image from `integration/vps/prepare.sh`),
//! booted once. Images are built on the host's Docker and pushed with `pactown build --push` to
//! the registry inside the VPS (published on 127.0.0.1 under the same port, so `127.0.0.1:PORT/…`
//! names it on both sides), then pulled by digest (`Pull=missing`): `quadlet install --image` takes
//! the references, the user-scope export reads the metadata file (`--images`).
//!
//! System scope (`pactown quadlet install --system` run inside the VPS): the target starts,
//! dependants after their dependencies, both healthy and the api reaches the db by name;
//! `systemctl kill` of the db → systemd restarts it, the api recovers, `pactown status` on the
//! VPS's Podman socket says so; a new api version is rolled out; a version failing its health
//! check is rolled back and the previous one serves again.
//! User scope (rootless `deploy` with linger, on this cgroup v1/hybrid host): `export quadlet
//! --user --cgroup-v1` copied onto `~/.config/` as the README says and started with `systemctl
//! --user`; then `quadlet install --user` (which detects cgroup v1 itself) rolls out v2; the
//! linger warning for a user without linger.
//! Then the VPS container restarts ("reboot") and both ecosystems come back with no command.
//! Ingress (a second VPS, system scope): `ingress: {tls: internal}` + `expose:` → Caddy from the
//! VPS's Debian package as `ECO-ingress.service`; from the host, HTTPS with the configured name
//! (SNI and Host via `curl --resolve`) trusting only the PEM `pactown ingress ca` printed reaches
//! the api, HTTP redirects, a request loop counts failures while the api is replaced, and HTTPS
//! answers again after a reboot.
use crate::common::{self, text};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The VPS container and everything created for it; removed on drop.
struct Vps {
    name: String,
    network: String,
    volumes: Vec<String>,
    /// Registry port (127.0.0.1 on the host = the registry inside the VPS).
    port: u16,
    /// Host-side image tags pushed to the registry (removed on drop).
    pushed: std::cell::RefCell<Vec<String>>,
}

fn uid(user: &str) -> u32 {
    match user {
        "deploy" => 1000,
        "nolinger" => 1001,
        _ => 0,
    }
}

fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .output()
        .expect("run docker")
}

fn ok(o: Output, what: &str) -> String {
    assert!(o.status.success(), "{what}: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

impl Vps {
    fn boot(image: &str) -> Self {
        Self::boot_publishing(image, &[])
    }

    /// Boots the VPS with `ports` also published on the host's 127.0.0.1 (same numbers).
    fn boot_publishing(image: &str, ports: &[u16]) -> Self {
        let id = common::unique("pvps");
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let vps = Vps {
            name: id.clone(),
            network: format!("{id}-net"),
            volumes: vec![format!("{id}-storage"), format!("{id}-deploy")],
            port,
            pushed: std::cell::RefCell::new(Vec::new()),
        };
        ok(docker(&["network", "create", &vps.network]), "network");
        for v in &vps.volumes {
            ok(docker(&["volume", "create", v]), "volume");
        }
        let storage = format!("{}:/var/lib/containers", vps.volumes[0]);
        let deploy = format!("{}:/home/deploy/.local/share/containers", vps.volumes[1]);
        let publish = format!("127.0.0.1:{port}:{port}");
        let extra: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}:{p}")).collect();
        let mut args = vec![
            "create",
            "--name",
            &id,
            "--hostname",
            "vps",
            "--network",
            &vps.network,
            "--stop-signal",
            "SIGRTMIN+3",
            "--stop-timeout",
            "60",
        ];
        for cap in [
            "SYS_ADMIN",
            "NET_ADMIN",
            "MKNOD",
            "SYS_CHROOT",
            "SETFCAP",
            "SYS_PTRACE",
            "NET_RAW",
        ] {
            args.extend(["--cap-add", cap]);
        }
        args.extend([
            "--device",
            "/dev/fuse",
            "--device",
            "/dev/net/tun",
            "--security-opt",
            "seccomp=unconfined",
            "--security-opt",
            "apparmor=unconfined",
            "--security-opt",
            "systempaths=unconfined",
            "--cgroupns=host",
            "-v",
            "/sys/fs/cgroup:/sys/fs/cgroup:rw",
            "-v",
            &storage,
            "-v",
            &deploy,
            "--tmpfs",
            "/run",
            "--tmpfs",
            "/run/lock",
            "--tmpfs",
            "/tmp",
            "-p",
            &publish,
        ]);
        for e in &extra {
            args.extend(["-p", e.as_str()]);
        }
        args.push(image);
        ok(docker(&args), "create the VPS");
        // the registry inside, on the published port; Podman may use it without TLS
        let config = format!(
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: /var/lib/docker-registry\nhttp:\n  addr: 0.0.0.0:{port}\n"
        );
        let insecure = format!("[[registry]]\nlocation = \"127.0.0.1:{port}\"\ninsecure = true\n");
        vps.put("/etc/docker/registry/config.yml", &config, "root");
        vps.put(
            "/etc/containers/registries.conf.d/50-vps-registry.conf",
            &insecure,
            "root",
        );
        ok(docker(&["start", &id]), "start the VPS");
        vps.wait_running();
        vps.sh(
            "systemctl enable --now docker-registry.service podman.socket && loginctl enable-linger deploy",
        );
        vps.wait_for("registry", Duration::from_secs(30), || {
            vps.try_sh(&format!("curl -fsS http://127.0.0.1:{port}/v2/"))
                .is_some()
        });
        // the pactown binary under test
        ok(
            docker(&[
                "cp",
                env!("CARGO_BIN_EXE_pactown"),
                &format!("{id}:/usr/local/bin/pactown"),
            ]),
            "copy pactown",
        );
        vps
    }

    /// Waits for `systemctl is-system-running` to say running (or degraded, reported).
    fn wait_running(&self) {
        let t0 = Instant::now();
        loop {
            let o = docker(&["exec", &self.name, "systemctl", "is-system-running"]);
            let state = String::from_utf8_lossy(&o.stdout).trim().to_string();
            if state == "running" {
                return;
            }
            if state == "degraded" {
                let failed = self.sh("systemctl --failed --no-legend");
                panic!("VPS booted degraded: {failed}");
            }
            assert!(
                t0.elapsed() < Duration::from_secs(90),
                "VPS not running after 90 s: {state}"
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    fn wait_for(&self, what: &str, limit: Duration, mut check: impl FnMut() -> bool) -> Duration {
        let t0 = Instant::now();
        while !check() {
            if t0.elapsed() >= limit {
                // what systemd was doing, for the log of a failed run
                let state = self
                    .try_sh(
                        "systemctl --no-pager --failed; systemctl --no-pager list-jobs; \
                         journalctl --no-pager -n 80",
                    )
                    .unwrap_or_default();
                panic!("{what}: not within {limit:?}\n--- systemd\n{state}");
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        t0.elapsed()
    }

    /// Writes a file into the (created or running) container, owned by `owner`.
    fn put(&self, path: &str, contents: &str, owner: &str) {
        let dir = tempfile::tempdir().unwrap();
        let name = Path::new(path).file_name().unwrap();
        let local = dir.path().join(name);
        std::fs::write(&local, contents).unwrap();
        self.put_dir(&local, path, owner);
    }

    /// Copies a host file or folder into the container at `path`.
    fn put_dir(&self, local: &Path, path: &str, owner: &str) {
        // `docker cp` into a created container cannot make parents: stream a tar instead
        let mut tar = Command::new("tar");
        tar.arg("-C")
            .arg(local.parent().unwrap())
            .arg("-c")
            .arg(format!("--owner={}", uid(owner)))
            .arg(format!("--group={}", uid(owner)))
            .arg("--numeric-owner")
            .arg("--transform")
            .arg(format!(
                "s|^{}|{}|",
                local.file_name().unwrap().to_str().unwrap(),
                path.trim_start_matches('/')
            ))
            .arg(local.file_name().unwrap());
        let tar = tar.output().unwrap();
        assert!(tar.status.success(), "tar: {}", text(&tar));
        let mut cp = Command::new("docker")
            .args(["cp", "-a", "-", &format!("{}:/", self.name)])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        {
            use std::io::Write;
            cp.stdin.take().unwrap().write_all(&tar.stdout).unwrap();
        }
        let o = cp.wait_with_output().unwrap();
        assert!(o.status.success(), "docker cp {path}: {}", text(&o));
    }

    fn exec_output(&self, user: &str, script: &str) -> Output {
        let mut args = vec!["exec"];
        let env;
        if user != "root" {
            args.extend(["--user", user, "--workdir"]);
            args.push(if user == "deploy" {
                "/home/deploy"
            } else {
                "/home/nolinger"
            });
            env = format!(
                "XDG_RUNTIME_DIR=/run/user/{}",
                if user == "deploy" { 1000 } else { 1001 }
            );
            args.extend(["-e", &env, "-e"]);
            args.push(if user == "deploy" {
                "HOME=/home/deploy"
            } else {
                "HOME=/home/nolinger"
            });
            args.extend(["-e", "USER"]);
        }
        args.extend([&self.name, "bash", "-c", script]);
        let mut c = Command::new("docker");
        c.args(&args).env("USER", user);
        c.output().expect("docker exec")
    }

    /// Runs a root shell script in the VPS; its stdout (panics when it fails).
    fn sh(&self, script: &str) -> String {
        ok(self.exec_output("root", script), script)
    }

    fn try_sh(&self, script: &str) -> Option<String> {
        let o = self.exec_output("root", script);
        o.status
            .success()
            .then(|| String::from_utf8_lossy(&o.stdout).trim().to_string())
    }

    /// Builds `dir/file` on the host's Docker and pushes every service's image to the VPS's
    /// registry with `pactown build --push` (tag `tag`); returns the metadata file it wrote
    /// (for `export --images`) and `SERVICE=REF` by digest (for `quadlet install --image`).
    fn build_and_push(
        &self,
        dir: &Path,
        file: &str,
        eco: &str,
        tag: &str,
    ) -> (PathBuf, Vec<String>) {
        let repo = format!("127.0.0.1:{}/{eco}", self.port);
        let meta = dir.join(format!("images-{tag}.json"));
        let meta_s = meta.to_str().unwrap().to_string();
        let o = common::pactown_in(
            dir,
            &[
                "build",
                file,
                "--engine",
                "docker",
                "--push",
                "--repo",
                &repo,
                "--tag",
                tag,
                "--metadata-file",
                &meta_s,
            ],
        );
        assert!(o.status.success(), "build --push: {}", text(&o));
        let m: serde_json::Value = serde_json::from_slice(&std::fs::read(&meta).unwrap()).unwrap();
        let mut refs = Vec::new();
        for (svc, row) in m["services"].as_object().unwrap() {
            let image = row["image"].as_str().unwrap();
            let (name, _) = image.rsplit_once(':').unwrap();
            let mut pushed = self.pushed.borrow_mut();
            pushed.push(image.to_string());
            for t in row["tags"].as_array().unwrap() {
                pushed.push(format!("{name}:{}", t.as_str().unwrap()));
            }
            let reference = row["reference"].as_str().unwrap();
            assert!(
                reference.starts_with(&format!("{name}@sha256:")),
                "{reference}"
            );
            refs.push(format!("{svc}={reference}"));
        }
        (meta, refs)
    }
}

impl Drop for Vps {
    fn drop(&mut self) {
        if std::env::var_os("PACTOWN_VPS_KEEP").is_some() {
            eprintln!(
                "PACTOWN_VPS_KEEP: leaving {} (and its volumes, network) running",
                self.name
            );
            return;
        }
        // under load `rm -f` of a systemd container can fail once (seen here): retry, and say so
        for attempt in 1..=3 {
            let o = docker(&["rm", "-f", "-v", &self.name]);
            let gone = !docker(&["container", "inspect", &self.name])
                .status
                .success();
            if gone {
                break;
            }
            eprintln!("removing {} (attempt {attempt}): {}", self.name, text(&o));
            std::thread::sleep(Duration::from_secs(2));
        }
        for v in &self.volumes {
            let o = docker(&["volume", "rm", "-f", v]);
            if !o.status.success() {
                eprintln!("removing volume {v}: {}", text(&o));
            }
        }
        let o = docker(&["network", "rm", &self.network]);
        if !o.status.success() {
            eprintln!("removing network {}: {}", self.network, text(&o));
        }
        for t in self.pushed.borrow().iter() {
            let _ = docker(&["rmi", t]);
        }
    }
}

/// The README of a service: answers `/` with `NAME VERSION <- <what its upstream answered>`
/// and `/health` with 200 when its upstream (`UPSTREAM_URL`, the injected `DB_URL` for the
/// api) answers, 503 otherwise — or always 500 when `healthy` is false (a broken release).
fn readme(version: &str, healthy: bool) -> String {
    let prelude = format!(
        "VERSION = {version:?}\nHEALTHY = {}\nUP = os.environ.get('DB_URL', '')\n\ndef upstream():\n    if not UP:\n        return 'none'\n    return urllib.request.urlopen(UP + '/', timeout=2).read().decode()\n",
        if healthy { "True" } else { "False" }
    );
    let handler = "        try:\n            up = upstream()\n        except Exception as e:\n            self.reply(503, 'upstream: %s' % e)\n            return\n        if self.path == '/health':\n            self.reply(200 if HEALTHY else 500, 'ok' if HEALTHY else 'broken')\n        else:\n            self.reply(200, '%s %s <- %s' % (os.environ['SERVICE_NAME'], VERSION, up))";
    common::python_service(&format!("svc {version}"), &prelude, handler)
}

/// An ecosystem `name` with `db` and `api` (depends on db) in `dir`; the api README at
/// `api_version`.
fn write_eco(dir: &Path, name: &str, base: u16, api_version: &str, api_healthy: bool) -> String {
    std::fs::write(dir.join("db.md"), readme("v1", true)).unwrap();
    std::fs::write(dir.join("api.md"), readme(api_version, api_healthy)).unwrap();
    let file = format!("{name}.pactown.yaml");
    std::fs::write(
        dir.join(&file),
        format!(
            "name: {name}\nservices:\n  db:\n    readme: db.md\n    port: {base}\n    health_check: /health\n    timeout: 8\n  api:\n    readme: api.md\n    port: {}\n    health_check: /health\n    timeout: 8\n    depends_on:\n      - db\n",
            base + 1
        ),
    )
    .unwrap();
    file
}

/// `systemctl show -p PROP --value UNIT` as a number.
fn show_num(vps: &Vps, user: &str, unit: &str, prop: &str) -> u64 {
    let sc = if user == "root" {
        "systemctl"
    } else {
        "systemctl --user"
    };
    let o = vps.exec_output(user, &format!("{sc} show -p {prop} --value {unit}"));
    ok(o, prop).parse().unwrap_or(0)
}

fn curl(vps: &Vps, port: u16) -> String {
    vps.try_sh(&format!("curl -sS --max-time 5 http://127.0.0.1:{port}/"))
        .unwrap_or_default()
}

fn status(vps: &Vps, user: &str, dir: &str, file: &str) -> serde_json::Value {
    let socket = if user == "root" {
        "unix:///run/podman/podman.sock"
    } else {
        "unix:///run/user/1000/podman/podman.sock"
    };
    let o = vps.exec_output(
        user,
        &format!(
            "cd {dir} && CONTAINER_HOST={socket} NO_COLOR=1 pactown status {file} --json --engine podman"
        ),
    );
    common::stdout_json(&o)
}

fn healthy(status: &serde_json::Value, svc: &str) -> bool {
    common::row(status, svc)["health"]["healthy"] == true
}

/// Copies the ecosystem folder `local` to `remote` in the VPS, owned by `owner`.
fn copy_eco(vps: &Vps, local: &Path, remote: &str, owner: &str) {
    vps.put_dir(local, remote, owner);
}

#[test]
fn vps_quadlet_system_and_rootless_user_under_systemd() {
    if !common::docker_available() {
        return;
    }
    let prep = Command::new("bash")
        .arg(common::repo_root().join("integration/vps/prepare.sh"))
        .output()
        .unwrap();
    assert!(prep.status.success(), "prepare.sh: {}", text(&prep));
    let image = String::from_utf8_lossy(&prep.stdout).trim().to_string();
    let t_boot = Instant::now();
    let vps = Vps::boot(&image);
    eprintln!("VPS booted in {:?}", t_boot.elapsed());

    // ---------------------------------------------------------------- system scope
    let sys = tempfile::tempdir().unwrap();
    let sys_name = common::unique("vsys");
    let base = 31_000;
    let sys_file = write_eco(sys.path(), &sys_name, base, "v1", true);
    let (_, refs) = vps.build_and_push(sys.path(), &sys_file, &sys_name, "v1");
    copy_eco(&vps, sys.path(), "/root/eco", "root");
    let install = |refs: &[String]| {
        let images: String = refs.iter().map(|r| format!(" --image {r}")).collect();
        vps.exec_output(
            "root",
            &format!(
                "cd /root/eco && NO_COLOR=1 pactown quadlet install --system {sys_file}{images}"
            ),
        )
    };
    let t0 = Instant::now();
    let o = install(&refs);
    let took = t0.elapsed();
    assert!(o.status.success(), "system install: {}", text(&o));
    eprintln!(
        "{}",
        String::from_utf8_lossy(&o.stderr)
            .lines()
            .last()
            .unwrap_or_default()
    );
    eprintln!(
        "BENCH system install → all healthy: {:.2} s",
        took.as_secs_f64()
    );
    let target = vps.sh(&format!("systemctl is-active {sys_name}.target"));
    assert_eq!(target, "active");
    // Quadlet files where Quadlet reads them, the target where systemd does
    vps.sh(&format!(
        "test -f /etc/containers/systemd/{sys_name}-api.container && test -f /etc/systemd/system/{sys_name}.target"
    ));
    let unit_text = vps.sh(&format!(
        "cat /etc/containers/systemd/{sys_name}-api.container"
    ));
    assert!(unit_text.contains("Pull=missing"), "{unit_text}");
    assert!(unit_text.contains("HealthStartupCmd="), "{unit_text}");
    // dependants after their dependencies: the api began starting once the db was healthy
    let db_ready = show_num(
        &vps,
        "root",
        &format!("{sys_name}-db.service"),
        "ActiveEnterTimestampMonotonic",
    );
    let api_began = show_num(
        &vps,
        "root",
        &format!("{sys_name}-api.service"),
        "InactiveExitTimestampMonotonic",
    );
    assert!(
        db_ready > 0 && api_began >= db_ready,
        "api began at {api_began}, db ready at {db_ready}"
    );
    // reachable by name: the api's answer includes what it fetched from http://db:PORT
    assert_eq!(curl(&vps, base + 1), "api v1 <- db v1 <- none");
    let st = status(&vps, "root", "/root/eco", &sys_file);
    assert!(healthy(&st, "db") && healthy(&st, "api"), "{st:#}");

    // baseline from the same run: systemd + Podman alone starting the installed, pulled units
    vps.sh(&format!(
        "systemctl stop {sys_name}.target {sys_name}-api.service {sys_name}-db.service"
    ));
    let t0 = Instant::now();
    vps.sh(&format!(
        "systemctl start {sys_name}-db.service {sys_name}-api.service"
    ));
    eprintln!(
        "BENCH baseline systemctl start of the installed units → all healthy: {:.2} s",
        t0.elapsed().as_secs_f64()
    );
    assert_eq!(curl(&vps, base + 1), "api v1 <- db v1 <- none");

    // kill the db's processes: systemd restarts it, the api recovers, status tells
    let db_unit = format!("{sys_name}-db.service");
    let restarts = show_num(&vps, "root", &db_unit, "NRestarts");
    vps.sh(&format!("systemctl kill --signal=SIGKILL {db_unit}"));
    let st = status(&vps, "root", "/root/eco", &sys_file);
    assert!(
        !healthy(&st, "db"),
        "db reported healthy right after the kill: {st:#}"
    );
    let recovered = vps.wait_for(
        "db restarted and api healthy",
        Duration::from_secs(60),
        || {
            show_num(&vps, "root", &db_unit, "NRestarts") > restarts
                && vps
                    .try_sh(&format!("systemctl is-active {db_unit}"))
                    .is_some()
                && curl(&vps, base + 1) == "api v1 <- db v1 <- none"
        },
    );
    eprintln!(
        "BENCH system kill → db restarted, api answering: {:.2} s",
        recovered.as_secs_f64()
    );
    let st = status(&vps, "root", "/root/eco", &sys_file);
    assert!(healthy(&st, "db") && healthy(&st, "api"), "{st:#}");

    // update: api v2 is rolled out by installing again
    write_eco(sys.path(), &sys_name, base, "v2", true);
    let (_, v2) = vps.build_and_push(sys.path(), &sys_file, &sys_name, "v2");
    copy_eco(&vps, sys.path(), "/root/eco", "root");
    let o = install(&v2);
    assert!(o.status.success(), "v2 install: {}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(&format!("({sys_name}-api.service)")),
        "{}",
        text(&o)
    );
    assert_eq!(curl(&vps, base + 1), "api v2 <- db v1 <- none");

    // a release failing its health check is rolled back; v2 serves again
    write_eco(sys.path(), &sys_name, base, "v3", false);
    let (_, v3) = vps.build_and_push(sys.path(), &sys_file, &sys_name, "v3");
    copy_eco(&vps, sys.path(), "/root/eco", "root");
    let t0 = Instant::now();
    let o = install(&v3);
    eprintln!(
        "BENCH system failed release → rolled back: {:.2} s",
        t0.elapsed().as_secs_f64()
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("rolled back") && err.contains(&format!("{sys_name}-api.service")),
        "{err}"
    );
    let unit_text = vps.sh(&format!(
        "cat /etc/containers/systemd/{sys_name}-api.container"
    ));
    let v2_api = v2
        .iter()
        .find(|r| r.starts_with("api="))
        .unwrap()
        .trim_start_matches("api=");
    assert!(
        unit_text.contains(v2_api),
        "the v2 unit is not back: {unit_text}"
    );
    assert_eq!(curl(&vps, base + 1), "api v2 <- db v1 <- none");

    // ---------------------------------------------------------------- user scope (rootless)
    let usr = tempfile::tempdir().unwrap();
    let usr_name = common::unique("vusr");
    let ubase = 32_000;
    let usr_file = write_eco(usr.path(), &usr_name, ubase, "v1", true);
    let (umeta, _) = vps.build_and_push(usr.path(), &usr_file, &usr_name, "v1");
    // export on the host, copy onto ~/.config as documented, start with systemctl --user
    let out = usr.path().join("units");
    let mut args = vec![
        "export",
        "quadlet",
        usr_file.as_str(),
        "--user",
        "--cgroup-v1",
        "-o",
    ];
    let out_s = out.to_str().unwrap().to_string();
    args.push(&out_s);
    // the images by digest, from the metadata file `build --push` wrote
    let umeta_s = umeta.to_str().unwrap().to_string();
    args.extend(["--images", umeta_s.as_str()]);
    let o = common::pactown_in(usr.path(), &args);
    assert!(o.status.success(), "export: {}", text(&o));
    assert!(out
        .join(format!("containers/systemd/{usr_name}-api.container"))
        .is_file());
    assert!(out
        .join(format!("systemd/user/{usr_name}.target"))
        .is_file());
    vps.sh("install -d -o deploy -g deploy /home/deploy/.config");
    for sub in ["containers", "systemd"] {
        vps.put_dir(
            &out.join(sub),
            &format!("/home/deploy/.config/{sub}"),
            "deploy",
        );
    }
    let t0 = Instant::now();
    let o = vps.exec_output(
        "deploy",
        &format!("systemctl --user daemon-reload && systemctl --user start {usr_name}.target && systemctl --user start podman.socket"),
    );
    assert!(o.status.success(), "user start: {}", text(&o));
    vps.wait_for("rootless api answering", Duration::from_secs(120), || {
        curl(&vps, ubase + 1) == "api v1 <- db v1 <- none"
    });
    eprintln!(
        "BENCH user export + systemctl start → api answering: {:.2} s",
        t0.elapsed().as_secs_f64()
    );
    // quadlet install --user rolls out v2 and detects cgroup v1 by itself
    write_eco(usr.path(), &usr_name, ubase, "v2", true);
    let (_, uv2) = vps.build_and_push(usr.path(), &usr_file, &usr_name, "v2");
    let _ = std::fs::remove_dir_all(&out);
    copy_eco(&vps, usr.path(), "/home/deploy/eco", "deploy");
    let images: String = uv2.iter().map(|r| format!(" --image {r}")).collect();
    let o = vps.exec_output(
        "deploy",
        &format!("cd ~/eco && NO_COLOR=1 pactown quadlet install --user {usr_file}{images}"),
    );
    assert!(
        o.status.success(),
        "user install: {}\n--- journal\n{}",
        text(&o),
        vps.try_sh("journalctl --no-pager -n 60 _UID=1000")
            .unwrap_or_default()
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("cgroup v1"), "{err}");
    assert!(!err.contains("linger is off"), "{err}");
    assert_eq!(curl(&vps, ubase + 1), "api v2 <- db v1 <- none");
    let st = status(&vps, "deploy", "/home/deploy/eco", &usr_file);
    assert!(healthy(&st, "db") && healthy(&st, "api"), "{st:#}");
    // a user without linger is warned
    copy_eco(&vps, usr.path(), "/home/nolinger/eco", "nolinger");
    let o = vps.exec_output(
        "nolinger",
        &format!(
            "cd ~/eco && NO_COLOR=1 pactown quadlet install --user --dry-run {usr_file}{images}"
        ),
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("linger is off for `nolinger`"), "{}", text(&o));

    // ---------------------------------------------------------------- reboot
    let t0 = Instant::now();
    ok(docker(&["restart", &vps.name]), "restart the VPS");
    vps.wait_running();
    vps.wait_for(
        "both ecosystems back after the reboot",
        Duration::from_secs(180),
        || {
            curl(&vps, base + 1) == "api v2 <- db v1 <- none"
                && curl(&vps, ubase + 1) == "api v2 <- db v1 <- none"
        },
    );
    eprintln!(
        "BENCH reboot → both ecosystems answering: {:.2} s",
        t0.elapsed().as_secs_f64()
    );
    let st = status(&vps, "root", "/root/eco", &sys_file);
    assert!(healthy(&st, "db") && healthy(&st, "api"), "{st:#}");
}

/// `curl` on the host through the VPS's ingress: `--resolve HOST:PORT:127.0.0.1` (so SNI and
/// Host are the configured name), trusting only `ca` when given. Stdout, or `Err(stderr)`.
fn curl_host(args: &[&str]) -> Result<String, String> {
    let o = Command::new("curl")
        .args(["-sS", "--max-time", "10"])
        .args(args)
        .output()
        .expect("run curl");
    if o.status.success() {
        Ok(String::from_utf8_lossy(&o.stdout).trim().to_string())
    } else {
        Err(text(&o))
    }
}

#[test]
fn vps_ingress_https_from_the_host_with_the_exported_local_ca() {
    if !common::docker_available() {
        return;
    }
    let prep = Command::new("bash")
        .arg(common::repo_root().join("integration/vps/prepare.sh"))
        .output()
        .unwrap();
    assert!(prep.status.success(), "prepare.sh: {}", text(&prep));
    let image = String::from_utf8_lossy(&prep.stdout).trim().to_string();
    let (http, https) = (common::free_port(), common::free_port());
    assert_ne!(http, https);
    let vps = Vps::boot_publishing(&image, &[http, https]);

    let dir = tempfile::tempdir().unwrap();
    let name = common::unique("ving");
    let base = 33_000;
    let host = "api.vps.test";
    let write = |version: &str| {
        let file = write_eco(dir.path(), &name, base, version, true);
        let path = dir.path().join(&file);
        let yaml = std::fs::read_to_string(&path).unwrap();
        let yaml = yaml
            .replacen(
                "services:\n",
                &format!("ingress:\n  tls: internal\n  http_port: {http}\n  https_port: {https}\nservices:\n"),
                1,
            )
            .replace(
                "    depends_on:\n",
                &format!("    expose:\n      host: {host}\n    depends_on:\n"),
            );
        std::fs::write(&path, yaml).unwrap();
        file
    };
    let file = write("v1");
    let (_, refs) = vps.build_and_push(dir.path(), &file, &name, "v1");
    copy_eco(&vps, dir.path(), "/root/eco", "root");
    let install = |refs: &[String]| {
        let images: String = refs.iter().map(|r| format!(" --image {r}")).collect();
        vps.exec_output(
            "root",
            &format!("cd /root/eco && NO_COLOR=1 pactown quadlet install --system {file}{images}"),
        )
    };
    let o = install(&refs);
    assert!(
        o.status.success(),
        "install: {}\n--- journal\n{}",
        text(&o),
        vps.try_sh(&format!(
            "journalctl --no-pager -n 40 -u {name}-ingress.service"
        ))
        .unwrap_or_default()
    );
    assert_eq!(
        vps.sh(&format!("systemctl is-active {name}-ingress.service")),
        "active"
    );
    let caddyfile = vps.sh(&format!("cat /etc/pactown/{name}/Caddyfile"));
    assert!(
        caddyfile.contains(&format!("{host} {{\n\ttls internal\n")),
        "{caddyfile}"
    );
    assert!(
        caddyfile.contains(&format!("reverse_proxy 127.0.0.1:{}", base + 1)),
        "{caddyfile}"
    );

    // the local CA's root, exported by pactown
    let pem = vps.sh(&format!(
        "cd /root/eco && NO_COLOR=1 pactown ingress ca --system {file}"
    ));
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, format!("{pem}\n")).unwrap();
    let ca_s = ca.to_str().unwrap().to_string();
    let resolve_s = format!("{host}:{https}:127.0.0.1");
    let url = format!("https://{host}:{https}/");
    // HTTPS from the host: SNI and Host are the configured name, only that CA is trusted
    let mut last = String::new();
    let waited =
        vps.wait_for(
            "HTTPS through the ingress",
            Duration::from_secs(60),
            || match curl_host(&["--resolve", &resolve_s, "--cacert", &ca_s, &url]) {
                Ok(body) => {
                    last = body;
                    last == "api v1 <- db v1 <- none"
                }
                Err(e) => {
                    last = e;
                    false
                }
            },
        );
    eprintln!(
        "BENCH ingress: first HTTPS answer {:.2} s after install ({last})",
        waited.as_secs_f64()
    );
    // the certificate names the host and chains to that CA only: the system's roots refuse it
    let err = curl_host(&["--resolve", &resolve_s, &url]).unwrap_err();
    assert!(err.contains("certificate"), "{err}");
    let verbose = Command::new("curl")
        .args([
            "-sS",
            "-v",
            "-o",
            "/dev/null",
            "--resolve",
            &resolve_s,
            "--cacert",
            &ca_s,
            &url,
        ])
        .output()
        .unwrap();
    let v = String::from_utf8_lossy(&verbose.stderr);
    assert!(
        v.contains(&format!("subjectAltName: host \"{host}\" matched")),
        "{v}"
    );
    // plain HTTP redirects to HTTPS
    let resolve_h = format!("{host}:{http}:127.0.0.1");
    let redirect = curl_host(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{redirect_url}",
        "--resolve",
        &resolve_h,
        &format!("http://{host}:{http}/health"),
    ])
    .unwrap();
    assert_eq!(redirect, format!("308 https://{host}:{https}/health"));
    // a name the file does not expose gets no certificate
    let other = format!("db.vps.test:{https}:127.0.0.1");
    assert!(curl_host(&[
        "--resolve",
        &other,
        "--cacert",
        &ca_s,
        &format!("https://db.vps.test:{https}/")
    ])
    .is_err());
    // only the proxy listens on every interface; the services stay on the VPS's loopback
    let listening = vps.sh("ss -Hltn");
    assert!(
        listening.contains(&format!("*:{https}"))
            || listening.contains(&format!("0.0.0.0:{https}")),
        "{listening}"
    );
    assert!(
        listening.contains(&format!("127.0.0.1:{}", base + 1)),
        "{listening}"
    );

    // replace the api (v2, a new digest) while a request loop runs through the ingress
    let file2 = write("v2");
    assert_eq!(file2, file);
    let (_, v2) = vps.build_and_push(dir.path(), &file, &name, "v2");
    copy_eco(&vps, dir.path(), "/root/eco", "root");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let looper = {
        let stop = stop.clone();
        let (resolve_s, ca_s, url) = (resolve_s.clone(), ca_s.clone(), url.clone());
        std::thread::spawn(move || {
            let (mut ok, mut failed, mut v2_seen) = (0u32, Vec::new(), false);
            let t0 = Instant::now();
            let mut slowest = Duration::ZERO;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let t = Instant::now();
                // longer than the proxy holds a request (30 s): a held request counts as slow
                match curl_host(&[
                    "--max-time",
                    "40",
                    "--resolve",
                    &resolve_s,
                    "--cacert",
                    &ca_s,
                    "-f",
                    &url,
                ]) {
                    Ok(body) if body.starts_with("api v") => {
                        ok += 1;
                        v2_seen |= body.starts_with("api v2");
                    }
                    Ok(body) => failed.push(body),
                    Err(e) => failed.push(e),
                }
                slowest = slowest.max(t.elapsed());
                std::thread::sleep(Duration::from_millis(20));
            }
            (ok, failed, v2_seen, t0.elapsed(), slowest)
        })
    };
    std::thread::sleep(Duration::from_secs(2));
    let o = install(&v2);
    assert!(o.status.success(), "v2 install: {}", text(&o));
    // install returns once v2 is healthy: a few more requests, then stop the loop
    std::thread::sleep(Duration::from_secs(3));
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (ok, failed, v2_seen, took, slowest) = looper.join().unwrap();
    eprintln!(
        "BENCH replace through the ingress: {} requests in {:.1} s, {} failed, slowest {:.2} s{}",
        ok as usize + failed.len(),
        took.as_secs_f64(),
        failed.len(),
        slowest.as_secs_f64(),
        failed
            .first()
            .map(|f| format!(" (first failure: {f})"))
            .unwrap_or_default()
    );
    // a measurement, not an assertion: the number of failed requests and the slowest one
    eprintln!("BENCH replace: the loop saw v2: {v2_seen}");
    if !failed.is_empty() {
        eprintln!(
            "--- the proxy's and the api's journal around the failure\n{}",
            vps.try_sh(&format!(
                "journalctl --no-pager -o short-precise -n 60 -u {name}-ingress.service -u {name}-api.service"
            ))
            .unwrap_or_default()
        );
    }
    assert_eq!(
        curl_host(&["--resolve", &resolve_s, "--cacert", &ca_s, &url]).unwrap(),
        "api v2 <- db v1 <- none"
    );

    // after a reboot the ingress serves again with the same CA
    ok_restart(&vps);
    vps.wait_for("HTTPS after the reboot", Duration::from_secs(180), || {
        curl_host(&["--resolve", &resolve_s, "--cacert", &ca_s, &url]).as_deref()
            == Ok("api v2 <- db v1 <- none")
    });
}

fn ok_restart(vps: &Vps) {
    ok(docker(&["restart", &vps.name]), "restart the VPS");
    vps.wait_running();
}
