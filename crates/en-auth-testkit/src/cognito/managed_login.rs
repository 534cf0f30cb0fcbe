//! Cognito managed login's OAuth 2.0 endpoints, enough for a person's sign-in through a
//! federated identity provider: the pool's OpenID Connect discovery document, `/oauth2/authorize`
//! with `identity_provider` (the provider signs its user in at once and the browser is sent back
//! with a code), `/oauth2/token` (`authorization_code` with PKCE S256, `refresh_token`) and
//! `/oauth2/revoke` (RFC 7009). The tokens are those of the API (`AuthenticationResult`), in
//! the OAuth 2.0 shape (AWS: "Authorize endpoint", "Token endpoint", "Revoke endpoint" of the
//! user pool's managed login).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::api::{self, NewRefresh};
use super::{lock, Shared};

/// A code handed out by `/oauth2/authorize`, until its one exchange.
#[derive(Debug, Clone)]
pub(crate) struct AuthorizationCode {
    user: String,
    client_id: String,
    redirect_uri: String,
    code_challenge: String,
    nonce: Option<String>,
}

/// The base URL the request came to (`http://<Host>`).
fn base(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

fn params(text: &str) -> HashMap<String, String> {
    url::form_urlencoded::parse(text.as_bytes())
        .into_owned()
        .collect()
}

/// An OAuth 2.0 error answer (RFC 6749 §5.2).
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

/// `GET /{pool_id}/.well-known/openid-configuration`: the issuer is the emulator's URL of the
/// pool (where Cognito's is `https://cognito-idp.<region>.amazonaws.com/<pool>`), its
/// endpoints the emulator's; like Cognito's, it lists only the secret-based client
/// authentication methods and sends no `authorization_response_iss_parameter_supported`.
pub(crate) async fn openid_configuration(
    State(shared): State<Arc<Shared>>,
    Path(pool_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if pool_id != shared.pool_id {
        return StatusCode::NOT_FOUND.into_response();
    }
    let base = base(&headers);
    Json(json!({
        "issuer": format!("{base}/{pool_id}"),
        "authorization_endpoint": format!("{base}/oauth2/authorize"),
        "token_endpoint": format!("{base}/oauth2/token"),
        "revocation_endpoint": format!("{base}/oauth2/revoke"),
        "userinfo_endpoint": format!("{base}/oauth2/userInfo"),
        "jwks_uri": format!("{base}/{pool_id}/.well-known/jwks.json"),
        "response_types_supported": ["code", "token"],
        "scopes_supported": ["openid", "email", "phone", "profile"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
    }))
    .into_response()
}

/// `GET /oauth2/authorize`: with `identity_provider` naming a configured federated provider,
/// that provider signs its user in at once and the browser is redirected to `redirect_uri`
/// (one of the client's `CallbackURLs` exactly, as Cognito; for a client without any, any
/// `http://127.0.0.1:<port>/…` or `http://localhost:<port>/…`) with `code` and `state`. PKCE S256 is required. Without `identity_provider`, or
/// with an unknown one, a 400 page (the emulator has no sign-in page of its own).
pub(crate) async fn authorize(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
) -> Response {
    let q = params(query.as_deref().unwrap_or(""));
    let get = |name: &str| q.get(name).map(String::as_str);
    let Some(client) = get("client_id").and_then(|c| shared.clients.get(c)) else {
        return (
            StatusCode::BAD_REQUEST,
            "invalid_request: unknown client_id",
        )
            .into_response();
    };
    let client_id = client.id.as_str();
    let registered = |r: &str| {
        if client.callback_urls.is_empty() {
            loopback_callback(r)
        } else {
            client.callback_urls.iter().any(|url| url == r)
        }
    };
    let Some(redirect_uri) = get("redirect_uri").filter(|r| registered(r)) else {
        return (StatusCode::BAD_REQUEST, "redirect_mismatch").into_response();
    };
    if get("response_type") != Some("code") {
        return (StatusCode::BAD_REQUEST, "unsupported_response_type").into_response();
    }
    let (Some(challenge), Some("S256")) = (get("code_challenge"), get("code_challenge_method"))
    else {
        return (
            StatusCode::BAD_REQUEST,
            "invalid_request: PKCE S256 is required",
        )
            .into_response();
    };
    let Some(user) = get("identity_provider").and_then(|p| shared.identity_providers.get(p)) else {
        return (
            StatusCode::BAD_REQUEST,
            "the emulator signs in only through a configured identity_provider",
        )
            .into_response();
    };
    let code = api::random_token(24);
    lock(&shared.state).authorization_codes.insert(
        code.clone(),
        AuthorizationCode {
            user: user.clone(),
            client_id: client_id.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            code_challenge: challenge.to_owned(),
            nonce: get("nonce").map(str::to_owned),
        },
    );
    let mut location = match url::Url::parse(redirect_uri) {
        Ok(url) => url,
        Err(_) => return (StatusCode::BAD_REQUEST, "redirect_mismatch").into_response(),
    };
    location.query_pairs_mut().append_pair("code", &code);
    if let Some(state) = get("state") {
        location.query_pairs_mut().append_pair("state", state);
    }
    (
        StatusCode::FOUND,
        [(header::LOCATION, location.to_string())],
    )
        .into_response()
}

fn loopback_callback(uri: &str) -> bool {
    url::Url::parse(uri).is_ok_and(|u| {
        u.scheme() == "http" && matches!(u.host_str(), Some("127.0.0.1" | "localhost"))
    })
}

/// `POST /oauth2/token`: `authorization_code` (the code once, the same `client_id` and
/// `redirect_uri`, `code_verifier` whose S256 is the challenge) and `refresh_token` (as
/// `REFRESH_TOKEN_AUTH`: rotated if the client rotates). Errors as Cognito's: `invalid_grant`,
/// `invalid_client`, `unsupported_grant_type`.
pub(crate) async fn token(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let form = params(&String::from_utf8_lossy(&body));
    let get = |name: &str| form.get(name).map(String::as_str);
    let Some(client_id) = get("client_id").filter(|c| shared.clients.contains_key(*c)) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_client", "unknown client");
    };
    match get("grant_type") {
        Some("authorization_code") => {
            let issued =
                get("code").and_then(|c| lock(&shared.state).authorization_codes.remove(c));
            let Some(issued) = issued else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "unknown code");
            };
            let verifier = get("code_verifier").unwrap_or("");
            let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
            if issued.client_id != client_id
                || Some(issued.redirect_uri.as_str()) != get("redirect_uri")
                || computed != issued.code_challenge
            {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "invalid_grant");
            }
            let mut state = lock(&shared.state);
            let result = api::issue(
                &shared,
                &mut state,
                &issued.user,
                client_id,
                NewRefresh::Fresh,
            );
            let mut answer = oauth_tokens(&result);
            if let Some(nonce) = issued.nonce {
                answer["id_token"] = json!(api::id_token_with_nonce(&result, &nonce));
            }
            Json(answer).into_response()
        }
        Some("refresh_token") => {
            let mut request = Map::new();
            request.insert("AuthFlow".into(), json!("REFRESH_TOKEN_AUTH"));
            request.insert("ClientId".into(), json!(client_id));
            request.insert(
                "AuthParameters".into(),
                json!({"REFRESH_TOKEN": get("refresh_token").unwrap_or("")}),
            );
            match api::initiate_auth(&shared, &request) {
                Ok(answer) => Json(oauth_tokens(&answer["AuthenticationResult"])).into_response(),
                Err(_) => oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "invalid_grant"),
            }
        }
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "unsupported_grant_type",
        ),
    }
}

/// An `AuthenticationResult` in the OAuth 2.0 shape.
fn oauth_tokens(result: &Value) -> Value {
    let mut answer = json!({
        "access_token": result["AccessToken"],
        "id_token": result["IdToken"],
        "token_type": "Bearer",
        "expires_in": result["ExpiresIn"],
    });
    if let Some(refresh) = result.get("RefreshToken") {
        answer["refresh_token"] = refresh.clone();
    }
    answer
}

/// `POST /oauth2/revoke` (RFC 7009): the refresh token `token` of `client_id`, as
/// `RevokeToken`; `200` with an empty body, else `400` with the error.
pub(crate) async fn revoke(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let form = params(&String::from_utf8_lossy(&body));
    let mut request = Map::new();
    request.insert("ClientId".into(), json!(form.get("client_id")));
    request.insert("Token".into(), json!(form.get("token")));
    match api::revoke_token(&shared, &request) {
        Ok(_) => StatusCode::OK.into_response(),
        Err(_) => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_token_type",
            "the token could not be revoked",
        ),
    }
}
