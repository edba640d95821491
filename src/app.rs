//! The HTML shell and the application root: header, routes, footer.
//!
//! Owns which page lives at which path. Pages own their content; this module
//! must not grow page logic.

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::StaticSegment;

use crate::account::context::{is_demo, provide_account};
use crate::account::page::SignInPage;
use crate::activity::page::ActivityPage;
use crate::home::HomePage;
use crate::inbox::page::NotificationsPage;
use crate::tasks::page::ProgressPage;
use crate::topics::page::TopicsPage;
use crate::ui::header::Header;

/// The full HTML document the server renders around [`App`].
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <AutoReload options=options.clone() />
                <HashedStylesheet options=options.clone() id="leptos" />
                <HydrationScripts options islands=true />
                <MetaTags />
            </head>
            // `data-demo` tells the browser what the server knows (see
            // `account::is_demo`).
            <body class="min-h-screen bg-slate-50 text-slate-900 antialiased" data-demo=is_demo().then_some("")>
                <App />
            </body>
        </html>
    }
}

/// The application: header with navigation, then the routed page.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    provide_account();
    view! {
        <Title text="Belfry" />
        <Router>
            <Header />
            <main class="mx-auto w-full max-w-5xl px-4 py-8 sm:px-6">
                <Routes fallback=|| view! { <NotFound /> }>
                    <Route path=StaticSegment("") view=HomePage />
                    <Route path=StaticSegment("notifications") view=NotificationsPage />
                    <Route path=StaticSegment("progress") view=ProgressPage />
                    <Route path=StaticSegment("activity") view=ActivityPage />
                    <Route path=StaticSegment("topics") view=TopicsPage />
                    <Route path=StaticSegment("sign-in") view=SignInPage />
                </Routes>
            </main>
        </Router>
    }
}

/// Shown for paths no route matches.
#[component]
fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(axum::http::StatusCode::NOT_FOUND);
        }
    }
    view! {
        <Title text="Not found · Belfry" />
        <section class="rounded-2xl border border-slate-200 bg-white p-8 text-center shadow-sm">
            <h1 class="text-2xl font-semibold">"Page not found"</h1>
            <p class="mt-2 text-slate-600">"There is nothing at this address."</p>
            <a href="/" class="mt-4 inline-block font-medium text-indigo-600 hover:underline">"Back to the clock"</a>
        </section>
    }
}
