//! Ecosystem files (`*.pactown.yaml`, spec §12): YAML → validated [`Ecosystem`].
mod model;

pub use model::{
    BuildSettings, DependsOn, Ecosystem, EngineChoice, ReadmeSource, RegistryConfig, ServiceSpec,
};

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use std::path::Path;

/// Parses an ecosystem file's text. `path` is used for diagnostics and to resolve README paths.
///
/// # Errors
/// Every problem found, each naming the file, line and column.
pub fn parse(path: &Path, text: &str) -> Result<Ecosystem, Diagnostics> {
    let _ = text;
    Err(Diagnostics::single(Diagnostic::error(
        Code::InvalidYaml,
        path,
        0,
        "config not written yet",
    )))
}

/// Reads and parses an ecosystem file.
///
/// # Errors
/// An `Io` diagnostic when the file cannot be read, else as [`parse`].
pub fn load(path: &Path) -> Result<Ecosystem, Diagnostics> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse(path, &text),
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
