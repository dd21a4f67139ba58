//! `pactown up` of a service whose README comes from a registry: refused before `pactown pull`,
//! then built from the vendored README and served after it.
use crate::common::{self, text, Down};
use pactown::engine::EngineKind;
use pactown::registry::auth::Tokens;
use pactown::registry::server::{self, ServeConfig};
use pactown::registry::{Client, PublishRequest};
use std::path::Path;
use std::process::Output;

const TOKEN: &str = "registry-up-token-0123456789";

fn readme(marker: &str) -> String {
    format!(
        "# page\n\n```html markpact:file path=index.html\n<h1>{marker}</h1>\n```\n\n```http markpact:test\nGET / EXPECT 200\n```\n"
    )
}

async fn pactown(dir: &Path, args: &[&str]) -> Output {
    let dir = dir.to_path_buf();
    let args: Vec<String> = args.iter().map(|s| (*s).to_string()).collect();
    tokio::task::spawn_blocking(move || {
        common::pactown_cmd()
            .current_dir(dir)
            .args(&args)
            .env_remove("PACTOWN_REGISTRY_URL")
            .output()
            .expect("run pactown")
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_serves_a_pulled_registry_readme() {
    if !common::docker_available() {
        return;
    }
    let storage = tempfile::tempdir().unwrap();
    let tokens = Tokens::parse(Path::new("t"), &format!("{TOKEN} web")).unwrap();
    let running = server::start(ServeConfig::local(storage.path().into(), tokens))
        .await
        .unwrap();
    let url = running.url();
    let name = common::unique("regup");
    Client::new(&url, Some(TOKEN.into()))
        .unwrap()
        .publish(&PublishRequest {
            name: "page".into(),
            version: "1.0.0".into(),
            readme_content: readme(&name),
            namespace: "web".into(),
            description: String::new(),
            tags: vec![],
            metadata: Default::default(),
        })
        .await
        .unwrap();

    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("eco.pactown.yaml"),
        format!(
            "name: {name}\nregistry: {{url: {url}, namespace: web}}\nservices:\n  page:\n    readme: registry:web/page@1.0.0\n    port: 8470\n    health_check: /\n"
        ),
    )
    .unwrap();
    let _down = Down::new(tmp.path().join("eco.pactown.yaml"), EngineKind::Docker);
    let up = [
        "up",
        "eco.pactown.yaml",
        "-d",
        "--engine",
        "docker",
        "--timeout",
        "60",
    ];

    let o = pactown(tmp.path(), &up).await;
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("pactown pull"), "{}", text(&o));

    let o = pactown(tmp.path(), &["pull", "eco.pactown.yaml"]).await;
    assert!(o.status.success(), "{}", text(&o));
    let o = pactown(tmp.path(), &up).await;
    assert!(o.status.success(), "{}", text(&o));

    let o = pactown(
        tmp.path(),
        &["status", "eco.pactown.yaml", "--json", "--engine", "docker"],
    )
    .await;
    assert!(o.status.success(), "{}", text(&o));
    let st: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let base = common::row(&st, "page")["url"]
        .as_str()
        .unwrap()
        .to_string();
    let body = reqwest::get(&base).await.unwrap().text().await.unwrap();
    assert!(body.contains(&name), "{base}: {body}");
}
