//! Waiting for a condition in tests, the one way: poll it until it holds or
//! a deadline passes. Shared by the integration suites (`#[path]`); it must
//! not assert by itself, so each caller says what it waited for.

use std::time::Duration;

/// Polls `condition` until it holds or `within` passes; returns whether it held.
pub async fn eventually(within: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if condition() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
