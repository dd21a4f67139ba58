//! PHP: the CLI's built-in server (`php -S 0.0.0.0:$PORT`); no Composer packages (only `php` and
//! `ext-*` requirements are allowed in a `composer.json` file block).
use super::{no_deps, BuildPlan, PlanError};
use crate::markpact::Markpact;

pub(super) fn plan(doc: &Markpact, _plan: &mut BuildPlan) -> Result<(), PlanError> {
    no_deps(doc, "PHP")?;
    if let Some(composer) = doc.file("composer.json") {
        let value: serde_json::Value = serde_json::from_str(&composer.contents).map_err(|e| {
            PlanError::new(format!(
                "{}:{}: composer.json is not valid JSON: {e}",
                doc.path.display(),
                composer.line
            ))
        })?;
        if let Some(req) = value.get("require").and_then(|r| r.as_object()) {
            if let Some(name) = req.keys().find(|k| *k != "php" && !k.starts_with("ext-")) {
                return Err(PlanError::new(format!(
                    "{}:{}: composer.json requires `{name}` (UnsupportedDependencies); Composer \
                     packages cannot be fetched during builds",
                    doc.path.display(),
                    composer.line
                )));
            }
        }
    }
    Ok(())
}
