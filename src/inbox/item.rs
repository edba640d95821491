//! One notification row, and the icon and colours of each kind.

use leptos::prelude::*;

use super::api::mark_read;
use crate::client::dom::load_page;
use crate::client::time::{parse_ms, relative};
use crate::inbox::model::{link_target, Notification, NotificationKind};
use crate::inbox::state::InboxModel;

/// Tailwind classes for the icon badge of a kind.
pub fn kind_classes(kind: NotificationKind) -> &'static str {
    match kind {
        NotificationKind::Info => "bg-sky-100 text-sky-700",
        NotificationKind::Success => "bg-emerald-100 text-emerald-700",
        NotificationKind::Warning => "bg-amber-100 text-amber-700",
        NotificationKind::Error => "bg-rose-100 text-rose-700",
    }
}

/// The icon of a kind, in a tinted circle.
#[component]
pub fn KindIcon(kind: NotificationKind) -> impl IntoView {
    let path = match kind {
        NotificationKind::Info => "M12 16v-4m0-4h.01M22 12a10 10 0 1 1-20 0 10 10 0 0 1 20 0z",
        NotificationKind::Success => "M9 12l2 2 4-4m6 2a9 9 0 1 1-18 0 9 9 0 0 1 18 0z",
        NotificationKind::Warning => "M12 9v4m0 4h.01M10.3 3.9 1.8 18a2 2 0 0 0 1.7 3h17a2 2 0 0 0 1.7-3L13.7 3.9a2 2 0 0 0-3.4 0z",
        NotificationKind::Error => "M15 9l-6 6m0-6 6 6m7-3a10 10 0 1 1-20 0 10 10 0 0 1 20 0z",
    };
    view! {
        <span class=format!("flex size-8 shrink-0 items-center justify-center rounded-full {}", kind_classes(kind))>
            <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" class="size-5" role="img" aria-label=kind.label()>
                <path d=path />
            </svg>
        </span>
    }
}

/// A row in the panel: click marks it read and follows its link.
#[component]
pub fn NotificationItem(
    notification: Notification,
    inbox: RwSignal<InboxModel>,
    now: ReadSignal<i64>,
    fresh: RwSignal<Vec<String>>,
) -> impl IntoView {
    let is_new = {
        let id = notification.id.clone();
        Signal::derive(move || fresh.with(|fresh| fresh.contains(&id)))
    };
    let id = notification.id.clone();
    let read = {
        let id = id.clone();
        Signal::derive(move || inbox.with(|model| model.items.iter().any(|n| n.id == id && n.read)))
    };
    let created = parse_ms(&notification.created_at);
    let when = move || {
        created
            .map(|then| relative(then, now.get()))
            .unwrap_or_default()
    };
    let link = notification.link.clone();
    let on_click = move |_| {
        inbox.update(|model| model.mark_read_locally(&id));
        // Checked again here: a link written straight into Redis never
        // passed the server's validation, and `javascript:` must not run.
        let follow = link.clone().filter(|link| link_target(link).is_some());
        let id = id.clone();
        // The mark is saved before the page is left, so that leaving does
        // not cancel it.
        leptos::task::spawn_local(async move {
            let _ = mark_read(id).await;
            if let Some(link) = follow {
                load_page(&link);
            }
        });
    };
    let label = notification.title.clone();
    view! {
        <li>
            <button
                type="button"
                on:click=on_click
                aria-label=move || format!("{}{}", label, if read.get() { "" } else { " (unread)" })
                class="flex w-full items-start gap-3 px-4 py-3 text-left hover:bg-slate-50 focus-visible:bg-slate-50 focus-visible:outline-none"
            >
                <KindIcon kind=notification.kind />
                <span class="min-w-0 flex-1">
                    <span class="flex items-center gap-2">
                        <span class="block truncate text-sm font-semibold text-slate-900" data-testid="notification-title">
                            {notification.title.clone()}
                        </span>
                        <Show when=move || is_new.get()>
                            <span class="shrink-0 rounded-full bg-indigo-100 px-2 py-0.5 text-xs font-medium text-indigo-700" data-testid="new-badge">
                                "New"
                            </span>
                        </Show>
                    </span>
                    <span class="mt-0.5 line-clamp-2 block text-sm text-slate-600">{notification.body.clone()}</span>
                    <span class="mt-1 block text-xs text-slate-400">{when}</span>
                </span>
                <Show when=move || !read.get()>
                    <span class="mt-1.5 size-2.5 shrink-0 rounded-full bg-indigo-600" data-testid="unread-dot">
                        <span class="sr-only">"Unread"</span>
                    </span>
                </Show>
            </button>
        </li>
    }
}
