//! Base images, one per runtime, built by pactown itself from the recipes in `images/` (embedded
//! at compile time). Each is tagged `pactown/base-<runtime>:<12 hex of sha256(recipe bytes)>`, so
//! editing a recipe gives a new tag (and, through the `FROM` line, new service digests), and an
//! existing tag is never rebuilt. All recipes start from `debian:bookworm-slim`, which must exist
//! locally (`pactown images bootstrap` makes it without a registry).
use crate::image::cache_key;
use crate::markpact::Runtime;

/// The image every recipe starts from.
pub const DEBIAN_IMAGE: &str = "debian:bookworm-slim";

/// The recipe (Containerfile text) of a runtime's base image.
#[must_use]
pub fn recipe(runtime: Runtime) -> &'static str {
    match runtime {
        Runtime::Python => include_str!("../../images/python.Containerfile"),
        Runtime::Node => include_str!("../../images/node.Containerfile"),
        Runtime::Go => include_str!("../../images/go.Containerfile"),
        Runtime::Rust => include_str!("../../images/rust.Containerfile"),
        Runtime::Php => include_str!("../../images/php.Containerfile"),
        Runtime::Static => include_str!("../../images/static.Containerfile"),
    }
}

/// `pactown/base-<runtime>:<12 hex of sha256(recipe)>`.
#[must_use]
pub fn base_tag(runtime: Runtime) -> String {
    format!(
        "pactown/base-{runtime}:{}",
        cache_key::short(&cache_key::digest(recipe(runtime).as_bytes()))
    )
}

/// The recipe of the ingress's base image (Debian's Caddy).
pub const CADDY_RECIPE: &str = include_str!("../../images/caddy.Containerfile");

/// `pactown/base-caddy:<12 hex of sha256(recipe)>`.
#[must_use]
pub fn caddy_tag() -> String {
    format!(
        "pactown/base-caddy:{}",
        cache_key::short(&cache_key::digest(CADDY_RECIPE.as_bytes()))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipes_start_from_debian_and_create_app_user() {
        for rt in Runtime::ALL {
            let text = recipe(rt);
            assert!(
                text.contains(&format!("FROM {DEBIAN_IMAGE}\n"))
                    || text.contains(&format!("FROM {DEBIAN_IMAGE} AS ")),
                "{rt}"
            );
            assert!(text.contains("--uid 10001"), "{rt}");
            assert!(text.contains("WORKDIR /app"), "{rt}");
            assert!(text.contains(&format!("io.pactown.base=\"{rt}\"")), "{rt}");
            let tag = base_tag(rt);
            assert!(tag.starts_with(&format!("pactown/base-{rt}:")));
            assert_eq!(tag.rsplit(':').next().map(str::len), Some(12));
        }
    }
}
