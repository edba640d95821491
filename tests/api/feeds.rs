//! `GET /api/sse/feeds` and `POST /api/feeds/{stream}`: many feeds over one
//! stream, changed while it runs, resumed per feed, authorised per feed,
//! and changed through any instance.

use std::time::Duration;

use belfry::wire::feed::TaggedLine;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_on, test_config, EngineKind, SseReader, TestApp};
use rstest::rstest;
use rstest_reuse::apply;

use crate::on_both_engines;

const WAIT: Duration = Duration::from_secs(10);

/// One event of a multiplexed stream.
#[derive(Debug)]
struct FeedEvent {
    feed: String,
    event: String,
    id: Option<String>,
    data: Value,
}

/// A multiplexed stream and its id.
struct Mux {
    reader: SseReader,
    stream: String,
}

impl Mux {
    async fn open(app: &TestApp, user: Option<&str>, feeds: &str) -> Mux {
        let mut request = app
            .client
            .get(app.url("/api/sse/feeds"))
            .query(&[("feeds", feeds)]);
        if let Some(user) = user {
            request = request.header("cookie", app.cookie_for(user));
        }
        let mut reader = SseReader::from_response(request.send().await.unwrap());
        let hello = reader.next_event(WAIT).await.expect("hello");
        assert_eq!(hello.event, "hello");
        let stream = hello.data["stream"]
            .as_str()
            .expect("a stream id")
            .to_owned();
        Mux { reader, stream }
    }

    /// The next feed event, skipping hints and heartbeats.
    async fn next(&mut self) -> Option<FeedEvent> {
        let data = self.reader.next_data(WAIT).await?;
        let line = TaggedLine::parse(&data).expect("a tagged feed event");
        Some(FeedEvent {
            feed: line.feed.to_owned(),
            event: line.event.to_owned(),
            id: line.id.map(str::to_owned),
            data: serde_json::from_str(line.payload).expect("JSON payload"),
        })
    }

    /// The next event of `feed`, skipping the others' (clock ticks).
    async fn next_of(&mut self, feed: &str) -> FeedEvent {
        loop {
            let event = self.next().await.expect("the stream goes on");
            if event.feed == feed {
                return event;
            }
        }
    }
}

async fn change(app: &TestApp, user: Option<&str>, stream: &str, body: Value) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url(&format!("/api/feeds/{stream}")))
        .json(&body);
    if let Some(user) = user {
        request = request.header("cookie", app.cookie_for(user));
    }
    request.send().await.unwrap()
}

async fn start_task(app: &TestApp, user: &str) -> String {
    let started = app
        .server_fn(
            "/api/tasks/start",
            Some(user),
            &[("name", "Mux task"), ("fail", "false")],
        )
        .await;
    assert_eq!(started.status(), 200);
    let task: Value = started.json().await.unwrap();
    task["id"].as_str().unwrap().to_owned()
}

async fn backend_task(app: &TestApp) -> String {
    let response = app.api("/api/tasks", json!({"name": "Import"})).await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    body["task_id"].as_str().unwrap().to_owned()
}

async fn report(app: &TestApp, id: &str, progress: u32) {
    let response = app
        .api(
            &format!("/api/tasks/{id}/progress"),
            json!({"progress": progress, "status": "processing"}),
        )
        .await;
    assert_eq!(response.status(), 200);
}

#[apply(on_both_engines)]
#[tokio::test]
async fn one_stream_carries_every_feed_and_counts_once(#[case] engine: EngineKind) {
    let app = spawn_on(engine).await;
    app.notify("alice", "before").await;
    let task = backend_task(&app).await;
    let before = app.state.sse.open_streams();
    let mut mux = Mux::open(
        &app,
        Some("alice"),
        &format!("inbox,clock,activity,task:{task}"),
    )
    .await;
    assert_eq!(app.state.sse.open_streams(), before + 1, "one stream");
    // The activity feed has nothing to say yet; the other three start
    // with their state.
    let mut firsts = std::collections::BTreeMap::new();
    while firsts.len() < 3 {
        let event = mux.next().await.unwrap();
        firsts.entry(event.feed.clone()).or_insert(event);
    }
    assert_eq!(firsts["inbox"].event, "snapshot");
    assert_eq!(firsts["inbox"].data["unread"], 1);
    assert_eq!(firsts["clock"].event, "message");
    assert!(firsts["clock"].data["timestamp"].is_i64());
    assert_eq!(firsts[&format!("task:{task}")].event, "progress");

    let id = app.notify("alice", "live").await;
    let live = mux.next_of("inbox").await;
    assert_eq!(
        (live.event.as_str(), live.id.as_deref()),
        ("notification", Some(id.as_str()))
    );
    assert_eq!(live.data["title"], "live");
    report(&app, &task, 40).await;
    let progress = mux.next_of(&format!("task:{task}")).await;
    assert_eq!(progress.data["progress"], 40);
}

#[apply(on_both_engines)]
#[tokio::test]
async fn feeds_are_added_and_removed_without_reconnecting(#[case] engine: EngineKind) {
    let app = spawn_on(engine).await;
    let mut mux = Mux::open(&app, Some("alice"), "clock").await;
    assert_eq!(mux.next().await.unwrap().feed, "clock");

    let added = change(
        &app,
        Some("alice"),
        &mux.stream,
        json!({"subscribe": [{"feed": "inbox"}], "unsubscribe": ["clock"]}),
    )
    .await;
    assert_eq!(added.status(), 202);
    let snapshot = mux.next_of("inbox").await;
    assert_eq!(snapshot.event, "snapshot");
    app.notify("alice", "after subscribing").await;
    // Only inbox events from now on: the clock (ticking every second) left.
    let next = mux.next().await.unwrap();
    assert_eq!(
        (next.feed.as_str(), next.event.as_str()),
        ("inbox", "notification")
    );
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    app.notify("alice", "still here").await;
    let next = mux.next().await.unwrap();
    assert_eq!(next.feed, "inbox", "no clock tick after unsubscribing");
    assert_eq!(next.data["title"], "still here");
}

#[apply(on_both_engines)]
#[tokio::test]
async fn each_feed_resumes_exactly_where_it_left_off(#[case] engine: EngineKind) {
    let app = spawn_on(engine).await;
    let seen = app.notify("alice", "seen").await;
    let task = backend_task(&app).await;
    report(&app, &task, 10).await;
    let task_seen = {
        let mut mux = Mux::open(&app, Some("alice"), &format!("task:{task}")).await;
        mux.next().await.unwrap().id.expect("a task event id")
    };
    // Offline: both feeds move on.
    let missed = app.notify("alice", "missed").await;
    report(&app, &task, 20).await;
    report(&app, &task, 30).await;

    let mut mux = Mux::open(
        &app,
        Some("alice"),
        &format!("inbox@{seen},task:{task}@{task_seen}"),
    )
    .await;
    let mut inbox = Vec::new();
    let mut progress = Vec::new();
    while inbox.is_empty()
        || progress.len() < 2
        || !inbox.iter().any(|e: &FeedEvent| e.event == "unread")
    {
        let event = mux.next().await.unwrap();
        match event.feed.as_str() {
            "inbox" => inbox.push(event),
            _ => progress.push(event),
        }
    }
    let notifications: Vec<_> = inbox.iter().filter(|e| e.event == "notification").collect();
    assert_eq!(notifications.len(), 1, "exactly the one missed: {inbox:?}");
    assert_eq!(notifications[0].id.as_deref(), Some(missed.as_str()));
    assert!(
        inbox.iter().all(|e| e.event != "snapshot"),
        "a replay, not a snapshot"
    );
    let steps: Vec<u64> = progress
        .iter()
        .map(|e| e.data["progress"].as_u64().unwrap())
        .collect();
    assert_eq!(steps, vec![20, 30], "exactly the task updates missed");
}

#[apply(on_both_engines)]
#[tokio::test]
async fn feeds_are_authorised_one_by_one(#[case] engine: EngineKind) {
    let app = spawn_on(engine).await;
    let alices = start_task(&app, "alice").await;
    // Anonymous: the clock only.
    let mut anonymous = Mux::open(&app, None, "inbox,activity,clock").await;
    let mut refused = Vec::new();
    let mut ticked = false;
    while refused.len() < 2 || !ticked {
        let event = anonymous.next().await.unwrap();
        if event.event == "error" {
            assert_eq!(event.data["status"], 401, "{event:?}");
            refused.push(event.feed);
        } else {
            assert_eq!(event.feed, "clock");
            ticked = true;
        }
    }
    refused.sort();
    assert_eq!(refused, ["activity", "inbox"]);

    // Bob cannot watch alice's task; alice can.
    let mut bob = Mux::open(&app, Some("bob"), &format!("task:{alices}")).await;
    let event = bob.next().await.unwrap();
    assert_eq!(
        (event.event.as_str(), &event.data["status"]),
        ("error", &json!(404))
    );
    let mut alice = Mux::open(&app, Some("alice"), &format!("task:{alices}")).await;
    assert_eq!(alice.next().await.unwrap().event, "progress");
    // Nor through the single-feed endpoint.
    let single = app
        .client
        .get(app.url(&format!("/api/sse/tasks/{alices}")))
        .header("cookie", app.cookie_for("bob"))
        .send()
        .await
        .unwrap();
    assert_eq!(single.status(), 404);

    // Nobody changes a stream that is not theirs.
    for (user, status) in [(Some("bob"), 404), (None, 404), (Some("alice"), 202)] {
        let response = change(
            &app,
            user,
            &alice.stream,
            json!({"subscribe": [{"feed": "clock"}]}),
        )
        .await;
        assert_eq!(response.status(), status, "{user:?}");
    }
}

#[tokio::test]
async fn bad_requests_name_the_problem() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/api/sse/feeds?feeds=inbox,mail"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["field"], "feeds");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("mail"),
        "{body}"
    );

    let mux = Mux::open(&app, Some("alice"), "clock").await;
    for (body, field) in [
        (
            json!({"subscribe": [{"feed": "clock", "after": "soon"}]}),
            "subscribe[0].after",
        ),
        (
            json!({"subscribe": [{"feed": "mail"}]}),
            "subscribe[0].feed",
        ),
    ] {
        let response = change(&app, Some("alice"), &mux.stream, body).await;
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["field"], field, "{body}");
    }
    let unknown = change(&app, Some("alice"), "nothing.here", json!({})).await;
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn a_change_posted_to_another_instance_reaches_the_stream() {
    let redis = crate::redis_server::RedisServer::start();
    let mut config = test_config();
    config.redis_url = Some(redis.url());
    let a = crate::helpers::spawn_app_with(config.clone()).await;
    let b = crate::helpers::spawn_app_with(config).await;
    let mut mux = Mux::open(&a, Some("alice"), "").await;
    let response = change(
        &b,
        Some("alice"),
        &mux.stream,
        json!({"subscribe": [{"feed": "inbox"}]}),
    )
    .await;
    assert_eq!(response.status(), 202);
    assert_eq!(mux.next_of("inbox").await.event, "snapshot");
    b.notify("alice", "through b").await;
    assert_eq!(mux.next_of("inbox").await.data["title"], "through b");
    // A change for another user's stream is dropped by the holder.
    let response = change(
        &b,
        Some("bob"),
        &mux.stream,
        json!({"unsubscribe": ["inbox"]}),
    )
    .await;
    assert_eq!(response.status(), 202, "B cannot know; A checks the owner");
    a.notify("alice", "still carried").await;
    assert_eq!(mux.next_of("inbox").await.data["title"], "still carried");
}
