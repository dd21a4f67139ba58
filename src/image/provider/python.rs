//! Python: requirements go to `/app/requirements.txt` and are installed with pip into the
//! virtualenv `/opt/venv` of the base image.
use super::{BuildPlan, PlanError, PlanFile};
use crate::markpact::Markpact;

/// The install command; identical for every service, so equal requirements share the layer.
pub const INSTALL: &str = "/opt/venv/bin/pip install --no-cache-dir -r requirements.txt";

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
        plan.deps_files
            .push(PlanFile::text("requirements.txt", text));
        plan.install.push(INSTALL.to_string());
    }
    Ok(())
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
