//! `pactown quadlet install`: where the units go, which commands follow, and the roll-back when
//! a changed unit does not become healthy.
//!
//! [`plan`] is pure (paths and units for a scope and home folder). [`apply`] does the IO:
//! 1. pulls the `Pull=missing` images that are not in the store yet (a failing pull changes
//!    nothing);
//! 2. writes the files (each through a temporary file and a rename) and reloads systemd;
//! 3. restarts the container services whose unit changed and starts every service and the
//!    target, then waits until each is active (with `Notify=healthy`: healthy) — at most the sum
//!    of their start allowances;
//! 4. when one fails or the time runs out, puts the previous files back (removing new ones),
//!    reloads, restarts the previous versions and reports [`InstallError::RolledBack`].
use super::{UnitFile, UnitKind};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Rootless (per user) or system-wide units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `~/.config/containers/systemd/` + `~/.config/systemd/user/` and `systemctl --user`.
    User,
    /// `/etc/containers/systemd/` + `/etc/systemd/system/` and `systemctl`.
    System,
}

impl Scope {
    /// The configuration root [`UnitFile::path`] is relative to: `HOME/.config` or `/etc`.
    #[must_use]
    pub fn root(self, home: &Path) -> PathBuf {
        match self {
            Scope::User => home.join(".config"),
            Scope::System => PathBuf::from("/etc"),
        }
    }

    fn systemctl(self) -> Vec<String> {
        let mut cmd = vec!["systemctl".to_string()];
        if self == Scope::User {
            cmd.push("--user".into());
        }
        cmd
    }
}

/// Errors of `quadlet install`.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// A file could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The IO error.
        source: std::io::Error,
    },
    /// A command failed before anything was changed, or while changing it.
    #[error("`{command}` failed ({status}): {stderr}")]
    Command {
        /// The command line.
        command: String,
        /// Its exit status.
        status: String,
        /// What it printed on stderr.
        stderr: String,
    },
    /// A changed unit did not become active; the previous files are back in place.
    #[error("{unit} did not start: {reason}; rolled back: {restored} (see `journalctl {journal}-u {unit}`)")]
    RolledBack {
        /// The unit that failed.
        unit: String,
        /// Its state, or the time-out.
        reason: String,
        /// What the roll-back did.
        restored: String,
        /// `--user ` for user units, else empty.
        journal: String,
    },
}

/// What `install` will do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallPlan {
    /// User or system units.
    pub scope: Scope,
    /// Files and where each goes.
    pub files: Vec<(PathBuf, String)>,
    /// For each of `files`: the systemd unit restarted when that file changes (a container's
    /// service, the ingress for its unit and its Caddyfile; none for the network and target).
    pub owners: Vec<Option<String>>,
    /// Images to pull first when they are not in the store (`Pull=missing` units).
    pub pulls: Vec<String>,
    /// The container services, in file order, each with its start allowance in seconds.
    pub services: Vec<(String, u64)>,
    /// The ecosystem's target.
    pub target: String,
    /// Whether systemd runs here (else only the files are written).
    pub systemd: bool,
}

impl InstallPlan {
    /// Why no commands run, if so.
    #[must_use]
    pub fn skipped_commands(&self) -> Option<&'static str> {
        (!self.systemd).then_some(
            "systemd is not running here (no /run/systemd/system): run `systemctl daemon-reload` and start the target on the deployment host",
        )
    }

    /// The commands [`apply`] runs, for display (`restart` only applies to units that changed).
    #[must_use]
    pub fn commands(&self) -> Vec<Vec<String>> {
        if !self.systemd {
            return Vec::new();
        }
        let mut out: Vec<Vec<String>> = self
            .pulls
            .iter()
            .map(|i| vec!["podman".into(), "pull".into(), i.clone()])
            .collect();
        let sc = self.scope.systemctl();
        let with = |args: &[&str], units: &[String]| {
            let mut c = sc.clone();
            c.extend(args.iter().map(|s| (*s).to_string()));
            c.extend(units.iter().cloned());
            c
        };
        out.push(with(&["daemon-reload"], &[]));
        out.push(with(&["enable", &self.target], &[]));
        let services: Vec<String> = self.services.iter().map(|(s, _)| s.clone()).collect();
        out.push(with(
            &["restart", "--no-block"],
            &["<changed units>".into()],
        ));
        let mut start = services;
        start.push(self.target.clone());
        out.push(with(&["start", "--no-block"], &start));
        out
    }
}

/// True when systemd is PID 1 (`/run/systemd/system` exists).
#[must_use]
pub fn systemd_running() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

/// True when this host mounts the unified cgroup v2 hierarchy at `/sys/fs/cgroup` (false on
/// cgroup v1 and on hybrid v1/v2 hosts, where a user's systemd cannot delegate cgroups).
#[must_use]
pub fn cgroup_v2() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// Whether `unit` is active in `scope` (`systemctl is-active`); false when systemctl fails.
#[must_use]
pub fn unit_active(scope: Scope, unit: &str) -> bool {
    let mut cmd = scope.systemctl();
    cmd.extend([
        "is-active".to_string(),
        "--quiet".to_string(),
        unit.to_string(),
    ]);
    cmd.split_first().is_some_and(|(p, args)| {
        Command::new(p)
            .args(args)
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// Whether `user` has linger on (`loginctl enable-linger`): their systemd starts at boot and
/// keeps running after they log out.
#[must_use]
pub fn linger_enabled(user: &str) -> bool {
    Path::new("/var/lib/systemd/linger").join(user).exists()
}

/// Plans an install of `units` (pure).
#[must_use]
pub fn plan(
    units: &[UnitFile],
    scope: Scope,
    home: &Path,
    target: &str,
    systemd: bool,
) -> InstallPlan {
    let root = scope.root(home);
    let files = units
        .iter()
        .map(|u| (root.join(u.path(scope)), u.contents.clone()))
        .collect();
    let owners = units
        .iter()
        .map(|u| match u.kind {
            UnitKind::Container | UnitKind::Service | UnitKind::Config => Some(u.systemd_unit()),
            UnitKind::Network | UnitKind::Target => None,
        })
        .collect();
    let mut pulls: Vec<String> = Vec::new();
    for image in units.iter().filter_map(|u| u.pull_image.as_ref()) {
        if !pulls.contains(image) {
            pulls.push(image.clone());
        }
    }
    let services = units
        .iter()
        .filter(|u| matches!(u.kind, UnitKind::Container | UnitKind::Service))
        .map(|u| (u.systemd_unit(), u.start_secs))
        .collect();
    InstallPlan {
        scope,
        files,
        owners,
        pulls,
        services,
        target: target.to_string(),
        systemd,
    }
}

/// Runs a command to the end; its stdout, or [`InstallError::Command`].
fn run(cmd: &[String]) -> Result<String, InstallError> {
    let Some((program, args)) = cmd.split_first() else {
        return Ok(String::new());
    };
    let output = Command::new(program)
        .args(args)
        .output()
        .map_err(|source| InstallError::Io {
            context: format!("cannot run `{}`", cmd.join(" ")),
            source,
        })?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(InstallError::Command {
            command: cmd.join(" "),
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        })
    }
}

fn write(path: &Path, contents: &str) -> Result<(), InstallError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| InstallError::Io {
            context: format!("cannot create {}", dir.display()),
            source,
        })?;
    }
    crate::export::write_file_atomically(path, contents).map_err(|e| match e {
        crate::export::ExportError::Io { context, source } => InstallError::Io { context, source },
        other => InstallError::Io {
            context: other.to_string(),
            source: std::io::Error::other("write failed"),
        },
    })
}

/// How a unit is doing while [`wait_active`] watches it.
#[derive(Debug, PartialEq, Eq)]
enum UnitState {
    Active,
    Starting,
    Failed(String),
}

/// Reads `systemctl show` blocks (`Id=`, `ActiveState=`, `SubState=`, `Result=`, `Job=`). A unit
/// with a job still queued or running is starting, whatever its state (a restart passes
/// through `failed` when the old process exits with an error).
fn unit_states(show: &str) -> Vec<(String, UnitState)> {
    show.split("\n\n")
        .filter_map(|block| {
            let get = |key: &str| {
                block
                    .lines()
                    .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
                    .unwrap_or_default()
            };
            let id = get("Id");
            if id.is_empty() {
                return None;
            }
            let (active, sub, result) = (get("ActiveState"), get("SubState"), get("Result"));
            let state = match (active, sub) {
                _ if !get("Job").is_empty() => UnitState::Starting,
                ("active", _) => UnitState::Active,
                ("failed", _) | (_, "auto-restart") => {
                    UnitState::Failed(format!("{active} ({sub}, result {result})"))
                }
                ("inactive", _) if result != "success" && !result.is_empty() => {
                    UnitState::Failed(format!("{active} (result {result})"))
                }
                _ => UnitState::Starting,
            };
            Some((id.to_string(), state))
        })
        .collect()
}

/// Waits until every unit of `units` is active, at most `limit`; the first failing unit and
/// why otherwise.
fn wait_active(scope: Scope, units: &[String], limit: Duration) -> Result<(), (String, String)> {
    let deadline = Instant::now() + limit;
    let mut cmd = scope.systemctl();
    cmd.extend(
        ["show", "--property=Id,ActiveState,SubState,Result,Job"]
            .iter()
            .map(|s| (*s).to_string()),
    );
    cmd.extend(units.iter().cloned());
    loop {
        let states = match run(&cmd) {
            Ok(out) => unit_states(&out),
            Err(e) => return Err((units.join(" "), e.to_string())),
        };
        if let Some((unit, UnitState::Failed(why))) = states
            .iter()
            .find(|(_, s)| matches!(s, UnitState::Failed(_)))
        {
            return Err((unit.clone(), why.clone()));
        }
        let waiting: Vec<&String> = states
            .iter()
            .filter(|(_, s)| *s != UnitState::Active)
            .map(|(u, _)| u)
            .collect();
        if waiting.is_empty() && states.len() == units.len() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let unit = waiting
                .first()
                .map_or_else(|| units.join(" "), |u| (*u).clone());
            return Err((unit, format!("not active after {} s", limit.as_secs())));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// What [`apply`] did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Applied {
    /// Services (re)started because their unit is new or changed.
    pub started: Vec<String>,
    /// Images pulled.
    pub pulled: usize,
    /// Seconds spent pulling.
    pub pull_secs: f64,
    /// Seconds from the start jobs to every unit active.
    pub start_secs: f64,
}

/// Seconds of slack [`apply`] adds to the start allowances before it rolls back.
const START_SLACK_SECS: u64 = 20;

/// Writes the planned files and, when systemd runs, pulls, reloads, (re)starts and waits; rolls
/// back to the previous files when a unit does not become active.
///
/// # Errors
/// [`InstallError::Io`] / [`InstallError::Command`] before or while changing things;
/// [`InstallError::RolledBack`] when a unit failed and the previous state was restored.
pub fn apply(plan: &InstallPlan) -> Result<Applied, InstallError> {
    let mut applied = Applied::default();
    let old: Vec<Option<String>> = plan
        .files
        .iter()
        .map(|(p, _)| std::fs::read_to_string(p).ok())
        .collect();
    if plan.systemd {
        let t0 = Instant::now();
        for image in &plan.pulls {
            let exists = Command::new("podman")
                .args(["image", "exists", image])
                .status()
                .is_ok_and(|s| s.success());
            if !exists {
                run(&["podman".into(), "pull".into(), image.clone()])?;
                applied.pulled += 1;
            }
        }
        applied.pull_secs = t0.elapsed().as_secs_f64();
    }
    // container services whose unit text changed, and whether each existed before
    let mut changed = Vec::new();
    let mut new_units = Vec::new();
    for (((_, contents), before), owner) in plan.files.iter().zip(&old).zip(&plan.owners) {
        let Some(service) = owner.clone() else {
            continue;
        };
        match before {
            Some(b) if b == contents => {}
            // a new Caddyfile of an existing ingress unit changes that unit
            Some(_) | None if changed.contains(&service) || new_units.contains(&service) => {}
            Some(_) => changed.push(service),
            None => new_units.push(service),
        }
    }
    // a unit counted as changed through its file may be new itself: new wins
    changed.retain(|s| !new_units.contains(s));
    for (path, contents) in &plan.files {
        write(path, contents)?;
    }
    if !plan.systemd {
        return Ok(applied);
    }
    let sc = plan.scope.systemctl();
    let with = |args: &[&str], units: &[String]| {
        let mut c = sc.clone();
        c.extend(args.iter().map(|s| (*s).to_string()));
        c.extend(units.iter().cloned());
        c
    };
    run(&with(&["daemon-reload"], &[]))?;
    // the target starts the ecosystem at boot (the containers are wanted by it and by the
    // boot target already; this makes `is-active TARGET` true after a reboot too)
    run(&with(&["enable", &plan.target], &[]))?;
    if !changed.is_empty() {
        run(&with(&["restart", "--no-block"], &changed))?;
    }
    let t0 = Instant::now();
    let mut start: Vec<String> = plan.services.iter().map(|(s, _)| s.clone()).collect();
    start.push(plan.target.clone());
    run(&with(&["start", "--no-block"], &start))?;
    let allowance: u64 = plan
        .services
        .iter()
        .filter(|(s, _)| changed.contains(s) || new_units.contains(s))
        .map(|(_, secs)| *secs)
        .sum::<u64>()
        + START_SLACK_SECS;
    let Err((unit, reason)) = wait_active(plan.scope, &start, Duration::from_secs(allowance))
    else {
        applied.start_secs = t0.elapsed().as_secs_f64();
        applied.started = changed;
        applied.started.extend(new_units);
        return Ok(applied);
    };
    // roll back: stop what is new, put the previous files back, restart the previous versions
    let journal = if plan.scope == Scope::User {
        "--user ".to_string()
    } else {
        String::new()
    };
    let mut notes = Vec::new();
    if !new_units.is_empty() {
        let _ = run(&with(&["stop"], &new_units));
        notes.push(format!("stopped and removed {}", new_units.join(", ")));
    }
    let target_was_new = plan
        .files
        .iter()
        .zip(&old)
        .any(|((p, _), before)| before.is_none() && p.ends_with(&plan.target));
    if target_was_new {
        // a first install leaves nothing behind: not even the boot-time link of the target
        let _ = run(&with(&["disable", &plan.target], &[]));
    }
    for ((path, _), before) in plan.files.iter().zip(&old) {
        match before {
            Some(b) => write(path, b)?,
            None => {
                let _ = std::fs::remove_file(path);
            }
        }
    }
    run(&with(&["daemon-reload"], &[]))?;
    if !changed.is_empty() {
        run(&with(&["restart", "--no-block"], &changed))?;
        let back = match wait_active(
            plan.scope,
            &changed,
            Duration::from_secs(
                plan.services
                    .iter()
                    .filter(|(s, _)| changed.contains(s))
                    .map(|(_, secs)| *secs)
                    .sum::<u64>()
                    + START_SLACK_SECS,
            ),
        ) {
            Ok(()) => "running again".to_string(),
            Err((u, why)) => format!("but {u} is {why}"),
        };
        notes.push(format!(
            "the previous {} restored, {back}",
            changed.join(", ")
        ));
    }
    Err(InstallError::RolledBack {
        unit,
        reason,
        restored: notes.join("; "),
        journal,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(kind: UnitKind, name: &str) -> UnitFile {
        UnitFile {
            kind,
            name: name.into(),
            contents: "x".into(),
            pull_image: (kind == UnitKind::Container).then(|| "reg:5000/a@sha256:00".into()),
            start_secs: 7,
        }
    }

    #[test]
    fn user_plan_paths_and_commands() {
        let units = vec![
            file(UnitKind::Container, "e-a.container"),
            file(UnitKind::Container, "e-b.container"),
            file(UnitKind::Target, "e.target"),
        ];
        let p = plan(&units, Scope::User, Path::new("/home/u"), "e.target", true);
        assert_eq!(
            p.files[0].0,
            PathBuf::from("/home/u/.config/containers/systemd/e-a.container")
        );
        assert_eq!(
            p.files[2].0,
            PathBuf::from("/home/u/.config/systemd/user/e.target")
        );
        assert_eq!(p.pulls, ["reg:5000/a@sha256:00"]);
        assert_eq!(
            p.services,
            [
                ("e-a.service".to_string(), 7),
                ("e-b.service".to_string(), 7)
            ]
        );
        let cmds = p.commands();
        assert_eq!(cmds[0], ["podman", "pull", "reg:5000/a@sha256:00"]);
        assert_eq!(
            cmds.last().unwrap(),
            &[
                "systemctl",
                "--user",
                "start",
                "--no-block",
                "e-a.service",
                "e-b.service",
                "e.target"
            ]
        );
        let s = plan(&units, Scope::System, Path::new("/root"), "e.target", false);
        assert!(s.commands().is_empty() && s.skipped_commands().is_some());
        assert_eq!(
            s.files[0].0,
            PathBuf::from("/etc/containers/systemd/e-a.container")
        );
        assert_eq!(s.files[2].0, PathBuf::from("/etc/systemd/system/e.target"));
    }

    #[test]
    fn reads_unit_states() {
        let show = "Id=a.service\nActiveState=active\nSubState=running\nResult=success\n\n\
                    Id=b.service\nActiveState=activating\nSubState=start\nResult=success\n\n\
                    Id=c.service\nActiveState=activating\nSubState=auto-restart\nResult=exit-code\n\n\
                    Id=d.service\nActiveState=failed\nSubState=failed\nResult=timeout\n\n\
                    Id=e.service\nActiveState=failed\nSubState=failed\nResult=exit-code\nJob=51\n";
        let s = unit_states(show);
        assert_eq!(s[0], ("a.service".into(), UnitState::Active));
        assert_eq!(s[1], ("b.service".into(), UnitState::Starting));
        assert!(matches!(&s[2].1, UnitState::Failed(w) if w.contains("auto-restart")));
        assert!(matches!(&s[3].1, UnitState::Failed(w) if w.contains("timeout")));
        assert_eq!(s[4], ("e.service".into(), UnitState::Starting));
    }
}
