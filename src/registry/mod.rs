//! The markpact registry: a small HTTP service that stores READMEs by namespace, name and
//! semver version ([`server`], [`store`]), and the client side of it ([`client`]) used by
//! `pactown publish` ([`publish`]) and `pactown pull` ([`pull`], [`lock`]).
//!
//! Trust rules: names and namespaces match `[a-z0-9][a-z0-9._-]{0,63}`, versions are semver and
//! immutable once published, READMEs must parse as markpact and stay under 1 MiB, writes need a
//! bearer token scoped to the namespace ([`auth`]), reads are open, clients are rate limited per
//! IP ([`ratelimit`]), and every README is checked against its sha256 on the way in and out.
pub mod auth;
pub mod client;
pub mod guard;
pub mod lock;
pub mod model;
pub mod openapi;
pub mod publish;
pub mod pull;
pub mod ratelimit;
pub mod server;
pub mod store;

pub use client::{Client, ClientError, DEFAULT_URL};
pub use lock::{resolve_vendor, LockEntry, LockFile, LOCK_FILE, VENDOR_DIR};
pub use model::{PublishRequest, PublishResponse};
pub use server::{start, Running, ServeConfig};

use std::path::PathBuf;

/// Default storage folder of `pactown registry serve`: `$XDG_DATA_HOME/pactown/registry`, else
/// `~/.local/share/pactown/registry`, else `./.pactown-registry`.
#[must_use]
pub fn default_storage() -> PathBuf {
    if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("pactown").join("registry");
    }
    if let Some(h) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(h).join(".local/share/pactown/registry");
    }
    PathBuf::from(".pactown-registry")
}

/// The registry URL to use: the explicit one (flag or `PACTOWN_REGISTRY_URL`), else the
/// ecosystem's `registry.url`, else [`DEFAULT_URL`].
#[must_use]
pub fn registry_url(explicit: Option<&str>, eco: &crate::config::Ecosystem) -> String {
    explicit
        .map(str::to_string)
        .or_else(|| eco.registry.as_ref().map(|r| r.url.clone()))
        .unwrap_or_else(|| DEFAULT_URL.to_string())
}
