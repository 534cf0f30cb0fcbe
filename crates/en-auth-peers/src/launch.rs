//! Starting a peer process and reading the one line of JSON it prints once it serves.
//!
//! A peer prints its line within a second or two, a few more on a loaded machine. One that
//! prints nothing for [`ATTEMPT_TIMEOUT`] is examined before it is killed — the kernel state of
//! each of its threads and, for Node.js, a diagnostic report (its JavaScript and native stacks,
//! its pending libuv handles) — and started once more. A CI run once saw oidc-provider print
//! nothing for 120 s where every other start on record took a second; the examination is there
//! so that a second sighting says where it stood. Whatever happens, each attempt's stderr stays
//! in `target/peers/<name>-<test process id>[-attempt<n>].log`, and a failed start's message
//! carries the log's last lines and the examination.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long one attempt waits for the peer's JSON line.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(90);

/// How many times a peer that prints nothing is started.
const ATTEMPTS: u32 = 2;

/// How long the examination waits for Node.js to write its diagnostic report.
const REPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a stopped peer has to exit after SIGTERM, and after SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// The signal Node.js peers write their diagnostic report on (`--report-signal`).
const REPORT_SIGNAL: &str = "SIGUSR2";

/// How one attempt ended, when it did not end with the peer's JSON.
enum Attempt {
    /// The peer exited, or printed something else: starting it again would do the same.
    Failed(String),
    /// The peer printed nothing in time (and was examined and killed).
    Silent(String),
}

/// Starts `command` (a peer script; `PORT=0` and the suites' token lifetime are added to its
/// environment) and returns the JSON it prints on its first line. The child keeps running; it
/// exits when the test process does.
pub(crate) fn start(name: &str, command: Command) -> Result<Value, String> {
    start_within(name, command, ATTEMPT_TIMEOUT)
}

/// [`start`], each attempt waiting `timeout`.
fn start_within(name: &str, mut command: Command, timeout: Duration) -> Result<Value, String> {
    let log_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/peers");
    std::fs::create_dir_all(&log_dir)
        .map_err(|e| format!("cannot create {}: {e}", log_dir.display()))?;
    let node = command.get_program() == "node";
    if node {
        command.env("NODE_OPTIONS", node_options(&log_dir));
    }
    command
        .env("PORT", "0")
        .env("TOKEN_TTL_SECONDS", crate::TOKEN_TTL_SECONDS.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped());

    let mut silences = Vec::new();
    for attempt in 1..=ATTEMPTS {
        match start_once(name, &mut command, &log_dir, attempt, node, timeout) {
            Ok(value) => return Ok(value),
            Err(Attempt::Failed(message)) => {
                silences.push(message);
                return Err(silences.join("\n\n"));
            }
            Err(Attempt::Silent(message)) => {
                eprintln!("{message}\n(attempt {attempt} of {ATTEMPTS})");
                silences.push(message);
            }
        }
    }
    Err(silences.join("\n\n"))
}

fn start_once(
    name: &str,
    command: &mut Command,
    log_dir: &Path,
    attempt: u32,
    node: bool,
    timeout: Duration,
) -> Result<Value, Attempt> {
    let suffix = if attempt == 1 {
        String::new()
    } else {
        format!("-attempt{attempt}")
    };
    let log_path = log_dir.join(format!("{name}-{}{suffix}.log", std::process::id()));
    let log = File::create(&log_path)
        .map_err(|e| Attempt::Failed(format!("cannot create {}: {e}", log_path.display())))?;
    let mut child = command
        .stderr(Stdio::from(log))
        .spawn()
        .map_err(|e| Attempt::Failed(format!("cannot start {name}: {e}")))?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| Attempt::Failed(format!("{name}: no stdout")))?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let result = BufReader::new(stdout).read_line(&mut line).map(|_| line);
        let _ = tx.send(result);
    });
    let failure = |why: String| {
        format!(
            "{name} did not start: {why}\n--- {} (last lines) ---\n{}",
            log_path.display(),
            tail(&log_path, 30)
        )
    };
    match rx.recv_timeout(timeout) {
        Ok(Ok(line)) if !line.trim().is_empty() => {
            // The child keeps running; it exits when this process does.
            std::mem::forget(child);
            serde_json::from_str(line.trim())
                .map_err(|e| Attempt::Failed(failure(format!("its first line is not JSON ({e})"))))
        }
        Ok(Ok(_)) => {
            let status = stop(&mut child);
            Err(Attempt::Failed(failure(format!(
                "it exited without printing its JSON line ({status})"
            ))))
        }
        Ok(Err(e)) => {
            stop(&mut child);
            Err(Attempt::Failed(failure(format!(
                "reading its output failed: {e}"
            ))))
        }
        Err(_) => {
            let examination = examine(child.id(), node, log_dir);
            stop(&mut child);
            Err(Attempt::Silent(format!(
                "{}\n--- what it was doing ---\n{examination}",
                failure(format!("no JSON line within {timeout:?}"))
            )))
        }
    }
}

/// The `NODE_OPTIONS` of a Node.js peer: the caller's, and a diagnostic report written to
/// `log_dir` on [`REPORT_SIGNAL`].
fn node_options(log_dir: &Path) -> String {
    let mut options = std::env::var("NODE_OPTIONS").unwrap_or_default();
    options.push_str(&format!(
        // Quoted: NODE_OPTIONS splits at spaces outside double quotes.
        " --report-on-signal --report-signal={REPORT_SIGNAL} --report-directory=\"{}\"",
        log_dir.display()
    ));
    options.trim_start().to_owned()
}

/// Stops `child` and reaps it: SIGTERM first, so that a peer removes what it made (key
/// directories), SIGKILL after [`STOP_GRACE`]; its exit status, as text. Gives up waiting after
/// [`STOP_GRACE`] more (a process stuck in the kernel): never a hang.
fn stop(child: &mut Child) -> String {
    let exited = |child: &mut Child| {
        let deadline = Instant::now() + STOP_GRACE;
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return Some(status.to_string()),
                Err(e) => return Some(format!("its exit status is unknown: {e}")),
                Ok(None) if Instant::now() >= deadline => return None,
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    };
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    if let Some(status) = exited(child) {
        return status;
    }
    let _ = child.kill();
    exited(child).unwrap_or_else(|| format!("still running {STOP_GRACE:?} after SIGKILL"))
}

/// The last `lines` lines of the file at `path` (empty if it cannot be read).
fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// What the silent process `pid` is doing: each thread's name, kernel state (`R` running, `S`
/// sleeping, `D` in uninterruptible I/O, `T` stopped…) and the kernel function it waits in; for
/// Node.js, the diagnostic report's stacks and handles.
fn examine(pid: u32, node: bool, log_dir: &Path) -> String {
    let mut text = threads(pid);
    if node {
        text.push_str(&node_report(pid, log_dir));
    }
    text
}

/// One line per thread of `pid`, from `/proc/<pid>/task`.
fn threads(pid: u32) -> String {
    let tasks = format!("/proc/{pid}/task");
    let Ok(entries) = std::fs::read_dir(&tasks) else {
        return format!("{tasks} cannot be read\n");
    };
    let mut lines = Vec::new();
    for entry in entries.flatten() {
        let dir = entry.path();
        let stat = std::fs::read_to_string(dir.join("stat")).unwrap_or_default();
        // `tid (comm) state …`: comm may hold spaces and parentheses, so split at the last ')'.
        let (head, rest) = stat.rsplit_once(')').unwrap_or((&stat, ""));
        let comm = head.split_once('(').map_or("?", |(_, comm)| comm);
        let state = rest.split_whitespace().next().unwrap_or("?");
        let wchan = std::fs::read_to_string(dir.join("wchan")).unwrap_or_default();
        lines.push(format!(
            "thread {} {comm:?} state {state} wchan {}",
            entry.file_name().to_string_lossy(),
            if wchan.is_empty() { "?" } else { wchan.trim() }
        ));
    }
    lines.sort();
    lines.join("\n") + "\n"
}

/// Asks Node.js process `pid` for its diagnostic report ([`REPORT_SIGNAL`]) and summarizes it.
fn node_report(pid: u32, log_dir: &Path) -> String {
    let marker = format!(".{pid}.");
    // This process's reports: those already there (a pid reused since an earlier run) are not
    // the one asked for.
    let reports = || -> Vec<PathBuf> {
        std::fs::read_dir(log_dir)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|entry| entry.path())
                    .filter(|path| {
                        path.file_name()
                            .and_then(|name| name.to_str())
                            .is_some_and(|name| {
                                name.starts_with("report.") && name.contains(&marker)
                            })
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let earlier = reports();
    let signalled = Command::new("kill")
        .args([
            format!("-{}", REPORT_SIGNAL.trim_start_matches("SIG")),
            pid.to_string(),
        ])
        .status();
    if !matches!(signalled, Ok(status) if status.success()) {
        return format!("no diagnostic report: `kill -{REPORT_SIGNAL} {pid}` failed\n");
    }
    let deadline = Instant::now() + REPORT_TIMEOUT;
    loop {
        let report = reports().into_iter().find(|path| !earlier.contains(path));
        // The report is complete once it parses.
        let parsed = report.as_ref().and_then(|path| {
            let text = std::fs::read_to_string(path).ok()?;
            serde_json::from_str::<Value>(&text).ok()
        });
        if let (Some(path), Some(report)) = (report, parsed) {
            return summarize_report(&path, &report);
        }
        if Instant::now() >= deadline {
            return format!(
                "no diagnostic report from Node.js within {REPORT_TIMEOUT:?} (is the event loop's \
                 thread stopped?)\n"
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The JavaScript stack, the first native frames and the live libuv handles of a Node.js
/// diagnostic report.
fn summarize_report(path: &Path, report: &Value) -> String {
    let strings = |pointer: &str, take: usize| -> Vec<String> {
        report
            .pointer(pointer)
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .take(take)
                    .map(|item| match item {
                        Value::String(text) => text.clone(),
                        other => other
                            .get("symbol")
                            .and_then(Value::as_str)
                            .map_or_else(|| other.to_string(), str::to_owned),
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let handles: Vec<String> = report
        .pointer("/libuv")
        .and_then(Value::as_array)
        .map(|handles| {
            handles
                .iter()
                .filter(|handle| handle["is_active"] == Value::Bool(true))
                .map(|handle| {
                    let kind = handle["type"].as_str().unwrap_or("?");
                    match handle
                        .get("filename")
                        .or_else(|| handle.get("localEndpoint"))
                    {
                        Some(detail) => format!("{kind} {detail}"),
                        None => kind.to_owned(),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    format!(
        "Node.js report {}\nJavaScript stack ({}):\n  {}\nnative stack:\n  {}\nactive libuv handles: {}\n",
        path.display(),
        report
            .pointer("/javascriptStack/message")
            .and_then(Value::as_str)
            .unwrap_or(""),
        strings("/javascriptStack/stack", 20).join("\n  "),
        strings("/nativeStack", 20).join("\n  "),
        handles.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The examination of a process that prints nothing names its threads' states and, for
    /// Node.js, brings back the diagnostic report's JavaScript stack.
    #[test]
    fn a_silent_node_process_is_examined() {
        // A space in the path: NODE_OPTIONS quotes it.
        let log_dir = std::env::temp_dir().join(format!("en-auth launch-{}", std::process::id()));
        std::fs::create_dir_all(&log_dir).unwrap();
        let mut child = Command::new("node")
            .env("NODE_OPTIONS", node_options(&log_dir))
            .args(["-e", "function waitingHere() { setInterval(() => {}, 1000); } waitingHere(); process.stdout.write('ready\\n');"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node is on PATH");
        // The signal handler is installed before the script runs: wait for the script.
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line, "ready\n");
        let examination = examine(child.id(), true, &log_dir);
        stop(&mut child);
        std::fs::remove_dir_all(&log_dir).unwrap();
        assert!(examination.contains("state "), "{examination}");
        assert!(examination.contains("Node.js report"), "{examination}");
        assert!(examination.contains("timer"), "{examination}");
    }

    /// A node script that prints nothing at its first start and `{"attempt":2}` at its second
    /// (a marker file tells them apart), then exits.
    fn silent_once(marker: &Path) -> Command {
        let mut command = Command::new("node");
        command.env("MARKER", marker).args([
            "-e",
            "const fs = require('fs');
             if (!fs.existsSync(process.env.MARKER)) {
               fs.writeFileSync(process.env.MARKER, '');
               setInterval(() => {}, 1000);
             } else {
               process.stdout.write(JSON.stringify({ attempt: 2 }) + '\\n');
               setTimeout(() => process.exit(0), 100);
             }",
        ]);
        command
    }

    #[test]
    fn a_peer_silent_at_its_first_start_is_started_again() {
        let marker = std::env::temp_dir().join(format!("en-auth-silent-{}", std::process::id()));
        let _ = std::fs::remove_file(&marker);
        let value = start_within(
            "launch-test-silent",
            silent_once(&marker),
            Duration::from_secs(3),
        )
        .expect("the second attempt prints its JSON");
        std::fs::remove_file(&marker).unwrap();
        assert_eq!(value["attempt"], 2);
    }

    #[test]
    fn a_peer_that_exits_is_not_started_again() {
        let marker = std::env::temp_dir().join(format!("en-auth-exits-{}", std::process::id()));
        let mut command = Command::new("sh");
        command.args([
            "-c",
            &format!(
                "echo started >> '{}'; echo 'no such thing' >&2; exit 7",
                marker.display()
            ),
        ]);
        let message = start_within("launch-test-exits", command, Duration::from_secs(30))
            .expect_err("it exits without its JSON");
        let starts = std::fs::read_to_string(&marker).unwrap();
        std::fs::remove_file(&marker).unwrap();
        assert_eq!(starts, "started\n", "started once");
        assert!(
            message.contains("exited without printing its JSON line"),
            "{message}"
        );
        assert!(message.contains("exit status: 7"), "{message}");
        assert!(
            message.contains("no such thing"),
            "the log's tail: {message}"
        );
    }

    #[test]
    fn the_tail_is_the_last_lines() {
        let path = std::env::temp_dir().join(format!("en-auth-tail-{}", std::process::id()));
        std::fs::write(&path, "a\nb\nc\n").unwrap();
        assert_eq!(tail(&path, 2), "b\nc");
        assert_eq!(tail(&path, 9), "a\nb\nc");
        std::fs::remove_file(&path).unwrap();
        assert_eq!(tail(&path, 2), "");
    }
}
