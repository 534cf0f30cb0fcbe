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

/// The thread count once it has settled at `expected`, or the last one seen: a joined thread
/// can still be listed for a moment while the kernel releases it (no signal marks that), so
/// the count is read again, a bounded number of times.
fn settled_threads(expected: usize) -> Vec<String> {
    let mut seen = threads();
    for _ in 0..2000 {
        if seen.len() == expected {
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
        scope.spawn(|| {
            auth.access_token().unwrap();
            assert_eq!(auth.send(client.get(url)).unwrap().status(), 200);
        });
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
    let before = settled_threads(threads().len());

    let client = Client::new();
    let authorizers: Vec<_> = (0..20).map(|_| authorizer(&server)).collect();
    for auth in &authorizers {
        use_it(auth, &client, &url);
    }
    assert_eq!(server.token_requests(), 21);
    drop(authorizers);
    drop(client);

    let after = settled_threads(before.len());
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
