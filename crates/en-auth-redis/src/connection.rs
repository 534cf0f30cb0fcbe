//! The connection to Redis: a [`ConnectionManager`] for one server (it reconnects after a
//! failure), or a Cluster connection (it follows the slots and reconnects to the nodes).

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, RedisResult, Value};

/// Where to connect, and how: built once, connected on first use.
pub(crate) enum Target {
    Single(redis::Client, ConnectionManagerConfig),
    Cluster(ClusterClient),
}

/// How long to wait for a TCP (and TLS) connection, and for an answer, before the connection
/// counts as failed. The authorizer's own timeout per call (100 ms by default) is shorter, and
/// when it expires the call's task is cancelled (its command's answer, if it comes, is read and
/// dropped by the connection). What these bound is the connect, which runs in a task of its own
/// that no caller cancels, and a command whose caller still waits.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timeouts {
    pub(crate) connect: Duration,
    pub(crate) response: Duration,
}

impl Target {
    pub(crate) fn single(client: redis::Client, timeouts: Timeouts) -> Self {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeouts.connect))
            .set_response_timeout(Some(timeouts.response))
            // A failed reconnection is retried on the next call, not for long in the background.
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(20))
            .set_max_delay(Duration::from_millis(500));
        Target::Single(client, config)
    }

    /// Connects: must run on the runtime that will drive the connection (en-auth's I/O
    /// runtime), in a task that no caller's timeout cancels ([`crate::RedisStore`] spawns it
    /// on its own). For one server the manager makes its first connection here (later ones it
    /// makes in the background by itself); a Cluster connection connects to the seeds, reads
    /// the slots and connects to the nodes.
    pub(crate) async fn connect(&self) -> RedisResult<Connection> {
        match self {
            Target::Single(client, config) => Ok(Connection::Single(
                ConnectionManager::new_with_config(client.clone(), config.clone()).await?,
            )),
            Target::Cluster(client) => {
                Ok(Connection::Cluster(client.get_async_connection().await?))
            }
        }
    }
}

/// A connection to one server or to a Cluster; cheap to clone (both share their connections).
#[derive(Clone)]
pub(crate) enum Connection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Connection::Single(c) => c.req_packed_command(cmd),
            Connection::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Connection::Single(c) => c.req_packed_commands(cmd, offset, count),
            Connection::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Connection::Single(c) => c.get_db(),
            Connection::Cluster(c) => c.get_db(),
        }
    }
}

/// The DNS resolver of a plain-TCP (`redis://`) Cluster: it resolves loopback hosts only
/// (`localhost`, a loopback address) and refuses any other, without looking it up. The seeds
/// are checked at build, but a Cluster announces its nodes' addresses itself; without this, a
/// node announced at another address would get the password and the sealed tokens in clear.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LoopbackOnly;

impl redis::io::AsyncDNSResolver for LoopbackOnly {
    fn resolve<'a, 'b: 'a>(
        &'a self,
        host: &'b str,
        port: u16,
    ) -> RedisFuture<'a, Box<dyn Iterator<Item = std::net::SocketAddr> + Send + 'a>> {
        Box::pin(async move {
            let refused = || {
                redis::RedisError::from((
                    redis::ErrorKind::InvalidClientConfig,
                    "a plain redis:// Cluster node that is not on loopback: refused (use rediss://)",
                ))
            };
            if !crate::url_policy::is_loopback_host(host) {
                return Err(refused());
            }
            let addrs: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host, port))
                .await?
                .filter(|a| a.ip().is_loopback())
                .collect();
            if addrs.is_empty() {
                return Err(refused());
            }
            Ok(Box::new(addrs.into_iter()) as Box<dyn Iterator<Item = _> + Send>)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plain-TCP Cluster's resolver: the nodes a Cluster announces (not only the seeds)
    /// must be loopback; another host is refused without being looked up.
    #[tokio::test]
    async fn a_plain_cluster_connects_to_loopback_nodes_only() {
        use redis::io::AsyncDNSResolver as _;
        let resolver = LoopbackOnly;
        for host in [
            "10.0.0.7",
            "192.0.2.1",
            "cache.example.com",
            "::ffff:10.0.0.7",
            "",
        ] {
            let resolved = resolver
                .resolve(host, 6379)
                .await
                .map(Iterator::collect::<Vec<_>>);
            assert!(resolved.is_err(), "{host}: {resolved:?}");
        }
        for host in ["127.0.0.1", "127.0.0.2", "::1", "localhost", "LOCALHOST"] {
            let resolved: Vec<_> = resolver.resolve(host, 6379).await.unwrap().collect();
            assert!(!resolved.is_empty(), "{host}");
            assert!(
                resolved
                    .iter()
                    .all(|a| a.ip().is_loopback() && a.port() == 6379),
                "{host}: {resolved:?}"
            );
        }
    }
}
