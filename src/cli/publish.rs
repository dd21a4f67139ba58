//! `pactown publish`.
use crate::error::{Error, RequestError};
use crate::registry::{self, Client};
use crate::ui::Printer;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `pactown publish`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The ecosystem file (default: `-f`/`PACTOWN_FILE`, else the only `*.pactown.yaml` in the
    /// current folder).
    pub file: Option<PathBuf>,
    /// Only these services (default: every service with a local README).
    pub services: Vec<String>,
    /// Registry URL [default: `registry.url` of the ecosystem file, else http://127.0.0.1:8800].
    #[arg(long, env = "PACTOWN_REGISTRY_URL")]
    pub registry: Option<String>,
    /// Print the results as one JSON array on stdout (per service: `service`, `artifact`,
    /// `version`, `checksum`, `created`, or `error`).
    #[arg(long)]
    pub json: bool,
}

/// Runs `pactown publish`: one publish per service; the token comes from
/// `PACTOWN_REGISTRY_TOKEN`. Exit 1 when any publish fails.
pub async fn run(
    mut args: Args,
    globals: &super::Globals,
    printer: &Printer,
) -> Result<ExitCode, Error> {
    let (file, services) = globals.file_and_services(args.file.as_deref(), &args.services)?;
    args.services = services;
    let file = crate::config::resolve_file(file.as_deref())?;
    let eco = globals.ecosystem(&file)?;
    let plan = registry::publish::plan(&eco, &args.services)?;
    let url = registry::registry_url(args.registry.as_deref(), &eco);
    let token = std::env::var("PACTOWN_REGISTRY_TOKEN").ok();
    if token.is_none() {
        printer.warn("PACTOWN_REGISTRY_TOKEN is not set; the registry will refuse the publish");
    }
    let client = Client::new(&url, token)?;
    if let Some(warning) = client.plain_http_warning() {
        printer.warn(&warning);
    }
    for name in &plan.skipped {
        printer.info(&format!("skip {name}: its README comes from a registry"));
    }
    let mut failed = 0;
    let mut results = Vec::new();
    for (service, req) in &plan.requests {
        let what = format!("{}/{}@{}", req.namespace, req.name, req.version);
        let artifact = format!("{}/{}", req.namespace, req.name);
        match client.publish(req).await {
            Ok(out) => {
                let sum = &out.response.checksum;
                if args.json {
                    // one JSON document at the end
                } else if out.created {
                    printer.out(&format!("published {what} ({service}) sha256:{sum}"));
                } else {
                    printer.out(&format!(
                        "unchanged {what} ({service}) sha256:{sum} — already published with this content"
                    ));
                }
                results.push(serde_json::json!({
                    "service": service,
                    "artifact": artifact,
                    "version": req.version,
                    "checksum": format!("sha256:{sum}"),
                    "created": out.created,
                }));
            }
            Err(e) => {
                failed += 1;
                printer.error(&format!("{service}: {e}"));
                results.push(serde_json::json!({
                    "service": service,
                    "artifact": artifact,
                    "version": req.version,
                    "error": e.to_string(),
                }));
            }
        }
    }
    if args.json {
        printer.out(
            &serde_json::to_string_pretty(&results)
                .map_err(Error::json("encode the publish results as JSON"))?,
        );
    }
    if failed > 0 {
        return Err(RequestError::PublishesFailed {
            failed,
            total: plan.requests.len(),
        }
        .into());
    }
    Ok(ExitCode::SUCCESS)
}
