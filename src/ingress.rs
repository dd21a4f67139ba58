//! The public ingress: one Caddy per ecosystem in front of the services with `expose:`.
//!
//! [`caddyfile`] is pure: it renders the ecosystem's `ingress:` and `expose:` settings as a
//! Caddyfile routing each host name (and path prefix) to an upstream address the caller chooses
//! (`127.0.0.1:PORT` for the Quadlet units, whose containers publish on the host's loopback).
//! Every value that reaches the file was checked by [`crate::config::ingress`] when the ecosystem
//! file was read, and is checked again here, so a hostile value is refused, never escaped.
//!
//! With `tls: internal` Caddy signs the certificates with its own local CA; its root certificate
//! lives in Caddy's data folder ([`local_ca_path`]), which `pactown ingress ca` prints.
use crate::config::ingress::{self, Expose, Ingress, TlsMode};
use crate::config::{Ecosystem, ServiceSpec};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Why a Caddyfile cannot be rendered.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IngressError {
    /// A value that does not fit its grammar (only possible for an ecosystem built in code; the
    /// file reader refuses these with a line number).
    #[error("ingress: {what} `{value}` is refused: {why}")]
    Unsafe {
        /// The key, e.g. `services.api.expose.host`.
        what: String,
        /// The value, escaped for display.
        value: String,
        /// The rule it breaks.
        why: &'static str,
    },
    /// An exposed service the proxy cannot route to.
    #[error("ingress: service `{service}` is exposed but {why}")]
    NoUpstream {
        /// The service.
        service: String,
        /// What is missing.
        why: &'static str,
    },
}

/// The ports Caddy listens on when they differ from the public `http_port`/`https_port`: in a
/// container, which publishes its listeners on the public ports (non-root, so above 1024).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listen {
    /// Plain HTTP listener.
    pub http: u16,
    /// HTTPS listener.
    pub https: u16,
    /// Caddy's admin API on this Unix socket (inside the container, so only a command run there
    /// can reach it: [`crate::deploy::surge`] reads the upstream counts there); `None`:
    /// `admin off`.
    pub admin: Option<&'static str>,
}

/// Caddy's data folder below its `XDG_DATA_HOME`, and the root certificate of its local CA in
/// it (`tls internal`).
pub const LOCAL_CA_ROOT: &str = "caddy/pki/authorities/local/root.crt";

/// The most of a request body the proxy buffers so that it can retry the request on another
/// dial (a larger body is streamed, and not retried once sent).
pub const REQUEST_BUFFER: &str = "1MB";

/// How long the proxy skips an upstream whose dial failed, beside another one.
pub const FAIL_DURATION: std::time::Duration = std::time::Duration::from_secs(2);

/// The services with `expose:`, in YAML order.
pub fn exposed(eco: &Ecosystem) -> impl Iterator<Item = (&ServiceSpec, &Expose)> {
    eco.services
        .iter()
        .filter_map(|s| s.expose.as_ref().map(|e| (s, e)))
}

/// Whether the ecosystem needs a proxy: it has `ingress:` and at least one exposed service.
#[must_use]
pub fn wanted(eco: &Ecosystem) -> bool {
    eco.ingress.is_some() && exposed(eco).next().is_some()
}

fn unsafe_value(what: String, value: &str, why: &'static str) -> IngressError {
    IngressError::Unsafe {
        what,
        value: value.escape_debug().to_string(),
        why,
    }
}

/// Checks every value the Caddyfile will hold.
fn check(eco: &Ecosystem, ing: &Ingress) -> Result<(), IngressError> {
    if let Some(e) = &ing.email {
        if !ingress::is_email(e) {
            return Err(unsafe_value(
                "ingress.email".into(),
                e,
                "not a plain e-mail address",
            ));
        }
    }
    if let Some(u) = &ing.acme_ca {
        if !ingress::is_acme_directory(u) {
            return Err(unsafe_value(
                "ingress.acme_ca".into(),
                u,
                "not an https ACME directory URL",
            ));
        }
    }
    for (svc, e) in exposed(eco) {
        if !ingress::is_host_name(&e.host) {
            return Err(unsafe_value(
                format!("services.{}.expose.host", svc.name),
                &e.host,
                "not a lowercase DNS host name",
            ));
        }
        if !ingress::is_prefix_path(&e.path) {
            return Err(unsafe_value(
                format!("services.{}.expose.path", svc.name),
                &e.path,
                "not a plain path prefix",
            ));
        }
        if svc.is_job() {
            return Err(IngressError::NoUpstream {
                service: svc.name.clone(),
                why: "is a job",
            });
        }
        if svc.port.is_none() {
            return Err(IngressError::NoUpstream {
                service: svc.name.clone(),
                why: "has no port",
            });
        }
    }
    Ok(())
}

/// Renders the Caddyfile of `eco` (empty `Ok(None)` without `ingress:` or exposed services).
/// `upstream` gives the address (`HOST:PORT`) the proxy dials for a service.
///
/// Layout: a global block (`admin off` — each ecosystem runs its own Caddy, so none may hold the
/// shared admin port — or the admin socket of [`Listen::admin`], the ports,
/// `skip_install_trust`, the ACME e-mail and directory), then one site block per host name in
/// sorted order. A host with one service at `/` is a plain
/// `reverse_proxy`; with path prefixes each gets a named matcher `@NAME path /P /P/*` and a
/// `handle`, longest prefix first, `/` last. `tls: internal` adds `tls internal` to each site,
/// `tls: off` writes the sites as `http://HOST`. With an `https_port` other than 443 each host
/// also gets an explicit `http://HOST` site redirecting to `https://HOST:PORT` (Caddy's automatic
/// redirect would drop the port). The proxy retries a refused connection (a request body of up
/// to [`REQUEST_BUFFER`] is buffered for that) for the service's `timeout` (at least 30 s, at
/// most 120 s: a restart under load took over 8 s), with a 2 s dial time-out and no kept-alive
/// upstream connections, so a request that arrives while its service restarts waits instead of
/// failing.
///
/// # Errors
/// [`IngressError`] for a value outside its grammar or an exposed service without a port.
pub fn caddyfile(
    eco: &Ecosystem,
    upstream: &dyn Fn(&ServiceSpec) -> Option<String>,
    listen: Option<Listen>,
) -> Result<Option<String>, IngressError> {
    caddyfile_routed(eco, &|s| upstream(s).map(|a| vec![a]), listen)
}

/// [`caddyfile`] with any number of upstream addresses per service: with more than one, the
/// proxy sends every request to the first that is up (`lb_policy first`), skips one whose dial
/// failed for [`FAIL_DURATION`] (passive health) and retries a failed dial after 50 ms, so an
/// address that stops resolving costs one retried dial, not an error.
///
/// # Errors
/// As [`caddyfile`]; an empty list is "no address".
pub fn caddyfile_routed(
    eco: &Ecosystem,
    upstream: &dyn Fn(&ServiceSpec) -> Option<Vec<String>>,
    listen: Option<Listen>,
) -> Result<Option<String>, IngressError> {
    let Some(ing) = &eco.ingress else {
        return Ok(None);
    };
    if !wanted(eco) {
        return Ok(None);
    }
    check(eco, ing)?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Caddyfile of the pactown ecosystem {}: written by pactown from {}; edit that file, not this one.",
        eco.name,
        eco.file.file_name().map_or_else(
            || "the ecosystem file".to_string(),
            |f| f.to_string_lossy().escape_debug().to_string()
        )
    );
    let listen = listen.unwrap_or(Listen {
        http: ing.http_port,
        https: ing.https_port,
        admin: None,
    });
    match listen.admin {
        Some(socket) => {
            let _ = writeln!(out, "{{\n\tadmin unix/{socket}");
        }
        None => out.push_str("{\n\tadmin off\n"),
    }
    let _ = writeln!(out, "\thttp_port {}", listen.http);
    let _ = writeln!(out, "\thttps_port {}", listen.https);
    match ing.tls {
        TlsMode::Internal => out.push_str("\tskip_install_trust\n"),
        TlsMode::Acme => {
            if let Some(e) = &ing.email {
                let _ = writeln!(out, "\temail {e}");
            }
            if let Some(u) = &ing.acme_ca {
                let _ = writeln!(out, "\tacme_ca {u}");
            }
        }
        TlsMode::Off => out.push_str("\tauto_https off\n"),
    }
    out.push_str("}\n");

    let mut hosts: Vec<&str> = exposed(eco).map(|(_, e)| e.host.as_str()).collect();
    hosts.sort_unstable();
    hosts.dedup();
    for host in hosts {
        let mut routes: Vec<(&ServiceSpec, &Expose)> =
            exposed(eco).filter(|(_, e)| e.host == host).collect();
        // longest prefix first, `/` last (equal lengths: by path, for a stable file)
        routes.sort_by(|a, b| {
            b.1.path
                .len()
                .cmp(&a.1.path.len())
                .then(a.1.path.cmp(&b.1.path))
        });
        out.push('\n');
        if ing.tls == TlsMode::Off {
            let _ = writeln!(out, "http://{host} {{");
        } else {
            let _ = writeln!(out, "{host} {{");
        }
        if ing.tls == TlsMode::Internal {
            out.push_str("\ttls internal\n");
        }
        let single = routes.len() == 1 && routes.first().is_some_and(|(_, e)| e.path == "/");
        for (svc, e) in &routes {
            let Some(addrs) = upstream(svc).filter(|a| !a.is_empty()) else {
                return Err(IngressError::NoUpstream {
                    service: svc.name.clone(),
                    why: "has no address the proxy can reach",
                });
            };
            let indent = if single || e.path == "/" {
                if !single {
                    out.push_str("\thandle {\n");
                }
                if single {
                    "\t"
                } else {
                    "\t\t"
                }
            } else {
                let _ = writeln!(out, "\t@{} path {} {}/*", svc.name, e.path, e.path);
                let _ = writeln!(out, "\thandle @{} {{", svc.name);
                "\t\t"
            };
            let _ = writeln!(out, "{indent}reverse_proxy {} {{", addrs.join(" "));
            if addrs.len() > 1 {
                let _ = writeln!(
                    out,
                    "{indent}\tlb_policy first\n{indent}\tfail_duration {}s",
                    FAIL_DURATION.as_secs()
                );
            }
            let _ = writeln!(
                out,
                "{indent}\tlb_try_duration {}s",
                svc.timeout.clamp(30, 120)
            );
            // beside another upstream a failed dial is retried on it at once
            let interval = if addrs.len() > 1 { "50ms" } else { "250ms" };
            let _ = writeln!(out, "{indent}\tlb_try_interval {interval}");
            // a request with a body is retried only from a buffer (else a POST that meets a
            // restart fails at once); bounded, so a large upload streams as before
            let _ = writeln!(
                out,
                "{indent}\tbuffer_requests\n{indent}\tmax_buffer_size {REQUEST_BUFFER}"
            );
            // a fresh connection per request: a kept-alive one may lead to a container that is
            // gone (its address no longer answers, nothing refuses), which is not retried
            let _ = writeln!(
                out,
                "{indent}\ttransport http {{\n{indent}\t\tdial_timeout 2s\n{indent}\t\tkeepalive off\n{indent}\t}}"
            );
            let _ = writeln!(out, "{indent}}}");
            if !single {
                out.push_str("\t}\n");
            }
        }
        if routes.iter().all(|(_, e)| e.path != "/") {
            out.push_str("\thandle {\n\t\trespond 404\n\t}\n");
        }
        out.push_str("}\n");
        if ing.tls != TlsMode::Off && (ing.https_port != 443 || listen.https != ing.https_port) {
            // Caddy's own HTTP→HTTPS redirect drops a non-default HTTPS port, and names the
            // port it listens on, not the one clients reach
            let port = if ing.https_port == 443 {
                String::new()
            } else {
                format!(":{}", ing.https_port)
            };
            let _ = writeln!(
                out,
                "\nhttp://{host} {{\n\tredir https://{host}{port}{{uri}} 308\n}}"
            );
        }
    }
    Ok(Some(out))
}

/// Where Caddy's local CA root is for a Caddy whose `XDG_DATA_HOME` is `data_home`.
#[must_use]
pub fn local_ca_path(data_home: &Path) -> PathBuf {
    data_home.join(LOCAL_CA_ROOT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eco(yaml: &str) -> Ecosystem {
        crate::config::parse(Path::new("t.pactown.yaml"), yaml).unwrap()
    }

    fn local(svc: &ServiceSpec) -> Option<String> {
        svc.port.map(|p| format!("127.0.0.1:{p}"))
    }

    #[test]
    fn no_ingress_no_file() {
        let e = eco("name: t\nservices:\n  api:\n    port: 8100\n");
        assert_eq!(caddyfile(&e, &local, None).unwrap(), None);
        let e = eco("name: t\ningress: {tls: internal}\nservices:\n  api:\n    port: 8100\n");
        assert_eq!(caddyfile(&e, &local, None).unwrap(), None);
    }

    #[test]
    fn a_hostile_value_set_in_code_is_refused() {
        let mut e = eco(
            "name: t\ningress: {tls: internal}\nservices:\n  api:\n    port: 8100\n    expose: {host: api.example.com}\n",
        );
        if let Some(x) = e.services[0].expose.as_mut() {
            x.host = "api.example.com {\n}\nevil.example.com".into();
        }
        let err = caddyfile(&e, &local, None).unwrap_err();
        assert!(
            err.to_string().contains("services.api.expose.host"),
            "{err}"
        );
        if let Some(x) = e.services[0].expose.as_mut() {
            x.host = "api.example.com".into();
            x.path = "/x {\n\trespond 200\n}".into();
        }
        assert!(caddyfile(&e, &local, None).is_err());
    }
}
