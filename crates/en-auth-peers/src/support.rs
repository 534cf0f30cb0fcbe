//! Helpers the test suites share: a log capture for the secrecy scans, a closed loopback port,
//! RFC 7662 introspection, and a protected resource that introspects every bearer token.

use std::collections::HashSet;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;

/// Everything `tracing` writes at TRACE level on this thread, while its guard lives: every
/// event, with the fields of the spans it is in, and a line for every span as it closes, with
/// all its fields (those recorded after the last event in it too).
#[derive(Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    /// Starts capturing on this thread (use a current-thread runtime); capturing stops when
    /// the guard is dropped.
    pub fn install() -> (Self, tracing::subscriber::DefaultGuard) {
        let capture = Self::default();
        let writer = capture.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
            .with_writer(move || writer.clone())
            .finish();
        (capture, tracing::subscriber::set_default(subscriber))
    }

    /// What was written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

impl Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A loopback port free now, for a server that must be told its port (redis-server): bound,
/// then freed. Another process may take it before the server does (the server then fails to
/// start, saying so); a port for nobody to answer on is [`closed_port`].
///
/// # Panics
/// If no loopback port can be bound.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("bind a loopback port")
        .port()
}

/// A loopback port nobody listens on, nor can for the rest of this process: a connection to it
/// is refused.
///
/// The port is held by a socket bound to it that never listens, kept open until the process
/// exits (without `SO_REUSEADDR`, so no other socket, of this process or another, can bind it;
/// nor is it handed out as anyone's ephemeral port). A port bound and freed again could be taken
/// by a test running beside, which would then answer.
///
/// # Panics
/// If no loopback port can be bound.
pub fn closed_port() -> u16 {
    static HELD: Mutex<Vec<tokio::net::TcpSocket>> = Mutex::new(Vec::new());
    let socket = tokio::net::TcpSocket::new_v4().expect("a TCP socket");
    socket
        .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .expect("bind a loopback port");
    let port = socket.local_addr().expect("its address").port();
    HELD.lock().unwrap_or_else(|e| e.into_inner()).push(socket);
    port
}

/// Where and as whom a resource server introspects tokens (RFC 7662).
#[derive(Clone, Debug)]
pub struct Introspection {
    /// The introspection endpoint.
    pub endpoint: String,
    /// The resource server's client id.
    pub client_id: String,
    /// Its secret (sent with HTTP Basic authentication).
    pub secret: String,
}

impl Introspection {
    /// What the authorization server says of `token`.
    ///
    /// # Panics
    /// If the introspection request fails or is refused: the peer and the test disagree.
    pub async fn introspect(&self, http: &reqwest::Client, token: &str) -> Value {
        let form: String = url::form_urlencoded::byte_serialize(token.as_bytes()).collect();
        let response = http
            .post(&self.endpoint)
            .basic_auth(&self.client_id, Some(&self.secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("token={form}"))
            .send()
            .await
            .expect("introspection request");
        assert_eq!(response.status(), 200, "introspection refused");
        serde_json::from_slice(&response.bytes().await.expect("introspection body"))
            .expect("introspection JSON")
    }
}

/// A protected resource on loopback that has the authorization server introspect every bearer
/// token it receives, and counts what it saw.
pub struct IntrospectedResource {
    url: String,
    state: Arc<ResourceState>,
}

struct ResourceState {
    introspection: Introspection,
    required_scope: Option<String>,
    http: reqwest::Client,
    active: AtomicU64,
    inactive: AtomicU64,
    tokens: Mutex<HashSet<String>>,
}

impl IntrospectedResource {
    /// Starts the resource at `/resource` on a free loopback port, on the current runtime. A
    /// request is authorized when its token is active and, if `required_scope` is given, has
    /// exactly that scope.
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub async fn start(introspection: Introspection, required_scope: Option<&str>) -> Self {
        let state = Arc::new(ResourceState {
            introspection,
            required_scope: required_scope.map(str::to_owned),
            http: reqwest::Client::new(),
            active: AtomicU64::new(0),
            inactive: AtomicU64::new(0),
            tokens: Mutex::new(HashSet::new()),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let address: SocketAddr = listener.local_addr().expect("local address");
        let app = axum::Router::new()
            .route("/resource", axum::routing::get(protected))
            .with_state(Arc::clone(&state));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url: format!("http://{address}/resource"),
            state,
        }
    }

    /// The resource's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Requests authorized.
    pub fn active(&self) -> u64 {
        self.state.active.load(Ordering::SeqCst)
    }

    /// Requests refused (no token, or one that is not active or has another scope).
    pub fn inactive(&self) -> u64 {
        self.state.inactive.load(Ordering::SeqCst)
    }

    /// The different tokens authorized (for a test to introspect what a client sent).
    pub fn tokens(&self) -> Vec<String> {
        self.state
            .tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    /// How many different tokens were authorized.
    pub fn distinct_tokens(&self) -> usize {
        self.state
            .tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }
}

async fn protected(State(state): State<Arc<ResourceState>>, headers: HeaderMap) -> StatusCode {
    let Some(token) = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        state.inactive.fetch_add(1, Ordering::SeqCst);
        return StatusCode::UNAUTHORIZED;
    };
    let info = state.introspection.introspect(&state.http, token).await;
    let scope_ok = state
        .required_scope
        .as_deref()
        .is_none_or(|scope| info["scope"] == scope);
    if info["active"] == true && scope_ok {
        state
            .tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(token.to_owned());
        state.active.fetch_add(1, Ordering::SeqCst);
        StatusCode::OK
    } else {
        state.inactive.fetch_add(1, Ordering::SeqCst);
        StatusCode::UNAUTHORIZED
    }
}
