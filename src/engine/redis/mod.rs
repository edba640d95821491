//! The Redis engine: Streams for history and replay, Pub/Sub for fan-out
//! between server instances.
//!
//! Used when `REDIS_URL` is set, so any number of instances behind a load
//! balancer serve the same users. Owns the command connection (one
//! multiplexed connection that reconnects by itself, or a cluster
//! connection routing by slot, see [`connection`]; with
//! `BELFRY_REDIS_WAIT_REPLICAS`, publishes run on connections of their own so
//! that `WAIT` holds up nothing else), the two Lua scripts that make
//! publishing and replay atomic, and the engine methods over them; live
//! fan-out lives in [`fanout`] (one subscriber connection on a plain Redis)
//! and [`sharded`] (one per shard on a cluster), the key names in [`keys`],
//! reply parsing in [`reply`].
//! It must not keep state that another instance would need: everything
//! lasting is in Redis.
//!
//! Bounds: a channel's stream is trimmed with `XADD … MAXLEN ~ <cap>`
//! (cheap, approximate), and reads serve at most the latest `cap` events, so
//! both engines answer alike. While Redis is unreachable every call fails
//! with [`EngineError::Unavailable`] within about a second; open
//! subscriptions stay open and resync from the stream when it is back.

pub mod connection;
pub mod fanout;
pub mod keys;
pub mod reply;
pub mod sharded;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use redis::cluster::ClusterClient;
use redis::{RedisError, Script, Value};

use self::connection::{CommandLink, Commands, WaitLinks};
use self::fanout::Fanout;
use self::keys::{channel_key, set_key};
use super::stats::EngineStats;
use super::{
    Draft, Engine, EngineError, Event, EventId, History, PublishOptions, Published, SetPage,
    Subscription, Targets, DEDUPE_TTL,
};

/// The publish script (`publish.lua`): the documented way for any backend to
/// publish straight into Redis.
pub const PUBLISH_SCRIPT: &str = include_str!("publish.lua");
/// The replay script (`history.lua`).
pub const HISTORY_SCRIPT: &str = include_str!("history.lua");

/// Adding and removing several members of one set in one step, with one
/// answer per member (`SADD` with many members only counts them).
struct SetScripts {
    add: Script,
    remove: Script,
}

impl SetScripts {
    fn new() -> Self {
        let each = |command: &str| {
            Script::new(&format!(
                "local changed = {{}}\n\
                 for i, member in ipairs(ARGV) do\n\
                 changed[i] = redis.call('{command}', KEYS[1], member)\n\
                 end\n\
                 return changed"
            ))
        };
        Self {
            add: each("SADD"),
            remove: each("SREM"),
        }
    }
}

/// How to reach Redis and how much to keep.
#[derive(Clone)]
pub struct RedisConfig {
    /// `redis://[:password@]host:port[/db]`; never logged. On a cluster,
    /// one or more nodes' URLs, comma-separated (the rest are discovered).
    pub url: String,
    /// Whether `url` names Redis Cluster nodes: keys are routed by slot and
    /// fan-out uses sharded Pub/Sub.
    pub cluster: bool,
    /// Events served per channel (and the stream's `MAXLEN ~`).
    pub history_cap: usize,
    /// Live events buffered per local channel before a slow subscriber lags.
    pub live_buffer: usize,
    /// Replicas that must acknowledge a publish before it counts (`WAIT`);
    /// 0 answers as soon as the primary stored it.
    pub wait_replicas: usize,
    /// The longest a publish waits for those replicas.
    pub wait_timeout: Duration,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            cluster: false,
            history_cap: 500,
            live_buffer: 256,
            wait_replicas: 0,
            wait_timeout: Duration::from_secs(1),
        }
    }
}

impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &"<set>")
            .field("cluster", &self.cluster)
            .field("history_cap", &self.history_cap)
            .field("live_buffer", &self.live_buffer)
            .field("wait_replicas", &self.wait_replicas)
            .field("wait_timeout", &self.wait_timeout)
            .finish()
    }
}

/// Channels published to in one pipeline by [`RedisEngine::publish_each`].
const PIPELINE_CHUNK: usize = 1000;

/// Publishes waiting for replicas at once, each on a connection of its own
/// (more wait for one to be free).
const WAIT_LINKS: usize = 16;

/// Publishes on a cluster run this many scripts at once (a pipeline would
/// span slots, which a cluster refuses).
const CLUSTER_PUBLISH_CONCURRENCY: usize = 64;

/// The Redis [`Engine`]. Dropping it stops its subscriber task.
pub struct RedisEngine {
    commands: CommandLink,
    /// With `wait_replicas`: the connections publishes wait on.
    waits: Option<WaitLinks>,
    fanout: Arc<Fanout>,
    history_cap: usize,
    wait_replicas: usize,
    wait_timeout: Duration,
    publish: Script,
    history: Script,
    sets: SetScripts,
    subscriber: tokio::task::JoinHandle<()>,
    stats: EngineStats,
}

impl Drop for RedisEngine {
    fn drop(&mut self) {
        self.subscriber.abort();
    }
}

impl RedisEngine {
    /// Prepares the engine and starts connecting in the background; it
    /// returns at once even when Redis is down (`/readyz` tells). Must be
    /// called inside a Tokio runtime. Fails only on an unusable URL.
    pub fn connect(config: &RedisConfig) -> Result<Self, EngineError> {
        let stats = EngineStats::default();
        let fanout = Fanout::new(config.live_buffer, stats.clone());
        let waiting = config.wait_replicas > 0;
        let (commands, waits, subscriber) = if config.cluster {
            let (commands_client, pushes_client, pushes) = cluster_clients(&config.url)?;
            let waits = waiting
                .then(|| {
                    WaitLinks::new(WAIT_LINKS, || {
                        Ok(CommandLink::cluster(commands_client.clone()))
                    })
                })
                .transpose()
                .map_err(unavailable)?;
            let subscriber = tokio::spawn(sharded::run(Arc::clone(&fanout), pushes_client, pushes));
            (CommandLink::cluster(commands_client), waits, subscriber)
        } else {
            // The URL may hold a password: never echo it back.
            let client = redis::Client::open(config.url.as_str())
                .map_err(|_| EngineError::Invalid("REDIS_URL is not a valid Redis URL".into()))?;
            let commands = CommandLink::single(client.clone()).map_err(unavailable)?;
            let waits = waiting
                .then(|| {
                    WaitLinks::new(WAIT_LINKS, || {
                        CommandLink::single_waiting(client.clone(), config.wait_timeout)
                    })
                })
                .transpose()
                .map_err(unavailable)?;
            let subscriber = tokio::spawn(fanout::run(Arc::clone(&fanout), client));
            (commands, waits, subscriber)
        };
        Ok(Self {
            commands,
            waits,
            fanout,
            history_cap: config.history_cap.max(1),
            wait_replicas: config.wait_replicas,
            wait_timeout: config.wait_timeout,
            publish: Script::new(PUBLISH_SCRIPT),
            history: Script::new(HISTORY_SCRIPT),
            sets: SetScripts::new(),
            subscriber,
            stats,
        })
    }

    /// How many Pub/Sub channels this instance is subscribed to.
    pub fn subscribed_channels(&self) -> usize {
        self.fanout.channel_count()
    }

    /// With `wait_replicas`, a connection of its own for one publish (see
    /// [`connection`]); without, none.
    async fn wait_link(&self) -> Result<Option<connection::WaitLink<'_>>, EngineError> {
        match &self.waits {
            Some(waits) => waits.take().await.map(Some).map_err(unavailable),
            None => Ok(None),
        }
    }

    /// With `wait_replicas`, waits until that many replicas hold every
    /// write made on `connection` (of `key`'s primary, or of every
    /// primary). A publish they do not acknowledge in time is stored but not
    /// safe from a failover: the caller gets a 503 and retries with its
    /// idempotency key.
    async fn replicated(
        &self,
        connection: &mut Commands,
        key: Option<&str>,
    ) -> Result<(), EngineError> {
        if self.wait_replicas == 0 {
            return Ok(());
        }
        let acknowledged = connection
            .wait_for_replicas(key, self.wait_replicas, self.wait_timeout)
            .await
            .map_err(unavailable)?;
        if acknowledged < self.wait_replicas {
            return Err(EngineError::Unreplicated(format!(
                "stored, but {acknowledged} of {} replicas acknowledged it within {} ms",
                self.wait_replicas,
                self.wait_timeout.as_millis()
            )));
        }
        Ok(())
    }

    /// The publish script's invocation for one channel.
    fn invocation(
        &self,
        channel: &str,
        name: &str,
        data: &Bytes,
        options: PublishOptions,
    ) -> redis::ScriptInvocation<'_> {
        let key = channel_key(channel);
        let cap = options
            .cap
            .map_or(self.history_cap, |cap| cap.clamp(1, self.history_cap));
        let expect_last = options
            .expect_last
            .map(|id| id.to_string())
            .unwrap_or_default();
        let trim = if options.cap.is_some() { "exact" } else { "" };
        let mut invocation = self.publish.key(&key);
        if let Some(token) = options.dedupe {
            invocation.key(format!("{key}:dedupe:{token}"));
        }
        invocation
            .arg(if self.commands.is_cluster() {
                "sharded"
            } else {
                "classic"
            })
            .arg(name)
            .arg(data.as_ref())
            .arg(cap)
            .arg(expect_last)
            .arg(trim)
            .arg(DEDUPE_TTL.as_secs());
        invocation
    }

    async fn connection(&self) -> Result<Commands, EngineError> {
        self.commands.get().await.map_err(unavailable)
    }

    /// Runs a read, once more if the connection had broken: the first
    /// failure after an outage is what makes the manager reconnect, and a
    /// read is safe to repeat. Writes are never repeated here (a lost reply
    /// could mean the write happened); their callers get a 503 instead.
    async fn read<'a, T, F, Fut>(&'a self, op: F) -> Result<T, EngineError>
    where
        F: Fn(Commands) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>> + 'a,
    {
        match op(self.connection().await?).await {
            Err(error) if is_connection_error(&error) => {
                op(self.connection().await?).await.map_err(engine_error)
            }
            other => other.map_err(engine_error),
        }
    }

    /// One read command, through [`RedisEngine::read`].
    async fn read_command(&self, command: &redis::Cmd) -> Result<Value, EngineError> {
        self.read(|mut connection| async move { command.query_async(&mut connection).await })
            .await
    }

    /// Adds or removes (`script`) each of `members` in `set`, atomically,
    /// in one round trip; for each, whether it changed the set.
    async fn each_member(
        &self,
        script: &Script,
        set: &str,
        members: &[String],
    ) -> Result<Vec<bool>, EngineError> {
        if members.is_empty() {
            return Ok(Vec::new());
        }
        let mut invocation = script.key(set_key(set));
        for member in members {
            invocation.arg(member);
        }
        let value: Value = invocation
            .invoke_async(&mut self.connection().await?)
            .await
            .map_err(engine_error)?;
        let changed = reply::integers(value).map_err(malformed)?;
        if changed.len() != members.len() {
            return Err(malformed(reply::ReplyError("one answer per member")));
        }
        Ok(changed.into_iter().map(|n| n == 1).collect())
    }

    /// One write command whose reply does not matter (never repeated).
    async fn write(&self, command: &redis::Cmd) -> Result<(), EngineError> {
        command
            .query_async::<Value>(&mut self.connection().await?)
            .await
            .map(|_| ())
            .map_err(engine_error)
    }
}

impl RedisEngine {
    /// One event to each of `targets` on `connection`. On one Redis: one
    /// pipeline per `PIPELINE_CHUNK` channels (the script is loaded, then
    /// invoked once per channel, in one round trip). On a cluster, where a
    /// pipeline must keep to one slot: the scripts run side by side, each on
    /// its channel's shard.
    async fn publish_batch(
        &self,
        connection: &Commands,
        targets: &[(String, PublishOptions)],
        name: &str,
        data: &Bytes,
    ) -> Result<Vec<Arc<Event>>, EngineError> {
        if self.commands.is_cluster() {
            use futures::{StreamExt, TryStreamExt};

            // Owned targets: a closure over borrowed ones is not `Send` enough
            // for the engine's boxed futures.
            return futures::stream::iter(targets.to_vec())
                .map(|(channel, options)| async move {
                    let mut connection = connection.clone();
                    let stored = self
                        .invocation(&channel, name, data, options)
                        .invoke_async(&mut connection)
                        .await
                        .map_err(engine_error)
                        .and_then(|value| reply::event_id(value).map_err(malformed))
                        .map(|id| Arc::new(Event::new(id, name, data.clone())));
                    if stored.is_err() {
                        self.stats.publish_outcome(&stored);
                    }
                    stored
                })
                .buffered(CLUSTER_PUBLISH_CONCURRENCY)
                .try_collect()
                .await;
        }
        let mut events = Vec::with_capacity(targets.len());
        for chunk in targets.chunks(PIPELINE_CHUNK) {
            let invocations: Vec<_> = chunk
                .iter()
                .map(|(channel, options)| self.invocation(channel, name, data, *options))
                .collect();
            let mut pipe = redis::pipe();
            pipe.load_script(&self.publish).ignore();
            for invocation in &invocations {
                pipe.invoke_script(invocation);
            }
            let replies: Result<Vec<Value>, EngineError> = pipe
                .query_async(&mut connection.clone())
                .await
                .map_err(engine_error);
            if replies.is_err() {
                self.stats.publish_outcome(&replies);
            }
            for reply in replies? {
                let event = reply::event_id(reply)
                    .map_err(malformed)
                    .map(|id| Arc::new(Event::new(id, name, data.clone())));
                if event.is_err() {
                    self.stats.publish_outcome(&event);
                }
                events.push(event?);
            }
        }
        Ok(events)
    }
}

/// The cluster's command client and the subscriber client with its
/// pushes, from `urls` (comma-separated seed nodes; the rest are
/// discovered).
fn cluster_clients(
    urls: &str,
) -> Result<
    (
        ClusterClient,
        ClusterClient,
        tokio::sync::mpsc::UnboundedReceiver<redis::PushInfo>,
    ),
    EngineError,
> {
    // The URLs may hold a password: never echo them back.
    let invalid = || EngineError::Invalid("REDIS_URL is not a list of Redis node URLs".into());
    let seeds: Vec<&str> = urls
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .collect();
    if seeds.is_empty() {
        return Err(invalid());
    }
    let builder = || {
        redis::cluster::ClusterClientBuilder::new(seeds.clone())
            .connection_timeout(Duration::from_secs(1))
            .response_timeout(Duration::from_secs(2))
            .retries(2)
    };
    let commands = builder().build().map_err(|_| invalid())?;
    let (push_sender, pushes) = tokio::sync::mpsc::unbounded_channel();
    let subscriber = builder()
        .use_protocol(redis::ProtocolVersion::RESP3)
        .push_sender(push_sender)
        .build()
        .map_err(|_| invalid())?;
    Ok((commands, subscriber, pushes))
}

fn is_connection_error(error: &RedisError) -> bool {
    error.is_io_error()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || error.is_timeout()
}

/// Script errors Belfry raises itself are the caller's fault; everything
/// else (refused, timed out, dropped) means Redis is unavailable.
fn engine_error(error: RedisError) -> EngineError {
    let text = error.to_string();
    if text.contains("CONFLICT") && text.contains("belfry:") {
        EngineError::Conflict
    } else if text.contains("belfry:") {
        EngineError::Invalid(text)
    } else {
        unavailable(error)
    }
}

fn unavailable(error: RedisError) -> EngineError {
    EngineError::Unavailable(error.to_string())
}

fn malformed(error: reply::ReplyError) -> EngineError {
    EngineError::Unavailable(error.to_string())
}

#[async_trait]
impl Engine for RedisEngine {
    async fn store(&self, channel: &str, draft: Draft<'_>) -> Result<Arc<Event>, EngineError> {
        let (name, data, options) = (draft.name, draft.data, draft.options);
        let wait_link = self.wait_link().await?;
        let mut connection = match &wait_link {
            Some(link) => link.get().await.map_err(unavailable)?,
            None => self.connection().await?,
        };
        let value: Value = self
            .invocation(channel, name, &data, options)
            .invoke_async(&mut connection)
            .await
            .map_err(engine_error)?;
        let id = reply::event_id(value).map_err(malformed)?;
        self.replicated(&mut connection, Some(&channel_key(channel)))
            .await?;
        Ok(Arc::new(Event::new(id, name, data)))
    }

    fn stats(&self) -> &EngineStats {
        &self.stats
    }

    /// On one Redis: one pipeline per `PIPELINE_CHUNK` channels. On a
    /// cluster: the scripts side by side, each on its channel's shard. With
    /// `WAIT`, on a connection of its own, waited on once for the batch.
    async fn publish_each(&self, targets: &Targets, name: &str, data: Bytes) -> Published {
        let wait_link = self.wait_link().await;
        let connection = match &wait_link {
            Ok(Some(link)) => link.get().await.map_err(unavailable),
            Ok(None) => self.connection().await,
            Err(error) => Err(EngineError::Unavailable(error.to_string())),
        };
        let mut connection = match connection {
            Ok(connection) => connection,
            Err(error) => {
                let failed = Err::<(), _>(error);
                self.stats.publish_outcome(&failed);
                return failed.map(|()| Vec::new());
            }
        };
        let events = self
            .publish_batch(&connection, targets, name, &data)
            .await?;
        // Counted once replicated (or not): "stored" means safe.
        let replicated = self.replicated(&mut connection, None).await;
        for _ in &events {
            self.stats.publish_outcome(&replicated);
        }
        replicated.map(|()| events)
    }

    async fn subscribe(&self, channel: &str) -> Result<Subscription, EngineError> {
        self.fanout.subscribe(&channel_key(channel)).await
    }

    async fn expire(&self, channel: &str, after: Duration) -> Result<(), EngineError> {
        if after.is_zero() {
            return self
                .write(redis::cmd("DEL").arg(channel_key(channel)))
                .await;
        }
        let millis = u64::try_from(after.as_millis()).unwrap_or(u64::MAX).max(1);
        self.write(redis::cmd("PEXPIRE").arg(channel_key(channel)).arg(millis))
            .await
    }

    async fn history_after(&self, channel: &str, after: EventId) -> Result<History, EngineError> {
        let stream = channel_key(channel);
        let after = after.to_string();
        let value: Value = self
            .read(|mut connection| {
                let mut invocation = self.history.key(&stream);
                invocation.arg(&after).arg(self.history_cap);
                async move { invocation.invoke_async(&mut connection).await }
            })
            .await?;
        Ok(match reply::history(value).map_err(malformed)? {
            Some(events) => History::Events(events),
            None => History::Gone,
        })
    }

    async fn latest(&self, channel: &str, limit: usize) -> Result<Vec<Arc<Event>>, EngineError> {
        let count = limit.min(self.history_cap);
        if count == 0 {
            return Ok(Vec::new());
        }
        let mut command = redis::cmd("XREVRANGE");
        command
            .arg(channel_key(channel))
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(count);
        let value = self.read_command(&command).await?;
        let mut events = reply::entries(value).map_err(malformed)?;
        events.reverse();
        Ok(events)
    }

    async fn remember(&self, set: &str, member: &str) -> Result<(), EngineError> {
        self.write(redis::cmd("SADD").arg(set_key(set)).arg(member))
            .await
    }

    async fn members(&self, set: &str) -> Result<Vec<String>, EngineError> {
        let mut command = redis::cmd("SMEMBERS");
        command.arg(set_key(set));
        let value = self.read_command(&command).await?;
        reply::strings(value).map_err(malformed)
    }

    async fn forget(&self, set: &str, member: &str) -> Result<(), EngineError> {
        self.write(redis::cmd("SREM").arg(set_key(set)).arg(member))
            .await
    }

    async fn remember_each(&self, set: &str, members: &[String]) -> Result<Vec<bool>, EngineError> {
        self.each_member(&self.sets.add, set, members).await
    }

    async fn forget_each(&self, set: &str, members: &[String]) -> Result<Vec<bool>, EngineError> {
        self.each_member(&self.sets.remove, set, members).await
    }

    async fn count(&self, set: &str) -> Result<u64, EngineError> {
        let mut command = redis::cmd("SCARD");
        command.arg(set_key(set));
        let value = self.read_command(&command).await?;
        reply::integer(value)
            .map(|n| u64::try_from(n).unwrap_or(0))
            .map_err(malformed)
    }

    async fn members_page(
        &self,
        set: &str,
        cursor: &str,
        limit: usize,
    ) -> Result<SetPage, EngineError> {
        // SSCAN's cursor; "0" starts and ends a scan.
        let start = if cursor.is_empty() {
            0
        } else {
            cursor
                .parse::<u64>()
                .map_err(|_| EngineError::Invalid("not a set cursor".into()))?
        };
        let mut command = redis::cmd("SSCAN");
        command
            .arg(set_key(set))
            .arg(start)
            .arg("COUNT")
            .arg(limit.max(1));
        let value = self.read_command(&command).await?;
        let (next, members) = reply::scan(value).map_err(malformed)?;
        Ok((members, (next != "0").then_some(next)))
    }

    async fn clear(&self, set: &str) -> Result<(), EngineError> {
        self.write(redis::cmd("DEL").arg(set_key(set))).await
    }

    async fn ready(&self) -> bool {
        if !self.fanout.is_up() {
            return false;
        }
        let ping = self.read(|mut connection| async move {
            redis::cmd("PING")
                .query_async::<Value>(&mut connection)
                .await
        });
        matches!(
            tokio::time::timeout(Duration::from_secs(1), ping).await,
            Ok(Ok(_))
        )
    }
}
