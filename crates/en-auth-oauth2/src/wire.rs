//! The wire format of the token endpoint: a lenient token response (RFC 6749 §5.1) and the
//! mapping of error responses (§5.2) onto en-auth's errors.
//!
//! Servers in the wild send `expires_in` as a number, a numeric string, `null` or not at all,
//! and `token_type` in any case; some answer 200 with an `error` member. All of these are
//! accepted or reported precisely; none is a panic.

use std::fmt;
use std::time::{Duration, Instant};

use en_auth_core::{AuthorizationError, Error, InvalidClientError, InvalidResponseError, Token};
use oauth2::basic::BasicErrorResponseType;
use oauth2::{AccessToken, RefreshToken, Scope, StandardErrorResponse};
use serde::{Deserialize, Deserializer, Serialize};

/// The lifetime assumed when a token response has no usable `expires_in`: 300 seconds.
///
/// RFC 6749 §5.1 lets a server omit `expires_in`. Assuming a short lifetime costs one token
/// request every few minutes; assuming a long one risks requests failing with 401 until the
/// resource server rejects the token (after which the middleware renews it anyway).
pub const DEFAULT_EXPIRES_IN: Duration = Duration::from_secs(300);

/// A token response, parsed leniently. Only `access_token` is required, and even its absence is
/// reported by [`WireTokenResponse::into_token`] rather than by the parser.
#[derive(Deserialize, Serialize)]
pub(crate) struct WireTokenResponse {
    #[serde(default = "empty_access_token")]
    access_token: AccessToken,
    #[serde(default)]
    token_type: LenientTokenType,
    #[serde(default, deserialize_with = "lenient_seconds")]
    expires_in: ExpiresIn,
    #[serde(default, deserialize_with = "lenient_scope")]
    scope: Option<String>,
    #[serde(default)]
    refresh_token: Option<RefreshToken>,
    #[serde(default, deserialize_with = "lenient_string")]
    id_token: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    error: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    error_description: Option<String>,
}

fn empty_access_token() -> AccessToken {
    AccessToken::new(String::new())
}

/// `token_type` as sent, in any case; empty when absent.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct LenientTokenType(#[serde(deserialize_with = "lenient_string_or_empty")] String);

impl oauth2::TokenType for LenientTokenType {}

/// What `expires_in` said.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub(crate) enum ExpiresIn {
    /// Absent, `null`, or not a number.
    #[default]
    Unknown,
    /// A number of seconds (fractions dropped); negative values are kept to be reported.
    Seconds(i64),
}

fn lenient_seconds<'de, D: Deserializer<'de>>(d: D) -> Result<ExpiresIn, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    Ok(match value {
        serde_json::Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_u64().map(|u| i64::try_from(u).unwrap_or(i64::MAX)))
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(saturating_f64))
            .map_or(ExpiresIn::Unknown, ExpiresIn::Seconds),
        serde_json::Value::String(s) => s
            .trim()
            .parse::<i64>()
            .ok()
            .or_else(|| {
                s.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .map(saturating_f64)
            })
            .map_or(ExpiresIn::Unknown, ExpiresIn::Seconds),
        _ => ExpiresIn::Unknown,
    })
}

#[allow(clippy::cast_possible_truncation)]
fn saturating_f64(f: f64) -> i64 {
    // `as` saturates at the i64 bounds and truncates towards zero.
    f as i64
}

fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Null => None,
        other => Some(other.to_string()),
    })
}

/// `scope` as RFC 6749 §3.3 has it, space-delimited; a JSON array of strings (as some servers
/// send) is joined with spaces. Anything else is kept as its JSON text, as [`lenient_string`]
/// does.
fn lenient_scope<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Null => None,
        serde_json::Value::Array(items) if items.iter().all(serde_json::Value::is_string) => Some(
            items
                .iter()
                .filter_map(serde_json::Value::as_str)
                .collect::<Vec<_>>()
                .join(" "),
        ),
        other => Some(other.to_string()),
    })
}

fn lenient_string_or_empty<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    lenient_string(d).map(Option::unwrap_or_default)
}

impl oauth2::TokenResponse for WireTokenResponse {
    type TokenType = LenientTokenType;

    fn access_token(&self) -> &AccessToken {
        &self.access_token
    }

    fn token_type(&self) -> &LenientTokenType {
        &self.token_type
    }

    fn expires_in(&self) -> Option<Duration> {
        self.lifetime()
    }

    fn refresh_token(&self) -> Option<&RefreshToken> {
        self.refresh_token.as_ref()
    }

    fn scopes(&self) -> Option<&Vec<Scope>> {
        None
    }
}

impl fmt::Debug for WireTokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WireTokenResponse")
            .field("access_token", &"[REDACTED]")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl WireTokenResponse {
    /// The lifetime the server gave: `expires_in` seconds (negative means already expired), or
    /// [`DEFAULT_EXPIRES_IN`] when unknown.
    fn lifetime(&self) -> Option<Duration> {
        Some(match self.expires_in {
            ExpiresIn::Unknown => DEFAULT_EXPIRES_IN,
            ExpiresIn::Seconds(s) => Duration::from_secs(u64::try_from(s).unwrap_or(0)),
        })
    }

    /// Checks the response and turns it into a [`Token`] whose life counts from `requested_at`
    /// (see [`Token::from_expires_in`]). `status` is the response's (a 2xx), for errors.
    ///
    /// # Errors
    /// An `error` member → as an error response; no or an empty `access_token`, or a token type
    /// other than `Bearer` → [`Error::InvalidResponse`].
    pub(crate) fn into_token(
        self,
        endpoint: &str,
        client_id: &str,
        status: u16,
        requested_at: Instant,
    ) -> Result<Token, Error> {
        if let Some(code) = &self.error {
            return Err(map_error_code(
                endpoint,
                client_id,
                status,
                code,
                self.error_description.as_deref(),
            ));
        }
        if self.access_token.secret().is_empty() {
            return Err(InvalidResponseError::new(
                endpoint,
                Some(status),
                "the response has no access_token",
            )
            .into());
        }
        let token_type = self.token_type.0.trim();
        if !token_type.is_empty()
            && !token_type.eq_ignore_ascii_case("bearer")
            && !token_type.eq_ignore_ascii_case("dpop")
        {
            return Err(InvalidResponseError::new(
                endpoint,
                Some(status),
                format!(
                    "unsupported token_type `{}` (only Bearer tokens, RFC 6750, and DPoP-bound \
                     tokens, RFC 9449, can be sent)",
                    printable(token_type, 32)
                ),
            )
            .into());
        }
        if let ExpiresIn::Seconds(s) = self.expires_in {
            if s < 0 {
                tracing::warn!(
                    expires_in = s,
                    "negative expires_in; treating the token as already expired"
                );
            }
        }
        let lifetime = self.lifetime().unwrap_or(DEFAULT_EXPIRES_IN);
        let mut token =
            Token::from_expires_in(self.access_token.into_secret(), lifetime, requested_at)
                .with_token_type(if token_type.is_empty() {
                    "Bearer"
                } else {
                    token_type
                });
        if let Some(scope) = self.scope {
            token = token.with_scope(scope);
        }
        if let Some(refresh) = self.refresh_token {
            token = token.with_refresh_token(refresh.into_secret());
        }
        if let Some(id) = self.id_token {
            token = token.with_id_token(id);
        }
        Ok(token)
    }
}

/// Maps a standard error response (RFC 6749 §5.2) to an error.
pub(crate) fn map_error_response(
    endpoint: &str,
    client_id: &str,
    status: u16,
    response: &StandardErrorResponse<BasicErrorResponseType>,
) -> Error {
    map_error_code(
        endpoint,
        client_id,
        status,
        response.error().as_ref(),
        response.error_description().map(String::as_str),
    )
}

/// `invalid_client` → [`Error::InvalidClient`]; any other code → [`Error::Authorization`] with
/// the status, the code and the description.
pub(crate) fn map_error_code(
    endpoint: &str,
    client_id: &str,
    status: u16,
    code: &str,
    description: Option<&str>,
) -> Error {
    // What the server wrote goes into errors and logs without control characters (no forged
    // log lines), and its description bounded. The code is kept whole: callers match on it.
    let code = &printable(code, usize::MAX);
    let description = description.map(|d| printable(d, 512));
    let description = description.as_deref();
    if code == "invalid_client" {
        let message = match description {
            Some(d) if !d.is_empty() => format!("invalid_client: {d}"),
            _ => "invalid_client".to_owned(),
        };
        return InvalidClientError::new(client_id, endpoint, message).into();
    }
    AuthorizationError::new(
        endpoint,
        status,
        Some(code.to_owned()),
        description.unwrap_or_default(),
    )
    .into()
}

pub(crate) use en_auth_core::printable;

/// Maps an error response whose body is not a standard error object: a JSON body with another
/// shape (such as `{"message": …}` or AWS's `{"__type": …}`), HTML, or nothing.
pub(crate) fn map_unstructured_error(
    endpoint: &str,
    client_id: &str,
    status: u16,
    body: &[u8],
) -> Error {
    let json = serde_json::from_slice::<serde_json::Value>(body).ok();
    let field = |name: &str| {
        json.as_ref()
            .and_then(|v| v.get(name))
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    let code = field("error").or_else(|| field("__type"));
    let message = field("error_description")
        .or_else(|| field("message"))
        .or_else(|| field("Message"));
    if let Some(code) = &code {
        return map_error_code(endpoint, client_id, status, code, message.as_deref());
    }
    if status == 401 {
        return InvalidClientError::new(
            client_id,
            endpoint,
            message.unwrap_or_else(|| "HTTP 401 without an OAuth2 error body".to_owned()),
        )
        .into();
    }
    if let Some(what) = wrong_url(status) {
        // Not the server refusing the request: nothing at this URL takes token requests. Not
        // retryable (a 4xx without a retryable code), and not the body's text.
        return AuthorizationError::new(
            endpoint,
            status,
            None,
            format!("{what}: the token URL is probably wrong"),
        )
        .into();
    }
    let message = message.unwrap_or_else(|| {
        if body.is_empty() {
            "empty response body".to_owned()
        } else if json.is_some() {
            format!("unexpected JSON error body ({} bytes)", body.len())
        } else {
            format!("non-JSON response body ({} bytes)", body.len())
        }
    });
    AuthorizationError::new(endpoint, status, None, message).into()
}

/// What a 404 or 405 from the token endpoint means: the URL names no token endpoint.
fn wrong_url(status: u16) -> Option<&'static str> {
    match status {
        404 => Some("not found"),
        405 => Some("POST not allowed"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn parse(json: &str) -> Result<Token, Error> {
        serde_json::from_str::<WireTokenResponse>(json)
            .expect("lenient parser accepts any JSON object")
            .into_token("https://t/token", "client", 200, Instant::now())
    }

    /// The lifetime the token is given: `expires_in` less the one-second resolution.
    fn lifetime(json: &str) -> Option<Duration> {
        parse(json)
            .unwrap()
            .lifetime()
            .map(|l| l + en_auth_core::EXPIRES_IN_RESOLUTION)
    }

    #[test]
    fn expires_in_in_every_shape() {
        let secs = |s| Some(Duration::from_secs(s));
        assert_eq!(
            lifetime(r#"{"access_token":"a","expires_in":3600}"#),
            secs(3600)
        );
        assert_eq!(
            lifetime(r#"{"access_token":"a","expires_in":"3600"}"#),
            secs(3600)
        );
        assert_eq!(
            lifetime(r#"{"access_token":"a","expires_in":" 60 "}"#),
            secs(60)
        );
        assert_eq!(
            lifetime(r#"{"access_token":"a","expires_in":59.9}"#),
            secs(59)
        );
        assert_eq!(
            lifetime(r#"{"access_token":"a","expires_in":"12.5"}"#),
            secs(12)
        );
        assert_eq!(
            lifetime(r#"{"access_token":"a","expires_in":null}"#),
            Some(DEFAULT_EXPIRES_IN)
        );
        assert_eq!(
            lifetime(r#"{"access_token":"a"}"#),
            Some(DEFAULT_EXPIRES_IN)
        );
        assert_eq!(
            lifetime(r#"{"access_token":"a","expires_in":"soon"}"#),
            Some(DEFAULT_EXPIRES_IN)
        );
        assert_eq!(
            lifetime(r#"{"access_token":"a","expires_in":true}"#),
            Some(DEFAULT_EXPIRES_IN)
        );
        assert_eq!(lifetime(r#"{"access_token":"a","expires_in":0}"#), secs(1));
        assert_eq!(lifetime(r#"{"access_token":"a","expires_in":-5}"#), secs(1));
        assert_eq!(
            lifetime(r#"{"access_token":"a","expires_in":1e300}"#),
            Some(en_auth_core::MAX_LIFETIME + en_auth_core::EXPIRES_IN_RESOLUTION)
        );
        assert_eq!(
            lifetime(r#"{"access_token":"a","expires_in":18446744073709551615}"#),
            Some(en_auth_core::MAX_LIFETIME + en_auth_core::EXPIRES_IN_RESOLUTION)
        );
    }

    #[test]
    fn token_type_in_any_case() {
        for t in ["Bearer", "bearer", "BEARER", ""] {
            let token = parse(&format!(r#"{{"access_token":"a","token_type":"{t}"}}"#)).unwrap();
            assert!(token.token_type().eq_ignore_ascii_case("bearer"));
        }
        assert!(parse(r#"{"access_token":"a","token_type":null}"#).is_ok());
        let err = parse(r#"{"access_token":"a","token_type":"mac"}"#).unwrap_err();
        assert!(matches!(err, Error::InvalidResponse(_)), "{err}");
        assert!(err.to_string().contains("mac"));
    }

    #[test]
    fn missing_or_empty_access_token_is_an_invalid_response() {
        for body in [
            r#"{"token_type":"bearer"}"#,
            r#"{"access_token":""}"#,
            r#"{"access_token":null}"#,
        ] {
            let parsed = serde_json::from_str::<WireTokenResponse>(body);
            let err = match parsed {
                Ok(r) => r.into_token("e", "c", 200, Instant::now()).unwrap_err(),
                Err(_) => continue, // null is not a string: the parser reports it (also an error)
            };
            assert!(matches!(err, Error::InvalidResponse(_)), "{body}: {err}");
        }
    }

    #[test]
    fn error_member_in_a_200_is_an_error() {
        let err =
            parse(r#"{"error":"invalid_client","error_description":"bad secret"}"#).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidClient(e) if e.client_id == "client" && e.message.contains("bad secret"))
        );
        let err = parse(r#"{"access_token":"a","error":"invalid_scope"}"#).unwrap_err();
        assert!(
            matches!(&err, Error::Authorization(e) if e.code.as_deref() == Some("invalid_scope") && e.status_code == 200)
        );
    }

    #[test]
    fn optional_fields_are_kept() {
        let t = parse(r#"{"access_token":"a","scope":"x y","refresh_token":"r","id_token":"i"}"#)
            .unwrap();
        assert_eq!(t.scope(), Some("x y"));
        assert_eq!(t.refresh_token().unwrap().expose_secret(), "r");
        assert_eq!(t.id_token().unwrap().expose_secret(), "i");
        assert_eq!(t.access_token().expose_secret(), "a");
    }

    #[test]
    fn a_scope_array_is_space_delimited() {
        let scope = |json: &str| parse(json).unwrap().scope().map(str::to_owned);
        assert_eq!(
            scope(r#"{"access_token":"a","scope":["openid","user:read:email"]}"#).as_deref(),
            Some("openid user:read:email")
        );
        assert_eq!(
            scope(r#"{"access_token":"a","scope":["x"]}"#).as_deref(),
            Some("x")
        );
        assert_eq!(
            scope(r#"{"access_token":"a","scope":[]}"#).as_deref(),
            Some("")
        );
        assert_eq!(scope(r#"{"access_token":"a","scope":null}"#), None);
        assert_eq!(scope(r#"{"access_token":"a"}"#), None);
        // Not an array of strings: kept as sent, as before.
        assert_eq!(
            scope(r#"{"access_token":"a","scope":["x",1]}"#).as_deref(),
            Some(r#"["x",1]"#)
        );
        assert_eq!(
            scope(r#"{"access_token":"a","scope":7}"#).as_deref(),
            Some("7")
        );
    }

    #[test]
    fn what_the_server_wrote_is_bounded_and_printable_in_errors() {
        let long = "x".repeat(5000);
        let e = map_error_code("e", "c", 400, "invalid_request\nFAKE LOG LINE", Some(&long));
        let text = e.to_string();
        assert!(!text.contains('\n'), "{text}");
        assert!(text.len() < 700, "{} bytes", text.len());
        let err = parse(r#"{"access_token":"a","token_type":"mac\nforged"}"#).unwrap_err();
        assert!(!err.to_string().contains('\n'), "{err}");
    }

    #[test]
    fn unstructured_errors() {
        let e = map_unstructured_error("e", "c", 502, b"<html>Bad gateway</html>");
        assert!(
            matches!(&e, Error::Authorization(a) if a.status_code == 502 && a.message.contains("non-JSON"))
        );
        assert!(e.is_retryable());
        let e = map_unstructured_error(
            "e",
            "c",
            400,
            br#"{"__type":"NotAuthorizedException","message":"nope"}"#,
        );
        assert!(
            matches!(&e, Error::Authorization(a) if a.code.as_deref() == Some("NotAuthorizedException") && a.message == "nope")
        );
        let e = map_unstructured_error("e", "c", 401, b"");
        assert!(matches!(&e, Error::InvalidClient(_)));
        for (status, body) in [
            (404_u16, &b""[..]),
            (404, b"<html>Not Found</html>"),
            (404, br#"{"message":"Not Found"}"#),
            (405, b""),
        ] {
            let e = map_unstructured_error("e", "c", status, body);
            assert!(
                matches!(&e, Error::Authorization(a) if a.status_code == status && a.code.is_none() && a.message.contains("token URL is probably wrong")),
                "{e:?}"
            );
            assert!(!e.is_retryable());
        }
        // A 404 with an OAuth2 error keeps it.
        let e = map_unstructured_error("e", "c", 404, br#"{"error":"invalid_request"}"#);
        assert!(
            matches!(&e, Error::Authorization(a) if a.code.as_deref() == Some("invalid_request"))
        );
        let e = map_unstructured_error("e", "c", 429, b"");
        assert!(matches!(&e, Error::Authorization(a) if a.message == "empty response body"));
        assert!(e.is_retryable());
    }
}
