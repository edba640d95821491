//! A private Redis Cluster for one test: three primaries with a replica
//! each, every node a `redis-server --cluster-enabled yes` on a free port,
//! joined by `redis-cli --cluster create`. Stopped by PID with its nodes.
//!
//! Sharded Pub/Sub needs Redis 7: where `redis-server` is older,
//! [`RedisCluster::start`] prints why and returns `None`, and the test
//! returns early (the only skip the suite allows).

#![allow(dead_code)]

use std::process::Command;
use std::time::{Duration, Instant};

use crate::redis_server::RedisServer;

/// Primaries in the cluster (each with one replica).
pub const PRIMARIES: usize = 3;

/// One node as `CLUSTER NODES` describes it.
#[derive(Debug, Clone)]
pub struct NodeInfo {
    pub id: String,
    pub port: u16,
    pub primary: bool,
    pub failed: bool,
    /// Slot ranges served, inclusive (primaries only).
    pub slots: Vec<(u16, u16)>,
}

/// A running cluster owned by the test; every node is killed on drop.
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts and joins the cluster, or says why it cannot (redis-server
    /// older than 7) and returns `None`.
    pub fn start() -> Option<Self> {
        match RedisServer::major_version() {
            Some(major) if major >= 7 => {}
            found => {
                eprintln!(
                    "SKIPPED: Redis Cluster tests need redis-server 7 or newer (sharded Pub/Sub); found {found:?}"
                );
                return None;
            }
        }
        let nodes: Vec<RedisServer> = (0..PRIMARIES * 2)
            .map(|_| {
                RedisServer::start_with(&[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    "1000",
                    // A replica promotes itself however long its link was down.
                    "--cluster-replica-validity-factor",
                    "0",
                    // A replica's first full sync starts at once, not 5 s later.
                    "--repl-diskless-sync-delay",
                    "0",
                ])
            })
            .collect();
        let mut create = Command::new("redis-cli");
        create.arg("--cluster").arg("create");
        for node in &nodes {
            create.arg(format!("127.0.0.1:{}", node.port()));
        }
        let output = create
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .output()
            .expect("redis-cli runs (Debian package redis-tools)");
        assert!(
            output.status.success(),
            "redis-cli --cluster create: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        let cluster = Self { nodes };
        cluster.wait_until_healthy();
        Some(cluster)
    }

    /// Seed URLs of every node, comma-separated (`REDIS_URL` in cluster
    /// mode).
    pub fn url(&self) -> String {
        self.nodes
            .iter()
            .map(RedisServer::url)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The process ids of the running nodes.
    pub fn pids(&self) -> Vec<u32> {
        self.nodes.iter().filter_map(RedisServer::pid).collect()
    }

    /// A node that is running.
    fn any_live(&self) -> &RedisServer {
        self.nodes
            .iter()
            .find(|node| node.ping())
            .expect("a live cluster node")
    }

    /// The node listening on `port`.
    pub fn node(&self, port: u16) -> &RedisServer {
        self.nodes
            .iter()
            .find(|node| node.port() == port)
            .expect("a node on that port")
    }

    /// The node listening on `port`, to kill or pause it.
    pub fn node_mut(&mut self, port: u16) -> &mut RedisServer {
        self.nodes
            .iter_mut()
            .find(|node| node.port() == port)
            .expect("a node on that port")
    }

    /// The cluster as a live node sees it.
    pub fn topology(&self) -> Vec<NodeInfo> {
        let text = self
            .any_live()
            .command(&["CLUSTER", "NODES"])
            .expect("CLUSTER NODES");
        text.lines()
            .skip(1)
            .filter(|line| line.contains('@'))
            .map(|line| {
                let fields: Vec<&str> = line.split(' ').collect();
                let port = fields[1]
                    .split('@')
                    .next()
                    .and_then(|addr| addr.rsplit(':').next())
                    .and_then(|port| port.parse().ok())
                    .unwrap_or(0);
                let flags = fields[2];
                let slots = fields
                    .iter()
                    .skip(8)
                    .filter(|range| !range.starts_with('['))
                    .filter_map(|range| {
                        let (from, to) = range.split_once('-').unwrap_or((range, range));
                        Some((from.parse().ok()?, to.parse().ok()?))
                    })
                    .collect();
                NodeInfo {
                    id: fields[0].to_owned(),
                    port,
                    primary: flags.contains("master"),
                    failed: flags.contains("fail"),
                    slots,
                }
            })
            .collect()
    }

    /// The hash slot of `key`.
    pub fn slot_of(&self, key: &str) -> u16 {
        let reply = self
            .any_live()
            .command(&["CLUSTER", "KEYSLOT", key])
            .expect("CLUSTER KEYSLOT");
        reply
            .trim()
            .trim_start_matches(':')
            .parse()
            .expect("a slot number")
    }

    /// The live primary serving `slot`.
    pub fn primary_of_slot(&self, slot: u16) -> NodeInfo {
        self.topology()
            .into_iter()
            .find(|node| {
                node.primary
                    && !node.failed
                    && node.slots.iter().any(|(a, b)| (*a..=*b).contains(&slot))
            })
            .unwrap_or_else(|| panic!("no primary serves slot {slot}"))
    }

    /// The primary serving `user`'s keys (`belfry:{<user>}:…`).
    pub fn primary_of_user(&self, user: &str) -> NodeInfo {
        self.primary_of_slot(self.slot_of(&format!("belfry:{{{user}}}:inbox")))
    }

    /// One user name per primary, in the order of [`RedisCluster::topology`]'s
    /// primaries: together they spread over every shard.
    pub fn users_on_every_shard(&self, prefix: &str) -> Vec<String> {
        let primaries: Vec<u16> = self
            .topology()
            .into_iter()
            .filter(|node| node.primary && !node.failed)
            .map(|node| node.port)
            .collect();
        let mut found: Vec<Option<String>> = vec![None; primaries.len()];
        for i in 0.. {
            let user = format!("{prefix}{i}");
            let port = self.primary_of_user(&user).port;
            if let Some(index) = primaries.iter().position(|p| *p == port) {
                found[index].get_or_insert(user);
            }
            if found.iter().all(Option::is_some) || i > 500 {
                break;
            }
        }
        found.into_iter().flatten().collect()
    }

    /// Kills (`SIGKILL`) the primary serving `user` and waits until its
    /// replica has taken the slots over. Returns the killed node's port.
    pub fn fail_primary_of_user(&mut self, user: &str) -> u16 {
        let slot = self.slot_of(&format!("belfry:{{{user}}}:inbox"));
        let port = self.primary_of_slot(slot).port;
        self.node_mut(port).kill();
        self.wait_until_failed_over(slot, port);
        port
    }

    /// The port of the replica of the primary on `port`.
    pub fn replica_of(&self, port: u16) -> u16 {
        let info = self
            .node(port)
            .command(&["INFO", "replication"])
            .expect("INFO replication");
        info.lines()
            .find_map(|line| line.strip_prefix("slave0:"))
            .and_then(|fields| fields.split(',').find_map(|f| f.strip_prefix("port=")))
            .and_then(|port| port.parse().ok())
            .expect("a replica of the primary")
    }

    /// Waits until a node other than the one on `old` serves `slot` and
    /// the cluster is healthy again.
    pub fn wait_until_failed_over(&self, slot: u16, old: u16) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let promoted = self.topology().into_iter().any(|node| {
                node.primary
                    && !node.failed
                    && node.port != old
                    && node.slots.iter().any(|(a, b)| (*a..=*b).contains(&slot))
            });
            if promoted && self.is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no replica took slot {slot} over"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Moves `slot`, with its keys, to the primary on port `to` (what
    /// `redis-cli --cluster reshard` does, for one chosen slot).
    pub fn move_slot(&self, slot: u16, to: u16) {
        let topology = self.topology();
        let source = self.primary_of_slot(slot);
        let target = topology
            .iter()
            .find(|node| node.port == to)
            .expect("the target node");
        let slot_text = slot.to_string();
        let (from, into) = (self.node(source.port), self.node(to));
        let ok = |reply: Option<String>, what: &str| {
            let reply = reply.unwrap_or_default();
            assert!(
                reply.starts_with("+OK") || reply.starts_with("+NOKEY"),
                "{what}: {reply}"
            );
        };
        ok(
            into.command(&["CLUSTER", "SETSLOT", &slot_text, "IMPORTING", &source.id]),
            "IMPORTING",
        );
        ok(
            from.command(&["CLUSTER", "SETSLOT", &slot_text, "MIGRATING", &target.id]),
            "MIGRATING",
        );
        loop {
            let keys = from
                .command(&["CLUSTER", "GETKEYSINSLOT", &slot_text, "100"])
                .expect("GETKEYSINSLOT");
            let keys: Vec<&str> = keys
                .lines()
                .skip(1)
                .filter(|line| !line.starts_with('$'))
                .collect();
            if keys.is_empty() {
                break;
            }
            let port = to.to_string();
            let mut migrate = vec!["MIGRATE", "127.0.0.1", &port, "", "0", "5000", "KEYS"];
            migrate.extend(keys.iter().copied());
            ok(from.command(&migrate), "MIGRATE");
        }
        for node in topology.iter().filter(|node| node.primary && !node.failed) {
            ok(
                self.node(node.port)
                    .command(&["CLUSTER", "SETSLOT", &slot_text, "NODE", &target.id]),
                "SETSLOT NODE",
            );
        }
        self.wait_until_healthy();
    }

    /// Whether every live node reports `cluster_state:ok`.
    pub fn is_ok(&self) -> bool {
        self.nodes.iter().filter(|node| node.ping()).all(|node| {
            node.command(&["CLUSTER", "INFO"])
                .is_some_and(|info| info.contains("cluster_state:ok"))
        })
    }

    /// Waits until every live node reports the cluster ok and every replica
    /// has its link to its primary up.
    pub fn wait_until_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let replicas_synced = self.nodes.iter().filter(|node| node.ping()).all(|node| {
                node.command(&["INFO", "replication"]).is_some_and(|info| {
                    info.contains("role:master") || info.contains("master_link_status:up")
                })
            });
            if self.is_ok() && replicas_synced {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the cluster did not become healthy"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
