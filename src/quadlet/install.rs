//! `pactown quadlet install`: where the units go and which `systemctl` calls follow.
//!
//! [`plan`] is pure (paths and commands for a scope and home folder); [`apply`] writes the files
//! (each through a temporary file and a rename) and runs the commands.
use super::{UnitFile, UnitKind};
use crate::export::ExportError;
use std::path::{Path, PathBuf};

/// Rootless (per user) or system-wide units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `~/.config/containers/systemd/` and `systemctl --user`.
    User,
    /// `/etc/containers/systemd/` and `systemctl`.
    System,
}

/// What `install` will do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallPlan {
    /// Files and where each goes.
    pub files: Vec<(PathBuf, String)>,
    /// Commands to run afterwards (empty when systemd is not running).
    pub commands: Vec<Vec<String>>,
    /// Why no commands are planned, if so.
    pub skipped_commands: Option<String>,
}

/// True when systemd is PID 1 (`/run/systemd/system` exists).
#[must_use]
pub fn systemd_running() -> bool {
    Path::new("/run/systemd/system").is_dir()
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
    let (quadlet_dir, systemd_dir) = match scope {
        Scope::User => (
            home.join(".config/containers/systemd"),
            home.join(".config/systemd/user"),
        ),
        Scope::System => (
            PathBuf::from("/etc/containers/systemd"),
            PathBuf::from("/etc/systemd/system"),
        ),
    };
    let files = units
        .iter()
        .map(|u| {
            let dir = match u.kind {
                UnitKind::Target => &systemd_dir,
                UnitKind::Container | UnitKind::Network => &quadlet_dir,
            };
            (dir.join(&u.name), u.contents.clone())
        })
        .collect();
    let systemctl = |args: &[&str]| {
        let mut cmd = vec!["systemctl".to_string()];
        if scope == Scope::User {
            cmd.push("--user".into());
        }
        cmd.extend(args.iter().map(|s| (*s).to_string()));
        cmd
    };
    let (commands, skipped_commands) = if systemd {
        (
            vec![systemctl(&["daemon-reload"]), systemctl(&["start", target])],
            None,
        )
    } else {
        (
            Vec::new(),
            Some("systemd is not running here (no /run/systemd/system): run `systemctl daemon-reload` and start the target on the deployment host".into()),
        )
    };
    InstallPlan {
        files,
        commands,
        skipped_commands,
    }
}

/// Writes the planned files and runs the planned commands, stopping at the first failure.
///
/// # Errors
/// [`ExportError::Io`] for a file that cannot be written or a command that fails.
pub fn apply(plan: &InstallPlan) -> Result<(), ExportError> {
    for (path, contents) in &plan.files {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| ExportError::Io {
                context: format!("cannot create {}", dir.display()),
                source,
            })?;
        }
        crate::export::write_file_atomically(path, contents)?;
    }
    for cmd in &plan.commands {
        let Some((program, args)) = cmd.split_first() else {
            continue;
        };
        let output = std::process::Command::new(program)
            .args(args)
            .output()
            .map_err(|source| ExportError::Io {
                context: format!("cannot run `{}`", cmd.join(" ")),
                source,
            })?;
        if !output.status.success() {
            return Err(ExportError::Io {
                context: format!(
                    "`{}` failed ({}): {}",
                    cmd.join(" "),
                    output.status,
                    String::from_utf8_lossy(&output.stderr).trim()
                ),
                source: std::io::Error::other("command failed"),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_plan_paths_and_commands() {
        let units = vec![
            UnitFile {
                kind: UnitKind::Container,
                name: "e-a.container".into(),
                contents: "x".into(),
            },
            UnitFile {
                kind: UnitKind::Target,
                name: "e.target".into(),
                contents: "y".into(),
            },
        ];
        let p = plan(&units, Scope::User, Path::new("/home/u"), "e.target", true);
        assert_eq!(
            p.files[0].0,
            PathBuf::from("/home/u/.config/containers/systemd/e-a.container")
        );
        assert_eq!(
            p.files[1].0,
            PathBuf::from("/home/u/.config/systemd/user/e.target")
        );
        assert_eq!(p.commands[1], ["systemctl", "--user", "start", "e.target"]);
        let s = plan(&units, Scope::System, Path::new("/root"), "e.target", false);
        assert!(s.commands.is_empty() && s.skipped_commands.is_some());
        assert_eq!(
            s.files[0].0,
            PathBuf::from("/etc/containers/systemd/e-a.container")
        );
    }
}
