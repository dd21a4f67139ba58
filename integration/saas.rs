//! Compatibility with the original, process-based pactown (PyPI package `pactown`): its own
//! `examples/saas-platform`, taken unchanged from its source distribution, comes up healthy under
//! our `pactown up -d`, its services reach each other, and `down` removes everything.
//!
//! The sdist is downloaded with pip at test time (never committed, [`common::original_sdist`]).
//! Without PyPI the test skips, unless `PACTOWN_REQUIRE_ENGINES=1`.
use crate::common::{self, get_json as get, pactown_in, text, Down};
use pactown::engine::EngineKind;
use std::process::Command;

/// The ecosystem name written in the example.
const NAME: &str = "saas-platform";

#[test]
fn the_originals_saas_platform_example_runs_unchanged() {
    if !common::docker_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let Some(dir) = common::original_example(tmp.path(), "saas-platform") else {
        return;
    };
    let _down = Down::new(dir.join("saas.pactown.yaml"), EngineKind::Docker);
    // the example's name is fixed (it runs unchanged): a copy left running by anything else
    // (a bench, a hand run) would make this `up` a no-op, so start from nothing
    let o = pactown_in(
        &dir,
        &[
            "down",
            "saas.pactown.yaml",
            "--engine",
            "docker",
            "--timeout",
            "1",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));

    let o = pactown_in(
        &dir,
        &[
            "up",
            "saas.pactown.yaml",
            "-d",
            "--engine",
            "docker",
            "--timeout",
            "300",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("4 healthy"), "{out}");

    let o = pactown_in(
        &dir,
        &[
            "status",
            "saas.pactown.yaml",
            "--json",
            "--engine",
            "docker",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let st: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut urls = std::collections::BTreeMap::new();
    for svc in st["services"].as_array().unwrap() {
        assert_eq!(svc["state"], "running", "{svc}");
        urls.insert(
            svc["service"].as_str().unwrap().to_string(),
            svc["url"].as_str().unwrap().to_string(),
        );
    }
    assert_eq!(
        urls.keys().collect::<Vec<_>>(),
        ["api", "database", "gateway", "web"]
    );

    // The gateway reaches the three others through the endpoints the file gives as
    // `http://localhost:PORT` (resolved to the services' network aliases).
    let health = get(&format!("{}/gateway/health", urls["gateway"]));
    assert_eq!(health["status"], "ok", "{health}");
    let services = health["services"].as_array().unwrap();
    assert_eq!(services.len(), 3, "{health}");
    for s in services {
        assert_eq!(s["status"], "healthy", "{health}");
    }

    let o = pactown_in(
        &dir,
        &[
            "down",
            "saas.pactown.yaml",
            "--engine",
            "docker",
            "--timeout",
            "2",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let left = Command::new("docker")
        .args(["ps", "-aq", "--filter"])
        .arg(format!("label=io.pactown.ecosystem={NAME}"))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&left.stdout).trim().is_empty(),
        "containers left after down"
    );
}
