//! The container spec of one desired replica: a pure function of the replica, so every path
//! that creates a container (a deploy, a replacement, a rollback) creates the same one.
use super::container_name;
use super::plan::DesiredService;
use crate::config::labels;
use crate::engine::{ContainerSpec, PortBinding};
use std::collections::BTreeMap;
use std::path::Path;

/// Where a replica runs: the ecosystem, its network and the file it came from (a label).
#[derive(Debug, Clone, Copy)]
pub struct Placement<'a> {
    /// Ecosystem name (`io.pactown.ecosystem`).
    pub ecosystem: &'a str,
    /// The ecosystem's network.
    pub network: &'a str,
    /// The ecosystem file, recorded in `io.pactown.ecosystem-file`.
    pub ecosystem_file: Option<&'a Path>,
}

/// The container for replica `replica` of `d`, publishing `host_port` on 127.0.0.1.
#[must_use]
pub fn container_spec(
    at: Placement<'_>,
    d: &DesiredService,
    replica: u32,
    host_port: Option<u16>,
) -> ContainerSpec {
    let mut l = BTreeMap::new();
    l.insert(labels::ECOSYSTEM.to_string(), at.ecosystem.to_string());
    l.insert(labels::SERVICE.to_string(), d.name.clone());
    l.insert(labels::REPLICA.to_string(), replica.to_string());
    l.insert(labels::CONFIG_HASH.to_string(), d.config_hash.clone());
    l.insert(labels::MANAGED.to_string(), "true".to_string());
    if let Some(p) = &d.health_path {
        l.insert(labels::HEALTH_PATH.to_string(), p.clone());
    }
    if let Some(c) = &d.health_cmd {
        l.insert(labels::HEALTH_CMD.to_string(), c.clone());
    }
    if d.job {
        l.insert(labels::KIND.to_string(), "job".to_string());
    }
    if let Some(f) = at.ecosystem_file {
        l.insert(labels::ECOSYSTEM_FILE.to_string(), f.display().to_string());
    }
    for (k, v) in &d.isolation.labels {
        l.entry(k.clone()).or_insert_with(|| v.clone());
    }
    ContainerSpec {
        name: container_name(at.ecosystem, &d.name, replica),
        image: d.image.clone(),
        env: d.env.clone(),
        labels: l,
        network: at.network.to_string(),
        aliases: vec![d.name.clone()],
        ports: d
            .port
            .zip(host_port)
            .map(|(container_port, host_port)| PortBinding {
                container_port,
                host_ip: "127.0.0.1".to_string(),
                host_port,
            })
            .into_iter()
            .chain(
                d.extra_ports
                    .iter()
                    .map(|&(container_port, host_port)| PortBinding {
                        container_port,
                        host_ip: "127.0.0.1".to_string(),
                        host_port,
                    }),
            )
            .collect(),
        restart: d.restart && !d.job,
        init: true,
        command: None,
        healthcheck: None,
        stop_timeout: Some(10),
        hardening: d.isolation.hardening.clone(),
        limits: d.isolation.limits,
    }
}

/// The one-off container `name` of `d` (`pactown run SERVICE -- CMD`): the service's image,
/// environment (plus `env`), network and isolation, running `command` (`None`: the image's own),
/// with no published port, alias, restart or health check, labelled [`labels::ONEOFF`] instead
/// of [`labels::ECOSYSTEM`] so deploys leave it alone.
#[must_use]
pub fn oneoff_spec(
    at: Placement<'_>,
    d: &DesiredService,
    name: &str,
    command: Option<Vec<String>>,
    env: &BTreeMap<String, String>,
) -> ContainerSpec {
    let mut spec = container_spec(at, d, 1, None);
    spec.name = name.to_string();
    spec.labels.retain(|k, _| {
        !matches!(
            k.as_str(),
            labels::ECOSYSTEM
                | labels::REPLICA
                | labels::CONFIG_HASH
                | labels::HEALTH_PATH
                | labels::HEALTH_CMD
                | labels::KIND
        )
    });
    spec.labels
        .insert(labels::ONEOFF.to_string(), at.ecosystem.to_string());
    spec.env
        .extend(env.iter().map(|(k, v)| (k.clone(), v.clone())));
    spec.aliases.clear();
    spec.ports.clear();
    spec.restart = false;
    spec.command = command;
    spec
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Two replicas of `api` on 8001, depending on `db`, with `DB_URL`.
    fn api() -> DesiredService {
        let env = BTreeMap::from([("DB_URL".to_string(), "http://db:5432".to_string())]);
        DesiredService::new(
            "api",
            "pactown/python-api:abc",
            "sha256:1",
            env,
            8001,
            2,
            true,
            Some("/health".into()),
            Duration::from_secs(30),
            vec!["db".into()],
        )
    }

    #[test]
    fn spec_of_a_replica() {
        let d = api();
        let at = Placement {
            ecosystem: "shop",
            network: "pactown-shop",
            ecosystem_file: Some(Path::new("/srv/shop.pactown.yaml")),
        };
        let spec = container_spec(at, &d, 2, Some(18001));
        insta::assert_debug_snapshot!(spec);
        let job = d.clone().with_shape(true, Some("true".into()));
        let spec = container_spec(at, &job, 1, None);
        assert!(!spec.restart, "a job is never restarted");
        assert!(spec.ports.is_empty());
        assert_eq!(
            spec.labels.get(labels::KIND).map(String::as_str),
            Some("job")
        );
    }

    #[test]
    fn oneoff_spec_keeps_image_env_and_isolation_but_nothing_a_deploy_counts() {
        let d = api();
        let at = Placement {
            ecosystem: "shop",
            network: "pactown-shop",
            ecosystem_file: None,
        };
        let extra = BTreeMap::from([("X".to_string(), "1".to_string())]);
        let cmd = Some(vec!["sh".to_string(), "-c".to_string(), "env".to_string()]);
        let spec = oneoff_spec(at, &d, "shop-api-run-1a2b3c", cmd.clone(), &extra);
        let replica = container_spec(at, &d, 1, Some(18001));
        assert_eq!(spec.name, "shop-api-run-1a2b3c");
        assert_eq!(spec.image, replica.image);
        assert_eq!(spec.network, "pactown-shop");
        assert_eq!(spec.hardening, replica.hardening);
        assert_eq!(
            spec.env.get("DB_URL").map(String::as_str),
            Some("http://db:5432")
        );
        assert_eq!(spec.env.get("X").map(String::as_str), Some("1"));
        assert_eq!(spec.command, cmd);
        assert!(spec.ports.is_empty() && spec.aliases.is_empty() && !spec.restart);
        assert!(!spec.labels.contains_key(labels::ECOSYSTEM));
        assert!(!spec.labels.contains_key(labels::REPLICA));
        assert_eq!(
            spec.labels.get(labels::ONEOFF).map(String::as_str),
            Some("shop")
        );
        assert_eq!(
            spec.labels.get(labels::SERVICE).map(String::as_str),
            Some("api")
        );
    }
}
