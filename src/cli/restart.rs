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
    /// The ecosystem file (default: `-f`/`PACTOWN_FILE`, else the only `*.pactown.yaml` in the
    /// current folder).
    pub file: Option<PathBuf>,
    /// Services to restart (default: every service that has containers).
    #[arg(value_name = "SERVICE")]
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
    let (file, services) = globals.file_and_services(args.file.as_deref(), &args.services)?;
    let name = globals.name(None)?;
    let mut target = crate::deploy::target(file.as_deref(), name.as_deref())?;
    if let Some(eco) = target.ecosystem.as_mut() {
        eco.name.clone_from(&target.name);
    }
    let target = target.with_tenant(args.tenant.as_deref(), None)?;
    let engine = crate::deploy::connect(args.engine, target.ecosystem.as_ref()).await?;
    let eco = target.ecosystem.as_ref();
    let mut timeout: Option<u64> = None;
    let mut ports = std::collections::BTreeMap::new();
    let named: Vec<String> = match eco {
        // no names: every service (those without containers are skipped by the restart)
        Some(e) if services.is_empty() => e.services.iter().map(|s| s.name.clone()).collect(),
        _ => services.clone(),
    };
    for s in &named {
        if let Some(spec) = eco.and_then(|e| e.service(s)) {
            timeout = Some(timeout.map_or(spec.timeout, |t| t.max(spec.timeout)));
            if let Some(p) = spec.port {
                ports.insert(s.clone(), p);
            }
        } else if eco.is_some() {
            return Err(crate::error::RequestError::UnknownService {
                service: s.clone(),
                file: eco
                    .map(|e| e.file.display().to_string())
                    .unwrap_or_default(),
            }
            .into());
        }
    }
    let opts = RestartOptions {
        stop_timeout: Duration::from_secs(10),
        timeout: Duration::from_secs(args.timeout.or(timeout).unwrap_or(60)),
        ports,
    };
    crate::deploy::restart::restart(
        engine.as_ref(),
        &HttpProbe,
        &target.name,
        &services,
        &opts,
        &crate::ui::events::sink(printer, crate::ui::events::EventOutput::Text),
    )
    .await?;
    Ok(ExitCode::SUCCESS)
}
