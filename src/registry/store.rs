//! Crash-safe file storage of the registry.
//!
//! Layout of the storage folder:
//!
//! ```text
//! .lock                    held (flock) by the one server using the folder
//! index.json               artifacts, versions, checksums (no README bodies, no metadata)
//! blobs/sha256/<hex>       README bodies and version metadata (compact JSON), addressed by
//!                          their sha256
//! ```
//!
//! Every write goes to a temporary file that is fsynced, renamed over its target, and followed by
//! an fsync of the folder. Index writes are serialized and grouped: concurrent publishes queue
//! up and one committer writes them all with a single index write (group commit). A README or
//! metadata blob is durable before the index that names it, so a crash at any moment leaves either the previous or the new index — never a
//! broken one — and every version an index names has its blob. A crash can at worst leave an
//! unreferenced blob, which is harmless.
use super::model::{
    latest_of, now_rfc3339, sha256_hex, ArtifactRecord, Index, PublishRequest, PublishResponse,
    VersionRecord,
};
use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError, RwLock};

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file-system operation failed.
    #[error("{context} ({path}): {source}")]
    Io {
        /// What the store was doing.
        context: &'static str,
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Another process already serves this storage folder.
    #[error("storage folder {0} is in use by another registry process (lock file .lock is held); stop it or pass another --storage")]
    Locked(PathBuf),
    /// `index.json` cannot be read back.
    #[error("index {path} is not valid: {reason}; restore it from a backup (it is never written in place)")]
    CorruptIndex {
        /// Path of the index.
        path: PathBuf,
        /// Why it is invalid.
        reason: String,
    },
    /// A blob does not match its checksum.
    #[error("README blob {0} is corrupt (its content does not match its sha256)")]
    CorruptBlob(String),
    /// The version exists with other content.
    #[error("{artifact}@{version} is already published with checksum {existing}; published versions are immutable, publish a new version")]
    Conflict {
        /// `namespace/name`.
        artifact: String,
        /// The version.
        version: String,
        /// Checksum of the published content.
        existing: String,
    },
    /// No such artifact.
    #[error("artifact {0} not found")]
    NotFound(String),
}

/// Result of a publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The answer to send.
    pub response: PublishResponse,
    /// False when the same content was already published (idempotent re-publish).
    pub created: bool,
}

/// The registry storage: an in-memory copy of the index plus the files.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    _lock: File,
    queue: Mutex<Queue>,
    wake: Condvar,
    index: RwLock<Arc<Index>>,
}

impl Store {
    /// Opens (creating if needed) a storage folder, takes its process lock and loads the index.
    ///
    /// # Errors
    /// IO errors, [`StoreError::Locked`] when another process holds it, and
    /// [`StoreError::CorruptIndex`] when `index.json` does not parse or names a missing blob.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let blobs = dir.join("blobs").join("sha256");
        fs::create_dir_all(&blobs).map_err(io("cannot create storage folder", &blobs))?;
        let lock_path = dir.join(".lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io("cannot open lock file", &lock_path))?;
        match fs4::FileExt::try_lock(&lock) {
            Ok(()) => {}
            Err(fs4::TryLockError::WouldBlock) => return Err(StoreError::Locked(dir.into())),
            Err(fs4::TryLockError::Error(e)) => {
                return Err(StoreError::Io {
                    context: "cannot lock storage folder",
                    path: lock_path,
                    source: e,
                })
            }
        }
        // Leftovers of writes interrupted by a crash.
        for folder in [dir.to_path_buf(), blobs.clone()] {
            if let Ok(entries) = fs::read_dir(&folder) {
                for entry in entries.flatten() {
                    if entry.file_name().to_string_lossy().ends_with(".tmp") {
                        let _ = fs::remove_file(entry.path());
                    }
                }
            }
        }
        let index = load_index(dir)?;
        let store = Self {
            dir: dir.to_path_buf(),
            _lock: lock,
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
            index: RwLock::new(Arc::new(index)),
        };
        store.migrate_inline_metadata()?;
        Ok(store)
    }

    /// Moves metadata an older index holds inline into blobs: every blob is durable first, then
    /// one index write drops the inline copies, so a crash leaves the old index (still readable,
    /// migrated at the next open) or the new one.
    fn migrate_inline_metadata(&self) -> Result<(), StoreError> {
        let current = self.snapshot();
        let inline = current
            .artifacts
            .values()
            .flat_map(|a| a.versions.values())
            .any(|v| !v.metadata.is_empty());
        if !inline {
            return Ok(());
        }
        let mut next = (*current).clone();
        for rec in next
            .artifacts
            .values_mut()
            .flat_map(|a| a.versions.values_mut())
        {
            if rec.metadata.is_empty() {
                continue;
            }
            let (sum, bytes) = metadata_blob(&rec.metadata, &self.dir)?;
            self.write_blob(&sum, &bytes)?;
            rec.metadata_checksum = Some(sum);
            rec.metadata.clear();
        }
        self.commit(next)
    }

    /// The metadata of a version: its blob (checked against its checksum), or what an index
    /// not yet migrated holds inline.
    ///
    /// # Errors
    /// IO errors and [`StoreError::CorruptBlob`].
    pub fn read_metadata(
        &self,
        rec: &VersionRecord,
    ) -> Result<serde_json::Map<String, serde_json::Value>, StoreError> {
        match &rec.metadata_checksum {
            Some(sum) => serde_json::from_str(&self.read_blob(sum)?)
                .map_err(|_| StoreError::CorruptBlob(sum.clone())),
            None => Ok(rec.metadata.clone()),
        }
    }

    /// The storage folder.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A consistent snapshot of the index.
    #[must_use]
    pub fn snapshot(&self) -> Arc<Index> {
        Arc::clone(&self.index.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Reads a README blob and checks it against its checksum.
    ///
    /// # Errors
    /// IO errors and [`StoreError::CorruptBlob`].
    pub fn read_blob(&self, checksum: &str) -> Result<String, StoreError> {
        let path = self.blob_path(checksum);
        let bytes = fs::read(&path).map_err(io("cannot read README blob", &path))?;
        if sha256_hex(&bytes) != checksum {
            return Err(StoreError::CorruptBlob(checksum.into()));
        }
        String::from_utf8(bytes).map_err(|_| StoreError::CorruptBlob(checksum.into()))
    }

    /// Publishes a version (the request must already be validated). Re-publishing the same
    /// content is a no-op that answers as the first publish did.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the version exists (or existed) with other content; IO.
    pub fn publish(&self, req: &PublishRequest) -> Result<Published, StoreError> {
        let checksum = sha256_hex(req.readme_content.as_bytes());
        let key = format!("{}/{}", req.namespace, req.name);
        // Cheap early answer without queueing; the committer checks again.
        if let Some(sum) = existing_checksum(&self.snapshot(), &key, &req.version) {
            if sum != checksum {
                return Err(StoreError::Conflict {
                    artifact: key,
                    version: req.version.clone(),
                    existing: sum.to_string(),
                });
            }
        }
        // The blobs are durable before any index can name them.
        self.write_blob(&checksum, req.readme_content.as_bytes())?;
        let metadata = if req.metadata.is_empty() {
            None
        } else {
            let (sum, bytes) = metadata_blob(&req.metadata, &self.dir)?;
            self.write_blob(&sum, &bytes)?;
            Some(sum)
        };
        match self.submit(Op::Publish(Box::new(req.clone()), checksum, metadata))? {
            Done::Published(p) => Ok(p),
            Done::Deleted => Err(StoreError::NotFound(key)),
        }
    }

    /// Deletes an artifact with all its versions. Their checksums are kept as tombstones so a
    /// deleted version can only come back with the same content.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; IO.
    pub fn delete(&self, namespace: &str, name: &str) -> Result<(), StoreError> {
        self.submit(Op::Delete(format!("{namespace}/{name}")))
            .map(|_| ())
    }

    /// Group commit: queues a write; the first writer to find no commit under way becomes the
    /// committer, applies every queued write to one copy of the index, writes it once, and
    /// hands each writer its own result.
    fn submit(&self, op: Op) -> Result<Done, StoreError> {
        let mut q = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let ticket = q.next_ticket;
        q.next_ticket += 1;
        q.ops.push((ticket, op));
        loop {
            if let Some(result) = q.done.remove(&ticket) {
                return result;
            }
            if q.committing {
                q = self.wake.wait(q).unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            q.committing = true;
            let ops = std::mem::take(&mut q.ops);
            drop(q);
            let results = self.apply(ops);
            q = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            q.committing = false;
            q.done.extend(results);
            self.wake.notify_all();
        }
    }

    /// Applies a batch of writes and commits the resulting index once.
    fn apply(&self, ops: Vec<(u64, Op)>) -> Vec<(u64, Result<Done, StoreError>)> {
        let current = self.snapshot();
        let mut next = (*current).clone();
        let now = now_rfc3339();
        let mut results = Vec::with_capacity(ops.len());
        let mut changed = false;
        for (ticket, op) in ops {
            let result = match op {
                Op::Publish(req, checksum, metadata) => {
                    apply_publish(&mut next, &req, checksum, metadata, &now)
                }
                Op::Delete(key) => apply_delete(&mut next, key),
            };
            changed |= matches!(
                result,
                Ok(Done::Deleted | Done::Published(Published { created: true, .. }))
            );
            results.push((ticket, result));
        }
        if changed {
            next.updated_at = now;
            if let Err(e) = self.commit(next) {
                // Nothing of this batch is durable: every write of it fails with the cause.
                let (kind, text) = match &e {
                    StoreError::Io { source, .. } => (source.kind(), e.to_string()),
                    other => (std::io::ErrorKind::Other, other.to_string()),
                };
                for (_, r) in &mut results {
                    if r.is_ok() {
                        *r = Err(StoreError::Io {
                            context: "cannot commit index",
                            path: self.dir.join("index.json"),
                            source: std::io::Error::new(kind, text.clone()),
                        });
                    }
                }
            }
        }
        results
    }

    fn blob_path(&self, checksum: &str) -> PathBuf {
        self.dir.join("blobs").join("sha256").join(checksum)
    }

    fn write_blob(&self, checksum: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let path = self.blob_path(checksum);
        if let Ok(existing) = fs::read(&path) {
            if sha256_hex(&existing) == checksum {
                return Ok(());
            }
        }
        atomic_write(&path, bytes)
    }

    /// Writes the index durably, then makes it the one readers see.
    fn commit(&self, next: Index) -> Result<(), StoreError> {
        let path = self.dir.join("index.json");
        let mut text = serde_json::to_vec_pretty(&next).map_err(|e| StoreError::Io {
            context: "cannot serialize index",
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        text.push(b'\n');
        atomic_write(&path, &text)?;
        *self.index.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(next);
        Ok(())
    }
}

/// A queued write.
#[derive(Debug)]
enum Op {
    /// The request, the README's checksum and the metadata's (when there is metadata).
    Publish(Box<PublishRequest>, String, Option<String>),
    Delete(String),
}

/// The result of a queued write.
#[derive(Debug)]
enum Done {
    Published(Published),
    Deleted,
}

/// The group-commit queue.
#[derive(Debug, Default)]
struct Queue {
    next_ticket: u64,
    ops: Vec<(u64, Op)>,
    done: HashMap<u64, Result<Done, StoreError>>,
    committing: bool,
}

fn existing_checksum<'a>(index: &'a Index, key: &str, version: &str) -> Option<&'a str> {
    index
        .artifacts
        .get(key)
        .and_then(|a| a.versions.get(version))
        .map(|v| v.checksum.as_str())
        .or_else(|| {
            index
                .tombstones
                .get(key)
                .and_then(|t| t.get(version))
                .map(String::as_str)
        })
}

fn apply_publish(
    next: &mut Index,
    req: &PublishRequest,
    checksum: String,
    metadata_checksum: Option<String>,
    now: &str,
) -> Result<Done, StoreError> {
    let key = format!("{}/{}", req.namespace, req.name);
    let response = PublishResponse {
        success: true,
        artifact: key.clone(),
        version: req.version.clone(),
        checksum: checksum.clone(),
    };
    let in_index = next
        .artifacts
        .get(&key)
        .is_some_and(|a| a.versions.contains_key(&req.version));
    match existing_checksum(next, &key, &req.version) {
        Some(sum) if sum != checksum => {
            return Err(StoreError::Conflict {
                artifact: key,
                version: req.version.clone(),
                existing: sum.to_string(),
            })
        }
        Some(_) if in_index => {
            return Ok(Done::Published(Published {
                response,
                created: false,
            }))
        }
        _ => {}
    }
    let artifact = next
        .artifacts
        .entry(key.clone())
        .or_insert_with(|| ArtifactRecord {
            name: req.name.clone(),
            namespace: req.namespace.clone(),
            description: String::new(),
            versions: Default::default(),
            latest_version: None,
            created_at: now.to_string(),
            updated_at: now.to_string(),
            tags: Vec::new(),
        });
    artifact.versions.insert(
        req.version.clone(),
        VersionRecord {
            version: req.version.clone(),
            checksum,
            size: req.readme_content.len() as u64,
            published_at: now.to_string(),
            metadata_checksum,
            metadata: serde_json::Map::new(),
        },
    );
    artifact.latest_version =
        latest_of(artifact.versions.keys().map(String::as_str)).map(str::to_string);
    artifact.updated_at = now.to_string();
    if !req.description.is_empty() {
        artifact.description.clone_from(&req.description);
    }
    for tag in &req.tags {
        if !artifact.tags.contains(tag) {
            artifact.tags.push(tag.clone());
        }
    }
    artifact.tags.sort();
    if let Some(t) = next.tombstones.get_mut(&key) {
        t.remove(&req.version);
        if t.is_empty() {
            next.tombstones.remove(&key);
        }
    }
    Ok(Done::Published(Published {
        response,
        created: true,
    }))
}

fn apply_delete(next: &mut Index, key: String) -> Result<Done, StoreError> {
    let Some(artifact) = next.artifacts.remove(&key) else {
        return Err(StoreError::NotFound(key));
    };
    let tomb = next.tombstones.entry(key).or_default();
    for (v, rec) in artifact.versions {
        tomb.insert(v, rec.checksum);
    }
    Ok(Done::Deleted)
}

/// Loads and checks `index.json` (an absent index is an empty registry).
///
/// # Errors
/// IO and [`StoreError::CorruptIndex`].
pub fn load_index(dir: &Path) -> Result<Index, StoreError> {
    let path = dir.join("index.json");
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Index::default()),
        Err(e) => return Err(io("cannot read index", &path)(e)),
    };
    let index: Index = serde_json::from_slice(&bytes).map_err(|e| StoreError::CorruptIndex {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    for (key, artifact) in &index.artifacts {
        if key != &artifact.full_name() {
            return Err(StoreError::CorruptIndex {
                path,
                reason: format!("entry `{key}` names artifact `{}`", artifact.full_name()),
            });
        }
        for (v, rec) in &artifact.versions {
            let blob = dir.join("blobs").join("sha256").join(&rec.checksum);
            if v != &rec.version || !blob.is_file() {
                return Err(StoreError::CorruptIndex {
                    path,
                    reason: format!("{key}@{v}: README blob {} is missing", rec.checksum),
                });
            }
            if let Some(sum) = &rec.metadata_checksum {
                if !dir.join("blobs").join("sha256").join(sum).is_file() {
                    return Err(StoreError::CorruptIndex {
                        path,
                        reason: format!("{key}@{v}: metadata blob {sum} is missing"),
                    });
                }
            }
        }
    }
    Ok(index)
}

/// The blob of a version's metadata: its checksum and compact JSON.
fn metadata_blob(
    metadata: &serde_json::Map<String, serde_json::Value>,
    dir: &Path,
) -> Result<(String, Vec<u8>), StoreError> {
    let bytes = serde_json::to_vec(metadata).map_err(|e| StoreError::Io {
        context: "cannot serialize metadata",
        path: dir.join("blobs"),
        source: std::io::Error::other(e),
    })?;
    Ok((sha256_hex(&bytes), bytes))
}

/// Writes `bytes` to `path` so that `path` holds either its old or its new content at every
/// moment: temp file in the same folder, fsync, rename, fsync of the folder.
///
/// # Errors
/// IO errors naming the file.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    // Unique per write, so concurrent writers of the same blob never share a temp file.
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(format!(
        ".{}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let tmp = dir.join(tmp_name);
    {
        let mut file = File::create(&tmp).map_err(io("cannot create temp file", &tmp))?;
        file.write_all(bytes)
            .map_err(io("cannot write temp file", &tmp))?;
        file.sync_all()
            .map_err(io("cannot fsync temp file", &tmp))?;
    }
    fs::rename(&tmp, path).map_err(io("cannot rename temp file into place", path))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("cannot fsync folder", dir))?;
    Ok(())
}

fn io<'a>(context: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        context,
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(version: &str, body: &str) -> PublishRequest {
        PublishRequest {
            name: "api".into(),
            version: version.into(),
            readme_content: body.into(),
            namespace: "team".into(),
            description: String::new(),
            tags: vec![],
            metadata: Default::default(),
        }
    }

    #[test]
    fn publish_is_immutable_and_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert!(store.publish(&req("1.0.0", "a")).unwrap().created);
        assert!(!store.publish(&req("1.0.0", "a")).unwrap().created);
        assert!(matches!(
            store.publish(&req("1.0.0", "b")),
            Err(StoreError::Conflict { .. })
        ));
        store.publish(&req("1.2.0", "b")).unwrap();
        store.publish(&req("1.10.0", "c")).unwrap();
        let snap = store.snapshot();
        let a = &snap.artifacts["team/api"];
        assert_eq!(a.latest_version.as_deref(), Some("1.10.0"));
        assert_eq!(store.read_blob(&a.versions["1.2.0"].checksum).unwrap(), "b");
        drop(store);
        // Reopen: same index from disk.
        let again = Store::open(dir.path()).unwrap();
        assert_eq!(*again.snapshot(), *snap);
    }

    #[test]
    fn deleted_versions_stay_immutable() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.publish(&req("1.0.0", "a")).unwrap();
        store.delete("team", "api").unwrap();
        assert!(matches!(
            store.delete("team", "api"),
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(
            store.publish(&req("1.0.0", "other")),
            Err(StoreError::Conflict { .. })
        ));
        assert!(store.publish(&req("1.0.0", "a")).unwrap().created);
        assert!(store.snapshot().tombstones.is_empty());
    }

    #[test]
    fn second_process_lock_and_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.publish(&req("1.0.0", "a")).unwrap();
        assert!(matches!(
            Store::open(dir.path()),
            Err(StoreError::Locked(_))
        ));
        drop(store);
        // A crash between temp write and rename leaves a temp file: ignored and removed.
        fs::write(dir.path().join("index.json.tmp"), b"{ broken").unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.snapshot().artifacts.len(), 1);
        assert!(!dir.path().join("index.json.tmp").exists());
    }

    #[test]
    fn corrupt_index_and_blob_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            let p = store.publish(&req("1.0.0", "a")).unwrap();
            let blob = dir.path().join("blobs/sha256").join(&p.response.checksum);
            fs::write(&blob, b"tampered").unwrap();
            assert!(matches!(
                store.read_blob(&p.response.checksum),
                Err(StoreError::CorruptBlob(_))
            ));
            fs::remove_file(blob).unwrap();
        }
        let err = Store::open(dir.path()).unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
        fs::write(dir.path().join("index.json"), b"{").unwrap();
        assert!(matches!(
            Store::open(dir.path()),
            Err(StoreError::CorruptIndex { .. })
        ));
    }
}
