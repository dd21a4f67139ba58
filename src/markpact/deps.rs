//! Dependency scopes and entries (spec §6.2, §9).
use super::model::{Dependency, Runtime};
use std::collections::BTreeMap;

/// The declared scope of a `deps` block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// One of the runtimes that take dependencies.
    Runtime(Runtime),
    /// `system` (apt packages): reserved, unsupported in v1.
    System,
}

/// Maps a `lang` (or a legacy scope word) to a scope. `Ok(None)` = unspecified,
/// `Err(())` = unknown word.
pub(crate) fn scope_of(word: &str) -> Result<Option<Scope>, ()> {
    let runtime = match word.to_ascii_lowercase().as_str() {
        "python" | "py" | "pip" | "requirements" => Runtime::Python,
        "node" | "js" | "javascript" | "npm" | "ts" | "typescript" => Runtime::Node,
        "go" | "golang" => Runtime::Go,
        "rust" | "cargo" => Runtime::Rust,
        "php" | "composer" => Runtime::Php,
        "system" => return Ok(Some(Scope::System)),
        "text" | "txt" | "plain" | "bash" | "sh" => return Ok(None),
        _ => return Err(()),
    };
    Ok(Some(Scope::Runtime(runtime)))
}

/// Entries of a deps body: trimmed, blank and `#` lines skipped, inline ` #` comments cut.
pub(crate) fn entries(body: &[(usize, &str)]) -> Vec<Dependency> {
    body.iter()
        .filter_map(|&(line, raw)| {
            let mut s = raw.trim();
            if s.is_empty() || s.starts_with('#') {
                return None;
            }
            if let Some(i) = s.find(" #").or_else(|| s.find("\t#")) {
                s = s.get(..i).unwrap_or(s).trim_end();
            }
            Some(Dependency {
                spec: s.to_string(),
                line,
            })
        })
        .collect()
}

/// Checks a python requirement (§9): `Err((message, hint))` when refused.
pub(crate) fn check_python(spec: &str) -> Result<(), (String, String)> {
    let shown: String = spec.chars().flat_map(char::escape_debug).collect();
    let refuse = |why: &str, hint: &str| Err((format!("`{shown}` {why}"), hint.to_string()));
    if let Some(c) = spec.chars().find(|c| c.is_control()) {
        return refuse(
            &format!("contains the control character U+{:04X}", u32::from(c)),
            "remove it; a requirement is printable text",
        );
    }
    if spec.ends_with('\\') {
        return refuse(
            "ends with `\\`, which continues the line in a requirements file",
            "write each requirement on one line without a trailing backslash",
        );
    }
    // PEP 508: a name, extras, version specifiers and an environment marker use only these.
    if let Some(c) = spec.chars().find(|c| {
        !(c.is_ascii_alphanumeric()
            || matches!(
                c,
                '.' | '_'
                    | '-'
                    | '['
                    | ']'
                    | ','
                    | '<'
                    | '>'
                    | '='
                    | '!'
                    | '~'
                    | '*'
                    | '+'
                    | ';'
                    | ' '
                    | '\t'
                    | '\''
                    | '"'
                    | '('
                    | ')'
                    | '@'
                    | '/'
                    | ':'
            ))
    }) {
        return refuse(
            &format!(
                "contains `{}`, which is not part of a requirement",
                c.escape_debug()
            ),
            "write a PEP 508 requirement, e.g. `fastapi>=0.110` (no shell syntax)",
        );
    }
    if spec.starts_with('-') {
        return refuse(
            "is a pip option, not a requirement",
            "pip options (-r, -e, --index-url, …) are not allowed; list package requirements only",
        );
    }
    let lower = spec.to_ascii_lowercase();
    for prefix in ["git+", "hg+", "svn+", "bzr+", "http:", "https:", "file:"] {
        if lower.starts_with(prefix) {
            return refuse(
                "is a URL or VCS reference",
                "use a package name from the package index, e.g. `requests>=2`",
            );
        }
    }
    if spec.starts_with(['.', '/', '~']) {
        return refuse(
            "is a local path",
            "put local code in `markpact:file` blocks and list only index packages here",
        );
    }
    if spec.contains('@') || lower.contains("://") {
        return refuse(
            "is a direct reference (`name @ URL`)",
            "use a version specifier from the package index instead, e.g. `pkg>=1.0`",
        );
    }
    if !spec.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return refuse(
            "is not a PEP 508 requirement",
            "a requirement starts with a package name, e.g. `fastapi>=0.110`",
        );
    }
    Ok(())
}

/// Splits a node dependency into (name, range); the range is `None` when absent.
/// Returns `None` when the entry is not of the `name[@range]` / `@scope/name[@range]` form.
#[must_use]
pub fn split_node_spec(spec: &str) -> Option<(&str, Option<&str>)> {
    let at = if let Some(rest) = spec.strip_prefix('@') {
        let slash = rest.find('/')? + 1;
        rest.get(slash..)?.find('@').map(|i| i + slash + 1)
    } else {
        spec.find('@')
    };
    match at {
        Some(i) => Some((spec.get(..i)?, Some(spec.get(i + 1..)?))),
        None => Some((spec, None)),
    }
}

fn valid_npm_part(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(['.', '_'])
        && s.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'.' | b'_' | b'~')
        })
}

/// Checks a node dependency (§9): `Err((message, hint))` when refused.
pub(crate) fn check_node(spec: &str) -> Result<(), (String, String)> {
    let hint = "write `name`, `name@range`, `@scope/name` or `@scope/name@range` with a registry \
                version range, e.g. `express@^4.19.2`";
    let refuse = |why: &str| Err((format!("`{spec}` {why}"), hint.to_string()));
    if spec.chars().any(char::is_whitespace) {
        return refuse("contains whitespace (a range must be one word)");
    }
    let lower = spec.to_ascii_lowercase();
    if lower.starts_with("git+")
        || lower.contains("://")
        || [
            "file:", "link:", "npm:", "http:", "https:", "github:", "git:",
        ]
        .iter()
        .any(|p| lower.starts_with(p))
    {
        return refuse("is a URL, git or local spec, which is not allowed");
    }
    let Some((name, range)) = split_node_spec(spec) else {
        return refuse("is not a valid package name");
    };
    let valid_name = name.len() <= 214
        && match name.strip_prefix('@') {
            Some(scoped) => scoped
                .split_once('/')
                .is_some_and(|(s, n)| valid_npm_part(s) && valid_npm_part(n)),
            None => valid_npm_part(name),
        };
    if !valid_name {
        if !name.starts_with('@') && name.contains('/') {
            return refuse("is a `user/repo` shorthand, which is not allowed");
        }
        return refuse("is not a valid npm package name (lowercase, URL-safe, ≤ 214 chars)");
    }
    if let Some(range) = range {
        if range.is_empty() {
            return refuse("has an empty version range after `@`");
        }
        if range.contains(':') || range.contains('/') {
            return refuse("has a version that is a URL, alias, git or path spec");
        }
    }
    Ok(())
}

/// The service name as npm/cargo want it: lowercased, every char outside `[a-z0-9-_]` → `-`.
#[must_use]
pub fn sanitize_service_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// The `package.json` generated for node deps when no `package.json` file block exists (§9):
/// keys sorted, 2-space indent, trailing newline.
#[must_use]
pub fn node_package_json(service: &str, deps: &[Dependency]) -> String {
    let mut map = BTreeMap::new();
    for dep in deps {
        let (name, range) = split_node_spec(&dep.spec).unwrap_or((dep.spec.as_str(), None));
        map.insert(name.to_string(), range.unwrap_or("latest").to_string());
    }
    let mut dependencies = serde_json::Map::new();
    for (name, range) in map {
        dependencies.insert(name, serde_json::Value::String(range));
    }
    let mut root = serde_json::Map::new();
    root.insert("dependencies".into(), dependencies.into());
    root.insert(
        "name".into(),
        serde_json::Value::String(sanitize_service_name(service)),
    );
    root.insert("private".into(), serde_json::Value::Bool(true));
    root.insert("version".into(), serde_json::Value::String("1.0.0".into()));
    let mut text =
        serde_json::to_string_pretty(&serde_json::Value::Object(root)).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_cut_comments() {
        let body = [
            (2, "  fastapi  # web"),
            (3, "# c"),
            (4, ""),
            (5, "uvicorn[standard]>=0.29"),
        ];
        let e = entries(&body);
        assert_eq!(e.len(), 2);
        assert_eq!((e[0].spec.as_str(), e[0].line), ("fastapi", 2));
        assert_eq!(
            (e[1].spec.as_str(), e[1].line),
            ("uvicorn[standard]>=0.29", 5)
        );
    }

    #[test]
    fn python_rules() {
        for ok in [
            "fastapi",
            "uvicorn[standard]>=0.29",
            "a; python_version>='3.8'",
        ] {
            assert!(check_python(ok).is_ok(), "{ok}");
        }
        for bad in [
            "--index-url http://x",
            "-r req.txt",
            "-e .",
            "pkg @ git+https://x/y",
            "git+https://x/y",
            "https://x/y.whl",
            "./local",
            "/abs",
            "~/x",
        ] {
            assert!(check_python(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn node_rules() {
        for ok in [
            "express",
            "express@^4.19.2",
            "@types/node",
            "@types/node@20",
            "a@>=1||<0.5",
        ] {
            assert!(check_node(ok).is_ok(), "{ok}");
        }
        for bad in [
            "git+https://x/y",
            "https://x/y.tgz",
            "file:../x",
            "x@file:../x",
            "x@npm:y@1",
            "user/repo",
            "Express",
            "x@",
            "x >=1",
            "@scope",
        ] {
            assert!(check_node(bad).is_err(), "{bad}");
        }
        assert_eq!(
            split_node_spec("@types/node@20"),
            Some(("@types/node", Some("20")))
        );
        assert_eq!(split_node_spec("express"), Some(("express", None)));
    }

    #[test]
    fn package_json() {
        let deps = [
            Dependency {
                spec: "express".into(),
                line: 1,
            },
            Dependency {
                spec: "@types/node@20".into(),
                line: 2,
            },
        ];
        assert_eq!(
            node_package_json("My Svc", &deps),
            "{\n  \"dependencies\": {\n    \"@types/node\": \"20\",\n    \"express\": \"latest\"\n  },\n  \"name\": \"my-svc\",\n  \"private\": true,\n  \"version\": \"1.0.0\"\n}\n"
        );
    }
}
