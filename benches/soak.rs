//! Soak: two release instances on one (durable) Redis, `--streams` SSE
//! clients, `--rate` publishes a second with `Idempotency-Key` (retried
//! until accepted), clients that drop and reconnect at random (to either
//! instance, resuming with `Last-Event-ID`), Redis restarted twice and one
//! instance restarted (SIGTERM, drain, start) during the run. Reports, per
//! client, accepted vs delivered, duplicates and the longest wait from an
//! accepted publish to its delivery. Not part of CI: it takes minutes.
//!
//! Run (after `cargo leptos build --release`):
//! `benches/run.sh soak [--streams 2000] [--users 200] [--rate 200] [--seconds 120]`

#[path = "../tests/support/redis_server.rs"]
mod redis_server;
mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use belfry::account::model::UserName;
use belfry::server::auth::token::SessionKeys;
use clap::Parser;
use futures::StreamExt;
use redis_server::{free_port, RedisServer};
use support::{spawn_belfry, Process, PUBLISH_KEY, SECRET};

/// A soak test over real HTTP against the release binary.
#[derive(Parser, Clone)]
struct Options {
    /// SSE clients in all.
    #[arg(long, default_value_t = 2000)]
    streams: usize,
    /// Distinct users (clients are spread evenly over them).
    #[arg(long, default_value_t = 200)]
    users: usize,
    /// Publishes a second, each to one random user.
    #[arg(long, default_value_t = 200)]
    rate: u64,
    /// How long the load runs.
    #[arg(long, default_value_t = 120)]
    seconds: u64,
    /// Accepted for `cargo bench` compatibility.
    #[arg(long, hide = true)]
    bench: bool,
}

/// One instance and its port.
struct Server {
    process: Process,
    port: u16,
}

fn spawn_server(port: u16, redis: &str) -> Server {
    let extra = [("BELFRY_LOG", "error"), ("BELFRY_DRAIN_SECS", "2")];
    let process = spawn_belfry(port, Some(redis), &extra);
    Server { process, port }
}

async fn wait_ready(client: &reqwest::Client, port: u16) {
    support::wait_ready(client, &format!("http://127.0.0.1:{port}"), "/readyz").await;
}

/// How long each Redis outage lasts.
const REDIS_DOWN: Duration = Duration::from_secs(2);

/// Kills Redis (SIGKILL), waits [`REDIS_DOWN`], starts it again.
async fn redis_outage(redis: &mut RedisServer, started: Instant) {
    println!("[{:>5.1?}] Redis killed", started.elapsed());
    redis.kill();
    tokio::time::sleep(REDIS_DOWN).await;
    redis.restart();
    println!("[{:>5.1?}] Redis restarted", started.elapsed());
}

fn random_below(n: u64) -> u64 {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("randomness");
    u64::from_le_bytes(bytes) % n.max(1)
}

/// When each title was accepted (ms since start), per user.
type Accepted = Arc<Mutex<HashMap<String, Vec<(String, u64)>>>>;

/// What one client saw: title → (count, first receipt in ms since start).
struct Seen {
    user: String,
    titles: HashMap<String, (u32, u64)>,
}

#[allow(clippy::too_many_arguments)]
async fn client(
    user: String,
    cookie: String,
    ports: [u16; 2],
    http: reqwest::Client,
    started: Instant,
    stop: Arc<AtomicBool>,
    reconnects: Arc<AtomicU64>,
) -> Seen {
    let mut seen = Seen {
        user,
        titles: HashMap::new(),
    };
    let mut last_id: Option<String> = None;
    let mut port = ports[usize::from(random_below(2) == 1)];
    while !stop.load(Ordering::Relaxed) {
        let mut request = http
            .get(format!("http://127.0.0.1:{port}/api/sse/inbox"))
            .header("cookie", &cookie);
        if let Some(id) = &last_id {
            request = request.header("last-event-id", id);
        }
        if let Ok(response) = request.send().await {
            if response.status() == 200 {
                // Drop the connection now and then, as tabs and phones do.
                let lifetime = Duration::from_millis(5_000 + random_below(40_000));
                let until = tokio::time::Instant::now() + lifetime;
                let mut body = response.bytes_stream();
                let mut buffer = String::new();
                loop {
                    let chunk = tokio::select! {
                        chunk = body.next() => chunk,
                        () = tokio::time::sleep_until(until) => None,
                    };
                    let Some(Ok(chunk)) = chunk else { break };
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    buffer.push_str(&String::from_utf8_lossy(&chunk));
                    while let Some(end) = buffer.find("\n\n") {
                        let frame: String = buffer.drain(..end + 2).collect();
                        let (mut id, mut name, mut data) = (None, "", "");
                        for line in frame.lines() {
                            if let Some(v) = line.strip_prefix("id: ") {
                                id = Some(v.to_owned());
                            } else if let Some(v) = line.strip_prefix("event: ") {
                                name = v;
                            } else if let Some(v) = line.strip_prefix("data: ") {
                                data = v;
                            }
                        }
                        if name == "notification" {
                            let value: serde_json::Value =
                                serde_json::from_str(data).unwrap_or_default();
                            let title = value["title"].as_str().unwrap_or_default().to_owned();
                            let now = u64::try_from(started.elapsed().as_millis()).unwrap_or(0);
                            let entry = seen.titles.entry(title).or_insert((0, now));
                            entry.0 += 1;
                        }
                        if id.is_some() {
                            last_id = id;
                        }
                    }
                }
            }
        }
        reconnects.fetch_add(1, Ordering::Relaxed);
        port = ports[usize::from(random_below(2) == 1)];
        tokio::time::sleep(Duration::from_millis(100 + random_below(400))).await;
    }
    seen
}

#[tokio::main]
async fn main() {
    let options = Options::parse();
    let binary = format!("{}/target/release/belfry", env!("CARGO_MANIFEST_DIR"));
    assert!(
        std::path::Path::new(&binary).exists(),
        "build the server first: cargo leptos build --release"
    );
    let mut redis = RedisServer::start_durable();
    let ports = [free_port(), free_port()];
    let mut a = spawn_server(ports[0], &redis.url());
    let mut b = spawn_server(ports[1], &redis.url());
    let http = reqwest::Client::new();
    wait_ready(&http, a.port).await;
    wait_ready(&http, b.port).await;
    let keys = SessionKeys::new(SECRET.as_bytes(), Duration::from_secs(86_400));
    let users: Vec<String> = (0..options.users).map(|n| format!("soak{n}")).collect();
    let started = Instant::now();
    let accepted: Accepted = Arc::default();

    // Every user gets one notification first, so each stream starts from a
    // known position and every reconnect is an exact replay.
    let publish = move |http: reqwest::Client, to: String, title: String| async move {
        let mut attempts = 0u64;
        loop {
            attempts += 1;
            let port = ports[usize::from(random_below(2) == 1)];
            let sent = http
                .post(format!("http://127.0.0.1:{port}/api/notifications"))
                .bearer_auth(PUBLISH_KEY)
                .header("idempotency-key", format!("soak-{title}"))
                .json(&serde_json::json!({"to": to, "kind": "info", "title": title}))
                .timeout(Duration::from_secs(5))
                .send()
                .await;
            if sent.is_ok_and(|r| r.status() == 201) {
                return attempts;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    for user in &users {
        publish(http.clone(), user.clone(), format!("seed-{user}")).await;
    }

    let stop_clients = Arc::new(AtomicBool::new(false));
    let reconnects = Arc::new(AtomicU64::new(0));
    let clients: Vec<_> = (0..options.streams)
        .map(|n| {
            let user = users[n % users.len()].clone();
            let name = UserName::parse(&user).expect("a user name");
            let cookie = format!("belfry_session={}", keys.mint(&name));
            tokio::spawn(client(
                user,
                cookie,
                ports,
                http.clone(),
                started,
                stop_clients.clone(),
                reconnects.clone(),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(3)).await;

    let stop_publishing = Arc::new(AtomicBool::new(false));
    let retries = Arc::new(AtomicU64::new(0));
    let publisher = {
        let (accepted, stop, retries, users, http) = (
            accepted.clone(),
            stop_publishing.clone(),
            retries.clone(),
            users.clone(),
            http.clone(),
        );
        let period = Duration::from_micros(1_000_000 / options.rate.max(1));
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(period);
            let mut n = 0u64;
            let mut in_flight = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                ticker.tick().await;
                let to =
                    users[usize::try_from(random_below(users.len() as u64)).unwrap_or(0)].clone();
                let title = format!("n{n}");
                n += 1;
                let (accepted, retries, http) = (accepted.clone(), retries.clone(), http.clone());
                in_flight.push(tokio::spawn(async move {
                    let attempts = publish(http, to.clone(), title.clone()).await;
                    retries.fetch_add(attempts - 1, Ordering::Relaxed);
                    let at = u64::try_from(started.elapsed().as_millis()).unwrap_or(0);
                    accepted
                        .lock()
                        .unwrap()
                        .entry(to)
                        .or_default()
                        .push((title, at));
                }));
            }
            for publish in in_flight {
                let _ = publish.await;
            }
            n
        })
    };

    // The chaos, at a quarter, half and three quarters of the run.
    let quarter = Duration::from_secs(options.seconds) / 4;
    tokio::time::sleep(quarter).await;
    redis_outage(&mut redis, started).await;
    tokio::time::sleep(quarter.saturating_sub(REDIS_DOWN)).await;
    println!(
        "[{:>5.1?}] instance B: SIGTERM (drain 2 s)",
        started.elapsed()
    );
    b.process.terminate();
    b = spawn_server(ports[1], &redis.url());
    wait_ready(&http, b.port).await;
    println!("[{:>5.1?}] instance B back", started.elapsed());
    tokio::time::sleep(quarter).await;
    redis_outage(&mut redis, started).await;
    tokio::time::sleep(quarter.saturating_sub(REDIS_DOWN)).await;

    stop_publishing.store(true, Ordering::Relaxed);
    let published = publisher.await.expect("publisher");
    println!(
        "[{:>5.1?}] publishing stopped; letting deliveries finish",
        started.elapsed()
    );
    tokio::time::sleep(Duration::from_secs(10)).await;
    stop_clients.store(true, Ordering::Relaxed);
    // Clients blocked in a read notice `stop` at their next frame (the
    // heartbeat at the latest); the servers' end closes the rest.
    a.process.terminate();
    b.process.terminate();
    let mut seen = Vec::new();
    for client in clients {
        seen.push(client.await.expect("client"));
    }

    let accepted = accepted.lock().unwrap().clone();
    let (mut expected, mut delivered, mut missing, mut duplicates) = (0u64, 0u64, 0u64, 0u64);
    let mut clients_short = 0;
    let mut longest_ms = 0u64;
    let mut waits = Vec::new();
    for client in &seen {
        let mine = accepted.get(&client.user).cloned().unwrap_or_default();
        let mut short = false;
        for (title, at) in &mine {
            expected += 1;
            match client.titles.get(title) {
                Some((count, first)) => {
                    delivered += 1;
                    duplicates += u64::from(count - 1);
                    let wait = first.saturating_sub(*at);
                    longest_ms = longest_ms.max(wait);
                    waits.push(wait);
                }
                None => {
                    missing += 1;
                    short = true;
                }
            }
        }
        if short {
            clients_short += 1;
        }
    }
    waits.sort_unstable();
    let p99 = waits.get(waits.len() * 99 / 100).copied().unwrap_or(0);
    println!(
        "soak: {} clients, {} users, {} publishes accepted ({} retries with the same key) over {} s, {} client reconnects",
        seen.len(),
        options.users,
        published,
        retries.load(Ordering::Relaxed),
        options.seconds,
        reconnects.load(Ordering::Relaxed)
    );
    println!(
        "soak: per client accepted vs delivered: {expected} expected, {delivered} delivered, {missing} missing ({clients_short} clients short), {duplicates} duplicates"
    );
    println!("soak: publish accepted → delivered: p99 {p99} ms, longest {longest_ms} ms (includes reconnects and outages)");
}
