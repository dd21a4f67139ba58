//! `pactown ingress ca`: the root certificate of the ingress's local CA (`tls: internal`), for
//! clients to trust (`curl --cacert`, a browser's or system's trust store).
use crate::config::ingress::{TlsMode, INGRESS_SERVICE};
use crate::error::{Error, RequestError};
use crate::quadlet::Scope;
use crate::ui::Printer;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `pactown ingress`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub action: Action,
}

/// `pactown ingress` actions.
#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Print the root certificate (PEM) of the ingress's local CA (`tls: internal`).
    Ca(CaArgs),
}

/// Arguments of `pactown ingress ca`.
#[derive(Debug, clap::Args)]
pub struct CaArgs {
    /// The ecosystem file (default: `-f`/`PACTOWN_FILE`, else the only `*.pactown.yaml` in the
    /// current folder).
    pub file: Option<PathBuf>,
    /// The ingress of rootless units (`quadlet install --user`, the default).
    #[arg(long, conflicts_with = "system")]
    pub user: bool,
    /// The ingress of system units (`quadlet install --system`; reading it needs root).
    #[arg(long)]
    pub system: bool,
    /// Write the certificate to FILE instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The engine of `pactown up`'s ingress container. Without `--user`/`--system` that
    /// container is looked for first (on `PACTOWN_ENGINE` or the first engine that answers),
    /// then the rootless units' CA.
    #[arg(long, env = "PACTOWN_ENGINE", value_enum, conflicts_with_all = ["user", "system"])]
    pub engine: Option<crate::config::EngineChoice>,
}

/// The root certificate in `pactown up`'s ingress container of `eco`: `Ok(None)` when there is no
/// such container (or, without an explicit `--engine`, no engine answers).
async fn from_container(
    eco: &crate::config::Ecosystem,
    choice: Option<crate::config::EngineChoice>,
) -> Result<Option<(String, String)>, Error> {
    let engine = match crate::deploy::connect(choice, Some(eco)).await {
        Ok(e) => e,
        Err(e) if choice.is_some() => return Err(e.into()),
        Err(_) => return Ok(None),
    };
    let filter = crate::deploy::ingress::label_filter(&eco.name);
    let Some(c) = engine.list_containers(&filter).await?.into_iter().next() else {
        return Ok(None);
    };
    let path = format!(
        "{}/{}",
        crate::deploy::ingress::DATA_DIR,
        crate::ingress::LOCAL_CA_ROOT
    );
    let out = engine
        .exec(
            &c.id,
            &["cat".to_string(), path.clone()],
            std::time::Duration::from_secs(10),
        )
        .await?;
    let source = format!("{path} in container {}", c.name);
    if out.exit_code != Some(0) {
        return Err(RequestError::ContainerCaMissing {
            at: source,
            message: out.output.trim().to_string(),
        }
        .into());
    }
    Ok(Some((out.output, source)))
}

/// Largest root certificate read (Caddy's is about 700 bytes).
const MAX_PEM: u64 = 64 * 1024;

/// Caddy's data folder of the ingress of `eco` in `scope`: systemd's state folder
/// (`/var/lib` for the system, `$XDG_STATE_HOME` or `~/.local/state` for a user) plus
/// [`crate::quadlet::ingress_state_dir`].
fn data_home(eco: &crate::config::Ecosystem, scope: Scope) -> Result<PathBuf, Error> {
    let state = match scope {
        Scope::System => PathBuf::from("/var/lib"),
        Scope::User => match std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
            Some(d) => PathBuf::from(d),
            None => std::env::var_os("HOME")
                .map(|h| Path::new(&h).join(".local/state"))
                .ok_or(RequestError::NoStateHome)?,
        },
    };
    Ok(state.join(crate::quadlet::ingress_state_dir(eco)))
}

/// Runs `pactown ingress`.
///
/// # Errors
/// An invalid ecosystem file, an ecosystem without `tls: internal`, a missing or unreadable CA.
pub async fn run(
    args: Args,
    globals: &super::Globals,
    printer: &Printer,
) -> Result<ExitCode, Error> {
    let Action::Ca(a) = args.action;
    let file = globals.resolved_file(a.file.as_deref())?;
    let eco = globals.ecosystem(&file)?;
    let Some(ing) = &eco.ingress else {
        return Err(RequestError::NoIngress(file).into());
    };
    if ing.tls != TlsMode::Internal {
        return Err(RequestError::NoLocalCa {
            ecosystem: eco.name.clone(),
            tls: ing.tls.to_string(),
            why: if ing.tls == TlsMode::Acme {
                "its certificates come from a public ACME CA that clients already trust"
            } else {
                "it serves plain HTTP"
            },
        }
        .into());
    }
    if !a.user && !a.system {
        if let Some((text, source)) = from_container(&eco, a.engine).await? {
            let unit = crate::deploy::container_name(&eco.name, INGRESS_SERVICE, 1);
            return write_pem(text.trim(), &source, a.output.as_deref(), printer, || {
                RequestError::LocalCaNotPem {
                    path: PathBuf::from(&source),
                    unit,
                }
                .into()
            });
        }
        if a.engine.is_some() {
            return Err(RequestError::NoIngressContainer(eco.name.clone()).into());
        }
    }
    let scope = if a.system { Scope::System } else { Scope::User };
    let path = crate::ingress::local_ca_path(&data_home(&eco, scope)?);
    let unit = crate::quadlet::ingress_unit_name(&eco);
    let systemctl = if scope == Scope::User {
        "systemctl --user"
    } else {
        "systemctl"
    };
    let text = match read_bounded(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(RequestError::LocalCaMissing {
                path,
                unit,
                systemctl,
                hint: if scope == Scope::User {
                    "; for system units pass --system"
                } else {
                    ""
                },
            }
            .into());
        }
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            return Err(RequestError::LocalCaRootOnly(path).into());
        }
        Err(source) => {
            return Err(Error::Io {
                context: format!("cannot read {}", path.display()),
                source,
            })
        }
    };
    let source = path.display().to_string();
    write_pem(text.trim(), &source, a.output.as_deref(), printer, || {
        RequestError::LocalCaNotPem { path, unit }.into()
    })
}

/// Prints `pem` (or writes it to `output`); `not_pem` is the error when it is not one PEM
/// certificate.
fn write_pem(
    pem: &str,
    source: &str,
    output: Option<&Path>,
    printer: &Printer,
    not_pem: impl FnOnce() -> Error,
) -> Result<ExitCode, Error> {
    if !(pem.starts_with("-----BEGIN CERTIFICATE-----")
        && pem.ends_with("-----END CERTIFICATE-----"))
    {
        return Err(not_pem());
    }
    match output {
        Some(out) => {
            crate::export::write_file_atomically(out, &format!("{pem}\n"))?;
            printer.info(&format!("wrote {} (from {source})", out.display()));
        }
        None => printer.out(pem),
    }
    Ok(ExitCode::SUCCESS)
}

fn read_bounded(path: &Path) -> std::io::Result<String> {
    use std::io::Read as _;
    let f = std::fs::File::open(path)?;
    let mut text = String::new();
    f.take(MAX_PEM).read_to_string(&mut text)?;
    Ok(text)
}
