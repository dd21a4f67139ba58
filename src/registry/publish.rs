//! Turning an ecosystem's services into publish requests (pure except for reading READMEs).
use super::model::{is_valid_name, PublishRequest, DEFAULT_NAMESPACE, MAX_README_BYTES};
use crate::config::{Ecosystem, ReadmeSource};
use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::markpact::{self, Markpact};
use std::collections::BTreeMap;

/// What `pactown publish` will send.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishPlan {
    /// One request per service with a local README, in YAML order.
    pub requests: Vec<(String, PublishRequest)>,
    /// Services skipped because their README already comes from a registry.
    pub skipped: Vec<String>,
}

/// Keys of a `markpact:publish` block (`key=value` or `key: value` lines, or info attributes).
#[must_use]
pub fn publish_fields(doc: &Markpact) -> BTreeMap<String, String> {
    let mut fields = BTreeMap::new();
    if let Some(block) = doc.block("publish") {
        for (k, v) in &block.attrs {
            fields.insert(k.to_ascii_lowercase(), v.clone());
        }
        for line in block.body.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let split = match (line.find('='), line.find(':')) {
                (Some(e), Some(c)) => Some(e.min(c)),
                (e, c) => e.or(c),
            };
            if let Some(at) = split {
                let key = line[..at].trim().to_ascii_lowercase();
                let value = line[at + 1..].trim().trim_matches(['"', '\'']).to_string();
                if !key.is_empty() {
                    fields.insert(key, value);
                }
            }
        }
    }
    fields
}

/// Builds the publish requests of the selected services (all when `only` is empty): name from
/// the `markpact:publish` block or the service name, version from the block or the ecosystem,
/// namespace from `registry.namespace`.
///
/// # Errors
/// Unknown service names, unreadable or invalid READMEs, invalid names or versions — all at once.
pub fn plan(eco: &Ecosystem, only: &[String]) -> Result<PublishPlan, Diagnostics> {
    let mut diags = Vec::new();
    for wanted in only {
        if eco.service(wanted).is_none() {
            let known: Vec<&str> = eco.services.iter().map(|s| s.name.as_str()).collect();
            diags.push(
                Diagnostic::error(
                    Code::UnknownService,
                    &eco.file,
                    0,
                    format!("no service `{wanted}` in this ecosystem"),
                )
                .with_hint(format!("services: {}", known.join(", "))),
            );
        }
    }
    let namespace = eco
        .registry
        .as_ref()
        .map_or(DEFAULT_NAMESPACE, |r| r.namespace.as_str())
        .to_string();
    let mut plan = PublishPlan {
        requests: Vec::new(),
        skipped: Vec::new(),
    };
    for svc in &eco.services {
        if !only.is_empty() && !only.contains(&svc.name) {
            continue;
        }
        let path = match &svc.readme {
            ReadmeSource::Local { path, .. } => path,
            ReadmeSource::Registry { .. } => {
                plan.skipped.push(svc.name.clone());
                continue;
            }
        };
        let bytes = match crate::input::read_capped(path, 2 * MAX_README_BYTES as u64) {
            Ok(b) => b,
            Err(e) => {
                diags.push(
                    Diagnostic::error(Code::Io, path, 0, format!("cannot read README: {e}"))
                        .with_hint("check the `readme:` path in the ecosystem file"),
                );
                continue;
            }
        };
        if bytes.len() > MAX_README_BYTES {
            diags.push(Diagnostic::error(
                Code::LimitExceeded,
                path,
                0,
                format!(
                    "README is {} bytes; a registry accepts at most {MAX_README_BYTES}",
                    bytes.len()
                ),
            ));
            continue;
        }
        let doc = match markpact::parse(path, &bytes) {
            Ok(d) => d,
            Err(d) => {
                diags.extend(d.0);
                continue;
            }
        };
        let Ok(readme) = String::from_utf8(bytes) else {
            diags.push(Diagnostic::error(
                Code::InvalidEncoding,
                path,
                0,
                "README is not UTF-8",
            ));
            continue;
        };
        let fields = publish_fields(&doc);
        let line = doc.block("publish").map_or(0, |b| b.line);
        let name = fields
            .get("name")
            .cloned()
            .unwrap_or_else(|| svc.name.clone());
        if !is_valid_name(&name) {
            diags.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    path,
                    line,
                    format!("artifact name `{name}` must match [a-z0-9][a-z0-9._-]{{0,63}}"),
                )
                .with_hint("set `name=` in the markpact:publish block"),
            );
        }
        let (version, vfile, vline) = match fields.get("version") {
            Some(v) => (v.clone(), path.clone(), line),
            None => (eco.version.clone(), eco.file.clone(), 0),
        };
        if let Err(e) = semver::Version::parse(&version) {
            diags.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    &vfile,
                    vline,
                    format!("version `{version}` of `{}` is not semver: {e}", svc.name),
                )
                .with_hint(
                    "write a version like 1.2.3 (in markpact:publish or the ecosystem `version:`)",
                ),
            );
        }
        let mut metadata = serde_json::Map::new();
        metadata.insert("service".into(), svc.name.clone().into());
        metadata.insert("ecosystem".into(), eco.name.clone().into());
        metadata.insert("runtime".into(), doc.runtime.as_str().into());
        for key in ["author", "license", "repository"] {
            if let Some(v) = fields.get(key) {
                metadata.insert(key.into(), v.clone().into());
            }
        }
        let tags = fields
            .get("keywords")
            .or_else(|| fields.get("tags"))
            .map(|k| {
                k.trim_matches(['[', ']'])
                    .split(',')
                    .map(|t| t.trim().trim_matches(['"', '\'']).to_string())
                    .filter(|t| !t.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        plan.requests.push((
            svc.name.clone(),
            PublishRequest {
                name,
                version,
                readme_content: readme,
                namespace: namespace.clone(),
                description: fields.get("description").cloned().unwrap_or_default(),
                tags,
                metadata,
            },
        ));
    }
    if diags.iter().any(Diagnostic::is_error) {
        let mut d = Diagnostics(diags);
        d.sort();
        Err(d)
    } else {
        Ok(plan)
    }
}
