//! The live-connection indicator: a coloured dot with a text label.
//! Green when open, yellow while connecting, red when closed.

use leptos::prelude::*;

use crate::client::feeds::ConnectionState;

/// Shows `state` as a dot and a word; screen readers get "Live connection: …".
#[component]
pub fn StatusDot(#[prop(into)] state: Signal<ConnectionState>) -> impl IntoView {
    let colour = move || match state.get() {
        ConnectionState::Open => "bg-emerald-500",
        ConnectionState::Connecting | ConnectionState::Reconnecting => "bg-amber-400",
        ConnectionState::Closed => "bg-rose-500",
    };
    let label = move || match state.get() {
        ConnectionState::Open => "Live",
        ConnectionState::Connecting => "Connecting…",
        ConnectionState::Reconnecting => "Reconnecting…",
        ConnectionState::Closed => "Offline",
    };
    view! {
        <span
            role="status"
            aria-label=move || format!("Live connection: {}", state.get().as_str())
            data-state=move || state.get().as_str()
            class="inline-flex items-center gap-2 rounded-full bg-slate-100 px-3 py-1 text-xs font-medium text-slate-700"
        >
            <span class=move || format!("size-2.5 rounded-full {}", colour()) aria-hidden="true"></span>
            {label}
        </span>
    }
}
