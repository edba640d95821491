//! Token buckets (the governor crate, GCRA) for what callers may do often:
//! publishing (per publisher key), signing in (per client address, demo
//! mode), what a signed-in user fans out from the UI (dashboard sends,
//! simulated activity, started tasks: one bucket per user) and changes to a
//! multiplexed stream's feeds (per session, and per client address at ten
//! times that rate, since a NAT puts many browsers behind one).
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
    /// Dashboard sends, simulated activity and started tasks per minute
    /// per user.
    pub send_per_min: u32,
    /// Feed changes (`POST /api/feeds/{stream}`) per minute per session;
    /// ten times as many per client address.
    pub feed_change_per_min: u32,
    /// Wrong publisher keys per minute per client address; past it the
    /// address gets 429 before its key is even checked, until the minute
    /// is over.
    pub wrong_key_per_min: u32,
}

/// Client addresses whose wrong-key count is kept at most; past it, new
/// addresses share one count (so an attacker with many addresses cannot
/// grow the table, only lock themselves out together).
const WRONG_KEY_ADDRESSES: usize = 100_000;

/// How many times a session's feed-change rate one client address gets.
pub const FEED_CHANGES_PER_ADDRESS: u32 = 10;

/// The buckets of one instance; cheap to clone.
#[derive(Clone, Default)]
pub struct RateLimits {
    publish: Option<Arc<DefaultDirectRateLimiter>>,
    sign_in: Option<Arc<DefaultKeyedRateLimiter<IpAddr>>>,
    send: Option<Arc<DefaultKeyedRateLimiter<String>>>,
    feed_change_user: Option<Arc<DefaultKeyedRateLimiter<String>>>,
    feed_change_ip: Option<Arc<DefaultKeyedRateLimiter<IpAddr>>>,
    wrong_keys: Option<Arc<WrongKeys>>,
}

/// Wrong publisher keys per client address, counted in fixed one-minute
/// windows. Not a governor bucket: the check must come before the key's
/// (without spending anything), and only a wrong key spends.
#[derive(Debug)]
struct WrongKeys {
    per_min: u32,
    counts: std::sync::Mutex<std::collections::HashMap<IpAddr, (u32, std::time::Instant)>>,
}

impl WrongKeys {
    const WINDOW: Duration = Duration::from_secs(60);

    fn counts(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<IpAddr, (u32, std::time::Instant)>>
    {
        self.counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// 429 while `ip` is over its count for the current window.
    fn check(&self, ip: IpAddr) -> Result<(), ApiError> {
        let counts = self.counts();
        match counts.get(&ip) {
            Some(&(count, since)) if count >= self.per_min => {
                let left = Self::WINDOW.saturating_sub(since.elapsed());
                if left.is_zero() {
                    Ok(())
                } else {
                    Err(refused("wrong publisher keys from this address", left))
                }
            }
            _ => Ok(()),
        }
    }

    fn count(&self, ip: IpAddr) {
        let mut counts = self.counts();
        let ip = if counts.len() >= WRONG_KEY_ADDRESSES && !counts.contains_key(&ip) {
            UNKNOWN_ADDRESS
        } else {
            ip
        };
        let now = std::time::Instant::now();
        let entry = counts.entry(ip).or_insert((0, now));
        if entry.1.elapsed() >= Self::WINDOW {
            *entry = (0, now);
        }
        entry.0 = entry.0.saturating_add(1);
    }

    fn prune(&self) {
        self.counts()
            .retain(|_, (_, since)| since.elapsed() < Self::WINDOW);
    }
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits")
            .field("publish", &self.publish.is_some())
            .field("sign_in", &self.sign_in.is_some())
            .field("send", &self.send.is_some())
            .field("feed_change", &self.feed_change_user.is_some())
            .field("wrong_keys", &self.wrong_keys.is_some())
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

/// The bucket of requests whose client address is unknown.
const UNKNOWN_ADDRESS: IpAddr = IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);

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
            feed_change_user: per_minute(config.feed_change_per_min)
                .map(|q| Arc::new(RateLimiter::keyed(q))),
            feed_change_ip: per_minute(
                config
                    .feed_change_per_min
                    .saturating_mul(FEED_CHANGES_PER_ADDRESS),
            )
            .map(|q| Arc::new(RateLimiter::keyed(q))),
            wrong_keys: (config.wrong_key_per_min > 0).then(|| {
                Arc::new(WrongKeys {
                    per_min: config.wrong_key_per_min,
                    counts: std::sync::Mutex::default(),
                })
            }),
        }
    }

    /// Before a publisher key is checked: 429 while `ip` is over its count
    /// of wrong keys, so keys cannot be guessed at full speed.
    pub fn before_key_check(&self, ip: Option<IpAddr>) -> Result<(), ApiError> {
        match &self.wrong_keys {
            Some(wrong) => wrong.check(ip.unwrap_or(UNKNOWN_ADDRESS)),
            None => Ok(()),
        }
    }

    /// Counts a wrong (or missing) publisher key from `ip`.
    pub fn wrong_key(&self, ip: Option<IpAddr>) {
        if let Some(wrong) = &self.wrong_keys {
            wrong.count(ip.unwrap_or(UNKNOWN_ADDRESS));
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

    /// One change of a stream's feeds from `ip` by `user` (anonymous:
    /// `None`): counted per address, and per user when signed in.
    pub fn feed_change(&self, ip: Option<IpAddr>, user: Option<&str>) -> Result<(), ApiError> {
        if let Some(buckets) = &self.feed_change_ip {
            buckets
                .check_key(&ip.unwrap_or(UNKNOWN_ADDRESS))
                .map_err(|not_until| refused("feed changes from this address", wait(&not_until)))?;
        }
        match (&self.feed_change_user, user) {
            (Some(buckets), Some(user)) => buckets
                .check_key(&user.to_owned())
                .map_err(|not_until| refused("feed changes", wait(&not_until))),
            _ => Ok(()),
        }
    }

    /// One sign-in from `ip` (unknown addresses share one bucket).
    pub fn sign_in(&self, ip: Option<IpAddr>) -> Result<(), ApiError> {
        let ip = ip.unwrap_or(UNKNOWN_ADDRESS);
        match &self.sign_in {
            Some(buckets) => buckets
                .check_key(&ip)
                .map_err(|not_until| refused("sign-ins from this address", wait(&not_until))),
            None => Ok(()),
        }
    }

    /// One dashboard send, simulated activity or started task by `user`.
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
        for buckets in [&self.sign_in, &self.feed_change_ip].into_iter().flatten() {
            buckets.retain_recent();
            buckets.shrink_to_fit();
        }
        for buckets in [&self.send, &self.feed_change_user].into_iter().flatten() {
            buckets.retain_recent();
            buckets.shrink_to_fit();
        }
        if let Some(wrong) = &self.wrong_keys {
            wrong.prune();
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
    fn feed_changes_are_counted_per_session_and_per_address() {
        let limits = RateLimits::new(RateConfig {
            feed_change_per_min: 2,
            ..RateConfig::default()
        });
        let home = Some(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
        limits.feed_change(home, Some("alice")).unwrap();
        limits.feed_change(home, Some("alice")).unwrap();
        assert_eq!(
            limits
                .feed_change(home, Some("alice"))
                .unwrap_err()
                .status(),
            429
        );
        for _ in 0..17 {
            limits
                .feed_change(home, None)
                .expect("the address has 20 a minute");
        }
        assert_eq!(
            limits.feed_change(home, Some("bob")).unwrap_err().status(),
            429
        );
        limits
            .feed_change(None, Some("bob"))
            .expect("another address");
    }

    #[test]
    fn wrong_keys_lock_an_address_out_before_its_key_is_checked() {
        let limits = RateLimits::new(RateConfig {
            wrong_key_per_min: 2,
            ..RateConfig::default()
        });
        let guesser = Some(IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 9)));
        for _ in 0..2 {
            limits.before_key_check(guesser).unwrap();
            limits.wrong_key(guesser);
        }
        let refused = limits.before_key_check(guesser).unwrap_err();
        assert_eq!(refused.status(), 429);
        assert!(refused.retry_after().unwrap() >= 59, "{refused:?}");
        limits
            .before_key_check(Some(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)))
            .expect("another address is not locked out");
        limits.prune();
        assert!(
            limits.before_key_check(guesser).is_err(),
            "pruning keeps the window"
        );
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
