//! `pactown images`: pactown's base images (`bootstrap` makes `debian:bookworm-slim` without a
//! registry, `build` prepares the per-runtime bases, `list` shows them).
use crate::config::EngineChoice;
use crate::error::{Error, RequestError};
use crate::image::{base, bootstrap};
use crate::markpact::Runtime;
use crate::ui::Printer;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `pactown images`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: ImagesCommand,
}

/// Subcommands of `pactown images`.
#[derive(Debug, clap::Subcommand)]
pub enum ImagesCommand {
    /// Create `debian:bookworm-slim` offline with debootstrap (needs root and debootstrap).
    Bootstrap {
        /// Image reference to import as (another tag leaves the real base image alone, e.g.
        /// for tests).
        #[arg(long, value_name = "REF", default_value = base::DEBIAN_IMAGE)]
        tag: String,
        /// Container engine.
        #[arg(long, value_enum, env = "PACTOWN_ENGINE", default_value = "auto")]
        engine: EngineChoice,
        /// Folder for the cached root file system tarball (default ~/.cache/pactown/base).
        #[arg(long, value_name = "DIR")]
        cache: Option<PathBuf>,
        /// Import again even when the image exists.
        #[arg(long)]
        force: bool,
    },
    /// Build the per-runtime base images (default: all runtimes).
    Build {
        /// Runtimes to build.
        #[arg(value_enum)]
        runtimes: Vec<RuntimeArg>,
        /// Container engine.
        #[arg(long, value_enum, env = "PACTOWN_ENGINE", default_value = "auto")]
        engine: EngineChoice,
        /// CA bundle for HTTPS while building (the Python base fetches uv from PyPI); it does
        /// not end up in the images.
        #[arg(long, value_name = "FILE", env = "PACTOWN_CA_BUNDLE")]
        ca_bundle: Option<PathBuf>,
    },
    /// Show the base images and whether they exist in the engine.
    List {
        /// Container engine.
        #[arg(long, value_enum, env = "PACTOWN_ENGINE", default_value = "auto")]
        engine: EngineChoice,
        /// Print JSON on stdout.
        #[arg(long)]
        json: bool,
    },
}

/// A runtime name on the command line.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum RuntimeArg {
    /// Python.
    Python,
    /// Node.js.
    Node,
    /// Go.
    Go,
    /// Rust.
    Rust,
    /// PHP.
    Php,
    /// Static files.
    Static,
}

impl From<RuntimeArg> for Runtime {
    fn from(r: RuntimeArg) -> Self {
        match r {
            RuntimeArg::Python => Runtime::Python,
            RuntimeArg::Node => Runtime::Node,
            RuntimeArg::Go => Runtime::Go,
            RuntimeArg::Rust => Runtime::Rust,
            RuntimeArg::Php => Runtime::Php,
            RuntimeArg::Static => Runtime::Static,
        }
    }
}

/// Runs `pactown images`.
pub async fn run(args: Args, printer: &Printer) -> Result<ExitCode, Error> {
    match args.command {
        ImagesCommand::Bootstrap {
            tag,
            engine,
            cache,
            force,
        } => {
            if !valid_reference(&tag) {
                return Err(RequestError::ImageTag(tag).into());
            }
            let engine = crate::deploy::connect(Some(engine), None).await?;
            if !force && engine.image(&tag).await?.is_some() {
                printer.info(&format!("{tag} is present in {}", engine.kind()));
                return Ok(ExitCode::SUCCESS);
            }
            let cache = cache.unwrap_or_else(bootstrap::default_cache_dir);
            let log = |line: String| printer.info(&line);
            let tarball = bootstrap::rootfs_tarball(&cache, &log).await?;
            bootstrap::import_as(engine.as_ref(), &tarball, &tag).await?;
            printer.info(&format!("imported {tag} into {}", engine.kind()));
            Ok(ExitCode::SUCCESS)
        }
        ImagesCommand::Build {
            runtimes,
            engine,
            ca_bundle,
        } => {
            let ca = match ca_bundle.filter(|p| !p.as_os_str().is_empty()) {
                Some(path) => Some(
                    crate::input::read_capped(&path, crate::input::MAX_CA_BUNDLE_BYTES).map_err(
                        |source| crate::image::BuildError::Io {
                            context: format!("cannot read CA bundle {}", path.display()),
                            source,
                        },
                    )?,
                ),
                None => None,
            };
            let engine = crate::deploy::connect(Some(engine), None).await?;
            let runtimes: Vec<Runtime> = if runtimes.is_empty() {
                Runtime::ALL.to_vec()
            } else {
                runtimes.into_iter().map(Runtime::from).collect()
            };
            for rt in runtimes {
                let log = |line: String| printer.debug(&format!("base-{rt} | {line}"));
                let built =
                    crate::image::ensure_base(engine.as_ref(), rt, ca.as_deref(), &log).await?;
                let state = if built { "built" } else { "present" };
                printer.info(&format!("{}: {state}", base::base_tag(rt)));
            }
            Ok(ExitCode::SUCCESS)
        }
        ImagesCommand::List { engine, json } => {
            let engine = crate::deploy::connect(Some(engine), None).await?;
            let mut rows = Vec::new();
            let mut tags: Vec<(String, String)> =
                vec![("debian".to_string(), base::DEBIAN_IMAGE.to_string())];
            tags.extend(
                Runtime::ALL
                    .iter()
                    .map(|rt| (rt.to_string(), base::base_tag(*rt))),
            );
            for (name, tag) in tags {
                let info = engine.image(&tag).await?;
                rows.push(serde_json::json!({
                    "base": name,
                    "tag": tag,
                    "present": info.is_some(),
                    "id": info.as_ref().map(|i| i.id.clone()),
                    "size": info.as_ref().map(|i| i.size),
                }));
            }
            if json {
                printer.out(&serde_json::to_string_pretty(&rows).unwrap_or_default());
            } else {
                for row in &rows {
                    #[allow(clippy::cast_precision_loss)]
                    let size = row["size"]
                        .as_u64()
                        .map_or_else(|| "-".to_string(), |s| format!("{:.1} MB", s as f64 / 1e6));
                    let present = if row["present"] == true {
                        "present"
                    } else {
                        "missing"
                    };
                    printer.out(&format!(
                        "{:<8} {:<36} {present:<8} {size}",
                        row["base"].as_str().unwrap_or(""),
                        row["tag"].as_str().unwrap_or("")
                    ));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A plausible image reference: `[HOST[:PORT]/]PATH[:TAG]`, lowercase path components of
/// `[a-z0-9._-]`, a tag of `[A-Za-z0-9._-]` up to 128 characters; no digest.
fn valid_reference(reference: &str) -> bool {
    let (name, tag) = match reference.rsplit_once(':') {
        Some((n, t)) if !t.contains('/') => (n, Some(t)),
        _ => (reference, None),
    };
    let tag_ok = tag.is_none_or(|t| {
        !t.is_empty()
            && t.len() <= 128
            && !t.starts_with(['.', '-'])
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    });
    let mut parts: Vec<&str> = name.split('/').collect();
    // A leading registry host (`localhost:5000/…`, `reg.example/…`) has its own rules.
    if parts.len() > 1 && parts[0].contains(['.', ':']) {
        parts.remove(0);
    }
    let name_ok = parts.iter().all(|part| {
        !part.is_empty()
            && part.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')
            })
    });
    tag_ok && name_ok
}

#[cfg(test)]
mod tests {
    use super::valid_reference;

    #[test]
    fn image_references() {
        for ok in [
            "debian:bookworm-slim",
            "pactown-test/debian:bootstrap-1a2b",
            "localhost:5000/x/y:1.0",
            "busybox",
        ] {
            assert!(valid_reference(ok), "{ok}");
        }
        for bad in ["", "Debian:x", "a:", "a:b c", "a//b", "a:-x", "a@sha256:00"] {
            assert!(!valid_reference(bad), "{bad}");
        }
    }
}
