//! Graceful drain: on SIGTERM an instance stops being ready at once, refuses
//! new streams, closes its open streams spread over the drain window, and
//! its clients resume on another instance without losing or repeating
//! anything.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::join_all;

use crate::helpers::{eventually, spawn_app_with, test_config, SseReader, TestApp, PUBLISH_KEY};
use crate::redis_server::RedisServer;

const USERS: usize = 100;
const STREAMS_PER_USER: usize = 10;

/// One browser-like client: follows `user`'s inbox, remembers the last id,
/// and when its stream ends resumes on instance B with `Last-Event-ID`.
struct Client {
    user: String,
    titles: Vec<String>,
    last_id: Option<String>,
}

async fn open(
    app_url: &str,
    client: &reqwest::Client,
    cookie: &str,
    last_id: Option<&str>,
) -> SseReader {
    let mut request = client
        .get(format!("{app_url}/api/sse/inbox"))
        .header("cookie", cookie);
    if let Some(id) = last_id {
        request = request.header("last-event-id", id);
    }
    SseReader::from_response(request.send().await.expect("request sent"))
}

/// Reads events into `client` until the stream ends (→ true) or `stop`.
async fn follow(reader: &mut SseReader, client: &mut Client, stop: &AtomicBool) -> bool {
    loop {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        let Some(frame) = reader.next_frame(Duration::from_secs(10)).await else {
            return true;
        };
        let mut id = None;
        let mut name = "";
        let mut data = "";
        for line in frame.lines() {
            if let Some(value) = line.strip_prefix("id: ") {
                id = Some(value.to_owned());
            } else if let Some(value) = line.strip_prefix("event: ") {
                name = value;
            } else if let Some(value) = line.strip_prefix("data: ") {
                data = value;
            }
        }
        if name == "notification" {
            let value: serde_json::Value = serde_json::from_str(data).expect("JSON");
            client
                .titles
                .push(value["title"].as_str().unwrap_or_default().to_owned());
        }
        if id.is_some() {
            client.last_id = id;
        }
    }
}

async fn publish(app: &TestApp, users: &[String], title: &str) -> reqwest::StatusCode {
    app.client
        .post(app.url("/api/notifications"))
        .bearer_auth(PUBLISH_KEY)
        .json(&serde_json::json!({"to": users, "kind": "info", "title": title}))
        .send()
        .await
        .map(|response| response.status())
        .unwrap_or(reqwest::StatusCode::SERVICE_UNAVAILABLE)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_1000_streams_open_drains_every_client_to_the_other_instance_losing_nothing() {
    let redis = RedisServer::start();
    let mut config = test_config();
    config.redis_url = Some(redis.url());
    config.drain_secs = 2;
    config.max_streams = 0;
    config.max_streams_per_user = 0;
    let mut a = spawn_app_with(config.clone()).await;
    let b = Arc::new(spawn_app_with(config).await);
    let users: Vec<String> = (0..USERS).map(|n| format!("drain{n}")).collect();
    // A first notification each, so every stream starts from a known id.
    assert_eq!(publish(&a, &users, "seed").await, 201);

    let stop = Arc::new(AtomicBool::new(false));
    let on_b = Arc::new(AtomicUsize::new(0));
    let opened = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for n in 0..USERS * STREAMS_PER_USER {
        let user = users[n % USERS].clone();
        let cookie = a.cookie_for(&user);
        let (a_url, b_url) = (a.url(""), b.url(""));
        let (stop, on_b, opened) = (stop.clone(), on_b.clone(), opened.clone());
        let http = a.client.clone();
        clients.push(tokio::spawn(async move {
            let mut client = Client {
                user,
                titles: Vec::new(),
                last_id: None,
            };
            let mut reader = open(&a_url, &http, &cookie, None).await;
            opened.fetch_add(1, Ordering::Relaxed);
            if follow(&mut reader, &mut client, &stop).await {
                let mut reader = open(&b_url, &http, &cookie, client.last_id.as_deref()).await;
                on_b.fetch_add(1, Ordering::Relaxed);
                follow(&mut reader, &mut client, &stop).await;
            }
            client
        }));
    }
    assert!(
        eventually(Duration::from_secs(30), || opened.load(Ordering::Relaxed)
            == 1000)
        .await,
        "1,000 streams opened on A"
    );
    assert!(
        eventually(Duration::from_secs(10), || a.state.sse.open_streams()
            == 1000)
        .await
    );

    // A publisher sending throughout: through A until A is not ready, then
    // through B.
    let accepted = Arc::new(Mutex::new(Vec::<String>::new()));
    let through_b = Arc::new(AtomicBool::new(false));
    let publisher = {
        let (accepted, through_b, stop_publishing) = (
            accepted.clone(),
            through_b.clone(),
            Arc::new(AtomicBool::new(false)),
        );
        let users = users.clone();
        let a_client = (a.client.clone(), a.url(""));
        let b = b.clone();
        let stopper = stop_publishing.clone();
        let task = tokio::spawn(async move {
            let mut n = 0;
            while !stop_publishing.load(Ordering::Relaxed) {
                let title = format!("n{n}");
                let status = if through_b.load(Ordering::Relaxed) {
                    publish(&b, &users, &title).await
                } else {
                    a_client
                        .0
                        .post(format!("{}/api/notifications", a_client.1))
                        .bearer_auth(PUBLISH_KEY)
                        .json(&serde_json::json!({"to": users, "kind": "info", "title": title}))
                        .send()
                        .await
                        .map(|response| response.status())
                        .expect("A serves requests while it drains")
                };
                assert_eq!(status, 201, "publish {n}");
                accepted.lock().unwrap().push(title);
                n += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        (task, stopper)
    };
    tokio::time::sleep(Duration::from_secs(1)).await;

    a.signal_shutdown();
    let signalled = Instant::now();
    // Readiness flips at the signal, not when the drain is over (2 s here):
    // a behaviour, not a speed, so the bound is the drain window.
    let not_ready_after = loop {
        let status = a
            .client
            .get(a.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status();
        if status == 503 {
            break signalled.elapsed();
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(2),
            "still ready at the end of the drain window"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let refused = a
        .client
        .get(a.url("/api/sse/inbox"))
        .header("cookie", a.cookie_for("drain0"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 503, "no new streams while draining");
    assert!(refused.headers().contains_key("retry-after"));
    through_b.store(true, Ordering::Relaxed);

    assert!(
        eventually(Duration::from_secs(10), || on_b.load(Ordering::Relaxed)
            == 1000)
        .await,
        "every client landed on B ({} did)",
        on_b.load(Ordering::Relaxed)
    );
    let drained_after = signalled.elapsed();
    assert!(
        eventually(Duration::from_secs(5), || b.state.sse.open_streams()
            == 1000)
        .await
    );
    assert_eq!(a.state.sse.open_streams(), 0);

    tokio::time::sleep(Duration::from_secs(1)).await;
    publisher.1.store(true, Ordering::Relaxed);
    publisher.0.await.unwrap();
    // Let the last publishes reach every stream, then stop the clients.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::Relaxed);
    let clients: Vec<Client> = join_all(clients)
        .await
        .into_iter()
        .map(|client| client.expect("client task"))
        .collect();

    let accepted = accepted.lock().unwrap().clone();
    let mut problems = Vec::new();
    for client in &clients {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for title in &client.titles {
            *counts.entry(title.as_str()).or_default() += 1;
        }
        let missing = accepted
            .iter()
            .filter(|t| !counts.contains_key(t.as_str()))
            .count();
        let doubled = counts.values().filter(|c| **c > 1).count();
        if missing > 0 || doubled > 0 {
            problems.push(format!(
                "{}: {missing} missing, {doubled} twice",
                client.user
            ));
        }
    }
    println!(
        "drain: /readyz 503 after {not_ready_after:?}; 1,000 clients on B after {drained_after:?}; {} publishes × {USERS} users accepted, each delivered once to all {} clients",
        accepted.len(),
        clients.len()
    );
    assert!(
        problems.is_empty(),
        "{} clients lost or repeated: {:?}",
        problems.len(),
        &problems[..problems.len().min(5)]
    );
}
