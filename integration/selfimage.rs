//! pactown packaged as an image (the top-level `Containerfile`) drives the host engine: the image
//! is built from a context holding the test's own `pactown` binary, then `pactown build` runs
//! inside it with the Docker socket mounted, against a small fixture ecosystem, and the service
//! image it builds must appear in the host engine.
use crate::common::{self, docker, text};
use std::path::Path;
use std::process::Command;

/// Removes the listed images when dropped.
struct RemoveImages(Vec<String>);

impl Drop for RemoveImages {
    fn drop(&mut self) {
        for image in &self.0 {
            let _ = docker(&["rmi", "-f", image]);
        }
    }
}

/// The build context of the top-level Containerfile: the Containerfile, the repository's
/// `.dockerignore`, and the test's `pactown` binary where the Containerfile expects the release
/// build.
fn context(dir: &Path) {
    let root = common::repo_root();
    for f in ["Containerfile", ".dockerignore"] {
        std::fs::copy(root.join(f), dir.join(f)).unwrap();
    }
    let bin = dir.join("target/release/pactown");
    std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
    let built = Path::new(env!("CARGO_BIN_EXE_pactown"));
    if std::fs::hard_link(built, &bin).is_err() {
        std::fs::copy(built, &bin).unwrap();
    }
    // Anything else in the context must be kept out by .dockerignore.
    std::fs::write(dir.join("secret.txt"), "must not reach the image").unwrap();
}

#[test]
fn the_pactown_image_builds_service_images_on_the_host_engine() {
    if !common::docker_available() {
        return;
    }
    let name = common::unique("selfimg");
    let self_tag = format!("pactown-selftest:{}", name.replace('-', ""));
    let mut cleanup = RemoveImages(vec![self_tag.clone()]);

    let ctx = tempfile::tempdir().unwrap();
    context(ctx.path());
    let o = docker(&[
        "build",
        "-q",
        "-f",
        "Containerfile",
        "-t",
        &self_tag,
        ctx.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "docker build: {}", text(&o));
    let o = docker(&["run", "--rm", "--entrypoint", "ls", &self_tag, "/work"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "",
        "only the binary enters the image"
    );
    let o = docker(&["run", "--rm", &self_tag, "--version"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("pactown"),
        "{}",
        text(&o)
    );

    // A one-service ecosystem whose content (hence image tag) is unique to this run.
    let eco = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(eco.path().join("page")).unwrap();
    std::fs::write(
        eco.path().join("page/README.md"),
        format!("# page\n\n```html markpact:file path=index.html\n<h1>{name}</h1>\n```\n"),
    )
    .unwrap();
    std::fs::write(
        eco.path().join("eco.pactown.yaml"),
        format!("name: {name}\nservices:\n  page:\n    readme: page/README.md\n    port: 8480\n"),
    )
    .unwrap();

    let socket = common::docker_socket();
    let o = docker(&[
        "run",
        "--rm",
        "-v",
        &format!("{}:/var/run/docker.sock", socket.display()),
        "-v",
        &format!("{}:/work", eco.path().display()),
        &self_tag,
        "build",
        "eco.pactown.yaml",
        "--engine",
        "docker",
        "--json",
    ]);
    assert!(
        o.status.success(),
        "pactown build in the image: {}",
        text(&o)
    );
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("bad JSON ({e}): {}", text(&o)));
    let tag = rows[0]["tag"].as_str().unwrap().to_string();
    cleanup.0.push(tag.clone());
    assert_eq!(rows[0]["service"], "page", "{rows}");
    assert_eq!(
        rows[0]["cached"], false,
        "a unique page cannot be cached: {rows}"
    );

    // The host engine has it, labelled as pactown's, and it serves the page.
    let o = docker(&[
        "image",
        "inspect",
        "-f",
        "{{index .Config.Labels \"io.pactown.managed\"}}",
        &tag,
    ]);
    assert!(
        o.status.success(),
        "{tag} not in the host engine: {}",
        text(&o)
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "true");
    let o = docker(&[
        "run",
        "--rm",
        "--entrypoint",
        "cat",
        &tag,
        "/app/index.html",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains(&name));

    // The host binary agrees on the tag: same inputs, same image.
    let o = Command::new(env!("CARGO_BIN_EXE_pactown"))
        .current_dir(eco.path())
        .env_remove("PACTOWN_CA_BUNDLE")
        .args(["build", "eco.pactown.yaml", "--engine", "docker", "--json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let host: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(host[0]["tag"], tag.as_str());
    assert_eq!(host[0]["cached"], true, "{host}");
}
