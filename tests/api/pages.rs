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
