//! Server-side rendering: pages arrive complete before any script runs.

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_home_page_is_rendered_on_the_server() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    for expected in [
        "<title>Belfry · Live clock</title>",
        "Server time",
        "href=\"/notifications\"",
        "href=\"/progress\"",
        "href=\"/activity\"",
        "/pkg/belfry.css",
        "/pkg/belfry.js",
    ] {
        assert!(html.contains(expected), "missing {expected:?} in:\n{html}");
    }
}

#[tokio::test]
async fn unknown_paths_answer_404_with_a_page() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/no-such-page"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert!(response.text().await.unwrap().contains("Page not found"));
}

#[tokio::test]
async fn pages_are_compressed_for_clients_that_accept_it_and_streams_are_not() {
    let app = crate::helpers::spawn_app().await;
    let page = app
        .client
        .get(app.url("/"))
        .header("accept-encoding", "br, gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["content-encoding"], "br");
    let plain = app.client.get(app.url("/")).send().await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());

    let stream = app
        .client
        .get(app.url("/api/sse/clock"))
        .header("accept-encoding", "br, gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    assert!(
        stream.headers().get("content-encoding").is_none(),
        "an event stream is never compressed: frames must leave at once"
    );
}
