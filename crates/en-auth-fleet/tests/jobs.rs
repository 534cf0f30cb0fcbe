//! Short-lived processes and the shared store: jobs (`en-auth-job`, the `service_account`
//! example's shape) that each make one request and exit, one after another and killed in the
//! middle of their token request, sharing through a real Redis and through a local directory
//! named in the environments file.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use en_auth_peers::redis::RedisServer;
use en_auth_testkit::OAuthServer;

const CLIENT: (&str, &str) = ("svc-jobs", "jobs-secret-7f3a");
const KEY_VARIABLE: &str = "EN_AUTH_JOBS_TEST_CACHE_KEY";

/// The lock's time to live and how long a process waits for a holder before asking itself
/// (`SharedStoreSettings`' defaults).
const LOCK_TTL: Duration = Duration::from_secs(3);
const LOCK_WAIT: Duration = Duration::from_secs(5);

/// A private directory with the environments file, removed when dropped.
struct Workspace(PathBuf);

impl Workspace {
    /// An environments file with the environment `jobs`: the server's token endpoint and
    /// `shared_cache` (TOML lines of its table).
    fn new(tag: &str, server: &OAuthServer, shared_cache: &str) -> Self {
        use std::os::unix::fs::DirBuilderExt;
        let dir = std::env::temp_dir().join(format!(
            "en-auth-jobs-{tag}-{}-{:x}",
            std::process::id(),
            fastrand::u64(..)
        ));
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .unwrap();
        let text = format!(
            "[jobs]\ntoken_url = \"{}\"\n\n[jobs.shared_cache]\n{shared_cache}\n",
            server.token_url()
        );
        std::fs::write(dir.join("environments.toml"), text).unwrap();
        Self(dir)
    }

    /// A job's command: one request to the server's resource, the library's debug log on
    /// stderr.
    fn job(&self, server: &OAuthServer) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_en-auth-job"));
        command
            .arg(server.resource_url())
            .env("CLIENT_ID", CLIENT.0)
            .env("CLIENT_SECRET", CLIENT.1)
            .env("ENVIRONMENT", "jobs")
            .env("EN_AUTH_ENVIRONMENTS", self.0.join("environments.toml"))
            .env(KEY_VARIABLE, "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=")
            .env("JOB_LOG", "en_auth_core=debug")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What one finished job did.
struct Job {
    output: Output,
    took: Duration,
}

impl Job {
    fn run(command: &mut Command) -> Self {
        let started = Instant::now();
        let output = command.output().expect("run en-auth-job");
        Self {
            output,
            took: started.elapsed(),
        }
    }

    fn log(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// Its JSON line, after checking that it succeeded with a 200.
    fn report(&self) -> serde_json::Value {
        assert!(
            self.output.status.success(),
            "the job failed: {}",
            self.log()
        );
        let line = String::from_utf8_lossy(&self.output.stdout);
        let report: serde_json::Value = serde_json::from_str(line.trim()).expect(&line);
        assert_eq!(report["status"], 200, "{line}");
        report
    }

    /// The `waited_ms` of the first log line saying `what`.
    fn waited_ms(&self, what: &str) -> Option<u64> {
        let log = self.log();
        let line = log.lines().find(|l| l.contains(what))?;
        let value = line.split("waited_ms=").nth(1)?;
        value
            .split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    }
}

/// Eight jobs in a row: the first asks for the token, stores it and releases the fleet's lock
/// before its request goes on; the seven after it adopt the stored token without waiting for
/// any lock.
fn eight_jobs_in_a_row(workspace: &Workspace, server: &OAuthServer) -> Vec<Job> {
    let jobs: Vec<Job> = (0..8)
        .map(|_| Job::run(&mut workspace.job(server)))
        .collect();
    for (i, job) in jobs.iter().enumerate() {
        let report = job.report();
        let log = job.log();
        if i == 0 {
            assert_eq!(report["token_requests"], 1, "{log}");
        } else {
            assert_eq!(report["token_requests"], 0, "job {i}: {log}");
            assert!(
                log.contains("token adopted from the shared store"),
                "job {i}: {log}"
            );
        }
        assert!(
            !log.contains("holds the fleet's lock"),
            "job {i} found the lock held: {log}"
        );
        assert!(!log.contains("call failed"), "job {i}: {log}");
    }
    assert_eq!(server.token_requests(), 1, "one token request for 8 jobs");
    let took: Vec<u128> = jobs.iter().map(|j| j.took.as_millis()).collect();
    println!("8 jobs in a row, each process's wall time (ms): {took:?}");
    jobs
}

fn server() -> OAuthServer {
    OAuthServer::builder()
        .client(CLIENT.0, CLIENT.1)
        .token_lifetime_secs(3600)
        .start_on_own_thread()
}

fn redis_table(redis: &RedisServer) -> String {
    format!(
        "url = \"{}\"\nkey_prefix = \"jobs\"\nencryption_key_env = \"{KEY_VARIABLE}\"",
        redis.url()
    )
}

#[test]
fn the_defaults_these_tests_rely_on() {
    let settings = en_auth_oauth2::SharedStoreSettings::default();
    assert_eq!(settings.lock_ttl, LOCK_TTL);
    assert_eq!(settings.lock_wait, LOCK_WAIT);
}

#[test]
fn eight_jobs_in_a_row_share_one_token_through_redis_and_leave_no_lock() {
    let redis = RedisServer::start();
    let server = server();
    let workspace = Workspace::new("redis-row", &server, &redis_table(&redis));
    eight_jobs_in_a_row(&workspace, &server);
    let locks = redis.cli(&["--scan", "--pattern", "jobs:v2:*:lock"]);
    assert_eq!(locks.trim(), "", "no lock left behind");
    let tokens = redis.cli(&["--scan", "--pattern", "jobs:v2:*}"]);
    assert_eq!(tokens.lines().count(), 1, "the token is stored: {tokens}");
}

#[test]
fn eight_jobs_in_a_row_share_one_token_through_a_local_directory() {
    let server = server();
    let store = std::env::temp_dir().join(format!("en-auth-jobs-store-{}", std::process::id()));
    let workspace = Workspace::new(
        "dir-row",
        &server,
        &format!("path = \"{}\"", store.display()),
    );
    eight_jobs_in_a_row(&workspace, &server);
    let files: Vec<String> = std::fs::read_dir(&store)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        files.iter().filter(|f| f.ends_with(".token")).count(),
        1,
        "{files:?}"
    );
    // The secret, the client id and the token appear in no name and no file.
    for name in &files {
        assert!(
            !name.contains(CLIENT.0) && !name.contains(CLIENT.1),
            "{name}"
        );
        let bytes = std::fs::read(store.join(name)).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(CLIENT.1), "{name} holds the secret");
    }
    let _ = std::fs::remove_dir_all(&store);
    drop(workspace);
}

/// Starts a job with the token endpoint holding token requests, and SIGKILLs it once its token
/// request has arrived (so it holds the fleet's lock). Token requests stay held.
fn kill_during_its_token_request(workspace: &Workspace, server: &OAuthServer) {
    server.hold_token_requests();
    let mut victim = workspace.job(server).spawn().expect("spawn a job");
    // The token request's arrival, polled: the endpoint counts it when it comes in.
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.token_requests() == 0 {
        assert!(Instant::now() < deadline, "the job never asked for a token");
        std::thread::sleep(Duration::from_millis(10));
    }
    victim.kill().expect("SIGKILL the job");
    let _ = victim.wait();
}

/// A job killed (SIGKILL) while its token request is in flight leaves its lock in Redis; the
/// next job waits for it to lapse — the lock's time to live at most — then asks itself.
#[test]
fn a_job_killed_in_its_token_request_holds_the_next_up_for_the_lock_ttl_at_most() {
    let redis = RedisServer::start();
    let server = server();
    let workspace = Workspace::new("redis-kill", &server, &redis_table(&redis));
    kill_during_its_token_request(&workspace, &server);
    let locks = redis.cli(&["--scan", "--pattern", "jobs:v2:*:lock"]);
    assert_eq!(locks.lines().count(), 1, "the killed job's lock: {locks}");
    server.release_token_requests();

    let next = Job::run(&mut workspace.job(&server));
    let report = next.report();
    assert_eq!(report["token_requests"], 1, "{}", next.log());
    let log = next.log();
    assert!(log.contains("holds the fleet's lock"), "{log}");
    // It took the lock once it lapsed — the 3-s TTL, renewed by nobody — and did not give up
    // waiting, which it does only after `lock_wait` (5 s): the dead holder cost it less than
    // `lock_wait`, by the order of its own events rather than a clock.
    assert!(LOCK_TTL < LOCK_WAIT);
    assert!(!log.contains("gave up waiting"), "{log}");
    let waited = next
        .waited_ms("took the fleet's lock")
        .unwrap_or_else(|| panic!("it took the lapsed lock: {log}"));
    println!("the job after a killed holder waited {waited} ms for its lock (TTL {LOCK_TTL:?})");
    assert_eq!(server.token_requests(), 2);
    // And the one after that adopts.
    let third = Job::run(&mut workspace.job(&server));
    assert_eq!(third.report()["token_requests"], 0, "{}", third.log());
}

/// With a local directory the lock is an OS file lock: the kernel releases a killed holder's
/// lock at once, and the next job does not wait at all.
#[test]
fn a_job_killed_in_its_token_request_leaves_no_local_lock() {
    let server = server();
    let store = std::env::temp_dir().join(format!("en-auth-jobs-kill-{}", std::process::id()));
    let workspace = Workspace::new(
        "dir-kill",
        &server,
        &format!("path = \"{}\"", store.display()),
    );
    kill_during_its_token_request(&workspace, &server);
    server.release_token_requests();
    let next = Job::run(&mut workspace.job(&server));
    assert_eq!(next.report()["token_requests"], 1);
    let log = next.log();
    assert!(!log.contains("holds the fleet's lock"), "{log}");
    let _ = std::fs::remove_dir_all(&store);
    drop(workspace);
}
