//! The dropdown panel: newest first, mark all read, load older, an empty
//! state, and a note while the live connection is down.

use leptos::prelude::*;

use super::api::{LoadOlder, MarkAllRead};
use super::item::NotificationItem;
use crate::client::feeds::ConnectionState;
use crate::inbox::state::InboxModel;

/// The panel's code, fetched the first time it opens (a chunk of its own
/// under `cargo leptos --split`; the bell works without it).
#[lazy]
pub fn lazy_panel(
    inbox: RwSignal<InboxModel>,
    connection: ReadSignal<ConnectionState>,
    now: ReadSignal<i64>,
    fresh: RwSignal<Vec<String>>,
) -> AnyView {
    view! { <Panel inbox connection now fresh /> }.into_any()
}

/// The panel under the bell.
#[component]
pub fn Panel(
    inbox: RwSignal<InboxModel>,
    connection: ReadSignal<ConnectionState>,
    now: ReadSignal<i64>,
    fresh: RwSignal<Vec<String>>,
) -> impl IntoView {
    let mark_all = ServerAction::<MarkAllRead>::new();
    let load_older = ServerAction::<LoadOlder>::new();
    Effect::new(move |_| {
        if let Some(Ok(page)) = load_older.value().get() {
            inbox.update(|model| model.append_older(page));
        }
    });
    let items = move || inbox.with(|model| model.items.clone());
    let empty = move || inbox.with(|model| model.loaded && model.items.is_empty());
    view! {
        <div
            id="notification-panel"
            role="dialog"
            aria-label="Notifications"
            class="fixed inset-x-4 top-16 z-40 overflow-hidden rounded-xl border border-slate-200 bg-white shadow-xl sm:absolute sm:inset-x-auto sm:right-0 sm:top-full sm:mt-2 sm:w-96"
        >
            <div class="flex items-center justify-between border-b border-slate-100 px-4 py-3">
                <h2 class="text-sm font-semibold text-slate-900">"Notifications"</h2>
                <button
                    type="button"
                    class="text-sm font-medium text-indigo-600 hover:text-indigo-500 disabled:text-slate-300"
                    disabled=move || inbox.with(|model| model.unread == 0)
                    on:click=move |_| {
                        inbox.update(InboxModel::mark_all_read_locally);
                        mark_all.dispatch(MarkAllRead {});
                    }
                >
                    "Mark all as read"
                </button>
            </div>
            <Show when=move || connection.get() != ConnectionState::Open>
                <p role="status" class="border-b border-amber-100 bg-amber-50 px-4 py-2 text-xs text-amber-800">
                    "Live updates are paused: reconnecting…"
                </p>
            </Show>
            <Show
                when=move || !empty()
                fallback=|| view! { <p class="px-4 py-10 text-center text-sm text-slate-500">"No notifications"</p> }
            >
                <ul class="max-h-[28rem] divide-y divide-slate-100 overflow-y-auto" aria-label="Notification list">
                    <For each=items key=|n| (n.id.clone(), n.read) let:notification>
                        <NotificationItem notification inbox now fresh />
                    </For>
                </ul>
            </Show>
            <Show when=move || inbox.with(|model| model.has_more)>
                <div class="border-t border-slate-100 p-2 text-center">
                    <button
                        type="button"
                        class="w-full rounded-lg px-3 py-2 text-sm font-medium text-slate-700 hover:bg-slate-50 disabled:text-slate-300"
                        disabled=move || load_older.pending().get()
                        on:click=move |_| {
                            if let Some(before) = inbox.with_untracked(InboxModel::oldest_id) {
                                load_older.dispatch(LoadOlder { before });
                            }
                        }
                    >
                        "Load older"
                    </button>
                </div>
            </Show>
        </div>
    }
}
