//! Go: standard library only (no module proxy during builds), or modules vendored in file blocks
//! under `vendor/` (with `vendor/modules.txt`; built with `-mod=vendor`). A missing `go.mod` is
//! generated as `module <service>` / `go 1.19`. The run block's `go run …` / `go build …` steps
//! are compiled at build time ([`crate::image::shim`]), so a container start never compiles;
//! without such a step every package is compiled once into the build cache (warm-up) so that a
//! `go build` in a `markpact:build` block or at start only links.
use super::{no_deps, BuildPlan, PlanError, PlanFile};
use crate::markpact::Markpact;

/// The warm-up compile: compiles every package into the build cache, throws the binaries away.
pub const WARM: &str = "go build -o /tmp/pactown-warm/ ./... && rm -rf /tmp/pactown-warm";

/// `GOTMPDIR` of Go images: below `/app`, which neither engine mounts `noexec`.
pub const GO_TMP: &str = "/app/.markpact/tmp";

/// The file whose presence means the module's dependencies are vendored.
pub const VENDOR_MANIFEST: &str = "vendor/modules.txt";

pub(super) fn plan(doc: &Markpact, service: &str, plan: &mut BuildPlan) -> Result<(), PlanError> {
    no_deps(doc, "Go")?;
    let vendored = doc.file(VENDOR_MANIFEST).is_some();
    match doc.file("go.mod") {
        Some(gomod) => {
            if let Some(offset) = crate::markpact::go_mod_require_line(&gomod.contents) {
                if !vendored {
                    return Err(PlanError::new(format!(
                        "{}:{}: go.mod has a `require` directive (UnsupportedDependencies); the \
                         Go module proxy is not reachable during builds: use the standard library \
                         only, or vendor the modules (`go mod vendor`) into file blocks under \
                         `vendor/`, including `{VENDOR_MANIFEST}`",
                        doc.path.display(),
                        gomod.line + 1 + offset
                    )));
                }
            }
        }
        None => plan
            .app_files
            .push(PlanFile::text("go.mod", go_mod(service))),
    }
    // `go run` links into GOTMPDIR and executes from there: keep that off the noexec /tmp, in
    // the container's writable /app (also for a `go run` the build did not see)
    plan.env.insert("GOTMPDIR".to_string(), GO_TMP.to_string());
    plan.app_files
        .push(PlanFile::text(".markpact/tmp/.keep", String::new()));
    if vendored {
        plan.env
            .insert("GOFLAGS".to_string(), "-mod=vendor".to_string());
    }
    if plan.prepare.is_none() {
        plan.warm.push(WARM.to_string());
    }
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
