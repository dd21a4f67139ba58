//! Real-engine tests of `pactown::engine` on Docker and Podman (through Podman's
//! Docker-compatible socket): connect, build with the cache report, build failures, import,
//! networks with DNS aliases, published ports, labels, logs, events, stop/remove.
//! Every test runs once per reachable engine and removes what it created, also on failure.
use crate::common::{engines, unique};
use futures_util::StreamExt;
use pactown::engine::{
    BuildRequest, ContainerSpec, Engine, EngineError, EngineKind, LogLine, PortBinding,
};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Tag of the shared python3 test image (built once per engine, kept between runs).
const PYTHON_IMAGE: &str = "pactown-test/python3:1";
const TEST_LABEL: &str = "io.pactown.test";

/// Removes containers, networks and images when dropped (also when a test panics).
struct Cleanup {
    engine: Arc<dyn Engine>,
    containers: Vec<String>,
    networks: Vec<String>,
    images: Vec<String>,
}

impl Cleanup {
    fn new(engine: &Arc<dyn Engine>) -> Self {
        Self {
            engine: engine.clone(),
            containers: Vec::new(),
            networks: Vec::new(),
            images: Vec::new(),
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let engine = self.engine.clone();
        let containers = std::mem::take(&mut self.containers);
        let networks = std::mem::take(&mut self.networks);
        let images = std::mem::take(&mut self.images);
        // Drop runs inside the test's runtime: clean up on a separate thread with its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                for c in &containers {
                    let _ = engine.remove_container(c).await;
                }
                for n in &networks {
                    let _ = engine.remove_network(n).await;
                }
                if !images.is_empty() {
                    let raw = raw_client(&*engine).await;
                    // Newest first, so an image goes before the ones it was built on.
                    for i in images.iter().rev() {
                        let _ = raw
                            .remove_image(
                                i,
                                Some(bollard::query_parameters::RemoveImageOptions {
                                    force: true,
                                    ..Default::default()
                                }),
                                None,
                            )
                            .await;
                    }
                }
            });
        })
        .join();
    }
}

/// A plain bollard client on the same socket, for checks the trait does not offer.
async fn raw_client(engine: &dyn Engine) -> bollard::Docker {
    let info = engine.info().await.unwrap();
    bollard::Docker::connect_with_unix(&info.endpoint, 120, bollard::API_DEFAULT_VERSION)
        .unwrap()
        .negotiate_version()
        .await
        .unwrap()
}

/// An uncompressed tar holding `files` (name, content).
fn tar_of(files: &[(&str, &str)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, content) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_cksum();
        builder
            .append_data(&mut header, name, content.as_bytes())
            .unwrap();
    }
    builder.into_inner().unwrap()
}

fn build_request(tag: &str, containerfile: &str) -> BuildRequest {
    BuildRequest {
        tag: tag.to_string(),
        context: tar_of(&[("Containerfile", containerfile)]),
        containerfile: "Containerfile".to_string(),
        labels: BTreeMap::from([(TEST_LABEL.to_string(), "1".to_string())]),
        no_cache: false,
    }
}

fn test_labels(run: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(TEST_LABEL.to_string(), run.to_string())])
}

/// Builds the python3 image unless the engine has it already.
async fn ensure_python_image(engine: &dyn Engine) {
    if engine.image(PYTHON_IMAGE).await.unwrap().is_some() {
        return;
    }
    let containerfile = "FROM debian:bookworm-slim\n\
        RUN apt-get update && apt-get install -y --no-install-recommends python3 \
        && rm -rf /var/lib/apt/lists/*\n";
    let started = Instant::now();
    let outcome = engine
        .build(build_request(PYTHON_IMAGE, containerfile), &|_| {})
        .await
        .unwrap()
        .unwrap_or_else(|f| panic!("python3 image build failed: {f}\n{}", f.log.join("\n")));
    eprintln!(
        "{}: built {PYTHON_IMAGE} in {:.1?}",
        engine.kind(),
        started.elapsed()
    );
    assert!(!outcome.image_id.is_empty());
}

async fn wait_until_exited(engine: &dyn Engine, id: &str, limit: Duration) -> i64 {
    let deadline = Instant::now() + limit;
    loop {
        let details = engine.inspect_container(id).await.unwrap();
        if !details.running && details.info.state == "exited" {
            return details.exit_code.unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "{id} still {} after {limit:?}",
            details.info.state
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn collect_logs(engine: &dyn Engine, id: &str, tail: Option<usize>) -> Vec<LogLine> {
    let stream = engine
        .logs(
            id,
            &pactown::engine::LogQuery {
                tail,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(20), stream.collect::<Vec<_>>())
        .await
        .expect("logs without follow must end")
        .into_iter()
        .map(Result::unwrap)
        .collect()
}

#[tokio::test]
async fn connect_and_info() {
    for engine in engines().await {
        let info = engine.info().await.unwrap();
        assert_eq!(info.kind, engine.kind());
        assert!(!info.version.is_empty(), "{info:?}");
        // Both engines here speak API 1.41; negotiation must have lowered bollard's default.
        assert_eq!(info.api_version, "1.41", "{info:?}");
        assert!(info.endpoint.starts_with("unix://") || info.endpoint.starts_with("tcp://"));
        let expected_sock = match info.kind {
            EngineKind::Docker => crate::common::docker_socket(),
            EngineKind::Podman => crate::common::podman_socket(),
        };
        assert_eq!(info.endpoint, format!("unix://{}", expected_sock.display()));
        // The base image every build starts from is found by its short name on both engines.
        let base = engine.image("debian:bookworm-slim").await.unwrap();
        assert!(base.is_some_and(|b| b.id.starts_with("sha256:") && b.size > 0));
        assert!(engine
            .image("pactown-test/does-not-exist:0")
            .await
            .unwrap()
            .is_none());
    }
}

#[tokio::test]
async fn connect_error_names_socket_and_remedy() {
    let missing = format!("/tmp/{}.sock", unique("pactown-missing"));
    let Err(err) = pactown::engine::connect_to(&format!("unix://{missing}")).await else {
        panic!("a missing socket must not connect");
    };
    let text = err.to_string();
    assert!(matches!(err, EngineError::Unreachable { .. }), "{err:?}");
    assert!(
        text.contains(&missing) && text.contains("no socket file there"),
        "{text}"
    );
    assert!(
        text.contains("systemctl start docker") && text.contains("setup-engines.sh"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 1, "{text}");

    // A stale socket file (the service died): the connection is refused.
    let stale = std::env::temp_dir().join(format!("{}.sock", unique("pactown-stale")));
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    let Err(err) = pactown::engine::connect_to(&format!("unix://{}", stale.display())).await else {
        panic!("a stale socket must not connect");
    };
    let _ = std::fs::remove_file(&stale);
    let text = err.to_string();
    assert!(text.contains(&stale.display().to_string()), "{text}");
    assert!(text.to_lowercase().contains("refused"), "{text}");
}

#[tokio::test]
async fn build_reports_cache_on_rebuild() {
    for engine in engines().await {
        let kind = engine.kind();
        let mut cleanup = Cleanup::new(&engine);
        let run = unique("cache");
        let tag = format!("pactown-test/{run}:1");
        cleanup.images.push(tag.clone());
        // The unique echo keeps the first build from hitting a cache of an earlier run.
        let containerfile = format!(
            "FROM debian:bookworm-slim\nRUN echo {run} > /marker\nRUN echo second > /second\n"
        );
        let lines = std::sync::Mutex::new(Vec::new());
        let first = engine
            .build(build_request(&tag, &containerfile), &|p| {
                lines.lock().unwrap().push(p.line)
            })
            .await
            .unwrap()
            .unwrap_or_else(|f| panic!("{kind}: {f}\n{}", f.log.join("\n")));
        assert_eq!(*lines.lock().unwrap(), first.log, "{kind}: progress = log");
        cleanup.images.push(first.image_id.clone());
        let summary = |steps: &[pactown::engine::BuildStep]| {
            steps
                .iter()
                .map(|s| (s.number, s.instruction.clone(), s.cached))
                .collect::<Vec<_>>()
        };
        // Both builders append a step of their own for the build-time labels.
        assert_eq!(first.steps.len(), 4, "{kind}: {:?}", first.steps);
        let label_step = &first.steps[3].instruction;
        assert!(
            label_step.starts_with("LABEL ") && label_step.contains(TEST_LABEL),
            "{kind}: {label_step}"
        );
        assert_eq!(
            summary(&first.steps[..3]),
            vec![
                (1, "FROM debian:bookworm-slim".to_string(), true),
                (2, format!("RUN echo {run} > /marker"), false),
                (3, "RUN echo second > /second".to_string(), false),
            ],
            "{kind}: first build\n{}",
            first.log.join("\n")
        );
        let image = engine
            .image(&tag)
            .await
            .unwrap()
            .expect("built image is found by its tag");
        assert_eq!(image.id, first.image_id, "{kind}");
        assert_eq!(
            image.labels.get(TEST_LABEL).map(String::as_str),
            Some("1"),
            "{kind}"
        );

        let started = Instant::now();
        let second = engine
            .build(build_request(&tag, &containerfile), &|_| {})
            .await
            .unwrap()
            .unwrap();
        let rebuild = started.elapsed();
        eprintln!("{kind}: fully cached rebuild took {rebuild:.2?}");
        assert!(
            second.steps.iter().all(|s| s.cached),
            "{kind}: {:?}",
            second.steps
        );
        assert_eq!(second.steps.len(), first.steps.len(), "{kind}");
        assert_eq!(second.image_id, first.image_id, "{kind}");

        // Changing only the last step: the earlier layers still come from the cache.
        let edited = containerfile.replace("echo second", "echo edited");
        let started = Instant::now();
        let third = engine
            .build(build_request(&tag, &edited), &|_| {})
            .await
            .unwrap()
            .unwrap();
        eprintln!(
            "{kind}: rebuild with the last step changed took {:.2?}",
            started.elapsed()
        );
        assert_eq!(
            third
                .steps
                .iter()
                .take(3)
                .map(|s| s.cached)
                .collect::<Vec<_>>(),
            vec![true, true, false],
            "{kind}: {:?}",
            third.steps
        );
        cleanup.images.push(third.image_id.clone());
        assert_ne!(third.image_id, first.image_id, "{kind}");

        // Code-only edit: the dependency layers stay cached, only the COPY is redone.
        let with_copy = format!("{edited}COPY app.txt /app/app.txt\n");
        let code = |text: &str| BuildRequest {
            context: tar_of(&[("Containerfile", &with_copy), ("app.txt", text)]),
            ..build_request(&tag, &with_copy)
        };
        let v1 = engine.build(code("v1\n"), &|_| {}).await.unwrap().unwrap();
        cleanup.images.push(v1.image_id);
        let started = Instant::now();
        let code_only = engine.build(code("v2\n"), &|_| {}).await.unwrap().unwrap();
        cleanup.images.push(code_only.image_id.clone());
        eprintln!("{kind}: code-only rebuild took {:.2?}", started.elapsed());
        let cached: Vec<(String, bool)> = code_only
            .steps
            .iter()
            .take(4)
            .map(|s| (s.instruction.clone(), s.cached))
            .collect();
        assert_eq!(
            cached,
            vec![
                ("FROM debian:bookworm-slim".to_string(), true),
                (format!("RUN echo {run} > /marker"), true),
                ("RUN echo edited > /second".to_string(), true),
                ("COPY app.txt /app/app.txt".to_string(), false),
            ],
            "{kind}"
        );

        // no_cache rebuilds every step.
        let mut request = build_request(&tag, &containerfile);
        request.no_cache = true;
        let fourth = engine.build(request, &|_| {}).await.unwrap().unwrap();
        cleanup.images.push(fourth.image_id.clone());
        assert!(
            fourth.steps.iter().skip(1).all(|s| !s.cached),
            "{kind}: {:?}",
            fourth.steps
        );
    }
}

#[tokio::test]
async fn failing_run_step_is_a_build_failure() {
    for engine in engines().await {
        let kind = engine.kind();
        let mut cleanup = Cleanup::new(&engine);
        let run = unique("fail");
        let tag = format!("pactown-test/{run}:1");
        cleanup.images.push(tag.clone());
        let containerfile = format!(
            "FROM debian:bookworm-slim\nRUN echo {run}-before-failure && exit 7\nRUN echo never\n"
        );
        let failure = engine
            .build(build_request(&tag, &containerfile), &|_| {})
            .await
            .unwrap()
            .expect_err("a failing RUN must fail the build");
        assert_eq!(
            failure.step.as_deref(),
            Some(format!("RUN echo {run}-before-failure && exit 7").as_str()),
            "{kind}: {failure:?}"
        );
        assert!(
            failure
                .log
                .iter()
                .any(|l| l == &format!("{run}-before-failure")),
            "{kind}: the step's output is in the log: {:?}",
            failure.log
        );
        assert!(
            failure.message.contains('7'),
            "{kind}: exit code in {:?}",
            failure.message
        );
        assert!(
            !failure.log.iter().any(|l| l.contains("echo never")),
            "{kind}"
        );
        assert!(engine.image(&tag).await.unwrap().is_none(), "{kind}");

        // A Containerfile the builder cannot parse is a build failure too, not an engine error.
        let bad = engine
            .build(
                build_request(&tag, "FROM debian:bookworm-slim\nNOSUCHINSTRUCTION x\n"),
                &|_| {},
            )
            .await
            .unwrap()
            .expect_err("an unknown instruction must fail the build");
        assert!(
            bad.message.to_lowercase().contains("nosuchinstruction"),
            "{kind}: {bad:?}"
        );
    }
}

#[tokio::test]
async fn import_rootfs_with_changes() {
    for engine in engines().await {
        let kind = engine.kind();
        let mut cleanup = Cleanup::new(&engine);
        let tag = format!("pactown-test/{}:1", unique("import"));
        cleanup.images.push(tag.clone());
        let rootfs = tar_of(&[("hello.txt", "hello\n")]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &rootfs).unwrap();
        let tarball = gz.finish().unwrap();
        engine
            .import_image(
                tarball,
                &tag,
                &[
                    "CMD [\"bash\"]".to_string(),
                    "ENV PACTOWN_IMPORTED=1".to_string(),
                ],
            )
            .await
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        let image = engine
            .image(&tag)
            .await
            .unwrap()
            .expect("imported image is found");
        let raw = raw_client(&*engine).await;
        let config = raw.inspect_image(&image.id).await.unwrap().config.unwrap();
        assert_eq!(config.cmd, Some(vec!["bash".to_string()]), "{kind}");
        assert!(
            config
                .env
                .unwrap_or_default()
                .contains(&"PACTOWN_IMPORTED=1".to_string()),
            "{kind}"
        );
    }
}

#[tokio::test]
async fn network_aliases_resolve_between_containers() {
    for engine in engines().await {
        let kind = engine.kind();
        let mut cleanup = Cleanup::new(&engine);
        let run = unique("net");
        let labels = test_labels(&run);
        let network = run.clone();
        cleanup.networks.push(network.clone());
        engine.ensure_network(&network, &labels).await.unwrap();
        engine.ensure_network(&network, &labels).await.unwrap(); // idempotent
                                                                 // Concurrent ensure calls end with exactly one network of that name.
        let (a, b) = tokio::join!(
            engine.ensure_network(&network, &labels),
            engine.ensure_network(&network, &labels)
        );
        a.unwrap();
        b.unwrap();
        let listed = engine
            .list_networks(&vec![format!("{TEST_LABEL}={run}")])
            .await
            .unwrap();
        assert_eq!(listed, vec![network.clone()], "{kind}");

        let alias = format!("db-{}", run.rsplit('-').next().unwrap());
        let server = ContainerSpec {
            name: format!("{run}-server"),
            image: "debian:bookworm-slim".into(),
            labels: labels.clone(),
            network: network.clone(),
            aliases: vec![alias.clone()],
            init: true,
            command: Some(vec!["sleep".into(), "60".into()]),
            ..Default::default()
        };
        cleanup.containers.push(server.name.clone());
        let server_id = engine.create_container(&server).await.unwrap();
        engine.start_container(&server_id).await.unwrap();

        let client = ContainerSpec {
            name: format!("{run}-client"),
            image: "debian:bookworm-slim".into(),
            labels: labels.clone(),
            network: network.clone(),
            env: BTreeMap::from([("TARGET".into(), alias.clone())]),
            command: Some(vec![
                "sh".into(),
                "-c".into(),
                "getent hosts \"$TARGET\"".into(),
            ]),
            ..Default::default()
        };
        cleanup.containers.push(client.name.clone());
        let client_id = engine.create_container(&client).await.unwrap();
        engine.start_container(&client_id).await.unwrap();
        let code = wait_until_exited(&*engine, &client_id, Duration::from_secs(30)).await;
        let logs = collect_logs(&*engine, &client_id, None).await;
        assert_eq!(code, 0, "{kind}: getent failed: {logs:?}");
        let line = logs.iter().find(|l| !l.stderr && l.text.contains(&alias));
        let ip = line
            .and_then(|l| l.text.split_whitespace().next())
            .unwrap_or_default();
        assert!(ip.parse::<std::net::IpAddr>().is_ok(), "{kind}: {logs:?}");

        let listed = engine
            .list_containers(&vec![format!("{TEST_LABEL}={run}")])
            .await
            .unwrap();
        let names: Vec<_> = listed
            .iter()
            .map(|c| (c.name.as_str(), c.state.as_str()))
            .collect();
        assert_eq!(
            names,
            vec![
                (client.name.as_str(), "exited"),
                (server.name.as_str(), "running")
            ],
            "{kind}"
        );

        for id in [&client_id, &server_id] {
            engine.remove_container(id).await.unwrap();
            engine.remove_container(id).await.unwrap(); // gone already: fine
        }
        engine.remove_network(&network).await.unwrap();
        engine.remove_network(&network).await.unwrap();
        assert!(engine
            .list_networks(&vec![format!("{TEST_LABEL}={run}")])
            .await
            .unwrap()
            .is_empty());
    }
}

/// GET / on 127.0.0.1:port with a plain socket; returns the status line.
async fn http_get(port: u16) -> std::io::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    stream
        .write_all(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let text = String::from_utf8_lossy(&response).to_string();
    Ok(text.lines().next().unwrap_or_default().to_string())
}

#[tokio::test]
async fn published_port_logs_events_and_lifecycle() {
    for engine in engines().await {
        let kind = engine.kind();
        ensure_python_image(&*engine).await;
        let mut cleanup = Cleanup::new(&engine);
        let run = unique("web");
        let labels = test_labels(&run);
        let network = run.clone();
        cleanup.networks.push(network.clone());
        engine.ensure_network(&network, &labels).await.unwrap();

        let filter = vec![format!("{TEST_LABEL}={run}")];
        let mut events = engine.events(&filter).await.unwrap();

        // Every field is set; the update stays so new fields do not break this test.
        #[allow(clippy::needless_update)]
        let spec = ContainerSpec {
            name: format!("{run}-api"),
            image: PYTHON_IMAGE.into(),
            labels: labels.clone(),
            network: network.clone(),
            aliases: vec!["api".into()],
            ports: vec![PortBinding {
                container_port: 8000,
                host_ip: "127.0.0.1".into(),
                host_port: 0,
            }],
            restart: true,
            init: true,
            env: BTreeMap::from([("PYTHONUNBUFFERED".into(), "1".into())]),
            command: Some(vec![
                "python3".into(),
                "-m".into(),
                "http.server".into(),
                "8000".into(),
            ]),
            healthcheck: Some(vec!["python3".into(), "-c".into(), "print(1)".into()]),
            stop_timeout: Some(5),
            ..Default::default()
        };
        cleanup.containers.push(spec.name.clone());
        let id = engine.create_container(&spec).await.unwrap();
        let started = Instant::now();
        engine.start_container(&id).await.unwrap();
        engine.start_container(&id).await.unwrap(); // already started: fine

        let details = engine.inspect_container(&id).await.unwrap();
        assert!(details.running, "{kind}: {details:?}");
        assert_eq!(details.info.name, spec.name);
        assert!(details.started_at.is_some(), "{kind}");
        assert_eq!(details.exit_code, Some(0), "{kind}");
        assert!(!details.oom_killed);
        assert_eq!(details.restart_count, 0);
        let image = engine.image(PYTHON_IMAGE).await.unwrap().unwrap();
        assert_eq!(details.image_id, image.id, "{kind}");
        assert_eq!(details.info.labels.get(TEST_LABEL), Some(&run));
        let binding = details
            .info
            .ports
            .iter()
            .find(|p| p.container_port == 8000)
            .cloned();
        let binding =
            binding.unwrap_or_else(|| panic!("{kind}: no port 8000 in {:?}", details.info.ports));
        assert_eq!(binding.host_ip, "127.0.0.1", "{kind}");
        assert_ne!(binding.host_port, 0);

        // The published port answers on loopback.
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            match http_get(binding.host_port).await {
                Ok(line) if line.contains("200") => break line,
                other => {
                    assert!(Instant::now() < deadline, "{kind}: no HTTP 200: {other:?}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        };
        eprintln!(
            "{kind}: start → first HTTP 200 in {:.2?} ({status})",
            started.elapsed()
        );

        // What the engine recorded from the spec: exec-form healthcheck, init, restart policy,
        // stop timeout, env and the network alias.
        let raw = raw_client(&*engine)
            .await
            .inspect_container(&id, None)
            .await
            .unwrap();
        let config = raw.config.unwrap();
        assert_eq!(
            config.healthcheck.and_then(|h| h.test),
            Some(vec![
                "CMD".to_string(),
                "python3".into(),
                "-c".into(),
                "print(1)".into()
            ]),
            "{kind}"
        );
        assert!(config
            .env
            .unwrap_or_default()
            .contains(&"PYTHONUNBUFFERED=1".to_string()));
        assert_eq!(config.stop_timeout, Some(5), "{kind}");
        let host = raw.host_config.unwrap();
        assert_eq!(host.init, Some(true), "{kind}");
        assert_eq!(
            host.restart_policy.and_then(|r| r.name),
            Some(bollard::models::RestartPolicyNameEnum::UNLESS_STOPPED),
            "{kind}"
        );
        let endpoints = raw
            .network_settings
            .and_then(|n| n.networks)
            .unwrap_or_default();
        let aliases = endpoints
            .get(&network)
            .and_then(|e| e.aliases.clone())
            .unwrap_or_default();
        assert!(aliases.contains(&"api".to_string()), "{kind}: {aliases:?}");

        // Listing by label sees it with its port.
        let listed = engine.list_containers(&filter).await.unwrap();
        assert_eq!(listed.len(), 1, "{kind}: {listed:?}");
        assert_eq!(listed[0].id, id);
        assert_eq!(listed[0].state, "running");
        assert!(
            listed[0].ports.contains(&binding),
            "{kind}: {:?}",
            listed[0].ports
        );
        assert!(engine
            .list_containers(&vec![format!("{TEST_LABEL}=other")])
            .await
            .unwrap()
            .is_empty());

        // http.server logs each request on stderr; the tail holds it.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let logs = collect_logs(&*engine, &id, Some(5)).await;
            assert!(logs.len() <= 5, "{kind}: tail 5 gave {logs:?}");
            if logs
                .iter()
                .any(|l| l.stderr && l.text.contains("\"GET / HTTP/1.0\" 200"))
            {
                assert!(logs.iter().all(|l| !l.text.contains('\n')));
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{kind}: request not logged: {logs:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        // A follow stream delivers new lines as they come.
        // (The request is sent when the stream is first polled, so keep asking until one shows.)
        let mut follow = engine
            .logs(
                &id,
                &pactown::engine::LogQuery {
                    tail: Some(0),
                    ..pactown::engine::LogQuery::following()
                },
            )
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let line = loop {
            http_get(binding.host_port).await.unwrap();
            if let Ok(next) = tokio::time::timeout(Duration::from_millis(300), follow.next()).await
            {
                break next.expect("follow stream ended").unwrap();
            }
            assert!(
                Instant::now() < deadline,
                "{kind}: no followed line within 10 s"
            );
        };
        assert!(line.text.contains("GET / HTTP/1.0"), "{kind}: {line:?}");
        drop(follow);

        // The event stream saw the start.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let event = tokio::time::timeout_at(deadline, events.next())
                .await
                .unwrap_or_else(|_| panic!("{kind}: no start event"))
                .unwrap()
                .unwrap();
            assert_eq!(event.kind, "container");
            assert_eq!(
                event.attributes.get(TEST_LABEL),
                Some(&run),
                "{kind}: {event:?}"
            );
            if event.action == "start" {
                assert_eq!(event.id, id);
                assert!(event.time > 0);
                break;
            }
        }

        // Stop with an init as PID 1 is quick, and a stopped container stays stopped.
        let stopping = Instant::now();
        engine
            .stop_container(&id, Duration::from_secs(10))
            .await
            .unwrap();
        let took = stopping.elapsed();
        eprintln!("{kind}: stop took {took:.2?}");
        assert!(took < Duration::from_secs(5), "{kind}: stop took {took:?}");
        engine
            .stop_container(&id, Duration::from_secs(10))
            .await
            .unwrap(); // already stopped
        let details = engine.inspect_container(&id).await.unwrap();
        assert!(!details.running, "{kind}");
        assert_eq!(details.info.state, "exited", "{kind}");

        // kill on a stopped container is an API error carrying the engine's message.
        match engine.kill_container(&id, "SIGKILL").await {
            Err(EngineError::Api { message, .. }) => assert!(!message.is_empty()),
            other => panic!("{kind}: kill of a stopped container gave {other:?}"),
        }

        engine.remove_container(&id).await.unwrap();
        assert!(
            matches!(
                engine.inspect_container(&id).await,
                Err(EngineError::NotFound { .. })
            ),
            "{kind}"
        );
        assert!(matches!(
            engine
                .logs(&id, &pactown::engine::LogQuery::default())
                .await,
            Err(EngineError::NotFound { .. })
        ));
        assert!(matches!(
            engine.start_container(&id).await,
            Err(EngineError::NotFound { .. })
        ));
        engine.remove_network(&network).await.unwrap();
    }
}

#[tokio::test]
async fn kill_and_create_errors() {
    for engine in engines().await {
        let kind = engine.kind();
        let mut cleanup = Cleanup::new(&engine);
        let run = unique("kill");
        let spec = ContainerSpec {
            name: run.clone(),
            image: "debian:bookworm-slim".into(),
            labels: test_labels(&run),
            init: true,
            command: Some(vec!["sleep".into(), "60".into()]),
            ..Default::default()
        };
        cleanup.containers.push(spec.name.clone());
        let id = engine.create_container(&spec).await.unwrap();
        // A second container of the same name: the engine's conflict message comes through.
        match engine.create_container(&spec).await {
            Err(EngineError::Api { operation, message }) => {
                assert!(operation.contains(&run), "{kind}: {operation}");
                assert!(
                    message.contains(&run) || message.contains("in use"),
                    "{kind}: {message}"
                );
            }
            other => panic!("{kind}: duplicate name gave {other:?}"),
        }
        // A missing image is NotFound (pactown never pulls).
        let missing = ContainerSpec {
            name: format!("{run}-missing"),
            image: "pactown-test/does-not-exist:0".into(),
            ..Default::default()
        };
        cleanup.containers.push(missing.name.clone());
        match engine.create_container(&missing).await {
            Err(EngineError::NotFound { what }) => {
                assert!(what.contains("does-not-exist"), "{what}")
            }
            other => panic!("{kind}: missing image gave {other:?}"),
        }

        engine.start_container(&id).await.unwrap();
        engine.kill_container(&id, "SIGKILL").await.unwrap();
        let code = wait_until_exited(&*engine, &id, Duration::from_secs(20)).await;
        assert_eq!(code, 137, "{kind}");
        assert!(matches!(
            engine
                .kill_container("pactown-no-such-container", "SIGKILL")
                .await,
            Err(EngineError::NotFound { .. })
        ));
        // An engine-specific refusal comes through with the engine's own words (Podman:
        // "invalid signal: SIGPACTOWN", Docker: "Invalid signal: SIGPACTOWN").
        let sleeper = ContainerSpec {
            name: format!("{run}-sig"),
            ..spec.clone()
        };
        cleanup.containers.push(sleeper.name.clone());
        let sid = engine.create_container(&sleeper).await.unwrap();
        engine.start_container(&sid).await.unwrap();
        match engine.kill_container(&sid, "SIGPACTOWN").await {
            Err(EngineError::Api { operation, message }) => {
                assert!(operation.contains(&sid), "{kind}: {operation}");
                assert!(
                    message
                        .to_lowercase()
                        .contains("invalid signal: sigpactown"),
                    "{kind}: {message}"
                );
            }
            other => panic!("{kind}: a bad signal gave {other:?}"),
        }
    }
}

/// A line written in pieces (as an unbuffered `print` does) is one line, also in a tail:
/// Podman's own `tail` joins or splits such lines, so it is taken client-side there.
#[tokio::test]
async fn tail_keeps_lines_written_in_pieces() {
    for engine in engines().await {
        let kind = engine.kind();
        ensure_python_image(&*engine).await;
        let mut cleanup = Cleanup::new(&engine);
        let run = unique("pieces");
        let network = run.clone();
        cleanup.networks.push(network.clone());
        engine
            .ensure_network(&network, &test_labels(&run))
            .await
            .unwrap();
        let script = "import sys, time\n\
            for text in ['one', 'two', 'three']:\n\
            \x20   sys.stdout.write(text); sys.stdout.flush(); time.sleep(0.3)\n\
            \x20   sys.stdout.write('\\n'); sys.stdout.flush(); time.sleep(0.3)\n";
        let spec = ContainerSpec {
            name: format!("{run}-c"),
            image: PYTHON_IMAGE.into(),
            labels: test_labels(&run),
            network: network.clone(),
            command: Some(vec!["python3".into(), "-c".into(), script.into()]),
            ..Default::default()
        };
        cleanup.containers.push(spec.name.clone());
        let id = engine.create_container(&spec).await.unwrap();
        engine.start_container(&id).await.unwrap();
        assert_eq!(
            wait_until_exited(&*engine, &id, Duration::from_secs(30)).await,
            0
        );
        let text = |lines: Vec<LogLine>| lines.into_iter().map(|l| l.text).collect::<Vec<_>>();
        assert_eq!(
            text(collect_logs(&*engine, &id, None).await),
            ["one", "two", "three"],
            "{kind}"
        );
        assert_eq!(
            text(collect_logs(&*engine, &id, Some(2)).await),
            ["two", "three"],
            "{kind}"
        );
        assert!(
            collect_logs(&*engine, &id, Some(0)).await.is_empty(),
            "{kind}"
        );
    }
}
