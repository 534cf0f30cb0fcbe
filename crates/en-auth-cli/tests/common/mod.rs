//! Running the `en-auth` binary from the tests: a private temp directory with an environments
//! file and a cache, a clean environment (no CLIENT_ID, CLIENT_SECRET, USER_PWD, … inherited),
//! stdin not a terminal, and the output captured — off the Tokio runtime, whose emulators must
//! keep serving while the process runs.

#![allow(dead_code)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_en-auth");

/// Variables a developer's shell might set that would change what the binary does.
const SCRUBBED: &[&str] = &[
    "CLIENT_ID",
    "CLIENT_SECRET",
    "USER_PWD",
    "EN_AUTH_ENVIRONMENTS",
    "EN_AUTH_CACHE_DIR",
    "XDG_CACHE_HOME",
    "XDG_CONFIG_HOME",
    "EN_AUTH_SESSION_KEY_FILE",
    "EN_AUTH_SESSION_KEY_ENV",
    "EN_AUTH_ALLOW_UNSEALED_SESSIONS",
    "RUST_LOG",
];

/// A directory removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    /// A new, empty directory of mode 0700 under the system's temp directory.
    pub fn new(tag: &str) -> Self {
        use std::os::unix::fs::DirBuilderExt;
        let path = std::env::temp_dir().join(format!(
            "en-auth-cli-{tag}-{}-{:016x}",
            std::process::id(),
            fastrand_u64()
        ));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .expect("create a temp dir");
        Self(path)
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn fastrand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    h.finish()
}

/// A sandbox for invocations: an environments file and a cache directory.
pub struct Sandbox {
    dir: TempDir,
}

impl Sandbox {
    /// A sandbox whose environments file holds `environments` (TOML).
    pub fn new(tag: &str, environments: &str) -> Self {
        let dir = TempDir::new(tag);
        std::fs::write(dir.path().join("environments.toml"), environments).unwrap();
        Self { dir }
    }

    /// The environments file.
    pub fn environments(&self) -> PathBuf {
        self.dir.path().join("environments.toml")
    }

    /// The cache directory (created by the binary).
    pub fn cache(&self) -> PathBuf {
        self.dir.path().join("cache")
    }

    /// The key file that seals user sessions (created by the binary).
    pub fn session_key_file(&self) -> PathBuf {
        self.dir.path().join("config").join("session.key")
    }

    /// The sealed user sessions (`<cache>/sessions`).
    pub fn sessions(&self) -> PathBuf {
        self.cache().join("sessions")
    }

    /// The sealed session of `user` of `client_id` in `pool` at the Cognito `endpoint`, opened
    /// with the sandbox's key.
    pub async fn stored_session(
        &self,
        endpoint: &str,
        pool: &str,
        client_id: &str,
        user: &str,
    ) -> Option<en_auth_srp::StoredSession> {
        use en_auth_srp::SessionStore;
        en_auth_srp::FileSessionStore::open_with_key_file(self.sessions(), self.session_key_file())
            .unwrap()
            .load(&en_auth_srp::SessionKey::new(
                endpoint, pool, client_id, user,
            ))
            .await
            .unwrap()
    }

    /// The root of the sandbox.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// The cache's token files: client-credentials tokens (`<digest>.token`, the library's
    /// LocalStore) and user sessions (`<digest>.json`); not the lock files.
    pub fn cache_files(&self) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(self.cache()) else {
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = entries
            .map(|e| e.unwrap().path())
            .filter(|p| {
                matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("json" | "token")
                )
            })
            .collect();
        files.sort();
        files
    }

    /// An invocation of `en-auth args…` in this sandbox.
    pub fn cmd<I, S>(&self, args: I) -> Invocation
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.program(BIN, args)
    }

    /// `sh -c script` in this sandbox (with `$EN_AUTH` the binary under test).
    pub fn sh(&self, script: &str) -> Invocation {
        self.program("sh", ["-c", script]).env("EN_AUTH", BIN)
    }

    /// `en-auth args…` on a pseudo-terminal (Python's `pty`), typing `answer` and a newline
    /// once en-auth prompts with "(not shown)". Its stdout is what the terminal showed (en-auth's
    /// stdout and stderr, and whatever the terminal echoed); its exit code is en-auth's. Gives
    /// up after 30 seconds (the child is then killed by the closed terminal).
    pub fn on_terminal<I, S>(&self, answer: &str, args: I) -> Invocation
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.on_terminal_at(answer, "(not shown)", args)
    }

    /// [`on_terminal`](Self::on_terminal), typing `answer` once the terminal shows `prompt`.
    pub fn on_terminal_at<I, S>(&self, answer: &str, prompt: &str, args: I) -> Invocation
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        let mut argv: Vec<OsString> = vec![
            "-c".into(),
            PTY_SCRIPT.into(),
            answer.into(),
            prompt.into(),
            BIN.into(),
        ];
        argv.extend(args.into_iter().map(Into::into));
        self.program("python3", argv)
    }

    fn program<I, S>(&self, program: &str, args: I) -> Invocation
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        let mut command = Command::new(program);
        for var in SCRUBBED {
            command.env_remove(var);
        }
        command
            .env("EN_AUTH_ENVIRONMENTS", self.environments())
            .env("EN_AUTH_CACHE_DIR", self.cache())
            .env("EN_AUTH_SESSION_KEY_FILE", self.session_key_file())
            .args(args.into_iter().map(Into::into))
            .stdin(Stdio::null());
        Invocation { command }
    }
}

/// Runs argv[3:] on a pseudo-terminal, answers the first prompt argv[2] with argv[1]. A
/// "(not shown)" prompt is answered once the terminal's echo is off: the prompt is printed
/// before the echo is turned off (rpassword), and an answer typed in between is echoed by the
/// terminal — a race the test lost on a loaded machine, not a secret shown by en-auth.
const PTY_SCRIPT: &str = r#"
import os, pty, select, sys, termios, time
answer, prompt, argv = sys.argv[1], sys.argv[2].encode(), sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(argv[0], argv)
shown, sent, deadline = b"", False, time.monotonic() + 30

def echo_off():
    try:
        return not termios.tcgetattr(fd)[3] & termios.ECHO
    except termios.error:
        return False

while time.monotonic() < deadline:
    if not sent and prompt in shown and (b"not shown" not in prompt or echo_off()):
        os.write(fd, answer.encode() + b"\n")
        sent = True
    ready, _, _ = select.select([fd], [], [], 0.05 if prompt in shown and not sent else 0.5)
    if not ready:
        continue
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    if not data:
        break
    shown += data
os.close(fd)
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(shown)
sys.exit(os.waitstatus_to_exitcode(status))
"#;

/// One invocation being set up.
pub struct Invocation {
    command: Command,
}

impl Invocation {
    /// Sets a variable for the process.
    pub fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> Self {
        self.command.env(key, value);
        self
    }

    /// Unsets a variable for the process.
    pub fn env_remove(mut self, key: &str) -> Self {
        self.command.env_remove(key);
        self
    }

    /// Runs it to the end, off the async runtime.
    pub async fn run(self) -> Run {
        let mut command = self.command;
        let output = tokio::task::spawn_blocking(move || command.output())
            .await
            .unwrap()
            .expect("start en-auth");
        Run(output)
    }

    /// Runs it to the end, blocking (for tests without a runtime).
    pub fn run_blocking(mut self) -> Run {
        Run(self.command.output().expect("start en-auth"))
    }

    /// The command, to spawn it by hand.
    pub fn into_command(self) -> Command {
        self.command
    }

    /// Spawns `en-auth login --browser` (stdin not a terminal: no browser is opened, the
    /// authorization URL is printed), its stderr read on a thread.
    pub fn spawn_browser_login(mut self) -> BrowserLogin {
        let mut child = self
            .command
            .stderr(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start en-auth");
        let stderr = child.stderr.take().expect("piped stderr");
        let (url_tx, url) = tokio::sync::oneshot::channel();
        let reader = std::thread::spawn(move || {
            use std::io::BufRead;
            let mut url_tx = Some(url_tx);
            let mut text = String::new();
            for line in std::io::BufReader::new(stderr).lines() {
                let line = line.expect("stderr is text");
                if line.starts_with("http://") {
                    if let Some(tx) = url_tx.take() {
                        let _ = tx.send(line.trim().to_owned());
                    }
                }
                text.push_str(&line);
                text.push('\n');
            }
            text
        });
        BrowserLogin { child, url, reader }
    }
}

/// A running `en-auth login --browser` ([`Invocation::spawn_browser_login`]).
pub struct BrowserLogin {
    child: std::process::Child,
    url: tokio::sync::oneshot::Receiver<String>,
    reader: std::thread::JoinHandle<String>,
}

impl BrowserLogin {
    /// The authorization URL, once printed.
    pub async fn url(&mut self) -> String {
        (&mut self.url)
            .await
            .expect("the authorization URL is printed")
    }

    /// Delivers the browser's redirect (`location`, the provider's answer) to the loopback
    /// listener, then waits for the login to end: its stderr, the login having succeeded.
    pub async fn finish(self, location: &str) -> String {
        let page = en_auth_peers::people::deliver_redirect(location).await;
        let mut child = self.child;
        let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
            .await
            .unwrap();
        let text = self.reader.join().unwrap();
        assert!(status.success(), "{text}");
        assert!(page.is_success(), "{text}");
        text
    }
}

/// A finished invocation.
pub struct Run(pub Output);

impl Run {
    /// The exit code.
    pub fn code(&self) -> i32 {
        self.0.status.code().expect("exited, not killed")
    }

    /// Stdout as text.
    pub fn stdout(&self) -> String {
        String::from_utf8(self.0.stdout.clone()).unwrap()
    }

    /// Stderr as text.
    pub fn stderr(&self) -> String {
        String::from_utf8(self.0.stderr.clone()).unwrap()
    }

    /// Asserts success and gives stdout.
    #[track_caller]
    pub fn ok(&self) -> String {
        assert_eq!(
            self.code(),
            0,
            "en-auth failed\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout(),
            self.stderr()
        );
        self.stdout()
    }

    /// Asserts exit code `code`, nothing on stdout and one line on stderr; gives that line.
    #[track_caller]
    pub fn fails_with(&self, code: i32) -> String {
        assert_eq!(
            self.code(),
            code,
            "expected exit {code}\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout(),
            self.stderr()
        );
        assert_eq!(self.stdout(), "", "no token on failure");
        let stderr = self.stderr();
        assert_eq!(
            stderr.lines().count(),
            1,
            "one line on stderr, got:\n{stderr}"
        );
        stderr.trim_end().to_owned()
    }
}

/// The one cache file of a sandbox, parsed: a user session's JSON as it is; a token file
/// (`<handed out until>\n0|<expiry>|<id>|<JSON>`, in clear without a key) as
/// `{"access_token", "token_type", "scope", "expires_at_ms"}`.
pub fn only_cache_file(sandbox: &Sandbox) -> (PathBuf, serde_json::Value) {
    let files = sandbox.cache_files();
    assert_eq!(files.len(), 1, "{files:?}");
    let text = std::fs::read_to_string(&files[0]).unwrap();
    if files[0].extension().and_then(|e| e.to_str()) == Some("json") {
        return (files[0].clone(), serde_json::from_str(&text).unwrap());
    }
    let (until, value) = text.split_once('\n').expect("a token file's first line");
    assert!(until.parse::<u64>().is_ok(), "{text}");
    let mut parts = value.splitn(4, '|');
    assert_eq!(parts.next(), Some("0"), "a token in clear: {text}");
    let (_expiry, _id, json) = (parts.next(), parts.next(), parts.next().unwrap());
    let value: serde_json::Value = serde_json::from_str(json).unwrap();
    let token = serde_json::json!({
        "access_token": value["t"],
        "token_type": value["y"],
        "scope": value["s"],
        "expires_at_ms": value["e"],
    });
    (files[0].clone(), token)
}

/// The mode bits of `path`.
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Whether `text` is RFC 3339 in UTC to the second, as Kubernetes' `metav1.Time` marshals:
/// `YYYY-MM-DDTHH:MM:SSZ`.
pub fn is_rfc3339_utc(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 20
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

/// Seconds from now until an RFC 3339 UTC timestamp (negative if past), parsed by hand.
pub fn seconds_until(text: &str) -> i64 {
    assert!(is_rfc3339_utc(text), "{text}");
    let n = |r: std::ops::Range<usize>| text[r].parse::<i64>().unwrap();
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let at = days * 86_400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    at - now
}
