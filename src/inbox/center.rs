//! The notification center: the bell with its unread badge, the dropdown
//! panel, and toasts for live arrivals, all fed by one `inbox` feed (one
//! stream per browser, see [`crate::client::feeds`]).
//!
//! While the panel is open, arrivals show in it, marked new, and raise no
//! toast (on a phone a toast would cover the panel); opening it clears the
//! toasts on screen.
//!
//! Owns the browser-side inbox ([`super::state::InboxModel`]) as a
//! signal; children only read it or call back.

use std::time::Duration;

use leptos::html::Div;
use leptos::prelude::*;

use super::bell::Bell;
use super::panel::lazy_panel;
use super::toasts::{ToastStack, Toasts};
use crate::client::dom::close_on_escape_or_outside_click;
use crate::client::feeds::use_feed;
use crate::client::time::use_now;
use crate::inbox::model::{InboxSnapshot, ReadMarks, StoredNotification, UnreadCount};
use crate::inbox::state::InboxModel;
use crate::wire::feed::FeedKey;
use crate::wire::names;

/// The bell, its panel and the toasts, for the signed-in user.
#[component]
pub fn NotificationCenter() -> impl IntoView {
    let inbox = RwSignal::new(InboxModel::default());
    let toasts = ToastStack::new();
    let open = RwSignal::new(false);
    // Ids that arrived while the panel was open; cleared when it closes.
    let fresh = RwSignal::new(Vec::<String>::new());
    Effect::new(move |_| {
        if open.get() {
            toasts.clear();
        } else {
            fresh.update(Vec::clear);
        }
    });
    let now = use_now(Duration::from_secs(15));

    let connection = use_feed(FeedKey::Inbox, move |message| {
        match message.event.as_str() {
            names::SNAPSHOT => {
                if let Ok(snapshot) = serde_json::from_str::<InboxSnapshot>(&message.data) {
                    inbox.update(|model| model.apply_snapshot(snapshot));
                }
            }
            names::NOTIFICATION => {
                let (Some(id), Ok(stored)) = (
                    message.id.as_deref(),
                    serde_json::from_str::<StoredNotification>(&message.data),
                ) else {
                    return;
                };
                let mut added = None;
                inbox.update(|model| added = model.apply_notification(id, stored));
                match added {
                    Some(notification) if open.get_untracked() => {
                        fresh.update(|fresh| fresh.push(notification.id));
                    }
                    Some(notification) => toasts.push(notification),
                    None => {}
                }
            }
            names::READ => {
                if let Ok(marks) = serde_json::from_str::<ReadMarks>(&message.data) {
                    inbox.update(|model| model.apply_read(&marks));
                }
            }
            names::UNREAD => {
                if let Ok(count) = serde_json::from_str::<UnreadCount>(&message.data) {
                    inbox.update(|model| model.apply_unread(&count));
                }
            }
            _ => {}
        }
    });

    let ready = prefetch_once_live(inbox);

    let container = NodeRef::<Div>::new();
    let bell_button = NodeRef::<leptos::html::Button>::new();
    close_on_escape_or_outside_click(container, open, move || {
        if let Some(button) = bell_button.get_untracked() {
            let _ = button.focus();
        }
    });

    view! {
        <div class="relative" node_ref=container data-panel-ready=move || ready.get().then_some("")>
            <Bell inbox open button=bell_button />
            <Show when=move || open.get()>
                {move || Suspend::new(lazy_panel(inbox, connection, now, fresh))}
            </Show>
        </div>
        <Toasts toasts />
    }
}

/// Once the bell is live and the page hydrated, fetches the panel's and the
/// toasts' code while the browser is idle (each is a chunk of its own, kept
/// off the path to a working page), so both then open at once, offline too.
/// The signal turns true when both are loaded (`data-panel-ready` on the
/// bell's wrapper).
fn prefetch_once_live(inbox: RwSignal<InboxModel>) -> ReadSignal<bool> {
    let (ready, set_ready) = signal(false);
    Effect::new(move |started: Option<bool>| {
        if started == Some(true) || !inbox.with(|model| model.loaded) {
            return started.unwrap_or(false);
        }
        let fetch = move || {
            let panel = lazy_preload!(super::panel::lazy_panel);
            let toasts = lazy_preload!(super::toasts::lazy_toast_cards);
            Effect::new(move |_| set_ready.set(panel.get() && toasts.get()));
        };
        // Idle time where the browser has it (not every browser does).
        crate::client::hydration::when_hydrated(move || {
            #[cfg(feature = "hydrate")]
            if request_idle_callback_with_handle(fetch).is_err() {
                set_timeout(fetch, Duration::from_millis(200));
            }
            #[cfg(not(feature = "hydrate"))]
            let _ = fetch;
        });
        true
    });
    ready
}
