//! The header's account area: the signed-in user's bell, name and sign-out
//! button (the one eager island), or a sign-in link. It must not hold the
//! inbox's own logic (that is [`crate::inbox`]).

use leptos::prelude::*;
use leptos::server_fn::ServerFn;

use super::api::SignOut;
use super::signed_in::SignedIn;
use crate::inbox::center::NotificationCenter;

/// The signed-in user's bell and name, or a sign-in link. Rendered by the
/// server (it knows the account before the page is sent); only the
/// signed-in part is interactive.
#[component]
pub fn AccountArea() -> impl IntoView {
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
