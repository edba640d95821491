//! Read state lives apart from history: marking read never evicts a
//! notification, and the unread count stays exact.

use std::time::Duration;

use belfry::account::model::UserName;

use crate::helpers::{spawn_on, EngineKind, TestApp};
use rstest::rstest;
use rstest_reuse::apply;

use crate::on_both_engines;

const WAIT: Duration = Duration::from_secs(10);

async fn mark_read(app: &TestApp, user: &str, id: &str) {
    let response = app
        .server_fn("/api/inbox/mark_read", Some(user), &[("id", id)])
        .await;
    assert_eq!(response.status(), 200, "mark {id} read");
}

#[apply(on_both_engines)]
#[tokio::test]
async fn reading_never_evicts_unread_notifications(#[case] engine: EngineKind) {
    let app = spawn_on(engine).await;
    let mut ids = Vec::new();
    for n in 0..300 {
        ids.push(app.notify("reader", &format!("n{n}")).await);
    }
    // The newest 250, one at a time.
    for id in ids[50..].iter().rev() {
        mark_read(&app, "reader", id).await;
    }
    app.notify("reader", "n300").await;

    let user = UserName::parse("reader").unwrap();
    let view = app.state.inbox.view(&user).await.unwrap();
    assert_eq!(view.unread(), 51, "50 old unread + the new one");
    assert_eq!(
        view.is_read(ids[0].parse().unwrap()),
        Some(false),
        "the oldest unread notification is still there"
    );
    let snapshot = app.state.inbox.snapshot(&user).await.unwrap();
    assert_eq!(snapshot.unread, 51);

    // The stream says the same, and so does paging back to the oldest.
    let mut stream = app.inbox_stream("reader", None).await;
    let opening = stream.next_event(WAIT).await.unwrap();
    assert_eq!(opening.event, "snapshot");
    assert_eq!(opening.data["unread"], 51);
    let oldest = app.state.inbox.older(&user, &ids[1]).await.unwrap();
    assert_eq!(oldest.notifications[0].title, "n0");
    assert!(!oldest.notifications[0].read);
}

#[apply(on_both_engines)]
#[tokio::test]
async fn a_read_change_reaches_every_stream_with_the_exact_count_and_replays(
    #[case] engine: EngineKind,
) {
    let app = spawn_on(engine).await;
    let first = app.notify("tabs", "one").await;
    app.notify("tabs", "two").await;
    let mut tab_a = app.inbox_stream("tabs", None).await;
    let mut tab_b = app.inbox_stream("tabs", None).await;
    let snapshot = tab_a.next_event(WAIT).await.unwrap();
    let last_id = snapshot
        .id
        .clone()
        .expect("the snapshot carries the inbox position");
    tab_b.next_event(WAIT).await.unwrap();
    mark_read(&app, "tabs", &first).await;
    for tab in [&mut tab_a, &mut tab_b] {
        let read = tab.next_event(WAIT).await.unwrap();
        assert_eq!(read.event, "read");
        assert_eq!(read.id, None, "read state is not an inbox position");
        assert_eq!(read.data["through"], first);
        let unread = tab.next_event(WAIT).await.unwrap();
        assert_eq!(unread.event, "unread");
        assert_eq!(unread.data["unread"], 1);
    }
    // A tab that was away resumes: no notification missed, the read state now.
    let mut back = app.inbox_stream("tabs", Some(&last_id)).await;
    let read = back.next_event(WAIT).await.unwrap();
    assert_eq!(read.event, "read");
    assert_eq!(read.data["through"], first);
    assert_eq!(back.next_event(WAIT).await.unwrap().data["unread"], 1);
}

/// Older versions stored read marks as a `read` event in the inbox itself;
/// such an event still reaches open streams, followed by the exact count,
/// and folds into later snapshots.
#[apply(on_both_engines)]
#[tokio::test]
async fn a_read_mark_stored_in_the_inbox_the_old_way_still_counts(#[case] engine: EngineKind) {
    let app = spawn_on(engine).await;
    let first = app.notify("olga", "a").await;
    app.notify("olga", "b").await;
    let mut tab = app.inbox_stream("olga", None).await;
    assert_eq!(tab.next_event(WAIT).await.unwrap().event, "snapshot");

    let olga = UserName::parse("olga").unwrap();
    app.state
        .engine
        .publish(
            &belfry::server::inbox::service::channel(&olga),
            belfry::wire::names::READ,
            bytes::Bytes::from(format!(r#"{{"through":"{first}"}}"#)),
        )
        .await
        .unwrap();
    let read = tab.next_event(WAIT).await.unwrap();
    assert_eq!(read.event, "read");
    assert_eq!(read.data["through"], first.as_str());
    let unread = tab.next_event(WAIT).await.unwrap();
    assert_eq!(unread.event, "unread");
    assert_eq!(unread.data["unread"], 1, "only b is unread");

    let mut fresh = app.inbox_stream("olga", None).await;
    let snapshot = fresh.next_event(WAIT).await.unwrap();
    assert_eq!(snapshot.event, "snapshot");
    assert_eq!(snapshot.data["unread"], 1);
}
