//! The card shown in place of a page's content to visitors who are not
//! signed in.

use leptos::prelude::*;

/// "Sign in to …" with a link to the sign-in page; `to` completes the sentence.
#[component]
pub fn SignInPrompt(to: &'static str) -> impl IntoView {
    view! {
        <section class="rounded-2xl border border-slate-200 bg-white p-6 shadow-sm">
            <p class="text-slate-700">{format!("Sign in to {to}.")}</p>
            <a href="/sign-in" class="mt-3 inline-block font-medium text-indigo-600 hover:underline">"Sign in"</a>
        </section>
    }
}
