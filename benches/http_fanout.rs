//! Fan-out over real HTTP: Belfry against a bare tokio/hyper broadcast server,
//! in the same run, on the same box.
//!
//! Each target is its own process:
//! - **reference**: this bench binary run again with `--serve-reference`:
//!   hyper's http1 builder, one `tokio::sync::broadcast::Sender<Bytes>`;
//!   `GET /sse` streams every frame, `POST /publish` frames its body once
//!   and broadcasts it. The floor for "an SSE broadcast in Rust".
//! - **memory** / **redis**: the release server (`target/release/belfry`),
//!   in-process engine or on a private `redis-server`. The streams are one
//!   user's inbox (`GET /api/sse/inbox`), so every event goes to all
//!   of them; events are published through `POST /api/notifications` with
//!   the publisher key, like a backend would.
//!
//! The clients are raw TCP connections (cheap, identical for every target):
//! each records, for every event, the time from the publisher sending it
//! (carried in the event as `bench-<seq>-<µs>;`) to its arrival, and which
//! sequence numbers it saw, so loss and duplicates are counted, not assumed.
//!
//! Reports, per target: process RSS per idle stream, p50/p99/max latency,
//! deliveries, and the target/reference p99 ratio of each run; then medians.
//!
//! The reference runs on the system allocator; set
//! `BENCH_REFERENCE_LD_PRELOAD` to a jemalloc library to give it Belfry's.
//!
//! Run: `benches/run.sh http_fanout [--streams 1000] [--rate 200] [--seconds 5] [--runs 3] [--targets reference,memory,redis]`
//!
//! Two builds in one run: `BENCH_BINARY_B=<another build of the server>`
//! with `--targets reference,memory,memory-b,redis,redis-b` runs it as the
//! `-b` targets beside this checkout's release binary (e.g. the commit
//! before a change, built with `cargo build --release --no-default-features
//! --features ssr,jemalloc` in a worktree).

#[path = "../tests/support/redis_server.rs"]
mod redis_server;
mod support;

use std::convert::Infallible;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use belfry::account::model::UserName;
use belfry::server::auth::token::SessionKeys;
use bytes::Bytes;
use clap::{Parser, ValueEnum};
use futures::StreamExt;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use redis_server::{free_port, RedisServer};
use support::sse_client::{await_deliveries, open_stream, spawn_readers, tally, Tally};
use support::{median, percentile, rss_kib, spawn_binary, wait_ready, Process};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, watch};

#[derive(Parser)]
struct Options {
    /// Open streams, all receiving every event.
    #[arg(long, default_value_t = 1000)]
    streams: usize,
    /// Events published per second.
    #[arg(long, default_value_t = 200)]
    rate: u64,
    /// Seconds of publishing per run.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Runs; each runs every target once, in turn.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    #[arg(long, value_delimiter = ',', default_value = "reference,memory,redis")]
    targets: Vec<Target>,
    /// Internal: serve the reference on this port instead of benching.
    #[arg(long, hide = true)]
    serve_reference: Option<u16>,
    /// Internal: serve the raw reference on this port instead of benching.
    #[arg(long, hide = true)]
    serve_raw: Option<u16>,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Target {
    Reference,
    /// The same broadcast without hyper: what a connection costs below
    /// hyper's per-connection buffers (memory only; not a fan-out baseline).
    Raw,
    Memory,
    Redis,
    /// The in-process engine, on the build `BENCH_BINARY_B` names.
    MemoryB,
    /// Redis, on the build `BENCH_BINARY_B` names.
    RedisB,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::Reference => "bare hyper broadcast",
            Target::Raw => "raw tokio, no hyper",
            Target::Memory => "Belfry in-process",
            Target::Redis => "Belfry on Redis",
            Target::MemoryB => "B: Belfry in-process",
            Target::RedisB => "B: Belfry on Redis",
        }
    }
}

// ---- the reference server -------------------------------------------------

async fn serve_reference(port: u16) -> std::io::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let (sender, _) = broadcast::channel::<Bytes>(4096);
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new());
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let sender = sender.clone();
        let service = hyper::service::service_fn(move |request: Request<Incoming>| {
            let sender = sender.clone();
            async move { Ok::<_, Infallible>(reference_route(request, &sender).await) }
        });
        let connection = builder.serve_connection(TokioIo::new(stream), service);
        tokio::spawn(connection);
    }
}

async fn reference_route(
    request: Request<Incoming>,
    sender: &broadcast::Sender<Bytes>,
) -> Response<Body> {
    let status = |code: StatusCode| {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = code;
        response
    };
    match (request.method(), request.uri().path()) {
        (&Method::GET, "/sse") => {
            let frames = futures::stream::unfold(sender.subscribe(), |mut receiver| async move {
                loop {
                    match receiver.recv().await {
                        Ok(frame) => return Some((Ok::<_, Infallible>(frame), receiver)),
                        Err(broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(broadcast::error::RecvError::Closed) => return None,
                    }
                }
            });
            let mut response = Response::new(Body::from_stream(frames));
            response.headers_mut().insert(
                "content-type",
                "text/event-stream".parse().expect("a header value"),
            );
            response
        }
        (&Method::POST, "/publish") => {
            let Ok(payload) = axum::body::to_bytes(Body::new(request.into_body()), 64 * 1024).await
            else {
                return status(StatusCode::BAD_REQUEST);
            };
            let frame = Bytes::from([b"data: ", &payload[..], b"\n\n"].concat());
            let _ = sender.send(frame);
            status(StatusCode::NO_CONTENT)
        }
        (&Method::GET, "/ready") => status(StatusCode::OK),
        _ => status(StatusCode::NOT_FOUND),
    }
}

// ---- the raw reference: no HTTP library ----------------------------------

/// Reads a request head (and a `content-length` body) with a 1 KiB buffer
/// on the stack, answers `/sse` with a chunked stream of the broadcast and
/// `/publish` by broadcasting its body. Enough HTTP/1.1 for this bench and
/// nothing else: it shows what a connection costs without hyper's buffers.
async fn serve_raw(port: u16) -> std::io::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let (sender, _) = broadcast::channel::<Bytes>(4096);
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(raw_connection(stream, sender.clone()));
    }
}

async fn raw_connection(mut stream: TcpStream, sender: broadcast::Sender<Bytes>) {
    let mut buffer = [0u8; 1024];
    let mut filled = 0;
    loop {
        let head_end = loop {
            if let Some(end) = buffer[..filled].windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            match stream.read(&mut buffer[filled..]).await {
                Ok(0) | Err(_) => return,
                Ok(n) => filled += n,
            }
            if filled == buffer.len() {
                return;
            }
        };
        let head = String::from_utf8_lossy(&buffer[..head_end]).to_ascii_lowercase();
        if head.starts_with("get /sse ") {
            break;
        }
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or(0);
        while filled < head_end + length {
            match stream.read(&mut buffer[filled..]).await {
                Ok(0) | Err(_) => return,
                Ok(n) => filled += n,
            }
        }
        if head.starts_with("post /publish ") {
            let payload = &buffer[head_end..head_end + length];
            let _ = sender.send(Bytes::from([b"data: ", payload, b"\n\n"].concat()));
        }
        let answer: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        if stream.write_all(answer).await.is_err() {
            return;
        }
        buffer.copy_within(head_end + length..filled, 0);
        filled -= head_end + length;
    }
    let mut receiver = sender.subscribe();
    let head =
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
    if stream.write_all(head).await.is_err() {
        return;
    }
    loop {
        let frame = match receiver.recv().await {
            Ok(frame) => frame,
            Err(broadcast::error::RecvError::Lagged(_)) => continue,
            Err(broadcast::error::RecvError::Closed) => return,
        };
        let chunk = [format!("{:x}\r\n", frame.len()).as_bytes(), &frame, b"\r\n"].concat();
        if stream.write_all(&chunk).await.is_err() {
            return;
        }
    }
}

// ---- one run of one target ------------------------------------------------

struct Outcome {
    rss_per_stream_kib: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    unique: usize,
    expected: usize,
    duplicates: usize,
    publish_failures: usize,
}

async fn run_target(target: Target, options: &Options) -> Outcome {
    let port = free_port();
    let client = reqwest::Client::new();
    let base_url = format!("http://127.0.0.1:{port}");
    let redis = matches!(target, Target::Redis | Target::RedisB).then(RedisServer::start);
    let (server, ready, stream_path, publish_path) = match target {
        Target::Reference | Target::Raw => {
            let flag = if target == Target::Raw {
                "--serve-raw"
            } else {
                "--serve-reference"
            };
            let mut command =
                std::process::Command::new(std::env::current_exe().expect("this binary"));
            command.args([flag, &port.to_string()]);
            // The same allocator as the server, to compare like with like:
            // BENCH_REFERENCE_LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
            if let Ok(preload) = std::env::var("BENCH_REFERENCE_LD_PRELOAD") {
                command.env("LD_PRELOAD", preload);
            }
            let child = command.spawn().expect("the reference server starts");
            (Process(child), "/ready", "/sse", "/publish")
        }
        Target::Memory | Target::Redis | Target::MemoryB | Target::RedisB => {
            let binary = if matches!(target, Target::MemoryB | Target::RedisB) {
                std::env::var("BENCH_BINARY_B")
                    .expect("the -b targets run the build BENCH_BINARY_B names")
            } else {
                support::release_binary()
            };
            let redis_url = redis.as_ref().map(|r| r.url());
            (
                spawn_binary(&binary, port, redis_url.as_deref(), &[]),
                "/readyz",
                "/api/sse/inbox",
                "/api/notifications",
            )
        }
    };
    wait_ready(&client, &base_url, ready).await;
    let rss_before = rss_kib(server.pid());

    let keys = SessionKeys::new(support::SECRET.as_bytes(), Duration::from_secs(3600));
    let user = UserName::parse("bench").expect("a user name");
    let cookie = format!("belfry_session={}", keys.mint(&user));
    let events = (options.rate * options.seconds) as usize;
    let base = Instant::now();
    let delivered = Arc::new(AtomicU64::new(0));
    let (stop, stopped) = watch::channel(false);
    let opened: Vec<_> = futures::stream::iter(0..options.streams)
        .map(|_| open_stream(port, stream_path, &cookie))
        .buffer_unordered(128)
        .collect()
        .await;
    let readers = spawn_readers(opened, base, events, &delivered, &stopped);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_open = rss_kib(server.pid());

    // Publish `events` at `rate` through the target's HTTP API.
    let mut publish_failures = 0;
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / options.rate.max(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let url = format!("{base_url}{publish_path}");
    for seq in 0..events {
        tick.tick().await;
        let marker = format!("bench-{seq}-{};", base.elapsed().as_micros());
        let request = match target {
            Target::Reference | Target::Raw => client.post(&url).body(marker),
            Target::Memory | Target::Redis | Target::MemoryB | Target::RedisB => client
                .post(&url)
                .bearer_auth(support::PUBLISH_KEY)
                .json(&serde_json::json!({"to": "bench", "kind": "info", "title": marker})),
        };
        if !request.send().await.is_ok_and(|r| r.status().is_success()) {
            publish_failures += 1;
        }
    }
    let expected = events * options.streams;
    await_deliveries(&delivered, expected, Duration::from_secs(10)).await;
    let _ = stop.send(true);
    let Tally {
        latencies,
        unique,
        duplicates,
    } = tally(readers).await;
    drop(server);
    drop(redis);
    let ms = |us: u64| us as f64 / 1000.0;
    Outcome {
        rss_per_stream_kib: rss_open.saturating_sub(rss_before) as f64 / options.streams as f64,
        p50_ms: ms(percentile(&latencies, 0.50)),
        p99_ms: ms(percentile(&latencies, 0.99)),
        max_ms: ms(latencies.last().copied().unwrap_or(0)),
        unique,
        expected,
        duplicates,
        publish_failures,
    }
}

fn main() {
    let options = Options::parse();
    let runtime = support::runtime();
    let served = match (options.serve_reference, options.serve_raw) {
        (Some(port), _) => Some(runtime.block_on(serve_reference(port))),
        (None, Some(port)) => Some(runtime.block_on(serve_raw(port))),
        (None, None) => None,
    };
    if let Some(Err(error)) = served {
        eprintln!("reference server: {error}");
        std::process::exit(1);
    }
    if served.is_some() {
        return;
    }
    runtime.block_on(bench(options));
}

async fn bench(options: Options) {
    println!(
        "{} streams, {} events/s for {} s, {} runs",
        options.streams, options.rate, options.seconds, options.runs
    );
    let mut outcomes: Vec<(Target, usize, Outcome)> = Vec::new();
    for run in 1..=options.runs {
        for &target in &options.targets {
            let outcome = run_target(target, &options).await;
            println!(
                "run {run} {:<22} RSS {:>6.2} KiB/stream  p50 {:>7.1} ms  p99 {:>7.1} ms  max {:>7.1} ms  delivered {}/{}  duplicates {}  publish failures {}",
                target.name(),
                outcome.rss_per_stream_kib,
                outcome.p50_ms,
                outcome.p99_ms,
                outcome.max_ms,
                outcome.unique,
                outcome.expected,
                outcome.duplicates,
                outcome.publish_failures,
            );
            outcomes.push((target, run, outcome));
        }
    }
    println!("\nmedians over {} runs:", options.runs);
    let reference_p99 = |run: usize| {
        outcomes
            .iter()
            .find(|(t, r, _)| *t == Target::Reference && *r == run)
            .map(|(_, _, o)| o.p99_ms)
    };
    for &target in &options.targets {
        let mine: Vec<&(Target, usize, Outcome)> =
            outcomes.iter().filter(|(t, _, _)| *t == target).collect();
        let pick = |f: fn(&Outcome) -> f64| median(mine.iter().map(|(_, _, o)| f(o)).collect());
        let ratios: Vec<f64> = mine
            .iter()
            .filter_map(|(_, run, o)| reference_p99(*run).map(|r| o.p99_ms / r.max(0.001)))
            .collect();
        let lost: usize = mine.iter().map(|(_, _, o)| o.expected - o.unique).sum();
        let duplicates: usize = mine.iter().map(|(_, _, o)| o.duplicates).sum();
        let ratio_text = if ratios.is_empty() || target == Target::Reference {
            String::new()
        } else {
            let per_run: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
            format!(
                "  p99 / reference {:.2}x (per run {})",
                median(ratios.clone()),
                per_run.join(", ")
            )
        };
        println!(
            "{:<22} RSS {:>6.2} KiB/stream  p50 {:>7.1} ms  p99 {:>7.1} ms  lost {lost}  duplicates {duplicates}{ratio_text}",
            target.name(),
            pick(|o| o.rss_per_stream_kib),
            pick(|o| o.p50_ms),
            pick(|o| o.p99_ms),
        );
    }
}
