//! `pactown config`: the fully resolved ecosystem file, which pactown reads again to the same
//! result, with variables substituted, ports assigned and secrets never written.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use assert_cmd::Command;
use std::path::Path;

const OK: &str = "# ok\n\n```html markpact:file path=index.html\n<p>hi</p>\n```\n";

fn pactown(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("pactown").unwrap();
    cmd.current_dir(dir)
        .env_remove("PACTOWN_FILE")
        .env("NO_COLOR", "1");
    for v in ["API_PORT", "API_TOKEN", "LEVEL", "DB_PASSWORD"] {
        cmd.env_remove(v);
    }
    cmd
}

fn stdout(cmd: &mut Command) -> String {
    let out = cmd.assert().success().get_output().clone();
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_resolved_shop_reads_back_to_itself() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/eco/shop");
    let dir = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(&fixtures).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            let to = dir.path().join(e.file_name());
            std::fs::create_dir_all(&to).unwrap();
            std::fs::copy(e.path().join("README.md"), to.join("README.md")).unwrap();
        } else {
            std::fs::copy(e.path(), dir.path().join(e.file_name())).unwrap();
        }
    }
    let first = stdout(pactown(dir.path()).args(["config", "shop.pactown.yaml"]));
    assert!(first.starts_with("# shop.pactown.yaml resolved by pactown config\nname: shop\n"));
    // auto ports are written out, defaults filled in, injected variables listed
    assert!(
        first.contains(
            "  worker:\n    readme: worker/README.md\n    kind: service\n    port: 8102\n"
        ),
        "{first}"
    );
    assert!(first.contains("      pids: 512\n"), "{first}");
    assert!(
        first.contains("#   api: DATABASE_URL=http://db:8100\n"),
        "{first}"
    );
    std::fs::write(dir.path().join("resolved.pactown.yaml"), &first).unwrap();
    pactown(dir.path())
        .args(["validate", "resolved.pactown.yaml"])
        .assert()
        .success();
    let second = stdout(pactown(dir.path()).args(["config", "resolved.pactown.yaml"]));
    assert_eq!(
        first.replacen("shop.pactown.yaml", "resolved.pactown.yaml", 1),
        second
    );
    // --json and --format json are one output
    let a = stdout(pactown(dir.path()).args(["config", "--json", "shop.pactown.yaml"]));
    let b = stdout(pactown(dir.path()).args(["config", "shop.pactown.yaml", "--format", "json"]));
    assert_eq!(a, b);
    let v: serde_json::Value = serde_json::from_str(&a).unwrap();
    assert_eq!(v["file"]["services"]["web"]["port"], 8180);
    assert_eq!(v["environment"]["web"]["API_URL"], "http://api:8101");
}

#[test]
fn variables_are_substituted_and_secrets_never_written() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("README.md"), OK).unwrap();
    std::fs::write(
        dir.path().join("e.pactown.yaml"),
        "name: vars\nservices:\n  api:\n    readme: README.md\n    port: ${API_PORT:-8001}\n    health_cmd: 'test -n \"${API_TOKEN}\" && test -f /tmp/$PACTOWN_SERVICE_NAME'\n    env:\n      API_TOKEN: ${API_TOKEN}\n      DB_PASSWORD: hunter2-in-clear\n      LEVEL: ${LEVEL:-info}\n      PRICE: $$5\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join(".env"),
        "API_PORT=8444\nAPI_TOKEN=tok-from-dot-env\n",
    )
    .unwrap();
    let yaml = stdout(pactown(dir.path()).args(["config", "e.pactown.yaml"]));
    assert!(!yaml.contains("tok-from-dot-env"), "{yaml}");
    assert!(!yaml.contains("hunter2"), "{yaml}");
    assert!(yaml.contains("    port: 8444\n"), "{yaml}");
    assert!(yaml.contains("      API_TOKEN: ${API_TOKEN}\n"), "{yaml}");
    assert!(
        yaml.contains("      DB_PASSWORD: ${DB_PASSWORD}\n"),
        "{yaml}"
    );
    assert!(yaml.contains("      LEVEL: info\n"), "{yaml}");
    assert!(yaml.contains("#   api: API_TOKEN=***\n"), "{yaml}");
    assert!(yaml.contains("#   api: PRICE=$5\n"), "{yaml}");
    // the health command's substituted token is masked, its shell `$` doubled for reading back
    assert!(
        yaml.contains("test -n \"***\" && test -f /tmp/$$PACTOWN_SERVICE_NAME"),
        "{yaml}"
    );

    let json = stdout(pactown(dir.path()).args(["config", "--json", "e.pactown.yaml"]));
    assert!(
        !json.contains("tok-from-dot-env") && !json.contains("hunter2"),
        "{json}"
    );
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["environment"]["api"]["PORT"], "8444");
    assert_eq!(v["environment"]["api"]["DB_PASSWORD"], "***");
    assert_eq!(v["file"]["services"]["api"]["env"]["PRICE"], "$$5");

    // the output reads back (in the same folder, with the same .env) to the same file
    std::fs::write(dir.path().join("again.pactown.yaml"), &yaml).unwrap();
    let again = stdout(pactown(dir.path()).args(["config", "again.pactown.yaml"]));
    let body = |t: &str| t.lines().skip(1).collect::<Vec<_>>().join("\n");
    // the masked token was a substitution: reading `***` back keeps `***`
    assert_eq!(body(&again), body(&yaml));
}

#[test]
fn errors_name_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("e.pactown.yaml"),
        "services:\n  api:\n    port: ${API_PORT:?the api needs a port}\n",
    )
    .unwrap();
    let out = pactown(dir.path())
        .args(["config", "e.pactown.yaml"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("e.pactown.yaml:3:11: error[UnsetVariable]: `services.api.port` requires variable API_PORT: the api needs a port"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}
