//! Variables in ecosystem files as a Compose user writes them: `${VAR}`, `${VAR:-default}`,
//! `${VAR-default}`, `${VAR:?message}`, `$$`, from the process environment over the `.env`
//! beside the file, anywhere in the file, before the values are typed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use assert_cmd::Command;
use std::path::Path;

const OK: &str = "# ok\n\n```html markpact:file path=index.html\n<p>hi</p>\n```\n";

fn pactown(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("pactown").unwrap();
    cmd.current_dir(dir)
        .env_remove("PACTOWN_FILE")
        .env("NO_COLOR", "1");
    for v in [
        "API_PORT",
        "API_DIR",
        "TAG",
        "HEALTH",
        "API_TOKEN",
        "LEVEL",
        "ECO",
        "EMPTY",
    ] {
        cmd.env_remove(v);
    }
    cmd
}

fn project(yaml: &str, dot_env: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("e.pactown.yaml"), yaml).unwrap();
    for sub in ["api", "web", "v2"] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        std::fs::write(dir.path().join(sub).join("README.md"), OK).unwrap();
    }
    if let Some(text) = dot_env {
        std::fs::write(dir.path().join(".env"), text).unwrap();
    }
    dir
}

fn graph(cmd: &mut Command) -> serde_json::Value {
    let out = cmd
        .args(["graph", "--format", "json", "e.pactown.yaml"])
        .assert()
        .success()
        .get_output()
        .clone();
    serde_json::from_slice(&out.stdout).unwrap()
}

const PORTS: &str = "name: ${ECO:-vars}\nservices:\n  api:\n    readme: ${API_DIR:-api}/README.md\n    port: ${API_PORT:-8001}\n    health_check: ${HEALTH-/health}\n";

#[test]
fn a_port_comes_from_dot_env_and_the_environment_wins() {
    // the default
    let dir = project(PORTS, None);
    let v = graph(&mut pactown(dir.path()));
    assert_eq!(v["name"], "vars");
    assert_eq!(v["services"]["api"]["port"], 8001);
    assert_eq!(v["services"]["api"]["readme"], "api/README.md");
    assert_eq!(v["services"]["api"]["health_check"], "/health");

    // .env beside the file
    let dir = project(
        PORTS,
        Some("# ports\nAPI_PORT=8123\nexport ECO='from-env-file'\nAPI_DIR=v2\nHEALTH=/ready\n"),
    );
    let v = graph(&mut pactown(dir.path()));
    assert_eq!(v["name"], "from-env-file");
    assert_eq!(v["services"]["api"]["port"], 8123);
    assert_eq!(v["services"]["api"]["readme"], "v2/README.md");
    assert_eq!(v["services"]["api"]["health_check"], "/ready");

    // the process environment wins over .env, also when the file is named from another folder
    let v = graph(pactown(dir.path()).env("API_PORT", "8200"));
    assert_eq!(v["services"]["api"]["port"], 8200);
    let out = pactown(Path::new("/"))
        .env("API_PORT", "8201")
        .args(["graph", "--format", "json"])
        .arg(dir.path().join("e.pactown.yaml"))
        .assert()
        .success()
        .get_output()
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["services"]["api"]["port"], 8201);
    assert_eq!(v["services"]["api"]["readme"], "v2/README.md");
}

#[test]
fn a_quoted_reference_is_typed_by_its_value() {
    let dir = project(
        "services:\n  api:\n    port: \"${API_PORT}\"\n    replicas: '${N:-2}'\n",
        Some("API_PORT=8300\n"),
    );
    let v = graph(&mut pactown(dir.path()));
    assert_eq!(v["services"]["api"]["port"], 8300);
    assert_eq!(v["services"]["api"]["replicas"], 2);
    // without any reference a quoted port is still a string, as before
    let dir = project("services:\n  api:\n    port: \"8300\"\n", None);
    pactown(dir.path())
        .args(["validate", "e.pactown.yaml"])
        .assert()
        .code(2);
}

#[test]
fn a_required_variable_names_file_line_and_message() {
    let dir = project(
        "services:\n  api:\n    port: ${API_PORT:?set API_PORT to the api's port}\n",
        None,
    );
    let out = pactown(dir.path())
        .args(["validate", "e.pactown.yaml"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("e.pactown.yaml:3:11: error[UnsetVariable]: `services.api.port` requires variable API_PORT: set API_PORT to the api's port"),
        "{err}"
    );
    assert!(err.contains("add `API_PORT=…` to .env"), "{err}");
    // an empty value counts as unset for `:?`, not for `?`
    let dir = project(
        "services:\n  api:\n    port: ${API_PORT:?needed}\n  web:\n    port: ${EMPTY?x}8002\n",
        Some("API_PORT=\nEMPTY=\n"),
    );
    let out = pactown(dir.path())
        .args(["validate", "e.pactown.yaml"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("e.pactown.yaml:3:11: error[UnsetVariable]"),
        "{err}"
    );
    assert!(!err.contains(":5:"), "{err}");
    // once set, it validates
    pactown(dir.path())
        .env("API_PORT", "8001")
        .args(["validate", "e.pactown.yaml"])
        .assert()
        .success();
}

#[test]
fn unset_variables_and_a_missing_env_file_are_warnings() {
    let dir = project(
        "services:\n  api:\n    port: 8001\n    health_check: /h${TAG}\n    env_file: missing.env\n    env:\n      LEVEL: ${LEVEL}\n      MODE: ${MODE:-fast}\n",
        None,
    );
    let out = pactown(dir.path())
        .args(["validate", "e.pactown.yaml"])
        .assert()
        .success()
        .get_output()
        .clone();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("e.pactown.yaml:4:19: warning[UnsetVariable]: `services.api.health_check` references ${TAG}, which is not set: it becomes an empty string"),
        "{err}"
    );
    assert!(
        err.contains("warning[MissingEnvFile]: env_file `")
            && err.contains("missing.env` does not exist"),
        "{err}"
    );
    assert!(
        err.contains("warning[UnsetVariable]: service `api`: env `LEVEL` references ${LEVEL}"),
        "{err}"
    );
    assert!(!err.contains("MODE"), "{err}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("3 warnings"), "{stdout}");
    // set in .env: no warning left about the variables
    std::fs::write(dir.path().join(".env"), "TAG=ealth\nLEVEL=debug\n").unwrap();
    std::fs::write(dir.path().join("missing.env"), "").unwrap();
    pactown(dir.path())
        .args(["validate", "e.pactown.yaml"])
        .assert()
        .success()
        .stdout(predicates::str::contains("0 warnings"));
}

#[test]
fn dollar_dollar_is_a_literal_dollar_and_plain_dollar_words_stay() {
    let dir = project(
        "services:\n  web:\n    port: 8002\n    health_cmd: test -n \"$$HOME\" && test -f /tmp/$PACTOWN_SERVICE_NAME\n",
        None,
    );
    let v = graph(pactown(dir.path()).env("HOME", "/should/not/appear"));
    assert_eq!(
        v["services"]["web"]["health_cmd"],
        "test -n \"$HOME\" && test -f /tmp/$PACTOWN_SERVICE_NAME"
    );
}

#[test]
fn malformed_references_and_a_bad_dot_env_name_their_line() {
    let dir = project(
        "services:\n  api:\n    port: 8001\n    health_check: /${not a var}\n",
        None,
    );
    let out = pactown(dir.path())
        .args(["validate", "e.pactown.yaml"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("e.pactown.yaml:4:19: error[InvalidInterpolation]: `services.api.health_check`: invalid interpolation `${not a var}`"),
        "{err}"
    );
    assert!(err.contains("write `$${` for a literal `${`"), "{err}");

    let dir = project(
        "services:\n  api:\n    port: ${API_PORT:-8001}\n",
        Some("API_PORT=8001\nthis is not an assignment\n"),
    );
    let out = pactown(dir.path())
        .args(["validate", "e.pactown.yaml"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains(".env:2: error[Io]: expected NAME=value"),
        "{err}"
    );
}

#[test]
fn env_values_keep_their_references_until_up() {
    // graph shows the reference of a secret, never the value from .env; a plain variable's
    // reference is shown as written too (it is resolved when containers are created)
    let dir = project(
        "services:\n  api:\n    port: 8001\n    env:\n      API_TOKEN: ${API_TOKEN}\n      LEVEL: ${LEVEL:-info}\n",
        Some("API_TOKEN=tok-from-dot-env\n"),
    );
    let out = pactown(dir.path())
        .args(["graph", "--format", "json", "e.pactown.yaml"])
        .assert()
        .success()
        .get_output()
        .clone();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains("tok-from-dot-env"), "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["services"]["api"]["env"]["LEVEL"], "${LEVEL:-info}");
}

#[test]
fn a_secret_substituted_outside_env_is_masked() {
    let dir = project(
        "services:\n  api:\n    port: 8001\n    health_cmd: 'curl -H \"Authorization: ${API_TOKEN}\" http://localhost:8001/'\n",
        Some("API_TOKEN=tok-from-dot-env\n"),
    );
    let out = pactown(dir.path())
        .args(["graph", "--format", "json", "e.pactown.yaml"])
        .assert()
        .success()
        .get_output()
        .clone();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains("tok-from-dot-env"), "{text}");
    assert!(text.contains("Authorization: ***"), "{text}");
}
