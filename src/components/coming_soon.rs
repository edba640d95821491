//! A placeholder card for pages whose feature has not landed yet.

use leptos::prelude::*;

/// "Coming soon" with the page's title and a line on what it will do.
#[component]
pub fn ComingSoon(title: &'static str, summary: &'static str) -> impl IntoView {
    view! {
        <section class="rounded-2xl border border-dashed border-slate-300 bg-white p-8 text-center">
            <h1 class="text-2xl font-semibold text-slate-900">{title}</h1>
            <p class="mt-2 text-slate-600">{summary}</p>
            <p class="mt-4 inline-block rounded-full bg-indigo-50 px-3 py-1 text-sm font-medium text-indigo-700">
                "Coming soon"
            </p>
        </section>
    }
}
