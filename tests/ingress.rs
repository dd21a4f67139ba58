//! The public ingress (`ingress:` + `expose:`): the generated Caddyfile and systemd unit for the
//! `shop` fixture (snapshots, checked by the real `caddy adapt` when Caddy is installed), the
//! install layout, and every hostile or inconsistent value refused with its file and line.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

#[path = "support/export_fixtures.rs"]
#[allow(dead_code)]
mod fixtures;

use pactown::config::ingress::{Expose, Ingress, TlsMode};
use pactown::config::Ecosystem;
use pactown::quadlet::{self, QuadletOptions, Scope, UnitKind};
use std::path::Path;

/// `shop` with web at `shop.example.com/`, api at `shop.example.com/api` and db at
/// `db-admin.example.com`.
fn shop_with(ingress: Ingress) -> (Ecosystem, pactown::export::ImageMap) {
    let (mut eco, images) = fixtures::shop();
    eco.ingress = Some(ingress);
    for (svc, host, path) in [
        ("web", "shop.example.com", "/"),
        ("api", "shop.example.com", "/api"),
        ("db", "db-admin.example.com", "/"),
    ] {
        let s = eco.services.iter_mut().find(|s| s.name == svc).unwrap();
        s.expose = Some(Expose {
            host: host.into(),
            path: path.into(),
            line: 1,
        });
    }
    (eco, images)
}

fn internal() -> Ingress {
    Ingress {
        tls: TlsMode::Internal,
        ..Ingress::default()
    }
}

fn units(
    eco: &Ecosystem,
    images: &pactown::export::ImageMap,
    system: bool,
) -> Vec<quadlet::UnitFile> {
    let opts = QuadletOptions {
        system,
        wanted_by: if system {
            "multi-user.target"
        } else {
            "default.target"
        }
        .into(),
        ..QuadletOptions::default()
    };
    quadlet::to_units(eco, images, &opts).unwrap()
}

fn caddyfile(units: &[quadlet::UnitFile]) -> &str {
    &units
        .iter()
        .find(|u| u.kind == UnitKind::Config)
        .unwrap()
        .contents
}

/// `caddy adapt` of the text (Caddy's own parser): required in CI, skipped without Caddy.
fn caddy_accepts(name: &str, text: &str) {
    let have = std::process::Command::new("caddy")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        assert!(
            std::env::var_os("PACTOWN_REQUIRE_ENGINES").is_none(),
            "caddy is not installed (integration/run-tests.sh installs Debian's package)"
        );
        eprintln!("caddy not installed: {name} not checked by caddy adapt");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("Caddyfile");
    std::fs::write(&path, text).unwrap();
    let o = std::process::Command::new("caddy")
        .args(["adapt", "--adapter", "caddyfile", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "caddy adapt {name}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    // no warnings about the file's formatting or unknown directives either
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !err.contains("\"level\":\"warn\""),
        "caddy adapt {name}: {err}"
    );
}

#[test]
fn system_units_with_the_local_ca() {
    let (eco, images) = shop_with(internal());
    let units = units(&eco, &images, true);
    let names: Vec<String> = units
        .iter()
        .map(|u| u.path(Scope::System).display().to_string())
        .collect();
    insta::assert_debug_snapshot!("ingress_system_paths", names);
    insta::assert_snapshot!("ingress_internal_caddyfile", caddyfile(&units));
    caddy_accepts("internal", caddyfile(&units));
    let unit = units
        .iter()
        .find(|u| u.name == "shop-ingress.service")
        .unwrap();
    insta::assert_snapshot!("ingress_system_unit", unit.contents);
    let target = units.iter().find(|u| u.kind == UnitKind::Target).unwrap();
    assert!(
        target.contents.contains("Wants=shop-ingress.service\n"),
        "{}",
        target.contents
    );
    // deterministic
    assert_eq!(units, self::units(&eco, &images, true));
}

#[test]
fn user_unit_runs_caddy_as_the_user() {
    let (eco, images) = shop_with(internal());
    let units = units(&eco, &images, false);
    let unit = units
        .iter()
        .find(|u| u.name == "shop-ingress.service")
        .unwrap();
    insta::assert_snapshot!("ingress_user_unit", unit.contents);
    assert!(!unit.contents.contains("DynamicUser"));
    assert_eq!(
        unit.path(Scope::User),
        Path::new("systemd/user/shop-ingress.service")
    );
    let plan = quadlet::install::plan(
        &units,
        Scope::User,
        Path::new("/home/u"),
        "shop.target",
        true,
    );
    let (i, _) = plan
        .files
        .iter()
        .enumerate()
        .find(|(_, (p, _))| p.ends_with("Caddyfile"))
        .unwrap();
    assert_eq!(
        plan.files[i].0,
        Path::new("/home/u/.config/pactown/shop/Caddyfile")
    );
    // a changed Caddyfile restarts the ingress; the ingress is started and waited for
    assert_eq!(plan.owners[i].as_deref(), Some("shop-ingress.service"));
    assert!(plan
        .services
        .iter()
        .any(|(s, _)| s == "shop-ingress.service"));
}

#[test]
fn acme_and_plain_http_caddyfiles() {
    let (eco, _) = shop_with(Ingress {
        tls: TlsMode::Acme,
        email: Some("ops@example.com".into()),
        acme_ca: Some("https://acme-staging-v02.api.letsencrypt.org/directory".into()),
        http_port: 8080,
        https_port: 8443,
        line: 1,
    });
    let upstream = |s: &pactown::config::ServiceSpec| s.port.map(|p| format!("127.0.0.1:{p}"));
    let acme = pactown::ingress::caddyfile(&eco, &upstream, None)
        .unwrap()
        .unwrap();
    insta::assert_snapshot!("ingress_acme_caddyfile", acme);
    caddy_accepts("acme", &acme);
    let (eco, _) = shop_with(Ingress {
        tls: TlsMode::Off,
        ..Ingress::default()
    });
    let off = pactown::ingress::caddyfile(&eco, &upstream, None)
        .unwrap()
        .unwrap();
    insta::assert_snapshot!("ingress_off_caddyfile", off);
    caddy_accepts("off", &off);
}

#[test]
fn no_ingress_no_extra_files() {
    let (eco, images) = fixtures::shop();
    let units = units(&eco, &images, true);
    assert!(units
        .iter()
        .all(|u| !matches!(u.kind, UnitKind::Config | UnitKind::Service)));
}

#[test]
fn compose_export_runs_the_proxy_after_the_exposed_services() {
    let (eco, images) = shop_with(Ingress {
        tls: TlsMode::Internal,
        http_port: 8080,
        https_port: 8443,
        ..Ingress::default()
    });
    let file = pactown::export::compose::to_compose(&eco, &images).unwrap();
    let proxy = &file.services["ingress"];
    let yaml = serde_yaml::to_string(proxy).unwrap();
    insta::assert_snapshot!("ingress_compose_service", yaml);
    assert!(proxy.image.starts_with("pactown/ingress-shop:"), "{yaml}");
    assert!(file.volumes.contains_key("shop-ingress-data"), "{yaml}");
    // the other exports and plain Compose files are unchanged without ingress
    let (plain, images) = fixtures::shop();
    let file = pactown::export::compose::to_compose(&plain, &images).unwrap();
    assert!(!file.services.contains_key("ingress"));
}

/// Parses `yaml` as `t.pactown.yaml`; the error text.
fn refused(yaml: &str) -> String {
    match pactown::config::parse(Path::new("t.pactown.yaml"), yaml) {
        Ok(_) => panic!("accepted:\n{yaml}"),
        Err(d) => d.to_string(),
    }
}

const HEAD: &str = "name: t\ningress:\n  tls: internal\nservices:\n  api:\n    port: 8100\n";

#[test]
fn hostile_and_inconsistent_values_are_refused_with_their_line() {
    for (yaml, line, what) in [
        // a host that would open a second site block, with a newline and braces
        (format!("{HEAD}    expose:\n      host: \"api.example.com {{\\n}}\\nevil.example.com\"\n"), 8, "is not a host name"),
        (format!("{HEAD}    expose:\n      host: \"api.example.com, evil.example.com\"\n"), 8, "is not a host name"),
        (format!("{HEAD}    expose:\n      host: \"{{$HOME}}.example.com\"\n"), 8, "is not a host name"),
        (format!("{HEAD}    expose:\n      host: \"*.example.com\"\n"), 8, "is not a host name"),
        (format!("{HEAD}    expose:\n      host: API.example.com\n"), 8, "is not a host name"),
        (format!("{HEAD}    expose:\n      host: https://api.example.com\n"), 8, "is not a host name"),
        (format!("{HEAD}    expose: api.example.com:443\n"), 7, "is not a host name"),
        // a path that would add a directive
        (format!("{HEAD}    expose:\n      host: api.example.com\n      path: \"/x {{\\n\\trespond 200\\n}}\"\n"), 9, "is not a plain path prefix"),
        (format!("{HEAD}    expose:\n      host: api.example.com\n      path: /a/../b\n"), 9, "is not a plain path prefix"),
        (format!("{HEAD}    expose:\n      path: /api\n"), 7, "has no `host`"),
        (format!("{HEAD}    expose:\n      host: api.example.com\n      port: 1\n"), 9, "unknown key `port`"),
        // the ACME settings go into the global block
        ("name: t\ningress:\n  tls: acme\n  email: \"ops@example.com\\n}\\n\"\nservices:\n  api:\n    port: 8100\n    expose: {host: api.example.com}\n".to_string(), 4, "is not a plain e-mail address"),
        ("name: t\ningress:\n  acme_ca: \"https://ca.example.com/dir {\"\nservices:\n  api:\n    port: 8100\n    expose: {host: api.example.com}\n".to_string(), 3, "is not an https ACME directory URL"),
        ("name: t\ningress:\n  tls: maybe\nservices:\n  api:\n    port: 8100\n".to_string(), 3, "unknown TLS mode"),
        ("name: t\ningress:\n  http_port: 0\nservices:\n  api:\n    port: 8100\n".to_string(), 3, "is not a port"),
        ("name: t\ningress:\n  http_port: 8443\n  https_port: 8443\nservices:\n  api:\n    port: 8100\n".to_string(), 2, "are both 8443"),
        ("name: t\ningress:\n  hosts: [a]\nservices:\n  api:\n    port: 8100\n".to_string(), 3, "unknown key `hosts`"),
        // consistency
        ("name: t\nservices:\n  api:\n    port: 8100\n    expose: {host: api.example.com}\n".to_string(), 5, "needs a top-level `ingress:`"),
        (format!("{HEAD}    kind: job\n    expose: {{host: api.example.com}}\n"), 8, "a job cannot be exposed"),
        ("name: t\ningress: {tls: internal}\nservices:\n  api:\n    port: null\n    expose: {host: api.example.com}\n".to_string(), 6, "has no port to route to"),
        (format!("{HEAD}    expose: {{host: api.example.com}}\n  web:\n    port: 8101\n    expose: {{host: api.example.com}}\n"), 10, "is already exposed by service `api`"),
        ("name: t\ningress: {tls: internal}\nservices:\n  ingress:\n    port: 8100\n".to_string(), 4, "is taken by the proxy"),
    ] {
        let err = refused(&yaml);
        assert!(
            err.contains(&format!("t.pactown.yaml:{line}:")) && err.contains(what),
            "expected line {line} and `{what}` for\n{yaml}\ngot: {err}"
        );
        assert!(err.contains("hint:"), "{err}");
    }
}

#[test]
fn good_files_parse() {
    let eco = pactown::config::parse(
        Path::new("t.pactown.yaml"),
        "name: t\ningress:\nservices:\n  api:\n    port: 8100\n    expose: api.example.com\n  web:\n    port: 8101\n    expose: {host: api.example.com, path: /web}\n",
    )
    .unwrap();
    let ing = eco.ingress.as_ref().unwrap();
    assert_eq!(
        (ing.tls, ing.http_port, ing.https_port),
        (TlsMode::Acme, 80, 443)
    );
    assert_eq!(eco.services[0].expose.as_ref().unwrap().path, "/");
    assert_eq!(eco.services[1].expose.as_ref().unwrap().path, "/web");
    // ACME keys with another mode: a warning, not an error
    let partial = pactown::config::parse_partial(
        Path::new("t.pactown.yaml"),
        "name: t\ningress: {tls: internal, email: ops@example.com}\nservices:\n  api:\n    port: 8100\n",
    );
    assert!(!partial.diagnostics.has_errors());
    assert!(partial
        .diagnostics
        .to_string()
        .contains("ingress.email is ignored"));
}
