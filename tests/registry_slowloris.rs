//! The registry against slow and greedy clients (#15 item 4), over real sockets on 127.0.0.x:
//! unfinished headers, idle keep-alive connections and stalled bodies are closed after their
//! timeouts, one client cannot hold more than its share of connections, and `/health` keeps
//! answering for everybody else.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pactown::registry::auth::Tokens;
use pactown::registry::server::{self, ConnLimits, ServeConfig};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const TOKEN: &str = "slow-test-token-0123456789";

async fn start(limits: ConnLimits) -> (server::Running, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let tokens = Tokens::parse(std::path::Path::new("t"), &format!("{TOKEN} *")).unwrap();
    let mut cfg = ServeConfig::local(dir.path().into(), tokens);
    cfg.limits = limits;
    (server::start(cfg).await.unwrap(), dir)
}

fn short_limits() -> ConnLimits {
    ConnLimits {
        header_timeout: Duration::from_secs(1),
        body_timeout: Duration::from_secs(1),
        max_per_client: 8,
        ..ConnLimits::default()
    }
}

/// A connection from a chosen loopback address (all of 127/8 is local on Linux).
async fn connect_from(from: Ipv4Addr, to: SocketAddr) -> TcpStream {
    let sock = TcpSocket::new_v4().unwrap();
    sock.bind(SocketAddr::new(IpAddr::V4(from), 0)).unwrap();
    sock.connect(to).await.unwrap()
}

/// Reads until the server closes (or `limit` passes): what it sent and whether it closed.
async fn read_until_closed(s: &mut TcpStream, limit: Duration) -> (String, bool) {
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return (String::from_utf8_lossy(&all).into(), true),
            Ok(Ok(n)) => all.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&all).into(), false),
        }
    }
}

async fn health_from(from: Ipv4Addr, to: SocketAddr) -> String {
    let mut s = connect_from(from, to).await;
    s.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    read_until_closed(&mut s, Duration::from_secs(3)).await.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfinished_headers_are_closed_and_health_keeps_answering() {
    let (running, _dir) = start(short_limits()).await;
    let addr = running.addr;
    let attacker = Ipv4Addr::new(127, 0, 0, 2);
    // 1,100 sockets that never finish their headers.
    let mut slow = Vec::new();
    for _ in 0..1100 {
        let mut s = connect_from(attacker, addr).await;
        let _ = s.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n").await;
        slow.push(s);
    }
    let started = Instant::now();
    let answer = health_from(Ipv4Addr::LOCALHOST, addr).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(2));
    // Over the per-client cap: refused at once with the JSON error body.
    let (refused, closed) =
        read_until_closed(slow.last_mut().unwrap(), Duration::from_secs(2)).await;
    assert!(closed, "the 1,100th connection of one client was kept open");
    assert!(refused.starts_with("HTTP/1.1 429"), "{refused}");
    assert!(
        refused.contains("\"error\":\"too_many_connections\""),
        "{refused}"
    );
    // Within the cap: closed once the header timeout passes.
    let (_, closed) = read_until_closed(&mut slow[0], Duration::from_secs(4)).await;
    assert!(
        closed,
        "a connection that never finished its headers was kept open"
    );
    // The attacker's slots are free again.
    let answer = health_from(attacker, addr).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_connections_are_closed() {
    let (running, _dir) = start(short_limits()).await;
    let mut s = connect_from(Ipv4Addr::LOCALHOST, running.addr).await;
    s.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = s.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    let started = Instant::now();
    let (_, closed) = read_until_closed(&mut s, Duration::from_secs(4)).await;
    assert!(closed, "an idle keep-alive connection was kept open");
    assert!(started.elapsed() >= Duration::from_millis(500));
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_body_gets_408_with_the_json_error() {
    let (running, _dir) = start(short_limits()).await;
    let mut s = connect_from(Ipv4Addr::LOCALHOST, running.addr).await;
    s.write_all(
        format!(
            "POST /v1/publish HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {TOKEN}\r\ncontent-type: application/json\r\ncontent-length: 5000\r\n\r\n{{\"name\""
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let (answer, closed) = read_until_closed(&mut s, Duration::from_secs(4)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"error\":\"request_timeout\""), "{answer}");
    assert!(closed);
    running.stop().await.unwrap();
}
