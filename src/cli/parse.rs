//! `pactown parse`.
use crate::error::Error;
use crate::markpact::{self, Markpact};
use crate::ui::Printer;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `pactown parse`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The markpact README to parse.
    pub readme: PathBuf,
    /// Print the canonical JSON parse result on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Runs `pactown parse`: exit 0 when the README is valid, 2 when it is not.
pub fn run(args: Args, printer: &Printer) -> Result<ExitCode, Error> {
    let max = markpact::Limits::default().max_bytes as u64;
    let bytes = crate::input::read_capped(&args.readme, max)
        .map_err(|e| Error::io(format!("cannot read {}", args.readme.display()), e))?;
    let result = markpact::parse(&args.readme, &bytes);
    if args.json {
        let value = markpact::canonical_json(&result);
        let text = serde_json::to_string_pretty(&value).map_err(Error::json("encode JSON"))?;
        printer.out(&text);
        return match result {
            Ok(doc) => {
                printer.diagnostics(&doc.warnings);
                Ok(ExitCode::SUCCESS)
            }
            Err(diags) => {
                printer.diagnostics(&diags.0);
                Ok(ExitCode::from(2))
            }
        };
    }
    let doc = result.map_err(Error::Invalid)?;
    printer.out(&human(&doc));
    printer.diagnostics(&doc.warnings);
    Ok(ExitCode::SUCCESS)
}

/// The human view: runtime, files, deps, scripts, tests.
fn human(doc: &Markpact) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{}: {} service", doc.path.display(), doc.runtime);
    if doc.files.is_empty() {
        let _ = writeln!(s, "files: none");
    } else {
        let _ = writeln!(s, "files:");
        let width = doc.files.iter().map(|f| f.path.len()).max().unwrap_or(0);
        for f in &doc.files {
            let _ = writeln!(
                s,
                "  {:width$}  line {:>4}  {} bytes",
                f.path,
                f.line,
                f.contents.len()
            );
        }
    }
    if doc.deps.is_empty() {
        let _ = writeln!(s, "deps: none");
    } else {
        let _ = writeln!(s, "deps:");
        for d in &doc.deps {
            let _ = writeln!(s, "  {}  (line {})", d.spec, d.line);
        }
    }
    if !doc.dev_deps.is_empty() {
        let _ = writeln!(s, "dev deps (not installed in the image):");
        for d in &doc.dev_deps {
            let _ = writeln!(s, "  {}  (line {})", d.spec, d.line);
        }
    }
    for (name, script) in [("build", &doc.build), ("run", &doc.run)] {
        match script {
            Some(sc) => {
                let _ = writeln!(s, "{name} (line {}):", sc.line);
                for l in sc.body.lines() {
                    let _ = writeln!(s, "  {}", crate::secrets::mask_assignments(l));
                }
            }
            None if name == "run" => {
                let _ = writeln!(s, "run: none");
            }
            None => {}
        }
    }
    for t in &doc.tests {
        let mode = match t.mode {
            markpact::TestMode::Http => "http",
            markpact::TestMode::Shell => "shell",
        };
        let _ = writeln!(s, "tests ({mode}, line {}):", t.line);
        for l in t.texts() {
            let _ = writeln!(s, "  {}", crate::secrets::mask_assignments(l));
        }
    }
    for b in &doc.blocks {
        let _ = writeln!(s, "{} block (line {})", b.kind, b.line);
    }
    if !doc.warnings.is_empty() {
        let _ = writeln!(s, "warnings: {}", doc.warnings.len());
    }
    s.trim_end().to_string()
}
