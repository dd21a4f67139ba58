//! `pactown validate`, `graph`, `init` and `generate` as a user runs them: exit codes, and error
//! text that names the file and the line.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use assert_cmd::Command;
use predicates::prelude::*;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/eco")
}

fn pactown(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("pactown").unwrap();
    cmd.current_dir(dir)
        .env_remove("PACTOWN_FILE")
        .env("NO_COLOR", "1");
    cmd
}

#[test]
fn validate_accepts_the_shop_fixture() {
    pactown(&fixtures())
        .args(["validate", "shop/shop.pactown.yaml"])
        .assert()
        .success()
        .stdout("shop/shop.pactown.yaml: ok, 4 services, 4 READMEs, 0 warnings\n");
}

#[test]
fn validate_reports_every_problem_with_file_and_line() {
    let out = pactown(&fixtures())
        .args(["validate", "broken/broken.pactown.yaml"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    let expected = [
        "broken/broken.pactown.yaml:5:5: error[UnknownKey]: unknown key `depend_on`",
        "hint: did you mean `depends_on`?",
        "broken/broken.pactown.yaml:6:3: error[PortConflict]: services `api` (line 3) and `web` both use port 8001",
        "broken/broken.pactown.yaml:9: error[UnknownService]: service `web` depends on `cache`",
        "broken/broken.pactown.yaml:10:3: error[PortConflict]",
        "broken/broken.pactown.yaml:11:13: error[PathTraversal]: README path `../outside/README.md`",
        "broken/api/README.md:3: error[PathTraversal]",
        "error: broken/broken.pactown.yaml: 6 errors, 0 warnings",
    ];
    let mut at = 0;
    for line in expected {
        let found = stderr[at..]
            .find(line)
            .unwrap_or_else(|| panic!("missing (in order) {line:?} in:\n{stderr}"));
        at += found + line.len();
    }
    assert!(out.stdout.is_empty());
}

#[test]
fn validate_json() {
    let out = pactown(&fixtures())
        .args(["validate", "--json", "broken/broken.pactown.yaml"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["errors"], 6);
    assert_eq!(v["diagnostics"][0]["code"], "UnknownKey");
    assert_eq!(v["diagnostics"][0]["line"], 5);
}

#[test]
fn invalid_yaml_names_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("x.pactown.yaml"),
        "services:\n  api: {port: 1\n  web: {}\n",
    )
    .unwrap();
    pactown(dir.path())
        .args(["validate", "x.pactown.yaml"])
        .assert()
        .code(2)
        .stderr(
            predicate::str::is_match(r"x\.pactown\.yaml:\d+:\d+: error\[InvalidYaml\]").unwrap(),
        );
    pactown(dir.path())
        .args(["graph", "x.pactown.yaml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("error[InvalidYaml]"));
}

#[test]
fn graph_reports_cycles_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("c.pactown.yaml"),
        "services:\n  a:\n    depends_on: [b]\n  b:\n    depends_on: [a]\n",
    )
    .unwrap();
    pactown(dir.path())
        .args(["graph", "-f", "json"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains(
            "c.pactown.yaml:3: error[CircularDependency]: circular dependency: a -> b -> a",
        ));
}

#[test]
fn missing_or_ambiguous_file() {
    let dir = tempfile::tempdir().unwrap();
    pactown(dir.path())
        .arg("validate")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no ecosystem file"));
    pactown(dir.path())
        .args(["validate", "nope.pactown.yaml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("nope.pactown.yaml: error[Io]"));
    std::fs::write(dir.path().join("a.pactown.yaml"), "").unwrap();
    std::fs::write(dir.path().join("b.pactown.yaml"), "").unwrap();
    pactown(dir.path())
        .arg("graph")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("a.pactown.yaml, b.pactown.yaml"));
}

#[test]
fn init_scaffolds_a_valid_ecosystem_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    pactown(dir.path())
        .args(["init", "my-shop"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "pactown up my-shop/my-shop.pactown.yaml",
        ));
    for f in ["my-shop.pactown.yaml", "api/README.md", "web/README.md"] {
        assert!(dir.path().join("my-shop").join(f).is_file(), "{f}");
    }
    pactown(dir.path())
        .args(["validate", "my-shop/my-shop.pactown.yaml"])
        .assert()
        .success()
        .stdout("my-shop/my-shop.pactown.yaml: ok, 2 services, 2 READMEs, 0 warnings\n");
    let graph = pactown(&dir.path().join("my-shop"))
        .args(["graph", "-f", "json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&graph).unwrap();
    assert_eq!(v["services"]["web"]["env"]["API_URL"], "http://api:8001");
    assert_eq!(v["services"]["api"]["health_check"], "/health");

    // The README of the API parses as python with a run script; the page is static.
    let api = pactown::markpact::parse_file(&dir.path().join("my-shop/api/README.md")).unwrap();
    assert_eq!(api.runtime, pactown::markpact::Runtime::Python);
    assert!(api.run.is_some());
    let web = pactown::markpact::parse_file(&dir.path().join("my-shop/web/README.md")).unwrap();
    assert_eq!(web.runtime, pactown::markpact::Runtime::Static);

    // A second init into the same folder writes nothing and says why.
    let before = std::fs::read_to_string(dir.path().join("my-shop/api/README.md")).unwrap();
    std::fs::write(dir.path().join("my-shop/api/README.md"), "changed").unwrap();
    pactown(dir.path())
        .args(["init", "my-shop"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("refusing to overwrite"));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("my-shop/api/README.md")).unwrap(),
        "changed"
    );
    assert!(!before.is_empty());
}

#[test]
fn init_in_current_folder_uses_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("Demo App");
    std::fs::create_dir(&sub).unwrap();
    pactown(&sub).arg("init").assert().success();
    assert!(sub.join("demo-app.pactown.yaml").is_file());
    pactown(&sub).arg("validate").assert().success();
}

fn readme(dir: &Path, name: &str, text: &str) {
    std::fs::create_dir_all(dir.join(name)).unwrap();
    std::fs::write(dir.join(name).join("README.md"), text).unwrap();
}

const PY: &str = "# x\n\n```python markpact:file path=app.py\nprint('/health')\n```\n\n```bash markpact:run\npython3 app.py --port ${MARKPACT_PORT:-8010}\n```\n";
const STATIC: &str = "# page\n\n```html markpact:file path=index.html\n<p>hi</p>\n```\n";

#[test]
fn generate_writes_a_deterministic_valid_file() {
    let dir = tempfile::tempdir().unwrap();
    let services = dir.path().join("services");
    readme(&services, "User_API", PY);
    readme(&services, "web", STATIC);
    readme(&services, "other", PY); // same guessed port: must not collide
    readme(
        &services,
        "notes",
        "# just prose\n\n```text\nnothing tagged\n```\n",
    );
    std::fs::create_dir_all(services.join("empty")).unwrap();

    let first = pactown(dir.path())
        .args(["generate", "services", "--name", "demo"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let second = pactown(dir.path())
        .args(["generate", "services", "--name", "demo"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(first, second);
    let text = String::from_utf8(first).unwrap();
    assert_eq!(
        text,
        "# Generated by `pactown generate` from the folders below. Edit freely.\n\
         name: demo\n\
         version: 0.1.0\n\
         base_port: 8000\n\
         services:\n\
         \x20 user-api:\n\
         \x20   readme: services/User_API/README.md\n\
         \x20   port: 8010\n\
         \x20   health_check: /health\n\
         \x20 other:\n\
         \x20   readme: services/other/README.md\n\
         \x20   port: 8001\n\
         \x20   health_check: /health\n\
         \x20 web:\n\
         \x20   readme: services/web/README.md\n\
         \x20   port: 8002\n"
    );

    // Written next to the READMEs with -o, paths are relative to that file, and it validates.
    pactown(dir.path())
        .args(["generate", "services", "-o", "services/all.pactown.yaml"])
        .assert()
        .success();
    let written = std::fs::read_to_string(services.join("all.pactown.yaml")).unwrap();
    assert!(
        written.contains("name: services\n") && written.contains("readme: User_API/README.md\n"),
        "{written}"
    );
    pactown(dir.path())
        .args(["validate", "services/all.pactown.yaml"])
        .assert()
        .success();
    pactown(dir.path())
        .args(["generate", "services", "-o", "services/all.pactown.yaml"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--force"));
}

#[test]
fn generate_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("empty")).unwrap();
    pactown(dir.path())
        .args(["generate", "empty"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("error[NoBlocks]"));
    readme(&dir.path().join("svc"), "a", STATIC);
    pactown(&dir.path().join("empty"))
        .args(["generate", "../svc"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is not inside"));
}

/// `pactown test` checks the test blocks before touching an engine: a bad line is reported
/// with README:LINE (exit code 2); `test --help` documents `--json` and `--junit`.
#[test]
fn test_reports_bad_test_lines_with_readme_and_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("api.md"),
        "```python markpact:file path=main.py\nprint(1)\n```\n```bash markpact:run\npython3 main.py\n```\n```text markpact:test http\nGET /health EXPECT 200\nGET health\nPOST /x BODY {bad} EXPECT 201\n```\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("t.pactown.yaml"),
        "name: t\nservices:\n  api:\n    readme: api.md\n    port: 8100\n",
    )
    .unwrap();
    pactown(dir.path())
        .args(["test", "t.pactown.yaml", "--engine", "docker"])
        .env("DOCKER_HOST", "unix:///nonexistent.sock")
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("api.md:9: error[InvalidTestLine]").and(
                predicate::str::contains("api.md:10: error[InvalidTestLine]"),
            ),
        );
    pactown(dir.path())
        .args(["test", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("--junit").and(predicate::str::contains("--json")));
    pactown(dir.path())
        .args(["up", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("--test"));
}
