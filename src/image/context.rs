//! The build context as a deterministic tar: entries sorted by path, directories listed before
//! their contents, mtime fixed at 2000-01-01 (tools that zip sources reject pre-1980 times),
//! uid/gid 0 without user names, mode 0755 for directories and the shims, 0644 for other files. The same plan
//! gives byte-identical tar bytes and therefore the same digest and image tag.
//!
//! Layout: `Containerfile`, `deps/app/…` (dependency manifests), `code/app/…` (the service's
//! files plus `code/app/.markpact/run.sh`, `start.sh` and `build.sh`), `ca/etc/pactown/ca.crt`.
//! Each of `deps/`, `code/` and `ca/` is copied onto `/` (see
//! [`containerfile::CONTEXT_CA_ROOT`]), so `/app` and `/etc/pactown` get the fixed mtime too and
//! the layer digests do not depend on when the image was built.
use crate::image::cache_key;
use crate::image::containerfile::{
    self, CONTEXT_APP, CONTEXT_BUILD, CONTEXT_CA, CONTEXT_DEPS, CONTEXT_RUN, CONTEXT_START,
};
use crate::image::provider::BuildPlan;
use crate::image::shim;
use std::collections::{BTreeMap, BTreeSet};

/// Name of the Containerfile inside every context.
pub const CONTAINERFILE: &str = "Containerfile";

/// Modification time of every entry (2000-01-01T00:00:00Z).
pub const FIXED_MTIME: u64 = 946_684_800;

/// A packed build context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildContext {
    /// The uncompressed tar.
    pub tar: Vec<u8>,
    /// `sha256:<hex>` of [`BuildContext::tar`].
    pub digest: String,
    /// The rendered Containerfile (also inside the tar).
    pub containerfile: String,
    /// The dependency image the service image starts from, when the plan has dependencies.
    pub deps: Option<DepsContext>,
}

/// The context of a service's dependency image: the manifests, the install commands and the CA
/// bundle, `FROM` the base image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepsContext {
    /// `pactown/deps-<runtime>:<12 hex of the digest>`: equal dependencies (and CA bundle) give
    /// the same tag across services.
    pub tag: String,
    /// The uncompressed tar (`FROM` the base image).
    pub tar: Vec<u8>,
    /// `sha256:<hex>` of [`DepsContext::tar`].
    pub digest: String,
    /// The rendered Containerfile (also inside the tar).
    pub containerfile: String,
}

/// Why a context could not be packed.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    /// The plan asks for a CA bundle but none was given.
    #[error("the build plan needs a CA bundle but none was given")]
    MissingCa,
    /// Writing the tar failed.
    #[error("cannot write the build context tar: {0}")]
    Tar(#[from] std::io::Error),
}

/// Packs a plan (and the CA bundle when the plan uses one) into a context: with dependencies,
/// two of them (the dependency image's, [`pack_deps`], and the service's `FROM` its tag).
///
/// # Errors
/// [`ContextError::MissingCa`] when `plan.ca_bundle` is set without `ca`.
pub fn pack(plan: &BuildPlan, ca: Option<&[u8]>) -> Result<BuildContext, ContextError> {
    let ca = if plan.ca_bundle {
        Some(ca.ok_or(ContextError::MissingCa)?)
    } else {
        None
    };
    let deps = if plan.deps_files.is_empty() {
        None
    } else {
        let (tar, containerfile) = pack_deps(plan, ca, &plan.base_image)?;
        let digest = cache_key::digest(&tar);
        Some(DepsContext {
            tag: cache_key::deps_tag(plan.runtime, &digest),
            tar,
            digest,
            containerfile,
        })
    };
    let containerfile = containerfile::render(plan, deps.as_ref().map(|d| d.tag.as_str()));
    let mut files: BTreeMap<String, &[u8]> = BTreeMap::new();
    files.insert(CONTAINERFILE.to_string(), containerfile.as_bytes());
    for f in &plan.app_files {
        files.insert(format!("{CONTEXT_APP}/{}", f.path), &f.contents);
    }
    files.insert(CONTEXT_RUN.to_string(), plan.run_script.as_bytes());
    files.insert(
        CONTEXT_START.to_string(),
        crate::image::start_script::START_SCRIPT.as_bytes(),
    );
    if let Some(build) = &plan.build_script {
        files.insert(CONTEXT_BUILD.to_string(), build.as_bytes());
    }
    if let Some(prepare) = &plan.prepare {
        files.insert(shim::CONTEXT_PREPARE.to_string(), prepare.as_bytes());
    }
    for tool in &plan.shims {
        files.insert(
            format!("{}/{tool}", shim::CONTEXT_SHIM_DIR),
            shim::SHIM.as_bytes(),
        );
    }
    if let (Some(ca), None) = (ca, &deps) {
        files.insert(CONTEXT_CA.to_string(), ca);
    }
    let tar = write_tar(&files)?;
    Ok(BuildContext {
        digest: cache_key::digest(&tar),
        tar,
        containerfile,
        deps,
    })
}

/// The dependency image's context `FROM` `from` (the base image, or a previous dependency
/// image of the service, see [`crate::image`]): its tar and Containerfile.
///
/// # Errors
/// [`ContextError::MissingCa`] when `plan.ca_bundle` is set without `ca`.
pub fn pack_deps(
    plan: &BuildPlan,
    ca: Option<&[u8]>,
    from: &str,
) -> Result<(Vec<u8>, String), ContextError> {
    let containerfile = containerfile::render_deps(plan, from);
    let mut files: BTreeMap<String, &[u8]> = BTreeMap::new();
    files.insert(CONTAINERFILE.to_string(), containerfile.as_bytes());
    for f in &plan.deps_files {
        files.insert(format!("{CONTEXT_DEPS}/{}", f.path), &f.contents);
    }
    if plan.ca_bundle {
        files.insert(CONTEXT_CA.to_string(), ca.ok_or(ContextError::MissingCa)?);
    }
    let tar = write_tar(&files)?;
    Ok((tar, containerfile))
}

/// A tar holding just a Containerfile (base images).
///
/// # Errors
/// Only if writing to memory fails.
pub fn containerfile_only(text: &str) -> Result<Vec<u8>, ContextError> {
    let mut files: BTreeMap<String, &[u8]> = BTreeMap::new();
    files.insert(CONTAINERFILE.to_string(), text.as_bytes());
    Ok(write_tar(&files)?)
}

/// A context of just `files` (path → content), with the fixed metadata of every context.
///
/// # Errors
/// I/O errors writing the archive.
pub fn files_only(files: &BTreeMap<String, &[u8]>) -> Result<Vec<u8>, ContextError> {
    Ok(write_tar(files)?)
}

/// Name of the CA bundle file in a base image's context (empty without a bundle): the Python
/// recipe installs uv from PyPI through it in a build stage that does not end up in the image.
pub const BASE_CA: &str = "pactown-ca.crt";

/// The context of a base image: its recipe and [`BASE_CA`].
///
/// # Errors
/// Only if writing to memory fails.
pub fn base_context(recipe: &str, ca: Option<&[u8]>) -> Result<Vec<u8>, ContextError> {
    let mut files: BTreeMap<String, &[u8]> = BTreeMap::new();
    files.insert(CONTAINERFILE.to_string(), recipe.as_bytes());
    files.insert(BASE_CA.to_string(), ca.unwrap_or_default());
    Ok(write_tar(&files)?)
}

/// Writes files (and their parent directories) in path order with fixed metadata.
fn write_tar(files: &BTreeMap<String, &[u8]>) -> std::io::Result<Vec<u8>> {
    let mut dirs = BTreeSet::new();
    for path in files.keys() {
        let mut prefix = String::new();
        let parts: Vec<&str> = path.split('/').collect();
        for part in parts.iter().take(parts.len().saturating_sub(1)) {
            prefix.push_str(part);
            prefix.push('/');
            dirs.insert(prefix.clone());
        }
    }
    // One sorted list: "a/" sorts before "a/x" because '/' is the shortest continuation.
    let mut entries: Vec<(&str, Option<&[u8]>)> = dirs.iter().map(|d| (d.as_str(), None)).collect();
    entries.extend(files.iter().map(|(p, c)| (p.as_str(), Some(*c))));
    entries.sort_by(|a, b| a.0.cmp(b.0));

    let mut builder = tar::Builder::new(Vec::new());
    builder.mode(tar::HeaderMode::Deterministic);
    for (path, contents) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(FIXED_MTIME);
        match contents {
            None => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                header.set_size(0);
                builder.append_data(&mut header, path, std::io::empty())?;
            }
            Some(bytes) => {
                header.set_entry_type(tar::EntryType::Regular);
                // the shims are found through PATH, so they must be executable
                let exec = path.starts_with(shim::CONTEXT_SHIM_DIR);
                header.set_mode(if exec { 0o755 } else { 0o644 });
                header.set_size(bytes.len() as u64);
                builder.append_data(&mut header, path, bytes)?;
            }
        }
    }
    builder.into_inner()
}
