//! Ecosystem detection (spec §8).
use super::model::Runtime;
use crate::diagnostic::Code;

/// What detection looks at.
pub(crate) struct Input<'a> {
    /// Declared runtime scopes of deps blocks, with the block's line, in document order.
    pub scopes: Vec<(Runtime, usize)>,
    /// Normalized file paths with their block lines.
    pub files: Vec<(&'a str, usize)>,
    /// Number of dependency entries (any scope).
    pub dep_entries: usize,
    /// The run script.
    pub run: Option<&'a str>,
}

/// A detection failure: code, line, message, hint.
pub(crate) type Failure = (Code, usize, String, String);

const STATIC_EXT: [&str; 19] = [
    "html",
    "htm",
    "css",
    "js",
    "mjs",
    "map",
    "json",
    "svg",
    "png",
    "jpg",
    "jpeg",
    "gif",
    "webp",
    "ico",
    "txt",
    "xml",
    "webmanifest",
    "woff",
    "woff2",
];

fn extension(path: &str) -> Option<&str> {
    let name = path.rsplit('/').next().unwrap_or(path);
    let (stem, ext) = name.rsplit_once('.')?;
    (!stem.is_empty()).then_some(ext)
}

fn manifest(path: &str) -> Option<Runtime> {
    Some(match path {
        "package.json" => Runtime::Node,
        "go.mod" => Runtime::Go,
        "Cargo.toml" => Runtime::Rust,
        "composer.json" => Runtime::Php,
        "requirements.txt" | "pyproject.toml" | "setup.py" => Runtime::Python,
        _ => return None,
    })
}

fn source(path: &str) -> Option<Runtime> {
    Some(match extension(path)? {
        "py" => Runtime::Python,
        "js" | "mjs" | "cjs" | "ts" => Runtime::Node,
        "go" => Runtime::Go,
        "rs" => Runtime::Rust,
        "php" => Runtime::Php,
        _ => return None,
    })
}

/// Maps a program name (directory part dropped) to a runtime (§8 rule 4).
fn program(word: &str) -> Option<Runtime> {
    let name = word.rsplit('/').next().unwrap_or(word);
    let python_n = name
        .strip_prefix("python3.")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    Some(match name {
        _ if python_n => Runtime::Python,
        "python" | "python3" | "uvicorn" | "gunicorn" | "hypercorn" | "flask" | "streamlit" => {
            Runtime::Python
        }
        "node" | "npm" | "npx" | "yarn" | "pnpm" | "tsx" | "ts-node" => Runtime::Node,
        "go" => Runtime::Go,
        "cargo" | "rustc" => Runtime::Rust,
        "php" => Runtime::Php,
        _ => return None,
    })
}

fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        let mut b = name.bytes();
        b.next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
            && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
    })
}

/// Runtimes of the simple commands of a run script, in order (§8 rule 4).
pub(crate) fn run_programs(run: &str) -> impl Iterator<Item = Runtime> + '_ {
    run.split(['\n', ';', '|', '&'])
        .filter_map(|cmd| {
            cmd.split_whitespace()
                .find(|w| !is_assignment(w) && !matches!(*w, "exec" | "env" | "nohup"))
        })
        .filter_map(program)
}

fn describe(list: &[Runtime]) -> String {
    list.iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Decides the runtime with the first rule of §8 that applies.
pub(crate) fn detect(input: &Input<'_>) -> Result<Runtime, Failure> {
    // Rule 1: declared scopes.
    if let Some(&(first, _)) = input.scopes.first() {
        if let Some(&(other, line)) = input.scopes.iter().find(|(r, _)| *r != first) {
            return Err((
                Code::AmbiguousEcosystem,
                line,
                format!("deps blocks declare two runtimes: {first} and {other}"),
                "a service has one runtime; split it into two services (two READMEs)".into(),
            ));
        }
        return Ok(first);
    }
    // Rule 2: manifests at the top level.
    let mut manifests: Vec<(Runtime, usize)> = Vec::new();
    for &(path, line) in &input.files {
        if let Some(r) = manifest(path) {
            if !manifests.iter().any(|(m, _)| *m == r) {
                manifests.push((r, line));
            }
        }
    }
    match manifests.as_slice() {
        [] => {}
        [(only, _)] => return Ok(*only),
        several => {
            let candidates: Vec<Runtime> = several.iter().map(|(r, _)| *r).collect();
            if let Some(r) = input
                .run
                .and_then(|run| run_programs(run).find(|r| candidates.contains(r)))
            {
                return Ok(r);
            }
            return Err((
                Code::AmbiguousEcosystem,
                several.get(1).map_or(0, |(_, l)| *l),
                format!("manifests of several runtimes: {}", describe(&candidates)),
                "keep the manifest of one runtime, or start the service with that runtime's program in the run block".into(),
            ));
        }
    }
    let run_runtime = input.run.and_then(|run| run_programs(run).next());
    // Rule 3: static site.
    let has_html = input
        .files
        .iter()
        .any(|(p, _)| matches!(extension(p), Some("html" | "htm")));
    let all_static = input
        .files
        .iter()
        .all(|(p, _)| extension(p).is_some_and(|e| STATIC_EXT.contains(&e)));
    if input.dep_entries == 0 && has_html && all_static && run_runtime != Some(Runtime::Node) {
        return Ok(Runtime::Static);
    }
    // Rule 4: run program.
    if let Some(r) = run_runtime {
        return Ok(r);
    }
    // Rule 5: source extensions.
    let mut sources: Vec<(Runtime, usize)> = Vec::new();
    for &(path, line) in &input.files {
        if let Some(r) = source(path) {
            if !sources.iter().any(|(s, _)| *s == r) {
                sources.push((r, line));
            }
        }
    }
    match sources.as_slice() {
        [(only, _)] => Ok(*only),
        [] => Err((
            Code::UnknownEcosystem,
            0,
            "cannot tell the runtime of this README".into(),
            "add a deps block with a scope (e.g. ```` ```python markpact:deps ````), a manifest file block (requirements.txt, package.json, go.mod, Cargo.toml, composer.json) or a run block".into(),
        )),
        several => Err((
            Code::AmbiguousEcosystem,
            several.get(1).map_or(0, |(_, l)| *l),
            format!(
                "source files of several runtimes: {}",
                describe(&several.iter().map(|(r, _)| *r).collect::<Vec<_>>())
            ),
            "add a run block or a deps block that names the runtime".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(files: &[&str], run: Option<&str>) -> Result<Runtime, Code> {
        detect(&Input {
            scopes: vec![],
            files: files.iter().enumerate().map(|(i, p)| (*p, i + 1)).collect(),
            dep_entries: 0,
            run,
        })
        .map_err(|e| e.0)
    }

    #[test]
    fn rules() {
        assert_eq!(d(&["go.mod", "main.go"], None), Ok(Runtime::Go));
        assert_eq!(d(&["Cargo.toml", "src/main.rs"], None), Ok(Runtime::Rust));
        assert_eq!(
            d(
                &["public/index.php"],
                Some("php -S 0.0.0.0:$PORT -t public")
            ),
            Ok(Runtime::Php)
        );
        assert_eq!(
            d(
                &["index.html", "style.css"],
                Some("python3 -m http.server $PORT")
            ),
            Ok(Runtime::Static)
        );
        assert_eq!(
            d(&["index.html", "app.js"], Some("node server.js")),
            Ok(Runtime::Node)
        );
        assert_eq!(d(&["server.js"], Some("node server.js")), Ok(Runtime::Node));
        assert_eq!(
            d(&["main.py"], Some("PORT=1 exec .venv/bin/uvicorn main:app")),
            Ok(Runtime::Python)
        );
        assert_eq!(d(&["a.py", "b.go"], None), Err(Code::AmbiguousEcosystem));
        assert_eq!(d(&["README.txt"], None), Err(Code::UnknownEcosystem));
        assert_eq!(
            d(
                &["package.json", "requirements.txt"],
                Some("cd x && npm start")
            ),
            Ok(Runtime::Node)
        );
        assert_eq!(
            d(&["package.json", "requirements.txt"], None),
            Err(Code::AmbiguousEcosystem)
        );
        assert_eq!(
            d(&["main.py"], Some("python3.11 main.py")),
            Ok(Runtime::Python)
        );
    }
}
