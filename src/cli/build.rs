//! `pactown build`: builds (or finds cached) images for the services of an ecosystem.
use crate::build::{BuildError, BuildEvent, BuildOptions, ServiceImage};
use crate::config::EngineChoice;
use crate::error::Error;
use crate::orchestrator::journal::{BuildRecorder, Journal};
use crate::ui::progress::BuildProgressView;
use crate::ui::Printer;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `pactown build`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The ecosystem file (default: the only `*.pactown.yaml` in the current folder).
    #[arg(env = "PACTOWN_FILE")]
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
}

/// Runs `pactown build`.
pub async fn run(args: Args, printer: &Printer) -> Result<ExitCode, Error> {
    let file = crate::config::resolve_file(args.file.as_deref())?;
    let project = crate::project::load_with(&file, crate::project::Unpulled::Fail)?;
    printer.diagnostics(&project.warnings);
    let eco = &project.ecosystem;
    let opts = BuildOptions {
        no_cache: args.no_cache,
        ca_bundle: BuildOptions::resolve_ca_bundle(args.ca_bundle, eco),
        jobs: args.jobs.unwrap_or(0),
    };
    let choice = args.engine.or(eco.engine).unwrap_or_default();
    let engine = crate::engine::connect(choice).await?;

    let view = BuildProgressView::new(printer);
    let journal = Journal::for_ecosystem(&eco.name);
    let names = if args.services.is_empty() {
        eco.services.iter().map(|s| s.name.clone()).collect()
    } else {
        args.services.clone()
    };
    let recorder = BuildRecorder::new(journal.as_ref(), &eco.name, None, names, printer);
    let on_event = |event: BuildEvent| {
        recorder.event(&event);
        match event {
            BuildEvent::Started { service, tag } => view.started(&service, &tag),
            BuildEvent::Line { service, line } => view.line(&service, &line),
            BuildEvent::Finished { service, cached } => view.finished(&service, cached),
            BuildEvent::Building { .. } => {}
        }
    };
    let result = crate::build::build_services(
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
