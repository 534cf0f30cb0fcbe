//! The authorization code grant with PKCE in the person's browser (RFC 6749 §4.1, RFC 7636
//! S256, RFC 8252 §7.3 loopback redirect, RFC 9207 `iss`, OpenID Connect `nonce`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::task::Poll;
use std::time::Duration;

use base64::Engine as _;
use en_auth_core::{Error, InvalidResponseError, Token};
use oauth2::{CsrfToken, PkceCodeChallenge, PkceCodeVerifier};
use secrecy::{ExposeSecret, SecretString};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use url::Url;

use super::{SignInError, UserSignIn};
use crate::wire::printable;

/// How long [`PendingBrowserSignIn::finish`] waits for the browser's redirect by default: five
/// minutes.
pub const DEFAULT_BROWSER_TIMEOUT: Duration = Duration::from_secs(300);

/// The path of the loopback redirect URI.
const CALLBACK_PATH: &str = "/callback";

/// What [`UserSignIn::listen`] gives: the listener, one on ::1 for `localhost`, the
/// `redirect_uri`, the callback path.
type Listening = (TcpListener, Option<TcpListener>, String, String);

/// The largest redirect request read from the browser.
const MAX_REQUEST_BYTES: usize = 16 * 1024;

/// Options of a browser sign-in.
#[derive(Debug, Clone, Default)]
pub struct BrowserSignIn {
    identity_provider: Option<String>,
    params: Vec<(String, String)>,
    timeout: Option<Duration>,
}

impl BrowserSignIn {
    /// The default options: the environment's scopes, no extra parameter, a redirect awaited
    /// for [`DEFAULT_BROWSER_TIMEOUT`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Cognito managed login's `identity_provider` parameter: straight to a federated identity
    /// provider (a SAML or OIDC provider's name in the user pool, `Google`, …) instead of the
    /// sign-in page.
    #[must_use]
    pub fn identity_provider(mut self, name: impl Into<String>) -> Self {
        self.identity_provider = Some(name.into());
        self
    }

    /// An extra parameter of the authorization request (`prompt`, `login_hint`, …).
    #[must_use]
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((name.into(), value.into()));
        self
    }

    /// How long [`PendingBrowserSignIn::finish`] waits for the redirect.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

/// How a program shows the authorization URL: opens a browser, or prints it.
pub trait OpenBrowser: Send {
    /// Shows `url` to the person (it carries no secret: PKCE keeps the verifier here).
    fn open(self, url: &Url);
}

impl<F: FnOnce(&Url) + Send> OpenBrowser for F {
    fn open(self, url: &Url) {
        self(url);
    }
}

/// A browser sign-in under way: the authorization URL to open, a listener on 127.0.0.1 waiting
/// for the redirect. `Debug` shows neither the state, the nonce nor the verifier.
pub struct PendingBrowserSignIn {
    sign_in: UserSignIn,
    url: Url,
    redirect_uri: String,
    callback_path: String,
    listener: TcpListener,
    /// For a `localhost` redirect URI, the same port on ::1.
    listener_v6: Option<TcpListener>,
    state: SecretString,
    nonce: Option<SecretString>,
    verifier: PkceCodeVerifier,
    issuer: String,
    iss_required: bool,
    timeout: Duration,
}

impl std::fmt::Debug for PendingBrowserSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingBrowserSignIn")
            .field("redirect_uri", &self.redirect_uri)
            .field("issuer", &self.issuer)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl UserSignIn {
    /// Signs a person in in a browser: [`start_browser`](Self::start_browser), `open` shows the
    /// URL, then [`PendingBrowserSignIn::finish`].
    ///
    /// # Errors
    /// As [`start_browser`](Self::start_browser) and [`PendingBrowserSignIn::finish`].
    pub async fn browser(
        &self,
        options: BrowserSignIn,
        open: impl OpenBrowser,
    ) -> Result<Token, SignInError> {
        let pending = self.start_browser(options).await?;
        open.open(pending.authorization_url());
        pending.finish().await
    }

    /// The loopback listeners for the redirect (for `localhost`, a second one on ::1), the
    /// `redirect_uri` to send and the path it waits on: the environment's registered redirect
    /// URI, else 127.0.0.1 on a free port.
    async fn listen(&self) -> Result<Listening, SignInError> {
        let Some(registered) = self.client.environment.redirect_uri() else {
            let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                .await
                .map_err(|e| {
                    super::configuration(format!(
                        "cannot listen on 127.0.0.1 for the browser's redirect: {e}"
                    ))
                })?;
            let port = listener
                .local_addr()
                .map_err(|e| super::configuration(format!("the loopback listener: {e}")))?
                .port();
            let redirect_uri = format!("http://127.0.0.1:{port}{CALLBACK_PATH}");
            return Ok((listener, None, redirect_uri, CALLBACK_PATH.to_owned()));
        };
        let port = registered.port().unwrap_or_default();
        let refused = |ip: IpAddr, e: std::io::Error| {
            SignInError::from(self.client.environment.error(
                "redirect_uri",
                format!(
                    "cannot listen on {ip} port {port} for the browser's redirect to \
                     {registered}: {e}"
                ),
            ))
        };
        let bind = |ip: IpAddr| async move {
            TcpListener::bind((ip, port))
                .await
                .map_err(|e| refused(ip, e))
        };
        let (listener, listener_v6) = match registered.host() {
            Some(url::Host::Ipv4(ip)) => (bind(IpAddr::V4(ip)).await?, None),
            Some(url::Host::Ipv6(ip)) => (bind(IpAddr::V6(ip)).await?, None),
            // `localhost`: browsers try ::1 and 127.0.0.1, so both are held (RFC 8252 §8.3: no
            // other program may answer on either). A machine without IPv6 has only the one.
            _ => {
                let v4 = bind(IpAddr::V4(Ipv4Addr::LOCALHOST)).await?;
                let v6 = match TcpListener::bind((Ipv6Addr::LOCALHOST, port)).await {
                    Ok(listener) => Some(listener),
                    Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                        return Err(refused(IpAddr::V6(Ipv6Addr::LOCALHOST), e));
                    }
                    // No IPv6 on this machine: nobody can listen there either.
                    Err(_) => None,
                };
                (v4, v6)
            }
        };
        Ok((
            listener,
            listener_v6,
            registered.as_str().to_owned(),
            registered.path().to_owned(),
        ))
    }

    /// Starts a browser sign-in: listens for the redirect — on 127.0.0.1 on a free port
    /// (RFC 8252 §7.3), or at the environment's registered
    /// [`redirect_uri`](en_auth_core::Environment::with_redirect_uri), its port and path — and
    /// builds the authorization request (RFC 6749 §4.1.1) to the `authorization_endpoint` (the
    /// environment's `authorization_url`, else the issuer's metadata): `response_type=code`, the
    /// client id, the `redirect_uri`, the environment's scopes, a random `state`, a PKCE S256
    /// `code_challenge` (RFC 7636 §4.2, from the `oauth2` crate), a random `nonce` when the
    /// scopes include `openid`, `identity_provider` and extra parameters.
    ///
    /// # Errors
    /// [`SignInError::Request`]: no authorization endpoint (neither named nor discovered), no
    /// loopback port (the registered redirect URI's port in use: a configuration error naming
    /// `redirect_uri`).
    pub async fn start_browser(
        &self,
        options: BrowserSignIn,
    ) -> Result<PendingBrowserSignIn, SignInError> {
        let client = &self.client;
        let endpoints = client.sign_in_endpoints().await?;
        let mut url = client.required(
            &endpoints,
            endpoints.authorization.as_ref(),
            "authorization_endpoint",
            "authorization_url",
        )?;
        let (listener, listener_v6, redirect_uri, callback_path) = self.listen().await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let state = CsrfToken::new_random();
        let scopes = client.environment.scopes();
        let nonce = scopes
            .iter()
            .any(|s| s == "openid")
            .then(CsrfToken::new_random);
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("client_id", client.client_info.client_id())
                .append_pair("redirect_uri", &redirect_uri);
            if !scopes.is_empty() {
                query.append_pair("scope", &scopes.join(" "));
            }
            query
                .append_pair("state", state.secret())
                .append_pair("code_challenge", challenge.as_str())
                .append_pair("code_challenge_method", challenge.method().as_str());
            if let Some(nonce) = &nonce {
                query.append_pair("nonce", nonce.secret());
            }
            if let Some(idp) = &options.identity_provider {
                query.append_pair("identity_provider", idp);
            }
            for (name, value) in &options.params {
                query.append_pair(name, value);
            }
        }
        let issuer = client
            .environment
            .issuer()
            .map(|i| i.as_str().to_owned())
            .unwrap_or_default();
        Ok(PendingBrowserSignIn {
            sign_in: self.clone(),
            url,
            redirect_uri,
            callback_path,
            listener,
            listener_v6,
            state: SecretString::from(state.secret().clone()),
            nonce: nonce.map(|n| SecretString::from(n.secret().clone())),
            verifier,
            issuer,
            iss_required: endpoints.iss_parameter_supported,
            timeout: options.timeout.unwrap_or(DEFAULT_BROWSER_TIMEOUT),
        })
    }
}

impl PendingBrowserSignIn {
    /// The URL to open in the browser (the authorization request).
    pub fn authorization_url(&self) -> &Url {
        &self.url
    }

    /// The loopback redirect URI: `http://127.0.0.1:<port>/callback`, or the environment's
    /// registered one ([`Environment::with_redirect_uri`](en_auth_core::Environment::with_redirect_uri)).
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// Waits for the browser's redirect to the loopback listener (other paths, such as
    /// `/favicon.ico`, get a 404 and the wait goes on), answers the browser with a short page,
    /// checks the redirect — `state` first (RFC 6749 §10.12), then `iss` (RFC 9207 §2.4: it must
    /// be the issuer when present, and present when the metadata says
    /// `authorization_response_iss_parameter_supported`; not checked for an environment without
    /// an `issuer`, which names its endpoints itself), then `error` — and exchanges the
    /// `code` with the PKCE `code_verifier` at the token endpoint (RFC 6749 §4.1.3). When a
    /// `nonce` was sent, the id token's `nonce` claim must be it (read from the id token as the
    /// token endpoint sent it over TLS or loopback, OpenID Connect Core §3.1.3.7).
    ///
    /// # Errors
    /// [`SignInError::StateMismatch`], [`SignInError::IssuerMismatch`],
    /// [`SignInError::NonceMismatch`], [`SignInError::AccessDenied`] (the person cancelled),
    /// [`SignInError::Refused`] (another `error`), [`SignInError::Request`]: no redirect within
    /// the timeout, the code refused at the token endpoint, …
    pub async fn finish(self) -> Result<Token, SignInError> {
        let (mut stream, query) = match tokio::time::timeout(self.timeout, self.redirect()).await {
            Ok(redirect) => redirect?,
            Err(_) => {
                return Err(super::configuration(format!(
                    "no redirect from the browser within {} s",
                    self.timeout.as_secs()
                ))
                .into())
            }
        };
        let result = self.complete(&query).await;
        match &result {
            Ok(_) => {
                respond(
                    &mut stream,
                    "200 OK",
                    "Signed in: you can close this window and go back to the terminal.",
                )
                .await;
            }
            Err(_) => {
                respond(
                    &mut stream,
                    "400 Bad Request",
                    "The sign-in did not complete: see the terminal.",
                )
                .await;
            }
        }
        result
    }

    /// Checks the redirect's `query` and exchanges its code.
    async fn complete(&self, query: &[(String, String)]) -> Result<Token, SignInError> {
        let value = |name: &str| {
            query
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        if value("state") != Some(self.state.expose_secret()) {
            return Err(SignInError::StateMismatch);
        }
        match value("iss") {
            // Without an `issuer` in the environment there is none to compare with.
            _ if self.issuer.is_empty() => {}
            Some(iss) if iss == self.issuer => {}
            None if !self.iss_required => {}
            received => {
                return Err(SignInError::IssuerMismatch {
                    expected: self.issuer.clone(),
                    received: received.map(|r| printable(r, 256)),
                })
            }
        }
        if let Some(code) = value("error") {
            return Err(SignInError::from_code(code, value("error_description")));
        }
        let Some(code) = value("code") else {
            return Err(Error::from(InvalidResponseError::new(
                self.redirect_uri.as_str(),
                None,
                "the redirect carries neither `code` nor `error`",
            ))
            .into());
        };
        let token = self
            .sign_in
            .client
            .token_request(
                "authorization_code",
                &[
                    ("code", code),
                    ("redirect_uri", &self.redirect_uri),
                    ("code_verifier", self.verifier.secret()),
                ],
            )
            .await?;
        if let Some(nonce) = &self.nonce {
            let claimed = token
                .id_token()
                .and_then(|id| id_token_claim(id.expose_secret(), "nonce"));
            if claimed.as_deref() != Some(nonce.expose_secret()) {
                return Err(SignInError::NonceMismatch);
            }
        }
        Ok(token)
    }

    /// Accepts connections until one asks for the callback path: the connection (answered
    /// once the sign-in completes) and its query.
    async fn redirect(&self) -> Result<(TcpStream, Vec<(String, String)>), SignInError> {
        loop {
            let accepted = std::future::poll_fn(|cx| {
                if let Poll::Ready(accepted) = self.listener.poll_accept(cx) {
                    return Poll::Ready(accepted);
                }
                match &self.listener_v6 {
                    Some(v6) => v6.poll_accept(cx),
                    None => Poll::Pending,
                }
            })
            .await;
            let (mut stream, _) = accepted.map_err(|e| {
                SignInError::from(super::configuration(format!(
                    "the loopback listener failed: {e}"
                )))
            })?;
            let url = read_request_target(&mut stream).await.and_then(|target| {
                Url::parse("http://127.0.0.1")
                    .and_then(|base| base.join(&target))
                    .ok()
            });
            match url {
                Some(url) if url.path() == self.callback_path => {
                    let query = url.query_pairs().into_owned().collect();
                    return Ok((stream, query));
                }
                Some(_) => respond(&mut stream, "404 Not Found", "Not found.").await,
                None => respond(&mut stream, "400 Bad Request", "Not a sign-in redirect.").await,
            }
        }
    }
}

/// The request target of an HTTP/1 `GET` read from `stream` (parsed with `httparse`), or `None`.
async fn read_request_target(stream: &mut TcpStream) -> Option<String> {
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .ok()?
            .ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(&buffer) {
            Ok(httparse::Status::Complete(_)) => {
                return (request.method == Some("GET"))
                    .then(|| request.path.map(str::to_owned))
                    .flatten();
            }
            Ok(httparse::Status::Partial) if buffer.len() < MAX_REQUEST_BYTES => {}
            _ => return None,
        }
    }
}

/// Answers the browser with a small text page and closes the connection.
async fn respond(stream: &mut TcpStream, status: &str, text: &str) {
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// A string claim of a JWT's payload, read without checking the signature (the id token came
/// straight from the token endpoint).
fn id_token_claim(jwt: &str, claim: &str) -> Option<String> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get(claim)?.as_str().map(str::to_owned)
}
