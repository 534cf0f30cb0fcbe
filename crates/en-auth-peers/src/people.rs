//! A person at a browser, played over plain HTTP against the `oidc_people` peer
//! ([`crate::oidc_people`], `peers/oidc/people.mjs`): the device flow's verification page, the
//! sign-in and consent interaction, the redirects of the authorization endpoint. It keeps the
//! provider's cookies as a browser would (by name; the peer's cookie names are unique) and
//! follows the provider's redirects, never one that leaves it (the client's redirect URI is
//! handed back to the test, which may tamper with it before delivering it).

use std::collections::BTreeMap;
use std::sync::Mutex;

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use url::Url;

/// A user agent with a cookie jar, speaking to one provider.
#[derive(Debug)]
pub struct Browser {
    http: reqwest::Client,
    issuer: Url,
    cookies: Mutex<BTreeMap<String, String>>,
}

/// What the provider answered last, when it ended a walk.
#[derive(Debug)]
pub struct Page {
    /// The HTTP status.
    pub status: u16,
    /// The body, as text.
    pub body: String,
}

impl Browser {
    /// A browser with an empty cookie jar, for the provider at `issuer`.
    ///
    /// # Panics
    /// If `issuer` is not a URL.
    pub fn new(issuer: &str) -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .build()
                .expect("an HTTP client"),
            issuer: Url::parse(issuer).expect("the issuer is a URL"),
            cookies: Mutex::default(),
        }
    }

    /// Approves a device sign-in as `login`: opens `verification_uri_complete`, confirms the
    /// user code, signs in and consents.
    ///
    /// # Errors
    /// What went wrong, with the page that said so.
    pub async fn approve_device(
        &self,
        verification_uri_complete: &str,
        login: &str,
    ) -> Result<Page, String> {
        let location = self
            .confirm_user_code(verification_uri_complete, "confirm")
            .await?;
        let location = self
            .interaction(&location, &[("action", "approve"), ("login", login)])
            .await?;
        self.follow(&location).await.and_then(|end| match end {
            Ok(page) => Ok(page),
            Err(elsewhere) => Err(format!(
                "the device flow redirected out of the provider, to {elsewhere}"
            )),
        })
    }

    /// Cancels a device sign-in at the user-code page (`abort`): the device gets
    /// `access_denied`.
    ///
    /// # Errors
    /// What went wrong.
    pub async fn deny_device(&self, verification_uri_complete: &str) -> Result<(), String> {
        let page = self.user_code_form(verification_uri_complete).await?;
        let response = self
            .post(
                &page.0,
                &[("xsrf", &page.1), ("user_code", &page.2), ("abort", "yes")],
            )
            .await?;
        if response.status == 200 || response.status == 400 {
            Ok(())
        } else {
            Err(format!(
                "aborting answered HTTP {}: {}",
                response.status, response.body
            ))
        }
    }

    /// Walks an authorization request (RFC 6749 §4.1.1) as `login`: opens `authorization_url`,
    /// approves (or, `approve = false`, cancels) at the interaction, and follows the provider's
    /// redirects until one leaves it: that URL, the client's redirect URI with `code`, `state`
    /// and `iss` (or `error`), is returned, not followed.
    ///
    /// # Errors
    /// What went wrong, with the page that said so.
    pub async fn authorize(
        &self,
        authorization_url: &str,
        login: &str,
        approve: bool,
    ) -> Result<Url, String> {
        let location = match self.follow(authorization_url).await? {
            Err(elsewhere) => return Ok(elsewhere),
            Ok(page) => {
                let details: serde_json::Value =
                    serde_json::from_str(&page.body).map_err(|_| {
                        format!("no interaction page (HTTP {}): {}", page.status, page.body)
                    })?;
                let uid = details["uid"].as_str().ok_or("no interaction uid")?;
                self.issuer
                    .join(&format!("/interaction/{uid}"))
                    .map_err(|e| e.to_string())?
                    .to_string()
            }
        };
        let form: &[(&str, &str)] = if approve {
            &[("action", "approve"), ("login", login)]
        } else {
            &[("action", "deny")]
        };
        let location = self.interaction(&location, form).await?;
        match self.follow(&location).await? {
            Err(elsewhere) => Ok(elsewhere),
            Ok(page) => Err(format!(
                "the provider did not redirect to the client (HTTP {}): {}",
                page.status, page.body
            )),
        }
    }

    /// GETs `url` and follows redirects within the provider: `Ok(page)` where it stops, or
    /// `Err(url)` of the first redirect out of it.
    async fn follow(&self, url: &str) -> Result<Result<Page, Url>, String> {
        let mut url = self.issuer.join(url).map_err(|e| e.to_string())?;
        for _ in 0..10 {
            if url.origin() != self.issuer.origin() {
                return Ok(Err(url));
            }
            let response = self.send(self.http.get(url.clone())).await?;
            match response.1 {
                Some(next) => url = url.join(&next).map_err(|e| e.to_string())?,
                None => return Ok(Ok(response.0)),
            }
        }
        Err("too many redirects".into())
    }

    /// POSTs `form` to the interaction at `location` (relative to the issuer) and returns
    /// where it redirects.
    async fn interaction(&self, location: &str, form: &[(&str, &str)]) -> Result<String, String> {
        let url = self.issuer.join(location).map_err(|e| e.to_string())?;
        let (page, next) = self.send(with_form(self.http.post(url), form)).await?;
        next.ok_or_else(|| {
            format!(
                "the interaction answered HTTP {}: {}",
                page.status, page.body
            )
        })
    }

    /// Opens the user-code page and submits it with `button` (`confirm`): the interaction's
    /// location.
    async fn confirm_user_code(
        &self,
        verification_uri_complete: &str,
        button: &str,
    ) -> Result<String, String> {
        let (action, xsrf, user_code) = self.user_code_form(verification_uri_complete).await?;
        let (page, next) = self
            .send(with_form(
                self.http
                    .post(self.issuer.join(&action).map_err(|e| e.to_string())?),
                &[
                    ("xsrf", xsrf.as_str()),
                    ("user_code", user_code.as_str()),
                    (button, "yes"),
                ],
            ))
            .await?;
        next.ok_or_else(|| {
            format!(
                "confirming the user code answered HTTP {}: {}",
                page.status, page.body
            )
        })
    }

    /// The user-code form of `verification_uri_complete`: its action, `xsrf` and `user_code`.
    async fn user_code_form(
        &self,
        verification_uri_complete: &str,
    ) -> Result<(String, String, String), String> {
        let url = Url::parse(verification_uri_complete).map_err(|e| e.to_string())?;
        let (page, _) = self.send(self.http.get(url)).await?;
        let action =
            attribute(&page.body, "action=\"").ok_or_else(|| format!("no form: {}", page.body))?;
        let xsrf = hidden(&page.body, "xsrf").ok_or_else(|| format!("no xsrf: {}", page.body))?;
        let user_code = hidden(&page.body, "user_code")
            .ok_or_else(|| format!("no user_code: {}", page.body))?;
        Ok((action, xsrf, user_code))
    }

    async fn post(&self, url: &str, form: &[(&str, &str)]) -> Result<Page, String> {
        let url = self.issuer.join(url).map_err(|e| e.to_string())?;
        Ok(self.send(with_form(self.http.post(url), form)).await?.0)
    }

    /// Sends with the cookie jar, keeps the cookies set: the page and the redirect's
    /// `Location`, if any.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<(Page, Option<String>), String> {
        let cookie = {
            let jar = self.cookies.lock().expect("cookie jar");
            jar.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        };
        let request = if cookie.is_empty() {
            request
        } else {
            request.header(COOKIE, cookie)
        };
        let response = request
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        {
            let mut jar = self.cookies.lock().expect("cookie jar");
            for header in response.headers().get_all(SET_COOKIE) {
                let Ok(text) = header.to_str() else { continue };
                let pair = text.split(';').next().unwrap_or_default();
                let Some((name, value)) = pair.split_once('=') else {
                    continue;
                };
                let expired = text
                    .to_ascii_lowercase()
                    .contains("expires=thu, 01 jan 1970");
                if value.is_empty() || expired {
                    jar.remove(name.trim());
                } else {
                    jar.insert(name.trim().to_owned(), value.trim().to_owned());
                }
            }
        }
        let status = response.status().as_u16();
        let location = (300..400)
            .contains(&status)
            .then(|| {
                response
                    .headers()
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            })
            .flatten();
        let body = response.text().await.unwrap_or_default();
        Ok((Page { status, body }, location))
    }
}

/// `request` with `form` as its `application/x-www-form-urlencoded` body.
fn with_form(request: reqwest::RequestBuilder, form: &[(&str, &str)]) -> reqwest::RequestBuilder {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    request
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(body)
}

/// The value of the first `prefix…"` in `html` (`action="`).
fn attribute(html: &str, prefix: &str) -> Option<String> {
    let start = html.find(prefix)? + prefix.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

/// The value of the hidden input `name`.
fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    attribute(html, &marker)
}

/// Delivers a redirect to the client's loopback listener as the browser would (`GET location`,
/// no proxy): the status the listener answered.
///
/// # Panics
/// If the listener cannot be reached.
pub async fn deliver_redirect(location: &str) -> reqwest::StatusCode {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("an HTTP client")
        .get(location)
        .send()
        .await
        .expect("the loopback listener answers")
        .status()
}
