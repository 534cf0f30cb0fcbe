//! The Cognito emulator, driven over HTTP by a minimal SRP client written here (independently of
//! the server's code) and by the official AWS SDK for Rust.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_cognitoidentityprovider as cip;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use en_auth_testkit::{AppClient, CognitoServer, PoolUser, Script, ScriptedChallenge, UserStatus};
use hmac::{Hmac, KeyInit, Mac};
use num_bigint::BigUint;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const POOL: &str = "us-east-1_TestPool";
const POOL_NAME: &str = "TestPool";
const PASSWORD: &str = "Corr3ct-Horse!Battery";
const SECRET: &str = "s3cr3t+/=client-secret";

// ---------------------------------------------------------------------------------------------
// A minimal SRP client, written from amazon-cognito-identity-js's AuthenticationHelper.
// ---------------------------------------------------------------------------------------------

const N_HEX: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD",
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F",
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B",
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510",
    "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7",
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C",
    "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF",
);

fn n() -> BigUint {
    BigUint::parse_bytes(N_HEX.as_bytes(), 16).unwrap()
}

/// `padHex` of the JS SDK, as bytes.
fn pad(x: &BigUint) -> Vec<u8> {
    let mut hex = x.to_str_radix(16);
    if hex.len() % 2 == 1 {
        hex.insert(0, '0');
    }
    if matches!(hex.as_bytes()[0], b'8'..=b'9' | b'a'..=b'f') {
        hex.insert_str(0, "00");
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

fn sha(parts: &[&[u8]]) -> Vec<u8> {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().to_vec()
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().to_vec()
}

struct SrpClient {
    a: BigUint,
    big_a: BigUint,
}

impl SrpClient {
    fn new() -> Self {
        // The JS SDK draws 128 bytes; 32 keep these debug-build tests fast and change nothing
        // for the server.
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).unwrap();
        let a = BigUint::from_bytes_be(&bytes);
        let big_a = BigUint::from(2u32).modpow(&a, &n());
        Self { a, big_a }
    }

    fn srp_a(&self) -> String {
        self.big_a.to_str_radix(16)
    }

    /// `PASSWORD_CLAIM_SIGNATURE` for a challenge.
    fn signature(&self, user_id: &str, password: &str, params: &Value, timestamp: &str) -> String {
        let n = n();
        let g = BigUint::from(2u32);
        let k = BigUint::from_bytes_be(&sha(&[&pad(&n), &pad(&g)]));
        let big_b = BigUint::parse_bytes(params["SRP_B"].as_str().unwrap().as_bytes(), 16).unwrap();
        let salt = BigUint::parse_bytes(params["SALT"].as_str().unwrap().as_bytes(), 16).unwrap();
        let u = BigUint::from_bytes_be(&sha(&[&pad(&self.big_a), &pad(&big_b)]));
        let inner = sha(&[format!("{POOL_NAME}{user_id}:{password}").as_bytes()]);
        let x = BigUint::from_bytes_be(&sha(&[&pad(&salt), &inner]));
        let kgx = (&k * g.modpow(&x, &n)) % &n;
        let base = ((&big_b % &n) + &n - kgx) % &n;
        let s = base.modpow(&(&self.a + &u * &x), &n);
        let prk = hmac(&pad(&u), &[&pad(&s)]);
        let key = &hmac(&prk, &[b"Caldera Derived Key\x01"])[..16];
        let block = STANDARD
            .decode(params["SECRET_BLOCK"].as_str().unwrap())
            .unwrap();
        STANDARD.encode(hmac(
            key,
            &[
                POOL_NAME.as_bytes(),
                user_id.as_bytes(),
                &block,
                timestamp.as_bytes(),
            ],
        ))
    }
}

fn secret_hash(username: &str, client_id: &str) -> String {
    STANDARD.encode(hmac(
        SECRET.as_bytes(),
        &[username.as_bytes(), client_id.as_bytes()],
    ))
}

/// `EEE MMM d HH:mm:ss UTC yyyy` for now, day not padded (as the JS SDK's DateHelper).
fn timestamp() -> String {
    timestamp_at(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
        false,
    )
}

fn timestamp_at(secs: u64, pad_day: bool) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // H. Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(m - 1) as usize];
    let day = if pad_day {
        format!("{d:02}")
    } else {
        d.to_string()
    };
    format!(
        "{weekday} {month} {day} {:02}:{:02}:{:02} UTC {y}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

// ---------------------------------------------------------------------------------------------
// A raw AWS JSON 1.1 caller.
// ---------------------------------------------------------------------------------------------

struct Reply {
    status: u16,
    error_header: Option<String>,
    content_type: Option<String>,
    body: Value,
}

impl Reply {
    fn ok(&self) -> &Value {
        assert_eq!(self.status, 200, "expected success, got {}", self.body);
        &self.body
    }

    #[track_caller]
    fn assert_error(&self, error_type: &str, message: &str) {
        assert_eq!(self.status, 400, "{}", self.body);
        assert_eq!(self.body["__type"], error_type, "{}", self.body);
        assert_eq!(self.body["message"], message, "{}", self.body);
        assert_eq!(self.error_header.as_deref(), Some(error_type));
        assert_eq!(
            self.content_type.as_deref(),
            Some("application/x-amz-json-1.1")
        );
    }

    #[track_caller]
    fn assert_type(&self, error_type: &str) {
        assert_eq!(self.body["__type"], error_type, "{}", self.body);
        assert_eq!(self.error_header.as_deref(), Some(error_type));
    }
}

async fn call(server: &CognitoServer, operation: &str, body: Value) -> Reply {
    let response = reqwest::Client::new()
        .post(server.endpoint())
        .header("Content-Type", "application/x-amz-json-1.1")
        .header(
            "X-Amz-Target",
            format!("AWSCognitoIdentityProviderService.{operation}"),
        )
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let error_header = header("x-amzn-errortype");
    let content_type = header("content-type");
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Reply {
        status,
        error_header,
        content_type,
        body,
    }
}

async fn initiate(
    server: &CognitoServer,
    client_id: &str,
    username: &str,
    srp: &SrpClient,
    hash: Option<String>,
) -> Reply {
    let mut params = json!({"USERNAME": username, "SRP_A": srp.srp_a()});
    if let Some(hash) = hash {
        params["SECRET_HASH"] = json!(hash);
    }
    call(
        server,
        "InitiateAuth",
        json!({"AuthFlow": "USER_SRP_AUTH", "ClientId": client_id, "AuthParameters": params}),
    )
    .await
}

/// Answers a PASSWORD_VERIFIER challenge as the JS SDK does: USERNAME = USER_ID_FOR_SRP.
async fn verify(
    server: &CognitoServer,
    client_id: &str,
    srp: &SrpClient,
    challenge: &Value,
    password: &str,
    hash: Option<String>,
) -> Reply {
    let params = &challenge["ChallengeParameters"];
    let user_id = params["USER_ID_FOR_SRP"].as_str().unwrap();
    let ts = timestamp();
    let mut responses = json!({
        "USERNAME": user_id,
        "PASSWORD_CLAIM_SECRET_BLOCK": params["SECRET_BLOCK"],
        "TIMESTAMP": ts,
        "PASSWORD_CLAIM_SIGNATURE": srp.signature(user_id, password, params, &ts),
    });
    if let Some(hash) = hash {
        responses["SECRET_HASH"] = json!(hash);
    }
    let mut request = json!({
        "ChallengeName": "PASSWORD_VERIFIER",
        "ClientId": client_id,
        "ChallengeResponses": responses,
    });
    if let Some(session) = challenge.get("Session") {
        request["Session"] = session.clone();
    }
    call(server, "RespondToAuthChallenge", request).await
}

/// A full public-client login; returns the RespondToAuthChallenge reply.
async fn login(server: &CognitoServer, client_id: &str, username: &str, password: &str) -> Reply {
    let srp = SrpClient::new();
    let challenge = initiate(server, client_id, username, &srp, None).await;
    let challenge = challenge.ok().clone();
    assert_eq!(challenge["ChallengeName"], "PASSWORD_VERIFIER");
    verify(server, client_id, &srp, &challenge, password, None).await
}

fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn alice() -> PoolUser {
    PoolUser::new("alice", PASSWORD)
        .email("alice@example.com")
        .sub("0b7c1a2e-1111-4222-8333-444455556666")
}

async fn server() -> CognitoServer {
    CognitoServer::builder()
        .pool_id(POOL)
        .public_client("public")
        .confidential_client("confidential", SECRET)
        .client(AppClient::public("no-srp").without_srp())
        .client(AppClient::public("rotating").refresh_token_rotation(0))
        .client(AppClient::confidential("rotating-secret", SECRET).refresh_token_rotation(60))
        .user(alice())
        .user(PoolUser::new("bob", "bob-password").status(UserStatus::Unconfirmed))
        .user(PoolUser::new("carol", "carol-password").status(UserStatus::ResetRequired))
        .user(PoolUser::new("dave", "temporary-password").status(UserStatus::ForceChangePassword))
        .user(PoolUser::new("erin", "erin-password").disabled())
        .user(
            PoolUser::new("frank", "frank-password")
                .challenge_after_password(ScriptedChallenge::software_token_mfa("424242")),
        )
        .access_token_lifetime_secs(300)
        .start()
        .await
}

// ---------------------------------------------------------------------------------------------
// Sign-in
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn right_password_signs_in_and_the_tokens_work() {
    let server = server().await;
    let srp = SrpClient::new();
    let challenge = initiate(&server, "public", "alice", &srp, None).await;
    let challenge = challenge.ok().clone();
    let params = &challenge["ChallengeParameters"];
    assert_eq!(challenge["ChallengeName"], "PASSWORD_VERIFIER");
    assert_eq!(params["USERNAME"], "alice");
    assert_eq!(params["USER_ID_FOR_SRP"], "alice");
    assert!(
        challenge.get("Session").is_none(),
        "real Cognito sends none"
    );
    for key in ["SRP_B", "SALT"] {
        let hex = params[key].as_str().unwrap();
        assert!(hex.bytes().all(|c| c.is_ascii_hexdigit()), "{key}: {hex}");
        assert!(!hex.starts_with('0'), "{key} is unpadded hex: {hex}");
    }

    let reply = verify(&server, "public", &srp, &challenge, PASSWORD, None).await;
    assert_eq!(
        reply.content_type.as_deref(),
        Some("application/x-amz-json-1.1")
    );
    let result = &reply.ok()["AuthenticationResult"];
    assert_eq!(result["TokenType"], "Bearer");
    assert_eq!(result["ExpiresIn"], 300);
    let access = result["AccessToken"].as_str().unwrap();
    let id = result["IdToken"].as_str().unwrap();
    assert!(result["RefreshToken"].as_str().unwrap().len() > 100);
    let access_claims = claims(access);
    assert_eq!(access_claims["token_use"], "access");
    assert_eq!(access_claims["username"], "alice");
    assert_eq!(access_claims["client_id"], "public");
    assert_eq!(access_claims["sub"], "0b7c1a2e-1111-4222-8333-444455556666");
    assert_eq!(
        access_claims["iss"],
        "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_TestPool"
    );
    assert_eq!(
        access_claims["exp"].as_u64().unwrap() - access_claims["iat"].as_u64().unwrap(),
        300
    );
    let id_claims = claims(id);
    assert_eq!(id_claims["token_use"], "id");
    assert_eq!(id_claims["cognito:username"], "alice");
    assert_eq!(id_claims["aud"], "public");
    assert_eq!(id_claims["email"], "alice@example.com");

    assert_eq!(server.verified_logins(), 1);
    assert_eq!(server.failed_proofs(), 0);
    assert_eq!(server.tokens_issued(), 1);
    assert_eq!(server.calls("InitiateAuth"), 1);
    assert_eq!(server.calls("RespondToAuthChallenge"), 1);
    assert_eq!(server.access_token_owner(access).as_deref(), Some("alice"));
    assert_eq!(
        server.access_token_owner(id),
        None,
        "ID tokens are not access tokens"
    );

    let user = call(&server, "GetUser", json!({"AccessToken": access})).await;
    let user = user.ok();
    assert_eq!(user["Username"], "alice");
    let attributes = user["UserAttributes"].as_array().unwrap();
    assert!(attributes.contains(&json!({"Name": "email", "Value": "alice@example.com"})));
    assert!(attributes
        .contains(&json!({"Name": "sub", "Value": "0b7c1a2e-1111-4222-8333-444455556666"})));

    let http = reqwest::Client::new();
    let ok = http
        .get(server.resource_url())
        .bearer_auth(access)
        .header("X-Api-Key", "key-1")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "hello, alice");
    assert_eq!(server.last_api_key().as_deref(), Some("key-1"));
    let denied = http
        .get(server.resource_url())
        .bearer_auth("forged")
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 401);
    assert_eq!(
        denied.headers()["www-authenticate"],
        "Bearer error=\"invalid_token\""
    );
    let bare = http.get(server.resource_url()).send().await.unwrap();
    assert_eq!(bare.status(), 401);
    assert_eq!(server.resource_requests(), 3);
    assert_eq!(server.resource_authorized(), 1);
    assert_eq!(server.missing_authorization(), 1);
}

#[tokio::test]
async fn wrong_password_is_rejected() {
    let server = server().await;
    let reply = login(&server, "public", "alice", "not-the-password").await;
    reply.assert_error("NotAuthorizedException", "Incorrect username or password.");
    assert_eq!(server.failed_proofs(), 1);
    assert_eq!(server.verified_logins(), 0);
    assert_eq!(server.tokens_issued(), 0);
}

#[tokio::test]
async fn many_logins_all_verify_including_odd_length_hex() {
    // SRP_B and SALT are unpadded hex: about one challenge in sixteen has an odd-length SRP_B,
    // and salts with a leading zero nibble are odd too. All must verify.
    let server = server().await;
    let mut odd = 0;
    for _ in 0..12 {
        let srp = SrpClient::new();
        let challenge = initiate(&server, "public", "alice", &srp, None).await;
        let challenge = challenge.ok().clone();
        let params = &challenge["ChallengeParameters"];
        odd += usize::from(params["SRP_B"].as_str().unwrap().len() % 2 == 1);
        odd += usize::from(params["SALT"].as_str().unwrap().len() % 2 == 1);
        verify(&server, "public", &srp, &challenge, PASSWORD, None)
            .await
            .ok();
    }
    assert_eq!(server.verified_logins(), 12);
    eprintln!("odd-length SRP_B/SALT seen: {odd}");
}

#[tokio::test]
async fn email_alias_signs_in_with_the_canonical_user_name() {
    let server = server().await;
    let srp = SrpClient::new();
    let challenge = initiate(&server, "public", "Alice@Example.com", &srp, None).await;
    let challenge = challenge.ok().clone();
    let params = &challenge["ChallengeParameters"];
    assert_eq!(params["USERNAME"], "alice");
    assert_eq!(params["USER_ID_FOR_SRP"], "alice");
    verify(&server, "public", &srp, &challenge, PASSWORD, None)
        .await
        .ok();

    // A client that computes the proof over the typed alias instead fails.
    let srp = SrpClient::new();
    let challenge = initiate(&server, "public", "alice@example.com", &srp, None).await;
    let challenge = challenge.ok().clone();
    let params = &challenge["ChallengeParameters"];
    let ts = timestamp();
    let reply = call(
        &server,
        "RespondToAuthChallenge",
        json!({
            "ChallengeName": "PASSWORD_VERIFIER",
            "ClientId": "public",
            "ChallengeResponses": {
                "USERNAME": "alice@example.com",
                "PASSWORD_CLAIM_SECRET_BLOCK": params["SECRET_BLOCK"],
                "TIMESTAMP": ts,
                "PASSWORD_CLAIM_SIGNATURE": srp.signature("alice@example.com", PASSWORD, params, &ts),
            },
        }),
    )
    .await;
    reply.assert_error("NotAuthorizedException", "Incorrect username or password.");
    // The sub is not a sign-in name in an alias pool.
    let reply = initiate(
        &server,
        "public",
        "0b7c1a2e-1111-4222-8333-444455556666",
        &SrpClient::new(),
        None,
    )
    .await;
    reply.assert_error("UserNotFoundException", "User does not exist.");
}

#[tokio::test]
async fn email_as_username_pools_use_the_sub() {
    let server = CognitoServer::builder()
        .pool_id(POOL)
        .confidential_client("confidential", SECRET)
        .user(alice())
        .email_as_username(true)
        .start()
        .await;
    let sub = "0b7c1a2e-1111-4222-8333-444455556666";
    assert_eq!(server.cognito_username("alice").as_deref(), Some(sub));
    let srp = SrpClient::new();
    let challenge = initiate(
        &server,
        "confidential",
        "alice@example.com",
        &srp,
        Some(secret_hash("alice@example.com", "confidential")),
    )
    .await;
    let challenge = challenge.ok().clone();
    assert_eq!(challenge["ChallengeParameters"]["USERNAME"], sub);
    assert_eq!(challenge["ChallengeParameters"]["USER_ID_FOR_SRP"], sub);
    let reply = verify(
        &server,
        "confidential",
        &srp,
        &challenge,
        PASSWORD,
        Some(secret_hash(sub, "confidential")),
    )
    .await;
    let access = reply.ok()["AuthenticationResult"]["AccessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(claims(&access)["username"], sub);
    let user = call(&server, "GetUser", json!({"AccessToken": access})).await;
    assert_eq!(user.ok()["Username"], sub);
}

// ---------------------------------------------------------------------------------------------
// SECRET_HASH
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn secret_hash_is_enforced_at_each_step() {
    let server = server().await;
    let srp = SrpClient::new();
    initiate(&server, "confidential", "alice", &srp, None)
        .await
        .assert_error(
            "NotAuthorizedException",
            "Client confidential is configured with secret but SECRET_HASH was not received",
        );
    initiate(
        &server,
        "confidential",
        "alice",
        &srp,
        Some(secret_hash("alice", "public")),
    )
    .await
    .assert_error(
        "NotAuthorizedException",
        "Unable to verify secret hash for client confidential",
    );
    // A hash sent for a client without a secret is refused at InitiateAuth.
    initiate(
        &server,
        "public",
        "alice",
        &srp,
        Some(secret_hash("alice", "public")),
    )
    .await
    .assert_type("InvalidParameterException");

    // Signing in with the alias: InitiateAuth hashes what was typed, RespondToAuthChallenge
    // hashes the canonical user name.
    let challenge = initiate(
        &server,
        "confidential",
        "alice@example.com",
        &srp,
        Some(secret_hash("alice@example.com", "confidential")),
    )
    .await;
    let challenge = challenge.ok().clone();
    verify(&server, "confidential", &srp, &challenge, PASSWORD, None)
        .await
        .assert_error(
            "NotAuthorizedException",
            "Client confidential is configured with secret but SECRET_HASH was not received",
        );
    verify(
        &server,
        "confidential",
        &srp,
        &challenge,
        PASSWORD,
        Some(secret_hash("alice@example.com", "confidential")),
    )
    .await
    .assert_error(
        "NotAuthorizedException",
        "Unable to verify secret hash for client confidential",
    );
    let reply = verify(
        &server,
        "confidential",
        &srp,
        &challenge,
        PASSWORD,
        Some(secret_hash("alice", "confidential")),
    )
    .await;
    let refresh = reply.ok()["AuthenticationResult"]["RefreshToken"]
        .as_str()
        .unwrap()
        .to_owned();

    // Refresh: the hash is over the token owner's user name, not the alias.
    let refresh_with = |hash: Option<String>| {
        let mut params = json!({"REFRESH_TOKEN": refresh});
        if let Some(hash) = hash {
            params["SECRET_HASH"] = json!(hash);
        }
        call(
            &server,
            "InitiateAuth",
            json!({"AuthFlow": "REFRESH_TOKEN_AUTH", "ClientId": "confidential", "AuthParameters": params}),
        )
    };
    refresh_with(None).await.assert_error(
        "NotAuthorizedException",
        "Client confidential is configured with secret but SECRET_HASH was not received",
    );
    refresh_with(Some(secret_hash("alice@example.com", "confidential")))
        .await
        .assert_error(
            "NotAuthorizedException",
            "Unable to verify secret hash for client confidential",
        );
    let refreshed = refresh_with(Some(secret_hash("alice", "confidential"))).await;
    let result = &refreshed.ok()["AuthenticationResult"];
    assert!(result["AccessToken"].is_string());
    assert!(
        result.get("RefreshToken").is_none(),
        "no new refresh token without rotation"
    );
}

// ---------------------------------------------------------------------------------------------
// Errors of InitiateAuth and user states
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn client_and_user_errors() {
    let server = server().await;
    let srp = SrpClient::new();
    initiate(&server, "nobody", "alice", &srp, None)
        .await
        .assert_error(
            "ResourceNotFoundException",
            "User pool client nobody does not exist.",
        );
    initiate(&server, "no-srp", "alice", &srp, None)
        .await
        .assert_error(
            "InvalidParameterException",
            "USER_SRP_AUTH is not enabled for the client.",
        );
    initiate(&server, "public", "mallory", &srp, None)
        .await
        .assert_error("UserNotFoundException", "User does not exist.");
    initiate(&server, "public", "bob", &srp, None)
        .await
        .assert_error("UserNotConfirmedException", "User is not confirmed.");
    initiate(&server, "public", "erin", &srp, None)
        .await
        .assert_error("NotAuthorizedException", "User is disabled.");
    call(
        &server,
        "InitiateAuth",
        json!({"AuthFlow": "USER_SRP_AUTH", "ClientId": "public", "AuthParameters": {"USERNAME": "alice"}}),
    )
    .await
    .assert_error(
        "InvalidParameterException",
        "Missing required parameter SRP_A",
    );
    call(
        &server,
        "InitiateAuth",
        json!({"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": "public", "AuthParameters": {"USERNAME": "alice", "PASSWORD": PASSWORD}}),
    )
    .await
    .assert_type("InvalidParameterException");

    // RESET_REQUIRED: only a correct proof learns it.
    login(&server, "public", "carol", "wrong")
        .await
        .assert_error("NotAuthorizedException", "Incorrect username or password.");
    login(&server, "public", "carol", "carol-password")
        .await
        .assert_error(
            "PasswordResetRequiredException",
            "Password reset required for the user",
        );
}

#[tokio::test]
async fn hidden_user_existence_answers_an_unanswerable_challenge() {
    let server = CognitoServer::builder()
        .pool_id(POOL)
        .public_client("public")
        .user(alice())
        .prevent_user_existence_errors(true)
        .start()
        .await;
    let srp = SrpClient::new();
    let challenge = initiate(&server, "public", "mallory", &srp, None).await;
    let challenge = challenge.ok().clone();
    assert_eq!(
        challenge["ChallengeParameters"]["USER_ID_FOR_SRP"],
        "mallory"
    );
    verify(&server, "public", &srp, &challenge, "anything", None)
        .await
        .assert_error("NotAuthorizedException", "Incorrect username or password.");
}

#[tokio::test]
async fn force_change_password_leads_to_new_password_required() {
    let server = server().await;
    let reply = login(&server, "public", "dave", "temporary-password").await;
    let challenge = reply.ok().clone();
    assert_eq!(challenge["ChallengeName"], "NEW_PASSWORD_REQUIRED");
    let params = &challenge["ChallengeParameters"];
    assert_eq!(params["USER_ID_FOR_SRP"], "dave");
    assert_eq!(params["requiredAttributes"], "[]");
    let _: Value = serde_json::from_str(params["userAttributes"].as_str().unwrap()).unwrap();
    let session = challenge["Session"].as_str().unwrap();

    call(
        &server,
        "RespondToAuthChallenge",
        json!({"ChallengeName": "NEW_PASSWORD_REQUIRED", "ClientId": "public",
               "ChallengeResponses": {"USERNAME": "dave", "NEW_PASSWORD": "n3w-password"}}),
    )
    .await
    .assert_error(
        "InvalidParameterException",
        "Missing required parameter Session",
    );
    let done = call(
        &server,
        "RespondToAuthChallenge",
        json!({"ChallengeName": "NEW_PASSWORD_REQUIRED", "ClientId": "public", "Session": session,
               "ChallengeResponses": {"USERNAME": "dave", "NEW_PASSWORD": "n3w-password"}}),
    )
    .await;
    assert!(done.ok()["AuthenticationResult"]["AccessToken"].is_string());
    assert_eq!(server.user_status("dave"), Some(UserStatus::Confirmed));
    // The session is spent.
    call(
        &server,
        "RespondToAuthChallenge",
        json!({"ChallengeName": "NEW_PASSWORD_REQUIRED", "ClientId": "public", "Session": session,
               "ChallengeResponses": {"USERNAME": "dave", "NEW_PASSWORD": "again"}}),
    )
    .await
    .assert_error("NotAuthorizedException", "Invalid session for the user.");
    login(&server, "public", "dave", "temporary-password")
        .await
        .assert_error("NotAuthorizedException", "Incorrect username or password.");
    assert!(
        login(&server, "public", "dave", "n3w-password").await.ok()["AuthenticationResult"]
            .is_object()
    );
}

#[tokio::test]
async fn required_session_must_come_back() {
    let server = CognitoServer::builder()
        .pool_id(POOL)
        .public_client("public")
        .user(alice())
        .require_session(true)
        .start()
        .await;
    let srp = SrpClient::new();
    let challenge = initiate(&server, "public", "alice", &srp, None).await;
    let mut challenge = challenge.ok().clone();
    let session = challenge["Session"].as_str().unwrap().to_owned();
    challenge.as_object_mut().unwrap().remove("Session");
    verify(&server, "public", &srp, &challenge, PASSWORD, None)
        .await
        .assert_error(
            "InvalidParameterException",
            "Missing required parameter Session",
        );
    challenge["Session"] = json!("not-the-session");
    verify(&server, "public", &srp, &challenge, PASSWORD, None)
        .await
        .assert_error("NotAuthorizedException", "Invalid session for the user.");
    challenge["Session"] = json!(session);
    verify(&server, "public", &srp, &challenge, PASSWORD, None)
        .await
        .ok();
}

#[tokio::test]
async fn timestamps_are_checked() {
    let server = server().await;
    let srp = SrpClient::new();
    let challenge = initiate(&server, "public", "alice", &srp, None).await;
    let challenge = challenge.ok().clone();
    let params = &challenge["ChallengeParameters"];
    let answer = |ts: String, signed: String| {
        call(
            &server,
            "RespondToAuthChallenge",
            json!({"ChallengeName": "PASSWORD_VERIFIER", "ClientId": "public", "ChallengeResponses": {
                "USERNAME": "alice", "PASSWORD_CLAIM_SECRET_BLOCK": params["SECRET_BLOCK"],
                "TIMESTAMP": ts, "PASSWORD_CLAIM_SIGNATURE": signed}}),
        )
    };
    // 2000-02-01 was a Tuesday.
    let iso = "2000-02-01T03:04:05Z".to_owned();
    answer(iso.clone(), srp.signature("alice", PASSWORD, params, &iso))
        .await
        .assert_error(
            "InvalidParameterException",
            "TIMESTAMP format should be EEE MMM d HH:mm:ss z yyyy in english.",
        );
    // A zero-padded day parses, but the proof is over the canonical form: signing the padded
    // string fails.
    let padded = timestamp_at(949_374_245, true);
    assert_eq!(padded, "Tue Feb 01 03:04:05 UTC 2000");
    answer(
        padded.clone(),
        srp.signature("alice", PASSWORD, params, &padded),
    )
    .await
    .assert_error("NotAuthorizedException", "Incorrect username or password.");
    let canonical = timestamp_at(949_374_245, false);
    assert_eq!(canonical, "Tue Feb 1 03:04:05 UTC 2000");
    answer(
        canonical.clone(),
        srp.signature("alice", PASSWORD, params, &canonical),
    )
    .await
    .ok();
}

// ---------------------------------------------------------------------------------------------
// Refresh, rotation, GetUser
// ---------------------------------------------------------------------------------------------

async fn refresh_token_of(server: &CognitoServer, client_id: &str) -> String {
    let reply = login(server, client_id, "alice", PASSWORD).await;
    reply.ok()["AuthenticationResult"]["RefreshToken"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn refresh_auth(server: &CognitoServer, client_id: &str, token: &str) -> Reply {
    call(
        server,
        "InitiateAuth",
        json!({"AuthFlow": "REFRESH_TOKEN_AUTH", "ClientId": client_id, "AuthParameters": {"REFRESH_TOKEN": token}}),
    )
    .await
}

#[tokio::test]
async fn refresh_token_auth_renews_and_can_be_revoked_or_expire() {
    let server = server().await;
    let token = refresh_token_of(&server, "public").await;
    let renewed = refresh_auth(&server, "public", &token).await;
    let result = &renewed.ok()["AuthenticationResult"];
    assert_eq!(result["ExpiresIn"], 300);
    assert!(result.get("RefreshToken").is_none());
    let legacy = call(
        &server,
        "InitiateAuth",
        json!({"AuthFlow": "REFRESH_TOKEN", "ClientId": "public", "AuthParameters": {"REFRESH_TOKEN": token}}),
    )
    .await;
    assert!(legacy.ok()["AuthenticationResult"]["AccessToken"].is_string());
    refresh_auth(&server, "public", "garbage")
        .await
        .assert_error("NotAuthorizedException", "Invalid Refresh Token");
    refresh_auth(&server, "confidential", &token)
        .await
        .assert_error("NotAuthorizedException", "Invalid Refresh Token");
    assert_eq!(server.verified_logins(), 1, "refreshes are no logins");

    server.revoke_refresh_tokens();
    refresh_auth(&server, "public", &token)
        .await
        .assert_error("NotAuthorizedException", "Refresh Token has been revoked");
    let token = refresh_token_of(&server, "public").await;
    server.expire_refresh_tokens();
    refresh_auth(&server, "public", &token)
        .await
        .assert_error("NotAuthorizedException", "Refresh Token has expired");
}

#[tokio::test]
async fn get_tokens_from_refresh_token_rotates() {
    let server = server().await;
    // Without rotation: new access and ID tokens only.
    let token = refresh_token_of(&server, "public").await;
    let reply = call(
        &server,
        "GetTokensFromRefreshToken",
        json!({"ClientId": "public", "RefreshToken": token}),
    )
    .await;
    let result = &reply.ok()["AuthenticationResult"];
    assert!(result["IdToken"].is_string());
    assert!(result.get("RefreshToken").is_none());

    // With rotation and no grace period: a new refresh token, the old one is spent.
    let old = refresh_token_of(&server, "rotating").await;
    refresh_auth(&server, "rotating", &old)
        .await
        .assert_type("NotAuthorizedException");
    let reply = call(
        &server,
        "GetTokensFromRefreshToken",
        json!({"ClientId": "rotating", "RefreshToken": old}),
    )
    .await;
    let new = reply.ok()["AuthenticationResult"]["RefreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new, old);
    call(
        &server,
        "GetTokensFromRefreshToken",
        json!({"ClientId": "rotating", "RefreshToken": old}),
    )
    .await
    .assert_type("RefreshTokenReuseException");
    call(
        &server,
        "GetTokensFromRefreshToken",
        json!({"ClientId": "rotating", "RefreshToken": new}),
    )
    .await
    .ok();

    // A confidential rotating client: ClientSecret required; a 60 s grace period.
    let srp = SrpClient::new();
    let challenge = initiate(
        &server,
        "rotating-secret",
        "alice",
        &srp,
        Some(secret_hash("alice", "rotating-secret")),
    )
    .await;
    let challenge = challenge.ok().clone();
    let reply = verify(
        &server,
        "rotating-secret",
        &srp,
        &challenge,
        PASSWORD,
        Some(secret_hash("alice", "rotating-secret")),
    )
    .await;
    let old = reply.ok()["AuthenticationResult"]["RefreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    call(
        &server,
        "GetTokensFromRefreshToken",
        json!({"ClientId": "rotating-secret", "RefreshToken": old}),
    )
    .await
    .assert_error(
        "NotAuthorizedException",
        "Client rotating-secret is configured with secret but ClientSecret was not received",
    );
    call(
        &server,
        "GetTokensFromRefreshToken",
        json!({"ClientId": "rotating-secret", "RefreshToken": old, "ClientSecret": "wrong"}),
    )
    .await
    .assert_type("NotAuthorizedException");
    for _ in 0..2 {
        let reply = call(
            &server,
            "GetTokensFromRefreshToken",
            json!({"ClientId": "rotating-secret", "RefreshToken": old, "ClientSecret": SECRET}),
        )
        .await;
        assert!(reply.ok()["AuthenticationResult"]["RefreshToken"].is_string());
    }
}

#[tokio::test]
async fn get_user_rejects_bad_tokens() {
    let server = server().await;
    call(&server, "GetUser", json!({"AccessToken": "forged"}))
        .await
        .assert_error("NotAuthorizedException", "Invalid Access Token");
    let reply = login(&server, "public", "alice", PASSWORD).await;
    let access = reply.ok()["AuthenticationResult"]["AccessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    server.expire_access_tokens();
    call(&server, "GetUser", json!({"AccessToken": access}))
        .await
        .assert_error("NotAuthorizedException", "Access Token has expired");
    assert_eq!(server.access_token_owner(&access), None);
    let reply = login(&server, "public", "alice", PASSWORD).await;
    let access = reply.ok()["AuthenticationResult"]["AccessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    server.revoke_access_tokens();
    call(&server, "GetUser", json!({"AccessToken": access}))
        .await
        .assert_error("NotAuthorizedException", "Access Token has been revoked");
    let denied = reqwest::Client::new()
        .get(server.resource_url())
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 401);
}

// ---------------------------------------------------------------------------------------------
// Scripts and challenges
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn scripted_errors_fail_the_next_calls() {
    let server = server().await;
    server.fail_next(
        "InitiateAuth",
        "TooManyRequestsException",
        "Rate exceeded",
        2,
    );
    let srp = SrpClient::new();
    for _ in 0..2 {
        initiate(&server, "public", "alice", &srp, None)
            .await
            .assert_error("TooManyRequestsException", "Rate exceeded");
    }
    initiate(&server, "public", "alice", &srp, None).await.ok();
    assert_eq!(server.calls("InitiateAuth"), 3);

    server.fail_next(
        "RespondToAuthChallenge",
        "InternalErrorException",
        "boom",
        1,
    );
    let challenge = initiate(&server, "public", "alice", &srp, None).await;
    let challenge = challenge.ok().clone();
    let reply = verify(&server, "public", &srp, &challenge, PASSWORD, None).await;
    assert_eq!(reply.status, 500);
    reply.assert_type("InternalErrorException");
    // The challenge is still answerable (as on AWS, until it expires).
    verify(&server, "public", &srp, &challenge, PASSWORD, None)
        .await
        .ok();

    server.script("GetUser", Script::raw(200, "not json"), 1);
    let reply = call(&server, "GetUser", json!({"AccessToken": "x"})).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, Value::String("not json".into()));

    // One script per call, in order: a delayed normal answer, then a 503.
    server.script("GetUser", Script::Delay(Duration::from_millis(10)), 1);
    server.script(
        "GetUser",
        Script::error_with_status("ServiceUnavailable", "later", 503),
        1,
    );
    call(&server, "GetUser", json!({"AccessToken": "x"}))
        .await
        .assert_error("NotAuthorizedException", "Invalid Access Token");
    let reply = call(&server, "GetUser", json!({"AccessToken": "x"})).await;
    assert_eq!(reply.status, 503);
    reply.assert_type("ServiceUnavailable");
    assert_eq!(server.calls("GetUser"), 3);

    server.fail_next("GetUser", "TooManyRequestsException", "x", 5);
    server.clear_scripts();
    call(&server, "GetUser", json!({"AccessToken": "x"}))
        .await
        .assert_type("NotAuthorizedException");

    call(&server, "AdminCreateUser", json!({}))
        .await
        .assert_type("UnknownOperationException");
}

#[tokio::test]
async fn held_requests_wait_for_release() {
    let server = std::sync::Arc::new(server().await);
    server.hold_requests();
    let s = std::sync::Arc::clone(&server);
    let pending =
        tokio::spawn(async move { call(&s, "GetUser", json!({"AccessToken": "x"})).await.body });
    // The call arrives (counted on arrival, then held): polled, with a deadline.
    let arrived = async {
        while server.calls("GetUser") == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), arrived)
        .await
        .expect("the held call reached the server within 30 s");
    assert!(!pending.is_finished());
    server.release_requests();
    assert_eq!(pending.await.unwrap()["__type"], "NotAuthorizedException");
}

/// Signs alice in and returns the challenge that follows the password.
async fn challenge_after_password(server: &CognitoServer, user: &str, password: &str) -> Value {
    let reply = login(server, "public", user, password).await;
    let challenge = reply.ok().clone();
    assert!(challenge["Session"].is_string(), "{challenge}");
    assert!(challenge.get("AuthenticationResult").is_none());
    challenge
}

async fn answer(server: &CognitoServer, challenge: &Value, name: &str, responses: Value) -> Reply {
    call(
        server,
        "RespondToAuthChallenge",
        json!({"ChallengeName": name, "ClientId": "public", "Session": challenge["Session"],
               "ChallengeResponses": responses}),
    )
    .await
}

#[tokio::test]
async fn totp_and_sms_mfa_challenges() {
    let server = server().await;
    server.script(
        "RespondToAuthChallenge",
        Script::challenge(ScriptedChallenge::software_token_mfa("123456")),
        1,
    );
    // A failing proof does not consume the scripted challenge.
    login(&server, "public", "alice", "wrong")
        .await
        .assert_type("NotAuthorizedException");
    let challenge = challenge_after_password(&server, "alice", PASSWORD).await;
    assert_eq!(challenge["ChallengeName"], "SOFTWARE_TOKEN_MFA");
    assert_eq!(challenge["ChallengeParameters"]["USER_ID_FOR_SRP"], "alice");
    answer(
        &server,
        &challenge,
        "SOFTWARE_TOKEN_MFA",
        json!({"USERNAME": "alice", "SOFTWARE_TOKEN_MFA_CODE": "000000"}),
    )
    .await
    .assert_error(
        "CodeMismatchException",
        "Invalid code or auth state for the user.",
    );
    answer(
        &server,
        &challenge,
        "SMS_MFA",
        json!({"USERNAME": "alice", "SMS_MFA_CODE": "123456"}),
    )
    .await
    .assert_type("InvalidParameterException");
    let done = answer(
        &server,
        &challenge,
        "SOFTWARE_TOKEN_MFA",
        json!({"USERNAME": "alice", "SOFTWARE_TOKEN_MFA_CODE": "123456"}),
    )
    .await;
    assert!(done.ok()["AuthenticationResult"]["AccessToken"].is_string());

    server.script(
        "RespondToAuthChallenge",
        Script::challenge(ScriptedChallenge::sms_mfa("987654")),
        1,
    );
    let challenge = challenge_after_password(&server, "alice", PASSWORD).await;
    assert_eq!(challenge["ChallengeName"], "SMS_MFA");
    assert_eq!(
        challenge["ChallengeParameters"]["CODE_DELIVERY_DELIVERY_MEDIUM"],
        "SMS"
    );
    let done = answer(
        &server,
        &challenge,
        "SMS_MFA",
        json!({"USERNAME": "alice", "SMS_MFA_CODE": "987654"}),
    )
    .await;
    assert!(done.ok()["AuthenticationResult"].is_object());

    // A user whose MFA is configured always gets it.
    for _ in 0..2 {
        let challenge = challenge_after_password(&server, "frank", "frank-password").await;
        assert_eq!(challenge["ChallengeName"], "SOFTWARE_TOKEN_MFA");
        let done = answer(
            &server,
            &challenge,
            "SOFTWARE_TOKEN_MFA",
            json!({"USERNAME": "frank", "SOFTWARE_TOKEN_MFA_CODE": "424242"}),
        )
        .await;
        assert!(done.ok()["AuthenticationResult"].is_object());
    }
}

#[tokio::test]
async fn select_mfa_type_setup_custom_and_device_challenges() {
    let server = server().await;
    server.script(
        "RespondToAuthChallenge",
        Script::challenge(ScriptedChallenge::SelectMfaType {
            sms_code: "111111".into(),
            totp_code: "222222".into(),
        }),
        1,
    );
    let challenge = challenge_after_password(&server, "alice", PASSWORD).await;
    assert_eq!(challenge["ChallengeName"], "SELECT_MFA_TYPE");
    let choices: Vec<String> = serde_json::from_str(
        challenge["ChallengeParameters"]["MFAS_CAN_CHOOSE"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(choices, ["SMS_MFA", "SOFTWARE_TOKEN_MFA"]);
    let next = answer(
        &server,
        &challenge,
        "SELECT_MFA_TYPE",
        json!({"USERNAME": "alice", "ANSWER": "SOFTWARE_TOKEN_MFA"}),
    )
    .await;
    let next = next.ok().clone();
    assert_eq!(next["ChallengeName"], "SOFTWARE_TOKEN_MFA");
    let done = answer(
        &server,
        &next,
        "SOFTWARE_TOKEN_MFA",
        json!({"USERNAME": "alice", "SOFTWARE_TOKEN_MFA_CODE": "222222"}),
    )
    .await;
    assert!(done.ok()["AuthenticationResult"].is_object());

    server.script(
        "RespondToAuthChallenge",
        Script::challenge(ScriptedChallenge::MfaSetup),
        1,
    );
    let challenge = challenge_after_password(&server, "alice", PASSWORD).await;
    assert_eq!(challenge["ChallengeName"], "MFA_SETUP");
    assert_eq!(
        challenge["ChallengeParameters"]["MFAS_CAN_SETUP"],
        r#"["SOFTWARE_TOKEN_MFA"]"#
    );
    answer(
        &server,
        &challenge,
        "MFA_SETUP",
        json!({"USERNAME": "alice"}),
    )
    .await
    .assert_type("InvalidParameterException");

    server.script(
        "RespondToAuthChallenge",
        Script::challenge(ScriptedChallenge::DeviceSrpAuth),
        1,
    );
    let challenge = challenge_after_password(&server, "alice", PASSWORD).await;
    assert_eq!(challenge["ChallengeName"], "DEVICE_SRP_AUTH");
    answer(
        &server,
        &challenge,
        "DEVICE_SRP_AUTH",
        json!({"USERNAME": "alice", "DEVICE_KEY": "k", "SRP_A": "0a"}),
    )
    .await
    .assert_error("ResourceNotFoundException", "Device does not exist.");

    // CUSTOM_CHALLENGE in place of PASSWORD_VERIFIER.
    server.script(
        "InitiateAuth",
        Script::challenge(ScriptedChallenge::CustomChallenge {
            answer: "blue".into(),
            parameters: vec![("question".into(), "favourite colour?".into())],
        }),
        2,
    );
    let reply = initiate(&server, "public", "alice", &SrpClient::new(), None).await;
    let challenge = reply.ok().clone();
    assert_eq!(challenge["ChallengeName"], "CUSTOM_CHALLENGE");
    assert_eq!(
        challenge["ChallengeParameters"]["question"],
        "favourite colour?"
    );
    let done = answer(
        &server,
        &challenge,
        "CUSTOM_CHALLENGE",
        json!({"USERNAME": "alice", "ANSWER": "blue"}),
    )
    .await;
    assert!(done.ok()["AuthenticationResult"].is_object());
    let reply = initiate(&server, "public", "alice", &SrpClient::new(), None).await;
    let challenge = reply.ok().clone();
    answer(
        &server,
        &challenge,
        "CUSTOM_CHALLENGE",
        json!({"USERNAME": "alice", "ANSWER": "red"}),
    )
    .await
    .assert_error("NotAuthorizedException", "Incorrect username or password.");
}

// ---------------------------------------------------------------------------------------------
// Secrecy
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn debug_output_reveals_no_secret() {
    let builder = CognitoServer::builder()
        .pool_id(POOL)
        .confidential_client("confidential", SECRET)
        .user(
            alice().challenge_after_password(ScriptedChallenge::CustomChallenge {
                answer: "the-answer".into(),
                parameters: vec![],
            }),
        );
    let mut scan = en_auth_peers::secrecy::Scan::new();
    scan.secret("the client secret", SECRET)
        .secret("the password", PASSWORD)
        .secret("the custom challenge's answer", "the-answer")
        .secret("the TOTP code", "135790")
        .secret("the SMS code", "246802")
        .debug("the builder", &builder)
        .debug(
            "a TOTP challenge",
            &ScriptedChallenge::software_token_mfa("135790"),
        )
        .debug(
            "an SMS challenge's script",
            &Script::challenge(ScriptedChallenge::sms_mfa("246802")),
        )
        .debug("an app client", &AppClient::confidential("c", SECRET))
        .debug("a user", &PoolUser::new("u", PASSWORD));
    let server = builder.start().await;
    let srp = SrpClient::new();
    let challenge = initiate(
        &server,
        "confidential",
        "alice",
        &srp,
        Some(secret_hash("alice", "confidential")),
    )
    .await;
    let challenge = challenge.ok().clone();
    let reply = verify(
        &server,
        "confidential",
        &srp,
        &challenge,
        PASSWORD,
        Some(secret_hash("alice", "confidential")),
    )
    .await;
    assert_eq!(reply.ok()["ChallengeName"], "CUSTOM_CHALLENGE");
    scan.debug("the running server", &server);
    scan.assert_clean();
}

// ---------------------------------------------------------------------------------------------
// The official AWS SDK for Rust parses the emulator's answers and errors.
// ---------------------------------------------------------------------------------------------

fn sdk(server: &CognitoServer, retries: bool) -> cip::Client {
    let retry = if retries {
        cip::config::retry::RetryConfig::standard().with_initial_backoff(Duration::from_millis(1))
    } else {
        cip::config::retry::RetryConfig::disabled()
    };
    let config = cip::Config::builder()
        .behavior_version_latest()
        .region(cip::config::Region::new("us-east-1"))
        .endpoint_url(server.endpoint())
        .retry_config(retry)
        .build();
    cip::Client::from_conf(config)
}

#[tokio::test]
async fn the_aws_sdk_signs_in_refreshes_and_gets_typed_errors() {
    use cip::types::{AuthFlowType, ChallengeNameType};

    let server = server().await;
    let client = sdk(&server, false);
    let srp = SrpClient::new();
    let challenge = client
        .initiate_auth()
        .client_id("confidential")
        .auth_flow(AuthFlowType::UserSrpAuth)
        .auth_parameters("USERNAME", "alice@example.com")
        .auth_parameters("SRP_A", srp.srp_a())
        .auth_parameters(
            "SECRET_HASH",
            secret_hash("alice@example.com", "confidential"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        challenge.challenge_name(),
        Some(&ChallengeNameType::PasswordVerifier)
    );
    assert_eq!(challenge.session(), None);
    let params = challenge.challenge_parameters().unwrap();
    let params_json = serde_json::to_value(params).unwrap();
    let user_id = params["USER_ID_FOR_SRP"].clone();
    assert_eq!(user_id, "alice");
    let answer = |password: &str| {
        let ts = timestamp();
        client
            .respond_to_auth_challenge()
            .client_id("confidential")
            .challenge_name(ChallengeNameType::PasswordVerifier)
            .challenge_responses("USERNAME", &user_id)
            .challenge_responses("PASSWORD_CLAIM_SECRET_BLOCK", &params["SECRET_BLOCK"])
            .challenge_responses("TIMESTAMP", &ts)
            .challenge_responses(
                "PASSWORD_CLAIM_SIGNATURE",
                srp.signature(&user_id, password, &params_json, &ts),
            )
            .challenge_responses("SECRET_HASH", secret_hash(&user_id, "confidential"))
            .send()
    };
    let wrong = answer("wrong").await.unwrap_err().into_service_error();
    assert!(wrong.is_not_authorized_exception(), "{wrong:?}");
    assert_eq!(
        cip::error::ProvideErrorMetadata::message(&wrong),
        Some("Incorrect username or password.")
    );
    let signed_in = answer(PASSWORD).await.unwrap();
    let result = signed_in.authentication_result().unwrap();
    assert_eq!(result.token_type(), Some("Bearer"));
    assert_eq!(result.expires_in(), 300);
    let access = result.access_token().unwrap().to_owned();
    let refresh = result.refresh_token().unwrap().to_owned();

    let user = client
        .get_user()
        .access_token(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(user.username(), "alice");
    assert!(user
        .user_attributes()
        .iter()
        .any(|a| a.name() == "email" && a.value() == Some("alice@example.com")));
    let bad = client
        .get_user()
        .access_token("forged")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(bad.is_not_authorized_exception(), "{bad:?}");

    let renewed = client
        .initiate_auth()
        .client_id("confidential")
        .auth_flow(AuthFlowType::RefreshTokenAuth)
        .auth_parameters("REFRESH_TOKEN", &refresh)
        .auth_parameters("SECRET_HASH", secret_hash("alice", "confidential"))
        .send()
        .await
        .unwrap();
    let renewed = renewed.authentication_result().unwrap();
    assert!(renewed.access_token().is_some());
    assert_eq!(renewed.refresh_token(), None);

    let rotated = client
        .get_tokens_from_refresh_token()
        .client_id("rotating")
        .refresh_token(refresh_token_of(&server, "rotating").await)
        .send()
        .await
        .unwrap();
    assert!(rotated
        .authentication_result()
        .and_then(|r| r.refresh_token())
        .is_some());
    let invalid = client
        .get_tokens_from_refresh_token()
        .client_id("public")
        .refresh_token("garbage")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(invalid.is_not_authorized_exception(), "{invalid:?}");

    let typed = |user: &'static str, client_id: &'static str| {
        client
            .initiate_auth()
            .client_id(client_id)
            .auth_flow(AuthFlowType::UserSrpAuth)
            .auth_parameters("USERNAME", user)
            .auth_parameters("SRP_A", srp.srp_a())
            .send()
    };
    let e = typed("alice", "nobody")
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_resource_not_found_exception(), "{e:?}");
    let e = typed("mallory", "public")
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_user_not_found_exception(), "{e:?}");
    let e = typed("bob", "public")
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_user_not_confirmed_exception(), "{e:?}");
    let e = typed("alice", "no-srp")
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_invalid_parameter_exception(), "{e:?}");
    let e = typed("alice", "confidential")
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_not_authorized_exception(), "{e:?}");
    server.fail_next(
        "InitiateAuth",
        "TooManyRequestsException",
        "Rate exceeded",
        1,
    );
    let e = typed("alice", "public")
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_too_many_requests_exception(), "{e:?}");
    server.fail_next("InitiateAuth", "InternalErrorException", "boom", 1);
    let e = typed("alice", "public")
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_internal_error_exception(), "{e:?}");
}

#[tokio::test]
async fn the_aws_sdk_retries_throttling_and_server_errors() {
    let server = server().await;
    let client = sdk(&server, true);
    server.fail_next(
        "InitiateAuth",
        "TooManyRequestsException",
        "Rate exceeded",
        1,
    );
    server.fail_next("InitiateAuth", "InternalErrorException", "boom", 1);
    let srp = SrpClient::new();
    let reply = client
        .initiate_auth()
        .client_id("public")
        .auth_flow(cip::types::AuthFlowType::UserSrpAuth)
        .auth_parameters("USERNAME", "alice")
        .auth_parameters("SRP_A", srp.srp_a())
        .send()
        .await
        .unwrap();
    assert!(reply.challenge_parameters().is_some());
    assert_eq!(server.calls("InitiateAuth"), 3);
}

// ---------------------------------------------------------------------------------------------
// A server shared by tests, on its own thread
// ---------------------------------------------------------------------------------------------

/// One pool for the two tests below, each of which runs on a runtime of its own (and ends it).
/// A server started with `start().await` inside the first would be gone for the second.
static SHARED: std::sync::LazyLock<CognitoServer> = std::sync::LazyLock::new(|| {
    CognitoServer::builder()
        .pool_id(POOL)
        .public_client("public")
        .user(alice())
        .start_on_own_thread()
});

async fn login_to_the_shared_pool() {
    let reply = login(&SHARED, "public", "alice", PASSWORD).await;
    let access = reply.ok()["AuthenticationResult"]["AccessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let resource = reqwest::Client::new()
        .get(SHARED.resource_url())
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(resource.status(), 200);
}

#[tokio::test]
async fn a_static_server_on_its_own_thread_serves_a_first_test() {
    login_to_the_shared_pool().await;
}

#[tokio::test]
async fn a_static_server_on_its_own_thread_serves_a_second_test() {
    login_to_the_shared_pool().await;
}
