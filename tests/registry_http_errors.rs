//! Requests the HTTP layer refuses (#15 item 13): a URI too long (414), headers too large or too
//! many (431) and malformed requests (400) get the registry's documented JSON error body with
//! `content-type: application/json`, over real sockets, and the registry keeps answering.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pactown::registry::auth::Tokens;
use pactown::registry::server::{self, ServeConfig};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn start() -> (server::Running, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let tokens =
        Tokens::parse(std::path::Path::new("t"), "http-errors-token-0123456789 *").unwrap();
    let cfg = ServeConfig::local(dir.path().into(), tokens);
    (server::start(cfg).await.unwrap(), dir)
}

/// Sends `request` (ignoring a write the server cut short) and reads until the server closes.
async fn exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.write_all(request)).await;
    let mut all = Vec::new();
    let mut buf = [0u8; 8192];
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) | Err(_) => break,
            Ok(Ok(n)) => all.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&all).into_owned()
}

/// Status, headers (lower-case) and body of the first answer in `text`.
fn answer(text: &str) -> (u16, String, String) {
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no complete answer: {text:?}"));
    let status = head.get(9..12).unwrap().parse().unwrap();
    (status, head.to_ascii_lowercase(), body.to_string())
}

/// The answer is `status` with the documented JSON error body (`error`, `message`).
fn assert_json_error(text: &str, status: u16, code: &str) {
    let (got, head, body) = answer(text);
    assert_eq!(got, status, "{text:.400}");
    assert!(head.contains("content-type: application/json"), "{head}");
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .unwrap_or_else(|| panic!("no content-length: {head}"))
        .trim()
        .parse()
        .unwrap();
    let body = body
        .get(..len)
        .unwrap_or_else(|| panic!("short body: {body:?}"));
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(v["error"], code, "{v}");
    assert!(!v["message"].as_str().unwrap().is_empty(), "{v}");
}

async fn assert_healthy(addr: SocketAddr) {
    let text = exchange(
        addr,
        b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(answer(&text).0, 200, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100_kb_uri_gets_414_with_the_json_error() {
    let (running, _dir) = start().await;
    let req = format!(
        "GET /v1/artifacts/{} HTTP/1.1\r\nhost: x\r\n\r\n",
        "a".repeat(100 * 1024)
    );
    let text = exchange(running.addr, req.as_bytes()).await;
    assert_json_error(&text, 414, "uri_too_long");
    assert_healthy(running.addr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_of_200_kb_get_431_with_the_json_error() {
    let (running, _dir) = start().await;
    // two big fields (hyper alone would take them and answer 200) …
    let big = "b".repeat(100 * 1024);
    let req = format!("GET /health HTTP/1.1\r\nhost: x\r\nx-a: {big}\r\nx-b: {big}\r\n\r\n");
    let text = exchange(running.addr, req.as_bytes()).await;
    assert_json_error(&text, 431, "headers_too_large");
    // … and 200 fields of 1 KB (hyper alone answers 431 without a body)
    let many: String = (0..200)
        .map(|i| format!("x-{i}: {}\r\n", "c".repeat(1024)))
        .collect();
    let req = format!("GET /health HTTP/1.1\r\nhost: x\r\n{many}\r\n");
    let text = exchange(running.addr, req.as_bytes()).await;
    assert_json_error(&text, 431, "headers_too_large");
    assert_healthy(running.addr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_400_with_the_json_error() {
    let (running, _dir) = start().await;
    for bad in [
        &b"THIS IS NOT HTTP\r\n\r\n"[..],
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n",
        b"GET /health HTTP/1.1\r\nhost: x\r\nno colon here\r\n\r\n",
        b"POST /v1/publish HTTP/1.1\r\nhost: x\r\ncontent-length: 12x\r\n\r\n",
        b"POST /v1/publish HTTP/1.1\r\nhost: x\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n",
        b"POST /v1/publish HTTP/1.1\r\nhost: x\r\ntransfer-encoding: gzip\r\n\r\n",
    ] {
        let text = exchange(running.addr, bad).await;
        assert!(!text.is_empty(), "no answer to {bad:?}");
        assert_json_error(&text, 400, "bad_request");
    }
    assert_healthy(running.addr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_request_after_a_good_one_on_a_kept_alive_connection() {
    let (running, _dir) = start().await;
    let mut s = TcpStream::connect(running.addr).await.unwrap();
    s.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).await.unwrap();
    let first = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert_eq!(answer(&first).0, 200, "{first}");
    // a publish with a body (counted off by Content-Length), then garbage on the same connection
    let body = "{\"not\": \"a publish\"}";
    let req = format!(
        "POST /v1/publish HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}GARBAGE GARBAGE\r\n\r\n",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut all = Vec::new();
    while let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await {
        if n == 0 {
            break;
        }
        all.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&all).into_owned();
    // the publish is answered by the router (no token: 401 with its JSON), then the garbage
    let (status, _, _) = answer(&text);
    assert_eq!(status, 401, "{text}");
    let second = text
        .get(
            text.find("HTTP/1.1 400")
                .unwrap_or_else(|| panic!("{text}"))..,
        )
        .unwrap();
    assert_json_error(second, 400, "bad_request");
    assert_healthy(running.addr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_request_is_answered_and_closes_the_connection() {
    let (running, _dir) = start().await;
    let text = exchange(
        running.addr,
        b"POST /v1/publish HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\nGET /health HTTP/1.1\r\n\r\n",
    )
    .await;
    let (status, head, _) = answer(&text);
    assert_eq!(status, 401, "{text}");
    assert!(head.contains("connection: close"), "{head}");
    assert_eq!(text.matches("HTTP/1.1").count(), 1, "{text}");
    assert_healthy(running.addr).await;
}
