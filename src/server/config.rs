//! Server settings: every one is a CLI flag and an environment variable, and
//! `belfry --help` lists them all (docs/configuration.md mirrors it).
//!
//! Owns parsing and defaults. It must not log secret values: `REDIS_URL` may
//! carry a password, so its value is hidden from `--help` and from `Debug`.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

/// Belfry's server: a real-time notification center over Server-Sent Events.
#[derive(Clone, Parser)]
#[command(name = "belfry", version, about, long_about = None)]
pub struct Config {
    /// Address to listen on. Without it, Leptos's site address is used
    /// (`LEPTOS_SITE_ADDR`, else `site-addr` in the Leptos config file).
    #[arg(long, env = "BELFRY_ADDR")]
    pub addr: Option<SocketAddr>,

    /// Redis URL (`redis://[:password@]host:port/db`). Unset: the in-process
    /// engine is used, which keeps nothing across restarts. With
    /// `--redis-cluster`: one or more cluster nodes' URLs, comma-separated.
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,

    /// `REDIS_URL` names Redis Cluster nodes (Redis 7 or newer): keys are
    /// routed by slot and live fan-out uses sharded Pub/Sub.
    #[arg(long, env = "BELFRY_REDIS_CLUSTER", action = clap::ArgAction::SetTrue, value_parser = clap::builder::BoolishValueParser::new())]
    pub redis_cluster: bool,

    /// Replicas that must acknowledge a publish (Redis `WAIT`) before it is
    /// answered 201; one not acknowledged in time is answered 503 (retry it
    /// with its `Idempotency-Key`). 0 = answer once the primary stored it.
    #[arg(long, env = "BELFRY_REDIS_WAIT_REPLICAS", default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=16))]
    pub redis_wait_replicas: u64,

    /// Milliseconds a publish waits for those replicas.
    #[arg(long, env = "BELFRY_REDIS_WAIT_TIMEOUT_MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=60000))]
    pub redis_wait_timeout_ms: u64,

    /// Log filter, e.g. `info` or `belfry=debug,tower_http=info`. `RUST_LOG`
    /// wins when set.
    #[arg(long, env = "BELFRY_LOG", default_value = "info")]
    pub log: String,

    /// Log line format.
    #[arg(long, env = "BELFRY_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Seconds between heartbeat comments on an idle SSE stream.
    #[arg(long, env = "BELFRY_HEARTBEAT_SECS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub heartbeat_secs: u64,

    /// Milliseconds a browser should wait before reconnecting (SSE `retry:`).
    #[arg(long, env = "BELFRY_RETRY_MS", default_value_t = 2000, value_parser = clap::value_parser!(u64).range(100..=600_000))]
    pub retry_ms: u64,

    /// Events kept and served per channel (e.g. per user inbox); with Redis
    /// also the streams' `MAXLEN ~`. Give every instance the same value.
    #[arg(long, env = "BELFRY_HISTORY_CAP", default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub history_cap: u64,

    /// In-process engine: things of each kind it stores at most (inboxes,
    /// read states, tasks, idempotency records, … each counted on its
    /// own). At the bound, new ones are refused (507); nothing stored is
    /// dropped to make room. Ignored on Redis.
    #[arg(long, env = "BELFRY_MEMORY_MAX_PER_KIND", default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub memory_max_per_kind: u64,

    /// In-process engine: members of each set at most (the users `"*"`
    /// reaches, one user's task list). Past it a new user is still served,
    /// but not reached by `"*"`. Ignored on Redis.
    #[arg(long, env = "BELFRY_MEMORY_MAX_SET_MEMBERS", default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub memory_max_set_members: u64,

    /// How long a finished task's state stays readable, in seconds.
    #[arg(long, env = "BELFRY_TASK_KEEP_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub task_keep_secs: u64,

    /// How long each step of a demo task takes, in milliseconds.
    #[arg(long, env = "BELFRY_TASK_STEP_MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(10..=60_000))]
    pub task_step_ms: u64,

    /// Demo mode: anyone may sign in by name at /sign-in, and the dashboard
    /// sends to other users. Off by default: sessions then come only from
    /// tokens the host application mints (docs/security.md).
    #[arg(long, env = "BELFRY_DEMO", action = clap::ArgAction::SetTrue, value_parser = clap::builder::BoolishValueParser::new())]
    pub demo: bool,

    /// Secret that signs session tokens (HS256), at least 16 bytes. Host
    /// applications that mint tokens for their users share it. Required,
    /// except in demo mode on the in-process engine (a random one is made).
    #[arg(long, env = "BELFRY_SESSION_SECRET", hide_env_values = true)]
    pub session_secret: Option<String>,

    /// Seconds of clock difference tolerated around a token's `exp`/`nbf`.
    #[arg(long, env = "BELFRY_SESSION_LEEWAY_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub session_leeway_secs: u64,

    /// When set, a token's `iss` claim must equal this.
    #[arg(long, env = "BELFRY_SESSION_ISSUER")]
    pub session_issuer: Option<String>,

    /// When set, a token's `aud` claim must name this.
    #[arg(long, env = "BELFRY_SESSION_AUDIENCE")]
    pub session_audience: Option<String>,

    /// Other origins (`https://app.example.com`) whose pages may make
    /// cookie-authenticated changes, comma-separated. The site's own origin
    /// is always allowed.
    #[arg(long, env = "BELFRY_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,

    /// The request header a trusted proxy puts the client's address in
    /// (e.g. `X-Forwarded-For`: its last entry counts; or `X-Real-IP`).
    /// Unset: the peer address of the connection counts.
    #[arg(long, env = "BELFRY_CLIENT_IP_HEADER")]
    pub client_ip_header: Option<String>,

    /// Open streams one user may hold (0 = unlimited).
    #[arg(long, env = "BELFRY_MAX_STREAMS_PER_USER", default_value_t = 16)]
    pub max_streams_per_user: u32,

    /// Open streams one client address may hold, signed in or not
    /// (0 = unlimited). A browser holds one however many tabs it has, so
    /// 500 covers an office of 500 people behind one NAT address. Behind a
    /// proxy, set `--client-ip-header`, or every client is the proxy.
    #[arg(long, env = "BELFRY_MAX_STREAMS_PER_IP", default_value_t = 500)]
    pub max_streams_per_ip: u32,

    /// Open streams of signed-in users this instance holds in all
    /// (0 = unlimited).
    #[arg(long, env = "BELFRY_MAX_STREAMS", default_value_t = 10_000)]
    pub max_streams: u32,

    /// Open anonymous streams (the clock, public feeds) this instance holds
    /// in all, apart from `--max-streams`: they never take a signed-in
    /// user's place (0 = unlimited).
    #[arg(long, env = "BELFRY_MAX_ANONYMOUS_STREAMS", default_value_t = 2_000)]
    pub max_anonymous_streams: u32,

    /// Publish API requests per second per publisher key, sustained
    /// (0 = unlimited).
    #[arg(long, env = "BELFRY_PUBLISH_RATE", default_value_t = 100)]
    pub publish_rate: u32,

    /// Publish API requests a key may send at once above the sustained rate.
    #[arg(long, env = "BELFRY_PUBLISH_BURST", default_value_t = 200)]
    pub publish_burst: u32,

    /// Sign-ins per minute per client address, demo mode (0 = unlimited).
    #[arg(long, env = "BELFRY_SIGN_IN_RATE_PER_MIN", default_value_t = 10)]
    pub sign_in_rate_per_min: u32,

    /// What one user fans out from the UI per minute: dashboard sends,
    /// simulated activity and started tasks, together (0 = unlimited).
    #[arg(long, env = "BELFRY_SEND_RATE_PER_MIN", default_value_t = 30)]
    pub send_rate_per_min: u32,

    /// Wrong publisher keys per minute per client address; past it the
    /// address gets 429 before its key is checked, for the rest of the
    /// minute (0 = unlimited).
    #[arg(long, env = "BELFRY_WRONG_KEY_RATE_PER_MIN", default_value_t = 10)]
    pub wrong_key_rate_per_min: u32,

    /// Feed changes (`POST /api/feeds/{stream}`) per minute per session,
    /// and ten times as many per client address (0 = unlimited).
    #[arg(long, env = "BELFRY_FEED_CHANGE_RATE_PER_MIN", default_value_t = 120)]
    pub feed_change_rate_per_min: u32,

    /// Topics one user may follow (0 = unlimited). Past it, adding the user
    /// to another topic is refused (409 `limit_reached`).
    #[arg(long, env = "BELFRY_MAX_TOPICS_PER_USER", default_value_t = 1000)]
    pub max_topics_per_user: u64,

    /// Topics in all (0 = unlimited). Past it, creating another is refused
    /// (409 `limit_reached`).
    #[arg(long, env = "BELFRY_MAX_TOPICS", default_value_t = 10_000)]
    pub max_topics: u64,

    /// Serve `/metrics` on this address only (e.g. a private interface),
    /// not on the main one.
    #[arg(long, env = "BELFRY_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,

    /// When set, `/metrics` answers only `Authorization: Bearer <token>`.
    #[arg(long, env = "BELFRY_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,

    /// Seconds a client has to send a request's headers.
    #[arg(long, env = "BELFRY_HEADER_READ_TIMEOUT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_read_timeout_secs: u64,

    /// Serve stream requests on a connection of their own through Belfry's
    /// lean one-request writer (about 7 KiB less per idle stream than
    /// hyper). Off: every connection is served by hyper.
    #[arg(long, env = "BELFRY_STREAM_PATH", default_value_t = true, action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new())]
    pub stream_path: bool,

    /// Seconds a request that is not a stream may take.
    #[arg(long, env = "BELFRY_REQUEST_TIMEOUT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub request_timeout_secs: u64,

    /// Seconds a client may go without reading what it was sent before its
    /// connection is closed (a stalled stream frees its memory).
    #[arg(long, env = "BELFRY_WRITE_TIMEOUT_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub write_timeout_secs: u64,

    /// Hours a sign-in lasts.
    #[arg(long, env = "BELFRY_SESSION_TTL_HOURS", default_value_t = 168, value_parser = clap::value_parser!(u64).range(1..=8760))]
    pub session_ttl_hours: u64,

    /// Mark the session cookie `Secure` (set this when served over HTTPS).
    #[arg(long, env = "BELFRY_COOKIE_SECURE", action = clap::ArgAction::SetTrue, value_parser = clap::builder::BoolishValueParser::new())]
    pub cookie_secure: bool,

    /// Key backends present as `Authorization: Bearer <key>` to
    /// `POST /api/notifications`. Unset: that API answers 503.
    #[arg(long, env = "BELFRY_PUBLISH_KEY", hide_env_values = true)]
    pub publish_key: Option<String>,

    /// Seconds over which open streams are closed after SIGTERM/SIGINT,
    /// each at a random moment, so clients reconnect elsewhere spread out
    /// (0 = all at once). `/readyz` answers 503 from the signal on.
    #[arg(long, env = "BELFRY_DRAIN_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub drain_secs: u64,

    /// Seconds to let open connections finish after the drain.
    #[arg(long, env = "BELFRY_SHUTDOWN_GRACE_SECS", default_value_t = 10)]
    pub shutdown_grace_secs: u64,

    /// A file whose `[package.metadata.leptos]` table replaces the Leptos
    /// runtime settings built into the binary (from Cargo.toml). Without it
    /// the built-in ones apply; either way `LEPTOS_*` variables override.
    #[arg(long, env = "BELFRY_LEPTOS_CONFIG")]
    pub leptos_config: Option<PathBuf>,

    /// The built site (`target/site` of the release build: the WASM, CSS
    /// and static files), so the binary runs from any directory. Unset:
    /// `target/site` below the working directory (or `LEPTOS_SITE_ROOT`).
    #[arg(long, env = "BELFRY_SITE_ROOT")]
    pub site_root: Option<PathBuf>,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

impl Config {
    /// The settings with every default, as if no flag or variable were set
    /// (ignores the environment; for tests and embedding).
    pub fn defaults() -> Self {
        Self {
            addr: None,
            redis_url: None,
            redis_cluster: false,
            redis_wait_replicas: 0,
            redis_wait_timeout_ms: 1000,
            log: "info".into(),
            log_format: LogFormat::Text,
            heartbeat_secs: 15,
            retry_ms: 2000,
            history_cap: 500,
            memory_max_per_kind: 100_000,
            memory_max_set_members: 100_000,
            task_keep_secs: 60,
            task_step_ms: 1000,
            demo: false,
            session_secret: None,
            session_leeway_secs: 60,
            session_issuer: None,
            session_audience: None,
            allowed_origins: Vec::new(),
            client_ip_header: None,
            max_streams_per_user: 16,
            max_streams_per_ip: 500,
            max_streams: 10_000,
            max_anonymous_streams: 2_000,
            publish_rate: 100,
            publish_burst: 200,
            sign_in_rate_per_min: 10,
            send_rate_per_min: 30,
            feed_change_rate_per_min: 120,
            wrong_key_rate_per_min: 10,
            max_topics_per_user: 1000,
            max_topics: 10_000,
            metrics_addr: None,
            metrics_token: None,
            header_read_timeout_secs: 30,
            stream_path: true,
            request_timeout_secs: 30,
            write_timeout_secs: 60,
            session_ttl_hours: 168,
            cookie_secure: false,
            publish_key: None,
            drain_secs: 10,
            shutdown_grace_secs: 10,
            leptos_config: None,
            site_root: None,
        }
    }

    /// Heartbeat interval.
    pub fn heartbeat(&self) -> Duration {
        Duration::from_secs(self.heartbeat_secs)
    }

    /// How long a finished task stays readable.
    pub fn task_keep(&self) -> Duration {
        Duration::from_secs(self.task_keep_secs)
    }

    /// How long each step of a demo task takes.
    pub fn task_step(&self) -> Duration {
        Duration::from_millis(self.task_step_ms)
    }

    /// Reconnect delay advised to browsers.
    pub fn retry(&self) -> Duration {
        Duration::from_millis(self.retry_ms)
    }

    /// Clock difference tolerated on session tokens.
    pub fn session_leeway(&self) -> Duration {
        Duration::from_secs(self.session_leeway_secs)
    }

    /// How long a client has to send its request headers.
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.header_read_timeout_secs)
    }

    /// How long a non-stream request may take.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }

    /// How long a client may leave written bytes unread.
    pub fn write_timeout(&self) -> Duration {
        Duration::from_secs(self.write_timeout_secs)
    }

    /// The window over which streams are closed on shutdown.
    pub fn drain(&self) -> Duration {
        Duration::from_secs(self.drain_secs)
    }

    /// How long to wait for connections to drain on shutdown.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("addr", &self.addr)
            .field("redis_url", &self.redis_url.as_ref().map(|_| "<set>"))
            .field("log", &self.log)
            .field("redis_cluster", &self.redis_cluster)
            .field("redis_wait_replicas", &self.redis_wait_replicas)
            .field("redis_wait_timeout_ms", &self.redis_wait_timeout_ms)
            .field("log_format", &self.log_format)
            .field("heartbeat_secs", &self.heartbeat_secs)
            .field("retry_ms", &self.retry_ms)
            .field("history_cap", &self.history_cap)
            .field("memory_max_per_kind", &self.memory_max_per_kind)
            .field("memory_max_set_members", &self.memory_max_set_members)
            .field("task_keep_secs", &self.task_keep_secs)
            .field("task_step_ms", &self.task_step_ms)
            .field(
                "session_secret",
                &self.session_secret.as_ref().map(|_| "<set>"),
            )
            .field(
                "metrics_token",
                &self.metrics_token.as_ref().map(|_| "<set>"),
            )
            .field("demo", &self.demo)
            .field(
                "session_secret",
                &self.session_secret.as_ref().map(|_| "<set>"),
            )
            .field("session_leeway_secs", &self.session_leeway_secs)
            .field("session_issuer", &self.session_issuer)
            .field("session_audience", &self.session_audience)
            .field("allowed_origins", &self.allowed_origins)
            .field("client_ip_header", &self.client_ip_header)
            .field("max_streams_per_user", &self.max_streams_per_user)
            .field("max_streams_per_ip", &self.max_streams_per_ip)
            .field("max_streams", &self.max_streams)
            .field("max_anonymous_streams", &self.max_anonymous_streams)
            .field("stream_path", &self.stream_path)
            .field("publish_rate", &self.publish_rate)
            .field("publish_burst", &self.publish_burst)
            .field("sign_in_rate_per_min", &self.sign_in_rate_per_min)
            .field("send_rate_per_min", &self.send_rate_per_min)
            .field("feed_change_rate_per_min", &self.feed_change_rate_per_min)
            .field("wrong_key_rate_per_min", &self.wrong_key_rate_per_min)
            .field("max_topics_per_user", &self.max_topics_per_user)
            .field("max_topics", &self.max_topics)
            .field("metrics_addr", &self.metrics_addr)
            .field(
                "metrics_token",
                &self.metrics_token.as_ref().map(|_| "<set>"),
            )
            .field("header_read_timeout_secs", &self.header_read_timeout_secs)
            .field("request_timeout_secs", &self.request_timeout_secs)
            .field("write_timeout_secs", &self.write_timeout_secs)
            .field("session_ttl_hours", &self.session_ttl_hours)
            .field("cookie_secure", &self.cookie_secure)
            .field("publish_key", &self.publish_key.as_ref().map(|_| "<set>"))
            .field("drain_secs", &self.drain_secs)
            .field("shutdown_grace_secs", &self.shutdown_grace_secs)
            .field("leptos_config", &self.leptos_config)
            .field("site_root", &self.site_root)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_definitions_are_consistent() {
        use clap::CommandFactory;
        Config::command().debug_assert();
    }

    #[test]
    fn defaults_match_the_documented_values() {
        let config = Config::try_parse_from(["belfry"]).unwrap();
        let defaults = Config::defaults();
        assert_eq!(config.heartbeat_secs, defaults.heartbeat_secs);
        assert_eq!(config.retry_ms, defaults.retry_ms);
        assert_eq!(config.history_cap, defaults.history_cap);
        assert_eq!(defaults.heartbeat(), Duration::from_secs(15));
        assert_eq!(config.demo, defaults.demo);
        assert!(!config.demo, "demo mode is a switch, off by default");
        assert_eq!(config.max_streams_per_user, 16);
        assert_eq!(config.max_streams_per_user, defaults.max_streams_per_user);
        assert_eq!(config.max_streams_per_ip, defaults.max_streams_per_ip);
        assert_eq!(config.max_streams, defaults.max_streams);
        assert_eq!(config.publish_rate, defaults.publish_rate);
        assert_eq!(config.publish_burst, defaults.publish_burst);
        assert_eq!(config.sign_in_rate_per_min, defaults.sign_in_rate_per_min);
        assert_eq!(config.send_rate_per_min, defaults.send_rate_per_min);
        assert_eq!(config.session_leeway_secs, defaults.session_leeway_secs);
        assert_eq!(config.header_read_timeout_secs, 30);
        assert_eq!(config.write_timeout_secs, 60);
        assert_eq!(config.request_timeout_secs, defaults.request_timeout_secs);
        // Every setting at once: `Debug` lists them all.
        assert_eq!(format!("{config:?}"), format!("{defaults:?}"));
    }

    #[test]
    fn switches_are_flags_and_read_the_usual_words_from_the_environment() {
        assert!(Config::try_parse_from(["belfry", "--demo"]).unwrap().demo);
        // BELFRY_DEMO=1/true/yes/on (and 0/false/no/off) go through this
        // parser; the start-up tests run the binary with BELFRY_DEMO=1.
        use clap::builder::TypedValueParser;
        let parser = clap::builder::BoolishValueParser::new();
        let command = clap::Command::new("belfry");
        for (word, on) in [("1", true), ("yes", true), ("0", false), ("off", false)] {
            let parsed = parser.parse_ref(&command, None, std::ffi::OsStr::new(word));
            assert_eq!(parsed.ok(), Some(on), "{word}");
        }
    }

    #[test]
    fn out_of_range_values_are_refused() {
        assert!(Config::try_parse_from(["belfry", "--heartbeat-secs", "0"]).is_err());
        assert!(Config::try_parse_from(["belfry", "--addr", "not-an-address"]).is_err());
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let mut config = Config::defaults();
        config.redis_url = Some("redis://:hunter2@db:6379".into());
        config.session_secret = Some("session-hunter2".into());
        config.publish_key = Some("publish-hunter2".into());
        config.metrics_token = Some("metrics-hunter2".into());
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("<set>"));
    }
}
