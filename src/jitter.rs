//! Random spreads that keep herds apart: streams closing during a drain,
//! the reconnect delay they advise, followers resyncing after an outage.
//!
//! Server-side only (the browser has its own, in `client::feeds::connection`).
//! Not for anything secret: it spreads load, nothing more.

use std::time::Duration;

/// A uniformly random duration in `[0, max)` (zero when `max` is zero).
pub fn below(max: Duration) -> Duration {
    let nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
    if nanos == 0 {
        return Duration::ZERO;
    }
    let mut bytes = [0u8; 8];
    // Without randomness, no spread: still correct, only less smooth.
    if getrandom::fill(&mut bytes).is_err() {
        return Duration::ZERO;
    }
    Duration::from_nanos(u64::from_le_bytes(bytes) % nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreads_stay_below_their_bound_and_vary() {
        let max = Duration::from_millis(100);
        let samples: Vec<Duration> = (0..200).map(|_| below(max)).collect();
        assert!(samples.iter().all(|d| *d < max));
        assert!(samples.iter().any(|d| *d != samples[0]), "not constant");
        assert_eq!(below(Duration::ZERO), Duration::ZERO);
    }
}
