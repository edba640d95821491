//! The top bar on every page: brand, navigation, and the account area
//! ([`AccountArea`]: the bell and sign-out when signed in, a sign-in link
//! otherwise).

use leptos::prelude::*;
use leptos_router::components::A;

use crate::account::menu::AccountArea;

/// Brand, then links to every page; the current page is marked for
/// assistive technology (`aria-current`) and visually.
#[component]
pub fn Header() -> impl IntoView {
    let links = [
        ("/", "Home"),
        ("/notifications", "Notifications"),
        ("/progress", "Progress"),
        ("/activity", "Activity"),
        ("/topics", "Topics"),
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
