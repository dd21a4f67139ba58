//! `pactown exec SERVICE [-r N] [--] CMD…`: run a command in a running replica, output and exit
//! code passed through ([`crate::observe::exec`]).
use crate::config::EngineChoice;
use crate::error::Error;
use crate::ui::Printer;
use std::io::IsTerminal;
use std::process::ExitCode;

/// Arguments of `pactown exec`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The service to run the command in (the ecosystem file: `pactown -f FILE exec …`, or the
    /// only `*.pactown.yaml` in the current folder).
    pub service: String,
    /// The command and its arguments (put `--` before it when it has options of its own).
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
    /// Which replica.
    #[arg(short, long, value_name = "N", default_value_t = 1)]
    pub replica: u32,
    /// No pseudo-terminal even when stdin is a terminal (`-T`, as in Compose).
    #[arg(short = 'T', long)]
    pub no_tty: bool,
    /// The ecosystem name, when the file cannot be read.
    #[arg(long)]
    pub name: Option<String>,
    /// Address the side-by-side copy of this tenant (`up --tenant`).
    #[arg(long, value_name = "NAME", env = "PACTOWN_TENANT")]
    pub tenant: Option<String>,
    /// Container engine.
    #[arg(long, env = "PACTOWN_ENGINE", value_enum)]
    pub engine: Option<EngineChoice>,
}

/// Runs `pactown exec`: exits with the command's exit code (1 when the engine does not tell).
///
/// # Errors
/// No ecosystem name, an unknown or stopped service, engine errors.
pub async fn run(
    args: Args,
    globals: &super::Globals,
    printer: &Printer,
) -> Result<ExitCode, Error> {
    let target = super::target::TargetArgs {
        file: None,
        name: args.name.clone(),
        tenant: args.tenant.clone(),
        engine: args.engine,
    };
    let (t, engine) = target.connect(globals).await?;
    if let Some(eco) = &t.ecosystem {
        if eco.service(&args.service).is_none() {
            return Err(crate::deploy::error::DeployError::UnknownService {
                service: args.service.clone(),
                file: eco.file.clone(),
            }
            .into());
        }
    }
    let tty = !args.no_tty && std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    printer.debug(&format!(
        "exec in {}/{} replica {} (tty: {tty})",
        t.name, args.service, args.replica
    ));
    let raw = tty.then(crate::ui::terminal::RawMode::enable);
    let code = crate::observe::exec::exec(
        engine.as_ref(),
        &t.name,
        &args.service,
        args.replica,
        &args.command,
        tty,
        Some(crate::ui::terminal::stdin_chunks()),
        &|chunk| crate::ui::terminal::raw_output(chunk.stderr, &chunk.bytes),
    )
    .await;
    drop(raw);
    let code = code.map_err(|e| match e {
        crate::observe::exec::ExecError::Engine(e) => Error::Engine(e),
        other => Error::Exec(other),
    })?;
    Ok(ExitCode::from(
        code.map_or(1, |c| u8::try_from(c.clamp(0, 255)).unwrap_or(1)),
    ))
}
