//! `token_response`: [`en_auth_oauth2::parse_token_response`] on arbitrary bytes.
//!
//! Properties: never panics; on `Ok` the access token is non-empty and is the body's
//! `access_token`, the token type is Bearer (any case), there is no `error` member, and the
//! lifetime is `expires_in` (number, numeric string, or 300 s when absent/unusable) less one
//! second, clamped to [`MAX_LIFETIME`]; renewal falls between receipt and expiry. On `Err`,
//! an OAuth2 error (invalid client, authorization) only comes from an `error` member, with its
//! code.

use std::time::{Duration, Instant};

use en_auth_oauth2::core::{EXPIRES_IN_RESOLUTION, MAX_LIFETIME};
use en_auth_oauth2::secrecy::ExposeSecret;
use en_auth_oauth2::{parse_token_response, Error, DEFAULT_EXPIRES_IN};
use serde_json::Value;

const ENDPOINT: &str = "https://auth.example.com/oauth2/token";
const CLIENT_ID: &str = "fuzz-client";

/// Runs the target on one input; panics on a violated property.
pub fn check(body: &[u8]) {
    let requested_at = Instant::now();
    let result = parse_token_response(body, requested_at, ENDPOINT, CLIENT_ID);
    // An independent view of the body. `None` also for bodies the lenient parser may still
    // accept (an ignored member holding a number out of f64's range, say).
    let object = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| match v {
            Value::Object(o) => Some(o),
            _ => None,
        });
    match result {
        Ok(token) => {
            let access = token.access_token().expose_secret();
            assert!(!access.is_empty(), "Ok with an empty access token");
            assert!(
                token.token_type().trim().eq_ignore_ascii_case("bearer"),
                "Ok with token type {:?}",
                token.token_type()
            );
            let lifetime = token
                .lifetime()
                .expect("a parsed token response always has a lifetime");
            assert!(
                lifetime <= MAX_LIFETIME,
                "lifetime {lifetime:?} > MAX_LIFETIME"
            );
            assert_eq!(token.received(), requested_at);
            let renew = token.renew_at().expect("renew_at with a lifetime");
            let expires = token.expires_at().expect("expires_at with a lifetime");
            assert!(
                requested_at <= renew && renew <= expires,
                "renewal outside the lifetime"
            );
            let _ = token.is_expired();
            let _ = format!("{token:?}");
            if let Some(object) = object {
                assert_eq!(
                    object.get("access_token").and_then(Value::as_str),
                    Some(access),
                    "the token is not the body's access_token"
                );
                assert!(
                    matches!(object.get("error"), None | Some(Value::Null)),
                    "Ok for a body with an error member"
                );
                assert_eq!(
                    lifetime,
                    expected_lifetime(object.get("expires_in")),
                    "lifetime for expires_in {:?}",
                    object.get("expires_in")
                );
                if let Some(Value::String(scope)) = object.get("scope") {
                    assert_eq!(token.scope(), Some(scope.as_str()));
                }
                if let Some(Value::String(refresh)) = object.get("refresh_token") {
                    let got = token.refresh_token().map(|r| r.expose_secret().to_owned());
                    assert_eq!(got.as_deref(), Some(refresh.as_str()));
                }
            }
        }
        Err(e) => {
            let _ = e.to_string();
            let _ = format!("{e:?}");
            let code = object.as_ref().and_then(|o| match o.get("error") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(other) => Some(other.to_string()),
            });
            match &e {
                Error::InvalidResponse(_) => {}
                Error::InvalidClient(c) => {
                    assert_eq!(c.client_id, CLIENT_ID);
                    if object.is_some() {
                        assert_eq!(code.as_deref(), Some("invalid_client"), "{e}");
                    }
                }
                Error::Authorization(a) => {
                    assert_eq!(a.status_code, 200);
                    if object.is_some() {
                        assert!(
                            code.is_some(),
                            "an Authorization error without an error member"
                        );
                        assert_eq!(a.code, code, "{e}");
                    }
                }
                other => panic!("unexpected error kind: {other:?}"),
            }
        }
    }
}

/// `expires_in` as the documentation describes it: a number or a numeric string of seconds
/// (fractions dropped, saturating), anything else 300 s; negative means 0; less one second of
/// resolution; at most [`MAX_LIFETIME`].
fn expected_lifetime(expires_in: Option<&Value>) -> Duration {
    fn from_f64(f: f64) -> Option<i64> {
        // `as` saturates and truncates towards zero, which is what "fractions dropped" means.
        f.is_finite().then_some(f as i64)
    }
    let seconds: Option<i64> = match expires_in {
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_u64().map(|_| i64::MAX))
            .or_else(|| n.as_f64().and_then(from_f64)),
        Some(Value::String(s)) => {
            let s = s.trim();
            s.parse::<i64>()
                .ok()
                .or_else(|| s.parse::<f64>().ok().and_then(from_f64))
        }
        _ => None,
    };
    let given = match seconds {
        Some(s) => Duration::from_secs(u64::try_from(s).unwrap_or(0)),
        None => DEFAULT_EXPIRES_IN,
    };
    given
        .saturating_sub(EXPIRES_IN_RESOLUTION)
        .min(MAX_LIFETIME)
}
