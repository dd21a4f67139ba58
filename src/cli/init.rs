//! `pactown init`.
use crate::config::{rules, scaffold};
use crate::error::{Error, RequestError};
use crate::ui::Printer;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `pactown init`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Folder to create the ecosystem in (created if missing).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Ecosystem name (default: the folder's name, sanitized).
    #[arg(long)]
    pub name: Option<String>,
    /// First port; the API gets base+1 and the page base+2.
    #[arg(long, default_value_t = 8000)]
    pub base_port: u16,
}

/// Runs `pactown init`: writes `<name>.pactown.yaml`, `api/README.md` and `web/README.md`,
/// refusing to overwrite any existing file (then nothing is written).
pub fn run(args: Args, printer: &Printer) -> Result<ExitCode, Error> {
    let name = match &args.name {
        Some(n) if rules::is_service_name(n) => n.clone(),
        Some(n) => {
            return Err(RequestError::EcosystemName {
                name: n.clone(),
                suggestion: rules::sanitize_name(n),
            }
            .into())
        }
        None => rules::sanitize_name(&folder_name(&args.dir)),
    };
    if args.base_port < 1024 || args.base_port > 65_533 {
        return Err(RequestError::BasePort(args.base_port).into());
    }
    let files = scaffold::init_files(&name, args.base_port);
    let existing: Vec<String> = files
        .iter()
        .map(|f| args.dir.join(&f.path))
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if !existing.is_empty() {
        return Err(RequestError::WouldOverwrite(existing).into());
    }
    for f in &files {
        let path = args.dir.join(&f.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::io(format!("creating {}", parent.display()), e))?;
        }
        write_new(&path, &f.contents)?;
        printer.info(&format!("created {}", path.display()));
    }
    let eco_file = args.dir.join(scaffold::file_name(&name));
    printer.out(&format!(
        "next: pactown validate {0} && pactown up {0}",
        eco_file.display()
    ));
    Ok(ExitCode::SUCCESS)
}

/// The folder's own name, resolving `.` and `..` through the current directory.
fn folder_name(dir: &Path) -> String {
    let abs = if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        std::env::current_dir().map_or_else(|_| dir.to_path_buf(), |cwd| cwd.join(dir))
    };
    let abs = std::fs::canonicalize(&abs).unwrap_or(abs);
    abs.file_name()
        .and_then(|n| n.to_str())
        .map_or_else(|| "pactown-demo".to_string(), str::to_string)
}

/// Creates a file that must not exist yet (no clobbering even if it appeared meanwhile).
fn write_new(path: &Path, contents: &str) -> Result<(), Error> {
    use std::io::Write as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
    file.write_all(contents.as_bytes())
        .map_err(|e| Error::io(format!("writing {}", path.display()), e))
}
