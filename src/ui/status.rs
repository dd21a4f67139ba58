//! The `status` table: [`crate::observe::status`] gathers the report (plain data, also
//! `status --json`), this renders it for people.
use crate::engine::ResourceLimits;
use crate::observe::status::StatusReport;

/// The report as a text table: one row per service, then `ecosystem NAME on ENGINE`.
#[must_use]
pub fn table(report: &StatusReport) -> String {
    let header = [
        "SERVICE", "REPLICAS", "STATE", "URL", "HEALTH", "IMAGE", "UPTIME", "RESTARTS", "LIMITS",
    ];
    let mut rows: Vec<[String; 9]> = vec![header.map(str::to_string)];
    for s in &report.services {
        let probed = s.replicas.iter().filter(|r| r.health.is_some()).count();
        let healthy = s
            .replicas
            .iter()
            .filter(|r| r.health.as_ref().is_some_and(|h| h.healthy))
            .count();
        let health = match &s.health {
            Some(h) if h.healthy => format!("healthy {:.1}ms", h.latency_ms.unwrap_or(0.0)),
            Some(_) if probed > 1 => format!("unhealthy {healthy}/{probed}"),
            Some(_) => "unhealthy".to_string(),
            None => "-".to_string(),
        };
        rows.push([
            s.service.clone(),
            format!("{}/{}", s.running, s.desired),
            if s.anomalies.is_empty() {
                s.state.clone()
            } else {
                format!("{} !{}", s.state, s.anomalies.join(",!"))
            },
            s.url.clone().unwrap_or_else(|| "-".into()),
            health,
            s.image.clone().unwrap_or_else(|| "-".into()),
            s.uptime_seconds.map_or_else(|| "-".into(), human_duration),
            s.restarts.to_string(),
            s.limits.map_or_else(|| "-".into(), |l| limits_text(&l)),
        ]);
    }
    let mut out = crate::ui::table::render(&rows);
    out.push_str(&format!(
        "ecosystem {} on {}",
        report.ecosystem, report.engine
    ));
    out
}

/// `cpu=0.5 mem=256m pids=64` (only the limits that are set; `-` for none).
#[must_use]
pub fn limits_text(l: &ResourceLimits) -> String {
    let r = crate::config::Resources {
        millicpus: l.nano_cpus.and_then(|n| u64::try_from(n / 1_000_000).ok()),
        memory: l.memory.and_then(|m| u64::try_from(m).ok()),
        pids: l.pids.and_then(|p| u32::try_from(p).ok()),
    };
    let mut parts = Vec::new();
    if let Some(c) = r.cpus_text() {
        parts.push(format!("cpu={c}"));
    }
    if let Some(m) = r.memory_text() {
        parts.push(format!("mem={m}"));
    }
    if let Some(p) = r.pids {
        parts.push(format!("pids={p}"));
    }
    if parts.is_empty() {
        "-".to_string()
    } else {
        parts.join(" ")
    }
}

/// `3s`, `4m12s`, `2h05m`, `3d04h`.
#[must_use]
pub fn human_duration(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s if s < 86_400 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        s => format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::EngineKind;
    use crate::observe::status::{HealthNow, ServiceStatusRow};

    #[test]
    fn one_row_per_service_with_health_uptime_and_limits() {
        let report = StatusReport {
            ecosystem: "shop".into(),
            engine: EngineKind::Podman,
            services: vec![ServiceStatusRow {
                service: "api".into(),
                running: 2,
                desired: 2,
                state: "running".into(),
                kind: "service".into(),
                url: Some("http://127.0.0.1:8000".into()),
                health: Some(HealthNow {
                    healthy: true,
                    latency_ms: Some(1.25),
                    http_status: Some(200),
                    detail: None,
                }),
                image: Some("pactown/shop-api:abc".into()),
                uptime_seconds: Some(252),
                restarts: 1,
                replicas: Vec::new(),
                limits: Some(ResourceLimits {
                    nano_cpus: Some(500_000_000),
                    memory: Some(256 * 1024 * 1024),
                    pids: Some(64),
                }),
                hardening: None,
                anomalies: Vec::new(),
                update: None,
            }],
        };
        assert_eq!(
            table(&report),
            "SERVICE  REPLICAS  STATE    URL                    HEALTH         IMAGE                 UPTIME  RESTARTS  LIMITS\n\
             api      2/2       running  http://127.0.0.1:8000  healthy 1.2ms  pactown/shop-api:abc  4m12s   1         cpu=0.5 mem=256m pids=64\n\
             ecosystem shop on podman"
        );
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(252), "4m12s");
        assert_eq!(human_duration(7500), "2h05m");
    }
}
