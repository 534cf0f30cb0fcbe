//! [`TcpProxy`]: a loopback TCP proxy that can go silent, for tests of what a client does when
//! its server stops answering without closing the connection (a hung Redis, a black-holed
//! network), or slow (a far or loaded server, a slow TLS handshake).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::serving::{on_own_thread, Serving};

/// A TCP proxy on a loopback port in front of `upstream`. While [silent](Self::set_silent) it
/// accepts and keeps connections but forwards nothing either way: bytes wait in the sockets'
/// buffers, unread, and flow again (none lost, none reordered) when it speaks again. With a
/// [delay](Self::set_delay) it holds every chunk it reads, either way, that long before
/// forwarding it.
///
/// It runs on a thread of its own (any runtime, or none, can use it) until dropped.
///
/// ```
/// use en_auth_testkit::TcpProxy;
///
/// let upstream = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// let proxy = TcpProxy::start(upstream.local_addr().unwrap());
/// proxy.set_silent(true);
/// assert!(proxy.is_silent());
/// assert_ne!(proxy.addr(), upstream.local_addr().unwrap());
/// ```
pub struct TcpProxy {
    addr: SocketAddr,
    silent: Arc<watch::Sender<bool>>,
    delay: Arc<AtomicU64>,
    _serving: Serving,
}

impl std::fmt::Debug for TcpProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpProxy")
            .field("addr", &self.addr)
            .field("silent", &self.is_silent())
            .finish()
    }
}

impl TcpProxy {
    /// Starts a proxy to `upstream` on a free loopback port, forwarding.
    ///
    /// # Panics
    /// If no loopback port can be bound or its thread cannot start.
    pub fn start(upstream: SocketAddr) -> Self {
        let (silent, _) = watch::channel(false);
        let silent = Arc::new(silent);
        let switch = silent.clone();
        let delay = Arc::new(AtomicU64::new(0));
        let lag = delay.clone();
        let (addr, serving) = on_own_thread(
            "tcp-proxy",
            move || async move {
                let listener = TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind a loopback port for the proxy");
                let addr = listener.local_addr().expect("the proxy's address");
                let task = tokio::spawn(accept(listener, upstream, switch, lag));
                (addr, AbortOnDrop(task))
            },
            |(addr, _): &(SocketAddr, AbortOnDrop)| *addr,
        );
        Self {
            addr,
            silent,
            delay,
            _serving: serving,
        }
    }

    /// The proxy's address (127.0.0.1).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The proxy's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Stops (`true`) or resumes (`false`) forwarding, on every connection, both ways.
    pub fn set_silent(&self, silent: bool) {
        self.silent.send_replace(silent);
    }

    /// Holds every chunk read, either way, for `delay` before forwarding it (zero: none, the
    /// default). Applies from the next chunk on, on every connection.
    pub fn set_delay(&self, delay: Duration) {
        let nanos = u64::try_from(delay.as_nanos()).unwrap_or(u64::MAX);
        self.delay.store(nanos, Ordering::Relaxed);
    }

    /// Whether the proxy is silent.
    pub fn is_silent(&self) -> bool {
        *self.silent.borrow()
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn accept(
    listener: TcpListener,
    upstream: SocketAddr,
    silent: Arc<watch::Sender<bool>>,
    delay: Arc<AtomicU64>,
) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        let silent = silent.clone();
        let delay = delay.clone();
        tokio::spawn(async move {
            let Ok(server) = TcpStream::connect(upstream).await else {
                return;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let (client_read, client_write) = client.into_split();
            let (server_read, server_write) = server.into_split();
            let up = pump(client_read, server_write, silent.subscribe(), delay.clone());
            let down = pump(server_read, client_write, silent.subscribe(), delay);
            // Either side closing ends the connection.
            tokio::select! {
                () = up => {}
                () = down => {}
            }
        });
    }
}

/// Copies `from` to `to`, reading nothing while silent, each chunk held for the delay.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut silent: watch::Receiver<bool>,
    delay: Arc<AtomicU64>,
) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        if silent.wait_for(|s| !*s).await.is_err() {
            return;
        }
        let n = tokio::select! {
            read = from.read(&mut buffer) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            // Went silent while waiting: stop reading.
            _ = silent.wait_for(|s| *s) => continue,
        };
        let lag = delay.load(Ordering::Relaxed);
        if lag > 0 {
            tokio::time::sleep(Duration::from_nanos(lag)).await;
        }
        // Read just before going silent: hold the bytes until it speaks again.
        if silent.wait_for(|s| !*s).await.is_err() || to.write_all(&buffer[..n]).await.is_err() {
            return;
        }
    }
}
