//! Real Redis servers for the shared-store tests: [`RedisServer`] (one `redis-server` on a free
//! loopback port, which a test can SIGKILL and restart on the same port) and [`RedisCluster`]
//! (three `--cluster-enabled` servers joined by `redis-cli --cluster create`).
//!
//! `redis-server` and `redis-cli` come from Debian's `redis-server` package, which
//! `cargo xtask peers install` installs. A test that needs Redis **fails** when it is missing.
//! Servers run without persistence (`--save "" --appendonly no`) in a temp dir of their own,
//! and stop when their handle is dropped, or when this process dies (a watchdog shell kills
//! them).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a server may take to answer `PING` after it starts, and a cluster to reach
/// `cluster_state:ok`.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// One `redis-server` on a loopback port. Dropping it kills the server and removes its dir.
pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    cluster: bool,
    child: Mutex<Option<Child>>,
}

impl RedisServer {
    /// Starts a server on a free loopback port and waits until it answers `PING`.
    ///
    /// # Panics
    /// If `redis-server` is not installed (the message says to run `cargo xtask peers
    /// install`) or does not start.
    pub fn start() -> Self {
        Self::start_with(false)
    }

    fn start_with(cluster: bool) -> Self {
        require_installed();
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let port = crate::support::closed_port();
        let dir = std::env::temp_dir().join(format!(
            "en-auth-redis-{}-{}-{}",
            std::process::id(),
            port,
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create the Redis server's temp dir");
        let server = Self {
            port,
            dir,
            cluster,
            child: Mutex::new(None),
        };
        server.spawn();
        server
    }

    /// The server's URL, `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The server's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server with SIGKILL (no shutdown, no goodbye to clients) and waits for it.
    pub fn kill(&self) {
        if let Some(mut child) = self.lock().take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port (empty: nothing is persisted) and waits until
    /// it answers `PING`. Kills it first if it runs.
    ///
    /// # Panics
    /// If it does not start.
    pub fn restart(&self) {
        self.kill();
        self.spawn();
    }

    /// Runs `redis-cli -p <port> <args…>` and returns what it printed (trimmed).
    ///
    /// # Panics
    /// If `redis-cli` cannot be run.
    pub fn cli(&self, args: &[&str]) -> String {
        cli(self.port, args)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Child>> {
        self.child.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn spawn(&self) {
        let mut command = Command::new("redis-server");
        command
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .args(["--logfile", "redis.log"])
            .args(["--daemonize", "no"]);
        if self.cluster {
            command
                .args(["--cluster-enabled", "yes"])
                .args(["--cluster-config-file", "nodes.conf"])
                .args(["--cluster-node-timeout", "2000"]);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start redis-server: {e}"));
        watchdog(child.id());
        *self.lock() = Some(child);
        let deadline = Instant::now() + READY_TIMEOUT;
        while !answers_ping(self.port) {
            let exited = self
                .lock()
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = exited {
                let log = std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default();
                panic!(
                    "redis-server exited ({status}) on port {}:\n{log}",
                    self.port
                );
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer PING on port {} within {READY_TIMEOUT:?}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A Redis Cluster of three primaries (no replicas) on loopback ports, its 16 384 slots split
/// by `redis-cli --cluster create`. Dropping it kills the servers.
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts three cluster-enabled servers, joins them, and waits until every node reports
    /// `cluster_state:ok`.
    ///
    /// # Panics
    /// If `redis-server` is not installed, or the cluster does not form.
    pub fn start() -> Self {
        let nodes: Vec<RedisServer> = (0..3).map(|_| RedisServer::start_with(true)).collect();
        let mut create = Command::new("redis-cli");
        create.arg("--cluster").arg("create");
        for node in &nodes {
            create.arg(format!("127.0.0.1:{}", node.port));
        }
        let output = create
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .unwrap_or_else(|e| panic!("cannot run redis-cli --cluster create: {e}"));
        assert!(
            output.status.success(),
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        let deadline = Instant::now() + READY_TIMEOUT;
        for node in &nodes {
            while !node.cli(&["cluster", "info"]).contains("cluster_state:ok") {
                assert!(
                    Instant::now() < deadline,
                    "the Redis Cluster did not reach cluster_state:ok within {READY_TIMEOUT:?}"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Self { nodes }
    }

    /// The nodes' URLs, comma-separated (the form `RedisStore` takes for a Cluster).
    pub fn urls(&self) -> String {
        self.nodes
            .iter()
            .map(RedisServer::url)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The three nodes.
    pub fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }
}

/// Panics, saying how to install it, if `redis-server` or `redis-cli` is not on `PATH`.
fn require_installed() {
    for tool in ["redis-server", "redis-cli"] {
        let found = Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
        assert!(
            found,
            "`{tool}` is not on PATH: run `cargo xtask peers install` (it installs Debian's redis-server package)"
        );
    }
}

fn cli(port: u16, args: &[&str]) -> String {
    let output = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run redis-cli: {e}"));
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Whether a server on `port` answers `PING` with `+PONG`.
fn answers_ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut answer = [0u8; 7];
    stream.read_exact(&mut answer).is_ok() && &answer == b"+PONG\r\n"
}

/// Kills `pid` when this process dies, even by SIGKILL (drops do not run then): a shell that
/// polls both once a second, and leaves when `pid` is gone.
fn watchdog(pid: u32) {
    let script = format!(
        "while kill -0 {me} && kill -0 {pid}; do sleep 1; done 2>/dev/null; kill -0 {me} 2>/dev/null || kill -9 {pid} 2>/dev/null",
        me = std::process::id()
    );
    let _ = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}
