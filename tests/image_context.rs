//! Determinism, layer sharing and injection safety of build contexts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pactown::image::{self, context, provider};
use pactown::markpact::{self, Markpact};
use std::io::Read as _;
use std::path::Path;

fn parse(text: &str) -> Markpact {
    markpact::parse(Path::new("README.md"), text.as_bytes()).unwrap_or_else(|d| panic!("{d}"))
}

fn node_readme(code: &str) -> String {
    format!(
        "```javascript markpact:deps\nexpress@^4.19.2\n```\n\n\
         ```javascript markpact:file path=server.js\n{code}\n```\n\n\
         ```bash markpact:run\nnode server.js\n```\n"
    )
}

/// The Containerfile up to (and including) the last install step.
fn deps_layers(containerfile: &str) -> String {
    let lines: Vec<&str> = containerfile.lines().collect();
    let last_install = lines.iter().rposition(|l| l.starts_with("RUN ")).unwrap();
    lines[..=last_install].join("\n")
}

fn entries(tar_bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = tar::Archive::new(tar_bytes);
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let path = e.path().unwrap().display().to_string();
            let mut bytes = Vec::new();
            e.read_to_end(&mut bytes).unwrap();
            (path, bytes)
        })
        .collect()
}

#[test]
fn same_readme_gives_identical_tar() {
    let text = node_readme("console.log(1)");
    let a = image::prepare(&parse(&text), "web", None).unwrap();
    let b = image::prepare(&parse(&text), "web", None).unwrap();
    assert_eq!(a.context.tar, b.context.tar);
    assert_eq!(a.context.digest, b.context.digest);
    assert_eq!(a.tag, b.tag);
    assert!(a.tag.starts_with("pactown/node-web:"));
    assert_eq!(
        a.tag.rsplit(':').next().unwrap(),
        &a.context.digest["sha256:".len().."sha256:".len() + 12]
    );
    // CRLF line endings parse to the same files, hence the same context
    let crlf = text.replace('\n', "\r\n");
    let c = image::prepare(&parse(&crlf), "web", None).unwrap();
    assert_eq!(a.context.digest, c.context.digest);
}

#[test]
fn code_change_changes_digest_but_not_dependency_layer() {
    let a = image::prepare(&parse(&node_readme("console.log(1)")), "web", None).unwrap();
    let b = image::prepare(&parse(&node_readme("console.log(2)")), "web", None).unwrap();
    assert_ne!(a.context.digest, b.context.digest);
    assert_ne!(a.tag, b.tag);
    assert_eq!(a.context.containerfile, b.context.containerfile);
    assert_eq!(a.plan.deps_files, b.plan.deps_files);
    assert_eq!(a.plan.install, b.plan.install);
}

#[test]
fn two_services_with_same_deps_share_the_dependency_layer() {
    let a = image::prepare(&parse(&node_readme("console.log('a')")), "alpha", None).unwrap();
    let b = image::prepare(&parse(&node_readme("console.log('b')")), "beta", None).unwrap();
    // one dependency image for both: same tag, same context
    let (da, db) = (a.context.deps.unwrap(), b.context.deps.unwrap());
    assert_eq!(da.tag, db.tag);
    assert_eq!(da.tar, db.tar);
    assert!(da.tag.starts_with("pactown/deps-node:"));
    assert_eq!(
        deps_layers(&da.containerfile),
        deps_layers(&db.containerfile)
    );
    assert!(a
        .context
        .containerfile
        .contains(&format!("FROM {}\n", da.tag)));
    // the deps-only manifest has a fixed name; the real one (with the service name) is code
    assert_eq!(a.plan.deps_files, b.plan.deps_files);
    let deps_manifest = String::from_utf8(a.plan.deps_files[0].contents.clone()).unwrap();
    assert!(deps_manifest.contains("\"name\": \"pactown-deps\""));
    let real = a
        .plan
        .app_files
        .iter()
        .find(|f| f.path == "package.json")
        .unwrap();
    assert!(String::from_utf8(real.contents.clone())
        .unwrap()
        .contains("\"name\": \"alpha\""));
}

#[test]
fn generated_package_json_follows_the_spec() {
    let doc = parse(
        "```javascript markpact:deps\nexpress\n@types/node@20\n```\n\n\
         ```bash markpact:run\nnode server.js\n```\n\n\
         ```javascript markpact:file path=server.js\n1\n```\n",
    );
    let plan = provider::plan(&doc, "My Web", &provider::PlanOptions::default()).unwrap();
    let real = plan
        .app_files
        .iter()
        .find(|f| f.path == "package.json")
        .unwrap();
    assert_eq!(
        String::from_utf8(real.contents.clone()).unwrap(),
        "{\n  \"dependencies\": {\n    \"@types/node\": \"20\",\n    \"express\": \"latest\"\n  },\n  \
         \"name\": \"my-web\",\n  \"private\": true,\n  \"version\": \"1.0.0\"\n}\n"
    );
}

#[test]
fn generated_go_mod_and_requirements() {
    let go = parse("```go markpact:file path=main.go\npackage main\n```\n\n```bash markpact:run\ngo run .\n```\n");
    let plan = provider::plan(&go, "gw", &provider::PlanOptions::default()).unwrap();
    let gomod = plan.app_files.iter().find(|f| f.path == "go.mod").unwrap();
    assert_eq!(gomod.contents, b"module gw\n\ngo 1.19\n");
    // `go run .` is compiled by the prepare step (through the go shim), not a warm-up
    assert!(plan.warm.is_empty(), "{:?}", plan.warm);
    assert_eq!(plan.shims, ["go"]);
    assert!(plan
        .prepare
        .as_deref()
        .unwrap_or("")
        .contains("\ngo run .\n"));
    let built = parse("```go markpact:file path=main.go\npackage main\n```\n\n```bash markpact:run\n./server\n```\n\n```bash markpact:build\ngo build -o server .\n```\n");
    let plan = provider::plan(&built, "gw", &provider::PlanOptions::default()).unwrap();
    assert!(plan.warm.iter().any(|w| w.starts_with("go build")));
    assert!(plan.prepare.is_none() && plan.shims.is_empty());

    let py = parse(
        "```python markpact:deps\nfastapi\nuvicorn[standard]>=0.29 # server\n```\n\n\
         ```python markpact:file path=main.py\nx = 1\n```\n\n```bash markpact:run\npython3 main.py\n```\n",
    );
    let plan = provider::plan(&py, "api", &provider::PlanOptions::default()).unwrap();
    assert_eq!(plan.deps_files[0].path, "requirements.txt");
    assert_eq!(
        plan.deps_files[0].contents,
        b"fastapi\nuvicorn[standard]>=0.29\n"
    );
}

#[test]
fn run_script_stays_data() {
    let evil =
        "echo \"quoted\" 'single' $(id) `uname`\nRUN rm -rf /\nCMD [\"evil\"]\n\\\n# trailing";
    let doc = parse(&format!(
        "```python markpact:file path=main.py\nprint(1)\n```\n\n```bash markpact:run\n{evil}\n```\n"
    ));
    let prepared = image::prepare(&doc, "api", None).unwrap();
    let cf = &prepared.context.containerfile;
    for needle in ["quoted", "$(id)", "uname", "rm -rf", "evil", "trailing"] {
        assert!(!cf.contains(needle), "{needle} leaked into:\n{cf}");
    }
    assert_eq!(cf.lines().filter(|l| l.starts_with("CMD ")).count(), 1);
    assert!(cf.contains("\nCMD [\"/bin/bash\", \"/app/.markpact/start.sh\"]\n"));
    let run = entries(&prepared.context.tar)
        .into_iter()
        .find(|(p, _)| p == "code/app/.markpact/run.sh")
        .unwrap();
    assert_eq!(run.1, format!("{evil}\n").into_bytes());
}

#[test]
fn build_script_stays_data() {
    let doc = parse(
        "```python markpact:file path=main.py\nprint(1)\n```\n\n\
         ```bash markpact:build\necho \"$(whoami)\" && touch x\n```\n\n\
         ```bash markpact:run\npython3 main.py\n```\n",
    );
    let prepared = image::prepare(&doc, "api", None).unwrap();
    assert!(!prepared.context.containerfile.contains("whoami"));
    assert!(prepared
        .context
        .containerfile
        .contains("RUN [\"/bin/sh\", \"/app/.markpact/build.sh\"]"));
}

#[test]
fn context_entries_are_sorted_with_fixed_metadata() {
    let doc = parse(
        "```python markpact:file path=z.py\n1\n```\n\n```python markpact:file path=a/b.py\n2\n```\n\n\
         ```python markpact:file path=a.py\n3\n```\n\n```bash markpact:run\npython3 z.py\n```\n",
    );
    let prepared = image::prepare(&doc, "api", Some(b"CA")).unwrap();
    let mut archive = tar::Archive::new(prepared.context.tar.as_slice());
    let mut paths = Vec::new();
    for e in archive.entries().unwrap() {
        let e = e.unwrap();
        let h = e.header();
        assert_eq!((h.uid().unwrap(), h.gid().unwrap()), (0, 0));
        assert_eq!(h.mtime().unwrap(), context::FIXED_MTIME);
        assert_eq!(h.username().unwrap(), Some(""));
        let mode = h.mode().unwrap();
        assert!(mode == 0o644 || mode == 0o755);
        paths.push(e.path().unwrap().display().to_string());
    }
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted);
    assert!(paths.contains(&"ca/etc/pactown/ca.crt".to_string()));
    assert!(paths.contains(&"code/app/a/".to_string()));
}

#[test]
fn ca_bundle_changes_digest() {
    let text = node_readme("1");
    let plain = image::prepare(&parse(&text), "web", None).unwrap();
    let with_ca = image::prepare(&parse(&text), "web", Some(b"CA")).unwrap();
    assert_ne!(plain.context.digest, with_ca.context.digest);
    // the CA is installed in the dependency image, whose tag the service image names
    let (deps_plain, deps_ca) = (plain.context.deps.unwrap(), with_ca.context.deps.unwrap());
    assert_ne!(deps_plain.tag, deps_ca.tag);
    assert!(deps_ca
        .containerfile
        .contains("NODE_EXTRA_CA_CERTS=/etc/pactown/ca.crt"));
}

#[test]
fn unbuildable_readmes_are_clear_errors() {
    let no_run = parse("```python markpact:file path=main.py\nprint(1)\n```\n");
    let err = image::prepare(&no_run, "api", None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("MissingRun"), "{err}");

    let go_deps = parse(
        "```go markpact:deps\ngithub.com/x/y v1.0.0\n```\n\n```go markpact:file path=main.go\npackage main\n```\n\n\
         ```bash markpact:run\ngo run .\n```\n",
    );
    let err = image::prepare(&go_deps, "gw", None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("UnsupportedDependencies") && err.contains("README.md:2"),
        "{err}"
    );

    // crates: only from the crate registry
    let git_dep = parse(
        "```toml markpact:file path=Cargo.toml\n[package]\nname = \"x\"\n\n[dependencies]\nserde = { git = \"https://example.com/serde\" }\n```\n\n\
         ```rust markpact:file path=src/main.rs\nfn main() {}\n```\n\n```bash markpact:run\ncargo run\n```\n",
    );
    let err = image::prepare(&git_dep, "rs", None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("InvalidDependency") && err.contains("README.md:6"),
        "{err}"
    );
    let twice = parse(
        "```rust markpact:deps\nserde@1\n```\n\n```toml markpact:file path=Cargo.toml\n[package]\nname = \"x\"\n\n[dependencies]\nserde = \"1\"\n```\n\n\
         ```rust markpact:file path=src/main.rs\nfn main() {}\n```\n\n```bash markpact:run\ncargo run\n```\n",
    );
    let err = image::prepare(&twice, "rs", None).unwrap_err().to_string();
    assert!(
        err.contains("ManifestConflict") && err.contains("README.md:2"),
        "{err}"
    );
}

#[test]
fn rust_dependencies_get_a_stub_layer_before_the_code() {
    let text = String::from(
        "```rust markpact:deps\ntokio = { version = \"1\", features = [\"full\"] }\nitoa@1\n```\n\n\
         ```rust markpact:file path=src/main.rs\nfn main() { println!(\"real\"); }\n```\n\n\
         ```rust markpact:file path=src/lib.rs\npub fn f() {}\n```\n\n```bash markpact:run\ncargo run --release\n```\n",
    );
    let doc = parse(&text);
    let p = image::prepare(&doc, "api", None).unwrap();
    let deps: Vec<&str> = p.plan.deps_files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(deps, ["Cargo.toml", "src/lib.rs", "src/main.rs"]);
    let manifest = String::from_utf8(p.plan.deps_files[0].contents.clone()).unwrap();
    assert!(
        manifest.ends_with(
            "[dependencies]\ntokio = { version = \"1\", features = [\"full\"] }\nitoa = \"1\"\n"
        ),
        "{manifest}"
    );
    let stub = String::from_utf8(p.plan.deps_files[2].contents.clone()).unwrap();
    assert!(stub.contains("fn main() {}"), "{stub}");
    assert_eq!(p.plan.install, ["cargo build --release"]);
    // the dependency build is in the dependency image, the crate's own build after the code
    let deps = p.context.deps.as_ref().unwrap();
    assert!(
        deps.containerfile.contains("RUN cargo build --release"),
        "{}",
        deps.containerfile
    );
    let cf = &p.context.containerfile;
    assert!(
        cf.starts_with("# Generated") && cf.contains(&format!("FROM {}\n", deps.tag)),
        "{cf}"
    );
    assert!(!cf.contains("RUN cargo build --release\n"), "{cf}");
    let code_at = cf.find("COPY --chown=10001:10001 [\"code/\"").unwrap();
    assert!(cf.find("prepare.sh").unwrap() > code_at, "{cf}");
    // the deps layer does not change with the code
    let edited = parse(&text.replace("println!(\"real\")", "println!(\"edited\")"));
    let q = image::prepare(&edited, "api", None).unwrap();
    assert_eq!(q.plan.deps_files, p.plan.deps_files);
    assert_ne!(q.tag, p.tag);
}
