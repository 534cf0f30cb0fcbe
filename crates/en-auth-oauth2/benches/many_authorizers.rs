//! Many authorizers in one process (a gateway acting for thousands of tenants): the cost of
//! building one (time, and resident memory), then every authorizer's first token at once, counting
//! failures and the TCP connections the token endpoint saw.
//!
//! `cargo bench -p en-auth-oauth2 --bench many_authorizers` runs 10 000 authorizers;
//! `cargo test` (no `--bench` argument) runs a quick 300 as a check. Prints one line per
//! figure; fails if any token request fails or the connections are not bounded by the
//! per-endpoint limit.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use en_auth_oauth2::{
    ClientInfo, Environment, ServiceAccountAuthorizer, MAX_CONNECTIONS_PER_ENDPOINT,
};
use en_auth_testkit::OAuthServer;

/// The process's resident memory, in bytes (Linux `/proc/self/statm`; 0 elsewhere).
fn resident_bytes() -> isize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|statm| statm.split_whitespace().nth(1)?.parse::<isize>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// A loopback TCP relay in front of `target` that counts the connections it accepts.
async fn counting_relay(target: std::net::SocketAddr) -> (std::net::SocketAddr, Arc<AtomicU64>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicU64::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    (address, accepted)
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let n: usize = if full { 10_000 } else { 300 };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let server = OAuthServer::builder().client("svc", "secret").start().await;
        let target: std::net::SocketAddr = server
            .base_url()
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .unwrap();
        let (relay, connections) = counting_relay(target).await;
        let environment = Environment::new("bench")
            .with_token_url(&format!("http://{relay}/oauth2/token"))
            .unwrap();
        // Warm the shared client and the environment's first clone out of the count.
        drop(ServiceAccountAuthorizer::new(ClientInfo::new("svc", "secret"), environment.clone()));

        let before = resident_bytes();
        let started = Instant::now();
        let authorizers: Vec<_> = (0..n)
            .map(|_| {
                ServiceAccountAuthorizer::new(
                    ClientInfo::new("svc", "secret"),
                    environment.clone(),
                )
                .unwrap()
            })
            .collect();
        let build = started.elapsed();
        let bytes = (resident_bytes() - before) as f64 / n as f64;
        println!(
            "many_authorizers: built {n} in {:.1} ms: {:.1} µs and {bytes:.0} bytes of resident memory each",
            build.as_secs_f64() * 1e3,
            build.as_secs_f64() * 1e6 / n as f64,
        );

        let started = Instant::now();
        let results =
            futures::future::join_all(authorizers.iter().map(|a| a.access_token())).await;
        let failures = results.iter().filter(|r| r.is_err()).count();
        let opened = connections.load(Ordering::Relaxed);
        println!(
            "many_authorizers: {n} first tokens in {:.0} ms: {failures} failed, {} token requests, {opened} connections (bound {MAX_CONNECTIONS_PER_ENDPOINT})",
            started.elapsed().as_secs_f64() * 1e3,
            server.token_requests(),
        );
        assert_eq!(failures, 0, "every authorizer gets its token");
        // A connection goes back to the pool a moment after its response has been read, so a
        // turn freed just then may open another: the count is of the order of the bound (and
        // does not grow with the number of authorizers), not exactly at most the bound.
        assert!(
            opened <= 2 * MAX_CONNECTIONS_PER_ENDPOINT as u64,
            "{opened} connections for {n} authorizers: not bounded by the per-endpoint limit"
        );
    });
}
