//! The OAuth2 token endpoint and protected resource emulator.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;

use crate::resource::ProtectedResource;
use crate::serving::{on_own_thread, Serving};

/// How the token endpoint answers the next token requests.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Behaviour {
    /// Issue tokens normally.
    Normal,
    /// Answer every token request with this HTTP status and JSON body.
    Fail {
        /// The HTTP status.
        status: u16,
        /// The body, sent as `application/json`.
        body: String,
    },
    /// Wait this long before answering (normally).
    Delay(Duration),
}

/// Configures an [`OAuthServer`].
#[derive(Debug, Default)]
pub struct OAuthServerBuilder {
    clients: Vec<(String, String)>,
    lifetime_secs: Option<u64>,
    resource_body: Option<String>,
}

impl OAuthServerBuilder {
    /// Registers a confidential client allowed the client-credentials grant.
    #[must_use]
    pub fn client(mut self, id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.clients.push((id.into(), secret.into()));
        self
    }

    /// The lifetime of issued tokens, in seconds (`expires_in`); default 3600.
    #[must_use]
    pub fn token_lifetime_secs(mut self, secs: u64) -> Self {
        self.lifetime_secs = Some(secs);
        self
    }

    /// The body the protected resource returns to authorized requests; default
    /// `hello, <client id>`.
    #[must_use]
    pub fn resource_body(mut self, body: impl Into<String>) -> Self {
        self.resource_body = Some(body.into());
        self
    }

    /// Starts the server on `127.0.0.1` on a free port, as a task of the current Tokio runtime.
    ///
    /// The server stops when the returned value is dropped *or when this runtime shuts down*,
    /// whichever comes first: a server started in one `#[tokio::test]` (each has a runtime of
    /// its own) refuses connections once that test ends. For a server shared by several tests,
    /// use [`start_on_own_thread`](Self::start_on_own_thread).
    ///
    /// # Panics
    /// If no loopback port can be bound (a test-environment failure), or if called outside a
    /// Tokio runtime.
    pub async fn start(self) -> OAuthServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port for the OAuth2 emulator");
        let addr = listener.local_addr().expect("local address");
        let state = Arc::new(Shared {
            clients: self.clients.into_iter().collect(),
            lifetime_secs: AtomicU64::new(self.lifetime_secs.unwrap_or(3600)),
            behaviour: Mutex::new(Behaviour::Normal),
            tokens: Mutex::new(HashMap::new()),
            next_token: AtomicU64::new(1),
            seed: RandomState::new(),
            token_requests: AtomicU64::new(0),
            tokens_issued: AtomicU64::new(0),
            issued: Mutex::new(Vec::new()),
            resource: ProtectedResource::new(self.resource_body),
            hold: tokio::sync::watch::channel(false).0,
        });
        let app = Router::new()
            .route("/oauth2/token", post(token))
            .route("/resource", get(resource).post(resource))
            .with_state(Arc::clone(&state));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        OAuthServer {
            addr,
            state,
            _serving: Serving::Task(server),
        }
    }

    /// Starts the server on `127.0.0.1` on a free port, on a thread of its own with a
    /// single-threaded Tokio runtime of its own, and returns once it listens.
    ///
    /// The server serves until the returned value is dropped, whatever happens to the caller's
    /// runtime: put it in a `static` (`LazyLock`, `OnceLock`) to share it between tests, each
    /// of which runs its own runtime. Its methods work from any runtime and from synchronous
    /// code. A `static` is never dropped, so such a server serves until the process exits.
    ///
    /// ```
    /// use std::sync::LazyLock;
    /// use en_auth_testkit::OAuthServer;
    ///
    /// static SERVER: LazyLock<OAuthServer> =
    ///     LazyLock::new(|| OAuthServer::builder().client("svc", "secret").start_on_own_thread());
    ///
    /// // Two runtimes one after the other, as two `#[tokio::test]`s would have: the server
    /// // outlives the first.
    /// for _ in 0..2 {
    ///     let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    ///     let status = runtime.block_on(async {
    ///         reqwest::Client::new()
    ///             .post(SERVER.token_url())
    ///             .basic_auth("svc", Some("secret"))
    ///             .header("Content-Type", "application/x-www-form-urlencoded")
    ///             .body("grant_type=client_credentials")
    ///             .send()
    ///             .await
    ///             .unwrap()
    ///             .status()
    ///     });
    ///     assert_eq!(status, 200);
    /// }
    /// assert_eq!(SERVER.tokens_issued(), 2);
    /// ```
    ///
    /// # Panics
    /// If no loopback port can be bound, or the thread or its runtime cannot be created.
    pub fn start_on_own_thread(self) -> OAuthServer {
        let ((addr, state), serving) = on_own_thread(
            "oauth-emulator",
            move || self.start(),
            |server: &OAuthServer| (server.addr, Arc::clone(&server.state)),
        );
        OAuthServer {
            addr,
            state,
            _serving: serving,
        }
    }
}

struct Shared {
    clients: HashMap<String, String>,
    /// The lifetime of the tokens issued next, in seconds.
    lifetime_secs: AtomicU64,
    behaviour: Mutex<Behaviour>,
    tokens: Mutex<HashMap<String, (String, Instant)>>,
    next_token: AtomicU64,
    seed: RandomState,
    token_requests: AtomicU64,
    tokens_issued: AtomicU64,
    /// Every access token issued, in order.
    issued: Mutex<Vec<String>>,
    resource: ProtectedResource,
    hold: tokio::sync::watch::Sender<bool>,
}

/// A running OAuth2 token endpoint and protected resource on loopback.
///
/// It stops when dropped. One started with [`OAuthServerBuilder::start`] also stops when the
/// Tokio runtime that started it shuts down — so a `static` server started that way in one
/// `#[tokio::test]` is dead for the next; start a shared one with
/// [`OAuthServerBuilder::start_on_own_thread`] instead. Its methods are synchronous and work
/// from any thread.
pub struct OAuthServer {
    addr: SocketAddr,
    state: Arc<Shared>,
    _serving: Serving,
}

impl OAuthServer {
    /// A builder with no clients, token lifetime 3600 s.
    pub fn builder() -> OAuthServerBuilder {
        OAuthServerBuilder::default()
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The token endpoint, `<base>/oauth2/token`.
    pub fn token_url(&self) -> String {
        format!("{}/oauth2/token", self.base_url())
    }

    /// The protected resource, `<base>/resource`.
    pub fn resource_url(&self) -> String {
        format!("{}/resource", self.base_url())
    }

    /// Sets how the token endpoint answers from now on.
    pub fn set_behaviour(&self, behaviour: Behaviour) {
        *lock(&self.state.behaviour) = behaviour;
    }

    /// Sets the lifetime, in seconds (`expires_in`), of the tokens issued from now on; those
    /// issued before keep theirs. A test gives a token a short life to see it expire, and the
    /// next a long one, so that nothing it measures afterwards depends on how fast it runs.
    pub fn set_token_lifetime_secs(&self, secs: u64) {
        self.state.lifetime_secs.store(secs, Ordering::SeqCst);
    }

    /// Holds every token request from now on: each is counted on arrival, then waits, unanswered,
    /// until [`OAuthServer::release_token_requests`].
    pub fn hold_token_requests(&self) {
        self.state.hold.send_replace(true);
    }

    /// Lets held token requests (and later ones) proceed.
    pub fn release_token_requests(&self) {
        self.state.hold.send_replace(false);
    }

    /// Forgets every issued token: the resource rejects them all from now on (as after a key
    /// rotation or a revocation).
    pub fn revoke_all(&self) {
        lock(&self.state.tokens).clear();
    }

    /// Token requests received (including failed ones).
    pub fn token_requests(&self) -> u64 {
        self.state.token_requests.load(Ordering::SeqCst)
    }

    /// Tokens issued.
    pub fn tokens_issued(&self) -> u64 {
        self.state.tokens_issued.load(Ordering::SeqCst)
    }

    /// Every access token issued so far, in order (revoked ones too): for tests that check a
    /// client never shows them.
    pub fn issued_tokens(&self) -> Vec<String> {
        lock(&self.state.issued).clone()
    }

    /// Requests the protected resource received.
    pub fn resource_requests(&self) -> u64 {
        self.state.resource.requests()
    }

    /// Requests the protected resource accepted.
    pub fn resource_authorized(&self) -> u64 {
        self.state.resource.authorized()
    }

    /// Requests that reached the protected resource with no `Authorization` header.
    pub fn missing_authorization(&self) -> u64 {
        self.state.resource.missing_authorization()
    }

    /// The `X-Api-Key` of the last request to the resource, if it had one.
    pub fn last_api_key(&self) -> Option<String> {
        self.state.resource.last_api_key()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn oauth_error(status: StatusCode, code: &str, description: &str) -> Response {
    let body = serde_json::json!({"error": code, "error_description": description});
    let mut response = (status, axum::Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Basic realm=\"token\""),
        );
    }
    response
}

fn form_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

async fn token(State(state): State<Arc<Shared>>, headers: HeaderMap, body: String) -> Response {
    state.token_requests.fetch_add(1, Ordering::SeqCst);
    let mut hold = state.hold.subscribe();
    let _ = hold.wait_for(|held| !held).await;
    let behaviour = lock(&state.behaviour).clone();
    match behaviour {
        Behaviour::Normal => {}
        Behaviour::Delay(d) => tokio::time::sleep(d).await,
        Behaviour::Fail { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
        }
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "only client_credentials",
        );
    }
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|pair| {
            pair.split_once(':')
                .map(|(i, s)| (form_decode(i), form_decode(s)))
        });
    let (id, secret) = match basic {
        Some(pair) => pair,
        None => match (form.get("client_id"), form.get("client_secret")) {
            (Some(i), Some(s)) => (i.clone(), s.clone()),
            _ => {
                return oauth_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "no client authentication",
                )
            }
        },
    };
    if state.clients.get(&id) != Some(&secret) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
    }
    let n = state.next_token.fetch_add(1, Ordering::SeqCst);
    let mut hasher = state.seed.build_hasher();
    hasher.write_u64(n);
    let token = format!("tk{n}.{:016x}", hasher.finish());
    let lifetime = state.lifetime_secs.load(Ordering::SeqCst);
    // (A lifetime past what `Instant` holds: a token that never expires here.)
    let now = Instant::now();
    let expires = now
        .checked_add(Duration::from_secs(lifetime))
        .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 24 * 3600)))
        .unwrap_or(now);
    lock(&state.tokens).insert(token.clone(), (id, expires));
    lock(&state.issued).push(token.clone());
    state.tokens_issued.fetch_add(1, Ordering::SeqCst);
    let mut response = axum::Json(serde_json::json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": lifetime,
        "scope": form.get("scope").cloned().unwrap_or_default(),
    }))
    .into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

async fn resource(State(state): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    state.resource.answer(&headers, |token| {
        lock(&state.tokens)
            .get(token)
            .filter(|(_, expires)| Instant::now() < *expires)
            .map(|(client, _)| client.clone())
    })
}
