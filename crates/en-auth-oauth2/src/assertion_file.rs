//! Assertions a platform writes to a file (a Kubernetes projected service-account token, an EKS,
//! AKS or GKE federated token): read again at every token request, since the platform rotates
//! the file, and checked for expiry (its `exp` claim, RFC 7519 §4.1.4) without verifying the
//! signature — the server does that. No JOSE library needed: reading a claim is base64url and
//! JSON.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use en_auth_core::{Environment, Error};
use zeroize::Zeroizing;

/// The JWT in the file at `path`, trimmed of surrounding white space.
///
/// # Errors
/// [`Error::Configuration`] naming `field` and the path (never the file's content): the file
/// cannot be read, is empty, is no JWT (three base64url parts, a JSON payload), or its `exp` has
/// passed.
pub(crate) fn read(
    environment: &Environment,
    field: &str,
    path: &Path,
) -> Result<Zeroizing<String>, Error> {
    let shown = path.display();
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
        environment.error(
            field,
            format!("cannot read the assertion file {shown}: {e}"),
        )
    })?);
    let jwt = Zeroizing::new(text.trim().to_owned());
    if jwt.is_empty() {
        return Err(environment.error(field, format!("the assertion file {shown} is empty")));
    }
    let exp = expiry(&jwt)
        .map_err(|why| environment.error(field, format!("the assertion file {shown} {why}")))?;
    if let Some(exp) = exp {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if exp <= now {
            return Err(environment.error(
                field,
                format!(
                    "the assertion in {shown} expired {} s ago (exp {exp}): has the platform \
                     stopped renewing it?",
                    now - exp
                ),
            ));
        }
    }
    Ok(jwt)
}

/// The `exp` claim of `jwt` (seconds since the epoch), unverified; `None` when it has none.
fn expiry(jwt: &str) -> Result<Option<u64>, &'static str> {
    let mut parts = jwt.split('.');
    let (Some(_), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("holds no JWT (three dot-separated parts)");
    };
    let payload = Zeroizing::new(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .map_err(|_| "holds no JWT (its payload is not base64url)")?,
    );
    let claims: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&payload)
        .map_err(|_| "holds no JWT (its payload is not a JSON object)")?;
    match claims.get("exp") {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Number(n)) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
            .map(Some)
            .ok_or("has an unusable `exp` claim"),
        Some(_) => Err("has an unusable `exp` claim"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(payload: &str) -> String {
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!("eyJhbGciOiJSUzI1NiJ9.{}.c2ln", engine.encode(payload))
    }

    #[test]
    fn exp_is_read_without_verifying() {
        assert_eq!(
            expiry(&jwt(r#"{"exp":1700000000}"#)),
            Ok(Some(1_700_000_000))
        );
        assert_eq!(expiry(&jwt(r#"{"sub":"x"}"#)), Ok(None));
        assert!(expiry(&jwt(r#"{"exp":"soon"}"#)).is_err());
        assert!(expiry("not-a-jwt").is_err());
        assert!(expiry("a.b.c.d").is_err());
        assert!(expiry(&jwt("[1]")).is_err());
    }

    #[test]
    fn missing_empty_and_expired_files_name_the_path_never_the_content() {
        let dir = std::env::temp_dir().join(format!("en-auth-assertion-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let env = Environment::new("t");
        let missing = dir.join("missing");
        let err = read(&env, "client_assertion_file", &missing)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&missing.display().to_string()) && err.contains("client_assertion_file"),
            "{err}"
        );
        let empty = dir.join("empty");
        std::fs::write(&empty, "\n").unwrap();
        let err = read(&env, "client_assertion_file", &empty)
            .unwrap_err()
            .to_string();
        assert!(err.contains("is empty"), "{err}");
        let expired = dir.join("expired");
        let token = jwt(r#"{"exp":1000,"secret":"SENTINEL"}"#);
        std::fs::write(&expired, &token).unwrap();
        let err = read(&env, "client_assertion_file", &expired)
            .unwrap_err()
            .to_string();
        assert!(err.contains("expired") && !err.contains(&token), "{err}");
        let fresh = dir.join("fresh");
        let token = jwt(r#"{"exp":99999999999}"#);
        std::fs::write(&fresh, format!("{token}\n")).unwrap();
        assert_eq!(
            read(&env, "client_assertion_file", &fresh)
                .unwrap()
                .as_str(),
            token
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
