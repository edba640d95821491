//! Token buckets (the governor crate, GCRA) for what callers may do often:
//! publishing (per publisher key), signing in (per client address, demo
//! mode) and dashboard sends (per user).
//!
//! A refused call gets 429 with `Retry-After` rounded up to whole seconds.
//! Keyed buckets are pruned once a minute ([`RateLimits::prune`]) so
//! addresses and users that went quiet do not pile up.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::server::error::ApiError;

/// How often keyed buckets are pruned.
pub const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// The configured rates (0 = unlimited).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateConfig {
    /// Publish API requests per second, sustained, per key.
    pub publish_per_sec: u32,
    /// Publish API requests allowed at once above that.
    pub publish_burst: u32,
    /// Sign-ins per minute per client address.
    pub sign_in_per_min: u32,
    /// Dashboard sends per minute per user.
    pub send_per_min: u32,
}

/// The buckets of one instance; cheap to clone.
#[derive(Clone, Default)]
pub struct RateLimits {
    publish: Option<Arc<DefaultDirectRateLimiter>>,
    sign_in: Option<Arc<DefaultKeyedRateLimiter<IpAddr>>>,
    send: Option<Arc<DefaultKeyedRateLimiter<String>>>,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits")
            .field("publish", &self.publish.is_some())
            .field("sign_in", &self.sign_in.is_some())
            .field("send", &self.send.is_some())
            .finish()
    }
}

fn refused(what: &str, wait: Duration) -> ApiError {
    let seconds = u32::try_from(wait.as_secs() + u64::from(wait.subsec_nanos() > 0))
        .unwrap_or(u32::MAX)
        .max(1);
    ApiError::TooManyRequests {
        message: format!("too many {what}; retry in {seconds} s"),
        retry_after: seconds,
    }
}

fn per_minute(rate: u32) -> Option<Quota> {
    NonZeroU32::new(rate).map(Quota::per_minute)
}

impl RateLimits {
    /// Buckets as configured; a rate of 0 has none.
    pub fn new(config: RateConfig) -> Self {
        let publish = NonZeroU32::new(config.publish_per_sec).map(|rate| {
            let burst = NonZeroU32::new(config.publish_burst).unwrap_or(rate);
            Arc::new(RateLimiter::direct(
                Quota::per_second(rate).allow_burst(burst),
            ))
        });
        Self {
            publish,
            sign_in: per_minute(config.sign_in_per_min).map(|q| Arc::new(RateLimiter::keyed(q))),
            send: per_minute(config.send_per_min).map(|q| Arc::new(RateLimiter::keyed(q))),
        }
    }

    /// One publish API request with the publisher key.
    pub fn publish(&self) -> Result<(), ApiError> {
        match &self.publish {
            Some(bucket) => bucket
                .check()
                .map_err(|not_until| refused("publish requests", wait(&not_until))),
            None => Ok(()),
        }
    }

    /// One sign-in from `ip` (unknown addresses share one bucket).
    pub fn sign_in(&self, ip: Option<IpAddr>) -> Result<(), ApiError> {
        let ip = ip.unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        match &self.sign_in {
            Some(buckets) => buckets
                .check_key(&ip)
                .map_err(|not_until| refused("sign-ins from this address", wait(&not_until))),
            None => Ok(()),
        }
    }

    /// One dashboard send by `user`.
    pub fn send(&self, user: &str) -> Result<(), ApiError> {
        match &self.send {
            Some(buckets) => buckets
                .check_key(&user.to_owned())
                .map_err(|not_until| refused("sends", wait(&not_until))),
            None => Ok(()),
        }
    }

    /// Forgets keyed buckets that are full again (their keys went quiet).
    pub fn prune(&self) {
        if let Some(buckets) = &self.sign_in {
            buckets.retain_recent();
            buckets.shrink_to_fit();
        }
        if let Some(buckets) = &self.send {
            buckets.retain_recent();
            buckets.shrink_to_fit();
        }
    }
}

fn wait(not_until: &governor::NotUntil<<DefaultClock as Clock>::Instant>) -> Duration {
    not_until.wait_time_from(DefaultClock::default().now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_past_the_bucket_is_refused_with_a_retry_time() {
        let limits = RateLimits::new(RateConfig {
            publish_per_sec: 1,
            publish_burst: 3,
            ..RateConfig::default()
        });
        for _ in 0..3 {
            limits.publish().expect("within the burst");
        }
        let refused = limits.publish().unwrap_err();
        assert_eq!(refused.status(), 429);
        assert_eq!(refused.retry_after(), Some(1));
    }

    #[test]
    fn keyed_buckets_are_separate() {
        let limits = RateLimits::new(RateConfig {
            send_per_min: 1,
            sign_in_per_min: 1,
            ..RateConfig::default()
        });
        limits.send("alice").unwrap();
        assert!(limits.send("alice").is_err());
        limits.send("bob").expect("bob has his own bucket");
        let home = Some(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
        limits.sign_in(home).unwrap();
        let refused = limits.sign_in(home).unwrap_err();
        assert!(refused.retry_after().unwrap() >= 59, "{refused:?}");
        limits.sign_in(None).expect("another address");
        limits.prune();
    }

    #[test]
    fn zero_means_unlimited() {
        let limits = RateLimits::new(RateConfig::default());
        for _ in 0..10_000 {
            limits.publish().unwrap();
            limits.send("alice").unwrap();
        }
    }
}
