//! `/notifications`: the notifications demo page (not built yet).

use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::coming_soon::ComingSoon;

/// The notifications page.
#[component]
pub fn NotificationsPage() -> impl IntoView {
    view! {
        <Title text="Belfry · Notifications" />
        <ComingSoon title="Notifications" summary="Send test notifications of every kind and watch them arrive live." />
    }
}
