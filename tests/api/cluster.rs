//! Belfry on a Redis Cluster: three primaries with a replica each, two
//! instances, users spread over every shard. Publish, replay, read marks and
//! tasks behave as on one Redis; live fan-out uses sharded Pub/Sub with one
//! subscriber connection per shard per instance, and survives a slot moving
//! and a primary failing over. Each test starts its own cluster, and returns
//! early (printing why) only where `redis-server` is older than 7.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use crate::helpers::{spawn_app_with, test_config, SseReader, TestApp};
use crate::redis_cluster::RedisCluster;

const WAIT: Duration = Duration::from_secs(15);

async fn app_on(cluster: &RedisCluster, wait_replicas: u64) -> TestApp {
    let mut config = test_config();
    config.redis_url = Some(cluster.url());
    config.redis_cluster = true;
    config.redis_wait_replicas = wait_replicas;
    config.history_cap = 10_000;
    config.task_step_ms = 20;
    spawn_app_with(config).await
}

/// Runs blocking cluster work (starting nodes, waiting out a failover)
/// without stopping the apps on this runtime.
fn blocking<T>(work: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(work)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_serve_users_on_every_shard_as_on_one_redis() {
    let Some(cluster) = blocking(RedisCluster::start) else {
        return;
    };
    let a = app_on(&cluster, 0).await;
    let b = app_on(&cluster, 0).await;
    let users = blocking(|| cluster.users_on_every_shard("shard-user-"));
    assert_eq!(users.len(), 3, "one user per primary: {users:?}");

    for user in &users {
        // Live: published through B, delivered by A.
        let mut on_a = a.inbox_stream(user, None).await;
        on_a.next_named("snapshot", WAIT).await;
        let first = b.notify(user, "first").await;
        let event = on_a.next_named("notification", WAIT).await;
        assert_eq!(event.id.as_deref(), Some(first.as_str()));

        // Replay: exactly what came after the id, from the other instance.
        let second = a.notify(user, "second").await;
        let third = a.notify(user, "third").await;
        let mut resumed = b.inbox_stream(user, Some(&first)).await;
        let replayed: Vec<String> = [
            resumed.next_named("notification", WAIT).await,
            resumed.next_named("notification", WAIT).await,
        ]
        .into_iter()
        .filter_map(|event| event.id)
        .collect();
        assert_eq!(replayed, [second.clone(), third.clone()]);

        // Read marks made on A reach B's stream with an exact count.
        let name = belfry::account::model::UserName::parse(user).unwrap();
        assert_eq!(resumed.next_named("unread", WAIT).await.data["unread"], 3);
        a.state.inbox.mark_read(&name, &third).await.unwrap();
        assert_eq!(resumed.next_named("unread", WAIT).await.data["unread"], 2);
    }

    // One publish to users on every shard (scripts side by side, no
    // cross-slot pipeline).
    let mut streams = Vec::new();
    for user in &users {
        let mut stream = b.inbox_stream(user, None).await;
        stream.next_named("snapshot", WAIT).await;
        streams.push(stream);
    }
    let published = a
        .publish(json!({ "to": users, "kind": "info", "title": "to every shard" }))
        .await;
    assert_eq!(published.status(), 201);
    for stream in &mut streams {
        assert_eq!(
            stream.next_named("notification", WAIT).await.data["title"],
            "to every shard"
        );
    }

    // Tasks: created through A, watched on B, reported through A.
    let created = a.api("/api/tasks", json!({ "name": "on a cluster" })).await;
    assert_eq!(created.status(), 201);
    let id = created.json::<serde_json::Value>().await.unwrap()["task_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut watched = SseReader::open(&b.client, &b.url(&format!("/api/sse/tasks/{id}"))).await;
    assert_eq!(
        watched.next_named("progress", WAIT).await.data["progress"],
        0
    );
    let reported = a
        .api(
            &format!("/api/tasks/{id}/progress"),
            json!({ "progress": 40, "status": "processing" }),
        )
        .await;
    assert_eq!(reported.status(), 200);
    assert_eq!(
        watched.next_named("progress", WAIT).await.data["progress"],
        40
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_subscribes_once_per_channel_on_one_connection_per_shard() {
    let Some(cluster) = blocking(RedisCluster::start) else {
        return;
    };
    let mut config = test_config();
    config.redis_url = Some(cluster.url());
    config.redis_cluster = true;
    config.max_streams_per_user = 0;
    let app = spawn_app_with(config).await;
    let users = blocking(|| cluster.users_on_every_shard("conn-user-"));
    let mut streams = Vec::new();
    for round in 0..20 {
        for user in &users {
            let mut stream = app.inbox_stream(user, None).await;
            stream.next_named("snapshot", WAIT).await;
            if round == 0 {
                app.notify(user, "warm-up").await;
            }
            streams.push(stream);
        }
    }
    for user in &users {
        let primary = blocking(|| cluster.primary_of_user(user));
        let node = cluster.node(primary.port);
        let channel = format!("belfry:{{{user}}}:inbox");
        let numsub = node
            .command(&["PUBSUB", "SHARDNUMSUB", &channel])
            .expect("PUBSUB SHARDNUMSUB");
        assert!(
            numsub.ends_with(":1\r\n"),
            "20 streams of {user}, one sharded subscription: {numsub:?}"
        );
        let clients = node.command(&["CLIENT", "LIST"]).expect("CLIENT LIST");
        let from_app = clients
            .lines()
            .filter(|line| line.contains("addr=") && !line.contains("flags=S"))
            .count()
            - 1;
        assert!(
            from_app <= 2,
            "60 streams, {from_app} connections on one primary:\n{clients}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_stays_live_while_its_slot_moves_to_another_primary() {
    let Some(cluster) = blocking(RedisCluster::start) else {
        return;
    };
    let a = app_on(&cluster, 0).await;
    let b = app_on(&cluster, 0).await;
    let user = "moving-user";
    let mut stream = a.inbox_stream(user, None).await;
    stream.next_named("snapshot", WAIT).await;
    let before = b.notify(user, "before the move").await;
    assert_eq!(
        stream.next_named("notification", WAIT).await.id.as_deref(),
        Some(before.as_str())
    );

    let slot = blocking(|| cluster.slot_of(&format!("belfry:{{{user}}}:inbox")));
    let from = blocking(|| cluster.primary_of_slot(slot)).port;
    let to = blocking(|| {
        cluster
            .topology()
            .into_iter()
            .find(|node| node.primary && node.port != from)
            .expect("another primary")
            .port
    });
    blocking(|| cluster.move_slot(slot, to));
    assert_eq!(blocking(|| cluster.primary_of_slot(slot)).port, to);

    // Commands follow MOVED; the subscription follows the slot.
    let after = b.notify(user, "after the move").await;
    assert_eq!(
        stream.next_named("notification", WAIT).await.id.as_deref(),
        Some(after.as_str())
    );
    let mut resumed = b.inbox_stream(user, Some(&before)).await;
    assert_eq!(
        resumed.next_named("notification", WAIT).await.id.as_deref(),
        Some(after.as_str()),
        "history moved with the slot"
    );
}

/// Publishes to `user` through `app` every few milliseconds until `stop`,
/// recording the ids answered 201.
fn keep_publishing(
    app: Arc<TestApp>,
    user: &'static str,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> (Arc<Mutex<Vec<String>>>, tokio::task::JoinHandle<usize>) {
    let accepted = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&accepted);
    let task = tokio::spawn(async move {
        let mut refused = 0;
        let mut n = 0;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            n += 1;
            let response = app
                .publish(json!({ "to": user, "kind": "info", "title": format!("n{n}") }))
                .await;
            if response.status() == 201 {
                let body: serde_json::Value = response.json().await.unwrap();
                let id = body["ids"][0].as_str().unwrap().to_owned();
                record.lock().unwrap().push(id);
            } else {
                refused += 1;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        refused
    });
    (accepted, task)
}

/// Every notification id `user`'s inbox holds, read page by page.
async fn held_ids(app: &TestApp, user: &str) -> HashSet<String> {
    let name = belfry::account::model::UserName::parse(user).unwrap();
    let mut held = HashSet::new();
    let mut before: Option<String> = None;
    loop {
        let page = match &before {
            None => {
                let snapshot = app.state.inbox.snapshot(&name).await.unwrap();
                belfry::inbox::model::InboxPage {
                    notifications: snapshot.notifications,
                    has_more: snapshot.has_more,
                }
            }
            Some(before) => app.state.inbox.older(&name, before).await.unwrap(),
        };
        held.extend(page.notifications.iter().map(|n| n.id.clone()));
        if !page.has_more {
            break;
        }
        before = page.notifications.last().map(|n| n.id.clone());
    }
    held
}

/// Kills the primary serving `user` while B publishes to them without
/// pause, and A streams to them. Returns (accepted, lost, refused): lost is
/// what was answered 201 yet is in no replica's copy after the failover.
async fn failover_under_load(wait_replicas: u64, user: &'static str) -> (usize, usize, usize) {
    let Some(mut cluster) = blocking(RedisCluster::start) else {
        return (0, 0, 0);
    };
    let a = app_on(&cluster, wait_replicas).await;
    let b = Arc::new(app_on(&cluster, wait_replicas).await);
    let mut stream = a.inbox_stream(user, None).await;
    stream.next_named("snapshot", WAIT).await;

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (accepted, publisher) = keep_publishing(Arc::clone(&b), user, Arc::clone(&stop));
    tokio::time::sleep(Duration::from_millis(500)).await;
    blocking(|| cluster.fail_primary_of_user(user));
    // Publishing goes on against the promoted replica.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let refused = publisher.await.unwrap();
    let accepted: Vec<String> = accepted.lock().unwrap().clone();
    assert!(
        accepted.len() > 20,
        "publishing went on: {}",
        accepted.len()
    );

    // What survived is what the new primary holds.
    let held = held_ids(&a, user).await;
    let lost = accepted.iter().filter(|id| !held.contains(*id)).count();

    // The stream lived through it: everything accepted after the failover
    // arrives, each once, in order.
    let last = accepted.last().unwrap().clone();
    let mut seen = Vec::new();
    loop {
        let event = stream.next_named("notification", WAIT).await;
        let id = event.id.unwrap();
        seen.push(id.clone());
        if id == last {
            break;
        }
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "nothing delivered twice");
    let mut sorted = seen.clone();
    sorted.sort_by_key(|id| belfry::wire::EventId::from_text(id));
    assert_eq!(sorted, seen, "delivered in order");
    eprintln!(
        "failover with WAIT {wait_replicas}: {} publishes accepted, {refused} refused (503: the slot had no primary or, with WAIT, the promoted one no replica), {lost} accepted but lost",
        accepted.len()
    );
    (accepted.len(), lost, refused)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_failing_over_keeps_streams_live_and_reports_what_was_lost() {
    failover_under_load(0, "failover-user").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_for_a_replica_loses_nothing_accepted_when_a_primary_fails() {
    let (accepted, lost, _) = failover_under_load(1, "durable-user").await;
    if accepted > 0 {
        assert_eq!(
            lost, 0,
            "with WAIT 1 an accepted publish survives the failover"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_no_replica_acknowledges_in_time_is_answered_503() {
    let Some(cluster) = blocking(RedisCluster::start) else {
        return;
    };
    let app = app_on(&cluster, 1).await;
    let user = "paused-replica-user";
    assert_eq!(
        app.publish(json!({ "to": user, "kind": "info", "title": "replicated" }))
            .await
            .status(),
        201
    );

    // Freeze the replica of the user's primary: the write lands, the
    // acknowledgement never comes.
    let primary = blocking(|| cluster.primary_of_user(user));
    let replica = blocking(|| cluster.replica_of(primary.port));
    cluster.node(replica).pause();
    let response = app
        .publish(json!({ "to": user, "kind": "info", "title": "unreplicated" }))
        .await;
    cluster.node(replica).resume();
    assert_eq!(response.status(), 503);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("no replica acknowledged"),
        "{body}"
    );
    assert!(app
        .metrics_text()
        .await
        .contains(r#"belfry_engine_publishes_total{outcome="unreplicated"} 1"#));
}

/// The titles in `user`'s inbox snapshot, newest first.
async fn inbox_titles(app: &TestApp, user: &str) -> Vec<String> {
    let name = belfry::account::model::UserName::parse(user).unwrap();
    let inbox = app.state.inbox.snapshot(&name).await.unwrap();
    inbox.notifications.into_iter().map(|n| n.title).collect()
}

/// Publishes `title` to `user` with an `Idempotency-Key`.
async fn publish_keyed(app: &TestApp, user: &str, title: &str) -> reqwest::Response {
    app.publish_with_key(
        &format!("key-{title}"),
        &json!({ "to": user, "kind": "info", "title": title }),
    )
    .await
}

/// The window asynchronous replication leaves, made deterministic: the
/// replica of `user`'s primary is frozen and its link cut (`CLIENT KILL
/// TYPE replica`), so what the primary accepts next reaches no replica; the
/// primary is then killed and the frozen replica, thawed, takes over
/// without those writes. Returns the answers to the five publishes made in
/// the window, the app, the cluster (failed over) and the killed primary's
/// port.
async fn publish_into_the_replication_gap(
    wait_replicas: u64,
    user: &str,
) -> Option<(Vec<reqwest::StatusCode>, TestApp, RedisCluster, u16)> {
    let mut cluster = blocking(RedisCluster::start)?;
    let mut config = test_config();
    config.redis_url = Some(cluster.url());
    config.redis_cluster = true;
    config.redis_wait_replicas = wait_replicas;
    config.redis_wait_timeout_ms = 300;
    let app = spawn_app_with(config).await;
    assert_eq!(publish_keyed(&app, user, "before").await.status(), 201);

    let slot = blocking(|| cluster.slot_of(&format!("belfry:{{{user}}}:inbox")));
    let primary = blocking(|| cluster.primary_of_slot(slot)).port;
    let replica = blocking(|| cluster.replica_of(primary));
    // Freeze the replica first, so it cannot reconnect and catch up.
    cluster.node(replica).pause();
    let killed = cluster
        .node(primary)
        .command(&["CLIENT", "KILL", "TYPE", "replica"])
        .unwrap_or_default();
    assert!(
        killed.trim().trim_start_matches(':') == "1",
        "cut one replica link: {killed}"
    );
    let mut answers = Vec::new();
    for n in 0..5 {
        answers.push(
            publish_keyed(&app, user, &format!("gap-{n}"))
                .await
                .status(),
        );
    }
    cluster.node_mut(primary).kill();
    cluster.node(replica).resume();
    blocking(|| cluster.wait_until_failed_over(slot, primary));
    Some((answers, app, cluster, primary))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_wait_a_write_acknowledged_before_it_reached_a_replica_is_lost_in_failover() {
    let user = "gap-user";
    let Some((answers, app, _cluster, _)) = publish_into_the_replication_gap(0, user).await else {
        return;
    };
    assert!(
        answers.iter().all(|status| *status == 201),
        "the primary alone accepts: {answers:?}"
    );
    let held = held_ids(&app, user).await;
    let titles = inbox_titles(&app, user).await;
    eprintln!(
        "replication gap with WAIT 0: 5 publishes answered 201, the promoted replica holds {titles:?}: 5 acknowledged and lost"
    );
    assert_eq!(
        titles,
        ["before"],
        "the promoted replica has only what was replicated"
    );
    assert_eq!(held.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_wait_1_nothing_in_the_replication_gap_is_acknowledged_and_a_retry_stores_it_once() {
    let user = "gap-durable-user";
    let Some((answers, app, mut cluster, primary)) =
        publish_into_the_replication_gap(1, user).await
    else {
        return;
    };
    assert!(
        answers.iter().all(|status| *status == 503),
        "no replica acknowledged, so nothing is acknowledged: {answers:?}"
    );
    // The promoted replica has no replica of its own, so `WAIT 1` refuses
    // every publish until one is back: the failed node, restarted, rejoins
    // as the new primary's replica.
    assert_eq!(
        publish_keyed(&app, user, "gap-0").await.status(),
        503,
        "a primary without a replica acknowledges nothing"
    );
    blocking(|| {
        cluster.node_mut(primary).restart();
        cluster.wait_until_healthy();
    });
    // The publisher retries with the same keys, as the 503 tells it to.
    for n in 0..5 {
        let title = format!("gap-{n}");
        let mut status = publish_keyed(&app, user, &title).await.status();
        for _ in 0..50 {
            if status == 201 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            status = publish_keyed(&app, user, &title).await.status();
        }
        assert_eq!(
            status, 201,
            "the retry of {title} is accepted by the new primary"
        );
    }
    let mut titles = inbox_titles(&app, user).await;
    titles.sort_unstable();
    eprintln!(
        "replication gap with WAIT 1: 5 publishes answered 503, retried after the failover: the inbox holds {titles:?}"
    );
    assert_eq!(
        titles,
        ["before", "gap-0", "gap-1", "gap-2", "gap-3", "gap-4"],
        "every retried publish is held exactly once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_and_their_followers_are_kept_across_shards_by_either_instance() {
    let Some(cluster) = blocking(RedisCluster::start) else {
        return;
    };
    let a = app_on(&cluster, 0).await;
    let b = app_on(&cluster, 0).await;
    let users = blocking(|| cluster.users_on_every_shard("topic-user-"));
    let call = |app: &TestApp, method: reqwest::Method, path: String, body| {
        let request = app
            .client
            .request(method, app.url(&path))
            .bearer_auth(crate::helpers::PUBLISH_KEY)
            .json(&body);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (
                status,
                response
                    .json::<serde_json::Value>()
                    .await
                    .unwrap_or_default(),
            )
        }
    };
    let put = reqwest::Method::PUT;
    let post = reqwest::Method::POST;
    let get = reqwest::Method::GET;
    let (status, _) = call(
        &a,
        put,
        "/api/topics/deploys".into(),
        json!({"name": "Deploys"}),
    )
    .await;
    assert_eq!(status, 201);
    // Followers in every shard, added through the other instance.
    let (status, body) = call(
        &b,
        post.clone(),
        "/api/topics/deploys/followers".into(),
        json!({ "users": users }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["added"].as_array().unwrap().len(), 3);
    let (_, body) = call(
        &a,
        post,
        "/api/topics/deploys/followers".into(),
        json!({ "users": users }),
    )
    .await;
    assert_eq!(body["already"].as_array().unwrap().len(), 3, "{body}");
    let (_, body) = call(
        &a,
        get.clone(),
        "/api/topics/deploys/followers".into(),
        json!(null),
    )
    .await;
    let mut listed: Vec<String> = serde_json::from_value(body["users"].clone()).unwrap();
    listed.sort();
    let mut expected = users.clone();
    expected.sort();
    assert_eq!(listed, expected);
    for user in &users {
        let (_, body) = call(
            &b,
            get.clone(),
            format!("/api/users/{user}/topics"),
            json!(null),
        )
        .await;
        assert_eq!(body["topics"][0]["key"], "deploys", "{user}: {body}");
    }
}
