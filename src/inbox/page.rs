//! `/notifications`: the test dashboard. Four buttons send a test
//! notification of each kind to yourself; in demo mode a form sends one to
//! anyone.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;

use crate::account::sign_in_prompt::SignInPrompt;

use crate::account::signed_in::SignedIn;
use crate::account::{context::is_demo, model::Account};
use crate::client::time::{clock_time, now_ms};
use crate::inbox::api::SendNotification;
use crate::inbox::model::NotificationKind;
use crate::ui::page_shell::{PageShell, PageText};

const PAGE: PageText = PageText::new(
    "Notifications",
    "Notifications",
    "Send test notifications and watch them arrive live: the bell's badge, the panel and a toast.",
);

/// The dashboard, or a prompt to sign in.
#[component]
pub fn NotificationsPage() -> impl IntoView {
    view! {
        <PageShell text=PAGE>
            <SignedIn fallback=|| view! { <SignInPrompt to="send and receive notifications" /> } let:account>
                <Dashboard account />
            </SignedIn>
        </PageShell>
    }
}

#[component]
fn Dashboard(account: Account) -> impl IntoView {
    view! {
        <div class="grid gap-6 lg:grid-cols-2">
            <TestButtons me=account.name.clone() />
            {is_demo().then(|| view! { <SendForm /> })}
        </div>
    }
}

/// One button per kind; each sends "Test <kind> notification" to yourself.
#[island(lazy)]
fn TestButtons(me: String) -> impl IntoView {
    crate::client::hydration::island_hydrated();
    let send = ServerAction::<SendNotification>::new();
    let buttons = NotificationKind::ALL.map(|kind| {
        let me = me.clone();
        let colours = match kind {
            NotificationKind::Info => "bg-sky-600 hover:bg-sky-500",
            NotificationKind::Success => "bg-emerald-600 hover:bg-emerald-500",
            NotificationKind::Warning => "bg-amber-500 hover:bg-amber-400",
            NotificationKind::Error => "bg-rose-600 hover:bg-rose-500",
        };
        view! {
            <button
                type="button"
                class=format!("flex items-center justify-center gap-2 rounded-lg px-4 py-3 font-medium text-white shadow-sm disabled:opacity-50 {colours}")
                disabled=move || send.pending().get()
                on:click=move |_| {
                    send.dispatch(SendNotification {
                        to: me.clone(),
                        kind,
                        title: format!("Test {} notification", kind.as_str()),
                        body: format!("Sent at {}", clock_time(now_ms())),
                    });
                }
            >
                {kind.label()}
            </button>
        }
    });
    view! {
        <section class="rounded-2xl border border-slate-200 bg-white p-6 shadow-sm" aria-labelledby="test-title">
            <h2 id="test-title" class="text-lg font-semibold text-slate-900">"Send yourself a test"</h2>
            <div class="mt-4 grid grid-cols-2 gap-3">{buttons}</div>
            <p class="mt-3 h-5 text-sm text-rose-600" role="alert">
                {move || match send.value().get() {
                    Some(Err(error)) => error.to_string(),
                    _ => String::new(),
                }}
            </p>
        </section>
    }
}

/// Send a notification to any user by name.
#[island(lazy)]
fn SendForm() -> impl IntoView {
    crate::client::hydration::island_hydrated();
    let send = ServerAction::<SendNotification>::new();
    let to = NodeRef::<leptos::html::Input>::new();
    let kind = NodeRef::<leptos::html::Select>::new();
    let title = NodeRef::<leptos::html::Input>::new();
    let body = NodeRef::<leptos::html::Textarea>::new();
    // A plain form: without JavaScript the browser posts it to the server
    // function; hydrated, it is sent from here and the page stays.
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let (Some(to), Some(kind), Some(title), Some(body)) =
            (to.get(), kind.get(), title.get(), body.get())
        else {
            return;
        };
        send.dispatch(SendNotification {
            to: to.value(),
            kind: NotificationKind::from_word(&kind.value()).unwrap_or(NotificationKind::Info),
            title: title.value(),
            body: body.value(),
        });
    };
    let outcome = move || match send.value().get() {
        Some(Ok(_)) => Some((true, "Sent.".to_owned())),
        Some(Err(error)) => Some((false, error.to_string())),
        None => None,
    };
    view! {
        <section class="rounded-2xl border border-slate-200 bg-white p-6 shadow-sm" aria-labelledby="send-title">
            <h2 id="send-title" class="text-lg font-semibold text-slate-900">"Send to a user"</h2>
            <form method="post" action=SendNotification::url() class="mt-4 space-y-3" on:submit=submit>
                <div class="grid grid-cols-3 gap-3">
                    <label class="col-span-2 block text-sm font-medium text-slate-700">
                        "Recipient"
                        <input node_ref=to name="to" type="text" required maxlength="32" class="mt-1 block w-full rounded-lg border border-slate-300 px-3 py-2" />
                    </label>
                    <label class="block text-sm font-medium text-slate-700">
                        "Kind"
                        <select node_ref=kind name="kind" class="mt-1 block w-full rounded-lg border border-slate-300 px-2 py-2">
                            {NotificationKind::ALL
                                .map(|kind| view! { <option value=kind.as_str()>{kind.label()}</option> })}
                        </select>
                    </label>
                </div>
                <label class="block text-sm font-medium text-slate-700">
                    "Title"
                    <input node_ref=title name="title" type="text" required maxlength="120" class="mt-1 block w-full rounded-lg border border-slate-300 px-3 py-2" />
                </label>
                <label class="block text-sm font-medium text-slate-700">
                    "Message"
                    <textarea node_ref=body name="body" rows="3" maxlength="1000" class="mt-1 block w-full rounded-lg border border-slate-300 px-3 py-2"></textarea>
                </label>
                <div class="flex items-center gap-3">
                    <button
                        type="submit"
                        class="rounded-lg bg-indigo-600 px-4 py-2 font-medium text-white shadow-sm hover:bg-indigo-500 disabled:bg-indigo-300"
                        disabled=move || send.pending().get()
                    >
                        "Send"
                    </button>
                    <p role="status" class="text-sm">
                        {move || outcome().map(|(ok, text)| view! {
                            <span class=if ok { "text-emerald-700" } else { "text-rose-600" }>{text}</span>
                        })}
                    </p>
                </div>
            </form>
        </section>
    }
}
