//! Pure renderers of a resolved graph: a human tree, Graphviz DOT, Mermaid and JSON. No IO; the
//! output is a function of the ecosystem and its graph only (deterministic, YAML order).
use super::{injected_env_all, DependencyGraph};
use crate::config::{Ecosystem, ServiceSpec};
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

/// A human tree in the style of `cargo tree`: each top-level service (one nothing depends on)
/// with its dependencies below it; a service already shown is marked `(*)` instead of repeated.
#[must_use]
pub fn tree(eco: &Ecosystem, graph: &DependencyGraph) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {} ({} service{}, {} level{})",
        eco.name,
        eco.version,
        eco.services.len(),
        plural(eco.services.len()),
        graph.levels.len(),
        plural(graph.levels.len()),
    );
    let by_name: HashMap<&str, &ServiceSpec> =
        eco.services.iter().map(|s| (s.name.as_str(), s)).collect();
    let mut shown: HashSet<&str> = HashSet::new();
    // (service, prefix of its line, connector, prefix of its children's lines)
    let mut stack: Vec<(&str, String, &str, String)> = Vec::new();
    let roots = eco
        .services
        .iter()
        .filter(|s| graph.dependants_of(&s.name).is_empty());
    for root in roots {
        stack.push((root.name.as_str(), String::new(), "", String::new()));
        while let Some((name, prefix, connector, child_prefix)) = stack.pop() {
            let Some(svc) = by_name.get(name) else {
                continue;
            };
            let _ = write!(out, "{prefix}{connector}{}", describe(svc));
            let deps = graph.dependencies_of(name);
            if !shown.insert(name) && !deps.is_empty() {
                out.push_str(" (*)\n");
                continue;
            }
            out.push('\n');
            for (i, dep) in deps.iter().enumerate().rev() {
                let (conn, more) = if i + 1 == deps.len() {
                    ("└── ", "    ")
                } else {
                    ("├── ", "│   ")
                };
                stack.push((
                    dep.as_str(),
                    child_prefix.clone(),
                    conn,
                    format!("{child_prefix}{more}"),
                ));
            }
        }
    }
    let _ = writeln!(out, "start order: {}", graph.order.join(", "));
    out
}

fn describe(svc: &ServiceSpec) -> String {
    let mut s = format!("{} {}", svc.name, svc.port_label());
    if let Some(h) = &svc.health_check {
        let _ = write!(s, " {h}");
    }
    if svc.replicas > 1 {
        let _ = write!(s, " x{}", svc.replicas);
    }
    s
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// A DOT string literal.
fn dot_quote(text: &str) -> String {
    let mut s = String::with_capacity(text.len() + 2);
    s.push('"');
    for c in text.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

/// Graphviz DOT; an edge `a -> b` reads "a depends on b".
#[must_use]
pub fn dot(eco: &Ecosystem, graph: &DependencyGraph) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph {} {{", dot_quote(&eco.name));
    out.push_str("  rankdir=BT;\n  node [shape=box];\n");
    for svc in &eco.services {
        let _ = writeln!(
            out,
            "  {} [label={}];",
            dot_quote(&svc.name),
            dot_quote(&format!("{}\n{}", svc.name, svc.port_label()))
        );
    }
    for svc in &eco.services {
        for dep in graph.dependencies_of(&svc.name) {
            let _ = writeln!(out, "  {} -> {};", dot_quote(&svc.name), dot_quote(dep));
        }
    }
    out.push_str("}\n");
    out
}

/// A Mermaid flowchart; node ids are `s<position>` so names such as `end` cannot clash with
/// Mermaid keywords. An arrow `a --> b` reads "a depends on b".
#[must_use]
pub fn mermaid(eco: &Ecosystem, graph: &DependencyGraph) -> String {
    let mut out = String::from("flowchart BT\n");
    let ids: HashMap<&str, usize> = eco
        .services
        .iter()
        .map(|s| (s.name.as_str(), s.index))
        .collect();
    for svc in &eco.services {
        let _ = writeln!(
            out,
            "  s{}[\"{} {}\"]",
            svc.index,
            svc.name.replace('"', "#quot;"),
            svc.port_label()
        );
    }
    for svc in &eco.services {
        for dep in graph.dependencies_of(&svc.name) {
            if let Some(d) = ids.get(dep.as_str()) {
                let _ = writeln!(out, "  s{} --> s{d}", svc.index);
            }
        }
    }
    out
}

/// The machine view: every service (port, README, health check, dependencies, dependants and the
/// environment it will get), the start `order` and the `levels`.
#[must_use]
pub fn json(eco: &Ecosystem, graph: &DependencyGraph) -> serde_json::Value {
    let envs = injected_env_all(eco);
    let mut services = serde_json::Map::new();
    for svc in &eco.services {
        services.insert(
            svc.name.clone(),
            serde_json::json!({
                "port": svc.port,
                "kind": svc.kind,
                "readme": svc.readme.label(),
                "health_check": svc.health_check,
                "health_cmd": svc.health_cmd,
                "replicas": svc.replicas,
                "depends_on": graph.dependencies_of(&svc.name),
                "dependants": graph.dependants_of(&svc.name),
                "env": envs.get(&svc.name).map(|env| crate::secrets::mask_env(svc, env)),
            }),
        );
    }
    serde_json::json!({
        "name": eco.name,
        "version": eco.version,
        "network": eco.network_name(),
        "services": services,
        "order": graph.order,
        "levels": graph.levels,
    })
}
