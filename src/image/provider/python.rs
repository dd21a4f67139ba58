//! Python: requirements go to `/app/requirements.txt` and are installed into the virtualenv
//! `/opt/venv` of the base image with uv (pinned in `images/python.Containerfile`): `uv pip
//! compile` resolves the requirement lines afresh (highest compatible versions, like pip), then
//! `uv pip sync` makes the virtualenv hold exactly that set, with bytecode compiled at build time
//! (a read-only root never recompiles on start). Because sync installs only what is missing and
//! removes what is no longer listed, the install may start from the service's previous dependency
//! image ([`BuildPlan::deps_seed`], see [`crate::image`]) and still end with the same packages as
//! a cold install. uv's download cache lives in `/tmp/uv-cache` for the one `RUN` and is removed
//! there, so it never ends up in a layer.
//!
//! A `requirements.txt` file block with an option line (starting with `-`: `--index-url`, `-e`,
//! `--hash`, …) is installed with pip, which defines those options, from the base image (no seed).
//! Deps block entries are PEP 508 only (spec §9), which uv reads like pip.
use super::{BuildPlan, PlanError, PlanFile};
use crate::markpact::Markpact;

/// The uv install command; identical for every service, so equal requirements share the layer.
pub const INSTALL: &str = "uv pip compile --quiet --cache-dir /tmp/uv-cache requirements.txt \
     -o /tmp/pactown-requirements.lock \
     && uv pip sync --quiet --cache-dir /tmp/uv-cache --compile-bytecode \
     /tmp/pactown-requirements.lock \
     && rm -rf /tmp/uv-cache /tmp/pactown-requirements.lock";

/// The pip command for a `requirements.txt` with pip options.
pub const PIP_INSTALL: &str = "/opt/venv/bin/pip install --no-cache-dir -r requirements.txt";

pub(super) fn plan(doc: &Markpact, plan: &mut BuildPlan) -> Result<(), PlanError> {
    let requirements = if let Some(file) = doc.file("requirements.txt") {
        if !doc.deps.is_empty() {
            return Err(PlanError::new(format!(
                "{}:{}: both a python deps block and a `requirements.txt` file block \
                 (ManifestConflict); keep one of them",
                doc.path.display(),
                file.line
            )));
        }
        Some(file.contents.clone())
    } else if doc.deps.is_empty() {
        None
    } else {
        Some(requirements_txt(doc))
    };
    if let Some(text) = requirements {
        let pip = needs_pip(&text);
        plan.deps_files
            .push(PlanFile::text("requirements.txt", text));
        plan.install
            .push(if pip { PIP_INSTALL } else { INSTALL }.to_string());
        plan.deps_seed = !pip;
    }
    Ok(())
}

/// Whether a requirements file has an option line (`-r`, `--index-url`, `-e`, …), which pip is
/// left to interpret.
#[must_use]
pub fn needs_pip(requirements: &str) -> bool {
    requirements
        .lines()
        .any(|l| l.trim_start().starts_with('-'))
}

/// The generated `requirements.txt`: one entry per line in document order (spec §9).
#[must_use]
pub fn requirements_txt(doc: &Markpact) -> String {
    doc.deps.iter().fold(String::new(), |mut out, d| {
        out.push_str(&d.spec);
        out.push('\n');
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_lines_go_to_pip() {
        assert!(!needs_pip(
            "fastapi==0.110\nuvicorn[standard]>=0.29 ; python_version >= '3.8'\n"
        ));
        assert!(needs_pip(
            "--index-url https://example.org/simple\nfastapi\n"
        ));
        assert!(needs_pip("  -e .\n"));
        assert!(!needs_pip("# -e is a comment\n"));
    }
}
