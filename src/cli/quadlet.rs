//! `pactown quadlet install`: build the images in Podman, write the units where systemd's
//! Quadlet generator finds them, reload systemd and start the ecosystem's target.
use super::export::{ca_bytes, load, planned_images};
use crate::config::EngineChoice;
use crate::error::{Error, RequestError};
use crate::image::{BuildEvent, BuildOptions};
use crate::quadlet::install::{self, Scope};
use crate::quadlet::{self, PodmanVersion, QuadletOptions};
use crate::ui::Printer;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `pactown quadlet`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub action: Action,
}

/// `pactown quadlet` actions.
#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Build the images, install the units and start the ecosystem under systemd.
    Install(InstallArgs),
}

/// Arguments of `pactown quadlet install`.
#[derive(Debug, clap::Args)]
pub struct InstallArgs {
    /// The ecosystem file (default: `-f`/`PACTOWN_FILE`, else the only `*.pactown.yaml` in the
    /// current folder).
    pub file: Option<PathBuf>,
    /// Rootless units in ~/.config/containers/systemd (the default).
    #[arg(long, conflicts_with = "system")]
    pub user: bool,
    /// System units in /etc/containers/systemd.
    #[arg(long)]
    pub system: bool,
    /// Use this image for a service instead of building it (repeatable): `SERVICE=REF`. A
    /// reference naming a registry (`reg.example/acme/api@sha256:…`) is pulled when missing;
    /// when every service has one, nothing is built and no Podman API is needed.
    #[arg(long = "image", value_name = "SERVICE=REF")]
    pub images: Vec<String>,
    /// Print what would be built, written and run; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Podman version on this host (default: what `podman --version` says); keys it lacks are
    /// rewritten or dropped.
    #[arg(long)]
    pub podman_version: Option<PodmanVersion>,
    /// CA bundle for builds.
    #[arg(long, env = "PACTOWN_CA_BUNDLE")]
    pub ca_bundle: Option<PathBuf>,
}

/// The local Podman's version from `podman --version` (`podman version 5.4.2`).
fn local_podman_version() -> Option<PodmanVersion> {
    let out = std::process::Command::new("podman")
        .arg("--version")
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .last()?
        .parse()
        .ok()
}

/// Runs `pactown quadlet`.
pub async fn run(
    args: Args,
    globals: &super::Globals,
    printer: &Printer,
) -> Result<ExitCode, Error> {
    let Action::Install(a) = args.action;
    let project = load(a.file.as_deref(), globals)?;
    let scope = if a.system { Scope::System } else { Scope::User };
    let ca = ca_bytes(&project, a.ca_bundle.as_deref())?;
    let mut images = planned_images(&project, ca.as_deref(), &a.images)?;
    let given: Vec<String> = a
        .images
        .iter()
        .filter_map(|o| o.split_once('=').map(|(s, _)| s.to_string()))
        .collect();
    let to_build: Vec<String> = project
        .ecosystem
        .services
        .iter()
        .map(|s| s.name.clone())
        .filter(|s| !given.contains(s))
        .collect();
    if a.dry_run {
        for svc in &to_build {
            if let Some(tag) = images.get(svc) {
                printer.out(&format!("would build {svc} as {tag} (in Podman)"));
            }
        }
    } else if !to_build.is_empty() {
        // Quadlet runs Podman, so built images must be in Podman's store.
        let engine = crate::deploy::connect(Some(EngineChoice::Podman), None).await?;
        let opts = BuildOptions {
            ca_bundle: a
                .ca_bundle
                .clone()
                .or_else(|| project.ecosystem.build.ca_bundle.clone()),
            ..BuildOptions::default()
        };
        let events = |e: BuildEvent| {
            if let BuildEvent::Started { service, tag } = e {
                printer.info(&format!("building {service} → {tag}"));
            }
        };
        let built = crate::image::build_services(
            engine.as_ref(),
            &project.ecosystem,
            &project.docs,
            &to_build,
            &opts,
            &events,
        )
        .await?;
        for b in built {
            images.insert(b.service, b.tag);
        }
    }
    let podman_version = a
        .podman_version
        .or_else(local_podman_version)
        .unwrap_or(PodmanVersion::DEFAULT);
    let systemd = install::systemd_running();
    // rootless on cgroup v1: the user's systemd cannot delegate, so Quadlet's --cgroups=split
    // fails; run the containers without cgroups of their own instead
    let rootless_cgroup_v1 = scope == Scope::User && systemd && !install::cgroup_v2();
    if rootless_cgroup_v1 {
        printer.warn("this host runs cgroup v1 (or hybrid v1/v2): rootless containers run with --cgroups=disabled, so memory, PID and CPU limits are not enforced (boot with systemd.unified_cgroup_hierarchy=1 for cgroup v2 to have them)");
    }
    let opts = QuadletOptions {
        podman_version,
        // images built through Podman's Docker-compatible API are stored under docker.io/
        image_prefix: "docker.io".into(),
        wanted_by: super::export::wanted_by(scope).into(),
        rootless_cgroup_v1,
        system: scope == Scope::System,
        ..QuadletOptions::default()
    };
    if crate::ingress::wanted(&project.ecosystem) {
        check_ingress_host(
            &project.ecosystem,
            scope,
            &opts.caddy,
            systemd,
            a.dry_run,
            printer,
        )?;
    }
    let units = quadlet::to_units(&project.ecosystem, &images, &opts)?;
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .ok_or(RequestError::NoHome)?;
    if scope == Scope::User && systemd {
        if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
            return Err(RequestError::NoXdgRuntimeDir.into());
        }
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_default();
        if !user.is_empty() && !install::linger_enabled(&user) {
            printer.warn(&format!(
                "linger is off for `{user}`: these units stop when you log out and do not start at boot; run `sudo loginctl enable-linger {user}`"
            ));
        }
    }
    let plan = install::plan(
        &units,
        scope,
        &home,
        &quadlet::target_name(&project.ecosystem),
        systemd,
    );
    let verb = if a.dry_run { "would write" } else { "writing" };
    for (path, _) in &plan.files {
        printer.out(&format!("{verb} {}", path.display()));
    }
    let verb = if a.dry_run { "would run" } else { "running" };
    for cmd in plan.commands() {
        printer.out(&format!("{verb} {}", cmd.join(" ")));
    }
    if let Some(why) = plan.skipped_commands() {
        printer.warn(why);
    }
    if !a.dry_run {
        let done = install::apply(&plan)?;
        if systemd {
            let n = plan.services.len();
            printer.info(&format!(
                "{} is active: {n} service{} healthy; pulled {} image{} in {:.1} s, started in {:.1} s{}",
                plan.target,
                if n == 1 { "" } else { "s" },
                done.pulled,
                if done.pulled == 1 { "" } else { "s" },
                done.pull_secs,
                done.start_secs,
                if done.started.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", done.started.join(", "))
                }
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Before an install with `ingress:`: the host's Caddy must exist (Debian's package), its own
/// `caddy.service` must not hold the ports, and a rootless ingress may bind ports below 1024
/// only when the host lets unprivileged users do so.
fn check_ingress_host(
    eco: &crate::config::Ecosystem,
    scope: Scope,
    caddy: &str,
    systemd: bool,
    dry_run: bool,
    printer: &Printer,
) -> Result<(), Error> {
    let Some(ing) = &eco.ingress else {
        return Ok(());
    };
    if !std::path::Path::new(caddy).is_file() {
        let refusal = crate::error::RequestError::NoCaddy(caddy.to_string());
        if dry_run || !systemd {
            printer.warn(&refusal.to_string());
        } else {
            return Err(refusal.into());
        }
    }
    if systemd && install::unit_active(Scope::System, "caddy.service") {
        printer.warn("Debian's own caddy.service is running and may hold ports 80/443: `sudo systemctl disable --now caddy` (pactown runs its own instance per ecosystem)");
    }
    if scope == Scope::User {
        let lowest = std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
            .ok()
            .and_then(|t| t.trim().parse::<u16>().ok())
            .unwrap_or(1024);
        let low = ing.http_port.min(ing.https_port);
        if low < lowest {
            let refusal = crate::error::RequestError::PrivilegedPort { port: low, lowest };
            if dry_run || !systemd {
                printer.warn(&refusal.to_string());
            } else {
                return Err(refusal.into());
            }
        }
    }
    Ok(())
}
