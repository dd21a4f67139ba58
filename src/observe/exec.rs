//! `pactown exec`: a command in a running replica of a service, its output handed on as it
//! comes, the caller's stdin copied in, and its exit code.
use crate::config::labels;
use crate::engine::{Engine, EngineError, ExecChunk};
use futures_util::StreamExt as _;
use std::time::Duration;

/// Why a command cannot be run in a service.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// No running container of that service and replica.
    #[error(
        "no running container of service `{service}` replica {replica} in ecosystem {ecosystem}; start it with `pactown up -d` (`pactown status` shows what runs)"
    )]
    NotRunning {
        /// Ecosystem name.
        ecosystem: String,
        /// Service name.
        service: String,
        /// Replica number.
        replica: u32,
    },
    /// The engine failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// Runs `command` in replica `replica` of `service`: `on_output` gets each piece of output,
/// `stdin` (when given: chunks of the caller's input, [`crate::ui::terminal::stdin_chunks`]) is
/// copied to the command until it ends or the command exits. Returns the
/// command's exit code (`None` when the engine does not tell).
///
/// # Errors
/// [`ExecError`].
#[allow(clippy::too_many_arguments)]
pub async fn exec(
    engine: &dyn Engine,
    ecosystem: &str,
    service: &str,
    replica: u32,
    command: &[String],
    tty: bool,
    stdin: Option<tokio::sync::mpsc::Receiver<Vec<u8>>>,
    on_output: &(dyn Fn(&ExecChunk) + Sync),
) -> Result<Option<i64>, ExecError> {
    let containers = engine
        .list_containers(&super::super::deploy::ecosystem_filter(ecosystem))
        .await?;
    let wanted = replica.to_string();
    let Some(container) = containers.iter().find(|c| {
        c.state == "running"
            && c.labels.get(labels::SERVICE).map(String::as_str) == Some(service)
            && c.labels.get(labels::REPLICA).map_or("1", String::as_str) == wanted
    }) else {
        return Err(ExecError::NotRunning {
            ecosystem: ecosystem.to_string(),
            service: service.to_string(),
            replica,
        });
    };
    let attached = engine.exec_attach(&container.id, command, tty).await?;
    let id = attached.id.clone();
    if tty {
        tokio::select! {
            r = pump(attached, stdin, on_output) => r?,
            () = crate::ui::terminal::follow_size(engine, &id, false) => id.clone(),
        };
    } else {
        pump(attached, stdin, on_output).await?;
    }
    // the exit code may lag the end of the output by a moment
    for _ in 0..100 {
        if let Some(code) = engine.exec_exit_code(&id).await? {
            return Ok(Some(code));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(None)
}

/// Copies `stdin` (when given; else closes the input at once) into an attached command and
/// hands its output to `on_output` until the output ends; returns the attached id.
///
/// # Errors
/// An engine error while reading the output.
pub async fn pump(
    attached: crate::engine::AttachedExec,
    stdin: Option<tokio::sync::mpsc::Receiver<Vec<u8>>>,
    on_output: &(dyn Fn(&ExecChunk) + Sync),
) -> Result<String, EngineError> {
    let crate::engine::AttachedExec {
        id,
        mut output,
        input: mut sink,
    } = attached;
    let copier = match stdin {
        Some(mut input) => Some(tokio::spawn(async move {
            use tokio::io::AsyncWriteExt as _;
            while let Some(bytes) = input.recv().await {
                if sink.write_all(&bytes).await.is_err() || sink.flush().await.is_err() {
                    return;
                }
            }
            let _ = sink.shutdown().await;
        })),
        None => {
            // nothing to read: the command sees end of input at once
            let _ = tokio::io::AsyncWriteExt::shutdown(&mut sink).await;
            None
        }
    };
    let result = async {
        while let Some(chunk) = output.next().await {
            on_output(&chunk?);
        }
        Ok::<_, EngineError>(())
    }
    .await;
    if let Some(task) = copier {
        task.abort();
    }
    result.map(|()| id)
}
