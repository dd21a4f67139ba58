//! Rust: standard library only, always offline. A missing `Cargo.toml` is generated; the crate is
//! compiled at build time (with `--release` when the run script uses it) so that `cargo run` at
//! start-up finds it fresh.
use super::{no_deps, sanitize_name, BuildPlan, PlanError, PlanFile};
use crate::markpact::Markpact;

pub(super) fn plan(doc: &Markpact, service: &str, plan: &mut BuildPlan) -> Result<(), PlanError> {
    no_deps(doc, "Rust")?;
    match doc.file("Cargo.toml") {
        Some(manifest) => {
            if let Some(offset) = first_dependency_line(&manifest.contents) {
                return Err(PlanError::new(format!(
                    "{}:{}: Cargo.toml declares dependencies (UnsupportedDependencies); the crate \
                     registry is not reachable during builds, use the standard library only",
                    doc.path.display(),
                    manifest.line + 1 + offset
                )));
            }
        }
        None => plan
            .app_files
            .push(PlanFile::text("Cargo.toml", cargo_toml(service))),
    }
    let release = plan.run_script.contains("--release")
        || plan
            .build_script
            .as_deref()
            .is_some_and(|b| b.contains("--release"));
    if plan.prepare.is_some() {
        // `cargo run` / `cargo build` in the run block are built by the prepare step
        return Ok(());
    }
    plan.warm.push(if release {
        "cargo build --offline --release".to_string()
    } else {
        "cargo build --offline".to_string()
    });
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
}
