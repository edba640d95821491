//! Production by default, the demo a switch: without demo mode nobody signs
//! in by name and the browser cannot write into another user's inbox.

use std::time::Duration;

use crate::helpers::{production_config, spawn_app, spawn_app_with};

const WAIT: Duration = Duration::from_secs(5);

#[tokio::test]
async fn by_default_sign_in_offers_no_form_and_refuses_names() {
    let app = spawn_app_with(production_config()).await;
    let page = app.client.get(app.url("/sign-in")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(!html.contains("Display name"), "no sign-in form");
    assert!(!html.contains("name=\"name\""), "no name field");
    assert!(
        html.contains("Sign in there"),
        "it explains where to sign in"
    );

    let refused = app
        .server_fn("/api/account/sign_in", None, &[("name", "mallory")])
        .await;
    assert_eq!(refused.status(), 403);
    assert!(
        refused
            .headers()
            .get_all("set-cookie")
            .iter()
            .all(|cookie| !cookie.to_str().unwrap().starts_with("belfry_session=e")),
        "no session was issued"
    );
}

#[tokio::test]
async fn by_default_a_cross_user_send_answers_403_and_stores_nothing() {
    let app = spawn_app_with(production_config()).await;
    let refused = app
        .server_fn(
            "/api/inbox/send",
            Some("mallory"),
            &[
                ("to", "alice"),
                ("kind", "info"),
                ("title", "Gotcha"),
                ("body", ""),
            ],
        )
        .await;
    assert_eq!(refused.status(), 403);
    let mut alice = app.inbox_stream("alice", None).await;
    let snapshot = alice.next_event(WAIT).await.expect("snapshot");
    assert_eq!(snapshot.event, "snapshot");
    assert_eq!(
        snapshot.data["notifications"],
        serde_json::json!([]),
        "nothing stored"
    );

    let to_self = app
        .server_fn(
            "/api/inbox/send",
            Some("alice"),
            &[
                ("to", "alice"),
                ("kind", "info"),
                ("title", "Note to self"),
                ("body", ""),
            ],
        )
        .await;
    assert_eq!(to_self.status(), 200, "sending to yourself still works");
    let arrived = alice.next_event(WAIT).await.expect("a notification");
    assert_eq!(arrived.data["title"], "Note to self");
}

#[tokio::test]
async fn demo_mode_keeps_sign_in_by_name_and_sending_to_others() {
    let app = spawn_app().await;
    let html = app.client.get(app.url("/sign-in")).send().await.unwrap();
    let html = html.text().await.unwrap();
    assert!(html.contains("name=\"name\""), "{html}");
    let signed_in = app
        .server_fn("/api/account/sign_in", None, &[("name", "alice")])
        .await;
    assert!(signed_in.status().is_success() || signed_in.status().is_redirection());
    let sent = app
        .server_fn(
            "/api/inbox/send",
            Some("bob"),
            &[
                ("to", "alice"),
                ("kind", "info"),
                ("title", "Hi"),
                ("body", ""),
            ],
        )
        .await;
    assert_eq!(sent.status(), 200);
}
