//! What the HTTP benches share: the release server as a child process, its
//! RSS, and waiting for it to be ready. A bench measures capacity, not the
//! limits, so every limit is switched off (0 = unlimited).

#![allow(dead_code)]

pub mod nginx;
pub mod sse_client;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const SECRET: &str = "bench-session-secret-0123456789";
pub const PUBLISH_KEY: &str = "bench-publisher-key";

/// A child process killed (SIGKILL) and reaped on drop.
pub struct Process(pub Child);

impl Process {
    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    /// SIGTERM by PID and wait, so the server drains as under a supervisor.
    pub fn terminate(&mut self) {
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let _ = self.0.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The release binary `cargo leptos build --release` writes.
pub fn release_binary() -> String {
    let binary = format!("{}/target/release/belfry", env!("CARGO_MANIFEST_DIR"));
    assert!(
        std::path::Path::new(&binary).exists(),
        "build the server first: cargo leptos build --release"
    );
    binary
}

/// Starts the release server on `port`; on Redis when `redis_url` is set,
/// with the in-process engine otherwise. `extra` adds environment variables;
/// `BENCH_LD_PRELOAD` in the bench's environment becomes the server's
/// `LD_PRELOAD` (a heap profiler, or jemalloc/mimalloc to compare allocators).
pub fn spawn_belfry(port: u16, redis_url: Option<&str>, extra: &[(&str, &str)]) -> Process {
    spawn_binary(&release_binary(), port, redis_url, extra)
}

/// [`spawn_belfry`] with another build of the server (an older commit's, to
/// compare two builds in one run).
pub fn spawn_binary(
    binary: &str,
    port: u16,
    redis_url: Option<&str>,
    extra: &[(&str, &str)],
) -> Process {
    let mut command = Command::new(binary);
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("REDIS_URL")
        .env("BELFRY_ADDR", format!("127.0.0.1:{port}"))
        .env("BELFRY_PUBLISH_KEY", PUBLISH_KEY)
        .env("BELFRY_SESSION_SECRET", SECRET)
        .env("BELFRY_LOG", "warn")
        .env("BELFRY_MAX_STREAMS", "0")
        .env("BELFRY_MAX_STREAMS_PER_USER", "0")
        .env("BELFRY_MAX_STREAMS_PER_IP", "0")
        .env("BELFRY_MAX_ANONYMOUS_STREAMS", "0")
        .env("BELFRY_PUBLISH_RATE", "0")
        .stdout(Stdio::null());
    if let Some(url) = redis_url {
        command.env("REDIS_URL", url);
    }
    for (key, value) in extra {
        command.env(key, value);
    }
    // A heap profiler or another allocator for the server only, e.g.
    // BENCH_LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
    if let Ok(preload) = std::env::var("BENCH_LD_PRELOAD") {
        command.env("LD_PRELOAD", preload);
    }
    Process(command.spawn().expect("the server starts"))
}

/// The multi-threaded tokio runtime an HTTP bench drives its clients on.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// Runs a bench's `async` body to completion on [`runtime`].
pub fn block_on<F: std::future::Future>(body: F) -> F::Output {
    runtime().block_on(body)
}

/// Waits until `GET {base}{path}` answers 200 (up to 20 s).
pub async fn wait_ready(client: &reqwest::Client, base: &str, path: &str) {
    for _ in 0..400 {
        let ready = client
            .get(format!("{base}{path}"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200);
        if ready {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{base} did not become ready");
}

/// Resident set size of a process, in KiB (0 if it is gone).
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or(0)
}

/// The value at quantile `p` (0..=1) of sorted samples.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// The median of some figures (the upper one of an even count).
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}
