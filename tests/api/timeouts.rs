//! Every wait has a timeout: a client that trickles its headers, or stops
//! reading its stream, is disconnected and its memory freed, while everyone
//! else keeps flowing.

use std::time::{Duration, Instant};

use futures::future::join_all;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::helpers::{eventually, production_config, spawn_app_with, SseReader};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_sending_its_headers_a_byte_a_second_is_closed_while_1000_streams_flow() {
    let mut config = production_config();
    config.header_read_timeout_secs = 2;
    config.max_streams = 0;
    config.max_anonymous_streams = 0;
    config.max_streams_per_ip = 0;
    let app = spawn_app_with(config).await;
    let url = app.url("/api/sse/clock");
    let mut streams = Vec::new();
    for batch in 0..10 {
        let opened = join_all((0..100).map(|_| SseReader::open(&app.client, &url))).await;
        streams.extend(opened);
        assert_eq!(streams.len(), (batch + 1) * 100);
    }

    let mut slow = TcpStream::connect(app.addr).await.unwrap();
    let started = Instant::now();
    let request = b"GET /api/sse/clock HTTP/1.1\r\nHost: test\r\n\r\n";
    let mut closed_after = None;
    for byte in request {
        if slow.write_all(&[*byte]).await.is_err() {
            closed_after = Some(started.elapsed());
            break;
        }
        let mut buffer = [0u8; 64];
        match tokio::time::timeout(Duration::from_secs(1), slow.read(&mut buffer)).await {
            Ok(Ok(0) | Err(_)) => {
                closed_after = Some(started.elapsed());
                break;
            }
            Ok(Ok(_)) => panic!("the server answered a request it never fully got"),
            Err(_) => {} // a second passed: send the next byte
        }
    }
    let closed_after = closed_after.expect("the slow client was disconnected");
    println!("header-read timeout 2 s: the slow client was closed after {closed_after:?}");
    assert!(
        closed_after < Duration::from_secs(4),
        "closed after {closed_after:?} (timeout 2 s)"
    );

    // Every one of the thousand streams is still live: each gets a tick.
    let ticks = join_all(streams.iter_mut().map(|stream| async move {
        loop {
            match stream.next_data(Duration::from_secs(5)).await {
                Some(data) if data.contains("timestamp") => return true,
                Some(_) => {}
                None => return false,
            }
        }
    }))
    .await;
    assert_eq!(ticks.iter().filter(|live| **live).count(), 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_that_never_reads_is_closed_after_the_write_timeout_and_counted_out() {
    let mut config = production_config();
    config.write_timeout_secs = 1;
    config.publish_rate = 0;
    let app = spawn_app_with(config).await;

    // A client with a tiny receive window that sends its request, then
    // never reads a byte.
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stalled = socket.connect(app.addr).await.unwrap();
    let request = format!(
        "GET /api/sse/inbox HTTP/1.1\r\nHost: test\r\nCookie: {}\r\n\r\n",
        app.cookie_for("alice")
    );
    stalled.write_all(request.as_bytes()).await.unwrap();
    assert!(eventually(Duration::from_secs(5), || app.state.sse.open_streams() == 1).await);

    // A healthy reader of the same inbox, to show delivery goes on.
    let mut healthy = app.inbox_stream("alice", None).await;
    assert_eq!(
        healthy
            .next_event(Duration::from_secs(5))
            .await
            .unwrap()
            .event,
        "snapshot"
    );

    // Fill every buffer between the server and the stalled client.
    let body = "x".repeat(1000);
    let mut published = 0;
    while app.state.sse.open_streams() == 2 && published < 3000 {
        let response = app
            .publish(
                serde_json::json!({"to": "alice", "kind": "info", "title": "bulk", "body": body}),
            )
            .await;
        assert_eq!(response.status(), 201);
        published += 1;
    }
    let stalled_at = Instant::now();
    assert!(
        eventually(Duration::from_secs(5), || app.state.sse.open_streams() == 1).await,
        "the stalled stream was closed (after {published} publishes)"
    );
    println!(
        "write timeout 1 s: the stalled stream was closed after {published} publishes of ~1.1 KB, {:?} after the last",
        stalled_at.elapsed()
    );
    let closed = app.state.sse.counters().closed;
    assert_eq!(
        closed.get_or_create(&vec![("reason", "client_gone")]).get(),
        1,
        "closed for the connection's sake (write timeout), not ended by the feed"
    );
    let last = app.notify("alice", "after the stall").await;
    loop {
        let event = healthy.next_event(Duration::from_secs(5)).await.unwrap();
        if event.id.as_deref() == Some(last.as_str()) {
            break;
        }
    }
    drop(stalled);
}

#[tokio::test]
async fn a_request_whose_body_never_finishes_gets_408_after_the_request_timeout() {
    let mut config = production_config();
    config.request_timeout_secs = 1;
    let app = spawn_app_with(config).await;
    let mut slow = TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /api/notifications HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"to\":",
        crate::helpers::PUBLISH_KEY
    );
    let started = Instant::now();
    slow.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 1024];
    let read = tokio::time::timeout(Duration::from_secs(5), slow.read(&mut answer))
        .await
        .expect("answered before the test gave up")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900),
        "answered after {waited:?}"
    );
    println!("request timeout 1 s: answered 408 after {waited:?}");
}
