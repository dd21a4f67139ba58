//! `pactown watch` (= `pactown up --watch`): bring the ecosystem up, then rebuild and replace a
//! service whenever its README changes and reconcile when the ecosystem file changes, with the
//! live status view and the logs in the foreground (or JSON events with `--json`); the session
//! is [`crate::deploy::session`].
use crate::error::Error;
use crate::ui::Printer;
use std::process::ExitCode;

/// Arguments of `pactown watch`.
#[derive(Debug, clap::Args)]
#[group(id = "WatchArgs")]
pub struct Args {
    /// Everything `up` takes.
    #[command(flatten)]
    pub up: super::up::Args,
    /// Print watch events as JSON lines on stdout (no live view, no logs).
    #[arg(long)]
    pub json: bool,
}

/// Runs `pactown watch`.
///
/// # Errors
/// As `pactown up`.
pub async fn run(
    mut args: Args,
    globals: &super::Globals,
    printer: &Printer,
) -> Result<ExitCode, Error> {
    if args.up.detach {
        return Err(crate::error::RequestError::WatchDetached.into());
    }
    args.up.watch = true;
    super::up::run_with(args.up, args.json, globals, printer).await
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    #[test]
    fn watch_and_up_watch_parse() {
        super::super::Cli::command().debug_assert();
        let cli = super::super::Cli::try_parse_from(["pactown", "watch", "x.yaml", "--json"]);
        assert!(
            matches!(cli.map(|c| c.command), Ok(super::super::Command::Watch(a)) if a.json),
            "watch --json parses"
        );
        let cli = super::super::Cli::try_parse_from(["pactown", "up", "--watch", "-d"]);
        assert!(cli.is_err(), "--watch conflicts with --detach");
        for args in [
            &["pactown", "up", "--watch", "--tenant", "acme"][..],
            &[
                "pactown",
                "watch",
                "--tenant",
                "acme",
                "--port-offset",
                "1000",
            ][..],
            &["pactown", "restart", "x.yaml", "api", "--tenant", "acme"][..],
            &["pactown", "events", "-f", "--health-interval", "1"][..],
        ] {
            let cli = super::super::Cli::try_parse_from(args);
            assert!(cli.is_ok(), "{args:?}: {:?}", cli.err());
        }
    }
}
