//! The stampede: how many token requests are made when 10 000 tasks meet an expired token at
//! once — the `ServiceAccountAuthorizer` beside the Python `en_auth` package's naive pattern ("check the token;
//! if it has expired, fetch a new one"). The token endpoint takes 200 ms to answer, as a real
//! one over a network does. A count, not a time:
//! `cargo bench -p en-auth-oauth2 --bench stampede`.

#![allow(missing_docs)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use en_auth_oauth2::{ClientInfo, Environment, RenewalPolicy, ServiceAccountAuthorizer, Token};
use en_auth_testkit::{Behaviour, OAuthServer};

const TASKS: usize = 10_000;
const LATENCY: Duration = Duration::from_millis(200);

/// The naive cache: a token behind a mutex; whoever finds it expired fetches a new one.
struct Naive {
    token: Mutex<Option<Token>>,
    http: reqwest::Client,
    token_url: String,
}

impl Naive {
    async fn access_token(&self) -> String {
        let cached = self.token.lock().unwrap().clone();
        match cached {
            Some(t) if !t.needs_renewal() => {
                secrecy::ExposeSecret::expose_secret(t.access_token()).to_owned()
            }
            _ => {
                let body = self
                    .http
                    .post(&self.token_url)
                    .basic_auth("svc", Some("secret"))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body("grant_type=client_credentials")
                    .send()
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap();
                let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
                let value = json["access_token"].as_str().unwrap().to_owned();
                *self.token.lock().unwrap() =
                    Some(Token::new(value.clone(), Some(Duration::from_secs(3600))));
                value
            }
        }
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // The authorizer: prime it, expire its token, then 10 000 tasks at once.
        let server = OAuthServer::builder().client("svc", "secret").start().await;
        server.set_behaviour(Behaviour::Delay(LATENCY));
        let environment = Environment::new("stampede")
            .with_token_url(&server.token_url())
            .unwrap();
        let auth = ServiceAccountAuthorizer::builder(ClientInfo::new("svc", "secret"), environment)
            .renewal_policy(RenewalPolicy::default().with_proactive_renewal(false))
            .build()
            .unwrap();
        let generation = auth.access_token().await.unwrap().generation();
        auth.invalidate(generation);
        let before = server.token_requests();
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let auth = auth.clone();
                tokio::spawn(async move { auth.access_token().await.map(|_| ()) })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let ours = server.token_requests() - before;

        // The naive pattern against a fresh server, starting from an expired token.
        let server = OAuthServer::builder().client("svc", "secret").start().await;
        server.set_behaviour(Behaviour::Delay(LATENCY));
        let naive = Arc::new(Naive {
            token: Mutex::new(Some(Token::new("expired", Some(Duration::ZERO)))),
            http: reqwest::Client::new(),
            token_url: server.token_url(),
        });
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let naive = Arc::clone(&naive);
                tokio::spawn(async move { naive.access_token().await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let theirs = server.token_requests();

        println!("stampede: {TASKS} tasks meet an expired token");
        println!("  en-auth Authorizer: {ours} token request(s)");
        println!("  naive pattern:      {theirs} token request(s)");
        assert_eq!(ours, 1, "single flight");
        assert!(theirs > 100, "the naive pattern stampedes");
    });
}
