//! Compatibility with the original, process-based pactown (PyPI package `pactown`): its own
//! `examples/saas-platform`, taken unchanged from its source distribution, comes up healthy under
//! our `pactown up -d`, its services reach each other, and `down` removes everything.
//!
//! The sdist is downloaded with pip at test time (never committed). Without PyPI the test skips,
//! unless `PACTOWN_REQUIRE_ENGINES=1`.
use crate::common::{self, pactown_in, text, Down};
use pactown::engine::EngineKind;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The original's release whose example is checked (`PACTOWN_ORIGINAL_VERSION` overrides).
const ORIGINAL_VERSION: &str = "0.1.173";
/// The ecosystem name written in the example.
const NAME: &str = "saas-platform";

/// Downloads the original's sdist (3 tries) and returns the unpacked folder, or `None` when PyPI
/// cannot be reached.
fn original_sdist(into: &Path) -> Option<PathBuf> {
    let version =
        std::env::var("PACTOWN_ORIGINAL_VERSION").unwrap_or_else(|_| ORIGINAL_VERSION.into());
    let mut last = None;
    for attempt in 1..=3u64 {
        let mut cmd = Command::new("python3");
        cmd.args(["-m", "pip", "download", "--no-deps", "--no-binary", ":all:"])
            .args(["--disable-pip-version-check", "-q", "-d"])
            .arg(into)
            .arg(format!("pactown=={version}"));
        let ca = Path::new("/etc/ssl/certs/ca-certificates.crt");
        if std::env::var_os("PIP_CERT").is_none() && ca.is_file() {
            cmd.env("PIP_CERT", ca);
        }
        let o = cmd.output().expect("run python3 -m pip");
        if o.status.success() {
            last = None;
            break;
        }
        last = Some(text(&o));
        std::thread::sleep(Duration::from_secs(attempt * 3));
    }
    if let Some(err) = last {
        if common::engines_required() {
            panic!("cannot download the original pactown {version} from PyPI: {err}");
        }
        eprintln!("skipping: PyPI not reachable: {err}");
        return None;
    }
    let tarball = into.join(format!("pactown-{version}.tar.gz"));
    let o = Command::new("tar")
        .arg("-xzf")
        .arg(&tarball)
        .arg("-C")
        .arg(into)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    Some(into.join(format!("pactown-{version}")))
}

fn get(url: &str) -> serde_json::Value {
    let body = Command::new("curl")
        .args(["-fsS", "--max-time", "10", "--noproxy", "*", url])
        .output()
        .unwrap();
    assert!(body.status.success(), "GET {url}: {}", text(&body));
    serde_json::from_slice(&body.stdout)
        .unwrap_or_else(|e| panic!("GET {url}: not JSON ({e}): {}", text(&body)))
}

#[test]
fn the_originals_saas_platform_example_runs_unchanged() {
    if !common::docker_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let Some(sdist) = original_sdist(tmp.path()) else {
        return;
    };
    let example = sdist.join("examples/saas-platform");
    assert!(
        example.join("saas.pactown.yaml").is_file(),
        "no examples/saas-platform in {}",
        sdist.display()
    );
    let dir = tmp.path().join("saas-platform");
    common::copy_dir(&example, &dir);
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
