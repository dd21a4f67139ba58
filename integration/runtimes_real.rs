//! Real-engine tests of run blocks written for a plain shell, under the hardened defaults
//! (read-only root, `noexec` tmpfs `/tmp`, non-root, no capabilities), on Docker and Podman:
//! Go's `go run .` / `go run main.go` / `go run ./cmd/NAME` / `go build -o bin/x . && ./bin/x`
//! and vendored modules, Rust crates with dependencies and `cargo run`, and install steps in the
//! run block (`npm install` then `npm start`, `pip install`, `uvicorn --reload`, apps writing to
//! `$HOME`, `/tmp` and their folder). Each test brings an ecosystem up through the `pactown`
//! binary and talks real HTTP to every service; a guard brings it down even when the test fails.
use crate::common::{self, free_base, http_get, pactown, row, text, Down};
use pactown::engine::EngineKind;
use std::path::Path;

/// Brings the ecosystem `services` (YAML under `services:`) up from the READMEs in `dir`;
/// returns the file, the guard and `status --json`.
fn up(
    kind: EngineKind,
    dir: &Path,
    name: &str,
    services: &str,
) -> (String, Down, serde_json::Value) {
    let yaml = format!(
        "name: {name}\nbase_port: {}\nservices:\n{services}",
        free_base()
    );
    let file = dir.join(format!("{name}.pactown.yaml"));
    std::fs::write(&file, yaml).unwrap();
    let f = file.to_str().unwrap().to_string();
    let guard = Down::new(&file, kind).timeout(1);
    let o = pactown(&[
        "up",
        &f,
        "-d",
        "--engine",
        common::cli(kind),
        "--timeout",
        "600",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let st = common::status_json(kind, &f, &[]);
    (f, guard, st)
}

fn url(st: &serde_json::Value, service: &str) -> String {
    row(st, service)["url"].as_str().unwrap().to_string()
}

/// `GET url` must answer 200; its body.
fn get_ok(url: &str) -> String {
    let (code, body) = http_get(url);
    assert_eq!(code, 200, "{url}: {body}");
    body
}

/// A Go HTTP server (package `main` of `pkg`): `/health`, `/exe` (the running executable's
/// path), `/tmp` (the mount options of /tmp), `/arg` (its first argument).
fn go_server(extra_import: &str, extra_body: &str) -> String {
    format!(
        r#"package main

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	{extra_import}
)

func main() {{
	http.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {{
		fmt.Fprint(w, "ok")
	}})
	http.HandleFunc("/exe", func(w http.ResponseWriter, r *http.Request) {{
		exe, _ := os.Executable()
		fmt.Fprint(w, exe)
	}})
	http.HandleFunc("/arg", func(w http.ResponseWriter, r *http.Request) {{
		fmt.Fprint(w, strings.Join(os.Args[1:], " "))
	}})
	http.HandleFunc("/tmp", func(w http.ResponseWriter, r *http.Request) {{
		data, _ := os.ReadFile("/proc/mounts")
		for _, l := range strings.Split(string(data), "\n") {{
			f := strings.Fields(l)
			if len(f) > 3 && f[1] == "/tmp" {{
				fmt.Fprint(w, f[3])
			}}
		}}
	}})
	{extra_body}
	port := os.Getenv("PORT")
	if err := http.ListenAndServe("0.0.0.0:"+port, nil); err != nil {{
		panic(err)
	}}
}}
"#
    )
}

fn md(files: &[(&str, &str)], run: &str) -> String {
    let mut s = String::from("# svc\n\n");
    for (path, body) in files {
        let lang = if path.ends_with(".go") {
            "go"
        } else if path.ends_with(".rs") {
            "rust"
        } else if path.ends_with(".toml") {
            "toml"
        } else {
            "text"
        };
        s.push_str(&format!(
            "```{lang} markpact:file path={path}\n{body}\n```\n\n"
        ));
    }
    s.push_str(&format!("```bash markpact:run\n{run}\n```\n"));
    s
}

/// Every Go run-block pattern, hardened, with real HTTP: the process is the binary built at
/// image build time (never a `go-build` temp file), /tmp is `noexec` on both engines, program
/// arguments after the package reach the binary, and vendored modules build offline.
fn go_run_patterns_work_hardened(kind: EngineKind) {
    if !common::available(kind) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let server = go_server("", "");
    let write = |name: &str, text: String| std::fs::write(tmp.path().join(name), text).unwrap();
    write(
        "dot.md",
        md(&[("main.go", &server)], "go run . --from-run-block"),
    );
    write(
        "file.md",
        md(
            &[("main.go", &server)],
            "echo starting >&2\nexec go run main.go",
        ),
    );
    write(
        "cmd.md",
        md(
            &[
                ("go.mod", "module example.com/shop\n\ngo 1.19"),
                ("cmd/api/main.go", &server),
            ],
            "go run ./cmd/api",
        ),
    );
    write(
        "built.md",
        md(&[("main.go", &server)], "go build -o bin/x . && ./bin/x"),
    );
    let vendored = go_server(
        "\"example.com/greet\"",
        "http.HandleFunc(\"/greet\", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, greet.Hello()) })",
    );
    write(
        "vendored.md",
        md(
            &[
                (
                    "go.mod",
                    "module example.com/app\n\ngo 1.19\n\nrequire example.com/greet v1.0.0",
                ),
                ("main.go", &vendored),
                (
                    "vendor/example.com/greet/greet.go",
                    "package greet\n\nfunc Hello() string { return \"hello from a vendored module\" }",
                ),
                (
                    "vendor/modules.txt",
                    "# example.com/greet v1.0.0\n## explicit\nexample.com/greet",
                ),
            ],
            "go run .",
        ),
    );
    // a `go run` the build cannot see (inside `sh -c`) compiles at start, and still works under
    // the noexec /tmp: GOTMPDIR is below /app
    write(
        "fallback.md",
        md(&[("main.go", &server)], "sh -c \"go run .\""),
    );
    let name = common::unique("rt-go");
    let services: String = ["dot", "file", "cmd", "built", "vendored", "fallback"]
        .iter()
        .map(|s| format!("  {s}:\n    readme: {s}.md\n    health_check: /health\n"))
        .collect();
    let (_f, _guard, st) = up(kind, tmp.path(), &name, &services);
    for svc in ["dot", "file", "cmd", "vendored"] {
        let u = url(&st, svc);
        assert_eq!(get_ok(&format!("{u}/health")), "ok");
        let exe = get_ok(&format!("{u}/exe"));
        assert!(
            exe.starts_with("/app/.markpact/bin/go-run-"),
            "{svc}: runs {exe}, not the binary built at image build time"
        );
        assert!(
            get_ok(&format!("{u}/tmp"))
                .split(',')
                .any(|o| o == "noexec"),
            "{svc}: /tmp is not noexec"
        );
        assert_eq!(row(&st, svc)["hardening"]["read_only"], true);
    }
    assert_eq!(
        get_ok(&format!("{}/arg", url(&st, "dot"))),
        "--from-run-block"
    );
    assert_eq!(get_ok(&format!("{}/exe", url(&st, "built"))), "/app/bin/x");
    let exe = get_ok(&format!("{}/exe", url(&st, "fallback")));
    assert!(exe.starts_with("/app/.markpact/tmp/go-build"), "{exe}");
    assert_eq!(
        get_ok(&format!("{}/greet", url(&st, "vendored"))),
        "hello from a vendored module"
    );
}

/// `md` with arbitrary fenced blocks: `(info, body)`.
fn md_blocks(blocks: &[(&str, &str)]) -> String {
    let mut s = String::from("# svc\n\n");
    for (info, body) in blocks {
        s.push_str(&format!("```{info}\n{body}\n```\n\n"));
    }
    s
}

const EXPRESS_SERVER: &str = r#"const express = require('express');
const fs = require('fs');
const os = require('os');
const app = express();
app.get('/health', (req, res) => res.send('ok'));
app.get('/write', (req, res) => {
  const p = String(req.query.path).replace(/^~/, os.homedir());
  try {
    fs.writeFileSync(p, 'x');
    res.send(fs.readFileSync(p, 'utf8'));
  } catch (e) {
    res.status(500).send(String(e));
  }
});
app.listen(Number(process.env.PORT), '0.0.0.0');"#;

const EXPRESS_PACKAGE: &str = r#"{
  "name": "web",
  "version": "1.0.0",
  "scripts": {"start": "node server.js"},
  "dependencies": {"express": "^4.19.2"}
}"#;

const FASTAPI_APP: &str = r#"import os
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

app = FastAPI()


@app.get("/health")
def health():
    return {"status": "ok"}


@app.get("/write", response_class=PlainTextResponse)
def write(path: str):
    p = os.path.expanduser(path)
    with open(p, "w") as f:
        f.write("x")
    with open(p) as f:
        return f.read()"#;

/// Run blocks of the original's process model, hardened: `npm install` then `npm start`,
/// `npm ci && npm start`, `pip install …` then `uvicorn … --reload`, `pip install streamlit` then
/// `streamlit run`; the apps write into `$HOME`, `/tmp` and their working directory. The install
/// steps ran at image build time: at start the shim skips them (its note is in the logs).
fn install_in_run_block_patterns_work_hardened(kind: EngineKind) {
    if !common::available(kind) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let write = |name: &str, text: String| std::fs::write(tmp.path().join(name), text).unwrap();
    let node = |run: &str| {
        md_blocks(&[
            ("json markpact:file path=package.json", EXPRESS_PACKAGE),
            ("js markpact:file path=server.js", EXPRESS_SERVER),
            ("bash markpact:run", run),
        ])
    };
    write("npm-install.md", node("npm install\nnpm start"));
    write("npm-ci.md", node("npm ci && npm start"));
    write(
        "pip.md",
        md_blocks(&[
            ("python markpact:file path=main.py", FASTAPI_APP),
            (
                "bash markpact:run",
                "pip install fastapi uvicorn\nuvicorn main:app --host 0.0.0.0 --port ${MARKPACT_PORT:-8000} --reload",
            ),
        ]),
    );
    write(
        "streamlit.md",
        md_blocks(&[
            (
                "python markpact:file path=app.py",
                "import streamlit as st\n\nst.title(\"hello from streamlit\")",
            ),
            (
                "bash markpact:run",
                "python -m pip install streamlit\nstreamlit run app.py --server.port $PORT --server.address 0.0.0.0",
            ),
        ]),
    );
    let name = common::unique("rt-inst");
    let services = "  npm-install:\n    readme: npm-install.md\n    health_check: /health\n  \
                    npm-ci:\n    readme: npm-ci.md\n    health_check: /health\n  \
                    pip:\n    readme: pip.md\n    health_check: /health\n  \
                    streamlit:\n    readme: streamlit.md\n    health_check: /_stcore/health\n";
    let (f, _guard, st) = up(kind, tmp.path(), &name, services);
    for svc in ["npm-install", "npm-ci", "pip"] {
        let u = url(&st, svc);
        assert_eq!(row(&st, svc)["hardening"]["read_only"], true);
        for path in ["~/home.txt", "/tmp/tmp.txt", "data.txt"] {
            assert_eq!(
                get_ok(&format!("{u}/write?path={path}")),
                "x",
                "{svc}: cannot write {path}"
            );
        }
    }
    assert_eq!(
        get_ok(&format!("{}/_stcore/health", url(&st, "streamlit"))),
        "ok"
    );
    let page = get_ok(&format!("{}/", url(&st, "streamlit")));
    assert!(
        page.contains("<html") || page.contains("<!doctype"),
        "{page}"
    );
    // the installs were not repeated at start
    let o = pactown(&["logs", &f, "--engine", common::cli(kind), "--tail", "200"]);
    let logs = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    for step in [
        "npm install",
        "npm ci",
        "pip install fastapi uvicorn",
        "python -m pip install streamlit",
    ] {
        assert!(
            logs.contains(&format!("`{step}` ran when the image was built")),
            "no skip note for `{step}`:\n{logs}"
        );
    }
}

const RUST_SERVER: &str = r#"use std::io::{Read, Write};
use std::net::TcpListener;

fn main() {
    let port = std::env::var("PORT").unwrap_or_else(|_| "8000".to_string());
    let args: Vec<String> = std::env::args().skip(1).collect();
    let exe = std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default();
    let listener = TcpListener::bind(format!("0.0.0.0:{port}")).expect("bind");
    for stream in listener.incoming() {
        let Ok(mut s) = stream else { continue };
        // the request may arrive in pieces: read up to the end of its head
        let mut req = String::new();
        let mut buf = [0u8; 1024];
        while !req.contains("\r\n\r\n") {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => req.push_str(&String::from_utf8_lossy(&buf[..n])),
            }
        }
        let path = req.split_whitespace().nth(1).unwrap_or("/").to_string();
        let body = match path.as_str() {
            "/health" => "ok".to_string(),
            "/exe" => exe.clone(),
            "/arg" => args.join(" "),
            _ => itoa::Buffer::new().format(4242_u32).to_string(),
        };
        let _ = write!(s, "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{}", body.len(), body);
    }
}"#;

/// A crate with a dependency from a `rust markpact:deps` block and `cargo run --release -- ARGS`
/// in the run block, hardened: the process is the release binary built at image build time and
/// gets the arguments after `--`.
fn cargo_run_with_crates_works_hardened(kind: EngineKind) {
    if !common::available(kind) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("rust.md"),
        md_blocks(&[
            ("rust markpact:deps", "itoa@1"),
            ("rust markpact:file path=src/main.rs", RUST_SERVER),
            ("bash markpact:run", "cargo run --release -- --greeting hi"),
        ]),
    )
    .unwrap();
    let name = common::unique("rt-rust");
    let (_f, _guard, st) = up(
        kind,
        tmp.path(),
        &name,
        "  rust:\n    readme: rust.md\n    health_check: /health\n",
    );
    let u = url(&st, "rust");
    assert_eq!(get_ok(&format!("{u}/health")), "ok");
    assert_eq!(get_ok(&format!("{u}/n")), "4242");
    assert_eq!(get_ok(&format!("{u}/arg")), "--greeting hi");
    let exe = get_ok(&format!("{u}/exe"));
    assert!(exe.starts_with("/app/target/release/"), "{exe}");
    assert_eq!(row(&st, "rust")["hardening"]["read_only"], true);
}

/// Services with no `health_check` and no `/health` (404 everywhere but `/`): each is judged by
/// a connection to its port, and a dependant starts only once its dependency accepts one — a Go
/// server that listens 2 s after `go run .` starts, a plain `python3 -m http.server`, and a
/// dependant whose start-up fetches from the Go service (it exits when that fails, so `up`
/// would fail).
fn services_without_a_health_check_start_in_order(kind: EngineKind) {
    if !common::available(kind) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let write = |name: &str, text: String| std::fs::write(tmp.path().join(name), text).unwrap();
    let late = r#"package main

import (
	"fmt"
	"net/http"
	"os"
	"time"
)

func main() {
	time.Sleep(2 * time.Second)
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, "go ok")
	})
	http.ListenAndServe(":"+os.Getenv("PORT"), nil)
}"#;
    write("late.md", md(&[("main.go", late)], "go run ."));
    write(
        "plain.md",
        md(
            &[("index.html", "plain ok")],
            "python3 -m http.server $PORT",
        ),
    );
    let after = r#"import http.server, os, urllib.request
body = urllib.request.urlopen(os.environ["LATE_URL"] + "/", timeout=5).read()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(body) + 7))
        self.end_headers()
        self.wfile.write(b"after: " + body)
http.server.HTTPServer(("0.0.0.0", int(os.environ["PORT"])), H).serve_forever()"#;
    write("after.md", md(&[("server.py", after)], "python3 server.py"));
    let name = common::unique("rt-nohealth");
    let services = "  late:\n    readme: late.md\n  plain:\n    readme: plain.md\n  \
                    after:\n    readme: after.md\n    depends_on: [late]\n";
    let (_f, _guard, st) = up(kind, tmp.path(), &name, services);
    assert_eq!(get_ok(&url(&st, "late")), "go ok");
    assert_eq!(http_get(&format!("{}/health", url(&st, "late"))).0, 404);
    assert_eq!(get_ok(&url(&st, "plain")).trim(), "plain ok");
    assert_eq!(get_ok(&url(&st, "after")), "after: go ok");
    for svc in ["late", "plain", "after"] {
        assert_eq!(row(&st, svc)["health"]["healthy"], true, "{st:#}");
    }
}

crate::per_engine!(
    sync: go_run_patterns_work_hardened,
    cargo_run_with_crates_works_hardened,
    install_in_run_block_patterns_work_hardened,
    services_without_a_health_check_start_in_order
);
