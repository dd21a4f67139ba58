//! Ecosystem files (`*.pactown.yaml`, spec §12): YAML → validated [`Ecosystem`].
//!
//! The YAML is read into a small positioned tree (yaml-rust2 marked events) so that every
//! diagnostic names the file, line and column of the key or value it is about. All problems are
//! collected and reported at once, sorted by line.
pub mod config_hash;
pub mod generate;
pub mod ingress;
pub mod interpolate;
pub mod labels;
mod model;
mod read;
pub mod resolved;
pub mod rules;
pub mod scaffold;
pub mod tenant;
mod yaml;

pub use model::{
    shell_argv, volume_name, writable_image_paths, BuildSettings, DependsOn, Ecosystem,
    EndpointMode, EngineChoice, ReadmeSource, RegistryConfig, Resources, Security, ServiceKind,
    ServiceSpec, DEFAULT_PIDS_LIMIT, TMP_OPTIONS,
};

use crate::diagnostic::{Code, Diagnostic, Diagnostics};

/// Checks that a YAML text parses within the alias-expansion budget (for YAML read elsewhere with
/// serde, which bounds alias *events* but not the bytes they copy): `Err((message, line))`.
pub(crate) fn check_yaml_bounds(text: &str) -> Result<(), (String, usize)> {
    yaml::parse(text)
        .map(|_| ())
        .map_err(|e| (e.message, e.line))
}
use std::collections::BTreeSet;
use std::path::Path;

/// A project name (`pactown -p NAME`, `PACTOWN_PROJECT_NAME`) that cannot be an ecosystem name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "project name `{name}` (-p/--project-name or PACTOWN_PROJECT_NAME) cannot be used in network and container names; use letters, digits, `_`, `.` and `-`, starting with a letter or digit, e.g. `{suggestion}`"
)]
pub struct ProjectNameError {
    /// The name given.
    pub name: String,
    /// A valid name made from it.
    pub suggestion: String,
}

/// Checks a project name given on the command line by the rule of the file's `name:`.
///
/// # Errors
/// [`ProjectNameError`].
pub fn check_project_name(name: &str) -> Result<(), ProjectNameError> {
    if rules::is_resource_name(name) {
        Ok(())
    } else {
        Err(ProjectNameError {
            name: name.to_string(),
            suggestion: rules::sanitize_name(name),
        })
    }
}

/// Parses an ecosystem file's text. `path` is used for diagnostics and to resolve README paths.
///
/// # Errors
/// Every problem found, each naming the file, line and column, sorted by line.
pub fn parse(path: &Path, text: &str) -> Result<Ecosystem, Diagnostics> {
    let partial = parse_partial(path, text);
    match partial.ecosystem {
        Some(eco) if !partial.diagnostics.has_errors() => Ok(eco),
        _ => Err(partial.diagnostics),
    }
}

/// Reads and parses an ecosystem file.
///
/// # Errors
/// An `Io` diagnostic when the file cannot be read, else as [`parse`].
pub fn load(path: &Path) -> Result<Ecosystem, Diagnostics> {
    let text = read_text(path)?;
    parse(path, &text)
}

/// A valid ecosystem file with what its output needs: warnings to show, and secret values
/// substituted outside `env:` to mask.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The model.
    pub ecosystem: Ecosystem,
    /// Warnings (no errors).
    pub warnings: Diagnostics,
    /// See [`Partial::secret_values`].
    pub secret_values: Vec<String>,
}

/// Reads and parses an ecosystem file that must be valid, keeping its warnings and secrets
/// (commands that print the file's contents: `graph`, `config`).
///
/// # Errors
/// Every problem found (an `Io` diagnostic when the file cannot be read).
pub fn load_checked(path: &Path) -> Result<Checked, Diagnostics> {
    let text = read_text(path)?;
    let partial = parse_partial(path, &text);
    match partial.ecosystem {
        Some(ecosystem) if !partial.diagnostics.has_errors() => Ok(Checked {
            ecosystem,
            warnings: partial.diagnostics,
            secret_values: partial.secret_values,
        }),
        _ => Err(partial.diagnostics),
    }
}

/// The outcome of reading an ecosystem file without giving up at the first error: used by
/// [`crate::project::load`] to also check the graph and the READMEs of a file that has errors.
#[derive(Debug, Clone)]
pub struct Partial {
    /// The model, when the YAML had a usable shape; values with errors got their defaults.
    pub ecosystem: Option<Ecosystem>,
    /// All diagnostics, sorted.
    pub diagnostics: Diagnostics,
    /// Services whose `readme:` (or default README path) is invalid and must not be read.
    pub bad_readmes: BTreeSet<String>,
    /// Values of secret-looking variables (`${API_TOKEN}`…) substituted into the file outside
    /// `env:` values, so output that shows the resolved file can mask them.
    pub secret_values: Vec<String>,
}

/// Parses like [`parse`] but returns the (defaulted) model next to the diagnostics. Values are
/// interpolated from the process environment over the `.env` beside the file
/// ([`interpolate::Variables::for_dir`]); an unreadable `.env` is an error naming its line.
#[must_use]
pub fn parse_partial(path: &Path, text: &str) -> Partial {
    let dir = path.parent().unwrap_or(Path::new("."));
    let (vars, problem) = match interpolate::Variables::for_dir(dir) {
        Ok(v) => (v, None),
        Err(err) => (interpolate::Variables::process_only(), Some(err)),
    };
    let mut partial = parse_partial_with(path, text, &vars);
    if let Some(crate::secrets::SecretError::EnvFile {
        path: env_path,
        line,
        message,
    }) = problem
    {
        partial.diagnostics.0.push(
            Diagnostic::error(Code::Io, &env_path, line, message).with_hint(
                "write NAME=value lines (`#` comments, optional quotes), or remove the .env file",
            ),
        );
        partial.diagnostics.sort();
    }
    partial
}

/// [`parse_partial`] with the given variables (no environment or `.env` is read: pure).
#[must_use]
pub fn parse_partial_with(path: &Path, text: &str, vars: &interpolate::Variables) -> Partial {
    let read = read::read(path, text, vars);
    let mut diagnostics = Diagnostics(read.diagnostics);
    diagnostics.sort();
    Partial {
        ecosystem: read.ecosystem,
        diagnostics,
        bad_readmes: read.bad_readmes,
        secret_values: read.secret_values,
    }
}

/// Reads an ecosystem file's text.
///
/// # Errors
/// An `Io` diagnostic naming the file.
pub fn read_text(path: &Path) -> Result<String, Diagnostics> {
    match crate::input::read_capped(path, crate::input::MAX_CONFIG_BYTES) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => Ok(text),
            Err(err) => Err(Diagnostics::single(
                Diagnostic::error(
                    Code::InvalidYaml,
                    path,
                    0,
                    format!("the ecosystem file is not UTF-8 ({err})"),
                )
                .with_hint("save the file as UTF-8"),
            )),
        },
        Err(err) => Err(Diagnostics::single(
            Diagnostic::error(
                Code::Io,
                path,
                0,
                format!("cannot read ecosystem file: {err}"),
            )
            .with_hint("pass the path of a *.pactown.yaml file"),
        )),
    }
}

/// The ecosystem file a command should use: `given` itself when it is a file; otherwise the only
/// `*.pactown.yaml` (or `pactown.yaml`) in `given` (a folder) or in the current folder.
///
/// # Errors
/// An `Io` diagnostic when there is no such file or several, with a hint listing them.
pub fn resolve_file(given: Option<&Path>) -> Result<std::path::PathBuf, Diagnostics> {
    let dir = match given {
        Some(p) if !p.is_dir() => return Ok(p.to_path_buf()),
        Some(p) => p.to_path_buf(),
        None => std::path::PathBuf::from("."),
    };
    let mut found: Vec<std::path::PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.is_file()
                    && p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                        n == "pactown.yaml"
                            || n.ends_with(".pactown.yaml")
                            || n.ends_with(".pactown.yml")
                    })
            })
            .map(|p| {
                if given.is_none() {
                    p.strip_prefix(".").map(Path::to_path_buf).unwrap_or(p)
                } else {
                    p
                }
            })
            .collect(),
        Err(err) => {
            return Err(Diagnostics::single(Diagnostic::error(
                Code::Io,
                &dir,
                0,
                format!("cannot list folder: {err}"),
            )))
        }
    };
    found.sort();
    match found.len() {
        1 => Ok(found.swap_remove(0)),
        0 => Err(Diagnostics::single(
            Diagnostic::error(Code::Io, &dir, 0, "no ecosystem file (*.pactown.yaml) here")
                .with_hint(
                    "pass the file's path, or create one with `pactown init` or `pactown generate`",
                ),
        )),
        _ => Err(Diagnostics::single(
            Diagnostic::error(Code::Io, &dir, 0, "several ecosystem files here").with_hint(
                format!(
                    "pass one of: {}",
                    found
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
        )),
    }
}
