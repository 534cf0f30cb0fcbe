//! What every flow's authorizer shares, written once: the settings of its builder
//! ([`BuilderSettings`]) and the shape of its type ([`flow_authorizer!`](crate::flow_authorizer)).
//!
//! A flow crate (`en-auth-oauth2`, `en-auth-srp`, or your own) supplies a [`TokenProvider`] and
//! the options only it has; the caching, the middleware and these settings come from here.

use std::sync::Arc;
use std::time::Duration;

use crate::{
    Authorizer, Environment, Error, IntoEnvironment, RenewalPolicy, RequestPolicy,
    SharedCacheConfig, SharedStore, SharedStoreSettings, TokenProvider, DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_TIMEOUT,
};

/// The settings every authorizer builder has: the environment, the timeouts of a token request,
/// the [`RenewalPolicy`], the [`RequestPolicy`] and the fleet's [`SharedStore`].
///
/// A flow's builder holds one in a field named `settings`; [`flow_authorizer!`](crate::flow_authorizer)
/// gives the builder the setters, and its `build()` calls [`BuilderSettings::environment`]
/// and [`BuilderSettings::authorizer`].
#[derive(Debug)]
pub struct BuilderSettings {
    environment: Result<Environment, Error>,
    /// The time allowed for one token request (or one Cognito call), from connecting to the
    /// last byte of the answer. Default [`DEFAULT_TIMEOUT`].
    pub timeout: Duration,
    /// The time allowed to connect. Default [`DEFAULT_CONNECT_TIMEOUT`].
    pub connect_timeout: Duration,
    /// How tokens are renewed and failed token requests retried.
    pub renewal: RenewalPolicy,
    /// Which requests may carry the token and which answers mean it was rejected.
    pub requests: RequestPolicy,
    /// The store shared with the other processes of a fleet, set in code; it takes precedence
    /// over the environment's `shared_cache` table.
    pub shared_store: Option<Arc<dyn SharedStore>>,
    /// How the shared store is used; default: the environment table's timeouts, else
    /// [`SharedStoreSettings::default`].
    pub shared_store_settings: Option<SharedStoreSettings>,
}

impl BuilderSettings {
    /// The defaults, for `environment` (an [`Environment`], or an id to load from the
    /// environments file: a loading error is kept until [`BuilderSettings::environment`]).
    pub fn new(environment: impl IntoEnvironment) -> Self {
        Self {
            environment: environment.into_environment(),
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            renewal: RenewalPolicy::default(),
            requests: RequestPolicy::default(),
            shared_store: None,
            shared_store_settings: None,
        }
    }

    /// The environment.
    ///
    /// # Errors
    /// [`Error::Configuration`] if it could not be loaded.
    pub fn environment(&self) -> Result<&Environment, Error> {
        self.environment.as_ref().map_err(Clone::clone)
    }

    /// The caching authorizer over `provider`, with these policies and the shared store set in
    /// code, if any (the environment's `shared_cache` table needs
    /// [`BuilderSettings::authorizer_sharing`]).
    pub fn authorizer<P: TokenProvider>(self, provider: P) -> Authorizer<P> {
        match self.shared_store {
            Some(store) => Authorizer::with_shared_store(
                provider,
                self.renewal,
                self.requests,
                store,
                self.shared_store_settings.unwrap_or_default(),
            ),
            None => Authorizer::with_policies(provider, self.renewal, self.requests),
        }
    }

    /// As [`BuilderSettings::authorizer`], and when no store was set in code but the
    /// environment has a `shared_cache` table, its store: a [`LocalStore`](crate::LocalStore)
    /// for a `path`, else the store `open` makes of it (a flow crate passes `en-auth-redis`'s
    /// `RedisStore::from_config`). A provider that does not share tokens
    /// ([`TokenProvider::shared_identity`] is `None`) opens no store.
    ///
    /// # Errors
    /// [`Error::Configuration`] if the environment could not be loaded, or `open`'s error (a
    /// malformed URL, a missing encryption key).
    pub fn authorizer_sharing<P: TokenProvider>(
        mut self,
        provider: P,
        open: impl FnOnce(&SharedCacheConfig) -> Result<Arc<dyn SharedStore>, Error>,
    ) -> Result<Authorizer<P>, Error> {
        if self.shared_store.is_none() && provider.shared_identity().is_some() {
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
        Ok(self.authorizer(provider))
    }
}

/// Declares a flow's authorizer: a newtype over [`Authorizer`] with its provider, that
/// dereferences to it, clones cheaply (clones share one cache), prints its provider's `Debug`,
/// and is a [`reqwest_middleware::Middleware`]; and gives the flow's builder (a struct with a
/// `settings: BuilderSettings` field) the shared setters `renewal_policy`, `request_policy`,
/// `timeout` and `connect_timeout`.
///
/// The flow crate then writes only what is its own: `new`, `builder`, the builder's own
/// options and `build`.
///
/// ```
/// use en_auth_core::{BuilderSettings, ClientInfo, Error, Token, TokenProvider};
///
/// /// Tokens from my service.
/// #[derive(Debug)]
/// pub struct MyProvider { client: ClientInfo }
///
/// impl TokenProvider for MyProvider {
///     async fn authorize(&self) -> Result<Token, Error> {
///         Ok(Token::new("t", Some(std::time::Duration::from_secs(60))))
///     }
///     fn client_info(&self) -> &ClientInfo { &self.client }
/// }
///
/// en_auth_core::flow_authorizer! {
///     /// Authorizes requests with tokens from my service.
///     pub struct MyAuthorizer(MyProvider);
///     builder: MyAuthorizerBuilder;
/// }
///
/// /// Builds a [`MyAuthorizer`].
/// pub struct MyAuthorizerBuilder { client: ClientInfo, settings: BuilderSettings }
///
/// impl MyAuthorizerBuilder {
///     pub fn build(self) -> Result<MyAuthorizer, Error> {
///         self.settings.environment()?;
///         Ok(MyAuthorizer::from(self.settings.authorizer(MyProvider { client: self.client })))
///     }
/// }
///
/// let authorizer = MyAuthorizerBuilder {
///     client: ClientInfo::new("id", "secret"),
///     settings: BuilderSettings::new(en_auth_core::Environment::new("dev")),
/// }
/// .timeout(std::time::Duration::from_secs(3))
/// .build()?;
/// assert_eq!(authorizer.client_id(), "id");
/// # Ok::<(), Error>(())
/// ```
#[macro_export]
macro_rules! flow_authorizer {
    (
        $(#[$meta:meta])*
        pub struct $name:ident($provider:ty);
        builder: $builder:ident;
    ) => {
        $(#[$meta])*
        #[derive(Clone)]
        pub struct $name {
            inner: $crate::Authorizer<$provider>,
        }

        impl $name {
            /// The caching authorizer inside.
            pub fn authorizer(&self) -> &$crate::Authorizer<$provider> {
                &self.inner
            }
        }

        impl ::core::convert::From<$crate::Authorizer<$provider>> for $name {
            fn from(inner: $crate::Authorizer<$provider>) -> Self {
                Self { inner }
            }
        }

        impl ::core::ops::Deref for $name {
            type Target = $crate::Authorizer<$provider>;
            fn deref(&self) -> &Self::Target {
                &self.inner
            }
        }

        impl ::core::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_tuple(stringify!($name))
                    .field(self.inner.provider())
                    .finish()
            }
        }

        #[$crate::__private::async_trait]
        impl $crate::reqwest_middleware::Middleware for $name {
            async fn handle(
                &self,
                request: $crate::__private::reqwest::Request,
                extensions: &mut $crate::__private::http::Extensions,
                next: $crate::reqwest_middleware::Next<'_>,
            ) -> $crate::reqwest_middleware::Result<$crate::__private::reqwest::Response> {
                $crate::reqwest_middleware::Middleware::handle(&self.inner, request, extensions, next)
                    .await
            }
        }

        impl $builder {
            /// How tokens are renewed and failed token requests retried (default
            /// [`RenewalPolicy::default`]($crate::RenewalPolicy::default)).
            #[must_use]
            pub fn renewal_policy(mut self, policy: $crate::RenewalPolicy) -> Self {
                self.settings.renewal = policy;
                self
            }

            /// Which requests may carry the token and which answers mean it was rejected
            /// (default [`RequestPolicy::default`]($crate::RequestPolicy::default): `https` or
            /// loopback only; renew and replay on `401`). For example, renew on `403` too
            /// behind a gateway that answers an expired token so, or allow plain `http` inside
            /// a service mesh that encrypts.
            #[must_use]
            pub fn request_policy(mut self, requests: $crate::RequestPolicy) -> Self {
                self.settings.requests = requests;
                self
            }

            /// The time allowed for one token request, from connecting to the last byte of
            /// the answer (default [`DEFAULT_TIMEOUT`]($crate::DEFAULT_TIMEOUT)).
            #[must_use]
            pub fn timeout(mut self, timeout: ::core::time::Duration) -> Self {
                self.settings.timeout = timeout;
                self
            }

            /// The time allowed to connect (default
            /// [`DEFAULT_CONNECT_TIMEOUT`]($crate::DEFAULT_CONNECT_TIMEOUT)).
            #[must_use]
            pub fn connect_timeout(mut self, timeout: ::core::time::Duration) -> Self {
                self.settings.connect_timeout = timeout;
                self
            }

            /// Shares tokens with the other processes of a fleet through `store` (such as
            /// `en-auth-redis`'s `RedisStore`): one token request per renewal across the
            /// fleet. Takes precedence over the environment's `shared_cache` table. Flows with
            /// user sessions do not share. See [`SharedStore`]($crate::SharedStore).
            #[must_use]
            pub fn shared_store(mut self, store: impl $crate::SharedStore) -> Self {
                self.settings.shared_store = Some(::std::sync::Arc::new(store));
                self
            }

            /// How the shared store is used: timeouts, the fleet's lock, the circuit breaker,
            /// renewal jitter (default: the environment table's timeouts, else
            /// [`SharedStoreSettings::default`]($crate::SharedStoreSettings::default)).
            #[must_use]
            pub fn shared_store_settings(mut self, settings: $crate::SharedStoreSettings) -> Self {
                self.settings.shared_store_settings = Some(settings);
                self
            }
        }
    };
}
