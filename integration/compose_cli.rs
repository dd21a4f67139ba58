//! Compose-style daily commands on real engines (#20): the top-level `-f`/`-p` (and
//! `PACTOWN_FILE`/`PACTOWN_PROJECT_NAME`) driving `up`, `status` and `down`.
use crate::common::{self, pactown_cmd, text};
use pactown::engine::EngineKind;
use std::path::Path;

/// A one-service ecosystem `name` in `dir` (`app.pactown.yaml`, service `api` on `port`).
fn one_service(dir: &Path, name: &str, port: u16) {
    let readme = common::python_service(
        "api",
        "",
        r#"        self.reply(200, os.environ["PACTOWN_ECOSYSTEM"])"#,
    );
    std::fs::write(dir.join("api.md"), readme).unwrap();
    std::fs::write(
        dir.join("app.pactown.yaml"),
        format!("name: {name}\nservices:\n  api:\n    readme: api.md\n    port: {port}\n    health_check: /\n"),
    )
    .unwrap();
}

/// Brings the project `-p NAME -f FILE` down when dropped (also when the test fails).
struct DownProject<'a> {
    file: &'a Path,
    name: &'a str,
    kind: EngineKind,
}

impl Drop for DownProject<'_> {
    fn drop(&mut self) {
        let o = common::pactown(&[
            "-f",
            self.file.to_str().unwrap(),
            "-p",
            self.name,
            "down",
            "--engine",
            common::cli(self.kind),
            "--timeout",
            "1",
        ]);
        if !o.status.success() {
            eprintln!("cleanup failed: {}", text(&o));
        }
    }
}

fn project_name_and_file_flags(kind: EngineKind) {
    if !common::available(kind) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let own = common::unique("cfile");
    let project = common::unique("cproj");
    let port = common::free_base_for(kind);
    one_service(tmp.path(), &own, port);
    let file = tmp.path().join("app.pactown.yaml");
    let _down = DownProject {
        file: &file,
        name: &project,
        kind,
    };
    // `-f` and `-p` before the command; run from another folder so no file is found by search
    let o = pactown_cmd()
        .current_dir("/")
        .args(["-f", file.to_str().unwrap(), "-p", &project, "up", "-d"])
        .args(["--engine", common::cli(kind)])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    // containers, labels and network carry the project name, not the file's `name:`
    let ids = common::container_ids(kind, &project);
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert!(ids[0].starts_with(&format!("{project}-api-1 ")), "{ids:?}");
    assert!(common::container_ids(kind, &own).is_empty());
    let networks = common::cli_output(kind, &["network", "ls", "--format", "{{.Name}}"]);
    assert!(
        networks.lines().any(|n| n == format!("pactown-{project}")),
        "{networks}"
    );
    let (code, body) = common::http_get(&format!("http://127.0.0.1:{port}/"));
    assert_eq!((code, body.as_str()), (200, project.as_str()));
    // the same through the environment variables
    let o = pactown_cmd()
        .current_dir("/")
        .env("PACTOWN_FILE", &file)
        .env("PACTOWN_PROJECT_NAME", &project)
        .args(["status", "--json", "--engine", common::cli(kind)])
        .output()
        .unwrap();
    let status = common::stdout_json(&o);
    assert_eq!(status["ecosystem"], project.as_str(), "{status}");
    assert_eq!(common::row(&status, "api")["state"], "running", "{status}");
    // the file's own name has nothing running
    let o = common::pactown(&[
        "status",
        file.to_str().unwrap(),
        "--json",
        "--engine",
        common::cli(kind),
    ]);
    let status = common::stdout_json(&o);
    assert_eq!(status["ecosystem"], own.as_str(), "{status}");
    // down with -p removes the project's containers and network
    let o = common::pactown(&[
        "-p",
        &project,
        "-f",
        file.to_str().unwrap(),
        "down",
        "--engine",
        common::cli(kind),
        "--timeout",
        "1",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(common::container_ids(kind, &project).is_empty());
}

crate::per_engine!(sync: project_name_and_file_flags);
