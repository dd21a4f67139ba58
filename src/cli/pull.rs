//! `pactown pull`.
use crate::error::Error;
use crate::registry::pull::PullAction;
use crate::registry::{self, Client};
use crate::ui::Printer;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `pactown pull`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The ecosystem file (default: `-f`/`PACTOWN_FILE`, else the only `*.pactown.yaml` in the
    /// current folder).
    pub file: Option<PathBuf>,
    /// Registry URL [default: `registry.url` of the ecosystem file, else http://127.0.0.1:8800].
    #[arg(long, env = "PACTOWN_REGISTRY_URL")]
    pub registry: Option<String>,
    /// Resolve versions again (e.g. a newer `latest`) instead of the ones in pactown.lock.
    #[arg(long)]
    pub update: bool,
    /// Print the results as one JSON array on stdout (per artifact: `artifact`, `version`,
    /// `path`, `services`, `checksum`, `action`: `pulled` or `up-to-date`).
    #[arg(long)]
    pub json: bool,
}

/// Runs `pactown pull`.
pub async fn run(
    args: Args,
    globals: &super::Globals,
    printer: &Printer,
) -> Result<ExitCode, Error> {
    let file = globals.resolved_file(args.file.as_deref())?;
    let eco = globals.ecosystem(&file)?;
    let url = registry::registry_url(args.registry.as_deref(), &eco);
    let client = Client::new(&url, None)?;
    if let Some(warning) = client.plain_http_warning() {
        printer.warn(&warning);
    }
    let pulled = registry::pull::pull(&eco, &client, args.update).await?;
    if args.json {
        let results: Vec<serde_json::Value> = pulled
            .iter()
            .map(|p| {
                serde_json::json!({
                    "artifact": format!("{}/{}", p.entry.namespace, p.entry.name),
                    "version": p.entry.version,
                    "path": p.entry.path,
                    "services": p.services,
                    "checksum": format!("sha256:{}", p.entry.checksum),
                    "action": match p.action {
                        PullAction::Downloaded => "pulled",
                        PullAction::UpToDate => "up-to-date",
                    },
                })
            })
            .collect();
        printer.out(
            &serde_json::to_string_pretty(&results)
                .map_err(Error::json("encode the pull results as JSON"))?,
        );
        return Ok(ExitCode::SUCCESS);
    }
    if pulled.is_empty() {
        printer.info("no service reads its README from a registry; nothing to pull");
    }
    for p in &pulled {
        let verb = match p.action {
            PullAction::Downloaded => "pulled",
            PullAction::UpToDate => "up to date",
        };
        printer.out(&format!(
            "{verb} {}/{}@{} -> {} ({}) sha256:{}",
            p.entry.namespace,
            p.entry.name,
            p.entry.version,
            p.entry.path,
            p.services.join(", "),
            p.entry.checksum
        ));
    }
    Ok(ExitCode::SUCCESS)
}
