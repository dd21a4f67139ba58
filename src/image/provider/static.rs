//! Static sites: no dependencies. Without a run block the image serves `/app` itself with
//! `python3 -m http.server` on `$MARKPACT_PORT` (else `$PORT`, else 8000).
use super::{BuildPlan, PlanError};
use crate::markpact::Markpact;

/// The generated run script of a static site without a run block.
pub const SERVE: &str = "exec python3 -m http.server \"${MARKPACT_PORT:-${PORT:-8000}}\" \
                         --bind 0.0.0.0 --directory /app\n";

pub(super) fn plan(doc: &Markpact, plan: &mut BuildPlan) -> Result<(), PlanError> {
    if let Some(dep) = doc.deps.first() {
        return Err(PlanError::new(format!(
            "{}:{}: a static site has no dependencies; remove `{}`",
            doc.path.display(),
            dep.line,
            dep.spec
        )));
    }
    if doc.run.is_none() {
        plan.run_script = SERVE.to_string();
        plan.run_generated = true;
    }
    Ok(())
}
