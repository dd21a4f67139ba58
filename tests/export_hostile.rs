//! Hostile values through every exporter: each is either refused with an error naming the
//! service and key, or reads back as exactly the intended value. (The Quadlet round trip through
//! the real `quadlet` generator is in `integration/export.rs`; here the unit text itself is
//! decoded the way Quadlet and systemd read it.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/export_fixtures.rs"]
#[allow(dead_code)]
mod fixtures;

use fixtures::{ecosystem as named_ecosystem, hostile, service as service_at};
use pactown::config::{Ecosystem, ServiceSpec};
use pactown::export::{self, ExportError, ImageMap};
use pactown::quadlet::{self, PodmanVersion, QuadletOptions};
use std::collections::BTreeMap;

fn service(name: &str, port: u16, env: BTreeMap<String, String>, deps: &[&str]) -> ServiceSpec {
    service_at(name, port, "/health", env, deps)
}

fn ecosystem(services: Vec<ServiceSpec>) -> Ecosystem {
    named_ecosystem("hostile", services)
}

fn one(value: &str) -> Ecosystem {
    ecosystem(vec![service(
        "api",
        8001,
        BTreeMap::from([("HOSTILE".to_string(), value.to_string())]),
        &[],
    )])
}

fn images(eco: &Ecosystem) -> ImageMap {
    eco.services
        .iter()
        .map(|s| {
            (
                s.name.clone(),
                format!("pactown/python-{}:0123456789ab", s.name),
            )
        })
        .collect()
}

fn assert_names(err: &ExportError, service: &str, key: &str) {
    let text = err.to_string();
    assert!(
        text.contains(&format!("service `{service}`")) && text.contains(key),
        "error should name service `{service}` and key `{key}`: {text}"
    );
}

/// Reads one double-quoted word of a Quadlet word-list key the way Quadlet does (unquote,
/// C-unescape), then undoes systemd's `%%` and `$$`; fails on any other `%`/`$` use.
fn decode_unit_word(word: &str) -> String {
    let inner = word
        .strip_prefix('"')
        .and_then(|w| w.strip_suffix('"'))
        .unwrap_or_else(|| panic!("not a quoted word: {word}"));
    let mut bytes = Vec::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next().unwrap() {
                'n' => bytes.push(b'\n'),
                't' => bytes.push(b'\t'),
                'r' => bytes.push(b'\r'),
                '\\' => bytes.push(b'\\'),
                '"' => bytes.push(b'"'),
                'x' => {
                    let h: String = [chars.next().unwrap(), chars.next().unwrap()]
                        .iter()
                        .collect();
                    bytes.push(u8::from_str_radix(&h, 16).unwrap());
                }
                other => panic!("unexpected escape \\{other} in {word}"),
            },
            '"' => panic!("unescaped quote inside {word}"),
            '%' => {
                assert_eq!(chars.next(), Some('%'), "lone % in {word}");
                bytes.push(b'%');
            }
            '$' => {
                assert_eq!(chars.next(), Some('$'), "lone $ in {word}");
                bytes.push(b'$');
            }
            c => {
                let mut buf = [0; 4];
                bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    String::from_utf8(bytes).unwrap()
}

#[test]
fn there_are_at_least_thirty_hostile_values() {
    assert!(hostile().len() >= 30);
}

#[test]
fn quadlet_environment_is_refused_or_exact() {
    for h in hostile() {
        let eco = one(&h.value);
        let result = quadlet::to_units(&eco, &images(&eco), &QuadletOptions::default());
        if h.refused {
            let err = result.expect_err(&h.name);
            assert_names(&err, "api", "env.HOSTILE");
            continue;
        }
        let units = result.unwrap_or_else(|e| panic!("{}: {e}", h.name));
        let unit = units
            .iter()
            .find(|u| u.name == "hostile-api.container")
            .unwrap();
        let lines: Vec<&str> = unit
            .contents
            .lines()
            .filter(|l| l.starts_with("Environment=\"HOSTILE="))
            .collect();
        assert_eq!(lines.len(), 1, "{}: {}", h.name, unit.contents);
        let decoded = decode_unit_word(lines[0].strip_prefix("Environment=").unwrap());
        assert_eq!(decoded, format!("HOSTILE={}", h.value), "{}", h.name);
        // the value never breaks the file's structure
        assert!(
            !unit.contents.lines().any(|l| l.starts_with("ExecStart")),
            "{}",
            h.name
        );
        assert_eq!(
            unit.contents.lines().filter(|l| *l == "[Service]").count(),
            1,
            "{}: {}",
            h.name,
            unit.contents
        );
    }
}

#[test]
fn compose_environment_is_refused_or_exact() {
    for h in hostile() {
        let eco = one(&h.value);
        let result = export::compose::render(&eco, &images(&eco));
        if h.refused {
            assert_names(&result.expect_err(&h.name), "api", "env.HOSTILE");
            continue;
        }
        let text = result.unwrap();
        let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        let got = doc["services"]["api"]["environment"]["HOSTILE"]
            .as_str()
            .unwrap_or_else(|| panic!("{}: {text}", h.name));
        // `${VAR}` references are the caller's variables, for pactown `up` and Compose alike:
        // they are written as they are, for Compose to resolve
        if !pactown::secrets::references(&h.value).is_empty() {
            assert_eq!(got, h.value, "{}", h.name);
            continue;
        }
        // every other `$` is doubled (Compose interpolation), nothing else changes
        assert!(!got.replace("$$", "").contains('$'), "{}", h.name);
        assert_eq!(got.replace("$$", "$"), h.value, "{}", h.name);
    }
}

#[test]
fn kube_environment_is_refused_or_exact() {
    for h in hostile() {
        let eco = one(&h.value);
        let result = export::kube::render(&eco, &images(&eco));
        if h.refused {
            assert_names(&result.expect_err(&h.name), "api", "env.HOSTILE");
            continue;
        }
        let text = result.unwrap();
        let docs: Vec<serde_yaml::Value> = serde_yaml::Deserializer::from_str(&text)
            .map(|d| serde::Deserialize::deserialize(d).unwrap())
            .collect();
        let cm = docs.iter().find(|d| d["kind"] == "ConfigMap").unwrap();
        assert_eq!(
            cm["data"]["HOSTILE"].as_str(),
            Some(h.value.as_str()),
            "{}",
            h.name
        );
    }
}

#[test]
fn hostile_names_are_refused_with_service_and_key() {
    let ok = || one("v");
    let opts = QuadletOptions::default();
    let cases: Vec<(Ecosystem, &str, &str)> = vec![
        (
            {
                let mut e = ok();
                e.services[0].name = "api;rm -rf".into();
                e
            },
            "api;rm -rf",
            "name",
        ),
        (
            {
                let mut e = ok();
                e.services[0].name = "Api".into();
                e
            },
            "Api",
            "name",
        ),
        (
            {
                let mut e = ok();
                e.services[0].env.insert("BAD-KEY".into(), "x".into());
                e
            },
            "api",
            "env.BAD-KEY",
        ),
        (
            {
                let mut e = ok();
                e.services[0].env.insert("A B".into(), "x".into());
                e
            },
            "api",
            "env.A B",
        ),
        (
            {
                let mut e = ok();
                e.services[0].health_check = Some("/x y".into());
                e
            },
            "api",
            "health_check",
        ),
        (
            {
                let mut e = ok();
                e.services[0].health_check = Some("/%h".into());
                e
            },
            "api",
            "health_check",
        ),
        (
            {
                let mut e = ok();
                e.services[0].health_check = Some("/a'\"];x".into());
                e
            },
            "api",
            "health_check",
        ),
        (
            {
                let mut e = ok();
                e.network = Some("net work".into());
                e
            },
            "(ecosystem)",
            "network",
        ),
        (
            {
                let mut e = ok();
                e.name = "a/../b".into();
                e
            },
            "(ecosystem)",
            "name",
        ),
        (
            {
                let mut e = ok();
                e.name = "shop\n[Service]".into();
                e
            },
            "(ecosystem)",
            "name",
        ),
    ];
    for (eco, service, key) in cases {
        let imgs = images(&eco);
        assert_names(
            &quadlet::to_units(&eco, &imgs, &opts).unwrap_err(),
            service,
            key,
        );
        assert_names(
            &export::compose::render(&eco, &imgs).unwrap_err(),
            service,
            key,
        );
        assert_names(
            &export::kube::render(&eco, &imgs).unwrap_err(),
            service,
            key,
        );
    }
    // an unsafe image reference
    let eco = ok();
    let imgs = ImageMap::from([("api".to_string(), "x:1 --privileged".to_string())]);
    assert_names(
        &quadlet::to_units(&eco, &imgs, &opts).unwrap_err(),
        "api",
        "image",
    );
    // a missing image
    let err = quadlet::to_units(&eco, &ImageMap::new(), &opts).unwrap_err();
    assert!(matches!(err, ExportError::MissingImage { .. }), "{err}");
}

#[test]
fn too_old_podman_is_refused() {
    let eco = one("v");
    let opts = QuadletOptions {
        podman_version: PodmanVersion::new(4, 3),
        ..QuadletOptions::default()
    };
    let err = quadlet::to_units(&eco, &images(&eco), &opts).unwrap_err();
    assert!(
        err.to_string()
            .contains("Quadlet first shipped in Podman 4.4"),
        "{err}"
    );
}

#[test]
fn write_atomically_leaves_nothing_half_written() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("units");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("old.container"), "old").unwrap();
    let bad = vec![
        export::GeneratedFile {
            name: "good.container".into(),
            contents: "x".into(),
        },
        export::GeneratedFile {
            name: "../escape".into(),
            contents: "y".into(),
        },
    ];
    assert!(export::write_atomically(&out, &bad).is_err());
    // the old set is intact, no temporary folder is left
    assert_eq!(
        std::fs::read_to_string(out.join("old.container")).unwrap(),
        "old"
    );
    assert!(!out.join("good.container").exists());
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert_eq!(leftovers.len(), 1);
    let inside: Vec<_> = std::fs::read_dir(&out).unwrap().collect();
    assert_eq!(inside.len(), 1);
    // a good set is written next to the file pactown did not write, which stays
    export::write_atomically(&out, &bad[..1]).unwrap();
    assert!(out.join("good.container").exists() && out.join("old.container").exists());
    // the next set replaces only what the last one wrote
    let next = vec![export::GeneratedFile {
        name: "next.container".into(),
        contents: "z".into(),
    }];
    export::write_atomically(&out, &next).unwrap();
    assert!(!out.join("good.container").exists());
    assert!(out.join("next.container").exists() && out.join("old.container").exists());
}

#[test]
fn write_atomically_makes_subfolders_and_refuses_escapes() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("units");
    let file = |name: &str| export::GeneratedFile {
        name: name.into(),
        contents: "x".into(),
    };
    export::write_atomically(
        &out,
        &[
            file("containers/systemd/a.container"),
            file("systemd/user/a.target"),
        ],
    )
    .unwrap();
    assert!(out.join("containers/systemd/a.container").is_file());
    assert!(out.join("systemd/user/a.target").is_file());
    for bad in ["/etc/x", "a/../../x", "a//b", "a/./b", "a/.hidden", "a/"] {
        assert!(
            export::write_atomically(&out, &[file(bad)]).is_err(),
            "{bad} was accepted"
        );
        assert!(out.join("containers/systemd/a.container").is_file());
    }
    // a sub-folder that is a symlink is not followed
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, out.join("systemd/system")).unwrap();
    assert!(export::write_atomically(&out, &[file("systemd/system/a.target")]).is_err());
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
}

/// Values a YAML 1.1 reader (PyYAML, the base of many deploy tools) would turn into booleans,
/// numbers, dates or merge keys when written plain (#15 item 11).
const YAML11_LOOKALIKES: &[&str] = &[
    "yes",
    "NO",
    "on",
    "Off",
    "y",
    "N",
    "0x1",
    "0o7",
    "0b101",
    "1_000",
    "1:20",
    "012",
    "2024-01-01",
    "<<",
    "=",
    "~",
    ".5",
    "-.inf",
    "+12",
    "1e3",
];

#[test]
fn yaml_1_1_lookalikes_stay_strings_for_pyyaml() {
    for format in ["compose", "kube"] {
        for v in YAML11_LOOKALIKES {
            let eco = one(v);
            let text = match format {
                "compose" => export::compose::render(&eco, &images(&eco)).unwrap(),
                _ => export::kube::render(&eco, &images(&eco)).unwrap(),
            };
            // PyYAML reads every document; the value must come back as the same string.
            let script = r#"
import sys, yaml
found = []
def walk(x):
    if isinstance(x, dict):
        for k, v in x.items():
            if k == "HOSTILE": found.append(v)
            if isinstance(v, dict) and v.get("name") == "HOSTILE": found.append(v.get("value"))
            walk(v)
    elif isinstance(x, list):
        for v in x: walk(v)
for d in yaml.safe_load_all(sys.stdin): walk(d)
print("ok" if found and all(v == sys.argv[1] for v in found) else repr(found))
"#;
            let mut child = std::process::Command::new("python3")
                .args(["-c", script, v])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            std::io::Write::write_all(child.stdin.as_mut().unwrap(), text.as_bytes()).unwrap();
            let out = child.wait_with_output().unwrap();
            let got = String::from_utf8_lossy(&out.stdout).trim().to_string();
            assert!(
                out.status.success(),
                "{format} {v}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(got, "ok", "{format} {v}: PyYAML read {got}\n{text}");
        }
    }
}
