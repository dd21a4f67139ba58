//! `pactown pull`: materialize `registry:` READMEs into the vendor folder and pin them in
//! `pactown.lock`, verifying every checksum.
use super::client::{Client, ClientError};
use super::lock::{
    lock_path, prepare_vendor_file, read_lock, vendor_relative, write_lock, LockEntry, LockError,
};
use super::model::sha256_hex;
use super::store::atomic_write;
use crate::config::{Ecosystem, ReadmeSource};

/// What happened to one reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullAction {
    /// Downloaded and written.
    Downloaded,
    /// The vendored README already matched the lock file; no request was made.
    UpToDate,
}

/// One pulled reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pulled {
    /// Services using it.
    pub services: Vec<String>,
    /// The lock entry.
    pub entry: LockEntry,
    /// What was done.
    pub action: PullAction,
}

/// Why a pull failed.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// The registry failed or refused.
    #[error("{reference}: {source}")]
    Client {
        /// `registry:ns/name@version`.
        reference: String,
        /// The error.
        source: ClientError,
    },
    /// The lock file or vendor folder.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// The registry's README differs from the pinned one.
    #[error("{reference}: the registry serves {version} with sha256 {actual}, but pactown.lock pins {expected}; a published version must never change — investigate before trusting it, or run `pactown pull --update` to re-pin deliberately")]
    Tampered {
        /// `registry:ns/name@version`.
        reference: String,
        /// Resolved version.
        version: String,
        /// Pinned checksum.
        expected: String,
        /// Served checksum.
        actual: String,
    },
}

/// Pulls every `registry:` README of an ecosystem. With `update`, pinned versions are resolved
/// again (e.g. a new `latest`); otherwise the lock file decides the version and checksum.
///
/// # Errors
/// The first failing reference; the lock file is written only when all succeed.
pub async fn pull(
    eco: &Ecosystem,
    client: &Client,
    update: bool,
) -> Result<Vec<Pulled>, PullError> {
    let lock_file = lock_path(eco);
    let old = read_lock(&lock_file)?;
    let mut refs: Vec<((String, String, String), Vec<String>)> = Vec::new();
    for svc in &eco.services {
        if let ReadmeSource::Registry {
            namespace,
            name,
            version,
        } = &svc.readme
        {
            let key = (namespace.clone(), name.clone(), version.clone());
            match refs.iter_mut().find(|(k, _)| *k == key) {
                Some((_, services)) => services.push(svc.name.clone()),
                None => refs.push((key, vec![svc.name.clone()])),
            }
        }
    }
    let mut new_lock = super::lock::LockFile::default();
    let mut report = Vec::new();
    for ((ns, name, requested), services) in refs {
        let reference = format!("registry:{ns}/{name}@{requested}");
        let pinned = if update {
            None
        } else {
            old.find(&ns, &name, &requested).cloned()
        };
        if let Some(entry) = &pinned {
            let local = eco.dir.join(&entry.path);
            if crate::input::read_capped(&local, 2 * super::model::MAX_README_BYTES as u64)
                .is_ok_and(|b| sha256_hex(&b) == entry.checksum)
            {
                new_lock.artifacts.push(entry.clone());
                report.push(Pulled {
                    services,
                    entry: entry.clone(),
                    action: PullAction::UpToDate,
                });
                continue;
            }
        }
        let want = pinned.as_ref().map_or(requested.as_str(), |e| &e.version);
        let info = client
            .version(&ns, &name, want)
            .await
            .map_err(|source| PullError::Client {
                reference: reference.clone(),
                source,
            })?;
        if let Some(entry) = &pinned {
            if entry.checksum != info.checksum {
                return Err(PullError::Tampered {
                    reference,
                    version: info.version,
                    expected: entry.checksum.clone(),
                    actual: info.checksum,
                });
            }
        }
        let relative =
            vendor_relative(&ns, &name, &info.version).ok_or_else(|| PullError::Client {
                reference: reference.clone(),
                source: ClientError::Invalid(format!(
                    "the registry answered with version `{}`, which is not a valid version",
                    super::model::printable(&info.version, 80)
                )),
            })?;
        let path = prepare_vendor_file(&eco.dir, &relative)?;
        atomic_write(&path, info.readme_content.as_bytes()).map_err(|e| LockError::Io {
            context: "cannot write vendored README",
            path: path.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
        let entry = LockEntry {
            namespace: ns,
            name,
            requested,
            version: info.version,
            checksum: info.checksum,
            path: relative,
        };
        new_lock.artifacts.push(entry.clone());
        report.push(Pulled {
            services,
            entry,
            action: PullAction::Downloaded,
        });
    }
    if !report.is_empty() || lock_file.exists() {
        write_lock(&lock_file, &new_lock)?;
    }
    Ok(report)
}
