//! One member of a fleet: a `ServiceAccountAuthorizer` behind `reqwest-middleware`, optionally
//! sharing its tokens through a `RedisStore`, with `FLEET_TASKS` tasks calling the protected
//! resource for `FLEET_SECONDS`, each pausing about `FLEET_PACE_MS` between requests.
//!
//! Configured by environment variables (the fleet tests set them):
//!
//! | variable | meaning |
//! | --- | --- |
//! | `FLEET_TOKEN_URL` | the token endpoint (required) |
//! | `FLEET_RESOURCE_URL` | the protected resource (required) |
//! | `FLEET_CLIENT_ID`, `FLEET_CLIENT_SECRET` | the client (default `svc` / `secret`) |
//! | `FLEET_SCOPES` | space-separated scopes (default none) |
//! | `FLEET_REDIS_URL` | the shared store; unset: no store (every process renews its own) |
//! | `FLEET_CACHE_KEY` | the store's encryption key, base64 of 32 bytes |
//! | `FLEET_STORE_TIMEOUT_MS`, `FLEET_BREAKER_COOLDOWN_MS`, `FLEET_LOCK_WAIT_MS` | `SharedStoreSettings` (default: its defaults) |
//! | `FLEET_REDIS_RESPONSE_TIMEOUT_MS` | Redis's own response timeout (default `RedisStore`'s) |
//! | `FLEET_SECONDS` | how long to run (default 30) |
//! | `FLEET_UNTIL_STDIN_CLOSES` | `1`: also stop when standard input closes (a test ends the run when what it measures is done; `FLEET_SECONDS` then caps it) |
//! | `FLEET_TASKS` | concurrent tasks (default 200) |
//! | `FLEET_PACE_MS` | the mean pause between a task's requests (default 1000; ±50 % at random) |
//! | `FLEET_LOG` | a `tracing` filter (`warn`, `en_auth_core=debug`): events go to stderr |
//! | `FLEET_WARMUP_SECS` | requests started earlier are not in the latency figures (default 3: 16 processes starting at once on a small CI machine) |
//!
//! Prints `{"ready":true}` after its first successful request, then at the end one JSON line:
//! `requests`, `failures`, `max_latency_ms` and `p99_latency_ms` (after the warm-up), `final_token` (a SHA-256 prefix
//! of the token it holds at the end, never the token), and `errors` (the first few failures).

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use en_auth_oauth2::secrecy::ExposeSecret;
use en_auth_oauth2::{ClientInfo, Environment, ServiceAccountAuthorizer};
use sha2::{Digest, Sha256};

mod store;

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn number(name: &str, default: f64) -> f64 {
    var(name).map_or(default, |v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{name} is not a number: {v}"))
    })
}

#[derive(Default)]
struct Stats {
    requests: AtomicU64,
    failures: AtomicU64,
    latencies_us: Mutex<Vec<u64>>,
    errors: Mutex<Vec<String>>,
    ready: AtomicBool,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if let Some(filter) = var("FLEET_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .init();
    }
    let token_url = var("FLEET_TOKEN_URL").expect("FLEET_TOKEN_URL");
    let resource_url = var("FLEET_RESOURCE_URL").expect("FLEET_RESOURCE_URL");
    let client_id = var("FLEET_CLIENT_ID").unwrap_or_else(|| "svc".into());
    let secret = var("FLEET_CLIENT_SECRET").unwrap_or_else(|| "secret".into());
    let seconds = number("FLEET_SECONDS", 30.0);
    let tasks = number("FLEET_TASKS", 200.0) as usize;
    let pace = Duration::from_secs_f64(number("FLEET_PACE_MS", 1000.0) / 1000.0);
    let warmup = Duration::from_secs_f64(number("FLEET_WARMUP_SECS", 3.0));

    let mut environment = Environment::new("fleet")
        .with_token_url(&token_url)
        .expect("a token URL");
    if let Some(scopes) = var("FLEET_SCOPES") {
        environment = environment.with_scopes(scopes.split(' ').map(str::to_owned));
    }
    let builder =
        ServiceAccountAuthorizer::builder(ClientInfo::new(client_id, secret), environment);
    let authorizer = store::configure(builder).build().expect("an authorizer");
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(authorizer.clone())
        .build();

    let stats = Arc::new(Stats::default());
    let stop = Arc::new(AtomicBool::new(false));
    if var("FLEET_UNTIL_STDIN_CLOSES").as_deref() == Some("1") {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
            stop.store(true, Ordering::SeqCst);
        });
    }
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    let mut handles = Vec::with_capacity(tasks);
    for _ in 0..tasks {
        let client = client.clone();
        let url = resource_url.clone();
        let stats = stats.clone();
        let stop = stop.clone();
        handles.push(tokio::spawn(async move {
            // Spread the tasks' first requests over one pace.
            tokio::time::sleep(pace.mul_f64(fastrand::f64())).await;
            while Instant::now() < deadline && !stop.load(Ordering::SeqCst) {
                let start = Instant::now();
                let outcome = client.get(&url).send().await;
                let elapsed = start.elapsed();
                stats.requests.fetch_add(1, Ordering::Relaxed);
                if start >= started + warmup {
                    stats
                        .latencies_us
                        .lock()
                        .unwrap()
                        .push(elapsed.as_micros() as u64);
                }
                let failure = match outcome {
                    Ok(response) if response.status().is_success() => None,
                    Ok(response) => Some(format!("status {}", response.status())),
                    Err(e) => Some(format!("error: {e}")),
                };
                match failure {
                    None => {
                        if !stats.ready.swap(true, Ordering::SeqCst) {
                            println!("{{\"ready\":true}}");
                            let _ = std::io::stdout().flush();
                        }
                    }
                    Some(what) => {
                        stats.failures.fetch_add(1, Ordering::Relaxed);
                        let mut errors = stats.errors.lock().unwrap();
                        if errors.len() < 5 {
                            errors.push(what);
                        }
                    }
                }
                tokio::time::sleep(pace.mul_f64(0.5 + fastrand::f64())).await;
            }
        }));
    }
    for handle in handles {
        handle.await.expect("a fleet task");
    }

    let final_token = match authorizer.access_token().await {
        Ok(token) => {
            let digest = Sha256::digest(token.secret().expose_secret().as_bytes());
            digest[..8].iter().map(|b| format!("{b:02x}")).collect()
        }
        Err(_) => String::new(),
    };
    let mut latencies = std::mem::take(&mut *stats.latencies_us.lock().unwrap());
    latencies.sort_unstable();
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0) as f64
            / 1000.0
    };
    let report = serde_json::json!({
        "requests": stats.requests.load(Ordering::SeqCst),
        "failures": stats.failures.load(Ordering::SeqCst),
        "max_latency_ms": latencies.last().copied().unwrap_or(0) as f64 / 1000.0,
        "p99_latency_ms": at(0.99),
        "final_token": final_token,
        "errors": *stats.errors.lock().unwrap(),
    });
    println!("{report}");
}
