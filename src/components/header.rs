//! The top bar on every page: brand, navigation, and the account area
//! (the bell and sign-out when signed in, a sign-in link otherwise).

use leptos::prelude::*;
use leptos_router::components::A;

use super::notification_center::NotificationCenter;
use super::signed_in::SignedIn;
use crate::account::SignOut;
use leptos::server_fn::ServerFn;

/// Brand, then links to every page; the current page is marked for
/// assistive technology (`aria-current`) and visually.
#[component]
pub fn Header() -> impl IntoView {
    let links = [
        ("/", "Home"),
        ("/notifications", "Notifications"),
        ("/progress", "Progress"),
        ("/activity", "Activity"),
    ];
    view! {
        <header class="border-b border-slate-200 bg-white">
            <div class="mx-auto flex w-full max-w-5xl flex-wrap items-center justify-between gap-3 px-4 py-3 sm:px-6">
                <a href="/" class="flex items-center gap-2 text-lg font-bold text-slate-900">
                    <img src="/favicon.svg" alt="" class="size-7" />
                    "Belfry"
                </a>
                <nav aria-label="Main" class="order-last w-full sm:order-none sm:w-auto">
                    <ul class="flex flex-wrap gap-1 text-sm font-medium">
                        {links
                            .into_iter()
                            .map(|(href, label)| {
                                view! {
                                    <li>
                                        <A
                                            href=href
                                            exact=true
                                            attr:class="rounded-lg px-3 py-2 text-slate-600 hover:bg-slate-100 hover:text-slate-900 aria-[current=page]:bg-indigo-50 aria-[current=page]:text-indigo-700"
                                        >
                                            {label}
                                        </A>
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ul>
                </nav>
                <AccountArea />
            </div>
        </header>
    }
}

/// The signed-in user's bell and name, or a sign-in link. Rendered by the
/// server (it knows the account before the page is sent); only the
/// signed-in part is interactive.
#[component]
fn AccountArea() -> impl IntoView {
    let sign_in_link = || {
        view! {
            <a href="/sign-in" class="rounded-lg bg-indigo-600 px-3 py-1.5 text-sm font-medium text-white hover:bg-indigo-500">
                "Sign in"
            </a>
        }
    };
    view! {
        <SignedIn fallback=sign_in_link let:account>
            <AccountMenu name=account.name />
        </SignedIn>
    }
}

/// The bell, the user's name and the sign-out button.
#[island]
fn AccountMenu(name: String) -> impl IntoView {
    crate::client::hydration::island_hydrated();
    view! {
        <div class="flex items-center gap-2">
            <NotificationCenter />
            <span class="hidden text-sm text-slate-600 sm:inline" data-testid="signed-in-as">
                {name}
            </span>
            // A plain form post (no script needed): the server ends the
            // session and sends the browser to the sign-in page.
            <form method="post" action=SignOut::url()>
                <button
                    type="submit"
                    class="rounded-lg px-2 py-1 text-sm text-slate-500 hover:bg-slate-100 hover:text-slate-900"
                >
                    "Sign out"
                </button>
            </form>
        </div>
    }
}
