//! The ingress as a service of `up`: one Caddy container (`<ecosystem>-ingress-1`, from
//! [`crate::image::ingress`]) on the ecosystem network, started after the exposed services are
//! healthy, publishing Caddy's listeners on the ingress's `https_port` and `http_port` on
//! 127.0.0.1. It is hardened like any service (read-only root, every capability dropped,
//! no-new-privileges, the image's unprivileged user) and keeps its certificates and local CA in
//! the volume `<ecosystem>-ingress-data` (kept by `down`, removed by `down -v`), so clients keep
//! trusting the root of `tls: internal` across restarts.
use super::isolation::Isolation;
use super::plan::DesiredService;
use crate::config::ingress::{Ingress, TlsMode, INGRESS_SERVICE};
use crate::config::{labels, Ecosystem, DEFAULT_PIDS_LIMIT, TMP_OPTIONS};
use crate::engine::{Hardening, ResourceLimits, VolumeMount};
use crate::image::ingress::{IngressImage, LISTEN};
use std::collections::BTreeMap;
use std::time::Duration;

/// Where Caddy's data (certificates, the local CA) lives in the ingress container.
pub const DATA_DIR: &str = "/data";

/// The labels selecting the ingress container of `ecosystem`.
#[must_use]
pub fn label_filter(ecosystem: &str) -> crate::engine::LabelFilter {
    let mut filter = super::ecosystem_filter(ecosystem);
    filter.push(format!("{}={INGRESS_SERVICE}", labels::SERVICE));
    filter
}

/// The ingress's data volume.
#[must_use]
pub fn data_volume(ecosystem: &str) -> String {
    crate::config::volume_name(ecosystem, "ingress-data")
}

/// The ingress container's probed port and its scheme (`https`, or `http` with `tls: off`).
#[must_use]
pub fn listener(eco: &Ecosystem) -> Option<(u16, &'static str)> {
    let ing = eco.ingress.as_ref()?;
    Some(if ing.tls == TlsMode::Off {
        (LISTEN.http, "http")
    } else {
        (LISTEN.https, "https")
    })
}

/// Caddy's listeners and the host ports they are published on, `(container, host)`: the probed
/// one first (HTTPS, or HTTP with `tls: off`), then HTTP beside HTTPS.
#[must_use]
pub fn published(ing: &Ingress) -> Vec<(u16, u16)> {
    if ing.tls == TlsMode::Off {
        vec![(LISTEN.http, ing.http_port)]
    } else {
        vec![(LISTEN.https, ing.https_port), (LISTEN.http, ing.http_port)]
    }
}

/// The ingress container's hardening, wherever it runs (`up`, the Compose export): read-only
/// root, every capability dropped, no-new-privileges, the image's unprivileged user, `/tmp` as
/// tmpfs and the data volume on [`DATA_DIR`].
#[must_use]
pub fn hardening(eco: &Ecosystem) -> Hardening {
    let volume_labels = BTreeMap::from([
        (labels::ECOSYSTEM.to_string(), eco.name.clone()),
        (labels::SERVICE.to_string(), INGRESS_SERVICE.to_string()),
        (labels::MANAGED.to_string(), "true".to_string()),
    ]);
    Hardening {
        read_only: true,
        no_new_privileges: true,
        cap_drop: vec!["ALL".to_string()],
        cap_add: Vec::new(),
        tmpfs: BTreeMap::from([("/tmp".to_string(), TMP_OPTIONS.to_string())]),
        volumes: vec![VolumeMount {
            source: Some(data_volume(&eco.name)),
            target: DATA_DIR.to_string(),
            labels: volume_labels,
        }],
        user: None,
    }
}

/// The desired ingress of `eco` running `image` (`None` without an `ingress:`).
#[must_use]
pub fn desired(eco: &Ecosystem, image: &IngressImage) -> Option<DesiredService> {
    let ing = eco.ingress.as_ref()?;
    let mut ports = published(ing).into_iter();
    let (port, public) = ports.next()?;
    let extra = ports.collect();
    let dependencies = crate::ingress::exposed(eco)
        .map(|(s, _)| s.name.clone())
        .collect();
    let mut extra_labels = BTreeMap::new();
    if let Some(t) = &eco.tenant {
        extra_labels.insert(labels::TENANT.to_string(), t.clone());
    }
    let isolation = Isolation {
        hardening: hardening(eco),
        limits: ResourceLimits {
            nano_cpus: None,
            memory: None,
            pids: Some(i64::from(DEFAULT_PIDS_LIMIT)),
        },
        env: BTreeMap::new(),
        labels: extra_labels,
    };
    Some(
        DesiredService::new(
            INGRESS_SERVICE,
            &image.tag,
            &image.image_id,
            BTreeMap::new(),
            port,
            1,
            true,
            None,
            Duration::from_secs(30),
            dependencies,
        )
        .with_isolation(isolation)
        .with_host_ports(public, extra),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn eco(ingress: &str) -> Ecosystem {
        crate::config::parse(
            Path::new("t.pactown.yaml"),
            &format!("name: t\ningress: {ingress}\nservices:\n  api:\n    port: 8100\n    expose: {{host: api.example.test}}\n  db:\n    port: 8101\n"),
        )
        .unwrap()
    }

    fn image() -> IngressImage {
        IngressImage {
            tag: "pactown/ingress-t:abc".into(),
            image_id: "sha256:1".into(),
            cached: true,
        }
    }

    #[test]
    fn publishes_listeners_on_public_ports_after_the_exposed_services() {
        let d = desired(
            &eco("{tls: internal, http_port: 9080, https_port: 9443}"),
            &image(),
        )
        .unwrap();
        assert_eq!(d.port, Some(LISTEN.https));
        assert_eq!(d.wanted_host_port(1), Some(9443));
        assert_eq!(d.extra_ports, vec![(LISTEN.http, 9080)]);
        assert_eq!(d.dependencies, vec!["api".to_string()]);
        assert!(d.isolation.hardening.read_only);
        assert_eq!(d.isolation.hardening.volumes[0].target, DATA_DIR);
        let plain = desired(&eco("{tls: off, http_port: 9080}"), &image()).unwrap();
        assert_eq!(plain.port, Some(LISTEN.http));
        assert_eq!(plain.wanted_host_port(1), Some(9080));
        assert!(plain.extra_ports.is_empty());
        assert_ne!(plain.config_hash, d.config_hash);
    }
}
