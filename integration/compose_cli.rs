//! Compose-style daily commands on real engines (#20): the top-level `-f`/`-p` (and
//! `PACTOWN_FILE`/`PACTOWN_PROJECT_NAME`) driving `up`, `status` and `down`.
use crate::common::{self, pactown_cmd, text};
use pactown::engine::EngineKind;
use std::path::Path;

/// A one-service ecosystem `name` in `dir` (`app.pactown.yaml`, service `api` on `port`).
fn one_service(dir: &Path, name: &str, port: u16) {
    let readme = common::python_service(
        "api",
        "",
        r#"        self.reply(200, os.environ["PACTOWN_ECOSYSTEM"])"#,
    );
    std::fs::write(dir.join("api.md"), readme).unwrap();
    std::fs::write(
        dir.join("app.pactown.yaml"),
        format!("name: {name}\nservices:\n  api:\n    readme: api.md\n    port: {port}\n    health_check: /\n"),
    )
    .unwrap();
}

/// Brings the project `-p NAME -f FILE` down when dropped (also when the test fails).
struct DownProject<'a> {
    file: &'a Path,
    name: &'a str,
    kind: EngineKind,
}

impl Drop for DownProject<'_> {
    fn drop(&mut self) {
        let o = common::pactown(&[
            "-f",
            self.file.to_str().unwrap(),
            "-p",
            self.name,
            "down",
            "--engine",
            common::cli(self.kind),
            "--timeout",
            "1",
        ]);
        if !o.status.success() {
            eprintln!("cleanup failed: {}", text(&o));
        }
    }
}

fn project_name_and_file_flags(kind: EngineKind) {
    if !common::available(kind) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let own = common::unique("cfile");
    let project = common::unique("cproj");
    let port = common::free_base_for(kind);
    one_service(tmp.path(), &own, port);
    let file = tmp.path().join("app.pactown.yaml");
    let _down = DownProject {
        file: &file,
        name: &project,
        kind,
    };
    // `-f` and `-p` before the command; run from another folder so no file is found by search
    let o = pactown_cmd()
        .current_dir("/")
        .args(["-f", file.to_str().unwrap(), "-p", &project, "up", "-d"])
        .args(["--engine", common::cli(kind)])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    // containers, labels and network carry the project name, not the file's `name:`
    let ids = common::container_ids(kind, &project);
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert!(ids[0].starts_with(&format!("{project}-api-1 ")), "{ids:?}");
    assert!(common::container_ids(kind, &own).is_empty());
    let networks = common::cli_output(kind, &["network", "ls", "--format", "{{.Name}}"]);
    assert!(
        networks.lines().any(|n| n == format!("pactown-{project}")),
        "{networks}"
    );
    let (code, body) = common::http_get(&format!("http://127.0.0.1:{port}/"));
    assert_eq!((code, body.as_str()), (200, project.as_str()));
    // the same through the environment variables
    let o = pactown_cmd()
        .current_dir("/")
        .env("PACTOWN_FILE", &file)
        .env("PACTOWN_PROJECT_NAME", &project)
        .args(["status", "--json", "--engine", common::cli(kind)])
        .output()
        .unwrap();
    let status = common::stdout_json(&o);
    assert_eq!(status["ecosystem"], project.as_str(), "{status}");
    assert_eq!(common::row(&status, "api")["state"], "running", "{status}");
    // the file's own name has nothing running
    let o = common::pactown(&[
        "status",
        file.to_str().unwrap(),
        "--json",
        "--engine",
        common::cli(kind),
    ]);
    let status = common::stdout_json(&o);
    assert_eq!(status["ecosystem"], own.as_str(), "{status}");
    // down with -p removes the project's containers and network
    let o = common::pactown(&[
        "-p",
        &project,
        "-f",
        file.to_str().unwrap(),
        "down",
        "--engine",
        common::cli(kind),
        "--timeout",
        "1",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(common::container_ids(kind, &project).is_empty());
}

/// `db`, `api` (depends on `db`) and `extra`, each answering with its `GREETING`; `greetings`
/// are the three services' `env:` values (a change recreates the service).
fn three_services(dir: &Path, name: &str, ports: [u16; 3], greetings: [&str; 3]) {
    let readme = common::python_service(
        "greeter",
        "",
        r#"        self.reply(200, os.environ["GREETING"])"#,
    );
    std::fs::write(dir.join("greeter.md"), readme).unwrap();
    let [db, api, extra] = ports;
    let [g_db, g_api, g_extra] = greetings;
    std::fs::write(
        dir.join("app.pactown.yaml"),
        format!(
            "name: {name}\nservices:\n  db:\n    readme: greeter.md\n    port: {db}\n    health_check: /\n    env: {{GREETING: {g_db}}}\n  api:\n    readme: greeter.md\n    port: {api}\n    health_check: /\n    env: {{GREETING: {g_api}}}\n    depends_on: [db]\n  extra:\n    readme: greeter.md\n    port: {extra}\n    health_check: /\n    env: {{GREETING: {g_extra}}}\n"
        ),
    )
    .unwrap();
}

/// `service -> container id` of the ecosystem's containers.
fn ids_by_service(kind: EngineKind, name: &str) -> std::collections::BTreeMap<String, String> {
    common::container_ids(kind, name)
        .iter()
        .filter_map(|l| {
            let (cname, id) = l.split_once(' ')?;
            let service = cname
                .strip_prefix(&format!("{name}-"))?
                .strip_suffix("-1")?;
            Some((service.to_string(), id.to_string()))
        })
        .collect()
}

fn up_some_services_with_and_without_deps(kind: EngineKind) {
    if !common::available(kind) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let name = common::unique("cup");
    let ports = [
        common::free_port(),
        common::free_port(),
        common::free_port(),
    ];
    three_services(tmp.path(), &name, ports, ["db1", "api1", "extra1"]);
    let file = tmp.path().join("app.pactown.yaml");
    let f = file.to_str().unwrap();
    let _down = common::Down::new(&file, kind).timeout(1);
    let engine = common::cli(kind);
    let up = |args: &[&str]| {
        let mut all = vec!["-f", f, "up"];
        all.extend_from_slice(args);
        all.extend(["--engine", engine]);
        common::pactown(&all)
    };
    // `up api`: api and what it depends on, nothing else
    let o = up(&["api", "-d"]);
    assert!(o.status.success(), "{}", text(&o));
    let first = ids_by_service(kind, &name);
    assert_eq!(first.keys().collect::<Vec<_>>(), ["api", "db"], "{first:?}");
    let get = |port: u16| common::http_get(&format!("http://127.0.0.1:{port}/"));
    assert_eq!(get(ports[1]), (200, "api1".to_string()));
    // both changed in the file; `up api --no-deps` recreates api only, db keeps its container
    three_services(tmp.path(), &name, ports, ["db2", "api2", "extra1"]);
    let o = up(&["api", "--no-deps", "-d"]);
    assert!(o.status.success(), "{}", text(&o));
    let second = ids_by_service(kind, &name);
    assert_eq!(
        second.keys().collect::<Vec<_>>(),
        ["api", "db"],
        "{second:?}"
    );
    assert_ne!(second["api"], first["api"], "api was not recreated");
    assert_eq!(second["db"], first["db"], "--no-deps touched db");
    assert_eq!(get(ports[1]), (200, "api2".to_string()));
    assert_eq!(get(ports[0]), (200, "db1".to_string()));
    // `up extra` leaves the others alone (db is not updated, nothing is an orphan)
    let o = up(&["extra", "-d"]);
    assert!(o.status.success(), "{}", text(&o));
    let third = ids_by_service(kind, &name);
    assert_eq!(third.len(), 3, "{third:?}");
    assert_eq!(third["db"], first["db"]);
    assert_eq!(third["api"], second["api"]);
    assert_eq!(get(ports[2]), (200, "extra1".to_string()));
    // refusals: an unknown service, and a subset in the foreground
    let o = up(&["nosuch", "-d"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("`nosuch` is not a service of"),
        "{}",
        text(&o)
    );
    let o = up(&["api"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("add -d"), "{}", text(&o));
    // a plain `up` brings the rest up to date: db gets its new environment
    let o = up(&["-d"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(get(ports[0]), (200, "db2".to_string()));
}

/// `State.Status` of each of the ecosystem's containers by service (`running`, `exited`…).
fn states(kind: EngineKind, name: &str) -> std::collections::BTreeMap<String, String> {
    inspected(kind, name, "{{.State.Status}}")
}

/// `service -> inspect -f FORMAT` of the ecosystem's containers.
fn inspected(
    kind: EngineKind,
    name: &str,
    format: &str,
) -> std::collections::BTreeMap<String, String> {
    ids_by_service(kind, name)
        .into_iter()
        .map(|(service, id)| {
            let value = common::cli_output(kind, &["inspect", "-f", format, &id]);
            (service, value)
        })
        .collect()
}

/// GET until it answers 200 (at most 30 s); the body.
fn wait_200(port: u16) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (code, body) = common::http_get(&format!("http://127.0.0.1:{port}/"));
        if code == 200 {
            return body;
        }
        assert!(std::time::Instant::now() < deadline, "no 200 on {port}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

fn stop_and_start_keep_the_containers(kind: EngineKind) {
    if !common::available(kind) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let name = common::unique("cstop");
    let ports = [
        common::free_port(),
        common::free_port(),
        common::free_port(),
    ];
    three_services(tmp.path(), &name, ports, ["db1", "api1", "extra1"]);
    let file = tmp.path().join("app.pactown.yaml");
    let f = file.to_str().unwrap();
    let _down = common::Down::new(&file, kind).timeout(1);
    let engine = common::cli(kind);
    let run = |args: &[&str]| {
        let mut all = vec!["-f", f];
        all.extend_from_slice(args);
        all.extend(["--engine", engine]);
        common::pactown(&all)
    };
    let o = run(&["up", "-d"]);
    assert!(o.status.success(), "{}", text(&o));
    let ids = ids_by_service(kind, &name);
    // one service: stopped, not removed; the others keep running
    let o = run(&["stop", "api", "--timeout", "2"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("stopped {name}-api-1")),
        "{}",
        text(&o)
    );
    let st = states(kind, &name);
    assert_eq!(st["api"], "exited", "{st:?}");
    assert_eq!(st["db"], "running", "{st:?}");
    assert_eq!(st["extra"], "running", "{st:?}");
    assert_eq!(
        common::http_get(&format!("http://127.0.0.1:{}/", ports[1])).0,
        0
    );
    let o = run(&["start", "api"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(wait_200(ports[1]), "api1");
    // everything, and the same containers afterwards
    let o = run(&["stop", "--timeout", "2"]);
    assert!(o.status.success(), "{}", text(&o));
    let st = states(kind, &name);
    assert!(st.values().all(|s| s == "exited"), "{st:?}");
    let o = run(&["start"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(wait_200(ports[0]), "db1");
    assert_eq!(wait_200(ports[2]), "extra1");
    assert_eq!(ids_by_service(kind, &name), ids, "containers were replaced");
    // an unknown service is refused by name
    let o = run(&["stop", "nosuch"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("`nosuch` is not a service of"),
        "{}",
        text(&o)
    );
}

/// Runs `cmd` with `input` on its stdin; its output.
fn with_input(cmd: &mut std::process::Command, input: &str) -> std::process::Output {
    use std::io::Write as _;
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// `pactown_service` (a pactown command line up to the service) running `stty size` on a
/// terminal of 33 rows × 101 columns (script(1) gives it one).
fn sized_pty(pactown_service: &str) -> std::process::Output {
    let line = format!("stty rows 33 cols 101; {pactown_service} sh -c 'sleep 1; stty size'");
    std::process::Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

fn exec_passes_output_input_and_exit_code(kind: EngineKind) {
    if !common::available(kind) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let name = common::unique("cexec");
    let port = common::free_port();
    one_service(tmp.path(), &name, port);
    let file = tmp.path().join("app.pactown.yaml");
    let f = file.to_str().unwrap();
    let _down = common::Down::new(&file, kind).timeout(1);
    let engine = common::cli(kind);
    let o = common::pactown(&["-f", f, "up", "-d", "--engine", engine]);
    assert!(o.status.success(), "{}", text(&o));
    let exec = |args: &[&str], input: &str| {
        with_input(
            pactown_cmd()
                .args(["-f", f, "exec", "--engine", engine])
                .args(args),
            input,
        )
    };
    // stdout and stderr apart, the exit code passed through, the service's environment
    let o = exec(
        &[
            "api",
            "--",
            "sh",
            "-c",
            "echo out $PACTOWN_SERVICE_NAME; echo err >&2; exit 7",
        ],
        "",
    );
    assert_eq!(o.status.code(), Some(7), "{}", text(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "out api\n",
        "{}",
        text(&o)
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("err\n"),
        "{}",
        text(&o)
    );
    // stdin reaches the command (no TTY: stdin is a pipe here)
    let o = exec(&["api", "wc", "-c"], "twelve bytes");
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "12",
        "{}",
        text(&o)
    );
    // on a terminal (script(1) gives pactown one) the command gets a TTY, and -T turns it off
    let bin = env!("CARGO_BIN_EXE_pactown");
    let in_pty = |extra: &str| {
        let line = format!("{bin} -f {f} exec --engine {engine} {extra} api sh -c 'test -t 0 && echo tty || echo notty'");
        std::process::Command::new("script")
            .args(["-qec", &line, "/dev/null"])
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    let o = in_pty("");
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("tty"),
        "{}",
        text(&o)
    );
    assert!(
        !String::from_utf8_lossy(&o.stdout).contains("notty"),
        "{}",
        text(&o)
    );
    let o = in_pty("-T");
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("notty"),
        "{}",
        text(&o)
    );
    // the command's TTY has the terminal's size (Podman: Docker 20.10's resize breaks the
    // stream, see DockerEngine::resize_tty)
    if kind == EngineKind::Podman {
        let o = sized_pty(&format!("{bin} -f {f} exec --engine {engine} api"));
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("33 101"),
            "{}",
            text(&o)
        );
    }
    // refusals: an unknown service, a replica that does not run
    let o = exec(&["nosuch", "true"], "");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("`nosuch` is not a service of"),
        "{}",
        text(&o)
    );
    let o = exec(&["api", "-r", "2", "true"], "");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("no running container of service `api` replica 2"),
        "{}",
        text(&o)
    );
}

/// Names of the engine's volumes.
fn volumes(kind: EngineKind) -> Vec<String> {
    common::cli_output(kind, &["volume", "ls", "--format", "{{.Name}}"])
        .lines()
        .map(str::to_string)
        .collect()
}

fn down_removes_volumes_only_when_asked(kind: EngineKind) {
    if !common::available(kind) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let name = common::unique("cvol");
    let port = common::free_port();
    let readme = common::python_service(
        "keeper",
        "",
        r#"        if self.path != "/count":
            return self.reply(200, "ok")
        p = "/data/count"
        n = int(open(p).read()) + 1 if os.path.exists(p) else 1
        open(p, "w").write(str(n))
        self.reply(200, str(n))"#,
    );
    std::fs::write(tmp.path().join("keeper.md"), readme).unwrap();
    let file = tmp.path().join("app.pactown.yaml");
    std::fs::write(
        &file,
        format!("name: {name}\nservices:\n  keeper:\n    readme: keeper.md\n    port: {port}\n    health_check: /health\n    volumes:\n      data: /data\n"),
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let _down = common::Down::new(&file, kind).timeout(1);
    let engine = common::cli(kind);
    let vol = format!("{name}-data");
    // a volume of the same engine that is not the ecosystem's stays whatever happens
    let bystander = format!("{name}-bystander");
    common::cli_output(kind, &["volume", "create", &bystander]);
    let up = || {
        let o = common::pactown(&["-f", f, "up", "-d", "--engine", engine]);
        assert!(o.status.success(), "{}", text(&o));
    };
    let down = |extra: &[&str]| {
        let mut args = vec!["-f", f, "down", "--engine", engine, "--timeout", "1"];
        args.extend_from_slice(extra);
        let o = common::pactown(&args);
        assert!(o.status.success(), "{}", text(&o));
        text(&o)
    };
    let count = || common::http_get(&format!("http://127.0.0.1:{port}/count"));
    up();
    assert_eq!(count(), (200, "1".to_string()));
    assert!(volumes(kind).contains(&vol), "{:?}", volumes(kind));
    // plain `down` keeps the data: the next `up` counts on from it
    let out = down(&[]);
    assert!(!out.contains("volumes removed"), "{out}");
    assert!(volumes(kind).contains(&vol), "{:?}", volumes(kind));
    up();
    assert_eq!(count(), (200, "2".to_string()));
    // `down -v` removes the ecosystem's volume (and says so); the next `up` starts afresh
    let out = down(&["-v"]);
    assert!(out.contains("1 volumes removed"), "{out}");
    let now = volumes(kind);
    assert!(!now.contains(&vol), "{now:?}");
    assert!(now.contains(&bystander), "{now:?}");
    up();
    assert_eq!(count(), (200, "1".to_string()));
    let out = down(&["--volumes"]);
    assert!(out.contains("1 volumes removed"), "{out}");
    // nothing left: a second `down -v` has nothing to do
    let out = down(&["-v"]);
    assert!(out.contains("nothing to remove"), "{out}");
    common::cli_output(kind, &["volume", "rm", &bystander]);
}

fn run_service_command_in_a_oneoff_container(kind: EngineKind) {
    if !common::available(kind) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let name = common::unique("crun");
    let (db_port, api_port) = (common::free_port(), common::free_port());
    let readme = common::python_service(
        "greeter",
        "",
        r#"        self.reply(200, os.environ["SERVICE_NAME"])"#,
    );
    std::fs::write(tmp.path().join("greeter.md"), readme).unwrap();
    let file = tmp.path().join("app.pactown.yaml");
    std::fs::write(
        &file,
        format!("name: {name}\nservices:\n  db:\n    readme: greeter.md\n    port: {db_port}\n    health_check: /\n  api:\n    readme: greeter.md\n    port: {api_port}\n    health_check: /\n    depends_on: [db]\n"),
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let _down = common::Down::new(&file, kind).timeout(1);
    let engine = common::cli(kind);
    let run = |args: &[&str], input: &str| {
        with_input(
            pactown_cmd()
                .args(["-f", f, "run", "--engine", engine])
                .args(args),
            input,
        )
    };
    let stdout = |o: &std::process::Output| String::from_utf8_lossy(&o.stdout).into_owned();
    let oneoffs = || {
        common::cli_output(
            kind,
            &[
                "ps",
                "-a",
                "--filter",
                &format!("label=io.pactown.oneoff={name}"),
                "--format",
                "{{.Names}}",
            ],
        )
    };
    // the dependency comes up first; the command sees the service's env and reaches `db` by
    // name; its exit code is pactown's; the service itself is not started
    let o = run(
        &[
            "api",
            "-e",
            "EXTRA=given",
            "--",
            "python3",
            "-c",
            "import os, sys, urllib.request; print(os.environ['SERVICE_NAME'], os.environ['EXTRA'], urllib.request.urlopen(os.environ['DB_URL']).read().decode()); sys.exit(5)",
        ],
        "",
    );
    assert_eq!(o.status.code(), Some(5), "{}", text(&o));
    assert_eq!(stdout(&o), "api given db\n", "{}", text(&o));
    let running = states(kind, &name);
    assert_eq!(
        running.get("db").map(String::as_str),
        Some("running"),
        "{running:?}"
    );
    assert!(!running.contains_key("api"), "{running:?}");
    assert_eq!(oneoffs(), "", "the one-off container is removed");
    // stdin reaches the command; stderr stays apart
    let o = run(&["api", "sh", "-c", "wc -c; echo err >&2"], "twelve bytes");
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(stdout(&o).trim(), "12", "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("err"),
        "{}",
        text(&o)
    );
    // a one-off does not disturb what runs: `up -d` after it keeps db and adds api
    let o = common::pactown(&["-f", f, "up", "-d", "--engine", engine]);
    assert!(o.status.success(), "{}", text(&o));
    let o = run(&["db", "true"], "");
    assert!(o.status.success(), "{}", text(&o));
    let st = common::stdout_json(&common::pactown(&[
        "-f", f, "status", "--json", "--engine", engine,
    ]));
    assert_eq!(st["services"].as_array().map(Vec::len), Some(2), "{st}");
    // with a TTY on a terminal (script(1)), and without one under -T
    let bin = env!("CARGO_BIN_EXE_pactown");
    let in_pty = |extra: &str| {
        let line = format!("{bin} -f {f} run --engine {engine} {extra} api sh -c 'test -t 0 && echo tty || echo notty'");
        std::process::Command::new("script")
            .args(["-qec", &line, "/dev/null"])
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    // (Docker 20.10: pipes, see cli::run; its output must still arrive whole)
    let o = in_pty("");
    if kind == EngineKind::Podman {
        assert!(
            stdout(&o).contains("tty") && !stdout(&o).contains("notty"),
            "{}",
            text(&o)
        );
        let o = sized_pty(&format!("{bin} -f {f} run --engine {engine} api"));
        assert!(stdout(&o).contains("33 101"), "{}", text(&o));
    } else {
        assert!(stdout(&o).contains("notty"), "{}", text(&o));
        let line =
            format!("{bin} -f {f} run --engine {engine} api sh -c 'echo a; sleep 1; echo b'");
        let o = std::process::Command::new("script")
            .args(["-qec", &line, "/dev/null"])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(stdout(&o).contains("a\r\nb"), "{}", text(&o));
    }
    let o = in_pty("-T");
    assert!(stdout(&o).contains("notty"), "{}", text(&o));
    // --no-deps after down: db stays down
    let o = common::pactown(&["-f", f, "down", "--engine", engine, "--timeout", "1"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = run(&["api", "--no-deps", "--", "sh", "-c", "echo alone"], "");
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(stdout(&o), "alone\n");
    assert!(states(kind, &name).is_empty());
    assert_eq!(oneoffs(), "");
    // refusals: an unknown service, a README flag, a command after a README
    let o = run(&["nosuch", "true"], "");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("`nosuch` is not a service of"),
        "{}",
        text(&o)
    );
    let o = run(&["api", "--once", "true"], "");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("--once applies to `run README.md`"),
        "{}",
        text(&o)
    );
    let readme = tmp.path().join("greeter.md");
    let o = run(&[readme.to_str().unwrap(), "true"], "");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("takes no command"), "{}", text(&o));
    // a one-off left behind (pactown killed mid-run) goes with `down`
    let label = format!("io.pactown.oneoff={name}");
    common::cli_output(
        kind,
        &["create", "--label", &label, "debian:bookworm-slim", "true"],
    );
    assert_ne!(oneoffs(), "");
    let o = common::pactown(&["-f", f, "down", "--engine", engine, "--timeout", "1"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(oneoffs(), "");
}

/// `service -> StartedAt` of the ecosystem's containers.
fn started_at(kind: EngineKind, name: &str) -> std::collections::BTreeMap<String, String> {
    inspected(kind, name, "{{.State.StartedAt}}")
}

fn restart_takes_the_file_from_the_folder_and_every_service_by_default(kind: EngineKind) {
    if !common::available(kind) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let name = common::unique("crst");
    let ports = [
        common::free_port(),
        common::free_port(),
        common::free_port(),
    ];
    three_services(tmp.path(), &name, ports, ["d", "a", "e"]);
    let file = tmp.path().join("app.pactown.yaml");
    let _down = common::Down::new(&file, kind).timeout(1);
    let engine = common::cli(kind);
    let in_folder = |args: &[&str]| {
        pactown_cmd()
            .current_dir(tmp.path())
            .args(args)
            .args(["--engine", engine])
            .output()
            .unwrap()
    };
    let o = in_folder(&["up", "-d"]);
    assert!(o.status.success(), "{}", text(&o));
    let before = started_at(kind, &name);
    assert_eq!(before.len(), 3, "{before:?}");
    // one service, the file found in the current folder
    let o = in_folder(&["restart", "api"]);
    assert!(o.status.success(), "{}", text(&o));
    let after_one = started_at(kind, &name);
    assert_ne!(after_one["api"], before["api"]);
    assert_eq!(after_one["db"], before["db"]);
    assert_eq!(after_one["extra"], before["extra"]);
    // no services: all of them, each healthy again when it returns
    let o = in_folder(&["restart"]);
    assert!(o.status.success(), "{}", text(&o));
    let after_all = started_at(kind, &name);
    for s in ["db", "api", "extra"] {
        assert_ne!(after_all[s], after_one[s], "{s}");
    }
    for port in ports {
        assert!(!wait_200(port).is_empty());
    }
    // nothing running: a clear refusal
    let o = in_folder(&["down", "--timeout", "1"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = in_folder(&["restart"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("has no containers to restart"),
        "{}",
        text(&o)
    );
}

crate::per_engine!(sync:
    restart_takes_the_file_from_the_folder_and_every_service_by_default,
    run_service_command_in_a_oneoff_container,
    down_removes_volumes_only_when_asked,
    exec_passes_output_input_and_exit_code,
    project_name_and_file_flags,
    up_some_services_with_and_without_deps,
    stop_and_start_keep_the_containers,
);
