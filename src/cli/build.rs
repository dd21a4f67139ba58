//! `pactown build`: builds (or finds cached) images for the services of an ecosystem.
use crate::config::EngineChoice;
use crate::error::Error;
use crate::image::push::{
    expand_tag, git_info, ImagePushError, ImageRepo, PushEvent, PushOptions, TagVars,
};
use crate::image::{BuildError, BuildEvent, BuildOptions, ServiceImage};
use crate::observe::journal::{BuildRecorder, Journal};
use crate::ui::progress::BuildProgressView;
use crate::ui::Printer;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `pactown build`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The ecosystem file (default: `-f`/`PACTOWN_FILE`, else the only `*.pactown.yaml` in the
    /// current folder).
    pub file: Option<PathBuf>,
    /// Services to build (default: all).
    pub services: Vec<String>,
    /// Rebuild every layer, even when the image tag exists.
    #[arg(long)]
    pub no_cache: bool,
    /// Print the result as JSON on stdout (service, tag, digest, size, seconds, cached).
    #[arg(long)]
    pub json: bool,
    /// Container engine (default: the ecosystem file's `engine`, else auto).
    #[arg(long, value_enum, env = "PACTOWN_ENGINE")]
    pub engine: Option<EngineChoice>,
    /// Extra CA bundle for HTTPS inside builds (pip, npm behind an intercepting proxy); overrides
    /// `build.ca_bundle` of the ecosystem file.
    #[arg(long, value_name = "FILE", env = "PACTOWN_CA_BUNDLE")]
    pub ca_bundle: Option<PathBuf>,
    /// Parallel builds (default: number of cores).
    #[arg(long, short = 'j', value_name = "N")]
    pub jobs: Option<usize>,
    /// Push each service image to `--repo` after building (only layers the registry lacks are
    /// uploaded). Exit status 75 when the registry is unreachable, answers 5xx or times out.
    #[arg(long)]
    pub push: bool,
    /// Where to push: `REGISTRY/NAMESPACE` (images become
    /// `REGISTRY/NAMESPACE/<ecosystem>-<service>:<content tag>`); overrides `images.repo` of the
    /// ecosystem file.
    #[arg(
        long,
        value_name = "REGISTRY/NAMESPACE",
        env = "PACTOWN_IMAGE_REPO",
        requires = "push"
    )]
    pub repo: Option<String>,
    /// Also push under this tag (repeatable): literal text and `{git_sha}`, `{git_short_sha}`,
    /// `{git_branch}` (sanitized), `{version}`.
    #[arg(long = "tag", value_name = "TEMPLATE", requires = "push")]
    pub tags: Vec<String>,
    /// Registry credentials from this docker `config.json` / Podman `auth.json` instead of the
    /// engine's usual files.
    #[arg(
        long,
        value_name = "FILE",
        env = "PACTOWN_REGISTRY_AUTH_FILE",
        requires = "push"
    )]
    pub registry_auth_file: Option<PathBuf>,
    /// Allow plain HTTP (or unverified TLS) for this registry host (repeatable); loopback
    /// registries need no flag.
    #[arg(long, value_name = "HOST[:PORT]", requires = "push")]
    pub insecure_registry: Vec<String>,
    /// Write what was pushed (per service: image, digest, tags, size, layers uploaded) as JSON
    /// to FILE; `export … --images FILE` reads it.
    #[arg(long, value_name = "FILE", requires = "push")]
    pub metadata_file: Option<PathBuf>,
}

/// Runs `pactown build`.
pub async fn run(
    mut args: Args,
    globals: &super::Globals,
    printer: &Printer,
) -> Result<ExitCode, Error> {
    let (file, services) = globals.file_and_services(args.file.as_deref(), &args.services)?;
    args.services = services;
    let file = crate::config::resolve_file(file.as_deref())?;
    let project = globals.project(&file, crate::project::Unpulled::Fail)?;
    printer.diagnostics(&project.warnings);
    let eco = &project.ecosystem;
    let opts = BuildOptions {
        no_cache: args.no_cache,
        ca_bundle: BuildOptions::resolve_ca_bundle(args.ca_bundle, eco),
        jobs: args.jobs.unwrap_or(0),
    };
    // push settings are checked before anything is built: a typo must not cost a build
    let push = if args.push {
        let text = args
            .repo
            .clone()
            .filter(|r| !r.trim().is_empty())
            .or_else(|| eco.build.image_repo.clone());
        let repo = match text {
            Some(t) => Some(ImageRepo::parse(&t).map_err(Error::Push)?),
            None => None,
        };
        let opts = PushOptions {
            repo,
            tags: args.tags.clone(),
            auth_file: args.registry_auth_file.clone(),
            insecure: args.insecure_registry.clone(),
        };
        let vars = TagVars {
            git: git_info(&eco.dir),
            version: eco.version.clone(),
        };
        for t in &opts.tags {
            expand_tag(t, &vars).map_err(Error::Push)?;
        }
        if opts.repo.is_none() {
            return Err(Error::Push(ImagePushError::Usage(
                "--push needs a repository: --repo REGISTRY/NAMESPACE, `images: {repo: …}` in the ecosystem file, or PACTOWN_IMAGE_REPO".into(),
            )));
        }
        Some(opts)
    } else {
        None
    };
    let engine = crate::deploy::connect(args.engine, Some(eco)).await?;

    let view = BuildProgressView::new(printer);
    let journal = Journal::for_ecosystem(&eco.name);
    let names = if args.services.is_empty() {
        eco.services.iter().map(|s| s.name.clone()).collect()
    } else {
        args.services.clone()
    };
    let recorder = BuildRecorder::new(journal.as_ref(), &eco.name, None, names);
    let on_event = |event: BuildEvent| {
        recorder.event(&event);
        match event {
            BuildEvent::Started { service, tag } => view.started(&service, &tag),
            BuildEvent::Line { service, line } => view.line(&service, &line),
            BuildEvent::Finished { service, cached } => view.finished(&service, cached),
            BuildEvent::Building { .. } => {}
        }
    };
    let result = crate::image::build_services(
        engine.as_ref(),
        eco,
        &project.docs,
        &args.services,
        &opts,
        &on_event,
    )
    .await;
    view.clear();
    let images = match result {
        Ok(images) => images,
        Err(err) => {
            recorder.failed(&err);
            print_failure(&err, printer);
            return Err(Error::Build(err));
        }
    };
    // a whole-ecosystem build makes the ingress image too (the Compose export runs it)
    if args.services.is_empty() {
        let log = |line: String| printer.debug(&format!("ingress | {line}"));
        if let Some(ingress) = crate::image::ingress::ensure(
            engine.as_ref(),
            eco,
            crate::image::ingress::Upstreams::Alias,
            opts.no_cache,
            &log,
        )
        .await
        .map_err(Error::Build)?
        {
            printer.info(&format!(
                "ingress: {} ({})",
                ingress.tag,
                if ingress.cached { "cached" } else { "built" }
            ));
        }
    }
    if let Some(push_opts) = push {
        let on_push = |event: PushEvent| match event {
            PushEvent::Started { service, image } => {
                printer.info(&format!("{service}: pushing {image}"));
            }
            PushEvent::Line { service, line } => {
                printer.debug(&format!("{service} | {line}"));
            }
            PushEvent::Finished { service, digest } => {
                printer.info(&format!("{service}: pushed {digest}"));
            }
        };
        let metadata =
            crate::image::push::push_services(engine.as_ref(), eco, &images, &push_opts, &on_push)
                .await
                .map_err(Error::Push)?;
        let text = serde_json::to_string_pretty(&metadata).unwrap_or_default();
        if let Some(path) = &args.metadata_file {
            crate::export::write_file_atomically(path, &format!("{text}\n"))?;
            printer.info(&format!("wrote {}", path.display()));
        }
        if args.json {
            printer.out(&text);
        } else {
            for (service, p) in &metadata.services {
                let layers = match (p.layers_uploaded, p.layers_reused) {
                    (Some(up), Some(reused)) => format!("{up} layers uploaded, {reused} reused"),
                    _ => "layer counts not reported by the engine".to_string(),
                };
                printer.out(&format!("{service:<16} {}  ({layers})", p.reference));
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    if args.json {
        let rows: Vec<serde_json::Value> = images.iter().map(json_row).collect();
        printer.out(&serde_json::to_string_pretty(&rows).unwrap_or_default());
    } else {
        for image in &images {
            printer.out(&table_row(image));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints the log of the failing step, each line prefixed with the service (or base image).
fn print_failure(err: &BuildError, printer: &Printer) {
    let (who, lines) = match err {
        BuildError::Failed {
            service, log_tail, ..
        } => (service.as_str(), log_tail),
        BuildError::Base { tag, log_tail, .. } => (tag.as_str(), log_tail),
        _ => return,
    };
    if lines.is_empty() {
        return;
    }
    printer.info(&format!("build log of the failing step ({who}):"));
    for line in lines {
        printer.info(&format!("  {who} | {}", console::strip_ansi_codes(line)));
    }
}

fn json_row(image: &ServiceImage) -> serde_json::Value {
    serde_json::json!({
        "service": image.service,
        "runtime": image.runtime,
        "tag": image.tag,
        "digest": image.context_digest,
        "deps_image": image.deps_image,
        "image_id": image.image_id,
        "size": image.size,
        "seconds": (image.seconds * 1000.0).round() / 1000.0,
        "cached": image.cached,
        "steps": image.steps,
    })
}

fn table_row(image: &ServiceImage) -> String {
    #[allow(clippy::cast_precision_loss)]
    let mb = image.size as f64 / 1_000_000.0;
    let state = if image.cached {
        "cached".to_string()
    } else {
        let total = image.steps.len();
        let hits = image.steps.iter().filter(|s| s.cached).count();
        format!("built ({hits}/{total} steps from cache)")
    };
    format!(
        "{:<16} {:<40} {:>7.1} MB {:>7.2} s  {state}",
        image.service, image.tag, mb, image.seconds
    )
}
