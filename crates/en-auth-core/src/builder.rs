//! [`AuthorizerBuilder`]: the one way to build an [`Authorizer`]. A flow crate
//! (`en-auth-oauth2`, `en-auth-srp`, or your own) wraps it in its builder and supplies the
//! [`TokenProvider`]; the caching, the policies and the shared store are set here.

use std::sync::Arc;
use std::time::Duration;

use crate::{
    Authorizer, Environment, Error, IntoEnvironment, RenewalPolicy, RequestPolicy,
    SharedCacheConfig, SharedStore, SharedStoreSettings, TokenProvider, DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_TIMEOUT,
};

/// Builds an [`Authorizer`]: the environment, the timeouts of a token request, the
/// [`RenewalPolicy`], the [`RequestPolicy`] and the fleet's [`SharedStore`].
///
/// `en_auth_oauth2::ServiceAccountAuthorizerBuilder` and `en_auth_srp::SrpAuthorizerBuilder`
/// wrap one and offer the same setters; use it directly for a [`TokenProvider`] of your own:
///
/// ```
/// use std::time::Duration;
/// use en_auth_core::{AuthorizerBuilder, ClientInfo, Error, RenewalPolicy, Token, TokenProvider};
///
/// struct MyProvider(ClientInfo);
///
/// impl TokenProvider for MyProvider {
///     async fn authorize(&self) -> Result<Token, Error> {
///         Ok(Token::new("t", Some(Duration::from_secs(60))))
///     }
///     fn client_info(&self) -> &ClientInfo { &self.0 }
/// }
///
/// let authorizer = AuthorizerBuilder::new()
///     .renewal_policy(RenewalPolicy::default().with_proactive_renewal(false))
///     .build(MyProvider(ClientInfo::new("id", "secret")));
/// assert_eq!(authorizer.client_id(), "id");
/// ```
#[derive(Debug)]
pub struct AuthorizerBuilder {
    environment: Option<Result<Environment, Error>>,
    timeout: Duration,
    connect_timeout: Duration,
    renewal: RenewalPolicy,
    requests: RequestPolicy,
    shared_store: Option<Arc<dyn SharedStore>>,
    shared_store_settings: Option<SharedStoreSettings>,
}

impl Default for AuthorizerBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl AuthorizerBuilder {
    /// The defaults, with no environment: [`DEFAULT_TIMEOUT`], [`DEFAULT_CONNECT_TIMEOUT`],
    /// [`RenewalPolicy::default`], [`RequestPolicy::default`], no shared store.
    pub fn new() -> Self {
        Self {
            environment: None,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            renewal: RenewalPolicy::default(),
            requests: RequestPolicy::default(),
            shared_store: None,
            shared_store_settings: None,
        }
    }

    /// The environment (an [`Environment`], or an id to load from the environments file: a
    /// loading error is kept until [`AuthorizerBuilder::environment`] is asked for it). A flow's
    /// builder sets it from its `builder(…, environment)` argument; its `shared_cache` table
    /// configures the shared store ([`AuthorizerBuilder::build_sharing`]).
    #[must_use]
    pub fn with_environment(mut self, environment: impl IntoEnvironment) -> Self {
        self.environment = Some(environment.into_environment());
        self
    }

    /// How tokens are renewed and failed token requests retried (default
    /// [`RenewalPolicy::default`]).
    #[must_use]
    pub fn renewal_policy(mut self, policy: RenewalPolicy) -> Self {
        self.renewal = policy;
        self
    }

    /// Which requests may carry the token and which answers mean it was rejected (default
    /// [`RequestPolicy::default`]: `https` or loopback only; renew and replay on `401`). For
    /// example, renew on `403` too behind a gateway that answers an expired token so, or allow
    /// plain `http` inside a service mesh that encrypts.
    #[must_use]
    pub fn request_policy(mut self, requests: RequestPolicy) -> Self {
        self.requests = requests;
        self
    }

    /// The time allowed for one token request (or one Cognito call), from connecting to the
    /// last byte of the answer (default [`DEFAULT_TIMEOUT`]). The flow applies it.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The time allowed to connect (default [`DEFAULT_CONNECT_TIMEOUT`]). The flow applies it.
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Shares tokens with the other processes of a fleet through `store` (a
    /// [`LocalStore`](crate::LocalStore), `en-auth-redis`'s `RedisStore`, …): one token
    /// request per renewal across the fleet. Takes precedence over the environment's
    /// `shared_cache` table. Flows with user sessions do not share. See [`SharedStore`].
    #[must_use]
    pub fn shared_store(mut self, store: impl SharedStore) -> Self {
        self.shared_store = Some(Arc::new(store));
        self
    }

    /// How the shared store is used: timeouts, the fleet's lock, the circuit breaker, renewal
    /// jitter (default: the environment table's timeouts, else
    /// [`SharedStoreSettings::default`]).
    #[must_use]
    pub fn shared_store_settings(mut self, settings: SharedStoreSettings) -> Self {
        self.shared_store_settings = Some(settings);
        self
    }

    /// The time allowed for one token request.
    pub fn timeout_setting(&self) -> Duration {
        self.timeout
    }

    /// The time allowed to connect.
    pub fn connect_timeout_setting(&self) -> Duration {
        self.connect_timeout
    }

    /// The environment.
    ///
    /// # Errors
    /// [`Error::Configuration`] if it could not be loaded, or none was given.
    pub fn environment(&self) -> Result<&Environment, Error> {
        match &self.environment {
            Some(environment) => environment.as_ref().map_err(Clone::clone),
            None => Err(crate::ConfigurationError::new(
                "no environment was given to the authorizer's builder",
            )
            .with_field("environment")
            .into()),
        }
    }

    /// The caching authorizer over `provider`, with these policies and the shared store set in
    /// code, if any (the environment's `shared_cache` table needs
    /// [`AuthorizerBuilder::build_sharing`]).
    pub fn build<P: TokenProvider>(self, provider: P) -> Authorizer<P> {
        let store = self
            .shared_store
            .map(|store| (store, self.shared_store_settings.unwrap_or_default()));
        Authorizer::assemble(provider, self.renewal, self.requests, store)
    }

    /// As [`AuthorizerBuilder::build`], and when no store was set in code but the
    /// environment has a `shared_cache` table, its store: a [`LocalStore`](crate::LocalStore)
    /// for a `path`, else the store `open` makes of it (a flow crate passes `en-auth-redis`'s
    /// `RedisStore::from_config`). A provider that does not share tokens
    /// ([`TokenProvider::shared_identity`] is `None`) opens no store.
    ///
    /// # Errors
    /// [`Error::Configuration`] if the environment could not be loaded, or `open`'s error (a
    /// malformed URL, a missing encryption key), naming the environment and its file.
    pub fn build_sharing<P: TokenProvider>(
        mut self,
        provider: P,
        open: impl FnOnce(&SharedCacheConfig) -> Result<Arc<dyn SharedStore>, Error>,
    ) -> Result<Authorizer<P>, Error> {
        if self.shared_store.is_none()
            && self.environment.is_some()
            && provider.shared_identity().is_some()
        {
            let environment = self.environment()?;
            if let Some(config) = environment.shared_cache().cloned() {
                // The store's configuration errors name the environment and its file.
                let locate = |error: Error| match error {
                    Error::Configuration(e) => {
                        let e = e.with_environment(environment.id());
                        Error::Configuration(match environment.source() {
                            Some(file) => e.with_file(file),
                            None => e,
                        })
                    }
                    other => other,
                };
                let store: Arc<dyn SharedStore> = match config.path {
                    Some(_) => Arc::new(crate::LocalStore::from_config(&config).map_err(locate)?),
                    None => open(&config).map_err(locate)?,
                };
                self.shared_store = Some(store);
                self.shared_store_settings
                    .get_or_insert_with(|| config.settings());
            }
        }
        Ok(self.build(provider))
    }
}
