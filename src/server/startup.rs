//! Start-up and shutdown: configuration in, a bound and serving app out.
//!
//! [`Application::build`] is used by `main` and by every integration test
//! alike (binding port 0 in tests), so tests exercise the production wiring.
//! Owns the route table. It must not hold business logic: handlers live in
//! their own modules.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use leptos::config::{get_config_from_file, get_config_from_str, LeptosOptions};
use leptos_axum::{generate_route_list, LeptosRoutes};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use super::activity::{self, service::ActivityFeed};
use super::assets::{self, HashedAssets};
use super::auth::origin::{self, OriginPolicy};
use super::auth::publisher::PublisherKey;
use super::auth::session::Sessions;
use super::auth::session_end::SessionEnds;
use super::auth::token::{SessionKeys, TokenChecks};
use super::clock::{self, Clock};
use super::config::Config;
use super::error::ApiError;
use super::feeds::{self, registry::FeedStreams};
use super::health;
use super::http::{self, ConnectionLimits};
use super::idempotency::Idempotency;
use super::inbox::{self, service::Inbox};
use super::limits::client_ip::{self, ClientIpSource};
use super::limits::rate::{self, RateConfig, RateLimits};
use super::limits::streams::{StreamLimitConfig, StreamLimits};
use super::metrics::http::{self as http_metrics, HttpMetrics};
use super::metrics::{self, Metrics, Sources};
use super::sse::SseHub;
use super::state::AppState;
use super::tasks::{
    self,
    service::{DemoWorker, Tasks},
};
use super::topics::{
    self,
    service::{TopicLimits, Topics},
};
use crate::app::{shell, App};
use crate::engine::memory::{MemoryConfig, MemoryEngine};
use crate::engine::redis::{RedisConfig, RedisEngine};
use crate::engine::SharedEngine;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The Leptos config file or `LEPTOS_*` variables are invalid.
    #[error("invalid Leptos configuration: {0}")]
    LeptosConfig(String),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address that was asked for.
        addr: SocketAddr,
        /// Why binding failed.
        source: std::io::Error,
    },
    /// A setting is not usable.
    #[error("unsupported configuration: {0}")]
    Unsupported(String),
    /// The operating system gave no randomness (for this instance's id).
    #[error("no randomness available for the instance id")]
    NoRandomness,
}

/// A server that is bound and ready to serve.
pub struct Application {
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
    local_addr: SocketAddr,
    router: Router,
    state: AppState,
    shutdown: CancellationToken,
    config: Config,
}

impl Application {
    /// Loads Leptos options, builds the engine and state, binds the listener.
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let leptos_options = load_leptos_options(&config)?;
        let addr = config.addr.unwrap_or(leptos_options.site_addr);
        let shutdown = CancellationToken::new();
        let keys = session_keys(&config)?;
        let client_ip = ClientIpSource::new(config.client_ip_header.as_deref())
            .map_err(StartupError::Unsupported)?;
        let engine = build_engine(&config)?;
        let draining = CancellationToken::new();
        let sse = SseHub::new(config.heartbeat(), config.retry(), draining.clone())
            .with_drain_window(config.drain())
            .with_limits(StreamLimits::new(StreamLimitConfig {
                per_user: config.max_streams_per_user,
                per_ip: config.max_streams_per_ip,
                total: config.max_streams,
                anonymous: config.max_anonymous_streams,
            }));
        let rate = RateLimits::new(RateConfig {
            publish_per_sec: config.publish_rate,
            publish_burst: config.publish_burst,
            sign_in_per_min: config.sign_in_rate_per_min,
            send_per_min: config.send_rate_per_min,
            feed_change_per_min: config.feed_change_rate_per_min,
            wrong_key_per_min: config.wrong_key_rate_per_min,
        });
        spawn_rate_pruning(rate.clone(), shutdown.clone());
        let session_ends = SessionEnds::new(engine.clone());
        tokio::spawn(session_ends.clone().listen(shutdown.clone()));
        if config.demo {
            tracing::warn!("demo mode: anyone can sign in by name and send to anyone; never expose this on a public site");
        }
        let http_metrics = HttpMetrics::default();
        let topics = Topics::new(
            engine.clone(),
            TopicLimits {
                per_user: config.max_topics_per_user,
                total: config.max_topics,
            },
        );
        let metrics = Metrics::new(
            Sources {
                sse: &sse,
                engine: engine.stats(),
                session_ends: &session_ends,
                http: &http_metrics,
                topics: topics.stats(),
            },
            config.metrics_token.as_deref(),
        );
        let feed_streams =
            FeedStreams::new(engine.clone()).map_err(|_| StartupError::NoRandomness)?;
        feed_streams.clone().listen(shutdown.clone()).await;
        let engine_for_idempotency = engine.clone();
        let activity = ActivityFeed::new(engine.clone());
        let state = AppState {
            leptos_options,
            inbox: Inbox::new(engine.clone()),
            tasks: Tasks::new(
                engine.clone(),
                activity.clone(),
                config.task_keep(),
                DemoWorker {
                    step_every: config.task_step(),
                    shutdown: shutdown.clone(),
                },
            ),
            topics,
            activity,
            shutdown: shutdown.clone(),
            draining,
            engine,
            metrics,
            http_metrics,
            sse,
            clock: Clock::start(shutdown.clone()),
            sessions: Sessions {
                keys,
                secure_cookie: config.cookie_secure,
            },
            publisher_key: PublisherKey::new(config.publish_key.as_deref()),
            demo: config.demo,
            origins: OriginPolicy::new(&config.allowed_origins),
            client_ip,
            rate,
            session_ends,
            idempotency: Idempotency::new(engine_for_idempotency),
            feed_streams,
        };
        let router = router(state.clone(), &config);
        let metrics_listener = match config.metrics_addr {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|source| StartupError::Bind { addr, source })?,
            ),
            None => None,
        };
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartupError::Bind { addr, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| StartupError::Bind { addr, source })?;
        Ok(Self {
            listener,
            metrics_listener,
            local_addr,
            router,
            state,
            shutdown,
            config,
        })
    }

    /// The address actually bound (the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The address `/metrics` is served on, when it has its own.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|listener| listener.local_addr().ok())
    }

    /// The shared state (tests read counters from it).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `signal` resolves, then drains: `/readyz` answers 503
    /// and new streams 503 at once, open streams close spread over the
    /// drain window (each with a jittered `retry:`), while requests (such
    /// as publishes) are still served. Then background work stops, the
    /// listener closes, and open connections get the grace period to
    /// finish.
    pub async fn run_until(
        self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let limits = ConnectionLimits {
            header_read_timeout: self.config.header_read_timeout(),
            write_timeout: self.config.write_timeout(),
            stream_path: self.config.stream_path,
        };
        if let Some(listener) = self.metrics_listener {
            let metrics = Router::new()
                .route("/metrics", get(metrics::serve))
                .with_state(Arc::clone(&self.state.metrics));
            let shutdown = self.shutdown.clone();
            tokio::spawn(async move {
                let served = axum::serve(listener, metrics)
                    .with_graceful_shutdown(shutdown.cancelled_owned())
                    .await;
                if let Err(error) = served {
                    tracing::error!(%error, "the metrics listener failed");
                }
            });
        }
        let (draining, shutdown) = (self.state.draining.clone(), self.shutdown.clone());
        let window = self.config.drain();
        let stop = async move {
            signal.await;
            tracing::info!(
                ?window,
                "draining: not ready, closing streams over the window"
            );
            draining.cancel();
            tokio::time::sleep(window).await;
            tracing::info!("shutting down: stopping background work and the listener");
            shutdown.cancel();
        };
        http::serve(
            self.listener,
            self.router,
            limits,
            self.state.http_metrics.connections.clone(),
            stop,
            self.config.shutdown_grace(),
        )
        .await
    }
}

/// The full route table over `state`: streams (no request timeout), then
/// everything else (with one), all behind the client-address and
/// cross-site checks.
pub fn router(state: AppState, config: &Config) -> Router {
    let streams = Router::new()
        .route("/api/sse/clock", get(clock::clock_stream))
        .route("/api/sse/inbox", get(inbox::stream::inbox_stream))
        .route("/api/sse/activity", get(activity::stream::activity_stream))
        .route("/api/sse/tasks/{id}", get(tasks::stream::task_stream))
        .route("/api/sse/feeds", get(feeds::api::feeds_stream))
        // The names these streams had before each feature got one name in
        // every layer; kept for clients written against them (docs/publishing.md, "Renamed").
        .route("/api/sse/time", get(clock::clock_stream))
        .route("/api/sse/notifications", get(inbox::stream::inbox_stream))
        .route("/api/sse/progress/{id}", get(tasks::stream::task_stream));
    let routes = generate_route_list(App);
    let shell_options = state.leptos_options.clone();
    // With its own address, /metrics is served there only.
    let metrics_route = Router::new();
    let metrics_route = if config.metrics_addr.is_none() {
        metrics_route.route("/metrics", get(metrics::serve))
    } else {
        metrics_route
    };
    let requests = metrics_route
        .route(
            "/api/notifications",
            post(inbox::api::publish).layer(DefaultBodyLimit::max(inbox::api::MAX_BODY_BYTES)),
        )
        .route(
            "/api/tasks",
            post(tasks::api::create).layer(DefaultBodyLimit::max(inbox::api::MAX_BODY_BYTES)),
        )
        .route("/api/tasks/{id}", get(tasks::api::read))
        .route(
            "/api/feeds/{stream}",
            post(feeds::api::change_feeds).layer(DefaultBodyLimit::max(feeds::api::MAX_BODY_BYTES)),
        )
        .route(
            "/api/tasks/{id}/progress",
            post(tasks::api::report).layer(DefaultBodyLimit::max(inbox::api::MAX_BODY_BYTES)),
        )
        .route("/api/topics", get(topics::api::list))
        .route(
            "/api/topics/{key}",
            get(topics::api::read)
                .put(topics::api::put)
                .delete(topics::api::delete)
                .layer(DefaultBodyLimit::max(inbox::api::MAX_BODY_BYTES)),
        )
        .route(
            "/api/topics/{key}/followers",
            get(topics::api::followers)
                .post(topics::api::add_followers)
                .delete(topics::api::remove_followers)
                .layer(DefaultBodyLimit::max(topics::api::MAX_BODY_BYTES)),
        )
        .route("/api/users/{user}/topics", get(topics::api::followed_by))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        // Server functions get the whole `AppState` as context from this call.
        .leptos_routes_with_context(&state, routes, || (), move || shell(shell_options.clone()))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            config.request_timeout(),
        ))
        // Pages, the WASM bundle, scripts, styles and JSON go out brotli or
        // gzip compressed when the client accepts it (the WASM shrinks to
        // about a third). Level 4: close to the best size for a fraction of
        // the CPU of the maximum, paid on every first load until the build
        // precompresses. Streams are not under this layer (a compressor
        // would hold frames back), and tower-http skips event streams anyway.
        .layer(CompressionLayer::new().quality(CompressionLevel::Precise(4)))
        .layer(from_fn_with_state(
            HashedAssets(state.leptos_options.hash_files),
            assets::cache_lifetimes,
        ));
    streams
        .merge(requests)
        .layer(from_fn_with_state(
            state.origins.clone(),
            origin::refuse_cross_site,
        ))
        .layer(from_fn_with_state(
            state.http_metrics.clone(),
            http_metrics::track,
        ))
        // The access log: one line per response (method, route template,
        // status, latency). Never headers, so cookies and keys stay out of
        // it, and never the path or query: those carry task ids, stream ids
        // and feed positions (capabilities), and a method or path of any
        // length a client cares to send.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &axum::http::Request<_>| {
                    tracing::info_span!(
                        "request",
                        method = %http_metrics::method_label(request.method()),
                        route = %http_metrics::route_label(request),
                    )
                })
                .on_request(())
                .on_response(DefaultOnResponse::new().level(Level::INFO))
                // A 5xx is in the access line already; engine outages log
                // their own warnings.
                .on_failure(()),
        )
        .layer(from_fn_with_state(
            state.client_ip.clone(),
            client_ip::resolve,
        ))
        // A handler that panics answers 500 with the API's JSON error
        // instead of an empty reply; the panic itself is logged. Anything a
        // handler held (a stream permit) is dropped as it unwinds.
        .layer(CatchPanicLayer::custom(|_panic| {
            tracing::error!("a request handler panicked");
            ApiError::Internal.into_response()
        }))
        .with_state(state)
}

/// Prunes the keyed rate-limit buckets now and then, until shutdown.
fn spawn_rate_pruning(rate: RateLimits, shutdown: CancellationToken) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(rate::PRUNE_EVERY);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = every.tick() => rate.prune(),
            }
        }
    });
}

/// Leptos.toml's `[package.metadata.leptos]` table, built into the binary:
/// the server's Leptos settings. cargo-leptos reads the same table from
/// Cargo.toml; the test below keeps the two identical.
const BUILT_IN_LEPTOS_SETTINGS: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/Leptos.toml"));

fn load_leptos_options(config: &Config) -> Result<LeptosOptions, StartupError> {
    let loaded = match &config.leptos_config {
        Some(path) => get_config_from_file(path).map(|file| file.leptos_options),
        None => get_config_from_str(BUILT_IN_LEPTOS_SETTINGS),
    };
    let mut options = loaded.map_err(|error| StartupError::LeptosConfig(error.to_string()))?;
    if let Some(root) = &config.site_root {
        options.site_root = root.to_string_lossy().into();
    }
    if options.hash_files {
        // Leptos looks for the asset hashes next to the binary.
        let hashes = std::env::current_exe()
            .ok()
            .and_then(|exe| Some(exe.parent()?.join(&*options.hash_file)));
        if !hashes.as_deref().is_some_and(std::path::Path::is_file) {
            tracing::warn!(
                file = %options.hash_file,
                "hash-files is on but the asset hash file is not next to the binary; pages will name unhashed assets (ship hash.txt with the binary)"
            );
            options.hash_files = false;
        }
    }
    Ok(options)
}

/// The session keys. Without `BELFRY_SESSION_SECRET`, only demo mode on
/// the in-process engine starts (with a random secret): on Redis every
/// instance must accept the others' cookies, and outside demo mode sessions
/// come from a host app that signs them with that very secret.
fn session_keys(config: &Config) -> Result<SessionKeys, StartupError> {
    let ttl = std::time::Duration::from_secs(config.session_ttl_hours * 3600);
    let checks = TokenChecks {
        leeway: config.session_leeway(),
        issuer: config.session_issuer.clone().filter(|s| !s.is_empty()),
        audience: config.session_audience.clone().filter(|s| !s.is_empty()),
    };
    match config.session_secret.as_deref() {
        Some(secret) if secret.len() >= 16 => {
            Ok(SessionKeys::new(secret.as_bytes(), ttl).with_checks(checks))
        }
        Some(_) => Err(StartupError::Unsupported(
            "BELFRY_SESSION_SECRET must be at least 16 bytes".into(),
        )),
        None if config.redis_url.is_some() => Err(StartupError::Unsupported(
            "BELFRY_SESSION_SECRET is required with REDIS_URL: every instance must sign and accept the same sessions".into(),
        )),
        None if !config.demo => Err(StartupError::Unsupported(
            "BELFRY_SESSION_SECRET is required: sessions come from the host application, which signs them with it (or run with --demo / BELFRY_DEMO=1)".into(),
        )),
        None => {
            tracing::warn!("BELFRY_SESSION_SECRET is not set: using a random secret; sessions will not survive a restart");
            let mut secret = [0u8; 32];
            getrandom::fill(&mut secret).map_err(|error| {
                StartupError::Unsupported(format!("no randomness for a session secret: {error}"))
            })?;
            Ok(SessionKeys::new(&secret, ttl).with_checks(checks))
        }
    }
}

fn build_engine(config: &Config) -> Result<SharedEngine, StartupError> {
    let history_cap = usize::try_from(config.history_cap).unwrap_or(usize::MAX);
    if let Some(url) = &config.redis_url {
        // The URL is a secret (it may carry a password): log only the fact.
        tracing::info!(
            history_cap,
            cluster = config.redis_cluster,
            "using the Redis engine"
        );
        let engine = RedisEngine::connect(&RedisConfig {
            url: url.clone(),
            cluster: config.redis_cluster,
            history_cap,
            live_buffer: MemoryConfig::default().live_buffer,
            wait_replicas: usize::try_from(config.redis_wait_replicas).unwrap_or(usize::MAX),
            wait_timeout: std::time::Duration::from_millis(config.redis_wait_timeout_ms),
        })
        .map_err(|error| StartupError::Unsupported(error.to_string()))?;
        return Ok(Arc::new(engine));
    }
    tracing::info!(history_cap, "using the in-process engine");
    Ok(Arc::new(MemoryEngine::new(MemoryConfig {
        history_cap,
        max_channels: usize::try_from(config.memory_max_per_kind).unwrap_or(usize::MAX),
        max_set_members: usize::try_from(config.memory_max_set_members).unwrap_or(usize::MAX),
        ..MemoryConfig::default()
    })))
}

#[cfg(test)]
mod tests {
    /// The `[package.metadata.leptos]` table of a TOML file, as its setting
    /// lines (comments and blank lines left out).
    fn leptos_table(file: &str) -> Vec<&str> {
        file.lines()
            .map(str::trim)
            .skip_while(|line| *line != "[package.metadata.leptos]")
            .skip(1)
            .take_while(|line| !line.starts_with('['))
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .collect()
    }

    #[test]
    fn leptos_toml_and_cargo_toml_hold_the_same_table() {
        let cargo = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"));
        let leptos = super::BUILT_IN_LEPTOS_SETTINGS;
        let table = leptos_table(leptos);
        assert!(
            table.iter().any(|line| line.starts_with("site-root")),
            "{table:?}"
        );
        assert_eq!(
            table,
            leptos_table(cargo),
            "Leptos.toml and Cargo.toml's [package.metadata.leptos] differ: change both"
        );
    }
}
