//! `/sign-in`: in demo mode, pick a display name; otherwise, a page that
//! says the host application signs people in (there is no form to abuse).

use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;

use crate::account::model::UserName;
use crate::account::{api::SignIn, context::is_demo};
use crate::client::dom::load_page;

/// The sign-in page: the form in demo mode, an explanation otherwise.
#[component]
pub fn SignInPage() -> impl IntoView {
    let form = if is_demo() {
        view! { <SignInForm /> }.into_any()
    } else {
        view! { <HostSignIn /> }.into_any()
    };
    view! {
        <Title text="Belfry · Sign in" />
        {form}
    }
}

/// Outside demo mode: where sessions come from.
#[component]
fn HostSignIn() -> impl IntoView {
    view! {
        <section class="mx-auto max-w-md rounded-2xl border border-slate-200 bg-white p-6 shadow-sm sm:p-8">
            <h1 class="text-2xl font-semibold text-slate-900">"Sign in"</h1>
            <p class="mt-2 text-slate-600">
                "Notifications belong to your account in the application that sent you here. Sign in there: it opens your session for this notification center too."
            </p>
            <p class="mt-2 text-sm text-slate-500">
                "Operators: sessions are tokens the host application signs with BELFRY_SESSION_SECRET (see docs/publishing.md). Run with --demo to sign in by name."
            </p>
        </section>
    }
}

/// The demo's form. Valid names are checked in the browser first, with the
/// same rules the server enforces.
#[island(lazy)]
fn SignInForm() -> impl IntoView {
    crate::client::hydration::island_hydrated();
    let sign_in = ServerAction::<SignIn>::new();
    let field = NodeRef::<leptos::html::Input>::new();
    let (name, set_name) = signal(String::new());
    let problem = move || {
        let name = name.get();
        (!name.is_empty())
            .then(|| UserName::parse(name.trim()).err().map(|e| e.to_string()))
            .flatten()
    };
    Effect::new(move |_| {
        if let Some(Ok(_)) = sign_in.value().get() {
            load_page("/notifications");
        }
    });
    let server_error = move || match sign_in.value().get() {
        Some(Err(error)) => Some(error.to_string()),
        _ => None,
    };
    view! {
        <section class="mx-auto max-w-md rounded-2xl border border-slate-200 bg-white p-6 shadow-sm sm:p-8">
            <h1 class="text-2xl font-semibold text-slate-900">"Sign in"</h1>
            <p class="mt-1 text-sm text-slate-600">"Pick a display name. Anyone can be anyone here: it is a demo."</p>
            // A plain form: without JavaScript the browser posts it to the
            // server function; hydrated, it is sent from here.
            <form
                method="post"
                action=SignIn::url()
                class="mt-6 space-y-4"
                on:submit=move |event| {
                    event.prevent_default();
                    if let Some(input) = field.get() {
                        sign_in.dispatch(SignIn { name: input.value() });
                    }
                }
            >
                <div>
                    <label for="name" class="block text-sm font-medium text-slate-700">"Display name"</label>
                    <input
                        node_ref=field
                        id="name"
                        name="name"
                        type="text"
                        required
                        maxlength="32"
                        autocomplete="username"
                        pattern="[A-Za-z0-9._\\-]{1,32}"
                        class="mt-1 block w-full rounded-lg border border-slate-300 px-3 py-2 text-slate-900 shadow-sm focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-200"
                        // Uncontrolled: what is typed before the page
                        // hydrates stays in the field (a bound value would
                        // be reset to the empty signal on hydration).
                        on:input=move |event| set_name.set(event_target_value(&event))
                    />
                    <p class="mt-1 h-5 text-sm text-rose-600" role="alert">{move || problem().or_else(server_error)}</p>
                </div>
                <button
                    type="submit"
                    class="w-full rounded-lg bg-indigo-600 px-4 py-2 font-medium text-white shadow-sm hover:bg-indigo-500 disabled:bg-indigo-300"
                    disabled=move || sign_in.pending().get() || problem().is_some()
                >
                    "Sign in"
                </button>
            </form>
        </section>
    }
}
