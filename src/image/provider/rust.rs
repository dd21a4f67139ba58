//! Rust: crates from the crate registry (Debian bookworm's `cargo-web`, sparse index; through the
//! CA bundle when one is given: `CARGO_HTTP_CAINFO`), declared in a `Cargo.toml` file block's
//! `[dependencies]` or in a `rust markpact:deps` block (`NAME`, `NAME@REQ` or a TOML line, spec
//! §9). A missing `Cargo.toml` is generated.
//!
//! Dependencies get their own layer: the manifest (and `Cargo.lock` when given) plus a stub for
//! every target root (`fn main() {}` / an empty lib) are copied before the code, and
//! `cargo build` there compiles the whole dependency graph. A code-only edit reuses that layer;
//! the code layer's build recompiles only the crate itself (its sources are touched first: the
//! context's fixed mtime is older than the cached stub build). `cargo run` / `cargo build` in the
//! run block are built at image build time ([`crate::image::shim`]); otherwise the crate is
//! built once (with `--release` when the run script uses it) as a warm-up.
use super::{sanitize_name, BuildPlan, PlanError, PlanFile};
use crate::markpact::Markpact;

/// Makes the real sources newer than a cached stub build (see the module docs).
const TOUCH_SOURCES: &str = "find . -path ./target -prune -o -name '*.rs' -type f -exec touch {} +";

pub(super) fn plan(doc: &Markpact, service: &str, plan: &mut BuildPlan) -> Result<(), PlanError> {
    let entries = deps_entries(doc)?;
    let (manifest_text, manifest_line) = match doc.file("Cargo.toml") {
        Some(m) => (m.contents.clone(), Some(m.line)),
        None => (cargo_toml(service), None),
    };
    let manifest = merge_dependencies(&manifest_text, &entries).map_err(|(name, line)| {
        PlanError::new(format!(
            "{}:{line}: crate `{name}` is both in the rust deps block and in Cargo.toml{} \
             (ManifestConflict); list it once",
            doc.path.display(),
            manifest_line.map_or(String::new(), |l| format!(" (line {l})"))
        ))
    })?;
    if let (Some(offset), Some(line)) = (forbidden_source_line(&manifest_text), manifest_line) {
        return Err(PlanError::new(format!(
            "{}:{}: a git or alternative-registry dependency in Cargo.toml (InvalidDependency); \
             only crates from the crate registry can be fetched during builds",
            doc.path.display(),
            line + 1 + offset
        )));
    }
    let release = plan.run_script.contains("--release")
        || plan
            .build_script
            .as_deref()
            .is_some_and(|b| b.contains("--release"));
    let profile = if release { " --release" } else { "" };
    let has_deps = first_dependency_line(&manifest).is_some();
    plan.app_files
        .retain(|f| f.path != "Cargo.toml" && f.path != "Cargo.lock");
    if has_deps {
        plan.deps_files
            .push(PlanFile::text("Cargo.toml", manifest.clone()));
        if let Some(lock) = doc.file("Cargo.lock") {
            plan.deps_files
                .push(PlanFile::text("Cargo.lock", lock.contents.clone()));
        }
        for (path, body) in stubs(doc, &manifest) {
            plan.deps_files.push(PlanFile::text(&path, body));
        }
        plan.install.push(format!("cargo build{profile}"));
    } else {
        plan.app_files
            .push(PlanFile::text("Cargo.toml", manifest.clone()));
        if let Some(lock) = doc.file("Cargo.lock") {
            plan.app_files
                .push(PlanFile::text("Cargo.lock", lock.contents.clone()));
        }
    }
    if plan.prepare.is_some() {
        // `cargo run` / `cargo build` in the run block are built by the prepare step
        return Ok(());
    }
    let offline = if has_deps { "" } else { " --offline" };
    plan.warm
        .push(format!("{TOUCH_SOURCES} && cargo build{offline}{profile}"));
    Ok(())
}

/// The generated `Cargo.toml` (spec §9).
#[must_use]
pub fn cargo_toml(service: &str) -> String {
    format!(
        "[package]\nname = \"{}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\n",
        sanitize_name(service, true)
    )
}

/// The deps block entries as `(name, TOML line, README line)`.
fn deps_entries(doc: &Markpact) -> Result<Vec<(String, String, usize)>, PlanError> {
    let mut out = Vec::new();
    for dep in &doc.deps {
        let invalid = |why: &str| {
            PlanError::new(format!(
                "{}:{}: `{}` {why} (InvalidDependency); write `NAME`, `NAME@VERSION` or \
                 `NAME = \"VERSION\"` / `NAME = {{ version = \"…\", features = [\"…\"] }}`",
                doc.path.display(),
                dep.line,
                dep.spec
            ))
        };
        let spec = dep.spec.trim();
        let (name, line) = if let Some((name, value)) = spec.split_once('=') {
            let name = name.trim().trim_matches('"');
            let value = value.trim();
            if value.is_empty() {
                return Err(invalid("has no version"));
            }
            if has_forbidden_source(value) {
                return Err(invalid(
                    "is a git, path or alternative-registry source; only crates from the crate \
                     registry can be fetched",
                ));
            }
            (name.to_string(), format!("{name} = {value}"))
        } else {
            let (name, req) = spec.split_once('@').unwrap_or((spec, "*"));
            if req.is_empty() || req.contains(char::is_whitespace) || req.contains('"') {
                return Err(invalid("has an invalid version requirement"));
            }
            (name.to_string(), format!("{name} = \"{req}\""))
        };
        let valid_name = !name.is_empty()
            && name.len() <= 64
            && name.starts_with(|c: char| c.is_ascii_alphabetic())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid_name {
            return Err(invalid("is not a crate name"));
        }
        out.push((name, line, dep.line));
    }
    Ok(out)
}

fn has_forbidden_source(value: &str) -> bool {
    let compact: String = value.chars().filter(|c| !c.is_whitespace()).collect();
    [
        "git=",
        "path=",
        "registry=",
        "registry-index=",
        "branch=",
        "rev=",
    ]
    .iter()
    .any(|k| compact.contains(&format!("{{{k}")) || compact.contains(&format!(",{k}")))
}

/// 0-based line of a dependency with a git or registry source in a manifest (path dependencies
/// on crates in file blocks are fine).
fn forbidden_source_line(manifest: &str) -> Option<usize> {
    let mut in_deps = false;
    for (i, raw) in manifest.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.starts_with('[') {
            in_deps = line.contains("dependencies");
            continue;
        }
        if in_deps {
            let compact: String = line.chars().filter(|c| !c.is_whitespace()).collect();
            if ["git=", "registry=", "registry-index="].iter().any(|k| {
                compact.starts_with(k)
                    || compact.contains(&format!("{{{k}"))
                    || compact.contains(&format!(",{k}"))
            }) {
                return Some(i);
            }
        }
    }
    None
}

/// The manifest with the deps block entries added to its `[dependencies]` table (created at the
/// end when missing). `Err((name, README line))` for a crate already in the manifest.
fn merge_dependencies(
    manifest: &str,
    entries: &[(String, String, usize)],
) -> Result<String, (String, usize)> {
    if entries.is_empty() {
        return Ok(manifest.to_string());
    }
    let existing = dependency_names(manifest);
    for (name, _, line) in entries {
        if existing.iter().any(|e| e == name) {
            return Err((name.clone(), *line));
        }
    }
    let added: String = entries.iter().map(|(_, l, _)| format!("{l}\n")).collect();
    let mut out = String::new();
    let mut inserted = false;
    for raw in manifest.lines() {
        out.push_str(raw);
        out.push('\n');
        if !inserted && raw.trim() == "[dependencies]" {
            out.push_str(&added);
            inserted = true;
        }
    }
    if !inserted {
        if !out.ends_with("\n\n") && !out.is_empty() {
            out.push('\n');
        }
        out.push_str("[dependencies]\n");
        out.push_str(&added);
    }
    Ok(out)
}

/// Names in the manifest's `[dependencies]` table (and `[dependencies.NAME]` tables).
fn dependency_names(manifest: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_deps = false;
    for raw in manifest.lines() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.starts_with('[') {
            let header = line.trim_matches(|c| c == '[' || c == ']').trim();
            if let Some(name) = header.strip_prefix("dependencies.") {
                out.push(name.trim().trim_matches('"').to_string());
            }
            in_deps = header == "dependencies";
            continue;
        }
        if in_deps {
            if let Some((name, _)) = line.split_once('=') {
                out.push(name.trim().trim_matches('"').to_string());
            }
        }
    }
    out
}

/// Stub sources for the dependency layer: every target root among the file blocks
/// (`src/main.rs`, `src/lib.rs`, `src/bin/*.rs`, `build.rs`, `path = "…rs"` values of the
/// manifest); `src/main.rs` when there is none.
fn stubs(doc: &Markpact, manifest: &str) -> Vec<(String, String)> {
    let mut roots: Vec<String> = doc
        .files
        .iter()
        .map(|f| f.path.clone())
        .filter(|p| {
            p == "src/main.rs"
                || p == "src/lib.rs"
                || p == "build.rs"
                || (p.starts_with("src/bin/") && p.ends_with(".rs"))
        })
        .collect();
    for raw in manifest.lines() {
        let line = raw.trim();
        if let Some(value) = line
            .strip_prefix("path")
            .and_then(|r| r.trim_start().strip_prefix('='))
        {
            let v = value.trim().trim_matches('"');
            if v.ends_with(".rs") && !v.starts_with('/') && !v.contains("..") {
                roots.push(v.to_string());
            }
        }
    }
    if roots.is_empty() {
        roots.push("src/main.rs".to_string());
    }
    roots.sort();
    roots.dedup();
    roots
        .into_iter()
        .map(|p| {
            let body = if p.ends_with("lib.rs") {
                "// pactown: stub for the dependency layer\n".to_string()
            } else {
                "// pactown: stub for the dependency layer\nfn main() {}\n".to_string()
            };
            (p, body)
        })
        .collect()
}

/// 0-based line of the first entry of a `[dependencies]`-like table, if any.
fn first_dependency_line(manifest: &str) -> Option<usize> {
    let mut in_deps = false;
    for (i, raw) in manifest.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with('[') {
            let header = line.trim_matches(|c| c == '[' || c == ']').trim();
            let table = header.rsplit('.').next().unwrap_or(header);
            let is_deps_table = |t: &str| {
                matches!(
                    t,
                    "dependencies" | "dev-dependencies" | "build-dependencies"
                )
            };
            // `[dependencies.foo]` / `[target.x.dependencies]` / `[dependencies]`
            if header.split('.').any(is_deps_table) && !is_deps_table(table) {
                return Some(i);
            }
            in_deps = is_deps_table(table);
            continue;
        }
        if in_deps {
            return Some(i);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_dependencies() {
        assert_eq!(first_dependency_line(&cargo_toml("x")), None);
        assert_eq!(
            first_dependency_line("[package]\nname=\"a\"\n[dependencies]\nserde = \"1\"\n"),
            Some(3)
        );
        assert_eq!(
            first_dependency_line("[dependencies.serde]\nversion=\"1\"\n"),
            Some(0)
        );
        assert_eq!(
            first_dependency_line("[dependencies]\n# none\n\n[profile.release]\nlto=true\n"),
            None
        );
    }

    #[test]
    fn merges_deps_entries_and_refuses_duplicates() {
        let entries = vec![
            ("axum".to_string(), "axum = \"0.7\"".to_string(), 3),
            (
                "tokio".to_string(),
                "tokio = { version = \"1\", features = [\"full\"] }".to_string(),
                4,
            ),
        ];
        let merged = merge_dependencies(&cargo_toml("svc"), &entries).unwrap();
        assert!(merged.ends_with(
            "[dependencies]\naxum = \"0.7\"\ntokio = { version = \"1\", features = [\"full\"] }\n"
        ));
        let without_table = merge_dependencies("[package]\nname = \"a\"\n", &entries).unwrap();
        assert!(without_table.contains("\n[dependencies]\naxum = \"0.7\"\n"));
        let dup = merge_dependencies("[dependencies]\naxum = \"0.6\"\n", &entries);
        assert_eq!(dup, Err(("axum".to_string(), 3)));
    }

    #[test]
    fn refuses_git_and_registry_sources() {
        assert!(has_forbidden_source("{ git = \"https://x\" }"));
        assert!(has_forbidden_source(
            "{ version = \"1\", registry = \"corp\" }"
        ));
        assert!(!has_forbidden_source(
            "{ version = \"1\", features = [\"derive\"] }"
        ));
        assert_eq!(
            forbidden_source_line("[dependencies]\nserde = \"1\"\nx = { git = \"u\" }\n"),
            Some(2)
        );
        assert_eq!(
            forbidden_source_line("[dependencies]\nlocal = { path = \"crates/local\" }\n"),
            None
        );
    }
}
