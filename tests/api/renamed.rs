//! The names streams had before each feature got one name in every layer
//! are still served, so clients written against them keep working
//! (docs/publishing.md, "Renamed").

use std::time::Duration;

use crate::helpers::{spawn_app, SseReader};

#[tokio::test]
async fn the_old_clock_path_still_streams_ticks() {
    let app = spawn_app().await;
    let mut stream = SseReader::open(&app.client, &app.url("/api/sse/time")).await;
    let tick = stream
        .next_data(Duration::from_secs(3))
        .await
        .expect("a tick on the old path");
    assert!(tick.contains("\"timestamp\""), "{tick}");
}

#[tokio::test]
async fn the_old_inbox_path_still_streams_the_inbox() {
    let app = spawn_app().await;
    let request = app
        .client
        .get(app.url("/api/sse/notifications"))
        .header("cookie", app.cookie_for("alice"));
    let mut stream = SseReader::from_response(request.send().await.expect("request sent"));
    let snapshot = stream
        .next_event(Duration::from_secs(3))
        .await
        .expect("the snapshot");
    assert_eq!(snapshot.event, "snapshot");

    let id = app.notify("alice", "Still here").await;
    let live = stream
        .next_event(Duration::from_secs(3))
        .await
        .expect("the live notification");
    assert_eq!(live.event, "notification");
    assert_eq!(live.id.as_deref(), Some(id.as_str()));
}

#[tokio::test]
async fn the_old_task_path_still_streams_a_task() {
    let app = spawn_app().await;
    let created = app
        .api("/api/tasks", serde_json::json!({ "name": "Old path" }))
        .await;
    assert_eq!(created.status(), 201);
    let body: serde_json::Value = created.json().await.expect("JSON");
    let id = body["task_id"].as_str().expect("a task id");

    let mut stream =
        SseReader::open(&app.client, &app.url(&format!("/api/sse/progress/{id}"))).await;
    let state = stream
        .next_event(Duration::from_secs(3))
        .await
        .expect("the task's state");
    assert_eq!(state.event, "progress");
}
