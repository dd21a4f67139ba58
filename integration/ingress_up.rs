//! `ingress:` under `pactown up` on real engines (#18 item 3): one Caddy container per ecosystem
//! (Debian's Caddy in a pactown base image, nothing pulled) routes host names and path prefixes
//! to the exposed services by their DNS names; with `tls: internal` a client trusting only the
//! PEM that `pactown ingress ca` prints reaches them over HTTPS, plain HTTP redirects, a name that
//! is not exposed gets no certificate, a replaced service fails no request of a loop through the
//! proxy (on Docker also with slow POSTs in flight, and a failing version rolled back), watch
//! mode keeps the proxy and (Docker) replaces an edited service behind it with no failed
//! request, and the CA survives `down` (not `down -v`).
use crate::common::{self, pactown, row, status_json, text};
use pactown::engine::EngineKind;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

const HOST: &str = "shop.ing.test";

fn service(title: &str) -> String {
    common::python_service(
        title,
        "",
        &format!(
            r#"        if "/slow" in self.path:
            time.sleep(0.6)
        self.reply(200, "{title} " + os.environ.get("VERSION", "v1") + " " + self.path)

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.do_GET()"#
        ),
    )
}

fn write_eco(dir: &Path, name: &str, base: u16, http: u16, https: u16, version: &str) {
    std::fs::write(
        dir.join("eco.pactown.yaml"),
        format!(
            "name: {name}
ingress: {{tls: internal, http_port: {http}, https_port: {https}}}
services:
  web:
    readme: web.md
    port: {base}
    expose: {{host: {HOST}}}
  api:
    readme: api.md
    port: {api}
    env: {{VERSION: {version}}}
    expose: {{host: {HOST}, path: /api}}
  db:
    readme: db.md
    port: {db}
",
            api = base + 1,
            db = base + 2,
        ),
    )
    .unwrap();
}

/// A folder with the three READMEs and `eco.pactown.yaml` (version v1) of a fresh ecosystem
/// named after `prefix`: the folder, the name, the base port, the proxy's HTTP and HTTPS ports.
fn fixture(kind: EngineKind, prefix: &str) -> (tempfile::TempDir, String, u16, u16, u16) {
    let tmp = tempfile::tempdir().unwrap();
    for (file, title) in [("web.md", "web"), ("api.md", "api"), ("db.md", "db")] {
        std::fs::write(tmp.path().join(file), service(title)).unwrap();
    }
    let name = common::unique(prefix);
    let base = common::free_base_for(kind);
    let (http, https) = (common::free_port(), common::free_port());
    write_eco(tmp.path(), &name, base, http, https, "v1");
    (tmp, name, base, http, https)
}

/// `curl` through the proxy on 127.0.0.1 for `host`: exit code and body.
fn curl(host: &str, port: u16, path: &str, extra: &[&str]) -> (i32, String) {
    let o = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--resolve"])
        .arg(format!("{host}:{port}:127.0.0.1"))
        .args(extra)
        .arg(format!("https://{host}:{port}{path}"))
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}

fn ingress_routes_tls_internal_and_survives_replacement(kind: EngineKind) {
    if !common::available(kind) {
        return;
    }
    let (tmp, name, base, http, https) = fixture(kind, "ing");
    let dir = tmp.path();
    let file = dir.join("eco.pactown.yaml");
    let f = file.to_str().unwrap();
    let engine = common::cli(kind);
    let _down = common::Down::new(&file, kind);

    let o = pactown(&["up", "-d", f, "--engine", engine]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("https://{HOST}:{https}/api (ingress")),
        "{}",
        text(&o)
    );
    let status = status_json(kind, f, &[]);
    let ing = row(&status, "ingress");
    assert_eq!(
        ing["url"],
        format!("https://127.0.0.1:{https}"),
        "{status:#}"
    );
    assert_eq!(ing["hardening"]["read_only"], true, "{status:#}");

    let pem = dir.join("ca.pem");
    let o = pactown(&[
        "ingress",
        "ca",
        f,
        "--engine",
        engine,
        "-o",
        pem.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let ca = ["--cacert", pem.to_str().unwrap()];
    // Caddy issues the certificate on the first handshake: allow it a few tries
    let mut answer = (0, String::new());
    for _ in 0..40 {
        answer = curl(HOST, https, "/api/items", &ca);
        if answer.0 == 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    assert_eq!(answer, (0, "api v1 /api/items".to_string()));
    assert_eq!(curl(HOST, https, "/", &ca), (0, "web v1 /".to_string()));
    assert_eq!(curl(HOST, https, "/apis", &ca).1, "web v1 /apis");
    // the system roots do not trust the local CA; a name nobody exposed gets no certificate
    assert_eq!(curl(HOST, https, "/", &[]).0, 60);
    assert_ne!(curl("db.ing.test", https, "/", &ca).0, 0);
    // plain HTTP redirects to the HTTPS port
    let o = Command::new("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{redirect_url}",
        ])
        .arg("--resolve")
        .arg(format!("{HOST}:{http}:127.0.0.1"))
        .arg(format!("http://{HOST}:{http}/api/x"))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        format!("308 https://{HOST}:{https}/api/x")
    );

    // a changed api is replaced while clients loop through the proxy — quick GETs and slow
    // POSTs (0.6 s, so one is always in flight when a container goes): none fails
    write_eco(dir, &name, base, http, https, "v2");
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    // on Docker the proxy is steered to a surge container (no request meets a stopped
    // container); Podman's DNS does not follow a rename, so there the proxy only retries the
    // refused dials of the gap, and a request in flight when the old container goes fails
    let steered = kind == EngineKind::Docker;
    let paths: &[&'static str] = if steered {
        &[
            "/api/x",
            "/api/x",
            "/api/x",
            "POST /api/slow",
            "POST /api/slow",
        ]
    } else {
        &["/api/x"]
    };
    let loopers: Vec<_> = paths
        .iter()
        .copied()
        .map(|path| {
            let (stop, ok, failed) = (Arc::clone(&stop), Arc::clone(&ok), Arc::clone(&failed));
            let pem = pem.to_str().unwrap().to_string();
            std::thread::spawn(move || {
                let mut errors = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    // a POST is not retried by the proxy once sent: it must reach a container
                    // that finishes it
                    let (code, body) = match path.strip_prefix("POST ") {
                        Some(p) => curl(
                            HOST,
                            https,
                            p,
                            &["--cacert", &pem, "-d", "order", "-w", " [%{http_code}]"],
                        ),
                        None => curl(HOST, https, path, &["--cacert", &pem]),
                    };
                    if code == 0 && body.starts_with("api v") {
                        ok.fetch_add(1, Ordering::Relaxed);
                    } else {
                        failed.fetch_add(1, Ordering::Relaxed);
                        errors.push(format!("{path}: {code} {body}"));
                    }
                }
                errors
            })
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let began = std::time::Instant::now();
    let o = pactown(&["up", "-d", f, "--engine", engine]);
    let took = began.elapsed();
    // a few more requests after the switch
    std::thread::sleep(std::time::Duration::from_millis(700));
    stop.store(true, Ordering::Relaxed);
    let errors: Vec<String> = loopers
        .into_iter()
        .flat_map(|l| l.join().unwrap())
        .collect();
    assert!(o.status.success(), "{}", text(&o));
    let done = ok.load(Ordering::Relaxed);
    assert!(
        done > 10,
        "too few requests ran: {done} ok, {errors:?}; up: {}",
        text(&o)
    );
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "{errors:?}\n{}",
        text(&o)
    );
    assert_eq!(
        text(&o).contains("api replaced with no gap through the ingress"),
        steered,
        "{}",
        text(&o)
    );
    eprintln!(
        "{done} requests through the proxy while api was replaced ({:.1} s), none failed",
        took.as_secs_f64()
    );
    // the surge container is gone
    let names = common::cli_output(kind, &["ps", "-a", "--format", "{{.Names}}"]);
    assert!(!names.contains("-surge"), "{names}");

    if steered {
        // a new version that fails its health check never replaces the serving one: its surge
        // container is removed, the old container never stopped
        let before = common::container_ids(kind, &name);
        let broken =
            common::python_service("api", "raise SystemExit('boom: no config')", "        pass");
        std::fs::write(dir.join("api.md"), broken).unwrap();
        let o = pactown(&["up", "-d", f, "--engine", engine, "--timeout", "5"]);
        assert!(!o.status.success(), "{}", text(&o));
        assert!(
            text(&o).contains("new version of api failed"),
            "{}",
            text(&o)
        );
        assert!(text(&o).contains("boom: no config"), "{}", text(&o));
        assert_eq!(
            curl(HOST, https, "/api/still", &ca),
            (0, "api v2 /api/still".to_string())
        );
        assert_eq!(common::container_ids(kind, &name), before);
        std::fs::write(dir.join("api.md"), service("api")).unwrap();
    }
    assert_eq!(
        curl(HOST, https, "/api/x", &ca),
        (0, "api v2 /api/x".to_string())
    );

    // watch mode deploys the ingress with the services: its first round keeps the proxy's
    // container (it is no orphan) and the proxy keeps answering
    let ingress_before = common::container_ids(kind, &name);
    let mut watch = common::pactown_cmd()
        .args(["watch", f, "--json", "--engine", engine, "--timeout", "120"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let events = watch.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(events)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !seen
        .iter()
        .any(|l: &String| l.contains(r#""event":"watching""#))
    {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => seen.push(line),
            Err(_) => break,
        }
    }
    let answer = curl(HOST, https, "/api/w", &ca);
    let after = common::container_ids(kind, &name);
    // on Docker an edit under watch mode is replaced behind the proxy too: a client looping
    // GETs and slow POSTs through it until the `replaced` event sees no failure
    let mut watch_errors = Vec::new();
    let mut watch_requests = 0;
    if steered {
        write_eco(dir, &name, base, http, https, "v3");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
        while !seen.iter().any(|l| l.contains(r#""event":"replaced""#))
            && std::time::Instant::now() < deadline
        {
            for (path, extra) in [("/api/w", vec![]), ("/api/slow", vec!["-d", "order"])] {
                let mut args = vec!["--cacert", pem.to_str().unwrap()];
                args.extend(extra);
                let (code, body) = curl(HOST, https, path, &args);
                watch_requests += 1;
                if code != 0 || !body.starts_with("api v") {
                    watch_errors.push(format!("{path}: {code} {body}"));
                }
            }
            while let Ok(line) = rx.try_recv() {
                seen.push(line);
            }
        }
    }
    let edited = curl(HOST, https, "/api/w", &ca);
    common::stop_child(&mut watch);
    if steered {
        let replaced = seen
            .iter()
            .find(|l| l.contains(r#""event":"replaced""#))
            .unwrap_or_else(|| panic!("no replacement under watch: {seen:#?}"));
        assert!(replaced.contains(r#""proxied":true"#), "{replaced}");
        assert!(watch_requests > 4, "{watch_requests} requests");
        assert!(watch_errors.is_empty(), "{watch_errors:?}");
        eprintln!("{watch_requests} requests through the proxy during a watch-mode replacement, none failed");
        assert_eq!(edited, (0, "api v3 /api/w".to_string()));
        write_eco(dir, &name, base, http, https, "v2");
    }
    assert!(
        seen.iter().any(|l| l.contains(r#""event":"watching""#)),
        "{seen:#?}"
    );
    assert!(
        !seen.iter().any(|l| l.contains(r#""event":"removed""#)),
        "{seen:#?}"
    );
    assert_eq!(
        after, ingress_before,
        "watch replaced or removed containers"
    );
    assert_eq!(answer, (0, "api v2 /api/w".to_string()), "{seen:#?}");

    // `down` keeps the CA (the data volume); `down -v` removes it
    let o = pactown(&["down", f, "--engine", engine, "--timeout", "1"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = pactown(&["up", "-d", f, "--engine", engine]);
    assert!(o.status.success(), "{}", text(&o));
    let o = pactown(&["ingress", "ca", f, "--engine", engine]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        std::fs::read_to_string(&pem).unwrap().trim()
    );
    let o = pactown(&["down", "-v", f, "--engine", engine, "--timeout", "1"]);
    assert!(o.status.success(), "{}", text(&o));
    let volumes = common::cli_output(kind, &["volume", "ls", "--format", "{{.Name}}"]);
    assert!(!volumes.lines().any(|v| v.starts_with(&name)), "{volumes}");
}

crate::per_engine!(sync: ingress_routes_tls_internal_and_survives_replacement);

/// The Compose export runs the same proxy: `pactown build` makes the ingress image,
/// `docker-compose up` of `export compose` starts it after the exposed services, and a client
/// trusting only the proxy's local CA (copied out of its data volume) reaches them over HTTPS.
#[test]
fn compose_export_runs_the_ingress() {
    let Some(dc) = ["/usr/bin/docker-compose", "/usr/local/bin/docker-compose"]
        .into_iter()
        .find(|p| Path::new(p).exists())
    else {
        return;
    };
    if !common::docker_available() {
        return;
    }
    let (tmp, name, _, _, https) = fixture(EngineKind::Docker, "ingc");
    let dir = tmp.path();
    let file = dir.join("eco.pactown.yaml");
    let f = file.to_str().unwrap();
    let o = pactown(&["build", f, "--engine", "docker"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("ingress: pactown/ingress-{name}:")),
        "{}",
        text(&o)
    );
    let compose_file = dir.join("compose.yaml");
    let o = pactown(&["export", "compose", f, "-o", compose_file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let compose = |args: &[&str]| {
        Command::new(dc)
            .arg("-f")
            .arg(&compose_file)
            .args(["-p", &name])
            .args(args)
            .output()
            .unwrap()
    };
    let up = compose(&["up", "-d"]);
    let result = std::panic::catch_unwind(|| {
        assert!(up.status.success(), "{}", text(&up));
        let id = String::from_utf8_lossy(&compose(&["ps", "-q", "ingress"]).stdout)
            .trim()
            .to_string();
        assert!(!id.is_empty(), "no ingress container");
        let pem = dir.join("ca.pem");
        let source = format!("{id}:/data/{}", pactown::ingress::LOCAL_CA_ROOT);
        let mut answer = (0, String::new());
        for _ in 0..60 {
            let copied = Command::new("docker")
                .args(["cp", &source])
                .arg(&pem)
                .output()
                .unwrap();
            if copied.status.success() {
                answer = curl(HOST, https, "/api/c", &["--cacert", pem.to_str().unwrap()]);
                if answer.0 == 0 {
                    break;
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
        assert_eq!(answer, (0, "api v1 /api/c".to_string()));
        let ca = ["--cacert", pem.to_str().unwrap()];
        assert_eq!(curl(HOST, https, "/", &ca), (0, "web v1 /".to_string()));
        let inspect = common::cli_output(
            EngineKind::Docker,
            &[
                "inspect",
                "-f",
                "{{.HostConfig.ReadonlyRootfs}} {{.HostConfig.CapDrop}}",
                &id,
            ],
        );
        assert_eq!(inspect, "true [ALL]");
    });
    let down = compose(&["down", "-v", "--timeout", "1"]);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
    assert!(down.status.success(), "{}", text(&down));
}
