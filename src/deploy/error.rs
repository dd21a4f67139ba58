//! What deploying can fail with, beyond the engine's and the build's own errors.
use std::path::PathBuf;

/// A deploy failure, phrased for the user.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// `up SERVICE…` naming a service the ecosystem file does not define.
    #[error("`{service}` is not a service of {}; drop it or fix the name", file.display())]
    UnknownService {
        /// The name given.
        service: String,
        /// The ecosystem file.
        file: std::path::PathBuf,
    },
    /// A service of the file has no built image (a build that skipped it).
    #[error("no image was built for service `{service}`")]
    NoImage {
        /// Service name.
        service: String,
    },
    /// Services exited or failed to start; the summary names each with its reason.
    #[error("{summary}")]
    Unhealthy {
        /// Every failing service with its reason, and what to do.
        summary: String,
    },
    /// A service named on the command line has no containers.
    #[error(
        "service `{service}` has no containers in ecosystem `{ecosystem}`; run `pactown up` first"
    )]
    NotRunning {
        /// Service name.
        service: String,
        /// Ecosystem name.
        ecosystem: String,
    },
    /// `restart` without services on an ecosystem that has no containers.
    #[error("ecosystem `{ecosystem}` has no containers to restart; run `pactown up` first")]
    NothingToRestart {
        /// Ecosystem name.
        ecosystem: String,
    },
    /// A restarted service did not come back.
    #[error("service `{service}`: {reason}")]
    Restart {
        /// Service name.
        service: String,
        /// Why.
        reason: String,
    },
    /// Swarm nodes pull their images, and these were built on this engine only.
    #[error("the swarm has {nodes} nodes and they pull their images, but {images} exist only on this engine: push them to a registry every node reaches (set `images: {{repo: REGISTRY/NAMESPACE}}` in the ecosystem file, or run `pactown build --push --repo REGISTRY/NAMESPACE`), or use a single-node swarm")]
    SwarmNeedsPushedImages {
        /// Nodes in the swarm.
        nodes: usize,
        /// The local images, comma-separated.
        images: String,
    },
    /// `pactown run` got a project without a service.
    #[error("nothing to run")]
    NothingToRun,
    /// `pactown run --once`: the program never ran to an exit.
    #[error("`{service}` did not run")]
    DidNotRun {
        /// Service name.
        service: String,
    },
    /// The file watcher could not be set up.
    #[error("cannot watch {}: {source}", path.display())]
    Watch {
        /// The folder (empty: the watcher itself).
        path: PathBuf,
        /// The watcher's error.
        source: notify::Error,
    },
}
