//! `pactown build --push` against a real registry (Debian's `docker-registry`, see
//! [`crate::oci_registry`]) on Docker and on Podman (`docker::…` / `podman::…`): the pushed
//! digest is the registry's, the image carries its OCI labels, a second push of an unchanged
//! ecosystem uploads no blob and a code-only edit uploads exactly the code layer (counted from the
//! registry's request log), and the image pushed from one engine is pulled by digest on the other
//! engine, run there and answers HTTP. A TLS registry with htpasswd auth refuses a push without
//! credentials and takes one with `--registry-auth-file`; an unreachable registry exits 75.
use crate::common::{self, cli, http_get, pactown, text};
use crate::oci_registry::{registry_available, OciRegistry};
use pactown::engine::EngineKind;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn readme(greeting: &str) -> String {
    common::python_service(
        "pushed",
        &format!("GREETING = {greeting:?}"),
        "        return self.reply(200, GREETING)",
    )
}

struct Eco {
    dir: tempfile::TempDir,
    file: PathBuf,
    name: String,
    port: u16,
}

impl Eco {
    fn new(kind: EngineKind) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let name = common::unique(&format!("push-{kind}"));
        std::fs::write(dir.path().join("api.md"), readme("hello v1")).unwrap();
        let file = dir.path().join(format!("{name}.pactown.yaml"));
        let port = common::free_base();
        std::fs::write(
            &file,
            format!("name: {name}\nversion: 2.3.4\ndescription: push test\nbase_port: {port}\nservices:\n  api:\n    readme: api.md\n    health_check: /\n"),
        )
        .unwrap();
        Self {
            dir,
            file,
            name,
            port,
        }
    }

    fn edit(&self, greeting: &str) {
        std::fs::write(self.dir.path().join("api.md"), readme(greeting)).unwrap();
    }

    fn push(&self, kind: EngineKind, repo: &str, extra: &[&str]) -> Output {
        let mut args = vec![
            "build",
            self.file.to_str().unwrap(),
            "--engine",
            cli(kind),
            "--push",
            "--repo",
            repo,
        ];
        args.extend_from_slice(extra);
        pactown(&args)
    }

    fn metadata(&self, kind: EngineKind, repo: &str, extra: &[&str]) -> serde_json::Value {
        let meta = self.dir.path().join("meta.json");
        let mut args = vec!["--tag", "latest", "--metadata-file", meta.to_str().unwrap()];
        args.extend_from_slice(extra);
        let o = self.push(kind, repo, &args);
        assert!(o.status.success(), "{}", text(&o));
        serde_json::from_str(&std::fs::read_to_string(&meta).unwrap()).unwrap()
    }
}

fn other(kind: EngineKind) -> EngineKind {
    match kind {
        EngineKind::Docker => EngineKind::Podman,
        EngineKind::Podman => EngineKind::Docker,
    }
}

fn engine_cmd(kind: EngineKind, args: &[&str]) -> Output {
    Command::new(cli(kind)).args(args).output().unwrap()
}

/// Removes images (by name) from an engine on drop.
struct Images(Vec<(EngineKind, String)>);

impl Drop for Images {
    fn drop(&mut self) {
        for (kind, image) in &self.0 {
            let _ = engine_cmd(*kind, &["rmi", "-f", image]);
        }
    }
}

/// Pulls `reference` on `kind` with the CLI arguments `pull` (ending in the reference), runs it
/// with `PORT=8000` published on a free loopback port and returns the body of `GET /`.
fn pull_and_run(kind: EngineKind, reference: &str, pull: &[&str], cleanup: &mut Images) -> String {
    let o = engine_cmd(kind, pull);
    assert!(o.status.success(), "{kind} pull {reference}: {}", text(&o));
    cleanup.0.push((kind, reference.to_string()));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let name = common::unique("pushed-run");
    let publish = format!("127.0.0.1:{port}:8000");
    let o = engine_cmd(
        kind,
        &[
            "run",
            "-d",
            "--name",
            &name,
            "-e",
            "PORT=8000",
            "-p",
            &publish,
            reference,
        ],
    );
    assert!(o.status.success(), "{kind} run: {}", text(&o));
    let deadline = Instant::now() + Duration::from_secs(30);
    let body = loop {
        let (status, body) = http_get(&format!("http://127.0.0.1:{port}/"));
        if status == 200 {
            break body;
        }
        if Instant::now() > deadline {
            let logs = engine_cmd(kind, &["logs", &name]);
            let _ = engine_cmd(kind, &["rm", "-f", &name]);
            panic!("{kind}: no HTTP answer from {reference}: {}", text(&logs));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = engine_cmd(kind, &["rm", "-f", &name]);
    body
}

fn service<'a>(meta: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    &meta["services"][name]
}

async fn push_pull_run_across_engines(kind: EngineKind) {
    if !registry_available() || !common::available(kind) || !common::available(other(kind)) {
        return;
    }
    let reg = OciRegistry::plain();
    let repo = format!("{}/acme", reg.host);
    let eco = Eco::new(kind);
    let repository = format!("acme/{}-api", eco.name);
    let mut cleanup = Images(Vec::new());

    // cold push: the metadata digest is the registry's, under the content tag and `latest`
    let meta = eco.metadata(kind, &repo, &["--tag", "v{version}"]);
    let api = service(&meta, "api");
    let image = api["image"].as_str().unwrap().to_string();
    cleanup.0.push((kind, image.clone()));
    for t in ["latest", "v2.3.4"] {
        cleanup
            .0
            .push((kind, format!("{}/{repository}:{t}", reg.host)));
    }
    let content_tag = image.rsplit(':').next().unwrap().to_string();
    assert_eq!(
        api["tags"],
        serde_json::json!([content_tag, "latest", "v2.3.4"]),
        "{meta}"
    );
    let (digest, _, layers) = reg.manifest(&repository, &content_tag);
    assert_eq!(api["digest"].as_str().unwrap(), digest, "{meta}");
    assert_eq!(reg.manifest(&repository, "latest").0, digest);
    assert_eq!(
        api["reference"].as_str().unwrap(),
        format!("{}/{repository}@{digest}", reg.host)
    );
    assert!(layers.len() >= 2, "{layers:?}");

    // the pushed image carries the OCI labels
    let labels = common::cli_output(
        kind,
        &[
            "image",
            "inspect",
            "--format",
            "{{json .Config.Labels}}",
            &image,
        ],
    );
    let labels: serde_json::Value = serde_json::from_str(&labels).unwrap();
    assert_eq!(
        labels["org.opencontainers.image.title"],
        format!("{}-api", eco.name),
        "{labels}"
    );
    assert_eq!(
        labels["org.opencontainers.image.version"], "2.3.4",
        "{labels}"
    );
    assert_eq!(
        labels["org.opencontainers.image.description"], "push test",
        "{labels}"
    );
    assert_eq!(labels["io.pactown.service"], "api", "{labels}");

    // unchanged: no blob goes up
    let mark = reg.mark();
    let again = eco.metadata(kind, &repo, &[]);
    assert_eq!(service(&again, "api")["digest"], api["digest"], "{again}");
    let uploads = reg.uploads_since(mark);
    assert!(
        uploads.is_empty(),
        "{kind}: unchanged push uploaded {uploads:?}\n{}",
        reg.log_text()
    );
    match kind {
        EngineKind::Docker => {
            assert_eq!(service(&again, "api")["layers_uploaded"], 0, "{again}");
            assert_eq!(
                service(&again, "api")["layers_reused"],
                layers.len(),
                "{again}"
            );
        }
        // Podman 4.3's push stream names no layer: the counts are unknown, not zero
        EngineKind::Podman => {
            assert!(
                service(&again, "api")["layers_uploaded"].is_null(),
                "{again}"
            );
            assert!(service(&again, "api")["layers_reused"].is_null(), "{again}");
        }
    }

    // code-only edit: the code layer and the image config go up, nothing else
    eco.edit("hello v2");
    let mark = reg.mark();
    let edited = eco.metadata(kind, &repo, &[]);
    let e = service(&edited, "api");
    let new_tag = e["image"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .to_string();
    cleanup
        .0
        .push((kind, e["image"].as_str().unwrap().to_string()));
    assert_ne!(new_tag, content_tag);
    let (new_digest, config, new_layers) = reg.manifest(&repository, &new_tag);
    assert_eq!(e["digest"].as_str().unwrap(), new_digest);
    assert_eq!(new_layers.len(), layers.len());
    assert_eq!(
        new_layers[..layers.len() - 1],
        layers[..layers.len() - 1],
        "only the last layer may differ"
    );
    let mut uploads = reg.uploads_since(mark);
    uploads.sort();
    let mut expected = vec![config, new_layers.last().unwrap().clone()];
    expected.sort();
    assert_eq!(
        uploads, expected,
        "{kind}: a code edit uploaded more than the code layer and config"
    );
    match kind {
        EngineKind::Docker => {
            assert_eq!(e["layers_uploaded"], 1, "{edited}");
            assert_eq!(e["layers_reused"], layers.len() - 1, "{edited}");
        }
        EngineKind::Podman => assert!(e["layers_uploaded"].is_null(), "{edited}"),
    }

    // the other engine pulls it by digest, runs it, and it answers
    let reference = e["reference"].as_str().unwrap();
    let pull: Vec<&str> = match other(kind) {
        EngineKind::Podman => vec!["pull", "--tls-verify=false", reference],
        EngineKind::Docker => vec!["pull", reference],
    };
    let body = pull_and_run(other(kind), reference, &pull, &mut cleanup);
    assert_eq!(body, "hello v2");
}

async fn tls_registry_with_auth(kind: EngineKind) {
    if !registry_available() || !common::available(kind) || !common::available(other(kind)) {
        return;
    }
    let reg = OciRegistry::tls_auth();
    let repo = format!("{}/acme", reg.host);
    let eco = Eco::new(kind);
    let mut cleanup = Images(Vec::new());
    let (_, password) = reg.login.clone().unwrap();

    // no credentials: refused, exit 1, and the hint names the flag
    let empty = eco.dir.path().join("empty.json");
    std::fs::write(&empty, "{}").unwrap();
    let o = eco.push(
        kind,
        &repo,
        &["--registry-auth-file", empty.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("refused") && err.contains("--registry-auth-file"),
        "{}",
        text(&o)
    );

    // with the auth file: pushed over verified TLS; the password is never printed
    let auth = reg.auth_file();
    let o = eco.push(
        kind,
        &repo,
        &[
            "--registry-auth-file",
            auth.to_str().unwrap(),
            "--json",
            "--verbose",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(!text(&o).contains(&password), "the password was printed");
    let meta: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let api = service(&meta, "api");
    cleanup
        .0
        .push((kind, api["image"].as_str().unwrap().to_string()));
    let reference = api["reference"].as_str().unwrap().to_string();

    // the other engine pulls it by digest over TLS (its certs.d holds the CA) with the same login
    let cfg = eco.dir.path().join("docker-config");
    std::fs::create_dir_all(&cfg).unwrap();
    std::fs::copy(&auth, cfg.join("config.json")).unwrap();
    let (auth, cfg) = (auth.display().to_string(), cfg.display().to_string());
    let pull: Vec<&str> = match other(kind) {
        EngineKind::Podman => vec!["pull", "--authfile", &auth, &reference],
        EngineKind::Docker => vec!["--config", &cfg, "pull", &reference],
    };
    let body = pull_and_run(other(kind), &reference, &pull, &mut cleanup);
    assert_eq!(body, "hello v1");
}

async fn unreachable_registry_is_transient(kind: EngineKind) {
    if !common::available(kind) {
        return;
    }
    let eco = Eco::new(kind);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let repo = format!("127.0.0.1:{port}/acme");
    let o = eco.push(kind, &repo, &[]);
    assert_eq!(o.status.code(), Some(75), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("transient"),
        "{}",
        text(&o)
    );
    // usage errors are found before anything is built: exit 2
    for bad in [
        &["--repo", "no-namespace"][..],
        &["--repo", &repo, "--tag", "{nope}"][..],
    ] {
        let mut args = vec![
            "build",
            eco.file.to_str().unwrap(),
            "--engine",
            cli(kind),
            "--push",
        ];
        args.extend_from_slice(bad);
        let o = pactown(&args);
        assert_eq!(o.status.code(), Some(2), "{bad:?}: {}", text(&o));
    }
}

/// `pactown build --no-cache --json` of the ecosystem with `SOURCE_DATE_EPOCH` set; the image
/// tag and its layer digests (`RootFS.Layers`, base first, the code layer last).
fn build_no_cache(kind: EngineKind, eco: &Eco, epoch: &str) -> (String, Vec<String>) {
    let o = common::pactown_cmd()
        .env("SOURCE_DATE_EPOCH", epoch)
        .args([
            "build",
            eco.file.to_str().unwrap(),
            "--engine",
            cli(kind),
            "--no-cache",
            "--json",
        ])
        .output()
        .unwrap();
    let rows = common::stdout_json(&o);
    let tag = rows[0]["tag"].as_str().unwrap().to_string();
    let layers = common::cli_output(
        kind,
        &[
            "image",
            "inspect",
            "--format",
            "{{json .RootFS.Layers}}",
            &tag,
        ],
    );
    (tag, serde_json::from_str(&layers).unwrap())
}

/// Two `--no-cache` builds of one README with `SOURCE_DATE_EPOCH` give the same layers, the
/// code layer included (the `COPY`s copy context folders holding `app/…` and
/// `etc/pactown/…` onto `/`, so no directory gets the build time), whatever the epoch; a code
/// edit changes the code layer and only it.
async fn code_layer_is_reproducible(kind: EngineKind) {
    if !common::available(kind) {
        return;
    }
    let eco = Eco::new(kind);
    // a README no other test builds: its content tag is this test's own
    eco.edit(&eco.name);
    let mut cleanup = Images(Vec::new());
    let (tag, first) = build_no_cache(kind, &eco, "1700000000");
    cleanup.0.push((kind, tag.clone()));
    std::thread::sleep(Duration::from_millis(1100));
    let (again, second) = build_no_cache(kind, &eco, "1700000000");
    assert_eq!(again, tag);
    assert!(first.len() >= 3, "{first:?}");
    assert_eq!(
        first.last(),
        second.last(),
        "{kind}: the code layer differs between two --no-cache builds"
    );
    assert_eq!(first, second, "{kind}: a layer differs between two builds");
    // file times are the context's fixed epoch, not SOURCE_DATE_EPOCH: another epoch, same layers
    let (_, other_epoch) = build_no_cache(kind, &eco, "1800000000");
    assert_eq!(other_epoch, first, "{kind}");
    // a code edit changes the last layer only
    eco.edit(&format!("{} edited", eco.name));
    let (edited_tag, edited) = build_no_cache(kind, &eco, "1700000000");
    cleanup.0.push((kind, edited_tag));
    assert_eq!(edited.len(), first.len());
    assert_ne!(edited.last(), first.last());
    assert_eq!(edited[..first.len() - 1], first[..first.len() - 1]);
}

/// Polls `GET http://127.0.0.1:PORT/` until it answers 200 (60 s); the body.
fn wait_http(port: u16, what: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = http_get(&format!("http://127.0.0.1:{port}/"));
        if status == 200 {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: no HTTP answer on {port}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Runs a command; (success, stdout + stderr).
fn run_cmd(cmd: &mut Command) -> (bool, String) {
    let o = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    (o.status.success(), text(&o))
}

async fn exports_pull_the_pushed_images(kind: EngineKind) {
    if !registry_available() || !common::available(kind) {
        return;
    }
    let reg = OciRegistry::plain();
    let repo = format!("{}/acme", reg.host);
    let eco = Eco::new(kind);
    // the service writes next to its code at start (a read-only root keeps `/app` writable
    // only for images pactown built: the exports must know the pushed image is one)
    std::fs::write(
        eco.dir.path().join("api.md"),
        common::python_service(
            "pushed",
            "GREETING = \"hello v1\"\nwith open(\"/app/written\", \"w\") as f:\n    f.write(\"+app\")",
            "        return self.reply(200, GREETING + open(\"/app/written\").read())",
        ),
    )
    .unwrap();
    let mut cleanup = Images(Vec::new());
    let meta = eco.metadata(kind, &repo, &[]);
    let api = service(&meta, "api");
    let reference = api["reference"].as_str().unwrap().to_string();
    let image = api["image"].as_str().unwrap().to_string();
    let latest = format!("{}:latest", image.rsplit_once(':').unwrap().0);
    cleanup.0.push((kind, image.clone()));
    cleanup.0.push((kind, latest.clone()));
    let meta_file = eco.dir.path().join("meta.json");
    let f = eco.file.to_str().unwrap();
    let m = meta_file.to_str().unwrap();

    // Quadlet: pinned by digest with Pull=missing; --auto-update: the tag and AutoUpdate=registry
    let units = eco.dir.path().join("units");
    let o = pactown(&[
        "export",
        "quadlet",
        f,
        "--images",
        m,
        "-o",
        units.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let unit = std::fs::read_to_string(
        units.join(format!("containers/systemd/{}-api.container", eco.name)),
    )
    .unwrap();
    assert!(unit.contains(&format!("Image={reference}\n")), "{unit}");
    assert!(unit.contains(r#""--read-only""#), "{unit}");
    assert!(unit.contains(r#""--volume" "/app""#), "{unit}");
    assert!(
        unit.contains("Pull=missing\n") && !unit.contains("AutoUpdate"),
        "{unit}"
    );
    let auto = eco.dir.path().join("auto");
    let o = pactown(&[
        "export",
        "quadlet",
        f,
        "--images",
        m,
        "--auto-update",
        "-o",
        auto.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let unit = std::fs::read_to_string(
        auto.join(format!("containers/systemd/{}-api.container", eco.name)),
    )
    .unwrap();
    assert!(unit.contains(&format!("Image={latest}\n")), "{unit}");
    assert!(unit.contains("AutoUpdate=registry\n"), "{unit}");
    if std::path::Path::new("/usr/local/bin/quadlet").exists() {
        let (ok, log) = run_cmd(
            Command::new("/usr/local/bin/quadlet")
                .arg("-dryrun")
                .env("QUADLET_UNIT_DIRS", auto.join("containers/systemd")),
        );
        assert!(ok && log.contains(&latest), "quadlet -dryrun: {log}");
    }
    // --auto-update without --images is a usage error
    let o = pactown(&[
        "export",
        "quadlet",
        f,
        "--auto-update",
        "-o",
        auto.to_str().unwrap(),
    ]);
    assert!(!o.status.success(), "{}", text(&o));

    // drop every local name of the pushed image, so the deploy below must pull it
    for r in [&image, &latest] {
        let _ = engine_cmd(kind, &["rmi", r]);
    }
    match kind {
        EngineKind::Docker => {
            // Compose on Docker: `image: …@sha256:…`, pulled by `up`
            let compose = eco.dir.path().join("compose.yaml");
            let o = pactown(&[
                "export",
                "compose",
                f,
                "--images",
                m,
                "-o",
                compose.to_str().unwrap(),
            ]);
            assert!(o.status.success(), "{}", text(&o));
            let yaml = std::fs::read_to_string(&compose).unwrap();
            assert!(yaml.contains(&format!("image: {reference}")), "{yaml}");
            let project = eco.name.replace('-', "");
            let dc = |args: &[&str]| {
                run_cmd(
                    Command::new("docker-compose")
                        .arg("-f")
                        .arg(&compose)
                        .args(["-p", &project])
                        .args(args),
                )
            };
            let (ok, log) = dc(&["up", "-d"]);
            cleanup.0.push((kind, reference.clone()));
            let result = std::panic::catch_unwind(|| {
                assert!(ok, "docker-compose up: {log}");
                assert_eq!(wait_http(eco.port, "compose"), "hello v1+app");
            });
            let _ = dc(&["down", "-t", "1"]);
            if let Err(e) = result {
                std::panic::resume_unwind(e);
            }
        }
        EngineKind::Podman => {
            // Kubernetes manifests on Podman: `image: …@sha256:…`, pulled by `kube play`
            let kube = eco.dir.path().join("kube.yaml");
            let o = pactown(&[
                "export",
                "kube",
                f,
                "--images",
                m,
                "--podman-play",
                "-o",
                kube.to_str().unwrap(),
            ]);
            assert!(o.status.success(), "{}", text(&o));
            let yaml = std::fs::read_to_string(&kube).unwrap();
            assert!(yaml.contains(&format!("image: {reference}")), "{yaml}");
            // on its own network, as in the kube export test (the default pod setup fails on
            // this host's hybrid cgroups: "creating cgroup path for net_cls")
            let net = format!("{}-net", eco.name);
            let _ = run_cmd(Command::new("podman").args(["network", "create", &net]));
            let (ok, log) = run_cmd(
                Command::new("podman")
                    .args(["kube", "play", "--tls-verify=false", "--network", &net])
                    .arg(&kube),
            );
            cleanup.0.push((kind, reference.clone()));
            let result = std::panic::catch_unwind(|| {
                assert!(ok, "podman kube play: {log}");
                assert_eq!(wait_http(eco.port, "kube play"), "hello v1+app");
            });
            let _ = run_cmd(Command::new("podman").args(["kube", "down"]).arg(&kube));
            let _ = run_cmd(Command::new("podman").args(["network", "rm", &net]));
            if let Err(e) = result {
                std::panic::resume_unwind(e);
            }
        }
    }
}

crate::per_engine!(async: code_layer_is_reproducible, exports_pull_the_pushed_images, push_pull_run_across_engines, tls_registry_with_auth, unreachable_registry_is_transient);
