//! Several instances on one Redis, the documented Redis contract, and
//! outages: everything here runs against a private `redis-server`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use crate::helpers::{spawn_app_with, test_config, SseReader, TestApp, PUBLISH_KEY};
use crate::redis_server::RedisServer;

const WAIT: Duration = Duration::from_secs(10);

async fn app_on(redis: &RedisServer) -> TestApp {
    let mut config = test_config();
    config.redis_url = Some(redis.url());
    config.history_cap = 10_000;
    spawn_app_with(config).await
}

#[tokio::test]
async fn a_stream_on_one_instance_gets_what_another_publishes_and_read_marks_travel() {
    let redis = RedisServer::start();
    let a = app_on(&redis).await;
    let b = app_on(&redis).await;
    let mut on_a = a.inbox_stream("alice", None).await;
    on_a.next_named("snapshot", WAIT).await;

    let id = b.notify("alice", "from B").await;
    let event = on_a.next_named("notification", WAIT).await;
    assert_eq!(event.id.as_deref(), Some(id.as_str()));
    assert_eq!(event.data["title"], "from B");

    // A tab on B sees the read mark made through A, with an exact count.
    let mut on_b = b.inbox_stream("alice", None).await;
    assert_eq!(on_b.next_named("snapshot", WAIT).await.data["unread"], 1);
    let alice = belfry::account::model::UserName::parse("alice").unwrap();
    a.state.inbox.mark_read(&alice, &id).await.unwrap();
    assert_eq!(
        on_b.next_named("read", WAIT).await.data["through"],
        id.as_str()
    );
    assert_eq!(on_b.next_named("unread", WAIT).await.data["unread"], 0);

    // A restarted or different instance reads the same inbox.
    let c = app_on(&redis).await;
    let snapshot = c.state.inbox.snapshot(&alice).await.unwrap();
    assert_eq!(snapshot.unread, 0);
    assert_eq!(snapshot.notifications[0].id, id);
}

#[tokio::test]
async fn one_instance_uses_a_handful_of_connections_however_many_streams_it_serves() {
    let redis = RedisServer::start();
    let app = app_on(&redis).await;
    let mut streams = Vec::new();
    for i in 0..200 {
        let mut stream = app.inbox_stream(&format!("user{}", i % 40), None).await;
        stream.next_named("snapshot", WAIT).await;
        streams.push(stream);
    }
    let count = redis.client_count();
    assert!(count <= 4, "{count} Redis connections for 200 streams");
    app.notify("user3", "still live").await;
    for stream in streams.iter_mut().skip(3).step_by(40) {
        assert_eq!(
            stream.next_named("notification", WAIT).await.data["title"],
            "still live"
        );
    }
}

/// The `redis-cli` example of docs/publishing.md.
fn documented_redis_cli_example() -> String {
    let root = env!("CARGO_MANIFEST_DIR");
    let docs = std::fs::read_to_string(format!("{root}/docs/publishing.md")).unwrap();
    docs.lines()
        .find(|line| line.starts_with("redis-cli -u \"$REDIS_URL\" --eval"))
        .expect("docs/publishing.md has the redis-cli example")
        .to_owned()
}

/// Runs `command` in a shell at the repository root against `redis`, and
/// checks that alice's open stream receives the notification it prints the
/// id of.
async fn run_and_expect_in_alices_stream(redis: &RedisServer, command: &str) {
    let app = app_on(redis).await;
    let mut stream = app.inbox_stream("alice", None).await;
    stream.next_named("snapshot", WAIT).await;

    let output = std::process::Command::new("sh")
        .args(["-c", command])
        .env("REDIS_URL", redis.url())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("redis-cli runs (Debian package redis-tools)");
    let printed = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    assert!(output.status.success(), "{output:?}");

    let event = stream.next_named("notification", WAIT).await;
    assert_eq!(event.id.as_deref(), Some(printed.trim_matches('"')));
    assert_eq!(event.data["title"], "Deploy finished");
    assert_eq!(event.data["kind"], "success");
    let alice = belfry::account::model::UserName::parse("alice").unwrap();
    let snapshot = app.state.inbox.snapshot(&alice).await.unwrap();
    assert_eq!(snapshot.notifications[0].title, "Deploy finished");
}

/// The `redis-cli` example of docs/publishing.md, run exactly as written.
#[tokio::test]
async fn the_documented_redis_cli_command_reaches_a_browser_stream() {
    let redis = RedisServer::start();
    run_and_expect_in_alices_stream(&redis, &documented_redis_cli_example()).await;
}

/// Publishers written before the inbox's Pub/Sub channel took the inbox's
/// name pass `notifications:<user>`; their events still go live.
#[tokio::test]
async fn a_publisher_still_naming_the_old_notifications_channel_reaches_the_stream() {
    let redis = RedisServer::start();
    let example = documented_redis_cli_example();
    let old = example.replacen(
        "'belfry:{alice}:inbox' , 'belfry:{alice}:inbox' ",
        "'belfry:{alice}:inbox' , notifications:alice ",
        1,
    );
    assert_ne!(old, example, "the example names the channel as expected");
    run_and_expect_in_alices_stream(&redis, &old).await;
}

#[tokio::test]
async fn while_redis_is_down_pages_and_streams_live_on_but_publishing_says_503() {
    let mut redis = RedisServer::start_durable();
    let app = app_on(&redis).await;
    let mut stream = app.inbox_stream("alice", None).await;
    stream.next_named("snapshot", WAIT).await;
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);

    redis.kill();
    let publish = app
        .publish(json!({"to": "alice", "kind": "info", "title": "lost?"}))
        .await;
    assert_eq!(publish.status(), 503);
    assert!(publish.headers().contains_key("retry-after"));
    let body: serde_json::Value = publish.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unavailable");
    assert!(
        !body.to_string().contains("127.0.0.1"),
        "no internals: {body}"
    );

    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    let healthy = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(healthy.status(), 200);
    let page = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    // The open stream stays open: heartbeats keep coming.
    for _ in 0..2 {
        let frame = stream
            .next_frame(WAIT)
            .await
            .expect("the stream stays open");
        assert!(frame.starts_with(':'), "a heartbeat comment, got {frame:?}");
    }

    redis.restart();
    let mut accepted = None;
    for _ in 0..100 {
        let response = app
            .publish(json!({"to": "alice", "kind": "info", "title": "back"}))
            .await;
        if response.status() == 201 {
            let body: serde_json::Value = response.json().await.unwrap();
            accepted = body["ids"][0].as_str().map(str::to_owned);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let accepted = accepted.expect("publishing works again without a restart");
    let event = stream.next_named("notification", WAIT).await;
    assert_eq!(event.id.as_deref(), Some(accepted.as_str()));
    assert_eq!(event.data["title"], "back");
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
}

/// What the publisher saw for one attempt.
#[derive(Debug, Clone)]
enum Outcome {
    Accepted(String),
    Refused(u16),
    NoAnswer,
}

/// A publisher sends continuously through instance A, each notification
/// with its own `Idempotency-Key`, retrying it until accepted, while Redis
/// is killed and restarted; four streams on A and B must end up with every
/// notification, in order, exactly once: no loss, and no duplicate even
/// for a write Redis performed whose reply died with it.
#[tokio::test]
async fn killing_and_restarting_redis_under_load_loses_and_repeats_nothing() {
    let mut redis = RedisServer::start_durable();
    let a = app_on(&redis).await;
    let b = app_on(&redis).await;
    let mut streams = Vec::new();
    for app in [&a, &b, &a, &b] {
        let mut stream = app.inbox_stream("loaded", None).await;
        stream.next_named("snapshot", WAIT).await;
        streams.push(stream);
    }

    let log: Arc<Mutex<Vec<(usize, Outcome)>>> = Arc::default();
    let accepted: Arc<Mutex<Vec<(usize, String)>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let publisher = {
        let (log, accepted, stop) = (Arc::clone(&log), Arc::clone(&accepted), Arc::clone(&stop));
        let (client, url) = (a.client.clone(), a.url("/api/notifications"));
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                // Retried with the same key until accepted.
                for _ in 0..500 {
                    let sent = client
                        .post(&url)
                        .bearer_auth(PUBLISH_KEY)
                        .header("idempotency-key", format!("load-{n}"))
                        .json(&json!({"to": "loaded", "kind": "info", "title": format!("n{n}")}))
                        .timeout(Duration::from_secs(5))
                        .send()
                        .await;
                    let outcome = match sent {
                        Ok(response) if response.status() == 201 => {
                            let body: serde_json::Value = response.json().await.unwrap_or_default();
                            Outcome::Accepted(
                                body["ids"][0].as_str().unwrap_or_default().to_owned(),
                            )
                        }
                        Ok(response) => Outcome::Refused(response.status().as_u16()),
                        Err(_) => Outcome::NoAnswer,
                    };
                    log.lock().unwrap().push((n, outcome.clone()));
                    if let Outcome::Accepted(id) = outcome {
                        accepted.lock().unwrap().push((n, id));
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                n += 1;
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
        })
    };

    let accepted_count = || accepted.lock().unwrap().len();
    tokio::time::sleep(Duration::from_millis(800)).await;
    redis.kill();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let during_outage = accepted_count();
    redis.restart();
    // Keep publishing until clearly recovered.
    let mut recovered = false;
    for _ in 0..200 {
        if accepted_count() >= during_outage + 100 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    publisher.await.unwrap();
    assert!(recovered, "publishing recovered after the restart");

    let log = log.lock().unwrap().clone();
    let accepted = accepted.lock().unwrap().clone();
    let refused = log
        .iter()
        .filter(|(_, outcome)| matches!(outcome, Outcome::Refused(503)))
        .count();
    let odd: Vec<_> = log
        .iter()
        .filter(|(_, outcome)| {
            matches!(outcome, Outcome::Refused(code) if *code != 503)
                || matches!(outcome, Outcome::NoAnswer)
        })
        .collect();
    assert!(
        odd.is_empty(),
        "only 201 or 503, never a 500 or a hang: {odd:?}"
    );
    assert!(refused > 0, "the outage was seen by the publisher");
    assert!(accepted.len() >= 100, "load: {} accepted", accepted.len());
    assert!(
        accepted.iter().enumerate().all(|(i, (n, _))| i == *n),
        "every notification was eventually accepted, in order"
    );
    let last_accepted = accepted
        .last()
        .map(|(_, id)| id.clone())
        .unwrap_or_default();

    for (i, stream) in streams.iter_mut().enumerate() {
        let mut received: Vec<(usize, String)> = Vec::new();
        loop {
            let event = stream.next_named("notification", WAIT).await;
            let title = event.data["title"].as_str().unwrap_or_default();
            let n: usize = title.trim_start_matches('n').parse().expect("n<number>");
            let id = event.id.clone().unwrap_or_default();
            received.push((n, id.clone()));
            if id == last_accepted {
                break;
            }
        }
        assert_eq!(
            received, accepted,
            "stream {i}: every notification, in order, exactly once"
        );
    }
    eprintln!(
        "kill/restart under load: {} attempts, {} notifications accepted, {refused} answers were 503 and retried with the same key",
        log.len(),
        accepted.len()
    );
}

#[tokio::test]
async fn a_task_started_on_one_instance_is_watched_and_fed_on_another() {
    let redis = RedisServer::start();
    let mut config = test_config();
    config.redis_url = Some(redis.url());
    config.task_step_ms = 20;
    let a = spawn_app_with(config.clone()).await;
    let b = spawn_app_with(config).await;
    let mut feed_on_b = SseReader::from_response(
        b.client
            .get(b.url("/api/sse/activity"))
            .header("cookie", b.cookie_for("watcher"))
            .send()
            .await
            .unwrap(),
    );

    let created = a
        .client
        .post(a.url("/api/tasks"))
        .bearer_auth(PUBLISH_KEY)
        .json(&json!({"name": "Shared work", "simulate": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let id = created.json::<serde_json::Value>().await.unwrap()["task_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut on_b = SseReader::open(&b.client, &b.url(&format!("/api/sse/tasks/{id}"))).await;
    let mut last = serde_json::Value::Null;
    while let Some(event) = on_b.next_event(WAIT).await {
        last = event.data;
    }
    assert_eq!(last["status"], "completed");
    assert_eq!(last["progress"], 100);
    let done = feed_on_b.next_named("activity", WAIT).await;
    assert_eq!(done.data["type"], "task_completed");
    assert_eq!(done.data["details"], "Shared work");
}

/// `WAIT` on the instance's shared connection made one stalled replica hold
/// up every command: ten publishes at once were answered one after another
/// (after 1, 2, 2, … 3 s) and `/readyz` answered 503 while they waited.
/// Each waiting publish now has a connection of its own.
#[tokio::test]
async fn a_stalled_replica_holds_up_only_the_publishes_that_wait_for_it() {
    let primary = RedisServer::start();
    let replica =
        RedisServer::start_with(&["--replicaof", "127.0.0.1", &primary.port().to_string()]);
    let linked = crate::eventually::eventually(Duration::from_secs(10), || {
        primary
            .command(&["INFO", "replication"])
            .is_some_and(|info| info.contains("state=online"))
    })
    .await;
    assert!(linked, "the replica is online");
    let mut config = test_config();
    config.redis_url = Some(primary.url());
    config.redis_wait_replicas = 1;
    config.redis_wait_timeout_ms = 1000;
    let app = spawn_app_with(config).await;
    app.notify("alice", "replicated").await;

    replica.pause();
    let started = std::time::Instant::now();
    let publishes = (0..10).map(|n| {
        let app = &app;
        async move {
            let response = app
                .publish(
                    json!({"to": "alice", "kind": "info", "title": format!("p{n}"), "body": ""}),
                )
                .await;
            (response.status().as_u16(), started.elapsed())
        }
    });
    let readiness = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
        (ready.status().as_u16(), started.elapsed())
    };
    let (answers, (ready, ready_after)) =
        tokio::join!(futures::future::join_all(publishes), readiness);
    replica.resume();
    let times: Vec<u128> = answers.iter().map(|(_, at)| at.as_millis()).collect();
    println!("publishes answered after {times:?} ms; /readyz {ready} after {ready_after:?}");
    assert!(
        answers.iter().all(|(status, _)| *status == 503),
        "each is stored but unreplicated: {answers:?}"
    );
    assert_eq!(ready, 200, "the instance stays ready while publishes wait");
    let first_answer = answers.iter().map(|(_, at)| *at).min().unwrap_or_default();
    assert!(
        ready_after < first_answer,
        "/readyz is answered while the publishes still wait for the replica, not behind them"
    );
}
