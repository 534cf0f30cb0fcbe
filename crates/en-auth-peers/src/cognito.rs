//! Cognito values computed as AWS documents them, independently of the crates under test: for
//! tests that search for them (a secrecy scan) or expect them.

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};

/// The `SECRET_HASH` of `user_name` for a confidential app client:
/// base64(HMAC-SHA256(client secret, user name ‖ client id)), as the Cognito API reference
/// defines it ("Computing secret hash values").
///
/// ```
/// // A known answer of pycognito 2024.5.1 (en-auth-srp's tests/vectors/srp_vectors.json).
/// let hash = en_auth_peers::cognito::secret_hash(
///     "pykatclient0123456789abcd",
///     "1example23456789abcdefghijklmnopqrstuvwxyz01234567",
///     "erin",
/// );
/// assert_eq!(hash, "l4v9oCdKIvejDSAPwO/VjKIfyFqNdS7pSuE7MbA6H8g=");
/// ```
pub fn secret_hash(client_id: &str, client_secret: &str, user_name: &str) -> String {
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(client_secret.as_bytes()) else {
        unreachable!("HMAC takes a key of any length")
    };
    mac.update(user_name.as_bytes());
    mac.update(client_id.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// A person signing in on ministack's hosted sign-in page (Cognito managed login), over HTTP:
/// fetches the page of `authorization_url`, posts its form back to `login_endpoint` with the
/// hidden fields it carries (the authorization request) and `username` and `password`, and
/// returns where the `302` answer sends the browser (the client's callback URL with `code` and
/// `state`, for the test to deliver).
///
/// # Errors
/// The step that went otherwise, with the status and body the server answered.
pub async fn hosted_ui_sign_in(
    authorization_url: &str,
    login_endpoint: &str,
    username: &str,
    password: &str,
) -> Result<String, String> {
    let http = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    let page = http
        .get(authorization_url)
        .send()
        .await
        .map_err(|e| format!("the sign-in page: {e}"))?;
    let status = page.status();
    let html = page.text().await.map_err(|e| e.to_string())?;
    if status != reqwest::StatusCode::OK {
        return Err(format!("the sign-in page answered {status}: {html}"));
    }
    let mut form = hidden_fields(&html);
    if form.is_empty() {
        return Err(format!("the sign-in page has no hidden field: {html}"));
    }
    form.push(("username".into(), username.into()));
    form.push(("password".into(), password.into()));
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&form)
        .finish();
    let answer = http
        .post(login_endpoint)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(body)
        .send()
        .await
        .map_err(|e| format!("the sign-in form: {e}"))?;
    let status = answer.status();
    match answer.headers().get(reqwest::header::LOCATION) {
        Some(location) if status == reqwest::StatusCode::FOUND => location
            .to_str()
            .map(str::to_owned)
            .map_err(|e| e.to_string()),
        _ => Err(format!(
            "the sign-in form answered {status}: {}",
            answer.text().await.unwrap_or_default()
        )),
    }
}

/// The `name` and `value` of each `<input type="hidden" …>` of a page, HTML-unescaped.
fn hidden_fields(html: &str) -> Vec<(String, String)> {
    let attribute = |tag: &str, name: &str| {
        let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
        let end = tag[start..].find('"')? + start;
        Some(unescape(&tag[start..end]))
    };
    html.split("<input ")
        .skip(1)
        .filter_map(|rest| rest.split_once('>').map(|(tag, _)| tag))
        .filter(|tag| tag.contains("type=\"hidden\""))
        .filter_map(|tag| Some((attribute(tag, "name")?, attribute(tag, "value")?)))
        .collect()
}

/// Undoes Python's `html.escape`.
fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    #[test]
    fn hidden_fields_are_read_and_unescaped() {
        let html = r#"<form method="POST" action="/login">
<input type="hidden" name="client_id" value="abc">
<input type="hidden" name="redirect_uri" value="http://localhost:9/cb?a=1&amp;b=&quot;2&quot;">
<input type="text" id="username" name="username" required>
</form>"#;
        assert_eq!(
            super::hidden_fields(html),
            vec![
                ("client_id".to_owned(), "abc".to_owned()),
                (
                    "redirect_uri".to_owned(),
                    "http://localhost:9/cb?a=1&b=\"2\"".to_owned()
                ),
            ]
        );
    }
}
