//! `pactown quadlet install`: build the images in Podman, write the units where systemd's
//! Quadlet generator finds them, reload systemd and start the ecosystem's target.
use super::export::{ca_bytes, load, planned_images};
use crate::build::{BuildEvent, BuildOptions};
use crate::config::EngineChoice;
use crate::error::Error;
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
    /// The ecosystem file (default: the only `*.pactown.yaml` in the current folder).
    #[arg(env = "PACTOWN_FILE")]
    pub file: Option<PathBuf>,
    /// Rootless units in ~/.config/containers/systemd (the default).
    #[arg(long, conflicts_with = "system")]
    pub user: bool,
    /// System units in /etc/containers/systemd.
    #[arg(long)]
    pub system: bool,
    /// Print what would be built, written and run; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Podman version on this host; keys it lacks are rewritten or dropped.
    #[arg(long, default_value_t = PodmanVersion::DEFAULT)]
    pub podman_version: PodmanVersion,
    /// CA bundle for builds.
    #[arg(long, env = "PACTOWN_CA_BUNDLE")]
    pub ca_bundle: Option<PathBuf>,
}

/// Runs `pactown quadlet`.
pub async fn run(args: Args, printer: &Printer) -> Result<ExitCode, Error> {
    let Action::Install(a) = args.action;
    let project = load(a.file.as_deref())?;
    let scope = if a.system { Scope::System } else { Scope::User };
    let ca = ca_bytes(&project, a.ca_bundle.as_deref())?;
    let mut images = planned_images(&project, ca.as_deref(), &[])?;
    if a.dry_run {
        for (svc, tag) in &images {
            printer.out(&format!("would build {svc} as {tag} (in Podman)"));
        }
    } else {
        // Quadlet runs Podman, so the images must be in Podman's store.
        let engine = crate::engine::connect::connect(EngineChoice::Podman).await?;
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
        let built = crate::build::build_services(
            engine.as_ref(),
            &project.ecosystem,
            &project.docs,
            &[],
            &opts,
            &events,
        )
        .await?;
        images = built.into_iter().map(|b| (b.service, b.tag)).collect();
    }
    let opts = QuadletOptions {
        podman_version: a.podman_version,
        // images built through Podman's Docker-compatible API are stored under docker.io/
        image_prefix: "docker.io".into(),
        wanted_by: match scope {
            Scope::User => "default.target".into(),
            Scope::System => "multi-user.target".into(),
        },
        ..QuadletOptions::default()
    };
    let units = quadlet::to_units(&project.ecosystem, &images, &opts)?;
    let home = std::env::var_os("HOME").map(PathBuf::from).ok_or_else(|| {
        Error::Other("HOME is not set; cannot find the user's unit folder".into())
    })?;
    let plan = install::plan(
        &units,
        scope,
        &home,
        &quadlet::target_name(&project.ecosystem),
        install::systemd_running(),
    );
    let verb = if a.dry_run { "would write" } else { "writing" };
    for (path, _) in &plan.files {
        printer.out(&format!("{verb} {}", path.display()));
    }
    let verb = if a.dry_run { "would run" } else { "running" };
    for cmd in &plan.commands {
        printer.out(&format!("{verb} {}", cmd.join(" ")));
    }
    if let Some(why) = &plan.skipped_commands {
        printer.warn(why);
    }
    if !a.dry_run {
        install::apply(&plan)?;
    }
    Ok(ExitCode::SUCCESS)
}
