//! Snapshots of `pactown graph` in every format on the `shop` fixture.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use assert_cmd::Command;

fn graph(format: &str) -> String {
    let out = Command::cargo_bin("pactown")
        .unwrap()
        .current_dir(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/eco/shop"
        ))
        .args(["graph", "shop.pactown.yaml", "--format", format])
        .env_remove("PACTOWN_FILE")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn tree() {
    insta::assert_snapshot!("graph_tree", graph("tree"));
}

#[test]
fn dot() {
    insta::assert_snapshot!("graph_dot", graph("dot"));
}

#[test]
fn mermaid() {
    insta::assert_snapshot!("graph_mermaid", graph("mermaid"));
}

#[test]
fn json() {
    let text = graph("json");
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        value["order"],
        serde_json::json!(["db", "api", "worker", "web"])
    );
    assert_eq!(
        value["services"]["api"]["env"]["DATABASE_URL"],
        "http://db:8100"
    );
    insta::assert_snapshot!("graph_json", text);
}

#[test]
fn default_format_is_tree() {
    let out = Command::cargo_bin("pactown")
        .unwrap()
        .current_dir(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/eco/shop"
        ))
        .arg("graph")
        .env_remove("PACTOWN_FILE")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), graph("tree"));
}
