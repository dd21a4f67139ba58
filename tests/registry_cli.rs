//! `pactown publish` and `pactown pull` end to end against an in-process registry, plus the
//! checksum checks of the lock file and `registry::resolve_vendor`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use assert_cmd::Command;
use pactown::registry::auth::Tokens;
use pactown::registry::model::sha256_hex;
use pactown::registry::server::{self, ServeConfig};
use pactown::registry::{lock, resolve_vendor};
use std::path::Path;

const TOKEN: &str = "cli-test-token-0123456789";

const API: &str = "# API\n\n```markpact:publish\nversion: 1.4.0\ndescription: the api\nkeywords: web, api\n```\n\n```python markpact:file path=main.py\nprint('api')\n```\n\n```bash markpact:run\npython main.py\n```\n";
const WEB: &str = "# Web\n\n```python markpact:file path=main.py\nprint('web')\n```\n\n```bash markpact:run\npython main.py\n```\n";

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn pactown(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("pactown").unwrap();
    c.current_dir(dir)
        .env_remove("PACTOWN_REGISTRY_URL")
        .env_remove("PACTOWN_REGISTRY_TOKEN")
        .env_remove("PACTOWN_FILE");
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_then_pull_with_lock_and_vendor() {
    let storage = tempfile::tempdir().unwrap();
    let tokens = Tokens::parse(Path::new("t"), &format!("{TOKEN} team")).unwrap();
    let running = server::start(ServeConfig::local(storage.path().into(), tokens))
        .await
        .unwrap();
    let url = running.url();

    // Producer ecosystem: two local services.
    let prod = tempfile::tempdir().unwrap();
    write(prod.path(), "api/README.md", API);
    write(prod.path(), "web/README.md", WEB);
    write(
        prod.path(),
        "shop.pactown.yaml",
        &format!(
            "name: shop\nversion: 0.3.0\nregistry: {{url: {url}, namespace: team}}\nservices:\n  api:\n    readme: api/README.md\n  web:\n    readme: web/README.md\n"
        ),
    );
    let p = prod.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        pactown(&p)
            .args(["publish", "shop.pactown.yaml"])
            .env("PACTOWN_REGISTRY_TOKEN", TOKEN)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("published team/api@1.4.0"), "{stdout}");
    assert!(stdout.contains("published team/web@0.3.0"), "{stdout}");

    // Again: unchanged. Without a token: refused, exit 1.
    let p = prod.path().to_path_buf();
    let (again, denied) = tokio::task::spawn_blocking(move || {
        (
            pactown(&p)
                .args(["publish", "shop.pactown.yaml", "api"])
                .env("PACTOWN_REGISTRY_TOKEN", TOKEN)
                .output()
                .unwrap(),
            pactown(&p)
                .args(["publish", "shop.pactown.yaml"])
                .output()
                .unwrap(),
        )
    })
    .await
    .unwrap();
    assert!(String::from_utf8_lossy(&again.stdout).contains("unchanged team/api@1.4.0"));
    // the same as JSON: one array on stdout
    let p = prod.path().to_path_buf();
    let json = tokio::task::spawn_blocking(move || {
        pactown(&p)
            .args(["publish", "shop.pactown.yaml", "--json"])
            .env("PACTOWN_REGISTRY_TOKEN", TOKEN)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(json.status.success());
    let results: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(results.as_array().map(Vec::len), Some(2), "{results}");
    assert_eq!(results[0]["service"], "api", "{results}");
    assert_eq!(results[0]["artifact"], "team/api", "{results}");
    assert_eq!(results[0]["version"], "1.4.0", "{results}");
    assert_eq!(results[0]["created"], false, "{results}");
    assert_eq!(
        results[0]["checksum"],
        format!("sha256:{}", sha256_hex(API.as_bytes())),
        "{results}"
    );
    assert_eq!(denied.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&denied.stderr).contains("401"));

    let client = pactown::registry::Client::new(&url, None).unwrap();
    let api = client.artifact("team", "api").await.unwrap();
    assert_eq!(api.description, "the api");
    assert_eq!(api.tags, ["api", "web"]);
    let v = client.version("team", "api", "1.4.0").await.unwrap();
    assert_eq!(v.metadata["service"], "api");
    assert_eq!(v.metadata["runtime"], "python");

    // Consumer ecosystem: READMEs from the registry.
    let cons = tempfile::tempdir().unwrap();
    write(
        cons.path(),
        "app.pactown.yaml",
        &format!(
            "name: app\nregistry: {{url: {url}, namespace: team}}\nservices:\n  api:\n    readme: registry:team/api@latest\n  web:\n    readme: registry:web@0.3.0\n"
        ),
    );
    let eco = pactown::config::load(&cons.path().join("app.pactown.yaml")).unwrap();
    let err = resolve_vendor(&eco).unwrap_err();
    assert_eq!(err.0.len(), 2, "{err}");
    assert!(err.to_string().contains("pactown pull"), "{err}");

    let c = cons.path().to_path_buf();
    let pull = move |args: &'static [&'static str]| {
        let c = c.clone();
        async move {
            tokio::task::spawn_blocking(move || pactown(&c).args(args).output().unwrap())
                .await
                .unwrap()
        }
    };
    let out = pull(&["pull", "app.pactown.yaml"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("pulled team/api@1.4.0"), "{stdout}");
    let vendored = cons.path().join(".pactown/vendor/team/api/1.4.0/README.md");
    assert_eq!(std::fs::read_to_string(&vendored).unwrap(), API);
    let lockfile = lock::read_lock(&cons.path().join("pactown.lock")).unwrap();
    assert_eq!(lockfile.artifacts.len(), 2);
    let api_entry = lockfile.find("team", "api", "latest").unwrap();
    assert_eq!(api_entry.version, "1.4.0");
    assert_eq!(api_entry.checksum, sha256_hex(API.as_bytes()));

    let map = resolve_vendor(&eco).unwrap();
    assert_eq!(map["api"], vendored);
    assert_eq!(
        map["web"],
        cons.path().join(".pactown/vendor/team/web/0.3.0/README.md")
    );

    // A second pull is offline-clean.
    let out = pull(&["pull", "app.pactown.yaml"]).await;
    assert!(String::from_utf8_lossy(&out.stdout).contains("up to date team/api@1.4.0"));
    let out = pull(&["pull", "app.pactown.yaml", "--json"]).await;
    let results: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let api = results
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["artifact"] == "team/api")
        .unwrap();
    assert_eq!(api["action"], "up-to-date", "{results}");
    assert_eq!(api["version"], "1.4.0", "{results}");
    assert_eq!(api["services"], serde_json::json!(["api"]), "{results}");

    // A newer `latest` is not picked up without --update: the lock pins 1.4.0.
    let newer = pactown::registry::PublishRequest {
        name: "api".into(),
        version: "1.5.0".into(),
        readme_content: API.replace("print('api')", "print('api 1.5')"),
        namespace: "team".into(),
        description: String::new(),
        tags: vec![],
        metadata: Default::default(),
    };
    pactown::registry::Client::new(&url, Some(TOKEN.into()))
        .unwrap()
        .publish(&newer)
        .await
        .unwrap();
    std::fs::write(&vendored, "tampered").unwrap();
    let err = resolve_vendor(&eco).unwrap_err();
    assert!(err.to_string().contains("but pactown.lock pins"), "{err}");
    let out = pull(&["pull", "app.pactown.yaml"]).await;
    assert!(out.status.success());
    assert_eq!(std::fs::read_to_string(&vendored).unwrap(), API);
    let out = pull(&["pull", "app.pactown.yaml", "--update"]).await;
    assert!(String::from_utf8_lossy(&out.stdout).contains("pulled team/api@1.5.0"));
    let lockfile = lock::read_lock(&cons.path().join("pactown.lock")).unwrap();
    assert_eq!(
        lockfile.find("team", "api", "latest").unwrap().version,
        "1.5.0"
    );

    // A lock that pins other content than the registry serves: refused, nothing rewritten.
    let lock_path = cons.path().join("pactown.lock");
    let text = std::fs::read_to_string(&lock_path).unwrap();
    let forged = text.replace(&sha256_hex(WEB.as_bytes()), &"0".repeat(64));
    std::fs::write(&lock_path, &forged).unwrap();
    let out = pull(&["pull", "app.pactown.yaml"]).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("pins"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&lock_path).unwrap(), forged);

    running.stop().await.unwrap();
}

#[test]
fn publish_reports_bad_versions_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "api/README.md",
        &API.replace("version: 1.4.0", "version: one"),
    );
    write(
        dir.path(),
        "shop.pactown.yaml",
        "name: shop\nservices:\n  api:\n    readme: api/README.md\n",
    );
    let out = pactown(dir.path())
        .args([
            "publish",
            "shop.pactown.yaml",
            "--registry",
            "http://127.0.0.1:9",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("README.md:3"), "{stderr}");
    assert!(stderr.contains("not semver"), "{stderr}");
}
