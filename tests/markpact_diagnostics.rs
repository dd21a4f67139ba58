//! One test (at least) per diagnostic code the markpact parser and validator emit
// Test helpers outside #[test] fns panic on purpose to fail the calling test.
#![allow(clippy::panic)]
//! (markpact-spec §13): each asserts the code and the line.
use pactown::markpact::{self, Limits, Markpact};
use pactown::{Code, Diagnostic, Severity};
use std::path::Path;

const README: &str = "services/api/README.md";

fn parse(doc: &[u8]) -> Result<Markpact, pactown::Diagnostics> {
    markpact::parse(Path::new(README), doc)
}

#[track_caller]
fn ok(doc: &str) -> Markpact {
    match parse(doc.as_bytes()) {
        Ok(m) => m,
        Err(d) => panic!("expected ok, got:\n{d}"),
    }
}

/// Errors as (code, line); also checks that every diagnostic names the README and has a hint.
#[track_caller]
fn errors_of(doc: &[u8]) -> Vec<(Code, usize)> {
    let diags = match parse(doc) {
        Ok(m) => panic!("expected errors, got {m:#?}"),
        Err(d) => d,
    };
    for d in &diags.0 {
        check_diag(d);
    }
    diags.errors().map(|e| (e.code, e.line)).collect()
}

#[track_caller]
fn errors(doc: &str) -> Vec<(Code, usize)> {
    errors_of(doc.as_bytes())
}

#[track_caller]
fn check_diag(d: &Diagnostic) {
    assert_eq!(d.file, Path::new(README));
    assert!(!d.message.is_empty());
    assert!(d.hint.as_deref().is_some_and(|h| !h.is_empty()), "{d}");
}

#[track_caller]
fn warnings(doc: &str) -> Vec<(Code, usize)> {
    let m = ok(doc);
    for w in &m.warnings {
        check_diag(w);
        assert_eq!(w.severity, Severity::Warning);
    }
    m.warnings.iter().map(|w| (w.code, w.line)).collect()
}

#[track_caller]
fn validation(doc: &str) -> Vec<(Code, usize)> {
    let v = markpact::validate(&ok(doc));
    for d in &v {
        check_diag(d);
    }
    v.iter().map(|d| (d.code, d.line)).collect()
}

const RUN: &str = "\n```bash markpact:run\npython3 main.py\n```\n";

// ----- errors -----

#[test]
fn invalid_encoding() {
    assert_eq!(
        errors_of(b"# x\r\n\r\nok\n\xff\xfe\n"),
        [(Code::InvalidEncoding, 4)]
    );
}

#[test]
fn bom_is_dropped() {
    let m = ok("\u{feff}```python markpact:file path=main.py\nx = 1\n```\n");
    assert_eq!(m.files[0].line, 1);
}

#[test]
fn limit_exceeded() {
    let limits = Limits {
        max_bytes: 100,
        max_files: 2,
        max_path: 10,
    };
    let big = "x".repeat(101);
    let e = markpact::parse_with(Path::new(README), big.as_bytes(), &limits).unwrap_err();
    assert_eq!(e.0[0].code, Code::LimitExceeded);

    let three = "```text markpact:file path=a.txt\n```\n```text markpact:file path=b.txt\n```\n```text markpact:file path=c.txt\n```\n";
    let limits = Limits {
        max_bytes: 1 << 20,
        ..limits
    };
    let e = markpact::parse_with(Path::new(README), three.as_bytes(), &limits).unwrap_err();
    assert_eq!(
        e.errors().map(|d| (d.code, d.line)).collect::<Vec<_>>(),
        [(Code::LimitExceeded, 5)]
    );
    let long = "```text markpact:file path=abcdefghijk.txt\n```\n";
    let e = markpact::parse_with(Path::new(README), long.as_bytes(), &limits).unwrap_err();
    assert_eq!(e.0[0].code, Code::LimitExceeded);
    assert_eq!(e.0[0].line, 1);
    // Default limit: 2 MiB.
    let huge = vec![b'a'; 2 * 1024 * 1024 + 1];
    assert_eq!(errors_of(&huge), [(Code::LimitExceeded, 0)]);
}

#[test]
fn unclosed_fence() {
    assert_eq!(
        errors("a\n\n~~~python markpact:file path=a.py\nx\n```\n"),
        [(Code::UnclosedFence, 3)]
    );
}

#[test]
fn malformed_info() {
    assert_eq!(
        errors("\n```python markpact: path=a.py\nx\n```\n"),
        [(Code::MalformedInfo, 2)]
    );
    assert_eq!(
        errors("```python markpact:file path=\"a.py\nx\n```\n"),
        [(Code::MalformedInfo, 1)]
    );
    assert_eq!(
        errors("```python markpact:file =a.py\nx\n```\n"),
        [(Code::MalformedInfo, 1)]
    );
    assert_eq!(
        errors("```python markpact:file Path=a.py\nx\n```\n"),
        [(Code::MalformedInfo, 1)]
    );
}

#[test]
fn duplicate_attribute() {
    assert_eq!(
        errors("x\n```python markpact:file path=a.py path=a.py\nx\n```\n"),
        [(Code::DuplicateAttribute, 2)]
    );
}

#[test]
fn missing_path() {
    assert_eq!(
        errors("```markpact:file python\nx\n```\n"),
        [(Code::MissingPath, 1)]
    );
}

#[test]
fn invalid_path() {
    for p in [
        "path=",
        "path='a.py'",
        "path=a\";b",
        "path=a//b.py",
        "path=%2e%2e/x",
        "path=ab:c",
    ] {
        assert_eq!(
            errors(&format!("```python markpact:file {p}\nx\n```\n")),
            [(Code::InvalidPath, 1)],
            "{p}"
        );
    }
}

#[test]
fn absolute_path() {
    assert_eq!(
        errors("```python markpact:file path=C:/x.py\nx\n```\n"),
        [(Code::AbsolutePath, 1)]
    );
}

#[test]
fn path_traversal() {
    assert_eq!(
        errors("```python markpact:file path=./../x.py\nx\n```\n"),
        [(Code::PathTraversal, 1)]
    );
}

#[test]
fn reserved_path() {
    assert_eq!(
        errors("```text markpact:file path=.markpact/run.sh\nx\n```\n"),
        [(Code::ReservedPath, 1)]
    );
}

#[test]
fn duplicate_path() {
    assert_eq!(
        errors(
            "```python markpact:file path=a.py\n```\n```python markpact:file path=./a.py\n```\n"
        ),
        [(Code::DuplicatePath, 3)]
    );
}

#[test]
fn path_conflict() {
    // The directory's file comes first, the plain file later.
    assert_eq!(
        errors(
            "```python markpact:file path=app/main.py\n```\n```text markpact:file path=app\n```\n"
        ),
        [(Code::PathConflict, 3)]
    );
}

#[test]
fn duplicate_block() {
    for kind in ["build", "target"] {
        let doc = format!(
            "```python markpact:file path=main.py\n```\n```yaml markpact:{kind}\n```\n```yaml markpact:{kind}\n```\n{RUN}"
        );
        assert_eq!(errors(&doc), [(Code::DuplicateBlock, 5)], "{kind}");
    }
}

#[test]
fn empty_run() {
    assert_eq!(
        errors("```python markpact:file path=main.py\n```\n\n```bash markpact:run\n\n   \n```\n"),
        [(Code::EmptyRun, 4)]
    );
}

#[test]
fn invalid_test_line() {
    let doc = format!(
        "```python markpact:file path=main.py\n```\n{RUN}\n```http markpact:test\n# comment\nGET /health\nGET health\nPOST /x BODY {{bad}} EXPECT 201\nGET /y EXPECT 2000\n```\n"
    );
    assert_eq!(
        errors(&doc),
        [
            (Code::InvalidTestLine, 11),
            (Code::InvalidTestLine, 12),
            (Code::InvalidTestLine, 13)
        ]
    );
}

#[test]
fn invalid_target() {
    let doc = format!(
        "```python markpact:file path=main.py\n```\n{RUN}\n```yaml markpact:target\nplatform: web\n  bad: [\n```\n"
    );
    // The YAML error is reported at its own line inside the body.
    assert_eq!(errors(&doc), [(Code::InvalidTarget, 10)]);
    let doc = format!(
        "```python markpact:file path=main.py\n```\n{RUN}\n```yaml markpact:target\n- web\n```\n"
    );
    assert_eq!(errors(&doc), [(Code::InvalidTarget, 8)]);
    let doc = format!("```python markpact:file path=main.py\n```\n{RUN}\n```yaml markpact:target\nplatform: tv\n```\n");
    assert_eq!(errors(&doc), [(Code::InvalidTarget, 8)]);
}

#[test]
fn invalid_dependency_node() {
    let doc = "```javascript markpact:deps\nexpress\ngit+https://example.invalid/x.git\nuser/repo\nleft-pad@file:../lp\nExpress\n```\n";
    assert_eq!(
        errors(doc),
        [
            (Code::InvalidDependency, 3),
            (Code::InvalidDependency, 4),
            (Code::InvalidDependency, 5),
            (Code::InvalidDependency, 6)
        ]
    );
}

#[test]
fn invalid_dependency_python_with_detected_scope() {
    // Unspecified scope takes the detected runtime (python, from the run program).
    let doc = "```text markpact:deps\nflask\n-e .\n./local\n```\n\n```bash markpact:run\npython3 app.py\n```\n";
    assert_eq!(
        errors(doc),
        [(Code::InvalidDependency, 3), (Code::InvalidDependency, 4)]
    );
}

#[test]
fn manifest_conflict_python() {
    let doc = "```text markpact:file path=requirements.txt\nflask\n```\n\n```python markpact:deps\nflask\n```\n";
    assert_eq!(errors(doc), [(Code::ManifestConflict, 5)]);
}

#[test]
fn ambiguous_ecosystem() {
    // By manifests, no run to break the tie.
    assert_eq!(
        errors("```json markpact:file path=package.json\n{}\n```\n```text markpact:file path=go.mod\nmodule x\n```\n"),
        [(Code::AmbiguousEcosystem, 4)]
    );
    // By source extensions.
    assert_eq!(
        errors("```python markpact:file path=a.py\n```\n```go markpact:file path=b.go\n```\n"),
        [(Code::AmbiguousEcosystem, 3)]
    );
}

#[test]
fn unknown_ecosystem() {
    assert_eq!(
        errors("```text markpact:file path=notes.txt\nhello\n```\n"),
        [(Code::UnknownEcosystem, 0)]
    );
}

#[test]
fn no_blocks() {
    assert_eq!(errors(""), [(Code::NoBlocks, 0)]);
    assert_eq!(
        errors("# Title\n\n    ```python markpact:run\n"),
        [(Code::NoBlocks, 0)]
    );
}

#[test]
fn all_errors_reported_sorted_by_line() {
    let doc = "```python markpact:file path=/abs.py\n```\n\n```python markpact:file\n```\n\n```python markpact:FILE path=a.py\n```\n\n```bash markpact:run\n```\n";
    assert_eq!(
        errors(doc),
        [
            (Code::AbsolutePath, 1),
            (Code::MissingPath, 4),
            (Code::MalformedInfo, 7),
            (Code::EmptyRun, 10)
        ]
    );
}

// ----- validation -----

#[test]
fn missing_run() {
    assert_eq!(
        validation("```python markpact:file path=main.py\nx\n```\n"),
        [(Code::MissingRun, 0)]
    );
}

#[test]
fn unsupported_dependencies() {
    // go.mod require, pointing at the directive's line
    let doc = "```text markpact:file path=go.mod\nmodule x\nrequire github.com/a/b v1.0.0\n```\n\n```go markpact:file path=main.go\npackage main\n```\n\n```bash markpact:run\ngo run .\n```\n";
    assert_eq!(validation(doc), [(Code::UnsupportedDependencies, 3)]);
    // …unless the modules are vendored in file blocks
    let vendored = doc.replace(
        "```bash markpact:run",
        "```text markpact:file path=vendor/modules.txt\n# github.com/a/b v1.0.0\n## explicit\ngithub.com/a/b\n```\n\n```bash markpact:run",
    );
    assert!(validation(&vendored).is_empty());
    // Cargo.toml [dependencies] are fetched from the crate registry: fine
    let doc = "```toml markpact:file path=Cargo.toml\n[package]\nname = \"x\"\n\n[dependencies]\nserde = \"1\"\n```\n\n```bash markpact:run\ncargo run --release\n```\n";
    assert!(validation(doc).is_empty());
    // composer require beyond php/ext-*
    let doc = "```json markpact:file path=composer.json\n{\"require\": {\"php\": \">=8.2\", \"ext-json\": \"*\", \"slim/slim\": \"4\"}}\n```\n\n```bash markpact:run\nphp -S 0.0.0.0:8000\n```\n";
    assert_eq!(validation(doc), [(Code::UnsupportedDependencies, 1)]);
    // rust deps entries are fine too
    let doc = "```rust markpact:deps\nserde = \"1\"\n```\n\n```bash markpact:run\ncargo run\n```\n";
    assert!(validation(doc).is_empty());
    // system scope
    let doc = "```text markpact:deps system\ncurl\n```\n\n```python markpact:file path=main.py\n```\n\n```bash markpact:run\npython3 main.py\n```\n";
    assert_eq!(validation(doc), [(Code::UnsupportedDependencies, 1)]);
    // standard-library-only manifests pass
    let doc = "```text markpact:file path=go.mod\nmodule x\n\ngo 1.19\n```\n\n```bash markpact:run\ngo run .\n```\n";
    assert!(validation(doc).is_empty());
}

#[test]
fn unsupported_target() {
    let doc = format!(
        "```python markpact:file path=main.py\n```\n{RUN}\n```yaml markpact:target\nplatform: desktop\nframework: tauri\n```\n"
    );
    assert_eq!(validation(&doc), [(Code::UnsupportedTarget, 8)]);
    let doc = format!("```python markpact:file path=main.py\n```\n{RUN}\n```yaml markpact:target\nplatform: web\n```\n");
    assert!(validation(&doc).is_empty());
}

#[test]
fn missing_env() {
    let doc = format!(
        "```python markpact:file path=main.py\n```\n{RUN}\n```text markpact:file path=.env.example\n# comment\nAPI_KEY=\nexport DB_URL=postgres://x\nLOG_LEVEL=info\n```\n"
    );
    let m = ok(&doc);
    let provided = |name: &str| name == "LOG_LEVEL";
    let v = markpact::missing_env(&m, &provided);
    assert_eq!(
        v.iter().map(|d| (d.code, d.line)).collect::<Vec<_>>(),
        [(Code::MissingEnv, 8), (Code::MissingEnv, 8)]
    );
    assert!(v[0].message.contains("API_KEY"));
    assert!(v[1].message.contains("DB_URL"));
    assert!(markpact::missing_env(&m, &|_| true).is_empty());
}

// ----- warnings -----

#[test]
fn unknown_kind() {
    assert_eq!(
        warnings(&format!(
            "```yaml markpact:deploy\n```\n```python markpact:file path=main.py\n```\n{RUN}"
        )),
        [(Code::UnknownKind, 1)]
    );
}

#[test]
fn a_typo_of_a_kind_gets_a_did_you_mean() {
    let hint = |kind: &str| {
        let m = ok(&format!(
            "```text markpact:{kind}\nx\n```\n```python markpact:file path=main.py\n```\n{RUN}"
        ));
        assert_eq!(m.warnings.len(), 1, "{kind}");
        assert_eq!(m.warnings[0].code, Code::UnknownKind);
        m.warnings[0].hint.clone().unwrap_or_default()
    };
    for (typo, kind) in [
        ("dep", "deps"),
        ("files", "file"),
        ("rnu", "run"),
        ("tests", "test"),
    ] {
        let h = hint(typo);
        assert!(
            h.starts_with(&format!("did you mean `markpact:{kind}`?")),
            "{typo}: {h}"
        );
    }
    // far from every kind: only the list
    let h = hint("analysis");
    assert!(h.starts_with("known kinds: "), "{h}");
}

#[test]
fn run_blocks_listening_elsewhere_get_warnings() {
    let listen = |run: &str, port: Option<u16>| -> Vec<(Code, usize)> {
        let doc = ok(&format!(
            "```python markpact:file path=main.py\nx\n```\n\n```bash markpact:run\n{run}\n```\n"
        ));
        markpact::listen_warnings(&doc, "api", port)
            .iter()
            .map(|d| {
                assert!(!d.is_error() && d.hint.is_some());
                (d.code, d.line)
            })
            .collect()
    };
    // loopback only, in the spellings servers use
    for run in [
        "uvicorn main:app --host 127.0.0.1 --port 8001",
        "uvicorn main:app --host=localhost --port=8001",
        "gunicorn -b 127.0.0.1:8001 main:app",
        "php -S localhost:8001",
        "python3 -m http.server 8001 --bind 127.0.0.1",
    ] {
        assert_eq!(listen(run, Some(8001)), [(Code::LoopbackBind, 6)], "{run}");
    }
    // another port than the service's
    for run in [
        "uvicorn main:app --host 0.0.0.0 --port 9000",
        "PORT=1 flask run -p 9000 --host=0.0.0.0",
        "gunicorn -b 0.0.0.0:9000 main:app",
        "python3 -m http.server 9000",
        "cd src\nstreamlit run app.py --server.port 9000",
    ] {
        let w = listen(run, Some(8001));
        assert_eq!(w.len(), 1, "{run}: {w:?}");
        assert_eq!(w[0].0, Code::PortMismatch, "{run}");
    }
    // the service's port, a variable, no port at all, or not a server: nothing
    for run in [
        "uvicorn main:app --host 0.0.0.0 --port 8001",
        "uvicorn main:app --host 0.0.0.0 --port ${MARKPACT_PORT:-8000}",
        "python3 -m http.server $MARKPACT_PORT",
        "mkdir -p 9000 && node server.js",
        "python3 worker.py",
    ] {
        assert_eq!(listen(run, Some(8001)), [], "{run}");
    }
    assert_eq!(listen("python3 -m http.server 9000", None), []);
}

#[test]
fn unknown_attribute() {
    assert_eq!(
        warnings("```python markpact:file path=main.py owner=me\n```\n\n```bash markpact:run path=x\npython3 main.py\n```\n"),
        [(Code::UnknownAttribute, 1), (Code::UnknownAttribute, 4)]
    );
}

#[test]
fn unsupported_attribute() {
    assert_eq!(
        warnings(&format!(
            "```python markpact:file path=main.py mode=0755 encoding=utf-8\n```\n{RUN}"
        )),
        [
            (Code::UnsupportedAttribute, 1),
            (Code::UnsupportedAttribute, 1)
        ]
    );
}

#[test]
fn extra_word() {
    assert_eq!(
        warnings("```markpact:deps python extra\nflask\n```\n"),
        [(Code::ExtraWord, 1)]
    );
}

#[test]
fn tag_position() {
    assert_eq!(
        warnings(&format!("```python main markpact:file path=x.py\n```\n```python markpact:file path=main.py\n```\n{RUN}")),
        [(Code::TagPosition, 1)]
    );
}

#[test]
fn nested_block_ignored() {
    assert_eq!(
        warnings(&format!("- step\n\n  ```python markpact:file path=x.py\n  x\n  ```\n\n```python markpact:file path=main.py\n```\n{RUN}")),
        [(Code::NestedBlockIgnored, 3)]
    );
}

#[test]
fn unknown_scope() {
    assert_eq!(
        warnings(
            "```toml markpact:deps\nflask\n```\n\n```bash markpact:run\npython3 app.py\n```\n"
        ),
        [(Code::UnknownScope, 1)]
    );
    let m = ok(&format!("```python markpact:file path=main.py\n```\n{RUN}\n```text markpact:test smoke\nGET /health\n```\n"));
    assert_eq!(
        m.warnings
            .iter()
            .map(|w| (w.code, w.line))
            .collect::<Vec<_>>(),
        [(Code::UnknownScope, 8)]
    );
    assert_eq!(m.tests[0].mode, markpact::TestMode::Http);
}

#[test]
fn scope_mismatch() {
    let m = ok("```python markpact:deps node\nexpress\n```\n");
    assert_eq!(m.runtime, markpact::Runtime::Node);
    assert_eq!(
        m.warnings
            .iter()
            .map(|w| (w.code, w.line))
            .collect::<Vec<_>>(),
        [(Code::ScopeMismatch, 1)]
    );
}

#[test]
fn empty_deps() {
    assert_eq!(
        warnings(&format!("```python markpact:deps\n# nothing yet\n```\n```python markpact:file path=main.py\n```\n{RUN}")),
        [(Code::EmptyDeps, 1)]
    );
}

#[test]
fn case_collision() {
    assert_eq!(
        warnings(&format!("```python markpact:file path=main.py\n```\n```python markpact:file path=Main.py\n```\n{RUN}")),
        [(Code::CaseCollision, 3)]
    );
}

#[test]
fn shell_test_mode_from_lang() {
    let m = ok(&format!("```python markpact:file path=main.py\n```\n{RUN}\n```bash markpact:test\ncurl -fsS localhost:$PORT/health\n```\n"));
    assert_eq!(m.tests[0].mode, markpact::TestMode::Shell);
    assert_eq!(
        m.tests[0].texts().collect::<Vec<_>>(),
        ["curl -fsS localhost:$PORT/health"]
    );
}

#[test]
fn http_method_reported_uppercase() {
    let m = ok(&format!("```python markpact:file path=main.py\n```\n{RUN}\n```http markpact:test\nget /health EXPECT 200\n```\n"));
    assert_eq!(
        m.tests[0].texts().collect::<Vec<_>>(),
        ["GET /health EXPECT 200"]
    );
}

#[test]
fn failure_json_lists_errors_and_warnings() {
    let r = parse(b"```yaml markpact:deploy\n```\n```python markpact:file path=/x.py\n```\n");
    let v = markpact::canonical_json(&r);
    assert_eq!(
        v,
        serde_json::json!({
            "ok": false,
            "errors": [{"code": "AbsolutePath", "line": 3, "message": r.as_ref().unwrap_err().errors().next().unwrap().message}],
            "warnings": [{"code": "UnknownKind", "line": 1}]
        })
    );
}

#[test]
fn installs_in_the_run_block_are_warnings_with_a_hint() {
    let doc = "```python markpact:file path=main.py\nx\n```\n\n```bash markpact:run\n# set up\npip install fastapi uvicorn && uvicorn main:app --reload\n```\n";
    assert_eq!(validation(doc), [(Code::InstallAtStart, 7)]);
    let d = &markpact::validate(&ok(doc))[0];
    assert!(!d.is_error());
    assert!(
        d.message.contains("pip install fastapi uvicorn"),
        "{}",
        d.message
    );
    assert!(
        d.hint
            .as_deref()
            .unwrap_or("")
            .contains("markpact:deps python"),
        "{d:?}"
    );
    let node = "```js markpact:file path=server.js\nx\n```\n\n```bash markpact:run\nnpm ci\nnpm run build\nnpm start\n```\n";
    assert_eq!(validation(node), [(Code::InstallAtStart, 6)]);
    // compiling is not installing
    let go = "```go markpact:file path=main.go\npackage main\n```\n\n```bash markpact:run\ngo build -o bin/x . && ./bin/x\n```\n";
    assert!(validation(go).is_empty());
}
