//! Integration tests over real HTTP: each test starts the production app
//! (same builder as `main`) on port 0 and talks to it with a real client.

/// Instantiates each named `async fn(EngineKind)` test as
/// `memory::<name>` and `redis::<name>`.
macro_rules! on_both_engines {
    ($($test:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test(crate::helpers::EngineKind::Memory).await;
                }
            )*
        }
        mod redis {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test(crate::helpers::EngineKind::Redis).await;
                }
            )*
        }
    };
}

mod activity;
mod broadcast;
mod csrf;
mod demo_mode;
mod drain;
mod feeds;
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
#[path = "../support/redis_server.rs"]
mod redis_server;
mod session_end;
mod shutdown;
mod sse_time;
mod startup;
mod stream_connection;
mod tasks;
mod timeouts;
