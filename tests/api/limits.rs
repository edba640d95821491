//! Every resource has a limit, answered 429 with `Retry-After` and the
//! API's JSON error; 0 means unlimited.

use std::time::Duration;

use crate::helpers::{eventually, production_config, spawn_app_with, TestApp};

async fn open_inbox(app: &TestApp, user: &str) -> reqwest::Response {
    app.client
        .get(app.url("/api/sse/inbox"))
        .header("cookie", app.cookie_for(user))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_17th_stream_of_one_user_gets_429_and_a_closed_one_frees_a_place() {
    let app = spawn_app_with(production_config()).await;
    let mut open = Vec::new();
    for _ in 0..16 {
        let response = open_inbox(&app, "alice").await;
        assert_eq!(response.status(), 200);
        open.push(response);
    }
    let refused = open_inbox(&app, "alice").await;
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "10");
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("streams"));

    assert_eq!(
        open_inbox(&app, "bob").await.status(),
        200,
        "bob has his own"
    );
    open.pop();
    assert!(
        eventually(Duration::from_secs(5), || app.state.sse.open_streams()
            == 17)
        .await,
        "the closed stream is counted out"
    );
    assert_eq!(open_inbox(&app, "alice").await.status(), 200);
}

#[tokio::test]
async fn the_per_address_limit_counts_anonymous_streams_and_0_is_unlimited() {
    let mut config = production_config();
    config.max_streams_per_ip = 3;
    let app = spawn_app_with(config).await;
    let clock = || app.client.get(app.url("/api/sse/clock")).send();
    let mut open = Vec::new();
    for _ in 0..3 {
        let response = clock().await.unwrap();
        assert_eq!(response.status(), 200);
        open.push(response);
    }
    assert_eq!(clock().await.unwrap().status(), 429, "4th from 127.0.0.1");

    let mut unlimited = production_config();
    unlimited.max_streams = 0;
    unlimited.max_streams_per_user = 0;
    unlimited.max_streams_per_ip = 0;
    let app = spawn_app_with(unlimited).await;
    let mut open = Vec::new();
    for _ in 0..40 {
        let response = open_inbox(&app, "alice").await;
        assert_eq!(response.status(), 200);
        open.push(response);
    }
}

#[tokio::test]
async fn a_publish_burst_past_its_bucket_gets_429_and_the_key_works_again_after_the_wait() {
    let mut config = production_config();
    config.publish_rate = 1;
    config.publish_burst = 3;
    let app = spawn_app_with(config).await;
    let body = serde_json::json!({"to": "alice", "kind": "info", "title": "t"});
    for _ in 0..3 {
        assert_eq!(app.publish(body.clone()).await.status(), 201);
    }
    let refused = app.publish(body.clone()).await;
    assert_eq!(refused.status(), 429);
    let wait: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&wait), "Retry-After {wait}");
    let error: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(error["error"]["code"], "rate_limited");
    tokio::time::sleep(Duration::from_secs(wait) + Duration::from_millis(100)).await;
    assert_eq!(app.publish(body).await.status(), 201, "the bucket refilled");
}

#[tokio::test]
async fn dashboard_sends_and_sign_ins_have_their_buckets() {
    let mut config = production_config();
    config.demo = true;
    config.send_rate_per_min = 2;
    config.sign_in_rate_per_min = 2;
    let app = spawn_app_with(config).await;
    let send = || {
        app.server_fn(
            "/api/inbox/send",
            Some("alice"),
            &[
                ("to", "alice"),
                ("kind", "info"),
                ("title", "t"),
                ("body", ""),
            ],
        )
    };
    assert_eq!(send().await.status(), 200);
    assert_eq!(send().await.status(), 200);
    let refused = send().await;
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    let sign_in = || app.server_fn("/api/account/sign_in", None, &[("name", "bob")]);
    assert_ne!(sign_in().await.status(), 429);
    assert_ne!(sign_in().await.status(), 429);
    assert_eq!(sign_in().await.status(), 429);
}
