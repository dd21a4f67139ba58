//! The config hash stored in `io.pactown.config-hash`: a stable sha256 over everything that
//! shapes a service's containers. Same inputs, same hash, on every Rust release and machine
//! (never std's `DefaultHasher`).
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Bumped when the meaning of the hashed fields changes, so old containers get recreated.
const HASH_VERSION: u32 = 1;

/// What goes into the hash. Serialized as JSON with sorted maps, so it is canonical.
#[derive(Debug, Serialize)]
pub struct HashInput<'a> {
    /// Image tag the containers run.
    pub image: &'a str,
    /// Image id (changes on rebuild even when a tag is reused).
    pub image_id: &'a str,
    /// Full container environment.
    pub env: &'a BTreeMap<String, String>,
    /// Container port (host side may move to a free port); `None` without one.
    pub port: Option<u16>,
    /// A one-shot job (left out when false, so services keep their hash).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub job: bool,
    /// The `health_cmd` (left out when there is none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_cmd: Option<&'a str>,
    /// Number of replicas.
    pub replicas: u32,
    /// Restart policy.
    pub restart: bool,
    /// Health-check path.
    pub health_path: Option<&'a str>,
    /// Isolation and limits; `None` (left out of the hash) for the engine's defaults.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub isolation: Option<&'a crate::deploy::isolation::Isolation>,
    /// Host port of replica 1 when it is not the container port (left out otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_port: Option<u16>,
    /// Further published `(container, host)` ports (left out when there are none).
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub extra_ports: &'a [(u16, u16)],
    /// A Swarm endpoint mode other than the default DNS round robin (left out otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint_mode: Option<super::EndpointMode>,
}

#[derive(Serialize)]
struct Versioned<'a> {
    v: u32,
    #[serde(flatten)]
    input: &'a HashInput<'a>,
}

/// The first 16 bytes (32 hex digits) of the sha256 of the canonical JSON of `input`: short
/// enough for a label, far beyond collision concerns for comparing two configurations.
#[must_use]
pub fn config_hash(input: &HashInput<'_>) -> String {
    let versioned = Versioned {
        v: HASH_VERSION,
        input,
    };
    // Serializing plain strings, integers and a BTreeMap cannot fail; fall back to Debug anyway.
    let bytes =
        serde_json::to_vec(&versioned).unwrap_or_else(|_| format!("{input:?}").into_bytes());
    let digest = Sha256::digest(&bytes);
    let short: Vec<u8> = digest.iter().copied().take(16).collect();
    hex::encode(short)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(env: &BTreeMap<String, String>) -> HashInput<'_> {
        HashInput {
            image: "pactown/python-api:abc",
            image_id: "sha256:1",
            env,
            port: Some(8100),
            job: false,
            health_cmd: None,
            replicas: 1,
            restart: true,
            health_path: Some("/health"),
            isolation: None,
            host_port: None,
            extra_ports: &[],
            endpoint_mode: None,
        }
    }

    #[test]
    fn stable_and_sensitive() {
        let mut env = BTreeMap::new();
        env.insert("A".to_string(), "1".to_string());
        let a = config_hash(&input(&env));
        // pinned: a change here means every running container gets recreated after an upgrade
        assert_eq!(a.len(), 32);
        assert_eq!(a, config_hash(&input(&env)));
        env.insert("A".to_string(), "2".to_string());
        assert_ne!(a, config_hash(&input(&env)));
        let env1 = BTreeMap::new();
        let mut i = input(&env1);
        let b = config_hash(&i);
        i.replicas = 2;
        assert_ne!(b, config_hash(&i));
        i.replicas = 1;
        i.health_path = None;
        assert_ne!(b, config_hash(&i));
    }
}
