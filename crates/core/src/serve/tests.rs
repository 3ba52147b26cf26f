//! The serving mechanism against clients that misbehave, on real loopback connections.

use std::time::{Duration, Instant};

use axum::routing::{get, post};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::*;

fn quick() -> ServeSettings {
    ServeSettings {
        request_read_timeout: Duration::from_millis(400),
        tls_handshake_timeout: Duration::from_millis(400),
        idle_timeout: Duration::from_millis(600),
        max_connections: 3,
        request_body_limit: 1024,
        event_body_limit: 1024,
        trusted_proxies: Vec::new(),
    }
}

/// A server of `router` on loopback with `settings`; its address.
async fn start(router: Router, settings: ServeSettings) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("bind: {e}"));
    let address = listener.local_addr().unwrap_or_else(|e| panic!("address: {e}"));
    tokio::spawn(async move { serve("test", listener, router, None, &settings, std::future::pending()).await });
    address
}

/// Reads until the server closes the connection (or `within` passes): what it sent, and whether it closed.
async fn until_closed(stream: &mut TcpStream, within: Duration) -> (String, bool) {
    let mut got = Vec::new();
    let closed = tokio::time::timeout(within, stream.read_to_end(&mut got)).await.is_ok();
    (String::from_utf8_lossy(&got).into_owned(), closed)
}

fn routes() -> Router {
    let bounded = body::bounded(
        Router::new().route("/echo", post(|b: axum::body::Bytes| async move { b.len().to_string() })),
        body::Bound { limit: 1024, within: Duration::from_millis(400) },
    );
    Router::new()
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(1500)).await;
                "late but whole"
            }),
        )
        .merge(bounded)
}

#[tokio::test]
async fn a_half_sent_request_head_is_closed_within_the_read_timeout() {
    let address = start(routes(), quick()).await;
    let mut stream = TcpStream::connect(address).await.unwrap_or_else(|e| panic!("{e}"));
    stream.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n").await.unwrap_or_else(|e| panic!("{e}"));
    let started = Instant::now();
    let (_, closed) = until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(closed && started.elapsed() < Duration::from_secs(3), "closed after {:?}", started.elapsed());
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_and_a_long_request_is_not_cut() {
    let address = start(routes(), quick()).await;
    let mut silent = TcpStream::connect(address).await.unwrap_or_else(|e| panic!("{e}"));
    let (_, closed) = until_closed(&mut silent, Duration::from_secs(5)).await;
    assert!(closed, "a silent connection is closed");
    // A request in flight longer than the idle timeout (a long poll) gets its answer.
    let mut waiting = TcpStream::connect(address).await.unwrap_or_else(|e| panic!("{e}"));
    waiting
        .write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (answer, _) = until_closed(&mut waiting, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 200") && answer.ends_with("late but whole"), "{answer}");
}

#[tokio::test]
async fn bodies_too_large_or_too_slow_are_refused_and_others_arrive_whole() {
    let address = start(routes(), quick()).await;
    let ask = |body: String| async move {
        let mut stream = TcpStream::connect(address).await.unwrap_or_else(|e| panic!("{e}"));
        stream.write_all(body.as_bytes()).await.unwrap_or_else(|e| panic!("{e}"));
        until_closed(&mut stream, Duration::from_secs(5)).await.0
    };
    let declared =
        ask("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\nConnection: close\r\n\r\n".into()).await;
    assert!(declared.starts_with("HTTP/1.1 413"), "{declared}");
    let chunk = "x".repeat(2000);
    let chunked = format!(
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
        chunk.len()
    );
    assert!(ask(chunked).await.starts_with("HTTP/1.1 413"), "undeclared and too large");
    let whole = ask("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc".into()).await;
    assert!(whole.starts_with("HTTP/1.1 200") && whole.ends_with('3'), "{whole}");
    // A body that stops coming: 408 within the read timeout.
    let mut trickle = TcpStream::connect(address).await.unwrap_or_else(|e| panic!("{e}"));
    trickle
        .write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (answer, closed) = until_closed(&mut trickle, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 408") && closed, "{answer}");
}

#[tokio::test]
async fn connections_past_the_cap_are_closed_at_once_and_the_cap_frees_up() {
    let settings = ServeSettings {
        request_read_timeout: Duration::from_secs(30),
        idle_timeout: Duration::from_secs(30),
        ..quick()
    };
    let address = start(routes(), settings).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut stream = TcpStream::connect(address).await.unwrap_or_else(|e| panic!("{e}"));
        stream.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap_or_else(|e| panic!("{e}"));
        held.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut over = TcpStream::connect(address).await.unwrap_or_else(|e| panic!("{e}"));
    let _ = over.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let (answer, closed) = until_closed(&mut over, Duration::from_secs(1)).await;
    assert!(closed && answer.is_empty(), "the fourth is closed unanswered: {answer:?}");
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut again = TcpStream::connect(address).await.unwrap_or_else(|e| panic!("{e}"));
        let _ =
            again.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nConnection: close\r\n\r\na").await;
        let (answer, _) = until_closed(&mut again, Duration::from_secs(3)).await;
        if answer.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "the cap never freed: {answer:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A connection from `from` (a loopback address of its own) to `address`.
async fn connect_from(from: [u8; 4], address: SocketAddr) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap_or_else(|e| panic!("{e}"));
    socket.bind(SocketAddr::from((from, 0))).unwrap_or_else(|e| panic!("bind {from:?}: {e}"));
    socket.connect(address).await.unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn a_trusted_proxys_header_names_the_client_and_no_one_elses_is_read() {
    let who = Router::new()
        .route("/who", get(|ConnectInfo(remote): ConnectInfo<SocketAddr>| async move { remote.ip().to_string() }));
    let settings = ServeSettings { trusted_proxies: vec!["127.0.0.2/32".parse().unwrap()], ..quick() };
    let address = start(who, settings).await;
    let ask = b"GET /who HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

    let mut proxied = connect_from([127, 0, 0, 2], address).await;
    proxied.write_all(b"PROXY TCP4 192.0.2.7 127.0.0.1 51234 8180\r\n").await.unwrap_or_else(|e| panic!("{e}"));
    proxied.write_all(ask).await.unwrap_or_else(|e| panic!("{e}"));
    let (answer, _) = until_closed(&mut proxied, Duration::from_secs(3)).await;
    assert!(answer.starts_with("HTTP/1.1 200") && answer.ends_with("192.0.2.7"), "{answer}");

    let mut headerless = connect_from([127, 0, 0, 2], address).await;
    headerless.write_all(ask).await.unwrap_or_else(|e| panic!("{e}"));
    let (answer, closed) = until_closed(&mut headerless, Duration::from_secs(3)).await;
    assert!(closed && answer.is_empty(), "a trusted proxy's connection without a header is closed: {answer:?}");
    let mut silent = connect_from([127, 0, 0, 2], address).await;
    let (answer, closed) = until_closed(&mut silent, Duration::from_secs(3)).await;
    assert!(closed && answer.is_empty(), "nor held open waiting for one: {answer:?}");

    let mut forged = connect_from([127, 0, 0, 3], address).await;
    forged.write_all(b"PROXY TCP4 192.0.2.7 127.0.0.1 51234 8180\r\n").await.unwrap_or_else(|e| panic!("{e}"));
    forged.write_all(ask).await.unwrap_or_else(|e| panic!("{e}"));
    let (answer, _) = until_closed(&mut forged, Duration::from_secs(3)).await;
    assert!(!answer.contains("192.0.2.7"), "another's header is not read: {answer:?}");
    let mut direct = connect_from([127, 0, 0, 3], address).await;
    direct.write_all(ask).await.unwrap_or_else(|e| panic!("{e}"));
    let (answer, _) = until_closed(&mut direct, Duration::from_secs(3)).await;
    assert!(answer.ends_with("127.0.0.3"), "{answer}");
}
