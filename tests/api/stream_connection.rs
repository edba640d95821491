//! The stream path (`server::http::stream_connection`): a connection that
//! opens with `GET /api/sse/` is served without hyper. Spoken to here over
//! raw TCP, byte for byte, so the HTTP/1.1 it writes is what is checked.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{eventually, production_config, spawn_app, spawn_app_with, TestApp};

/// Connects to `app` and sends `request` as it is.
async fn send(app: &TestApp, request: &[u8]) -> TcpStream {
    let mut socket = TcpStream::connect(app.addr).await.unwrap();
    socket.write_all(request).await.unwrap();
    socket
}

/// Reads until `needle` has arrived (or 5 s pass); returns all read.
async fn read_until(socket: &mut TcpStream, needle: &str) -> String {
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !String::from_utf8_lossy(&seen).contains(needle) {
        let mut buffer = [0u8; 4096];
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, socket.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(read)) => seen.extend_from_slice(&buffer[..read]),
        }
    }
    String::from_utf8_lossy(&seen).into_owned()
}

/// Decodes chunked transfer coding as far as whole chunks go: the body,
/// and what is left over.
fn dechunk(mut raw: &str) -> (String, &str) {
    let mut body = String::new();
    while let Some((size, rest)) = raw.split_once("\r\n") {
        let size = usize::from_str_radix(size, 16).expect("a hex chunk size");
        if rest.len() < size + 2 {
            break;
        }
        assert_eq!(&rest[size..size + 2], "\r\n", "a chunk ends with CRLF");
        body.push_str(&rest[..size]);
        raw = &rest[size + 2..];
    }
    (body, raw)
}

/// Reads to the end of the connection (or 5 s).
async fn read_to_close(socket: &mut TcpStream) -> String {
    let mut seen = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), socket.read_to_end(&mut seen)).await;
    String::from_utf8_lossy(&seen).into_owned()
}

#[tokio::test]
async fn a_stream_is_chunked_http_1_1_and_closing_the_socket_ends_it() {
    let app = spawn_app().await;
    let request = format!(
        "GET /api/sse/inbox HTTP/1.1\r\nHost: test\r\nCookie: {}\r\n\r\n",
        app.cookie_for("alice")
    );
    let mut socket = send(&app, request.as_bytes()).await;
    let head = read_until(&mut socket, "event: snapshot").await;
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    let lower = head.to_ascii_lowercase();
    assert!(
        lower.contains("\r\ncontent-type: text/event-stream"),
        "{head}"
    );
    assert!(
        lower.contains("\r\ntransfer-encoding: chunked\r\n"),
        "{head}"
    );
    assert!(lower.contains("\r\nconnection: close\r\n"), "{head}");
    assert!(
        lower.contains("\r\ndate: "),
        "a Date, as hyper sends: {head}"
    );
    assert!(!lower.contains("content-length"), "{head}");
    assert!(eventually(Duration::from_secs(5), || app.state.sse.open_streams() == 1).await);

    // What follows the head is well-formed chunks carrying whole events.
    let id = app.notify("alice", "over the stream path").await;
    let mut raw = head.split_once("\r\n\r\n").unwrap().1.to_owned();
    let wanted = format!("id: {id}\nevent: notification\n");
    let deadline = Instant::now() + Duration::from_secs(5);
    let events = loop {
        let (events, rest) = dechunk(&raw);
        if events.contains(&wanted) && rest.is_empty() {
            break events;
        }
        assert!(
            Instant::now() < deadline,
            "no whole chunk with the event: {raw:?}"
        );
        raw.push_str(&read_until(&mut socket, "\n").await);
    };
    assert!(
        events.ends_with("\n\n"),
        "chunks end on whole events: {events:?}"
    );

    drop(socket);
    assert!(
        eventually(Duration::from_secs(5), || app.state.sse.open_streams() == 0).await,
        "the stream ended with its connection"
    );
}

#[tokio::test]
async fn an_answer_of_known_length_has_a_content_length_and_the_connection_closes() {
    let app = spawn_app().await;
    let mut socket = send(&app, b"GET /api/sse/inbox HTTP/1.1\r\nHost: test\r\n\r\n").await;
    let answer = read_to_close(&mut socket).await;
    assert!(
        answer.starts_with("HTTP/1.1 401 Unauthorized\r\n"),
        "{answer}"
    );
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(
        head.to_ascii_lowercase()
            .contains(&format!("\r\ncontent-length: {}", body.len())),
        "{answer}"
    );
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    assert!(json["error"]["code"].is_string(), "{body}");
}

#[tokio::test]
async fn a_stream_request_with_a_body_gets_400_naming_the_problem() {
    let app = spawn_app().await;
    let mut socket = send(
        &app,
        b"GET /api/sse/clock HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n\r\nhello",
    )
    .await;
    let answer = read_to_close(&mut socket).await;
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer}"
    );
    let body = answer.split_once("\r\n\r\n").unwrap().1;
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        json["error"]["message"],
        "a stream request must not have a body"
    );
    assert_eq!(app.state.sse.open_streams(), 0);
}

#[tokio::test]
async fn a_head_with_too_many_fields_gets_431_and_a_broken_one_400() {
    let app = spawn_app().await;
    let mut many = String::from("GET /api/sse/clock HTTP/1.1\r\nHost: test\r\n");
    for i in 0..100 {
        many.push_str(&format!("x-field-{i}: 1\r\n"));
    }
    many.push_str("\r\n");
    let mut socket = send(&app, many.as_bytes()).await;
    let answer = read_to_close(&mut socket).await;
    assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");

    let mut socket = send(
        &app,
        b"GET /api/sse/clock HTTP/1.1\r\nno colon here\r\n\r\n",
    )
    .await;
    let answer = read_to_close(&mut socket).await;
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer}"
    );
    assert!(answer.contains(r#""code":"invalid_request""#), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("\r\ndate: "),
        "{answer}"
    );
}

#[tokio::test]
async fn a_stream_request_whose_head_trickles_is_closed_at_the_header_read_timeout() {
    let mut config = production_config();
    config.header_read_timeout_secs = 1;
    let app = spawn_app_with(config).await;
    // The request line arrives whole (so the stream path takes it), the
    // rest never does.
    let mut socket = send(&app, b"GET /api/sse/clock HTTP/1.1\r\nHost: te").await;
    let started = Instant::now();
    let answer = read_to_close(&mut socket).await;
    assert_eq!(answer, "", "nothing is answered to a head that never ends");
    let closed_after = started.elapsed();
    assert!(
        closed_after < Duration::from_secs(4),
        "closed after {closed_after:?}"
    );
}

/// The peek that picks the stream path and the read of the head share one
/// header-read budget, counted from the connection's start: a client that
/// waits before its request line does not get a second budget for the
/// rest of the head.
#[tokio::test]
async fn the_peek_and_the_head_share_one_header_read_budget() {
    let mut config = production_config();
    config.header_read_timeout_secs = 3;
    let app = spawn_app_with(config).await;
    let started = Instant::now();
    let mut socket = TcpStream::connect(app.addr).await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    socket
        .write_all(b"GET /api/sse/clock HTTP/1.1\r\nHost: te")
        .await
        .unwrap();
    let answer = read_to_close(&mut socket).await;
    assert_eq!(answer, "", "nothing is answered to a head that never ends");
    let closed_after = started.elapsed();
    println!("closed {closed_after:?} after connecting (budget 3 s)");
    assert!(
        closed_after < Duration::from_millis(4_500),
        "one budget of 3 s, not 2 s waited plus a fresh 3 s: {closed_after:?}"
    );
}

#[tokio::test]
async fn with_the_stream_path_off_hyper_serves_streams_too() {
    let mut config = production_config();
    config.stream_path = false;
    let app = spawn_app_with(config).await;
    let mut socket = send(&app, b"GET /api/sse/clock HTTP/1.1\r\nHost: test\r\n\r\n").await;
    let seen = read_until(&mut socket, "timestamp").await;
    assert!(seen.starts_with("HTTP/1.1 200 OK\r\n"), "{seen}");
    let metrics = app.metrics_text().await;
    assert!(
        !metrics.contains("belfry_http_connections_total{path=\"stream\"}"),
        "{metrics}"
    );
}

#[tokio::test]
async fn bytes_after_the_request_end_the_stream() {
    let app = spawn_app().await;
    let mut socket = send(&app, b"GET /api/sse/clock HTTP/1.1\r\nHost: test\r\n\r\n").await;
    read_until(&mut socket, "timestamp").await;
    assert!(eventually(Duration::from_secs(5), || app.state.sse.open_streams() == 1).await);
    socket
        .write_all(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    assert!(
        eventually(Duration::from_secs(5), || app.state.sse.open_streams() == 0).await,
        "an SSE client sends nothing more; anything else closes the connection"
    );
}

#[tokio::test]
async fn an_http_1_0_client_gets_the_stream_unchunked() {
    let app = spawn_app().await;
    let mut socket = send(&app, b"GET /api/sse/clock HTTP/1.0\r\n\r\n").await;
    let seen = read_until(&mut socket, "timestamp").await;
    let (head, body) = seen.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(
        !head.to_ascii_lowercase().contains("transfer-encoding"),
        "{head}"
    );
    assert!(
        body.starts_with("retry:")
            || body.starts_with("event:")
            || body.starts_with("data:")
            || body.starts_with(':'),
        "raw SSE, no chunk sizes: {body}"
    );
}

#[tokio::test]
async fn connections_are_counted_by_the_path_that_serves_them() {
    let app = spawn_app().await;
    let mut socket = send(&app, b"GET /api/sse/clock HTTP/1.1\r\nHost: test\r\n\r\n").await;
    read_until(&mut socket, "timestamp").await;
    let page = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let metrics = app.metrics_text().await;
    assert!(
        metrics.contains("belfry_http_connections_total{path=\"stream\"} 1\n"),
        "{metrics}"
    );
    let hyper = metrics
        .lines()
        .find_map(|line| line.strip_prefix("belfry_http_connections_total{path=\"hyper\"} "))
        .and_then(|count| count.parse::<u64>().ok())
        .unwrap_or(0);
    assert!(
        hyper >= 1,
        "the page and the scrape went through hyper: {metrics}"
    );
}
