//! Token endpoint answers as real servers send them, normalised before the `oauth2` crate (or
//! [`parse_token_response`](crate::parse_token_response)) reads them.
//!
//! The `oauth2` crate wants a 200 with `Content-Type: application/json` and a body that starts
//! with the JSON. Servers also answer with:
//!
//! - JSON under another content type (`text/javascript`, `text/plain`, none at all);
//! - a form-encoded body (`access_token=…&token_type=bearer&scope=`, as GitHub does; errors as
//!   `error=invalid_client&error_description=…`);
//! - 201 Created, or another 2xx, with a token;
//! - a UTF-8 byte-order mark before the JSON (RFC 8259 §8.1 lets a parser ignore it).
//!
//! What is unambiguously a token response (or an OAuth2 error) is accepted whatever the content
//! type says: a JSON object, or a form-encoded body with an `access_token` or `error`
//! parameter. Such a body becomes a JSON object with `Content-Type: application/json`, and a
//! 2xx carrying one becomes a 200. A 2xx carrying anything else (an HTML login page from a
//! proxy, say) is refused, the reason naming the content type but never quoting the body. Other
//! statuses keep their body unless it is one of the above: the error mapping reads it.
//!
//! Everything here is pure: status, content type and body in, normalised answer out.

use std::borrow::Cow;
use std::fmt;

use en_auth_core::{Error, InvalidResponseError};

/// The UTF-8 encoding of U+FEFF, the byte-order mark.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The form media type (RFC 6749 Appendix B).
const FORM: &str = "application/x-www-form-urlencoded";

/// The most of a `Content-Type` value quoted in an error.
const MAX_CONTENT_TYPE_SHOWN: usize = 100;

/// What a body holds, as far as a token endpoint's answer goes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Body<'a> {
    /// A JSON object (checked for syntax only: its members are the parser's business), without
    /// its byte-order mark.
    Json(&'a [u8]),
    /// A form-encoded answer with an `access_token` or an `error` parameter, rewritten as a
    /// JSON object of strings, in order; a repeated parameter stays repeated, for the parser to
    /// refuse as it refuses a repeated JSON member.
    Form(Vec<u8>),
    /// Neither.
    Unrecognised(Unrecognised),
}

/// Why a body is not a token response. Its text never quotes the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unrecognised {
    /// Nothing but whitespace (and a byte-order mark).
    Empty,
    /// JSON that stops short.
    TruncatedJson,
    /// Starts like a JSON object, but is not valid JSON.
    MalformedJson,
    /// Valid JSON, but not an object: an array, a string, a number, …
    NotAnObject(&'static str),
    /// Neither JSON nor a form-encoded token response; the body's length.
    Other(usize),
}

impl fmt::Display for Unrecognised {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unrecognised::Empty => f.write_str("empty body"),
            Unrecognised::TruncatedJson => f.write_str("truncated JSON"),
            Unrecognised::MalformedJson => f.write_str("malformed JSON"),
            Unrecognised::NotAnObject(kind) => write!(f, "a JSON {kind}, not an object"),
            Unrecognised::Other(len) => write!(
                f,
                "neither JSON nor a form-encoded token response ({len} bytes)"
            ),
        }
    }
}

/// Says what `body` holds. `content_type` is the response's `Content-Type` value, if any: it
/// only matters for a form-encoded body, which is read more leniently when the server says it is
/// one (raw spaces, say) than when it is recognised by its shape alone.
pub(crate) fn classify<'a>(content_type: Option<&[u8]>, body: &'a [u8]) -> Body<'a> {
    let body = body.strip_prefix(BOM).unwrap_or(body);
    let trimmed = trim_json_whitespace(body);
    if trimmed.is_empty() {
        return Body::Unrecognised(Unrecognised::Empty);
    }
    if trimmed[0] == b'{' {
        return match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
            Ok(_) => Body::Json(body),
            Err(e) if e.is_eof() => Body::Unrecognised(Unrecognised::TruncatedJson),
            Err(_) => Body::Unrecognised(Unrecognised::MalformedJson),
        };
    }
    let labelled_form = content_type.is_some_and(|ct| media_type(ct) == Some(FORM));
    if let Some(json) = form_as_json(trimmed, labelled_form) {
        return Body::Form(json);
    }
    if serde_json::from_slice::<serde::de::IgnoredAny>(trimmed).is_ok() {
        let kind = match trimmed[0] {
            b'[' => "array",
            b'"' => "string",
            b't' | b'f' => "boolean",
            b'n' => "null",
            _ => "number",
        };
        return Body::Unrecognised(Unrecognised::NotAnObject(kind));
    }
    Body::Unrecognised(Unrecognised::Other(body.len()))
}

/// JSON's whitespace (RFC 8259 §2), trimmed at both ends.
fn trim_json_whitespace(bytes: &[u8]) -> &[u8] {
    let ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    let start = bytes.iter().position(|b| !ws(b)).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|b| !ws(b)).map_or(start, |i| i + 1);
    &bytes[start..end]
}

/// The media type of a `Content-Type` value, lower case, without parameters.
fn media_type(content_type: &[u8]) -> Option<&'static str> {
    let value = std::str::from_utf8(content_type).ok()?;
    let media = value.split(';').next()?.trim();
    [FORM, "application/json"]
        .into_iter()
        .find(|known| media.eq_ignore_ascii_case(known))
}

/// Bytes a form-encoded body is made of when no content type says it is one: what
/// `application/x-www-form-urlencoded` serialisers emit (alphanumerics, `*-._`, `%XX`, `+`,
/// `=`, `&`) and the rest of RFC 3986's unreserved and sub-delimiter characters, plus `:/?@`,
/// which servers leave unencoded. No space, quote, angle bracket or brace: HTML and JSON never
/// pass for a form.
fn is_bare_form_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~%+=&*!$'(),;:/?@".contains(&b)
}

/// Bytes a body the server labelled a form may hold: anything but control characters and the
/// angle brackets of markup (servers leave spaces and the like unencoded; an HTML page sent
/// under the wrong label is still no form).
fn is_labelled_form_byte(b: u8) -> bool {
    !(b.is_ascii_control() || b == b'<' || b == b'>')
}

/// A form-encoded body with an `access_token` or `error` parameter, as a JSON object of strings;
/// `None` if `body` is not one. Unless the server labelled it a form (`labelled`: then
/// [`is_labelled_form_byte`] applies), every byte must be one [`is_bare_form_byte`] allows and
/// every parameter must have a `=`. A parameter that does not decode to UTF-8 makes the body no
/// form: a token is never a guess.
fn form_as_json(body: &[u8], labelled: bool) -> Option<Vec<u8>> {
    let looks_like_a_form = if labelled {
        body.iter().copied().all(is_labelled_form_byte)
    } else {
        body.iter().copied().all(is_bare_form_byte)
            && body
                .split(|&b| b == b'&')
                .all(|pair| pair.is_empty() || pair.contains(&b'='))
    };
    if !looks_like_a_form {
        return None;
    }
    let mut json = String::from("{");
    let mut answer = false;
    for (name, value) in url::form_urlencoded::parse(body) {
        if name.contains(char::REPLACEMENT_CHARACTER) || value.contains(char::REPLACEMENT_CHARACTER)
        {
            return None;
        }
        answer |= name == "access_token" || name == "error";
        if json.len() > 1 {
            json.push(',');
        }
        json.push_str(&json_string(&name));
        json.push(':');
        json.push_str(&json_string(&value));
    }
    json.push('}');
    answer.then(|| json.into_bytes())
}

fn json_string(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

/// The `Content-Type` as an error may show it: in backticks if it is printable ASCII and short,
/// its media type alone if only that is short, else a word.
fn describe_content_type(content_type: Option<&[u8]>) -> Cow<'static, str> {
    let Some(raw) = content_type else {
        return Cow::Borrowed("no Content-Type");
    };
    let printable = raw.iter().all(|b| (0x20..0x7f).contains(b));
    let value = if printable {
        std::str::from_utf8(raw).unwrap_or_default().trim()
    } else {
        ""
    };
    let media = value.split(';').next().unwrap_or_default().trim();
    if !printable {
        Cow::Borrowed("an unreadable Content-Type")
    } else if value.len() <= MAX_CONTENT_TYPE_SHOWN {
        Cow::Owned(format!("Content-Type `{value}`"))
    } else if media.len() <= MAX_CONTENT_TYPE_SHOWN {
        Cow::Owned(format!("Content-Type `{media}`"))
    } else {
        Cow::Borrowed("an overlong Content-Type")
    }
}

/// Why a body is no token response, with its content type: for [`Error::InvalidResponse`].
pub(crate) fn describe(why: Unrecognised, content_type: Option<&[u8]>) -> String {
    format!("{why}; {}", describe_content_type(content_type))
}

/// A body as JSON for the token response parser: the JSON object itself, or the form-encoded
/// answer rewritten; otherwise why not.
pub(crate) fn token_body<'a>(
    content_type: Option<&[u8]>,
    body: &'a [u8],
) -> Result<Cow<'a, [u8]>, Unrecognised> {
    match classify(content_type, body) {
        Body::Json(json) => Ok(Cow::Borrowed(json)),
        Body::Form(json) => Ok(Cow::Owned(json)),
        Body::Unrecognised(why) => Err(why),
    }
}

/// A token endpoint's answer, normalised for the `oauth2` crate.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Normalized {
    /// 200 for a 2xx carrying a token response or an error; otherwise the status as received.
    pub(crate) status: u16,
    /// Whether the body is now a JSON object, to be sent on as `application/json`.
    pub(crate) json: bool,
    /// The body: the JSON object, or the body as received.
    pub(crate) body: Vec<u8>,
}

/// A 2xx whose body is no token response: an [`Error::InvalidResponse`].
#[derive(Debug, thiserror::Error)]
#[error("{reason}")]
pub(crate) struct NotAToken {
    status: u16,
    reason: String,
}

impl NotAToken {
    pub(crate) fn into_error(self, endpoint: &str) -> Error {
        InvalidResponseError::new(endpoint, Some(self.status), self.reason).into()
    }
}

/// Normalises one answer: see the module documentation.
///
/// # Errors
/// [`NotAToken`] for a 2xx that carries neither a token response nor an error.
pub(crate) fn response(
    status: u16,
    content_type: Option<&[u8]>,
    body: Vec<u8>,
) -> Result<Normalized, NotAToken> {
    let success = (200..300).contains(&status);
    let json = match classify(content_type, &body) {
        Body::Json(json) if json.len() == body.len() => body,
        Body::Json(json) => json.to_vec(),
        Body::Form(json) => json,
        Body::Unrecognised(why) if success => {
            return Err(NotAToken {
                status,
                reason: describe(why, content_type),
            })
        }
        Body::Unrecognised(_) => {
            return Ok(Normalized {
                status,
                json: false,
                body,
            })
        }
    };
    Ok(Normalized {
        status: if success { 200 } else { status },
        json: true,
        body: json,
    })
}

/// [`response`] on an `http` response's parts, for the HTTP layer: rewrites `Content-Type` (and
/// drops `Content-Length`) when the body changes, and returns the status and body to hand on.
pub(crate) fn apply(
    status: http::StatusCode,
    headers: &mut http::HeaderMap,
    body: Vec<u8>,
) -> Result<(http::StatusCode, Vec<u8>), NotAToken> {
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .map(http::HeaderValue::as_bytes);
    let normalized = response(status.as_u16(), content_type, body)?;
    if normalized.json {
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        headers.remove(http::header::CONTENT_LENGTH);
    }
    let status = http::StatusCode::from_u16(normalized.status).unwrap_or(status);
    Ok((status, normalized.body))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN_JSON: &str =
        r#"{"access_token":"tok-123","token_type":"bearer","expires_in":3600}"#;
    const TOKEN_FORM: &str = "access_token=tok-123&token_type=bearer&expires_in=3600&scope=";
    const FORM_CT: &[u8] = b"application/x-www-form-urlencoded; charset=utf-8";

    fn with_bom(s: &str) -> Vec<u8> {
        [BOM, s.as_bytes()].concat()
    }

    fn json_of(body: &Body<'_>) -> serde_json::Value {
        match body {
            Body::Json(b) => serde_json::from_slice(b).unwrap(),
            Body::Form(b) => serde_json::from_slice(b).unwrap(),
            Body::Unrecognised(why) => panic!("unrecognised: {why}"),
        }
    }

    #[test]
    fn a_json_object_is_json_whatever_the_content_type() {
        for ct in [
            None,
            Some(&b"application/json"[..]),
            Some(b"text/javascript"),
            Some(b"text/plain"),
            Some(b"text/html"),
            Some(FORM_CT),
        ] {
            assert_eq!(
                classify(ct, TOKEN_JSON.as_bytes()),
                Body::Json(TOKEN_JSON.as_bytes())
            );
        }
        // Whitespace around it is JSON's business; members are the parser's (a huge number,
        // a repeated member, a wrong type all pass here).
        for body in [
            " \r\n{\"a\":1}\n",
            r#"{"access_token":42}"#,
            r#"{"access_token":"a","access_token":"b"}"#,
            r#"{"n":1e999}"#,
        ] {
            assert_eq!(classify(None, body.as_bytes()), Body::Json(body.as_bytes()));
        }
    }

    #[test]
    fn a_byte_order_mark_is_dropped() {
        let body = with_bom(TOKEN_JSON);
        assert_eq!(classify(None, &body), Body::Json(TOKEN_JSON.as_bytes()));
        let body = with_bom(TOKEN_FORM);
        assert!(matches!(classify(None, &body), Body::Form(_)));
        // Only one, and only at the start.
        let twice = [BOM, BOM, TOKEN_JSON.as_bytes()].concat();
        assert!(matches!(classify(None, &twice), Body::Unrecognised(_)));
        let inside = format!("{{\"a\":{}1}}", '\u{feff}');
        assert!(matches!(
            classify(None, inside.as_bytes()),
            Body::Unrecognised(Unrecognised::MalformedJson)
        ));
        assert_eq!(classify(None, BOM), Body::Unrecognised(Unrecognised::Empty));
    }

    #[test]
    fn a_form_encoded_token_becomes_a_json_object_of_strings() {
        for ct in [Some(FORM_CT), None, Some(&b"text/plain"[..])] {
            let body = classify(ct, TOKEN_FORM.as_bytes());
            assert_eq!(
                json_of(&body),
                serde_json::json!({
                    "access_token": "tok-123",
                    "token_type": "bearer",
                    "expires_in": "3600",
                    "scope": "",
                }),
                "{ct:?}"
            );
        }
        // Decoded as a form is: `+` is a space, %XX a byte; a trailing newline is no part of it.
        let body = classify(
            None,
            b"access_token=a%2Bb%2F%3D%20c&scope=repo+user%3Aemail\n",
        );
        assert_eq!(
            json_of(&body),
            serde_json::json!({"access_token": "a+b/= c", "scope": "repo user:email"})
        );
        // Labelled a form, raw spaces (and UTF-8) are tolerated, as is a parameter without `=`.
        let body = classify(
            Some(FORM_CT),
            "access_token=abc&scope=a b&error_description=ça&x".as_bytes(),
        );
        assert_eq!(
            json_of(&body),
            serde_json::json!({"access_token": "abc", "scope": "a b", "error_description": "ça", "x": ""})
        );
    }

    #[test]
    fn a_form_encoded_error_becomes_a_json_object() {
        let body = classify(
            Some(FORM_CT),
            b"error=invalid_client&error_description=Client+authentication+failed",
        );
        assert_eq!(
            json_of(&body),
            serde_json::json!({"error": "invalid_client", "error_description": "Client authentication failed"})
        );
    }

    #[test]
    fn a_repeated_parameter_stays_repeated() {
        let Body::Form(json) = classify(None, b"access_token=a&access_token=b") else {
            panic!("not a form")
        };
        assert_eq!(json, br#"{"access_token":"a","access_token":"b"}"#);
    }

    #[test]
    fn what_is_no_form_token_is_not_one() {
        for (ct, body) in [
            // No access_token or error parameter.
            (Some(FORM_CT), &b"token_type=bearer&expires_in=3600"[..]),
            (None, b"ok"),
            (None, b"status=ok"),
            // Not form bytes, unless labelled a form.
            (None, b"access_token=a b"),
            (Some(b"text/plain"), b"access_token=a b"),
            // A parameter without `=`, unless labelled a form.
            (None, b"access_token=abc&garbage"),
            // Markup or control characters, even labelled a form.
            (Some(FORM_CT), b"<p>access_token=abc</p>"),
            (Some(FORM_CT), b"access_token=abc\n&scope=x"),
            // Not UTF-8 once decoded.
            (Some(FORM_CT), b"access_token=%FF%FE"),
            (None, b"access_token=%C3"),
        ] {
            assert!(
                matches!(
                    classify(ct, body),
                    Body::Unrecognised(Unrecognised::Other(_))
                ),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
        assert!(matches!(
            classify(Some(FORM_CT), b"access_token=abc&garbage"),
            Body::Form(_)
        ));
    }

    #[test]
    fn html_is_never_a_token_even_with_a_token_looking_link() {
        let page = br#"<html><a href="/login?next=%2F&access_token=abc">go</a></html>"#;
        for ct in [
            Some(&b"text/html"[..]),
            None,
            Some(b"application/json"),
            Some(b"text/plain"),
            Some(FORM_CT),
        ] {
            assert_eq!(
                classify(ct, page),
                Body::Unrecognised(Unrecognised::Other(page.len()))
            );
        }
    }

    #[test]
    fn unrecognised_bodies_say_what_they_are_without_quoting_them() {
        let cases: [(&[u8], Unrecognised); 9] = [
            (b"", Unrecognised::Empty),
            (b" \n", Unrecognised::Empty),
            (
                br#"{"access_token":"abc","expires_in":36"#,
                Unrecognised::TruncatedJson,
            ),
            (
                br#"{"access_token":"abc"} trailing"#,
                Unrecognised::MalformedJson,
            ),
            (b"[1,2,3]", Unrecognised::NotAnObject("array")),
            (br#""access_token""#, Unrecognised::NotAnObject("string")),
            (b"3600", Unrecognised::NotAnObject("number")),
            (b"null", Unrecognised::NotAnObject("null")),
            (b"Bad gateway", Unrecognised::Other(11)),
        ];
        for (body, why) in cases {
            assert_eq!(classify(None, body), Body::Unrecognised(why));
            let text = describe(why, Some(b"text/plain"));
            assert!(text.contains("`text/plain`"), "{text}");
            let body = String::from_utf8_lossy(body);
            if body.trim().len() > 4 {
                assert!(!text.contains(body.trim()), "{text}");
            }
        }
    }

    #[test]
    fn the_content_type_is_shown_only_when_printable_and_short() {
        assert_eq!(describe_content_type(None), "no Content-Type");
        assert_eq!(
            describe_content_type(Some(b"text/html; charset=utf-8")),
            "Content-Type `text/html; charset=utf-8`"
        );
        let long = format!("text/html; {}", "x=y; ".repeat(40));
        assert_eq!(
            describe_content_type(Some(long.as_bytes())),
            "Content-Type `text/html`"
        );
        let longer = "x".repeat(200);
        assert_eq!(
            describe_content_type(Some(longer.as_bytes())),
            "an overlong Content-Type"
        );
        assert_eq!(
            describe_content_type(Some(b"text/html\xFF")),
            "an unreadable Content-Type"
        );
        assert_eq!(
            describe_content_type(Some(b"text/html\n<script>")),
            "an unreadable Content-Type"
        );
    }

    #[test]
    fn a_2xx_token_becomes_a_200_json_answer() {
        for status in [200, 201, 202, 203] {
            for (ct, body) in [
                (
                    Some(&b"text/javascript"[..]),
                    TOKEN_JSON.as_bytes().to_vec(),
                ),
                (Some(b"application/json"), with_bom(TOKEN_JSON)),
                (Some(FORM_CT), TOKEN_FORM.as_bytes().to_vec()),
                (None, TOKEN_FORM.as_bytes().to_vec()),
            ] {
                let n = response(status, ct, body).unwrap();
                assert_eq!(n.status, 200);
                assert!(n.json);
                let value: serde_json::Value = serde_json::from_slice(&n.body).unwrap();
                assert_eq!(value["access_token"], "tok-123");
            }
        }
        // A JSON body already fine is handed on as it is.
        let n = response(200, Some(b"application/json"), TOKEN_JSON.into()).unwrap();
        assert_eq!(n.body, TOKEN_JSON.as_bytes());
    }

    #[test]
    fn a_2xx_without_a_token_response_is_refused_naming_the_content_type() {
        let page = b"<html><body>Sign in to Example Corp</body></html>".to_vec();
        for status in [200, 201, 204] {
            let e = response(status, Some(b"text/html; charset=utf-8"), page.clone())
                .unwrap_err()
                .into_error("https://auth.example.com/token");
            let Error::InvalidResponse(r) = &e else {
                panic!("{e:?}")
            };
            assert_eq!(r.status_code, Some(status));
            let text = format!("{e} | {e:?}");
            assert!(text.contains("text/html"), "{text}");
            assert!(
                !text.contains("Sign in") && !text.contains("<body>"),
                "{text}"
            );
        }
        let e = response(200, None, Vec::new()).unwrap_err();
        assert_eq!(e.to_string(), "empty body; no Content-Type");
    }

    #[test]
    fn error_statuses_keep_their_status_and_unrecognised_bodies() {
        let form = b"error=invalid_client&error_description=nope".to_vec();
        let n = response(400, Some(FORM_CT), form).unwrap();
        assert_eq!((n.status, n.json), (400, true));
        assert_eq!(
            n.body,
            br#"{"error":"invalid_client","error_description":"nope"}"#
        );

        let n = response(401, Some(b"application/json"), with_bom(r#"{"error":"x"}"#)).unwrap();
        assert_eq!((n.status, n.json), (401, true));
        assert_eq!(n.body, br#"{"error":"x"}"#);

        for (status, body) in [
            (404, &b""[..]),
            (502, b"<html>Bad gateway</html>"),
            (302, b"moved"),
            (500, b"[]"),
        ] {
            let n = response(status, Some(b"text/html"), body.to_vec()).unwrap();
            assert_eq!(
                n,
                Normalized {
                    status,
                    json: false,
                    body: body.to_vec()
                }
            );
        }
    }

    #[test]
    fn apply_rewrites_the_headers_only_when_the_body_changes() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        headers.insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(61));
        headers.insert("x-other", http::HeaderValue::from_static("kept"));
        let (status, body) =
            apply(http::StatusCode::CREATED, &mut headers, TOKEN_FORM.into()).unwrap();
        assert_eq!(status, http::StatusCode::OK);
        assert_eq!(headers[http::header::CONTENT_TYPE], "application/json");
        assert!(!headers.contains_key(http::header::CONTENT_LENGTH));
        assert_eq!(headers["x-other"], "kept");
        assert!(body.starts_with(b"{\"access_token\":\"tok-123\""));

        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/html"),
        );
        let (status, body) = apply(
            http::StatusCode::BAD_GATEWAY,
            &mut headers,
            b"<html></html>".to_vec(),
        )
        .unwrap();
        assert_eq!(status, http::StatusCode::BAD_GATEWAY);
        assert_eq!(headers[http::header::CONTENT_TYPE], "text/html");
        assert_eq!(body, b"<html></html>");
    }
}
