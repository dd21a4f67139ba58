//! `down`/`status`/`logs` need only the ecosystem name: it is read from the file even when the
//! READMEs or the YAML itself are broken, and `--name` works without any file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pactown::deploy::target;

#[test]
fn name_from_a_valid_file_with_missing_readmes() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("shop.pactown.yaml");
    std::fs::write(&f, "name: shop\nservices:\n  api:\n    port: 8100\n").unwrap();
    let t = target(Some(&f), None).unwrap();
    assert_eq!(t.name, "shop");
}

#[test]
fn name_from_a_broken_yaml() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("shop.pactown.yaml");
    std::fs::write(&f, "name: broken-shop\nservices: [\n  api: {port: 99\n").unwrap();
    let t = target(Some(&f), None).unwrap();
    assert_eq!(t.name, "broken-shop");
    assert!(t.ecosystem.is_none());
}

#[test]
fn explicit_name_wins_and_needs_no_file() {
    let t = target(None, Some("given")).unwrap();
    assert_eq!(t.name, "given");
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("x.pactown.yaml");
    std::fs::write(&f, "name: other\n").unwrap();
    assert_eq!(target(Some(&f), Some("given")).unwrap().name, "given");
}

#[test]
fn no_name_anywhere_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = target(Some(&dir.path().join("missing.yaml")), None).unwrap_err();
    assert!(err.to_string().contains("missing.yaml"), "{err}");
}
