//! Node.js: dependencies are installed with npm from a *deps-only* `package.json` (fixed name, only
//! the dependency tables), so two services with the same dependencies share the install layer;
//! the real `package.json` (generated or from the README) arrives with the code.
//!
//! Without a `package-lock.json` the root package's own lifecycle scripts (`postinstall`, …) are
//! not run at install time (the code is not there yet); use a `markpact:build` block instead. With
//! a lock file, `package.json` and `package-lock.json` are installed verbatim with `npm ci`.
use super::{sanitize_name, BuildPlan, PlanError, PlanFile};
use crate::markpact::Markpact;
use serde_json::{Map, Value};

/// Name of the deps-only manifest's package.
pub const DEPS_PACKAGE_NAME: &str = "pactown-deps";

/// Dependency tables kept in the deps-only manifest.
const DEP_TABLES: [&str; 5] = [
    "dependencies",
    "devDependencies",
    "optionalDependencies",
    "peerDependencies",
    "overrides",
];

pub(super) fn plan(doc: &Markpact, service: &str, plan: &mut BuildPlan) -> Result<(), PlanError> {
    let user_manifest = doc.file("package.json");
    let lock = doc.file("package-lock.json");
    match (user_manifest, lock) {
        (Some(manifest), _) if !doc.deps.is_empty() => Err(PlanError::new(format!(
            "{}:{}: both a node deps block and a `package.json` file block (ManifestConflict); \
             list the dependencies in package.json only",
            doc.path.display(),
            manifest.line
        ))),
        (Some(manifest), Some(lock)) => {
            plan.deps_files
                .push(PlanFile::text("package.json", manifest.contents.clone()));
            plan.deps_files
                .push(PlanFile::text("package-lock.json", lock.contents.clone()));
            plan.install
                .push("npm ci --no-audit --no-fund && rm -rf /home/app/.npm".to_string());
            Ok(())
        }
        (Some(manifest), None) => {
            let value: Value = serde_json::from_str(&manifest.contents).map_err(|e| {
                PlanError::new(format!(
                    "{}:{}: package.json is not valid JSON: {e}",
                    doc.path.display(),
                    manifest.line
                ))
            })?;
            let Value::Object(obj) = value else {
                return Err(PlanError::new(format!(
                    "{}:{}: package.json must be a JSON object",
                    doc.path.display(),
                    manifest.line
                )));
            };
            let mut deps = Map::new();
            for table in DEP_TABLES {
                if let Some(v) = obj.get(table) {
                    deps.insert(table.to_string(), v.clone());
                }
            }
            if deps.is_empty() {
                return Ok(());
            }
            push_install(plan, deps);
            Ok(())
        }
        (None, _) if doc.deps.is_empty() => Ok(()),
        (None, _) => {
            let deps = dependency_table(doc)?;
            let mut real = Map::new();
            real.insert("dependencies".into(), Value::Object(deps.clone()));
            plan.app_files.push(PlanFile::text(
                "package.json",
                manifest_text(&real, &sanitize_name(service, false)),
            ));
            let mut only = Map::new();
            only.insert("dependencies".into(), Value::Object(deps));
            push_install(plan, only);
            Ok(())
        }
    }
}

fn push_install(plan: &mut BuildPlan, tables: Map<String, Value>) {
    plan.deps_files.push(PlanFile::text(
        "package.json",
        manifest_text(&tables, DEPS_PACKAGE_NAME),
    ));
    plan.install
        .push("npm install --no-audit --no-fund && rm -rf /home/app/.npm".to_string());
    // npm install reconciles an existing node_modules with the manifest (adds, removes extras)
    plan.deps_seed = true;
}

/// `{"dependencies": {NAME: RANGE-or-"latest"}}` from the deps entries, names sorted.
///
/// # Errors
/// An entry that is not `name`, `name@range`, `@scope/name` or `@scope/name@range`.
pub fn dependency_table(doc: &Markpact) -> Result<Map<String, Value>, PlanError> {
    let mut entries = std::collections::BTreeMap::new();
    for dep in &doc.deps {
        let (name, range) = split_spec(&dep.spec).ok_or_else(|| {
            PlanError::new(format!(
                "{}:{}: `{}` is not an npm dependency (InvalidDependency); write `name` or \
                 `name@range`",
                doc.path.display(),
                dep.line,
                dep.spec
            ))
        })?;
        entries.insert(name.to_string(), Value::String(range.to_string()));
    }
    Ok(entries.into_iter().collect())
}

/// Splits `name@range` (the `@` of a scope does not count); no range → `latest`.
fn split_spec(spec: &str) -> Option<(&str, &str)> {
    let search_from = usize::from(spec.starts_with('@'));
    let (name, range) = match spec.get(search_from..)?.find('@') {
        Some(i) => (
            spec.get(..search_from + i)?,
            spec.get(search_from + i + 1..)?,
        ),
        None => (spec, "latest"),
    };
    if name.is_empty() || name == "@" || range.is_empty() || spec.chars().any(char::is_whitespace) {
        return None;
    }
    Some((name, range))
}

/// A package.json: keys sorted, 2-space indent, trailing newline (spec §9).
fn manifest_text(tables: &Map<String, Value>, name: &str) -> String {
    let mut all: std::collections::BTreeMap<String, Value> = tables
        .iter()
        .map(|(k, v)| (k.clone(), sort_value(v)))
        .collect();
    all.insert("name".into(), Value::String(name.to_string()));
    all.insert("private".into(), Value::Bool(true));
    all.insert("version".into(), Value::String("1.0.0".into()));
    let obj: Map<String, Value> = all.into_iter().collect();
    let mut text = serde_json::to_string_pretty(&Value::Object(obj)).unwrap_or_default();
    text.push('\n');
    text
}

/// Recursively sorts object keys (serde_json keeps insertion order with `preserve_order`).
fn sort_value(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let sorted: std::collections::BTreeMap<&String, Value> =
                m.iter().map(|(k, v)| (k, sort_value(v))).collect();
            Value::Object(sorted.into_iter().map(|(k, v)| (k.clone(), v)).collect())
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_specs() {
        assert_eq!(split_spec("express"), Some(("express", "latest")));
        assert_eq!(split_spec("express@^4.19.2"), Some(("express", "^4.19.2")));
        assert_eq!(split_spec("@types/node@20"), Some(("@types/node", "20")));
        assert_eq!(split_spec("@types/node"), Some(("@types/node", "latest")));
        assert_eq!(split_spec("express@"), None);
        assert_eq!(split_spec("@"), None);
    }
}
