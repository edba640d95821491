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
    /// engine is used, which keeps nothing across restarts.
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,

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

    /// How long a finished task's state stays readable, in seconds.
    #[arg(long, env = "BELFRY_TASK_KEEP_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub task_keep_secs: u64,

    /// How long each step of a demo task takes, in milliseconds.
    #[arg(long, env = "BELFRY_TASK_STEP_MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(10..=60_000))]
    pub task_step_ms: u64,

    /// Secret that signs session tokens (HS256). Unset: a random one is made
    /// at start-up, and sessions do not survive a restart. Host applications
    /// that mint tokens for their users share this secret.
    #[arg(long, env = "BELFRY_SESSION_SECRET", hide_env_values = true)]
    pub session_secret: Option<String>,

    /// Hours a sign-in lasts.
    #[arg(long, env = "BELFRY_SESSION_TTL_HOURS", default_value_t = 168, value_parser = clap::value_parser!(u64).range(1..=8760))]
    pub session_ttl_hours: u64,

    /// Mark the session cookie `Secure` (set this when served over HTTPS).
    #[arg(long, env = "BELFRY_COOKIE_SECURE", default_value_t = false)]
    pub cookie_secure: bool,

    /// Key backends present as `Authorization: Bearer <key>` to
    /// `POST /api/notifications`. Unset: that API answers 503.
    #[arg(long, env = "BELFRY_PUBLISH_KEY", hide_env_values = true)]
    pub publish_key: Option<String>,

    /// Seconds to let open connections finish after a shutdown signal.
    #[arg(long, env = "BELFRY_SHUTDOWN_GRACE_SECS", default_value_t = 10)]
    pub shutdown_grace_secs: u64,

    /// The Leptos runtime config file (a `[package.metadata.leptos]` table);
    /// `LEPTOS_*` environment variables override it. Skipped if missing.
    #[arg(long, env = "BELFRY_LEPTOS_CONFIG", default_value = "Leptos.toml")]
    pub leptos_config: PathBuf,
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
            log: "info".into(),
            log_format: LogFormat::Text,
            heartbeat_secs: 15,
            retry_ms: 2000,
            history_cap: 500,
            task_keep_secs: 60,
            task_step_ms: 1000,
            session_secret: None,
            session_ttl_hours: 168,
            cookie_secure: false,
            publish_key: None,
            shutdown_grace_secs: 10,
            leptos_config: PathBuf::from("Leptos.toml"),
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
            .field("log_format", &self.log_format)
            .field("heartbeat_secs", &self.heartbeat_secs)
            .field("retry_ms", &self.retry_ms)
            .field("history_cap", &self.history_cap)
            .field(
                "session_secret",
                &self.session_secret.as_ref().map(|_| "<set>"),
            )
            .field("session_ttl_hours", &self.session_ttl_hours)
            .field("cookie_secure", &self.cookie_secure)
            .field("publish_key", &self.publish_key.as_ref().map(|_| "<set>"))
            .field("shutdown_grace_secs", &self.shutdown_grace_secs)
            .field("leptos_config", &self.leptos_config)
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
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("<set>"));
    }
}
