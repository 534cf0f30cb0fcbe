//! The secrecy scan every crate's tests use: what a test gave the code under test (secrets,
//! passwords, keys) and what the code produced (tokens, sessions), searched for in everything
//! the code could show anyone — `Debug` and `Display`, errors and their source chains, every
//! `tracing` event and span on every thread, `log` records (reqwest's), panic messages, files it
//! wrote, a child's environment, another process's output.
//!
//! ```no_run
//! use en_auth_peers::secrecy::{Capture, Scan};
//!
//! let capture = Capture::install(); // first thing in the test
//! let mut scan = Scan::new();
//! scan.secret("the client secret", "Sup3r-S3cret+/=value");
//! scan.basic_credential("svc", "Sup3r-S3cret+/=value");
//! // … run the code, then hand the scan what it showed:
//! let error = std::io::Error::other("token request failed");
//! scan.error("the error", &error);
//! scan.logs(capture);
//! scan.assert_clean();
//! ```
//!
//! A test binary that scans logs should hold only secrecy tests, or tests whose logs may be
//! scanned with them: [`Capture`] is process-wide.

use std::fmt::{Debug, Display};
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use base64::Engine as _;

/// Everything this process logs and every panic message, from [`Capture::install`] on: a
/// global `tracing` subscriber at TRACE level (every event on every thread — the test's, a
/// runtime's workers, en-auth's I/O runtime — with the fields of its spans, and a line for every
/// span as it closes, with all its fields), `log` records turned into events (reqwest, hyper
/// and rustls log through `log`), and a panic hook that records each panic's message and
/// location before the usual report.
pub struct Capture {
    events: Buffer,
    panics: Mutex<Vec<String>>,
}

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    /// Starts capturing, for the rest of the process (once; later calls return the same
    /// capture). Call it before the code under test runs.
    ///
    /// # Panics
    /// If another global `tracing` subscriber or `log` logger was installed first: the scan
    /// would miss what goes there.
    pub fn install() -> &'static Capture {
        static CAPTURE: OnceLock<Capture> = OnceLock::new();
        CAPTURE.get_or_init(|| {
            let events = Buffer::default();
            let writer = events.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
                .with_ansi(false)
                .with_writer(move || writer.clone())
                .finish();
            tracing::subscriber::set_global_default(subscriber)
                .expect("the secrecy capture is the process's first global tracing subscriber");
            tracing_log::LogTracer::init()
                .expect("the secrecy capture is the process's first `log` logger");
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                if let Some(capture) = CAPTURE.get() {
                    capture
                        .panics
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(info.to_string());
                }
                previous(info);
            }));
            Capture {
                events,
                panics: Mutex::new(Vec::new()),
            }
        })
    }

    /// What was logged so far: every event and span close, one per line.
    pub fn events(&self) -> String {
        String::from_utf8_lossy(&self.events.0.lock().unwrap_or_else(|e| e.into_inner()))
            .into_owned()
    }

    /// The messages (with their locations) of the panics so far, on any thread.
    pub fn panics(&self) -> Vec<String> {
        self.panics
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// One search: the secrets, the outputs, and [`Scan::assert_clean`], which fails naming the
/// secret (by what it is, never its value) and the output it was found in.
#[derive(Default)]
pub struct Scan {
    secrets: Vec<(String, String)>,
    outputs: Vec<(String, String)>,
}

/// The shortest secret a scan accepts: a shorter one could turn up in an output by chance.
pub const MIN_SECRET_LEN: usize = 6;

impl Scan {
    /// An empty scan.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a secret to search for, named `what` in a failure: `value` itself and, where they
    /// differ, its `application/x-www-form-urlencoded` form (how it travels in a form body).
    ///
    /// # Panics
    /// If `value` is shorter than [`MIN_SECRET_LEN`] characters.
    pub fn secret(&mut self, what: impl Into<String>, value: impl AsRef<str>) -> &mut Self {
        let (what, value) = (what.into(), value.as_ref().to_owned());
        assert!(
            value.chars().count() >= MIN_SECRET_LEN,
            "{what}: a secret of {} characters could match by chance; give the code a longer one",
            value.chars().count()
        );
        let encoded: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
        if encoded != value {
            self.secrets
                .push((format!("{what} (form-encoded)"), encoded));
        }
        self.secrets.push((what, value));
        self
    }

    /// Adds an HTTP Basic credential for `client_id` and `secret` (RFC 6749 §2.3.1, each
    /// form-encoded, then base64), and the same without the form-encoding, as secrets; and
    /// `secret` itself.
    pub fn basic_credential(&mut self, client_id: &str, secret: &str) -> &mut Self {
        let form = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let base64 = |s: String| base64::engine::general_purpose::STANDARD.encode(s);
        self.secret(
            format!("the Basic credential of {client_id}"),
            base64(format!("{}:{}", form(client_id), form(secret))),
        );
        let plain = base64(format!("{client_id}:{secret}"));
        if !self.secrets.iter().any(|(_, v)| *v == plain) {
            self.secret(
                format!("the Basic credential of {client_id} (not form-encoded)"),
                plain,
            );
        }
        self.secret(format!("the secret of {client_id}"), secret)
    }

    /// Adds an output to search, named `what` in a failure.
    pub fn output(&mut self, what: impl Into<String>, text: impl AsRef<str>) -> &mut Self {
        self.outputs.push((what.into(), text.as_ref().to_owned()));
        self
    }

    /// Adds `value`'s `Debug` (plain and pretty) as outputs.
    pub fn debug<T: Debug + ?Sized>(&mut self, what: &str, value: &T) -> &mut Self {
        self.output(format!("{what} (Debug)"), format!("{value:?}"));
        self.output(format!("{what} (Debug, pretty)"), format!("{value:#?}"))
    }

    /// Adds `value`'s `Display` and `Debug` as outputs.
    pub fn shown<T: Debug + Display + ?Sized>(&mut self, what: &str, value: &T) -> &mut Self {
        self.output(format!("{what} (Display)"), value.to_string());
        self.debug(what, value)
    }

    /// Adds an error's `Display` and `Debug`, and those of every error in its source chain, as
    /// outputs.
    pub fn error(&mut self, what: &str, error: &(dyn std::error::Error + 'static)) -> &mut Self {
        let mut current = Some(error);
        let mut depth = 0;
        while let Some(error) = current {
            let name = if depth == 0 {
                what.to_owned()
            } else {
                format!("{what}, source {depth}")
            };
            self.shown(&name, error);
            current = error.source();
            depth += 1;
        }
        self
    }

    /// Adds what `capture` holds now — every event, span close and panic message — as outputs.
    pub fn logs(&mut self, capture: &Capture) -> &mut Self {
        self.output("the tracing events and log records", capture.events());
        for (i, panic) in capture.panics().into_iter().enumerate() {
            self.output(format!("panic message {i}"), panic);
        }
        self
    }

    /// Adds every name under `root` (itself included) and every file's content as outputs.
    ///
    /// # Panics
    /// If `root` or something under it cannot be read.
    pub fn files(&mut self, what: &str, root: &Path) -> &mut Self {
        self.output(
            format!("{what}: the name {}", root.display()),
            root.display().to_string(),
        );
        if root.is_dir() {
            let mut entries: Vec<_> = std::fs::read_dir(root)
                .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
                .map(|entry| entry.expect("a directory entry").path())
                .collect();
            entries.sort();
            for path in entries {
                self.files(what, &path);
            }
        } else {
            let bytes = std::fs::read(root).unwrap_or_else(|e| panic!("{}: {e}", root.display()));
            self.output(
                format!("{what}: the file {}", root.display()),
                String::from_utf8_lossy(&bytes),
            );
        }
        self
    }

    /// Adds an environment (a child's, say) as outputs, a `NAME=value` line each.
    pub fn environment<K: AsRef<str>, V: AsRef<str>>(
        &mut self,
        what: &str,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> &mut Self {
        let text: Vec<String> = vars
            .into_iter()
            .map(|(k, v)| format!("{}={}", k.as_ref(), v.as_ref()))
            .collect();
        self.output(format!("{what} (environment)"), text.join("\n"))
    }

    /// How many secrets and outputs the scan holds.
    pub fn counts(&self) -> (usize, usize) {
        (self.secrets.len(), self.outputs.len())
    }

    /// Every (secret, output) pair where the output holds the secret: what, where (the byte
    /// offset), never the value.
    pub fn leaks(&self) -> Vec<String> {
        let mut leaks = Vec::new();
        for (secret, value) in &self.secrets {
            for (output, text) in &self.outputs {
                if let Some(at) = text.find(value.as_str()) {
                    leaks.push(format!(
                        "{secret} ({} characters) in {output} at byte {at}",
                        value.len()
                    ));
                }
            }
        }
        leaks
    }

    /// Fails if any output holds any secret, naming each leak (never the secret itself).
    ///
    /// # Panics
    /// On a leak; and if the scan has no secret or no output (it would pass without looking).
    pub fn assert_clean(&self) {
        assert!(
            !self.secrets.is_empty() && !self.outputs.is_empty(),
            "an empty scan ({} secrets, {} outputs) proves nothing",
            self.secrets.len(),
            self.outputs.len()
        );
        let leaks = self.leaks();
        assert!(
            leaks.is_empty(),
            "{} leaks:\n{}",
            leaks.len(),
            leaks.join("\n")
        );
    }
}
