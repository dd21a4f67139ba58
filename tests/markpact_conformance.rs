//! One test per conformance case of markpact-spec §16.
// Test helpers outside #[test] fns panic on purpose to fail the calling test.
#![allow(clippy::panic)]
use pactown::markpact::{self, Markpact, Runtime, TestMode};
use pactown::Code;
use serde_json::json;
use std::path::Path;

const README: &str = "README.md";

fn parse(doc: &str) -> Result<Markpact, pactown::Diagnostics> {
    markpact::parse(Path::new(README), doc.as_bytes())
}

#[track_caller]
fn ok(doc: &str) -> Markpact {
    match parse(doc) {
        Ok(m) => m,
        Err(d) => panic!("expected ok, got:\n{d}"),
    }
}

/// The errors as (code, line).
#[track_caller]
fn errors(doc: &str) -> Vec<(Code, usize)> {
    match parse(doc) {
        Ok(m) => panic!("expected errors, got {m:#?}"),
        Err(d) => d.errors().map(|e| (e.code, e.line)).collect(),
    }
}

fn warnings(m: &Markpact) -> Vec<(Code, usize)> {
    m.warnings.iter().map(|w| (w.code, w.line)).collect()
}

fn dep_specs(m: &Markpact) -> Vec<&str> {
    m.deps.iter().map(|d| d.spec.as_str()).collect()
}

const CASE1: &str = "# Demo\n\
\n\
```python markpact:deps\n\
fastapi\n\
uvicorn\n\
httpx\n\
```\n\
\n\
```python markpact:file path=main.py\n\
from fastapi import FastAPI\n\
app = FastAPI()\n\
```\n\
\n\
```bash markpact:run\n\
uvicorn main:app --port ${MARKPACT_PORT:-8001}\n\
```\n";

#[test]
fn case_01_no_meta_keeps_every_dep() {
    let m = ok(CASE1);
    assert_eq!(m.runtime, Runtime::Python);
    assert_eq!(dep_specs(&m), ["fastapi", "uvicorn", "httpx"]);
    assert_eq!(m.deps[0].line, 4);
    let v = markpact::canonical_json(&Ok(m));
    let body = b"from fastapi import FastAPI\napp = FastAPI()\n";
    assert_eq!(
        v,
        json!({
            "ok": true,
            "ecosystem": "python",
            "files": [{
                "path": "main.py", "line": 9, "lang": "python", "bytes": body.len(),
                "sha256": sha256_hex(body)
            }],
            "deps": ["fastapi", "uvicorn", "httpx"],
            "dev_deps": [],
            "run": "uvicorn main:app --port ${MARKPACT_PORT:-8001}",
            "build": null,
            "tests": [],
            "warnings": []
        })
    );
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[test]
fn case_02_run_keeps_all_lines_and_does_not_swallow() {
    let m = ok("```bash markpact:run\nnpm install\nnpm start\n```\n");
    assert_eq!(m.run.unwrap().body, "npm install\nnpm start");
    assert_eq!(m.runtime, Runtime::Node);

    let m = ok("```bash markpact:run\ngo run .\n```\n\n```text markpact:test http\nGET /health EXPECT 200\n```\n");
    assert_eq!(m.run.as_ref().unwrap().body, "go run .");
    assert_eq!(m.tests.len(), 1);
    assert_eq!(m.tests[0].mode, TestMode::Http);
    assert_eq!(m.tests[0].line, 5);
    assert_eq!(
        m.tests[0].texts().collect::<Vec<_>>(),
        ["GET /health EXPECT 200"]
    );
    assert_eq!(m.tests[0].lines[0].line, 6);
}

#[test]
fn case_03_legacy_file() {
    let doc = "```markpact:file python path=app.py\nprint('hi')\n```\n";
    let m = ok(doc);
    assert_eq!(m.files.len(), 1);
    assert_eq!(m.files[0].path, "app.py");
    assert_eq!(m.files[0].lang, None);
    let (blocks, diags) = markpact::blocks(Path::new(README), doc.as_bytes());
    assert!(diags.0.is_empty());
    assert_eq!(blocks[0].scope.as_deref(), Some("python"));
    assert_eq!(blocks[0].lang, None);
    // Identical to the current form except for `lang`.
    let current = ok("```python markpact:file path=app.py\nprint('hi')\n```\n");
    assert_eq!(current.files[0].lang.as_deref(), Some("python"));
    assert_eq!(current.files[0].contents, m.files[0].contents);
    assert_eq!(current.runtime, m.runtime);
}

#[test]
fn case_04_legacy_deps_and_run() {
    let m =
        ok("```markpact:deps python\nflask\n```\n\n```markpact:run python\npython app.py\n```\n");
    assert_eq!(m.runtime, Runtime::Python);
    assert_eq!(dep_specs(&m), ["flask"]);
    let run = m.run.unwrap();
    assert_eq!(run.body, "python app.py");
    assert_eq!(run.lang.as_deref(), Some("python"));
}

#[test]
fn case_05_meta_scope_overrides_text_lang() {
    let m = ok("```text markpact:deps node\nexpress@^4.19.2\n```\n\n```bash markpact:run\nnode server.js\n```\n");
    assert_eq!(m.runtime, Runtime::Node);
    assert!(warnings(&m).is_empty());
    let pj = markpact::node_package_json("web", &m.deps);
    let v: serde_json::Value = serde_json::from_str(&pj).unwrap();
    assert_eq!(v["dependencies"], json!({"express": "^4.19.2"}));
}

#[test]
fn case_06_javascript_deps_and_generated_package_json() {
    let m = ok("```javascript markpact:deps\nexpress\n@types/node@20\n```\n");
    assert_eq!(m.runtime, Runtime::Node);
    assert_eq!(dep_specs(&m), ["express", "@types/node@20"]);
    let pj = markpact::node_package_json("Web App", &m.deps);
    assert_eq!(
        pj,
        "{\n  \"dependencies\": {\n    \"@types/node\": \"20\",\n    \"express\": \"latest\"\n  },\n  \"name\": \"web-app\",\n  \"private\": true,\n  \"version\": \"1.0.0\"\n}\n"
    );
}

#[test]
fn case_07_file_without_path() {
    assert_eq!(
        errors("text\n\n```python markpact:file\nprint(1)\n```\n"),
        [(Code::MissingPath, 3)]
    );
}

#[test]
fn case_08_duplicate_attribute() {
    assert_eq!(
        errors("```python markpact:file path=a.py path=b.py\nx = 1\n```\n"),
        [(Code::DuplicateAttribute, 1)]
    );
}

#[test]
fn case_09_quoted_path() {
    let m = ok("```python markpact:file path=\"src/a.py\"\nx = 1\n```\n");
    assert_eq!(m.files[0].path, "src/a.py");
    assert_eq!(
        errors("```python markpact:file path=\"my app.py\"\nx = 1\n```\n"),
        [(Code::InvalidPath, 1)]
    );
}

#[test]
fn case_10_malformed_info() {
    assert_eq!(
        errors("```markpact:file:main.py\nx = 1\n```\n"),
        [(Code::MalformedInfo, 1)]
    );
    assert_eq!(
        errors("```python markpact:file path:main.py\nx = 1\n```\n"),
        [(Code::MalformedInfo, 1)]
    );
}

#[test]
fn case_11_uppercase_kind() {
    let err = parse("```python markpact:FILE path=a.py\nx = 1\n```\n").unwrap_err();
    let e: Vec<_> = err.errors().collect();
    assert_eq!(e.len(), 1);
    assert_eq!((e[0].code, e[0].line), (Code::MalformedInfo, 1));
    assert!(e[0].hint.as_deref().unwrap().contains("lowercase"));
}

/// Info strings seen in public READMEs (issue 14 item 8).
#[test]
fn public_readme_info_strings() {
    let m = ok(concat!(
        "```text markpact:deps python\nfastapi\n```\n",
        "```text markpact:deps python scope=dev\npytest>=8\nhttpx\n```\n",
        "```python markpact:file path=main.py\nprint(1)\n```\n",
        "```bash markpact:run\npython3 main.py\n```\n",
        "```text markpact:test http\nGET /health EXPECT 200\n```\n",
        "```bash markpact:test shell\npython3 -c 'import sys'\n```\n",
    ));
    assert_eq!(m.runtime, Runtime::Python);
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
    assert_eq!(
        m.deps.iter().map(|d| d.spec.as_str()).collect::<Vec<_>>(),
        ["fastapi"]
    );
    assert_eq!(
        m.dev_deps
            .iter()
            .map(|d| (d.spec.as_str(), d.line))
            .collect::<Vec<_>>(),
        [("pytest>=8", 5), ("httpx", 6)]
    );
    assert_eq!(
        m.tests.iter().map(|t| t.mode).collect::<Vec<_>>(),
        [TestMode::Http, TestMode::Shell]
    );
    let j = markpact::canonical_json(&Ok(m));
    assert_eq!(j["deps"], json!(["fastapi"]));
    assert_eq!(j["dev_deps"], json!(["pytest>=8", "httpx"]));
    assert_eq!(j["tests"][1]["lines"], json!(["python3 -c 'import sys'"]));
}

/// Dev deps do not decide the runtime and are never installed, but are still checked.
#[test]
fn dev_deps_scope() {
    // Python dev tooling in a node service: no AmbiguousEcosystem.
    let m = ok(concat!(
        "```javascript markpact:deps\nexpress\n```\n",
        "```markpact:deps python scope=dev\npytest\n```\n",
        "```javascript markpact:file path=server.js\n```\n",
        "```bash markpact:run\nnode server.js\n```\n",
    ));
    assert_eq!(m.runtime, Runtime::Node);
    assert_eq!(m.deps.len(), 1);
    assert_eq!(m.dev_deps[0].spec, "pytest");
    // A refused entry is refused in a dev block too, at its own line.
    let e = markpact::parse(
        Path::new("README.md"),
        b"```python markpact:deps scope=dev\n--index-url http://x\n```\n```bash markpact:run\npython3 a.py\n```\n",
    )
    .unwrap_err();
    assert_eq!(
        e.errors().map(|d| (d.code, d.line)).collect::<Vec<_>>(),
        [(Code::InvalidDependency, 2)]
    );
    // Another scope= value is a warning; the entries are service deps then.
    let m = ok(
        "```python markpact:deps scope=prod\nflask\n```\n```bash markpact:run\npython3 a.py\n```\n",
    );
    assert_eq!(warnings(&m), [(Code::UnknownAttribute, 1)]);
    assert_eq!(m.deps[0].spec, "flask");
}

/// Unknown kinds are warnings, never errors, whatever their meta looks like; duplicates of the
/// inert kinds (`publish`, `config`, …) are warnings too.
#[test]
fn unknown_and_inert_kinds_never_error() {
    let m = ok(concat!(
        "```yaml markpact:analysis type:deep Path=x\nanything\n```\n",
        "```markpact:publish\nname=a\n```\n",
        "```markpact:publish\nname=b\n```\n",
        "```python markpact:file path=main.py\n```\n",
        "```bash markpact:run\npython3 main.py\n```\n",
    ));
    assert_eq!(
        warnings(&m),
        [(Code::UnknownKind, 1), (Code::DuplicateBlock, 7)]
    );
    assert_eq!(m.block("publish").unwrap().body, "name=a");
}

#[test]
fn case_12_unknown_kind_is_a_warning() {
    let m = ok("```yaml markpact:deploy\nreplicas: 2\n```\n\n```python markpact:file path=main.py\nprint(1)\n```\n\n```bash markpact:run\npython3 main.py\n```\n");
    assert_eq!(warnings(&m), [(Code::UnknownKind, 1)]);
    assert_eq!(
        markpact::canonical_json(&Ok(m))["warnings"],
        json!([{"code": "UnknownKind", "line": 1}])
    );
}

#[test]
fn case_13_traversal() {
    assert_eq!(
        errors("```text markpact:file path=../../etc/passwd\nroot\n```\n"),
        [(Code::PathTraversal, 1)]
    );
}

#[test]
fn case_14_absolute() {
    assert_eq!(
        errors("```text markpact:file path=/etc/x\nx\n```\n"),
        [(Code::AbsolutePath, 1)]
    );
}

#[test]
fn case_15_inner_traversal_and_backslash() {
    assert_eq!(
        errors("```python markpact:file path=app/../main.py\nx\n```\n"),
        [(Code::PathTraversal, 1)]
    );
    assert_eq!(
        errors("```python markpact:file path=a\\b.py\nx\n```\n"),
        [(Code::InvalidPath, 1)]
    );
}

#[test]
fn case_16_duplicate_path_names_both_lines() {
    let doc = "```python markpact:file path=./main.py\na = 1\n```\n\n```python markpact:file path=main.py\nb = 2\n```\n";
    let err = parse(doc).unwrap_err();
    let e: Vec<_> = err.errors().collect();
    assert_eq!(e.len(), 1);
    assert_eq!((e[0].code, e[0].line), (Code::DuplicatePath, 5));
    assert!(e[0].message.contains("lines 1 and 5"), "{}", e[0].message);
}

#[test]
fn case_17_reserved_paths() {
    assert_eq!(
        errors("```sh markpact:file path=.git/hooks/pre-commit\nx\n```\n"),
        [(Code::ReservedPath, 1)]
    );
    assert_eq!(
        errors("```js markpact:file path=node_modules/x/index.js\nx\n```\n"),
        [(Code::ReservedPath, 1)]
    );
}

#[test]
fn case_18_path_conflict() {
    assert_eq!(
        errors("```text markpact:file path=app\nx\n```\n\n```python markpact:file path=app/main.py\ny\n```\n"),
        [(Code::PathConflict, 5)]
    );
}

#[test]
fn case_19_shell_injection_in_path() {
    assert_eq!(
        errors("```python markpact:file path=main.py\";curl${IFS}x|sh;\".py\nx\n```\n"),
        [(Code::InvalidPath, 1)]
    );
}

#[test]
fn case_20_two_run_blocks() {
    let err = parse(
        "```bash markpact:run\npython3 a.py\n```\n\n```bash markpact:run\npython3 b.py\n```\n",
    )
    .unwrap_err();
    let e: Vec<_> = err.errors().collect();
    assert_eq!(e.len(), 1);
    assert_eq!((e[0].code, e[0].line), (Code::DuplicateBlock, 5));
    assert!(e[0].message.contains("line 1"));
}

#[test]
fn case_21_no_run() {
    let m = ok("```python markpact:file path=main.py\nprint(1)\n```\n");
    assert!(m.run.is_none());
    assert_eq!(
        markpact::canonical_json(&Ok(m.clone()))["run"],
        serde_json::Value::Null
    );
    let v = markpact::validate(&m);
    assert_eq!(
        v.iter().map(|d| d.code).collect::<Vec<_>>(),
        [Code::MissingRun]
    );

    let m = ok("```html markpact:file path=index.html\n<h1>hi</h1>\n```\n\n```css markpact:file path=style.css\nh1{}\n```\n");
    assert_eq!(m.runtime, Runtime::Static);
    assert!(markpact::validate(&m).is_empty());
}

#[test]
fn case_22_empty_run_and_empty_file() {
    assert_eq!(
        errors("```python markpact:file path=a.py\nx\n```\n\n```bash markpact:run\n```\n"),
        [(Code::EmptyRun, 5)]
    );
    let m = ok("```python markpact:file path=pkg/__init__.py\n```\n\n```bash markpact:run\npython3 -m pkg\n```\n");
    assert_eq!(m.files[0].path, "pkg/__init__.py");
    assert_eq!(m.files[0].contents, "");
    assert_eq!(m.files[0].sha256(), sha256_hex(b""));
}

#[test]
fn case_23_crlf_is_identical() {
    let crlf = CASE1.replace('\n', "\r\n");
    let a = ok(CASE1);
    let b = ok(&crlf);
    assert_eq!(
        markpact::canonical_json(&Ok(a)),
        markpact::canonical_json(&Ok(b.clone()))
    );
    assert!(!b.files[0].contents.contains('\r'));
    assert!(!b.run.unwrap().body.contains('\r'));
}

#[test]
fn case_24_tildes() {
    let m = ok("~~~python markpact:file path=a.py\ns = '''\n```\n'''\n~~~\n");
    assert_eq!(m.files[0].contents, "s = '''\n```\n'''\n");
}

#[test]
fn case_25_longer_fence_keeps_inner_fences() {
    let doc = "````markdown markpact:file path=docs/API.md\n# API\n```json\n{\"a\": 1}\n```\n````\n\n```python markpact:file path=main.py\nx = 1\n```\n";
    let m = ok(doc);
    assert_eq!(m.files.len(), 2);
    assert_eq!(m.files[0].path, "docs/API.md");
    assert_eq!(m.files[0].contents, "# API\n```json\n{\"a\": 1}\n```\n");
    assert_eq!(m.files[1].line, 8);
}

#[test]
fn case_26_example_fence_is_opaque() {
    let doc = "````markdown\n```python markpact:file path=x.py\nprint('example')\n```\n````\n\n```python markpact:file path=main.py\nx = 1\n```\n";
    let m = ok(doc);
    assert_eq!(
        m.files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(),
        ["main.py"]
    );
    assert!(m.warnings.is_empty());
}

#[test]
fn case_27_indented_fences() {
    let doc = "  ```go markpact:file path=main.go\n  package main\n\n  func main() {\n  \tprintln(1)\n     }\n  ```\n";
    let m = ok(doc);
    assert_eq!(m.runtime, Runtime::Go);
    assert_eq!(
        m.files[0].contents,
        "package main\n\nfunc main() {\n\tprintln(1)\n   }\n"
    );
    let err = parse("    ```python markpact:file path=a.py\n    x = 1\n    ```\n").unwrap_err();
    assert_eq!(
        err.errors().map(|e| e.code).collect::<Vec<_>>(),
        [Code::NoBlocks]
    );
}

#[test]
fn case_28_unclosed_tagged_fence() {
    // A 4-backtick fence is never closed by the 3-backtick lines that follow.
    let doc = "intro\n\n````python markpact:file path=a.py\nx = 1\n\n```python markpact:file path=../evil.py\ny\n```\n\n```bash markpact:run\n```\n";
    assert_eq!(errors(doc), [(Code::UnclosedFence, 3)]);
    // The last block of a document left open.
    let doc =
        "```python markpact:file path=a.py\nx = 1\n```\n\n```bash markpact:run\npython3 a.py\n";
    assert_eq!(errors(doc), [(Code::UnclosedFence, 5)]);
    // An unclosed prose fence is an error too: it swallows everything after it.
    let doc =
        "```python markpact:file path=a.py\nx = 1\n```\n\n```\nprose\n\n```bash markpact:run\n";
    assert_eq!(errors(doc), [(Code::UnclosedFence, 5)]);
}

#[test]
fn case_29_tag_in_third_position() {
    let m = ok("```python x markpact:run\npython3 main.py\n```\n\n```python markpact:file path=main.py\nx = 1\n```\n");
    assert!(m.run.is_none());
    assert_eq!(warnings(&m), [(Code::TagPosition, 1)]);
}

#[test]
fn case_30_invalid_python_dependencies() {
    assert_eq!(
        errors("```python markpact:deps\nflask\n--index-url http://example.invalid/simple\n```\n"),
        [(Code::InvalidDependency, 3)]
    );
    assert_eq!(
        errors("```python markpact:deps\n\npkg @ git+https://example.invalid/pkg.git\n```\n"),
        [(Code::InvalidDependency, 3)]
    );
}

#[test]
fn case_31_go_dependencies_fail_validation() {
    let m = ok("```go markpact:deps\ngithub.com/x/y v1.0.0\n```\n\n```go markpact:file path=main.go\npackage main\n```\n\n```bash markpact:run\ngo run .\n```\n");
    assert_eq!(m.runtime, Runtime::Go);
    let v = markpact::validate(&m);
    assert_eq!(
        v.iter().map(|d| (d.code, d.line)).collect::<Vec<_>>(),
        [(Code::UnsupportedDependencies, 2)]
    );
}

#[test]
fn case_32_manifest_conflict() {
    let doc = "```json markpact:file path=package.json\n{\"name\": \"x\"}\n```\n\n```javascript markpact:deps\nexpress\n```\n";
    assert_eq!(errors(doc), [(Code::ManifestConflict, 5)]);
}

#[test]
fn case_33_ecosystem_detection() {
    let cases = [
        (
            "```text markpact:file path=go.mod\nmodule x\n\ngo 1.19\n```\n\n```go markpact:file path=main.go\npackage main\n```\n",
            Runtime::Go,
        ),
        (
            "```toml markpact:file path=Cargo.toml\n[package]\nname = \"x\"\n```\n\n```rust markpact:file path=src/main.rs\nfn main() {}\n```\n",
            Runtime::Rust,
        ),
        (
            "```php markpact:file path=public/index.php\n<?php echo 1;\n```\n\n```bash markpact:run\nphp -S 0.0.0.0:${MARKPACT_PORT:-8000} -t public\n```\n",
            Runtime::Php,
        ),
        (
            "```html markpact:file path=index.html\n<h1>x</h1>\n```\n\n```css markpact:file path=style.css\nh1{}\n```\n\n```bash markpact:run\npython3 -m http.server ${MARKPACT_PORT:-8000}\n```\n",
            Runtime::Static,
        ),
        (
            "```javascript markpact:file path=server.js\nrequire('http')\n```\n\n```bash markpact:run\nnode server.js\n```\n",
            Runtime::Node,
        ),
    ];
    for (doc, want) in cases {
        assert_eq!(ok(doc).runtime, want, "{doc}");
    }
}

#[test]
fn case_34_two_scopes_are_ambiguous() {
    assert_eq!(
        errors(
            "```python markpact:deps\nflask\n```\n\n```javascript markpact:deps\nexpress\n```\n"
        ),
        [(Code::AmbiguousEcosystem, 5)]
    );
}

#[test]
fn case_35_static_expansion_of_the_port() {
    let m = ok("```python markpact:file path=app.py\nx = 1\n```\n\n```bash markpact:run\npython3 app.py --port ${MARKPACT_PORT:-8001}\n```\n");
    let run = m.run.unwrap().body;
    assert_eq!(run, "python3 app.py --port ${MARKPACT_PORT:-8001}");
    let unset = |_: &str| None;
    let empty = |k: &str| (k == "MARKPACT_PORT").then(String::new);
    let set = |k: &str| (k == "MARKPACT_PORT").then(|| "9000".to_string());
    assert_eq!(
        markpact::expand_static(&run, &unset).unwrap(),
        "python3 app.py --port 8001"
    );
    assert_eq!(
        markpact::expand_static(&run, &empty).unwrap(),
        "python3 app.py --port 8001"
    );
    assert_eq!(
        markpact::expand_static(&run, &set).unwrap(),
        "python3 app.py --port 9000"
    );
    assert_eq!(markpact::guess_port(&run), Some(8001));
    assert_eq!(run, "python3 app.py --port ${MARKPACT_PORT:-8001}");
}

#[test]
fn case_36_only_untagged_fences() {
    assert_eq!(
        errors("# Hi\n\n```python\nprint(1)\n```\n\n```\nplain\n```\n"),
        [(Code::NoBlocks, 0)]
    );
}

#[test]
fn case_37_block_quote_fence_is_ignored_with_warning() {
    let m = ok("> ```python markpact:file path=a.py\n> x = 1\n> ```\n\n```python markpact:file path=main.py\nx = 1\n```\n");
    assert_eq!(
        m.files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(),
        ["main.py"]
    );
    assert_eq!(warnings(&m), [(Code::NestedBlockIgnored, 1)]);
}
