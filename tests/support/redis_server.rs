//! A private `redis-server` for one test: started on a free port, stopped by
//! PID. Tests never touch a shared or system Redis.
//!
//! The binary is `redis-server` from `PATH` (or `BELFRY_REDIS_SERVER`);
//! `./dev.sh test` installs Debian's package when it is missing.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `redis-server` owned by the test; killed on drop.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
    durable: bool,
    extra: Vec<String>,
    /// A cluster node's bus port, chosen once: by default Redis takes the
    /// port 10,000 above its own and refuses to start above 55,535, where
    /// a free port often is.
    bus_port: Option<u16>,
}

impl RedisServer {
    /// A throw-away server: nothing is written to disk.
    pub fn start() -> Self {
        Self::launch(false)
    }

    /// A server that fsyncs every write to an append-only file, so a
    /// `SIGKILL` loses nothing it acknowledged and a restart brings it back.
    pub fn start_durable() -> Self {
        Self::launch(true)
    }

    fn launch(durable: bool) -> Self {
        Self::launch_with(durable, Vec::new())
    }

    /// A throw-away server started with `extra` arguments (a cluster node,
    /// say).
    pub fn start_with(extra: &[&str]) -> Self {
        Self::launch_with(false, extra.iter().map(|arg| (*arg).to_owned()).collect())
    }

    fn launch_with(durable: bool, extra: Vec<String>) -> Self {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("belfry-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch directory for redis-server");
        let bus_port = extra
            .iter()
            .any(|arg| arg == "--cluster-enabled")
            .then(free_port);
        let mut server = Self {
            child: None,
            port,
            dir,
            durable,
            extra,
            bus_port,
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let binary = std::env::var("BELFRY_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let mut command = Command::new(&binary);
        command
            .arg("--port")
            .arg(self.port.to_string())
            .args(["--bind", "127.0.0.1", "--save", "", "--daemonize", "no"])
            .arg("--dir")
            .arg(&self.dir);
        if self.durable {
            command.args(["--appendonly", "yes", "--appendfsync", "always"]);
        } else {
            command.args(["--appendonly", "no"]);
        }
        command.args(&self.extra);
        if let Some(bus_port) = self.bus_port {
            command.arg("--cluster-port").arg(bus_port.to_string());
        }
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!("cannot start {binary} ({error}); install it with `apt-get install redis-server` or run ./dev.sh test")
            });
        self.child = Some(child);
        self.wait_until_ready();
    }

    fn wait_until_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.ping() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server on port {} did not answer PING", self.port);
    }

    /// Whether the server answers `PING`.
    pub fn ping(&self) -> bool {
        self.command(&["PING"])
            .is_some_and(|reply| reply.starts_with("+PONG"))
    }

    /// Sends one command and returns the raw reply (enough for tests).
    pub fn command(&self, args: &[&str]) -> Option<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        let mut request = format!("*{}\r\n", args.len());
        for arg in args {
            request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        stream.write_all(request.as_bytes()).ok()?;
        let mut reply = Vec::new();
        let mut buffer = [0u8; 65536];
        // Read until the reply stops growing for a moment.
        loop {
            match stream.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => {
                    reply.extend_from_slice(&buffer[..n]);
                    stream
                        .set_read_timeout(Some(Duration::from_millis(50)))
                        .ok()?;
                }
                Err(_) => break,
            }
        }
        String::from_utf8(reply).ok()
    }

    /// Client connections Redis sees (`CLIENT LIST`), not counting the one
    /// asking.
    pub fn client_count(&self) -> usize {
        let list = self.command(&["CLIENT", "LIST"]).expect("CLIENT LIST");
        list.lines().filter(|line| line.contains("addr=")).count() - 1
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The process id of the running server.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the server with `SIGKILL` (by PID) and waits for it to exit.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes the server (`SIGSTOP`): it keeps its connections but answers
    /// nothing until [`RedisServer::resume`].
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Thaws a paused server (`SIGCONT`).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        if let Some(pid) = self.pid() {
            let _ = Command::new("kill")
                .args([signal, &pid.to_string()])
                .status();
        }
    }

    /// The major version of the `redis-server` binary tests run, if it runs.
    pub fn major_version() -> Option<u32> {
        let binary = std::env::var("BELFRY_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let output = Command::new(binary).arg("--version").output().ok()?;
        let text = String::from_utf8_lossy(&output.stdout);
        let version = text.split("v=").nth(1)?;
        version.split('.').next()?.parse().ok()
    }

    /// Starts the server again on the same port and data directory.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port")
}
