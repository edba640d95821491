//! Belfry: a real-time notification center for web apps.
//!
//! One crate, two builds: the server (feature `ssr`) renders pages and serves
//! the API and Server-Sent Events; the browser bundle (feature `hydrate`)
//! hydrates those pages and keeps them live.
//!
//! - [`account`]: signing in and out, and who is signed in.
//! - [`app`]: the HTML shell, the header and the route table.
//! - [`model`]: each feature's payloads, shared by server and browser.
//! - [`wire`]: the protocol: event ids, event names, SSE framing.
//! - [`client`]: browser-side plumbing (the one stream per browser as
//!   signals, hydration, time).
//! - [`components`]: UI pieces (header, bell, task cards, page heading, …)
//!   and the server functions they call.
//! - [`pages`]: one module per page.
//! - [`engine`] (ssr): the broker seam and its engines.
//! - [`server`] (ssr): configuration, router, handlers, SSE, start-up.
//! - [`jitter`] (ssr): random spreads that keep reconnect and resync herds apart.

#![recursion_limit = "256"]

pub mod account;
pub mod app;
pub mod client;
pub mod components;
pub mod model;
pub mod pages;
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
