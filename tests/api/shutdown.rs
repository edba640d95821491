//! Graceful shutdown ends open SSE streams cleanly and stops the server.

use std::time::Duration;

use crate::helpers::{spawn_app, SseReader};

#[tokio::test]
async fn shutdown_ends_open_streams_and_the_server_stops() {
    let mut app = spawn_app().await;
    let mut stream = SseReader::open(&app.client, &app.url("/api/sse/clock")).await;
    assert!(
        stream.next_data(Duration::from_secs(3)).await.is_some(),
        "stream is live"
    );

    app.signal_shutdown();
    // The stream ends (no more frames) well before the 5 s grace period.
    let ended = tokio::time::timeout(Duration::from_secs(3), async {
        while stream.next_frame(Duration::from_secs(3)).await.is_some() {}
    })
    .await;
    assert!(ended.is_ok(), "the stream ended on shutdown");

    let server = app.server.take().expect("server task");
    let result = tokio::time::timeout(Duration::from_secs(3), server)
        .await
        .expect("server stops before the grace period ends")
        .expect("server task did not panic");
    assert!(result.is_ok(), "server stopped cleanly: {result:?}");
    assert_eq!(app.state.sse.open_streams(), 0);
}
