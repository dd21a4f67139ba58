//! Compose-style variables on real engines: the ecosystem's name, a service's port and an `env:`
//! value come from the `.env` beside the file (the process environment winning over it), and
//! the service answers on the port from `.env`.
use crate::common::{self, pactown_cmd, text, Down};
use pactown::engine::EngineKind;

fn port_from_dot_env(kind: EngineKind) {
    if !common::available(kind) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let name = common::unique("vars");
    let port = common::free_base_for(kind);
    let readme = common::python_service(
        "greeter",
        "",
        r#"        self.reply(200, os.environ.get("GREETING", "unset") + " " + os.environ["PORT"])"#,
    );
    std::fs::write(tmp.path().join("greeter.md"), readme).unwrap();
    std::fs::write(
        tmp.path().join("vars.pactown.yaml"),
        "name: ${ECO_NAME:?set ECO_NAME in .env}\nservices:\n  greeter:\n    readme: greeter.md\n    port: ${GREETER_PORT:-1}\n    health_check: ${HEALTH_PATH:-/health}\n    env:\n      GREETING: ${GREETING}\n",
    )
    .unwrap();
    std::fs::write(
        tmp.path().join(".env"),
        format!("ECO_NAME={name}\nGREETER_PORT={port}\nGREETING=from-dot-env\n"),
    )
    .unwrap();
    let file = tmp.path().join("vars.pactown.yaml");
    let _down = Down::new(&file, kind).name(&name).timeout(1);
    let o = pactown_cmd()
        .current_dir(tmp.path())
        .env_remove("ECO_NAME")
        .env_remove("GREETER_PORT")
        .env_remove("HEALTH_PATH")
        .env("GREETING", "from-the-environment")
        .args([
            "up",
            "vars.pactown.yaml",
            "-d",
            "--engine",
            common::cli(kind),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    // the container's name and port come from .env; the process environment won for GREETING
    let ids = common::container_ids(kind, &name);
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert!(ids[0].starts_with(&format!("{name}-greeter-1 ")), "{ids:?}");
    let (code, body) = common::http_get(&format!("http://127.0.0.1:{port}/"));
    assert_eq!(
        (code, body.as_str()),
        (200, format!("from-the-environment {port}").as_str())
    );
}

crate::per_engine!(sync: port_from_dot_env);
