//! Spawning a fleet of `en-auth-fleet-member` processes and reading their reports.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

/// How long a member may take to make its first successful request.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// A fleet of member processes, killed if dropped before they finish.
pub struct Fleet {
    members: Vec<(Child, Receiver<Value>)>,
    /// Every stderr line, with the index of the member that wrote it.
    logs: Arc<Mutex<Vec<(usize, String)>>>,
    /// How many members were spawned.
    count: usize,
    /// The threads reading the members' stderr: joined once the members exit, so that every
    /// line they wrote is in `logs`.
    readers: Vec<std::thread::JoinHandle<()>>,
    /// The members' standard input, for a fleet that runs until [`Fleet::stop`].
    stdins: Vec<ChildStdin>,
}

impl Fleet {
    /// Spawns `n` members with the environment `env` (see the binary's docs).
    pub fn spawn(n: usize, env: &[(&str, String)]) -> Self {
        Self::spawn_with(n, env, false)
    }

    /// Spawns `n` members that run until [`stop`](Self::stop) (or their `FLEET_SECONDS`, a
    /// cap), so that a test measures from when what it waits for happens.
    pub fn spawn_until_stopped(n: usize, env: &[(&str, String)]) -> Self {
        Self::spawn_with(n, env, true)
    }

    fn spawn_with(n: usize, env: &[(&str, String)], until_stopped: bool) -> Self {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let mut stdins = Vec::new();
        let mut readers = Vec::new();
        let members = (0..n)
            .map(|member| {
                let mut command = Command::new(env!("CARGO_BIN_EXE_en-auth-fleet-member"));
                command
                    .envs(env.iter().map(|(k, v)| (k, v)))
                    .stdin(if until_stopped {
                        Stdio::piped()
                    } else {
                        Stdio::null()
                    })
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped());
                if until_stopped {
                    command.env("FLEET_UNTIL_STDIN_CLOSES", "1");
                }
                let mut child = command.spawn().expect("spawn a fleet member");
                stdins.extend(child.stdin.take());
                let stderr = child.stderr.take().unwrap();
                let sink = logs.clone();
                readers.push(std::thread::spawn(move || {
                    for line in BufReader::new(stderr).lines() {
                        let Ok(line) = line else { break };
                        sink.lock().unwrap().push((member, line));
                    }
                }));
                let stdout = child.stdout.take().unwrap();
                let (tx, rx) = channel();
                std::thread::spawn(move || {
                    for line in BufReader::new(stdout).lines() {
                        let Ok(line) = line else { break };
                        if let Ok(value) = serde_json::from_str::<Value>(&line) {
                            if tx.send(value).is_err() {
                                break;
                            }
                        }
                    }
                });
                (child, rx)
            })
            .collect();
        Self {
            members,
            logs,
            count: n,
            readers,
            stdins,
        }
    }

    /// Tells members spawned by [`spawn_until_stopped`](Self::spawn_until_stopped) to finish
    /// (closes their standard input): each ends its tasks' current pauses and reports.
    pub fn stop(&mut self) {
        self.stdins.clear();
    }

    /// The members' stderr lines so far (their `tracing` events with `FLEET_LOG`).
    pub fn logs(&self) -> Vec<String> {
        self.logs
            .lock()
            .unwrap()
            .iter()
            .map(|(_, line)| line.clone())
            .collect()
    }

    /// The members' stderr lines so far, member by member (index `i`: the `i`-th spawned).
    pub fn logs_by_member(&self) -> Vec<Vec<String>> {
        let mut by_member = vec![Vec::new(); self.count];
        for (member, line) in self.logs.lock().unwrap().iter() {
            by_member[*member].push(line.clone());
        }
        by_member
    }

    /// Waits until every member has made a successful request.
    pub fn wait_ready(&self) {
        for (i, (_, lines)) in self.members.iter().enumerate() {
            let line = lines
                .recv_timeout(READY_TIMEOUT)
                .unwrap_or_else(|_| panic!("fleet member {i} made no successful request"));
            assert_eq!(line["ready"], true, "member {i}: {line}");
        }
    }

    /// Waits for every member to finish; their reports.
    pub fn finish(mut self) -> Vec<Value> {
        self.finish_with_logs().0
    }

    /// Waits for every member to finish (a fleet spawned until stopped is stopped now); their
    /// reports and all their stderr lines.
    pub fn finish_with_logs(&mut self) -> (Vec<Value>, Vec<String>) {
        self.stop();
        let members = std::mem::take(&mut self.members);
        let reports = members
            .into_iter()
            .enumerate()
            .map(|(i, (mut child, lines))| {
                let status = child.wait().expect("wait for a fleet member");
                assert!(status.success(), "fleet member {i} failed: {status}");
                // Until its stdout reader has seen the end of the output (it exited: no wait
                // beyond that), so that its last line, the report, is never missed.
                lines
                    .iter()
                    .filter(|l| l.get("requests").is_some())
                    .last()
                    .unwrap_or_else(|| panic!("fleet member {i} printed no report"))
            })
            .collect();
        // Likewise every stderr line.
        for reader in std::mem::take(&mut self.readers) {
            let _ = reader.join();
        }
        (reports, self.logs())
    }

    /// [`finish_with_logs`](Self::finish_with_logs), with the stderr lines member by member.
    pub fn finish_with_member_logs(&mut self) -> (Vec<Value>, Vec<Vec<String>>) {
        let (reports, _) = self.finish_with_logs();
        (reports, self.logs_by_member())
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for (child, _) in &mut self.members {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The sum of `field` over `reports`.
pub fn total(reports: &[Value], field: &str) -> u64 {
    reports.iter().map(|r| r[field].as_u64().unwrap_or(0)).sum()
}

/// The largest `field` over `reports`.
pub fn max(reports: &[Value], field: &str) -> f64 {
    reports
        .iter()
        .map(|r| r[field].as_f64().unwrap_or(0.0))
        .fold(0.0, f64::max)
}

/// The lifetime of the fleet tests' tokens: 5 s.
pub const LIFETIME_SECS: u64 = 5;

/// The shortest time between two token requests of a fleet sharing its token. A 5-s token is
/// relied on for 4 s (`expires_in` less its 1-s resolution) and renewed a quarter of that
/// (1 s) before, moved earlier by the renewal jitter (up to half the gap): the process that
/// fetched it renews after 2.5 s at the earliest. A process that adopted it from the store
/// shortens its life by the clock-skew margin (a tenth of what is left), and renews after
/// 2.25 s at the earliest — when the store may still hold that same token, so it fetches.
pub const MIN_RENEWAL_PERIOD: Duration = Duration::from_millis(2250);

/// The store-call timeout the fleet tests give members: 500 ms, not the default 100 ms. Up to
/// 32 debug-build processes share two CI cores; a call that misses its timeout under that
/// load makes its process fetch a token for itself, which the counts would see.
pub const STORE_TIMEOUT_MS: u64 = 500;

/// How long a member waits for the lock holder's token: 1 s, not the default 5 s (which
/// suits hour-long tokens; a 5-s token is due 2.5 s after it arrives).
pub const LOCK_WAIT_MS: u64 = 1000;

/// The shared store's encryption key in the fleet tests (base64 of 32 bytes).
pub const CACHE_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// At most how many token requests a fleet sharing its token may make in `elapsed`: the first
/// token, one per renewal period, and a slack of 2 (a renewal started just before the end of the
/// window, and one process that gave up waiting for the lock's holder under CI load).
pub fn shared_bound(elapsed: Duration) -> u64 {
    1 + (elapsed.as_secs_f64() / MIN_RENEWAL_PERIOD.as_secs_f64()).floor() as u64 + 2
}

/// The environment of a member: token endpoint and resource of `server`, the store at `redis`
/// (none: no store), `seconds` of `tasks` tasks pacing `pace_ms`.
pub fn member_env(
    server: &en_auth_testkit::OAuthServer,
    redis: Option<&str>,
    seconds: u64,
    tasks: usize,
    pace_ms: u64,
) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("FLEET_TOKEN_URL", server.token_url()),
        ("FLEET_RESOURCE_URL", server.resource_url()),
        ("FLEET_SECONDS", seconds.to_string()),
        ("FLEET_TASKS", tasks.to_string()),
        ("FLEET_PACE_MS", pace_ms.to_string()),
        ("FLEET_CACHE_KEY", CACHE_KEY.to_owned()),
        ("FLEET_STORE_TIMEOUT_MS", STORE_TIMEOUT_MS.to_string()),
        ("FLEET_LOCK_WAIT_MS", LOCK_WAIT_MS.to_string()),
    ];
    if let Some(url) = redis {
        env.push(("FLEET_REDIS_URL", url.to_owned()));
    }
    env
}

/// Waits until `condition` holds, polling every 20 ms, for at most `within`; panics saying
/// `what` otherwise.
pub fn wait_until(what: &str, within: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + within;
    while !condition() {
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: not within {within:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Tests of one binary run one at a time: each spawns 16 processes, and two cores cope with
/// one fleet (or two side by side), not with several tests' fleets at once.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// How many of the members' log lines say each kind of store event (the message, without
/// fields): for failure messages.
pub fn summary(logs: &[String]) -> std::collections::BTreeMap<String, usize> {
    let mut kinds = std::collections::BTreeMap::new();
    for line in logs {
        let message = line.split(": ").skip(1).collect::<Vec<_>>().join(": ");
        let message: String = message
            .split(" store=")
            .next()
            .unwrap_or_default()
            .chars()
            .take(80)
            .collect();
        let op = line
            .split(" op=")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .map(|op| format!(" [{op}]"))
            .unwrap_or_default();
        *kinds.entry(message + &op).or_insert(0) += 1;
    }
    kinds
}
