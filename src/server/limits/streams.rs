//! Open-stream limits: per user, per client address, signed-in streams in
//! all, and anonymous streams in all.
//!
//! Anonymous streams (the clock, an anonymous multiplexed stream) draw on
//! a budget of their own ([`StreamLimitConfig::anonymous`]), apart from the
//! signed-in users' ([`StreamLimitConfig::total`]): however many anonymous
//! streams a client opens, a signed-in user's inbox still opens. The
//! per-address limit applies to both, so one client cannot take a whole
//! budget either.
//!
//! [`StreamLimits::admit`] takes a [`StreamPermit`] or answers 429; the
//! permit lives inside the stream's body and gives its place back when the
//! body is dropped (client gone, stream ended, connection timed out), so no
//! count can leak. Counting is a short critical section under one mutex:
//! it runs once per stream opened and closed, never per event.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::account::model::UserName;
use crate::server::error::ApiError;

/// Seconds a client refused for too many streams is told to wait.
const RETRY_AFTER_SECS: u32 = 10;

/// The configured limits (0 = unlimited).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamLimitConfig {
    /// Streams one user may hold.
    pub per_user: u32,
    /// Streams one client address may hold.
    pub per_ip: u32,
    /// Streams of signed-in users this instance holds in all.
    pub total: u32,
    /// Anonymous streams this instance holds in all (apart from `total`).
    pub anonymous: u32,
}

/// Counts open streams against [`StreamLimitConfig`]; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct StreamLimits {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    config: StreamLimitConfig,
    counts: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    total: u32,
    anonymous: u32,
    users: HashMap<Arc<str>, u32>,
    ips: HashMap<IpAddr, u32>,
}

/// One admitted stream's place; dropping it frees the place.
#[derive(Debug)]
pub struct StreamPermit {
    inner: Arc<Inner>,
    anonymous: bool,
    user: Option<Arc<str>>,
    ip: Option<IpAddr>,
}

impl Inner {
    fn counts(&self) -> MutexGuard<'_, Counts> {
        // A panic while counting leaves plain integers behind: still usable.
        self.counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn refused(message: &str) -> ApiError {
    ApiError::TooManyRequests {
        message: message.to_owned(),
        retry_after: RETRY_AFTER_SECS,
    }
}

impl StreamLimits {
    /// Limits as configured.
    pub fn new(config: StreamLimitConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                counts: Mutex::default(),
            }),
        }
    }

    /// A place for one more stream of `user` (anonymous streams: `None`)
    /// from `ip` (unknown: `None`), or 429 naming the limit reached.
    pub fn admit(
        &self,
        user: Option<&UserName>,
        ip: Option<IpAddr>,
    ) -> Result<StreamPermit, ApiError> {
        let config = self.inner.config;
        let anonymous = user.is_none();
        let user = user
            .filter(|_| config.per_user > 0)
            .map(|user| Arc::<str>::from(user.as_str()));
        let ip = ip.filter(|_| config.per_ip > 0);
        let mut counts = self.inner.counts();
        if anonymous {
            if config.anonymous > 0 && counts.anonymous >= config.anonymous {
                return Err(refused(
                    "this server holds as many anonymous streams as it may; sign in or retry shortly",
                ));
            }
        } else if config.total > 0 && counts.total >= config.total {
            return Err(refused(
                "this server holds as many streams as it may; retry shortly",
            ));
        }
        if let Some(user) = &user {
            if counts.users.get(user).copied().unwrap_or(0) >= config.per_user {
                return Err(refused(
                    "too many open streams for this user: close a tab or retry later",
                ));
            }
        }
        if let Some(ip) = ip {
            if counts.ips.get(&ip).copied().unwrap_or(0) >= config.per_ip {
                return Err(refused("too many open streams from this address"));
            }
        }
        if anonymous {
            counts.anonymous += 1;
        } else {
            counts.total += 1;
        }
        if let Some(user) = &user {
            *counts.users.entry(Arc::clone(user)).or_default() += 1;
        }
        if let Some(ip) = ip {
            *counts.ips.entry(ip).or_default() += 1;
        }
        drop(counts);
        Ok(StreamPermit {
            inner: Arc::clone(&self.inner),
            anonymous,
            user,
            ip,
        })
    }

    /// Open streams of `user` counted now (0 when per-user is unlimited).
    pub fn open_for(&self, user: &str) -> u32 {
        self.inner.counts().users.get(user).copied().unwrap_or(0)
    }
}

fn give_back<K: std::hash::Hash + Eq>(map: &mut HashMap<K, u32>, key: &K) {
    if let Some(count) = map.get_mut(key) {
        *count = count.saturating_sub(1);
        if *count == 0 {
            map.remove(key);
        }
    }
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        let mut counts = self.inner.counts();
        if self.anonymous {
            counts.anonymous = counts.anonymous.saturating_sub(1);
        } else {
            counts.total = counts.total.saturating_sub(1);
        }
        if let Some(user) = &self.user {
            give_back(&mut counts.users, user);
        }
        if let Some(ip) = &self.ip {
            give_back(&mut counts.ips, ip);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> UserName {
        UserName::parse("alice").unwrap()
    }

    const HOME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));

    #[test]
    fn the_user_limit_refuses_one_past_it_and_frees_on_drop() {
        let limits = StreamLimits::new(StreamLimitConfig {
            per_user: 2,
            ..StreamLimitConfig::default()
        });
        let first = limits.admit(Some(&alice()), None).unwrap();
        let _second = limits.admit(Some(&alice()), None).unwrap();
        let refused = limits.admit(Some(&alice()), None).unwrap_err();
        assert_eq!(refused.status(), 429);
        assert_eq!(refused.retry_after(), Some(RETRY_AFTER_SECS));
        assert!(limits
            .admit(Some(&UserName::parse("bob").unwrap()), None)
            .is_ok());
        drop(first);
        assert!(limits.admit(Some(&alice()), None).is_ok());
    }

    #[test]
    fn the_address_and_anonymous_limits_hold_for_anonymous_streams() {
        let limits = StreamLimits::new(StreamLimitConfig {
            per_ip: 1,
            anonymous: 2,
            ..StreamLimitConfig::default()
        });
        let _a = limits.admit(None, Some(HOME)).unwrap();
        assert!(limits.admit(None, Some(HOME)).is_err(), "per address");
        let _b = limits.admit(None, None).unwrap();
        assert!(limits.admit(None, None).is_err(), "in all");
    }

    #[test]
    fn anonymous_streams_never_take_a_signed_in_users_place() {
        let limits = StreamLimits::new(StreamLimitConfig {
            total: 1,
            anonymous: 3,
            ..StreamLimitConfig::default()
        });
        let anonymous: Vec<_> = (0..3).map(|_| limits.admit(None, None).unwrap()).collect();
        assert!(
            limits.admit(None, None).is_err(),
            "the anonymous budget is spent"
        );
        let alice = limits
            .admit(Some(&alice()), None)
            .expect("alice's place is in a budget of its own");
        assert!(
            limits
                .admit(Some(&UserName::parse("bob").unwrap()), None)
                .is_err(),
            "the signed-in budget is spent"
        );
        drop(alice);
        drop(anonymous);
        let counts = limits.inner.counts();
        assert_eq!((counts.total, counts.anonymous), (0, 0));
    }

    #[test]
    fn zero_means_unlimited_and_nothing_is_tracked() {
        let limits = StreamLimits::new(StreamLimitConfig::default());
        let permits: Vec<_> = (0..100)
            .map(|_| limits.admit(Some(&alice()), Some(HOME)).unwrap())
            .collect();
        assert_eq!(limits.open_for("alice"), 0);
        drop(permits);
        assert_eq!(limits.inner.counts().total, 0);
    }
}
