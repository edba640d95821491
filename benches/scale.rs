//! Scale-out: one fan-out load, over real HTTP through nginx (the deploy/
//! files), against 1, 2 and 3 release instances on one Redis, and 3 on a
//! Redis Cluster (three primaries with a replica each).
//!
//! The load: `--users` users with `--streams` streams spread evenly over
//! them (each stream a raw TCP client through nginx, `GET /api/sse/inbox`);
//! `--rate` notifications a second, each to the next user in turn, through
//! `POST /api/notifications` on nginx (up to 256 in flight, so a slow
//! publish does not slow the rate). Every stream records the latency of
//! each event meant for it (from the publisher stamping it to its arrival),
//! so loss and duplicates are counted; every publish records how long its
//! answer took.
//!
//! Reports per setup, rate and run: deliveries/s, p50/p99 delivery latency,
//! p50/p99 publish latency, and the CPU time of every process serving
//! (instances, Redis, nginx) per delivery, then medians. On 2 cores the box
//! is the ceiling: more instances share the same cores, so read the ratios
//! and the CPU per delivery, not the totals. Several rates (`--rate
//! 100,300,600`) make a saturation sweep: the rate at which deliveries/s
//! stops following and p99 climbs is the ceiling of a setup.
//!
//! `cluster-3-wait1` is `cluster-3` with `BELFRY_REDIS_WAIT_REPLICAS=1`:
//! its publish latency against `cluster-3` is the cost of waiting for a
//! replica.
//!
//! Run: `benches/run.sh scale [--streams 3000] [--users 300] [--rate 100[,300,...]] [--seconds 10] [--runs 3] [--setups redis-1,redis-2,redis-3,cluster-3,cluster-3-wait1]`

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
use support::sse_client::{await_deliveries, open_stream, spawn_readers, tally, Tally};
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
    /// Notifications published per second, each to one user in turn; a
    /// list (`100,300,600`) runs each setup at each rate.
    #[arg(long, value_delimiter = ',', default_value = "100")]
    rate: Vec<u64>,
    /// Seconds of publishing per run.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Runs; each runs every setup once, in turn.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "redis-1,redis-2,redis-3,cluster-3,cluster-3-wait1"
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
    /// The cluster, each publish waiting for one replica (`WAIT 1`).
    #[value(name = "cluster-3-wait1")]
    Cluster3Wait1,
}

impl Setup {
    fn name(self) -> &'static str {
        match self {
            Setup::Redis1 => "1 instance, one Redis",
            Setup::Redis2 => "2 instances, one Redis",
            Setup::Redis3 => "3 instances, one Redis",
            Setup::Cluster3 => "3 instances, cluster 3+3",
            Setup::Cluster3Wait1 => "3 instances, cluster, WAIT 1",
        }
    }

    fn instances(self) -> usize {
        match self {
            Setup::Redis1 => 1,
            Setup::Redis2 => 2,
            Setup::Redis3 | Setup::Cluster3 | Setup::Cluster3Wait1 => 3,
        }
    }

    fn cluster(self) -> bool {
        matches!(self, Setup::Cluster3 | Setup::Cluster3Wait1)
    }

    /// Settings every instance of the setup gets.
    fn settings(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Setup::Cluster3 => &[("BELFRY_REDIS_CLUSTER", "true")],
            Setup::Cluster3Wait1 => &[
                ("BELFRY_REDIS_CLUSTER", "true"),
                ("BELFRY_REDIS_WAIT_REPLICAS", "1"),
            ],
            _ => &[],
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
    publish_p50_ms: f64,
    publish_p99_ms: f64,
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

async fn run_setup(setup: Setup, rate: u64, options: &Options) -> Option<Outcome> {
    let (store, url) = if setup.cluster() {
        let cluster = tokio::task::block_in_place(RedisCluster::start)?;
        let url = cluster.url();
        (Store::Cluster(cluster), url)
    } else {
        let server = RedisServer::start();
        let url = server.url();
        (Store::One(server), url)
    };
    let client = reqwest::Client::new();
    let mut ports = Vec::new();
    let mut instances: Vec<Process> = Vec::new();
    for _ in 0..setup.instances() {
        let port = free_port();
        instances.push(spawn_belfry(port, Some(&url), setup.settings()));
        wait_ready(&client, &format!("http://127.0.0.1:{port}"), "/readyz").await;
        ports.push(port);
    }
    let nginx = support::nginx::start(&ports, free_port());
    let base_url = format!("http://127.0.0.1:{}", nginx.port);

    let keys = SessionKeys::new(support::SECRET.as_bytes(), Duration::from_secs(3600));
    let users: Vec<String> = (0..options.users).map(|i| format!("scale-{i}")).collect();
    let events = (rate * options.seconds) as usize;
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

    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate.max(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let publish_url: Arc<str> = format!("{base_url}/api/notifications").into();
    let in_flight = Arc::new(tokio::sync::Semaphore::new(256));
    let mut publishes = tokio::task::JoinSet::new();
    for seq in 0..events {
        tick.tick().await;
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            break;
        };
        let marker = format!("bench-{seq}-{};", base.elapsed().as_micros());
        let to = users[seq % users.len()].clone();
        let (client, publish_url) = (client.clone(), publish_url.clone());
        publishes.spawn(async move {
            let sent_at = Instant::now();
            let sent = client
                .post(&*publish_url)
                .bearer_auth(support::PUBLISH_KEY)
                .json(&serde_json::json!({"to": to, "kind": "info", "title": marker}))
                .send()
                .await;
            drop(permit);
            let took = sent_at.elapsed().as_micros() as u64;
            sent.is_ok_and(|response| response.status().is_success())
                .then_some(took)
        });
    }
    let mut publish_failures = 0;
    let mut publish_latencies = Vec::with_capacity(events);
    while let Some(answered) = publishes.join_next().await {
        match answered {
            Ok(Some(took)) => publish_latencies.push(took),
            _ => publish_failures += 1,
        }
    }
    publish_latencies.sort_unstable();
    // Each event goes to the streams of one user.
    let per_user = |user: usize| {
        (0..options.streams)
            .filter(|i| i % users.len() == user)
            .count()
    };
    let expected: usize = (0..events).map(|seq| per_user(seq % users.len())).sum();
    await_deliveries(&delivered, expected, Duration::from_secs(10)).await;
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
        publish_p50_ms: ms(percentile(&publish_latencies, 0.50)),
        publish_p99_ms: ms(percentile(&publish_latencies, 0.99)),
        cpu_us_per_delivery: cpu_after.saturating_sub(cpu_before) as f64 / deliveries.max(1) as f64,
        unique,
        expected,
        duplicates,
        publish_failures,
    })
}

fn main() {
    support::block_on(bench(Options::parse()));
}

async fn bench(options: Options) {
    println!(
        "scale: {} streams over {} users, {:?} notifications/s for {} s, through nginx; {} runs",
        options.streams, options.users, options.rate, options.seconds, options.runs
    );
    // Every (setup, rate) pair, in the order the report lists them.
    let cases: Vec<(Setup, u64)> = options
        .rate
        .iter()
        .flat_map(|&rate| options.setups.iter().map(move |&setup| (setup, rate)))
        .collect();
    let mut results: Vec<Vec<Outcome>> = cases.iter().map(|_| Vec::new()).collect();
    for run in 1..=options.runs {
        for (i, &(setup, rate)) in cases.iter().enumerate() {
            let Some(outcome) = run_setup(setup, rate, &options).await else {
                println!("{}: skipped (redis-server older than 7)", setup.name());
                continue;
            };
            println!(
                "run {run} {:<28} {rate:>5}/s {:>8.0} deliveries/s  p50 {:>6.1} ms  p99 {:>7.1} ms  publish p50 {:>5.1} p99 {:>6.1} ms  CPU {:>5.1} µs/delivery  delivered {}/{}  duplicates {}  publish failures {}",
                setup.name(),
                outcome.deliveries_per_sec,
                outcome.p50_ms,
                outcome.p99_ms,
                outcome.publish_p50_ms,
                outcome.publish_p99_ms,
                outcome.cpu_us_per_delivery,
                outcome.unique,
                outcome.expected,
                outcome.duplicates,
                outcome.publish_failures,
            );
            results[i].push(outcome);
        }
    }
    println!("\nmedians (CPU ratio against the first setup at the same rate)");
    for (&(setup, rate), outcomes) in cases.iter().zip(&results) {
        if outcomes.is_empty() {
            continue;
        }
        let pick = |f: fn(&Outcome) -> f64| median(outcomes.iter().map(f).collect());
        let cpu = pick(|o| o.cpu_us_per_delivery);
        let baseline = cases
            .iter()
            .zip(&results)
            .find(|((_, r), o)| *r == rate && !o.is_empty())
            .map_or(cpu, |(_, o)| {
                median(o.iter().map(|o| o.cpu_us_per_delivery).collect())
            });
        println!(
            "{:<28} {rate:>5}/s {:>8.0} deliveries/s  p99 {:>7.1} ms  publish p50 {:>5.1} p99 {:>6.1} ms  CPU {:>5.1} µs/delivery ({:.2}×)",
            setup.name(),
            pick(|o| o.deliveries_per_sec),
            pick(|o| o.p99_ms),
            pick(|o| o.publish_p50_ms),
            pick(|o| o.publish_p99_ms),
            cpu,
            cpu / baseline.max(f64::EPSILON),
        );
    }
}
