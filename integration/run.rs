//! `pactown run README.md` on real engines: in the foreground the program serves until SIGINT
//! reaches `pactown run`, which then removes its container; `-d` returns once it is healthy and
//! leaves it reachable; `--once` runs it to completion and exits with the program's exit code.
use crate::common::{self, pactown, pactown_cmd, text, Down};
use pactown::engine::EngineKind;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// A web server answering `hello $WHO` on `$PORT`, which says when it listens.
fn web(dir: &Path) -> PathBuf {
    let readme = dir.join("web").join("README.md");
    std::fs::create_dir_all(readme.parent().unwrap()).unwrap();
    std::fs::write(
        &readme,
        common::python_service(
            "web",
            r#"print("web listening on %s" % os.environ["PORT"], flush=True)"#,
            r#"        self.reply(200, "hello " + os.environ.get("WHO", "?"))"#,
        ),
    )
    .unwrap();
    readme
}

/// A program that prints `once: $GREETING` and exits with `$CODE`.
fn once(dir: &Path) -> PathBuf {
    let readme = dir.join("once").join("README.md");
    std::fs::create_dir_all(readme.parent().unwrap()).unwrap();
    std::fs::write(
        &readme,
        r#"# once

```python markpact:file path=main.py
import os, sys
print("once: %s" % os.environ.get("GREETING"), flush=True)
sys.exit(int(os.environ.get("CODE", "0")))
```

```bash markpact:run
python3 main.py
```
"#,
    )
    .unwrap();
    readme
}

/// The ecosystem name `run` printed (`running … as NAME on …`).
fn eco_name(out: &str) -> String {
    out.lines()
        .find_map(|l| l.split(" as ").nth(1))
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no ecosystem name in:\n{out}"))
        .to_string()
}

fn port(kind: EngineKind) -> u16 {
    common::free_base() / 2 * 2 + u16::from(kind == EngineKind::Podman)
}

fn wait_for_http(url: &str, secs: u64) -> (u16, String) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        match common::http_get(url) {
            (200, body) => return (200, body),
            _ if Instant::now() > deadline => panic!("{url} did not answer within {secs}s"),
            _ => std::thread::sleep(Duration::from_millis(250)),
        }
    }
}

fn run_in_the_foreground_until_sigint(kind: EngineKind) {
    if !common::available(kind) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let readme = web(tmp.path());
    let p = port(kind);
    let mut child = pactown_cmd()
        .args([
            "run",
            readme.to_str().unwrap(),
            "-p",
            &p.to_string(),
            "-e",
            "WHO=foreground",
            "--engine",
            common::cli(kind),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let collect = |mut pipe: Box<dyn std::io::Read + Send>| {
        let buf = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let b = std::sync::Arc::clone(&buf);
        let reader = std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                b.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&chunk[..n]));
            }
        });
        (buf, reader)
    };
    let (stdout, out_reader) = collect(Box::new(child.stdout.take().unwrap()));
    let (stderr, err_reader) = collect(Box::new(child.stderr.take().unwrap()));
    let (_, body) = wait_for_http(&format!("http://127.0.0.1:{p}/"), 300);
    assert_eq!(body, "hello foreground");
    // the program's own output is shown, from its start, once it is up
    let listening = format!("web listening on {p}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !stdout.lock().unwrap().contains(&listening) {
        assert!(
            Instant::now() < deadline,
            "no output from the program: {}",
            stderr.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // SIGINT to `pactown run` (what Ctrl+C sends) stops and removes the program
    common::stop_child(&mut child);
    let status = child.wait().unwrap();
    out_reader.join().unwrap();
    err_reader.join().unwrap();
    let all = format!("{}\n{}", stdout.lock().unwrap(), stderr.lock().unwrap());
    assert_eq!(status.code(), Some(130), "{all}");
    assert!(all.contains("stopping web"), "{all}");
    let name = eco_name(&all);
    assert!(common::container_ids(kind, &name).is_empty(), "{all}");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", p)).is_err(),
        "port {p} still answers"
    );
}

fn run_detached_stays_reachable(kind: EngineKind) {
    if !common::available(kind) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let readme = web(tmp.path());
    let p = port(kind);
    let o = pactown(&[
        "run",
        readme.to_str().unwrap(),
        "-d",
        "-p",
        &p.to_string(),
        "-e",
        "WHO=detached",
        "--engine",
        common::cli(kind),
        "--timeout",
        "300",
    ]);
    let all = text(&o);
    let name = eco_name(&all);
    let _guard = Down::new(&readme, kind).name(&name).timeout(1);
    assert!(o.status.success(), "{all}");
    assert!(
        all.contains(&format!("pactown down --name {name}")),
        "{all}"
    );
    // reachable after `run -d` returned, hardened like `up`
    let (code, body) = common::http_get(&format!("http://127.0.0.1:{p}/"));
    assert_eq!((code, body.as_str()), (200, "hello detached"));
    let c = format!("{name}-web-1");
    assert_eq!(
        common::cli_output(
            kind,
            &["inspect", "-f", "{{.HostConfig.ReadonlyRootfs}}", &c]
        ),
        "true"
    );
    let status = common::stdout_json(&pactown(&[
        "status",
        "--name",
        &name,
        "--json",
        "--engine",
        common::cli(kind),
    ]));
    assert_eq!(
        common::row(&status, "web")["health"]["healthy"],
        true,
        "{status}"
    );
}

fn run_once_returns_the_exit_code(kind: EngineKind) {
    if !common::available(kind) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let readme = once(tmp.path());
    for code in [0, 7] {
        let o = pactown(&[
            "run",
            readme.to_str().unwrap(),
            "--once",
            "-e",
            "GREETING=hi there",
            "-e",
            &format!("CODE={code}"),
            "--engine",
            common::cli(kind),
            "--timeout",
            "300",
        ]);
        let all = text(&o);
        assert_eq!(o.status.code(), Some(code), "{all}");
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("once: hi there"),
            "{all}"
        );
        // nothing is left behind, and the next run runs it again
        assert!(
            common::container_ids(kind, &eco_name(&all)).is_empty(),
            "{all}"
        );
    }
}

crate::per_engine!(sync:
    run_in_the_foreground_until_sigint,
    run_detached_stays_reachable,
    run_once_returns_the_exit_code,
);
