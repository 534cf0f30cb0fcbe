//! `token_response`: [`en_auth_oauth2::parse_token_response`] on arbitrary bytes.
//!
//! The body is read as the library documents: a JSON object (after an optional UTF-8
//! byte-order mark), or else a form-encoded body; this check decodes both independently (its
//! own form decoder). Properties: never panics; `Ok` only for a body that is a JSON object or
//! a form made of form characters alone (no whitespace, quote, brace or angle bracket: never
//! HTML) with an `access_token`; on `Ok` the access token is non-empty and is the body's
//! `access_token`, the token type is Bearer or DPoP (RFC 9449; any case), there is no `error` member, the
//! lifetime is `expires_in` (number, numeric string, or 300 s when absent/unusable) less one
//! second, clamped to [`MAX_LIFETIME`], `scope` is the body's (an array of strings joined with
//! spaces); renewal falls between receipt and expiry. On `Err`, an OAuth2 error (invalid
//! client, authorization) only comes from an `error` member or parameter, with its code.

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
    // An independent view of the body: the JSON object, or else the form's parameters (as
    // JSON strings). `None` also for bodies the lenient parser may still accept (an ignored
    // member holding a number out of f64's range, say).
    let unmarked = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let trimmed = trim_json_whitespace(unmarked);
    let looks_like_json = trimmed.first() == Some(&b'{');
    let object = if looks_like_json {
        serde_json::from_slice::<Value>(unmarked)
            .ok()
            .and_then(|v| match v {
                Value::Object(o) => Some(o),
                _ => None,
            })
    } else {
        form_parameters(trimmed)
    };
    match result {
        Ok(token) => {
            assert!(
                looks_like_json
                    || (object
                        .as_ref()
                        .is_some_and(|o| o.contains_key("access_token"))
                        && trimmed
                            .iter()
                            .all(|&b| { b.is_ascii_graphic() && !b"\"<>{}[]\\`^|#".contains(&b) })),
                "Ok for a body that is neither a JSON object nor a form token response"
            );
            let access = token.access_token().expose_secret();
            assert!(!access.is_empty(), "Ok with an empty access token");
            assert!(
                token.token_type().trim().eq_ignore_ascii_case("bearer")
                    || token.token_type().trim().eq_ignore_ascii_case("dpop"),
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
            let _ = token.needs_renewal();
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
                match object.get("scope") {
                    Some(Value::String(scope)) => assert_eq!(token.scope(), Some(scope.as_str())),
                    Some(Value::Array(items)) if items.iter().all(Value::is_string) => {
                        let joined = items
                            .iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(" ");
                        assert_eq!(token.scope(), Some(joined.as_str()), "a scope array");
                    }
                    None | Some(Value::Null) => assert_eq!(token.scope(), None),
                    Some(_) => {}
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
            let code = object
                .as_ref()
                .and_then(|o| match o.get("error") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(s)) => Some(s.clone()),
                    Some(other) => Some(other.to_string()),
                })
                // Errors carry the server's code with control, bidirectional-formatting,
                // line/paragraph-separator and byte-order-mark characters replaced (no forged log
                // lines, no Trojan Source), otherwise whole.
                .map(|c| {
                    c.chars()
                        .map(|ch| {
                            let unsafe_to_print = ch.is_control()
                                || matches!(
                                    ch,
                                    '\u{061c}'
                                        | '\u{200e}'
                                        | '\u{200f}'
                                        | '\u{2028}'
                                        | '\u{2029}'
                                        | '\u{202a}'..='\u{202e}'
                                        | '\u{2066}'..='\u{2069}'
                                        | '\u{feff}'
                                );
                            if unsafe_to_print {
                                ' '
                            } else {
                                ch
                            }
                        })
                        .collect::<String>()
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

/// JSON's whitespace (RFC 8259 §2) trimmed at both ends, as the library trims a body.
fn trim_json_whitespace(bytes: &[u8]) -> &[u8] {
    let ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    let start = bytes.iter().position(|b| !ws(b)).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|b| !ws(b)).map_or(start, |i| i + 1);
    &bytes[start..end]
}

/// The body as `application/x-www-form-urlencoded` (the URL Standard's parser, written out
/// here independently of the library's): `&`-separated, name and value split at the first `=`,
/// `+` a space, `%XX` a byte (any other `%` kept), UTF-8. A repeated name keeps its last value
/// (the library refuses a repeated token response member, so no `Ok` depends on it). `None` if
/// a name or value is not UTF-8.
fn form_parameters(body: &[u8]) -> Option<serde_json::Map<String, Value>> {
    fn hex(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    fn decode(raw: &[u8]) -> Option<String> {
        let mut out = Vec::with_capacity(raw.len());
        let mut i = 0;
        while i < raw.len() {
            match raw[i] {
                b'+' => out.push(b' '),
                b'%' => match (
                    raw.get(i + 1).copied().and_then(hex),
                    raw.get(i + 2).copied().and_then(hex),
                ) {
                    (Some(high), Some(low)) => {
                        out.push((high << 4) | low);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                },
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8(out).ok()
    }
    let mut parameters = serde_json::Map::new();
    for piece in body.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let (name, value) = match piece.iter().position(|&b| b == b'=') {
            Some(i) => (&piece[..i], &piece[i + 1..]),
            None => (piece, &[][..]),
        };
        parameters.insert(decode(name)?, Value::String(decode(value)?));
    }
    Some(parameters)
}
