//! Redis engine load: connections per instance and publish throughput.
//!
//! Starts a private `redis-server` and the release server binary
//! (`target/release/belfry`, built by `cargo leptos build --release`) with
//! `REDIS_URL`, opens `--streams` SSE streams, reports how many connections
//! Redis sees (`CLIENT LIST`), then measures `POST /api/notifications`
//! requests per second over `--runs` runs and prints the median.
//!
//! Run: `benches/run.sh redis_load [--streams 2000] [--runs 3] [--seconds 5] [--concurrency 32] [--path /api/sse/inbox]`

#[path = "../tests/support/redis_server.rs"]
mod redis_server;
mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use belfry::account::model::UserName;
use belfry::server::auth::token::SessionKeys;
use clap::Parser;
use futures::StreamExt;
use redis_server::{free_port, RedisServer};
use support::{rss_kib, spawn_belfry, wait_ready, PUBLISH_KEY, SECRET};

#[derive(Parser)]
struct Options {
    /// The SSE endpoint the streams open.
    #[arg(long, default_value = "/api/sse/inbox")]
    path: String,
    /// Streams to open.
    #[arg(long, default_value_t = 2000)]
    streams: usize,
    /// Publishing runs (0: only open the streams and measure memory).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Seconds of publishing per run.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Requests in flight at once while opening streams and publishing.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

#[tokio::main]
async fn main() {
    let options = Options::parse();
    let redis = RedisServer::start();
    let port = free_port();
    let server = spawn_belfry(port, Some(&redis.url()), &[]);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(options.concurrency)
        .build()
        .expect("an HTTP client");
    wait_ready(&client, &base, "/readyz").await;
    let pid = server.pid();
    let rss_before = rss_kib(pid);

    // Open the streams: 4 tabs per user.
    let keys = SessionKeys::new(SECRET.as_bytes(), Duration::from_secs(3600));
    let users = options.streams.div_ceil(4).max(1);
    let delivered = Arc::new(AtomicU64::new(0));
    let mut readers = Vec::new();
    let opened = Instant::now();
    for i in 0..options.streams {
        let user = UserName::parse(&format!("u{}", i % users)).expect("a user name");
        let stream_client = reqwest::Client::new();
        let response = stream_client
            .get(format!("{base}{}", options.path))
            .header("cookie", format!("belfry_session={}", keys.mint(&user)))
            .send()
            .await
            .expect("a stream opens");
        assert_eq!(response.status(), 200);
        let delivered = Arc::clone(&delivered);
        readers.push(tokio::spawn(async move {
            let mut body = response.bytes_stream();
            while let Some(Ok(chunk)) = body.next().await {
                let frames = chunk.windows(6).filter(|w| w == b"event:").count();
                delivered.fetch_add(frames as u64, Ordering::Relaxed);
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_open = rss_kib(pid);
    let clients = redis.client_count();
    println!(
        "streams open: {} ({} users) in {:.1} s",
        options.streams,
        users,
        opened.elapsed().as_secs_f64()
    );
    println!("Redis connections from the instance (CLIENT LIST): {clients}");
    println!(
        "server RSS: {} KiB before, {} KiB with the streams open ({:.2} KiB per stream)",
        rss_before,
        rss_open,
        (rss_open.saturating_sub(rss_before)) as f64 / options.streams as f64
    );

    let mut rates = Vec::new();
    for run in 1..=options.runs {
        let accepted = Arc::new(AtomicU64::new(0));
        let refused = Arc::new(AtomicU64::new(0));
        let deadline = Instant::now() + Duration::from_secs(options.seconds);
        let started = Instant::now();
        let mut workers = Vec::new();
        for w in 0..options.concurrency {
            let (client, accepted, refused) =
                (client.clone(), Arc::clone(&accepted), Arc::clone(&refused));
            let url = format!("{base}/api/notifications");
            workers.push(tokio::spawn(async move {
                let mut n = w;
                while Instant::now() < deadline {
                    let body = serde_json::json!({
                        "to": format!("u{}", n % users),
                        "kind": "info",
                        "title": format!("bench {n}"),
                    });
                    let status = client
                        .post(&url)
                        .bearer_auth(PUBLISH_KEY)
                        .json(&body)
                        .send()
                        .await
                        .map(|r| r.status().as_u16());
                    if matches!(status, Ok(201)) {
                        accepted.fetch_add(1, Ordering::Relaxed);
                    } else {
                        refused.fetch_add(1, Ordering::Relaxed);
                    }
                    n += 7919;
                }
            }));
        }
        for worker in workers {
            let _ = worker.await;
        }
        let rate = accepted.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
        println!(
            "run {run}: {:.0} requests/s accepted (201), {} not accepted, {} concurrent publishers, {} s",
            rate,
            refused.load(Ordering::Relaxed),
            options.concurrency,
            options.seconds
        );
        rates.push(rate);
    }
    rates.sort_by(f64::total_cmp);
    if let Some(median) = rates.get(rates.len() / 2) {
        println!(
            "POST /api/notifications on Redis: median {median:.0} requests/s over {} runs",
            rates.len()
        );
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    println!(
        "events delivered to the open streams meanwhile: {}",
        delivered.load(Ordering::Relaxed)
    );
    for reader in readers {
        reader.abort();
    }
    drop(server);
}
