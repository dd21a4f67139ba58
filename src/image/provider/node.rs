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

/// npm's install with a lock file (`npm ci` always starts from an empty `node_modules`).
pub const NPM_CI: &str = "npm ci --no-audit --no-fund && rm -rf /home/app/.npm";
/// npm's install from a deps-only manifest.
pub const NPM_INSTALL: &str = "npm install --no-audit --no-fund && rm -rf /home/app/.npm";
/// pnpm's install with a `pnpm-lock.yaml` (the store lives in `/tmp` for the one `RUN`).
pub const PNPM_FROZEN: &str = "pnpm install --frozen-lockfile --store-dir /tmp/pnpm-store \
     && rm -rf /tmp/pnpm-store";
/// pnpm's install from a deps-only manifest.
pub const PNPM_INSTALL: &str = "pnpm install --store-dir /tmp/pnpm-store && rm -rf /tmp/pnpm-store";

/// Which package manager a README asks for: pnpm with a `pnpm-lock.yaml` file block, or with a
/// `package.json` file block whose `packageManager` names pnpm (`"pnpm@10.2.0"`); else npm.
fn wants_pnpm(doc: &Markpact, manifest: Option<&Value>) -> bool {
    doc.file("pnpm-lock.yaml").is_some()
        || manifest
            .and_then(|m| m.get("packageManager"))
            .and_then(Value::as_str)
            .is_some_and(|pm| pm.starts_with("pnpm@") || pm == "pnpm")
}

pub(super) fn plan(doc: &Markpact, service: &str, plan: &mut BuildPlan) -> Result<(), PlanError> {
    let user_manifest = doc.file("package.json");
    if let (Some(manifest), false) = (user_manifest, doc.deps.is_empty()) {
        return Err(PlanError::new(format!(
            "{}:{}: both a node deps block and a `package.json` file block (ManifestConflict); \
             list the dependencies in package.json only",
            doc.path.display(),
            manifest.line
        )));
    }
    let parsed = match user_manifest {
        None => None,
        Some(manifest) => {
            let value: Value = serde_json::from_str(&manifest.contents).map_err(|e| {
                PlanError::new(format!(
                    "{}:{}: package.json is not valid JSON: {e}",
                    doc.path.display(),
                    manifest.line
                ))
            })?;
            if !value.is_object() {
                return Err(PlanError::new(format!(
                    "{}:{}: package.json must be a JSON object",
                    doc.path.display(),
                    manifest.line
                )));
            }
            Some(value)
        }
    };
    let pnpm = wants_pnpm(doc, parsed.as_ref());
    let lock_name = if pnpm {
        "pnpm-lock.yaml"
    } else {
        "package-lock.json"
    };
    match (user_manifest, doc.file(lock_name), parsed) {
        (Some(manifest), Some(lock), _) => {
            plan.deps_files
                .push(PlanFile::text("package.json", manifest.contents.clone()));
            plan.deps_files
                .push(PlanFile::text(lock_name, lock.contents.clone()));
            plan.install
                .push(if pnpm { PNPM_FROZEN } else { NPM_CI }.to_string());
            // pnpm installs into an existing node_modules incrementally; npm ci empties it
            plan.deps_seed = pnpm;
            Ok(())
        }
        (None, Some(lock), _) if pnpm => Err(PlanError::new(format!(
            "{}:{}: a `pnpm-lock.yaml` file block without a `package.json` file block \
             (MissingManifest); add the package.json the lock file was made from",
            doc.path.display(),
            lock.line
        ))),
        (Some(_), None, Some(Value::Object(obj))) => {
            let mut deps = Map::new();
            for table in DEP_TABLES
                .iter()
                .chain(if pnpm { &["pnpm"][..] } else { &[] })
            {
                if let Some(v) = obj.get(*table) {
                    deps.insert((*table).to_string(), v.clone());
                }
            }
            if deps.keys().all(|k| k == "pnpm") {
                return Ok(());
            }
            push_install(plan, deps, pnpm);
            Ok(())
        }
        (Some(_), None, _) => Ok(()),
        (None, _, _) if doc.deps.is_empty() => Ok(()),
        (None, _, _) => {
            let deps = dependency_table(doc)?;
            let mut real = Map::new();
            real.insert("dependencies".into(), Value::Object(deps.clone()));
            plan.app_files.push(PlanFile::text(
                "package.json",
                manifest_text(&real, &sanitize_name(service, false)),
            ));
            let mut only = Map::new();
            only.insert("dependencies".into(), Value::Object(deps));
            push_install(plan, only, false);
            Ok(())
        }
    }
}

fn push_install(plan: &mut BuildPlan, tables: Map<String, Value>, pnpm: bool) {
    plan.deps_files.push(PlanFile::text(
        "package.json",
        manifest_text(&tables, DEPS_PACKAGE_NAME),
    ));
    plan.install
        .push(if pnpm { PNPM_INSTALL } else { NPM_INSTALL }.to_string());
    // both reconcile an existing node_modules with the manifest (add, remove extras)
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

    fn parse(text: &str) -> Markpact {
        crate::markpact::parse(std::path::Path::new("README.md"), text.as_bytes())
            .unwrap_or_else(|d| panic!("{d}"))
    }

    fn planned(text: &str) -> Result<BuildPlan, PlanError> {
        super::super::plan(&parse(text), "web", &super::super::PlanOptions::default())
    }

    const RUN: &str = "```bash markpact:run\nnode server.js\n```\n";

    #[test]
    fn package_manager_and_lock_files_choose_the_install() {
        let manifest = |extra: &str| {
            format!(
                "```json markpact:file path=package.json\n{{\"dependencies\": {{\"a\": \"1\"}}{extra}}}\n```\n\n"
            )
        };
        let npm_lock = "```json markpact:file path=package-lock.json\n{}\n```\n\n";
        let pnpm_lock =
            "```yaml markpact:file path=pnpm-lock.yaml\nlockfileVersion: '9.0'\n```\n\n";
        let pm = ", \"packageManager\": \"pnpm@10.34.9\"";
        let cases: [(String, &str, bool); 5] = [
            (manifest(""), NPM_INSTALL, true),
            (format!("{}{npm_lock}", manifest("")), NPM_CI, false),
            (manifest(pm), PNPM_INSTALL, true),
            (format!("{}{pnpm_lock}", manifest(pm)), PNPM_FROZEN, true),
            // a pnpm lock file alone asks for pnpm; an npm lock is then not used
            (
                format!("{}{pnpm_lock}{npm_lock}", manifest("")),
                PNPM_FROZEN,
                true,
            ),
        ];
        for (readme, install, seed) in cases {
            let plan = planned(&format!("{readme}{RUN}")).unwrap();
            assert_eq!(plan.install, [install], "{readme}");
            assert_eq!(plan.deps_seed, seed, "{readme}");
        }
        let plan = planned(&format!("{}{pnpm_lock}{RUN}", manifest(pm))).unwrap();
        let files: Vec<&str> = plan.deps_files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(files, ["package.json", "pnpm-lock.yaml"]);
        // the deps-only manifest keeps pnpm's own table (onlyBuiltDependencies, …)
        let plan = planned(&format!(
            "{}{RUN}",
            manifest(&format!(
                "{pm}, \"pnpm\": {{\"onlyBuiltDependencies\": [\"a\"]}}, \"scripts\": {{}}"
            ))
        ))
        .unwrap();
        let deps_only = String::from_utf8(plan.deps_files[0].contents.clone()).unwrap();
        assert!(deps_only.contains("onlyBuiltDependencies"), "{deps_only}");
        assert!(!deps_only.contains("scripts"), "{deps_only}");
        let err = planned(&format!(
            "{pnpm_lock}```javascript markpact:file path=server.js\n1\n```\n\n{RUN}"
        ))
        .unwrap_err();
        assert!(
            err.message.contains("MissingManifest") && err.message.contains("README.md:1"),
            "{err}"
        );
    }

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
