//! `pactown logs`: the services' output, multiplexed with `service |` prefixes.
use crate::config::EngineChoice;
use crate::error::Error;
use crate::orchestrator::{
    self,
    logs::{show_logs, LogOptions},
};
use crate::ui::Printer;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `pactown logs`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The ecosystem file (default: the only *.pactown.yaml in the current folder).
    pub file: Option<PathBuf>,
    /// Only these services.
    pub services: Vec<String>,
    /// The ecosystem name, when the file cannot be read.
    #[arg(long)]
    pub name: Option<String>,
    /// Keep following new output.
    #[arg(short, long)]
    pub follow: bool,
    /// Show only the last N lines of each container first.
    #[arg(long, value_name = "N")]
    pub tail: Option<usize>,
    /// Container engine.
    #[arg(long, env = "PACTOWN_ENGINE", value_enum)]
    pub engine: Option<EngineChoice>,
    /// Address the side-by-side copy of this tenant (`up --tenant`).
    #[arg(long, value_name = "NAME", env = "PACTOWN_TENANT")]
    pub tenant: Option<String>,
}

/// Runs `pactown logs`.
///
/// # Errors
/// No ecosystem name, unknown service, engine errors.
pub async fn run(args: Args, printer: &Printer) -> Result<ExitCode, Error> {
    let target = orchestrator::target(args.file.as_deref(), args.name.as_deref())?
        .with_tenant(args.tenant.as_deref(), None)?;
    let engine = orchestrator::connect(args.engine, target.ecosystem.as_ref()).await?;
    let opts = LogOptions {
        services: args.services,
        tail: args.tail,
        follow: args.follow,
        color: super::up::stdout_color(),
    };
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    // mask the secret values the services get (as `up` resolves them) in the output
    let mut printer = printer.clone();
    if let Some(mut eco) = target.ecosystem.clone() {
        let process_env: std::collections::BTreeMap<String, String> = std::env::vars().collect();
        if crate::secrets::resolve(&mut eco, &process_env).is_ok() {
            for svc in &eco.services {
                printer = printer.with_secrets(crate::secrets::secret_values(svc));
            }
        }
    }
    show_logs(engine, &target.name, &opts, &printer, stop).await?;
    Ok(ExitCode::SUCCESS)
}
