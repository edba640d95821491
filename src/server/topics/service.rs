//! Topic operations: define and delete topics, add and remove followers,
//! list both ways, within the operator's limits.
//!
//! What is stored (docs/topics.md, "What is stored"):
//! - a topic's definition: one record, replaced on change, in the channel
//!   `topic-def:<key>` (Redis: `belfry:{<key>}:topic-def`), carrying a
//!   random *generation* so a topic deleted and made again under the same
//!   key starts with no followers;
//! - every topic's key, in the set `topics` (to list them and to count
//!   them against `BELFRY_MAX_TOPICS`);
//! - a topic's followers, in the set `followers:<key>` (to list them);
//! - what one user follows, in one record per user, `follows:<user>`
//!   (Redis: `belfry:{<user>}:follows`, in the slot of their inbox), each
//!   topic with its generation and the position in the topic's channel the
//!   follow starts after. This record is the truth a user's feed reads; the
//!   followers set is its index. It is changed by compare-and-set, like the
//!   read state, so two instances changing one user's topics never lose a
//!   change.
//!
//! It must not know about HTTP: `api.rs` parses requests and calls it.

use std::collections::BTreeMap;

use bytes::Bytes;
use prometheus_client::metrics::counter::Counter;
use serde::{Deserialize, Serialize};

use crate::account::model::UserName;
use crate::engine::{EngineError, EventId, SharedEngine};
use crate::server::error::ApiError;
use crate::topics::model::{Topic, TopicChoice, TopicKey};
use crate::wire::names;

/// The engine set holding every topic's key.
pub const TOPICS_SET: &str = "topics";

/// The engine set holding the keys of open topics (what `/topics` offers).
pub const OPEN_TOPICS_SET: &str = "open-topics";

/// Most names in one call that adds or removes followers.
pub const MAX_USERS_PER_CALL: usize = 1000;

/// Attempts at a change of a user's follow record before giving up on
/// contention.
const FOLLOW_ATTEMPTS: usize = 8;

/// The engine channel a topic's notifications are published to.
pub fn channel(key: &TopicKey) -> String {
    format!("topic:{key}")
}

/// The engine channel holding a topic's definition (one record).
pub fn definition_channel(key: &TopicKey) -> String {
    format!("topic-def:{key}")
}

/// The engine set of a topic's followers.
pub fn followers_set(key: &TopicKey) -> String {
    format!("followers:{key}")
}

/// The engine channel holding what `user` follows (one record).
pub fn follows_channel(user: &UserName) -> String {
    format!("follows:{user}")
}

/// The operator's limits; 0 means unlimited.
#[derive(Debug, Clone, Copy)]
pub struct TopicLimits {
    /// Topics one user may follow (`BELFRY_MAX_TOPICS_PER_USER`).
    pub per_user: u64,
    /// Topics in all (`BELFRY_MAX_TOPICS`).
    pub total: u64,
}

/// What `/metrics` counts of topics.
#[derive(Clone, Default)]
pub struct TopicStats {
    /// Follows made (a user added to a topic they did not follow).
    pub followers_added: Counter,
    /// Follows ended (a user removed from a topic they followed).
    pub followers_removed: Counter,
}

/// A topic's definition as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredTopic {
    /// The topic.
    #[serde(flatten)]
    pub topic: Topic,
    /// Made anew each time the key is created: follows of an earlier
    /// topic under the same key do not count.
    pub generation: String,
}

/// One topic a user follows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Follow {
    /// The topic's generation when the follow was made.
    pub generation: String,
    /// The follow covers what the topic's channel stores after this id.
    pub since: String,
}

/// What one user follows: the record in `follows:<user>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Follows {
    /// Followed topics by key.
    #[serde(default)]
    pub topics: BTreeMap<TopicKey, Follow>,
}

impl Follows {
    /// Whether this record follows topic `key` in its generation
    /// `generation` (an entry of an earlier topic under the key does not
    /// count).
    pub fn includes(&self, key: &TopicKey, generation: &str) -> bool {
        self.topics
            .get(key)
            .is_some_and(|follow| follow.generation == generation)
    }
}

/// What adding followers did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Added {
    /// Users who follow the topic now and did not before.
    pub added: Vec<UserName>,
    /// Users who already followed it.
    pub already: Vec<UserName>,
}

/// What removing followers did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Removed {
    /// Users who followed the topic and no longer do.
    pub removed: Vec<UserName>,
    /// Users who did not follow it.
    pub not_following: Vec<UserName>,
}

/// A topic a user follows, with the follow.
#[derive(Debug, Clone, Serialize)]
pub struct Followed {
    /// The topic.
    #[serde(flatten)]
    pub topic: Topic,
    /// Where the follow starts (an id of the topic's channel; `0-0`: its
    /// beginning).
    pub since: String,
}

/// Topic operations over the engine; cheap to clone.
#[derive(Clone)]
pub struct Topics {
    engine: SharedEngine,
    limits: TopicLimits,
    stats: TopicStats,
}

impl Topics {
    /// Topics stored in `engine`, within `limits`.
    pub fn new(engine: SharedEngine, limits: TopicLimits) -> Self {
        Self {
            engine,
            limits,
            stats: TopicStats::default(),
        }
    }

    /// The counters `/metrics` shows.
    pub fn stats(&self) -> &TopicStats {
        &self.stats
    }

    /// The topic `key`, if it exists.
    pub async fn get(&self, key: &TopicKey) -> Result<Option<StoredTopic>, EngineError> {
        Ok(self.get_with_record(key).await?.0)
    }

    /// The topic `key`, if it exists, and the id of its record
    /// ([`EventId::ZERO`]: none), for a compare-and-set.
    async fn get_with_record(
        &self,
        key: &TopicKey,
    ) -> Result<(Option<StoredTopic>, EventId), EngineError> {
        let record = self.engine.latest(&definition_channel(key), 1).await?;
        Ok(match record.last() {
            Some(event) => (
                serde_json::from_slice::<StoredTopic>(&event.data)
                    .map_err(|error| tracing::warn!(%error, "ignoring an unreadable topic"))
                    .ok(),
                event.id,
            ),
            None => (None, EventId::ZERO),
        })
    }

    async fn existing(&self, key: &TopicKey) -> Result<StoredTopic, ApiError> {
        self.get(key)
            .await?
            .ok_or(ApiError::NotFound("no such topic"))
    }

    /// Creates `topic`, or changes it (its followers stay). Returns whether
    /// it was created. The definition is replaced by compare-and-set, so a
    /// change racing a delete, or two creates of one key, never bring back
    /// a generation that is gone or make two.
    pub async fn put(&self, topic: Topic) -> Result<bool, ApiError> {
        let (key, open) = (topic.key.clone(), topic.open);
        let mut stored = StoredTopic {
            topic,
            generation: String::new(),
        };
        for _ in 0..FOLLOW_ATTEMPTS {
            let (existing, record) = self.get_with_record(&key).await?;
            let created = existing.is_none();
            stored.generation = match existing {
                Some(existing) => existing.generation,
                None => {
                    if self.limits.total > 0
                        && self.engine.count(TOPICS_SET).await? >= self.limits.total
                    {
                        return Err(ApiError::LimitReached(format!(
                            "there are {} topics, the most this server allows (BELFRY_MAX_TOPICS); delete one first",
                            self.limits.total
                        )));
                    }
                    // A new topic starts with no followers, whatever an
                    // earlier one under this key left in the index.
                    self.engine.clear(&followers_set(&key)).await?;
                    random_generation()?
                }
            };
            let payload =
                serde_json::to_vec(&stored).map_err(|e| EngineError::Invalid(e.to_string()))?;
            match self
                .engine
                .replace(
                    &definition_channel(&key),
                    names::TOPIC,
                    Bytes::from(payload),
                    record,
                )
                .await
            {
                Ok(()) => {}
                Err(EngineError::Conflict) => continue,
                Err(error) => return Err(error.into()),
            }
            // After the definition, so a listed topic can always be read; a
            // failure here is repaired by the caller's retry of the same PUT.
            self.engine.remember(TOPICS_SET, key.as_str()).await?;
            if open {
                self.engine.remember(OPEN_TOPICS_SET, key.as_str()).await?;
            } else {
                self.engine.forget(OPEN_TOPICS_SET, key.as_str()).await?;
            }
            return Ok(created);
        }
        Err(EngineError::Unavailable("topic definition contended".into()).into())
    }

    /// Deletes topic `key` and its followers. Returns whether it existed.
    /// The definition goes last, so a delete that failed partway is
    /// finished by its retry. Follow records that name the topic are left
    /// as they are: its generation is gone, so they count for nothing (and
    /// are dropped on the next change that needs the room).
    pub async fn delete(&self, key: &TopicKey) -> Result<bool, ApiError> {
        if self.get(key).await?.is_none() {
            return Ok(false);
        }
        let zero = std::time::Duration::ZERO;
        self.engine.forget(OPEN_TOPICS_SET, key.as_str()).await?;
        self.engine.forget(TOPICS_SET, key.as_str()).await?;
        self.engine.clear(&followers_set(key)).await?;
        self.engine.expire(&channel(key), zero).await?;
        self.engine.expire(&definition_channel(key), zero).await?;
        Ok(true)
    }

    /// About `limit` topics from `cursor` (`""`: the start), in key order
    /// within the page, and the next page's cursor.
    pub async fn list(
        &self,
        cursor: &str,
        limit: usize,
    ) -> Result<(Vec<Topic>, Option<String>), ApiError> {
        self.list_of(TOPICS_SET, cursor, limit).await
    }

    /// [`Topics::list`] over the keys in `set`.
    async fn list_of(
        &self,
        set: &str,
        cursor: &str,
        limit: usize,
    ) -> Result<(Vec<Topic>, Option<String>), ApiError> {
        let (keys, next) = self.page(set, cursor, limit).await?;
        let mut topics = Vec::with_capacity(keys.len());
        for key in keys.iter().filter_map(|key| TopicKey::parse(key).ok()) {
            if let Some(stored) = self.get(&key).await? {
                topics.push(stored.topic);
            }
        }
        topics.sort_by(|a, b| a.key.cmp(&b.key));
        Ok((topics, next))
    }

    /// About `limit` followers of topic `key` from `cursor`, by name within
    /// the page, and the next page's cursor.
    pub async fn followers(
        &self,
        key: &TopicKey,
        cursor: &str,
        limit: usize,
    ) -> Result<(Vec<String>, Option<String>), ApiError> {
        self.existing(key).await?;
        let (mut users, next) = self.page(&followers_set(key), cursor, limit).await?;
        users.sort();
        Ok((users, next))
    }

    async fn page(
        &self,
        set: &str,
        cursor: &str,
        limit: usize,
    ) -> Result<(Vec<String>, Option<String>), ApiError> {
        match self.engine.members_page(set, cursor, limit).await {
            Err(EngineError::Invalid(_)) => Err(ApiError::field(
                "cursor",
                "not a cursor this API gave out: start without one",
            )),
            other => Ok(other?),
        }
    }

    /// What `user` follows, with its record's id (for a compare-and-set).
    async fn follows_and_record(&self, user: &UserName) -> Result<(Follows, EventId), EngineError> {
        let record = self.engine.latest(&follows_channel(user), 1).await?;
        Ok(match record.last() {
            Some(event) => (
                serde_json::from_slice::<Follows>(&event.data).unwrap_or_else(|error| {
                    tracing::warn!(%error, "ignoring an unreadable follow record");
                    Follows::default()
                }),
                event.id,
            ),
            None => (Follows::default(), EventId::ZERO),
        })
    }

    /// What `user` follows, as stored (topics deleted since included).
    pub async fn follows(&self, user: &UserName) -> Result<Follows, EngineError> {
        Ok(self.follows_and_record(user).await?.0)
    }

    /// The topics `user` follows, by key.
    pub async fn followed_by(&self, user: &UserName) -> Result<Vec<Followed>, ApiError> {
        let follows = self.follows(user).await?;
        let mut followed = Vec::with_capacity(follows.topics.len());
        for (key, follow) in follows.topics {
            match self.get(&key).await? {
                Some(stored) if stored.generation == follow.generation => {
                    followed.push(Followed {
                        topic: stored.topic,
                        since: follow.since,
                    });
                }
                _ => {}
            }
        }
        Ok(followed)
    }

    /// Replaces `user`'s follow record with `follows` if it is still at
    /// `previous` ([`EngineError::Conflict`] otherwise).
    async fn store_follows(
        &self,
        user: &UserName,
        follows: &Follows,
        previous: EventId,
    ) -> Result<(), EngineError> {
        let payload =
            serde_json::to_vec(follows).map_err(|e| EngineError::Invalid(e.to_string()))?;
        self.engine
            .replace(
                &follows_channel(user),
                names::FOLLOWS,
                Bytes::from(payload),
                previous,
            )
            .await
    }

    /// Drops from `follows` the topics deleted (or made anew) since.
    async fn without_stale(&self, mut follows: Follows) -> Result<Follows, EngineError> {
        let mut live = BTreeMap::new();
        for (key, follow) in std::mem::take(&mut follows.topics) {
            if self
                .get(&key)
                .await?
                .is_some_and(|stored| stored.generation == follow.generation)
            {
                live.insert(key, follow);
            }
        }
        follows.topics = live;
        Ok(follows)
    }

    fn over_limit(&self, follows: &Follows) -> bool {
        self.limits.per_user > 0
            && u64::try_from(follows.topics.len()).unwrap_or(u64::MAX) >= self.limits.per_user
    }

    fn limit_error(&self, users: &[UserName]) -> ApiError {
        let names: Vec<&str> = users.iter().take(5).map(UserName::as_str).collect();
        let more = users.len().saturating_sub(names.len());
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        ApiError::LimitReached(format!(
            "{}{more} already follow{} {} topics, the most this server allows (BELFRY_MAX_TOPICS_PER_USER); nobody was added",
            names.join(", "),
            if users.len() == 1 { "s" } else { "" },
            self.limits.per_user
        ))
    }

    /// Where a follow made now starts: the newest position of topic
    /// `key`'s channel, so the follow covers what it stores from now on.
    async fn now_in(&self, key: &TopicKey) -> Result<EventId, EngineError> {
        let newest = self.engine.latest(&channel(key), 1).await?;
        Ok(newest.last().map_or(EventId::ZERO, |event| event.id))
    }

    /// Makes `user` follow `stored` after `since`, unless they do: returns
    /// whether they did not. [`ApiError::LimitReached`] at the user's limit.
    async fn follow_one(
        &self,
        user: &UserName,
        stored: &StoredTopic,
        since: EventId,
    ) -> Result<bool, ApiError> {
        let key = &stored.topic.key;
        for _ in 0..FOLLOW_ATTEMPTS {
            let (mut follows, record) = self.follows_and_record(user).await?;
            if follows.includes(key, &stored.generation) {
                return Ok(false);
            }
            if self.over_limit(&follows) {
                follows = self.without_stale(follows).await?;
                if self.over_limit(&follows) {
                    return Err(self.limit_error(std::slice::from_ref(user)));
                }
            }
            follows.topics.insert(
                key.clone(),
                Follow {
                    generation: stored.generation.clone(),
                    since: since.to_string(),
                },
            );
            match self.store_follows(user, &follows, record).await {
                Ok(()) => return Ok(true),
                Err(EngineError::Conflict) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Err(EngineError::Unavailable("follow record contended".into()).into())
    }

    /// Ends `user`'s follow of topic `key` (of any generation): returns
    /// whether they followed it.
    async fn leave_one(&self, user: &UserName, key: &TopicKey) -> Result<bool, ApiError> {
        for _ in 0..FOLLOW_ATTEMPTS {
            let (mut follows, record) = self.follows_and_record(user).await?;
            if follows.topics.remove(key).is_none() {
                return Ok(false);
            }
            match self.store_follows(user, &follows, record).await {
                Ok(()) => return Ok(true),
                Err(EngineError::Conflict) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Err(EngineError::Unavailable("follow record contended".into()).into())
    }

    /// Makes each of `users` follow topic `key` from now on. Past a user's
    /// limit nobody is added ([`ApiError::LimitReached`] names who is at
    /// it); 404 for a topic that does not exist.
    pub async fn add_followers(
        &self,
        key: &TopicKey,
        users: &[UserName],
    ) -> Result<Added, ApiError> {
        let stored = self.existing(key).await?;
        let users = distinct(users);
        // Check every limit first, so a refusal changes nothing.
        let mut at_limit = Vec::new();
        let mut already = Vec::new();
        for user in &users {
            let follows = self.follows(user).await?;
            if follows.includes(key, &stored.generation) {
                already.push(user.clone());
            } else if self.over_limit(&follows)
                && self.over_limit(&self.without_stale(follows).await?)
            {
                at_limit.push(user.clone());
            }
        }
        if !at_limit.is_empty() {
            return Err(self.limit_error(&at_limit));
        }
        let since = self.now_in(key).await?;
        let to_add: Vec<UserName> = users
            .iter()
            .filter(|user| !already.contains(user))
            .cloned()
            .collect();
        // The index first: at a bound of the store it refuses before any
        // follow is made.
        let names: Vec<String> = to_add.iter().map(ToString::to_string).collect();
        self.engine
            .remember_each(&followers_set(key), &names)
            .await?;
        let mut added = Vec::new();
        for user in &to_add {
            match self.follow_one(user, &stored, since).await {
                Ok(true) => added.push(user.clone()),
                Ok(false) => already.push(user.clone()),
                Err(error) => {
                    // Someone else filled the user's last place meanwhile:
                    // undo this call's follows, so nothing is half-done.
                    for user in &added {
                        self.leave_one(user, key).await?;
                    }
                    self.reindex(key, &stored.generation, &to_add).await?;
                    return Err(error);
                }
            }
        }
        self.reindex(key, &stored.generation, &users).await?;
        self.stats.followers_added.inc_by(added.len() as u64);
        Ok(Added { added, already })
    }

    /// Sets the followers index of topic `key` to what each of `users`'
    /// record says now (following generation `generation`, or not), so
    /// the index ends as the records do after concurrent changes.
    async fn reindex(
        &self,
        key: &TopicKey,
        generation: &str,
        users: &[UserName],
    ) -> Result<(), EngineError> {
        let (mut following, mut not) = (Vec::new(), Vec::new());
        for user in users {
            let follows = self.follows(user).await?;
            let current = follows.includes(key, generation);
            if current {
                following.push(user.to_string());
            } else {
                not.push(user.to_string());
            }
        }
        let set = followers_set(key);
        self.engine.remember_each(&set, &following).await?;
        self.engine.forget_each(&set, &not).await?;
        Ok(())
    }

    /// Ends each of `users`' follow of topic `key` (a required topic too:
    /// backends may). What they received stays in their inboxes.
    pub async fn remove_followers(
        &self,
        key: &TopicKey,
        users: &[UserName],
    ) -> Result<Removed, ApiError> {
        let stored = self.existing(key).await?;
        let users = distinct(users);
        let mut result = Removed::default();
        for user in &users {
            if self.leave_one(user, key).await? {
                result.removed.push(user.clone());
            } else {
                result.not_following.push(user.clone());
            }
        }
        self.reindex(key, &stored.generation, &users).await?;
        self.stats
            .followers_removed
            .inc_by(result.removed.len() as u64);
        Ok(result)
    }
}

/// Most topics the topics page lists (open ones and the user's own).
pub const CHOICES_MAX: usize = 1000;

impl Topics {
    /// `user` follows topic `key` themselves: only an open topic (a
    /// closed one is for backends to hand out). Returns whether they did
    /// not follow it already. A topic the user may not see (closed and not
    /// followed) is "not found", so keys cannot be probed.
    pub async fn follow_self(&self, user: &UserName, key: &TopicKey) -> Result<bool, ApiError> {
        let stored = self.visible_to(user, key).await?;
        if !stored.topic.open {
            return Ok(false);
        }
        let since = self.now_in(key).await?;
        self.engine
            .remember(&followers_set(key), user.as_str())
            .await?;
        let added = self.follow_one(user, &stored, since).await;
        self.reindex(key, &stored.generation, std::slice::from_ref(user))
            .await?;
        if added? {
            self.stats.followers_added.inc();
            return Ok(true);
        }
        Ok(false)
    }

    /// `user` leaves topic `key` themselves: not a required one (403).
    /// Returns whether they followed it.
    pub async fn leave_self(&self, user: &UserName, key: &TopicKey) -> Result<bool, ApiError> {
        let stored = self.visible_to(user, key).await?;
        if stored.topic.required {
            return Err(ApiError::Forbidden(
                "this topic is required: followers cannot leave it",
            ));
        }
        let left = self.leave_one(user, key).await?;
        self.reindex(key, &stored.generation, std::slice::from_ref(user))
            .await?;
        if left {
            self.stats.followers_removed.inc();
        }
        Ok(left)
    }

    /// Topic `key` if `user` may see it: it is open, or they follow it.
    async fn visible_to(&self, user: &UserName, key: &TopicKey) -> Result<StoredTopic, ApiError> {
        let stored = self.existing(key).await?;
        let follows =
            stored.topic.open || self.follows(user).await?.includes(key, &stored.generation);
        if follows {
            Ok(stored)
        } else {
            Err(ApiError::NotFound("no such topic"))
        }
    }

    /// What the topics page shows `user`: every open topic and every topic
    /// they follow (at most [`CHOICES_MAX`]), by name.
    pub async fn choices_for(&self, user: &UserName) -> Result<Vec<TopicChoice>, ApiError> {
        let followed = self.followed_by(user).await?;
        let mut choices: Vec<TopicChoice> = followed
            .into_iter()
            .map(|followed| TopicChoice {
                topic: followed.topic,
                following: true,
            })
            .collect();
        // Only open topics are read, at most as many as the page shows.
        let (mut cursor, mut read) = (String::new(), 0);
        while read < CHOICES_MAX {
            let (topics, next) = self.list_of(OPEN_TOPICS_SET, &cursor, 100).await?;
            read += topics.len().max(1);
            for topic in topics {
                if topic.open && !choices.iter().any(|choice| choice.topic.key == topic.key) {
                    choices.push(TopicChoice {
                        topic,
                        following: false,
                    });
                }
            }
            match next {
                Some(next) => cursor = next,
                None => break,
            }
        }
        choices.sort_by(|a, b| {
            (a.topic.name.to_lowercase(), &a.topic.key)
                .cmp(&(b.topic.name.to_lowercase(), &b.topic.key))
        });
        choices.truncate(CHOICES_MAX);
        Ok(choices)
    }
}

/// `users` without repeats, in first-seen order.
fn distinct(users: &[UserName]) -> Vec<UserName> {
    let mut seen = std::collections::HashSet::new();
    users
        .iter()
        .filter(|user| seen.insert(*user))
        .cloned()
        .collect()
}

/// A fresh topic generation: 64 random bits, in hex.
fn random_generation() -> Result<String, ApiError> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|error| {
        tracing::error!(%error, "no randomness for a topic generation");
        ApiError::Internal
    })?;
    Ok(bytes.iter().map(|byte| format!("{byte:02x}")).collect())
}
