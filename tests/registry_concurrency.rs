//! 50 concurrent clients × 20 publishes each: every publish is acknowledged and present, and
//! the index on disk is valid and complete.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pactown::registry::auth::Tokens;
use pactown::registry::model::sha256_hex;
use pactown::registry::server::{self, ServeConfig};
use pactown::registry::store;
use std::path::Path;

const TOKEN: &str = "concurrency-token-0123456789";
const CLIENTS: usize = 50;
const EACH: usize = 20;

fn readme(c: usize, j: usize) -> String {
    format!(
        "# c{c} v{j}\n\n```python markpact:file path=main.py\nprint({c}, {j})\n```\n\n```bash markpact:run\npython main.py\n```\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_clients_twenty_publishes_each() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = Tokens::parse(Path::new("t"), &format!("{TOKEN} *")).unwrap();
    let running = server::start(ServeConfig::local(dir.path().to_path_buf(), tokens))
        .await
        .unwrap();
    let url = running.url();
    let started = std::time::Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            // Each client is its own connection pool, as separate processes would be.
            let client = pactown::registry::Client::new(&url, Some(TOKEN.into())).unwrap();
            for j in 0..EACH {
                let req = pactown::registry::PublishRequest {
                    // Five artifacts shared by all clients, so writers contend on the same records.
                    name: format!("svc{}", c % 5),
                    version: format!("{c}.{j}.0"),
                    readme_content: readme(c, j),
                    namespace: "load".into(),
                    description: String::new(),
                    tags: vec![format!("c{c}")],
                    metadata: Default::default(),
                };
                let out = client.publish(&req).await.unwrap();
                assert!(out.created);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = started.elapsed();
    eprintln!(
        "{} publishes in {elapsed:?} ({:.0}/s)",
        CLIENTS * EACH,
        (CLIENTS * EACH) as f64 / elapsed.as_secs_f64()
    );

    let client = pactown::registry::Client::new(&url, None).unwrap();
    let list = client.list(Some("load"), None).await.unwrap();
    let total: usize = list.iter().map(|a| a.versions.len()).sum();
    assert_eq!(total, CLIENTS * EACH);
    for (c, j) in [(0, 0), (49, 19), (17, 3)] {
        let v = client
            .version("load", &format!("svc{}", c % 5), &format!("{c}.{j}.0"))
            .await
            .unwrap();
        assert_eq!(v.readme_content, readme(c, j));
    }
    running.stop().await.unwrap();

    // The file on disk: parses, names every version, every blob matches its checksum.
    let index = store::load_index(dir.path()).unwrap();
    let mut count = 0;
    for c in 0..CLIENTS {
        let a = &index.artifacts[&format!("load/svc{}", c % 5)];
        for j in 0..EACH {
            let rec = &a.versions[&format!("{c}.{j}.0")];
            assert_eq!(rec.checksum, sha256_hex(readme(c, j).as_bytes()));
            let blob = std::fs::read(dir.path().join("blobs/sha256").join(&rec.checksum)).unwrap();
            assert_eq!(sha256_hex(&blob), rec.checksum);
            count += 1;
        }
    }
    assert_eq!(count, 1000);
    assert_eq!(
        index.artifacts["load/svc4"].latest_version.as_deref(),
        Some("49.19.0")
    );
}
