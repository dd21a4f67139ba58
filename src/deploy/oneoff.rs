//! `pactown run SERVICE [--] CMD…`: a one-off container from a service's image, as
//! `docker compose run` makes one. The services it depends on are brought up first (healthy,
//! through [`super::up`]) unless `no_deps`; its image is built when missing; the container gets
//! the service's environment (dependency URLs included), network and isolation, but no port,
//! alias or restart, and is removed when the command ends. Deploys never count or replace it
//! ([`super::spec::oneoff_spec`]); `down` removes one left behind.
use super::event::Sink;
use super::plan::DesiredService;
use super::spec::{oneoff_spec, Placement};
use super::up::{build_images_of, check, deploy_project, ensure_network, selection, UpOptions};
use crate::engine::{Engine, ExecChunk};
use crate::error::Error;
use crate::project::Project;
use crate::ui::Printer;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// What to run, and how.
#[derive(Debug, Clone, Default)]
pub struct OneOff {
    /// The service whose image and environment the container gets.
    pub service: String,
    /// The command (empty: the image's own, i.e. the service's `markpact:run`).
    pub command: Vec<String>,
    /// Extra environment variables (`-e K=V`), over the service's.
    pub env: BTreeMap<String, String>,
    /// Do not bring up the services it depends on.
    pub no_deps: bool,
    /// Give the command a pseudo-terminal (not on Docker 20.10, whose attached TTY stream
    /// bollard misreads: `pactown run` gives it pipes there).
    pub tty: bool,
}

/// Name of a one-off container: `<eco>-<service>-run-<6 hex>`, unique per call.
fn oneoff_name(ecosystem: &str, service: &str) -> String {
    use sha2::Digest as _;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let seed = format!("{now}-{}", std::process::id());
    let digest = sha2::Sha256::digest(seed.as_bytes());
    format!("{ecosystem}-{service}-run-{}", &hex::encode(digest)[..6])
}

/// Runs `job` in `project`: dependencies up, image built, the one-off container attached
/// (`stdin` copied in, output to `on_output`), then removed. Returns its exit code (`None` when
/// the engine does not tell). Ctrl+C (when not on a TTY, where it reaches the command) stops
/// and removes the container and returns 130.
///
/// # Errors
/// An unknown service; build, engine and readiness errors of its dependencies.
#[allow(clippy::too_many_arguments)]
pub async fn run_oneoff(
    engine: Arc<dyn Engine>,
    project: &Project,
    job: &OneOff,
    opts: UpOptions,
    stdin: Option<tokio::sync::mpsc::Receiver<Vec<u8>>>,
    on_output: &(dyn Fn(&ExecChunk) + Sync),
    sink: &Sink,
    printer: &Printer,
) -> Result<Option<i64>, Error> {
    let eco = &project.ecosystem;
    let Some(spec) = eco.service(&job.service) else {
        return Err(super::error::DeployError::UnknownService {
            service: job.service.clone(),
            file: eco.file.clone(),
        }
        .into());
    };
    let deps: Vec<String> = project.graph.dependencies_of(&job.service).to_vec();
    if !job.no_deps && !deps.is_empty() {
        let up = UpOptions {
            services: Some(selection(project, &deps, false)?),
            ..opts.clone()
        };
        let report = deploy_project(
            Arc::clone(&engine),
            Arc::new(super::HttpProbe),
            project,
            up,
            sink,
        )
        .await?;
        check(engine.as_ref(), &report, printer).await?;
    }
    let images = build_images_of(
        engine.as_ref(),
        project,
        Some(&std::collections::BTreeSet::from([job.service.clone()])),
        &opts.build,
        opts.journal.as_ref(),
        sink,
    )
    .await?;
    let image = images
        .get(&job.service)
        .ok_or_else(|| super::error::DeployError::NoImage {
            service: job.service.clone(),
        })?;
    let network = ensure_network(engine.as_ref(), eco).await?;
    let desired = DesiredService::from_spec(eco, spec, &image.tag, &image.image_id);
    let at = Placement {
        ecosystem: &eco.name,
        network: &network,
        ecosystem_file: None,
    };
    let name = oneoff_name(&eco.name, &job.service);
    let command = (!job.command.is_empty()).then(|| job.command.clone());
    let cspec = oneoff_spec(at, &desired, &name, command, &job.env);
    super::isolation::prepare_volumes(engine.as_ref(), &cspec).await?;
    printer.debug(&format!("one-off container {name} (tty: {})", job.tty));
    let attached = engine.run_attached(&cspec, job.tty).await?;
    let id = attached.id.clone();
    let interrupt = async {
        if job.tty {
            std::future::pending::<()>().await;
        }
        let _ = tokio::signal::ctrl_c().await;
    };
    let size = async {
        if job.tty {
            crate::ui::terminal::follow_size(engine.as_ref(), &id, true).await;
        }
        std::future::pending::<()>().await;
    };
    let pumped = tokio::select! {
        r = crate::observe::exec::pump(attached, stdin, on_output) => Some(r),
        () = interrupt => None,
        () = size => None,
    };
    let result = match pumped {
        None => {
            let _ = engine.stop_container(&id, Duration::from_secs(2)).await;
            Ok(Some(130))
        }
        Some(Err(e)) => Err(e.into()),
        Some(Ok(_)) => exit_code(engine.as_ref(), &id).await,
    };
    engine.remove_container(&id).await?;
    result
}

/// The exit code of a container whose output ended (it may lag by a moment).
async fn exit_code(engine: &dyn Engine, id: &str) -> Result<Option<i64>, Error> {
    for _ in 0..250 {
        let d = engine.inspect_container(id).await?;
        if !d.running {
            return Ok(d.exit_code);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(None)
}

/// Removes the one-off containers of `ecosystem` left behind (pactown killed mid-run).
///
/// # Errors
/// Engine errors.
pub async fn remove_leftovers(
    engine: &dyn Engine,
    ecosystem: &str,
) -> Result<(), crate::engine::EngineError> {
    let filter = vec![format!("{}={ecosystem}", crate::config::labels::ONEOFF)];
    for c in engine.list_containers(&filter).await? {
        engine.remove_container(&c.id).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oneoff_names_are_unique_and_valid() {
        let a = oneoff_name("shop", "api");
        let b = oneoff_name("shop", "api");
        assert!(a.starts_with("shop-api-run-") && a.len() == "shop-api-run-".len() + 6);
        assert_ne!(a, b);
    }
}
