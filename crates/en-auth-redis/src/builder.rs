//! [`RedisStoreBuilder`]: a [`RedisStore`] from a URL and an encryption key, or from an
//! environments file's `shared_cache` table, every setting checked before anything connects.

use std::fmt;
use std::time::Duration;

use en_auth_core::{ConfigurationError, Error, SharedCacheConfig};
use redis::RedisError;
use zeroize::Zeroizing;

use crate::connection::{self, Target, Timeouts};
use crate::url_policy::check_url;
use crate::{RedisStore, DEFAULT_CONNECT_TIMEOUT, DEFAULT_KEY_PREFIX, DEFAULT_RESPONSE_TIMEOUT};

/// Builds a [`RedisStore`]: [`RedisStore::builder`].
pub struct RedisStoreBuilder {
    url: String,
    key_prefix: String,
    key: Option<Zeroizing<Vec<u8>>>,
    cluster: bool,
    timeouts: Timeouts,
    root_certificate: Option<Vec<u8>>,
}

impl fmt::Debug for RedisStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStoreBuilder")
            .field("url", &en_auth_core::redacted_urls(&self.url))
            .field("key_prefix", &self.key_prefix)
            .field("encryption_key", &self.key.as_ref().map(|_| "[REDACTED]"))
            .field("cluster", &self.cluster)
            .field("root_certificate", &self.root_certificate.is_some())
            .finish()
    }
}

impl RedisStoreBuilder {
    /// The prefix of every key (default [`DEFAULT_KEY_PREFIX`]); no braces (`{`, `}`), which
    /// would move the Cluster hash tag.
    #[must_use]
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// The AES-256-GCM key: exactly 32 bytes (checked by [`build`](Self::build)). Required.
    /// Every process of a fleet must use the same key; a value sealed with another key reads
    /// as a miss (and is overwritten by the next token).
    #[must_use]
    pub fn encryption_key(mut self, key: impl AsRef<[u8]>) -> Self {
        self.key = Some(Zeroizing::new(key.as_ref().to_vec()));
        self
    }

    /// Whether the URL(s) name a Redis Cluster. Default: a Cluster when the URL lists several
    /// nodes (comma-separated), one server otherwise; set it for a Cluster reached through one
    /// seed node.
    #[must_use]
    pub fn cluster(mut self, cluster: bool) -> Self {
        self.cluster = cluster;
        self
    }

    /// For `rediss://`: trust the CA certificate(s) in `pem` (PEM) instead of the system's
    /// roots (a private CA, as ElastiCache and self-hosted Redis often use).
    #[must_use]
    pub fn tls_root_certificate(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root_certificate = Some(pem.into());
        self
    }

    /// How long connecting (TCP and TLS) may take before the call fails. Default
    /// [`DEFAULT_CONNECT_TIMEOUT`].
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.connect = timeout;
        self
    }

    /// How long an answer may take before the call fails. Default
    /// [`DEFAULT_RESPONSE_TIMEOUT`].
    #[must_use]
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.response = timeout;
        self
    }

    /// The store. Does not connect (that happens on first use).
    ///
    /// # Errors
    /// [`Error::Configuration`] naming the field: `url` (not a `redis://`/`rediss://` URL, a
    /// fragment such as `#insecure`, or plain `redis://` to a host that is not loopback: use
    /// `rediss://`), `key_prefix`
    /// (braces), `encryption_key` (missing, or not 32 bytes). The key is never printed.
    pub fn build(self) -> Result<RedisStore, Error> {
        let urls: Vec<&str> = self.url.split(',').map(str::trim).collect();
        for url in &urls {
            check_url(url)?;
        }
        if self.key_prefix.contains(['{', '}']) {
            return Err(config_error(
                "key_prefix",
                "must not contain braces (they would move the Redis Cluster hash tag)",
            ));
        }
        let key = self.key.ok_or_else(|| {
            config_error("encryption_key", "a 32-byte encryption key is required")
        })?;
        let key: &[u8; 32] = key.as_slice().try_into().map_err(|_| {
            config_error(
                "encryption_key",
                format!("must be 32 bytes, not {}", key.len()),
            )
        })?;
        let bad_url = |e: RedisError| {
            config_error(
                "url",
                format!(
                    "not a usable Redis URL ({}): {}",
                    e.category(),
                    en_auth_core::redacted_urls(&self.url)
                ),
            )
        };
        let certificates = |root: &Vec<u8>| redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(root.clone()),
        };
        let target = if self.cluster || urls.len() > 1 {
            let mut client = redis::cluster::ClusterClient::builder(urls.clone())
                .connection_timeout(self.timeouts.connect)
                .response_timeout(self.timeouts.response)
                .retries(2);
            let plain = |url: &&str| url::Url::parse(url).is_ok_and(|u| u.scheme() == "redis");
            if urls.iter().any(plain) {
                // Plain TCP: the seeds are loopback (checked above), and so must be every node
                // the Cluster announces.
                client = client.async_dns_resolver(connection::LoopbackOnly);
            }
            if let Some(root) = &self.root_certificate {
                client = client.certs(certificates(root));
            }
            Target::Cluster(client.build().map_err(bad_url)?)
        } else {
            let client = match &self.root_certificate {
                Some(root) => redis::Client::build_with_tls(urls[0], certificates(root)),
                None => redis::Client::open(urls[0]),
            };
            Target::single(client.map_err(bad_url)?, self.timeouts)
        };
        Ok(RedisStore::new(
            en_auth_core::redacted_urls(&self.url),
            self.key_prefix,
            key,
            target,
        ))
    }
}

impl RedisStore {
    /// A builder for a store at `url`: `redis://host:port[/db]` (plain TCP: loopback only),
    /// `rediss://host:port` (TLS, rustls with the system's roots), with an optional
    /// `user:password@` and no fragment (`#…`); several comma-separated URLs for a Redis
    /// Cluster. A plain `redis://` Cluster must be on loopback whole: the seeds are checked
    /// here, and a node the Cluster announces at another address is refused when connecting
    /// (the call fails; nothing is sent to it).
    pub fn builder(url: impl Into<String>) -> RedisStoreBuilder {
        RedisStoreBuilder {
            url: url.into(),
            key_prefix: DEFAULT_KEY_PREFIX.to_owned(),
            key: None,
            cluster: false,
            timeouts: Timeouts {
                connect: DEFAULT_CONNECT_TIMEOUT,
                response: DEFAULT_RESPONSE_TIMEOUT,
            },
            root_certificate: None,
        }
    }

    /// The store an environments file's `[<id>.shared_cache]` table describes, with the
    /// encryption key read from the environment variable it names (base64 of 32 bytes,
    /// standard or URL-safe alphabet, padding optional).
    ///
    /// # Errors
    /// [`Error::Configuration`] naming the field: `encryption_key_env` (the variable is not
    /// set, not base64, or not 32 bytes: its value is never printed), and the errors of
    /// [`RedisStoreBuilder::build`].
    pub fn from_config(config: &SharedCacheConfig) -> Result<Self, Error> {
        Self::from_config_with(config, |name| std::env::var(name).ok())
    }

    /// [`from_config`](Self::from_config), with the encryption key's variable read through
    /// `lookup` (given its name; `None`: not set) instead of the process environment: for
    /// keys from elsewhere, and for tests (setting a process variable while other threads
    /// run is not sound).
    ///
    /// # Errors
    /// As [`from_config`](Self::from_config).
    pub fn from_config_with(
        config: &SharedCacheConfig,
        lookup: impl FnOnce(&str) -> Option<String>,
    ) -> Result<Self, Error> {
        let url = config.url.clone().ok_or_else(|| {
            config_error(
                "shared_cache.url",
                "the shared cache has no `url` (a `path` is a local directory: en_auth_core::LocalStore)",
            )
        })?;
        let key = config.encryption_key_with(lookup)?.ok_or_else(|| {
            config_error(
                "encryption_key_env",
                "a Redis shared cache needs `encryption_key_env` (tokens in Redis are always sealed)",
            )
        })?;
        Self::builder(url)
            .key_prefix(config.key_prefix.clone())
            .encryption_key(key.as_slice())
            .build()
    }
}

/// A configuration error naming `field`.
pub(crate) fn config_error(field: &str, message: impl Into<String>) -> Error {
    ConfigurationError::new(message).with_field(field).into()
}

#[cfg(test)]
mod tests {
    use en_auth_core::SharedStore as _;

    use super::*;

    fn message(e: Error) -> String {
        e.to_string()
    }

    #[test]
    fn configuration_errors_name_the_field_and_never_the_key() {
        let key = [1u8; 32];
        let e = message(
            RedisStore::builder("http://x")
                .encryption_key(key)
                .build()
                .unwrap_err(),
        );
        assert!(e.contains("url"), "{e}");
        let e = message(
            RedisStore::builder("redis://cache.example.com:6379")
                .encryption_key(key)
                .build()
                .unwrap_err(),
        );
        assert!(e.contains("rediss://"), "{e}");
        let e = message(
            RedisStore::builder("redis://:hunter2@10.0.0.1:6379")
                .encryption_key(key)
                .build()
                .unwrap_err(),
        );
        assert!(!e.contains("hunter2"), "{e}");
        let e = message(
            RedisStore::builder("redis://127.0.0.1:1")
                .build()
                .unwrap_err(),
        );
        assert!(e.contains("encryption_key"), "{e}");
        let e = message(
            RedisStore::builder("redis://127.0.0.1:1")
                .encryption_key([1u8; 16])
                .build()
                .unwrap_err(),
        );
        assert!(e.contains("32 bytes"), "{e}");
        let e = message(
            RedisStore::builder("redis://127.0.0.1:1")
                .key_prefix("a{b}")
                .encryption_key(key)
                .build()
                .unwrap_err(),
        );
        assert!(e.contains("key_prefix"), "{e}");

        let store = RedisStore::builder("rediss://user:hunter2@cache.example.com:6380")
            .encryption_key(key)
            .build()
            .unwrap();
        assert_eq!(store.address(), "rediss://cache.example.com:6380");
        assert!(!format!("{store:?}").contains("hunter2"));
        let cluster = RedisStore::builder("redis://127.0.0.1:1,redis://127.0.0.1:2")
            .encryption_key(key)
            .build()
            .unwrap();
        assert!(matches!(cluster.inner.target, Target::Cluster(_)));
    }

    #[test]
    fn from_config_reads_the_key_variable() {
        let config = |var: &str| SharedCacheConfig {
            key_prefix: "p".into(),
            ..SharedCacheConfig::redis("redis://127.0.0.1:6379", var)
        };
        // Through a lookup, not the process environment: setting a variable while other
        // tests' threads run is not sound.
        let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [9u8; 32]);
        let lookup = |name: &str| {
            match name {
                "NOT_B64" => Some("not base64 at all!"),
                "SHORT" => Some("c2hvcnQta2V5"),
                "GOOD" => Some(b64.as_str()),
                _ => None,
            }
            .map(str::to_owned)
        };
        let from = |var: &str| RedisStore::from_config_with(&config(var), lookup);
        let e = message(from("UNSET").unwrap_err());
        assert!(
            e.contains("encryption_key_env") && e.contains("not set"),
            "{e}"
        );
        let e = message(from("NOT_B64").unwrap_err());
        assert!(
            e.contains("base64") && !e.contains("not base64 at all"),
            "{e}"
        );
        let e = message(from("SHORT").unwrap_err());
        assert!(e.contains("9 bytes") && !e.contains("c2hvcnQta2V5"), "{e}");
        let store = from("GOOD").unwrap();
        assert_eq!(store.address(), "redis://127.0.0.1:6379");
        let key = en_auth_core::SharedIdentity::new("t").key();
        let name = store.inner.names.name(&key);
        assert_eq!(store.redis_key(&key), format!("p:v2:{{{name}}}"));
        assert_eq!(store.lock_key(&key), format!("p:v2:{{{name}}}:lock"));
        assert!(!store.redis_key(&key).contains(&key.to_hex()));
    }
}
