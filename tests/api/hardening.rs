//! What an anonymous client, or one signed-in user, could cost an operator
//! before the hardening issue, each turned into a test (docs/security.md,
//! "What a caller can cost"): feed changes that wrote to the engine and
//! evicted inboxes, labels of any size in `/metrics`, every stream slot
//! taken by anonymous streams, a bound that failed every new user, and a
//! far-future token that panicked its request.

use std::time::Duration;

use belfry::account::model::UserName;
use belfry::server::auth::token::Claims;
use serde_json::{json, Value};

use crate::helpers::{
    production_config, spawn_app_with, spawn_on_with, test_config, EngineKind, SseReader, TestApp,
};
use rstest::rstest;
use rstest_reuse::apply;

use crate::on_both_engines;

const WAIT: Duration = Duration::from_secs(10);

fn random_hex(len: usize) -> String {
    let mut bytes = vec![0u8; len.div_ceil(2)];
    getrandom::fill(&mut bytes).unwrap();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    hex[..len].to_owned()
}

async fn unread(app: &TestApp, user: &str) -> u32 {
    let user = UserName::parse(user).unwrap();
    app.state.inbox.snapshot(&user).await.unwrap().unread
}

/// Anonymous `POST /api/feeds/<another instance's id>` used to be forwarded
/// through the engine whatever the id: each one a new channel (in-process,
/// evicting offline users' inboxes at the table's bound) or a Redis key
/// that never expired. Now only an instance that announced itself is
/// forwarded to; anything else is a 404 that writes nothing.
#[apply(on_both_engines)]
#[tokio::test]
async fn feed_changes_for_instances_that_are_not_alive_are_404_and_write_nothing(
    #[case] engine: EngineKind,
) {
    let mut config = test_config();
    // A small bound per kind, to show that no flood reaches it.
    config.memory_max_per_kind = 20;
    let app = spawn_on_with(engine, config).await;
    app.notify("alice", "kept").await;
    assert_eq!(unread(&app, "alice").await, 1);
    let metrics_before = app.metrics_text().await;

    let long_id = format!("{}.{}", random_hex(12), "f".repeat(10_000));
    for n in 0..200 {
        let stream = match n % 4 {
            0 => long_id.clone(),
            1 => format!("{}.{}", random_hex(12), random_hex(30)),
            _ => format!("{}.{}", random_hex(12), random_hex(32)),
        };
        let response = app
            .client
            .post(app.url(&format!("/api/feeds/{stream}")))
            .json(&json!({"subscribe": [{"feed": "clock"}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{n}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found");
    }

    assert_eq!(unread(&app, "alice").await, 1, "alice's inbox is intact");
    match &app.redis {
        Some(redis) => {
            // A raw RESP array: `*<n>`, then `$<len>` and the key for each.
            let keys = redis
                .command(&["KEYS", "belfry:*:feeds"])
                .unwrap_or_default();
            let instance = app.state.feed_streams.instance().to_owned();
            let names: Vec<&str> = keys
                .lines()
                .filter(|line| line.starts_with("belfry:"))
                .collect();
            assert_eq!(
                names,
                [format!("belfry:{{{instance}:alive}}:feeds")],
                "only this instance's own announcement: {keys:?}"
            );
        }
        None => {
            let stored = |text: &str| {
                text.lines()
                    .find(|line| line.starts_with("belfry_engine_stored{kind=\"feed channels\"}"))
                    .map(str::to_owned)
            };
            assert_eq!(
                stored(&app.metrics_text().await),
                stored(&metrics_before),
                "no feed channel was created"
            );
        }
    }
}

#[tokio::test]
async fn feed_changes_are_rate_limited_per_session() {
    let mut config = production_config();
    config.demo = true;
    config.feed_change_rate_per_min = 3;
    let app = spawn_app_with(config).await;
    let stream = format!("{}.{}", random_hex(12), random_hex(32));
    let change = || {
        app.client
            .post(app.url(&format!("/api/feeds/{stream}")))
            .header("cookie", app.cookie_for("alice"))
            .json(&json!({}))
            .send()
    };
    for _ in 0..3 {
        assert_eq!(change().await.unwrap().status(), 404);
    }
    let refused = change().await.unwrap();
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
}

/// At the in-process engine's bound on a kind, what is new is refused with
/// a 507 naming the kind, and nothing stored goes; a new user's inbox still
/// opens (it stores nothing until something is sent), and the users set
/// filling up is a warning, not a failure.
#[tokio::test]
async fn at_a_bound_the_new_is_refused_and_nothing_stored_is_dropped() {
    let mut config = test_config();
    config.memory_max_per_kind = 3;
    config.memory_max_set_members = 2;
    let app = spawn_app_with(config).await;
    for user in ["ann", "ben", "cat"] {
        app.notify(user, "hello").await;
    }
    let refused = app
        .publish(json!({"to": "dan", "kind": "info", "title": "no room", "body": ""}))
        .await;
    assert_eq!(refused.status(), 507);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "storage_full");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("inboxes"),
        "{body}"
    );
    for user in ["ann", "ben", "cat"] {
        assert_eq!(unread(&app, user).await, 1, "{user}'s inbox is kept");
    }
    app.notify("ann", "more for a stored inbox").await;

    // A user the engine has no room for still opens an inbox.
    // (The reader asserts the 200.)
    let mut dan = app.inbox_stream("dan", None).await;
    let opening = dan.next_event(WAIT).await.expect("a snapshot");
    assert_eq!(opening.event, "snapshot");
    let metrics = app.metrics_text().await;
    assert!(
        metrics.contains("belfry_engine_stored{kind=\"inboxes\"} 3"),
        "{metrics}"
    );
    assert!(metrics.contains("belfry_engine_bound{kind=\"inboxes\"} 3"));
    assert!(metrics.contains("belfry_engine_publishes_total{outcome=\"full\"}"));
}

/// 2,000 requests with made-up 50 KB methods once grew `/metrics` to 100 MB:
/// a method outside the standard nine is `other`, an unmatched path
/// `fallback`.
#[tokio::test]
async fn made_up_methods_and_paths_share_one_label() {
    let app = spawn_app_with(test_config()).await;
    let request_series = |text: &str| -> std::collections::BTreeSet<String> {
        text.lines()
            .filter(|line| line.starts_with("belfry_http_requests_total{"))
            .filter_map(|line| line.rsplit_once(' ').map(|(series, _)| series.to_owned()))
            .collect()
    };
    // The scrape's own series exist from the first scrape on.
    app.metrics_text().await;
    let mut series_halfway = std::collections::BTreeSet::new();
    for n in 0..100 {
        if n == 50 {
            series_halfway = request_series(&app.metrics_text().await);
        }
        let method = format!("M{}{n}", "X".repeat(5_000));
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let response = app
            .client
            .request(method, app.url(&format!("/made/up/{}", random_hex(32))))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_client_error(), "{}", response.status());
        app.client
            .request(
                reqwest::Method::from_bytes(format!("Q{n}").as_bytes()).unwrap(),
                app.url("/healthz"),
            )
            .send()
            .await
            .unwrap();
    }
    let metrics = app.metrics_text().await;
    assert!(!metrics.contains("XXXX"), "no raw method in a label");
    assert!(!metrics.contains("made/up"), "no raw path in a label");
    assert!(metrics.contains("method=\"other\""));
    // Each series is a (method, route, status) label set: 50 more made-up
    // requests may at most meet a status not seen before, never add a
    // series per request.
    let series = request_series(&metrics);
    let added: Vec<&String> = series.difference(&series_halfway).collect();
    assert!(
        added.len() <= 2,
        "50 more made-up requests added series {added:?}"
    );
    assert!(series.len() <= 12, "{series:?}");
}

/// The access log names a request by its route template: a task's id, a
/// stream's feeds and positions (capabilities) never reach it. Read from
/// the binary's own stderr, as an operator's log collector would.
#[tokio::test]
async fn the_access_log_prints_route_templates_not_task_ids() {
    let port = crate::redis_server::free_port();
    let log_path = std::env::temp_dir().join(format!("belfry-access-{}.log", std::process::id()));
    let log_file = std::fs::File::create(&log_path).unwrap();
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_belfry"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("REDIS_URL")
        .env("BELFRY_ADDR", format!("127.0.0.1:{port}"))
        .env("BELFRY_DEMO", "1")
        .env("BELFRY_LOG", "info")
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(log_file)
        .spawn()
        .expect("the binary runs");
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let mut up = false;
    for _ in 0..200 {
        if client.get(format!("{base}/healthz")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let secret_task = random_hex(32);
    let secret_position = format!("task:{}@1-0", random_hex(32));
    for path in [
        format!("/api/sse/tasks/{secret_task}"),
        format!("/api/tasks/{secret_task}"),
        format!("/api/sse/feeds?feeds={secret_position}"),
    ] {
        let _ = client.get(format!("{base}{path}")).send().await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = server.kill();
    let _ = server.wait();
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    let _ = std::fs::remove_file(&log_path);
    assert!(up, "the binary answered /healthz: {log}");
    assert!(log.contains("route=/api/sse/tasks/{id}"), "{log}");
    assert!(log.contains("route=/api/tasks/{id}"), "{log}");
    assert!(log.contains("route=/api/sse/feeds"), "{log}");
    assert!(
        !log.contains(&secret_task),
        "a task id reached the log: {log}"
    );
    assert!(!log.contains(&secret_position[5..]), "{log}");
}

/// One client holding 100 anonymous streams on a `BELFRY_MAX_STREAMS=100`
/// instance used to lock alice out of her inbox. Anonymous streams now draw
/// on a budget of their own, and each address on a per-address limit.
#[tokio::test]
async fn anonymous_streams_never_take_alices_place() {
    let mut config = production_config();
    config.client_ip_header = Some("X-Real-IP".into());
    config.max_streams = 100;
    config.max_anonymous_streams = 100;
    config.max_streams_per_ip = 60;
    let app = spawn_app_with(config).await;
    let clock = |from: &'static str| {
        app.client
            .get(app.url("/api/sse/clock"))
            .header("x-real-ip", from)
            .send()
    };
    let mut held = Vec::new();
    for _ in 0..60 {
        let response = clock("203.0.113.9").await.unwrap();
        assert_eq!(response.status(), 200);
        held.push(response);
    }
    let refused = clock("203.0.113.9").await.unwrap();
    assert_eq!(refused.status(), 429, "the address's limit");
    let body: Value = refused.json().await.unwrap();
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("address"));
    for _ in 0..40 {
        let response = clock("203.0.113.10").await.unwrap();
        assert_eq!(response.status(), 200);
        held.push(response);
    }
    let refused = clock("203.0.113.11").await.unwrap();
    assert_eq!(refused.status(), 429, "the anonymous budget is spent");

    let alice = app
        .client
        .get(app.url("/api/sse/inbox"))
        .header("x-real-ip", "198.51.100.7")
        .header("cookie", app.cookie_for("alice"))
        .send()
        .await
        .unwrap();
    assert_eq!(alice.status(), 200, "alice's inbox opens");
    let mut alice = SseReader::from_response(alice);
    assert_eq!(alice.next_event(WAIT).await.unwrap().event, "snapshot");
}

/// Hosts mint "never expires" tokens with `exp` near `i64::MAX`; that used
/// to overflow a timer and panic the request (an empty reply).
#[tokio::test]
async fn a_token_that_never_expires_is_served() {
    let app = spawn_app_with(production_config()).await;
    let token = app.state.sessions.keys.mint_claims(&Claims {
        sub: "alice".into(),
        exp: 9_223_372_036_854_775_807,
        ..Claims::default()
    });
    let cookie = format!("belfry_session={token}");
    let stream = app.get_with_cookie("/api/sse/inbox", &cookie).await;
    let mut stream = SseReader::from_response(stream);
    assert_eq!(stream.next_event(WAIT).await.unwrap().event, "snapshot");
    let page = app.get_with_cookie("/notifications", &cookie).await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("alice"));
}

/// Starting tasks and simulating activity fan out to everyone watching, so
/// they draw on the user's UI budget, as dashboard sends do; task names
/// follow the rules titles follow.
#[tokio::test]
async fn tasks_and_simulated_activity_share_the_users_ui_budget() {
    let mut config = production_config();
    config.demo = true;
    config.send_rate_per_min = 3;
    let app = spawn_app_with(config).await;
    let app = &app;
    let start = |name: &'static str| async move {
        app.server_fn(
            "/api/tasks/start",
            Some("alice"),
            &[("name", name), ("fail", "false")],
        )
        .await
    };
    let refused = start("deploy\u{202E}gpj.exe").await;
    assert_eq!(refused.status(), 400, "a bidi override in a task name");
    assert!(refused.text().await.unwrap().contains("bidi"));
    assert_eq!(start("one").await.status(), 200);
    assert_eq!(
        app.server_fn("/api/activity/simulate", Some("alice"), &[])
            .await
            .status(),
        200
    );
    let refused = start("three").await;
    assert_eq!(refused.status(), 429, "the third in a minute");
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(
        app.server_fn("/api/activity/simulate", Some("alice"), &[])
            .await
            .status(),
        429
    );
    assert_eq!(start("four").await.status(), 429, "still alice");
}

/// Publisher keys cannot be guessed at full speed: past ten wrong keys a
/// minute, an address gets 429 before its key is even checked (so even
/// the right key would not tell it so); other addresses are unaffected.
#[tokio::test]
async fn wrong_publisher_keys_lock_the_guessing_address_out() {
    let mut config = production_config();
    config.client_ip_header = Some("X-Real-IP".into());
    let app = spawn_app_with(config).await;
    let publish = |key: &'static str, from: &'static str| {
        app.client
            .post(app.url("/api/notifications"))
            .bearer_auth(key)
            .header("x-real-ip", from)
            .json(&json!({"to": "alice", "kind": "info", "title": "t", "body": ""}))
            .send()
    };
    for _ in 0..10 {
        assert_eq!(publish("guess", "203.0.113.9").await.unwrap().status(), 403);
    }
    let refused = publish(crate::helpers::PUBLISH_KEY, "203.0.113.9")
        .await
        .unwrap();
    assert_eq!(refused.status(), 429, "refused before the key is checked");
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(
        publish(crate::helpers::PUBLISH_KEY, "198.51.100.7")
            .await
            .unwrap()
            .status(),
        201,
        "the backend's own address publishes"
    );
}
