//! Sign-out: `SrpAuthorizer::revoke` and `CognitoSrp::revoke_token` against the testkit's
//! Cognito emulator, whose `RevokeToken` revokes the refresh token, the ones rotated from the
//! same login and every access token issued with them, and checks a confidential client's
//! `ClientSecret`. A revoked session is never renewed with its refresh token: the next request
//! logs in anew. Refusals (a wrong or missing client secret, revocation off for the client, an
//! access token instead of a refresh token) are typed errors, and the session is forgotten all
//! the same.

use en_auth_srp::{
    ClientInfo, Environment, Error, SrpAuthorizer, Token, TokenProvider, UserCredentials,
};
use en_auth_testkit::{AppClient, CognitoServer, PoolUser};
use secrecy::{ExposeSecret, SecretString};

const POOL: &str = "us-east-1_EnAuthTest";
const PASSWORD: &str = "Corr3ct-Horse!Battery";
const SECRET: &str = "app-client-secret-0123456789";

async fn server() -> CognitoServer {
    CognitoServer::builder()
        .pool_id(POOL)
        .client(AppClient::public("public"))
        .client(AppClient::confidential("confidential", SECRET))
        .client(AppClient::confidential("rotating", SECRET).refresh_token_rotation(0))
        .client(AppClient::public("no-revocation").without_token_revocation())
        .user(PoolUser::new("alice", PASSWORD).email("alice@example.com"))
        .start()
        .await
}

fn environment(server: &CognitoServer) -> Environment {
    Environment::new("emulator")
        .with_user_pool_id(POOL)
        .with_cognito_endpoint(&server.endpoint())
        .unwrap()
}

fn client(id: &str) -> ClientInfo {
    match id {
        "confidential" | "rotating" => ClientInfo::new(id, SECRET),
        _ => ClientInfo::public(id),
    }
}

fn auth(server: &CognitoServer, client: ClientInfo, user: &str) -> SrpAuthorizer {
    let mut environment = environment(server);
    if client.client_id() == "rotating" {
        environment = environment.with_refresh_token_rotation(true);
    }
    SrpAuthorizer::new(client, UserCredentials::new(user, PASSWORD), environment).unwrap()
}

#[tokio::test]
async fn revoke_signs_out_and_the_next_request_logs_in_anew() {
    let server = server().await;
    for id in ["public", "confidential", "rotating"] {
        let revocations = server.calls("RevokeToken");
        let a = auth(&server, client(id), "alice@example.com");
        assert!(!a.revoke().await.unwrap(), "{id}: nothing to revoke yet");
        assert_eq!(
            server.calls("RevokeToken"),
            revocations,
            "{id}: no call without a session"
        );

        let first = a.access_token().await.unwrap();
        let access = first.secret().expose_secret().to_owned();
        let refresh = first.refresh_token().unwrap().expose_secret().to_owned();
        drop(first);
        // A renewal first (a rotation for "rotating"): the session's refresh token is the
        // latest one, and revoking it revokes the whole login.
        let generation = a.cached_token().unwrap().generation();
        a.invalidate(generation);
        let renewed = a.access_token().await.unwrap();
        let renewed_access = renewed.secret().expose_secret().to_owned();
        let latest = renewed.refresh_token().unwrap().expose_secret().to_owned();
        drop(renewed);
        let logins = server.verified_logins();

        assert!(a.revoke().await.unwrap(), "{id}: revoked");
        assert!(server.refresh_token_revoked(&latest), "{id}");
        assert!(
            server.refresh_token_revoked(&refresh),
            "{id}: the login's first refresh token"
        );
        assert_eq!(server.access_token_owner(&access), None, "{id}");
        assert_eq!(server.access_token_owner(&renewed_access), None, "{id}");
        assert!(
            a.cached_token().is_err(),
            "{id}: the cached token is forgotten"
        );

        // Another process holding the refresh token cannot renew with it.
        let other = auth(&server, client(id), "alice");
        let previous = Token::new("expired", None).with_refresh_token(latest.clone());
        let e = other.provider().refresh(&previous).await.unwrap_err();
        assert!(e.is_refresh_refused(), "{id}: {e:?}");

        // The signed-out authorizer logs in again instead of sending the revoked token.
        let refreshes_before =
            server.calls("GetTokensFromRefreshToken") + server.calls("InitiateAuth");
        let again = a.access_token().await.unwrap();
        assert_eq!(server.verified_logins(), logins + 1, "{id}: a new login");
        assert_eq!(
            server.calls("GetTokensFromRefreshToken") + server.calls("InitiateAuth"),
            refreshes_before + 1,
            "{id}: one InitiateAuth (USER_SRP_AUTH), no refresh with the revoked token"
        );
        assert_eq!(
            server
                .access_token_owner(again.secret().expose_secret())
                .as_deref(),
            Some("alice"),
            "{id}"
        );
        drop(again);
        assert!(
            a.revoke().await.unwrap(),
            "{id}: the new session revoked too"
        );
        assert!(!a.revoke().await.unwrap(), "{id}: signed out already");
    }
    assert_eq!(server.calls("RevokeToken"), 6);
}

#[tokio::test]
async fn a_refused_revocation_is_a_typed_error_and_the_session_is_forgotten_all_the_same() {
    let server = server().await;
    let a = auth(&server, client("confidential"), "alice");
    let token = a.access_token().await.unwrap();
    let refresh = token.refresh_token().cloned().unwrap();
    let access = SecretString::from(token.secret().expose_secret().to_owned());
    drop(token);

    // A wrong client secret, and none (a public ClientInfo for a confidential client).
    for (what, info) in [
        (
            "a wrong secret",
            ClientInfo::new("confidential", "not-the-secret-0000"),
        ),
        ("no secret", ClientInfo::public("confidential")),
    ] {
        let e = auth_unchecked(&server, info)
            .provider()
            .revoke_token(&refresh)
            .await
            .unwrap_err();
        assert!(
            matches!(&e, Error::InvalidClient(c) if c.client_id == "confidential"),
            "{what}: {e:?}"
        );
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains(refresh.expose_secret()), "{what}: {shown}");
        assert!(!shown.contains("not-the-secret-0000"), "{what}: {shown}");
        assert!(
            !server.refresh_token_revoked(refresh.expose_secret()),
            "{what}"
        );
    }

    // An access token is not a refresh token.
    let e = a.provider().revoke_token(&access).await.unwrap_err();
    assert!(
        matches!(&e, Error::Authorization(a) if a.code.as_deref() == Some("UnsupportedTokenTypeException")),
        "{e:?}"
    );

    // Revocation off for the client: the error says so, and the authorizer still forgets the
    // session (the next request logs in; the refresh token stays valid at Cognito).
    let off = auth(&server, client("no-revocation"), "alice");
    let token = off.access_token().await.unwrap();
    let kept = token.refresh_token().unwrap().expose_secret().to_owned();
    drop(token);
    let logins = server.verified_logins();
    let e = off.revoke().await.unwrap_err();
    assert!(
        matches!(&e, Error::Authorization(a) if a.code.as_deref() == Some("UnsupportedOperationException")),
        "{e:?}"
    );
    assert!(!e.is_retryable(), "{e:?}");
    assert!(!server.refresh_token_revoked(&kept));
    assert!(off.cached_token().is_err(), "forgotten in this process");
    off.access_token().await.unwrap();
    assert_eq!(server.verified_logins(), logins + 1, "a new login");
    assert!(!off.revoke().await.unwrap_err().is_retryable());
}

/// An authorizer for the confidential client with `info` (whatever its secret): its provider
/// revokes tokens it did not obtain.
fn auth_unchecked(server: &CognitoServer, info: ClientInfo) -> SrpAuthorizer {
    SrpAuthorizer::new(
        info,
        UserCredentials::new("alice", PASSWORD),
        environment(server),
    )
    .unwrap()
}
