//! `pactown validate`.
use crate::error::Error;
use crate::ui::Printer;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `pactown validate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The ecosystem file (default: `-f`/`PACTOWN_FILE`, else the only `*.pactown.yaml` in the
    /// current folder).
    pub file: Option<PathBuf>,
    /// Print the result as JSON on stdout (`ok`, counts and every diagnostic).
    #[arg(long)]
    pub json: bool,
}

/// Runs `pactown validate`: checks the ecosystem file and every README it names and reports all
/// problems at once. Exit 0 when there are only warnings, 2 when there is an error.
pub fn run(args: Args, globals: &super::Globals, printer: &Printer) -> Result<ExitCode, Error> {
    let file = globals.resolved_file(args.file.as_deref())?;
    globals.name(None)?;
    let result = crate::project::load(&file);
    let (diags, services, readmes) = match &result {
        Ok(p) => {
            let process_env: std::collections::BTreeMap<String, String> = std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect();
            let mut diags = p.warnings.clone();
            diags.extend(crate::secrets::env_warnings(&p.ecosystem, &process_env));
            (diags, p.ecosystem.services.len(), p.readme_count())
        }
        Err(d) => (d.0.clone(), 0, 0),
    };
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let warnings = diags.len() - errors;
    if args.json {
        let value = serde_json::json!({
            "ok": errors == 0,
            "file": file,
            "services": services,
            "readmes": readmes,
            "errors": errors,
            "warnings": warnings,
            "diagnostics": diags,
        });
        printer.out(&serde_json::to_string_pretty(&value).unwrap_or_default());
    } else {
        printer.diagnostics(&diags);
    }
    if errors > 0 {
        if !args.json {
            printer.error(&format!(
                "{}: {errors} error{}, {warnings} warning{}",
                file.display(),
                plural(errors),
                plural(warnings)
            ));
        }
        return Ok(ExitCode::from(2));
    }
    if !args.json {
        printer.out(&format!(
            "{}: ok, {services} service{}, {readmes} README{}, {warnings} warning{}",
            file.display(),
            plural(services),
            plural(readmes),
            plural(warnings)
        ));
    }
    Ok(ExitCode::SUCCESS)
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
