//! The `metrics` feature with no recorder installed anywhere: authorization works as before.
//! A test binary of its own: a token request's span and metrics are recorded on en-auth's I/O
//! runtime, and `tracing`'s callsite interest is shared by every test of a binary.

use en_auth_oauth2::{ClientInfo, Environment, ServiceAccountAuthorizer};
use en_auth_testkit::OAuthServer;

const SECRET: &str = "observability-secret";

#[test]
fn without_a_recorder_the_metrics_feature_changes_nothing() {
    // The metrics feature is on (a dev-dependency), no recorder is installed anywhere: the
    // facade's no-op recorder takes the calls and authorization works as before.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let server = OAuthServer::builder().client("svc", SECRET).start().await;
        let environment = Environment::new("none")
            .with_token_url(&server.token_url())
            .unwrap();
        let a = ServiceAccountAuthorizer::new(ClientInfo::new("svc", SECRET), environment).unwrap();
        a.access_token().await.unwrap();
        assert_eq!(server.tokens_issued(), 1);
    });
}
