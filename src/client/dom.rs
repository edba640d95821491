//! Small browser behaviours for popovers: close on Escape or on a click
//! outside. On the server these do nothing (there is no window).

use leptos::html::Div;
use leptos::prelude::*;

/// While the component lives, sets `open` to false on Escape (calling
/// `on_escape` too, e.g. to return focus) or on a click outside `container`.
pub fn close_on_escape_or_outside_click(
    container: NodeRef<Div>,
    open: RwSignal<bool>,
    on_escape: impl Fn() + 'static,
) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;

        let keys = window_event_listener(leptos::ev::keydown, move |event| {
            if event.key() == "Escape" && open.get_untracked() {
                open.set(false);
                on_escape();
            }
        });
        let clicks = window_event_listener(leptos::ev::click, move |event| {
            if !open.get_untracked() {
                return;
            }
            let inside = match (container.get_untracked(), event.target()) {
                (Some(container), Some(target)) => target
                    .dyn_ref::<web_sys::Node>()
                    .is_some_and(|node| container.contains(Some(node))),
                _ => false,
            };
            if !inside {
                open.set(false);
            }
        });
        on_cleanup(move || {
            keys.remove();
            clicks.remove();
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (container, open, on_escape);
}

/// Calls `tick` every `period` while the component lives.
pub fn every(period: std::time::Duration, tick: impl Fn() + 'static) {
    #[cfg(feature = "hydrate")]
    {
        if let Ok(handle) = set_interval_with_handle(tick, period) {
            on_cleanup(move || handle.clear());
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (period, tick);
}

/// Loads `href` as a whole new page: for other sites, and after signing in
/// or out so every part of the page starts from the new session.
pub fn load_page(href: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(window) = web_sys::window() {
        let _ = window.location().assign(href);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = href;
}
