//! Where an engine channel lives in Redis: its stream key and Pub/Sub name.
//!
//! Owns the naming table and nothing else. Every key of one channel carries
//! the same hash tag (`{…}`), so a Redis Cluster keeps them in one slot and
//! the publish script may touch them together. It must not talk to Redis.
//!
//! | engine channel   | stream key                | Pub/Sub channel         |
//! |------------------|---------------------------|-------------------------|
//! | `inbox:<user>`   | `belfry:{<user>}:inbox`   | `notifications:<user>`  |
//! | `<topic>:<key>`  | `belfry:{<key>}:<topic>`  | `belfry:<topic>:<key>`  |
//! | `<name>`         | `belfry:{<name>}`         | `belfry:<name>`         |
//!
//! Sets (e.g. `users`) are `belfry:<set>`.

/// The Redis names of one engine channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelKeys {
    /// The Stream holding the channel's history.
    pub stream: String,
    /// The Pub/Sub channel announcing its new events.
    pub pubsub: String,
}

/// The Redis names of engine channel `channel`.
pub fn channel_keys(channel: &str) -> ChannelKeys {
    match channel.split_once(':') {
        Some(("inbox", user)) => ChannelKeys {
            stream: format!("belfry:{{{user}}}:inbox"),
            pubsub: format!("notifications:{user}"),
        },
        Some((topic, key)) => ChannelKeys {
            stream: format!("belfry:{{{key}}}:{topic}"),
            pubsub: format!("belfry:{topic}:{key}"),
        },
        None => ChannelKeys {
            stream: format!("belfry:{{{channel}}}"),
            pubsub: format!("belfry:{channel}"),
        },
    }
}

/// The Redis key of the engine set `set`.
pub fn set_key(set: &str) -> String {
    format!("belfry:{set}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inbox_is_a_hash_tagged_stream_announced_on_notifications() {
        assert_eq!(
            channel_keys("inbox:alice"),
            ChannelKeys {
                stream: "belfry:{alice}:inbox".into(),
                pubsub: "notifications:alice".into(),
            }
        );
    }

    #[test]
    fn other_channels_are_tagged_by_their_key() {
        assert_eq!(channel_keys("progress:t1").stream, "belfry:{t1}:progress");
        assert_eq!(channel_keys("progress:t1").pubsub, "belfry:progress:t1");
        assert_eq!(channel_keys("orders").stream, "belfry:{orders}");
        assert_eq!(set_key("users"), "belfry:users");
    }
}
