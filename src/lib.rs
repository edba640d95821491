//! Belfry: a real-time notification center for web apps.
//!
//! One crate, two builds: the server (feature `ssr`) renders pages and serves
//! the API and Server-Sent Events; the browser bundle (feature `hydrate`)
//! hydrates those pages and keeps them live.
//!
//! Each feature is a folder holding its shared types (`model`), its server
//! functions (`api`), its components and its page, under one name:
//!
//! - [`inbox`]: notifications, the bell, `/notifications`.
//! - [`tasks`]: long-running tasks with live progress, `/progress`.
//! - [`activity`]: the live activity feed, `/activity`.
//! - [`clock`]: the live server clock.
//! - [`account`]: signing in and out, who is signed in, `/sign-in`.
//! - [`topics`]: topics users follow, so one publish reaches all of them.
//!
//! Around them:
//!
//! - [`app`]: the HTML shell, the header and the route table.
//! - [`home`]: `/`, what Belfry is, with the clock.
//! - [`ui`]: building blocks no feature owns (header, page heading, …).
//! - [`wire`]: the protocol: event ids, event names, SSE framing, errors.
//! - [`client`]: browser-side plumbing (the one stream per browser as
//!   signals, hydration, time).
//! - [`engine`] (ssr): the broker seam and its engines.
//! - [`server`] (ssr): configuration, router, handlers, SSE, start-up.
//! - [`jitter`] (ssr): random spreads that keep reconnect and resync herds apart.

#![recursion_limit = "256"]

pub mod account;
pub mod activity;
pub mod app;
pub mod client;
pub mod clock;
pub mod home;
pub mod inbox;
pub mod tasks;
pub mod topics;
pub mod ui;
pub mod wire;

#[cfg(feature = "ssr")]
pub mod engine;
#[cfg(feature = "ssr")]
pub mod jitter;
#[cfg(feature = "ssr")]
pub mod server;

/// Entry point of the browser bundle. The page is server-rendered HTML with
/// islands (the bell eagerly, each page's live widget as a lazily loaded
/// chunk); Leptos's island script calls this, then hydrates each island.
/// `<body data-hydrated>` is set once all of them are ([`client::hydration`]).
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    // Panic messages in the console for development builds; the release
    // bundle leaves the hook (and the formatting it pulls in) out.
    #[cfg(debug_assertions)]
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
    client::hydration::start();
}
