//! `pactown graph`.
use crate::error::Error;
use crate::graph::render;
use crate::ui::Printer;
use std::path::PathBuf;
use std::process::ExitCode;

/// Output formats of `pactown graph`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// A tree of services and their dependencies, for people.
    #[default]
    Tree,
    /// Graphviz DOT (`a -> b`: a depends on b).
    Dot,
    /// A Mermaid flowchart.
    Mermaid,
    /// Services, start order, levels and injected environment as JSON.
    Json,
}

/// Arguments of `pactown graph`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The ecosystem file (default: `-f`/`PACTOWN_FILE`, else the only `*.pactown.yaml` in the
    /// current folder).
    pub file: Option<PathBuf>,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = Format::Tree)]
    pub format: Format,
    /// The same as `--format json` (one spelling across commands).
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
}

/// Runs `pactown graph`: reads the ecosystem file only (READMEs are not parsed) and prints the
/// dependency graph on stdout.
pub fn run(args: Args, globals: &super::Globals, printer: &Printer) -> Result<ExitCode, Error> {
    let file = globals.resolved_file(args.file.as_deref())?;
    let checked = crate::config::load_checked(&file)?;
    let mut eco = checked.ecosystem;
    globals.rename(&mut eco)?;
    let graph = crate::graph::resolve(&eco)?;
    let printer = &printer.clone().with_secrets(checked.secret_values);
    printer.diagnostics(&checked.warnings.0);
    printer.diagnostics(&crate::graph::endpoint_warnings(&eco));
    let format = if args.json { Format::Json } else { args.format };
    let text = match format {
        Format::Tree => render::tree(&eco, &graph),
        Format::Dot => render::dot(&eco, &graph),
        Format::Mermaid => render::mermaid(&eco, &graph),
        Format::Json => serde_json::to_string_pretty(&render::json(&eco, &graph))
            .map_err(Error::json("encode the graph as JSON"))?,
    };
    printer.out(text.trim_end_matches('\n'));
    Ok(ExitCode::SUCCESS)
}
