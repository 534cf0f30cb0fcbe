//! [`FaultyEndpoint`]: an HTTP endpoint on loopback that answers each request with the next
//! scripted [`Reply`] — well-formed or not: any status and body, silence, a body that trickles,
//! a dropped connection. For fault-injection tests of token clients.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::serving::{on_own_thread, Serving};

/// One scripted answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reply {
    /// A complete HTTP/1.1 response.
    Http {
        /// The status code.
        status: u16,
        /// Extra headers (`Content-Length` and `Connection: close` are added).
        headers: Vec<(String, String)>,
        /// The body.
        body: Vec<u8>,
    },
    /// Read the request, then say nothing until the client gives up.
    Silent,
    /// Send the status line and headers of a `200` JSON response announcing `body`, then the
    /// body `chunk` bytes at a time, one chunk every `interval`.
    Trickle {
        /// The body.
        body: Vec<u8>,
        /// Bytes per chunk.
        chunk: usize,
        /// Wait between chunks.
        interval: Duration,
    },
    /// Send a `200` JSON response of `len` bytes of spaces in chunked encoding (no
    /// `Content-Length`), so that only a streaming size cap can stop it.
    Endless {
        /// The body length in bytes.
        len: usize,
    },
    /// Read the request, then close the connection without answering.
    Close,
}

impl Reply {
    /// A JSON response with `status`.
    pub fn json(status: u16, body: impl Into<String>) -> Self {
        Self::with_type(status, "application/json", body)
    }

    /// A response with `status`, `Content-Type: content_type` and `body`.
    pub fn with_type(status: u16, content_type: &str, body: impl Into<String>) -> Self {
        Reply::Http {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into().into_bytes(),
        }
    }

    /// Adds a header to an [`Reply::Http`] reply (other replies are returned unchanged).
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if let Reply::Http { headers, .. } = &mut self {
            headers.push((name.into(), value.into()));
        }
        self
    }

    /// A token response: `200` with `access_token` and `expires_in` (as given, any JSON).
    pub fn token(access_token: &str, expires_in: &str) -> Self {
        Self::json(
            200,
            format!(
                r#"{{"access_token":"{access_token}","token_type":"Bearer","expires_in":{expires_in}}}"#
            ),
        )
    }
}

/// An HTTP endpoint on `127.0.0.1` answering from a script. When the script is empty it
/// answers with the fallback reply (by default a valid token response).
///
/// It stops when dropped. One started with [`FaultyEndpoint::start`] also stops when the Tokio
/// runtime that started it shuts down — so a `static` endpoint started that way in one
/// `#[tokio::test]` is dead for the next; start a shared one with
/// [`FaultyEndpoint::start_on_own_thread`] instead. Its methods are synchronous and work from
/// any thread.
pub struct FaultyEndpoint {
    addr: SocketAddr,
    state: Arc<State>,
    _serving: Serving,
}

struct State {
    script: Mutex<VecDeque<Reply>>,
    /// `None`: numbered valid token responses.
    fallback: Mutex<Option<Reply>>,
    requests: AtomicU64,
    tokens: AtomicU64,
}

impl FaultyEndpoint {
    /// Starts the endpoint on a free loopback port, as a task of the current Tokio runtime.
    ///
    /// The endpoint stops when the returned value is dropped *or when this runtime shuts
    /// down*, whichever comes first (see [`FaultyEndpoint::start_on_own_thread`]).
    ///
    /// # Panics
    /// If no loopback port can be bound, or if called outside a Tokio runtime.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        let state = Arc::new(State {
            script: Mutex::new(VecDeque::new()),
            fallback: Mutex::new(None),
            requests: AtomicU64::new(0),
            tokens: AtomicU64::new(0),
        });
        let shared = Arc::clone(&state);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = Arc::clone(&shared);
                tokio::spawn(async move {
                    let _ = serve(stream, &state).await;
                });
            }
        });
        Self {
            addr,
            state,
            _serving: Serving::Task(task),
        }
    }

    /// Starts the endpoint on a free loopback port, on a thread of its own with a
    /// single-threaded Tokio runtime of its own, and returns once it listens. It serves until
    /// the returned value is dropped, whatever happens to the caller's runtime (a `static`
    /// endpoint: until the process exits).
    ///
    /// ```
    /// use en_auth_testkit::{FaultyEndpoint, Reply};
    ///
    /// let endpoint = FaultyEndpoint::start_on_own_thread(); // no runtime needed here
    /// endpoint.push([Reply::json(503, "{}")]);
    /// let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// let status = runtime.block_on(async {
    ///     reqwest::Client::new().post(endpoint.url()).send().await.unwrap().status()
    /// });
    /// drop(runtime);
    /// assert_eq!(status, 503);
    /// assert_eq!(endpoint.requests(), 1);
    /// ```
    ///
    /// # Panics
    /// If no loopback port can be bound, or the thread or its runtime cannot be created.
    pub fn start_on_own_thread() -> Self {
        let ((addr, state), serving) =
            on_own_thread("faulty-endpoint", Self::start, |endpoint: &Self| {
                (endpoint.addr, Arc::clone(&endpoint.state))
            });
        Self {
            addr,
            state,
            _serving: serving,
        }
    }

    /// The URL of the endpoint (any path is accepted): `http://127.0.0.1:<port>/token`.
    pub fn url(&self) -> String {
        format!("http://{}/token", self.addr)
    }

    /// Appends replies to the script.
    pub fn push(&self, replies: impl IntoIterator<Item = Reply>) {
        lock(&self.state.script).extend(replies);
    }

    /// Sets the reply used when the script is empty. The default is a valid token response
    /// with a fresh `access_token` each time (`token-1`, `token-2`, …).
    pub fn set_fallback(&self, reply: Reply) {
        *lock(&self.state.fallback) = Some(reply);
    }

    /// Requests received.
    pub fn requests(&self) -> u64 {
        self.state.requests.load(Ordering::SeqCst)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Reads one request (headers and a `Content-Length` body), then plays the next reply.
async fn serve(mut stream: TcpStream, state: &State) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0_u8; 4096];
    let header_end = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    while buf.len() < header_end + length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    state.requests.fetch_add(1, Ordering::SeqCst);
    let reply = lock(&state.script).pop_front();
    let reply = match reply.or_else(|| lock(&state.fallback).clone()) {
        Some(reply) => reply,
        None => {
            let n = state.tokens.fetch_add(1, Ordering::SeqCst) + 1;
            Reply::token(&format!("token-{n}"), "3600")
        }
    };
    match reply {
        Reply::Http {
            status,
            headers,
            body,
        } => {
            let mut out = format!(
                "HTTP/1.1 {status} Scripted\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            for (name, value) in headers {
                out.push_str(&format!("{name}: {value}\r\n"));
            }
            out.push_str("\r\n");
            stream.write_all(out.as_bytes()).await?;
            stream.write_all(&body).await?;
            stream.shutdown().await
        }
        Reply::Silent => {
            // Hold the connection open until the client closes it.
            while stream.read(&mut chunk).await? > 0 {}
            Ok(())
        }
        Reply::Trickle {
            body,
            chunk: size,
            interval,
        } => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            stream.write_all(head.as_bytes()).await?;
            for piece in body.chunks(size.max(1)) {
                tokio::time::sleep(interval).await;
                stream.write_all(piece).await?;
                stream.flush().await?;
            }
            stream.shutdown().await
        }
        Reply::Endless { len } => {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
            stream.write_all(head.as_bytes()).await?;
            let piece = vec![b' '; 64 * 1024];
            let mut sent = 0;
            while sent < len {
                let n = piece.len().min(len - sent);
                stream.write_all(format!("{n:x}\r\n").as_bytes()).await?;
                stream.write_all(&piece[..n]).await?;
                stream.write_all(b"\r\n").await?;
                sent += n;
            }
            stream.write_all(b"0\r\n\r\n").await?;
            stream.shutdown().await
        }
        Reply::Close => Ok(()),
    }
}
