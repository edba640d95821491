//! `/progress`: the progress demo page (not built yet).

use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::coming_soon::ComingSoon;

/// The progress page.
#[component]
pub fn ProgressPage() -> impl IntoView {
    view! {
        <Title text="Belfry · Progress" />
        <ComingSoon title="Progress" summary="Start long-running tasks and follow their progress bars live." />
    }
}
