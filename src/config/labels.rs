//! Labels that make the engine the source of truth: every container, network and image pactown
//! creates carries them, so `status`, `down` and recreate-on-change need no state file.

/// Ecosystem name.
pub const ECOSYSTEM: &str = "io.pactown.ecosystem";
/// Service name.
pub const SERVICE: &str = "io.pactown.service";
/// Replica number, 1-based.
pub const REPLICA: &str = "io.pactown.replica";
/// Hash of everything that shapes the container (image, env, ports…).
pub const CONFIG_HASH: &str = "io.pactown.config-hash";
/// Build-context digest of an image.
pub const CONTEXT_DIGEST: &str = "io.pactown.context-digest";
/// Runtime of an image (`python`, `node`…).
pub const RUNTIME: &str = "io.pactown.runtime";
/// Marks objects managed by pactown.
pub const MANAGED: &str = "io.pactown.managed";
/// Tenant name for side-by-side copies of an ecosystem.
pub const TENANT: &str = "io.pactown.tenant";
/// The service's health-check path (status probes it).
pub const HEALTH_PATH: &str = "io.pactown.health-path";
/// The service's `health_cmd` (a shell command run inside the container), when it has one.
pub const HEALTH_CMD: &str = "io.pactown.health-cmd";
/// `job` on the container of a one-shot job (absent on long-running services).
pub const KIND: &str = "io.pactown.kind";
/// On a one-off container (`pactown run SERVICE -- CMD`): its ecosystem. Such a container has
/// no [`ECOSYSTEM`] label, so deploys and `status` never count or replace it; `down` removes
/// it.
pub const ONEOFF: &str = "io.pactown.oneoff";
/// Base image a dependency image was installed on (`pactown/base-<runtime>:<hash>`).
pub const DEPS_BASE: &str = "io.pactown.deps-base";
/// How many dependency installs a dependency image stacks on its base image (0: one, from the
/// base image itself).
pub const DEPS_DEPTH: &str = "io.pactown.deps-depth";
/// Path of the ecosystem file the container was started from.
pub const ECOSYSTEM_FILE: &str = "io.pactown.ecosystem-file";
