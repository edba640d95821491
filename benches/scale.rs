//! Scale-out: one fan-out load, over real HTTP through nginx (the deploy/
//! files), against 1, 2 and 3 release instances on one Redis, and 3 on a
//! Redis Cluster (three primaries with a replica each).
//!
//! The load: `--users` users with `--streams` streams spread evenly over
//! them (each stream a raw TCP client through nginx, `GET /api/sse/inbox`);
//! `--rate` notifications a second, each to the next user in turn, through
//! `POST /api/notifications` on nginx. Every stream records the latency of
//! each event meant for it (from the publisher stamping it to its arrival),
//! so loss and duplicates are counted.
//!
//! Reports per setup and run: deliveries/s, p50/p99 latency, and the CPU
//! time of every process serving (instances, Redis, nginx) per delivery,
//! then medians. On 2 cores the box is the ceiling: more instances share the
//! same cores, so read the ratios and the CPU per delivery, not the totals.
//!
//! Run: `benches/run.sh scale [--streams 3000] [--users 300] [--rate 100] [--seconds 10] [--runs 3] [--setups redis-1,redis-2,redis-3,cluster-3]`

#[path = "../tests/support/redis_cluster.rs"]
mod redis_cluster;
#[path = "../tests/support/redis_server.rs"]
mod redis_server;
mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use belfry::account::model::UserName;
use belfry::server::auth::token::SessionKeys;
use clap::{Parser, ValueEnum};
use futures::StreamExt;
use redis_cluster::RedisCluster;
use redis_server::{free_port, RedisServer};
use support::sse_client::{open_stream, spawn_readers, tally, Tally};
use support::{median, percentile, spawn_belfry, wait_ready, Process};
use tokio::sync::watch;

#[derive(Parser)]
struct Options {
    /// Open streams, spread evenly over the users.
    #[arg(long, default_value_t = 3000)]
    streams: usize,
    /// Users the streams belong to (spread over every shard on a cluster).
    #[arg(long, default_value_t = 300)]
    users: usize,
    /// Notifications published per second, each to one user in turn.
    #[arg(long, default_value_t = 100)]
    rate: u64,
    /// Seconds of publishing per run.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Runs; each runs every setup once, in turn.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "redis-1,redis-2,redis-3,cluster-3"
    )]
    setups: Vec<Setup>,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Setup {
    #[value(name = "redis-1")]
    Redis1,
    #[value(name = "redis-2")]
    Redis2,
    #[value(name = "redis-3")]
    Redis3,
    #[value(name = "cluster-3")]
    Cluster3,
}

impl Setup {
    fn name(self) -> &'static str {
        match self {
            Setup::Redis1 => "1 instance, one Redis",
            Setup::Redis2 => "2 instances, one Redis",
            Setup::Redis3 => "3 instances, one Redis",
            Setup::Cluster3 => "3 instances, cluster 3+3",
        }
    }

    fn instances(self) -> usize {
        match self {
            Setup::Redis1 => 1,
            Setup::Redis2 => 2,
            Setup::Redis3 | Setup::Cluster3 => 3,
        }
    }
}

/// CPU time (user + system) a process has used, in microseconds.
fn cpu_micros(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 (11 and 12 after the name).
    (ticks(11) + ticks(12)) * 10_000
}

struct Outcome {
    deliveries_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    cpu_us_per_delivery: f64,
    unique: usize,
    expected: usize,
    duplicates: usize,
    publish_failures: usize,
}

/// The Redis side of a setup: one server or a cluster.
enum Store {
    One(RedisServer),
    Cluster(RedisCluster),
}

impl Store {
    fn pids(&self) -> Vec<u32> {
        match self {
            Store::One(server) => server.pid().into_iter().collect(),
            Store::Cluster(cluster) => cluster.pids(),
        }
    }
}

async fn run_setup(setup: Setup, options: &Options) -> Option<Outcome> {
    let (store, url, cluster) = if setup == Setup::Cluster3 {
        let cluster = tokio::task::block_in_place(RedisCluster::start)?;
        let url = cluster.url();
        (Store::Cluster(cluster), url, true)
    } else {
        let server = RedisServer::start();
        let url = server.url();
        (Store::One(server), url, false)
    };
    let client = reqwest::Client::new();
    let mut ports = Vec::new();
    let mut instances: Vec<Process> = Vec::new();
    for _ in 0..setup.instances() {
        let port = free_port();
        let extra: &[(&str, &str)] = if cluster {
            &[("BELFRY_REDIS_CLUSTER", "true")]
        } else {
            &[]
        };
        instances.push(spawn_belfry(port, Some(&url), extra));
        wait_ready(&client, &format!("http://127.0.0.1:{port}"), "/readyz").await;
        ports.push(port);
    }
    let nginx = support::nginx::start(&ports, free_port());
    let base_url = format!("http://127.0.0.1:{}", nginx.port);

    let keys = SessionKeys::new(support::SECRET.as_bytes(), Duration::from_secs(3600));
    let users: Vec<String> = (0..options.users).map(|i| format!("scale-{i}")).collect();
    let events = (options.rate * options.seconds) as usize;
    let base = Instant::now();
    let delivered = Arc::new(AtomicU64::new(0));
    let (stop, stopped) = watch::channel(false);
    let cookies: Vec<String> = users
        .iter()
        .map(|user| {
            let name = UserName::parse(user).expect("a user name");
            format!("belfry_session={}", keys.mint(&name))
        })
        .collect();
    let opened: Vec<_> = futures::stream::iter(0..options.streams)
        .map(|i| open_stream(nginx.port, "/api/sse/inbox", &cookies[i % users.len()]))
        .buffer_unordered(64)
        .collect()
        .await;
    let readers = spawn_readers(opened, base, events, &delivered, &stopped);
    tokio::time::sleep(Duration::from_secs(2)).await;

    let mut pids: Vec<u32> = instances.iter().map(Process::pid).collect();
    pids.extend(store.pids());
    pids.extend(nginx.pids());
    let cpu_before: u64 = pids.iter().map(|pid| cpu_micros(*pid)).sum();
    let delivered_before = delivered.load(Ordering::Relaxed);
    let started = Instant::now();

    let mut publish_failures = 0;
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / options.rate.max(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let publish_url = format!("{base_url}/api/notifications");
    for seq in 0..events {
        tick.tick().await;
        let marker = format!("bench-{seq}-{};", base.elapsed().as_micros());
        let to = &users[seq % users.len()];
        let sent = client
            .post(&publish_url)
            .bearer_auth(support::PUBLISH_KEY)
            .json(&serde_json::json!({"to": to, "kind": "info", "title": marker}))
            .send()
            .await;
        if !sent.is_ok_and(|response| response.status().is_success()) {
            publish_failures += 1;
        }
    }
    // Each event goes to the streams of one user.
    let per_user = |user: usize| {
        (0..options.streams)
            .filter(|i| i % users.len() == user)
            .count()
    };
    let expected: usize = (0..events).map(|seq| per_user(seq % users.len())).sum();
    let deadline = Instant::now() + Duration::from_secs(10);
    while (delivered.load(Ordering::Relaxed) as usize) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu_after: u64 = pids.iter().map(|pid| cpu_micros(*pid)).sum();
    let deliveries = delivered.load(Ordering::Relaxed) - delivered_before;
    let _ = stop.send(true);
    let Tally {
        latencies,
        unique,
        duplicates,
    } = tally(readers).await;
    drop(nginx);
    drop(instances);
    drop(store);
    let ms = |us: u64| us as f64 / 1000.0;
    Some(Outcome {
        deliveries_per_sec: deliveries as f64 / elapsed,
        p50_ms: ms(percentile(&latencies, 0.50)),
        p99_ms: ms(percentile(&latencies, 0.99)),
        cpu_us_per_delivery: cpu_after.saturating_sub(cpu_before) as f64 / deliveries.max(1) as f64,
        unique,
        expected,
        duplicates,
        publish_failures,
    })
}

fn main() {
    let options = Options::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(bench(options));
}

async fn bench(options: Options) {
    println!(
        "scale: {} streams over {} users, {} notifications/s for {} s, through nginx; {} runs",
        options.streams, options.users, options.rate, options.seconds, options.runs
    );
    let mut results: Vec<Vec<Outcome>> = options.setups.iter().map(|_| Vec::new()).collect();
    for run in 1..=options.runs {
        for (i, setup) in options.setups.iter().enumerate() {
            let Some(outcome) = run_setup(*setup, &options).await else {
                println!("{}: skipped (redis-server older than 7)", setup.name());
                continue;
            };
            println!(
                "run {run} {:<26} {:>8.0} deliveries/s  p50 {:>6.1} ms  p99 {:>7.1} ms  CPU {:>5.1} µs/delivery  delivered {}/{}  duplicates {}  publish failures {}",
                setup.name(),
                outcome.deliveries_per_sec,
                outcome.p50_ms,
                outcome.p99_ms,
                outcome.cpu_us_per_delivery,
                outcome.unique,
                outcome.expected,
                outcome.duplicates,
                outcome.publish_failures,
            );
            results[i].push(outcome);
        }
    }
    println!("\nmedians");
    let baseline = results
        .first()
        .map(|outcomes| median(outcomes.iter().map(|o| o.cpu_us_per_delivery).collect()));
    for (setup, outcomes) in options.setups.iter().zip(&results) {
        if outcomes.is_empty() {
            continue;
        }
        let cpu = median(outcomes.iter().map(|o| o.cpu_us_per_delivery).collect());
        println!(
            "{:<26} {:>8.0} deliveries/s  p99 {:>7.1} ms  CPU {:>5.1} µs/delivery ({:.2}× the first setup)",
            setup.name(),
            median(outcomes.iter().map(|o| o.deliveries_per_sec).collect()),
            median(outcomes.iter().map(|o| o.p99_ms).collect()),
            cpu,
            baseline.map_or(1.0, |b| cpu / b),
        );
    }
}
