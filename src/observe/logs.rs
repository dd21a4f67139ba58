//! Multiplexed logs: every container's lines with a `service |` prefix (coloured per service
//! when the output is a terminal), merged as they arrive.
use crate::config::labels;
pub use crate::engine::log_time::{parse_time, TimeError};
use crate::engine::{Engine, EngineError, LogLine, LogQuery};
use crate::ui::Printer;
use futures_util::stream::{self, StreamExt};
use std::future::Future;
use std::sync::Arc;

const PALETTE: [console::Color; 6] = [
    console::Color::Cyan,
    console::Color::Yellow,
    console::Color::Green,
    console::Color::Magenta,
    console::Color::Blue,
    console::Color::Red,
];

/// What to show.
#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    /// Only these services (all when empty).
    pub services: Vec<String>,
    /// Which lines of each container (tail, follow, time window, timestamps).
    pub query: LogQuery,
    /// Colour the prefixes.
    pub color: bool,
    /// One JSON object per line instead of `service |` text ([`json_line`]).
    pub json: bool,
}

/// The prefix of a replica's lines: `api` for replica 1, `api.2` for the others, padded.
#[must_use]
pub fn prefix(service: &str, replica: u32, width: usize, color: Option<console::Color>) -> String {
    let name = if replica <= 1 {
        service.to_string()
    } else {
        format!("{service}.{replica}")
    };
    let text = format!("{name:<width$} |");
    match color {
        Some(c) => console::Style::new()
            .fg(c)
            .force_styling(true)
            .apply_to(text)
            .to_string(),
        None => text,
    }
}

/// The [`prefix`] of one container's lines, coloured (when `color`) by the position of its
/// service in `services` (the sorted service names shown).
#[must_use]
pub fn container_prefix<S: AsRef<str>>(
    c: &crate::engine::ContainerInfo,
    services: &[S],
    width: usize,
    color: bool,
) -> String {
    let service = c.labels.get(labels::SERVICE).cloned().unwrap_or_default();
    let replica = c
        .labels
        .get(labels::REPLICA)
        .and_then(|r| r.parse().ok())
        .unwrap_or(1);
    let col = color.then(|| {
        let i = services
            .iter()
            .position(|s| s.as_ref() == service)
            .unwrap_or(0);
        PALETTE
            .get(i % PALETTE.len())
            .copied()
            .unwrap_or(console::Color::Cyan)
    });
    prefix(&service, replica, width, col)
}

/// One output line: `prefix text`, or `prefix timestamp text` when the line has a timestamp
/// (as `docker compose logs -t` prints it).
#[must_use]
pub fn line(prefix: &str, l: &LogLine) -> String {
    match &l.timestamp {
        Some(t) => format!("{prefix} {t} {}", l.text),
        None => format!("{prefix} {}", l.text),
    }
}

/// One output line as a JSON object (`logs --json`): `service`, `replica`, `container`,
/// `stream` (`stdout`/`stderr`), `timestamp` (with `--timestamps`) and `text`.
#[must_use]
pub fn json_line(c: &crate::engine::ContainerInfo, l: &LogLine) -> String {
    let replica: u32 = c
        .labels
        .get(labels::REPLICA)
        .and_then(|r| r.parse().ok())
        .unwrap_or(1);
    let mut v = serde_json::json!({
        "service": c.labels.get(labels::SERVICE).cloned().unwrap_or_default(),
        "replica": replica,
        "container": c.name,
        "stream": if l.stderr { "stderr" } else { "stdout" },
    });
    if let (Some(t), Some(o)) = (&l.timestamp, v.as_object_mut()) {
        o.insert("timestamp".into(), serde_json::Value::String(t.clone()));
    }
    if let Some(o) = v.as_object_mut() {
        o.insert("text".into(), serde_json::Value::String(l.text.clone()));
    }
    v.to_string()
}

/// A `--since`/`--until` value as Unix seconds, durations counting back from now.
///
/// # Errors
/// A [`TimeError`] naming the accepted forms.
pub fn parse_time_now(text: &str) -> Result<i64, TimeError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    parse_time(text, now)
}

/// Prints the logs of the ecosystem's containers to stdout (through `printer`) until the
/// streams end (without follow) or `stop` resolves.
///
/// # Errors
/// Engine errors when listing or opening the streams; an unknown service name.
pub async fn show_logs(
    engine: Arc<dyn Engine>,
    ecosystem: &str,
    opts: &LogOptions,
    printer: &Printer,
    stop: impl Future<Output = ()>,
) -> Result<(), EngineError> {
    let mut containers = engine
        .list_containers(&crate::deploy::ecosystem_filter(ecosystem))
        .await?;
    let mut services: Vec<String> = containers
        .iter()
        .filter_map(|c| c.labels.get(labels::SERVICE).cloned())
        .collect();
    services.sort();
    services.dedup();
    for s in &opts.services {
        if !services.contains(s) {
            return Err(EngineError::NotFound {
                what: format!(
                    "service `{s}` in ecosystem `{ecosystem}` (running services: {})",
                    services.join(", ")
                ),
            });
        }
    }
    containers.retain(|c| {
        opts.services.is_empty()
            || c.labels
                .get(labels::SERVICE)
                .is_some_and(|s| opts.services.contains(s))
    });
    containers.sort_by(|a, b| a.name.cmp(&b.name));
    let width = containers
        .iter()
        .map(|c| {
            let s = c.labels.get(labels::SERVICE).map_or(0, String::len);
            let r = c.labels.get(labels::REPLICA).map_or("1", String::as_str);
            if r == "1" {
                s
            } else {
                s + 1 + r.len()
            }
        })
        .max()
        .unwrap_or(0);

    let mut streams = Vec::new();
    for c in &containers {
        let s = engine.logs(&c.id, &opts.query).await?;
        if opts.json {
            let info = c.clone();
            streams.push(s.map(move |l| l.map(|l| json_line(&info, &l))).boxed());
        } else {
            let p = container_prefix(c, &services, width, opts.color);
            streams.push(s.map(move |l| l.map(|l| line(&p, &l))).boxed());
        }
    }
    let mut merged = stream::select_all(streams);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => return Ok(()),
            next = merged.next() => match next {
                Some(Ok(line)) => printer.out(&line),
                Some(Err(e)) => printer.debug(&format!("log stream ended: {e}")),
                None => return Ok(()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{json_line, line};
    use crate::engine::LogLine;

    #[test]
    fn a_json_line_names_service_replica_stream_and_text() {
        let c = crate::engine::ContainerInfo {
            id: "1".into(),
            name: "shop-api-2".into(),
            image: String::new(),
            state: "running".into(),
            status: String::new(),
            labels: [
                (
                    crate::config::labels::SERVICE.to_string(),
                    "api".to_string(),
                ),
                (crate::config::labels::REPLICA.to_string(), "2".to_string()),
            ]
            .into_iter()
            .collect(),
            ports: Vec::new(),
        };
        let l = LogLine {
            stderr: true,
            text: "say \"hi\"".into(),
            timestamp: Some("2026-12-02T15:04:05Z".into()),
        };
        let v: serde_json::Value = serde_json::from_str(&json_line(&c, &l)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"service": "api", "replica": 2, "container": "shop-api-2",
                "stream": "stderr", "timestamp": "2026-12-02T15:04:05Z", "text": "say \"hi\""})
        );
    }

    #[test]
    fn a_timestamp_goes_after_the_prefix() {
        let mut l = LogLine {
            stderr: false,
            text: "GET /health".into(),
            timestamp: None,
        };
        assert_eq!(line("api |", &l), "api | GET /health");
        l.timestamp = Some("2026-12-02T15:04:05.123456789Z".into());
        assert_eq!(
            line("api |", &l),
            "api | 2026-12-02T15:04:05.123456789Z GET /health"
        );
    }
}
