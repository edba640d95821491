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
    pub state: AppState,
    pub client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    pub server: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
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

/// Default test settings: port 0, a 1 s heartbeat, the repo's Leptos.toml.
pub fn test_config() -> Config {
    let mut config = Config::defaults();
    config.addr = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    config.heartbeat_secs = 1;
    config.shutdown_grace_secs = 5;
    config.leptos_config = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("Leptos.toml");
    config
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(test_config()).await
}

pub async fn spawn_app_with(config: Config) -> TestApp {
    let app = Application::build(config).await.expect("app builds");
    let addr = app.local_addr();
    let state = app.state().clone();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    TestApp {
        addr,
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
        let response = client.get(url).send().await.expect("request sent");
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
