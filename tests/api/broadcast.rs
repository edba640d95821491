//! `"to": "*"` reaches every user who has an inbox or has ever opened a
//! stream, whoever minted their session.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{spawn_on, EngineKind};
use rstest::rstest;
use rstest_reuse::apply;

use crate::on_both_engines;

const WAIT: Duration = Duration::from_secs(5);

#[apply(on_both_engines)]
#[tokio::test]
async fn a_host_minted_session_that_only_opened_a_stream_receives_a_broadcast(
    #[case] engine: EngineKind,
) {
    let app = spawn_on(engine).await;
    // Never named in a publish, never signed in through the demo form: the
    // host app minted the cookie and the browser opened its inbox.
    let mut dora = app.inbox_stream("dora", None).await;
    assert_eq!(dora.next_event(WAIT).await.unwrap().event, "snapshot");
    let response = app
        .publish(json!({"to": "*", "kind": "info", "title": "Maintenance at 22:00"}))
        .await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["ids"].as_array().unwrap().len(),
        1,
        "dora is the only user"
    );
    let event = dora.next_event(WAIT).await.expect("the broadcast arrives");
    assert_eq!(event.event, "notification");
    assert_eq!(event.data["title"], "Maintenance at 22:00");
}
