//! Compatibility with the original, process-based pactown (PyPI package `pactown`): its own
//! `examples/microservices` (Python ML with FastAPI and numpy, a Node API with express, a Go
//! gateway run by `go run main.go`), taken unchanged from its source distribution, comes up
//! healthy under our `pactown up -d` on each engine; the gateway reaches both services by name
//! (its `/status` lists them healthy at `http://python-ml:8010` and `http://node-api:3000`), its
//! `/ml/*` proxy answers with the ML service's own health, a prediction goes gateway → Node API →
//! ML service, and `down` removes everything.
//!
//! The example publishes fixed host ports (8010, 3000, 8080, written in its file): when one is
//! taken the test fails saying which, instead of letting `up` move the service to another port.
use crate::common::{self, get_json, pactown_in, post_json, text, Down};
use pactown::engine::EngineKind;
use std::process::Command;

/// The ecosystem name written in the example.
const NAME: &str = "polyglot-microservices";
/// The host ports the example's file gives its three services.
const PORTS: [u16; 3] = [8010, 3000, 8080];

fn the_originals_microservices_example_runs_unchanged(kind: EngineKind) {
    if !common::available(kind) {
        return;
    }
    let engine = common::cli(kind);
    let tmp = tempfile::tempdir().unwrap();
    let Some(dir) = common::original_example(tmp.path(), "microservices") else {
        return;
    };
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--engine", engine]);
        pactown_in(&dir, &all)
    };
    // the name is fixed (it runs unchanged): a copy left running by anything else would make
    // this `up` a no-op and hold the ports, so start from nothing
    let o = run(&["down", "saas.pactown.yaml", "--timeout", "1"]);
    assert!(o.status.success(), "{}", text(&o));
    let _down = Down::new(dir.join("saas.pactown.yaml"), kind);
    for port in PORTS {
        assert!(
            std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(),
            "host port {port} is in use: examples/microservices publishes its services on the \
             fixed ports {PORTS:?}; stop what listens there (`ss -ltnp 'sport = :{port}'`) and \
             run the test again"
        );
    }

    let o = run(&["up", "saas.pactown.yaml", "-d", "--timeout", "300"]);
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("3 healthy"), "{out}");

    let o = run(&["status", "saas.pactown.yaml", "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let st: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut urls = std::collections::BTreeMap::new();
    for svc in st["services"].as_array().unwrap() {
        assert_eq!(svc["state"], "running", "{svc}");
        assert_eq!(svc["health"]["healthy"], true, "{svc}");
        urls.insert(
            svc["service"].as_str().unwrap().to_string(),
            svc["url"].as_str().unwrap().to_string(),
        );
    }
    assert_eq!(
        urls,
        [
            ("go-gateway", "http://127.0.0.1:8080"),
            ("node-api", "http://127.0.0.1:3000"),
            ("python-ml", "http://127.0.0.1:8010"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .into(),
        "{st}"
    );
    let gateway = &urls["go-gateway"];

    // the gateway probes both services at the endpoints the file gives as
    // `http://localhost:PORT`, which reach the services by their names
    let status = get_json(&format!("{gateway}/status"));
    assert_eq!(status["status"], "healthy", "{status}");
    let mut seen: Vec<(String, String, String)> = status["services"]
        .as_array()
        .unwrap_or_else(|| panic!("no services in {status}"))
        .iter()
        .map(|s| {
            let field = |k: &str| s[k].as_str().unwrap_or_default().to_string();
            (field("name"), field("url"), field("status"))
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("ml-service", "http://python-ml:8010", "healthy"),
            ("node-api", "http://node-api:3000", "healthy"),
        ]
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())),
        "{status}"
    );
    // its proxy answers with the ML service's own health
    let health = get_json(&format!("{gateway}/ml/health"));
    assert_eq!(
        health,
        serde_json::json!({"status": "ok", "service": "python-ml"}),
        "{health}"
    );
    // gateway → Node API → ML service (numpy computes it: mean * 2 + std)
    let p = post_json(
        &format!("{gateway}/api/predict"),
        &serde_json::json!({"features": [1.0, 2.0, 3.0]}),
    );
    assert_eq!(p["proxied_from"], "node-api", "{p}");
    assert_eq!(p["model_version"], "1.0.0", "{p}");
    let prediction = p["prediction"].as_f64().unwrap_or_default();
    let want = 4.0 + (2.0f64 / 3.0).sqrt();
    assert!((prediction - want).abs() < 1e-9, "{p}");

    let o = run(&["down", "saas.pactown.yaml", "--timeout", "2"]);
    assert!(o.status.success(), "{}", text(&o));
    let left = Command::new(engine)
        .args(["ps", "-aq", "--filter"])
        .arg(format!("label=io.pactown.ecosystem={NAME}"))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&left.stdout).trim().is_empty(),
        "containers left after down"
    );
    for port in PORTS {
        assert!(
            std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(),
            "host port {port} still taken after down"
        );
    }
}

crate::per_engine!(sync: the_originals_microservices_example_runs_unchanged);
