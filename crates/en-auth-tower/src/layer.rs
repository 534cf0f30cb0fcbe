//! [`AuthorizerLayer`]: wraps services in an [`AuthorizerService`].

use en_auth_core::{Authorizer, TokenProvider};
use tower_layer::Layer;

use crate::{AuthorizerService, ReplayEmpty};

/// A [`tower_layer::Layer`] that authorizes every request of the services it wraps with an
/// [`Authorizer`]'s token: see the [crate] docs.
///
/// `R` is the [`Replay`](crate::Replay) policy: which requests are sent again after a rejected
/// token ([`ReplayEmpty`] by default: requests without a body).
pub struct AuthorizerLayer<P, R = ReplayEmpty> {
    authorizer: Authorizer<P>,
    replay: R,
}

impl<P, R: Clone> Clone for AuthorizerLayer<P, R> {
    fn clone(&self) -> Self {
        Self {
            authorizer: self.authorizer.clone(),
            replay: self.replay.clone(),
        }
    }
}

impl<P: TokenProvider, R: std::fmt::Debug> std::fmt::Debug for AuthorizerLayer<P, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizerLayer")
            .field("authorizer", &self.authorizer)
            .field("replay", &self.replay)
            .finish()
    }
}

impl<P: TokenProvider> AuthorizerLayer<P> {
    /// A layer that authorizes requests with `authorizer` (an [`Authorizer`], or a flow's
    /// authorizer such as `en_auth_oauth2::ServiceAccountAuthorizer`; a clone shares its token
    /// cache), replaying requests without a body once after a rejected token.
    pub fn new(authorizer: impl Into<Authorizer<P>>) -> Self {
        Self {
            authorizer: authorizer.into(),
            replay: ReplayEmpty,
        }
    }
}

impl<P, R> AuthorizerLayer<P, R> {
    /// The same layer with another [`Replay`](crate::Replay) policy:
    /// [`ReplayClone`](crate::ReplayClone) for `Clone` bodies,
    /// [`NoReplay`](crate::NoReplay) to never send a request twice.
    pub fn with_replay<R2>(self, replay: R2) -> AuthorizerLayer<P, R2> {
        AuthorizerLayer {
            authorizer: self.authorizer,
            replay,
        }
    }

    /// The authorizer.
    pub fn authorizer(&self) -> &Authorizer<P> {
        &self.authorizer
    }
}

impl<S, P, R: Clone> Layer<S> for AuthorizerLayer<P, R> {
    type Service = AuthorizerService<S, P, R>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthorizerService::new(inner, self.authorizer.clone()).with_replay(self.replay.clone())
    }
}
