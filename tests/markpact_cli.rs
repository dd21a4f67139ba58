//! `pactown parse`: human view, canonical JSON and exit code 2 on invalid input.
use assert_cmd::Command;
use predicates::prelude::*;
use std::path::Path;

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/markpact")
        .join(name)
        .display()
        .to_string()
}

#[allow(clippy::unwrap_used)] // a test helper: a missing binary fails the test
fn pactown() -> Command {
    let mut cmd = Command::cargo_bin("pactown").unwrap();
    cmd.env("NO_COLOR", "1");
    cmd
}

#[test]
fn human_view() {
    pactown()
        .args(["parse", &fixture("valid.md")])
        .assert()
        .success()
        .stdout(predicate::str::contains("python service"))
        .stdout(predicate::str::contains("app/main.py"))
        .stdout(predicate::str::contains("line   10"))
        .stdout(predicate::str::contains("uvicorn  (line 7)"))
        .stdout(predicate::str::contains(
            "uvicorn app.main:app --host 0.0.0.0 --port ${MARKPACT_PORT:-8001}",
        ))
        .stdout(predicate::str::contains("GET /health EXPECT 200"))
        .stderr(predicate::str::contains(
            "valid.md:29: warning[UnknownKind]",
        ));
}

#[test]
fn json_view_is_the_canonical_json() {
    let out = pactown()
        .args(["parse", "--json", &fixture("valid.md")])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let bytes = std::fs::read(fixture("valid.md")).unwrap();
    let expected = pactown::markpact::canonical_json(&pactown::markpact::parse(
        Path::new(&fixture("valid.md")),
        &bytes,
    ));
    assert_eq!(v, expected);
    assert_eq!(v["ok"], true);
    assert_eq!(v["ecosystem"], "python");
    assert_eq!(v["deps"], serde_json::json!(["fastapi", "uvicorn"]));
    assert_eq!(v["files"][0]["line"], 10);
    assert_eq!(v["tests"][0]["line"], 25);
    assert_eq!(
        v["warnings"],
        serde_json::json!([{"code": "UnknownKind", "line": 29}])
    );
}

#[test]
fn invalid_exits_2_naming_file_and_line() {
    let path = fixture("invalid.md");
    pactown()
        .args(["parse", &path])
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains(format!(
            "{path}:7: error[PathTraversal]"
        )))
        .stderr(predicate::str::contains("../../etc/passwd"))
        .stderr(predicate::str::contains("hint:"));
}

#[test]
fn invalid_json_exits_2_with_ok_false() {
    let out = pactown()
        .args(["parse", "--json", &fixture("invalid.md")])
        .assert()
        .code(2)
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["errors"][0]["code"], "PathTraversal");
    assert_eq!(v["errors"][0]["line"], 7);
    assert!(v["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("../../etc/passwd"));
}

#[test]
fn missing_file_is_an_io_error() {
    pactown()
        .args(["parse", "/nonexistent/README.md"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("/nonexistent/README.md"));
}
