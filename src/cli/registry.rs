//! `pactown registry serve`.
use crate::error::{Error, RequestError};
use crate::registry::auth::Tokens;
use crate::registry::server::{self, ServeConfig};
use crate::ui::Printer;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `pactown registry`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: RegistryCommand,
}

/// Subcommands of `pactown registry`.
#[derive(Debug, clap::Subcommand)]
pub enum RegistryCommand {
    /// Serve the registry HTTP API (see /openapi.json) until Ctrl-C.
    Serve(ServeArgs),
}

/// Arguments of `pactown registry serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on. Loopback by default; anything else is reachable from the network.
    #[arg(long, default_value = "127.0.0.1:8800", env = "PACTOWN_REGISTRY_BIND")]
    pub bind: SocketAddr,
    /// Storage folder [default: $XDG_DATA_HOME/pactown/registry or ~/.local/share/pactown/registry].
    #[arg(long, env = "PACTOWN_REGISTRY_STORAGE")]
    pub storage: Option<PathBuf>,
    /// Token file: lines `TOKEN namespace[,namespace…]` or `TOKEN *`. Without it the registry is
    /// read-only.
    #[arg(long, env = "PACTOWN_REGISTRY_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// Requests per second allowed per client IP (0 disables rate limiting).
    #[arg(long, default_value_t = 50.0)]
    pub rate_limit: f64,
    /// Burst of requests allowed per client IP above the rate.
    #[arg(long, default_value_t = 200)]
    pub burst: u32,
    /// Open connections one client IP may hold (more are answered 429 and closed). Behind a
    /// reverse proxy every client has the proxy's address: raise it there.
    #[arg(long, default_value_t = 64)]
    pub max_client_connections: usize,
    /// Start even when the token file can be read or written by other users (refused by
    /// default, as ssh refuses a readable private key).
    #[arg(long)]
    pub allow_readable_token_file: bool,
    /// Seconds a client has to send a request's headers (also the keep-alive idle timeout).
    #[arg(long, default_value_t = 10)]
    pub header_timeout: u64,
}

/// Runs `pactown registry`.
pub async fn run(args: Args, printer: &Printer) -> Result<ExitCode, Error> {
    let RegistryCommand::Serve(args) = args.command;
    if !server::is_loopback(&args.bind) {
        printer.warn(&format!(
            "registry binds {} — NOT loopback: anyone who can reach this address can read every README and try tokens; put it behind TLS (a reverse proxy) and a firewall",
            args.bind
        ));
    }
    let tokens = match &args.token_file {
        Some(path) => {
            check_token_file_mode(path, args.allow_readable_token_file, printer)?;
            let tokens = Tokens::load(path)?;
            if tokens.is_empty() {
                printer.warn(&format!(
                    "{} has no tokens: every publish and delete will be refused",
                    path.display()
                ));
            }
            tokens
        }
        None => {
            printer
                .warn("no --token-file: the registry is read-only (publish and delete answer 403)");
            Tokens::read_only()
        }
    };
    if !args.rate_limit.is_finite() || args.rate_limit < 0.0 {
        return Err(RequestError::RateLimit(args.rate_limit).into());
    }
    let storage = args
        .storage
        .unwrap_or_else(crate::registry::default_storage);
    let running = server::start(ServeConfig {
        bind: args.bind,
        storage: storage.clone(),
        tokens,
        rate: args.rate_limit,
        burst: args.burst,
        limits: server::ConnLimits {
            max_per_client: args.max_client_connections.max(1),
            header_timeout: std::time::Duration::from_secs(args.header_timeout.max(1)),
            ..server::ConnLimits::default()
        },
    })
    .await?;
    printer.out(&format!(
        "pactown registry listening on {} (storage {})",
        running.url(),
        storage.display()
    ));
    tokio::select! {
        result = shutdown_signal() => {
            result.map_err(|e| Error::io("cannot wait for Ctrl-C", e))?;
            printer.info("shutting down");
            running.stop().await.map_err(|e| Error::io("registry server failed", e))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() -> std::io::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r,
        _ = term.recv() => Ok(()),
    }
}

/// Refuses a token file that the group or others may read or write (`allow` turns it into a
/// warning).
fn check_token_file_mode(
    path: &std::path::Path,
    allow: bool,
    printer: &Printer,
) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(()); // Tokens::load reports the error
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 == 0 {
        return Ok(());
    }
    let refusal = RequestError::TokenFileMode {
        path: path.to_path_buf(),
        mode,
    };
    if allow {
        printer.warn(&refusal.to_string());
        Ok(())
    } else {
        Err(refusal.into())
    }
}
