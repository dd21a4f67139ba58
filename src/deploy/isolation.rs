//! The isolation policy: what every service container gets unless the service opts out in
//! `security:` (hardened by default), and its cgroup limits from `resources:` / `profile:`.
//! Pure: the same ecosystem gives the same [`Isolation`], which is part of the config hash.
//!
//! Defaults: the image's unprivileged user, `no-new-privileges`, every capability dropped
//! (services listen on ports ≥ 1024), a read-only root file system with a writable `noexec`
//! tmpfs `/tmp` (and `HOME=/tmp` so tools that write under the home folder keep working), the
//! service's
//! `volumes:` as named volumes, and a pids limit. Build outputs a runtime rewrites on start
//! (Rust's `target/`: `cargo run` takes a lock file there) get an anonymous volume, which the
//! engine fills from the image (so the warm build stays warm) and removes with the container.
use crate::config::labels;
use crate::config::{Ecosystem, ServiceSpec};
use crate::engine::{
    ContainerSpec, Engine, EngineError, EngineResult, Hardening, ResourceLimits, VolumeMount,
};
use crate::markpact::Runtime;
use serde::Serialize;
use std::collections::BTreeMap;

pub use crate::config::{volume_name, TMP_OPTIONS};

/// Isolation and limits of a service's containers.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Isolation {
    /// Engine isolation settings.
    pub hardening: Hardening,
    /// cgroup limits.
    pub limits: ResourceLimits,
    /// Variables added to the environment (only where the service does not set them).
    pub env: BTreeMap<String, String>,
    /// Extra labels of the containers (`io.pactown.tenant`).
    pub labels: BTreeMap<String, String>,
}

/// The runtime of a pactown image tag (`pactown/<runtime>-<service>:<hex>`), when it is one.
#[must_use]
pub fn runtime_of_tag(tag: &str) -> Option<Runtime> {
    let rest = tag.strip_prefix("pactown/")?;
    Runtime::ALL
        .into_iter()
        .find(|rt| rest.starts_with(&format!("{rt}-")))
}

/// Paths a runtime rewrites at start that must stay writable with their image content
/// (see [`crate::config::writable_image_paths`]).
#[must_use]
pub fn writable_build_paths(runtime: Option<Runtime>) -> &'static [&'static str] {
    match runtime {
        Some(_) => crate::config::writable_image_paths(true),
        None => crate::config::writable_image_paths(false),
    }
}

/// The isolation of `spec`'s containers in ecosystem `eco`, running an image of `runtime`.
#[must_use]
pub fn for_service(eco: &Ecosystem, spec: &ServiceSpec, runtime: Option<Runtime>) -> Isolation {
    let sec = &spec.security;
    let mut h = Hardening {
        read_only: sec.read_only,
        no_new_privileges: sec.no_new_privileges,
        cap_drop: sec.cap_drop(),
        cap_add: sec.cap_add.clone(),
        tmpfs: BTreeMap::new(),
        volumes: Vec::new(),
        user: sec.user(),
    };
    let mut env = sec.env();
    if sec.read_only {
        h.tmpfs.insert("/tmp".to_string(), TMP_OPTIONS.to_string());
        if runtime == Some(Runtime::Node) {
            env.insert("npm_config_cache".to_string(), "/tmp/.npm".to_string());
        }
        if matches!(runtime, Some(Runtime::Python | Runtime::Static)) {
            env.insert("PYTHONDONTWRITEBYTECODE".to_string(), "1".to_string());
        }
        for path in writable_build_paths(runtime) {
            h.volumes.push(VolumeMount {
                source: None,
                target: (*path).to_string(),
                labels: BTreeMap::new(),
            });
        }
    }
    for (name, target) in &spec.volumes {
        let mut l = BTreeMap::new();
        l.insert(labels::ECOSYSTEM.to_string(), eco.name.clone());
        l.insert(labels::SERVICE.to_string(), spec.name.clone());
        l.insert(labels::MANAGED.to_string(), "true".to_string());
        h.volumes.push(VolumeMount {
            source: Some(volume_name(&eco.name, name)),
            target: target.clone(),
            labels: l,
        });
    }
    let r = &spec.resources;
    let limits = ResourceLimits {
        nano_cpus: r
            .millicpus
            .map(|m| i64::try_from(m.saturating_mul(1_000_000)).unwrap_or(i64::MAX)),
        memory: r.memory.map(|b| i64::try_from(b).unwrap_or(i64::MAX)),
        pids: Some(i64::from(r.effective_pids())),
    };
    // the service's own env wins over these conveniences
    env.retain(|k, _| !spec.env.contains_key(k));
    let mut extra = BTreeMap::new();
    if let Some(t) = &eco.tenant {
        extra.insert(labels::TENANT.to_string(), t.clone());
    }
    Isolation {
        hardening: h,
        limits,
        env,
        labels: extra,
    }
}

/// Makes the named volumes of `spec` writable for the image's unprivileged user: a new volume
/// mounted at a path the image does not have belongs to root. A short-lived helper container of
/// the same image, as root with only `CAP_CHOWN`, gives the mount points (not their content) to
/// the app user. Nothing to do for root containers or without named volumes.
///
/// # Errors
/// Engine errors, or the helper not finishing within 60 s.
pub async fn prepare_volumes(engine: &dyn Engine, spec: &ContainerSpec) -> EngineResult<()> {
    let targets: Vec<String> = spec
        .hardening
        .volumes
        .iter()
        .filter(|v| v.source.is_some())
        .map(|v| v.target.clone())
        .collect();
    if targets.is_empty() || spec.hardening.user.is_some() {
        return Ok(());
    }
    let uid = crate::image::provider::APP_UID;
    let mut command = vec!["chown".to_string(), format!("{uid}:{uid}")];
    command.extend(targets);
    let mut l = spec.labels.clone();
    l.remove(labels::SERVICE);
    l.remove(labels::CONFIG_HASH);
    let helper = ContainerSpec {
        name: format!("{}-volumes", spec.name),
        image: spec.image.clone(),
        labels: l,
        command: Some(command),
        hardening: Hardening {
            no_new_privileges: true,
            cap_drop: vec!["ALL".to_string()],
            cap_add: vec!["CHOWN".to_string()],
            volumes: spec
                .hardening
                .volumes
                .iter()
                .filter(|v| v.source.is_some())
                .cloned()
                .collect(),
            user: Some("0:0".to_string()),
            read_only: true,
            ..Hardening::default()
        },
        limits: ResourceLimits {
            pids: Some(16),
            ..ResourceLimits::default()
        },
        ..ContainerSpec::default()
    };
    engine.remove_container(&helper.name).await?;
    let id = engine.create_container(&helper).await?;
    let result = async {
        engine.start_container(&id).await?;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let d = engine.inspect_container(&id).await?;
            if !d.running && d.started_at.is_some() {
                return match d.exit_code {
                    Some(0) => Ok(()),
                    code => Err(EngineError::Api {
                        operation: format!("prepare volumes of {}", spec.name),
                        message: format!("chown of the volume mount points exited with {code:?}"),
                    }),
                };
            }
            if std::time::Instant::now() > deadline {
                return Err(EngineError::Api {
                    operation: format!("prepare volumes of {}", spec.name),
                    message: "the helper container did not finish within 60s".into(),
                });
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
    .await;
    let removed = engine.remove_container(&id).await;
    result.and(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eco(yaml: &str) -> Ecosystem {
        crate::config::parse(std::path::Path::new("t.pactown.yaml"), yaml).unwrap()
    }

    #[test]
    fn hardened_by_default() {
        let e = eco("name: t\nservices:\n  api:\n    port: 8100\n");
        let i = for_service(&e, &e.services[0], Some(Runtime::Rust));
        assert!(i.hardening.read_only);
        assert!(i.hardening.no_new_privileges);
        assert_eq!(i.hardening.cap_drop, vec!["ALL"]);
        assert_eq!(i.hardening.user, None);
        assert!(i.hardening.tmpfs.contains_key("/tmp"));
        assert_eq!(i.hardening.volumes[0].target, "/app");
        assert_eq!(i.hardening.volumes[0].source, None);
        assert_eq!(i.limits.pids, Some(512));
        assert_eq!(i.limits.memory, None);
        assert_eq!(i.env.get("HOME").map(String::as_str), Some("/tmp"));
    }

    #[test]
    fn opt_outs_profiles_and_volumes() {
        let e = eco(
            "name: t\nprofiles:\n  free: {cpus: 0.5, memory: 128m, pids: 64}\nservices:\n  api:\n    port: 8100\n    profile: free\n    resources: {memory: 256m}\n    volumes: {data: /data}\n    env: {HOME: /data}\n    security: {read_only: false, drop_capabilities: false, non_root: false}\n",
        );
        let i = for_service(&e, &e.services[0], Some(Runtime::Python));
        assert!(!i.hardening.read_only);
        assert!(i.hardening.tmpfs.is_empty());
        assert!(i.hardening.cap_drop.is_empty());
        assert_eq!(i.hardening.user.as_deref(), Some("0:0"));
        assert_eq!(i.limits.nano_cpus, Some(500_000_000));
        assert_eq!(i.limits.memory, Some(256 << 20));
        assert_eq!(i.limits.pids, Some(64));
        assert_eq!(i.hardening.volumes.len(), 1);
        assert_eq!(i.hardening.volumes[0].source.as_deref(), Some("t-data"));
        assert!(!i.env.contains_key("HOME"));
    }

    #[test]
    fn runtime_from_tag() {
        assert_eq!(runtime_of_tag("pactown/rust-api:abc"), Some(Runtime::Rust));
        assert_eq!(runtime_of_tag("pactown/node-web:1"), Some(Runtime::Node));
        assert_eq!(runtime_of_tag("other/rust-api:1"), None);
    }
}
