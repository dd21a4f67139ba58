//! The isolation policy: what every service container gets unless the service opts out in
//! `security:` (hardened by default), and its cgroup limits from `resources:` / `profile:`.
//! Pure: the same ecosystem gives the same [`Isolation`], which is part of the config hash.
//!
//! Defaults: the image's unprivileged user, `no-new-privileges`, every capability dropped
//! (services listen on ports ≥ 1024), a read-only root file system with a writable tmpfs `/tmp`
//! (and `HOME=/tmp` so tools that write under the home folder keep working), the service's
//! `volumes:` as named volumes, and a pids limit. Build outputs a runtime rewrites on start
//! (Rust's `target/`: `cargo run` takes a lock file there) get an anonymous volume, which the
//! engine fills from the image (so the warm build stays warm) and removes with the container.
use crate::config::{Ecosystem, ServiceSpec};
use crate::engine::{labels, Hardening, ResourceLimits, VolumeMount};
use crate::markpact::Runtime;
use serde::Serialize;
use std::collections::BTreeMap;

/// Options of the writable `/tmp`.
pub const TMP_OPTIONS: &str = "rw,nosuid,nodev,size=256m,mode=1777";

/// Isolation and limits of a service's containers.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Isolation {
    /// Engine isolation settings.
    pub hardening: Hardening,
    /// cgroup limits.
    pub limits: ResourceLimits,
    /// Variables added to the environment (only where the service does not set them).
    pub env: BTreeMap<String, String>,
}

/// The engine name of a service's named volume: `<ecosystem>-<volume>`.
#[must_use]
pub fn volume_name(ecosystem: &str, volume: &str) -> String {
    format!("{ecosystem}-{volume}")
}

/// The runtime of a pactown image tag (`pactown/<runtime>-<service>:<hex>`), when it is one.
#[must_use]
pub fn runtime_of_tag(tag: &str) -> Option<Runtime> {
    let rest = tag.strip_prefix("pactown/")?;
    Runtime::ALL
        .into_iter()
        .find(|rt| rest.starts_with(&format!("{rt}-")))
}

/// Paths a runtime rewrites at start that must stay writable with their image content.
#[must_use]
pub fn writable_build_paths(runtime: Option<Runtime>) -> &'static [&'static str] {
    match runtime {
        Some(Runtime::Rust) => &["/app/target"],
        _ => &[],
    }
}

/// The isolation of `spec`'s containers in ecosystem `eco`, running an image of `runtime`.
#[must_use]
pub fn for_service(eco: &Ecosystem, spec: &ServiceSpec, runtime: Option<Runtime>) -> Isolation {
    let sec = &spec.security;
    let mut h = Hardening {
        read_only: sec.read_only,
        no_new_privileges: sec.no_new_privileges,
        cap_drop: if sec.drop_capabilities {
            vec!["ALL".to_string()]
        } else {
            Vec::new()
        },
        cap_add: sec.cap_add.clone(),
        tmpfs: BTreeMap::new(),
        volumes: Vec::new(),
        user: (!sec.non_root).then(|| "0:0".to_string()),
    };
    let mut env = BTreeMap::new();
    if sec.read_only {
        h.tmpfs.insert("/tmp".to_string(), TMP_OPTIONS.to_string());
        env.insert("HOME".to_string(), "/tmp".to_string());
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
    Isolation {
        hardening: h,
        limits,
        env,
    }
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
        assert_eq!(i.hardening.volumes[0].target, "/app/target");
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
