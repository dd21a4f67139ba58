//! `pactown restart`: stop and start services, then wait until they are healthy again.
use crate::config::EngineChoice;
use crate::deploy::{restart::RestartOptions, HttpProbe};
use crate::error::Error;
use crate::ui::Printer;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `pactown restart`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The ecosystem file.
    pub file: PathBuf,
    /// Services to restart.
    #[arg(required = true)]
    pub services: Vec<String>,
    /// Seconds each service may take to become healthy again (default: its `timeout:`).
    #[arg(long, value_name = "S")]
    pub timeout: Option<u64>,
    /// Container engine.
    #[arg(long, env = "PACTOWN_ENGINE", value_enum)]
    pub engine: Option<EngineChoice>,
    /// Address the side-by-side copy of this tenant (`up --tenant`).
    #[arg(long, value_name = "NAME", env = "PACTOWN_TENANT")]
    pub tenant: Option<String>,
}

/// Runs `pactown restart`.
///
/// # Errors
/// Unknown service, engine and readiness errors.
pub async fn run(
    args: Args,
    globals: &super::Globals,
    printer: &Printer,
) -> Result<ExitCode, Error> {
    let file = globals.file(Some(&args.file))?;
    let name = globals.name(None)?;
    let mut target = crate::deploy::target(file.as_deref(), name.as_deref())?;
    if let Some(eco) = target.ecosystem.as_mut() {
        eco.name.clone_from(&target.name);
    }
    let target = target.with_tenant(args.tenant.as_deref(), None)?;
    let engine = crate::deploy::connect(args.engine, target.ecosystem.as_ref()).await?;
    let eco = target.ecosystem.as_ref();
    let mut timeout = 60;
    let mut ports = std::collections::BTreeMap::new();
    for s in &args.services {
        if let Some(spec) = eco.and_then(|e| e.service(s)) {
            timeout = spec.timeout;
            if let Some(p) = spec.port {
                ports.insert(s.clone(), p);
            }
        } else if eco.is_some() {
            return Err(crate::error::RequestError::UnknownService {
                service: s.clone(),
                file: args.file.display().to_string(),
            }
            .into());
        }
    }
    let opts = RestartOptions {
        stop_timeout: Duration::from_secs(10),
        timeout: Duration::from_secs(args.timeout.unwrap_or(timeout)),
        ports,
    };
    crate::deploy::restart::restart(
        engine.as_ref(),
        &HttpProbe,
        &target.name,
        &args.services,
        &opts,
        &crate::ui::events::sink(printer, crate::ui::events::EventOutput::Text),
    )
    .await?;
    Ok(ExitCode::SUCCESS)
}
