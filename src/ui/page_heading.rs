//! The heading every page starts with: its title and a sentence on what it
//! is for, with room on the right for a live indicator.

use leptos::prelude::*;

/// `<h1>` with `title`, the `lead` sentence under it, and `children` (a
/// status dot, say) to the right.
#[component]
pub fn PageHeading(
    title: &'static str,
    lead: &'static str,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    view! {
        <div class="flex flex-wrap items-end justify-between gap-4">
            <div>
                <h1 class="text-3xl font-bold tracking-tight text-slate-900">{title}</h1>
                <p class="mt-2 max-w-2xl text-slate-600">{lead}</p>
            </div>
            {children.map(|children| children())}
        </div>
    }
}
