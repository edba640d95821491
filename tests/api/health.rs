//! `/healthz`, `/readyz` and `/metrics`.

use crate::helpers::spawn_app;

#[tokio::test]
async fn healthz_and_readyz_answer_ok_on_the_in_process_engine() {
    let app = spawn_app().await;
    for (path, status) in [("/healthz", "ok"), ("/readyz", "ready")] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["status"], status, "{path}");
    }
}

#[tokio::test]
async fn metrics_expose_the_open_stream_gauge() {
    let app = spawn_app().await;
    let text = app.metrics_text().await;
    assert!(text.contains("belfry_sse_open_streams 0"), "{text}");
    assert!(text.contains("belfry_tokio_alive_tasks"), "{text}");
    assert!(
        text.trim_end().ends_with("# EOF"),
        "OpenMetrics text ends with # EOF"
    );
}
