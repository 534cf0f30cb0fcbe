//! Token responses that real servers send, end to end through `ServiceAccountAuthorizer`
//! against httpmock: JSON under a non-JSON content type, form-encoded answers (GitHub), 201
//! Created, a UTF-8 byte-order mark, `scope` as a JSON array, lenient error answers, and the
//! answers that must still be refused (an HTML page with a 2xx) or explained (404 / 405).
//!
//! Every case here failed before the responses were normalised (`src/normalize.rs`), except the
//! guards marked as such, which pin behaviour that already held.

use std::time::Duration;

use en_auth_oauth2::{ClientInfo, Environment, Error, ServiceAccountAuthorizer, Token};
use httpmock::prelude::*;
use secrecy::ExposeSecret;

const TOKEN_JSON: &str = r#"{"access_token":"tok-123","token_type":"bearer","expires_in":3600}"#;
const TOKEN_FORM: &str = "access_token=tok-123&token_type=bearer&expires_in=3600&scope=";

/// One token request answered with `status`, `content_type` (none if `None`) and `body`; the
/// outcome and the number of token requests made.
async fn answer(
    status: u16,
    content_type: Option<&str>,
    body: impl Into<Vec<u8>>,
) -> (Result<Token, Error>, usize) {
    let body = body.into();
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(POST).path("/token");
            let then = then.status(status);
            let then = match content_type {
                Some(ct) => then.header("content-type", ct),
                None => then,
            };
            then.body(body);
        })
        .await;
    let environment = Environment::new("x")
        .with_token_url(&server.url("/token"))
        .unwrap();
    let auth =
        ServiceAccountAuthorizer::new(ClientInfo::new("client", "secret"), environment).unwrap();
    let result = auth.access_token().await.map(|t| (*t).clone());
    (result, mock.calls_async().await)
}

async fn token(status: u16, content_type: Option<&str>, body: impl Into<Vec<u8>>) -> Token {
    let what = format!("HTTP {status} {content_type:?}");
    match answer(status, content_type, body).await {
        (Ok(token), 1) => token,
        (Ok(_), n) => panic!("{what}: {n} token requests"),
        (Err(e), _) => panic!("{what}: {e:?}"),
    }
}

async fn error(status: u16, content_type: Option<&str>, body: impl Into<Vec<u8>>) -> Error {
    let what = format!("HTTP {status} {content_type:?}");
    match answer(status, content_type, body).await {
        (Err(e), 1) => e,
        (Err(e), n) => panic!("{what}: {n} token requests for {e:?}"),
        (Ok(_), _) => panic!("{what}: a token"),
    }
}

fn assert_tok_123(token: &Token) {
    assert_eq!(token.access_token().expose_secret(), "tok-123");
    assert!(token.token_type().eq_ignore_ascii_case("bearer"));
    // expires_in less its one-second resolution.
    assert_eq!(token.lifetime(), Some(Duration::from_secs(3599)));
}

#[tokio::test]
async fn json_under_a_javascript_or_plain_text_content_type_is_a_token() {
    for content_type in [
        "text/javascript",
        "text/javascript; charset=utf-8",
        "text/plain",
        "text/plain;charset=UTF-8",
    ] {
        assert_tok_123(&token(200, Some(content_type), TOKEN_JSON).await);
    }
}

#[tokio::test]
async fn a_form_encoded_answer_is_a_token() {
    let token = token(
        200,
        Some("application/x-www-form-urlencoded; charset=utf-8"),
        TOKEN_FORM,
    )
    .await;
    assert_tok_123(&token);
    // `scope=`: granted no scope, as `"scope": ""` would say.
    assert_eq!(token.scope(), Some(""));

    // Percent-encoding and `+` are decoded, as a form is.
    let token = token_from_form(
        "access_token=a%2Bb%2F%3D&token_type=Bearer&expires_in=60&scope=repo+user%3Aemail",
    )
    .await;
    assert_eq!(token.access_token().expose_secret(), "a+b/=");
    assert_eq!(token.scope(), Some("repo user:email"));
    assert_eq!(token.lifetime(), Some(Duration::from_secs(59)));
}

async fn token_from_form(body: &str) -> Token {
    token(200, Some("application/x-www-form-urlencoded"), body).await
}

#[tokio::test]
async fn a_201_created_with_a_token_is_a_token() {
    assert_tok_123(&token(201, Some("application/json"), TOKEN_JSON).await);
    assert_tok_123(&token(201, Some("application/x-www-form-urlencoded"), TOKEN_FORM).await);
}

#[tokio::test]
async fn a_byte_order_mark_before_the_json_is_ignored() {
    let mut body = b"\xEF\xBB\xBF".to_vec();
    body.extend_from_slice(TOKEN_JSON.as_bytes());
    assert_tok_123(&token(200, Some("application/json"), body.clone()).await);
    assert_tok_123(&token(200, Some("application/json; charset=utf-8"), body).await);
}

#[tokio::test]
async fn a_scope_array_is_space_delimited() {
    let token = token(
        200,
        Some("application/json"),
        r#"{"access_token":"tok-123","token_type":"bearer","expires_in":3600,"scope":["openid","user:read:email"]}"#,
    )
    .await;
    assert_tok_123(&token);
    assert_eq!(token.scope(), Some("openid user:read:email"));
}

#[tokio::test]
async fn an_error_object_under_any_content_type_is_the_servers_error() {
    let invalid_client = r#"{"error":"invalid_client","error_description":"bad secret"}"#;
    // With a 200 (before: refused for its content type).
    for content_type in [Some("text/plain"), Some("text/html"), None] {
        let e = error(200, content_type, invalid_client).await;
        assert!(
            matches!(&e, Error::InvalidClient(c) if c.client_id == "client" && c.message.contains("bad secret")),
            "{content_type:?}: {e:?}"
        );
    }
    // With a 4xx and a byte-order mark (before: "non-JSON response body").
    let mut body = b"\xEF\xBB\xBF".to_vec();
    body.extend_from_slice(invalid_client.as_bytes());
    let e = error(401, Some("application/json"), body).await;
    assert!(matches!(&e, Error::InvalidClient(_)), "{e:?}");
    // Guard (held before too): a 4xx's JSON error is read whatever its content type.
    let e = error(400, Some("text/plain"), r#"{"error":"invalid_scope"}"#).await;
    assert!(
        matches!(&e, Error::Authorization(a) if a.status_code == 400 && a.code.as_deref() == Some("invalid_scope")),
        "{e:?}"
    );
}

#[tokio::test]
async fn a_form_encoded_error_is_the_servers_error() {
    let form = "error=invalid_client&error_description=Client+authentication+failed";
    for status in [400, 401, 403] {
        let e = error(
            status,
            Some("application/x-www-form-urlencoded; charset=utf-8"),
            form,
        )
        .await;
        match &e {
            Error::InvalidClient(c) => {
                assert_eq!(c.client_id, "client");
                assert!(c.message.contains("Client authentication failed"), "{e}");
            }
            other => panic!("{status}: expected InvalidClient, got {other:?}"),
        }
        assert!(!e.is_retryable());
    }
    // Other codes keep their status and code; an unlabelled form error too.
    let e = error(
        403,
        Some("text/plain"),
        "error=invalid_scope&error_description=no+such+scope",
    )
    .await;
    assert!(
        matches!(&e, Error::Authorization(a) if a.status_code == 403 && a.code.as_deref() == Some("invalid_scope") && a.message == "no such scope"),
        "{e:?}"
    );
    // A form error with a 200.
    let e = error(200, Some("application/x-www-form-urlencoded"), form).await;
    assert!(matches!(&e, Error::InvalidClient(_)), "{e:?}");
}

#[tokio::test]
async fn an_html_page_with_a_2xx_is_refused_naming_its_content_type() {
    let page = "<html><body><h1>Sign in to Example Corp</h1>\
                <a href=\"/login?next=%2F&access_token=leaked-looking\">go</a></body></html>";
    // Guard (held before too, with the oauth2 crate's wording): an HTML 200 is refused.
    // New: the same for any 2xx (before, a 201 page was an Authorization error with a
    // failure cooldown), with the content type named.
    for status in [200, 201, 203] {
        let e = error(status, Some("text/html; charset=utf-8"), page).await;
        let Error::InvalidResponse(r) = &e else {
            panic!("{status}: expected InvalidResponse, got {e:?}")
        };
        assert_eq!(r.status_code, Some(status));
        let printed = format!("{e} | {e:?}");
        assert!(printed.contains("text/html"), "{printed}");
        for fragment in ["Sign in", "Example Corp", "<h1>", "leaked-looking", "href"] {
            assert!(!printed.contains(fragment), "the body leaked: {printed}");
        }
        assert!(!e.is_retryable());
    }
}

#[tokio::test]
async fn a_404_or_405_says_the_token_url_is_probably_wrong() {
    for (status, content_type, body) in [
        (404, None, ""),
        (404, Some("text/html"), "<html>Not Found</html>"),
        (404, Some("application/json"), r#"{"message":"Not Found"}"#),
        (405, None, ""),
        (405, Some("text/plain"), "Method Not Allowed"),
    ] {
        let e = error(status, content_type, body).await;
        assert!(
            matches!(&e, Error::Authorization(a) if a.status_code == status && a.code.is_none()),
            "{e:?}"
        );
        let message = e.to_string();
        assert!(message.contains("token URL"), "{status}: {message}");
        assert!(!message.contains("empty response body"), "{message}");
        assert!(!e.is_retryable(), "{status} should not be retried");
    }
    // A 404 that speaks OAuth2 keeps its error.
    let e = error(
        404,
        Some("application/json"),
        r#"{"error":"invalid_request"}"#,
    )
    .await;
    assert!(
        matches!(&e, Error::Authorization(a) if a.code.as_deref() == Some("invalid_request")),
        "{e:?}"
    );
}

/// `parse_token_response` (the body alone) and `parse_token_response_with_content_type` accept
/// and refuse the same answers as the authorizer.
mod parse_token_response {
    use std::time::{Duration, Instant};

    use en_auth_oauth2::{parse_token_response, parse_token_response_with_content_type, Error};
    use secrecy::ExposeSecret;

    use super::{assert_tok_123, TOKEN_FORM, TOKEN_JSON};

    const ENDPOINT: &str = "https://auth.example.com/token";

    fn parse(body: &[u8]) -> Result<en_auth_oauth2::Token, Error> {
        parse_token_response(body, Instant::now(), ENDPOINT, "client")
    }

    fn parse_as(body: &[u8], content_type: &str) -> Result<en_auth_oauth2::Token, Error> {
        parse_token_response_with_content_type(
            body,
            Some(content_type),
            Instant::now(),
            ENDPOINT,
            "client",
        )
    }

    #[test]
    fn json_form_and_a_byte_order_mark() {
        assert_tok_123(&parse(TOKEN_JSON.as_bytes()).unwrap());
        assert_tok_123(&parse(&[b"\xEF\xBB\xBF", TOKEN_JSON.as_bytes()].concat()).unwrap());
        let token = parse(TOKEN_FORM.as_bytes()).unwrap();
        assert_tok_123(&token);
        assert_eq!(token.scope(), Some(""));
        for content_type in ["text/javascript", "text/plain", "application/json"] {
            assert_tok_123(&parse_as(TOKEN_JSON.as_bytes(), content_type).unwrap());
        }
        let token = parse_as(
            TOKEN_FORM.as_bytes(),
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .unwrap();
        assert_tok_123(&token);
    }

    #[test]
    fn a_form_labelled_as_one_may_hold_unencoded_characters() {
        let body = b"access_token=tok-123&expires_in=60&scope=read write";
        assert!(matches!(parse(body), Err(Error::InvalidResponse(_))));
        let token = parse_as(body, "application/x-www-form-urlencoded").unwrap();
        assert_eq!(token.access_token().expose_secret(), "tok-123");
        assert_eq!(token.scope(), Some("read write"));
        assert_eq!(token.lifetime(), Some(Duration::from_secs(59)));
    }

    #[test]
    fn a_scope_array() {
        let token = parse(
            br#"{"access_token":"tok-123","token_type":"bearer","expires_in":3600,"scope":["openid","user:read:email"]}"#,
        )
        .unwrap();
        assert_eq!(token.scope(), Some("openid user:read:email"));
    }

    #[test]
    fn errors_as_json_under_any_content_type_and_as_forms() {
        let json = br#"{"error":"invalid_client","error_description":"bad secret"}"#;
        for result in [
            parse(json),
            parse_as(json, "text/plain"),
            parse(b"error=invalid_client&error_description=bad+secret"),
            parse_as(
                b"error=invalid_client&error_description=bad secret",
                "application/x-www-form-urlencoded",
            ),
        ] {
            let e = result.unwrap_err();
            assert!(
                matches!(&e, Error::InvalidClient(c) if c.client_id == "client" && c.message.contains("bad secret")),
                "{e:?}"
            );
        }
        let e = parse(b"error=invalid_scope&error_description=no+such+scope").unwrap_err();
        assert!(
            matches!(&e, Error::Authorization(a) if a.status_code == 200 && a.code.as_deref() == Some("invalid_scope") && a.message == "no such scope"),
            "{e:?}"
        );
    }

    #[test]
    fn html_is_refused_naming_its_content_type_and_never_quoting_it() {
        let page = b"<html><body><h1>Sign in to Example Corp</h1>\
                     <a href=\"/login?next=%2F&access_token=leaked-looking\">go</a></body></html>";
        let with_type = parse_as(page, "text/html; charset=utf-8").unwrap_err();
        let without = parse(page).unwrap_err();
        for e in [&with_type, &without] {
            assert!(
                matches!(e, Error::InvalidResponse(r) if r.status_code == Some(200)),
                "{e:?}"
            );
            let printed = format!("{e} | {e:?}");
            for fragment in ["Sign in", "Example Corp", "<h1>", "leaked-looking", "href"] {
                assert!(!printed.contains(fragment), "the body leaked: {printed}");
            }
        }
        assert!(with_type.to_string().contains("text/html"), "{with_type}");
    }

    #[test]
    fn what_is_wrong_is_said() {
        for (body, says) in [
            (&b""[..], "empty body"),
            (
                br#"{"access_token":"abc","expires_in":36"#,
                "truncated JSON",
            ),
            (br#"{"access_token":"abc"} trailing"#, "malformed JSON"),
            (b"[1,2,3]", "a JSON array, not an object"),
            (
                b"Bad gateway",
                "neither JSON nor a form-encoded token response",
            ),
            (br#"{"access_token":42}"#, "not a token response object"),
            (br#"{"token_type":"bearer"}"#, "no access_token"),
        ] {
            let e = parse(body).unwrap_err();
            assert!(
                matches!(&e, Error::InvalidResponse(r) if r.reason.contains(says)),
                "{e:?}"
            );
        }
    }
}
