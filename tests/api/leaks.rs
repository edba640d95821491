//! Streams and tasks are released when clients go away.

use std::time::Duration;

use futures::future::join_all;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{eventually, spawn_app};

/// Opens an SSE stream on a raw socket, waits for its first bytes, then
/// drops the socket without a goodbye, as a closed browser tab does.
async fn open_and_drop(addr: std::net::SocketAddr) {
    let mut socket = TcpStream::connect(addr).await.expect("connect");
    socket
        .write_all(
            b"GET /api/sse/clock HTTP/1.1\r\nHost: test\r\nAccept: text/event-stream\r\n\r\n",
        )
        .await
        .expect("send request");
    let mut buffer = [0u8; 512];
    let read = socket.read(&mut buffer).await.expect("read response");
    assert!(
        String::from_utf8_lossy(&buffer[..read]).starts_with("HTTP/1.1 200"),
        "the stream opened"
    );
}

fn alive_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_dropped_connections_leave_no_stream_or_task_behind() {
    let app = spawn_app().await;
    // Let the app's own background tasks settle before taking the baseline.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let baseline_streams = app.state.sse.open_streams();
    let baseline_tasks = alive_tasks();
    assert_eq!(baseline_streams, 0);

    for _ in 0..10 {
        join_all((0..100).map(|_| open_and_drop(app.addr))).await;
    }
    assert_eq!(app.state.sse.opened_counter().get(), 1000);

    let streams_released = eventually(Duration::from_secs(10), || {
        app.state.sse.open_streams() == baseline_streams
    })
    .await;
    assert!(
        streams_released,
        "open streams back to {baseline_streams}, still {}",
        app.state.sse.open_streams()
    );
    let tasks_released =
        eventually(Duration::from_secs(10), || alive_tasks() <= baseline_tasks).await;
    assert!(
        tasks_released,
        "tasks back to {baseline_tasks}, still {}",
        alive_tasks()
    );
}
