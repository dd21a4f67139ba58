//! The security settings without an engine: `security:`/`resources:`/`profiles:`/`volumes:`
//! in the ecosystem file, `validate` warnings for opt-outs and secrets in clear, masked secrets
//! in `graph --json`, `${VAR}` resolution at `up`, and the deployment files (no secret values,
//! the isolation settings and limits present).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use assert_cmd::Command;
use pactown::export::ImageMap;
use std::path::Path;

const README: &str = "# svc\n\n```python markpact:file path=main.py\nprint('x')\n```\n\n```bash markpact:run\npython3 main.py\n```\n";

const YAML: &str = "name: sec
env_file: shared.env
profiles:
  free: {cpus: 0.5, memory: 256m, pids: 64}
  pro: {cpus: 2, memory: 1g}
services:
  api:
    readme: api/README.md
    port: 8100
    profile: free
    resources: {memory: 128m}
    volumes: {data: /data}
    env:
      DB_PASSWORD: ${DB_PASSWORD}
      API_TOKEN: hunter2-in-clear
      GREETING: hello
  web:
    readme: web/README.md
    port: 8101
    profile: pro
    security:
      read_only: false
      non_root: false
    depends_on: [api]
";

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for s in ["api", "web"] {
        std::fs::create_dir_all(dir.path().join(s)).unwrap();
        std::fs::write(dir.path().join(s).join("README.md"), README).unwrap();
    }
    std::fs::write(dir.path().join("sec.pactown.yaml"), YAML).unwrap();
    std::fs::write(dir.path().join("shared.env"), "DB_PASSWORD=from-the-file\n").unwrap();
    dir
}

fn pactown(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("pactown").unwrap();
    cmd.current_dir(dir)
        .env_remove("PACTOWN_FILE")
        .env_remove("DB_PASSWORD")
        .env("NO_COLOR", "1");
    cmd
}

fn eco(dir: &Path) -> pactown::config::Ecosystem {
    let file = dir.join("sec.pactown.yaml");
    pactown::config::parse(&file, YAML).unwrap_or_else(|d| panic!("{d}"))
}

fn images() -> ImageMap {
    ImageMap::from([
        ("api".to_string(), "pactown/rust-api:1".to_string()),
        ("web".to_string(), "pactown/node-web:1".to_string()),
    ])
}

#[test]
fn resources_merge_profiles_and_security_defaults() {
    let dir = project();
    let e = eco(dir.path());
    let api = e.service("api").unwrap();
    assert_eq!(api.profile.as_deref(), Some("free"));
    assert_eq!(api.resources.millicpus, Some(500));
    assert_eq!(api.resources.memory, Some(128 << 20));
    assert_eq!(api.resources.pids, Some(64));
    assert!(api.security.read_only && api.security.non_root);
    assert_eq!(api.volumes["data"], "/data");
    let web = e.service("web").unwrap();
    assert_eq!(web.resources.millicpus, Some(2000));
    assert_eq!(web.resources.pids, None);
    assert!(!web.security.read_only && !web.security.non_root);
}

#[test]
fn bad_values_are_errors_with_lines() {
    let bad = "name: b\nservices:\n  api:\n    port: 8100\n    profile: gold\n    resources: {cpus: 0, memory: 12q, pids: 2}\n    volumes: {data: relative}\n    security: {read_only: maybe}\n";
    let err = pactown::config::parse(Path::new("b.pactown.yaml"), bad).unwrap_err();
    let text = err.to_string();
    for needle in [
        "b.pactown.yaml:5:14: error[InvalidValue]: unknown resource profile `gold`",
        "is not a CPU count",
        "is not a memory size",
        "is not a usable process limit",
        "volume mount path `relative` is not usable",
        "`services.api.security.read_only` must be true or false",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}

#[test]
fn validate_warns_about_each_opt_out_and_secrets_in_clear() {
    let dir = project();
    let out = pactown(dir.path())
        .args(["validate", "sec.pactown.yaml"])
        .assert()
        .success()
        .get_output()
        .clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("warning[SecurityOptOut]: service `web` opts out of a hardened default (read_only: false)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("(non_root: false): it runs as root"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "warning[SecretInClear]: `services.api.env.API_TOKEN` holds a secret in clear"
        ),
        "{stderr}"
    );
    // a reference is fine
    assert!(!stderr.contains("DB_PASSWORD` holds"), "{stderr}");
    assert!(
        !stderr.contains("hunter2"),
        "the value itself is never printed: {stderr}"
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("3 warnings"), "{stdout}");
}

#[test]
fn graph_json_masks_secret_values() {
    let dir = project();
    let out = pactown(dir.path())
        .args(["graph", "sec.pactown.yaml", "--format", "json"])
        .assert()
        .success()
        .get_output()
        .clone();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let env = &v["services"]["api"]["env"];
    assert_eq!(env["API_TOKEN"], "***", "{env}");
    assert_eq!(env["DB_PASSWORD"], "***", "{env}");
    assert_eq!(env["GREETING"], "hello", "{env}");
    assert!(!stdout.contains("hunter2"));
}

#[test]
fn up_names_an_unset_reference_before_touching_an_engine() {
    let dir = project();
    std::fs::write(dir.path().join("shared.env"), "# empty\n").unwrap();
    let out = pactown(dir.path())
        .args(["up", "sec.pactown.yaml", "-d", "--engine", "docker"])
        .env("DOCKER_HOST", "unix:///nonexistent.sock")
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains(
            "service `api`: env `DB_PASSWORD` references ${DB_PASSWORD}, which is not set"
        ),
        "{stderr}"
    );
}

#[test]
fn secrets_are_resolved_from_env_and_env_files() {
    let dir = project();
    let mut e = eco(dir.path());
    let env = std::collections::BTreeMap::new();
    pactown::secrets::resolve(&mut e, &env).unwrap();
    assert_eq!(
        e.service("api").unwrap().env["DB_PASSWORD"],
        "from-the-file"
    );
    let mut e = eco(dir.path());
    let env =
        std::collections::BTreeMap::from([("DB_PASSWORD".to_string(), "from-env".to_string())]);
    pactown::secrets::resolve(&mut e, &env).unwrap();
    assert_eq!(e.service("api").unwrap().env["DB_PASSWORD"], "from-env");
}

#[test]
fn compose_has_limits_isolation_and_no_secret_values() {
    let dir = project();
    let text = pactown::export::compose::render(&eco(dir.path()), &images()).unwrap();
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("API_TOKEN: ${API_TOKEN}"), "{text}");
    assert!(text.contains("DB_PASSWORD: ${DB_PASSWORD}"), "{text}");
    assert!(text.contains("shared.env"), "{text}");
    for needle in [
        "read_only: true",
        "cpus: '0.5'",
        "mem_limit: 128m",
        "pids_limit: 64",
        "- /app",
        "- sec-data:/data",
        "user: 0:0",
        "no-new-privileges:true",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}

#[test]
fn quadlet_reads_secrets_from_podman_secrets() {
    let dir = project();
    let units =
        pactown::quadlet::to_units(&eco(dir.path()), &images(), &Default::default()).unwrap();
    let api = units
        .iter()
        .find(|u| u.name == "sec-api.container")
        .unwrap_or_else(|| panic!("{:?}", units.iter().map(|u| &u.name).collect::<Vec<_>>()));
    let t = &api.contents;
    assert!(!t.contains("hunter2"), "{t}");
    assert!(!t.contains("API_TOKEN="), "{t}");
    assert!(
        t.contains("\"--secret\" \"sec-api-token,type=env,target=API_TOKEN\""),
        "{t}"
    );
    assert!(t.contains("\"--read-only\""), "{t}");
    assert!(t.contains("\"--cpus\" \"0.5\""), "{t}");
    assert!(t.contains("MemoryMax=128M"), "{t}");
    assert!(
        t.contains("PidsLimit=64") || t.contains("\"--pids-limit\" \"64\""),
        "{t}"
    );
}

#[test]
fn kube_puts_secrets_in_a_secret_reference() {
    let dir = project();
    let text = pactown::export::kube::render(&eco(dir.path()), &images()).unwrap();
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("secretRef:"), "{text}");
    assert!(text.contains("name: api-secrets"), "{text}");
    assert!(text.contains("readOnlyRootFilesystem: true"), "{text}");
    assert!(text.contains("cpu: 500m"), "{text}");
}

#[test]
fn log_format_json_writes_one_object_per_message() {
    let dir = project();
    let out = pactown(dir.path())
        .args(["validate", "sec.pactown.yaml", "--log-format", "json"])
        .assert()
        .success()
        .get_output()
        .clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect();
    assert_eq!(lines.len(), 3, "{stderr}");
    assert!(lines
        .iter()
        .all(|l| l["level"] == "warn" && l["time"].is_number()));
    let codes: Vec<&str> = lines.iter().map(|l| l["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["SecretInClear", "SecurityOptOut", "SecurityOptOut"]);
    assert_eq!(lines[0]["line"], 15);
}

/// A dependency named like a secret (`token-service`, `secret-store`): the names pactown derives
/// for it (`TOKEN_SERVICE_URL`/`_HOST`/`_PORT`, an `env_var`) are plain values in every export;
/// only the keys the user wrote in `env:` are classified (#15 item 7).
const DERIVED_YAML: &str = "name: tok
services:
  token-service:
    readme: api/README.md
    port: 8200
  secret-store:
    readme: api/README.md
    port: 8202
  app:
    readme: web/README.md
    port: 8201
    depends_on:
      - token-service
      - {name: secret-store, env_var: SECRET_STORE_ENDPOINT}
    env:
      API_TOKEN: ${API_TOKEN}
      GREETING: hello
";

fn derived_eco(dir: &Path) -> pactown::config::Ecosystem {
    let file = dir.join("tok.pactown.yaml");
    std::fs::write(&file, DERIVED_YAML).unwrap();
    pactown::config::parse(&file, DERIVED_YAML).unwrap_or_else(|d| panic!("{d}"))
}

fn derived_images() -> ImageMap {
    ImageMap::from([
        ("token-service".to_string(), "pactown/tok:1".to_string()),
        ("secret-store".to_string(), "pactown/store:1".to_string()),
        ("app".to_string(), "pactown/app:1".to_string()),
    ])
}

const DERIVED_PLAIN: [(&str, &str); 6] = [
    ("TOKEN_SERVICE_URL", "http://token-service:8200"),
    ("TOKEN_SERVICE_HOST", "token-service"),
    ("TOKEN_SERVICE_PORT", "8200"),
    ("SECRET_STORE_URL", "http://secret-store:8202"),
    ("SECRET_STORE_HOST", "secret-store"),
    ("SECRET_STORE_ENDPOINT", "http://secret-store:8202"),
];

#[test]
fn compose_writes_derived_dependency_variables_as_plain_values() {
    let dir = project();
    let text =
        pactown::export::compose::render(&derived_eco(dir.path()), &derived_images()).unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let env = &doc["services"]["app"]["environment"];
    for (key, value) in DERIVED_PLAIN {
        assert_eq!(env[key].as_str(), Some(value), "{key}:\n{text}");
    }
    // the key the user wrote stays a secret reference
    assert_eq!(env["API_TOKEN"].as_str(), Some("${API_TOKEN}"), "{text}");
}

#[test]
fn quadlet_writes_derived_dependency_variables_as_plain_values() {
    let dir = project();
    let units = pactown::quadlet::to_units(
        &derived_eco(dir.path()),
        &derived_images(),
        &Default::default(),
    )
    .unwrap();
    let app = units
        .iter()
        .find(|u| u.name == "tok-app.container")
        .unwrap_or_else(|| panic!("{:?}", units.iter().map(|u| &u.name).collect::<Vec<_>>()));
    let t = &app.contents;
    for (key, value) in DERIVED_PLAIN {
        assert!(t.contains(&format!("{key}={value}")), "{key}:\n{t}");
        assert!(!t.contains(&format!("target={key}")), "{key}:\n{t}");
    }
    assert!(
        t.contains("\"--secret\" \"tok-api-token,type=env,target=API_TOKEN\""),
        "{t}"
    );
    assert!(!t.contains("API_TOKEN="), "{t}");
}

#[test]
fn kube_writes_derived_dependency_variables_as_plain_values() {
    let dir = project();
    let text = pactown::export::kube::render(&derived_eco(dir.path()), &derived_images()).unwrap();
    let docs: Vec<serde_yaml::Value> = serde_yaml::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect();
    let config = docs
        .iter()
        .find(|d| d["kind"] == "ConfigMap" && d["metadata"]["name"] == "app-env")
        .unwrap_or_else(|| panic!("no app-env ConfigMap:\n{text}"));
    for (key, value) in DERIVED_PLAIN {
        assert_eq!(config["data"][key].as_str(), Some(value), "{key}:\n{text}");
    }
    assert!(config["data"].get("API_TOKEN").is_none(), "{text}");
    assert!(text.contains("name: app-secrets"), "{text}");
    // the dependencies themselves have no user-written secret: no Secret reference
    assert!(!text.contains("name: token-service-secrets"), "{text}");
}

#[test]
fn graph_json_shows_derived_dependency_variables() {
    let dir = project();
    derived_eco(dir.path());
    let out = pactown(dir.path())
        .args(["graph", "tok.pactown.yaml", "--format", "json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let env = &v["services"]["app"]["env"];
    for (key, value) in DERIVED_PLAIN {
        assert_eq!(env[key].as_str(), Some(value), "{key}: {env}");
    }
    assert_eq!(env["API_TOKEN"], "***", "{env}");
}
