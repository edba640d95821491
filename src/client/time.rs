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
