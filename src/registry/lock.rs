//! `pactown.lock` and the vendor folder: READMEs pulled from a registry are kept under
//! `.pactown/vendor/<ns>/<name>/<version>/README.md` next to the ecosystem file, and the lock
//! file pins each `registry:` reference to a version and the sha256 of its README.
use super::model::{is_sha256_hex, is_valid_name, is_valid_version, printable, sha256_hex};
use super::store::atomic_write;
use crate::config::{Ecosystem, ReadmeSource};
use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// File name of the lock file, next to the ecosystem file.
pub const LOCK_FILE: &str = "pactown.lock";
/// Vendor folder, relative to the ecosystem file's folder.
pub const VENDOR_DIR: &str = ".pactown/vendor";

/// One pinned `registry:` reference.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LockEntry {
    /// Namespace.
    pub namespace: String,
    /// Artifact name.
    pub name: String,
    /// The version as written in the ecosystem file (`latest`, `1.2.0`…).
    pub requested: String,
    /// The exact version it resolved to.
    pub version: String,
    /// Hex sha256 of the README.
    pub checksum: String,
    /// Vendored README, relative to the ecosystem folder, `/`-separated.
    pub path: String,
}

/// The lock file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockFile {
    /// Format version (1).
    pub version: u32,
    /// Pinned references, sorted.
    #[serde(default)]
    pub artifacts: Vec<LockEntry>,
}

impl Default for LockFile {
    fn default() -> Self {
        Self {
            version: 1,
            artifacts: Vec::new(),
        }
    }
}

impl LockFile {
    /// The entry for a reference.
    #[must_use]
    pub fn find(&self, namespace: &str, name: &str, requested: &str) -> Option<&LockEntry> {
        self.artifacts
            .iter()
            .find(|e| e.namespace == namespace && e.name == name && e.requested == requested)
    }
}

/// A problem with the lock file or the vendor folder.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// A file cannot be read or written.
    #[error("{context} {path}: {source}")]
    Io {
        /// What was being done.
        context: &'static str,
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The lock file does not parse.
    #[error("{path} is not a valid lock file: {reason}; delete it and run `pactown pull` again")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: LockProblem,
    },
    /// A vendor path that would leave `.pactown/vendor/` (a hostile registry answer or lock file).
    #[error("refusing to write {path}: it resolves outside {VENDOR_DIR}/ of {dir}")]
    Outside {
        /// The path that was to be written.
        path: PathBuf,
        /// The ecosystem folder.
        dir: PathBuf,
    },
}

/// Why a lock file is not valid ([`LockError::Invalid`]); values are escaped and cut.
#[derive(Debug, thiserror::Error)]
pub enum LockProblem {
    /// Not the lock file's JSON.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// A `version` other than 1.
    #[error("unknown format version {0}")]
    FormatVersion(u32),
    /// An entry whose requested version is neither `latest`, `*` nor a registry word.
    #[error("entry `{artifact}` has requested version `{requested}`")]
    Requested {
        /// `namespace/name`.
        artifact: String,
        /// The requested version.
        requested: String,
    },
    /// An entry whose checksum is not a sha256 in hex.
    #[error("entry `{artifact}` has checksum `{checksum}`, not a hex sha256")]
    Checksum {
        /// `namespace/name`.
        artifact: String,
        /// The checksum.
        checksum: String,
    },
    /// An entry whose path is not the vendor path its name and version give.
    #[error("entry `{artifact}` has path `{path}` instead of `{expected}`")]
    Path {
        /// `namespace/name@version`.
        artifact: String,
        /// The path in the file.
        path: String,
        /// The vendor path.
        expected: String,
    },
    /// An entry whose namespace, name or version is not valid.
    #[error("entry `{0}` is not a valid namespace/name@version")]
    Name(String),
}

/// Path of the lock file of an ecosystem.
#[must_use]
pub fn lock_path(eco: &Ecosystem) -> PathBuf {
    eco.dir.join(LOCK_FILE)
}

/// Vendor path of a README, relative to the ecosystem folder, or `None` when a part is not a
/// valid name, namespace or semver version (and so could not be one safe path segment).
#[must_use]
pub fn vendor_relative(namespace: &str, name: &str, version: &str) -> Option<String> {
    (is_valid_name(namespace) && is_valid_name(name) && is_valid_version(version))
        .then(|| format!("{VENDOR_DIR}/{namespace}/{name}/{version}/README.md"))
}

/// Creates the folders of a vendored README and returns its absolute path, refusing a path that
/// could resolve outside `<dir>/.pactown/vendor/`: any `..` or other non-plain part, and any
/// symbolic link (or other non-folder) on the way — `.pactown`, the vendor folder, a namespace,
/// artifact or version folder — or as the README itself. Nothing is created through a link.
///
/// # Errors
/// [`LockError::Outside`] and IO errors.
pub fn prepare_vendor_file(dir: &Path, relative: &str) -> Result<PathBuf, LockError> {
    let path = dir.join(relative);
    let outside = || LockError::Outside {
        path: path.clone(),
        dir: dir.to_path_buf(),
    };
    let rel = Path::new(relative);
    if !rel.starts_with(VENDOR_DIR)
        || !rel
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
    {
        return Err(outside());
    }
    fn io<'a>(context: &'static str, p: &'a Path) -> impl FnOnce(std::io::Error) -> LockError + 'a {
        move |source| LockError::Io {
            context,
            path: p.to_path_buf(),
            source,
        }
    }
    // one folder at a time, from the ecosystem folder down: each is a real folder (never a
    // symbolic link, which could lead anywhere — also `.pactown` or `.pactown/vendor` itself)
    // or is created here, so nothing is created or written through a link
    let mut at = dir.to_path_buf();
    let mut parts = rel.components().peekable();
    while let Some(part) = parts.next() {
        at.push(part);
        let last = parts.peek().is_none();
        match at.symlink_metadata() {
            Ok(m) if last && m.is_file() => {}
            Ok(m) if !last && m.is_dir() => {}
            Ok(_) => return Err(outside()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if !last {
                    match std::fs::create_dir(&at) {
                        Ok(()) => {}
                        // created meanwhile: checked again below
                        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                        Err(e) => return Err(io("cannot create vendor folder", &at)(e)),
                    }
                    if !at.symlink_metadata().is_ok_and(|m| m.is_dir()) {
                        return Err(outside());
                    }
                }
            }
            Err(e) => return Err(io("cannot inspect vendor path", &at)(e)),
        }
    }
    Ok(path)
}

/// Checks one entry of a lock file: names, versions and checksum valid, and its path exactly the
/// vendor path those name (a lock file from elsewhere must not point a README at another file).
fn check_entry(e: &LockEntry) -> Result<(), LockProblem> {
    let requested_ok = e.requested == "latest"
        || e.requested == "*"
        || crate::config::rules::is_registry_word(&e.requested);
    let artifact = || format!("{}/{}", printable(&e.namespace, 80), printable(&e.name, 80));
    if !requested_ok {
        return Err(LockProblem::Requested {
            artifact: artifact(),
            requested: printable(&e.requested, 80),
        });
    }
    if !is_sha256_hex(&e.checksum) {
        return Err(LockProblem::Checksum {
            artifact: artifact(),
            checksum: printable(&e.checksum, 80),
        });
    }
    match vendor_relative(&e.namespace, &e.name, &e.version) {
        Some(expected) if expected == e.path => Ok(()),
        Some(expected) => Err(LockProblem::Path {
            artifact: format!("{}/{}@{}", e.namespace, e.name, e.version),
            path: printable(&e.path, 200),
            expected,
        }),
        None => Err(LockProblem::Name(format!(
            "{}@{}",
            artifact(),
            printable(&e.version, 80)
        ))),
    }
}

/// Reads the lock file (a missing file is an empty lock).
///
/// # Errors
/// IO errors and an invalid file.
pub fn read_lock(path: &Path) -> Result<LockFile, LockError> {
    let text = match crate::input::read_capped(path, crate::input::MAX_CONFIG_BYTES) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(LockFile::default()),
        Err(source) => {
            return Err(LockError::Io {
                context: "cannot read",
                path: path.into(),
                source,
            })
        }
    };
    let lock: LockFile = serde_json::from_slice(&text).map_err(|e| LockError::Invalid {
        path: path.into(),
        reason: e.into(),
    })?;
    if lock.version != 1 {
        return Err(LockError::Invalid {
            path: path.into(),
            reason: LockProblem::FormatVersion(lock.version),
        });
    }
    for entry in &lock.artifacts {
        check_entry(entry).map_err(|reason| LockError::Invalid {
            path: path.into(),
            reason,
        })?;
    }
    Ok(lock)
}

/// Writes the lock file atomically, entries sorted.
///
/// # Errors
/// IO errors.
pub fn write_lock(path: &Path, lock: &LockFile) -> Result<(), LockError> {
    let mut lock = lock.clone();
    lock.artifacts.sort();
    lock.artifacts.dedup();
    let mut text = serde_json::to_vec_pretty(&lock).map_err(|e| LockError::Invalid {
        path: path.into(),
        reason: e.into(),
    })?;
    text.push(b'\n');
    atomic_write(path, &text).map_err(|e| LockError::Io {
        context: "cannot write",
        path: path.into(),
        source: std::io::Error::other(e.to_string()),
    })
}

/// For every service whose README comes from a registry, the local path of its vendored README,
/// after checking it against `pactown.lock`. Works offline; `up` calls it before
/// parsing READMEs.
///
/// # Errors
/// One diagnostic per service that is not pulled, or whose vendored README does not match the
/// lock file (each tells to run `pactown pull`).
pub fn resolve_vendor(eco: &Ecosystem) -> Result<BTreeMap<String, PathBuf>, Diagnostics> {
    let lock_file = lock_path(eco);
    let mut found = BTreeMap::new();
    let mut diags = Vec::new();
    let registry_services: Vec<_> = eco
        .services
        .iter()
        .filter(|s| matches!(s.readme, ReadmeSource::Registry { .. }))
        .collect();
    if registry_services.is_empty() {
        return Ok(found);
    }
    let lock = match read_lock(&lock_file) {
        Ok(l) => l,
        Err(e) => {
            return Err(Diagnostics::single(
                Diagnostic::error(Code::Io, &lock_file, 0, e.to_string())
                    .with_hint("run `pactown pull` to recreate it"),
            ))
        }
    };
    let hint = format!("run `pactown pull {}`", eco.file.display());
    for svc in registry_services {
        let ReadmeSource::Registry {
            namespace,
            name,
            version,
        } = &svc.readme
        else {
            continue;
        };
        let label = format!("registry:{namespace}/{name}@{version}");
        let Some(entry) = lock.find(namespace, name, version) else {
            diags.push(
                Diagnostic::error(
                    Code::RegistryReadme,
                    &eco.file,
                    svc.line,
                    format!(
                        "README of `{}` ({label}) is not pulled (no entry in {LOCK_FILE})",
                        svc.name
                    ),
                )
                .with_hint(hint.clone()),
            );
            continue;
        };
        let path = eco.dir.join(&entry.path);
        match crate::input::read_capped(&path, 2 * super::model::MAX_README_BYTES as u64) {
            Ok(bytes) if sha256_hex(&bytes) == entry.checksum => {
                found.insert(svc.name.clone(), path);
            }
            Ok(bytes) => diags.push(
                Diagnostic::error(
                    Code::RegistryReadme,
                    &path,
                    0,
                    format!(
                        "vendored README of `{}` ({label}) has sha256 {} but {LOCK_FILE} pins {}",
                        svc.name,
                        sha256_hex(&bytes),
                        entry.checksum
                    ),
                )
                .with_hint(format!("do not edit vendored READMEs; {hint}")),
            ),
            Err(e) => diags.push(
                Diagnostic::error(
                    Code::RegistryReadme,
                    &path,
                    0,
                    format!(
                        "vendored README of `{}` ({label}) cannot be read: {e}",
                        svc.name
                    ),
                )
                .with_hint(hint.clone()),
            ),
        }
    }
    if diags.is_empty() {
        Ok(found)
    } else {
        Err(Diagnostics(diags))
    }
}
