//! `debian:bookworm-slim` without a registry: `debootstrap --variant=minbase bookworm` into a
//! temporary folder, trimmed like the official slim image (no docs, man pages, locales or apt
//! caches; dpkg path excludes and apt clean hooks; `debian.sources` with bookworm, -updates and
//! -security), packed as a gzip tarball cached under `~/.cache/pactown/base` and imported through
//! the engine API. Mirrors `integration/setup-engines.sh`; needs root and `debootstrap`.
use crate::engine::Engine;
use std::path::{Path, PathBuf};

/// File name of the cached root file system tarball.
pub const TARBALL: &str = "debian-bookworm-minbase.tar.gz";

/// Image changes applied at import (same as the official image's config).
pub const IMPORT_CHANGES: [&str; 3] = [
    "CMD [\"bash\"]",
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LABEL org.pactown.base=debootstrap-minbase",
];

/// Why bootstrapping failed.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    /// No Debian mirror could be found.
    #[error(
        "cannot find a Debian mirror in the host's apt sources; set PACTOWN_DEBIAN_MIRROR \
         (e.g. http://deb.debian.org/debian)"
    )]
    NoMirror,
    /// An external tool failed.
    #[error("{tool} failed ({status}); see {log}")]
    Tool {
        /// The tool.
        tool: String,
        /// Its exit status.
        status: String,
        /// Where its output is.
        log: String,
    },
    /// A file-system problem.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        source: std::io::Error,
    },
    /// The engine refused the import.
    #[error(transparent)]
    Engine(#[from] crate::engine::EngineError),
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> BootstrapError {
    let context = context.into();
    move |source| BootstrapError::Io { context, source }
}

/// `$XDG_CACHE_HOME/pactown/base`, else `~/.cache/pactown/base`.
#[must_use]
pub fn default_cache_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    base.join("pactown").join("base")
}

/// The Debian mirror: `PACTOWN_DEBIAN_MIRROR`, else the first `…/debian` URI of the host's apt
/// sources (deb822 `.sources` files or one-line `.list` files).
///
/// # Errors
/// [`BootstrapError::NoMirror`] when neither gives one.
pub fn debian_mirror() -> Result<String, BootstrapError> {
    if let Some(m) = std::env::var("PACTOWN_DEBIAN_MIRROR")
        .ok()
        .filter(|m| !m.is_empty())
    {
        return Ok(m.trim_end_matches('/').to_string());
    }
    let mut texts = Vec::new();
    for dir in ["/etc/apt/sources.list.d"] {
        if let Ok(entries) = std::fs::read_dir(dir) {
            let mut paths: Vec<PathBuf> =
                entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            paths.sort();
            texts.extend(paths.iter().filter_map(|p| std::fs::read_to_string(p).ok()));
        }
    }
    if let Ok(t) = std::fs::read_to_string("/etc/apt/sources.list") {
        texts.push(t);
    }
    mirror_from_sources(&texts.join("\n")).ok_or(BootstrapError::NoMirror)
}

/// The first mirror URI that is not a security or updates archive.
#[must_use]
pub fn mirror_from_sources(text: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .flat_map(|l| {
            let words: Vec<&str> = if let Some(rest) = l.strip_prefix("URIs:") {
                rest.split_whitespace().collect()
            } else if l.starts_with("deb ") {
                l.split_whitespace()
                    .filter(|w| w.contains("://"))
                    .take(1)
                    .collect()
            } else {
                Vec::new()
            };
            words.into_iter().map(str::to_string).collect::<Vec<_>>()
        })
        .find(|u| {
            (u.starts_with("http://") || u.starts_with("https://") || u.starts_with("file:"))
                && !u.contains("security")
        })
        .map(|u| u.trim_end_matches('/').to_string())
}

/// The security mirror matching `mirror` (`…/debian` → `…/debian-security`).
#[must_use]
pub fn security_mirror(mirror: &str) -> String {
    match mirror.strip_suffix("/debian") {
        Some(base) => format!("{base}/debian-security"),
        None => format!("{mirror}-security"),
    }
}

/// Returns the cached root file system tarball, creating it with debootstrap when missing.
/// `log` receives progress lines.
///
/// # Errors
/// When debootstrap or tar fail, or the cache folder cannot be written.
pub async fn rootfs_tarball(
    cache_dir: &Path,
    log: &(dyn Fn(String) + Send + Sync),
) -> Result<PathBuf, BootstrapError> {
    let tarball = cache_dir.join(TARBALL);
    if std::fs::metadata(&tarball).is_ok_and(|m| m.len() > 0) {
        log(format!(
            "using cached root file system {}",
            tarball.display()
        ));
        return Ok(tarball);
    }
    let mirror = debian_mirror()?;
    std::fs::create_dir_all(cache_dir)
        .map_err(io(format!("cannot create {}", cache_dir.display())))?;
    let root = cache_dir.join(format!("rootfs.{}", std::process::id()));
    let debootstrap_log = cache_dir.join("debootstrap.log");
    log(format!(
        "debootstrap --variant=minbase bookworm from {mirror} (about 35 s)"
    ));
    let log_file = std::fs::File::create(&debootstrap_log)
        .map_err(io(format!("cannot write {}", debootstrap_log.display())))?;
    let log_err = log_file
        .try_clone()
        .map_err(io("cannot duplicate the log file handle"))?;
    let status = tokio::process::Command::new("debootstrap")
        .arg("--variant=minbase")
        .arg("bookworm")
        .arg(&root)
        .arg(&mirror)
        .stdout(log_file)
        .stderr(log_err)
        .status()
        .await
        .map_err(io(
            "cannot run debootstrap (install it: apt-get install debootstrap)",
        ))?;
    if !status.success() {
        let _ = std::fs::remove_dir_all(&root);
        return Err(BootstrapError::Tool {
            tool: "debootstrap".into(),
            status: status.to_string(),
            log: debootstrap_log.display().to_string(),
        });
    }
    let root_for_trim = root.clone();
    let mirror_for_trim = mirror.clone();
    tokio::task::spawn_blocking(move || trim(&root_for_trim, &mirror_for_trim))
        .await
        .map_err(|e| BootstrapError::Io {
            context: "trimming the root file system".into(),
            source: std::io::Error::other(e.to_string()),
        })??;
    let tmp = cache_dir.join(format!("{TARBALL}.tmp"));
    let status = tokio::process::Command::new("tar")
        .arg("--numeric-owner")
        .arg("--sort=name")
        .arg("-I")
        .arg("gzip -1")
        .arg("-C")
        .arg(&root)
        .arg("-cf")
        .arg(&tmp)
        .arg(".")
        .status()
        .await
        .map_err(io("cannot run tar"))?;
    let _ = std::fs::remove_dir_all(&root);
    if !status.success() {
        return Err(BootstrapError::Tool {
            tool: "tar".into(),
            status: status.to_string(),
            log: "its standard error".into(),
        });
    }
    std::fs::rename(&tmp, &tarball).map_err(io(format!("cannot move {}", tmp.display())))?;
    log(format!("root file system cached at {}", tarball.display()));
    Ok(tarball)
}

/// Makes a debootstrap tree look like the official slim image.
fn trim(root: &Path, mirror: &str) -> Result<(), BootstrapError> {
    let write = |rel: &str, text: &str| -> Result<(), BootstrapError> {
        let path = root.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(io(format!("cannot create {}", parent.display())))?;
        }
        std::fs::write(&path, text).map_err(io(format!("cannot write {}", path.display())))
    };
    let _ = std::fs::remove_file(root.join("etc/apt/sources.list"));
    write(
        "etc/apt/sources.list.d/debian.sources",
        &format!(
            "Types: deb\nURIs: {mirror}\nSuites: bookworm bookworm-updates\nComponents: main\n\
             Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n\
             Types: deb\nURIs: {}\nSuites: bookworm-security\nComponents: main\n\
             Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n",
            security_mirror(mirror)
        ),
    )?;
    write(
        "etc/dpkg/dpkg.cfg.d/docker-slim",
        "path-exclude /usr/share/doc/*\npath-include /usr/share/doc/*/copyright\n\
         path-exclude /usr/share/man/*\npath-exclude /usr/share/info/*\n\
         path-exclude /usr/share/locale/*\npath-include /usr/share/locale/locale.alias\n",
    )?;
    write(
        "etc/apt/apt.conf.d/docker-clean",
        "DPkg::Post-Invoke { \"rm -f /var/cache/apt/archives/*.deb \
         /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true\"; };\n\
         APT::Update::Post-Invoke { \"rm -f /var/cache/apt/archives/*.deb \
         /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true\"; };\n\
         Dir::Cache::pkgcache \"\"; Dir::Cache::srcpkgcache \"\";\n",
    )?;
    for dir in [
        "var/lib/apt/lists",
        "var/log",
        "tmp",
        "usr/share/man",
        "usr/share/info",
    ] {
        empty_dir(&root.join(dir), &|_| false)?;
    }
    remove_matching(&root.join("var/cache/apt"), &|p| {
        p.extension().is_some_and(|e| e == "deb" || e == "bin")
    })?;
    // docs: keep only copyright files; locales: keep locale.alias
    remove_matching(&root.join("usr/share/doc"), &|p| {
        p.file_name().is_none_or(|n| n != "copyright")
    })?;
    empty_dir(&root.join("usr/share/locale"), &|p| {
        p.file_name().is_some_and(|n| n == "locale.alias")
    })?;
    write("etc/machine-id", "")?;
    Ok(())
}

/// Removes every entry of `dir` except those `keep` accepts (no-op when `dir` is missing).
fn empty_dir(dir: &Path, keep: &dyn Fn(&Path) -> bool) -> Result<(), BootstrapError> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if keep(&path) {
            continue;
        }
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        let result = if is_dir {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        result.map_err(io(format!("cannot remove {}", path.display())))?;
    }
    Ok(())
}

/// Recursively removes non-directory entries `remove` accepts, then empty directories.
fn remove_matching(dir: &Path, remove: &dyn Fn(&Path) -> bool) -> Result<(), BootstrapError> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            remove_matching(&path, remove)?;
            if std::fs::read_dir(&path).is_ok_and(|mut d| d.next().is_none()) {
                std::fs::remove_dir(&path)
                    .map_err(io(format!("cannot remove {}", path.display())))?;
            }
        } else if remove(&path) {
            std::fs::remove_file(&path).map_err(io(format!("cannot remove {}", path.display())))?;
        }
    }
    Ok(())
}

/// Imports the tarball as `debian:bookworm-slim`.
///
/// # Errors
/// When the tarball cannot be read or the engine refuses it.
pub async fn import(engine: &dyn Engine, tarball: &Path) -> Result<(), BootstrapError> {
    import_as(engine, tarball, crate::image::base::DEBIAN_IMAGE).await
}

/// Imports the tarball under another reference (`pactown images bootstrap --tag`).
///
/// # Errors
/// When the tarball cannot be read or the engine refuses it.
pub async fn import_as(
    engine: &dyn Engine,
    tarball: &Path,
    tag: &str,
) -> Result<(), BootstrapError> {
    let bytes = tokio::fs::read(tarball)
        .await
        .map_err(io(format!("cannot read {}", tarball.display())))?;
    let changes: Vec<String> = IMPORT_CHANGES.iter().map(|s| (*s).to_string()).collect();
    engine.import_image(bytes, tag, &changes).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_mirrors() {
        let deb822 = "Types: deb\n# http://snapshot\nURIs: http://deb.debian.org/debian\n\
                      Suites: bookworm\n\nTypes: deb\nURIs: http://deb.debian.org/debian-security\n";
        assert_eq!(
            mirror_from_sources(deb822).as_deref(),
            Some("http://deb.debian.org/debian")
        );
        let list = "# deb http://old/debian bookworm main\n\
                    deb [signed-by=/x.gpg] http://ftp.de.debian.org/debian/ bookworm main\n";
        assert_eq!(
            mirror_from_sources(list).as_deref(),
            Some("http://ftp.de.debian.org/debian")
        );
        assert_eq!(mirror_from_sources("nothing"), None);
        assert_eq!(
            security_mirror("http://deb.debian.org/debian"),
            "http://deb.debian.org/debian-security"
        );
    }

    #[test]
    fn trims_a_tree() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        for f in [
            "usr/share/doc/bash/copyright",
            "usr/share/doc/bash/README.gz",
            "usr/share/doc/empty/x",
            "usr/share/locale/de/LC_MESSAGES/x.mo",
            "usr/share/locale/locale.alias",
            "var/lib/apt/lists/x_Packages",
            "var/cache/apt/pkgcache.bin",
            "var/cache/apt/archives/a.deb",
            "etc/apt/sources.list",
            "etc/machine-id",
        ] {
            std::fs::create_dir_all(r.join(f).parent().unwrap()).unwrap();
            std::fs::write(r.join(f), "x").unwrap();
        }
        trim(r, "http://m/debian").unwrap();
        assert!(r.join("usr/share/doc/bash/copyright").exists());
        assert!(!r.join("usr/share/doc/bash/README.gz").exists());
        assert!(!r.join("usr/share/doc/empty").exists());
        assert!(!r.join("usr/share/locale/de").exists());
        assert!(r.join("usr/share/locale/locale.alias").exists());
        assert!(!r.join("var/lib/apt/lists/x_Packages").exists());
        assert!(!r.join("var/cache/apt/pkgcache.bin").exists());
        assert!(!r.join("var/cache/apt/archives/a.deb").exists());
        assert!(!r.join("etc/apt/sources.list").exists());
        assert_eq!(
            std::fs::read_to_string(r.join("etc/machine-id")).unwrap(),
            ""
        );
        let sources =
            std::fs::read_to_string(r.join("etc/apt/sources.list.d/debian.sources")).unwrap();
        assert!(sources.contains("URIs: http://m/debian-security"));
    }
}
