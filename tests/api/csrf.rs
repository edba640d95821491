//! Cross-site requests that would change state are refused before any
//! handler runs: 403 with the API's JSON error, and nothing stored.

use std::time::Duration;

use crate::helpers::{production_config, spawn_app_with, TestApp};

const WAIT: Duration = Duration::from_secs(5);

async fn send_to_self(app: &TestApp, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url("/api/inbox/send"))
        .header("cookie", app.cookie_for("alice"))
        .form(&[
            ("to", "alice"),
            ("kind", "info"),
            ("title", "Hello"),
            ("body", ""),
        ]);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

async fn titles_in_inbox(app: &TestApp) -> serde_json::Value {
    let mut stream = app.inbox_stream("alice", None).await;
    let snapshot = stream.next_event(WAIT).await.expect("snapshot");
    serde_json::Value::Array(
        snapshot.data["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["title"].clone())
            .collect(),
    )
}

#[tokio::test]
async fn a_foreign_origin_on_a_server_function_gets_403_and_nothing_is_stored() {
    let app = spawn_app_with(production_config()).await;
    let foreign = send_to_self(&app, &[("origin", "https://evil.example")]).await;
    assert_eq!(foreign.status(), 403);
    let body: serde_json::Value = foreign.json().await.unwrap();
    assert_eq!(body["error"]["code"], "forbidden");
    let sibling = send_to_self(
        &app,
        &[
            ("origin", "https://chat.example.com"),
            ("sec-fetch-site", "same-site"),
        ],
    )
    .await;
    assert_eq!(sibling.status(), 403, "a sibling subdomain is another site");
    let cross = send_to_self(&app, &[("sec-fetch-site", "cross-site")]).await;
    assert_eq!(cross.status(), 403);
    assert_eq!(titles_in_inbox(&app).await, serde_json::json!([]));

    let host = app.addr.to_string();
    let own = send_to_self(&app, &[("origin", &format!("http://{host}"))]).await;
    assert_eq!(own.status(), 200, "the site's own origin");
    let same = send_to_self(&app, &[("sec-fetch-site", "same-origin")]).await;
    assert_eq!(same.status(), 200);
    assert_eq!(
        titles_in_inbox(&app).await,
        serde_json::json!(["Hello", "Hello"])
    );
}

#[tokio::test]
async fn sign_in_and_sign_out_are_protected_too_and_listed_origins_pass() {
    let mut config = production_config();
    config.demo = true;
    config.allowed_origins = vec!["https://app.example.com".into()];
    let app = spawn_app_with(config).await;
    for path in ["/api/account/sign_in", "/api/account/sign_out"] {
        let refused = app
            .client
            .post(app.url(path))
            .header("origin", "https://evil.example")
            .form(&[("name", "mallory")])
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 403, "{path}");
        assert!(
            refused.headers().get("set-cookie").is_none(),
            "{path}: no cookie"
        );
    }
    let listed = app
        .client
        .post(app.url("/api/account/sign_in"))
        .header("origin", "https://app.example.com")
        .header("sec-fetch-site", "cross-site")
        .form(&[("name", "alice")])
        .send()
        .await
        .unwrap();
    assert!(
        listed.headers().get("set-cookie").is_some(),
        "a listed origin signs in"
    );
}

#[tokio::test]
async fn the_publishing_api_is_for_backends_and_ignores_origin() {
    let app = spawn_app_with(production_config()).await;
    let response = app
        .client
        .post(app.url("/api/notifications"))
        .bearer_auth(crate::helpers::PUBLISH_KEY)
        .header("origin", "https://backend.example")
        .json(&serde_json::json!({"to": "alice", "kind": "info", "title": "From a backend"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
}
