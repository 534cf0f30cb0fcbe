//! What an error handed out by an [`Authorizer`] says beyond its kind: the provider's
//! environment, and during the failure cooldown the cooldown — on the same variant, so that
//! callers matching on it see no difference.

use std::sync::atomic::{AtomicUsize, Ordering};

use en_auth_core::{Authorizer, ClientInfo, Error, InvalidClientError, Token, TokenProvider};

/// A provider (in `environment`, if any) whose client is always rejected.
struct Rejected {
    client: ClientInfo,
    calls: AtomicUsize,
    environment: Option<&'static str>,
}

impl Rejected {
    fn new(environment: Option<&'static str>) -> Self {
        Self {
            client: ClientInfo::new("svc", "s3cret"),
            calls: AtomicUsize::new(0),
            environment,
        }
    }
}

impl TokenProvider for Rejected {
    async fn authorize(&self) -> Result<Token, Error> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(InvalidClientError::new("svc", "https://auth.example/token", "invalid_client").into())
    }

    fn client_info(&self) -> &ClientInfo {
        &self.client
    }

    fn environment_id(&self) -> Option<&str> {
        self.environment
    }
}

#[tokio::test]
async fn a_token_request_error_names_the_environment_also_during_its_cooldown() {
    let auth = Authorizer::new(Rejected::new(Some("prod")));
    let first = auth.access_token().await.unwrap_err();
    assert!(matches!(first, Error::InvalidClient(_)), "{first:?}");
    assert_eq!(first.environment(), Some("prod"));
    assert_eq!(first.cooldown(), None);
    assert_eq!(
        first.to_string(),
        "client `svc` was rejected by https://auth.example/token: invalid_client (in environment \
         `prod`)"
    );

    // A rejected client is not asked again for a while: the same error, marked.
    let again = auth.access_token().await.unwrap_err();
    assert_eq!(auth.provider().calls.load(Ordering::SeqCst), 1);
    assert!(matches!(again, Error::InvalidClient(_)), "{again:?}");
    assert_eq!(again.environment(), Some("prod"));
    assert!(again.cooldown().is_some(), "{again:?}");
    let text = again.to_string();
    assert!(
        text.starts_with(
            "client `svc` was rejected by https://auth.example/token: invalid_client (in \
             environment `prod`; the failure of a token request"
        ),
        "{text}"
    );
    let mut scan = en_auth_peers::secrecy::Scan::new();
    scan.secret("the client secret", "s3cret")
        .error("the cooldown's error", &again);
    scan.assert_clean();
}

#[tokio::test]
async fn a_provider_without_an_environment_leaves_the_error_as_it_is() {
    let auth = Authorizer::new(Rejected::new(None));
    let error = auth.access_token().await.unwrap_err();
    assert_eq!(error.environment(), None);
    assert!(!error.to_string().contains("environment"), "{error}");
}
