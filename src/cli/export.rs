//! `pactown export quadlet|compose|kube`: deployment files for an ecosystem. Images are named by
//! the tags the build would give them (`pactown/<runtime>-<service>:<digest>`), computed from the
//! READMEs without building; `--image SERVICE=REF` overrides one.
use crate::error::{Error, RequestError};
use crate::export::{self, ImageMap};
use crate::project::Project;
use crate::quadlet::{self, PodmanVersion, QuadletOptions};
use crate::ui::Printer;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `pactown export`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The format to export.
    #[command(subcommand)]
    pub format: Format,
}

/// Export formats.
#[derive(Debug, clap::Subcommand)]
pub enum Format {
    /// Podman Quadlet units (one `.network`, one `.container` per service/replica, a `.target`),
    /// in the layout of their install locations.
    Quadlet(QuadletArgs),
    /// A Compose file.
    Compose(FileArgs),
    /// Kubernetes Deployments, Services and ConfigMaps.
    Kube(KubeArgs),
}

/// Inputs shared by every format.
#[derive(Debug, clap::Args)]
pub struct Common {
    /// The ecosystem file (default: `-f`/`PACTOWN_FILE`, else the only `*.pactown.yaml` in the
    /// current folder).
    pub file: Option<PathBuf>,
    /// Use this image for a service instead of its build tag (repeatable): `SERVICE=REF`.
    #[arg(long = "image", value_name = "SERVICE=REF")]
    pub images: Vec<String>,
    /// Use the images a `build --push --metadata-file FILE` pushed: each service as
    /// `REGISTRY/…@sha256:…` (pulled by digest; `--image` still overrides one).
    #[arg(long = "images", value_name = "FILE")]
    pub images_file: Option<PathBuf>,
    /// CA bundle the images are built with (it is part of the build context, hence of the tag).
    #[arg(long, env = "PACTOWN_CA_BUNDLE")]
    pub ca_bundle: Option<PathBuf>,
}

/// Arguments of `pactown export quadlet`.
#[derive(Debug, clap::Args)]
pub struct QuadletArgs {
    /// Shared inputs.
    #[command(flatten)]
    pub common: Common,
    /// Folder to write the units to (replaced as a whole, never left half-written), laid out like
    /// the install root: `containers/systemd/` (Quadlet files) and `systemd/user/` or
    /// `systemd/system/` (the target), so `cp -r DIR/. ~/.config/` (or `/etc/`) installs it.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Units for a user's rootless systemd (`WantedBy=default.target`, the default).
    #[arg(long, conflicts_with = "system")]
    pub user: bool,
    /// Units for the system instance (`WantedBy=multi-user.target`).
    #[arg(long)]
    pub system: bool,
    /// Podman version on the deployment host; keys it lacks are rewritten or dropped.
    #[arg(long, default_value_t = PodmanVersion::DEFAULT)]
    pub podman_version: PodmanVersion,
    /// The deployment host runs cgroup v1 or hybrid v1/v2 (no `/sys/fs/cgroup/cgroup.controllers`):
    /// rootless containers run with `--cgroups=disabled` (resource limits are not enforced).
    #[arg(long)]
    pub cgroup_v1: bool,
    /// With `--images`: name each image by its first `--tag` (e.g. `latest`) instead of its
    /// digest and add `AutoUpdate=registry`, so `podman auto-update` follows the tag.
    #[arg(long)]
    pub auto_update: bool,
}

/// `WantedBy=` of the units: `default.target` for a user, `multi-user.target` for the system.
pub(crate) fn wanted_by(scope: quadlet::Scope) -> &'static str {
    match scope {
        quadlet::Scope::User => "default.target",
        quadlet::Scope::System => "multi-user.target",
    }
}

/// Arguments of `pactown export compose|kube`.
#[derive(Debug, clap::Args)]
pub struct FileArgs {
    /// Shared inputs.
    #[command(flatten)]
    pub common: Common,
    /// File to write (default: stdout).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

/// Arguments of `pactown export kube`.
#[derive(Debug, clap::Args)]
pub struct KubeArgs {
    /// Shared inputs and output.
    #[command(flatten)]
    pub file: FileArgs,
    /// For `podman kube play` on Podman before 4.6 (e.g. Debian 12's 4.3): pods get
    /// `restartPolicy: OnFailure`, so the init container that copies `/app` is not restarted
    /// (containers/podman#15631). Not for Kubernetes, whose Deployments require `Always`.
    #[arg(long)]
    pub podman_play: bool,
}

/// Loads the project named on the command line.
pub(crate) fn load(file: Option<&Path>, globals: &super::Globals) -> Result<Project, Error> {
    let file = globals.resolved_file(file)?;
    let mut project = crate::project::load(&file)?;
    globals.rename(&mut project.ecosystem)?;
    Ok(project)
}

/// The CA bundle bytes: the flag / `PACTOWN_CA_BUNDLE`, else the file's `build.ca_bundle`.
pub(crate) fn ca_bytes(project: &Project, flag: Option<&Path>) -> Result<Option<Vec<u8>>, Error> {
    let path = flag.or(project.ecosystem.build.ca_bundle.as_deref());
    match path {
        Some(p) => crate::input::read_capped(p, crate::input::MAX_CA_BUNDLE_BYTES)
            .map(Some)
            .map_err(|e| Error::io(format!("cannot read CA bundle {}", p.display()), e)),
        None => Ok(None),
    }
}

/// Each service's image from a metadata file (`build --push --metadata-file`): the digest
/// reference, or with `by_tag` the first tag given with `--tag` (else the content tag).
pub(crate) fn pushed_images(
    project: &Project,
    path: &Path,
    by_tag: bool,
) -> Result<ImageMap, Error> {
    let meta = crate::image::push::read_metadata(path)?;
    let mut images = ImageMap::new();
    for svc in &project.ecosystem.services {
        let Some(p) = meta.services.get(&svc.name) else {
            return Err(RequestError::NoPushedImage {
                images_file: path.to_path_buf(),
                service: svc.name.clone(),
                ecosystem: meta.ecosystem.clone(),
                ecosystem_file: project.ecosystem.file.clone(),
            }
            .into());
        };
        let image = if by_tag {
            let repository = crate::engine::push::split_reference(&p.image).0;
            let tag = p
                .tags
                .get(1)
                .or(p.tags.first())
                .cloned()
                .unwrap_or_default();
            format!("{repository}:{tag}")
        } else {
            p.reference.clone()
        };
        // pushed by pactown (the metadata file says so), whatever the registry name
        images.insert_built(svc.name.clone(), image);
    }
    Ok(images)
}

/// Each service's image: its build tag (from [`crate::image::prepare`], no build runs) unless
/// `--image` names one.
pub(crate) fn planned_images(
    project: &Project,
    ca: Option<&[u8]>,
    overrides: &[String],
) -> Result<ImageMap, Error> {
    planned_images_from(project, ca, overrides, ImageMap::new())
}

/// [`planned_images`] over a starting map (e.g. [`pushed_images`]): `--image` overrides win,
/// services still missing get their build tag.
pub(crate) fn planned_images_from(
    project: &Project,
    ca: Option<&[u8]>,
    overrides: &[String],
    mut images: ImageMap,
) -> Result<ImageMap, Error> {
    for o in overrides {
        let Some((svc, image)) = o.split_once('=') else {
            return Err(RequestError::ImageOverride(o.clone()).into());
        };
        if project.ecosystem.service(svc).is_none() {
            return Err(RequestError::ImageOverrideService {
                arg: o.clone(),
                service: svc.to_string(),
                file: project.ecosystem.file.clone(),
            }
            .into());
        }
        images.insert(svc.to_string(), image.to_string());
    }
    for svc in &project.ecosystem.services {
        if images.contains_key(&svc.name) {
            continue;
        }
        let Some(doc) = project.docs.get(&svc.name) else {
            return Err(RequestError::UnpulledReadme(svc.name.clone()).into());
        };
        let prepared = crate::image::prepare(doc, &svc.name, ca)?;
        images.insert(svc.name.clone(), prepared.tag);
    }
    Ok(images)
}

/// Runs `pactown export`.
pub fn run(args: Args, globals: &super::Globals, printer: &Printer) -> Result<ExitCode, Error> {
    match args.format {
        Format::Quadlet(a) => {
            let project = load(a.common.file.as_deref(), globals)?;
            let ca = ca_bytes(&project, a.common.ca_bundle.as_deref())?;
            if a.auto_update && a.common.images_file.is_none() {
                return Err(RequestError::AutoUpdateNeedsImages.into());
            }
            let base = match &a.common.images_file {
                Some(f) => pushed_images(&project, f, a.auto_update)?,
                None => ImageMap::new(),
            };
            let images = planned_images_from(&project, ca.as_deref(), &a.common.images, base)?;
            let scope = if a.system {
                quadlet::Scope::System
            } else {
                quadlet::Scope::User
            };
            let opts = QuadletOptions {
                podman_version: a.podman_version,
                wanted_by: wanted_by(scope).into(),
                rootless_cgroup_v1: a.cgroup_v1 && scope == quadlet::Scope::User,
                auto_update: a.auto_update,
                system: scope == quadlet::Scope::System,
                ..QuadletOptions::default()
            };
            let units = quadlet::to_units(&project.ecosystem, &images, &opts)?;
            let files: Vec<export::GeneratedFile> =
                units.iter().map(|u| u.exported(scope)).collect();
            export::write_atomically(&a.output, &files)?;
            for f in &files {
                printer.info(&format!("wrote {}", a.output.join(&f.name).display()));
            }
            let root = match scope {
                quadlet::Scope::User => "~/.config/",
                quadlet::Scope::System => "/etc/",
            };
            printer.info(&format!(
                "install: copy {}/. onto {root} on the host, then `systemctl{} daemon-reload && systemctl{} start {}`",
                a.output.display(),
                if scope == quadlet::Scope::User { " --user" } else { "" },
                if scope == quadlet::Scope::User { " --user" } else { "" },
                quadlet::target_name(&project.ecosystem)
            ));
            if crate::ingress::wanted(&project.ecosystem) {
                printer.info(&format!(
                    "ingress: {} runs the host's Caddy (`apt-get install caddy`, then `systemctl disable --now caddy`: pactown runs its own instance)",
                    quadlet::ingress_unit_name(&project.ecosystem)
                ));
            }
            Ok(ExitCode::SUCCESS)
        }
        Format::Compose(a) => {
            if write_one(a, globals, printer, &export::compose::render)? {
                printer.info("ingress: the proxy's image (pactown/ingress-ECO:HASH, named in the file) is made by `pactown build` on the Compose host; it is not pushed");
            }
            Ok(ExitCode::SUCCESS)
        }
        Format::Kube(a) => {
            let opts = export::kube::KubeOptions {
                podman_play: a.podman_play,
            };
            let ingress = write_one(a.file, globals, printer, &|eco, images| {
                export::kube::render_with(eco, images, &opts)
            })?;
            if ingress {
                printer.warn("`ingress:` is not part of this export: only `up` and the Quadlet and Compose exports run the proxy so far; the exposed services keep their 127.0.0.1 ports");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Writes one export file; returns whether the ecosystem has a proxy (`ingress:` with exposed
/// services).
fn write_one(
    a: FileArgs,
    globals: &super::Globals,
    printer: &Printer,
    render: &dyn Fn(&crate::config::Ecosystem, &ImageMap) -> Result<String, export::ExportError>,
) -> Result<bool, Error> {
    let project = load(a.common.file.as_deref(), globals)?;
    let ca = ca_bytes(&project, a.common.ca_bundle.as_deref())?;
    let base = match &a.common.images_file {
        Some(f) => pushed_images(&project, f, false)?,
        None => ImageMap::new(),
    };
    let images = planned_images_from(&project, ca.as_deref(), &a.common.images, base)?;
    let text = render(&project.ecosystem, &images)?;
    match &a.output {
        Some(path) => {
            export::write_file_atomically(path, &text)?;
            printer.info(&format!("wrote {}", path.display()));
        }
        None => printer.out(text.trim_end_matches('\n')),
    }
    Ok(crate::ingress::wanted(&project.ecosystem))
}
