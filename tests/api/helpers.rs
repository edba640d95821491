//! Starting an isolated app per test, and reading SSE over real HTTP.

use std::net::SocketAddr;
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
    /// The app's private `redis-server` on the Redis engine: it lives as
    /// long as the app and is killed with it.
    pub redis: Option<crate::redis_server::RedisServer>,
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
        let user = belfry::account::model::UserName::parse(user).expect("valid test user");
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

    /// `POST /api/notifications` with the publisher key, an
    /// `Idempotency-Key` and a JSON body: a publisher's retryable publish.
    pub async fn publish_with_key(&self, key: &str, body: &serde_json::Value) -> reqwest::Response {
        self.client
            .post(self.url("/api/notifications"))
            .bearer_auth(PUBLISH_KEY)
            .header("idempotency-key", key)
            .json(body)
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

    /// `GET path` with a `Cookie` header.
    pub async fn get_with_cookie(&self, path: &str, cookie: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .header("cookie", cookie)
            .send()
            .await
            .expect("request sent")
    }

    /// Opens the inbox stream of `user`, optionally resuming.
    pub async fn inbox_stream(&self, user: &str, last_event_id: Option<&str>) -> SseReader {
        let mut request = self
            .client
            .get(self.url("/api/sse/inbox"))
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

/// Default test settings: port 0, a 1 s heartbeat,
/// demo mode (tests sign in by name and send to other users) and no rate
/// limits (tests that prove a limit set their own; see [`production_config`]).
pub fn test_config() -> Config {
    let mut config = Config::defaults();
    config.addr = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    config.heartbeat_secs = 1;
    config.shutdown_grace_secs = 5;
    config.publish_key = Some(PUBLISH_KEY.into());
    config.session_secret = Some("integration-test-session-secret".into());
    config.demo = true;
    config.drain_secs = 1;
    config.publish_rate = 0;
    config.sign_in_rate_per_min = 0;
    config.send_rate_per_min = 0;
    config.feed_change_rate_per_min = 0;
    config.wrong_key_rate_per_min = 0;
    // Tests open hundreds of streams from 127.0.0.1, most of them
    // anonymous; the limits' own tests set these.
    config.max_streams_per_ip = 0;
    config.max_anonymous_streams = 0;
    config
}

/// The binary's defaults (no demo mode, every limit on) with test plumbing:
/// port 0, a publisher key and a session secret.
pub fn production_config() -> Config {
    let mut config = Config::defaults();
    config.addr = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    config.shutdown_grace_secs = 5;
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
        redis: None,
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

    /// A reader over fixed chunks that then stays open (for testing the
    /// reader itself).
    fn from_chunks(chunks: &[&'static str]) -> SseReader {
        let chunks: Vec<reqwest::Result<bytes::Bytes>> = chunks
            .iter()
            .map(|chunk| Ok(bytes::Bytes::from_static(chunk.as_bytes())))
            .collect();
        SseReader {
            response_headers: reqwest::header::HeaderMap::new(),
            body: futures::stream::iter(chunks)
                .chain(futures::stream::pending())
                .boxed(),
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

    /// The next dispatched event (one with data), parsed; `within` bounds
    /// the whole wait, however many comments (heartbeats) come first.
    pub async fn next_event(&mut self, within: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let frame = self.next_frame(left).await?;
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

    /// The next event named `name`, skipping others (e.g. `unread`);
    /// `within` bounds each event's wait.
    pub async fn next_named(&mut self, name: &str, within: Duration) -> SseEvent {
        loop {
            let event = self.next_event(within).await.expect("the stream is open");
            if event.event == name {
                return event;
            }
        }
    }

    /// Asserts that no event arrives within `within`: neither in what is
    /// already buffered (an event can share a chunk with the frames read
    /// before it) nor in what arrives. Comments and hints are allowed.
    pub async fn expect_silence(&mut self, within: Duration) {
        let heard = tokio::time::timeout(within, async {
            loop {
                if let Some(frame) = self.take_data_frame() {
                    return Some(frame);
                }
                match self.body.next().await {
                    Some(Ok(chunk)) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                    Some(Err(_)) | None => return None,
                }
            }
        })
        .await;
        if let Ok(Some(frame)) = heard {
            panic!("expected no event, got {frame:?}");
        }
        // A frame still arriving counts too.
        assert!(
            !self.buffer.lines().any(|line| line.starts_with("data:")),
            "expected no event, got the start of {:?}",
            self.buffer
        );
    }

    /// Drops the complete frames without data from the buffer and returns
    /// the first one with data, if any.
    fn take_data_frame(&mut self) -> Option<String> {
        while let Some(end) = self.buffer.find("\n\n") {
            let frame: String = self.buffer.drain(..end + 2).collect();
            if frame.lines().any(|line| line.starts_with("data:")) {
                return Some(frame);
            }
        }
        None
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

pub use crate::eventually::eventually;

/// Which engine a test app runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    Memory,
    Redis,
}

/// A test app on `engine` (with a private `redis-server` for Redis, owned
/// by the app), with fast demo tasks.
pub async fn spawn_on(engine: EngineKind) -> TestApp {
    let mut config = test_config();
    config.task_step_ms = 20;
    spawn_on_with(engine, config).await
}

/// [`spawn_on`] with settings of the test's own.
pub async fn spawn_on_with(engine: EngineKind, mut config: Config) -> TestApp {
    let redis = match engine {
        EngineKind::Memory => None,
        EngineKind::Redis => {
            let server = crate::redis_server::RedisServer::start();
            config.redis_url = Some(server.url());
            Some(server)
        }
    };
    let mut app = spawn_app_with(config).await;
    app.redis = redis;
    app
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

/// The reader's own checks: a helper that cannot fail proves nothing.
mod reader_checks {
    use super::*;

    const SHORT: Duration = Duration::from_millis(100);

    #[tokio::test]
    #[should_panic(expected = "expected no event")]
    async fn silence_fails_on_an_extra_event_in_the_same_chunk_as_the_replay() {
        let mut reader =
            SseReader::from_chunks(&["id: 1\ndata: {\"n\":1}\n\nid: 2\ndata: {\"n\":2}\n\n"]);
        assert!(reader.next_event(SHORT).await.is_some());
        reader.expect_silence(SHORT).await;
    }

    #[tokio::test]
    #[should_panic(expected = "expected no event")]
    async fn silence_fails_on_an_event_that_arrives_later() {
        let mut reader =
            SseReader::from_chunks(&["id: 1\ndata: {}\n\n", ": hb\n\nid: 2\n", "data: {}\n\n"]);
        assert!(reader.next_event(SHORT).await.is_some());
        reader.expect_silence(SHORT).await;
    }

    #[tokio::test]
    async fn silence_allows_comments_and_hints() {
        let mut reader =
            SseReader::from_chunks(&["id: 1\ndata: {}\n\n: heartbeat\n\n", "retry: 2000\n\n"]);
        assert!(reader.next_event(SHORT).await.is_some());
        reader.expect_silence(SHORT).await;
    }
}
