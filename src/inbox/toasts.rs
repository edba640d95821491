//! Toasts for live arrivals: bottom-right, at most three, each dismissed
//! after five seconds unless the pointer rests on it.

use std::time::Duration;

use leptos::prelude::*;

use super::item::KindIcon;
use crate::client::dom::every;
use crate::inbox::model::Notification;

/// How long a toast stays, in milliseconds of not being hovered.
pub const TOAST_MS: i64 = 5_000;
/// How many toasts show at once (older ones give way).
pub const MAX_TOASTS: usize = 3;
const TICK_MS: i64 = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Toast {
    key: u64,
    notification: Notification,
    remaining_ms: i64,
    hovered: bool,
}

/// The toasts on screen; cheap to copy.
#[derive(Debug, Clone, Copy)]
pub struct ToastStack {
    toasts: RwSignal<Vec<Toast>>,
    next_key: RwSignal<u64>,
}

impl ToastStack {
    /// An empty stack.
    pub fn new() -> Self {
        Self {
            toasts: RwSignal::new(Vec::new()),
            next_key: RwSignal::new(0),
        }
    }

    /// Shows `notification`, letting the oldest toast go beyond three.
    pub fn push(&self, notification: Notification) {
        let key = self.next_key.get_untracked();
        self.next_key.set(key + 1);
        self.toasts.update(|toasts| {
            toasts.push(Toast {
                key,
                notification,
                remaining_ms: TOAST_MS,
                hovered: false,
            });
            let excess = toasts.len().saturating_sub(MAX_TOASTS);
            toasts.drain(..excess);
        });
    }

    /// Takes every toast off the screen (the open panel shows them).
    pub fn clear(&self) {
        self.toasts.update(Vec::clear);
    }

    fn tick(&self) {
        if self.toasts.with_untracked(Vec::is_empty) {
            return;
        }
        self.toasts.update(|toasts| {
            for toast in toasts.iter_mut().filter(|t| !t.hovered) {
                toast.remaining_ms -= TICK_MS;
            }
            toasts.retain(|t| t.remaining_ms > 0);
        });
    }

    fn set_hovered(&self, key: u64, hovered: bool) {
        self.toasts.update(|toasts| {
            if let Some(toast) = toasts.iter_mut().find(|t| t.key == key) {
                toast.hovered = hovered;
            }
        });
    }

    fn dismiss(&self, key: u64) {
        self.toasts.update(|toasts| toasts.retain(|t| t.key != key));
    }
}

impl Default for ToastStack {
    fn default() -> Self {
        Self::new()
    }
}

/// The toast region (a polite live region, so screen readers announce; it
/// is on the page from the start, as live regions must be). The cards'
/// code is fetched with the first toast ([`lazy_toast_cards`]).
#[component]
pub fn Toasts(toasts: ToastStack) -> impl IntoView {
    let showing = move || toasts.toasts.with(|toasts| !toasts.is_empty());
    view! {
        <div
            aria-live="polite"
            aria-label="New notifications"
            role="region"
            class="pointer-events-none fixed bottom-4 right-4 z-50 flex w-[min(22rem,calc(100vw-2rem))] flex-col gap-2"
        >
            <Show when=showing>
                {move || Suspend::new(lazy_toast_cards(toasts))}
            </Show>
        </div>
    }
}

/// The cards and their countdown, while any toast shows.
#[lazy]
pub fn lazy_toast_cards(toasts: ToastStack) -> AnyView {
    view! { <ToastCards toasts /> }.into_any()
}

#[component]
fn ToastCards(toasts: ToastStack) -> impl IntoView {
    every(Duration::from_millis(100), move || toasts.tick());
    let visible = move || {
        toasts
            .toasts
            .get()
            .into_iter()
            .map(|toast| (toast.key, toast.notification))
            .collect::<Vec<_>>()
    };
    view! {
        <For each=visible key=|entry| entry.0 let:entry>
            <ToastCard key=entry.0 notification=entry.1 toasts />
        </For>
    }
}

/// One toast; hovering pauses its countdown.
#[component]
fn ToastCard(key: u64, notification: Notification, toasts: ToastStack) -> impl IntoView {
    view! {
        <div
            role="status"
            data-testid="toast"
            class="pointer-events-auto flex items-start gap-3 rounded-xl border border-slate-200 bg-white p-4 shadow-lg"
            on:mouseenter=move |_| toasts.set_hovered(key, true)
            on:mouseleave=move |_| toasts.set_hovered(key, false)
        >
            <KindIcon kind=notification.kind />
            <div class="min-w-0 flex-1">
                <p class="text-sm font-semibold text-slate-900">{notification.title}</p>
                <p class="mt-0.5 line-clamp-2 text-sm text-slate-600">{notification.body}</p>
            </div>
            <button
                type="button"
                class="rounded p-1 text-slate-400 hover:text-slate-700"
                aria-label="Dismiss"
                on:click=move |_| toasts.dismiss(key)
            >
                "✕"
            </button>
        </div>
    }
}
