//! Stable content keys. Everything is sha256 (never std's `DefaultHasher`, which is not stable
//! across Rust releases): the context digest is the sha256 of the deterministic context tar, which
//! contains the rendered Containerfile (so the base-image tag and the renderer version are part
//! of it), the manifests, the code, the scripts and the CA bundle. The image tag is derived from
//! it, so "tag exists" means "this exact input was built before".
use crate::markpact::Runtime;
use sha2::{Digest, Sha256};

/// `sha256:<64 hex>` of some bytes.
#[must_use]
pub fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The first 12 hex digits of a `sha256:` digest (or of a bare hex string).
#[must_use]
pub fn short(digest: &str) -> &str {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    hex.get(..12).unwrap_or(hex)
}

/// `pactown/<runtime>-<service>:<12 hex of the context digest>`.
#[must_use]
pub fn image_tag(runtime: Runtime, service: &str, context_digest: &str) -> String {
    format!(
        "pactown/{runtime}-{}:{}",
        repository_component(service),
        short(context_digest)
    )
}

/// `pactown/deps-<runtime>:<12 hex of the dependency context digest>`.
#[must_use]
pub fn deps_tag(runtime: Runtime, deps_digest: &str) -> String {
    format!("pactown/deps-{runtime}:{}", short(deps_digest))
}

/// `pactown/deps-<runtime>-<service>:latest`: the dependency image a service's last build used,
/// the starting point of its next dependency install.
#[must_use]
pub fn deps_seed_tag(runtime: Runtime, service: &str) -> String {
    format!(
        "pactown/deps-{runtime}-{}:latest",
        repository_component(service)
    )
}

/// A service name made valid as one component of an image repository name: lowercase
/// `[a-z0-9]` runs joined by single `-`, `.` or `_`.
#[must_use]
pub fn repository_component(name: &str) -> String {
    let mut out = String::new();
    let mut pending_sep: Option<char> = None;
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            if let Some(sep) = pending_sep.take() {
                if !out.is_empty() {
                    out.push(sep);
                }
            }
            out.push(c);
        } else if pending_sep.is_none() {
            pending_sep = Some(if c == '.' || c == '_' { c } else { '-' });
        } else {
            pending_sep = Some('-');
        }
    }
    if out.is_empty() {
        out.push_str("service");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags() {
        let d = digest(b"abc");
        assert_eq!(
            d,
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(short(&d), "ba7816bf8f01");
        assert_eq!(
            image_tag(Runtime::Python, "API", &d),
            "pactown/python-api:ba7816bf8f01"
        );
        assert_eq!(repository_component("-My..Web_app-"), "my-web_app");
        assert_eq!(repository_component("%%"), "service");
    }
}
