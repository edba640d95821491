//! `/api/topics/*`: topics, their followers and the limits, over real HTTP
//! on both engines.

use reqwest::Method;
use serde_json::{json, Value};

use rstest::rstest;
use rstest_reuse::apply;

use crate::on_both_engines;

use crate::helpers::{spawn_on, spawn_on_with, test_config, EngineKind, TestApp, PUBLISH_KEY};

/// One API call with the publisher key: (status, JSON body or `null`).
async fn call(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = app
        .client
        .request(method, app.url(path))
        .bearer_auth(PUBLISH_KEY);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request sent");
    let status = response.status().as_u16();
    let text = response.text().await.expect("a body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).expect("JSON")
    };
    (status, body)
}

async fn create(app: &TestApp, key: &str, body: Value) -> (u16, Value) {
    call(app, Method::PUT, &format!("/api/topics/{key}"), Some(body)).await
}

async fn follow(app: &TestApp, key: &str, users: &[&str]) -> (u16, Value) {
    let path = format!("/api/topics/{key}/followers");
    call(app, Method::POST, &path, Some(json!({ "users": users }))).await
}

async fn unfollow(app: &TestApp, key: &str, users: &[&str]) -> (u16, Value) {
    let path = format!("/api/topics/{key}/followers");
    call(app, Method::DELETE, &path, Some(json!({ "users": users }))).await
}

async fn followers_of(app: &TestApp, key: &str) -> Vec<String> {
    let (mut all, mut cursor) = (Vec::new(), String::new());
    loop {
        let path = format!("/api/topics/{key}/followers?limit=2&cursor={cursor}");
        let (status, body) = call(app, Method::GET, &path, None).await;
        assert_eq!(status, 200, "{body}");
        all.extend(
            body["users"]
                .as_array()
                .unwrap()
                .iter()
                .map(|user| user.as_str().unwrap().to_owned()),
        );
        match body["next"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    all.sort();
    all
}

async fn topics_of(app: &TestApp, user: &str) -> Vec<String> {
    let (status, body) = call(app, Method::GET, &format!("/api/users/{user}/topics"), None).await;
    assert_eq!(status, 200, "{body}");
    body["topics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|topic| topic["key"].as_str().unwrap().to_owned())
        .collect()
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[apply(on_both_engines)]
#[tokio::test]
async fn a_topic_is_created_changed_listed_and_deleted(#[case] engine: EngineKind) {
    let app = spawn_on(engine).await;
    let (status, body) = create(&app, "deploys", json!({"name": "Deploys", "open": true})).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body,
        json!({"key": "deploys", "name": "Deploys", "description": "", "open": true, "required": false})
    );
    let (status, body) = create(
        &app,
        "deploys",
        json!({"name": "Deploys", "description": "Every release", "required": true}),
    )
    .await;
    assert_eq!(status, 200, "a second PUT changes it: {body}");
    let (status, body) = call(&app, Method::GET, "/api/topics/deploys", None).await;
    assert_eq!(status, 200);
    assert_eq!(body["description"], "Every release");
    assert_eq!(
        (body["open"].clone(), body["required"].clone()),
        (json!(false), json!(true))
    );

    for key in ["billing", "project:42", "security"] {
        assert_eq!(create(&app, key, json!({"name": key})).await.0, 201);
    }
    let (mut listed, mut cursor) = (Vec::new(), String::new());
    loop {
        let path = format!("/api/topics?limit=2&cursor={cursor}");
        let (status, body) = call(&app, Method::GET, &path, None).await;
        assert_eq!(status, 200, "{body}");
        for topic in body["topics"].as_array().unwrap() {
            listed.push(topic["key"].as_str().unwrap().to_owned());
        }
        match body["next"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    listed.sort();
    assert_eq!(listed, ["billing", "deploys", "project:42", "security"]);

    assert_eq!(follow(&app, "deploys", &["alice"]).await.0, 200);
    let (status, _) = call(&app, Method::DELETE, "/api/topics/deploys", None).await;
    assert_eq!(status, 204);
    let (status, body) = call(&app, Method::GET, "/api/topics/deploys", None).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (404, json!("not_found"))
    );
    let (status, _) = call(&app, Method::DELETE, "/api/topics/deploys", None).await;
    assert_eq!(status, 404, "deleting twice");
    assert!(
        topics_of(&app, "alice").await.is_empty(),
        "the follow went with it"
    );

    // The same key again is a new topic: nobody follows it yet.
    assert_eq!(
        create(&app, "deploys", json!({"name": "Deploys"})).await.0,
        201
    );
    assert!(followers_of(&app, "deploys").await.is_empty());
    assert!(topics_of(&app, "alice").await.is_empty());
}

#[apply(on_both_engines)]
#[tokio::test]
async fn followers_are_added_and_removed_in_batches_and_listed_both_ways(
    #[case] engine: EngineKind,
) {
    let app = spawn_on(engine).await;
    create(&app, "deploys", json!({"name": "Deploys"})).await;
    create(
        &app,
        "billing",
        json!({"name": "Billing", "required": true}),
    )
    .await;

    let (status, body) = follow(&app, "deploys", &["alice", "bob", "alice"]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"added": ["alice", "bob"], "already": []}));
    let (_, body) = follow(&app, "deploys", &["bob", "carol", "dave"]).await;
    assert_eq!(
        body,
        json!({"added": ["carol", "dave"], "already": ["bob"]}),
        "following twice is reported, not an error"
    );
    follow(&app, "billing", &["alice"]).await;
    assert_eq!(
        followers_of(&app, "deploys").await,
        names(&["alice", "bob", "carol", "dave"])
    );
    let mut alice = topics_of(&app, "alice").await;
    alice.sort();
    assert_eq!(alice, ["billing", "deploys"]);

    let (status, body) = unfollow(&app, "deploys", &["bob", "erin"]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"removed": ["bob"], "not_following": ["erin"]}));
    let (_, body) = unfollow(&app, "billing", &["alice"]).await;
    assert_eq!(
        body["removed"],
        json!(["alice"]),
        "a backend may remove a follower of a required topic"
    );
    assert_eq!(
        followers_of(&app, "deploys").await,
        names(&["alice", "carol", "dave"])
    );
    assert!(topics_of(&app, "bob").await.is_empty());

    let metrics = app.metrics_text().await;
    let line = |wanted: &str| metrics.lines().any(|line| line == wanted);
    assert!(line("belfry_topic_followers_added_total 5"), "{metrics}");
    assert!(line("belfry_topic_followers_removed_total 2"), "{metrics}");
}

#[apply(on_both_engines)]
#[tokio::test]
async fn bad_input_is_a_clear_answer_and_changes_nothing(#[case] engine: EngineKind) {
    let app = spawn_on(engine).await;
    create(&app, "deploys", json!({"name": "Deploys"})).await;
    follow(&app, "deploys", &["alice"]).await;

    let field = |body: &Value| {
        body["error"]["field"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    for (key, body) in [
        ("Deploys", json!({"name": "x"})),
        ("with%20space", json!({"name": "x"})),
        (&"k".repeat(65), json!({"name": "x"})),
    ] {
        let (status, answer) = create(&app, key, body).await;
        assert_eq!(
            (status, field(&answer)),
            (400, "key".to_owned()),
            "{key}: {answer}"
        );
    }
    let (status, answer) = create(&app, "ok", json!({"name": ""})).await;
    assert_eq!((status, field(&answer)), (400, "name".to_owned()));
    let (status, answer) = create(&app, "ok", json!({"name": "x", "colour": "red"})).await;
    assert_eq!(status, 400, "unknown fields are refused: {answer}");
    assert_eq!(
        call(&app, Method::GET, "/api/topics/ok", None).await.0,
        404,
        "nothing was created"
    );

    let (status, answer) = follow(&app, "nope", &["alice"]).await;
    assert_eq!(
        (status, answer["error"]["code"].clone()),
        (404, json!("not_found")),
        "adding to a topic that does not exist is not a silent creation"
    );
    assert_eq!(
        call(&app, Method::GET, "/api/topics/nope", None).await.0,
        404
    );
    let (status, answer) = follow(&app, "deploys", &["bob", "not ok"]).await;
    assert_eq!((status, field(&answer)), (400, "users[1]".to_owned()));
    let (status, answer) = follow(&app, "deploys", &[]).await;
    assert_eq!((status, field(&answer)), (400, "users".to_owned()));
    let many: Vec<String> = (0..1001).map(|n| format!("u{n}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let (status, answer) = follow(&app, "deploys", &many).await;
    assert_eq!((status, field(&answer)), (400, "users".to_owned()));
    assert_eq!(followers_of(&app, "deploys").await, names(&["alice"]));

    let (status, answer) = unfollow(&app, "nope", &["alice"]).await;
    assert_eq!(status, 404, "{answer}");
    let (status, answer) = call(&app, Method::GET, "/api/topics?limit=0", None).await;
    assert_eq!((status, field(&answer)), (400, "limit".to_owned()));
    let (status, answer) = call(
        &app,
        Method::GET,
        "/api/topics/deploys/followers?cursor=xyz",
        None,
    )
    .await;
    if engine == EngineKind::Redis {
        assert_eq!((status, field(&answer)), (400, "cursor".to_owned()));
    }
    let (status, answer) = call(&app, Method::GET, "/api/users/not%20ok/topics", None).await;
    assert_eq!((status, field(&answer)), (400, "user".to_owned()));

    let anonymous = app
        .client
        .put(app.url("/api/topics/deploys"))
        .json(&json!({"name": "taken over"}))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let (_, topic) = call(&app, Method::GET, "/api/topics/deploys", None).await;
    assert_eq!(topic["name"], "Deploys");
}

#[apply(on_both_engines)]
#[tokio::test]
async fn past_a_limit_nothing_is_half_done(#[case] engine: EngineKind) {
    let mut config = test_config();
    config.max_topics_per_user = 2;
    config.max_topics = 3;
    let app = spawn_on_with(engine, config).await;
    for key in ["a", "b", "c"] {
        assert_eq!(create(&app, key, json!({"name": key})).await.0, 201);
    }
    let (status, answer) = create(&app, "d", json!({"name": "d"})).await;
    assert_eq!(
        (status, answer["error"]["code"].clone()),
        (409, json!("limit_reached")),
        "{answer}"
    );
    assert_eq!(
        create(&app, "a", json!({"name": "A"})).await.0,
        200,
        "changing one is fine"
    );

    follow(&app, "a", &["alice", "bob"]).await;
    follow(&app, "b", &["alice"]).await;
    // alice is at her limit: nobody of this call is added, bob included.
    let (status, answer) = follow(&app, "c", &["bob", "alice"]).await;
    assert_eq!(
        (status, answer["error"]["code"].clone()),
        (409, json!("limit_reached")),
        "{answer}"
    );
    assert!(answer["error"]["message"]
        .as_str()
        .unwrap()
        .contains("alice"));
    assert!(followers_of(&app, "c").await.is_empty());
    assert_eq!(topics_of(&app, "bob").await, ["a"]);

    // A deleted topic frees its place.
    call(&app, Method::DELETE, "/api/topics/b", None).await;
    let (status, answer) = follow(&app, "c", &["bob", "alice"]).await;
    assert_eq!(status, 200, "{answer}");
    let mut alice = topics_of(&app, "alice").await;
    alice.sort();
    assert_eq!(alice, ["a", "c"]);
    assert_eq!(create(&app, "d", json!({"name": "d"})).await.0, 201);
}

#[apply(on_both_engines)]
#[tokio::test]
async fn users_follow_open_topics_and_leave_those_not_required_themselves(
    #[case] engine: EngineKind,
) {
    let app = spawn_on(engine).await;
    create(&app, "deploys", json!({"name": "Deploys", "open": true})).await;
    create(&app, "billing", json!({"name": "Billing"})).await;
    create(
        &app,
        "security",
        json!({"name": "Security", "required": true, "open": true}),
    )
    .await;
    let own = |path: &'static str, key: &'static str| {
        let app = &app;
        async move {
            app.server_fn(path, Some("alice"), &[("key", key)])
                .await
                .status()
                .as_u16()
        }
    };
    let follow = "/api/topics/_follow";
    let leave = "/api/topics/_leave";
    let done = |status: u16| (200..400).contains(&status);
    assert!(done(own(follow, "deploys").await));
    assert!(
        done(own(follow, "deploys").await),
        "following twice changes nothing"
    );
    assert!(done(own(follow, "security").await));
    assert_eq!(
        own(follow, "billing").await,
        404,
        "a closed topic is for backends to hand out, and not to be probed for"
    );
    assert_eq!(own(follow, "nope").await, 404);
    assert_eq!(own(follow, "Not A Key").await, 400);
    assert_eq!(
        own(leave, "security").await,
        403,
        "a required topic cannot be left"
    );
    let mut alice = topics_of(&app, "alice").await;
    alice.sort();
    assert_eq!(alice, ["deploys", "security"]);
    assert_eq!(followers_of(&app, "deploys").await, names(&["alice"]));

    assert!(done(own(leave, "deploys").await));
    assert!(
        done(own(leave, "deploys").await),
        "leaving one never followed changes nothing"
    );
    assert_eq!(topics_of(&app, "alice").await, ["security"]);
    assert!(followers_of(&app, "deploys").await.is_empty());

    let anonymous = app.server_fn(follow, None, &[("key", "deploys")]).await;
    assert_eq!(anonymous.status(), 401);
    let page = app
        .get_with_cookie("/topics", &app.cookie_for("alice"))
        .await;
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"data-key="deploys""#) && html.contains(r#"data-key="security""#));
    assert!(
        !html.contains(r#"data-key="billing""#),
        "a closed topic alice does not follow is not offered"
    );

    create(&app, "deploys", json!({"name": "Deploys"})).await;
    let page = app
        .get_with_cookie("/topics", &app.cookie_for("alice"))
        .await;
    let html = page.text().await.unwrap();
    assert!(
        !html.contains(r#"data-key="deploys""#),
        "closed since: no longer offered"
    );
    assert_eq!(own(follow, "deploys").await, 404);
}

#[tokio::test]
async fn following_and_leaving_count_as_feed_changes() {
    let mut config = test_config();
    config.feed_change_rate_per_min = 2;
    let app = spawn_on_with(EngineKind::Memory, config).await;
    create(&app, "deploys", json!({"name": "Deploys", "open": true})).await;
    let own = |path: &'static str| app.server_fn(path, Some("alice"), &[("key", "deploys")]);
    assert!(own("/api/topics/_follow").await.status().is_success());
    assert!(own("/api/topics/_leave").await.status().is_success());
    let refused = own("/api/topics/_follow").await;
    assert_eq!(refused.status(), 429);
    assert!(
        topics_of(&app, "alice").await.is_empty(),
        "the refused follow changed nothing"
    );
}

#[tokio::test]
async fn at_the_in_process_bound_on_set_members_nobody_is_added() {
    let mut config = test_config();
    config.memory_max_set_members = 2;
    let app = spawn_on_with(EngineKind::Memory, config).await;
    create(&app, "deploys", json!({"name": "Deploys"})).await;
    let (status, answer) = follow(&app, "deploys", &["alice", "bob", "carol"]).await;
    assert_eq!(
        (status, answer["error"]["code"].clone()),
        (507, json!("storage_full")),
        "{answer}"
    );
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("followers"),
        "the bound is named: {answer}"
    );
    for user in ["alice", "bob", "carol"] {
        assert!(
            topics_of(&app, user).await.is_empty(),
            "{user} follows nothing"
        );
    }
    assert!(followers_of(&app, "deploys").await.is_empty());
    assert_eq!(follow(&app, "deploys", &["alice", "bob"]).await.0, 200);
}
