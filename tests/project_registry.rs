//! `project::load` with `registry:` READMEs: before `pactown pull` they are a warning for
//! `validate` and an error for `build`/`up`; after it the vendored README is parsed like a local
//! one; a tampered vendored README is an error either way.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use assert_cmd::Command;
use pactown::diagnostic::{Code, Severity};
use pactown::project::{self, Unpulled};
use pactown::registry::auth::Tokens;
use pactown::registry::server::{self, ServeConfig};
use pactown::registry::{Client, PublishRequest};
use std::path::{Path, PathBuf};

const TOKEN: &str = "project-test-token-0123456789";

const API: &str = "# API\n\n```python markpact:file path=main.py\nimport os\nprint(os.environ.get('GREETING', 'hi'))\n```\n\n```bash markpact:run\npython main.py\n```\n";
const WEB: &str = "# Web\n\n```python markpact:file path=main.py\nprint('web')\n```\n\n```bash markpact:run\npython main.py\n```\n";

fn pactown(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("pactown").unwrap();
    c.current_dir(dir)
        .env_remove("PACTOWN_REGISTRY_URL")
        .env_remove("PACTOWN_REGISTRY_TOKEN")
        .env_remove("PACTOWN_FILE")
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .env("CONTAINER_HOST", "unix:///nonexistent/podman.sock");
    c
}

async fn run(dir: &Path, args: &'static [&'static str]) -> std::process::Output {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || pactown(&dir).args(args).output().unwrap())
        .await
        .unwrap()
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_readmes_are_parsed_once_pulled() {
    let storage = tempfile::tempdir().unwrap();
    let tokens = Tokens::parse(Path::new("t"), &format!("{TOKEN} team")).unwrap();
    let running = server::start(ServeConfig::local(storage.path().into(), tokens))
        .await
        .unwrap();
    let url = running.url();
    let client = Client::new(&url, Some(TOKEN.into())).unwrap();
    for (name, readme) in [("api", API), ("web", WEB)] {
        client
            .publish(&PublishRequest {
                name: name.into(),
                version: "1.0.0".into(),
                readme_content: readme.into(),
                namespace: "team".into(),
                description: String::new(),
                tags: vec![],
                metadata: Default::default(),
            })
            .await
            .unwrap();
    }

    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("local")).unwrap();
    std::fs::write(dir.path().join("local/README.md"), WEB).unwrap();
    let eco: PathBuf = dir.path().join("app.pactown.yaml");
    std::fs::write(
        &eco,
        format!(
            "name: app\nregistry: {{url: {url}, namespace: team}}\nservices:\n  api:\n    readme: registry:team/api@latest\n    env: {{GREETING: hello}}\n  web:\n    readme: registry:web@1.0.0\n    depends_on: [api]\n  local:\n    readme: local/README.md\n"
        ),
    )
    .unwrap();

    // Not pulled: a warning per registry service for validate, an error for build/up.
    let p = project::load(&eco).unwrap();
    assert_eq!(p.docs.keys().collect::<Vec<_>>(), ["local"]);
    let warned: Vec<_> = p
        .warnings
        .iter()
        .filter(|d| d.code == Code::RegistryReadme)
        .collect();
    assert_eq!(warned.len(), 2, "{:?}", p.warnings);
    assert!(warned.iter().all(|d| d.severity == Severity::Warning));
    assert!(warned[0].message.contains("not pulled"), "{}", warned[0]);
    assert_eq!(warned[0].line, 4);
    let err = project::load_with(&eco, Unpulled::Fail).unwrap_err();
    let errors: Vec<_> = err.errors().collect();
    assert_eq!(errors.len(), 2, "{err}");
    assert!(err.to_string().contains("pactown pull"), "{err}");

    let out = run(dir.path(), &["validate", "app.pactown.yaml"]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("not pulled"), "{}", text(&out));
    for cmd in [
        &["build", "app.pactown.yaml"][..],
        &["up", "-d", "app.pactown.yaml"][..],
    ] {
        let args: &'static [&'static str] = Box::leak(cmd.to_vec().into_boxed_slice());
        let out = run(dir.path(), args).await;
        assert_eq!(out.status.code(), Some(2), "{cmd:?}: {}", text(&out));
        assert!(
            text(&out).contains("pactown pull"),
            "{cmd:?}: {}",
            text(&out)
        );
    }

    // Pulled: both READMEs are parsed from the vendor folder, in both modes.
    let out = run(dir.path(), &["pull", "app.pactown.yaml"]).await;
    assert!(out.status.success(), "{}", text(&out));
    for mode in [Unpulled::Warn, Unpulled::Fail] {
        let p = project::load_with(&eco, mode).unwrap();
        assert_eq!(
            p.docs.keys().collect::<Vec<_>>(),
            ["api", "local", "web"],
            "{mode:?}"
        );
        assert!(
            p.warnings.iter().all(|d| d.code != Code::RegistryReadme),
            "{:?}",
            p.warnings
        );
        assert_eq!(
            p.docs["api"].path,
            dir.path().join(".pactown/vendor/team/api/1.0.0/README.md")
        );
        assert_eq!(p.docs["api"].files[0].contents, API_MAIN);
        assert_eq!(p.readme_count(), 3);
    }
    let out = run(dir.path(), &["validate", "app.pactown.yaml"]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("3 READMEs"), "{}", text(&out));

    // Only one pulled: the other is still reported, the pulled one is parsed.
    std::fs::remove_dir_all(dir.path().join(".pactown/vendor/team/web")).unwrap();
    let p = project::load(&eco).unwrap();
    assert_eq!(p.docs.keys().collect::<Vec<_>>(), ["api", "local"]);
    assert_eq!(
        p.warnings
            .iter()
            .filter(|d| d.code == Code::RegistryReadme)
            .count(),
        1
    );
    let err = project::load_with(&eco, Unpulled::Fail).unwrap_err();
    assert_eq!(err.errors().count(), 1, "{err}");
    assert!(err.to_string().contains("`web`"), "{err}");

    // A vendored README that no longer matches the lock file is an error even for validate.
    let out = run(dir.path(), &["pull", "app.pactown.yaml"]).await;
    assert!(out.status.success(), "{}", text(&out));
    std::fs::write(
        dir.path().join(".pactown/vendor/team/api/1.0.0/README.md"),
        WEB,
    )
    .unwrap();
    let err = project::load(&eco).unwrap_err();
    assert!(err.to_string().contains("but pactown.lock pins"), "{err}");
    let out = run(dir.path(), &["validate", "app.pactown.yaml"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

const API_MAIN: &str = "import os\nprint(os.environ.get('GREETING', 'hi'))\n";

#[test]
fn an_invalid_vendored_readme_is_reported_at_its_path() {
    // Written by hand (as a pull would) so the README can be invalid markpact.
    let dir = tempfile::tempdir().unwrap();
    let bad = "# Bad\n\n```bash markpact:run\n```\n";
    let rel = ".pactown/vendor/team/bad/1.0.0/README.md";
    std::fs::create_dir_all(dir.path().join(".pactown/vendor/team/bad/1.0.0")).unwrap();
    std::fs::write(dir.path().join(rel), bad).unwrap();
    let lock = pactown::registry::LockFile {
        version: 1,
        artifacts: vec![pactown::registry::LockEntry {
            namespace: "team".into(),
            name: "bad".into(),
            requested: "1.0.0".into(),
            version: "1.0.0".into(),
            checksum: pactown::registry::model::sha256_hex(bad.as_bytes()),
            path: rel.into(),
        }],
    };
    pactown::registry::lock::write_lock(&dir.path().join("pactown.lock"), &lock).unwrap();
    let eco = dir.path().join("e.pactown.yaml");
    std::fs::write(
        &eco,
        "services:\n  bad:\n    readme: registry:team/bad@1.0.0\n",
    )
    .unwrap();
    let err = project::load(&eco).unwrap_err();
    assert!(
        err.errors().any(|d| d.file == dir.path().join(rel)),
        "{err}"
    );
}
