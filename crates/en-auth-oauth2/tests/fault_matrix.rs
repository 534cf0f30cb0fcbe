//! The fault matrix of the client-credentials flow: a scripted token endpoint
//! (`en_auth_testkit::FaultyEndpoint`) answers badly in every way we know of; each case asserts
//! the outcome (a typed error or a token), the number of upstream requests, and — by running
//! under a deadline — that nothing hangs. TESTING.md lists the cases.

use std::time::Duration;

use en_auth_oauth2::{
    ClientInfo, Environment, Error, RenewalPolicy, ServiceAccountAuthorizer, TransportErrorKind,
};
use en_auth_testkit::{FaultyEndpoint, Reply};
use secrecy::ExposeSecret;

/// What a case must end with.
enum Expect {
    /// A token with this value and lifetime in seconds (after the one-second resolution).
    Token(&'static str, u64),
    /// An error matching the predicate.
    Error(fn(&Error) -> bool),
}

struct Case {
    name: &'static str,
    replies: Vec<Reply>,
    expect: Expect,
    /// Upstream token requests made.
    requests: u64,
}

fn policy() -> RenewalPolicy {
    RenewalPolicy::default()
        .with_max_attempts(3)
        .with_backoff(Duration::from_millis(5), Duration::from_millis(20))
        .with_max_retry_after(Duration::from_secs(2))
        .with_failure_cooldown(Duration::ZERO, Duration::ZERO)
}

async fn authorizer(endpoint: &FaultyEndpoint) -> ServiceAccountAuthorizer {
    let environment = Environment::new("faults")
        .with_token_url(&endpoint.url())
        .unwrap();
    ServiceAccountAuthorizer::builder(ClientInfo::new("client", "secret"), environment)
        .timeout(Duration::from_secs(1))
        .renewal_policy(policy())
        .build()
        .unwrap()
}

fn json(status: u16, body: &str) -> Reply {
    Reply::json(status, body)
}

fn status(code: u16) -> impl Fn(&Error) -> bool {
    move |e| matches!(e, Error::Authorization(a) if a.status_code == code)
}

fn cases() -> Vec<Case> {
    let html = || Reply::with_type(502, "text/html", "<html><body>Bad gateway</body></html>");
    let unavailable = || json(503, r#"{"error":"temporarily_unavailable"}"#);
    vec![
        Case {
            name: "500 then recovers",
            replies: vec![json(500, "{}")],
            expect: Expect::Token("token-1", 3599),
            requests: 2,
        },
        Case {
            name: "502 HTML then recovers",
            replies: vec![html()],
            expect: Expect::Token("token-1", 3599),
            requests: 2,
        },
        Case {
            name: "503 twice then recovers",
            replies: vec![unavailable(), unavailable()],
            expect: Expect::Token("token-1", 3599),
            requests: 3,
        },
        Case {
            name: "503 three times: the error",
            replies: vec![unavailable(), unavailable(), unavailable()],
            expect: Expect::Error(|e| status(503)(e) && e.is_retryable()),
            requests: 3,
        },
        Case {
            name: "500 three times, HTML",
            replies: vec![
                html(),
                html(),
                Reply::with_type(500, "text/html", "<h1>oops</h1>"),
            ],
            expect: Expect::Error(|e| status(500)(e)),
            requests: 3,
        },
        Case {
            name: "429 without Retry-After",
            replies: vec![json(429, r#"{"error":"slow_down"}"#)],
            expect: Expect::Token("token-1", 3599),
            requests: 2,
        },
        Case {
            name: "429 with Retry-After: 1",
            replies: vec![json(429, "{}").header("Retry-After", "1")],
            expect: Expect::Token("token-1", 3599),
            requests: 2,
        },
        Case {
            name: "429 with Retry-After over the cap",
            replies: vec![json(429, "{}").header("Retry-After", "3600")],
            expect: Expect::Error(|e| {
                status(429)(e) && e.retry_after() == Some(Duration::from_secs(3600))
            }),
            requests: 1,
        },
        Case {
            name: "500 with an empty body",
            replies: vec![Reply::with_type(500, "text/plain", ""); 3],
            expect: Expect::Error(
                |e| matches!(e, Error::Authorization(a) if a.message.contains("empty")),
            ),
            requests: 3,
        },
        Case {
            name: "accepted, then silent",
            replies: vec![Reply::Silent; 3],
            expect: Expect::Error(
                |e| matches!(e, Error::Transport(t) if t.kind == TransportErrorKind::Timeout),
            ),
            requests: 3,
        },
        Case {
            name: "silent once, then recovers",
            replies: vec![Reply::Silent],
            expect: Expect::Token("token-1", 3599),
            requests: 2,
        },
        Case {
            name: "a body that trickles past the timeout",
            replies: vec![
                Reply::Trickle {
                    body: br#"{"access_token":"slow","expires_in":60}"#.to_vec(),
                    chunk: 2,
                    interval: Duration::from_millis(100)
                };
                3
            ],
            expect: Expect::Error(
                |e| matches!(e, Error::Transport(t) if t.kind == TransportErrorKind::Timeout),
            ),
            requests: 3,
        },
        Case {
            name: "connection closed without an answer",
            replies: vec![Reply::Close; 3],
            expect: Expect::Error(|e| matches!(e, Error::Transport(_))),
            requests: 3,
        },
        Case {
            name: "200 with an empty body",
            replies: vec![Reply::with_type(200, "application/json", "")],
            expect: Expect::Error(|e| matches!(e, Error::InvalidResponse(_))),
            requests: 1,
        },
        Case {
            name: "200 with truncated JSON",
            replies: vec![json(200, r#"{"access_token":"abc","expires_in":36"#)],
            expect: Expect::Error(|e| matches!(e, Error::InvalidResponse(_))),
            requests: 1,
        },
        Case {
            name: "200 with an HTML page",
            replies: vec![Reply::with_type(200, "text/html", "<html>login</html>")],
            expect: Expect::Error(|e| matches!(e, Error::InvalidResponse(_))),
            requests: 1,
        },
        Case {
            name: "200 with a JSON array",
            replies: vec![json(200, "[1,2,3]")],
            expect: Expect::Error(|e| matches!(e, Error::InvalidResponse(_))),
            requests: 1,
        },
        Case {
            name: "a 10 MiB body (Content-Length)",
            replies: vec![Reply::with_type(
                200,
                "application/json",
                " ".repeat(10 << 20),
            )],
            expect: Expect::Error(
                |e| matches!(e, Error::InvalidResponse(r) if r.reason.contains("cap")),
            ),
            requests: 1,
        },
        Case {
            name: "a 10 MiB body (chunked)",
            replies: vec![Reply::Endless { len: 10 << 20 }],
            expect: Expect::Error(
                |e| matches!(e, Error::InvalidResponse(r) if r.reason.contains("cap")),
            ),
            requests: 1,
        },
        Case {
            name: "no access_token",
            replies: vec![json(200, r#"{"token_type":"Bearer","expires_in":60}"#)],
            expect: Expect::Error(
                |e| matches!(e, Error::InvalidResponse(r) if r.reason.contains("access_token")),
            ),
            requests: 1,
        },
        Case {
            name: "access_token not a string",
            replies: vec![json(200, r#"{"access_token":42}"#)],
            expect: Expect::Error(|e| matches!(e, Error::InvalidResponse(_))),
            requests: 1,
        },
        Case {
            name: "access_token with a newline",
            replies: vec![json(200, r#"{"access_token":"a\nb"}"#)],
            expect: Expect::Error(
                |e| matches!(e, Error::InvalidResponse(r) if r.reason.contains("header")),
            ),
            requests: 1,
        },
        Case {
            name: "expires_in 0",
            replies: vec![Reply::token("zero", "0")],
            expect: Expect::Token("zero", 0),
            requests: 1,
        },
        Case {
            name: "expires_in negative",
            replies: vec![Reply::token("neg", "-100")],
            expect: Expect::Token("neg", 0),
            requests: 1,
        },
        Case {
            name: "expires_in huge",
            replies: vec![Reply::token("huge", "99999999999999999999")],
            expect: Expect::Token("huge", 365 * 24 * 3600),
            requests: 1,
        },
        Case {
            name: "expires_in a numeric string",
            replies: vec![Reply::token("str", "\"120\"")],
            expect: Expect::Token("str", 119),
            requests: 1,
        },
        Case {
            name: "expires_in a non-numeric string",
            replies: vec![Reply::token("nan", "\"soon\"")],
            expect: Expect::Token("nan", 299),
            requests: 1,
        },
        Case {
            name: "expires_in null",
            replies: vec![Reply::token("null", "null")],
            expect: Expect::Token("null", 299),
            requests: 1,
        },
        Case {
            name: "expires_in fractional",
            replies: vec![Reply::token("frac", "60.9")],
            expect: Expect::Token("frac", 59),
            requests: 1,
        },
        Case {
            name: "unknown token_type",
            replies: vec![json(200, r#"{"access_token":"m","token_type":"mac"}"#)],
            expect: Expect::Error(
                |e| matches!(e, Error::InvalidResponse(r) if r.reason.contains("mac")),
            ),
            requests: 1,
        },
        Case {
            name: "token_type in lower case",
            replies: vec![json(
                200,
                r#"{"access_token":"low","token_type":"bearer","expires_in":60}"#,
            )],
            expect: Expect::Token("low", 59),
            requests: 1,
        },
        Case {
            name: "an error member in a 200",
            replies: vec![json(
                200,
                r#"{"error":"invalid_scope","error_description":"no"}"#,
            )],
            expect: Expect::Error(
                |e| matches!(e, Error::Authorization(a) if a.code.as_deref() == Some("invalid_scope")),
            ),
            requests: 1,
        },
        Case {
            name: "invalid_client with 401",
            replies: vec![json(401, r#"{"error":"invalid_client"}"#)],
            expect: Expect::Error(
                |e| matches!(e, Error::InvalidClient(c) if c.client_id == "client"),
            ),
            requests: 1,
        },
        Case {
            name: "invalid_client with 400",
            replies: vec![json(
                400,
                r#"{"error":"invalid_client","error_description":"Invalid client credentials."}"#,
            )],
            expect: Expect::Error(|e| matches!(e, Error::InvalidClient(_))),
            requests: 1,
        },
        Case {
            name: "401 without a body",
            replies: vec![Reply::with_type(401, "text/plain", "")],
            expect: Expect::Error(|e| matches!(e, Error::InvalidClient(_))),
            requests: 1,
        },
        Case {
            name: "invalid_scope",
            replies: vec![json(400, r#"{"error":"invalid_scope"}"#)],
            expect: Expect::Error(|e| {
                matches!(e, Error::Authorization(a) if a.status_code == 400) && !e.is_retryable()
            }),
            requests: 1,
        },
        Case {
            name: "a redirect is not followed",
            replies: vec![Reply::with_type(302, "text/html", "moved")
                .header("Location", "http://127.0.0.1:1/elsewhere")],
            expect: Expect::Error(|e| status(302)(e)),
            requests: 1,
        },
        Case {
            name: "temporarily_unavailable in a 400",
            replies: vec![json(400, r#"{"error":"temporarily_unavailable"}"#)],
            expect: Expect::Token("token-1", 3599),
            requests: 2,
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_ends_in_a_typed_error_or_a_token_and_nothing_hangs() {
    let cases = cases();
    // Rows 1–38 of TESTING.md's fault matrix, each once (39 onwards are the tests below and
    // en-auth-core's).
    assert_eq!(cases.len(), 38, "TESTING.md's OAuth2 rows 1–38");
    let names: std::collections::HashSet<_> = cases.iter().map(|c| c.name).collect();
    assert_eq!(names.len(), cases.len(), "a case listed twice");
    let mut failures = Vec::new();
    for case in cases {
        let endpoint = FaultyEndpoint::start().await;
        endpoint.push(case.replies);
        let auth = authorizer(&endpoint).await;
        let outcome = tokio::time::timeout(Duration::from_secs(20), auth.access_token())
            .await
            .map(|r| r.map(|t| (t.secret().expose_secret().to_owned(), t.lifetime())));
        let verdict = match (&outcome, &case.expect) {
            (Err(_), _) => Some("hung: no outcome within 20 s".to_owned()),
            (Ok(Ok((token, lifetime))), Expect::Token(want, secs)) => (token != want
                || *lifetime != Some(Duration::from_secs(*secs)))
            .then(|| format!("got token {token} living {lifetime:?}, want {want} living {secs} s")),
            (Ok(Err(e)), Expect::Error(check)) => {
                (!check(e)).then(|| format!("unexpected error: {e:?}"))
            }
            (Ok(Ok((token, _))), Expect::Error(_)) => {
                Some(format!("expected an error, got token {token}"))
            }
            (Ok(Err(e)), Expect::Token(..)) => Some(format!("expected a token, got {e:?}")),
        };
        let requests = endpoint.requests();
        if let Some(v) = verdict {
            failures.push(format!("{}: {v}", case.name));
        } else if requests != case.requests {
            failures.push(format!(
                "{}: {requests} upstream requests, expected {}",
                case.name, case.requests
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn a_closed_port_is_a_connect_error_retried_then_reported() {
    let port = en_auth_peers::support::closed_port();
    let environment = Environment::new("closed")
        .with_token_url(&format!("http://127.0.0.1:{port}/token"))
        .unwrap();
    let auth = ServiceAccountAuthorizer::builder(ClientInfo::new("c", "s"), environment)
        .renewal_policy(policy())
        .build()
        .unwrap();
    let err = auth.access_token().await.unwrap_err();
    assert!(
        matches!(&err, Error::Transport(t) if t.kind == TransportErrorKind::Connect),
        "{err:?}"
    );
    assert_eq!(auth.token_requests(), 3, "retried");
}

#[tokio::test]
async fn expires_in_zero_costs_one_token_request_per_request() {
    let endpoint = FaultyEndpoint::start().await;
    endpoint.set_fallback(Reply::token("short", "0"));
    let auth = authorizer(&endpoint).await;
    for n in 1..=5 {
        assert_eq!(
            auth.access_token().await.unwrap().secret().expose_secret(),
            "short"
        );
        assert_eq!(endpoint.requests(), n);
    }
}
