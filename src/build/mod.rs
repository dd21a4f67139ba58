//! From README to image: providers turn a parsed README into a [`BuildPlan`]-like plan, a pure
//! renderer writes the Containerfile, the context is a deterministic tar, and the image tag is the
//! context digest.

/// Errors of planning or running builds.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The build of a service failed in the engine.
    #[error("build of service `{service}` failed{}: {message}", step.as_ref().map(|s| format!(" at step `{s}`")).unwrap_or_default())]
    Failed {
        /// Service name.
        service: String,
        /// The failing step.
        step: Option<String>,
        /// The engine's message.
        message: String,
        /// Last lines of the build log.
        log_tail: Vec<String>,
    },
    /// The README cannot be built (unsupported runtime feature…).
    #[error("service `{service}`: {message}")]
    Plan {
        /// Service name.
        service: String,
        /// What is wrong.
        message: String,
    },
    /// Reading an input (CA bundle, base recipe) failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being read.
        context: String,
        /// The IO error.
        source: std::io::Error,
    },
}
