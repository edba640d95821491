//! Integration tests over real HTTP: each test starts the production app
//! (same builder as `main`) on port 0 and talks to it with a real client.

use rstest_reuse::template;

/// Runs a test once per engine: a test marked `#[apply(on_both_engines)]`
/// taking `#[case] engine: EngineKind` becomes `<test>::case_1_memory` and
/// `<test>::case_2_redis` (a private `redis-server` for the latter).
#[template]
#[rstest]
#[case::memory(crate::helpers::EngineKind::Memory)]
#[case::redis(crate::helpers::EngineKind::Redis)]
fn on_both_engines(#[case] engine: crate::helpers::EngineKind) {}

mod activity;
mod broadcast;
mod clock;
mod cluster;
mod csrf;
mod demo_mode;
mod deploy;
mod drain;
#[path = "../support/eventually.rs"]
mod eventually;
mod feeds;
mod hardening;
mod health;
mod helpers;
mod idempotency;
mod inbox_stream;
mod leaks;
mod limits;
mod metrics;
mod pages;
mod publish;
mod read_state;
mod redis;
#[path = "../support/redis_cluster.rs"]
mod redis_cluster;
#[path = "../support/redis_server.rs"]
mod redis_server;
mod renamed;
mod session_end;
mod shutdown;
mod startup;
mod stream_connection;
mod tasks;
mod timeouts;
mod topics;
