//! `pactown ingress ca`: the root certificate of the ingress's local CA (`tls: internal`), for
//! clients to trust (`curl --cacert`, a browser's or system's trust store).
use crate::config::ingress::TlsMode;
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
pub fn run(args: Args, globals: &super::Globals, printer: &Printer) -> Result<ExitCode, Error> {
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
    let pem = text.trim();
    if !(pem.starts_with("-----BEGIN CERTIFICATE-----")
        && pem.ends_with("-----END CERTIFICATE-----"))
    {
        return Err(RequestError::LocalCaNotPem { path, unit }.into());
    }
    match &a.output {
        Some(out) => {
            crate::export::write_file_atomically(out, &format!("{pem}\n"))?;
            printer.info(&format!(
                "wrote {} (from {})",
                out.display(),
                path.display()
            ));
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
