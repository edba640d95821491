//! One activity entry: an icon and colour per type, who did what, details,
//! and a relative time that the page keeps fresh.

use leptos::prelude::*;

use crate::activity::model::{Activity, ActivityType};
use crate::client::time::{parse_ms, relative};

fn look(kind: ActivityType) -> (&'static str, &'static str) {
    match kind {
        ActivityType::UserJoined => ("👋", "bg-emerald-100 text-emerald-700"),
        ActivityType::PostCreated => ("📝", "bg-sky-100 text-sky-700"),
        ActivityType::CommentAdded => ("💬", "bg-violet-100 text-violet-700"),
        ActivityType::FileUploaded => ("📎", "bg-amber-100 text-amber-700"),
        ActivityType::TaskCompleted => ("✅", "bg-indigo-100 text-indigo-700"),
    }
}

/// An entry; `now` is the page's ticking clock (ms since the epoch).
#[component]
pub fn ActivityEntry(activity: Activity, #[prop(into)] now: Signal<i64>) -> impl IntoView {
    let (icon, colours) = look(activity.kind);
    let then = parse_ms(&activity.timestamp);
    let when = move || {
        then.map(|then| relative(then, now.get()))
            .unwrap_or_default()
    };
    view! {
        <li
            class="flex items-start gap-3 rounded-xl border border-slate-200 bg-white p-4 shadow-sm"
            data-testid="activity"
            data-type=activity.kind.as_str()
            data-id=activity.id.clone()
        >
            <span class=format!("flex size-9 shrink-0 items-center justify-center rounded-full text-lg {colours}") aria-hidden="true">
                {icon}
            </span>
            <div class="min-w-0 flex-1">
                <p class="text-sm text-slate-900">
                    <span class="font-semibold">{activity.user.clone()}</span>
                    " "
                    <span>{activity.action.clone()}</span>
                </p>
                <p class="truncate text-sm text-slate-600">{activity.details.clone()}</p>
            </div>
            <time class="shrink-0 text-xs text-slate-500" datetime=activity.timestamp.clone() data-testid="when">
                {when}
            </time>
        </li>
    }
}
