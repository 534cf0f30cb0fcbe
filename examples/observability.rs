//! en-auth's metrics and spans, served to Prometheus: a service account's token requests,
//! renewals and failures (en-auth-core's `telemetry`, with the `metrics` feature) exported by
//! `metrics-exporter-prometheus` on `/metrics`, and the `en_auth.token_request` spans logged.
//!
//! ```text
//! cargo run --example observability            # serves http://127.0.0.1:9464/metrics for 60 s
//! cargo run --example observability -- 300     # for 300 s
//! METRICS_ADDR=0.0.0.0:9464 cargo run --example observability
//! curl -s http://127.0.0.1:9464/metrics | grep en_auth
//! ```
//!
//! Runs on loopback with no setup: an in-process OAuth2 token endpoint issues 5-second tokens,
//! and a `ServiceAccountAuthorizer` sends a request to the protected resource every 100 ms, so
//! that renewals (proactive), a rejected token (every 10 s the server revokes its tokens) and a
//! rejected client (every 10 s, a wrong secret) show in the metrics.

use std::net::SocketAddr;
use std::time::Duration;

use en_auth_oauth2::telemetry::TOKEN_REQUEST_DURATION;
use en_auth_oauth2::{reqwest_middleware, ClientInfo, Environment, ServiceAccountAuthorizer};
use en_auth_testkit::OAuthServer;
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};

/// Where `/metrics` is served unless `METRICS_ADDR` says otherwise (the port OpenTelemetry's
/// Prometheus exporter uses).
const DEFAULT_ADDR: &str = "127.0.0.1:9464";

/// The buckets of the token-request duration histogram, in seconds: token requests take
/// milliseconds on loopback and up to the timeout (10 s) times the attempts on a bad day.
const DURATION_BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0];

/// Installs the Prometheus recorder as the process's `metrics` recorder, with buckets for
/// the token-request histogram (rendered as a Prometheus histogram, not a summary).
///
/// # Errors
/// If a recorder is installed already.
fn install_recorder() -> Result<PrometheusHandle, BuildError> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(TOKEN_REQUEST_DURATION.to_owned()),
            &DURATION_BUCKETS,
        )?
        .install_recorder()?;
    // The exporter asks its owner to run its upkeep (draining histograms) now and then.
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(5));
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(handle)
}

/// Serves the Prometheus text format on `GET /metrics` from `listener`, until the task is
/// dropped.
async fn serve_metrics(listener: tokio::net::TcpListener, handle: PrometheusHandle) {
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let handle = handle.clone();
            async move {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    handle.render(),
                )
            }
        }),
    );
    if let Err(error) = axum::serve(listener, app).await {
        eprintln!("error: serving /metrics: {error}");
    }
}

/// A request to the protected resource through the authorizer; its status, or the error line.
async fn request(client: &reqwest_middleware::ClientWithMiddleware, url: &str) -> String {
    match client.get(url).send().await {
        Ok(response) => response.status().to_string(),
        Err(error) => match en_auth_oauth2::auth_error(&error) {
            Some(error) => format!("authorization failed: {error}"),
            None => format!("request failed: {error}"),
        },
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The token requests' spans and events, as log lines (`RUST_LOG=en_auth_core=debug` shows
    // the renewal triggers too).
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "en_auth_core=info".into()),
        )
        .init();
    let run_for = Duration::from_secs(match std::env::args().nth(1) {
        Some(secs) => secs.parse().map_err(|_| "usage: observability [SECONDS]")?,
        None => 60,
    });
    let addr: SocketAddr = std::env::var("METRICS_ADDR")
        .unwrap_or_else(|_| DEFAULT_ADDR.to_owned())
        .parse()?;

    let handle = install_recorder()?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("metrics: http://{}/metrics", listener.local_addr()?);
    tokio::spawn(serve_metrics(listener, handle));

    let server = OAuthServer::builder()
        .client("svc", "secret")
        .token_lifetime_secs(5)
        .start()
        .await;
    let environment = Environment::new("demo").with_token_url(&server.token_url())?;
    let authorizer =
        ServiceAccountAuthorizer::new(ClientInfo::new("svc", "secret"), environment.clone())?;
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(authorizer)
        .build();
    let impostor = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(ServiceAccountAuthorizer::new(
            ClientInfo::new("svc", "not-the-secret"),
            environment,
        )?)
        .build();

    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let deadline = tokio::time::Instant::now() + run_for;
    let mut n = 0_u64;
    while tokio::time::Instant::now() < deadline {
        tick.tick().await;
        n += 1;
        if n.is_multiple_of(100) {
            server.revoke_all();
            println!(
                "impostor: {}",
                request(&impostor, &server.resource_url()).await
            );
        }
        let status = request(&client, &server.resource_url()).await;
        if n.is_multiple_of(10) || status != "200 OK" {
            println!("request {n}: {status}");
        }
    }
    println!(
        "{n} requests, {} token requests at the endpoint",
        server.token_requests()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example's exporter, scraped over HTTP after a scripted run: every en-auth metric
    /// with its labels and exact value.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn prometheus_scrape_shows_the_token_metrics() {
        // The only test of this binary that installs the global recorder.
        let handle = install_recorder().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let metrics_url = format!("http://{}/metrics", listener.local_addr().unwrap());
        tokio::spawn(serve_metrics(listener, handle));

        let server = OAuthServer::builder().client("svc", "secret").start().await;
        let environment = Environment::new("scrape")
            .with_token_url(&server.token_url())
            .unwrap();
        let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
            .with(
                ServiceAccountAuthorizer::new(
                    ClientInfo::new("svc", "secret"),
                    environment.clone(),
                )
                .unwrap(),
            )
            .build();
        for _ in 0..3 {
            assert_eq!(request(&client, &server.resource_url()).await, "200 OK");
        }
        server.revoke_all();
        assert_eq!(request(&client, &server.resource_url()).await, "200 OK");
        let impostor = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
            .with(
                ServiceAccountAuthorizer::new(ClientInfo::new("svc", "wrong"), environment)
                    .unwrap(),
            )
            .build();
        assert!(request(&impostor, &server.resource_url())
            .await
            .starts_with("authorization failed"));
        assert_eq!(server.tokens_issued(), 2);

        let response = reqwest::get(&metrics_url).await.unwrap();
        assert_eq!(response.status(), 200);
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            content_type.starts_with("text/plain; version=0.0.4"),
            "{content_type}"
        );
        let text = response.text().await.unwrap();
        println!("{text}");
        let lines: Vec<&str> = text.lines().collect();
        for expected in [
            "# TYPE en_auth_token_requests_total counter",
            r#"en_auth_token_requests_total{flow="client_credentials",outcome="ok"} 2"#,
            r#"en_auth_token_requests_total{flow="client_credentials",outcome="error"} 1"#,
            "# TYPE en_auth_renewals_total counter",
            r#"en_auth_renewals_total{flow="client_credentials",trigger="initial"} 2"#,
            r#"en_auth_renewals_total{flow="client_credentials",trigger="rejected"} 1"#,
            "# TYPE en_auth_token_attempt_failures_total counter",
            r#"en_auth_token_attempt_failures_total{flow="client_credentials",error_type="invalid_client"} 1"#,
            "# TYPE en_auth_token_request_duration_seconds histogram",
            r#"en_auth_token_request_duration_seconds_bucket{flow="client_credentials",outcome="ok",le="+Inf"} 2"#,
            r#"en_auth_token_request_duration_seconds_count{flow="client_credentials",outcome="ok"} 2"#,
            r#"en_auth_token_request_duration_seconds_count{flow="client_credentials",outcome="error"} 1"#,
        ] {
            assert!(lines.contains(&expected), "{expected:?} not in\n{text}");
        }
        assert!(
            !text.contains("en_auth_store_"),
            "no store, no store metric: {text}"
        );
        // Every bucket of the histogram is there.
        let buckets = lines
            .iter()
            .filter(|l| {
                l.starts_with(r#"en_auth_token_request_duration_seconds_bucket{flow="client_credentials",outcome="ok""#)
            })
            .count();
        assert_eq!(buckets, DURATION_BUCKETS.len() + 1, "{text}");
    }
}
