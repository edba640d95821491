//! Integration tests over real HTTP: each test starts the production app
//! (same builder as `main`) on port 0 and talks to it with a real client.

mod activity;
mod health;
mod helpers;
mod inbox_stream;
mod leaks;
mod pages;
mod publish;
mod redis;
#[path = "../support/redis_server.rs"]
mod redis_server;
mod shutdown;
mod sse_time;
mod tasks;
