//! Scheduling logic of the orchestrator against the in-memory fake engine: per-service start
//! order, failure propagation, idempotence and recreate-only-what-changed. Real behaviour is
//! proven in `integration/orchestrate.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use async_trait::async_trait;
use pactown::config::labels;
use pactown::deploy::event::discard;
use pactown::deploy::{
    deploy, DeployOptions, DesiredService, HealthProbe, ProbeOutcome, ProbeTarget, ServiceStatus,
};
use pactown::engine::fake::{Behaviour, FakeEngine};
use pactown::engine::Engine;
use pactown::ui::{Printer, Verbosity};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Health as the fake engine models it (by container id, not by port).
struct FakeProbe(Arc<FakeEngine>);

#[async_trait]
impl HealthProbe for FakeProbe {
    async fn probe(&self, target: &ProbeTarget, _timeout: Duration) -> ProbeOutcome {
        match self.0.health(&target.container_id) {
            Ok(()) => ProbeOutcome::Healthy {
                latency: Duration::from_millis(1),
                status: Some(200),
            },
            Err(e) => ProbeOutcome::Unhealthy(e.to_string()),
        }
    }
}

const ECO: &str = "shop";
const NET: &str = "pactown-shop";

fn svc(name: &str, deps: &[&str], port: u16) -> DesiredService {
    svc_env(name, deps, port, BTreeMap::new())
}

fn svc_env(name: &str, deps: &[&str], port: u16, env: BTreeMap<String, String>) -> DesiredService {
    DesiredService::new(
        name,
        &format!("img-{name}"),
        &format!("sha256:{name}"),
        env,
        port,
        1,
        true,
        Some("/health".into()),
        Duration::from_secs(5),
        deps.iter().map(|d| (*d).to_string()).collect(),
    )
}

fn ready_after(engine: &FakeEngine, name: &str, ms: u64) {
    engine.set_behaviour(
        &format!("img-{name}"),
        Behaviour {
            ready_after: Duration::from_millis(ms),
            ..Behaviour::default()
        },
    );
}

fn opts() -> DeployOptions {
    DeployOptions {
        check_ports: false,
        ..DeployOptions::default()
    }
}

async fn setup() -> (Arc<FakeEngine>, Arc<dyn HealthProbe>) {
    let engine = Arc::new(FakeEngine::new());
    engine.ensure_network(NET, &BTreeMap::new()).await.unwrap();
    let probe: Arc<dyn HealthProbe> = Arc::new(FakeProbe(Arc::clone(&engine)));
    (engine, probe)
}

fn quiet() -> Printer {
    Printer::new(Verbosity::Quiet)
}

fn name(service: &str) -> String {
    format!("{ECO}-{service}-1")
}

#[tokio::test]
async fn dependant_starts_when_its_own_deps_are_healthy_not_when_a_slow_sibling_is() {
    let (engine, probe) = setup().await;
    // db is fast, slow is slow and unrelated, api depends on db only
    ready_after(&engine, "db", 50);
    ready_after(&engine, "slow", 1500);
    ready_after(&engine, "api", 50);
    let desired = vec![
        svc("db", &[], 41000),
        svc("slow", &[], 41001),
        svc("api", &["db"], 41002),
        svc("web", &["api", "slow"], 41003),
    ];
    let report = deploy(engine.clone(), probe, ECO, NET, desired, opts(), &discard())
        .await
        .unwrap();
    assert!(report.all_healthy(), "{report:?}");

    let db = &report.outcomes["db"];
    let slow = &report.outcomes["slow"];
    let api = &report.outcomes["api"];
    let web = &report.outcomes["web"];
    let api_created = engine.call_time("start", &name("api")).unwrap();
    // api was started after db became healthy…
    assert!(api_created >= db.healthy_at.unwrap());
    // …and before the slow sibling was healthy (a level barrier would wait for it)
    assert!(api_created < slow.healthy_at.unwrap());
    assert!(api.healthy_at.unwrap() < slow.healthy_at.unwrap());
    // web needs both, so it waits for the slow one
    let web_created = engine.call_time("start", &name("web")).unwrap();
    assert!(web_created >= slow.healthy_at.unwrap());
    assert!(web_created >= api.healthy_at.unwrap());
    assert!(web.began.unwrap() >= slow.healthy_at.unwrap());
    // containers are created up front; only the start waits for the dependencies
    let web_pre = engine.call_time("create", &name("web")).unwrap();
    assert!(web_pre < db.healthy_at.unwrap());
    // independent services start together
    let db_created = engine.call_time("start", &name("db")).unwrap();
    let slow_created = engine.call_time("start", &name("slow")).unwrap();
    let gap = if db_created > slow_created {
        db_created - slow_created
    } else {
        slow_created - db_created
    };
    assert!(
        gap < Duration::from_millis(40),
        "independent creates {gap:?} apart"
    );
}

fn gated(mut d: DesiredService) -> DesiredService {
    d.gated = true;
    d
}

/// A gated service (its start script waits for its dependencies) is started as soon as its
/// dependencies' containers are started, long before they are healthy; its health is still
/// judged only from the moment they are.
#[tokio::test]
async fn gated_dependants_start_early_after_their_dependencies_start() {
    let (engine, probe) = setup().await;
    ready_after(&engine, "db", 400);
    ready_after(&engine, "api", 30);
    ready_after(&engine, "web", 30);
    let desired = vec![
        svc("db", &[], 41020),
        gated(svc("api", &["db"], 41021)),
        gated(svc("web", &["api", "db"], 41022)),
    ];
    let report = deploy(engine.clone(), probe, ECO, NET, desired, opts(), &discard())
        .await
        .unwrap();
    assert!(report.all_healthy(), "{report:?}");
    let db = &report.outcomes["db"];
    let api = &report.outcomes["api"];
    let web = &report.outcomes["web"];
    let start = |s: &str| engine.call_time("start", &name(s)).unwrap();
    // started in dependency order, all before db is healthy
    assert!(start("db") <= start("api"));
    assert!(start("api") <= start("web"));
    assert!(start("web") < db.healthy_at.unwrap());
    // each is healthy only after what it depends on
    assert!(api.began.unwrap() >= db.healthy_at.unwrap());
    assert!(api.healthy_at.unwrap() >= db.healthy_at.unwrap());
    assert!(web.began.unwrap() >= api.healthy_at.unwrap());
}

/// When a dependency fails, a gated dependant that was started early (and is held in its start
/// script) is stopped and reported as skipped; one whose dependency failed before it started is
/// never started.
#[tokio::test]
async fn a_failed_dependency_stops_its_early_started_dependants() {
    let (engine, probe) = setup().await;
    engine.set_behaviour(
        "img-db",
        Behaviour {
            ready_after: Duration::from_secs(60),
            exit_after: Some(Duration::from_millis(150)),
            ..Behaviour::default()
        },
    );
    ready_after(&engine, "api", 30);
    let desired = vec![svc("db", &[], 41030), gated(svc("api", &["db"], 41031))];
    let report = deploy(engine.clone(), probe, ECO, NET, desired, opts(), &discard())
        .await
        .unwrap();
    assert!(matches!(
        report.outcomes["db"].status,
        ServiceStatus::Failed(_)
    ));
    assert_eq!(
        report.outcomes["api"].status,
        ServiceStatus::Skipped {
            dependency: "db".into()
        }
    );
    let api_start = engine.call_time("start", &name("api")).unwrap();
    let api_stop = engine.call_time("stop", &name("api")).unwrap();
    assert!(api_stop > api_start);
    let id = &report.outcomes["api"].replicas[0].id;
    let info = engine.inspect_container(id).await.unwrap();
    assert!(!info.running, "the held dependant must not keep running");
}

#[tokio::test]
async fn a_failing_service_stops_its_dependants_and_leaves_the_rest() {
    let (engine, probe) = setup().await;
    engine.set_behaviour(
        "img-db",
        Behaviour {
            ready_after: Duration::from_secs(60),
            exit_after: Some(Duration::from_millis(80)),
            log: vec!["Traceback: boom".into()],
            ..Behaviour::default()
        },
    );
    ready_after(&engine, "cache", 30);
    ready_after(&engine, "api", 30);
    ready_after(&engine, "web", 30);
    ready_after(&engine, "other", 30);
    let desired = vec![
        svc("db", &[], 41010),
        svc("cache", &[], 41011),
        svc("api", &["db", "cache"], 41012),
        svc("web", &["api"], 41013),
        svc("other", &["cache"], 41014),
    ];
    let report = deploy(engine.clone(), probe, ECO, NET, desired, opts(), &discard())
        .await
        .unwrap();
    assert!(
        matches!(report.outcomes["db"].status, ServiceStatus::Failed(ref m) if m.contains("exited")),
        "{:?}",
        report.outcomes["db"].status
    );
    assert_eq!(
        report.outcomes["api"].status,
        ServiceStatus::Skipped {
            dependency: "db".into()
        }
    );
    assert_eq!(
        report.outcomes["web"].status,
        ServiceStatus::Skipped {
            dependency: "api".into()
        }
    );
    assert_eq!(report.outcomes["other"].status, ServiceStatus::Healthy);
    assert_eq!(report.outcomes["cache"].status, ServiceStatus::Healthy);
    assert!(engine.call_time("start", &name("api")).is_none());
    assert!(engine.call_time("start", &name("web")).is_none());
    // nothing was removed: the failed container stays for inspection
    assert!(engine.calls().iter().all(|c| c.op != "remove"));
    assert_eq!(report.failures().len(), 1);
    // up's error path shows the failing service's logs
    let lines = pactown::deploy::up::last_log_lines(
        engine.as_ref(),
        &report.outcomes["db"].replicas[0].id,
        30,
    )
    .await;
    assert!(lines.iter().any(|l| l.contains("Traceback")), "{lines:?}");
}

#[tokio::test]
async fn a_health_time_out_is_reported_as_such() {
    let (engine, probe) = setup().await;
    engine.set_behaviour(
        "img-api",
        Behaviour {
            never_ready: true,
            ..Behaviour::default()
        },
    );
    let mut desired = vec![svc("api", &[], 41020)];
    desired[0].timeout = Duration::from_millis(300);
    let started = std::time::Instant::now();
    let report = deploy(engine.clone(), probe, ECO, NET, desired, opts(), &discard())
        .await
        .unwrap();
    assert!(matches!(
        report.outcomes["api"].status,
        ServiceStatus::TimedOut(_)
    ));
    assert!(started.elapsed() < Duration::from_secs(2));
    let err = pactown::deploy::up::check(engine.as_ref(), &report, &quiet())
        .await
        .unwrap_err();
    assert_eq!(err.exit_code(), 3, "{err}");
}

#[tokio::test]
async fn second_deploy_with_nothing_changed_touches_nothing() {
    let (engine, probe) = setup().await;
    for s in ["db", "api"] {
        ready_after(&engine, s, 10);
    }
    let desired = || vec![svc("db", &[], 41030), svc("api", &["db"], 41031)];
    let first = deploy(
        engine.clone(),
        probe.clone(),
        ECO,
        NET,
        desired(),
        opts(),
        &discard(),
    )
    .await
    .unwrap();
    assert!(first.all_healthy());
    let ids: Vec<String> = first
        .outcomes
        .values()
        .map(|o| o.replicas[0].id.clone())
        .collect();
    engine.clear_calls();

    let second = deploy(
        engine.clone(),
        probe,
        ECO,
        NET,
        desired(),
        opts(),
        &discard(),
    )
    .await
    .unwrap();
    assert!(second.plan.is_noop());
    assert!(second.all_healthy());
    assert!(second.outcomes.values().all(|o| !o.changed));
    let ids2: Vec<String> = second
        .outcomes
        .values()
        .map(|o| o.replicas[0].id.clone())
        .collect();
    assert_eq!(ids, ids2);
    let mutating: Vec<_> = engine
        .calls()
        .into_iter()
        .filter(|c| c.op != "list")
        .map(|c| format!("{} {}", c.op, c.target))
        .collect();
    assert!(mutating.is_empty(), "no-op deploy called {mutating:?}");
    // exactly one list call: the no-op path asks the engine as little as possible
    assert_eq!(engine.calls().len(), 1);
}

#[tokio::test]
async fn only_the_changed_service_is_recreated() {
    let (engine, probe) = setup().await;
    for s in ["db", "api", "web"] {
        ready_after(&engine, s, 10);
    }
    let desired = |level: &str| {
        let mut env = BTreeMap::new();
        env.insert("LOG_LEVEL".to_string(), level.to_string());
        vec![
            svc("db", &[], 41040),
            svc_env("api", &["db"], 41041, env),
            svc("web", &["api"], 41042),
        ]
    };
    let first = deploy(
        engine.clone(),
        probe.clone(),
        ECO,
        NET,
        desired("info"),
        opts(),
        &discard(),
    )
    .await
    .unwrap();
    assert!(first.all_healthy());
    engine.clear_calls();
    let second = deploy(
        engine.clone(),
        probe,
        ECO,
        NET,
        desired("debug"),
        opts(),
        &discard(),
    )
    .await
    .unwrap();
    assert!(second.all_healthy());
    let touched: Vec<String> = engine
        .calls()
        .into_iter()
        .filter(|c| matches!(c.op, "create" | "remove" | "start" | "stop"))
        .map(|c| format!("{} {}", c.op, c.target))
        .collect();
    assert_eq!(
        touched,
        vec![
            format!("remove {}", name("api")),
            format!("create {}", name("api")),
            format!("start {}", name("api")),
        ]
    );
    assert_ne!(
        first.outcomes["api"].replicas[0].id,
        second.outcomes["api"].replicas[0].id
    );
    assert_eq!(
        first.outcomes["db"].replicas[0].id,
        second.outcomes["db"].replicas[0].id
    );
    assert_eq!(
        first.outcomes["web"].replicas[0].id,
        second.outcomes["web"].replicas[0].id
    );
    let spec = engine.spec_of(&name("api")).unwrap();
    assert_eq!(spec.env["LOG_LEVEL"], "debug");
}

#[tokio::test]
async fn containers_get_names_aliases_labels_ports_and_init() {
    let (engine, probe) = setup().await;
    ready_after(&engine, "api", 10);
    let mut d = svc("api", &[], 41050);
    d = DesiredService::new(
        &d.name,
        &d.image,
        &d.image_id,
        d.env.clone(),
        d.port,
        3,
        true,
        d.health_path.clone(),
        d.timeout,
        vec![],
    );
    let report = deploy(
        engine.clone(),
        probe,
        ECO,
        NET,
        vec![d.clone()],
        opts(),
        &discard(),
    )
    .await
    .unwrap();
    assert!(report.all_healthy());
    assert_eq!(report.outcomes["api"].replicas.len(), 3);
    let mut host_ports = Vec::new();
    for n in 1..=3 {
        let spec = engine.spec_of(&format!("{ECO}-api-{n}")).unwrap();
        assert_eq!(spec.aliases, vec!["api".to_string()]);
        assert_eq!(spec.network, NET);
        assert!(spec.init);
        assert!(spec.restart);
        assert_eq!(spec.labels[labels::ECOSYSTEM], ECO);
        assert_eq!(spec.labels[labels::SERVICE], "api");
        assert_eq!(spec.labels[labels::REPLICA], n.to_string());
        assert_eq!(spec.labels[labels::CONFIG_HASH], d.config_hash);
        assert_eq!(spec.labels[labels::HEALTH_PATH], "/health");
        assert_eq!(spec.labels[labels::MANAGED], "true");
        assert_eq!(spec.ports[0].container_port, 41050);
        assert_eq!(spec.ports[0].host_ip, "127.0.0.1");
        host_ports.push(spec.ports[0].host_port);
    }
    assert_eq!(host_ports[0], 41050);
    host_ports.dedup();
    assert_eq!(host_ports.len(), 3, "replicas need distinct host ports");

    // scale down to 1: surplus replicas are removed, replica 1 recreated (hash includes replicas)
    let one = DesiredService::new(
        &d.name,
        &d.image,
        &d.image_id,
        d.env.clone(),
        d.port,
        1,
        true,
        d.health_path.clone(),
        d.timeout,
        vec![],
    );
    let probe2: Arc<dyn HealthProbe> = Arc::new(FakeProbe(Arc::clone(&engine)));
    let report = deploy(
        engine.clone(),
        probe2,
        ECO,
        NET,
        vec![one],
        opts(),
        &discard(),
    )
    .await
    .unwrap();
    assert!(report.all_healthy());
    assert_eq!(report.removed.len(), 2);
    let left = engine
        .list_containers(&vec![format!("{}={ECO}", labels::ECOSYSTEM)])
        .await
        .unwrap();
    assert_eq!(left.len(), 1);
}

#[tokio::test]
async fn busy_host_port_moves_to_the_next_free_one() {
    let (engine, probe) = setup().await;
    ready_after(&engine, "api", 10);
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = held.local_addr().unwrap().port();
    let report = deploy(
        engine.clone(),
        probe,
        ECO,
        NET,
        vec![svc("api", &[], busy)],
        DeployOptions::default(),
        &discard(),
    )
    .await
    .unwrap();
    let o = &report.outcomes["api"];
    assert_eq!(o.moved_ports.len(), 1);
    let used = o.replicas[0].host_port.unwrap();
    assert_ne!(used, busy);
    assert!(used > busy);
    assert_eq!(
        engine.spec_of(&name("api")).unwrap().ports[0].container_port,
        busy
    );
}

#[tokio::test]
async fn down_removes_everything_with_the_ecosystem_label() {
    let (engine, probe) = setup().await;
    // the network created by setup() has no labels; give the real one its label
    engine
        .ensure_network(
            "pactown-other",
            &BTreeMap::from([(labels::ECOSYSTEM.to_string(), "other".to_string())]),
        )
        .await
        .unwrap();
    let net_labels = BTreeMap::from([(labels::ECOSYSTEM.to_string(), ECO.to_string())]);
    engine
        .ensure_network("pactown-shop2", &net_labels)
        .await
        .unwrap();
    ready_after(&engine, "api", 10);
    deploy(
        engine.clone(),
        probe,
        ECO,
        "pactown-shop2",
        vec![svc("api", &[], 41060)],
        opts(),
        &discard(),
    )
    .await
    .unwrap();
    let dyn_engine: Arc<dyn Engine> = engine.clone();
    let r = pactown::deploy::down(&dyn_engine, ECO, Duration::from_secs(1), false, &discard())
        .await
        .unwrap();
    let names: Vec<String> = r.containers.iter().map(|c| c.name.clone()).collect();
    assert_eq!(names, vec![name("api")]);
    assert_eq!(r.containers[0].service, "api");
    assert_eq!(r.networks, vec!["pactown-shop2".to_string()]);
    let filter = vec![format!("{}={ECO}", labels::ECOSYSTEM)];
    assert!(engine.list_containers(&filter).await.unwrap().is_empty());
    assert!(engine.list_networks(&filter).await.unwrap().is_empty());
    // other ecosystems are untouched
    assert!(engine.networks().contains(&"pactown-other".to_string()));
}

fn job(name: &str, deps: &[&str]) -> DesiredService {
    DesiredService::new(
        name,
        &format!("img-{name}"),
        &format!("sha256:{name}"),
        BTreeMap::new(),
        None,
        1,
        false,
        None,
        Duration::from_secs(5),
        deps.iter().map(|d| (*d).to_string()).collect(),
    )
    .with_shape(true, None)
}

fn exits(engine: &FakeEngine, name: &str, ms: u64, code: i64) {
    engine.set_behaviour(
        &format!("img-{name}"),
        Behaviour {
            exit_after: Some(Duration::from_millis(ms)),
            exit_code: Some(code),
            log: vec![format!("{name}: exiting with {code}")],
            ..Behaviour::default()
        },
    );
}

fn starts(engine: &FakeEngine, container: &str) -> usize {
    engine
        .calls()
        .iter()
        .filter(|c| c.op == "start" && c.target == container)
        .count()
}

#[tokio::test]
async fn a_job_gates_its_dependants_until_it_exited_zero_and_is_not_rerun() {
    let (engine, probe) = setup().await;
    ready_after(&engine, "db", 20);
    exits(&engine, "migrate", 300, 0);
    ready_after(&engine, "api", 20);
    let desired = || {
        vec![
            svc("db", &[], 41100),
            job("migrate", &["db"]),
            svc("api", &["migrate", "db"], 41101),
        ]
    };
    let report = deploy(
        engine.clone(),
        Arc::clone(&probe),
        ECO,
        NET,
        desired(),
        opts(),
        &discard(),
    )
    .await
    .unwrap();
    assert!(report.all_healthy(), "{report:?}");
    let m = &report.outcomes["migrate"];
    assert_eq!(m.status, ServiceStatus::Completed);
    // the job ran after db was healthy, the dependant only after the job exited
    assert!(
        engine.call_time("start", &name("migrate")).unwrap()
            >= report.outcomes["db"].healthy_at.unwrap()
    );
    let api_start = engine.call_time("start", &name("api")).unwrap();
    assert!(
        api_start >= m.healthy_at.unwrap(),
        "api started before the job finished"
    );
    assert!(m.ready_in.unwrap() >= Duration::from_millis(300));
    // the job container publishes nothing and is never restarted by the engine
    let spec = engine.spec_of(&name("migrate")).unwrap();
    assert!(spec.ports.is_empty());
    assert!(!spec.restart);
    assert_eq!(
        spec.labels.get(labels::KIND).map(String::as_str),
        Some("job")
    );

    // a second deploy with nothing changed does not run it again
    engine.clear_calls();
    let again = deploy(
        engine.clone(),
        probe,
        ECO,
        NET,
        desired(),
        opts(),
        &discard(),
    )
    .await
    .unwrap();
    assert!(again.all_healthy(), "{again:?}");
    assert_eq!(again.outcomes["migrate"].status, ServiceStatus::Completed);
    assert!(!again.outcomes["migrate"].changed);
    assert_eq!(starts(&engine, &name("migrate")), 0);
    assert_eq!(starts(&engine, &name("api")), 0);
}

#[tokio::test]
async fn a_failed_job_blocks_its_dependants_and_is_named() {
    let (engine, probe) = setup().await;
    exits(&engine, "migrate", 50, 3);
    ready_after(&engine, "api", 20);
    ready_after(&engine, "other", 20);
    let desired = vec![
        job("migrate", &[]),
        svc("api", &["migrate"], 41110),
        svc("other", &[], 41111),
    ];
    let report = deploy(
        engine.clone(),
        Arc::clone(&probe),
        ECO,
        NET,
        desired.clone(),
        opts(),
        &discard(),
    )
    .await
    .unwrap();
    assert!(!report.all_healthy());
    match &report.outcomes["migrate"].status {
        ServiceStatus::Failed(r) => assert!(r.contains("exited with code 3"), "{r}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        report.outcomes["api"].status,
        ServiceStatus::Skipped {
            dependency: "migrate".into()
        }
    );
    assert_eq!(
        starts(&engine, &name("api")),
        0,
        "the dependant never started"
    );
    assert_eq!(report.outcomes["other"].status, ServiceStatus::Healthy);
    let failures: Vec<&str> = report
        .failures()
        .iter()
        .map(|o| o.service.as_str())
        .collect();
    assert_eq!(failures, ["migrate"]);

    // a failed job is run again by the next deploy
    engine.clear_calls();
    let _ = deploy(engine.clone(), probe, ECO, NET, desired, opts(), &discard())
        .await
        .unwrap();
    assert_eq!(starts(&engine, &name("migrate")), 1);
}

#[tokio::test]
async fn a_portless_service_is_healthy_once_it_keeps_running() {
    let (engine, probe) = setup().await;
    let worker = |n: &str| {
        DesiredService::new(
            n,
            &format!("img-{n}"),
            &format!("sha256:{n}"),
            BTreeMap::new(),
            None,
            1,
            false,
            None,
            Duration::from_secs(5),
            vec![],
        )
    };
    // one dies 300 ms after start (inside the running grace), one keeps running
    exits(&engine, "crashy", 300, 1);
    let desired = vec![
        worker("steady"),
        worker("crashy"),
        svc("api", &["steady"], 41120),
    ];
    let report = deploy(engine.clone(), probe, ECO, NET, desired, opts(), &discard())
        .await
        .unwrap();
    let steady = &report.outcomes["steady"];
    assert_eq!(steady.status, ServiceStatus::Healthy, "{report:?}");
    assert!(steady.ready_in.unwrap() >= pactown::deploy::health::RUNNING_GRACE);
    assert!(engine.spec_of(&name("steady")).unwrap().ports.is_empty());
    assert!(
        matches!(report.outcomes["crashy"].status, ServiceStatus::Failed(_)),
        "{report:?}"
    );
    assert!(engine.call_time("start", &name("api")).unwrap() >= steady.healthy_at.unwrap());
    assert_eq!(report.outcomes["api"].status, ServiceStatus::Healthy);
}

#[tokio::test]
async fn a_health_cmd_runs_inside_the_container() {
    let (engine, probe) = setup().await;
    ready_after(&engine, "beat", 200);
    let beat = DesiredService::new(
        "beat",
        "img-beat",
        "sha256:beat",
        BTreeMap::new(),
        None,
        1,
        true,
        None,
        Duration::from_secs(5),
        vec![],
    )
    .with_shape(false, Some("test -f /tmp/ready".into()));
    let report = deploy(
        engine.clone(),
        probe,
        ECO,
        NET,
        vec![beat],
        opts(),
        &discard(),
    )
    .await
    .unwrap();
    assert_eq!(report.outcomes["beat"].status, ServiceStatus::Healthy);
    let execs = engine
        .calls()
        .iter()
        .filter(|c| c.op == "exec" && c.target == name("beat"))
        .count();
    assert!(
        execs >= 2,
        "the command was run until it passed ({execs} runs)"
    );
    let spec = engine.spec_of(&name("beat")).unwrap();
    assert_eq!(
        spec.labels.get(labels::HEALTH_CMD).map(String::as_str),
        Some("test -f /tmp/ready")
    );
}

/// `up api --no-deps` after a full deploy: a changed `api` is recreated, `db` (in
/// [`DeployOptions::leave`]) is neither removed as an orphan nor touched, and `web` (also left)
/// keeps running although `api` is not in the desired set for it.
#[tokio::test]
async fn services_left_out_of_a_partial_deploy_are_not_orphans() {
    let (engine, probe) = setup().await;
    for s in ["db", "api", "web"] {
        ready_after(&engine, s, 5);
    }
    let all = vec![
        svc("db", &[], 41040),
        svc("api", &["db"], 41041),
        svc("web", &["api"], 41042),
    ];
    let first = deploy(
        engine.clone(),
        probe.clone(),
        ECO,
        NET,
        all,
        opts(),
        &discard(),
    )
    .await
    .unwrap();
    assert!(first.all_healthy());
    let id_of = |r: &pactown::deploy::DeployReport, s: &str| r.outcomes[s].replicas[0].id.clone();
    let (db, web) = (id_of(&first, "db"), id_of(&first, "web"));
    engine.clear_calls();

    let mut api = svc("api", &["db"], 41041);
    api.config_hash = "changed".into();
    let partial = DeployOptions {
        leave: ["db", "web"].iter().map(|s| (*s).to_string()).collect(),
        ..opts()
    };
    let second = deploy(
        engine.clone(),
        probe,
        ECO,
        NET,
        vec![api],
        partial,
        &discard(),
    )
    .await
    .unwrap();
    assert!(second.all_healthy());
    assert!(second.plan.orphans.is_empty(), "{:?}", second.plan.orphans);
    assert!(
        second.removed.iter().all(|r| r.service == "api"),
        "{:?}",
        second.removed
    );
    assert!(second.outcomes["api"].changed);
    assert_eq!(second.outcomes.keys().collect::<Vec<_>>(), ["api"]);
    let running = engine
        .list_containers(&pactown::deploy::ecosystem_filter(ECO))
        .await
        .unwrap();
    for id in [&db, &web] {
        let c = running.iter().find(|c| &c.id == id).unwrap();
        assert_eq!(c.state, "running", "{c:?}");
    }
}
