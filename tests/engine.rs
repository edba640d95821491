//! The engine contract, written once and run against every engine.
//!
//! Each test in `suite` takes a factory that builds a fresh engine with a
//! given history cap and live buffer; the `engines` template runs it once
//! per engine: in-process, one Redis, and a Redis Cluster (3 primaries
//! with a replica each, sharded Pub/Sub), so every guarantee in
//! `engine/mod.rs` is checked on all three. The Redis engines get a private
//! `redis-server` (or cluster) per test; `redis_only` holds what only a
//! networked engine can be asked.

#[path = "support/eventually.rs"]
mod eventually;
#[path = "support/redis_cluster.rs"]
mod redis_cluster;
#[path = "support/redis_server.rs"]
mod redis_server;

use std::sync::Arc;
use std::time::Duration;

use belfry::engine::live::{follow, Delivery, Start};
use belfry::engine::memory::{MemoryConfig, MemoryEngine};
use belfry::engine::redis::{RedisConfig, RedisEngine};
use belfry::engine::{DedupeToken, EngineError, EventId, History, PublishOptions, SharedEngine};
use bytes::Bytes;
use redis_server::RedisServer;
use rstest::rstest;
use rstest_reuse::{apply, template};

/// A fresh engine and whatever must live as long as it (its Redis server).
pub struct Fixture {
    pub engine: SharedEngine,
    _redis: Option<RedisServer>,
    _cluster: Option<redis_cluster::RedisCluster>,
}

/// Builds a fresh engine: (history cap, live buffer) → engine.
pub type Factory = fn(usize, usize) -> Fixture;

fn memory_engine(history_cap: usize, live_buffer: usize) -> Fixture {
    Fixture {
        engine: Arc::new(MemoryEngine::new(MemoryConfig {
            history_cap,
            live_buffer,
            ..MemoryConfig::default()
        })),
        _redis: None,
        _cluster: None,
    }
}

fn redis_engine(history_cap: usize, live_buffer: usize) -> Fixture {
    let server = RedisServer::start();
    let engine = RedisEngine::connect(&RedisConfig {
        url: server.url(),
        history_cap,
        live_buffer,
        ..RedisConfig::default()
    })
    .expect("a Redis engine");
    Fixture {
        engine: Arc::new(engine),
        _redis: Some(server),
        _cluster: None,
    }
}

fn cluster_engine(history_cap: usize, live_buffer: usize) -> Fixture {
    let Some(cluster) = redis_cluster::RedisCluster::start() else {
        // Below Redis 7 (no sharded Pub/Sub): the one-Redis case stands in.
        return redis_engine(history_cap, live_buffer);
    };
    let engine = RedisEngine::connect(&RedisConfig {
        url: cluster.url(),
        cluster: true,
        history_cap,
        live_buffer,
        ..RedisConfig::default()
    })
    .expect("a Redis Cluster engine");
    Fixture {
        engine: Arc::new(engine),
        _redis: None,
        _cluster: Some(cluster),
    }
}

/// Every test of `suite` runs once per engine: `suite::<test>::case_1_memory`,
/// `suite::<test>::case_2_redis` and `suite::<test>::case_3_cluster`. A test
/// names the template once, so none can be left out of an engine.
#[template]
#[rstest]
#[case::memory(memory_engine as Factory)]
#[case::redis(redis_engine as Factory)]
#[case::cluster(cluster_engine as Factory)]
fn engines(#[case] make: Factory) {}

mod suite {
    use super::*;

    fn payload(n: usize) -> Bytes {
        Bytes::from(format!("{{\"n\":{n}}}"))
    }

    async fn publish_n(engine: &SharedEngine, channel: &str, n: usize) -> Vec<EventId> {
        let mut ids = Vec::new();
        for i in 0..n {
            ids.push(engine.publish(channel, "e", payload(i)).await.unwrap().id);
        }
        ids
    }

    async fn next_event(deliveries: &mut belfry::engine::live::Deliveries) -> Delivery {
        tokio::time::timeout(Duration::from_secs(5), deliveries.next())
            .await
            .expect("a delivery in time")
            .expect("the feed is open")
    }

    fn ids_of(delivered: &[Delivery]) -> Vec<EventId> {
        delivered
            .iter()
            .map(|d| match d {
                Delivery::Event(e) => e.id,
                Delivery::Reset => panic!("unexpected reset"),
            })
            .collect()
    }

    #[apply(engines)]
    #[tokio::test]
    async fn ids_strictly_increase_and_subscribers_see_publish_order(#[case] make: Factory) {
        let fixture = make(100, 64);
        let engine = &fixture.engine;
        let mut subscription = engine.subscribe("orders").await.unwrap();
        let ids = publish_n(engine, "orders", 20).await;
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase: {ids:?}");
        for (i, id) in ids.iter().enumerate() {
            let event = subscription.recv().await.unwrap();
            assert_eq!(event.id, *id);
            assert_eq!(event.data, payload(i));
            assert_eq!(event.name, "e");
        }
    }

    #[apply(engines)]
    #[tokio::test]
    async fn history_after_returns_exactly_the_later_events(#[case] make: Factory) {
        let fixture = make(100, 64);
        let engine = &fixture.engine;
        let ids = publish_n(engine, "h", 10).await;
        match engine.history_after("h", ids[3]).await.unwrap() {
            History::Events(events) => {
                assert_eq!(events.iter().map(|e| e.id).collect::<Vec<_>>(), ids[4..]);
            }
            History::Gone => panic!("a retained id must replay"),
        }
        match engine.history_after("h", ids[9]).await.unwrap() {
            History::Events(events) => assert!(events.is_empty()),
            History::Gone => panic!("the newest id replays nothing"),
        }
        let latest = engine.latest("h", 3).await.unwrap();
        assert_eq!(latest.iter().map(|e| e.id).collect::<Vec<_>>(), ids[7..]);
    }

    #[apply(engines)]
    #[tokio::test]
    async fn unknown_or_evicted_ids_are_reported_gone(#[case] make: Factory) {
        let fixture = make(5, 64);
        let engine = &fixture.engine;
        let ids = publish_n(engine, "g", 12).await;
        assert!(matches!(
            engine.history_after("g", ids[0]).await.unwrap(),
            History::Gone
        ));
        let bogus = EventId::new(1, 0);
        assert!(matches!(
            engine.history_after("g", bogus).await.unwrap(),
            History::Gone
        ));
        assert!(matches!(
            engine.history_after("never-used", ids[0]).await.unwrap(),
            History::Gone
        ));
        assert_eq!(
            engine.latest("g", 100).await.unwrap().len(),
            5,
            "history is capped"
        );
    }

    #[apply(engines)]
    #[tokio::test]
    async fn replay_from_zero_is_everything_until_history_is_trimmed(#[case] make: Factory) {
        let fixture = make(5, 64);
        let engine = &fixture.engine;
        match engine.history_after("z", EventId::ZERO).await.unwrap() {
            History::Events(events) => assert!(events.is_empty()),
            History::Gone => panic!("an unused channel has nothing missing"),
        }
        let ids = publish_n(engine, "z", 5).await;
        match engine.history_after("z", EventId::ZERO).await.unwrap() {
            History::Events(events) => {
                assert_eq!(events.iter().map(|e| e.id).collect::<Vec<_>>(), ids);
            }
            History::Gone => panic!("nothing was evicted yet"),
        }
        publish_n(engine, "z", 1).await;
        assert!(matches!(
            engine.history_after("z", EventId::ZERO).await.unwrap(),
            History::Gone
        ));
    }

    #[apply(engines)]
    #[tokio::test]
    async fn channels_are_isolated(#[case] make: Factory) {
        let fixture = make(100, 64);
        let engine = &fixture.engine;
        let mut alice = engine.subscribe("alice").await.unwrap();
        engine.publish("bob", "e", payload(1)).await.unwrap();
        let to_alice = engine.publish("alice", "e", payload(2)).await.unwrap();
        assert_eq!(alice.recv().await.unwrap().id, to_alice.id);
        assert_eq!(engine.latest("alice", 10).await.unwrap().len(), 1);
    }

    #[apply(engines)]
    #[tokio::test]
    async fn a_follower_resumes_with_exactly_the_missed_events_then_live(#[case] make: Factory) {
        let fixture = make(100, 64);
        let engine = &fixture.engine;
        let ids = publish_n(engine, "f", 5).await;
        let (start, mut deliveries) = follow(Arc::clone(engine), "f", Some(ids[1]), 20)
            .await
            .unwrap();
        match start {
            Start::Replay(events) => {
                assert_eq!(events.iter().map(|e| e.id).collect::<Vec<_>>(), ids[2..]);
            }
            Start::Snapshot(_) => panic!("a known id must replay"),
        }
        let live = engine.publish("f", "e", payload(99)).await.unwrap();
        let delivered = vec![next_event(&mut deliveries).await];
        assert_eq!(
            ids_of(&delivered),
            [live.id],
            "live follows replay with nothing repeated"
        );
    }

    #[apply(engines)]
    #[tokio::test]
    async fn a_follower_without_a_usable_id_gets_a_snapshot(#[case] make: Factory) {
        let fixture = make(100, 64);
        let engine = &fixture.engine;
        let ids = publish_n(engine, "s", 30).await;
        let (start, _) = follow(Arc::clone(engine), "s", Some(EventId::new(1, 0)), 20)
            .await
            .unwrap();
        match start {
            Start::Snapshot(events) => {
                assert_eq!(events.iter().map(|e| e.id).collect::<Vec<_>>(), ids[10..]);
            }
            Start::Replay(_) => panic!("an unknown id must not replay"),
        }
        let (start, _) = follow(Arc::clone(engine), "s", None, 20).await.unwrap();
        assert!(matches!(start, Start::Snapshot(events) if events.len() == 20));
    }

    #[apply(engines)]
    #[tokio::test]
    async fn a_slow_subscriber_is_resynced_from_history_in_order(#[case] make: Factory) {
        // The live buffer holds 4 events; the follower reads none while 40
        // are published, so it lags and must catch up from history.
        let fixture = make(100, 4);
        let engine = &fixture.engine;
        let (_, mut deliveries) = follow(Arc::clone(engine), "slow", None, 0).await.unwrap();
        let ids = publish_n(engine, "slow", 40).await;
        let mut delivered = Vec::new();
        for _ in 0..40 {
            delivered.push(next_event(&mut deliveries).await);
        }
        assert_eq!(ids_of(&delivered), ids, "every event, in order, once");
    }

    #[apply(engines)]
    #[tokio::test]
    async fn a_subscriber_too_far_behind_gets_a_reset_not_a_gap(#[case] make: Factory) {
        let fixture = make(5, 4);
        let engine = &fixture.engine;
        let first = engine.publish("far", "e", payload(0)).await.unwrap();
        let (_, mut deliveries) = follow(Arc::clone(engine), "far", Some(first.id), 0)
            .await
            .unwrap();
        publish_n(engine, "far", 50).await;
        let mut delivered = Vec::new();
        loop {
            match next_event(&mut deliveries).await {
                Delivery::Reset => break,
                event => delivered.push(event),
            }
        }
        // Whatever arrived before the reset was contiguous from the start.
        let got = ids_of(&delivered);
        assert!(got.windows(2).all(|w| w[0] < w[1]));
        assert!(
            deliveries.next().await.is_none(),
            "the feed ends after a reset"
        );
    }

    #[apply(engines)]
    #[tokio::test]
    async fn sets_remember_members_once(#[case] make: Factory) {
        let fixture = make(10, 4);
        let engine = &fixture.engine;
        assert!(engine.members("users").await.unwrap().is_empty());
        for member in ["alice", "bob", "alice"] {
            engine.remember("users", member).await.unwrap();
        }
        let mut members = engine.members("users").await.unwrap();
        members.sort();
        assert_eq!(members, ["alice", "bob"]);
    }

    #[apply(engines)]
    #[tokio::test]
    async fn sets_add_and_remove_many_at_once_and_say_which_changed(#[case] make: Factory) {
        let fixture = make(10, 4);
        let engine = &fixture.engine;
        let names = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(engine.count("followers:deploys").await.unwrap(), 0);
        let added = engine
            .remember_each("followers:deploys", &names(&["alice", "bob"]))
            .await
            .unwrap();
        assert_eq!(added, [true, true]);
        let added = engine
            .remember_each("followers:deploys", &names(&["bob", "carol"]))
            .await
            .unwrap();
        assert_eq!(added, [false, true], "bob was there already");
        assert_eq!(engine.count("followers:deploys").await.unwrap(), 3);
        let mut members = engine.members("followers:deploys").await.unwrap();
        members.sort();
        assert_eq!(members, ["alice", "bob", "carol"]);
        let removed = engine
            .forget_each("followers:deploys", &names(&["alice", "dave"]))
            .await
            .unwrap();
        assert_eq!(removed, [true, false], "dave never was");
        assert_eq!(engine.count("followers:deploys").await.unwrap(), 2);
        assert!(engine
            .remember_each("followers:deploys", &[])
            .await
            .unwrap()
            .is_empty());
        engine.clear("followers:deploys").await.unwrap();
        assert_eq!(engine.count("followers:deploys").await.unwrap(), 0);
        assert!(engine
            .members("followers:deploys")
            .await
            .unwrap()
            .is_empty());
    }

    #[apply(engines)]
    #[tokio::test]
    async fn a_set_is_paged_through_with_each_member_listed(#[case] make: Factory) {
        let fixture = make(10, 4);
        let engine = &fixture.engine;
        let all: Vec<String> = (0..250).map(|n| format!("user{n:03}")).collect();
        engine.remember_each("followers:big", &all).await.unwrap();
        let mut seen = std::collections::BTreeSet::new();
        let mut cursor = String::new();
        let mut pages = 0;
        loop {
            let (page, next) = engine
                .members_page("followers:big", &cursor, 100)
                .await
                .unwrap();
            seen.extend(page);
            pages += 1;
            assert!(pages < 100, "paging ends");
            match next {
                Some(next) => cursor = next,
                None => break,
            }
        }
        assert_eq!(seen.into_iter().collect::<Vec<_>>(), all);
        let (empty, next) = engine.members_page("followers:none", "", 10).await.unwrap();
        assert!(empty.is_empty() && next.is_none());
    }

    #[apply(engines)]
    #[tokio::test]
    async fn expiring_after_zero_deletes_at_once_and_the_channel_can_start_again(
        #[case] make: Factory,
    ) {
        let fixture = make(10, 4);
        let engine = &fixture.engine;
        engine
            .publish("topic-def:x", "topic", payload(1))
            .await
            .unwrap();
        engine.expire("topic-def:x", Duration::ZERO).await.unwrap();
        assert!(engine.latest("topic-def:x", 1).await.unwrap().is_empty());
        engine
            .publish("topic-def:x", "topic", payload(2))
            .await
            .unwrap();
        let latest = engine.latest("topic-def:x", 10).await.unwrap();
        assert_eq!(latest.len(), 1);
        assert_eq!(latest[0].data, payload(2));
    }

    #[apply(engines)]
    #[tokio::test]
    async fn a_conditional_publish_stores_only_on_the_expected_newest_event(#[case] make: Factory) {
        let fixture = make(100, 64);
        let engine = &fixture.engine;
        let expect = |id| PublishOptions {
            expect_last: Some(id),
            ..PublishOptions::default()
        };
        let first = engine
            .publish_with("cas", "e", payload(1), expect(EventId::ZERO))
            .await
            .expect("an empty channel accepts ZERO");
        let stale = engine
            .publish_with("cas", "e", payload(2), expect(EventId::ZERO))
            .await;
        assert!(matches!(stale, Err(EngineError::Conflict)), "{stale:?}");
        let second = engine
            .publish_with("cas", "e", payload(3), expect(first.id))
            .await
            .expect("the newest id accepts");
        let stored = engine.latest("cas", 10).await.unwrap();
        assert_eq!(
            stored.iter().map(|e| e.id).collect::<Vec<_>>(),
            [first.id, second.id],
            "nothing stored on conflict"
        );
    }

    #[apply(engines)]
    #[tokio::test]
    async fn a_channel_cap_keeps_exactly_the_latest_events(#[case] make: Factory) {
        let fixture = make(100, 64);
        let engine = &fixture.engine;
        let capped = PublishOptions {
            cap: Some(3),
            ..PublishOptions::default()
        };
        let mut ids = Vec::new();
        for i in 0..10 {
            ids.push(
                engine
                    .publish_with("feed", "e", payload(i), capped)
                    .await
                    .unwrap()
                    .id,
            );
        }
        let latest = engine.latest("feed", 100).await.unwrap();
        assert_eq!(latest.iter().map(|e| e.id).collect::<Vec<_>>(), ids[7..]);
    }

    #[apply(engines)]
    #[tokio::test]
    async fn an_expired_channel_is_gone_and_a_forgotten_member_too(#[case] make: Factory) {
        let fixture = make(100, 64);
        let engine = &fixture.engine;
        let event = engine.publish("short", "e", payload(1)).await.unwrap();
        engine.publish("long", "e", payload(2)).await.unwrap();
        engine
            .expire("short", Duration::from_millis(100))
            .await
            .unwrap();
        assert_eq!(
            engine.latest("short", 10).await.unwrap().len(),
            1,
            "kept until then"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(engine.latest("short", 10).await.unwrap().is_empty());
        assert!(matches!(
            engine.history_after("short", event.id).await.unwrap(),
            History::Gone
        ));
        assert_eq!(engine.latest("long", 10).await.unwrap().len(), 1);

        engine.remember("tasks", "a").await.unwrap();
        engine.remember("tasks", "b").await.unwrap();
        engine.forget("tasks", "a").await.unwrap();
        engine.forget("tasks", "never").await.unwrap();
        assert_eq!(engine.members("tasks").await.unwrap(), ["b"]);
    }

    #[apply(engines)]
    #[tokio::test]
    async fn a_dedupe_token_stores_once_per_channel_and_returns_the_first_id(
        #[case] make: Factory,
    ) {
        let fixture = make(100, 64);
        let engine = &fixture.engine;
        let token = DedupeToken([7; 16]);
        let once = PublishOptions {
            dedupe: Some(token),
            ..PublishOptions::default()
        };
        let mut watcher = engine.subscribe("inbox:alice").await.unwrap();
        let first = engine
            .publish_with("inbox:alice", "e", payload(1), once)
            .await
            .unwrap();
        let again = engine
            .publish_with("inbox:alice", "e", payload(1), once)
            .await
            .unwrap();
        assert_eq!(again.id, first.id, "the retry returns the first id");
        assert_eq!(engine.latest("inbox:alice", 10).await.unwrap().len(), 1);
        assert_eq!(watcher.recv().await.unwrap().id, first.id);
        let other = engine
            .publish_with("inbox:bob", "e", payload(1), once)
            .await
            .unwrap();
        assert_eq!(
            engine.latest("inbox:bob", 10).await.unwrap().len(),
            1,
            "per channel"
        );
        // A retried conditional publish that had succeeded is no conflict.
        let conditional = PublishOptions {
            expect_last: Some(EventId::ZERO),
            ..once
        };
        assert_eq!(
            engine
                .publish_with("inbox:bob", "e", payload(1), conditional)
                .await
                .unwrap()
                .id,
            other.id
        );
        engine
            .publish("inbox:alice", "e", payload(2))
            .await
            .unwrap();
        assert_eq!(
            engine.latest("inbox:alice", 10).await.unwrap().len(),
            2,
            "no token, no dedupe"
        );
        let announced = tokio::time::timeout(Duration::from_millis(300), watcher.recv()).await;
        assert_eq!(
            announced.unwrap().unwrap().data,
            payload(2),
            "the retry was never announced: the next live event is the new one"
        );
    }

    #[apply(engines)]
    #[tokio::test]
    async fn publishing_never_waits_for_a_subscriber_that_does_not_read(#[case] make: Factory) {
        let fixture = make(1000, 4);
        let engine = &fixture.engine;
        let _idle = engine.subscribe("busy").await.unwrap();
        let mut watcher = engine.subscribe("busy").await.unwrap();
        let published =
            tokio::time::timeout(Duration::from_secs(5), publish_n(engine, "busy", 500)).await;
        assert!(
            published.is_ok(),
            "500 publishes finished although one subscriber never read"
        );
        // Another subscriber is unaffected: it lags on its own terms only.
        assert!(
            watcher.recv().await.is_err(),
            "the watcher also lagged, and is told so"
        );
    }
}

/// What only the Redis engine can be asked: connections, outages, and the
/// contract with other writers of the same Redis.
mod redis_only {
    use super::*;
    use belfry::engine::Engine;

    use crate::eventually::eventually;

    fn engine_on(server: &RedisServer) -> Arc<RedisEngine> {
        Arc::new(
            RedisEngine::connect(&RedisConfig {
                url: server.url(),
                history_cap: 100,
                live_buffer: 64,
                ..RedisConfig::default()
            })
            .expect("a Redis engine"),
        )
    }

    /// The next delivery, which must be an event; reconnects take a few
    /// seconds, hence the longer wait than the shared suite's.
    async fn next_live_event(
        deliveries: &mut belfry::engine::live::Deliveries,
    ) -> Arc<belfry::engine::Event> {
        match tokio::time::timeout(Duration::from_secs(10), deliveries.next()).await {
            Ok(Some(Delivery::Event(event))) => event,
            other => panic!("expected an event, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn many_local_subscribers_share_one_subscriber_connection() {
        let server = RedisServer::start();
        let engine = engine_on(&server);
        let mut subscriptions = Vec::new();
        for i in 0..600 {
            subscriptions.push(
                engine
                    .subscribe(&format!("inbox:user{}", i % 150))
                    .await
                    .unwrap(),
            );
        }
        // One subscriber connection plus one command connection.
        engine
            .publish("inbox:user0", "e", Bytes::from_static(b"1"))
            .await
            .unwrap();
        assert_eq!(server.client_count(), 2, "connections from one instance");
        assert_eq!(engine.subscribed_channels(), 150);
        let numsub = server
            .command(&["PUBSUB", "NUMSUB", "belfry:{user7}:inbox"])
            .unwrap();
        assert!(
            numsub.ends_with(":1\r\n"),
            "one Redis subscription per channel: {numsub:?}"
        );
        subscriptions.clear();
        let left = eventually(Duration::from_secs(5), || {
            server
                .command(&["PUBSUB", "CHANNELS"])
                .is_some_and(|reply| reply.starts_with("*0"))
        })
        .await;
        assert!(left, "the last local subscriber left every channel");
    }

    #[tokio::test]
    async fn events_published_while_the_feed_was_down_are_filled_from_the_stream() {
        let server = RedisServer::start();
        let engine: SharedEngine = engine_on(&server);
        let (_, mut deliveries) = follow(Arc::clone(&engine), "inbox:alice", None, 0)
            .await
            .unwrap();
        let before = engine
            .publish("inbox:alice", "e", Bytes::from_static(b"1"))
            .await
            .unwrap();
        // Cut only the subscriber connection, then publish: Pub/Sub drops
        // this event, the stream keeps it.
        server
            .command(&["CLIENT", "KILL", "TYPE", "pubsub"])
            .unwrap();
        let missed = engine
            .publish("inbox:alice", "e", Bytes::from_static(b"2"))
            .await
            .unwrap();
        let mut got = Vec::new();
        for _ in 0..2 {
            got.push(next_live_event(&mut deliveries).await.id);
        }
        assert_eq!(got, [before.id, missed.id], "in order, once, nothing lost");
        let after = engine
            .publish("inbox:alice", "e", Bytes::from_static(b"3"))
            .await
            .unwrap();
        assert_eq!(next_live_event(&mut deliveries).await.id, after.id);
    }

    #[tokio::test]
    async fn an_outage_fails_calls_fast_and_the_engine_recovers_by_itself() {
        let mut server = RedisServer::start_durable();
        let engine: SharedEngine = engine_on(&server);
        let (_, mut deliveries) = follow(Arc::clone(&engine), "inbox:bob", None, 0)
            .await
            .unwrap();
        let first = engine
            .publish("inbox:bob", "e", Bytes::from_static(b"1"))
            .await
            .unwrap();
        assert!(engine.ready().await);
        server.kill();

        let started = std::time::Instant::now();
        let refused = engine
            .publish("inbox:bob", "e", Bytes::from_static(b"2"))
            .await;
        assert!(
            matches!(refused, Err(EngineError::Unavailable(_))),
            "{refused:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "failed fast: {:?}",
            started.elapsed()
        );
        assert!(!engine.ready().await, "not ready while Redis is down");
        assert!(matches!(
            engine.subscribe("inbox:carol").await,
            Err(EngineError::Unavailable(_))
        ));

        server.restart();
        let mut engine_ready = false;
        for _ in 0..200 {
            if engine.ready().await {
                engine_ready = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(engine_ready, "ready again after the restart, without help");
        let second = engine
            .publish("inbox:bob", "e", Bytes::from_static(b"3"))
            .await
            .unwrap();
        let mut got = Vec::new();
        for _ in 0..2 {
            got.push(next_live_event(&mut deliveries).await.id);
        }
        assert_eq!(got, [first.id, second.id]);
        assert!(
            second.id > first.id,
            "ids keep increasing across the restart"
        );
    }

    #[tokio::test]
    async fn an_unreadable_announcement_makes_followers_read_the_stream() {
        let server = RedisServer::start();
        let engine: SharedEngine = engine_on(&server);
        let (_, mut deliveries) = follow(Arc::clone(&engine), "inbox:zed", None, 0)
            .await
            .unwrap();
        // A faulty external writer: a good entry, a garbled announcement.
        let id = server
            .command(&[
                "XADD",
                "belfry:{zed}:inbox",
                "*",
                "event",
                "e",
                "data",
                "{\"ok\":1}",
            ])
            .unwrap();
        server
            .command(&["PUBLISH", "belfry:{zed}:inbox", "not an envelope"])
            .unwrap();
        let event = next_live_event(&mut deliveries).await;
        assert!(id.contains(&event.id.to_string()), "{id:?} vs {}", event.id);
        assert_eq!(&event.data[..], b"{\"ok\":1}");
    }

    #[tokio::test]
    async fn a_bad_url_is_refused_without_echoing_it() {
        let refused = RedisEngine::connect(&RedisConfig {
            url: "http://user:s3cret@example".into(),
            history_cap: 10,
            live_buffer: 4,
            ..RedisConfig::default()
        });
        match refused {
            Err(error) => assert!(!error.to_string().contains("s3cret"), "{error}"),
            Ok(_) => panic!("an http:// URL is not a Redis URL"),
        }
    }
}
