//! The top-level `-f/--file` and `-p/--project-name` (and `PACTOWN_FILE`,
//! `PACTOWN_PROJECT_NAME`) as a user runs them: every command that reads an ecosystem file takes
//! them, the command's own FILE argument still works, and conflicting or bad values are usage
//! errors (exit 2) naming the flag.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use assert_cmd::Command;
use predicates::prelude::*;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/eco")
}

fn pactown() -> Command {
    let mut cmd = Command::cargo_bin("pactown").unwrap();
    cmd.current_dir(fixtures())
        .env_remove("PACTOWN_FILE")
        .env_remove("PACTOWN_PROJECT_NAME")
        .env_remove("PACTOWN_ENGINE")
        .env("NO_COLOR", "1");
    cmd
}

const SHOP: &str = "shop/shop.pactown.yaml";
const OK: &str = "shop/shop.pactown.yaml: ok, 4 services, 4 READMEs, 0 warnings\n";

fn json(cmd: &mut Command) -> serde_json::Value {
    let out = cmd.assert().success().get_output().clone();
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn file_flag_env_and_argument_name_the_same_file() {
    pactown()
        .args(["-f", SHOP, "validate"])
        .assert()
        .success()
        .stdout(OK);
    pactown()
        .args(["--file", SHOP, "validate", SHOP])
        .assert()
        .success()
        .stdout(OK);
    pactown()
        .env("PACTOWN_FILE", SHOP)
        .arg("validate")
        .assert()
        .success()
        .stdout(OK);
    // the environment is a default: a FILE argument overrides it
    pactown()
        .env("PACTOWN_FILE", "broken/broken.pactown.yaml")
        .args(["validate", SHOP])
        .assert()
        .success()
        .stdout(OK);
    // commands that never took PACTOWN_FILE before take it now (graph did; status, up, … too)
    let graph = json(
        pactown()
            .env("PACTOWN_FILE", SHOP)
            .args(["graph", "-f", "json"]),
    );
    assert_eq!(graph["name"], "shop", "{graph}");
    // `--json` is the same as `--format json`
    let same = json(
        pactown()
            .env("PACTOWN_FILE", SHOP)
            .args(["graph", "--json"]),
    );
    assert_eq!(same, graph);
}

#[test]
fn file_flag_and_a_different_file_argument_are_a_usage_error() {
    pactown()
        .args(["-f", SHOP, "validate", "broken/broken.pactown.yaml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "-f shop/shop.pactown.yaml and the FILE argument broken/broken.pactown.yaml name different ecosystem files; pass one of them",
        ));
}

#[test]
fn a_service_in_the_file_position_reads_as_a_service() {
    // `publish nosuch` with -f: `nosuch` is a service, not a file (and refused as one)
    for args in [
        &["-f", SHOP, "publish", "nosuch"][..],
        &["publish", SHOP, "nosuch"],
    ] {
        pactown()
            .args(args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(
            "shop/shop.pactown.yaml: error[UnknownService]: no service `nosuch` in this ecosystem",
        ));
    }
}

#[test]
fn project_name_replaces_the_files_name() {
    let config = json(pactown().args(["-p", "demo", "-f", SHOP, "config", "--json"]));
    assert_eq!(config["file"]["name"], "demo");
    let config = json(
        pactown()
            .env("PACTOWN_PROJECT_NAME", "fromenv")
            .args(["config", SHOP, "--json"]),
    );
    assert_eq!(config["file"]["name"], "fromenv");
    // the exports name everything after it
    let out = pactown()
        .args(["--project-name", "demo", "export", "compose", SHOP])
        .assert()
        .success()
        .get_output()
        .clone();
    let compose = String::from_utf8(out.stdout).unwrap();
    assert!(compose.contains("PACTOWN_ECOSYSTEM: demo"), "{compose}");
    assert!(!compose.contains("PACTOWN_ECOSYSTEM: shop"), "{compose}");
}

#[test]
fn a_bad_or_conflicting_project_name_is_a_usage_error() {
    pactown()
        .args(["-p", "Bad Name!", "config", SHOP])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "project name `Bad Name!` (-p/--project-name or PACTOWN_PROJECT_NAME) cannot be used",
        ))
        .stderr(predicate::str::contains("e.g. `bad-name"));
    pactown()
        .args(["-p", "one", "status", SHOP, "--name", "two"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "-p/--project-name one and --name two differ; pass one of them",
        ));
}

#[test]
fn project_name_after_the_command_is_a_usage_error() {
    pactown()
        .args(["status", "-p", "demo"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("-p"));
}

#[test]
fn up_subset_refusals_are_usage_errors_before_anything_runs() {
    pactown()
        .args(["-f", SHOP, "up", "--no-deps", "-d"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "--no-deps needs the services to start",
        ));
    pactown()
        .args(["-f", SHOP, "up", "api"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "`up api` starts part of the ecosystem and runs detached only: add -d",
        ));
    pactown()
        .args(["-f", SHOP, "up", "api", "--watch"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("add -d"));
}
