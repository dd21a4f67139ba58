//! Opt-in tracing of what pactown does, for finding where time goes: `PACTOWN_LOG=debug`
//! (any `tracing` filter, e.g. `PACTOWN_LOG=pactown::engine=debug`) prints one line on stderr
//! per closed span — every engine call with its duration — and every debug event, each stamped
//! with the time since the process started. Off unless the variable is set.
use tracing_subscriber::fmt::format::FmtSpan;

/// The variable holding the filter.
pub const LOG_VAR: &str = "PACTOWN_LOG";

/// Installs the stderr subscriber when [`LOG_VAR`] is set to a valid filter; an invalid one
/// is reported once and tracing stays off.
pub fn init_from_env() {
    let Some(spec) = std::env::var_os(LOG_VAR).filter(|v| !v.is_empty()) else {
        return;
    };
    let spec = spec.to_string_lossy();
    let filter = match tracing_subscriber::EnvFilter::try_new(spec.as_ref()) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("pactown: ignoring {LOG_VAR}={spec}: {e}");
            return;
        }
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_span_events(FmtSpan::CLOSE)
        .with_timer(tracing_subscriber::fmt::time::uptime())
        .with_target(false)
        .with_ansi(false)
        .try_init();
}
