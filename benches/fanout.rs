//! Fan-out: memory per idle stream and delivery latency at 10,000 streams,
//! against a bare `tokio::sync::broadcast` doing the same work.
//!
//! Belfry's path: `MemoryEngine::publish` → per-channel broadcast →
//! `live::Deliveries` (order, de-dup, lag policy) → `SseHub::respond` body
//! (retry hint, heartbeat timer, shutdown) → the framed `Bytes` a connection
//! would write. The baseline: one `broadcast::Sender<Bytes>` and a task per
//! receiver. Both sides parse the send time out of each frame the same way.
//!
//! Memory is counted by a global allocator (bytes live, not RSS), so it is
//! what Belfry keeps per stream; the HTTP connection itself (hyper's read
//! and write buffers, the socket) comes on top and is not measured here.
//!
//! Run: `benches/run.sh fanout [--streams 10000] [--events 200] [--runs 3] [--interval-ms 20]`

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use belfry::engine::live::{follow, Delivery};
use belfry::engine::memory::{MemoryConfig, MemoryEngine};
use belfry::engine::SharedEngine;
use belfry::server::limits::client_ip::ClientIp;
use belfry::server::sse::SseHub;
use bytes::Bytes;
use clap::Parser;
use futures::StreamExt;
use support::{median, percentile};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live_bytes() -> isize {
    LIVE.load(Ordering::Relaxed)
}

#[derive(Parser)]
struct Options {
    /// Subscribers, all receiving every event.
    #[arg(long, default_value_t = 10_000)]
    streams: usize,
    /// Events published per run.
    #[arg(long, default_value_t = 200)]
    events: usize,
    /// Runs; the report gives their medians.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Pause between events: long enough for one fan-out to finish before
    /// the next starts, so the figures are latency, not queueing.
    #[arg(long, default_value_t = 20)]
    interval_ms: u64,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

/// The send time (ns since `base`) written into a payload.
fn payload(base: Instant) -> Bytes {
    Bytes::from(format!("{{\"t\":{}}}", base.elapsed().as_nanos()))
}

/// Reads the send time back out of a frame; None for other frames.
fn sent_at(frame: &[u8]) -> Option<u64> {
    let start = frame.windows(5).position(|w| w == b"{\"t\":")? + 5;
    let digits = frame[start..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    std::str::from_utf8(&frame[start..start + digits])
        .ok()?
        .parse()
        .ok()
}

/// Receivers record `now - sent` in µs for every event they get.
type Samples = Vec<tokio::task::JoinHandle<Vec<u64>>>;

async fn collect(tasks: Samples) -> Vec<u64> {
    let mut all = Vec::new();
    for task in tasks {
        if let Ok(mut samples) = task.await {
            all.append(&mut samples);
        }
    }
    all.sort_unstable();
    all
}

/// Belfry: opens `n` idle streams, returns (bytes per stream, latencies µs).
async fn belfry_run(n: usize, events: usize, interval: Duration) -> (f64, Vec<u64>) {
    let engine: SharedEngine = Arc::new(MemoryEngine::new(MemoryConfig {
        history_cap: 500,
        live_buffer: 1024,
        ..MemoryConfig::default()
    }));
    let shutdown = CancellationToken::new();
    let hub = SseHub::new(
        Duration::from_secs(15),
        Duration::from_secs(2),
        shutdown.clone(),
    );
    let base = Instant::now();
    // Warm the channel so its one-time cost is not counted per stream.
    let (_, warm) = follow(Arc::clone(&engine), "inbox:everyone", None, 0)
        .await
        .expect("follow");
    drop(warm);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let before = live_bytes();
    let mut tasks: Samples = Vec::with_capacity(n);
    for _ in 0..n {
        let (_, deliveries) = follow(Arc::clone(&engine), "inbox:everyone", None, 0)
            .await
            .expect("follow");
        let frames = deliveries.into_stream().map(|delivery| match delivery {
            Delivery::Event(event) => event.frame.clone(),
            Delivery::Reset => Bytes::from_static(b"event: reset\ndata: {}\n\n"),
        });
        // The hub has no limits here (the bench measures fan-out, not
        // admission), so every stream is admitted.
        let permit = hub.admit(None, ClientIp::default()).expect("no limits");
        let body = hub.respond(permit, frames).into_body();
        tasks.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut body = body.into_data_stream();
            while let Some(Ok(frame)) = body.next().await {
                if let Some(sent) = sent_at(&frame) {
                    let now = base.elapsed().as_nanos() as u64;
                    samples.push(now.saturating_sub(sent) / 1000);
                }
            }
            samples
        }));
    }
    // Let every stream send its retry hint and go idle.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let per_stream = (live_bytes() - before) as f64 / n as f64;
    for _ in 0..events {
        engine
            .publish("inbox:everyone", "notification", payload(base))
            .await
            .expect("publish");
        tokio::time::sleep(interval).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    shutdown.cancel();
    (per_stream, collect(tasks).await)
}

/// Bare broadcast: same receivers, same payloads, nothing else.
async fn bare_run(n: usize, events: usize, interval: Duration) -> (f64, Vec<u64>) {
    let (sender, _) = broadcast::channel::<Bytes>(1024);
    let base = Instant::now();
    let before = live_bytes();
    let mut tasks: Samples = Vec::with_capacity(n);
    for _ in 0..n {
        let mut receiver = sender.subscribe();
        tasks.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            while let Ok(frame) = receiver.recv().await {
                if let Some(sent) = sent_at(&frame) {
                    let now = base.elapsed().as_nanos() as u64;
                    samples.push(now.saturating_sub(sent) / 1000);
                }
            }
            samples
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let per_stream = (live_bytes() - before) as f64 / n as f64;
    for _ in 0..events {
        let _ = sender.send(payload(base));
        tokio::time::sleep(interval).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(sender);
    (per_stream, collect(tasks).await)
}

fn main() {
    let options = Options::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let (mut belfry_p99, mut bare_p99, mut belfry_p50, mut bare_p50, mut memory, mut bare_memory) = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    for run in 1..=options.runs {
        let interval = Duration::from_millis(options.interval_ms);
        let (bytes, samples) =
            runtime.block_on(belfry_run(options.streams, options.events, interval));
        let (bare_bytes, bare) =
            runtime.block_on(bare_run(options.streams, options.events, interval));
        let expected = options.streams * options.events;
        println!(
            "run {run}: belfry {:.0} B/stream, p50 {} µs, p99 {} µs ({} of {expected} delivered) | bare broadcast {:.0} B/stream, p50 {} µs, p99 {} µs ({} delivered)",
            bytes,
            percentile(&samples, 0.50),
            percentile(&samples, 0.99),
            samples.len(),
            bare_bytes,
            percentile(&bare, 0.50),
            percentile(&bare, 0.99),
            bare.len(),
        );
        memory.push(bytes);
        bare_memory.push(bare_bytes);
        belfry_p50.push(percentile(&samples, 0.50) as f64);
        belfry_p99.push(percentile(&samples, 0.99) as f64);
        bare_p50.push(percentile(&bare, 0.50) as f64);
        bare_p99.push(percentile(&bare, 0.99) as f64);
    }
    let (p99, bare99) = (median(belfry_p99), median(bare_p99));
    println!(
        "median of {} runs at {} streams: {:.0} B per idle stream (bare receiver task: {:.0} B); p50 {:.0} µs vs {:.0} µs; p99 {:.0} µs vs {:.0} µs bare = {:.2}x",
        options.runs,
        options.streams,
        median(memory),
        median(bare_memory),
        median(belfry_p50),
        median(bare_p50),
        p99,
        bare99,
        p99 / bare99.max(1.0),
    );
}
