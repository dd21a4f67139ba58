//! `pactown generate`: an ecosystem file for a folder of markpact READMEs. Each subfolder whose
//! `README.md` has markpact blocks becomes a service. The output is deterministic (folders in
//! byte order, no timestamps).
use super::rules;
use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::markpact::{self, Markpact};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// Ecosystem name; default: the folder's name, sanitized.
    pub name: Option<String>,
    /// First port; services without a port in their run script get `base_port + position`.
    pub base_port: u16,
    /// `/`-separated path from the ecosystem file's folder to the scanned folder (empty when the
    /// file is written inside the scanned folder).
    pub readme_prefix: String,
}

/// A generated ecosystem file.
#[derive(Debug, Clone)]
pub struct Generated {
    /// The YAML text.
    pub yaml: String,
    /// Number of services in it.
    pub services: usize,
    /// Folders skipped or READMEs with problems, as warnings.
    pub warnings: Vec<Diagnostic>,
}

struct Found {
    folder: String,
    name: String,
    guessed: Option<u16>,
    health: bool,
}

/// Scans `folder` and renders the ecosystem file.
///
/// # Errors
/// An `Io` diagnostic when the folder cannot be read, `NoBlocks` when no subfolder has a markpact
/// README, `InvalidValue` for a bad name or base port.
pub fn generate(folder: &Path, opts: &GenerateOptions) -> Result<Generated, Diagnostics> {
    let io = |e: std::io::Error| {
        Diagnostics::single(
            Diagnostic::error(Code::Io, folder, 0, format!("cannot read folder: {e}"))
                .with_hint("pass a folder whose subfolders hold markpact README.md files"),
        )
    };
    let mut dirs: Vec<(String, PathBuf)> = std::fs::read_dir(folder)
        .map_err(io)?
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().to_str().map(|n| (n.to_string(), e.path())))
        .collect();
    dirs.sort();

    let mut warnings = Vec::new();
    let mut found: Vec<Found> = Vec::new();
    let mut names = BTreeSet::new();
    for (dirname, dir) in dirs {
        let readme = dir.join("README.md");
        if !readme.is_file() {
            continue;
        }
        let rel = format!("{}{dirname}/README.md", opts.readme_prefix);
        if rules::normalize_path(&rel).is_err() {
            warnings.push(
                Diagnostic::warning(
                    Code::InvalidPath,
                    &readme,
                    0,
                    format!("skipped: `{rel}` cannot be written as a README path"),
                )
                .with_hint("rename the folder to letters, digits, `.`, `_` and `-`"),
            );
            continue;
        }
        let doc = match markpact::parse_file(&readme) {
            Ok(doc) => Some(doc),
            Err(d) if d.0.iter().any(|x| x.code == Code::NoBlocks) => continue,
            Err(d) if d.0.iter().any(|x| x.code == Code::Io) => {
                warnings.extend(d.0.into_iter().map(to_warning));
                continue;
            }
            Err(d) => {
                let n = d.errors().count();
                warnings.push(
                    Diagnostic::warning(
                        Code::InvalidValue,
                        &readme,
                        d.0.first().map_or(0, |x| x.line),
                        format!(
                            "README has {n} error{}; included anyway",
                            if n == 1 { "" } else { "s" }
                        ),
                    )
                    .with_hint("run `pactown validate` on the generated file to see them"),
                );
                None
            }
        };
        let mut name = rules::sanitize_name(&dirname);
        if names.contains(&name) {
            let base = name.clone();
            let mut k = 2;
            while names.contains(&name) {
                name = format!("{base}-{k}");
                k += 1;
            }
        }
        names.insert(name.clone());
        found.push(Found {
            folder: dirname,
            name,
            guessed: doc
                .as_ref()
                .and_then(|d| d.run.as_ref())
                .and_then(|r| markpact::guess_port(&r.body)),
            health: doc.as_ref().is_some_and(mentions_health),
        });
    }
    if found.is_empty() {
        return Err(Diagnostics::single(
            Diagnostic::error(
                Code::NoBlocks,
                folder,
                0,
                "no subfolder has a README.md with markpact blocks",
            )
            .with_hint("put each service in its own folder as FOLDER/NAME/README.md"),
        ));
    }

    let eco_name = match &opts.name {
        Some(n) if rules::is_resource_name(n) => n.clone(),
        Some(n) => {
            return Err(Diagnostics::single(
                Diagnostic::error(
                    Code::InvalidValue,
                    folder,
                    0,
                    format!("`{n}` is not a valid ecosystem name"),
                )
                .with_hint(format!("use e.g. `{}`", rules::sanitize_name(n))),
            ))
        }
        None => rules::sanitize_name(&folder_name(folder)),
    };

    let ports = assign_ports(&found, opts.base_port).ok_or_else(|| {
        Diagnostics::single(
            Diagnostic::error(
                Code::InvalidPort,
                folder,
                0,
                "not enough ports above base_port for every service",
            )
            .with_hint("lower --base-port"),
        )
    })?;

    let mut yaml = String::new();
    let _ = writeln!(
        yaml,
        "# Generated by `pactown generate` from the folders below. Edit freely."
    );
    let _ = writeln!(yaml, "name: {eco_name}");
    yaml.push_str("version: 0.1.0\n");
    let _ = writeln!(yaml, "base_port: {}", opts.base_port);
    yaml.push_str("services:\n");
    for (f, port) in found.iter().zip(&ports) {
        let _ = writeln!(yaml, "  {}:", f.name);
        let _ = writeln!(
            yaml,
            "    readme: {}{}/README.md",
            opts.readme_prefix, f.folder
        );
        let _ = writeln!(yaml, "    port: {port}");
        if f.health {
            yaml.push_str("    health_check: /health\n");
        }
    }
    Ok(Generated {
        yaml,
        services: found.len(),
        warnings,
    })
}

fn to_warning(mut d: Diagnostic) -> Diagnostic {
    d.severity = crate::diagnostic::Severity::Warning;
    d
}

/// Whether the README's files, run script or tests mention `/health`.
fn mentions_health(doc: &Markpact) -> bool {
    doc.files.iter().any(|f| f.contents.contains("/health"))
        || doc.run.as_ref().is_some_and(|r| r.body.contains("/health"))
        || doc
            .tests
            .iter()
            .any(|t| t.texts().any(|l| l.contains("/health")))
}

/// Ports for every service: a port guessed from the run script when it is usable and not taken
/// by an earlier service; otherwise the first free port from `base_port + position`.
fn assign_ports(found: &[Found], base_port: u16) -> Option<Vec<u16>> {
    let mut used = BTreeSet::new();
    let mut out: Vec<Option<u16>> = Vec::with_capacity(found.len());
    for f in found {
        match f.guessed {
            Some(p) if p >= 1024 && used.insert(p) => out.push(Some(p)),
            _ => out.push(None),
        }
    }
    let mut result = Vec::with_capacity(found.len());
    for (i, slot) in out.into_iter().enumerate() {
        if let Some(p) = slot {
            result.push(p);
            continue;
        }
        let mut candidate = u32::from(base_port) + u32::try_from(i).ok()?;
        loop {
            let p = u16::try_from(candidate).ok()?;
            if p >= 1024 && used.insert(p) {
                result.push(p);
                break;
            }
            candidate += 1;
        }
    }
    Some(result)
}

fn folder_name(dir: &Path) -> String {
    let abs = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    abs.file_name()
        .and_then(|n| n.to_str())
        .map_or_else(|| "ecosystem".to_string(), str::to_string)
}

/// The `/`-separated path from `base` (the folder the ecosystem file will be in) to `folder`,
/// with a trailing `/` (empty when they are the same folder).
///
/// # Errors
/// `InvalidValue` when `folder` is not inside `base`.
pub fn relative_prefix(base: &Path, folder: &Path) -> Result<String, Diagnostics> {
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let (b, f) = (canon(base), canon(folder));
    match f.strip_prefix(&b) {
        Ok(rel) => {
            let mut s = String::new();
            for c in rel.components() {
                s.push_str(&c.as_os_str().to_string_lossy());
                s.push('/');
            }
            Ok(s)
        }
        Err(_) => Err(Diagnostics::single(
            Diagnostic::error(
                Code::InvalidValue,
                folder,
                0,
                format!("{} is not inside {}, where the ecosystem file would be", folder.display(), base.display()),
            )
            .with_hint("README paths must stay inside the ecosystem file's folder: write the file into FOLDER or a parent of it (-o)"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(guessed: Option<u16>) -> Found {
        Found {
            folder: String::new(),
            name: String::new(),
            guessed,
            health: false,
        }
    }

    #[test]
    fn ports_prefer_guesses_and_never_collide() {
        let found = [
            f(Some(8001)),
            f(None),
            f(Some(8001)),
            f(Some(80)),
            f(Some(8000)),
        ];
        let ports = assign_ports(&found, 8000).unwrap();
        assert_eq!(ports, vec![8001, 8002, 8003, 8004, 8000]);
        let unique: BTreeSet<_> = ports.iter().collect();
        assert_eq!(unique.len(), ports.len());
    }

    #[test]
    fn ports_run_out() {
        assert!(assign_ports(&[f(None), f(None)], 65_535).is_none());
    }
}
