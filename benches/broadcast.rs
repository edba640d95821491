//! Broadcast cost on Redis: how long `"to": "*"` takes to store one
//! notification in each of `--users` inboxes, through Belfry's inbox service
//! (one pipelined round trip per thousand recipients), against publishing
//! to the same inboxes one round trip at a time. Starts its own
//! `redis-server` on a free port.
//!
//! Run: `benches/run.sh broadcast [--users 10000] [--runs 5]`

#[path = "../tests/support/redis_server.rs"]
mod redis_server;

use std::sync::Arc;
use std::time::{Duration, Instant};

use belfry::engine::redis::{RedisConfig, RedisEngine};
use belfry::engine::{PublishOptions, SharedEngine};
use belfry::inbox::model::{NotificationContent, NotificationKind};
use belfry::server::inbox::service::{channel, Inbox, Recipients, USERS_SET};
use bytes::Bytes;
use clap::Parser;
use redis_server::RedisServer;

/// Broadcast to every known user on Redis.
#[derive(Parser)]
struct Options {
    /// Known users (inboxes) to broadcast to.
    #[arg(long, default_value_t = 10_000)]
    users: usize,
    /// Timed runs of each way.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Accepted for `cargo bench` compatibility.
    #[arg(long, hide = true)]
    bench: bool,
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[tokio::main]
async fn main() {
    let options = Options::parse();
    let redis = RedisServer::start();
    let engine: SharedEngine = Arc::new(
        RedisEngine::connect(&RedisConfig {
            url: redis.url(),
            history_cap: 500,
            live_buffer: 1024,
            ..RedisConfig::default()
        })
        .expect("a Redis engine"),
    );
    let started = Instant::now();
    for n in 0..options.users {
        engine
            .remember(USERS_SET, &format!("user{n}"))
            .await
            .expect("register");
    }
    println!(
        "{} users registered in {:.1?}",
        options.users,
        started.elapsed()
    );
    let inbox = Inbox::new(Arc::clone(&engine));

    let mut batched = Vec::new();
    let mut one_by_one = Vec::new();
    for run in 0..options.runs {
        let content = NotificationContent {
            kind: NotificationKind::Info,
            title: format!("Broadcast {run}"),
            body: "Scheduled maintenance tonight at 22:00 UTC.".into(),
            link: None,
        };
        let started = Instant::now();
        let ids = inbox
            .publish(Recipients::Everyone, content)
            .await
            .expect("broadcast");
        batched.push(started.elapsed());
        assert_eq!(ids.len(), options.users);

        let data = Bytes::from_static(b"{\"kind\":\"info\",\"title\":\"one by one\",\"body\":\"\",\"created_at\":\"2026-11-30T00:00:00.000Z\"}");
        let started = Instant::now();
        for n in 0..options.users {
            let user = belfry::account::model::UserName::parse(&format!("user{n}")).expect("name");
            engine
                .publish_with(
                    &channel(&user),
                    "notification",
                    data.clone(),
                    PublishOptions::default(),
                )
                .await
                .expect("publish");
        }
        one_by_one.push(started.elapsed());
        println!(
            "run {run}: broadcast {:.1?}, one round trip per recipient {:.1?}",
            batched[run], one_by_one[run]
        );
    }
    let (batched, one_by_one) = (median(batched), median(one_by_one));
    println!(
        "broadcast to {} users on Redis: median {:.1?} (one round trip per recipient: {:.1?}, {:.1}x slower) over {} runs",
        options.users,
        batched,
        one_by_one,
        one_by_one.as_secs_f64() / batched.as_secs_f64(),
        options.runs
    );
}
