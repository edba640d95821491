//! What an engine counts for operators: publishes by outcome, followers
//! resynced or reset, the Redis link's reconnects, and how long an event
//! takes from publish to being handed to a stream.
//!
//! One [`EngineStats`] per engine instance (so tests can run several apps
//! side by side); the server registers its series with `/metrics`. The
//! counters are shared atomics; the latency histogram takes a lock, so the
//! fan-out path samples it (one delivery in [`LATENCY_SAMPLE`] per
//! follower), never observes every delivery.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};

use super::EngineError;

/// A follower observes one delivery's latency in this many.
pub const LATENCY_SAMPLE: u32 = 16;

/// Labels of one series: `[(name, value)]`.
pub type Labels = Vec<(&'static str, &'static str)>;

/// The engine's counters; cheap to clone (clones share the values).
#[derive(Clone)]
pub struct EngineStats {
    /// Publishes by `outcome`: stored, conflict, unavailable, invalid,
    /// unreplicated, full.
    pub publishes: Family<Labels, Counter>,
    /// Followers that re-read history, by `cause`: lag (fell behind the
    /// live buffer) or outage (the engine's feed was interrupted).
    pub resyncs: Family<Labels, Counter>,
    /// Followers that could not be resynced and were sent `reset`.
    pub resets: Counter,
    /// Times the Redis Pub/Sub link was re-established after a loss.
    pub reconnects: Counter,
    /// 1 while the engine's live link is up (always 1 in-process).
    pub link_up: Gauge,
    /// Seconds from publish (the event id's clock) to the event being
    /// handed to a stream, sampled.
    pub delivery_latency: Histogram,
    /// Things the in-process engine holds now, by `kind` (inboxes, read
    /// states, tasks, idempotency records, users…); empty on Redis, whose
    /// memory is Redis's to bound.
    pub stored: Family<Labels, Gauge>,
    /// The in-process engine's bound for each `kind` of [`Self::stored`]:
    /// at it, new things of that kind are refused ([`EngineError::Full`]).
    pub bounds: Family<Labels, Gauge>,
}

impl Default for EngineStats {
    fn default() -> Self {
        Self {
            publishes: Family::default(),
            resyncs: Family::default(),
            resets: Counter::default(),
            reconnects: Counter::default(),
            link_up: Gauge::default(),
            // 0.5 ms … ~4 s.
            delivery_latency: Histogram::new(exponential_buckets(0.0005, 2.0, 14)),
            stored: Family::default(),
            bounds: Family::default(),
        }
    }
}

impl EngineStats {
    /// Counts a publish by its outcome.
    pub fn publish_outcome<T>(&self, result: &Result<T, EngineError>) {
        let outcome = match result {
            Ok(_) => "stored",
            Err(EngineError::Conflict) => "conflict",
            Err(EngineError::Unavailable(_)) => "unavailable",
            Err(EngineError::Invalid(_)) => "invalid",
            Err(EngineError::Unreplicated(_)) => "unreplicated",
            Err(EngineError::Full(_)) => "full",
        };
        self.publishes
            .get_or_create(&vec![("outcome", outcome)])
            .inc();
    }

    /// Counts a resync, `outage` telling why.
    pub fn resync(&self, outage: bool) {
        let cause = if outage { "outage" } else { "lag" };
        self.resyncs.get_or_create(&vec![("cause", cause)]).inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_are_counted_by_label() {
        let stats = EngineStats::default();
        stats.publish_outcome(&Ok::<(), EngineError>(()));
        stats.publish_outcome(&Ok::<(), EngineError>(()));
        stats.publish_outcome(&Err::<(), _>(EngineError::Conflict));
        assert_eq!(
            stats
                .publishes
                .get_or_create(&vec![("outcome", "stored")])
                .get(),
            2
        );
        assert_eq!(
            stats
                .publishes
                .get_or_create(&vec![("outcome", "conflict")])
                .get(),
            1
        );
        let shared = stats.clone();
        shared.resets.inc();
        assert_eq!(stats.resets.get(), 1, "clones share the values");
    }
}
