//! The top-level error of pactown commands and its exit code.
use crate::diagnostic::Diagnostics;

/// Everything a command can fail with. Library modules have their own error types; this one
/// wraps them at the command boundary and decides the exit code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Invalid README or ecosystem file (exit code 2).
    #[error("{0}")]
    Invalid(Diagnostics),
    /// A container engine failed or is not reachable.
    #[error(transparent)]
    Engine(#[from] crate::engine::EngineError),
    /// An image build failed.
    #[error(transparent)]
    Build(#[from] crate::image::BuildError),
    /// Pushing images failed (exit code 75 when transient, 2 for usage, else 1).
    #[error(transparent)]
    Push(crate::image::push::ImagePushError),
    /// An export could not be generated or written (exit code 2 for values that cannot be
    /// expressed, 1 otherwise).
    #[error(transparent)]
    Export(#[from] crate::export::ExportError),
    /// `quadlet install` failed (and rolled back where it had changed something).
    #[error(transparent)]
    Install(#[from] crate::quadlet::install::InstallError),
    /// `pactown test` could not run (exit code 2 for an unknown service).
    #[error(transparent)]
    Suite(#[from] crate::suite::SuiteError),
    /// Deploying failed (a service is not healthy, a watcher, a restart).
    #[error(transparent)]
    Deploy(#[from] crate::deploy::error::DeployError),
    /// The project cannot run as asked (tenant, secrets).
    #[error(transparent)]
    Project(crate::project::RunLoadError),
    /// A service did not become healthy in time (exit code 3).
    #[error("{0}")]
    Readiness(String),
    /// A file-system problem, with what was being done.
    #[error("{context}: {source}")]
    Io {
        /// What pactown was doing.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Anything else, already phrased for the user.
    #[error("{0}")]
    Other(String),
}

impl Error {
    /// Exit code documented in README: 1 error, 2 invalid input/usage, 3 readiness time-out,
    /// 75 transient push failure (registry unreachable, 5xx, time-out: retry).
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Invalid(_) => 2,
            Error::Readiness(_) => 3,
            Error::Suite(crate::suite::SuiteError::UnknownService { .. }) => 2,
            Error::Push(p) => p.exit_code(),
            Error::Export(
                crate::export::ExportError::Unsafe { .. }
                | crate::export::ExportError::Unsupported { .. }
                | crate::export::ExportError::MissingImage { .. },
            ) => 2,
            _ => 1,
        }
    }

    /// Wraps an IO error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

impl From<Diagnostics> for Error {
    fn from(d: Diagnostics) -> Self {
        Error::Invalid(d)
    }
}

/// Result alias for command-level code.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<crate::project::RunLoadError> for Error {
    fn from(e: crate::project::RunLoadError) -> Self {
        match e {
            crate::project::RunLoadError::Invalid(d) => Error::Invalid(d),
            other => Error::Project(other),
        }
    }
}
