//! Members-only content: what a signed-in visitor sees, or what everyone
//! else sees instead. The account is known on the server before the page
//! is sent, so the right one is in the HTML. It must not fetch the account
//! itself (that is [`crate::account::context::use_account`]).

use leptos::prelude::*;

use crate::account::{context::use_account, model::Account};

/// `children(account)` for a signed-in visitor, `fallback` otherwise.
#[component]
pub fn SignedIn<V>(
    /// What visitors who are not signed in see.
    #[prop(into)]
    fallback: ViewFn,
    /// The content, given the account.
    children: impl Fn(Account) -> V + Send + Sync + 'static,
) -> impl IntoView
where
    V: IntoView + 'static,
{
    let account = use_account();
    view! {
        <Suspense fallback=|| ()>
            {move || {
                account
                    .get()
                    .map(|account| match account {
                        Some(account) => children(account).into_any(),
                        None => fallback.run(),
                    })
            }}
        </Suspense>
    }
}
