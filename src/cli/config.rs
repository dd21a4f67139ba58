//! `pactown config`: the fully resolved ecosystem file.
use crate::config::resolved;
use crate::error::Error;
use crate::ui::Printer;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// Output formats of `pactown config`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// An ecosystem file pactown reads again, the containers' environment as comments.
    #[default]
    Yaml,
    /// `{"file": …, "environment": {SERVICE: {NAME: value}}}`.
    Json,
}

/// Arguments of `pactown config`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The ecosystem file (default: `-f`/`PACTOWN_FILE`, else the only `*.pactown.yaml` in the
    /// current folder).
    pub file: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Yaml)]
    pub format: Format,
    /// Same as `--format json`.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
}

/// Runs `pactown config`: reads the ecosystem file (not the READMEs), prints it resolved on
/// stdout — defaults filled in, variables substituted, ports assigned, `env:` references
/// resolved except secrets — and its warnings on stderr.
///
/// # Errors
/// The file's errors; an unreadable env file.
pub fn run(args: Args, globals: &super::Globals, printer: &Printer) -> Result<ExitCode, Error> {
    let file = globals.resolved_file(args.file.as_deref())?;
    let checked = crate::config::load_checked(&file)?;
    let mut eco = checked.ecosystem;
    globals.rename(&mut eco)?;
    let printer = &printer.clone().with_secrets(checked.secret_values);
    printer.diagnostics(&checked.warnings.0);
    let process_env: BTreeMap<String, String> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    let sources = crate::secrets::EnvSources::read(&eco, &process_env)?;
    let lookup = |svc: &crate::config::ServiceSpec, name: &str| sources.get(&svc.name, name);
    let resolved_file = resolved::resolve(&eco, &lookup);
    let environments = resolved::environments(&eco, &crate::graph::injected_env_all(&eco), &lookup);
    let json = args.json || args.format == Format::Json;
    let out = if json {
        serde_json::to_string_pretty(&serde_json::json!({
            "file": resolved_file,
            "environment": environments,
        }))
        .map_err(|source| Error::Json {
            what: "render JSON",
            source,
        })?
    } else {
        let mut yaml = serde_yaml::to_string(&resolved_file).map_err(|source| Error::Yaml {
            what: "render YAML",
            source,
        })?;
        yaml.insert_str(
            0,
            &format!("# {} resolved by pactown config\n", file.display()),
        );
        yaml.push_str("# the environment each container gets (secrets masked):\n");
        for (service, env) in &environments {
            for (k, v) in env {
                let v = v.replace('\n', "\\n");
                let _ = writeln!(yaml, "#   {service}: {k}={v}");
            }
        }
        yaml
    };
    printer.out(out.trim_end_matches('\n'));
    Ok(ExitCode::SUCCESS)
}
