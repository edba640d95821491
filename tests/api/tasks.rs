//! Tasks: the API's status codes, progress rules, the progress stream, the
//! demo runner, cancelling and expiry — on both engines.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{
    spawn_on, spawn_on_with, test_config, EngineKind, SseReader, TestApp, PUBLISH_KEY,
};
use rstest::rstest;
use rstest_reuse::apply;

use crate::on_both_engines;

const WAIT: Duration = Duration::from_secs(10);

async fn create(app: &TestApp, body: Value) -> String {
    let response = app.api("/api/tasks", body).await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    body["task_id"].as_str().expect("a task id").to_owned()
}

async fn report(app: &TestApp, id: &str, body: Value) -> (u16, Value) {
    let response = app.api(&format!("/api/tasks/{id}/progress"), body).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

async fn task_stream(app: &TestApp, id: &str) -> SseReader {
    SseReader::open(&app.client, &app.url(&format!("/api/sse/tasks/{id}"))).await
}

/// Every state the stream sends until it ends.
async fn states_until_end(stream: &mut SseReader) -> Vec<Value> {
    let mut states = Vec::new();
    while let Some(event) = stream.next_event(WAIT).await {
        assert_eq!(event.event, "progress");
        states.push(event.data);
    }
    states
}

#[apply(on_both_engines)]
#[tokio::test]
async fn lifecycle_and_status_codes(#[case] engine: EngineKind) {
    let app = spawn_on(engine).await;
    let id = create(&app, json!({"name": "Import customers"})).await;
    let read = app
        .client
        .get(app.url(&format!("/api/tasks/{id}")))
        .bearer_auth(PUBLISH_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    let state: Value = read.json().await.unwrap();
    assert_eq!(state["status"], "pending");
    assert_eq!(state["progress"], 0);

    let (status, body) = report(
        &app,
        &id,
        json!({"progress": 30, "status": "processing", "message": "Reading", "step": "Reading"}),
    )
    .await;
    assert_eq!((status, body["progress"].as_u64()), (200, Some(30)));
    let (status, body) = report(
        &app,
        &id,
        json!({"progress": 10, "status": "processing", "message": "back"}),
    )
    .await;
    assert_eq!(status, 409, "progress never goes back: {body}");
    assert_eq!(body["error"]["code"], "conflict");
    let (status, _) = report(
        &app,
        &id,
        json!({"progress": 30, "status": "processing", "message": "same"}),
    )
    .await;
    assert_eq!(status, 200, "standing still is fine");
    let (status, body) = report(&app, &id, json!({"progress": 101, "status": "processing"})).await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("progress"))
    );
    let (status, body) = report(&app, &id, json!({"progress": 40, "status": "sleeping"})).await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("status"))
    );
    let (status, body) = report(
        &app,
        &id,
        json!({"progress": 90, "status": "completed", "message": "Done"}),
    )
    .await;
    assert_eq!((status, body["progress"].as_u64()), (200, Some(100)));
    for late in [
        json!({"progress": 100, "status": "processing"}),
        json!({"progress": 100, "status": "failed", "message": "too late"}),
    ] {
        let (status, body) = report(&app, &id, late).await;
        assert_eq!(status, 409, "nothing after a terminal status: {body}");
    }

    let unknown = "0123456789abcdef0123456789abcdef";
    let (status, _) = report(
        &app,
        unknown,
        json!({"progress": 1, "status": "processing"}),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = report(
        &app,
        "../../etc",
        json!({"progress": 1, "status": "processing"}),
    )
    .await;
    assert_eq!(status, 404);

    for (body, field) in [
        (json!({"name": ""}), "name"),
        (json!({"name": "   "}), "name"),
        (json!({"name": "x".repeat(81)}), "name"),
        (json!({}), "name"),
    ] {
        let response = app.api("/api/tasks", body).await;
        assert_eq!(response.status(), 400);
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["field"], field);
    }
    let anonymous = app
        .client
        .post(app.url("/api/tasks"))
        .json(&json!({"name": "no key"}))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[apply(on_both_engines)]
#[tokio::test]
async fn the_demo_runner_walks_the_steps_and_the_stream_ends(#[case] engine: EngineKind) {
    let app = spawn_on(engine).await;
    let id = create(&app, json!({"name": "Crunch", "simulate": true})).await;
    let mut stream = task_stream(&app, &id).await;
    let states = states_until_end(&mut stream).await;
    let progress: Vec<u64> = states
        .iter()
        .filter_map(|s| s["progress"].as_u64())
        .collect();
    assert!(
        progress.windows(2).all(|w| w[0] <= w[1]),
        "monotonic: {progress:?}"
    );
    let last = states.last().expect("states");
    assert_eq!(last["status"], "completed");
    assert_eq!(last["progress"], 100);
    assert_eq!(last["message"], "Task \"Crunch\" completed successfully!");
    let steps: Vec<&str> = states.iter().filter_map(|s| s["step"].as_str()).collect();
    for step in [
        "Processing data",
        "Analyzing content",
        "Generating results",
        "Optimizing output",
        "Finalizing",
    ] {
        assert!(steps.contains(&step), "{step} in {steps:?}");
    }
    // A late watcher gets the final state at once, and the stream ends.
    let mut late = task_stream(&app, &id).await;
    let final_event = late.next_event(WAIT).await.expect("the final state");
    assert_eq!(final_event.data["status"], "completed");
    assert!(
        late.next_event(WAIT).await.is_none(),
        "then the stream ends"
    );
    // So does a browser that reconnects right after the final event.
    let resumed = app
        .client
        .get(app.url(&format!("/api/sse/tasks/{id}")))
        .header("last-event-id", final_event.id.unwrap())
        .send()
        .await
        .unwrap();
    let mut resumed = SseReader::from_response(resumed);
    assert!(
        resumed.next_event(WAIT).await.is_none(),
        "nothing more, and closed"
    );
}

#[apply(on_both_engines)]
#[tokio::test]
async fn a_failing_task_fails_with_a_reason(#[case] engine: EngineKind) {
    let app = spawn_on(engine).await;
    let id = create(
        &app,
        json!({"name": "Flaky", "simulate": true, "fail": true}),
    )
    .await;
    let mut stream = task_stream(&app, &id).await;
    let states = states_until_end(&mut stream).await;
    let last = states.last().expect("states");
    assert_eq!(last["status"], "failed");
    assert!(
        last["message"].as_str().unwrap().contains("failed:"),
        "{last}"
    );
    assert!(last["progress"].as_u64().unwrap() < 100);
}

#[apply(on_both_engines)]
#[tokio::test]
async fn unknown_ids_answer_404_at_once(#[case] engine: EngineKind) {
    let app = spawn_on(engine).await;
    for id in ["0123456789abcdef0123456789abcdef", "nope"] {
        let response = tokio::time::timeout(
            Duration::from_secs(2),
            app.client
                .get(app.url(&format!("/api/sse/tasks/{id}")))
                .send(),
        )
        .await
        .expect("no hanging stream")
        .unwrap();
        assert_eq!(response.status(), 404);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found");
    }
}

#[apply(on_both_engines)]
#[tokio::test]
async fn the_owner_cancels_from_the_page_and_others_cannot(#[case] engine: EngineKind) {
    let mut config = test_config();
    config.task_step_ms = 2_000;
    let app = spawn_on_with(engine, config).await;
    let started = app
        .server_fn(
            "/api/tasks/start",
            Some("alice"),
            &[("name", "Long one"), ("fail", "false")],
        )
        .await;
    assert_eq!(started.status(), 200);
    let task: Value = started.json().await.unwrap();
    let id = task["id"].as_str().unwrap().to_owned();
    assert_eq!(task["owner"], "alice");

    let listed: Value = app
        .server_fn("/api/tasks/mine", Some("alice"), &[])
        .await
        .json()
        .await
        .unwrap();
    assert!(listed
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["id"] == id.as_str()));
    let bobs: Value = app
        .server_fn("/api/tasks/mine", Some("bob"), &[])
        .await
        .json()
        .await
        .unwrap();
    assert!(
        bobs.as_array().unwrap().is_empty(),
        "bob does not see alice's tasks"
    );

    let by_bob = app
        .server_fn("/api/tasks/cancel", Some("bob"), &[("id", &id)])
        .await;
    assert_eq!(by_bob.status(), 404);
    let anonymous = app
        .server_fn("/api/tasks/cancel", None, &[("id", &id)])
        .await;
    assert_eq!(anonymous.status(), 401);
    let by_alice = app
        .server_fn("/api/tasks/cancel", Some("alice"), &[("id", &id)])
        .await;
    assert_eq!(by_alice.status(), 200);
    let body: Value = by_alice.json().await.unwrap();
    assert_eq!(body["status"], "cancelled");
    assert_eq!(body["message"], "Cancelled by alice");
    let (late, _) = report(&app, &id, json!({"progress": 99, "status": "processing"})).await;
    assert_eq!(late, 409, "a cancelled task takes no more updates");
    // Alice's task is hers to watch: anyone else gets the 404 of an
    // unknown task.
    let watch = |user: Option<&'static str>| {
        let mut request = app.client.get(app.url(&format!("/api/sse/tasks/{id}")));
        if let Some(user) = user {
            request = request.header("cookie", app.cookie_for(user));
        }
        request.send()
    };
    assert_eq!(watch(None).await.unwrap().status(), 404);
    assert_eq!(watch(Some("bob")).await.unwrap().status(), 404);
    let mut stream = SseReader::from_response(watch(Some("alice")).await.unwrap());
    let states = states_until_end(&mut stream).await;
    assert_eq!(states.last().unwrap()["status"], "cancelled");
    let again = app
        .server_fn("/api/tasks/cancel", Some("alice"), &[("id", &id)])
        .await;
    assert_eq!(again.status(), 409, "cancelling twice is a conflict");
}

#[apply(on_both_engines)]
#[tokio::test]
async fn finished_tasks_are_forgotten_after_the_keep_time(#[case] engine: EngineKind) {
    let mut config = test_config();
    config.task_keep_secs = 1;
    let app = spawn_on_with(engine, config).await;
    let id = create(&app, json!({"name": "Short-lived"})).await;
    let (status, _) = report(&app, &id, json!({"progress": 100, "status": "completed"})).await;
    assert_eq!(status, 200);
    let url = app.url(&format!("/api/tasks/{id}"));
    let read = app
        .client
        .get(&url)
        .bearer_auth(PUBLISH_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200, "kept for a while");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let read = app
        .client
        .get(&url)
        .bearer_auth(PUBLISH_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 404, "then gone");
}
