//! `project::load`: the ecosystem file, its graph and every README, all problems at once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use pactown::{project, Code, Severity};
use std::path::{Path, PathBuf};

const OK: &str = "# ok\n\n```html markpact:file path=index.html\n<p>hi</p>\n```\n";

fn write(dir: &Path, rel: &str, text: &str) -> PathBuf {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn config_graph_and_readme_errors_come_together() {
    let dir = tempfile::tempdir().unwrap();
    let eco = write(
        dir.path(),
        "e.pactown.yaml",
        "services:\n  a:\n    port: 80\n    depends_on: [b]\n  b:\n    depends_on: [a]\n  c:\n    readme: missing/README.md\n  d: {}\n",
    );
    write(dir.path(), "a/README.md", OK);
    write(
        dir.path(),
        "b/README.md",
        "```python markpact:file path=/etc/x\nx\n```\n",
    );
    write(dir.path(), "d/README.md", OK);
    let d = project::load(&eco).unwrap_err();
    let got: Vec<(Code, String, usize)> =
        d.0.iter()
            .map(|d| {
                let file = d
                    .file
                    .strip_prefix(dir.path())
                    .unwrap()
                    .display()
                    .to_string();
                (d.code, file, d.line)
            })
            .collect();
    assert_eq!(
        got,
        [
            (Code::InvalidPort, "e.pactown.yaml".into(), 3),
            (Code::CircularDependency, "e.pactown.yaml".into(), 4),
            (Code::AbsolutePath, "b/README.md".into(), 1),
            (Code::Io, "missing/README.md".into(), 0),
        ]
    );
}

#[test]
fn registry_readmes_are_skipped_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let eco = write(
        dir.path(),
        "e.pactown.yaml",
        "services:\n  web: {}\n  remote:\n    readme: registry:team/remote@1.0\n",
    );
    write(dir.path(), "web/README.md", OK);
    let p = project::load(&eco).unwrap();
    assert_eq!(p.docs.len(), 1);
    assert_eq!(p.readme_count(), 1);
    assert_eq!(p.warnings.len(), 1);
    assert_eq!(p.warnings[0].code, Code::RegistryReadme);
    assert_eq!(p.warnings[0].severity, Severity::Warning);
    assert_eq!(p.warnings[0].line, 3);
    assert_eq!(p.graph.order, ["web", "remote"]);
}

#[test]
fn shared_readme_is_parsed_once_and_localhost_endpoints_warn() {
    let dir = tempfile::tempdir().unwrap();
    let eco = write(
        dir.path(),
        "e.pactown.yaml",
        "services:\n  a:\n    readme: app/README.md\n  b:\n    readme: app/README.md\n    depends_on:\n      - name: a\n        endpoint: http://127.0.0.1:8000\n",
    );
    // One warning in the README (an unknown kind).
    write(
        dir.path(),
        "app/README.md",
        &format!("{OK}\n```yaml markpact:deploy\nx: 1\n```\n"),
    );
    let p = project::load(&eco).unwrap();
    assert_eq!(p.docs.len(), 2);
    assert_eq!(p.readme_count(), 1);
    let codes: Vec<Code> = p.warnings.iter().map(|w| w.code).collect();
    assert_eq!(codes, [Code::LocalhostEndpoint, Code::UnknownKind]);
}

#[test]
fn missing_env_is_checked_against_the_injected_environment() {
    let dir = tempfile::tempdir().unwrap();
    let readme = "# app\n\n```text markpact:file path=.env.example\nDB_URL=\nAPI_KEY=\n```\n\n```python markpact:file path=app.py\nprint(1)\n```\n\n```bash markpact:run\npython3 app.py\n```\n";
    write(dir.path(), "app/README.md", readme);
    write(dir.path(), "db/README.md", OK);
    let eco = write(
        dir.path(),
        "e.pactown.yaml",
        "services:\n  db: {}\n  app:\n    depends_on: [db]\n",
    );
    let d = project::load(&eco).unwrap_err();
    assert_eq!(d.0.len(), 1, "{d}");
    assert_eq!(d.0[0].code, Code::MissingEnv);
    assert!(d.0[0].message.contains("API_KEY"), "{}", d.0[0]);
    // Given through the service's env, it passes.
    write(
        dir.path(),
        "e.pactown.yaml",
        "services:\n  db: {}\n  app:\n    depends_on: [db]\n    env: {API_KEY: secret}\n",
    );
    project::load(&eco).unwrap();
}

#[test]
fn non_web_targets_are_unsupported() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "app/README.md", OK);
    let eco = write(
        dir.path(),
        "e.pactown.yaml",
        "services:\n  app:\n    target: desktop\n",
    );
    let d = project::load(&eco).unwrap_err();
    assert_eq!(d.0.len(), 1);
    assert_eq!((d.0[0].code, d.0[0].line), (Code::UnsupportedTarget, 2));
}

#[test]
fn unreadable_file_and_broken_yaml() {
    let d = project::load(Path::new("/nonexistent/e.pactown.yaml")).unwrap_err();
    assert_eq!(d.0[0].code, Code::Io);
    let dir = tempfile::tempdir().unwrap();
    let eco = write(dir.path(), "e.pactown.yaml", "services: [\n");
    let d = project::load(&eco).unwrap_err();
    assert_eq!(d.0.len(), 1);
    assert_eq!(d.0[0].code, Code::InvalidYaml);
    assert!(d.0[0].column.is_some());
}
