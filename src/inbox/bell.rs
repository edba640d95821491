//! The bell button: an SVG bell, a red badge with the unread count, and an
//! accessible name that says how many are unread.

use leptos::html::Button;
use leptos::prelude::*;

use crate::inbox::state::{badge_text, InboxModel};

/// Toggles the panel; `aria-label` is "Notifications, N unread". The
/// server renders it with 0; `data-live` appears once the inbox snapshot
/// arrived, so from then on every new notification arrives live (tests wait
/// for it before publishing).
#[component]
pub fn Bell(
    inbox: RwSignal<InboxModel>,
    open: RwSignal<bool>,
    button: NodeRef<Button>,
) -> impl IntoView {
    let unread = move || inbox.with(|model| model.unread);
    view! {
        <button
            type="button"
            node_ref=button
            class="relative rounded-full p-2 text-slate-600 hover:bg-slate-100 hover:text-slate-900 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-600"
            aria-label=move || format!("Notifications, {} unread", unread())
            aria-haspopup="dialog"
            aria-expanded=move || open.get().to_string()
            aria-controls="notification-panel"
            data-live=move || inbox.with(|model| model.loaded).then_some("")
            on:click=move |_| open.update(|open| *open = !*open)
        >
            <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" class="size-6" aria-hidden="true">
                <path d="M6 8a6 6 0 0 1 12 0c0 7 3 9 3 9H3s3-2 3-9" />
                <path d="M10.3 21a1.94 1.94 0 0 0 3.4 0" />
            </svg>
            {move || {
                badge_text(unread())
                    .map(|text| {
                        view! {
                            <span
                                data-testid="unread-badge"
                                aria-hidden="true"
                                class="absolute -right-0.5 -top-0.5 min-w-5 rounded-full bg-rose-600 px-1.5 text-center text-xs font-semibold leading-5 text-white ring-2 ring-white"
                            >
                                {text}
                            </span>
                        }
                    })
            }}
        </button>
    }
}
