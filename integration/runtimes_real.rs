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
    let name = common::unique("rt-go");
    let services: String = ["dot", "file", "cmd", "built", "vendored"]
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
    assert_eq!(
        get_ok(&format!("{}/greet", url(&st, "vendored"))),
        "hello from a vendored module"
    );
}

crate::per_engine!(sync: go_run_patterns_work_hardened);
