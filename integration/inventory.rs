//! `pactown ls` on real engines: every ecosystem brought up is listed with its services and how
//! many of its containers run; a stopped container makes it `partial`; `down` removes it from
//! the list.
use crate::common::{self, pactown, text, Down};
use pactown::engine::EngineKind;

fn listed(kind: EngineKind, name: &str) -> Option<serde_json::Value> {
    let o = pactown(&["ls", "--json", "--engine", common::cli(kind)]);
    let all = common::stdout_json(&o);
    all.as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .cloned()
}

fn ls_lists_every_ecosystem(kind: EngineKind) {
    if !common::available(kind) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let base = common::free_base_for(kind);
    let readme = common::python_service("web", "", r#"        self.reply(200, "ok")"#);
    std::fs::write(tmp.path().join("web.md"), readme).unwrap();
    let mut files = Vec::new();
    let mut guards = Vec::new();
    for (i, services) in [vec!["web"], vec!["web", "api"]].iter().enumerate() {
        let name = common::unique(&format!("ls{i}"));
        let mut yaml = format!(
            "name: {name}\nbase_port: {}\nservices:\n",
            base + 10 * i as u16
        );
        for (j, s) in services.iter().enumerate() {
            let port = base + 10 * i as u16 + j as u16;
            yaml.push_str(&format!(
                "  {s}:\n    readme: web.md\n    port: {port}\n    health_check: /health\n"
            ));
        }
        let file = tmp.path().join(format!("{name}.pactown.yaml"));
        std::fs::write(&file, yaml).unwrap();
        guards.push(Down::new(&file, kind).timeout(1));
        let o = pactown(&[
            "up",
            file.to_str().unwrap(),
            "-d",
            "--engine",
            common::cli(kind),
        ]);
        assert!(o.status.success(), "{}", text(&o));
        files.push((name, file));
    }
    let (one, _) = &files[0];
    let (two, two_file) = &files[1];
    let e = listed(kind, one).unwrap_or_else(|| panic!("{one} not listed"));
    assert_eq!(e["services"], serde_json::json!(["web"]), "{e}");
    assert_eq!(
        (e["running"].as_u64(), e["state"].as_str()),
        (Some(1), Some("running"))
    );
    let e = listed(kind, two).unwrap_or_else(|| panic!("{two} not listed"));
    assert_eq!(e["services"], serde_json::json!(["api", "web"]), "{e}");
    assert_eq!(e["containers"], 2, "{e}");
    assert_eq!(e["file"], two_file.to_str().unwrap(), "{e}");

    // the table names both
    let o = pactown(&["ls", "--engine", common::cli(kind)]);
    assert!(o.status.success(), "{}", text(&o));
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(table.starts_with("NAME "), "{table}");
    assert!(
        table.contains(one.as_str()) && table.contains(two.as_str()),
        "{table}"
    );

    // one container stopped behind pactown's back: partial
    common::cli_output(kind, &["stop", "-t", "1", &format!("{two}-api-1")]);
    let e = listed(kind, two).unwrap();
    assert_eq!(
        (e["running"].as_u64(), e["state"].as_str()),
        (Some(1), Some("partial")),
        "{e}"
    );

    // down: gone from the list, the other one stays
    let o = pactown(&[
        "down",
        two_file.to_str().unwrap(),
        "--engine",
        common::cli(kind),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(listed(kind, two).is_none());
    assert!(listed(kind, one).is_some());
}

crate::per_engine!(sync: ls_lists_every_ecosystem);
