//! The standing hostile-input suite: the real `pactown` binary, run under `prlimit --as` (an
//! address-space cap) with a wall-clock bound asserted, against inputs and peers built to hurt
//! it — a registry that answers with path traversal, alias bombs, huge info strings, `/dev/zero`
//! READMEs. Every case must end with a clear error (or a correct answer) well inside its bounds.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

use pactown::registry::model::sha256_hex;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Address-space cap for one CLI run (the binary maps ~100 MB of virtual memory at rest, mostly
/// thread stacks and the allocator's arenas).
const DEFAULT_AS_MB: u64 = 512;
/// Wall-clock bound for one hostile case. Each takes well under a second in a release build; the
/// bound leaves room for a debug build on a loaded 2-core CI machine, and is still far below what
/// the defects took (10 s to minutes, or an out-of-memory abort).
const BOUND: Duration = Duration::from_secs(10);

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_pactown"))
}

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// Runs the CLI in `dir` under an address-space cap of `mem_mb`, kills it after `limit`, and
/// asserts it finished inside `limit`. Returns its output and the time it took.
fn run_bounded(dir: &Path, args: &[&str], mem_mb: u64, limit: Duration) -> (Output, Duration) {
    let mut cmd = Command::new("prlimit");
    cmd.arg(format!("--as={}", mem_mb * 1024 * 1024))
        .arg("--")
        .arg(bin())
        .args(args)
        .current_dir(dir)
        .env_remove("PACTOWN_REGISTRY_URL")
        .env_remove("PACTOWN_REGISTRY_TOKEN")
        .env_remove("PACTOWN_FILE")
        // CI exports a CA bundle; it would win over the hostile `build: {ca_bundle: …}` of a case
        .env_remove("PACTOWN_CA_BUNDLE")
        .env("NO_COLOR", "1")
        // glibc reserves 64 MiB of address space per malloc arena (one per busy thread): with
        // two arenas the cap measures memory in use, not how many threads happened to allocate.
        .env("MALLOC_ARENA_MAX", "2")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn().expect("prlimit (util-linux) is needed");
    let out_pipe = child.stdout.take().unwrap();
    let err_pipe = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || read_all(out_pipe));
    let err_t = std::thread::spawn(move || read_all(err_pipe));
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "`pactown {}` ran longer than {limit:?}; killed",
                args.join(" ")
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let took = start.elapsed();
    eprintln!(
        "pactown {} took {took:?}",
        args.join(" ").chars().take(80).collect::<String>()
    );
    let out = Output {
        status,
        stdout: out_t.join().unwrap(),
        stderr: err_t.join().unwrap(),
    };
    (out, took)
}

fn read_all(mut r: impl Read) -> Vec<u8> {
    let mut v = Vec::new();
    let _ = r.read_to_end(&mut v);
    v
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A registry that answers every request with the same 200 JSON body, on 127.0.0.1.
struct FakeRegistry {
    url: String,
}

impl FakeRegistry {
    fn serving(body: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut s) = stream else { continue };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(resp.as_bytes());
            }
        });
        Self { url }
    }

    fn version_answer(version: &str, readme: &str) -> Self {
        Self::serving(
            serde_json::json!({
                "version": version,
                "readme_content": readme,
                "checksum": sha256_hex(readme.as_bytes()),
                "published_at": "2024-01-01T00:00:00.000000+00:00",
                "metadata": {}
            })
            .to_string(),
        )
    }
}

/// A registry that answers with a 200 and then body bytes forever.
fn endless_registry() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            std::thread::spawn(move || {
                let mut chunk = [0u8; 4096];
                let _ = s.read(&mut chunk);
                let _ = s.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{\"version\": \"",
                );
                let block = vec![b'1'; 1 << 16];
                while s.write_all(&block).is_ok() {}
            });
        }
    });
    url
}

const EVIL: &str = "# pwned\n\n```bash markpact:run\nrm -rf /\n```\n";

/// Every file under `dir` with its content, to prove nothing else changed.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut all = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                all.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    all.sort();
    all
}

// ---- item 1: a registry's answer never becomes a path outside .pactown/vendor ----

#[test]
fn pull_refuses_a_registry_answer_with_path_traversal() {
    for (requested, answered) in [
        ("1.0.0", "../../../../api"),
        ("latest", "../../../../api"),
        ("latest", "/tmp/x"),
        ("1.0.0", "1.0.0/../../../../../api"),
        ("1.0.0", "2.0.0"),
        ("latest", "1.0.0\u{1b}[2J"),
        ("latest", ".."),
    ] {
        let reg = FakeRegistry::version_answer(answered, EVIL);
        let outer = tempfile::tempdir().unwrap();
        let dir = outer.path().join("eco");
        write(&dir, "api/README.md", "# my local api\n");
        write(
            &dir,
            "app.pactown.yaml",
            &format!(
                "name: app\nservices:\n  api:\n    readme: api/README.md\n  svc:\n    readme: registry:team/svc@{requested}\n"
            ),
        );
        let before = snapshot(outer.path());
        let (out, _) = run_bounded(
            &dir,
            &["pull", "app.pactown.yaml", "--registry", &reg.url],
            DEFAULT_AS_MB,
            Duration::from_secs(20),
        );
        assert_eq!(
            out.status.code(),
            Some(1),
            "{requested} -> {answered}: {}",
            text(&out)
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("team/svc"),
            "{requested} -> {answered}: {}",
            text(&out)
        );
        assert!(
            !stderr.contains('\u{1b}'),
            "control characters printed raw: {}",
            text(&out)
        );
        assert_eq!(
            snapshot(outer.path()),
            before,
            "{requested} -> {answered}: pull wrote files: {}",
            text(&out)
        );
        assert!(!Path::new("/tmp/x/README.md").exists() || answered != "/tmp/x");
    }
}

#[test]
fn pull_refuses_a_lock_file_whose_paths_leave_the_vendor_folder() {
    let reg = FakeRegistry::version_answer("1.0.0", EVIL);
    let outer = tempfile::tempdir().unwrap();
    let dir = outer.path().join("eco");
    write(&dir, "api/README.md", "# my local api\n");
    write(
        &dir,
        "app.pactown.yaml",
        "name: app\nservices:\n  api:\n    readme: api/README.md\n  svc:\n    readme: registry:team/svc@1.0.0\n",
    );
    // A lock file (e.g. from a hostile pull request) pinning the right checksum but another path.
    let lock = serde_json::json!({
        "version": 1,
        "artifacts": [{
            "namespace": "team", "name": "svc", "requested": "1.0.0", "version": "1.0.0",
            "checksum": sha256_hex(EVIL.as_bytes()),
            "path": "api/README.md"
        }]
    });
    write(&dir, "pactown.lock", &lock.to_string());
    let before = snapshot(outer.path());
    let (out, _) = run_bounded(
        &dir,
        &["pull", "app.pactown.yaml", "--registry", &reg.url],
        DEFAULT_AS_MB,
        Duration::from_secs(20),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("pactown.lock"),
        "{}",
        text(&out)
    );
    assert_eq!(snapshot(outer.path()), before, "{}", text(&out));
    // `validate` reads the lock too, and must not use a README outside the vendor folder.
    let (out, _) = run_bounded(
        &dir,
        &["validate", "app.pactown.yaml"],
        DEFAULT_AS_MB,
        Duration::from_secs(20),
    );
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("has path `api/README.md`"),
        "{}",
        text(&out)
    );
}

#[test]
fn pull_stops_reading_an_endless_answer() {
    let url = endless_registry();
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "app.pactown.yaml",
        "name: app\nservices:\n  svc:\n    readme: registry:team/svc@latest\n",
    );
    let (out, _) = run_bounded(
        dir.path(),
        &["pull", "app.pactown.yaml", "--registry", &url],
        DEFAULT_AS_MB,
        Duration::from_secs(20),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("bytes"),
        "{}",
        text(&out)
    );
    assert!(!dir.path().join(".pactown").exists());
}

#[test]
fn pull_of_a_well_behaved_answer_still_works() {
    let readme = "# svc\n\n```python markpact:file path=main.py\nprint('x')\n```\n\n```bash markpact:run\npython main.py\n```\n";
    let reg = FakeRegistry::version_answer("1.2.0", readme);
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "app.pactown.yaml",
        "name: app\nservices:\n  svc:\n    readme: registry:team/svc@latest\n",
    );
    let (out, _) = run_bounded(
        dir.path(),
        &["pull", "app.pactown.yaml", "--registry", &reg.url],
        DEFAULT_AS_MB,
        Duration::from_secs(20),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(dir.path().join(".pactown/vendor/team/svc/1.2.0/README.md"))
            .unwrap(),
        readme
    );
}

// ---- item 2: YAML alias amplification ----

const SVC_README: &str = "# svc\n\n```python markpact:file path=main.py\nprint('x')\n```\n\n```bash markpact:run\npython main.py\n```\n";

/// An ecosystem file of about 1 MB: one 1 MB string aliased 2,000 times (2 GB expanded).
fn alias_bomb() -> String {
    let mut doc = format!(
        "name: bomb\ndescription: &big \"{}\"\nservices:\n  svc:\n    readme: svc/README.md\n    env:\n",
        "A".repeat(1 << 20)
    );
    for i in 0..2000 {
        doc.push_str(&format!("      V{i}: *big\n"));
    }
    doc
}

#[test]
fn yaml_alias_amplification_is_refused_fast_and_small() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "svc/README.md", SVC_README);
    write(dir.path(), "bomb.pactown.yaml", &alias_bomb());
    for args in [
        &["validate", "bomb.pactown.yaml"][..],
        &["export", "compose", "bomb.pactown.yaml"][..],
    ] {
        let (out, took) = run_bounded(dir.path(), args, 100, BOUND);
        assert!(!out.status.success(), "{args:?}: {}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("bomb.pactown.yaml") && stderr.contains("alias"),
            "{args:?}: {}",
            text(&out)
        );
        assert!(took < BOUND, "{args:?} took {took:?}");
    }
}

#[test]
fn small_aliases_still_work() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "svc/README.md", SVC_README);
    write(
        dir.path(),
        "ok.pactown.yaml",
        "name: ok\ndescription: &d \"shared\"\nservices:\n  svc:\n    readme: svc/README.md\n    env: &env {A: *d, B: \"2\"}\n  two:\n    readme: svc/README.md\n    env: *env\n",
    );
    let (out, _) = run_bounded(dir.path(), &["validate", "ok.pactown.yaml"], 100, BOUND);
    assert!(out.status.success(), "{}", text(&out));
}

// ---- items 3 and 10: info strings with very many items ----

fn readme_with_info(items: usize, item: impl Fn(usize) -> String) -> String {
    let mut info = String::from("python markpact:file path=main.py");
    for i in 0..items {
        info.push(' ');
        info.push_str(&item(i));
    }
    format!("# x\n\n```{info}\nprint(1)\n```\n\n```bash markpact:run\npython main.py\n```\n")
}

#[test]
fn many_info_string_attributes_parse_in_linear_time() {
    let dir = tempfile::tempdir().unwrap();
    // 80,000 attributes in one block; and a README just under 2 MiB, all attributes.
    write(
        dir.path(),
        "a.md",
        &readme_with_info(80_000, |i| format!("k{i}=v")),
    );
    write(
        dir.path(),
        "b.md",
        &readme_with_info(200_000, |i| format!("k{i}=v")),
    );
    for file in ["a.md", "b.md"] {
        assert!(std::fs::metadata(dir.path().join(file)).unwrap().len() < 2 * 1024 * 1024);
        let (out, took) = run_bounded(dir.path(), &["parse", file], 100, BOUND);
        assert_eq!(out.status.code(), Some(2), "{file}: {}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("LimitExceeded") && stderr.contains(&format!("{file}:3")),
            "{file}: {}",
            &text(&out).chars().take(2000).collect::<String>()
        );
        assert!(
            stderr.len() < 10_000,
            "{file}: {} bytes of errors",
            stderr.len()
        );
        assert!(took < BOUND, "{file} took {took:?}");
    }
}

#[test]
fn parse_json_of_a_million_words_in_one_info_string_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "w.md",
        &readme_with_info(1_000_000, |_| "w".into()),
    );
    assert!(std::fs::metadata(dir.path().join("w.md")).unwrap().len() < 2 * 1024 * 1024);
    let (out, took) = run_bounded(dir.path(), &["parse", "--json", "w.md"], 100, BOUND);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        &text(&out).chars().take(2000).collect::<String>()
    );
    assert!(
        out.stdout.len() < 100_000,
        "{} bytes of JSON",
        out.stdout.len()
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("LimitExceeded"),
        "{}",
        &text(&out).chars().take(2000).collect::<String>()
    );
    assert!(took < BOUND, "took {took:?}");
}

#[test]
fn short_info_strings_with_a_duplicate_are_still_reported() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "d.md",
        "# d\n\n```python markpact:file path=a.py path=b.py\nx\n```\n",
    );
    let (out, _) = run_bounded(dir.path(), &["parse", "d.md"], 100, BOUND);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("DuplicateAttribute"),
        "{}",
        text(&out)
    );
}

// ---- item 9: files are stat'ed and capped before they are read ----

#[test]
fn dev_zero_and_other_non_regular_files_are_refused_unread() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "svc/README.md", SVC_README);
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero.md")).unwrap();
    write(
        dir.path(),
        "z.pactown.yaml",
        "name: z\nservices:\n  svc:\n    readme: zero.md\n",
    );
    write(
        dir.path(),
        "ca.pactown.yaml",
        "name: ca\nbuild: {ca_bundle: /dev/zero}\nservices:\n  svc:\n    readme: svc/README.md\n",
    );
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("e.pactown.yaml")).unwrap();
    // A regular README over the size limit is refused by its size, not read whole.
    let big = std::fs::File::create(dir.path().join("big.md")).unwrap();
    big.set_len(8 << 30).unwrap();
    for args in [
        &["parse", "/dev/zero"][..],
        &["parse", "zero.md"][..],
        &["parse", "--json", "big.md"][..],
        &["validate", "z.pactown.yaml"][..],
        &["validate", "e.pactown.yaml"][..],
        &["export", "compose", "ca.pactown.yaml"][..],
        &["export", "compose", "z.pactown.yaml"][..],
    ] {
        let (out, took) = run_bounded(dir.path(), args, 100, BOUND);
        assert!(!out.status.success(), "{args:?}: {}", text(&out));
        let all = text(&out);
        assert!(
            all.contains("not a regular file") || all.contains("limit"),
            "{args:?}: {all}"
        );
        assert!(took < BOUND, "{args:?} took {took:?}");
    }
}

#[test]
fn yaml_alias_amplification_in_a_target_block_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut body = format!("platform: web\nx: &big \"{}\"\ny: [", "A".repeat(1 << 20));
    body.push_str(&vec!["*big"; 2000].join(", "));
    body.push(']');
    write(
        dir.path(),
        "t.md",
        &format!("{SVC_README}\n```yaml markpact:target\n{body}\n```\n"),
    );
    let (out, took) = run_bounded(dir.path(), &["parse", "t.md"], 100, BOUND);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("alias"),
        "{}",
        text(&out)
    );
    assert!(took < BOUND, "took {took:?}");
}

// ---- item 8: `export quadlet -o DIR` replaces only what pactown wrote there ----

#[test]
fn export_quadlet_keeps_the_users_other_files() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "api/README.md", SVC_README);
    write(dir.path(), "web/README.md", SVC_README);
    let two = "name: qx\nservices:\n  api:\n    readme: api/README.md\n  web:\n    readme: web/README.md\n";
    let one = "name: qx\nservices:\n  api:\n    readme: api/README.md\n";
    write(dir.path(), "qx.pactown.yaml", two);
    let units = dir.path().join("systemd");
    // the export mirrors the install root: Quadlet files in containers/systemd/
    let q = units.join("containers/systemd");
    write(&q, "mine.container", "[Container]\nImage=mine\n");
    write(&q, "notes.txt", "keep me\n");
    let export = |d: &Path| {
        run_bounded(
            d,
            &["export", "quadlet", "qx.pactown.yaml", "-o", "systemd"],
            DEFAULT_AS_MB,
            BOUND,
        )
        .0
    };
    let out = export(dir.path());
    assert!(out.status.success(), "{}", text(&out));
    assert!(q.join("qx-api.container").exists(), "{}", text(&out));
    assert!(q.join("qx-web.container").exists());
    assert_eq!(
        std::fs::read_to_string(q.join("mine.container")).unwrap(),
        "[Container]\nImage=mine\n"
    );
    assert_eq!(
        std::fs::read_to_string(q.join("notes.txt")).unwrap(),
        "keep me\n"
    );
    // A service removed: its unit goes, the user's files stay.
    write(dir.path(), "qx.pactown.yaml", one);
    let out = export(dir.path());
    assert!(out.status.success(), "{}", text(&out));
    assert!(q.join("qx-api.container").exists());
    assert!(!q.join("qx-web.container").exists());
    assert!(q.join("mine.container").exists() && q.join("notes.txt").exists());
    // A file of the user's with the name of a unit pactown would write: refused, untouched.
    write(dir.path(), "qx.pactown.yaml", two);
    write(&q, "qx-web.container", "[Container]\nImage=users-own\n");
    let out = export(dir.path());
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("qx-web.container"),
        "{}",
        text(&out)
    );
    assert_eq!(
        std::fs::read_to_string(q.join("qx-web.container")).unwrap(),
        "[Container]\nImage=users-own\n"
    );
    // Nothing left behind next to the folder.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names
            .iter()
            .all(|n| !n.contains("pactown-old") && !n.contains("pactown-tmp")),
        "{names:?}"
    );
}

#[test]
fn export_quadlet_to_an_existing_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "api/README.md", SVC_README);
    write(
        dir.path(),
        "qf.pactown.yaml",
        "name: qf\nservices:\n  api:\n    readme: api/README.md\n",
    );
    write(dir.path(), "precious", "data\n");
    let (out, _) = run_bounded(
        dir.path(),
        &["export", "quadlet", "qf.pactown.yaml", "-o", "precious"],
        DEFAULT_AS_MB,
        BOUND,
    );
    assert!(!out.status.success(), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("precious")).unwrap(),
        "data\n"
    );
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains("pactown-")), "{names:?}");
}

// ---- item 6: a token file others can read is refused, as ssh refuses a readable key ----

#[test]
fn registry_serve_refuses_a_token_file_others_can_read() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, "a-long-enough-token-0123456789 *\n").unwrap();
    let serve = |extra: &[&str]| {
        let mut args = vec![
            "registry",
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--storage",
            "store",
            "--token-file",
            "tokens",
        ];
        args.extend_from_slice(extra);
        args.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    for mode in [0o644, 0o640, 0o604] {
        std::fs::set_permissions(&tokens, std::fs::Permissions::from_mode(mode)).unwrap();
        let args = serve(&[]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (out, _) = run_bounded(dir.path(), &args, DEFAULT_AS_MB, BOUND);
        assert_eq!(out.status.code(), Some(1), "{mode:o}: {}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("chmod 600") && stderr.contains("--allow-readable-token-file"),
            "{mode:o}: {}",
            text(&out)
        );
    }
    // 0600 (or the explicit flag) starts the server.
    for (mode, extra) in [
        (0o600, &[][..]),
        (0o644, &["--allow-readable-token-file"][..]),
    ] {
        std::fs::set_permissions(&tokens, std::fs::Permissions::from_mode(mode)).unwrap();
        let mut child = Command::new(bin())
            .args(serve(extra))
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        let _ = child.kill();
        let _ = child.wait();
        assert!(line.contains("listening on"), "{mode:o}: {line:?}");
    }
}

// ---- item 14: masking of quoted values and secret flags in printed run blocks ----

#[test]
fn parse_masks_quoted_secrets_and_secret_flags() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "m.md",
        "# m\n\n```python markpact:file path=main.py\nprint(1)\n```\n\n```bash markpact:run\nDB_PASSWORD=\"quoted secret1\" API_KEY='single secret2' python main.py --token=secret3 --api-key secret4 --port 8000 --password=\"spaced secret5\"\n```\n",
    );
    let (out, _) = run_bounded(dir.path(), &["parse", "m.md"], DEFAULT_AS_MB, BOUND);
    assert!(out.status.success(), "{}", text(&out));
    let all = text(&out);
    for leak in [
        "secret1", "secret2", "secret3", "secret4", "secret5", "quoted", "single", "spaced",
    ] {
        assert!(!all.contains(leak), "`{leak}` printed: {all}");
    }
    assert!(all.contains("DB_PASSWORD=***"), "{all}");
    assert!(all.contains("--token=***"), "{all}");
    assert!(all.contains("--api-key ***"), "{all}");
    assert!(all.contains("--port 8000"), "{all}");
    assert!(all.contains("python main.py"), "{all}");
}

// ---- HTTPS for publish/pull by default; plain http to a remote registry is warned about ----

#[test]
fn https_registries_work_without_a_rebuild_and_plain_http_to_remote_is_warned() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "app.pactown.yaml",
        "name: app\nservices:\n  svc:\n    readme: registry:team/svc@1.0.0\n",
    );
    // A plain-TCP peer on loopback: the TLS handshake fails, so the client did speak TLS.
    let reg = FakeRegistry::version_answer("1.0.0", EVIL);
    let https = reg.url.replace("http://", "https://");
    let (out, _) = run_bounded(
        dir.path(),
        &["pull", "app.pactown.yaml", "--registry", &https],
        DEFAULT_AS_MB,
        BOUND,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("registry-tls"), "{}", text(&out));
    assert!(stderr.contains("not reachable"), "{}", text(&out));
    assert!(!stderr.contains("warning"), "{}", text(&out));
    // Plain http to a registry that is not on loopback: a warning (no request is made here,
    // the ecosystem has nothing to pull).
    let empty = tempfile::tempdir().unwrap();
    write(empty.path(), "svc/README.md", SVC_README);
    write(
        empty.path(),
        "e.pactown.yaml",
        "name: e\nservices:\n  svc:\n    readme: svc/README.md\n",
    );
    for (url, warned) in [
        ("http://192.0.2.7:8800", true),
        ("http://127.0.0.1:8800", false),
        ("http://localhost:8800", false),
        ("http://[::1]:8800", false),
    ] {
        let (out, _) = run_bounded(
            empty.path(),
            &["pull", "e.pactown.yaml", "--registry", url],
            DEFAULT_AS_MB,
            BOUND,
        );
        assert!(out.status.success(), "{url}: {}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            stderr.contains("warning: registry") && stderr.contains("https://"),
            warned,
            "{url}: {}",
            text(&out)
        );
    }
}

// ---- item 12: python requirement lines pip would not read as one requirement ----

#[test]
fn python_deps_lines_pip_would_misread_are_refused_and_never_printed_raw() {
    let dir = tempfile::tempdir().unwrap();
    for (i, bad) in [
        "fastapi\u{1b}[2J",
        "fastapi \\",
        "fastapi$(id)",
        "fastapi`id`",
        "a|b",
        "fastapi\u{7}",
    ]
    .iter()
    .enumerate()
    {
        let name = format!("d{i}.md");
        write(
            dir.path(),
            &name,
            &format!("# d\n\n```text markpact:deps python\nuvicorn\n{bad}\n```\n\n```python markpact:file path=main.py\nprint(1)\n```\n\n```bash markpact:run\npython main.py\n```\n"),
        );
        for args in [
            &["parse", name.as_str()][..],
            &["parse", "--json", name.as_str()][..],
        ] {
            let (out, _) = run_bounded(dir.path(), args, DEFAULT_AS_MB, BOUND);
            assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", text(&out));
            let all = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                !all.chars().any(|c| c.is_control() && c != '\n'),
                "{bad:?}: control character printed raw: {all:?}"
            );
            assert!(
                all.contains(&format!("{name}:5")) || all.contains("\"line\": 5"),
                "{bad:?}: {all}"
            );
        }
    }
    // Real requirement lines still pass.
    write(
        dir.path(),
        "ok.md",
        "# ok\n\n```text markpact:deps python\nfastapi>=0.110,<1\nuvicorn[standard]==0.29.*\nrequests ; python_version >= \"3.8\"\n```\n\n```python markpact:file path=main.py\nprint(1)\n```\n\n```bash markpact:run\npython main.py\n```\n",
    );
    let (out, _) = run_bounded(dir.path(), &["parse", "ok.md"], DEFAULT_AS_MB, BOUND);
    assert!(out.status.success(), "{}", text(&out));
}

// ---- item 13: validate applies the exporters' health-path rule ----

#[test]
fn validate_refuses_health_paths_every_exporter_refuses() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "svc/README.md", SVC_README);
    for (path, ok) in [
        ("/a%20b", false),
        ("/x;y", false),
        ("/a b", false),
        ("/health?x=1&y=2", true),
    ] {
        write(
            dir.path(),
            "h.pactown.yaml",
            &format!("name: h\nservices:\n  svc:\n    readme: svc/README.md\n    port: 8000\n    health_check: \"{path}\"\n"),
        );
        let (out, _) = run_bounded(
            dir.path(),
            &["validate", "h.pactown.yaml"],
            DEFAULT_AS_MB,
            BOUND,
        );
        assert_eq!(out.status.success(), ok, "{path}: {}", text(&out));
        if !ok {
            assert!(
                String::from_utf8_lossy(&out.stderr).contains("h.pactown.yaml:6"),
                "{path}: {}",
                text(&out)
            );
        }
        let (exp, _) = run_bounded(
            dir.path(),
            &["export", "compose", "h.pactown.yaml"],
            DEFAULT_AS_MB,
            BOUND,
        );
        assert_eq!(
            exp.status.success(),
            ok,
            "{path}: export and validate disagree: {}",
            text(&exp)
        );
    }
}

// ---- item 7 (first half): a secret mixed with references is still a secret in clear ----

#[test]
fn secrets_mixed_with_references_are_never_exported_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "svc/README.md", SVC_README);
    for value in ["hunter2${X}", "${DB_PASSWORD:-hunter2}", "${X}hunter2"] {
        write(
            dir.path(),
            "s.pactown.yaml",
            &format!("name: s\nservices:\n  svc:\n    readme: svc/README.md\n    env:\n      DB_PASSWORD: \"{value}\"\n"),
        );
        let (out, _) = run_bounded(
            dir.path(),
            &["validate", "s.pactown.yaml"],
            DEFAULT_AS_MB,
            BOUND,
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("SecretInClear"),
            "{value}: {}",
            text(&out)
        );
        for format in ["compose", "kube"] {
            let (out, _) = run_bounded(
                dir.path(),
                &["export", format, "s.pactown.yaml"],
                DEFAULT_AS_MB,
                BOUND,
            );
            assert!(out.status.success(), "{value} {format}: {}", text(&out));
            assert!(
                !text(&out).contains("hunter2"),
                "{value} {format}: {}",
                text(&out)
            );
        }
    }
}

// ---- item 1: a vendor path an attacker pre-created as a symbolic link ----

#[test]
fn pull_refuses_a_vendor_path_that_is_a_symlink_out_of_the_vendor_folder() {
    let readme = "# svc\n\n```python markpact:file path=main.py\nprint('x')\n```\n\n```bash markpact:run\npython main.py\n```\n";
    let reg = FakeRegistry::version_answer("1.2.0", readme);
    // each link an attacker could plant in the project: the vendor folder itself, a namespace,
    // an artifact, a version folder, and the README
    for link in [
        ".pactown/vendor",
        ".pactown/vendor/team",
        ".pactown/vendor/team/svc",
        ".pactown/vendor/team/svc/1.2.0",
        ".pactown/vendor/team/svc/1.2.0/README.md",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "app.pactown.yaml",
            "name: app\nservices:\n  svc:\n    readme: registry:team/svc@1.2.0\n",
        );
        let at = dir.path().join(link);
        std::fs::create_dir_all(at.parent().unwrap()).unwrap();
        let target = if link.ends_with("README.md") {
            std::fs::write(outside.path().join("victim.md"), "precious\n").unwrap();
            outside.path().join("victim.md")
        } else {
            outside.path().to_path_buf()
        };
        std::os::unix::fs::symlink(&target, &at).unwrap();
        let before = snapshot(outside.path());
        let (out, _) = run_bounded(
            dir.path(),
            &["pull", "app.pactown.yaml", "--registry", &reg.url],
            DEFAULT_AS_MB,
            Duration::from_secs(20),
        );
        let t = text(&out);
        assert_eq!(out.status.code(), Some(1), "{link}: {t}");
        assert!(t.contains("outside"), "{link}: {t}");
        // nothing written through the link: no file, no folder
        assert_eq!(snapshot(outside.path()), before, "{link}: {t}");
        assert!(
            std::fs::read_dir(outside.path()).unwrap().count() <= 1,
            "{link}: folders were created through the link"
        );
        assert!(!dir.path().join("pactown.lock").exists(), "{link}: {t}");
    }
}
