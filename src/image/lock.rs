//! A cross-process lock per image tag and engine, so two pactown processes that need the same
//! image (two shells, parallel CI jobs, tests) build it once: the second waits, then finds the
//! tag and reuses it. Without it both would build, and the later build would move the tag to a
//! new image id, so containers of the first would look changed to the next `up`.
//!
//! The lock is an advisory `flock` on a file under the temp folder (released when the file
//! handle drops, also when the process dies). A lock that cannot be taken is not an error: the
//! build goes ahead unlocked, as before.
use crate::engine::EngineKind;
use std::fs::{File, OpenOptions};
use std::path::PathBuf;

/// Held while building one tag; dropping it releases the lock.
#[derive(Debug)]
pub struct BuildLock {
    _file: File,
}

/// The lock file of `tag` on `engine`: the tag with everything but `[A-Za-z0-9._-]` replaced.
#[must_use]
pub fn lock_path(engine: EngineKind, tag: &str) -> PathBuf {
    let safe: String = tag
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    std::env::temp_dir()
        .join("pactown-build-locks")
        .join(format!("{engine:?}-{safe}.lock").to_lowercase())
}

/// Waits for the lock of `tag` on `engine` (off the async runtime); `None` when it cannot be
/// taken (unwritable temp folder…).
pub async fn acquire(engine: EngineKind, tag: &str) -> Option<BuildLock> {
    let path = lock_path(engine, tag);
    tokio::task::spawn_blocking(move || {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).ok()?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .ok()?;
        fs4::FileExt::lock(&file).ok()?;
        Some(BuildLock { _file: file })
    })
    .await
    .ok()
    .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn paths_are_safe_and_per_engine() {
        let d = lock_path(EngineKind::Docker, "pactown/python-api:0123456789ab");
        let p = lock_path(EngineKind::Podman, "pactown/python-api:0123456789ab");
        assert_ne!(d, p);
        let name = d.file_name().unwrap().to_string_lossy().to_string();
        assert_eq!(name, "docker-pactown_python-api_0123456789ab.lock");
        let evil = lock_path(EngineKind::Docker, "../../etc/passwd");
        assert_eq!(evil.parent(), d.parent());
    }

    #[tokio::test]
    async fn second_holder_waits_for_the_first() {
        let tag = format!("test/lock:{}", std::process::id());
        let first = acquire(EngineKind::Docker, &tag).await.unwrap();
        let t = Instant::now();
        let waiter = tokio::spawn({
            let tag = tag.clone();
            async move { acquire(EngineKind::Docker, &tag).await.map(|_| t.elapsed()) }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        drop(first);
        let waited = waiter.await.unwrap().unwrap();
        assert!(waited >= Duration::from_millis(250), "{waited:?}");
    }
}
