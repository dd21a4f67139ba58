//! `pactown generate`.
use crate::config::generate::{generate, relative_prefix, GenerateOptions};
use crate::error::{Error, RequestError};
use crate::ui::Printer;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `pactown generate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Folder whose subfolders each hold a markpact README.md (one service per subfolder).
    pub folder: PathBuf,
    /// Write the ecosystem file here instead of stdout. README paths are written relative to
    /// this file's folder (relative to the current folder when printing to stdout).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Ecosystem name (default: the folder's name, sanitized).
    #[arg(long)]
    pub name: Option<String>,
    /// First port for services whose run script names none.
    #[arg(long, default_value_t = 8000)]
    pub base_port: u16,
    /// Overwrite the output file if it exists.
    #[arg(long)]
    pub force: bool,
}

/// Runs `pactown generate`.
pub fn run(args: Args, printer: &Printer) -> Result<ExitCode, Error> {
    let base = match &args.output {
        Some(out) => match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        },
        None => PathBuf::from("."),
    };
    let readme_prefix = relative_prefix(&base, &args.folder)?;
    let generated = generate(
        &args.folder,
        &GenerateOptions {
            name: args.name.clone(),
            base_port: args.base_port,
            readme_prefix,
        },
    )?;
    printer.diagnostics(&generated.warnings);
    match &args.output {
        None => printer.out(generated.yaml.trim_end_matches('\n')),
        Some(out) => {
            write(out, &generated.yaml, args.force)?;
            printer.info(&format!(
                "wrote {} ({} service{})",
                out.display(),
                generated.services,
                if generated.services == 1 { "" } else { "s" }
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn write(path: &Path, text: &str, force: bool) -> Result<(), Error> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            RequestError::Exists(path.to_path_buf()).into()
        } else {
            Error::io(format!("creating {}", path.display()), e)
        }
    })?;
    file.write_all(text.as_bytes())
        .map_err(|e| Error::io(format!("writing {}", path.display()), e))
}
