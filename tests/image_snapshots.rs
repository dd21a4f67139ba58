//! Snapshot tests of the build pipeline: for every fixture under `tests/fixtures/build/<case>/`
//! the rendered Containerfile, the generated manifests and scripts and the listing of the
//! deterministic context tar are compared with `tests/snapshots/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pactown::image::{self, context};
use std::fmt::Write as _;
use std::io::Read as _;
use std::path::Path;

/// Lists a context tar: every entry with mode and size, and the text of every entry that is
/// not a file block copied verbatim from the README.
fn describe(tar_bytes: &[u8], verbatim: &[(String, String)]) -> String {
    let mut out = String::new();
    let mut archive = tar::Archive::new(tar_bytes);
    let mut bodies = String::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().display().to_string();
        let header = entry.header().clone();
        let mode = header.mode().unwrap();
        let size = header.size().unwrap();
        assert_eq!(header.uid().unwrap(), 0);
        assert_eq!(header.gid().unwrap(), 0);
        assert_eq!(header.mtime().unwrap(), context::FIXED_MTIME);
        writeln!(out, "{mode:o} {size:>6} {path}").unwrap();
        let mut text = String::new();
        entry.read_to_string(&mut text).unwrap();
        let is_verbatim = verbatim
            .iter()
            .any(|(p, c)| path == format!("app/{p}") && *c == text);
        if header.entry_type().is_file() && !is_verbatim {
            writeln!(bodies, "\n== {path}\n{text}").unwrap();
        }
    }
    out + &bodies
}

#[test]
fn containerfile_snapshots() {
    insta::glob!("fixtures/build/*/README.md", |path| {
        let service = path
            .parent()
            .and_then(Path::file_name)
            .unwrap()
            .to_string_lossy()
            .to_string();
        let bytes = std::fs::read(path).unwrap();
        let doc = pactown::markpact::parse(Path::new("README.md"), &bytes)
            .unwrap_or_else(|d| panic!("{service}: {d}"));
        let prepared = image::prepare(&doc, &service, None).unwrap();
        let verbatim: Vec<(String, String)> = doc
            .files
            .iter()
            .map(|f| (f.path.clone(), f.contents.clone()))
            .collect();
        let mut text = format!(
            "tag: {}\n\n{}",
            prepared.tag.split(':').next().unwrap(),
            describe(&prepared.context.tar, &verbatim)
        );
        if let Some(deps) = &prepared.context.deps {
            write!(
                text,
                "\n\n==== dependency image {}\n\n{}",
                deps.tag.split(':').next().unwrap(),
                describe(&deps.tar, &verbatim)
            )
            .unwrap();
            assert!(
                prepared
                    .context
                    .containerfile
                    .contains(&format!("FROM {}\n", deps.tag)),
                "{service}: the service image does not start from its dependency image"
            );
        }
        insta::assert_snapshot!(text);
    });
}

#[test]
fn containerfile_with_ca_bundle() {
    let bytes = std::fs::read("tests/fixtures/build/python-fastapi/README.md").unwrap();
    let doc = pactown::markpact::parse(Path::new("README.md"), &bytes).unwrap();
    let prepared = image::prepare(&doc, "api", Some(b"-----BEGIN CERTIFICATE-----\n")).unwrap();
    let deps = prepared.context.deps.as_ref().unwrap();
    insta::assert_snapshot!(format!(
        "{}\n==== dependency image\n{}",
        prepared.context.containerfile, deps.containerfile
    ));
}
