//! From README to image. A provider turns a parsed README into a [`BuildPlan`] (plain data), the
//! pure renderer [`containerfile::render`] writes the Containerfile, [`context::pack`] makes a
//! deterministic tar, and the image tag is derived from the tar's digest ([`cache_key`]): the same
//! README bytes give the same tag, so an existing tag means nothing needs building. Base images
//! per runtime come from the recipes in `images/` ([`base`]); `debian:bookworm-slim` itself can be
//! made without a registry ([`bootstrap`]).
//!
//! This module emits [`BuildEvent`]s and never prints; the CLI decides how to show them.
pub mod base;
pub mod bootstrap;
pub mod cache_key;
pub mod containerfile;
pub mod context;
pub mod ingress;
pub mod lock;
pub mod provider;
pub mod push;
pub mod shim;
pub mod start_script;

pub use provider::{plan, BuildPlan, PlanError, PlanFile, PlanOptions};

use crate::config::labels;
use crate::config::Ecosystem;
use crate::engine::{BuildFailure, BuildProgress, BuildRequest, BuildStep, Engine, EngineError};
use crate::markpact::{Markpact, Runtime};
use context::BuildContext;
use futures_util::{StreamExt, TryStreamExt};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

/// Errors of planning or running builds.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The build of a service failed in the engine.
    #[error(
        "build of service `{service}` failed{}: {message}{}",
        step.as_ref().map(|s| format!(" at step `{s}`")).unwrap_or_default(),
        hint.as_ref().map(|h| format!("\n  hint: {h}")).unwrap_or_default()
    )]
    Failed {
        /// Service name.
        service: String,
        /// The failing step.
        step: Option<String>,
        /// The engine's message.
        message: String,
        /// The log of the failing step (from its `Step N/M` line on, at most
        /// [`LOG_TAIL_LINES`] lines).
        log_tail: Vec<String>,
        /// What to do about it, when the log shows a known cause ([`tls_hint`]).
        hint: Option<String>,
    },
    /// The README cannot be built (unsupported runtime feature…).
    #[error("service `{service}`: {message}")]
    Plan {
        /// Service name.
        service: String,
        /// What is wrong.
        message: String,
    },
    /// Reading an input (CA bundle, base recipe) failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being read.
        context: String,
        /// The IO error.
        source: std::io::Error,
    },
    /// A base image's build failed.
    #[error("base image {tag} failed to build: {message}")]
    Base {
        /// The base image tag.
        tag: String,
        /// The engine's message.
        message: String,
        /// The log of the failing step.
        log_tail: Vec<String>,
    },
    /// `debian:bookworm-slim` is missing, so no base image can be built.
    #[error(
        "image {image} is not present in the engine and no registry is used; \
         run `pactown images bootstrap` to create it"
    )]
    MissingDebian {
        /// The missing image.
        image: String,
    },
    /// The engine failed outside a build (lookup, connection).
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// At most this many lines of a failing step's log are kept.
pub const LOG_TAIL_LINES: usize = 200;

/// Options of a build run.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Ignore the layer cache and existing tags.
    pub no_cache: bool,
    /// Extra CA bundle to add to builds (corporate / intercepting proxy CA).
    pub ca_bundle: Option<PathBuf>,
    /// Parallel builds (default: number of cores).
    pub jobs: usize,
}

impl BuildOptions {
    /// The CA bundle to use, by precedence: the command line / `PACTOWN_CA_BUNDLE` value
    /// (`flag`, an empty path counts as unset), else `build.ca_bundle` of the ecosystem file; off
    /// when neither is set.
    #[must_use]
    pub fn resolve_ca_bundle(flag: Option<PathBuf>, eco: &Ecosystem) -> Option<PathBuf> {
        flag.filter(|p| !p.as_os_str().is_empty())
            .or_else(|| eco.build.ca_bundle.clone())
    }
}

/// Progress of a build run, for the UI to show.
#[derive(Debug, Clone)]
pub enum BuildEvent {
    /// A service's build started (or found its tag present).
    Started {
        /// Service name.
        service: String,
        /// Target tag.
        tag: String,
    },
    /// The tag was not found (or `no_cache`): the engine build begins now.
    Building {
        /// Service name.
        service: String,
    },
    /// A line of build output (base-image builds report under the first service needing them).
    Line {
        /// Service name.
        service: String,
        /// The line.
        line: String,
    },
    /// A service's image is ready.
    Finished {
        /// Service name.
        service: String,
        /// True when no build ran (tag already present).
        cached: bool,
    },
}

/// The image of one service after a build run.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceImage {
    /// Service name.
    pub service: String,
    /// Runtime of the service.
    pub runtime: Runtime,
    /// `pactown/<runtime>-<service>:<12 hex of the context digest>`.
    pub tag: String,
    /// Engine image id.
    pub image_id: String,
    /// sha256 of the build-context tar (`sha256:<hex>`).
    pub context_digest: String,
    /// The dependency image the service image starts from (`pactown/deps-<runtime>:<hash>`),
    /// when it has dependencies.
    pub deps_image: Option<String>,
    /// Image size in bytes.
    pub size: u64,
    /// True when the tag existed and no build ran.
    pub cached: bool,
    /// Wall-clock seconds spent.
    pub seconds: f64,
    /// Steps and their cache status (empty when `cached`).
    pub steps: Vec<BuildStep>,
}

/// A service ready to be built: its plan, packed context and tag.
#[derive(Debug, Clone)]
pub struct PreparedService {
    /// Service name.
    pub service: String,
    /// The plan.
    pub plan: BuildPlan,
    /// The packed context.
    pub context: BuildContext,
    /// Target tag.
    pub tag: String,
    /// The CA bundle the context was packed with (a seeded dependency build packs again).
    pub ca: Option<Vec<u8>>,
}

/// Deepest stack of seeded dependency installs: a dependency image whose depth label reached
/// this is not used as a seed, so the next install starts from the base image again (each
/// seeded install adds its layers on top of the previous image's).
pub const MAX_SEED_DEPTH: u32 = 8;

/// Plans and packs one service (pure apart from the bytes given).
///
/// # Errors
/// [`BuildError::Plan`] when the README cannot be built.
pub fn prepare(
    doc: &Markpact,
    service: &str,
    ca: Option<&[u8]>,
) -> Result<PreparedService, BuildError> {
    let plan_error = |message: String| BuildError::Plan {
        service: service.to_string(),
        message,
    };
    let plan = provider::plan(
        doc,
        service,
        &PlanOptions {
            ca_bundle: ca.is_some(),
        },
    )
    .map_err(|e| plan_error(e.message))?;
    let context = context::pack(&plan, ca).map_err(|e| plan_error(e.to_string()))?;
    let tag = cache_key::image_tag(plan.runtime, service, &context.digest);
    Ok(PreparedService {
        service: service.to_string(),
        plan,
        context,
        tag,
        ca: ca.map(<[u8]>::to_vec),
    })
}

/// Builds (or finds) the image of each named service (all services when `services` is empty), in
/// parallel up to `opts.jobs`. Base images are built first when missing.
///
/// # Errors
/// The first failing service's [`BuildError`].
pub async fn build_services(
    engine: &dyn Engine,
    eco: &Ecosystem,
    docs: &BTreeMap<String, Markpact>,
    services: &[String],
    opts: &BuildOptions,
    events: &(dyn Fn(BuildEvent) + Send + Sync),
) -> Result<Vec<ServiceImage>, BuildError> {
    let names: Vec<String> = if services.is_empty() {
        eco.services.iter().map(|s| s.name.clone()).collect()
    } else {
        services.to_vec()
    };
    let ca = match &opts.ca_bundle {
        Some(path) => Some(
            crate::input::read_capped(path, crate::input::MAX_CA_BUNDLE_BYTES).map_err(
                |source| BuildError::Io {
                    context: format!("cannot read CA bundle {}", path.display()),
                    source,
                },
            )?,
        ),
        None => None,
    };
    let mut prepared = Vec::with_capacity(names.len());
    for name in &names {
        let Some(doc) = docs.get(name) else {
            let known: Vec<&str> = eco.services.iter().map(|s| s.name.as_str()).collect();
            return Err(BuildError::Plan {
                service: name.clone(),
                message: format!(
                    "no such service in {} (services: {})",
                    eco.file.display(),
                    known.join(", ")
                ),
            });
        };
        prepared.push(prepare(doc, name, ca.as_deref())?);
    }
    let jobs = if opts.jobs == 0 {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    } else {
        opts.jobs
    };

    // warm path first: every image found by its tag needs neither its base nor a build (the tag
    // is the context digest, and the context names the base image's content tag)
    let mut found: Vec<(usize, ServiceImage)> = Vec::new();
    let mut missing: Vec<(usize, &PreparedService)> = Vec::new();
    if opts.no_cache {
        missing.extend(prepared.iter().enumerate());
    } else {
        let looked: Vec<(usize, Option<ServiceImage>)> =
            futures_util::stream::iter(prepared.iter().enumerate())
                .map(|(i, p)| async move { find_cached(engine, p, events).await.map(|r| (i, r)) })
                .buffer_unordered(jobs.max(4))
                .try_collect()
                .await?;
        for (i, image) in looked {
            match (image, prepared.get(i)) {
                (Some(image), _) => found.push((i, image)),
                (None, Some(p)) => missing.push((i, p)),
                (None, None) => {}
            }
        }
    }

    // base images: one per runtime still to build, reported under the first service needing it
    let mut runtimes: BTreeMap<Runtime, String> = BTreeMap::new();
    for (_, p) in &missing {
        runtimes
            .entry(p.plan.runtime)
            .or_insert_with(|| p.service.clone());
    }
    let ca_bytes = ca.as_deref();
    futures_util::stream::iter(runtimes)
        .map(|(runtime, service)| async move {
            ensure_base(engine, runtime, ca_bytes, &|line| {
                events(BuildEvent::Line {
                    service: service.clone(),
                    line,
                });
            })
            .await
        })
        .buffer_unordered(jobs)
        .try_collect::<Vec<bool>>()
        .await?;

    let mut results: Vec<(usize, ServiceImage)> = futures_util::stream::iter(missing)
        .map(|(i, p)| async move { build_one(engine, p, opts, events).await.map(|r| (i, r)) })
        .buffer_unordered(jobs)
        .try_collect()
        .await?;
    results.extend(found);
    results.sort_by_key(|(i, _)| *i);
    Ok(results.into_iter().map(|(_, r)| r).collect())
}

/// The service's image when its tag exists already (reported as started and finished from
/// cache), without taking the build lock: a found tag is complete.
async fn find_cached(
    engine: &dyn Engine,
    prepared: &PreparedService,
    events: &(dyn Fn(BuildEvent) + Send + Sync),
) -> Result<Option<ServiceImage>, BuildError> {
    let start = Instant::now();
    let Some(info) = engine.image(&prepared.tag).await? else {
        return Ok(None);
    };
    events(BuildEvent::Started {
        service: prepared.service.clone(),
        tag: prepared.tag.clone(),
    });
    events(BuildEvent::Finished {
        service: prepared.service.clone(),
        cached: true,
    });
    Ok(Some(service_image(
        prepared,
        start,
        info.id,
        info.size,
        true,
        Vec::new(),
    )))
}

/// The result of one service's build (or cache hit) that began at `start`.
fn service_image(
    prepared: &PreparedService,
    start: Instant,
    image_id: String,
    size: u64,
    cached: bool,
    steps: Vec<BuildStep>,
) -> ServiceImage {
    ServiceImage {
        service: prepared.service.clone(),
        runtime: prepared.plan.runtime,
        tag: prepared.tag.clone(),
        image_id,
        context_digest: prepared.context.digest.clone(),
        deps_image: prepared.context.deps.as_ref().map(|d| d.tag.clone()),
        size,
        cached,
        seconds: start.elapsed().as_secs_f64(),
        steps,
    }
}

/// Makes sure the base image of a runtime exists, building it from its recipe when missing.
/// Returns true when it was built. `ca` is the CA bundle for HTTPS during the build (the Python
/// recipe fetches uv from PyPI); it does not end up in the image, so the tag does not depend on it.
///
/// # Errors
/// [`BuildError::MissingDebian`] when `debian:bookworm-slim` is absent, [`BuildError::Base`] when
/// the recipe fails.
pub async fn ensure_base(
    engine: &dyn Engine,
    runtime: Runtime,
    ca: Option<&[u8]>,
    log: &(dyn Fn(String) + Send + Sync),
) -> Result<bool, BuildError> {
    ensure_recipe(
        engine,
        &base::base_tag(runtime),
        base::recipe(runtime),
        &runtime.to_string(),
        ca,
        log,
    )
    .await
}

/// [`ensure_base`] of any base recipe: builds `recipe` as `tag` (labelled with `kind`) when the
/// tag is missing. Returns true when it was built.
///
/// # Errors
/// As [`ensure_base`].
pub async fn ensure_recipe(
    engine: &dyn Engine,
    tag: &str,
    recipe: &str,
    kind: &str,
    ca: Option<&[u8]>,
    log: &(dyn Fn(String) + Send + Sync),
) -> Result<bool, BuildError> {
    let tag = tag.to_string();
    if engine.image(&tag).await?.is_some() {
        return Ok(false);
    }
    if engine.image(base::DEBIAN_IMAGE).await?.is_none() {
        return Err(BuildError::MissingDebian {
            image: base::DEBIAN_IMAGE.to_string(),
        });
    }
    log(format!("building base image {tag}"));
    let tar = context::base_context(recipe, ca).map_err(|e| BuildError::Base {
        tag: tag.clone(),
        message: e.to_string(),
        log_tail: Vec::new(),
    })?;
    let request = BuildRequest {
        tag: tag.clone(),
        context: tar,
        containerfile: context::CONTAINERFILE.to_string(),
        labels: BTreeMap::from([
            (labels::MANAGED.to_string(), "true".to_string()),
            (labels::RUNTIME.to_string(), kind.to_string()),
        ]),
        no_cache: false,
    };
    let progress = |p: BuildProgress| log(p.line);
    match engine.build(request, &progress).await? {
        Ok(_) => {
            log(format!("base image {tag} ready"));
            Ok(true)
        }
        Err(failure) => Err(BuildError::Base {
            tag,
            message: failure.message.clone(),
            log_tail: failing_step_log(&failure),
        }),
    }
}

async fn build_one(
    engine: &dyn Engine,
    prepared: &PreparedService,
    opts: &BuildOptions,
    events: &(dyn Fn(BuildEvent) + Send + Sync),
) -> Result<ServiceImage, BuildError> {
    let start = Instant::now();
    let service = prepared.service.clone();
    events(BuildEvent::Started {
        service: service.clone(),
        tag: prepared.tag.clone(),
    });
    let image = |image_id: String, size: u64, cached: bool, steps: Vec<BuildStep>| {
        service_image(prepared, start, image_id, size, cached, steps)
    };
    // another pactown process may be building the same tag right now: wait for it, then reuse
    let _lock = lock::acquire(engine.kind(), &prepared.tag).await;
    if !opts.no_cache {
        if let Some(info) = engine.image(&prepared.tag).await? {
            events(BuildEvent::Finished {
                service: service.clone(),
                cached: true,
            });
            return Ok(image(info.id, info.size, true, Vec::new()));
        }
    }
    events(BuildEvent::Building {
        service: service.clone(),
    });
    let mut steps = match &prepared.context.deps {
        Some(deps) => ensure_deps(engine, prepared, deps, opts, events).await?,
        None => Vec::new(),
    };
    let request = BuildRequest {
        tag: prepared.tag.clone(),
        context: prepared.context.tar.clone(),
        containerfile: context::CONTAINERFILE.to_string(),
        // labels are LABEL lines of the Containerfile (see `containerfile`): build-request labels
        // would cost one more layer commit after the code on every rebuild
        labels: BTreeMap::new(),
        no_cache: opts.no_cache,
    };
    let progress = |p: BuildProgress| {
        events(BuildEvent::Line {
            service: service.clone(),
            line: p.line,
        });
    };
    match engine.build(request, &progress).await? {
        Ok(outcome) => {
            // the tag is the truth: the id the build stream reports can be an intermediate one
            // when the last step is a RUN, and the config hash must match what a later lookup
            // of the tag finds
            let (image_id, size) = engine
                .image(&prepared.tag)
                .await?
                .map_or((outcome.image_id, 0), |info| (info.id, info.size));
            events(BuildEvent::Finished {
                service: service.clone(),
                cached: false,
            });
            steps.extend(outcome.steps);
            Ok(image(image_id, size, false, steps))
        }
        Err(failure) => Err(failed(&service, &failure, opts)),
    }
}

fn failed(service: &str, failure: &BuildFailure, opts: &BuildOptions) -> BuildError {
    let log_tail = failing_step_log(failure);
    let hint = tls_hint(
        log_tail.iter().chain([&failure.message]),
        opts.ca_bundle.as_deref(),
    );
    BuildError::Failed {
        service: service.to_string(),
        step: failure.step.clone(),
        message: failure.message.clone(),
        log_tail,
        hint,
    }
}

/// Makes sure the dependency image of a service exists; the steps of the build that made it
/// (empty when its tag existed).
///
/// The tag names the dependency inputs (manifests, install commands, base image, CA bundle), so
/// an existing tag is reused as is (unless `no_cache`). Otherwise, when the plan's install ends
/// with exactly the listed dependencies ([`BuildPlan::deps_seed`]), the build starts from the
/// service's previous dependency image ([`cache_key::deps_seed_tag`]) if that one was installed
/// on the same base image and stacks fewer than [`MAX_SEED_DEPTH`] installs: only the added or
/// removed packages are fetched or deleted. `no_cache` always installs from the base image. The
/// image used becomes the service's next seed.
async fn ensure_deps(
    engine: &dyn Engine,
    prepared: &PreparedService,
    deps: &context::DepsContext,
    opts: &BuildOptions,
    events: &(dyn Fn(BuildEvent) + Send + Sync),
) -> Result<Vec<BuildStep>, BuildError> {
    let plan = &prepared.plan;
    let service = &prepared.service;
    let seed_tag = cache_key::deps_seed_tag(plan.runtime, service);
    let _lock = lock::acquire(engine.kind(), &deps.tag).await;
    if !opts.no_cache && engine.image(&deps.tag).await?.is_some() {
        engine.tag_image(&deps.tag, &seed_tag).await?;
        return Ok(Vec::new());
    }
    let seed = if opts.no_cache || !plan.deps_seed {
        None
    } else {
        engine.image(&seed_tag).await?.and_then(|info| {
            let depth: u32 = info.labels.get(labels::DEPS_DEPTH)?.parse().ok()?;
            (info.labels.get(labels::DEPS_BASE) == Some(&plan.base_image)
                && depth + 1 < MAX_SEED_DEPTH)
                .then_some(depth + 1)
        })
    };
    let (tar, depth) =
        match seed {
            Some(depth) => {
                let (tar, _) = context::pack_deps(plan, prepared.ca.as_deref(), &seed_tag)
                    .map_err(|e| BuildError::Plan {
                        service: service.clone(),
                        message: e.to_string(),
                    })?;
                events(BuildEvent::Line {
                    service: service.clone(),
                    line: format!(
                        "dependencies {}: installing on top of {seed_tag} (stack {depth})",
                        deps.tag
                    ),
                });
                (tar, depth)
            }
            None => (deps.tar.clone(), 0),
        };
    let request = BuildRequest {
        tag: deps.tag.clone(),
        context: tar,
        containerfile: context::CONTAINERFILE.to_string(),
        labels: BTreeMap::from([
            (labels::MANAGED.to_string(), "true".to_string()),
            (labels::RUNTIME.to_string(), plan.runtime.to_string()),
            (labels::DEPS_BASE.to_string(), plan.base_image.clone()),
            (labels::DEPS_DEPTH.to_string(), depth.to_string()),
        ]),
        no_cache: opts.no_cache,
    };
    let progress = |p: BuildProgress| {
        events(BuildEvent::Line {
            service: service.clone(),
            line: p.line,
        });
    };
    match engine.build(request, &progress).await? {
        Ok(outcome) => {
            engine.tag_image(&deps.tag, &seed_tag).await?;
            Ok(outcome.steps)
        }
        Err(failure) => Err(failed(service, &failure, opts)),
    }
}

/// What pip, npm, cargo, curl, Go and `OpenSSL` print when a TLS certificate cannot be verified
/// (compared in lower case).
const CERTIFICATE_ERRORS: [&str; 9] = [
    "certificate_verify_failed",
    "self-signed certificate in certificate chain",
    "self signed certificate in certificate chain",
    "self_signed_cert_in_chain",
    "unable_to_get_issuer_cert_locally",
    "unable to get local issuer certificate",
    "ssl certificate problem",
    "certificate signed by unknown authority",
    "unable_to_verify_leaf_signature",
];

/// The hint for a build whose log (the failing step's lines and the engine's message) shows a
/// certificate error: on these machines HTTPS to the package registries goes through an
/// intercepting proxy whose CA the build needs. `ca_bundle` is the bundle the build was given.
#[must_use]
pub fn tls_hint<'a>(
    log: impl IntoIterator<Item = &'a String>,
    ca_bundle: Option<&std::path::Path>,
) -> Option<String> {
    let seen = log.into_iter().any(|line| {
        let line = line.to_lowercase();
        CERTIFICATE_ERRORS.iter().any(|e| line.contains(e))
    });
    if !seen {
        return None;
    }
    Some(match ca_bundle {
        None => "the log shows a certificate error: HTTPS seems to be intercepted (a proxy with \
                 its own CA); pass `--ca-bundle FILE` or set `PACTOWN_CA_BUNDLE` / \
                 `build: {ca_bundle: FILE}` in the ecosystem file, with FILE holding the \
                 proxy's CA (often /etc/ssl/certs/ca-certificates.crt)"
            .to_string(),
        Some(path) => format!(
            "the log shows a certificate error although the CA bundle {} was added: HTTPS \
             seems to be intercepted by a proxy whose CA is not in that file; pass the \
             bundle that holds it with `--ca-bundle FILE` / `PACTOWN_CA_BUNDLE` / \
             `build: {{ca_bundle: FILE}}`",
            path.display()
        ),
    })
}

/// The log of the failing step: from the last `Step N/M` (Docker) or `STEP N/M` (Podman) line to
/// the end, at most [`LOG_TAIL_LINES`] lines.
#[must_use]
pub fn failing_step_log(failure: &BuildFailure) -> Vec<String> {
    let start = failure
        .log
        .iter()
        .rposition(|l| {
            let t = l.trim_start();
            t.starts_with("Step ") || t.starts_with("STEP ")
        })
        .unwrap_or(0);
    let lines = failure.log.get(start..).unwrap_or_default();
    let skip = lines.len().saturating_sub(LOG_TAIL_LINES);
    lines.iter().skip(skip).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failing_step_log_starts_at_the_last_step() {
        let failure = BuildFailure {
            message: "exit 1".into(),
            step: Some("RUN pip install".into()),
            log: vec![
                "Step 1/3 : FROM x".into(),
                " ---> abc".into(),
                "Step 2/3 : RUN pip install -r requirements.txt".into(),
                "ERROR: No matching distribution".into(),
            ],
        };
        assert_eq!(
            failing_step_log(&failure),
            vec![
                "Step 2/3 : RUN pip install -r requirements.txt".to_string(),
                "ERROR: No matching distribution".to_string()
            ]
        );
        let long = BuildFailure {
            message: String::new(),
            step: None,
            log: (0..500).map(|i| i.to_string()).collect(),
        };
        let tail = failing_step_log(&long);
        assert_eq!(tail.len(), LOG_TAIL_LINES);
        assert_eq!(tail.last().map(String::as_str), Some("499"));
    }

    /// The hint appears for the certificate errors of pip, npm and cargo (as they print them
    /// behind an intercepting proxy), names the options, and only then.
    #[test]
    fn certificate_errors_in_the_log_give_the_ca_bundle_hint() {
        let logs: [&[&str]; 4] = [
            &[
                "Step 8/10 : RUN /opt/venv/bin/pip install --no-cache-dir -r requirements.txt",
                "WARNING: Retrying (Retry(total=4, connect=None, read=None, redirect=None, \
                 status=None)) after connection broken by 'SSLError(SSLCertVerificationError(1, \
                 '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed \
                 certificate in certificate chain (_ssl.c:992)'))': /simple/fastapi/",
                "ERROR: No matching distribution found for fastapi",
            ],
            &[
                "STEP 7/9: RUN npm ci",
                "npm ERR! code SELF_SIGNED_CERT_IN_CHAIN",
                "npm ERR! errno SELF_SIGNED_CERT_IN_CHAIN",
                "npm ERR! request to https://registry.npmjs.org/express failed, reason: self \
                 signed certificate in certificate chain",
            ],
            &[
                "npm ERR! code UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
                "npm ERR! request to https://registry.npmjs.org/express failed, reason: unable \
                 to get local issuer certificate",
            ],
            &[
                "Step 9/12 : RUN cargo build --release",
                "    Updating crates.io index",
                "error: failed to get `itoa` as a dependency of package `app v0.1.0 (/app)`",
                "Caused by:",
                "  [60] SSL peer certificate or SSH remote key was not OK (SSL certificate \
                 problem: self-signed certificate in certificate chain)",
            ],
        ];
        for log in logs {
            let log: Vec<String> = log.iter().map(ToString::to_string).collect();
            let hint = tls_hint(&log, None).unwrap_or_else(|| panic!("no hint for {log:?}"));
            for part in [
                "HTTPS seems to be intercepted",
                "--ca-bundle FILE",
                "PACTOWN_CA_BUNDLE",
                "build: {ca_bundle: FILE}",
            ] {
                assert!(hint.contains(part), "{hint}");
            }
            let given =
                tls_hint(&log, Some(std::path::Path::new("/etc/corp.pem"))).unwrap_or_default();
            assert!(
                given.contains("although the CA bundle /etc/corp.pem"),
                "{given}"
            );
        }
        let unrelated: Vec<String> = [
            "Step 8/10 : RUN /opt/venv/bin/pip install --no-cache-dir -r requirements.txt",
            "ERROR: Could not find a version that satisfies the requirement fastapi==0.0.0",
            "npm ERR! code E404",
        ]
        .map(String::from)
        .into();
        assert_eq!(tls_hint(&unrelated, None), None);
    }

    /// The hint is part of the error's message, after the engine's own.
    #[test]
    fn the_hint_shows_in_the_build_error() {
        let err = BuildError::Failed {
            service: "api".into(),
            step: Some("RUN npm ci".into()),
            message: "exit code 1".into(),
            log_tail: vec!["npm ERR! code SELF_SIGNED_CERT_IN_CHAIN".into()],
            hint: tls_hint(
                &["npm ERR! code SELF_SIGNED_CERT_IN_CHAIN".to_string()],
                None,
            ),
        };
        let text = err.to_string();
        assert!(
            text.starts_with("build of service `api` failed at step `RUN npm ci`: exit code 1\n  hint: the log shows a certificate error"),
            "{text}"
        );
    }
}
