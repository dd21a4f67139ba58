//! The one progress stream of deploying: everything `up`, watch mode, `restart` and `run` report
//! is a [`DeployEvent`], sent to a [`Sink`]. [`crate::ui::events`] renders it as text, as a JSON
//! line (`watch --json` on stdout, `--log-format json` on stderr) or into the live view, so
//! every front-end sees every message.
use crate::diagnostic::Diagnostic;
use crate::image::ServiceImage;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;

/// What deploying did, tagged by `event` in JSON.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum DeployEvent {
    /// Watch mode watches these files.
    Watching {
        /// Ecosystem name.
        ecosystem: String,
        /// The ecosystem file and the local READMEs.
        files: Vec<PathBuf>,
    },
    /// Files changed; a reconcile follows.
    Changed {
        /// The changed files among those watched.
        files: Vec<PathBuf>,
    },
    /// The project does not parse; nothing was touched.
    Invalid {
        /// The errors (and warnings), each with file and line.
        diagnostics: Vec<Diagnostic>,
    },
    /// An image build began (its tag was not found).
    Building {
        /// Service name.
        service: String,
        /// The image tag.
        tag: String,
    },
    /// A line of build output (shown with `--verbose`).
    BuildLine {
        /// Service name.
        service: String,
        /// The line.
        line: String,
    },
    /// An image was built (not found by its tag).
    Built {
        /// The image with its build steps and their cache status.
        image: ServiceImage,
    },
    /// A container was created (shown with `--verbose`).
    Created {
        /// Service name.
        service: String,
        /// Container name.
        container: String,
    },
    /// A host port was busy; the replica publishes another one.
    PortMoved {
        /// Service name.
        service: String,
        /// The port asked for.
        wanted: u16,
        /// The port used.
        used: u16,
    },
    /// A replica is running and healthy (a new service, a new replica or a stopped container).
    Started {
        /// Service name.
        service: String,
        /// Replica number.
        replica: u32,
        /// Container id.
        id: String,
        /// Published host port.
        host_port: Option<u16>,
    },
    /// A replica was replaced by a new container that is healthy.
    Replaced {
        /// Service name.
        service: String,
        /// Replica number.
        replica: u32,
        /// The removed container.
        old_id: String,
        /// The new container.
        new_id: String,
        /// Published host port (`None` for a service without a port).
        host_port: Option<u16>,
        /// From removing the old container until the new one answered its health probe.
        downtime_ms: u64,
        /// Replaced behind the ingress ([`super::surge`]): requests through the proxy had no
        /// gap; `downtime_ms` is the host port's.
        proxied: bool,
    },
    /// Every replica of a service answered its health probe (or the job completed).
    Ready {
        /// Service name.
        service: String,
        /// A one-shot job that ran to completion.
        job: bool,
        /// Something was created or started (false: it was already running / done).
        changed: bool,
        /// Seconds from the start of its containers.
        seconds: f64,
        /// Host port of replica 1.
        host_port: Option<u16>,
    },
    /// A service's containers were stopped and started in place (`restart`) and are healthy
    /// again (a job: ran again to completion).
    Restarted {
        /// Service name.
        service: String,
        /// A one-shot job that ran again.
        job: bool,
        /// Seconds from the start until healthy (completed).
        seconds: f64,
        /// Host port of replica 1.
        host_port: Option<u16>,
    },
    /// A new version did not become healthy; the previous one runs again when `id` is set.
    RolledBack {
        /// Service name.
        service: String,
        /// Replica number.
        replica: u32,
        /// Why the new version failed.
        reason: String,
        /// Last log lines of the failed container.
        log: Vec<String>,
        /// The container running the previous version again, if it came back.
        id: Option<String>,
    },
    /// A container was removed (its service left the file, or a surplus replica).
    Removed {
        /// Service name.
        service: String,
        /// Container id.
        id: String,
    },
    /// A service is not healthy (a failing check, or a new container that did not become
    /// healthy); watch mode goes on and rebuilds it when its README changes.
    Unhealthy {
        /// Service name.
        service: String,
        /// Why.
        reason: String,
        /// Last log lines of the failing container.
        log: Vec<String>,
    },
    /// A service was not started because a dependency is not healthy.
    NotStarted {
        /// Service name.
        service: String,
        /// The dependency it waits for.
        dependency: String,
    },
    /// Something works, but not as it would on a real deployment (e.g. local images on a
    /// single-node swarm).
    Warning {
        /// What to know.
        message: String,
    },
    /// Something failed; what runs stays as it is.
    Failed {
        /// The service concerned, when there is one.
        service: Option<String>,
        /// What went wrong.
        message: String,
    },
    /// A watch-mode reconcile finished.
    Reconciled {
        /// Services whose containers changed.
        changed: Vec<String>,
        /// Services left untouched.
        unchanged: Vec<String>,
        /// Time from the start of the reconcile.
        ms: u64,
    },
}

/// Where events go.
pub type Sink = Arc<dyn Fn(&DeployEvent) + Send + Sync>;

/// A sink that drops everything.
#[must_use]
pub fn discard() -> Sink {
    Arc::new(|_| {})
}

/// Whole milliseconds of `d`, saturating.
#[must_use]
pub fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
