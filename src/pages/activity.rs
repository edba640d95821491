//! `/activity`: the activity demo page (not built yet).

use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::coming_soon::ComingSoon;

/// The activity page.
#[component]
pub fn ActivityPage() -> impl IntoView {
    view! {
        <Title text="Belfry · Activity" />
        <ComingSoon title="Activity" summary="A live feed of what happens across the app." />
    }
}
