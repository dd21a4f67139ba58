//! The registry's data: the on-disk index, the JSON shapes of the HTTP API (compatible with the
//! original Python registry) and the naming/version rules every write is checked against.
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

/// Largest README body accepted by `publish` (bytes of UTF-8).
pub const MAX_README_BYTES: usize = 1024 * 1024;
/// Largest request body the server reads (JSON escaping can double a README).
pub const MAX_BODY_BYTES: usize = 4 * MAX_README_BYTES;
/// Most tags an artifact may carry.
pub const MAX_TAGS: usize = 32;
/// Longest tag, in characters.
pub const MAX_TAG_CHARS: usize = 64;
/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 4096;
/// Longest version string, in bytes (a semver version with pre-release and build parts).
pub const MAX_VERSION_BYTES: usize = 64;
/// Largest `metadata` of a publish, as compact JSON (bytes): it is stored inline in the index.
pub const MAX_METADATA_BYTES: usize = 8 * 1024;
/// Namespace used when a publish request names none (as the original does).
pub const DEFAULT_NAMESPACE: &str = "default";

/// True for a valid artifact name or namespace: `[a-z0-9][a-z0-9._-]{0,63}`.
#[must_use]
pub fn is_valid_name(word: &str) -> bool {
    let bytes = word.as_bytes();
    match bytes.split_first() {
        Some((first, rest)) => {
            (first.is_ascii_lowercase() || first.is_ascii_digit())
                && rest.len() <= 63
                && rest.iter().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
                })
        }
        None => false,
    }
}

/// True for a version a registry may store or answer with: semver, at most
/// [`MAX_VERSION_BYTES`] long. Such a string has no `/`, no `..` segment and no control
/// character, so it is safe as one path segment.
#[must_use]
pub fn is_valid_version(version: &str) -> bool {
    version.len() <= MAX_VERSION_BYTES && semver::Version::parse(version).is_ok()
}

/// True for a lowercase hex sha256 (64 characters).
#[must_use]
pub fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `text` for an error message: control characters escaped (`\u{1b}`), at most `max` characters
/// (a value from a peer or a file is never printed raw to a terminal).
#[must_use]
pub fn printable(text: &str, max: usize) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == max {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Hex sha256 of bytes (the checksum the API reports for a README).
#[must_use]
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

/// The highest version of a set by semver precedence, preferring releases over pre-releases
/// (a pre-release is `latest` only when there is no release at all). Strings that are not
/// semver are ignored.
#[must_use]
pub fn latest_of<'a>(versions: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut best: Option<(bool, semver::Version, &'a str)> = None;
    for text in versions {
        let Ok(v) = semver::Version::parse(text) else {
            continue;
        };
        let release = v.pre.is_empty();
        let better = match &best {
            None => true,
            Some((best_release, best_v, _)) => (release, &v) > (*best_release, best_v),
        };
        if better {
            best = Some((release, v, text));
        }
    }
    best.map(|(_, _, text)| text)
}

/// Versions sorted by semver precedence, lowest first (non-semver strings last, by text).
#[must_use]
pub fn sorted_versions<'a>(versions: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut list: Vec<(Option<semver::Version>, &str)> = versions
        .into_iter()
        .map(|t| (semver::Version::parse(t).ok(), t))
        .collect();
    list.sort_by(|a, b| match (&a.0, &b.0) {
        (Some(x), Some(y)) => x.cmp(y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.1.cmp(b.1),
    });
    list.into_iter().map(|(_, t)| t.to_string()).collect()
}

/// Current UTC time as RFC 3339 with microseconds (`2024-05-01T12:00:00.123456+00:00`, the form
/// Python's `isoformat()` writes for the original registry).
#[must_use]
pub fn now_rfc3339() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(d.as_secs(), d.subsec_micros())
}

/// Formats seconds since the epoch (plus microseconds) as RFC 3339 UTC.
#[must_use]
pub fn rfc3339(secs: u64, micros: u32) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{micros:06}+00:00",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// One published version in the index. The README and the metadata live in the blob store under
/// their checksums, so the index stays small (a few hundred bytes per version, whatever the
/// metadata) and each is written once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionRecord {
    /// The semver version as published.
    pub version: String,
    /// Hex sha256 of the README (also its blob address).
    pub checksum: String,
    /// Size of the README in bytes.
    #[serde(default)]
    pub size: u64,
    /// Publication time, RFC 3339.
    pub published_at: String,
    /// Hex sha256 of the metadata given at publication (compact JSON, a blob beside the
    /// README); `None` when none was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_checksum: Option<String>,
    /// Metadata inline, as indexes written before metadata moved to blobs held it; such an
    /// index is migrated when the store opens, and this stays empty afterwards.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

/// One artifact (a markpact module) in the index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactRecord {
    /// Artifact name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// Latest description given.
    #[serde(default)]
    pub description: String,
    /// Published versions by version string.
    #[serde(default)]
    pub versions: BTreeMap<String, VersionRecord>,
    /// Highest version (see [`latest_of`]).
    #[serde(default)]
    pub latest_version: Option<String>,
    /// First publication, RFC 3339.
    pub created_at: String,
    /// Last publication, RFC 3339.
    pub updated_at: String,
    /// Union of the tags given, sorted.
    #[serde(default)]
    pub tags: Vec<String>,
}

impl ArtifactRecord {
    /// `namespace/name`.
    #[must_use]
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// A version by exact string, or the latest for `latest` (and `*`, as the original).
    #[must_use]
    pub fn get_version(&self, version: &str) -> Option<&VersionRecord> {
        if version == "latest" || version == "*" {
            self.latest_version
                .as_deref()
                .and_then(|v| self.versions.get(v))
        } else {
            self.versions.get(version)
        }
    }

    /// The public summary of this artifact.
    #[must_use]
    pub fn info(&self) -> ArtifactInfo {
        ArtifactInfo {
            name: self.name.clone(),
            namespace: self.namespace.clone(),
            description: self.description.clone(),
            latest_version: self.latest_version.clone(),
            versions: sorted_versions(self.versions.keys().map(String::as_str)),
            tags: self.tags.clone(),
        }
    }
}

/// The whole index file (`index.json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    /// Format version of this file (1).
    #[serde(default = "format_one")]
    pub format: u32,
    /// Artifacts by `namespace/name`.
    #[serde(default)]
    pub artifacts: BTreeMap<String, ArtifactRecord>,
    /// Checksums of versions of deleted artifacts, by `namespace/name` then version: a deleted
    /// version can be published again only with the same content (versions stay immutable).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tombstones: BTreeMap<String, BTreeMap<String, String>>,
    /// Time of the last write.
    #[serde(default)]
    pub updated_at: String,
}

fn format_one() -> u32 {
    1
}

/// Body of `POST /v1/publish`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishRequest {
    /// Artifact name.
    pub name: String,
    /// Semver version.
    pub version: String,
    /// The README (a markpact document).
    pub readme_content: String,
    /// Namespace (default `default`).
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Free metadata.
    #[serde(default)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

fn default_namespace() -> String {
    DEFAULT_NAMESPACE.to_string()
}

/// Answer of a successful publish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishResponse {
    /// Always true.
    pub success: bool,
    /// `namespace/name`.
    pub artifact: String,
    /// The version published.
    pub version: String,
    /// Hex sha256 of the README.
    pub checksum: String,
}

/// Summary of an artifact (`GET /v1/artifacts…`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactInfo {
    /// Name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// Description.
    pub description: String,
    /// Highest version.
    pub latest_version: Option<String>,
    /// All versions, lowest first.
    pub versions: Vec<String>,
    /// Tags.
    pub tags: Vec<String>,
}

/// One version with its README (`GET /v1/artifacts/{ns}/{name}/{version}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionInfo {
    /// The version.
    pub version: String,
    /// The README.
    pub readme_content: String,
    /// Hex sha256 of the README.
    pub checksum: String,
    /// Publication time.
    pub published_at: String,
    /// Free metadata.
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

/// Every 4xx/5xx answer of the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Stable machine code (`not_found`, `invalid_json`, `version_conflict`, …).
    pub error: String,
    /// What went wrong and what to do, for people.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["a", "0", "my-api", "a.b_c-d", &"a".repeat(64)] {
            assert!(is_valid_name(ok), "{ok}");
        }
        for bad in [
            "",
            "-a",
            ".a",
            "A",
            "a/b",
            "a b",
            "ä",
            &"a".repeat(65),
            "..",
            "a@1",
        ] {
            assert!(!is_valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn latest_prefers_highest_release() {
        assert_eq!(latest_of(["1.2.0", "1.10.0", "1.9.9"]), Some("1.10.0"));
        assert_eq!(latest_of(["1.0.0", "2.0.0-rc.1"]), Some("1.0.0"));
        assert_eq!(latest_of(["2.0.0-rc.1", "2.0.0-beta"]), Some("2.0.0-rc.1"));
        assert_eq!(latest_of(["x"]), None);
        assert_eq!(
            sorted_versions(["1.10.0", "1.2.0", "0.1.0-a"]),
            vec!["0.1.0-a", "1.2.0", "1.10.0"]
        );
    }

    #[test]
    fn rfc3339_known_dates() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000000+00:00");
        assert_eq!(rfc3339(951_782_400, 5), "2000-02-29T00:00:00.000005+00:00");
        assert_eq!(
            rfc3339(1_700_000_000, 0),
            "2023-11-14T22:13:20.000000+00:00"
        );
    }
}
