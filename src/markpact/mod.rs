//! The markpact format (see `markpact-spec.md`): fenced blocks tagged `markpact:KIND` in a
//! README, parsed into a [`Markpact`] with line-accurate [`Diagnostic`]s. Parsing is pure: it
//! never writes anything.
mod model;

pub use model::{Dependency, Markpact, RawBlock, Runtime, Script, SourceFile, TestBlock, TestMode};

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use std::path::Path;

/// Parses README bytes. `path` is only used for diagnostics.
///
/// # Errors
/// All errors of the document, sorted by line.
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Markpact, Diagnostics> {
    let _ = bytes;
    Err(Diagnostics::single(Diagnostic::error(
        Code::NoBlocks,
        path,
        0,
        "parser not written yet",
    )))
}

/// Reads and parses a README file.
///
/// # Errors
/// An `Io` diagnostic when the file cannot be read, else as [`parse`].
pub fn parse_file(path: &Path) -> Result<Markpact, Diagnostics> {
    match std::fs::read(path) {
        Ok(bytes) => parse(path, &bytes),
        Err(err) => Err(Diagnostics::single(
            Diagnostic::error(Code::Io, path, 0, format!("cannot read README: {err}"))
                .with_hint("check the `readme:` path in the ecosystem file"),
        )),
    }
}

/// Validation for starting a service (spec §6, §9): `MissingRun`, `UnsupportedDependencies`,
/// `UnsupportedTarget`. `MissingEnv` is checked by [`missing_env`] because it needs the
/// environment the service will get.
#[must_use]
pub fn validate(doc: &Markpact) -> Vec<Diagnostic> {
    let _ = doc;
    Vec::new()
}

/// Variables declared by a `.env.example` / `.env.sample` file block that `provided` lacks
/// (spec §10), as `MissingEnv` errors.
#[must_use]
pub fn missing_env(doc: &Markpact, provided: &dyn Fn(&str) -> bool) -> Vec<Diagnostic> {
    let _ = (doc, provided);
    Vec::new()
}

/// Default-port guess from a run script (spec §10): first of `--port ${MARKPACT_PORT:-N}`,
/// `--port N`, `:N`, `PORT=N` / `PORT:-N`.
#[must_use]
pub fn guess_port(run: &str) -> Option<u16> {
    let _ = run;
    None
}

/// The canonical JSON of spec §14 for a parse result.
#[must_use]
pub fn canonical_json(result: &Result<Markpact, Diagnostics>) -> serde_json::Value {
    let _ = result;
    serde_json::Value::Null
}
