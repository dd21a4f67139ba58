//! Snapshots of every generated export file for the `shop` fixture (four services, a replicated
//! worker, dependencies with `env_var`), with fixed image tags so the snapshots do not move when
//! the build renderer changes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/export_fixtures.rs"]
#[allow(dead_code)]
mod fixtures;

use fixtures::shop;
use pactown::export::{self, ImageMap};
use pactown::quadlet::{self, PodmanVersion, QuadletOptions};

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

#[test]
fn kube_fills_app_only_for_read_only_pactown_images() {
    use export::kube::Document;
    let pod = |eco: &pactown::config::Ecosystem, images: &ImageMap, svc: &str| {
        export::kube::to_documents(eco, images)
            .unwrap()
            .into_iter()
            .find_map(|d| match d {
                Document::Deployment(dep) if dep.metadata.name == svc => {
                    Some(dep.spec.template.spec)
                }
                _ => None,
            })
            .unwrap()
    };
    let (mut eco, mut images) = shop();
    let api = pod(&eco, &images, "api");
    assert_eq!(api.init_containers.len(), 1);
    let init = &api.init_containers[0];
    assert_eq!(init.image, images["api"]);
    assert_eq!(init.security_context, api.containers[0].security_context);
    assert_eq!(init.resources, api.containers[0].resources);
    assert_eq!(init.volume_mounts[0].name, "app-api");
    assert!(api.containers[0]
        .volume_mounts
        .iter()
        .any(|m| m.name == "app-api" && m.mount_path == "/app"));
    // a writable root, a named volume at /app, or an image pactown did not build: nothing to fill
    eco.services
        .iter_mut()
        .find(|s| s.name == "api")
        .unwrap()
        .security
        .read_only = false;
    eco.services
        .iter_mut()
        .find(|s| s.name == "db")
        .unwrap()
        .volumes
        .insert("code".into(), "/app".into());
    images.insert("web".into(), "docker.io/library/nginx:1".into());
    for svc in ["api", "db", "web"] {
        let spec = pod(&eco, &images, svc);
        assert!(spec.init_containers.is_empty(), "{svc}");
        assert!(
            spec.volumes.iter().all(|v| !v.name.starts_with("app-")),
            "{svc}"
        );
    }
    assert_eq!(pod(&eco, &images, "worker").init_containers.len(), 1);
}

/// An image pactown pushed keeps the writable `/app` of a read-only service in every export
/// (`--images FILE` names it `REGISTRY/NS/<ecosystem>-<service>@sha256:…`, no `pactown/` in
/// sight): the metadata file says pactown built it. The same reference given as a plain image
/// (not built by pactown) gets nothing.
#[test]
fn pushed_pactown_images_keep_app_writable() {
    use export::kube::Document;
    let (eco, mut images) = shop();
    let pushed = format!("127.0.0.1:5000/acme/shop-api@sha256:{}", "a".repeat(64));
    let check = |images: &ImageMap, writable: bool| {
        let compose = export::compose::to_compose(&eco, images).unwrap();
        let api = &compose.services["api"];
        assert_eq!(api.image, pushed);
        assert_eq!(api.volumes.iter().any(|v| v == "/app"), writable, "{api:?}");
        let units = quadlet::to_units(&eco, images, &QuadletOptions::default()).unwrap();
        let unit = units
            .iter()
            .find(|u| u.name.ends_with("shop-api.container"))
            .unwrap();
        assert!(unit.contents.contains(&pushed), "{}", unit.contents);
        assert_eq!(
            unit.contents.contains(r#""--volume" "/app""#),
            writable,
            "{}",
            unit.contents
        );
        let spec = export::kube::to_documents(&eco, images)
            .unwrap()
            .into_iter()
            .find_map(|d| match d {
                Document::Deployment(dep) if dep.metadata.name == "api" => {
                    Some(dep.spec.template.spec)
                }
                _ => None,
            })
            .unwrap();
        assert_eq!(spec.init_containers.len(), usize::from(writable));
        assert_eq!(
            spec.containers[0]
                .volume_mounts
                .iter()
                .any(|m| m.mount_path == "/app"),
            writable
        );
        assert_eq!(
            spec.containers[0].security_context.run_as_user,
            writable.then_some(10001)
        );
    };
    images.insert_built("api".into(), pushed.clone());
    assert!(images.built_by_pactown("api"));
    check(&images, true);
    images.insert("api".into(), pushed.clone());
    assert!(!images.built_by_pactown("api"));
    check(&images, false);
}

/// Jobs and services without a port in every export: a job is `Type=oneshot` with
/// `RemainAfterExit=yes` (Quadlet), `service_completed_successfully` (Compose), an init container
/// of each dependant or a Job when nothing depends on it (Kubernetes); a portless service has
/// no port, and its `health_cmd` (or no health check) as probe.
#[test]
fn jobs_and_portless_services() {
    let (eco, images) = fixtures::jobs();
    let units = quadlet::to_units(&eco, &images, &QuadletOptions::default()).unwrap();
    for unit in units.iter().filter(|u| u.name.ends_with(".container")) {
        insta::assert_snapshot!(format!("jobs_quadlet_{}", unit.name), unit.contents);
    }
    let unit = |n: &str| {
        &units
            .iter()
            .find(|u| u.name == format!("jobs-{n}.container"))
            .unwrap()
            .contents
    };
    assert!(unit("migrate").contains("Type=oneshot\nRemainAfterExit=yes\nRestart=no\n"));
    assert!(!unit("migrate").contains("HealthCmd"));
    assert!(!unit("migrate").contains("PublishPort"));
    assert!(unit("api").contains("Requires=jobs-migrate.service"));
    assert!(!unit("worker").contains("HealthCmd"));
    assert!(!unit("worker").contains("Notify="));
    assert!(unit("beat")
        .contains("HealthCmd=[\"/bin/sh\",\"-c\",\"test -f /tmp/beat-$$PACTOWN_SERVICE_NAME\"]"));
    assert!(unit("beat").contains("Notify=healthy"));

    let compose = export::compose::render(&eco, &images).unwrap();
    insta::assert_snapshot!("jobs_compose", compose);
    let file = export::compose::to_compose(&eco, &images).unwrap();
    let api = &file.services["api"];
    assert_eq!(
        api.depends_on["migrate"].condition,
        "service_completed_successfully"
    );
    assert_eq!(api.depends_on["db"].condition, "service_healthy");
    assert_eq!(api.depends_on["worker"].condition, "service_started");
    assert_eq!(
        file.services["migrate"].restart, None,
        "Compose's default: no"
    );
    assert!(
        !compose.contains("restart: no"),
        "YAML 1.1 reads a plain no as false"
    );
    assert!(file.services["migrate"].healthcheck.is_none());
    assert!(file.services["worker"].ports.is_empty());
    assert_eq!(
        file.services["beat"].healthcheck.as_ref().unwrap().test,
        [
            "CMD",
            "/bin/sh",
            "-c",
            "test -f /tmp/beat-$$PACTOWN_SERVICE_NAME"
        ]
    );

    let kube = export::kube::render(&eco, &images).unwrap();
    insta::assert_snapshot!("jobs_kube", kube);
    let docs = export::kube::to_documents(&eco, &images).unwrap();
    let deployment = |n: &str| {
        docs.iter().find_map(|d| match d {
            export::kube::Document::Deployment(x) if x.metadata.name == n => Some(x),
            _ => None,
        })
    };
    assert!(deployment("migrate").is_none(), "a job is no Deployment");
    let api = deployment("api").unwrap();
    let inits: Vec<&str> = api
        .spec
        .template
        .spec
        .init_containers
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(inits, ["migrate-init-app", "migrate", "init-app"]);
    let jobs: Vec<&str> = docs
        .iter()
        .filter_map(|d| match d {
            export::kube::Document::Job(j) => Some(j.metadata.name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(jobs, ["report"], "only the job nothing depends on is a Job");
    let services: Vec<&str> = docs
        .iter()
        .filter_map(|d| match d {
            export::kube::Document::Service(s) => Some(s.metadata.name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(services, ["db", "api"], "no Service for what has no port");
}
