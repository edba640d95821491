//! The activity feed: snapshot and exact replay, the cap, and the real
//! events that feed it — on both engines.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{spawn_on, EngineKind, SseEvent, SseReader, TestApp};
use rstest::rstest;
use rstest_reuse::apply;

use crate::on_both_engines;

const WAIT: Duration = Duration::from_secs(10);

async fn simulate(app: &TestApp) -> Value {
    let response = app
        .server_fn("/api/activity/simulate", Some("ada"), &[])
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn feed(app: &TestApp, last_event_id: Option<&str>) -> SseReader {
    let mut request = app
        .client
        .get(app.url("/api/sse/activity"))
        .header("cookie", app.cookie_for("reader"));
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id);
    }
    SseReader::from_response(request.send().await.unwrap())
}

async fn next_activity(stream: &mut SseReader) -> SseEvent {
    let event = stream.next_event(WAIT).await.expect("the feed is open");
    assert_eq!(event.event, "activity");
    event
}

#[apply(on_both_engines)]
#[tokio::test]
async fn latest_ten_then_live_and_exact_replay(#[case] engine: EngineKind) {
    let app = spawn_on(engine).await;
    let mut ids = Vec::new();
    for _ in 0..15 {
        ids.push(simulate(&app).await["id"].as_str().unwrap().to_owned());
    }
    let mut stream = feed(&app, None).await;
    let mut first = Vec::new();
    for _ in 0..10 {
        first.push(next_activity(&mut stream).await.id.unwrap());
    }
    assert_eq!(first, ids[5..], "the latest 10, oldest first");
    stream.expect_silence(Duration::from_millis(300)).await;
    let live = simulate(&app).await;
    let event = next_activity(&mut stream).await;
    assert_eq!(event.id.as_deref(), live["id"].as_str());
    for field in ["user", "action", "details", "timestamp", "type"] {
        assert!(event.data.get(field).is_some(), "{field} in {}", event.data);
    }

    // Reconnecting after ids[12]: exactly what came after, once.
    let mut resumed = feed(&app, Some(&ids[12])).await;
    let mut replayed = Vec::new();
    for _ in 0..3 {
        replayed.push(next_activity(&mut resumed).await.id.unwrap());
    }
    let mut expected = ids[13..].to_vec();
    expected.push(live["id"].as_str().unwrap().to_owned());
    assert_eq!(replayed, expected);
    resumed.expect_silence(Duration::from_millis(300)).await;
}

#[apply(on_both_engines)]
#[tokio::test]
async fn the_feed_is_for_signed_in_users(#[case] engine: EngineKind) {
    let app = spawn_on(engine).await;
    let anonymous = app
        .client
        .get(app.url("/api/sse/activity"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let simulate = app.server_fn("/api/activity/simulate", None, &[]).await;
    assert_eq!(simulate.status(), 401);
}

#[apply(on_both_engines)]
#[tokio::test]
async fn only_the_latest_fifty_are_kept(#[case] engine: EngineKind) {
    let app = spawn_on(engine).await;
    for _ in 0..60 {
        simulate(&app).await;
    }
    let kept = app
        .state
        .engine
        .latest(belfry::server::activity::service::CHANNEL, 1000)
        .await
        .unwrap();
    assert_eq!(kept.len(), 50);
}

#[apply(on_both_engines)]
#[tokio::test]
async fn sign_ins_finished_tasks_and_broadcasts_feed_it(#[case] engine: EngineKind) {
    let app = spawn_on(engine).await;
    let mut stream = feed(&app, None).await;
    let signed_in = app
        .server_fn("/api/account/sign_in", None, &[("name", "newcomer")])
        .await;
    assert_eq!(signed_in.status(), 200);
    let joined = next_activity(&mut stream).await;
    assert_eq!(joined.data["type"], "user_joined");
    assert_eq!(joined.data["user"], "newcomer");

    let response = app
        .api(
            "/api/tasks",
            json!({"name": "Nightly report", "simulate": true}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let done = next_activity(&mut stream).await;
    assert_eq!(done.data["type"], "task_completed");
    assert_eq!(done.data["details"], "Nightly report");

    app.notify("*", "Maintenance at noon").await;
    let posted = next_activity(&mut stream).await;
    assert_eq!(posted.data["type"], "post_created");
    assert_eq!(posted.data["details"], "Maintenance at noon");
}
