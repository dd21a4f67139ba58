//! Every rule of the ecosystem file (spec §12) through `config::parse`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use pactown::config::{self, DependsOn, EngineChoice, ReadmeSource};
use pactown::{Code, Diagnostics};
use std::path::{Path, PathBuf};

fn parse(text: &str) -> Result<config::Ecosystem, Diagnostics> {
    config::parse(Path::new("eco/shop.pactown.yaml"), text)
}

fn errors(text: &str) -> Diagnostics {
    match parse(text) {
        Ok(eco) => panic!("expected errors, got {eco:#?}"),
        Err(d) => d,
    }
}

/// (code, line) of every diagnostic.
fn codes(d: &Diagnostics) -> Vec<(Code, usize)> {
    d.0.iter().map(|d| (d.code, d.line)).collect()
}

#[test]
fn defaults_are_applied() {
    let eco = parse("services:\n  api:\n  web: {}\n").unwrap();
    assert_eq!(eco.name, "unnamed-ecosystem");
    assert_eq!(eco.version, "0.1.0");
    assert_eq!(eco.base_port, 8000);
    assert_eq!(eco.dir, PathBuf::from("eco"));
    assert_eq!(eco.sandbox_root, PathBuf::from("eco/.pactown-sandboxes"));
    assert_eq!(eco.network_name(), "pactown-unnamed-ecosystem");
    assert_eq!(eco.engine, None);
    let api = &eco.services[0];
    assert_eq!((api.name.as_str(), api.index, api.line), ("api", 0, 2));
    assert_eq!(api.port, Some(8000));
    assert_eq!(eco.services[1].port, Some(8001));
    assert_eq!(
        api.readme,
        ReadmeSource::Local {
            relative: "api/README.md".into(),
            path: PathBuf::from("eco/api/README.md"),
        }
    );
    assert_eq!(api.timeout, 60);
    assert_eq!(api.replicas, 1);
    assert!(api.auto_restart);
    assert_eq!(api.target, "web");
    assert!(api.env.is_empty() && api.depends_on.is_empty() && api.health_check.is_none());
}

#[test]
fn every_key_is_read() {
    let text = r#"
name: shop
version: 1.2
description: A shop
base_port: 9000
sandbox_root: ./sandboxes
network: shop-net
engine: podman
registry: {url: "http://localhost:8800", namespace: team}
build:
  ca_bundle: certs/ca.pem
services:
  db:
    readme: ./services/db/README.md
    port: 9100
    health_check: /health
    timeout: 30
    replicas: 2
    auto_restart: false
    env: {LOG_LEVEL: info, WORKERS: 4, DEBUG: true, RATIO: 0.5, QUOTED: "007"}
    target: web
    framework: fastapi
    build_cmd: make
    build_targets: [linux, mac]
    sandbox_path: ignored
  api:
    readme: registry:team/api@1.0.0
    depends_on:
      - db@1.2
      - name: cache
        env_var: CACHE_ADDR
        endpoint: http://cache:6379
  cache:
    depends_on: db
"#;
    let eco = parse(text).unwrap();
    assert_eq!(eco.name, "shop");
    assert_eq!(eco.version, "1.2", "a plain number keeps its spelling");
    assert_eq!(eco.description.as_deref(), Some("A shop"));
    assert_eq!(eco.base_port, 9000);
    assert_eq!(eco.sandbox_root, PathBuf::from("eco/./sandboxes"));
    assert_eq!(eco.network_name(), "shop-net");
    assert_eq!(eco.engine, Some(EngineChoice::Podman));
    let reg = eco.registry.as_ref().unwrap();
    assert_eq!(
        (reg.url.as_str(), reg.namespace.as_str()),
        ("http://localhost:8800", "team")
    );
    assert_eq!(eco.build.ca_bundle, Some(PathBuf::from("eco/certs/ca.pem")));

    let db = eco.service("db").unwrap();
    assert_eq!(
        db.readme,
        ReadmeSource::Local {
            relative: "services/db/README.md".into(),
            path: PathBuf::from("eco/services/db/README.md"),
        }
    );
    assert_eq!(db.port, Some(9100));
    assert_eq!(db.health_check.as_deref(), Some("/health"));
    assert_eq!((db.timeout, db.replicas, db.auto_restart), (30, 2, false));
    let env: Vec<(&str, &str)> = db
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        env,
        [
            ("DEBUG", "true"),
            ("LOG_LEVEL", "info"),
            ("QUOTED", "007"),
            ("RATIO", "0.5"),
            ("WORKERS", "4")
        ]
    );
    assert_eq!(db.framework.as_deref(), Some("fastapi"));
    assert_eq!(db.build_cmd.as_deref(), Some("make"));
    assert_eq!(db.build_targets, ["linux", "mac"]);

    let api = eco.service("api").unwrap();
    assert_eq!(api.port, Some(9001), "auto port = base_port + position");
    assert_eq!(
        api.readme,
        ReadmeSource::Registry {
            namespace: "team".into(),
            name: "api".into(),
            version: "1.0.0".into()
        }
    );
    assert_eq!(
        api.depends_on,
        [
            DependsOn {
                name: "db".into(),
                version: Some("1.2".into()),
                env_var: None,
                endpoint: None,
                line: 29
            },
            DependsOn {
                name: "cache".into(),
                version: None,
                env_var: Some("CACHE_ADDR".into()),
                endpoint: Some("http://cache:6379".into()),
                line: 30,
            },
        ]
    );
    let cache = eco.service("cache").unwrap();
    assert_eq!(
        cache.depends_on.len(),
        1,
        "a single string is one dependency"
    );
    assert_eq!(cache.depends_on[0].name, "db");
}

#[test]
fn registry_readme_defaults() {
    let eco = parse("registry: {namespace: acme}\nservices:\n  api:\n    readme: registry:api\n")
        .unwrap();
    assert_eq!(
        eco.services[0].readme,
        ReadmeSource::Registry {
            namespace: "acme".into(),
            name: "api".into(),
            version: "latest".into()
        }
    );
    let d = errors("services:\n  api:\n    readme: registry:a/b/c\n");
    assert_eq!(codes(&d), [(Code::InvalidValue, 3)]);
}

#[test]
fn invalid_yaml_names_line_and_column() {
    let d = errors("name: shop\nservices:\n  api: {port: 8001\n  web:\n");
    assert_eq!(d.0.len(), 1);
    let e = &d.0[0];
    assert_eq!(e.code, Code::InvalidYaml);
    assert!(e.line >= 3, "{e}");
    assert!(e.column.is_some());
    assert!(e.to_string().starts_with("eco/shop.pactown.yaml:"), "{e}");
}

#[test]
fn wrong_types_are_invalid_yaml_at_the_value() {
    let d =
        errors("services:\n  api:\n    port: high\n    auto_restart: sometimes\n    env: [A=1]\n");
    assert_eq!(
        codes(&d),
        [
            (Code::InvalidYaml, 3),
            (Code::InvalidYaml, 4),
            (Code::InvalidYaml, 5)
        ]
    );
    assert_eq!(d.0[0].column, Some(11));
    assert!(d.0[0].message.contains("whole number"), "{}", d.0[0]);
    assert!(errors("- a\n- b\n").0[0].message.contains("mapping"));
    assert_eq!(
        codes(&errors("services:\n  api:\n    port: \"8001\"\n")),
        [(Code::InvalidYaml, 3)]
    );
}

#[test]
fn duplicate_keys_are_errors() {
    let d = errors("services:\n  api: {}\n  api: {}\n");
    assert_eq!(codes(&d), [(Code::InvalidYaml, 3)]);
    assert!(d.0[0].message.contains("duplicate key `api`"));
}

#[test]
fn empty_file_and_missing_services() {
    assert_eq!(codes(&errors("")), [(Code::InvalidYaml, 1)]);
    assert_eq!(codes(&errors("name: x\n")), [(Code::InvalidValue, 1)]);
    assert_eq!(
        codes(&errors("name: x\nservices: {}\n")),
        [(Code::InvalidValue, 2)]
    );
    assert_eq!(
        codes(&errors("name: x\nservices:\n")),
        [(Code::InvalidValue, 2)]
    );
}

#[test]
fn unknown_keys_have_did_you_mean_hints() {
    let text = "name: shop\nbase_prot: 9000\nservices:\n  api:\n    depend_on: [db]\n    helthcheck: /health\n  db:\n    depends_on:\n      - name: x\n        env_vars: X\n    xyzzy: 1\n";
    let d = errors(text);
    assert_eq!(
        codes(&d),
        [
            (Code::UnknownKey, 2),
            (Code::UnknownKey, 5),
            (Code::UnknownKey, 6),
            (Code::UnknownKey, 10),
            (Code::UnknownKey, 11)
        ]
    );
    let hints: Vec<&str> = d.0.iter().map(|d| d.hint.as_deref().unwrap()).collect();
    assert!(
        hints[0].contains("did you mean `base_port`?"),
        "{}",
        hints[0]
    );
    assert!(
        hints[1].contains("did you mean `depends_on`?"),
        "{}",
        hints[1]
    );
    assert!(
        hints[2].contains("did you mean `health_check`?"),
        "{}",
        hints[2]
    );
    assert!(hints[3].contains("did you mean `env_var`?"), "{}", hints[3]);
    assert!(!hints[4].contains("did you mean"), "{}", hints[4]);
    assert!(
        hints[4].contains("readme"),
        "lists the known keys: {}",
        hints[4]
    );
    assert_eq!(d.0[1].column, Some(5));
    assert!(d.0[1].message.contains("`depend_on`") && d.0[1].message.contains("services.api"));
}

#[test]
fn service_names_must_be_dns_labels() {
    let d = errors("services:\n  My_API:\n    port: 9001\n  ok-1: {}\n  -bad: {}\n");
    assert_eq!(
        codes(&d),
        [(Code::InvalidValue, 2), (Code::InvalidValue, 5)]
    );
    assert!(
        d.0[0].hint.as_deref().unwrap().contains("`my-api`"),
        "{}",
        d.0[0]
    );
    let long = format!("services:\n  {}: {{}}\n", "a".repeat(64));
    assert_eq!(codes(&errors(&long)), [(Code::InvalidValue, 2)]);
}

#[test]
fn invalid_values() {
    let text = "name: my shop\nnetwork: bad net\nengine: lxc\nservices:\n  api:\n    replicas: 0\n    timeout: 0\n    health_check: health\n    target: tv\n    env:\n      1BAD: x\n      GOOD-NAME: y\n      EMPTY:\n    depends_on:\n      - name: db\n        env_var: DB-URL\n      - db\n  db: {}\n";
    let d = errors(text);
    assert_eq!(
        codes(&d),
        [
            (Code::InvalidValue, 1),
            (Code::InvalidValue, 2),
            (Code::InvalidValue, 3),
            (Code::InvalidValue, 6),
            (Code::InvalidValue, 7),
            (Code::InvalidValue, 8),
            (Code::InvalidValue, 9),
            (Code::InvalidValue, 11),
            (Code::InvalidValue, 12),
            (Code::InvalidValue, 13),
            (Code::InvalidValue, 16),
            (Code::InvalidValue, 17),
        ]
    );
    assert!(d.0[2].hint.as_deref().unwrap().contains("docker"));
    assert!(d.0[11].message.contains("listed twice"), "{}", d.0[11]);
}

#[test]
fn invalid_ports() {
    let d = errors(
        "base_port: 80\nservices:\n  a:\n    port: 80\n  b:\n    port: 70000\n  c:\n    port: -1\n",
    );
    assert_eq!(
        codes(&d),
        [
            (Code::InvalidPort, 1),
            (Code::InvalidPort, 4),
            (Code::InvalidPort, 6),
            (Code::InvalidPort, 8)
        ]
    );
    assert!(d.0[1].hint.as_deref().unwrap().contains("1024"));
    // Auto-assigned ports past 65535.
    let d = errors("base_port: 65535\nservices:\n  a: {}\n  b: {}\n");
    assert_eq!(codes(&d), [(Code::InvalidPort, 4)]);
    assert!(d.0[0].message.contains("65536"), "{}", d.0[0]);
    assert!(parse("services:\n  a:\n    port: 1024\n  b:\n    port: 65535\n").is_ok());
}

#[test]
fn port_conflicts_name_both_services() {
    // Auto ports count every service by position, so `web` (position 1) gets 8001 = api's port.
    let d = errors("services:\n  api:\n    port: 8001\n  web: {}\n");
    assert_eq!(codes(&d), [(Code::PortConflict, 4)]);
    let msg = &d.0[0].message;
    assert!(
        msg.contains("`api`") && msg.contains("`web`") && msg.contains("8001"),
        "{msg}"
    );
    assert!(msg.contains("line 2"), "{msg}");
}

#[test]
fn readme_paths_follow_the_path_rules() {
    let text = "services:\n  a:\n    readme: ../other/README.md\n  b:\n    readme: /etc/README.md\n  c:\n    readme: my docs/README.md\n  d:\n    readme: ''\n  e:\n    readme: x/./README.md\n  f:\n    readme: ./f/README.md\n";
    let d = errors(text);
    assert_eq!(
        codes(&d),
        [
            (Code::PathTraversal, 3),
            (Code::AbsolutePath, 5),
            (Code::InvalidPath, 7),
            (Code::InvalidValue, 9),
            (Code::InvalidPath, 11),
        ]
    );
    assert!(d.0[0].message.contains("../other/README.md"));
}

#[test]
fn all_problems_are_reported_at_once_and_sorted() {
    let text = "name: shop\nservices:\n  Web:\n    port: 80\n    colour: red\n  api:\n    port: 8005\n  db:\n    port: 8005\n";
    let d = errors(text);
    assert_eq!(
        codes(&d),
        [
            (Code::InvalidValue, 3),
            (Code::InvalidPort, 4),
            (Code::UnknownKey, 5),
            (Code::PortConflict, 8)
        ]
    );
    for diag in &d.0 {
        assert_eq!(diag.file, PathBuf::from("eco/shop.pactown.yaml"));
        assert!(diag.hint.is_some(), "every error says what to do: {diag}");
    }
}

#[test]
fn anchors_and_aliases_work() {
    let eco = parse("x-env: &env\nservices:\n  a:\n    env: &e {A: 1}\n  b:\n    env: *e\n")
        .map(|_| ())
        .unwrap_err();
    // `x-env` is not a known key: extension keys are not part of the format.
    assert_eq!(codes(&eco), [(Code::UnknownKey, 1)]);
    let eco = parse("services:\n  a:\n    env: &e {A: 1}\n  b:\n    env: *e\n").unwrap();
    assert_eq!(eco.services[1].env.get("A").map(String::as_str), Some("1"));
}

#[test]
fn load_reports_missing_files() {
    let d = config::load(Path::new("/nonexistent/x.pactown.yaml")).unwrap_err();
    assert_eq!(d.0[0].code, Code::Io);
    assert!(d.to_string().contains("/nonexistent/x.pactown.yaml"));
}

#[test]
fn portless_services_and_jobs() {
    let eco = parse(
        "base_port: 9000\nservices:\n  db:\n  worker:\n    port: null\n  beat:\n    port: ~\n    health_cmd: test -f /tmp/ready\n  migrate:\n    kind: job\n    depends_on: [db]\n  api:\n    depends_on: [migrate, worker]\n",
    )
    .unwrap();
    let svc = |n: &str| eco.service(n).unwrap();
    assert_eq!(svc("db").port, Some(9000));
    assert_eq!(svc("worker").port, None);
    assert_eq!(svc("beat").port, None);
    assert_eq!(
        svc("beat").health_argv().unwrap(),
        ["/bin/sh", "-c", "test -f /tmp/ready"]
    );
    let job = svc("migrate");
    assert!(job.is_job());
    assert_eq!(job.port, None, "a job gets no auto port");
    assert!(!job.auto_restart, "a job is not restarted");
    // positions still count every service for auto ports
    assert_eq!(svc("api").port, Some(9004));
    assert!(!svc("api").is_job());
}

#[test]
fn job_and_portless_rules() {
    let d = errors(
        "services:\n  m:\n    kind: job\n    port: 9000\n    health_check: /health\n    auto_restart: true\n    replicas: 2\n",
    );
    assert_eq!(
        codes(&d),
        vec![
            (Code::InvalidValue, 4),
            (Code::InvalidValue, 5),
            (Code::InvalidValue, 6),
            (Code::InvalidValue, 7),
        ],
        "{d:?}"
    );
    let text = format!("{d:?}");
    assert!(text.contains("job `m` has a `port:`"), "{text}");

    let d = errors("services:\n  w:\n    port: null\n    health_check: /health\n");
    assert_eq!(codes(&d), vec![(Code::InvalidValue, 4)]);
    assert!(format!("{d:?}").contains("use `health_cmd: CMD`"), "{d:?}");

    let d = errors("services:\n  w:\n    health_check: /h\n    health_cmd: \"true\"\n");
    assert_eq!(codes(&d), vec![(Code::InvalidValue, 3)]);

    let d = errors("services:\n  w:\n    kind: cron\n");
    assert_eq!(codes(&d), vec![(Code::InvalidValue, 3)]);
    assert!(format!("{d:?}").contains("`job`"));

    let d = errors("services:\n  w:\n    health_cmd: \"a\\nb\"\n");
    assert_eq!(codes(&d), vec![(Code::InvalidValue, 3)]);
}

#[test]
fn endpoint_mode_is_dnsrr_or_vip() {
    let eco = parse("services:\n  api:\n    endpoint_mode: vip\n  web: {}\n").unwrap();
    assert_eq!(eco.services[0].endpoint_mode, config::EndpointMode::Vip);
    assert_eq!(eco.services[1].endpoint_mode, config::EndpointMode::Dnsrr);
    let d = errors("services:\n  api:\n    port: 8001\n    endpoint_mode: ipvs\n");
    assert_eq!(codes(&d), [(Code::InvalidValue, 4)]);
    let e = d.0[0].to_string();
    assert!(
        e.contains("unknown endpoint_mode `ipvs`") && e.contains("`vip`"),
        "{e}"
    );
}
