//! Who is signed in, for every component of a page: the account resource
//! (resolved on the server before the page is sent) and whether the server
//! runs in demo mode. It must not sign anyone in or out ([`super::api`]).

use leptos::prelude::*;

use super::api::current_account;
use super::model::Account;

/// The account resource, resolved on the server before the page is sent (so
/// the header is right even before scripts run) and shared via context.
pub fn provide_account() -> Resource<Option<Account>> {
    let account =
        Resource::new_blocking(|| (), |()| async { current_account().await.ok().flatten() });
    provide_context(account);
    account
}

/// The account resource provided by [`provide_account`].
pub fn use_account() -> Resource<Option<Account>> {
    expect_context::<Resource<Option<Account>>>()
}

/// Whether the server runs in demo mode, known synchronously on both
/// sides, so pages choose their content without a `Suspense` (whose
/// content streams out of order and would never show without JavaScript).
/// The server reads its state; the page's `<body data-demo>` (written by
/// `app::shell`) carries the answer to the browser.
pub fn is_demo() -> bool {
    #[cfg(feature = "ssr")]
    {
        use_context::<crate::server::state::AppState>().is_some_and(|state| state.demo)
    }
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    {
        document()
            .body()
            .is_some_and(|body| body.has_attribute("data-demo"))
    }
    #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
    {
        false
    }
}
