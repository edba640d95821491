//! A stream ends with its session: at the token's expiry, and when that
//! browser signs out (on whichever instance holds the stream).

use std::time::{Duration, Instant};

use belfry::server::auth::token::{now_secs, Claims};

use crate::helpers::{eventually, production_config, spawn_app_with, SseReader, TestApp};
use crate::redis_server::RedisServer;

const WAIT: Duration = Duration::from_secs(5);

fn cookie_with(app: &TestApp, claims: &Claims) -> String {
    format!(
        "belfry_session={}",
        app.state.sessions.keys.mint_claims(claims)
    )
}

fn claims(user: &str, exp: u64) -> Claims {
    Claims {
        sub: user.into(),
        exp,
        ..Claims::default()
    }
}

async fn open(app: &TestApp, path: &str, cookie: &str) -> SseReader {
    let response = app
        .client
        .get(app.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    SseReader::from_response(response)
}

/// Reads events until `session_end`, returning its reason.
async fn session_end(stream: &mut SseReader, within: Duration) -> String {
    loop {
        let event = stream.next_event(within).await.expect("still open");
        if event.event == "session_end" {
            return event.data["reason"].as_str().unwrap().to_owned();
        }
    }
}

#[tokio::test]
async fn a_token_that_expires_in_2_s_ends_its_streams_within_3_s_with_the_final_event() {
    let mut config = production_config();
    config.session_leeway_secs = 0;
    let app = spawn_app_with(config).await;
    let cookie = cookie_with(&app, &claims("alice", now_secs() + 2));
    let started = Instant::now();
    let mut inbox = open(&app, "/api/sse/inbox", &cookie).await;
    let mut activity = open(&app, "/api/sse/activity", &cookie).await;
    assert_eq!(
        session_end(&mut inbox, Duration::from_secs(4)).await,
        "expired"
    );
    assert_eq!(
        session_end(&mut activity, Duration::from_secs(4)).await,
        "expired"
    );
    let elapsed = started.elapsed();
    assert!(elapsed <= Duration::from_secs(3), "ended after {elapsed:?}");
    assert!(inbox.next_frame(WAIT).await.is_none(), "the stream ended");
    let ended = app.state.session_ends.ended_counter();
    assert_eq!(
        ended.get_or_create(&vec![("reason", "expired")]).get(),
        2,
        "counted"
    );
    let refused = app.get_with_cookie("/api/sse/inbox", &cookie).await;
    assert_eq!(refused.status(), 401, "the expired token opens nothing");
}

#[tokio::test]
async fn the_leeway_keeps_a_just_expired_token_and_its_stream_for_that_long() {
    let mut config = production_config();
    config.session_leeway_secs = 2;
    let app = spawn_app_with(config).await;
    let cookie = cookie_with(&app, &claims("alice", now_secs() - 1));
    let started = Instant::now();
    let mut inbox = open(&app, "/api/sse/inbox", &cookie).await;
    assert_eq!(
        session_end(&mut inbox, Duration::from_secs(4)).await,
        "expired"
    );
    assert!(started.elapsed() <= Duration::from_secs(2));
}

async fn sign_out(app: &TestApp, cookie: &str) {
    let response = app
        .client
        .post(app.url("/api/account/sign_out"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let cleared = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
}

#[tokio::test]
async fn signing_out_ends_that_browsers_streams_and_no_others() {
    let app = spawn_app_with(production_config()).await;
    let this_browser = cookie_with(&app, &claims("alice", now_secs() + 3600));
    let other_browser = cookie_with(&app, &claims("alice", now_secs() + 3601));
    let mut mine = open(&app, "/api/sse/inbox", &this_browser).await;
    let mut feed = open(&app, "/api/sse/activity", &this_browser).await;
    let mut theirs = open(&app, "/api/sse/inbox", &other_browser).await;
    assert_eq!(mine.next_event(WAIT).await.unwrap().event, "snapshot");
    assert_eq!(theirs.next_event(WAIT).await.unwrap().event, "snapshot");

    sign_out(&app, &this_browser).await;
    assert_eq!(session_end(&mut mine, WAIT).await, "signed_out");
    assert_eq!(session_end(&mut feed, WAIT).await, "signed_out");
    assert!(mine.next_frame(WAIT).await.is_none());
    let ended = app.state.session_ends.ended_counter();
    assert_eq!(
        ended.get_or_create(&vec![("reason", "signed_out")]).get(),
        2
    );

    app.notify("alice", "still here").await;
    let event = theirs.next_event(WAIT).await.unwrap();
    assert_eq!(
        event.data["title"], "still here",
        "the other browser stays live"
    );
}

#[tokio::test]
async fn signing_out_on_one_instance_ends_the_stream_held_by_another() {
    let redis = RedisServer::start();
    let mut config = production_config();
    config.redis_url = Some(redis.url());
    let a = spawn_app_with(config.clone()).await;
    let b = spawn_app_with(config).await;
    let cookie = cookie_with(&a, &claims("alice", now_secs() + 3600));
    let mut on_b = open(&b, "/api/sse/inbox", &cookie).await;
    assert_eq!(on_b.next_event(WAIT).await.unwrap().event, "snapshot");
    // B follows the sign-out channel from its start; A announces once B
    // listens (the channel carries live news, not history).
    assert!(eventually(WAIT, || b.state.session_ends.is_listening()).await);
    sign_out(&a, &cookie).await;
    assert_eq!(session_end(&mut on_b, WAIT).await, "signed_out");
}
