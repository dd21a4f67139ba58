//! The ingress image of an ecosystem run by `up`: `pactown/base-caddy` (Debian's Caddy, built
//! from `images/caddy.Containerfile` like the runtime bases) plus the ecosystem's Caddyfile, which
//! routes each exposed host name to its service's DNS name and container port on the ecosystem
//! network. Tagged `pactown/ingress-<ecosystem>:<12 hex of sha256(Containerfile, Caddyfile)>`, so
//! a changed `ingress:`/`expose:` gives a new image and the ingress container is replaced.
use super::{base, cache_key, context, ensure_recipe, failing_step_log, BuildError};
use crate::config::ingress::INGRESS_SERVICE;
use crate::config::Ecosystem;
use crate::engine::{BuildProgress, BuildRequest, Engine};
use crate::ingress::Listen;
use std::collections::BTreeMap;

/// The ports Caddy listens on in the ingress container (it runs as a non-root user, so above
/// 1024); the container publishes them on the ingress's `http_port` and `https_port`.
pub const LISTEN: Listen = Listen {
    http: 8080,
    https: 8443,
    admin: Some(ADMIN_SOCKET),
};

/// Caddy's admin socket in the ingress container (on its `/tmp` tmpfs).
pub const ADMIN_SOCKET: &str = "/tmp/caddy-admin.sock";

/// A built (or found) ingress image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngressImage {
    /// `pactown/ingress-<ecosystem>:<hash>`.
    pub tag: String,
    /// The engine's image id.
    pub image_id: String,
    /// Found by its tag, not built.
    pub cached: bool,
}

/// How the ingress container addresses a service on the ecosystem network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upstreams {
    /// `SERVICE:PORT`, the network alias (the Compose export, where pactown names no
    /// containers; Podman, whose DNS names do not follow a rename).
    Alias,
    /// `up` on Docker: a single-replica service by its container name first, then by its surge
    /// container's ([`crate::deploy::surge`]), so a rename steers the proxy with no reload; the
    /// others by alias.
    Containers,
}

impl Upstreams {
    /// What `up` on `kind` uses.
    #[must_use]
    pub fn for_engine(kind: crate::engine::EngineKind) -> Self {
        if kind == crate::engine::EngineKind::Docker {
            Upstreams::Containers
        } else {
            Upstreams::Alias
        }
    }
}

/// Whether [`Upstreams::Containers`] reaches `s` by its container name (and its surge
/// container's): a single-replica, long-running service.
#[must_use]
pub fn by_container_name(s: &crate::config::ServiceSpec) -> bool {
    s.replicas == 1 && !s.is_job()
}

/// The upstream addresses of `s` in the ingress container.
#[must_use]
pub fn upstreams(
    eco: &Ecosystem,
    s: &crate::config::ServiceSpec,
    how: Upstreams,
) -> Option<Vec<String>> {
    let port = s.port?;
    Some(match how {
        Upstreams::Containers if by_container_name(s) => {
            let name = crate::deploy::container_name(&eco.name, &s.name, 1);
            vec![
                format!("{name}:{port}"),
                format!("{}:{port}", crate::deploy::surge::surge_name(&name)),
            ]
        }
        _ => vec![format!("{}:{port}", s.name)],
    })
}

/// The Caddyfile of `eco`'s ingress container (`Ok(None)` when it has no ingress or nothing is
/// exposed), with the services addressed `how`.
///
/// # Errors
/// [`BuildError::Plan`] for a value the Caddyfile may not hold.
pub fn caddyfile(eco: &Ecosystem, how: Upstreams) -> Result<Option<String>, BuildError> {
    let upstream = |s: &crate::config::ServiceSpec| upstreams(eco, s, how);
    crate::ingress::caddyfile_routed(eco, &upstream, Some(LISTEN)).map_err(|e| BuildError::Plan {
        service: INGRESS_SERVICE.to_string(),
        message: e.to_string(),
    })
}

/// The Containerfile of an ingress image.
#[must_use]
pub fn containerfile() -> String {
    format!(
        "FROM {}\nCOPY Caddyfile /etc/caddy/Caddyfile\n",
        base::caddy_tag()
    )
}

/// The tag of the ingress image of `ecosystem` with `caddyfile`.
#[must_use]
pub fn tag(ecosystem: &str, caddyfile: &str) -> String {
    let mut input = containerfile().into_bytes();
    input.push(0);
    input.extend_from_slice(caddyfile.as_bytes());
    format!(
        "pactown/ingress-{}:{}",
        cache_key::repository_component(ecosystem),
        cache_key::short(&cache_key::digest(&input))
    )
}

/// Makes sure the ingress image of `eco` (services addressed `how`) exists, building the Caddy
/// base first when missing; `Ok(None)` when the ecosystem has no ingress.
///
/// # Errors
/// [`BuildError`] when the Caddyfile cannot be written or a build fails.
pub async fn ensure(
    engine: &dyn Engine,
    eco: &Ecosystem,
    how: Upstreams,
    no_cache: bool,
    log: &(dyn Fn(String) + Send + Sync),
) -> Result<Option<IngressImage>, BuildError> {
    let Some(caddyfile) = caddyfile(eco, how)? else {
        return Ok(None);
    };
    let tag = tag(&eco.name, &caddyfile);
    if !no_cache {
        if let Some(info) = engine.image(&tag).await? {
            return Ok(Some(IngressImage {
                tag,
                image_id: info.id,
                cached: true,
            }));
        }
    }
    ensure_recipe(
        engine,
        &base::caddy_tag(),
        base::CADDY_RECIPE,
        "caddy",
        None,
        log,
    )
    .await?;
    let containerfile = containerfile();
    let files = BTreeMap::from([
        (context::CONTAINERFILE.to_string(), containerfile.as_bytes()),
        ("Caddyfile".to_string(), caddyfile.as_bytes()),
    ]);
    let plan_error = |message: String| BuildError::Plan {
        service: INGRESS_SERVICE.to_string(),
        message,
    };
    let tar = context::files_only(&files).map_err(|e| plan_error(e.to_string()))?;
    let request = BuildRequest {
        tag: tag.clone(),
        context: tar,
        containerfile: context::CONTAINERFILE.to_string(),
        labels: BTreeMap::from([
            (
                crate::config::labels::MANAGED.to_string(),
                "true".to_string(),
            ),
            (
                crate::config::labels::ECOSYSTEM.to_string(),
                eco.name.clone(),
            ),
        ]),
        no_cache,
    };
    let progress = |p: BuildProgress| log(p.line);
    if let Err(failure) = engine.build(request, &progress).await? {
        return Err(BuildError::Failed {
            service: INGRESS_SERVICE.to_string(),
            step: None,
            message: failure.message.clone(),
            log_tail: failing_step_log(&failure),
            hint: None,
        });
    }
    let info = engine
        .image(&tag)
        .await?
        .ok_or_else(|| plan_error(format!("the engine built {tag} but does not list it")))?;
    Ok(Some(IngressImage {
        tag,
        image_id: info.id,
        cached: false,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn upstreams_are_service_names_and_listeners_are_unprivileged() {
        let eco = crate::config::parse(
            Path::new("t.pactown.yaml"),
            "name: t\ningress: {tls: internal, https_port: 443}\nservices:\n  api:\n    port: 8100\n    expose: {host: api.example.test}\n",
        )
        .unwrap();
        let file = caddyfile(&eco, Upstreams::Alias).unwrap().unwrap();
        assert!(file.contains("reverse_proxy api:8100 {"), "{file}");
        assert!(file.contains("\thttps_port 8443\n"), "{file}");
        // clients reach 443: the redirect names no port
        assert!(
            file.contains("redir https://api.example.test{uri} 308"),
            "{file}"
        );
        let t = tag("t", &file);
        assert!(t.starts_with("pactown/ingress-t:"), "{t}");
        assert_ne!(t, tag("t", "other"));
    }

    #[test]
    fn under_up_on_docker_a_single_replica_is_reached_by_container_name_then_its_surge() {
        let eco = crate::config::parse(
            Path::new("t.pactown.yaml"),
            "name: t\ningress: {tls: internal}\nservices:\n  api:\n    port: 8100\n    expose: {host: api.example.test}\n  web:\n    port: 8101\n    replicas: 2\n    expose: {host: web.example.test}\n",
        )
        .unwrap();
        let file = caddyfile(&eco, Upstreams::Containers).unwrap().unwrap();
        assert!(
            file.contains("reverse_proxy t-api-1:8100 t-api-1-surge:8100 {\n\t\tlb_policy first\n\t\tfail_duration 2s\n"),
            "{file}"
        );
        assert!(file.contains("\t\tlb_try_interval 50ms\n"), "{file}");
        // several replicas: by alias (DNS spreads them), no surge
        assert!(file.contains("reverse_proxy web:8101 {"), "{file}");
        assert!(file.contains("admin unix//tmp/caddy-admin.sock"), "{file}");
        assert_eq!(
            Upstreams::for_engine(crate::engine::EngineKind::Podman),
            Upstreams::Alias
        );
    }
}
