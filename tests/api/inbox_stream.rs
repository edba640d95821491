//! `GET /api/sse/inbox`: snapshot, live, replay, isolation.

use std::time::Duration;

use belfry::account::model::UserName;

use rstest::rstest;
use rstest_reuse::apply;

use crate::on_both_engines;

use crate::helpers::{spawn_on, EngineKind};

const WAIT: Duration = Duration::from_secs(5);

fn user(name: &str) -> UserName {
    UserName::parse(name).unwrap()
}

#[apply(on_both_engines)]
#[tokio::test]
async fn without_a_session_the_stream_answers_401_json(#[case] engine: EngineKind) {
    let app = spawn_on(engine).await;
    let response = app
        .client
        .get(app.url("/api/sse/inbox"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");

    let forged = app
        .client
        .get(app.url("/api/sse/inbox"))
        .header(
            "cookie",
            "belfry_session=eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
}

#[apply(on_both_engines)]
#[tokio::test]
async fn a_fresh_connection_gets_a_snapshot_then_live_notifications(#[case] engine: EngineKind) {
    let app = spawn_on(engine).await;
    let first = app.notify("alice", "one").await;
    let second = app.notify("alice", "two").await;

    let mut stream = app.inbox_stream("alice", None).await;
    let snapshot = stream.next_event(WAIT).await.expect("snapshot");
    assert_eq!(snapshot.event, "snapshot");
    assert_eq!(
        snapshot.id.as_deref(),
        Some(second.as_str()),
        "the snapshot carries the newest id"
    );
    assert_eq!(snapshot.data["unread"], 2);
    let titles: Vec<&str> = snapshot.data["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["two", "one"], "newest first");
    assert_eq!(snapshot.data["notifications"][1]["id"], first.as_str());

    let third = app.notify("alice", "three").await;
    let live = stream.next_event(WAIT).await.expect("live notification");
    assert_eq!(live.event, "notification");
    assert_eq!(live.id.as_deref(), Some(third.as_str()));
    assert_eq!(live.data["title"], "three");
    assert_eq!(live.data["kind"], "info");
}

#[apply(on_both_engines)]
#[tokio::test]
async fn reconnecting_with_last_event_id_replays_exactly_what_was_missed(
    #[case] engine: EngineKind,
) {
    let app = spawn_on(engine).await;
    app.notify("alice", "before").await;
    let mut stream = app.inbox_stream("alice", None).await;
    let snapshot = stream.next_event(WAIT).await.unwrap();
    let last_seen = snapshot.id.clone().unwrap();
    drop(stream);

    let missed = [
        app.notify("alice", "m1").await,
        app.notify("alice", "m2").await,
    ];
    let mut resumed = app.inbox_stream("alice", Some(&last_seen)).await;
    for (id, title) in missed.iter().zip(["m1", "m2"]) {
        let event = resumed.next_event(WAIT).await.unwrap();
        assert_eq!(event.event, "notification");
        assert_eq!(event.id.as_deref(), Some(id.as_str()));
        assert_eq!(event.data["title"], title);
    }
    let read = resumed.next_event(WAIT).await.unwrap();
    assert_eq!(read.event, "read", "then the current read state");
    assert_eq!(read.id, None);
    let unread = resumed.next_event(WAIT).await.unwrap();
    assert_eq!(unread.event, "unread");
    assert_eq!(unread.data["unread"], 3);
    assert_eq!(unread.data["as_of"], missed[1].as_str());

    let live = app.notify("alice", "live").await;
    let event = resumed.next_event(WAIT).await.unwrap();
    assert_eq!(
        event.id.as_deref(),
        Some(live.as_str()),
        "then live, nothing repeated"
    );
}

#[apply(on_both_engines)]
#[tokio::test]
async fn the_query_parameter_resumes_like_the_header(#[case] engine: EngineKind) {
    let app = spawn_on(engine).await;
    let seen = app.notify("alice", "seen").await;
    let missed = app.notify("alice", "missed").await;
    let response = app
        .client
        .get(app.url(&format!("/api/sse/inbox?last_event_id={seen}")))
        .header("cookie", app.cookie_for("alice"))
        .send()
        .await
        .unwrap();
    let mut stream = crate::helpers::SseReader::from_response(response);
    let event = stream.next_event(WAIT).await.unwrap();
    assert_eq!(event.event, "notification");
    assert_eq!(event.id.as_deref(), Some(missed.as_str()));
}

#[apply(on_both_engines)]
#[tokio::test]
async fn an_unknown_or_trimmed_id_gets_a_fresh_snapshot(#[case] engine: EngineKind) {
    let app = spawn_on(engine).await;
    app.notify("alice", "only").await;
    let mut stream = app.inbox_stream("alice", Some("1-0")).await;
    let event = stream.next_event(WAIT).await.unwrap();
    assert_eq!(event.event, "snapshot");
    assert_eq!(event.data["unread"], 1);
}

#[apply(on_both_engines)]
#[tokio::test]
async fn read_marks_reach_every_open_stream_with_the_exact_count(#[case] engine: EngineKind) {
    let app = spawn_on(engine).await;
    let first = app.notify("alice", "a").await;
    app.notify("alice", "b").await;
    let mut tab_one = app.inbox_stream("alice", None).await;
    let mut tab_two = app.inbox_stream("alice", None).await;
    tab_one.next_event(WAIT).await.unwrap();
    tab_two.next_event(WAIT).await.unwrap();

    app.state
        .inbox
        .mark_read(&user("alice"), &first)
        .await
        .unwrap();
    for tab in [&mut tab_one, &mut tab_two] {
        let read = tab.next_event(WAIT).await.unwrap();
        assert_eq!(read.event, "read");
        // The whole compact state: everything up to `first` is read.
        assert_eq!(read.data["through"], first.as_str());
        let unread = tab.next_event(WAIT).await.unwrap();
        assert_eq!(unread.event, "unread");
        assert_eq!(unread.data["unread"], 1);
    }

    app.state.inbox.mark_all_read(&user("alice")).await.unwrap();
    let read = tab_one.next_event(WAIT).await.unwrap();
    assert_eq!(read.event, "read");
    assert_eq!(tab_one.next_event(WAIT).await.unwrap().data["unread"], 0);

    // A reconnect after all this starts from exact state.
    let mut fresh = app.inbox_stream("alice", None).await;
    let snapshot = fresh.next_event(WAIT).await.unwrap();
    assert_eq!(snapshot.data["unread"], 0);
    assert!(snapshot.data["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .all(|n| n["read"] == true));
}

#[apply(on_both_engines)]
#[tokio::test]
async fn one_user_never_sees_or_marks_another_users_notifications(#[case] engine: EngineKind) {
    let app = spawn_on(engine).await;
    let mut bob = app.inbox_stream("bob", None).await;
    let bob_snapshot = bob.next_event(WAIT).await.unwrap();
    assert_eq!(bob_snapshot.data["unread"], 0);

    let for_alice = app.notify("alice", "private").await;
    bob.expect_silence(Duration::from_millis(500)).await;

    let refused = app.state.inbox.mark_read(&user("bob"), &for_alice).await;
    assert!(refused.is_err(), "bob cannot mark alice's notification");
    let alice = app.state.inbox.snapshot(&user("alice")).await.unwrap();
    assert_eq!(alice.unread, 1, "alice's notification is still unread");
    // Even with alice's id, bob's stream resumes within bob's inbox only.
    let mut bob_again = app.inbox_stream("bob", Some(&for_alice)).await;
    let event = bob_again.next_event(WAIT).await.unwrap();
    assert_eq!(event.event, "snapshot");
    assert_eq!(event.data["notifications"].as_array().unwrap().len(), 0);
}

#[apply(on_both_engines)]
#[tokio::test]
async fn over_http_bob_cannot_mark_alices_notification_and_strangers_cannot_at_all(
    #[case] engine: EngineKind,
) {
    let app = spawn_on(engine).await;
    let for_alice = app.notify("alice", "private").await;

    let stranger = app
        .server_fn("/api/inbox/mark_read", None, &[("id", &for_alice)])
        .await;
    assert_eq!(stranger.status(), 401);
    let bob = app
        .server_fn("/api/inbox/mark_read", Some("bob"), &[("id", &for_alice)])
        .await;
    assert_eq!(
        bob.status(),
        404,
        "alice's id does not exist in bob's inbox"
    );
    let bob_all = app
        .server_fn("/api/inbox/mark_all_read", Some("bob"), &[])
        .await;
    assert!(bob_all.status().is_success());
    assert_eq!(
        app.state
            .inbox
            .snapshot(&user("alice"))
            .await
            .unwrap()
            .unread,
        1,
        "still unread"
    );

    let alice = app
        .server_fn("/api/inbox/mark_read", Some("alice"), &[("id", &for_alice)])
        .await;
    assert!(alice.status().is_success(), "{}", alice.status());
    assert_eq!(
        app.state
            .inbox
            .snapshot(&user("alice"))
            .await
            .unwrap()
            .unread,
        0
    );
}

#[apply(on_both_engines)]
#[tokio::test]
async fn loading_older_pages_goes_back_twenty_at_a_time(#[case] engine: EngineKind) {
    let app = spawn_on(engine).await;
    let mut ids = Vec::new();
    for n in 0..45 {
        ids.push(app.notify("alice", &format!("n{n}")).await);
    }
    let snapshot = app.state.inbox.snapshot(&user("alice")).await.unwrap();
    assert_eq!(snapshot.notifications.len(), 20);
    assert!(snapshot.has_more);
    let oldest_loaded = snapshot.notifications.last().unwrap().id.clone();
    let response = app
        .server_fn(
            "/api/inbox/older",
            Some("alice"),
            &[("before", &oldest_loaded)],
        )
        .await;
    assert!(response.status().is_success());
    let page: belfry::inbox::model::InboxPage = response.json().await.unwrap();
    assert_eq!(page.notifications.len(), 20);
    assert_eq!(page.notifications[0].id, ids[24]);
    assert!(page.has_more);
}
