//! API tests of the registry server: every endpoint and every refusal, against a real server on
//! 127.0.0.1:0 started in-process, driven with reqwest.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pactown::registry::auth::Tokens;
use pactown::registry::model::sha256_hex;
use pactown::registry::server::{self, ServeConfig};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::path::Path;

const WRITER: &str = "writer-token-0123456789";
const TEAM_ONLY: &str = "team-only-token-0123456789";

fn readme(tag: &str) -> String {
    format!(
        "# Demo {tag}\n\n```python markpact:file path=main.py\nprint(\"{tag}\")\n```\n\n```bash markpact:run\npython main.py\n```\n"
    )
}

struct Server {
    running: Option<server::Running>,
    url: String,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Server {
    async fn start_with(tokens: Tokens, rate: f64, burst: u32) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = ServeConfig::local(dir.path().to_path_buf(), tokens);
        cfg.rate = rate;
        cfg.burst = burst;
        let running = server::start(cfg).await.unwrap();
        Self {
            url: running.url(),
            running: Some(running),
            http: reqwest::Client::new(),
            _dir: dir,
        }
    }

    /// A server on an existing storage folder.
    async fn start_in(dir: tempfile::TempDir) -> Self {
        let tokens = Tokens::parse(Path::new("tokens"), &format!("{WRITER} *\n")).unwrap();
        let running = server::start(ServeConfig::local(dir.path().to_path_buf(), tokens))
            .await
            .unwrap();
        Self {
            url: running.url(),
            running: Some(running),
            http: reqwest::Client::new(),
            _dir: dir,
        }
    }

    async fn start() -> Self {
        let tokens = Tokens::parse(
            Path::new("tokens"),
            &format!("{WRITER} *\n{TEAM_ONLY} team\n"),
        )
        .unwrap();
        Self::start_with(tokens, 0.0, 1).await
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let r = self.http.get(self.url(path)).send().await.unwrap();
        json_of(r).await
    }

    async fn publish(&self, token: Option<&str>, body: &Value) -> (StatusCode, Value) {
        let mut req = self.http.post(self.url("/v1/publish")).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        json_of(req.send().await.unwrap()).await
    }

    async fn delete(&self, token: Option<&str>, path: &str) -> (StatusCode, Value) {
        let mut req = self.http.delete(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        json_of(req.send().await.unwrap()).await
    }

    async fn stop(mut self) {
        self.running.take().unwrap().stop().await.unwrap();
    }
}

async fn json_of(r: reqwest::Response) -> (StatusCode, Value) {
    let status = r.status();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let text = r.text().await.unwrap();
    assert!(
        ct.starts_with("application/json"),
        "{status} answered {ct}: {text}"
    );
    (status, serde_json::from_str(&text).unwrap())
}

fn assert_error(got: &(StatusCode, Value), status: StatusCode, code: &str) {
    assert_eq!(got.0, status, "{}", got.1);
    assert_eq!(got.1["error"], code, "{}", got.1);
    assert!(
        got.1["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{}",
        got.1
    );
}

fn body(ns: &str, name: &str, version: &str, readme: &str) -> Value {
    json!({"name": name, "version": version, "readme_content": readme, "namespace": ns,
           "description": format!("{name} module"), "tags": ["web", "demo"], "metadata": {"k": 1}})
}

#[tokio::test]
async fn health_and_openapi() {
    let s = Server::start().await;
    let (st, v) = s.get("/health").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v, json!({"status": "ok", "service": "pactown-registry"}));
    let (st, v) = s.get("/openapi.json").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["openapi"], "3.0.3");
    assert!(v["paths"]["/v1/publish"]["post"].is_object());
    s.stop().await;
}

#[tokio::test]
async fn publish_read_and_list() {
    let s = Server::start().await;
    let r1 = readme("one");
    let (st, v) = s
        .publish(Some(WRITER), &body("team", "api", "1.2.0", &r1))
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(
        v,
        json!({"success": true, "artifact": "team/api", "version": "1.2.0", "checksum": sha256_hex(r1.as_bytes())})
    );
    for (ver, tag) in [("1.10.0", "ten"), ("1.9.0", "nine"), ("2.0.0-rc.1", "rc")] {
        let (st, v) = s
            .publish(Some(TEAM_ONLY), &body("team", "api", ver, &readme(tag)))
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
    }
    let (st, v) = s
        .publish(Some(WRITER), &body("other", "web", "0.1.0", &readme("web")))
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");

    let (st, v) = s.get("/v1/artifacts/team/api").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["name"], "api");
    assert_eq!(v["namespace"], "team");
    assert_eq!(v["description"], "api module");
    assert_eq!(v["latest_version"], "1.10.0");
    assert_eq!(
        v["versions"],
        json!(["1.2.0", "1.9.0", "1.10.0", "2.0.0-rc.1"])
    );
    assert_eq!(v["tags"], json!(["demo", "web"]));

    let (st, v) = s.get("/v1/artifacts/team/api/latest").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["version"], "1.10.0");
    assert_eq!(v["readme_content"], readme("ten"));
    assert_eq!(v["checksum"], sha256_hex(readme("ten").as_bytes()));
    assert_eq!(v["metadata"], json!({"k": 1}));
    assert!(v["published_at"].as_str().unwrap().ends_with("+00:00"));

    let (st, v) = s.get("/v1/artifacts/team/api/1.2.0").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["readme_content"], r1);

    let r = s
        .http
        .get(s.url("/v1/artifacts/team/api/1.2.0/readme"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["etag"].to_str().unwrap(),
        format!("\"sha256:{}\"", sha256_hex(r1.as_bytes()))
    );
    let (st, v) = json_of(r).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v, json!({"content": r1}));

    let (_, all) = s.get("/v1/artifacts").await;
    let names: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["web", "api"]);
    let (_, team) = s.get("/v1/artifacts?namespace=team").await;
    assert_eq!(team.as_array().unwrap().len(), 1);
    let (_, found) = s.get("/v1/artifacts?search=WEB").await;
    // `web` matches the name of other/web and the tag of team/api.
    assert_eq!(found.as_array().unwrap().len(), 2);
    let (_, found) = s.get("/v1/artifacts?search=api%20mod").await;
    assert_eq!(found.as_array().unwrap().len(), 1);
    let (_, none) = s.get("/v1/artifacts?namespace=nobody").await;
    assert_eq!(none, json!([]));

    let (st, v) = s.get("/v1/namespaces").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v, json!({"namespaces": ["other", "team"]}));
    s.stop().await;
}

#[tokio::test]
async fn versions_are_immutable() {
    let s = Server::start().await;
    let b = body("team", "api", "1.0.0", &readme("a"));
    let r = s
        .http
        .post(s.url("/v1/publish"))
        .bearer_auth(WRITER)
        .json(&b)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-pactown-created"], "true");
    let r = s
        .http
        .post(s.url("/v1/publish"))
        .bearer_auth(WRITER)
        .json(&b)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-pactown-created"], "false");
    let (st, again) = json_of(r).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(again["checksum"], sha256_hex(readme("a").as_bytes()));
    let got = s
        .publish(Some(WRITER), &body("team", "api", "1.0.0", &readme("b")))
        .await;
    assert_error(&got, StatusCode::CONFLICT, "version_conflict");
    // The original content is still served.
    let (_, v) = s.get("/v1/artifacts/team/api/1.0.0").await;
    assert_eq!(v["readme_content"], readme("a"));

    // Deleting does not free the version for other content.
    let (st, v) = s.delete(Some(WRITER), "/v1/artifacts/team/api").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v, json!({"success": true, "message": "Deleted team/api"}));
    assert_error(
        &s.get("/v1/artifacts/team/api/1.0.0").await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let got = s
        .publish(Some(WRITER), &body("team", "api", "1.0.0", &readme("b")))
        .await;
    assert_error(&got, StatusCode::CONFLICT, "version_conflict");
    let (st, _) = s.publish(Some(WRITER), &b).await;
    assert_eq!(st, StatusCode::OK);
    s.stop().await;
}

#[tokio::test]
async fn auth_is_required_and_scoped() {
    let s = Server::start().await;
    let b = body("team", "api", "1.0.0", &readme("a"));
    assert_error(
        &s.publish(None, &b).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    assert_error(
        &s.publish(Some("not-a-known-token-at-all"), &b).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    let other = body("other", "api", "1.0.0", &readme("a"));
    assert_error(
        &s.publish(Some(TEAM_ONLY), &other).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    let r = s
        .http
        .post(s.url("/v1/publish"))
        .header("authorization", format!("Basic {WRITER}"))
        .json(&b)
        .send()
        .await
        .unwrap();
    assert_error(&json_of(r).await, StatusCode::UNAUTHORIZED, "unauthorized");

    assert_eq!(s.publish(Some(TEAM_ONLY), &b).await.0, StatusCode::OK);
    assert_eq!(s.publish(Some(WRITER), &other).await.0, StatusCode::OK);
    assert_error(
        &s.delete(None, "/v1/artifacts/team/api").await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    assert_error(
        &s.delete(Some(TEAM_ONLY), "/v1/artifacts/other/api").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_error(
        &s.delete(Some(TEAM_ONLY), "/v1/artifacts/team/nothing")
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_eq!(
        s.delete(Some(TEAM_ONLY), "/v1/artifacts/team/api").await.0,
        StatusCode::OK
    );
    // Reads are open.
    assert_eq!(s.get("/v1/artifacts/other/api").await.0, StatusCode::OK);
    s.stop().await;

    let ro = Server::start_with(Tokens::read_only(), 0.0, 1).await;
    assert_error(
        &ro.publish(Some(WRITER), &b).await,
        StatusCode::FORBIDDEN,
        "read_only",
    );
    assert_error(
        &ro.delete(Some(WRITER), "/v1/artifacts/team/api").await,
        StatusCode::FORBIDDEN,
        "read_only",
    );
    ro.stop().await;
}

#[tokio::test]
async fn bad_requests_get_json_4xx() {
    let s = Server::start().await;
    let post_raw = |ct: Option<&'static str>, raw: Vec<u8>| {
        let mut req = s
            .http
            .post(s.url("/v1/publish"))
            .bearer_auth(WRITER)
            .body(raw);
        if let Some(ct) = ct {
            req = req.header("content-type", ct);
        }
        req.send()
    };
    let got = json_of(
        post_raw(Some("application/json"), b"{not json".to_vec())
            .await
            .unwrap(),
    )
    .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "invalid_json");
    let got = json_of(post_raw(Some("text/plain"), b"{}".to_vec()).await.unwrap()).await;
    assert_error(
        &got,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    let got = json_of(post_raw(None, b"{}".to_vec()).await.unwrap()).await;
    assert_error(
        &got,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    let got = json_of(
        post_raw(Some("application/json"), br#"{"name": "api"}"#.to_vec())
            .await
            .unwrap(),
    )
    .await;
    assert_error(&got, StatusCode::UNPROCESSABLE_ENTITY, "invalid_request");
    let got = json_of(
        post_raw(Some("application/json"), b"[1,2]".to_vec())
            .await
            .unwrap(),
    )
    .await;
    assert_error(&got, StatusCode::UNPROCESSABLE_ENTITY, "invalid_request");
    let huge = vec![b' '; 5 * 1024 * 1024];
    let got = json_of(post_raw(Some("application/json"), huge).await.unwrap()).await;
    assert_error(&got, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large");

    for (ns, name, code) in [
        ("Team", "api", "invalid_name"),
        ("team", "../etc", "invalid_name"),
        ("team", "-api", "invalid_name"),
        ("team", &"a".repeat(65), "invalid_name"),
    ] {
        let got = s
            .publish(Some(WRITER), &body(ns, name, "1.0.0", &readme("a")))
            .await;
        assert_error(&got, StatusCode::UNPROCESSABLE_ENTITY, code);
    }
    for v in ["1.0", "v1.0.0", "latest", "01.0.0", ""] {
        let got = s
            .publish(Some(WRITER), &body("team", "api", v, &readme("a")))
            .await;
        assert_error(&got, StatusCode::UNPROCESSABLE_ENTITY, "invalid_version");
    }
    let got = s
        .publish(
            Some(WRITER),
            &body("team", "api", "1.0.0", "# just prose, no markpact blocks\n"),
        )
        .await;
    assert_error(&got, StatusCode::UNPROCESSABLE_ENTITY, "invalid_readme");
    assert!(got.1["message"].as_str().unwrap().contains("NoBlocks"));
    let big = format!("{}{}", readme("big"), "x".repeat(1024 * 1024));
    let got = s
        .publish(Some(WRITER), &body("team", "api", "1.0.0", &big))
        .await;
    assert_error(&got, StatusCode::PAYLOAD_TOO_LARGE, "readme_too_large");
    let mut tags = body("team", "api", "1.0.0", &readme("a"));
    tags["tags"] = json!([""]);
    assert_error(
        &s.publish(Some(WRITER), &tags).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_request",
    );
    // Nothing of the above was stored.
    assert_eq!(s.get("/v1/artifacts").await.1, json!([]));

    assert_error(
        &s.get("/v1/artifacts/team/api").await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &s.get("/v1/artifacts/team/api/latest").await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &s.get("/v1/artifacts/team/api/1.0.0/readme").await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &s.get("/nope").await,
        StatusCode::NOT_FOUND,
        "unknown_route",
    );
    assert_error(
        &s.get("/v1/artifacts/a/b/c/d/e").await,
        StatusCode::NOT_FOUND,
        "unknown_route",
    );
    assert_error(
        &s.get("/v1/publish").await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
    let r = s.http.put(s.url("/health")).send().await.unwrap();
    assert_error(
        &json_of(r).await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
    assert_error(
        &s.get("/v1/artifacts?namespace=a&namespace=b").await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
    );
    let (st, _) = s.get("/v1/artifacts/%FF%FE/api").await;
    assert!(
        st == StatusCode::BAD_REQUEST || st == StatusCode::NOT_FOUND,
        "{st}"
    );
    s.stop().await;
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let s = Server::start_with(Tokens::read_only(), 1.0, 3).await;
    for _ in 0..3 {
        assert_eq!(s.get("/health").await.0, StatusCode::OK);
    }
    let r = s.http.get(s.url("/v1/artifacts")).send().await.unwrap();
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1, "{retry}");
    assert_error(
        &json_of(r).await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(s.get("/health").await.0, StatusCode::OK);
    s.stop().await;
}

/// Every (method, path) of the OpenAPI document reaches a handler of the router (never the
/// unknown-route or method-not-allowed fallback), and every status it answers is documented.
#[tokio::test]
async fn openapi_matches_router() {
    let s = Server::start().await;
    let doc = pactown::registry::openapi::document();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let concrete = path
            .replace("{namespace}", "team")
            .replace("{name}", "api")
            .replace("{version}", "latest");
        for (method, op) in item.as_object().unwrap() {
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let r = s.http.request(m, s.url(&concrete)).send().await.unwrap();
            let status = r.status();
            let (_, v) = json_of(r).await;
            assert!(
                v["error"] != "unknown_route" && v["error"] != "method_not_allowed",
                "{method} {path}: {v}"
            );
            assert!(
                op["responses"].get(status.as_str()).is_some(),
                "{method} {path} answered undocumented {status}: {v}"
            );
        }
    }
    s.stop().await;
}

/// #15 item 5: every field of a publish has a limit, and what is stored inline in the index
/// (version, description, tags, metadata) stays small.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_fields_are_bounded() {
    let s = Server::start().await;
    let base = json!({"name": "api", "namespace": "team", "version": "1.0.0", "readme_content": readme("f")});
    let with = |key: &str, value: Value| {
        let mut b = base.clone();
        b[key] = value;
        b
    };
    let big_meta: serde_json::Map<String, Value> = (0..100)
        .map(|i| (format!("k{i}"), json!("x".repeat(40_000))))
        .collect();
    let long_version = format!("1.0.0-{}", "a".repeat(3 * 1024 * 1024));
    for (body, code) in [
        (with("metadata", Value::Object(big_meta)), "invalid_request"),
        (with("version", json!(long_version)), "invalid_version"),
        (
            with("version", json!(format!("1.0.0-{}", "a".repeat(80)))),
            "invalid_version",
        ),
        (
            with("metadata", json!({"k": "x".repeat(20_000)})),
            "invalid_request",
        ),
    ] {
        let got = s.publish(Some(WRITER), &body).await;
        assert!(got.0.is_client_error(), "{}", got.1);
        assert_eq!(got.1["error"], code, "{}", got.1);
    }
    // Small metadata is still fine.
    let ok = s
        .publish(
            Some(WRITER),
            &with("metadata", json!({"service": "api", "n": 1})),
        )
        .await;
    assert_eq!(ok.0, StatusCode::OK, "{}", ok.1);
    s.stop().await;
}

/// Metadata lives in blobs, not in index.json (#15 item 5): 50 versions with 8 KiB of metadata
/// each leave the index at a few hundred bytes per version, and each version answers with its
/// own metadata.
#[tokio::test]
async fn metadata_is_kept_out_of_the_index() {
    let s = Server::start().await;
    let big = |i: usize| json!({"n": i, "blob": format!("{i:04}{}", "m".repeat(8000))});
    for i in 0..50 {
        let mut b = body(
            "team",
            "meta",
            &format!("1.0.{i}"),
            &readme(&format!("m{i}")),
        );
        b["metadata"] = big(i);
        assert!(serde_json::to_vec(&b["metadata"]).unwrap().len() > 8000);
        let got = s.publish(Some(WRITER), &b).await;
        assert!(got.0.is_success(), "{}", got.1);
    }
    let index = std::fs::read(s._dir.path().join("index.json")).unwrap();
    assert!(
        index.len() < 50 * 512,
        "index.json is {} bytes for 50 versions",
        index.len()
    );
    assert!(!String::from_utf8_lossy(&index).contains("mmmm"));
    for i in [0, 17, 49] {
        let (st, v) = s.get(&format!("/v1/artifacts/team/meta/1.0.{i}")).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        assert_eq!(v["metadata"], big(i), "1.0.{i}");
    }
    s.stop().await;
}

/// A storage folder whose index.json still holds metadata inline (as written before metadata
/// moved to blobs) stays readable, and is migrated when it is opened.
#[tokio::test]
async fn inline_metadata_of_an_older_index_is_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let readme_text = readme("old");
    let sum = sha256_hex(readme_text.as_bytes());
    let blobs = dir.path().join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    std::fs::write(blobs.join(&sum), &readme_text).unwrap();
    let old = json!({
        "artifacts": {"team/old": {
            "name": "old", "namespace": "team", "description": "old module",
            "versions": {"1.0.0": {"version": "1.0.0", "checksum": sum, "size": readme_text.len(),
                "published_at": "2025-01-01T00:00:00Z",
                "metadata": {"service": "old", "runtime": "python"}}},
            "latest_version": "1.0.0", "created_at": "2025-01-01T00:00:00Z",
            "updated_at": "2025-01-01T00:00:00Z", "tags": []}},
        "updated_at": "2025-01-01T00:00:00Z"
    });
    std::fs::write(
        dir.path().join("index.json"),
        serde_json::to_vec_pretty(&old).unwrap(),
    )
    .unwrap();
    let s = Server::start_in(dir).await;
    let (st, v) = s.get("/v1/artifacts/team/old/1.0.0").await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(
        v["metadata"],
        json!({"service": "old", "runtime": "python"})
    );
    assert_eq!(v["readme_content"], readme_text.as_str());
    let index: Value =
        serde_json::from_slice(&std::fs::read(s._dir.path().join("index.json")).unwrap()).unwrap();
    let rec = &index["artifacts"]["team/old"]["versions"]["1.0.0"];
    assert!(rec.get("metadata").is_none(), "{rec}");
    let meta_sum = rec["metadata_checksum"].as_str().unwrap();
    assert!(s._dir.path().join("blobs/sha256").join(meta_sum).is_file());
    s.stop().await;
}
