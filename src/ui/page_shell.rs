//! The frame every page's content sits in: the document title, the page
//! heading, then the content, spaced alike on every page. Rendered on the
//! server only (pages are not islands), so it adds nothing to the WASM.

use leptos::prelude::*;
use leptos_meta::Title;

use super::page_heading::PageHeading;

/// What a page says about itself.
#[derive(Debug, Clone, Copy)]
pub struct PageText {
    /// The document title after "Belfry · ".
    pub title: &'static str,
    /// The `<h1>`.
    pub heading: &'static str,
    /// The sentence under it.
    pub lead: &'static str,
}

impl PageText {
    /// A page's title, heading and lead sentence.
    pub const fn new(title: &'static str, heading: &'static str, lead: &'static str) -> Self {
        Self {
            title,
            heading,
            lead,
        }
    }
}

/// The page described by `text`, with `children` under its heading.
#[component]
pub fn PageShell(text: PageText, children: Children) -> impl IntoView {
    view! {
        <Title text=format!("Belfry · {}", text.title) />
        <div class="space-y-6">
            <PageHeading title=text.heading lead=text.lead />
            {children()}
        </div>
    }
}
