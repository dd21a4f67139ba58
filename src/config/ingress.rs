//! Public ingress settings: the top-level `ingress:` (TLS mode, ACME e-mail and directory, the
//! proxy's ports) and each service's `expose:` (host name and path prefix). The values end up in
//! a Caddyfile and in systemd units, so every one is checked against a narrow grammar here —
//! there is no quoting on the way out, a value either fits or the file is refused.
use serde::Serialize;

/// The name the proxy's units and containers carry (`<ecosystem>-ingress`); no service may use it
/// when the file has an `ingress:`.
pub const INGRESS_SERVICE: &str = "ingress";

/// How the proxy gets its certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// A public ACME CA (Let's Encrypt by default, or `acme_ca`); the host names must resolve to
    /// this machine and ports 80/443 be reachable from the internet.
    Acme,
    /// Caddy's own local CA (`tls internal`); clients trust its root (`pactown ingress ca`).
    Internal,
    /// Plain HTTP only.
    Off,
}

impl std::fmt::Display for TlsMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TlsMode::Acme => "acme",
            TlsMode::Internal => "internal",
            TlsMode::Off => "off",
        })
    }
}

/// The top-level `ingress:` mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ingress {
    /// `tls:` (default `acme`).
    pub tls: TlsMode,
    /// `email:` for the ACME account (expiry notices).
    pub email: Option<String>,
    /// `acme_ca:` — the ACME directory URL (default: Let's Encrypt's production directory; e.g.
    /// its staging directory while testing).
    pub acme_ca: Option<String>,
    /// `http_port:` (default 80): plain HTTP, which redirects to HTTPS unless `tls: off`.
    pub http_port: u16,
    /// `https_port:` (default 443).
    pub https_port: u16,
    /// Line of the `ingress:` key.
    pub line: usize,
}

impl Default for Ingress {
    fn default() -> Self {
        Self {
            tls: TlsMode::Acme,
            email: None,
            acme_ca: None,
            http_port: 80,
            https_port: 443,
            line: 0,
        }
    }
}

/// A service's `expose:` mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Expose {
    /// `host:` — the public host name (lowercase DNS name).
    pub host: String,
    /// `path:` — the path prefix routed to the service (default `/`, everything); the prefix is
    /// kept in the request the service sees.
    pub path: String,
    /// Line of the `expose:` key.
    pub line: usize,
}

/// Whether `host` is a lowercase DNS host name: dot-separated labels of `a-z`, `0-9` and `-`
/// (not at either end of a label), each 1–63 characters, at most 253 in all, at least one dot
/// or `localhost`, not an IP address.
#[must_use]
pub fn is_host_name(host: &str) -> bool {
    if host.is_empty() || host.len() > 253 {
        return false;
    }
    let labels: Vec<&str> = host.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let all_digits = labels
        .last()
        .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()));
    labels.iter().all(label_ok) && !all_digits && (labels.len() > 1 || host == "localhost")
}

/// Whether `path` is a plain path prefix: `/`, or `/` followed by segments of letters, digits and
/// `-._~`, separated by single `/` (no trailing `/`, no `.`/`..` segment), at most 200 bytes.
#[must_use]
pub fn is_prefix_path(path: &str) -> bool {
    if path == "/" {
        return true;
    }
    let Some(rest) = path.strip_prefix('/') else {
        return false;
    };
    path.len() <= 200
        && rest.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
        })
}

/// Whether `email` is a plain address `LOCAL@HOST`: the local part of letters, digits and
/// `.+_-`, the host a [`is_host_name`] name.
#[must_use]
pub fn is_email(email: &str) -> bool {
    let Some((local, host)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'_' | b'-'))
        && is_host_name(&host.to_ascii_lowercase())
        && host.bytes().all(|b| !b.is_ascii_uppercase())
}

/// Whether `url` is an `https://HOST[:PORT]/PATH` ACME directory URL with a [`is_host_name`]
/// host and a path of letters, digits and `-._~/`.
#[must_use]
pub fn is_acme_directory(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("https://") else {
        return false;
    };
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host = match authority.rsplit_once(':') {
        Some((h, port)) if port.parse::<u16>().is_ok_and(|p| p > 0) => h,
        Some(_) => return false,
        None => authority,
    };
    url.len() <= 300
        && is_host_name(host)
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names() {
        for ok in [
            "api.example.com",
            "a.b",
            "x-1.example.org",
            "localhost",
            "api.vps.test",
        ] {
            assert!(is_host_name(ok), "{ok}");
        }
        for bad in [
            "",
            "API.example.com",
            "api",
            "-a.example.com",
            "a-.example.com",
            "a..b",
            "a.b.",
            "*.example.com",
            "10.0.0.1",
            "a.example.com {\n}",
            "a.example.com:443",
            "a_b.example.com",
            "ex\u{e4}mple.com",
            "a.example.com/x",
            "{$HOME}.example.com",
        ] {
            assert!(!is_host_name(bad), "{bad:?}");
        }
        assert!(!is_host_name(&format!("{}.com", "a".repeat(64))));
    }

    #[test]
    fn prefix_paths() {
        for ok in ["/", "/api", "/api/v1", "/a.b_c~d-e"] {
            assert!(is_prefix_path(ok), "{ok}");
        }
        for bad in [
            "", "api", "/api/", "//", "/a//b", "/..", "/a/../b", "/a b", "/a*", "/a{", "/a}",
            "/a\n", "/a#", "/a?x=1", "/%2e", "/a\"",
        ] {
            assert!(!is_prefix_path(bad), "{bad:?}");
        }
    }

    #[test]
    fn emails_and_directories() {
        assert!(is_email("ops+tls@example.com"));
        for bad in [
            "ops",
            "@example.com",
            "ops@",
            "o ps@example.com",
            "ops@Example.com",
            "a@b@c.d",
            "ops@x}",
        ] {
            assert!(!is_email(bad), "{bad:?}");
        }
        assert!(is_acme_directory(
            "https://acme-staging-v02.api.letsencrypt.org/directory"
        ));
        assert!(is_acme_directory(
            "https://ca.internal:9000/acme/acme/directory"
        ));
        for bad in [
            "http://acme.example.com/directory",
            "https://acme.example.com/dir ectory",
            "https://acme.example.com:0/x",
            "https://acme.example.com/x}\n",
            "https://user@acme.example.com/x",
        ] {
            assert!(!is_acme_directory(bad), "{bad:?}");
        }
    }
}
