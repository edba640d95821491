//! `GET /api/sse/clock`: headers, retry hint, ticks, heartbeats.

use std::time::Duration;

use belfry::clock::ClockTick;

use crate::helpers::{spawn_app, SseReader};

#[tokio::test]
async fn the_clock_stream_has_the_sse_headers() {
    let app = spawn_app().await;
    let stream = SseReader::open(&app.client, &app.url("/api/sse/clock")).await;
    let header = |name: &str| {
        stream
            .response_headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(header("content-type").as_deref(), Some("text/event-stream"));
    assert_eq!(
        header("cache-control").as_deref(),
        Some("no-cache, no-transform")
    );
    assert_eq!(header("x-accel-buffering").as_deref(), Some("no"));
}

#[tokio::test]
async fn the_clock_stream_starts_with_a_retry_hint_then_ticks_every_second() {
    let app = spawn_app().await;
    let mut stream = SseReader::open(&app.client, &app.url("/api/sse/clock")).await;
    let first = stream
        .next_frame(Duration::from_secs(2))
        .await
        .expect("first frame");
    assert_eq!(first, "retry: 2000");

    let mut ticks = Vec::new();
    for _ in 0..3 {
        let data = stream
            .next_data(Duration::from_secs(3))
            .await
            .expect("a tick");
        let tick: ClockTick = serde_json::from_str(&data).expect("tick is JSON");
        ticks.push(tick);
    }
    for tick in &ticks {
        let parsed = chrono::DateTime::parse_from_rfc3339(&tick.time).expect("RFC 3339 time");
        assert_eq!(
            parsed.timestamp_millis(),
            tick.timestamp,
            "time and timestamp agree"
        );
    }
    assert!(ticks[0].timestamp < ticks[1].timestamp && ticks[1].timestamp < ticks[2].timestamp);
    let gap = ticks[2].timestamp - ticks[1].timestamp;
    assert!(
        (500..=1_500).contains(&gap),
        "ticks are about a second apart, got {gap} ms"
    );
}
