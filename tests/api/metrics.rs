//! `/metrics` proves what happened: publishes, deliveries, frames, stream
//! closes and requests, and who may read it.

use std::time::Duration;

use crate::helpers::{eventually, spawn_app, spawn_app_with, test_config, TestApp};

const WAIT: Duration = Duration::from_secs(5);

async fn scrape(app: &TestApp) -> String {
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

/// The value of the series line starting with `series ` (name and labels).
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.split_whitespace().next()?.parse().ok())
}

#[tokio::test]
async fn a_scrape_after_one_publish_and_one_delivery_shows_both() {
    let app = spawn_app().await;
    let mut alice = app.inbox_stream("alice", None).await;
    assert_eq!(alice.next_event(WAIT).await.unwrap().event, "snapshot");
    app.notify("alice", "counted").await;
    assert_eq!(
        alice.next_event(WAIT).await.unwrap().data["title"],
        "counted"
    );

    let text = scrape(&app).await;
    let series = |name: &str| value(&text, name).unwrap_or_else(|| panic!("{name} in\n{text}"));
    assert_eq!(
        series(r#"belfry_engine_publishes_total{outcome="stored"}"#),
        1.0
    );
    assert_eq!(
        series("belfry_delivery_latency_seconds_count"),
        1.0,
        "one delivery"
    );
    assert!(
        series("belfry_sse_frames_total") >= 2.0,
        "retry hint, snapshot, notification"
    );
    assert_eq!(
        series(
            r#"belfry_http_requests_total{method="POST",route="/api/notifications",status="201"}"#
        ),
        1.0
    );
    assert_eq!(series("belfry_sse_open_streams"), 1.0);
    assert_eq!(series("belfry_engine_link_up"), 1.0);

    drop(alice);
    assert!(eventually(WAIT, || app.state.sse.open_streams() == 0).await);
    let text = scrape(&app).await;
    assert_eq!(
        value(
            &text,
            r#"belfry_sse_streams_closed_total{reason="client_gone"}"#
        ),
        Some(1.0),
        "{text}"
    );
}

#[tokio::test]
async fn refusals_are_counted_by_reason_and_route() {
    let mut config = test_config();
    config.max_streams_per_user = 1;
    let app = spawn_app_with(config).await;
    let _first = app.inbox_stream("bob", None).await;
    let refused = app
        .client
        .get(app.url("/api/sse/inbox"))
        .header("cookie", app.cookie_for("bob"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 429);
    let text = scrape(&app).await;
    assert_eq!(
        value(&text, r#"belfry_sse_streams_refused_total{reason="limit"}"#),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            r#"belfry_http_requests_total{method="GET",route="/api/sse/inbox",status="429"}"#
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn with_a_token_metrics_need_it() {
    let mut config = test_config();
    config.metrics_token = Some("scrape-secret".into());
    let app = spawn_app_with(config).await;
    let anonymous = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let wrong = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("guess")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let right = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("scrape-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 200);
}

#[tokio::test]
async fn with_its_own_address_metrics_leave_the_main_one() {
    let mut config = test_config();
    config.metrics_addr = Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
    let app = spawn_app_with(config).await;
    let main = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(main.status(), 404);
    let own = app.metrics_addr.expect("a metrics address");
    let text = app
        .client
        .get(format!("http://{own}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("belfry_sse_open_streams"), "{text}");
}
