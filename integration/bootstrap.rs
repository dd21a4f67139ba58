//! `pactown images bootstrap` end to end: debootstrap (or the cached root file system tarball
//! under `~/.cache/pactown/base`), import under a unique tag through the engine API, then run a
//! container from the imported image. The real `debian:bookworm-slim` is left alone.
use crate::common::{self, docker, text};
use std::process::Command;

/// Removes the image when dropped.
struct RemoveImage(String);

impl Drop for RemoveImage {
    fn drop(&mut self) {
        let _ = docker(&["rmi", "-f", &self.0]);
    }
}

fn debootstrap_available() -> bool {
    let ok = Command::new("debootstrap")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok && common::engines_required() {
        panic!(
            "PACTOWN_REQUIRE_ENGINES=1 but debootstrap is missing (setup-engines.sh installs it)"
        );
    }
    ok
}

#[test]
fn bootstrap_imports_a_runnable_debian_under_a_test_tag() {
    if !common::docker_available() {
        return;
    }
    let cache = pactown::image::bootstrap::default_cache_dir();
    let cached = cache.join(pactown::image::bootstrap::TARBALL).is_file();
    if !cached && !debootstrap_available() {
        eprintln!("skipping: no cached root file system and no debootstrap");
        return;
    }
    let tag = format!(
        "pactown-test/debian:{}",
        common::unique("bootstrap").replace('-', "")
    );
    let _cleanup = RemoveImage(tag.clone());
    let real_before = docker(&["image", "inspect", "-f", "{{.Id}}", "debian:bookworm-slim"]);

    let bootstrap = |extra: &[&str]| {
        let mut args = vec!["images", "bootstrap", "--engine", "docker", "--tag", &tag];
        args.extend_from_slice(extra);
        common::pactown(&args)
    };
    let started = std::time::Instant::now();
    let o = bootstrap(&[]);
    assert!(o.status.success(), "{}", text(&o));
    eprintln!(
        "bootstrap ({}) took {:.1} s",
        if cached {
            "cached tarball"
        } else {
            "debootstrap"
        },
        started.elapsed().as_secs_f64()
    );
    let out = text(&o);
    assert!(out.contains(&format!("imported {tag}")), "{out}");
    if cached {
        assert!(out.contains("using cached root file system"), "{out}");
    }
    assert!(
        cache.join(pactown::image::bootstrap::TARBALL).is_file(),
        "the tarball is cached for the next run"
    );

    // The imported image runs, is bookworm, and carries the import's config.
    let o = docker(&["run", "--rm", &tag, "cat", "/etc/debian_version"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).trim().starts_with("12."),
        "{}",
        text(&o)
    );
    let o = docker(&[
        "image",
        "inspect",
        "-f",
        "{{index .Config.Labels \"org.pactown.base\"}} {{json .Config.Cmd}}",
        &tag,
    ]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "debootstrap-minbase [\"bash\"]",
        "{}",
        text(&o)
    );
    // Trimmed like the slim image: no docs but copyright files, no apt lists.
    let o = docker(&[
        "run",
        "--rm",
        &tag,
        "sh",
        "-c",
        "find /usr/share/doc /var/lib/apt/lists -type f ! -name copyright | wc -l",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "0",
        "{}",
        text(&o)
    );

    // Present now: a second run does nothing.
    let o = bootstrap(&[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("is present"), "{}", text(&o));

    // A bad tag is refused before anything happens.
    let o = Command::new(env!("CARGO_BIN_EXE_pactown"))
        .args([
            "images",
            "bootstrap",
            "--engine",
            "docker",
            "--tag",
            "Not A Tag",
        ])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(text(&o).contains("--tag"), "{}", text(&o));

    // The real base image was not touched.
    let real_after = docker(&["image", "inspect", "-f", "{{.Id}}", "debian:bookworm-slim"]);
    assert_eq!(real_before.stdout, real_after.stdout);
}
