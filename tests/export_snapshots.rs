//! Snapshots of every generated export file for the `shop` fixture (four services, a replicated
//! worker, dependencies with `env_var`), with fixed image tags so the snapshots do not move when
//! the build renderer changes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use pactown::export::{self, ImageMap};
use pactown::quadlet::{self, PodmanVersion, QuadletOptions};
use std::path::Path;

fn shop() -> (pactown::config::Ecosystem, ImageMap) {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/eco/shop/shop.pactown.yaml");
    let project = pactown::project::load(&path).unwrap();
    let images = project
        .ecosystem
        .services
        .iter()
        .map(|s| {
            (
                s.name.clone(),
                format!("pactown/python-{}:0123456789ab", s.name),
            )
        })
        .collect();
    (project.ecosystem, images)
}

#[test]
fn quadlet_units() {
    let (eco, images) = shop();
    let units = quadlet::to_units(&eco, &images, &QuadletOptions::default()).unwrap();
    let names: Vec<&str> = units.iter().map(|u| u.name.as_str()).collect();
    insta::assert_debug_snapshot!("quadlet_file_names", names);
    for unit in &units {
        insta::assert_snapshot!(format!("quadlet_{}", unit.name), unit.contents);
    }
    // deterministic
    assert_eq!(
        units,
        quadlet::to_units(&eco, &images, &QuadletOptions::default()).unwrap()
    );
}

#[test]
fn quadlet_downgrades() {
    let (eco, images) = shop();
    for (version, system) in [("4.4", false), ("4.9", false), ("5.2", true)] {
        let opts = QuadletOptions {
            podman_version: version.parse::<PodmanVersion>().unwrap(),
            wanted_by: if system {
                "multi-user.target"
            } else {
                "default.target"
            }
            .into(),
            ..QuadletOptions::default()
        };
        let units = quadlet::to_units(&eco, &images, &opts).unwrap();
        let api = units
            .iter()
            .find(|u| u.name == "shop-api.container")
            .unwrap();
        insta::assert_snapshot!(format!("quadlet_api_podman_{version}"), api.contents);
    }
}

#[test]
fn compose_file() {
    let (eco, images) = shop();
    insta::assert_snapshot!("compose", export::compose::render(&eco, &images).unwrap());
}

#[test]
fn kube_manifests() {
    let (eco, images) = shop();
    insta::assert_snapshot!("kube", export::kube::render(&eco, &images).unwrap());
}

#[test]
fn kube_named_volumes_become_claims() {
    let (mut eco, images) = shop();
    // `db` and `api` share one volume; `db` has a second one
    for (svc, vols) in [
        ("db", &[("data", "/app/data"), ("logs", "/var/log/db")][..]),
        ("api", &[("data", "/data")][..]),
    ] {
        let s = eco.services.iter_mut().find(|s| s.name == svc).unwrap();
        for (v, t) in vols {
            s.volumes.insert((*v).to_string(), (*t).to_string());
        }
    }
    let text = export::kube::render(&eco, &images).unwrap();
    insta::assert_snapshot!("kube_volumes", text);
    assert_eq!(text.matches("kind: PersistentVolumeClaim").count(), 2);
    // a name Kubernetes cannot take is refused, naming the service and key
    let s = eco.services.iter_mut().find(|s| s.name == "web").unwrap();
    s.volumes.insert("Bad_Name".into(), "/x".into());
    let err = export::kube::render(&eco, &images).unwrap_err().to_string();
    assert!(
        err.contains("web") && err.contains("volumes.Bad_Name"),
        "{err}"
    );
}
