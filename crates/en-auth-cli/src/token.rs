//! The token as the command line hands it out: with a wall-clock expiry (it outlives the
//! process), and its printed forms.

use std::time::{Duration, Instant, SystemTime};

use en_auth_oauth2::{Token, EXPIRATION_GAP, MAX_GAP_FRACTION};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use crate::cli::Format;

/// The Kubernetes API group and version of the `ExecCredential` printed.
pub const EXEC_CREDENTIAL_API_VERSION: &str = "client.authentication.k8s.io/v1";

/// An access token with its expiry on the wall clock.
pub struct IssuedToken {
    /// The access token.
    pub access_token: SecretString,
    /// The token type the server named (`Bearer`).
    pub token_type: String,
    /// When it expires; `None` if the server did not say.
    pub expires_at: Option<SystemTime>,
    /// The lifetime the server gave, less its one-second resolution.
    pub lifetime: Option<Duration>,
    /// The granted scope, if the server said.
    pub scope: Option<String>,
}

impl IssuedToken {
    /// `token`, just obtained: its monotonic expiry carried over to the wall clock.
    pub fn from_token(token: &Token) -> Self {
        let now = (Instant::now(), SystemTime::now());
        let expires_at = token
            .expires_at()
            .map(|at| now.1 + at.saturating_duration_since(now.0));
        Self {
            access_token: token.access_token().clone(),
            token_type: token.token_type().to_owned(),
            expires_at,
            lifetime: token.lifetime(),
            scope: token.scope().map(str::to_owned),
        }
    }

    /// How long it stays valid from now; `None` if unknown.
    pub fn remaining(&self) -> Option<Duration> {
        self.expires_at.map(|at| {
            at.duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO)
        })
    }

    /// Whether it is valid for at least `min_validity` more (by default 60 s, or a quarter
    /// of its lifetime if that is shorter: when en-auth's authorizers renew).
    pub fn valid_for(&self, min_validity: Option<Duration>) -> bool {
        let (Some(remaining), Some(lifetime)) = (self.remaining(), self.lifetime) else {
            return false;
        };
        let needed =
            min_validity.unwrap_or_else(|| EXPIRATION_GAP.min(lifetime / MAX_GAP_FRACTION));
        remaining > Duration::ZERO && remaining >= needed
    }

    /// The text printed by `en-auth token --format <format>`, with a final newline.
    pub fn render(&self, format: Format) -> String {
        let token = self.access_token.expose_secret();
        let expires_at = self.expires_at.map(rfc3339);
        match format {
            Format::Raw => format!("{token}\n"),
            // RFC 6750 §2.1 writes the scheme `Bearer`, whatever case the server used.
            Format::Header => format!("Authorization: Bearer {token}\n"),
            Format::Json => {
                let value = json!({
                    "access_token": token,
                    "token_type": self.token_type,
                    "expires_in": self.remaining().map(|r| r.as_secs()),
                    "expires_at": expires_at,
                    "scope": self.scope,
                });
                format!("{value:#}\n")
            }
            Format::ExecCredential => {
                let mut status = json!({ "token": token });
                if let Some(at) = expires_at {
                    status["expirationTimestamp"] = at.into();
                }
                let value = json!({
                    "apiVersion": EXEC_CREDENTIAL_API_VERSION,
                    "kind": "ExecCredential",
                    "status": status,
                });
                format!("{value:#}\n")
            }
        }
    }
}

/// RFC 3339 in UTC to the second, as Kubernetes' `metav1.Time`: `2026-01-02T03:04:05Z`.
pub fn rfc3339(at: SystemTime) -> String {
    humantime::format_rfc3339_seconds(at).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(lifetime: u64, left: u64) -> IssuedToken {
        IssuedToken {
            access_token: SecretString::from("tok".to_owned()),
            token_type: "bearer".into(),
            expires_at: Some(SystemTime::now() + Duration::from_secs(left)),
            lifetime: Some(Duration::from_secs(lifetime)),
            scope: Some("a b".into()),
        }
    }

    #[test]
    fn validity_by_default_and_asked() {
        assert!(token(3600, 120).valid_for(None));
        assert!(!token(3600, 59).valid_for(None));
        // A 40 s token is usable down to 10 s left by default.
        assert!(token(40, 11).valid_for(None));
        assert!(!token(40, 9).valid_for(None));
        assert!(!token(3600, 500).valid_for(Some(Duration::from_secs(600))));
        assert!(token(3600, 500).valid_for(Some(Duration::ZERO)));
    }

    #[test]
    fn formats() {
        let t = token(3600, 100);
        assert_eq!(t.render(Format::Raw), "tok\n");
        assert_eq!(t.render(Format::Header), "Authorization: Bearer tok\n");
        let json: serde_json::Value = serde_json::from_str(&t.render(Format::Json)).unwrap();
        assert_eq!(json["access_token"], "tok");
        assert_eq!(json["token_type"], "bearer");
        assert_eq!(json["scope"], "a b");
        assert!((98..=100).contains(&json["expires_in"].as_u64().unwrap()));
        assert!(json["expires_at"].as_str().unwrap().ends_with('Z'));
        let cred: serde_json::Value =
            serde_json::from_str(&t.render(Format::ExecCredential)).unwrap();
        assert_eq!(cred["apiVersion"], EXEC_CREDENTIAL_API_VERSION);
        assert_eq!(cred["kind"], "ExecCredential");
        assert_eq!(cred["status"]["token"], "tok");
    }

    #[test]
    fn rfc3339_is_utc_to_the_second() {
        let at = std::time::UNIX_EPOCH + Duration::from_millis(1_767_322_245_678);
        assert_eq!(rfc3339(at), "2026-01-02T02:50:45Z");
    }
}
