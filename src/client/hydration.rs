//! When the page is hydrated: `<body data-hydrated>` once every island on it
//! has hydrated.
//!
//! Page islands load lazily (their code is a separate WASM chunk fetched
//! after the main bundle), so "the bundle ran" is not "the page works". Each
//! island calls [`island_hydrated`] as it starts; the last one to do so sets
//! the attribute after its view is attached. Tests wait for it before they
//! click, and it is a fact worth exposing to anyone scripting the page.
//!
//! Work that should wait for a hydrated page (fetching code for later)
//! queues with [`when_hydrated`]. This module only counts and calls back;
//! it must not change what an island renders.

/// Called by the bundle's entry point once it has started: a page without
/// islands is hydrated at once.
pub fn start() {
    #[cfg(feature = "hydrate")]
    browser::mark_if_done();
}

/// Runs `then` once every island on the page has hydrated (at once if
/// they have). On the server it does nothing.
pub fn when_hydrated(then: impl FnOnce() + 'static) {
    #[cfg(feature = "hydrate")]
    {
        if browser::DONE.with(std::cell::Cell::get) {
            then();
        } else {
            browser::WAITING.with(|waiting| waiting.borrow_mut().push(Box::new(then)));
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = then;
}

/// Called first thing in every island's body. On the server it does nothing.
pub fn island_hydrated() {
    #[cfg(feature = "hydrate")]
    {
        browser::HYDRATED.with(|count| count.set(count.get() + 1));
        browser::mark_if_done();
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use std::cell::{Cell, RefCell};

    thread_local! {
        /// Islands whose body has run.
        pub static HYDRATED: Cell<u32> = const { Cell::new(0) };
        /// Whether the page is hydrated (`data-hydrated` is set).
        pub static DONE: Cell<bool> = const { Cell::new(false) };
        /// What runs once it is.
        pub static WAITING: RefCell<Vec<Box<dyn FnOnce()>>> = RefCell::new(Vec::new());
    }

    /// Sets `data-hydrated` once as many islands have started as the page
    /// holds. The island's view attaches right after its body returns, in
    /// the same task, so a zero timeout runs after it.
    pub fn mark_if_done() {
        let Some(document) = web_sys::window().and_then(|window| window.document()) else {
            return;
        };
        let islands = document
            .query_selector_all("leptos-island")
            .map(|list| list.length())
            .unwrap_or(0);
        if HYDRATED.with(Cell::get) < islands {
            return;
        }
        leptos::prelude::set_timeout(
            move || {
                if DONE.with(|done| done.replace(true)) {
                    return;
                }
                if let Some(body) = document.body() {
                    let _ = body.set_attribute("data-hydrated", "");
                }
                for then in WAITING.with(|waiting| std::mem::take(&mut *waiting.borrow_mut())) {
                    then();
                }
            },
            std::time::Duration::ZERO,
        );
    }
}
