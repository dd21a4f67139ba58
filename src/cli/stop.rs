//! `pactown stop [SERVICE…]` and `pactown start [SERVICE…]`: stop the containers and keep them,
//! or start the stopped ones ([`crate::deploy::stop`]).
use crate::error::Error;
use crate::ui::Printer;
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `pactown stop`.
#[derive(Debug, clap::Args)]
pub struct StopArgs {
    #[command(flatten)]
    pub target: super::target::TargetArgs,
    /// Only these services (default: all).
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
    /// Seconds to wait for each container to stop before killing it.
    #[arg(long, value_name = "S", default_value_t = 10)]
    pub timeout: u64,
}

/// Arguments of `pactown start`.
#[derive(Debug, clap::Args)]
pub struct StartArgs {
    #[command(flatten)]
    pub target: super::target::TargetArgs,
    /// Only these services (default: all; completed jobs are started again only when named).
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}

/// The target, its engine, the services (checked against the file when it could be read) and
/// the start order.
async fn resolve(
    target: &mut super::target::TargetArgs,
    services: &[String],
    globals: &super::Globals,
) -> Result<
    (
        crate::deploy::Target,
        std::sync::Arc<dyn crate::engine::Engine>,
        Vec<String>,
        Vec<String>,
    ),
    Error,
> {
    let (file, services) = globals.file_and_services(target.file.as_deref(), services)?;
    target.file = file;
    let (t, engine) = target.connect(globals).await?;
    let mut order = Vec::new();
    if let Some(eco) = &t.ecosystem {
        for s in &services {
            if eco.service(s).is_none() {
                return Err(crate::deploy::error::DeployError::UnknownService {
                    service: s.clone(),
                    file: eco.file.clone(),
                }
                .into());
            }
        }
        order = crate::graph::resolve(eco)
            .map(|g| g.order)
            .unwrap_or_default();
    }
    Ok((t, engine, services, order))
}

/// Runs `pactown stop`.
///
/// # Errors
/// No ecosystem name, an unknown service, engine errors.
pub async fn stop(
    mut args: StopArgs,
    globals: &super::Globals,
    printer: &Printer,
) -> Result<ExitCode, Error> {
    let (target, engine, services, order) =
        resolve(&mut args.target, &args.services, globals).await?;
    let stopped = crate::deploy::stop::stop(
        engine.as_ref(),
        &target.name,
        &services,
        &order,
        Duration::from_secs(args.timeout),
    )
    .await?;
    for c in &stopped {
        printer.info(&format!("stopped {}", c.name));
    }
    printer.info(&format!(
        "{}: {} containers stopped",
        target.name,
        stopped.len()
    ));
    Ok(ExitCode::SUCCESS)
}

/// Runs `pactown start`.
///
/// # Errors
/// No ecosystem name, an unknown service, engine errors.
pub async fn start(
    mut args: StartArgs,
    globals: &super::Globals,
    printer: &Printer,
) -> Result<ExitCode, Error> {
    let (target, engine, services, order) =
        resolve(&mut args.target, &args.services, globals).await?;
    let started =
        crate::deploy::stop::start(engine.as_ref(), &target.name, &services, &order).await?;
    for c in &started {
        printer.info(&format!("started {}", c.name));
    }
    printer.info(&format!(
        "{}: {} containers started (`pactown status` shows their health)",
        target.name,
        started.len()
    ));
    Ok(ExitCode::SUCCESS)
}
