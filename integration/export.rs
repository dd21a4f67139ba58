//! Exports checked by the real tools: Quadlet units through trixie's `quadlet -dryrun` (the
//! generated `podman run` lines are compared with expectations, and 36 hostile environment
//! values must come back exactly), the Compose file through `docker-compose config` and
//! `docker-compose up -d` to healthy, and the Kubernetes manifests through `podman kube play`
//! (also for a real pactown image, whose `/app` an init container fills under a read-only root).
//! Without the tools they skip, unless `PACTOWN_REQUIRE_ENGINES=1`.
use crate::common::{engines_required, unique};
#[path = "../tests/support/export_fixtures.rs"]
#[allow(dead_code)]
mod fixtures;

use fixtures::{ecosystem, hostile, service as service_at, shop, Hostile};
use pactown::config::{Ecosystem, ServiceSpec};
use pactown::export::{self, ImageMap};
use pactown::quadlet::{self, PodmanVersion, QuadletOptions};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn tool(name: &str, candidates: &[&str]) -> Option<PathBuf> {
    let found = candidates.iter().map(PathBuf::from).find(|p| p.is_file());
    if found.is_none() {
        if engines_required() {
            panic!("PACTOWN_REQUIRE_ENGINES=1 but `{name}` is missing (run setup-engines.sh; for quadlet with PACTOWN_WITH_QUADLET=1)");
        }
        eprintln!("skipping: no `{name}`");
    }
    found
}

fn service(name: &str, port: u16, env: BTreeMap<String, String>, deps: &[&str]) -> ServiceSpec {
    service_at(name, port, "/", env, deps)
}

fn quadlet_bin() -> Option<PathBuf> {
    tool(
        "quadlet",
        &["/usr/local/bin/quadlet", "/usr/libexec/podman/quadlet"],
    )
}

/// Runs `quadlet -dryrun` over `units` and returns the generated services by name.
fn dryrun(bin: &Path, units: &[quadlet::UnitFile]) -> BTreeMap<String, String> {
    let dir = tempfile::tempdir().unwrap();
    for u in units {
        std::fs::write(dir.path().join(&u.name), &u.contents).unwrap();
    }
    let out = Command::new(bin)
        .arg("-dryrun")
        .env("QUADLET_UNIT_DIRS", dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "quadlet failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("rror"),
        "quadlet reported errors: {stderr}"
    );
    let mut services = BTreeMap::new();
    let mut current: Option<(String, String)> = None;
    for line in stdout.lines() {
        if let Some(name) = line.strip_prefix("---").and_then(|l| l.strip_suffix("---")) {
            if let Some((n, t)) = current.take() {
                services.insert(n, t);
            }
            current = Some((name.to_string(), String::new()));
        } else if let Some((_, t)) = current.as_mut() {
            t.push_str(line);
            t.push('\n');
        }
    }
    if let Some((n, t)) = current {
        services.insert(n, t);
    }
    services
}

/// The argv of a service's `ExecStart=` as systemd executes it: words split and unquoted with
/// C escapes decoded (systemd's `extract_first_word` with UNQUOTE|CUNESCAPE), then per word `%%`
/// → `%` and `$$` → `$`. A word that systemd would expand (`%x`, `$NAME`, `${NAME}`) is returned
/// with a marker so the comparison fails.
fn exec_start(service_text: &str) -> Vec<String> {
    let line = service_text
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("ExecStart line");
    split_exec(line)
        .into_iter()
        .map(|w| resolve_expansions(&w))
        .collect()
}

fn resolve_expansions(word: &str) -> String {
    let mut out = String::new();
    let mut chars = word.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek().copied()) {
            ('%', Some('%')) | ('$', Some('$')) => {
                out.push(c);
                chars.next();
            }
            // %t, %N… are systemd's own (cidfile); anything else would be expanded
            ('%', Some(n)) => {
                out.push_str("<SPECIFIER %");
                out.push(n);
                out.push('>');
                chars.next();
            }
            ('$', Some(n)) if n == '{' || n.is_ascii_alphabetic() || n == '_' => {
                out.push_str("<ENV-EXPANSION>");
            }
            (c, _) => out.push(c),
        }
    }
    out
}

fn unhex(b: u8) -> Option<u32> {
    (b as char).to_digit(16)
}

/// systemd `extract_first_word` (UNQUOTE | CUNESCAPE | UNESCAPE_SEPARATORS) over a whole line.
fn split_exec(line: &str) -> Vec<String> {
    let b = line.as_bytes();
    let mut words = Vec::new();
    let mut i = 0;
    loop {
        while i < b.len() && b" \t\n\r".contains(&b[i]) {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let mut word: Vec<u8> = Vec::new();
        let mut quote: Option<u8> = None;
        while i < b.len() {
            let c = b[i];
            if c == b'\\' {
                i += 1;
                let e = *b.get(i).expect("trailing backslash");
                let push_char = |u: u32, word: &mut Vec<u8>| {
                    let ch = char::from_u32(u).expect("valid code point");
                    let mut buf = [0; 4];
                    word.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                };
                match e {
                    b'a' => word.push(7),
                    b'b' => word.push(8),
                    b'f' => word.push(12),
                    b'n' => word.push(b'\n'),
                    b'r' => word.push(b'\r'),
                    b't' => word.push(b'\t'),
                    b'v' => word.push(11),
                    b'\\' | b'"' | b'\'' | b' ' => word.push(e),
                    b's' => word.push(b' '),
                    b'x' => {
                        let v = unhex(b[i + 1]).unwrap() << 4 | unhex(b[i + 2]).unwrap();
                        assert_ne!(v, 0, "NUL escape");
                        word.push(u8::try_from(v).unwrap());
                        i += 2;
                    }
                    b'u' => {
                        let v = (1..=4).fold(0, |a, k| a << 4 | unhex(b[i + k]).unwrap());
                        push_char(v, &mut word);
                        i += 4;
                    }
                    b'U' => {
                        let v = (1..=8).fold(0, |a, k| a << 4 | unhex(b[i + k]).unwrap());
                        push_char(v, &mut word);
                        i += 8;
                    }
                    b'0'..=b'7' => {
                        let v = (0..3).fold(0u32, |a, k| a << 3 | u32::from(b[i + k] - b'0'));
                        word.push(u8::try_from(v).unwrap());
                        i += 2;
                    }
                    other => panic!("unsupported escape \\{}", other as char),
                }
                i += 1;
                continue;
            }
            match quote {
                Some(q) if c == q => quote = None,
                Some(_) => word.push(c),
                None if c == b'"' || c == b'\'' => quote = Some(c),
                None if b" \t\n\r".contains(&c) => break,
                None => word.push(c),
            }
            i += 1;
        }
        assert!(quote.is_none(), "unbalanced quotes in {line}");
        words.push(String::from_utf8(word).expect("UTF-8 word"));
    }
    words
}

/// Values of a repeated flag (`--env X`, `--label X`).
fn flag_values<'a>(argv: &'a [String], flag: &str) -> Vec<&'a str> {
    argv.windows(2)
        .filter(|w| w[0] == flag)
        .map(|w| w[1].as_str())
        .collect()
}

/// A job is a oneshot service that stays active after exiting 0, its dependants require it, and
/// a service without a port publishes nothing: as `quadlet -dryrun` generates them.
#[test]
fn quadlet_dryrun_keeps_job_semantics() {
    let Some(bin) = quadlet_bin() else { return };
    let (eco, images) = fixtures::jobs();
    let units = quadlet::to_units(&eco, &images, &QuadletOptions::default()).unwrap();
    let services = dryrun(&bin, &units);
    let migrate = &services["jobs-migrate.service"];
    assert!(migrate.contains("Type=oneshot"), "{migrate}");
    assert!(migrate.contains("RemainAfterExit=yes"), "{migrate}");
    assert!(
        !exec_start(migrate)
            .iter()
            .any(|a| a.starts_with("--health-cmd")),
        "{migrate}"
    );
    let api = &services["jobs-api.service"];
    assert!(api.contains("Requires=jobs-migrate.service"), "{api}");
    assert!(
        api.contains("After=") && api.contains("jobs-migrate.service"),
        "{api}"
    );
    let worker = exec_start(&services["jobs-worker.service"]);
    assert!(
        !worker
            .iter()
            .any(|a| a == "--publish" || a.starts_with("--publish=")),
        "{worker:?}"
    );
    let beat = exec_start(&services["jobs-beat.service"]);
    assert!(
        beat.iter()
            .any(|a| a.contains("test -f /tmp/beat-$PACTOWN_SERVICE_NAME")),
        "{beat:?}"
    );
}

#[test]
fn quadlet_dryrun_gives_the_expected_podman_run_lines() {
    let Some(bin) = quadlet_bin() else { return };
    let (eco, images) = shop();
    for version in ["4.9", "5.0", "5.4"] {
        let opts = QuadletOptions {
            podman_version: version.parse::<PodmanVersion>().unwrap(),
            ..QuadletOptions::default()
        };
        let units = quadlet::to_units(&eco, &images, &opts).unwrap();
        let services = dryrun(&bin, &units);
        let names: Vec<&str> = services.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "shop-api.service",
                "shop-db.service",
                "shop-network.service",
                "shop-web.service",
                "shop-worker-1.service",
                "shop-worker-2.service"
            ],
            "podman {version}"
        );
        let net = exec_start(&services["shop-network.service"]);
        assert_eq!(
            net[..4],
            ["/usr/bin/podman", "network", "create", "--ignore"]
        );
        assert_eq!(net.last().map(String::as_str), Some("pactown-shop"));

        let api_text = &services["shop-api.service"];
        for dep in [
            "Requires=shop-db.service",
            "After=shop-db.service",
            "Requires=shop-network.service",
        ] {
            assert!(
                api_text.lines().any(|l| l == dep),
                "{dep} missing:\n{api_text}"
            );
        }
        assert!(api_text.lines().any(|l| l == "Restart=always"));
        let api = exec_start(api_text);
        assert_eq!(api[..2], ["/usr/bin/podman", "run"]);
        assert_eq!(
            api.last().unwrap(),
            "localhost/pactown/python-api:0123456789ab"
        );
        for (flag, value) in [
            ("--name", "shop-api"),
            ("--network", "pactown-shop"),
            ("--network-alias", "api"),
            ("--publish", "127.0.0.1:8101:8101"),
            ("--cap-drop", "all"),
            ("--pull", "never"),
            ("--pids-limit", "2048"),
            ("--health-interval", "2s"),
            ("--health-retries", "3"),
            ("--health-timeout", "3s"),
            ("--health-start-period", "60s"),
        ] {
            assert!(
                flag_values(&api, flag).contains(&value),
                "podman {version}: {flag} {value} missing in {api:?}"
            );
        }
        assert!(api.contains(&"--sdnotify=healthy".to_string()), "{api:?}");
        assert!(api.contains(&"--security-opt=no-new-privileges".to_string()));
        let env = flag_values(&api, "--env");
        for e in [
            "DATABASE_URL=http://db:8100",
            "DB_URL=http://db:8100",
            "DB_HOST=db",
            "DB_PORT=8100",
            "LOG_LEVEL=info",
            "PORT=8101",
            "MARKPACT_PORT=8101",
        ] {
            assert!(env.contains(&e), "{e} missing in {env:?}");
        }
        let health: Vec<String> =
            serde_json::from_str(flag_values(&api, "--health-cmd")[0]).unwrap();
        assert_eq!(health, export::health_argv(8101, Some("/health")));

        // the replicated worker: both replicas share the alias, only the first publishes
        let w1 = exec_start(&services["shop-worker-1.service"]);
        let w2 = exec_start(&services["shop-worker-2.service"]);
        assert_eq!(flag_values(&w1, "--network-alias"), ["worker"]);
        assert_eq!(flag_values(&w2, "--network-alias"), ["worker"]);
        assert_eq!(flag_values(&w1, "--publish"), ["127.0.0.1:8102:8102"]);
        assert!(flag_values(&w2, "--publish").is_empty());
        let w_text = &services["shop-worker-2.service"];
        for dep in ["shop-db.service", "shop-api.service"] {
            assert!(
                w_text.lines().any(|l| l == format!("Requires={dep}")),
                "{w_text}"
            );
        }
        // web depends on api; static site probe is TCP-only
        let web = exec_start(&services["shop-web.service"]);
        let health: Vec<String> =
            serde_json::from_str(flag_values(&web, "--health-cmd")[0]).unwrap();
        assert_eq!(health, export::health_argv(8180, None));
    }
}

#[test]
fn quadlet_hostile_values_round_trip_through_the_real_generator() {
    let Some(bin) = quadlet_bin() else { return };
    let all = hostile();
    let accepted: Vec<&Hostile> = all.iter().filter(|h| !h.refused).collect();
    assert!(
        accepted.len() >= 30,
        "need at least 30 accepted hostile values"
    );
    let env: BTreeMap<String, String> = accepted
        .iter()
        .enumerate()
        .map(|(i, h)| (format!("HOSTILE_{i:02}"), h.value.clone()))
        .collect();
    let eco = ecosystem("hostile", vec![service("api", 8001, env.clone(), &[])]);
    let images = ImageMap::from([("api".to_string(), "pactown/python-api:1".to_string())]);
    let units = quadlet::to_units(&eco, &images, &QuadletOptions::default()).unwrap();
    let services = dryrun(&bin, &units);
    let argv = exec_start(&services["hostile-api.service"]);
    let got: BTreeMap<&str, &str> = flag_values(&argv, "--env")
        .into_iter()
        .filter_map(|e| e.split_once('='))
        .filter(|(k, _)| k.starts_with("HOSTILE_"))
        .collect();
    for (i, h) in accepted.iter().enumerate() {
        let key = format!("HOSTILE_{i:02}");
        assert_eq!(
            got.get(key.as_str()).copied(),
            Some(h.value.as_str()),
            "hostile value `{}` did not round-trip",
            h.name
        );
    }
    assert_eq!(got.len(), accepted.len());
    // refused values are refused before anything is generated
    for h in all.iter().filter(|h| h.refused) {
        let eco = ecosystem(
            "hostile",
            vec![service(
                "api",
                8001,
                BTreeMap::from([("HOSTILE".to_string(), h.value.clone())]),
                &[],
            )],
        );
        let err = quadlet::to_units(&eco, &images, &QuadletOptions::default()).unwrap_err();
        assert!(err.to_string().contains("env.HOSTILE"), "{}: {err}", h.name);
    }
}

// ---------------------------------------------------------------- compose and kube: real runs

const TEST_IMAGE: &str = "pactown-test/export-http:1";
const CONTAINERFILE: &str = "FROM debian:bookworm-slim\n\
RUN apt-get update && apt-get install -y --no-install-recommends python3 && rm -rf /var/lib/apt/lists/*\n\
CMD [\"/bin/sh\", \"-c\", \"exec python3 -m http.server \\\"$PORT\\\"\"]\n";

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn build_test_image(cli: &str) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Containerfile"), CONTAINERFILE).unwrap();
    let (ok, log) = run(Command::new(cli)
        .args(["build", "-t", TEST_IMAGE, "-f"])
        .arg(dir.path().join("Containerfile"))
        .arg(dir.path()));
    assert!(ok, "{cli} build failed:\n{log}");
}

fn port_base() -> u16 {
    20000 + u16::try_from(std::process::id() % 20000).unwrap()
}

fn two_services(name: &str, base: u16) -> Ecosystem {
    let mut web = service("web", base + 1, BTreeMap::new(), &["api"]);
    web.health_check = None;
    let mut api = service(
        "api",
        base,
        BTreeMap::from([("GREETING".to_string(), "100% $HOME \"x\"".to_string())]),
        &[],
    );
    api.replicas = 1;
    ecosystem(name, vec![api, web])
}

#[test]
fn compose_config_validates_and_up_gets_healthy() {
    let Some(dc) = tool(
        "docker-compose",
        &["/usr/bin/docker-compose", "/usr/local/bin/docker-compose"],
    ) else {
        return;
    };
    if !crate::common::docker_available() {
        return;
    }
    // the shop fixture passes `docker-compose config`
    let (eco, images) = shop();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("compose.yaml");
    std::fs::write(&file, export::compose::render(&eco, &images).unwrap()).unwrap();
    let (ok, log) = run(Command::new(&dc)
        .arg("-f")
        .arg(&file)
        .args(["-p", "shopcheck", "config"]));
    assert!(ok, "docker-compose config failed:\n{log}");
    // and so does the jobs fixture (service_completed_successfully, services without a port)
    let (eco, images) = fixtures::jobs();
    std::fs::write(&file, export::compose::render(&eco, &images).unwrap()).unwrap();
    let (ok, log) = run(Command::new(&dc)
        .arg("-f")
        .arg(&file)
        .args(["-p", "jobscheck", "config"]));
    assert!(
        ok,
        "docker-compose config failed for the jobs fixture:\n{log}"
    );
    assert!(log.contains("service_completed_successfully"), "{log}");

    build_test_image("docker");
    let name = unique("pt-compose").replace('-', "");
    let eco = two_services(&name, port_base());
    let images: ImageMap = eco
        .services
        .iter()
        .map(|s| (s.name.clone(), TEST_IMAGE.to_string()))
        .collect();
    std::fs::write(&file, export::compose::render(&eco, &images).unwrap()).unwrap();
    let compose = |args: &[&str]| {
        run(Command::new(&dc)
            .arg("-f")
            .arg(&file)
            .arg("-p")
            .arg(&name)
            .args(args))
    };
    let (ok, log) = compose(&["up", "-d"]);
    let result = std::panic::catch_unwind(|| {
        assert!(ok, "docker-compose up failed:\n{log}");
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let (_, ids) = compose(&["ps", "-q"]);
            let ids: Vec<&str> = ids.lines().filter(|l| !l.trim().is_empty()).collect();
            let states: Vec<String> = ids
                .iter()
                .map(|id| {
                    run(Command::new("docker").args([
                        "inspect",
                        "-f",
                        "{{.State.Health.Status}}",
                        id,
                    ]))
                    .1
                    .trim()
                    .to_string()
                })
                .collect();
            if states.len() == 2 && states.iter().all(|s| s == "healthy") {
                break;
            }
            assert!(Instant::now() < deadline, "not healthy in time: {states:?}");
            std::thread::sleep(Duration::from_millis(500));
        }
        // web reaches api by its alias, and api got the literal value (no interpolation)
        let (ok, out) = compose(&[
            "exec",
            "-T",
            "web",
            "bash",
            "-c",
            "exec 3<>/dev/tcp/api/$API_PORT && echo reached",
        ]);
        assert!(ok && out.contains("reached"), "{out}");
        let (ok, out) = compose(&["exec", "-T", "api", "printenv", "GREETING"]);
        assert!(ok, "{out}");
        assert_eq!(out.trim_end(), "100% $HOME \"x\"");
    });
    let _ = compose(&["down", "-v", "--timeout", "1"]);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

fn podman_available() -> bool {
    let ok = Command::new("podman")
        .arg("info")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok && engines_required() {
        panic!("PACTOWN_REQUIRE_ENGINES=1 but podman does not work");
    }
    if !ok {
        eprintln!("skipping: no podman");
    }
    ok
}

#[test]
fn kube_play_runs_the_ecosystem_healthy() {
    if !podman_available() {
        return;
    }
    build_test_image("podman");
    let name = unique("pt-kube");
    let mut eco = two_services(&name, port_base() + 10);
    // a named volume becomes a PersistentVolumeClaim, which Podman turns into a named volume
    // of the claim's name (the one `pactown up` would use)
    eco.services[0]
        .volumes
        .insert("data".to_string(), "/data".to_string());
    let volume = format!("{name}-data");
    let images: ImageMap = eco
        .services
        .iter()
        .map(|s| (s.name.clone(), format!("localhost/{TEST_IMAGE}")))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("kube.yaml");
    std::fs::write(&file, export::kube::render(&eco, &images).unwrap()).unwrap();
    let net = format!("{name}-net");
    let _ = run(Command::new("podman").args(["network", "create", &net]));
    let (ok, log) = run(Command::new("podman")
        .args(["kube", "play", "--network", &net])
        .arg(&file));
    let result = std::panic::catch_unwind(|| {
        assert!(ok, "podman kube play failed:\n{log}");
        // Podman names a Deployment's containers `<name>-pod[-N]-<container>` (4.3: `-pod-0-`)
        let (_, names) = run(Command::new("podman").args(["ps", "--format", "{{.Names}}"]));
        let find = |svc: &str| {
            names
                .lines()
                .find(|n| n.starts_with(&format!("{svc}-pod")) && n.ends_with(&format!("-{svc}")))
                .unwrap_or_else(|| panic!("no container for {svc} in {names}"))
                .to_string()
        };
        let (api, web) = (find("api"), find("web"));
        // Podman here has no systemd timers, and `kube play` rewrites exec probes into one
        // space-joined `/bin/sh` string (which breaks any `bash -c SCRIPT`), so run the
        // manifest's own probe argv in each container until it passes.
        let docs = export::kube::to_documents(&eco, &images).unwrap();
        let probe_of = |svc: &str| {
            docs.iter()
                .find_map(|d| match d {
                    export::kube::Document::Deployment(dep) if dep.metadata.name == svc => {
                        dep.spec.template.spec.containers[0]
                            .readiness_probe
                            .as_ref()
                            .map(|p| p.exec.command.clone())
                    }
                    _ => None,
                })
                .unwrap()
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        for (svc, c) in [("api", &api), ("web", &web)] {
            let probe = probe_of(svc);
            loop {
                let (ok, out) = run(Command::new("podman").arg("exec").arg(c).args(&probe));
                if ok {
                    break;
                }
                assert!(Instant::now() < deadline, "{c} not healthy: {out}");
                std::thread::sleep(Duration::from_millis(500));
            }
        }
        // web reaches api through the network (Podman resolves the pod name, not the Service)
        let (ok, out) = run(Command::new("podman")
            .args(["exec", &web, "bash", "-c"])
            .arg(format!(
                "exec 3<>/dev/tcp/{}/{} && echo reached",
                api.trim_end_matches("-api"),
                port_base() + 10
            )));
        assert!(ok && out.contains("reached"), "{out}");
        // the claim is mounted: api writes to it and the file is in the named volume
        let (ok, out) = run(Command::new("podman").args([
            "exec",
            &api,
            "sh",
            "-c",
            "echo kept > /data/probe && cat /data/probe",
        ]));
        assert!(ok && out.trim() == "kept", "{out}");
        let (ok, out) =
            run(Command::new("podman").args(["volume", "inspect", "-f", "{{.Name}}", &volume]));
        assert!(ok && out.trim() == volume, "no volume {volume}: {out}");
        // the ConfigMap reached the container verbatim, dependency URL included
        let (ok, out) = run(Command::new("podman").args(["exec", &api, "printenv", "GREETING"]));
        assert!(ok, "{out}");
        assert_eq!(out.trim_end(), "100% $HOME \"x\"");
        let (ok, out) = run(Command::new("podman").args(["exec", &web, "printenv", "API_URL"]));
        assert!(
            ok && out.trim() == format!("http://api:{}", port_base() + 10),
            "{out}"
        );
    });
    let _ = run(Command::new("podman").args(["kube", "down"]).arg(&file));
    let _ = run(Command::new("podman").args(["network", "rm", "-f", &net]));
    let _ = run(Command::new("podman").args(["volume", "rm", "-f", &volume]));
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

/// A stdlib-only Python service whose `/health` appends a line to `/app/state.txt` next to its
/// code and answers 200 only when that worked. `MARKER` makes the README (hence the image tag)
/// unique to the test run, so the test can remove the image it built.
fn writer() -> String {
    crate::common::python_service(
        "writer (MARKER)",
        "",
        r#"        if self.path != "/health":
            return self.reply(404, "no")
        try:
            with open("/app/state.txt", "a") as f:
                f.write("MARKER\n")
            self.reply(200, "written")
        except OSError as e:
            self.reply(500, "%s: %s" % (type(e).__name__, e))"#,
    )
}

/// Whether this Podman gives a Deployment's init containers the pod's `restartPolicy: Always`
/// (containers/podman#15631, fixed by containers/podman#18481 in 2023): it restarts the finished
/// init container until conmon's 20 s time-out, then `kube play` fails with "failed to remove
/// once init container … as it is running". 4.3.1 (Debian 12) does.
fn podman_restarts_init_containers() -> bool {
    let (_, v) = run(Command::new("podman").args(["version", "--format", "{{.Client.Version}}"]));
    let mut parts = v.trim().split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let version = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    version < (4, 6)
}

/// Removes what a `podman kube play` test made when dropped, also when the test fails: the
/// pods of the manifest, its network, named volumes and images (all unique to the run).
struct KubeCleanup {
    manifest: PathBuf,
    network: String,
    volumes: Vec<String>,
    images: Vec<String>,
}

impl Drop for KubeCleanup {
    fn drop(&mut self) {
        if self.manifest.exists() {
            let _ = run(Command::new("podman")
                .args(["kube", "down"])
                .arg(&self.manifest));
        }
        let _ = run(Command::new("podman").args(["network", "rm", "-f", &self.network]));
        for v in &self.volumes {
            let _ = run(Command::new("podman").args(["volume", "rm", "-f", v]));
        }
        for i in &self.images {
            let _ = run(Command::new("podman").args(["rmi", "-f", i]));
        }
    }
}

#[test]
fn kube_play_gives_a_pactown_image_a_writable_app_and_a_read_only_root() {
    if !podman_available() {
        return;
    }
    let name = unique("pt-kubeapp");
    // the service name is unique too: Podman names pods and `emptyDir` volumes after it
    let svc = name.trim_start_matches("pt-").to_string();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("writer.md"),
        writer().replace("MARKER", &name),
    )
    .unwrap();
    let port = crate::common::free_base();
    let file = dir.path().join(format!("{name}.pactown.yaml"));
    std::fs::write(
        &file,
        format!(
            "name: {name}\nbase_port: {port}\nservices:\n  {svc}:\n    readme: writer.md\n    health_check: /health\n"
        ),
    )
    .unwrap();
    let manifest = dir.path().join("kube.yaml");
    let mut cleanup = KubeCleanup {
        manifest: manifest.clone(),
        network: format!("{name}-net"),
        volumes: vec![format!("app-{svc}")],
        images: Vec::new(),
    };
    let f = file.to_str().unwrap();
    let o = crate::common::pactown(&["build", f, "--engine", "podman", "--json"]);
    let built = crate::common::stdout_json(&o);
    let tag = built
        .as_array()
        .and_then(|a| a.first())
        .and_then(|b| b["tag"].as_str())
        .unwrap_or_else(|| panic!("no tag in {built}"))
        .to_string();
    cleanup.images.push(tag.clone());
    // Podman < 4.6 restarts init containers under `restartPolicy: Always`
    // (containers/podman#15631): the export's --podman-play gives it `OnFailure`
    let old_podman = podman_restarts_init_containers();
    let mut args = vec!["export", "kube", f, "-o", manifest.to_str().unwrap()];
    if old_podman {
        args.push("--podman-play");
    }
    let o = crate::common::pactown(&args);
    assert!(o.status.success(), "{}", crate::common::text(&o));
    let yaml = std::fs::read_to_string(&manifest).unwrap();
    assert!(yaml.contains(&format!("image: {tag}\n")), "{yaml}");
    assert!(yaml.contains("initContainers:"), "{yaml}");
    assert!(yaml.contains("readOnlyRootFilesystem: true"), "{yaml}");
    assert!(yaml.contains("runAsUser: 10001"), "{yaml}");
    let policy = if old_podman { "OnFailure" } else { "Always" };
    assert_eq!(
        yaml.matches(&format!("restartPolicy: {policy}\n")).count(),
        1,
        "{yaml}"
    );
    let (ok, log) = run(Command::new("podman").args(["network", "create", &cleanup.network]));
    assert!(ok, "{log}");
    let (ok, log) = run(Command::new("podman")
        .args(["kube", "play", "--network", &cleanup.network])
        .arg(&manifest));
    assert!(ok, "podman kube play failed:\n{log}\n{yaml}");

    // /health answers 200 only when the service could append to /app/state.txt
    let url = format!("http://127.0.0.1:{port}/health");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = crate::common::http_get(&url);
        if status == 200 {
            assert_eq!(body, "written");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{url}: {status} {body} (the init container or /app is broken)"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let (_, names) = run(Command::new("podman").args(["ps", "-a", "--format", "{{.Names}}"]));
    let container = names
        .lines()
        .find(|n| n.starts_with(&format!("{svc}-pod")) && n.ends_with(&format!("-{svc}")))
        .unwrap_or_else(|| panic!("no container for {svc} in {names}"))
        .to_string();
    let exec =
        |script: &str| run(Command::new("podman").args(["exec", &container, "sh", "-c", script]));
    // /app holds the image's files (copied by the init container as the app user, owners kept)
    // and the service's writes; the volume is the pod's `emptyDir`
    let (ok, out) = exec("stat -c '%u %n' /app/server.py /app/.markpact/start.sh /app/state.txt && grep -c . /app/state.txt");
    assert!(ok, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        &lines[..3],
        [
            "10001 /app/server.py",
            "10001 /app/.markpact/start.sh",
            "10001 /app/state.txt"
        ],
        "{out}"
    );
    let (ok, out) = run(Command::new("podman").args([
        "inspect",
        "-f",
        "{{range .Mounts}}{{.Destination}}={{.Name}} {{end}}",
        &container,
    ]));
    assert!(
        ok && out.contains(&format!("/app=app-{svc} ")),
        "/app is not the pod volume: {out}"
    );
    // the rest of the root file system is still read-only, for the service's user and for root
    let (ok, out) = exec("touch /etc/pactown-probe");
    assert!(!ok && out.contains("Read-only file system"), "{out}");
    let (ok, out) = run(Command::new("podman").args([
        "exec",
        "--user",
        "0",
        &container,
        "touch",
        "/usr/pactown-probe",
    ]));
    assert!(!ok && out.contains("Read-only file system"), "{out}");
    let (ok, out) = run(Command::new("podman").args([
        "inspect",
        "-f",
        "{{.HostConfig.ReadonlyRootfs}} {{.Config.User}}",
        &container,
    ]));
    // runAsUser/runAsGroup: the numeric app user Kubernetes needs to check runAsNonRoot
    assert!(ok && out.trim() == "true 10001:10001", "{out}");
    drop(cleanup);
    let (_, left) = run(Command::new("podman").args(["ps", "-a", "--format", "{{.Names}}"]));
    assert!(!left.contains(&svc), "left behind: {left}");
}

#[test]
fn registry_units_in_quadlet_folder_generate() {
    let Some(bin) = quadlet_bin() else { return };
    let dir = crate::common::repo_root().join("quadlet");
    let out = Command::new(&bin)
        .arg("-dryrun")
        .env("QUADLET_UNIT_DIRS", &dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let registry = stdout
        .split("---pactown-registry.service---")
        .nth(1)
        .expect("pactown-registry.service generated");
    let argv = exec_start(registry);
    assert_eq!(
        argv[argv.len() - 9..argv.len() - 1],
        [
            "localhost/pactown:latest",
            "registry",
            "serve",
            "--bind",
            "0.0.0.0:8800",
            "--storage",
            "/data",
            "--token-file"
        ]
    );
    assert!(flag_values(&argv, "--publish").contains(&"127.0.0.1:8800:8800"));
    assert!(flag_values(&argv, "-v").contains(&"pactown-registry:/data:Z"));
    assert!(
        argv.contains(&"--read-only".to_string())
            && argv.contains(&"--sdnotify=healthy".to_string())
    );
    assert!(stdout.contains("---pactown-registry-volume.service---"));
}

#[test]
fn cli_refuses_hostile_yaml_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("api")).unwrap();
    std::fs::write(
        dir.path().join("api/README.md"),
        "# api\n\n```python markpact:file path=main.py\nprint(1)\n```\n\n```bash markpact:run\npython3 main.py\n```\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("bad.pactown.yaml"),
        "name: bad\nservices:\n  api:\n    port: 8001\n    health_check: \"/a%h\"\n",
    )
    .unwrap();
    let out_dir = dir.path().join("units");
    let out = Command::new(env!("CARGO_BIN_EXE_pactown"))
        .args(["export", "quadlet"])
        .arg(dir.path().join("bad.pactown.yaml"))
        .arg("-o")
        .arg(&out_dir)
        .args(["--image", "api=pactown/python-api:1"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("api") && stderr.contains("health_check"),
        "{stderr}"
    );
    assert!(!out_dir.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        2,
        "no temporary files left"
    );
}
