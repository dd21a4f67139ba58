//! Go: standard library only (no module proxy during builds). A missing `go.mod` is generated as
//! `module <service>` / `go 1.19`; the code is compiled once at build time so that `go run .` or
//! `go build` at start-up only links.
use super::{no_deps, BuildPlan, PlanError, PlanFile};
use crate::markpact::Markpact;

/// The warm-up compile: compiles every package into the build cache, throws the binaries away.
pub const WARM: &str = "go build -o /tmp/pactown-warm/ ./... && rm -rf /tmp/pactown-warm";

pub(super) fn plan(doc: &Markpact, service: &str, plan: &mut BuildPlan) -> Result<(), PlanError> {
    no_deps(doc, "Go")?;
    match doc.file("go.mod") {
        Some(gomod) => {
            if let Some((offset, _)) = gomod
                .contents
                .lines()
                .enumerate()
                .find(|(_, l)| l.trim_start().starts_with("require"))
            {
                return Err(PlanError::new(format!(
                    "{}:{}: go.mod has a `require` directive (UnsupportedDependencies); the Go \
                     module proxy is not reachable during builds, use the standard library only",
                    doc.path.display(),
                    gomod.line + 1 + offset
                )));
            }
        }
        None => plan
            .app_files
            .push(PlanFile::text("go.mod", go_mod(service))),
    }
    plan.warm.push(WARM.to_string());
    Ok(())
}

/// The generated `go.mod` (spec §9).
#[must_use]
pub fn go_mod(service: &str) -> String {
    format!(
        "module {}\n\ngo 1.19\n",
        super::sanitize_name(service, false)
    )
}
