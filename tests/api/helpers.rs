//! Starting an isolated app per test, and reading SSE over real HTTP.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use belfry::server::config::Config;
use belfry::server::startup::Application;
use belfry::server::state::AppState;
use futures::StreamExt;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running app and the means to stop it.
pub struct TestApp {
    pub addr: SocketAddr,
    /// Where `/metrics` is served when it has its own address.
    pub metrics_addr: Option<SocketAddr>,
    pub state: AppState,
    pub client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    pub server: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The text `/metrics` answers on the app's own address.
    pub async fn metrics_text(&self) -> String {
        let response = self.client.get(self.url("/metrics")).send().await;
        response.unwrap().text().await.unwrap()
    }

    /// A `Cookie` header value signing `user` in.
    pub fn cookie_for(&self, user: &str) -> String {
        let user = belfry::model::user::UserName::parse(user).expect("valid test user");
        format!("belfry_session={}", self.state.sessions.keys.mint(&user))
    }

    /// `POST /api/notifications` with the publisher key and a JSON body.
    pub async fn publish(&self, body: serde_json::Value) -> reqwest::Response {
        self.client
            .post(self.url("/api/notifications"))
            .bearer_auth(PUBLISH_KEY)
            .json(&body)
            .send()
            .await
            .expect("request sent")
    }

    /// Publishes one notification to `to` and returns its id.
    pub async fn notify(&self, to: &str, title: &str) -> String {
        let response = self
            .publish(serde_json::json!({"to": to, "kind": "info", "title": title, "body": ""}))
            .await;
        assert_eq!(response.status(), 201);
        let body: serde_json::Value = response.json().await.expect("JSON");
        body["ids"][0].as_str().expect("an id").to_owned()
    }

    /// Opens the inbox stream of `user`, optionally resuming.
    pub async fn inbox_stream(&self, user: &str, last_event_id: Option<&str>) -> SseReader {
        let mut request = self
            .client
            .get(self.url("/api/sse/notifications"))
            .header("cookie", self.cookie_for(user));
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        SseReader::from_response(request.send().await.expect("request sent"))
    }

    /// Sends the shutdown signal, as SIGTERM would.
    pub fn signal_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.signal_shutdown();
    }
}

/// Default test settings: port 0, a 1 s heartbeat, the repo's Leptos.toml,
/// demo mode (tests sign in by name and send to other users) and no rate
/// limits (tests that prove a limit set their own; see [`production_config`]).
pub fn test_config() -> Config {
    let mut config = Config::defaults();
    config.addr = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    config.heartbeat_secs = 1;
    config.shutdown_grace_secs = 5;
    config.leptos_config = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("Leptos.toml");
    config.publish_key = Some(PUBLISH_KEY.into());
    config.session_secret = Some("integration-test-session-secret".into());
    config.demo = true;
    config.drain_secs = 1;
    config.publish_rate = 0;
    config.sign_in_rate_per_min = 0;
    config.send_rate_per_min = 0;
    config
}

/// The binary's defaults (no demo mode, every limit on) with test plumbing:
/// port 0, the repo's Leptos.toml, a publisher key and a session secret.
pub fn production_config() -> Config {
    let mut config = Config::defaults();
    config.addr = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    config.shutdown_grace_secs = 5;
    config.leptos_config = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("Leptos.toml");
    config.publish_key = Some(PUBLISH_KEY.into());
    config.session_secret = Some("integration-test-session-secret".into());
    config
}

/// The publisher key of test apps.
pub const PUBLISH_KEY: &str = "test-publisher-key";

pub async fn spawn_app() -> TestApp {
    spawn_app_with(test_config()).await
}

pub async fn spawn_app_with(config: Config) -> TestApp {
    let app = Application::build(config).await.expect("app builds");
    let addr = app.local_addr();
    let metrics_addr = app.metrics_addr();
    let state = app.state().clone();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    TestApp {
        addr,
        metrics_addr,
        state,
        client: reqwest::Client::new(),
        stop: Some(stop),
        server: Some(server),
    }
}

/// An open SSE response, read frame by frame.
pub struct SseReader {
    pub response_headers: reqwest::header::HeaderMap,
    body: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buffer: String,
}

impl SseReader {
    pub async fn open(client: &reqwest::Client, url: &str) -> SseReader {
        SseReader::from_response(client.get(url).send().await.expect("request sent"))
    }

    pub fn from_response(response: reqwest::Response) -> SseReader {
        assert_eq!(response.status(), 200, "SSE endpoint answers 200");
        SseReader {
            response_headers: response.headers().clone(),
            body: response.bytes_stream().boxed(),
            buffer: String::new(),
        }
    }

    /// The next complete frame (text up to a blank line), or None when the
    /// stream ended. Panics if nothing arrives within `within`.
    pub async fn next_frame(&mut self, within: Duration) -> Option<String> {
        tokio::time::timeout(within, async {
            loop {
                if let Some(end) = self.buffer.find("\n\n") {
                    let frame = self.buffer[..end].to_owned();
                    self.buffer.drain(..end + 2);
                    return Some(frame);
                }
                match self.body.next().await {
                    Some(Ok(chunk)) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                    Some(Err(_)) | None => return None,
                }
            }
        })
        .await
        .expect("a frame arrives in time")
    }

    /// The next dispatched event (one with data), parsed.
    pub async fn next_event(&mut self, within: Duration) -> Option<SseEvent> {
        loop {
            let frame = self.next_frame(within).await?;
            let mut event = SseEvent::default();
            let mut data = Vec::new();
            for line in frame.lines() {
                if let Some(value) = line.strip_prefix("id: ") {
                    event.id = Some(value.to_owned());
                } else if let Some(value) = line.strip_prefix("event: ") {
                    event.event = value.to_owned();
                } else if let Some(value) = line.strip_prefix("data: ") {
                    data.push(value);
                }
            }
            if !data.is_empty() {
                event.data = serde_json::from_str(&data.join("\n")).expect("event data is JSON");
                return Some(event);
            }
        }
    }

    /// Asserts that no event arrives within `within`.
    pub async fn expect_silence(&mut self, within: Duration) {
        let quiet = tokio::time::timeout(within, async {
            loop {
                match self.body.next().await {
                    Some(Ok(chunk)) => {
                        let text = String::from_utf8_lossy(&chunk).into_owned();
                        if text.contains("data:") {
                            return text;
                        }
                    }
                    _ => return String::new(),
                }
            }
        })
        .await;
        if let Ok(text) = quiet {
            assert!(text.is_empty(), "expected no event, got {text:?}");
        }
    }

    /// The next frame that carries `data:`, skipping comments and hints.
    pub async fn next_data(&mut self, within: Duration) -> Option<String> {
        loop {
            let frame = self.next_frame(within).await?;
            let data: Vec<&str> = frame
                .lines()
                .filter_map(|line| line.strip_prefix("data: "))
                .collect();
            if !data.is_empty() {
                return Some(data.join("\n"));
            }
        }
    }
}

/// One parsed SSE event.
#[derive(Debug, Default, Clone)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: String,
    pub data: serde_json::Value,
}

/// Polls `condition` until it holds or `within` passes; returns whether it held.
pub async fn eventually(within: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if condition() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Which engine a test app runs on.
#[derive(Debug, Clone, Copy)]
pub enum EngineKind {
    Memory,
    Redis,
}

/// A test app on `engine` (a private `redis-server` for Redis, returned so
/// it lives as long as the app), with fast demo tasks.
pub async fn spawn_on(engine: EngineKind) -> (TestApp, Option<crate::redis_server::RedisServer>) {
    let mut config = test_config();
    config.task_step_ms = 20;
    spawn_on_with(engine, config).await
}

/// [`spawn_on`] with settings of the test's own.
pub async fn spawn_on_with(
    engine: EngineKind,
    mut config: Config,
) -> (TestApp, Option<crate::redis_server::RedisServer>) {
    let redis = match engine {
        EngineKind::Memory => None,
        EngineKind::Redis => {
            let server = crate::redis_server::RedisServer::start();
            config.redis_url = Some(server.url());
            Some(server)
        }
    };
    (spawn_app_with(config).await, redis)
}

impl TestApp {
    /// Calls a server function as `user` (form-encoded, like the browser).
    pub async fn server_fn(
        &self,
        path: &str,
        user: Option<&str>,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut request = self.client.post(self.url(path)).form(form);
        if let Some(user) = user {
            request = request.header("cookie", self.cookie_for(user));
        }
        request.send().await.expect("request sent")
    }

    /// A JSON API call with the publisher key.
    pub async fn api(&self, path: &str, body: serde_json::Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(PUBLISH_KEY)
            .json(&body)
            .send()
            .await
            .expect("request sent")
    }
}
