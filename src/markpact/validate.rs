//! Validation for starting a service (spec §6, §9, §10).
use super::model::{Markpact, Runtime};
use crate::diagnostic::{Code, Diagnostic};

/// See [`super::validate`].
pub(crate) fn validate(doc: &Markpact) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let path = &doc.path;
    if doc.run.is_none() && doc.runtime != Runtime::Static {
        out.push(
            Diagnostic::error(
                Code::MissingRun,
                path,
                0,
                format!("no `markpact:run` block; a {} service needs one", doc.runtime),
            )
            .with_hint("add a ```` ```bash markpact:run ```` block that starts the service on port ${MARKPACT_PORT:-8000}"),
        );
    }
    let unsupported = |line: usize, what: String| {
        Diagnostic::error(Code::UnsupportedDependencies, path, line, what).with_hint(
            "third-party Go and PHP packages cannot be fetched in the build (no module proxy, no \
             Packagist): use the standard library, or vendor Go modules into file blocks under `vendor/`",
        )
    };
    if matches!(doc.runtime, Runtime::Go | Runtime::Php) {
        for dep in &doc.deps {
            out.push(unsupported(
                dep.line,
                format!(
                    "{} dependency `{}` cannot be installed",
                    doc.runtime, dep.spec
                ),
            ));
        }
    }
    for block in doc
        .blocks
        .iter()
        .filter(|b| b.kind == "deps" && b.scope.as_deref() == Some("system"))
    {
        out.push(
            Diagnostic::error(
                Code::UnsupportedDependencies,
                path,
                block.line,
                "`system` dependencies (apt packages) are not supported in v1",
            )
            .with_hint("remove the `markpact:deps system` block"),
        );
    }
    match doc.runtime {
        Runtime::Go => {
            if let Some(f) = doc.file("go.mod") {
                if let Some(offset) = go_mod_require_line(&f.contents) {
                    if doc.file("vendor/modules.txt").is_none() {
                        out.push(unsupported(
                            f.line + 1 + offset,
                            "go.mod has a `require` directive and the modules are not vendored"
                                .into(),
                        ));
                    }
                }
            }
        }
        Runtime::Php => {
            if let Some(f) = doc.file("composer.json") {
                for name in composer_requires(&f.contents) {
                    out.push(unsupported(
                        f.line,
                        format!("composer.json requires `{name}`"),
                    ));
                }
            }
        }
        _ => {}
    }
    if let Some(run) = &doc.run {
        out.extend(install_at_start(doc, run));
    }
    if let Some(target) = doc.block("target") {
        let platform = target_platform(&target.body);
        if platform != "web" {
            out.push(
                Diagnostic::error(
                    Code::UnsupportedTarget,
                    path,
                    target.line,
                    format!("target platform `{platform}` is not supported; pactown runs web services only"),
                )
                .with_hint("use `platform: web` or remove the target block"),
            );
        }
    }
    out
}

/// `InstallAtStart` warnings: package installs in the run block (spec §10). They work (the image
/// build runs them, see `crate::image::shim`) but sit after the code, so every code edit
/// reinstalls; a deps block puts them in the cached dependency layer.
fn install_at_start(doc: &Markpact, run: &super::model::Script) -> Vec<Diagnostic> {
    use super::run_steps::{steps, StepKind, Tool};
    steps(&run.body)
        .into_iter()
        .filter(|s| match s.kind {
            StepKind::Install(Tool::Npm) => !s.text.contains(" run"),
            StepKind::Install(Tool::Go) => false,
            StepKind::Install(_) => true,
            _ => false,
        })
        .map(|s| {
            let hint = if s.kind == StepKind::Install(Tool::Npm) {
                "list the packages in a ```` ```text markpact:deps node ```` block or a package.json file block: they are installed in the cached dependency layer, and the run block can just start the service"
            } else {
                "list the packages in a ```` ```text markpact:deps python ```` block (or a requirements.txt file block): they are installed in the cached dependency layer, and the run block can just start the service"
            };
            Diagnostic::warning(
                Code::InstallAtStart,
                &doc.path,
                run.line + 1 + s.line,
                format!(
                    "the run block installs packages (`{}`); pactown runs this at image build time, after the code, so every code edit reinstalls them",
                    s.text
                ),
            )
            .with_hint(hint)
        })
        .collect()
}

/// Commands whose flags are not a server's (`mkdir -p`, `ssh -p`, …).
const NOT_SERVERS: [&str; 14] = [
    "mkdir", "cp", "mv", "rm", "ln", "chmod", "chown", "echo", "ssh", "scp", "tar", "curl", "wget",
    "test",
];

/// Where a run block's server listens, as far as its words say: (0-based body line, the words
/// naming a loopback address) and (line, port, the words naming it).
type Listen = (Vec<(usize, String)>, Vec<(usize, u16, String)>);

fn listen_words(run: &super::model::Script) -> Listen {
    use super::run_steps::{steps, StepKind};
    let loopback = |v: &str| {
        let host = v.rsplit_once(':').map_or(v, |(h, p)| {
            if p.chars().all(|c| c.is_ascii_digit()) {
                h
            } else {
                v
            }
        });
        matches!(host, "127.0.0.1" | "localhost" | "::1" | "[::1]")
    };
    let port_of = |v: &str| -> Option<u16> {
        let p = v.rsplit_once(':').map_or(v, |(_, p)| p);
        p.parse().ok().filter(|p| *p > 0)
    };
    let (mut hosts, mut ports) = (Vec::new(), Vec::new());
    for step in steps(&run.body)
        .into_iter()
        .filter(|s| matches!(s.kind, StepKind::Other))
    {
        let words: Vec<&str> = step
            .text
            .split_whitespace()
            .skip_while(|w| w.contains('=') && !w.starts_with('-'))
            .collect();
        if words.first().is_none_or(|w| NOT_SERVERS.contains(w)) {
            continue;
        }
        for (i, w) in words.iter().enumerate() {
            let (flag, value) = match w.split_once('=') {
                Some((f, v)) if f.starts_with('-') => (f, Some(v)),
                _ => (*w, words.get(i + 1).copied()),
            };
            let value = value.unwrap_or("");
            let said = if w.contains('=') {
                (*w).to_string()
            } else {
                format!("{w} {value}")
            };
            match flag {
                "--host" | "--bind" | "-b" | "-H" | "--hostname" | "--address" | "--addr"
                | "--listen" | "--server.address" | "-S"
                    if loopback(value) =>
                {
                    hosts.push((step.line, said.clone()));
                    if let Some(p) = port_of(value).filter(|_| value.contains(':')) {
                        ports.push((step.line, p, said));
                    }
                }
                "--bind" | "-b" | "--listen" | "-S" | "--addr" | "--address"
                    if value.contains(':') =>
                {
                    if let Some(p) = port_of(value) {
                        ports.push((step.line, p, said));
                    }
                }
                "--port" | "-p" | "--server.port" | "--listen-port" | "-l" => {
                    if let Ok(p) = value.parse::<u16>() {
                        ports.push((step.line, p, said));
                    }
                }
                "http.server" => {
                    if let Ok(p) = value.parse::<u16>() {
                        ports.push((step.line, p, said));
                    }
                }
                _ => {}
            }
        }
    }
    (hosts, ports)
}

/// `LoopbackBind` warnings: a run block whose server listens on 127.0.0.1/localhost only, which
/// inside a container nobody else reaches (not the health check, not the dependants).
pub(crate) fn loopback_bind(doc: &Markpact) -> Vec<Diagnostic> {
    let Some(run) = &doc.run else {
        return Vec::new();
    };
    listen_words(run)
        .0
        .into_iter()
        .map(|(line, said)| {
            Diagnostic::warning(
                Code::LoopbackBind,
                &doc.path,
                run.line + 1 + line,
                format!("the run block listens on a loopback address only (`{said}`): inside a container nothing else can reach it, not the health check, not the dependants"),
            )
            .with_hint("listen on all addresses, e.g. `--host 0.0.0.0`")
        })
        .collect()
}

/// `PortMismatch` warnings: a run block that names a port other than the service's `port`
/// (which the health check, the published port and the dependants use).
pub(crate) fn port_mismatch(doc: &Markpact, service: &str, port: Option<u16>) -> Vec<Diagnostic> {
    let (Some(run), Some(port)) = (&doc.run, port) else {
        return Vec::new();
    };
    listen_words(run)
        .1
        .into_iter()
        .filter(|(_, p, _)| *p != port)
        .map(|(line, p, said)| {
            Diagnostic::warning(
                Code::PortMismatch,
                &doc.path,
                run.line + 1 + line,
                format!("the run block listens on port {p} (`{said}`) but service `{service}` has port {port}: the health check and the dependants use {port}"),
            )
            .with_hint(format!("listen on `${{MARKPACT_PORT}}` (pactown sets it to the service's port), or set `port: {p}` for `{service}`"))
        })
        .collect()
}

/// The `platform` of a target body (default `web`).
pub(crate) fn target_platform(body: &str) -> String {
    crate::config::check_yaml_bounds(body)
        .ok()
        .and_then(|()| serde_yaml::from_str::<serde_yaml::Value>(body).ok())
        .and_then(|v| {
            v.get("platform")
                .and_then(|p| p.as_str().map(str::to_string))
        })
        .unwrap_or_else(|| "web".to_string())
}

/// 0-based line of the first `require` directive of a go.mod, if any.
pub(crate) fn go_mod_require_line(text: &str) -> Option<usize> {
    text.lines().position(|l| {
        let l = l.split("//").next().unwrap_or("").trim();
        l == "require"
            || l.starts_with("require ")
            || l.starts_with("require\t")
            || l.starts_with("require(")
    })
}

#[cfg(test)]
fn go_mod_requires(text: &str) -> bool {
    go_mod_require_line(text).is_some()
}

#[cfg(test)]
fn cargo_has_dependencies(text: &str) -> bool {
    let mut in_deps = false;
    for line in text.lines() {
        let l = line.split('#').next().unwrap_or("").trim();
        if l.starts_with('[') {
            let header = l.trim_start_matches('[').trim_end_matches(']').trim();
            if header.starts_with("dependencies.") {
                return true;
            }
            in_deps = header == "dependencies";
        } else if in_deps && !l.is_empty() {
            return true;
        }
    }
    false
}

fn composer_requires(text: &str) -> Vec<String> {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
        return Vec::new();
    };
    value
        .get("require")
        .and_then(serde_json::Value::as_object)
        .map(|m| {
            m.keys()
                .filter(|k| *k != "php" && !k.starts_with("ext-"))
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

/// See [`super::missing_env`].
pub(crate) fn missing_env(doc: &Markpact, provided: &dyn Fn(&str) -> bool) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for file in doc
        .files
        .iter()
        .filter(|f| f.path == ".env.example" || f.path == ".env.sample")
    {
        for line in file.contents.lines() {
            let l = line.trim();
            let l = l.strip_prefix("export ").unwrap_or(l).trim_start();
            let Some((name, _)) = l.split_once('=') else {
                continue;
            };
            let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if valid && !provided(name) {
                out.push(
                    Diagnostic::error(
                        Code::MissingEnv,
                        &doc.path,
                        file.line,
                        format!("variable `{name}` declared in {} is not set", file.path),
                    )
                    .with_hint(format!(
                        "set `{name}` in the service's `env:` in the ecosystem file"
                    )),
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests() {
        assert!(go_mod_requires("module x\n\nrequire github.com/a/b v1\n"));
        assert!(go_mod_requires("module x\nrequire (\n)\n"));
        assert!(!go_mod_requires("module x\ngo 1.19\n// require x\n"));
        assert!(!cargo_has_dependencies(
            "[package]\nname=\"x\"\n[dependencies]\n\n# none\n"
        ));
        assert!(cargo_has_dependencies("[dependencies]\nserde = \"1\"\n"));
        assert!(cargo_has_dependencies(
            "[dependencies.serde]\nversion = \"1\"\n"
        ));
        assert_eq!(
            composer_requires(r#"{"require":{"php":">=8","ext-json":"*","monolog/monolog":"2"}}"#),
            ["monolog/monolog"]
        );
        assert_eq!(target_platform("platform: desktop\n"), "desktop");
        assert_eq!(target_platform(""), "web");
    }
}
