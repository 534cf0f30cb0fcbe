//! The shared test helpers can fail: the secrecy scan finds what it is given wherever it hides
//! (an error's source chain, a form-encoded body, a Basic credential, an event on another
//! thread, a `log` record, a panic message), fails without printing the secret, and refuses to
//! pass empty; a closed port refuses connections and cannot be taken.

use en_auth_peers::secrecy::{Capture, Scan};
use en_auth_peers::support::closed_port;

const SECRET: &str = "s3cr+t/with=odd:chars%21! and space";

/// An error whose own `Debug` and `Display` show nothing of its source.
struct Outer(Inner);

impl std::fmt::Debug for Outer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Outer")
    }
}

#[derive(Debug)]
struct Inner(String);

impl std::fmt::Display for Outer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the request failed")
    }
}

impl std::fmt::Display for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the server said: {}", self.0)
    }
}

impl std::error::Error for Outer {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl std::error::Error for Inner {}

fn leaks_in(what: &str, text: &str) -> Vec<String> {
    let mut scan = Scan::new();
    scan.basic_credential("svc", SECRET).output(what, text);
    scan.leaks()
}

#[test]
fn the_scan_finds_a_secret_in_a_source_chain_and_never_prints_it() {
    let mut scan = Scan::new();
    scan.secret("the secret", SECRET)
        .error("an error", &Outer(Inner(format!("bad secret {SECRET}"))));
    let leaks = scan.leaks();
    assert_eq!(
        leaks.len(),
        3,
        "in the source's Display and Debugs: {leaks:?}"
    );
    assert!(
        leaks.iter().all(|l| l.contains("an error, source 1")),
        "{leaks:?}"
    );
    let failure = std::panic::catch_unwind(|| scan.assert_clean()).unwrap_err();
    let message = failure.downcast_ref::<String>().unwrap();
    assert!(
        message.contains("the secret") && !message.contains(SECRET),
        "{message}"
    );

    // Clean: the outer error alone says nothing secret.
    let mut clean = Scan::new();
    clean
        .secret("the secret", SECRET)
        .shown("a message", "the request failed");
    clean.assert_clean();
}

#[test]
fn the_scan_finds_form_encoded_and_basic_forms() {
    let form: String = url::form_urlencoded::byte_serialize(SECRET.as_bytes()).collect();
    assert_ne!(form, SECRET);
    assert_eq!(
        leaks_in("a form body", &format!("client_secret={form}")).len(),
        1
    );
    // RFC 6749 §2.3.1: each part form-encoded, then base64.
    let basic = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(format!("svc:{form}"))
    };
    assert_eq!(
        leaks_in("a header", &format!("Authorization: Basic {basic}")).len(),
        1
    );
    assert!(leaks_in("a header", "Authorization: Bearer abc").is_empty());
}

#[test]
fn an_empty_scan_or_a_short_secret_is_refused() {
    assert!(std::panic::catch_unwind(|| Scan::new().assert_clean()).is_err());
    let mut no_output = Scan::new();
    no_output.secret("the secret", SECRET);
    assert!(std::panic::catch_unwind(|| no_output.assert_clean()).is_err());
    assert!(std::panic::catch_unwind(|| {
        Scan::new().secret("a PIN", "1234");
    })
    .is_err());
}

#[test]
fn the_capture_sees_other_threads_log_records_and_panics() {
    let capture = Capture::install();
    std::thread::spawn(|| tracing::warn!(leaked = "event-secret-1", "on a thread of its own"))
        .join()
        .unwrap();
    std::thread::spawn(|| log::warn!("a log record with log-secret-2"))
        .join()
        .unwrap();
    let panicked = std::thread::spawn(|| panic!("a panic with panic-secret-3")).join();
    assert!(panicked.is_err());
    let mut scan = Scan::new();
    scan.secret("an event's field", "event-secret-1")
        .secret("a log record's text", "log-secret-2")
        .secret("a panic's message", "panic-secret-3")
        .logs(capture);
    let leaks = scan.leaks();
    for what in [
        "an event's field",
        "a log record's text",
        "a panic's message",
    ] {
        assert!(
            leaks.iter().any(|l| l.starts_with(what)),
            "{what} not found: {leaks:?}"
        );
    }
}

#[test]
fn a_closed_port_refuses_connections_and_cannot_be_taken() {
    let port = closed_port();
    let refused = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    assert!(std::net::TcpListener::bind(("127.0.0.1", port)).is_err());
    assert_ne!(closed_port(), port, "each call holds a port of its own");
}
