//! The token endpoint's answer, parsed outside an authorizer: for custom providers, tests and
//! fuzzing. The authorizer reads answers with the same code.

use en_auth_core::{Error, InvalidResponseError, Token};

use crate::{normalize, wire};

/// Parses a token endpoint's successful response body (RFC 6749 §5.1) with the authorizer's
/// parser: `access_token` required, `expires_in` as a number, a numeric string, `null` or absent
/// ([`DEFAULT_EXPIRES_IN`](crate::DEFAULT_EXPIRES_IN)), `token_type` Bearer in any case, `scope` a string or an array of
/// strings (joined with spaces), an `error` member treated as an error (§5.2). The token's life
/// counts from `requested_at` (see [`Token::from_expires_in`]). `endpoint` and `client_id` only
/// name things in errors.
///
/// The body is recognised by its shape, as the authorizer recognises it whatever the
/// `Content-Type`: a JSON object (after an optional UTF-8 byte-order mark), or a form-encoded
/// body (`access_token=…&token_type=bearer`, as GitHub answers) with an `access_token` or an
/// `error` parameter, made only of the characters a form encoder emits. Form values are strings,
/// read as the same strings in JSON would be. When the response's `Content-Type` is at hand,
/// [`parse_token_response_with_content_type`] also accepts a body labelled
/// `application/x-www-form-urlencoded` that holds unencoded characters (spaces, say).
///
/// ```
/// use std::time::Instant;
///
/// let token = en_auth_oauth2::parse_token_response(
///     br#"{"access_token":"abc","token_type":"bearer","expires_in":"3600"}"#,
///     Instant::now(),
///     "https://auth.example.com/token",
///     "client",
/// )?;
/// assert_eq!(token.lifetime().unwrap().as_secs(), 3599);
///
/// let token = en_auth_oauth2::parse_token_response(
///     b"access_token=abc&token_type=bearer&expires_in=3600&scope=",
///     Instant::now(),
///     "https://github.com/login/oauth/access_token",
///     "client",
/// )?;
/// assert_eq!(token.scope(), Some(""));
/// # Ok::<(), en_auth_oauth2::Error>(())
/// ```
///
/// # Errors
/// [`Error::InvalidResponse`] for a body that is neither (HTML, truncated JSON, a JSON array)
/// or has no usable token — its reason says which, never quoting the body;
/// [`Error::InvalidClient`] / [`Error::Authorization`] (status 200) for an `error` member or
/// parameter.
pub fn parse_token_response(
    body: &[u8],
    requested_at: std::time::Instant,
    endpoint: &str,
    client_id: &str,
) -> Result<Token, Error> {
    parse(body, None, requested_at, endpoint, client_id)
}

/// [`parse_token_response`], given also the response's `Content-Type` value (`None` if it had
/// none). The content type never decides against a body (JSON is JSON under any label, which is
/// what servers get wrong), but `application/x-www-form-urlencoded` lets a form-encoded body be
/// read leniently (unencoded spaces and other characters a form encoder would have escaped),
/// and errors name the content type.
///
/// ```
/// use std::time::Instant;
///
/// let token = en_auth_oauth2::parse_token_response_with_content_type(
///     b"access_token=abc&scope=read write",
///     Some("application/x-www-form-urlencoded; charset=utf-8"),
///     Instant::now(),
///     "https://auth.example.com/token",
///     "client",
/// )?;
/// assert_eq!(token.scope(), Some("read write"));
///
/// let err = en_auth_oauth2::parse_token_response_with_content_type(
///     b"<html>Sign in</html>",
///     Some("text/html"),
///     Instant::now(),
///     "https://auth.example.com/token",
///     "client",
/// )
/// .unwrap_err();
/// assert!(err.to_string().contains("text/html"));
/// # Ok::<(), en_auth_oauth2::Error>(())
/// ```
///
/// # Errors
/// As [`parse_token_response`].
pub fn parse_token_response_with_content_type(
    body: &[u8],
    content_type: Option<&str>,
    requested_at: std::time::Instant,
    endpoint: &str,
    client_id: &str,
) -> Result<Token, Error> {
    parse(body, Some(content_type), requested_at, endpoint, client_id)
}

/// The parsers above; `content_type` is `None` when unknown, `Some(None)` when there was none.
fn parse(
    body: &[u8],
    content_type: Option<Option<&str>>,
    requested_at: std::time::Instant,
    endpoint: &str,
    client_id: &str,
) -> Result<Token, Error> {
    let label = content_type.flatten().map(str::as_bytes);
    let json = normalize::token_body(label, body).map_err(|why| {
        let reason = match content_type {
            Some(content_type) => normalize::describe(why, content_type.map(str::as_bytes)),
            None => why.to_string(),
        };
        InvalidResponseError::new(endpoint, Some(200), reason)
    })?;
    serde_json::from_slice::<wire::WireTokenResponse>(&json)
        .map_err(|e| {
            let what = match e.classify() {
                serde_json::error::Category::Eof => "truncated JSON",
                serde_json::error::Category::Syntax => "not JSON",
                serde_json::error::Category::Data => "not a token response object",
                serde_json::error::Category::Io => "unreadable",
            };
            InvalidResponseError::new(endpoint, Some(200), what)
        })?
        .into_token(endpoint, client_id, 200, requested_at)
}
