//! The `pactown` binary: all logic lives in the library.
use std::process::ExitCode;

fn main() -> ExitCode {
    pactown::ui::trace::init_from_env();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            pactown::ui::Printer::default()
                .error(&format!("cannot start the async runtime: {err}"));
            return ExitCode::from(1);
        }
    };
    runtime.block_on(pactown::cli::run())
}
