//! Crash test of the registry: the real `pactown registry serve` binary is killed with SIGKILL at
//! random moments while clients publish, then restarted on the same storage. After every crash
//! the index must load, and every publish the server acknowledged must be present with its
//! content.
use pactown::registry::model::sha256_hex;
use pactown::registry::{store, Client, PublishRequest};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncBufReadExt;

const TOKEN: &str = "crash-test-token-0123456789";
const ROUNDS: u64 = 8;
const WRITERS: u64 = 4;

fn readme(round: u64, w: u64, n: u64) -> String {
    format!(
        "# r{round} w{w} n{n}\n\n```python markpact:file path=main.py\nprint({round}, {w}, {n})\n```\n\n```bash markpact:run\npython main.py\n```\n"
    )
}

/// Starts the binary on a free loopback port and returns it with its URL.
async fn spawn(storage: &Path, tokens: &Path) -> (tokio::process::Child, String) {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_pactown"))
        .args([
            "registry",
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--rate-limit",
            "0",
        ])
        .arg("--storage")
        .arg(storage)
        .arg("--token-file")
        .arg(tokens)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn pactown registry serve");
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("server did not start in 30 s (index invalid after a crash?)")
        .unwrap()
        .expect("server exited before listening (index invalid after a crash?)");
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_string();
    (child, url)
}

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_during_publishes_loses_nothing_acknowledged() {
    let tmp = tempfile::tempdir().unwrap();
    let storage = tmp.path().join("storage");
    let tokens = tmp.path().join("tokens");
    std::fs::write(&tokens, format!("{TOKEN} *\n")).unwrap();
    std::fs::set_permissions(&tokens, std::fs::Permissions::from_mode(0o600)).unwrap();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("crash test seed {seed}");
    let mut rng = Rng(seed);
    type Acked = (
        String,
        String,
        String,
        serde_json::Map<String, serde_json::Value>,
    );
    let acked: Arc<Mutex<Vec<Acked>>> = Arc::default();

    for round in 0..ROUNDS {
        let (mut child, url) = spawn(&storage, &tokens).await;
        let mut writers = Vec::new();
        for w in 0..WRITERS {
            let url = url.clone();
            let acked = Arc::clone(&acked);
            writers.push(tokio::spawn(async move {
                let client = Client::new(&url, Some(TOKEN.into())).unwrap();
                for n in 0.. {
                    // metadata goes to a blob of its own, durable before the index names it
                    let mut metadata = serde_json::Map::new();
                    if n % 2 == 0 {
                        metadata.insert("writer".into(), w.into());
                        metadata.insert("pad".into(), format!("{round}-{n}").repeat(200).into());
                    }
                    let req = PublishRequest {
                        name: format!("w{w}"),
                        version: format!("{round}.{n}.0"),
                        readme_content: readme(round, w, n),
                        namespace: "crash".into(),
                        description: format!("round {round}"),
                        tags: vec![],
                        metadata,
                    };
                    match client.publish(&req).await {
                        Ok(out) => acked.lock().unwrap().push((
                            req.name,
                            req.version,
                            out.response.checksum,
                            req.metadata,
                        )),
                        // The server died under us: unacknowledged, may or may not be stored.
                        Err(_) => break,
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(30 + rng.below(400))).await;
        child.start_kill().unwrap();
        child.wait().await.unwrap();
        for w in writers {
            w.await.unwrap();
        }
        // Whatever moment the kill hit, the index on disk is complete and valid.
        let index = store::load_index(&storage).unwrap_or_else(|e| panic!("round {round}: {e}"));
        let count: usize = index.artifacts.values().map(|a| a.versions.len()).sum();
        assert!(count >= acked.lock().unwrap().len(), "round {round}");
    }

    let acked = acked.lock().unwrap().clone();
    eprintln!(
        "{} acknowledged publishes over {ROUNDS} crashes",
        acked.len()
    );
    assert!(
        acked.len() as u64 > ROUNDS,
        "too few publishes acknowledged to prove anything"
    );
    let (mut child, url) = spawn(&storage, &tokens).await;
    let client = Client::new(&url, None).unwrap();
    for (name, version, checksum, metadata) in &acked {
        let v = client
            .version("crash", name, version)
            .await
            .unwrap_or_else(|e| panic!("acknowledged crash/{name}@{version} lost: {e}"));
        assert_eq!(&v.checksum, checksum);
        assert_eq!(&sha256_hex(v.readme_content.as_bytes()), checksum);
        assert_eq!(&v.metadata, metadata, "crash/{name}@{version}");
    }
    child.start_kill().unwrap();
    child.wait().await.unwrap();
}
