//! Turning instants into text for people.
//!
//! In the browser this uses the visitor's locale and time zone; on the
//! server (which renders before any tick has arrived) it falls back to UTC.

/// `HH:MM:SS` of `timestamp_ms` (milliseconds since the Unix epoch).
#[cfg(feature = "hydrate")]
pub fn clock_time(timestamp_ms: i64) -> String {
    // f64 holds every millisecond timestamp exactly until the year 287396.
    #[allow(clippy::cast_precision_loss)]
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(timestamp_ms as f64));
    format!(
        "{:02}:{:02}:{:02}",
        date.get_hours(),
        date.get_minutes(),
        date.get_seconds()
    )
}

/// `HH:MM:SS` of `timestamp_ms` (milliseconds since the Unix epoch), in UTC.
#[cfg(not(feature = "hydrate"))]
pub fn clock_time(timestamp_ms: i64) -> String {
    let seconds_of_day = timestamp_ms.div_euclid(1000).rem_euclid(86_400);
    format!(
        "{:02}:{:02}:{:02}",
        seconds_of_day / 3600,
        seconds_of_day / 60 % 60,
        seconds_of_day % 60
    )
}

/// The calendar date of `timestamp_ms` in the visitor's locale.
#[cfg(feature = "hydrate")]
pub fn calendar_date(timestamp_ms: i64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(timestamp_ms as f64));
    String::from(date.to_date_string())
}

/// The calendar date of `timestamp_ms`; the server never renders one.
#[cfg(not(feature = "hydrate"))]
pub fn calendar_date(_timestamp_ms: i64) -> String {
    String::new()
}

#[cfg(all(test, not(feature = "hydrate")))]
mod tests {
    use super::*;

    #[test]
    fn clock_time_is_zero_padded_utc() {
        // 2026-11-28T09:05:07.250Z
        assert_eq!(clock_time(1_795_856_707_250), "09:05:07");
    }
}

/// "just now", "5m ago", "2h ago", "3d ago" for an instant `then_ms` seen at `now_ms`.
pub fn relative(then_ms: i64, now_ms: i64) -> String {
    let seconds = (now_ms - then_ms).max(0) / 1000;
    match seconds {
        0..=59 => "just now".to_owned(),
        60..=3_599 => format!("{}m ago", seconds / 60),
        3_600..=86_399 => format!("{}h ago", seconds / 3600),
        _ => format!("{}d ago", seconds / 86_400),
    }
}

/// Milliseconds since the epoch of an RFC 3339 time, as the browser parses it.
#[cfg(feature = "hydrate")]
pub fn parse_ms(rfc3339: &str) -> Option<i64> {
    let ms = js_sys::Date::parse(rfc3339);
    #[allow(clippy::cast_possible_truncation)]
    (!ms.is_nan()).then_some(ms as i64)
}

/// Milliseconds since the epoch of an RFC 3339 time (the server renders no
/// relative times, so it does not parse them).
#[cfg(not(feature = "hydrate"))]
pub fn parse_ms(_rfc3339: &str) -> Option<i64> {
    None
}

/// Now, in milliseconds since the epoch.
#[cfg(feature = "hydrate")]
pub fn now_ms() -> i64 {
    #[allow(clippy::cast_possible_truncation)]
    let now = js_sys::Date::now() as i64;
    now
}

/// Now, in milliseconds since the epoch.
#[cfg(not(feature = "hydrate"))]
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// "Now" for relative times ("2 min ago"), refreshed every `period` while
/// the calling component lives.
pub fn use_now(period: std::time::Duration) -> leptos::prelude::ReadSignal<i64> {
    use leptos::prelude::{signal, Set};

    let (now, set_now) = signal(now_ms());
    crate::client::dom::every(period, move || set_now.set(now_ms()));
    now
}

#[cfg(test)]
mod relative_tests {
    use super::relative;

    #[test]
    fn relative_times_read_like_a_person_would_say_them() {
        let now = 1_000_000_000;
        assert_eq!(relative(now - 5_000, now), "just now");
        assert_eq!(relative(now - 5 * 60_000, now), "5m ago");
        assert_eq!(relative(now - 2 * 3_600_000, now), "2h ago");
        assert_eq!(relative(now - 3 * 86_400_000, now), "3d ago");
        assert_eq!(
            relative(now + 10_000, now),
            "just now",
            "clock skew is not the future"
        );
    }
}
