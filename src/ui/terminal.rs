//! The terminal as `pactown exec` needs it: raw mode while a TTY command runs, and its output
//! written byte for byte.
use std::io::Write as _;

/// Raw mode on stdin's terminal until dropped (then the previous settings are restored).
#[derive(Debug)]
pub struct RawMode {
    saved: Option<rustix::termios::Termios>,
}

impl RawMode {
    /// Switches stdin's terminal to raw mode; does nothing when stdin is not a terminal.
    #[must_use]
    pub fn enable() -> Self {
        let stdin = std::io::stdin();
        let Ok(saved) = rustix::termios::tcgetattr(&stdin) else {
            return Self { saved: None };
        };
        let mut raw = saved.clone();
        raw.make_raw();
        if rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, &raw).is_err()
        {
            return Self { saved: None };
        }
        Self { saved: Some(saved) }
    }
}

/// The size of stdout's terminal as (rows, columns), when it is one.
#[must_use]
pub fn size() -> Option<(u16, u16)> {
    let ws = rustix::termios::tcgetwinsize(std::io::stdout()).ok()?;
    (ws.ws_row > 0 && ws.ws_col > 0).then_some((ws.ws_row, ws.ws_col))
}

/// Keeps the TTY of the attached exec (or, with `container`, container) `id` the size of
/// stdout's terminal: once now, then on every SIGWINCH. Never returns (run it beside the
/// output, e.g. in `tokio::select!`); resize errors are ignored (the command may be gone).
pub async fn follow_size(engine: &dyn crate::engine::Engine, id: &str, container: bool) {
    if let Some((rows, cols)) = size() {
        let _ = engine.resize_tty(id, container, rows, cols).await;
    }
    let Ok(mut changes) =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())
    else {
        return std::future::pending().await;
    };
    while changes.recv().await.is_some() {
        if let Some((rows, cols)) = size() {
            let _ = engine.resize_tty(id, container, rows, cols).await;
        }
    }
    std::future::pending().await
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved {
            let _ = rustix::termios::tcsetattr(
                std::io::stdin(),
                rustix::termios::OptionalActions::Now,
                saved,
            );
        }
    }
}

/// Writes a command's output unchanged to stdout (or stderr) and flushes it.
pub fn raw_output(stderr: bool, bytes: &[u8]) {
    if stderr {
        let mut e = std::io::stderr().lock();
        let _ = e.write_all(bytes);
        let _ = e.flush();
    } else {
        let mut o = std::io::stdout().lock();
        let _ = o.write_all(bytes);
        let _ = o.flush();
    }
}

/// The process's stdin as chunks, read on a thread of its own (a blocking read cannot be
/// cancelled, and the async runtime must not wait for it at exit); the channel closes at end of
/// input.
#[must_use]
pub fn stdin_chunks() -> tokio::sync::mpsc::Receiver<Vec<u8>> {
    use std::io::Read as _;
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let spawned = std::thread::Builder::new()
        .name("pactown-stdin".into())
        .spawn(move || {
            let mut stdin = std::io::stdin();
            let mut buf = vec![0u8; 8192];
            loop {
                match stdin.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        let chunk = buf.get(..n).map(<[u8]>::to_vec).unwrap_or_default();
                        if tx.blocking_send(chunk).is_err() {
                            return;
                        }
                    }
                }
            }
        });
    // without the thread the command simply sees end of input
    drop(spawned);
    rx
}
