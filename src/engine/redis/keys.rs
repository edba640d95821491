//! Where an engine channel lives in Redis.
//!
//! Owns the naming table and nothing else. A channel is one name: its
//! Stream (the history) and its Pub/Sub channel (the announcements) share
//! it, since Redis keeps keys and channels apart. Every name carries the
//! channel's hash tag (`{…}`), so a Redis Cluster keeps one user's keys in
//! one slot, and the publish script may touch them together. It must not
//! talk to Redis.
//!
//! | engine channel   | stream key and Pub/Sub channel |
//! |------------------|--------------------------------|
//! | `inbox:<user>`   | `belfry:{<user>}:inbox`        |
//! | `<topic>:<key>`  | `belfry:{<key>}:<topic>`       |
//! | `<name>`         | `belfry:{<name>}`              |
//!
//! Sets (e.g. `users`) are `belfry:<set>`. Before each feature had one
//! name, the inbox was announced on `notifications:<user>`; the publish
//! script still accepts that name from old callers (docs/publishing.md).

/// The Redis name (stream key and Pub/Sub channel) of engine channel
/// `channel`.
pub fn channel_key(channel: &str) -> String {
    match channel.split_once(':') {
        Some((topic, key)) => format!("belfry:{{{key}}}:{topic}"),
        None => format!("belfry:{{{channel}}}"),
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
    fn an_inbox_is_one_hash_tagged_name_for_stream_and_announcements() {
        assert_eq!(channel_key("inbox:alice"), "belfry:{alice}:inbox");
    }

    #[test]
    fn other_channels_are_tagged_by_their_key() {
        assert_eq!(channel_key("tasks:t1"), "belfry:{t1}:tasks");
        assert_eq!(channel_key("orders"), "belfry:{orders}");
        assert_eq!(set_key("users"), "belfry:users");
    }
}
