//! `POST /api/notifications`: the status matrix and what a 201 stores.

use serde_json::{json, Value};

use rstest::rstest;
use rstest_reuse::apply;

use crate::on_both_engines;

use crate::helpers::{spawn_app, spawn_app_with, spawn_on, test_config, EngineKind, PUBLISH_KEY};

fn valid() -> Value {
    json!({"to": "alice", "kind": "success", "title": "Deployed", "body": "v1.2 is live", "link": "/builds/7"})
}

async fn error_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("errors are JSON");
    (status, body["error"].clone())
}

#[apply(on_both_engines)]
#[tokio::test]
async fn a_valid_request_is_stored_and_answers_201_with_ids(#[case] engine: EngineKind) {
    let app = spawn_on(engine).await;
    let response = app.publish(valid()).await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    let ids = body["ids"].as_array().expect("ids");
    assert_eq!(ids.len(), 1);

    let alice = belfry::account::model::UserName::parse("alice").unwrap();
    let snapshot = app.state.inbox.snapshot(&alice).await.unwrap();
    assert_eq!(snapshot.unread, 1);
    assert_eq!(snapshot.notifications[0].id, ids[0].as_str().unwrap());
    assert_eq!(snapshot.notifications[0].title, "Deployed");
    assert_eq!(snapshot.notifications[0].link.as_deref(), Some("/builds/7"));
}

#[apply(on_both_engines)]
#[tokio::test]
async fn several_recipients_and_everyone(#[case] engine: EngineKind) {
    let app = spawn_on(engine).await;
    let mut many = valid();
    many["to"] = json!(["alice", "bob", "alice"]);
    let body: Value = app.publish(many).await.json().await.unwrap();
    assert_eq!(
        body["ids"].as_array().unwrap().len(),
        2,
        "duplicates are delivered once"
    );

    app.state
        .inbox
        .register(&belfry::account::model::UserName::parse("carol").unwrap())
        .await
        .unwrap();
    let mut everyone = valid();
    everyone["to"] = json!("*");
    let response = app.publish(everyone).await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["ids"].as_array().unwrap().len(),
        3,
        "alice, bob and carol are known"
    );
}

#[tokio::test]
async fn bad_fields_answer_400_naming_the_field() {
    let app = spawn_app().await;
    let cases: Vec<(Value, &str)> = vec![
        (json!({"to": "alice", "kind": "spam", "title": "t"}), "kind"),
        (json!({"to": "alice", "kind": "info"}), "title"),
        (json!({"to": "alice", "kind": "info", "title": ""}), "title"),
        (
            json!({"to": "alice", "kind": "info", "title": "x".repeat(121)}),
            "title",
        ),
        (
            json!({"to": "alice", "kind": "info", "title": "t", "body": "b".repeat(1001)}),
            "body",
        ),
        (
            json!({"to": "alice", "kind": "info", "title": "t", "link": "javascript:alert(1)"}),
            "link",
        ),
        (json!({"to": "al ice", "kind": "info", "title": "t"}), "to"),
        (json!({"to": [], "kind": "info", "title": "t"}), "to"),
        (json!({"kind": "info", "title": "t"}), "to"),
        (json!({"to": "alice", "kind": "info", "title": 5}), "title"),
    ];
    for (body, field) in cases {
        let (status, error) = error_of(app.publish(body.clone()).await).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(error["field"], field, "{body} -> {error}");
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let alice = belfry::account::model::UserName::parse("alice").unwrap();
    assert_eq!(
        app.state.inbox.snapshot(&alice).await.unwrap().unread,
        0,
        "nothing was stored"
    );
}

#[tokio::test]
async fn malformed_json_answers_400() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/api/notifications"))
        .bearer_auth(PUBLISH_KEY)
        .header("content-type", "application/json")
        .body("{\"to\": ")
        .send()
        .await
        .unwrap();
    let (status, error) = error_of(response).await;
    assert_eq!(status, 400);
    assert_eq!(error["code"], "invalid_request");
}

#[tokio::test]
async fn missing_and_wrong_keys_answer_401_and_403() {
    let app = spawn_app().await;
    let url = app.url("/api/notifications");
    let (status, _) = error_of(app.client.post(&url).json(&valid()).send().await.unwrap()).await;
    assert_eq!(status, 401);
    let (status, _) = error_of(
        app.client
            .post(&url)
            .bearer_auth("wrong")
            .json(&valid())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn non_json_answers_415_and_oversized_answers_413() {
    let app = spawn_app().await;
    let url = app.url("/api/notifications");
    let response = app
        .client
        .post(&url)
        .bearer_auth(PUBLISH_KEY)
        .header("content-type", "text/plain")
        .body(valid().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(response).await.0, 415);

    let mut huge = valid();
    huge["body"] = json!("b".repeat(17 * 1024));
    let (status, error) = error_of(app.publish(huge).await).await;
    assert_eq!(status, 413);
    assert_eq!(error["code"], "payload_too_large");
}

#[tokio::test]
async fn without_a_configured_key_the_api_answers_503_saying_how_to_enable_it() {
    let mut config = test_config();
    config.publish_key = None;
    let app = spawn_app_with(config).await;
    let (status, error) = error_of(app.publish(valid()).await).await;
    assert_eq!(status, 503);
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("BELFRY_PUBLISH_KEY"),
        "{error}"
    );
}

#[tokio::test]
async fn control_and_bidi_override_characters_get_400_naming_the_field_and_store_nothing() {
    let app = spawn_app().await;
    for (field, value) in [
        ("title", "Invoice \u{202E}fdp.exe"),
        ("title", "two\nlines"),
        ("body", "bell \u{7} rings"),
        ("body", "isolate \u{2067}x"),
    ] {
        let mut body = valid();
        body[field] = json!(value);
        let (status, error) = error_of(app.publish(body).await).await;
        assert_eq!(status, 400, "{value:?}");
        assert_eq!(error["field"], field, "{value:?}");
    }
    let alice = belfry::account::model::UserName::parse("alice").unwrap();
    let snapshot = app.state.inbox.snapshot(&alice).await.unwrap();
    assert!(snapshot.notifications.is_empty(), "nothing stored");
}
