//! Dropping blocking authorizers leaves no thread behind: the process has as many threads
//! after creating, using (from plain threads and from inside runtimes, sending requests) and
//! dropping 20 of them as before. Alone in its test binary, so that no other test's threads
//! are counted. Linux: threads counted in `/proc/self/task`.

#![cfg(target_os = "linux")]

use std::time::Duration;

use en_auth_oauth2::{
    BlockingAuthorizer, ClientCredentials, ClientInfo, Environment, ServiceAccountAuthorizer,
};
use en_auth_testkit::OAuthServer;
use reqwest::blocking::Client;

fn threads() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| {
            let path = task.ok()?.path().join("comm");
            Some(std::fs::read_to_string(path).ok()?.trim().to_owned())
        })
        .collect()
}

/// The threads that come and go while an authorizer is used: the scoped thread `use_it` runs
/// on, the one `send` uses inside a runtime (`en-auth-blocking-send`), and `reqwest::blocking`'s
/// client thread — as `comm` lists them, cut to 15 bytes.
const TRANSIENT: [&str; 3] = ["use-it", "en-auth-blockin", "reqwest-interna"];

fn transient(name: &str) -> bool {
    TRANSIENT.iter().any(|t| name.starts_with(t))
}

/// The threads once none of the transient ones is listed any more (or the last list seen): a
/// joined thread can still be listed for a moment while the kernel releases it (no signal
/// marks that), so the list is read again, a bounded number of times.
fn settled_threads() -> Vec<String> {
    let mut seen = threads();
    for _ in 0..2000 {
        if !seen.iter().any(|name| transient(name)) {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
        seen = threads();
    }
    seen
}

fn authorizer(server: &OAuthServer) -> BlockingAuthorizer<ClientCredentials> {
    let environment = Environment::new("test")
        .with_token_url(&server.token_url())
        .unwrap();
    ServiceAccountAuthorizer::new(ClientInfo::new("svc", "secret"), environment)
        .unwrap()
        .blocking()
}

/// Uses `auth` the ways a program would: a token and a request from a plain thread, the same
/// from inside a `current_thread` runtime (then shut down).
fn use_it(auth: &BlockingAuthorizer<ClientCredentials>, client: &Client, url: &str) {
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("use-it".into())
            .spawn_scoped(scope, || {
                auth.access_token().unwrap();
                assert_eq!(auth.send(client.get(url)).unwrap().status(), 200);
            })
            .unwrap();
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        auth.access_token().unwrap();
        assert_eq!(auth.send(client.get(url)).unwrap().status(), 200);
    });
}

#[test]
fn dropped_authorizers_leave_no_thread_behind() {
    let server = OAuthServer::builder()
        .client("svc", "secret")
        .start_on_own_thread();
    let url = server.resource_url();
    // Warm up what lives for the process (en-auth's I/O runtime) and the server's thread.
    {
        let client = Client::new();
        use_it(&authorizer(&server), &client, &url);
    }
    let before = settled_threads();

    let client = Client::new();
    let authorizers: Vec<_> = (0..20).map(|_| authorizer(&server)).collect();
    for auth in &authorizers {
        use_it(auth, &client, &url);
    }
    assert_eq!(server.token_requests(), 21);
    drop(authorizers);
    drop(client);

    let after = settled_threads();
    assert_eq!(
        after.len(),
        before.len(),
        "before: {before:?}, after: {after:?}"
    );
    assert!(
        !after
            .iter()
            .any(|name| name.starts_with("en-auth-blocking")),
        "{after:?}"
    );
}
