//! The token as the command line hands it out: with a wall-clock expiry (it outlives the
//! process), and its printed forms.

use std::time::{Duration, Instant, SystemTime};

use en_auth_oauth2::core::renewal_gap;
use en_auth_oauth2::Token;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use crate::cli::Format;
use crate::kube;

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
    ///
    /// # Errors
    /// The library's one check that a token can be sent ([`Token::bearer_header`]): a token
    /// with CR, LF or another control character (which would inject lines into
    /// `--format header | curl -H @-`) is an invalid response, whichever path obtained it.
    pub fn from_token(token: &Token) -> Result<Self, en_auth_oauth2::Error> {
        token.bearer_header()?;
        let now = (Instant::now(), SystemTime::now());
        let expires_at = token
            .expires_at()
            .map(|at| now.1 + at.saturating_duration_since(now.0));
        Ok(Self {
            access_token: token.access_token().clone(),
            token_type: token.token_type().to_owned(),
            expires_at,
            lifetime: token.lifetime(),
            scope: token.scope().map(str::to_owned),
        })
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
        let needed = min_validity.unwrap_or_else(|| renewal_gap(lifetime));
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
            Format::ExecCredential => self.exec_credential(kube::V1, SystemTime::now()),
        }
    }

    /// The Kubernetes `ExecCredential` of `api_version` ([`kube::V1`] or [`kube::V1BETA1`]),
    /// as printed at `now`, with a final newline: `apiVersion`, `kind`, `status.token`, and
    /// `status.expirationTimestamp` (RFC 3339, UTC) when the expiry is known.
    ///
    /// The timestamp is the token's expiry rounded up to the second (it is already a second
    /// short of the server's: see `Token::from_expires_in`), so kubectl never gets one in the
    /// past: a token whose lifetime is within the renewal gap (or nil: `expires_in` 1) is
    /// handed out with the expiry it has, at the earliest the second after `now`.
    pub fn exec_credential(&self, api_version: &str, now: SystemTime) -> String {
        let mut status = json!({ "token": self.access_token.expose_secret() });
        if let Some(at) = self.expires_at {
            status["expirationTimestamp"] = rfc3339(ceil_to_second(at.max(now))).into();
        }
        let value = json!({
            "apiVersion": api_version,
            "kind": "ExecCredential",
            "status": status,
        });
        format!("{value:#}\n")
    }
}

/// `at` rounded up to the whole second (the Unix epoch's).
fn ceil_to_second(at: SystemTime) -> SystemTime {
    let nanos = at
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    if nanos == 0 {
        at
    } else {
        at + Duration::from_nanos(u64::from(1_000_000_000 - nanos))
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
        assert_eq!(cred["apiVersion"], kube::V1);
        assert_eq!(cred["kind"], "ExecCredential");
        assert_eq!(cred["status"]["token"], "tok");
    }

    /// Seconds from the epoch of an RFC 3339 UTC timestamp, through humantime.
    fn epoch_seconds(text: &str) -> u64 {
        humantime::parse_rfc3339(text)
            .unwrap()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    fn issued(expires_at: SystemTime, lifetime: Duration) -> IssuedToken {
        IssuedToken {
            access_token: SecretString::from("tok".to_owned()),
            token_type: "Bearer".into(),
            expires_at: Some(expires_at),
            lifetime: Some(lifetime),
            scope: None,
        }
    }

    #[test]
    fn the_exec_credential_repeats_the_version_asked() {
        let t = token(3600, 100);
        for version in [kube::V1, kube::V1BETA1] {
            let cred: serde_json::Value =
                serde_json::from_str(&t.exec_credential(version, SystemTime::now())).unwrap();
            assert_eq!(cred["apiVersion"], version);
            assert_eq!(cred["kind"], "ExecCredential");
            assert_eq!(cred["status"]["token"], "tok");
        }
    }

    /// kubectl is never handed an expiry in the past: rounded up to the second, and a token
    /// obtained already within the renewal gap (or expired on arrival) is printed with the
    /// expiry it has — not moved forward to the gap — at the earliest the second after now.
    #[test]
    fn the_printed_expiry_of_a_fresh_token_is_never_past() {
        let now = std::time::UNIX_EPOCH + Duration::from_millis(1_767_322_245_678);
        let expiry = |t: &IssuedToken| -> u64 {
            let cred: serde_json::Value =
                serde_json::from_str(&t.exec_credential(kube::V1, now)).unwrap();
            epoch_seconds(cred["status"]["expirationTimestamp"].as_str().unwrap())
        };
        let now_secs = 1_767_322_245;
        // An hour: its expiry, rounded up (a second short of the server's already).
        let hour = issued(now + Duration::from_secs(3599), Duration::from_secs(3599));
        assert_eq!(expiry(&hour), now_secs + 3600);
        // Four seconds, counted from the request, answered after 3.5 s: 0.5 s left, within
        // the renewal gap (1 s) already — a second `en-auth token` would renew it — yet
        // printed with its own expiry (245.678 + 0.5, rounded up), not moved forward.
        let late = issued(now + Duration::from_millis(500), Duration::from_secs(4));
        assert_eq!(expiry(&late), now_secs + 2);
        // Expired on arrival (`expires_in` 1, a slow answer): the second after now.
        let gone = issued(now - Duration::from_millis(300), Duration::ZERO);
        assert_eq!(expiry(&gone), now_secs + 1);
        // Exactly on a second: kept.
        let exact = std::time::UNIX_EPOCH + Duration::from_secs(now_secs + 60);
        assert_eq!(
            expiry(&issued(exact, Duration::from_secs(60))),
            now_secs + 60
        );
    }

    #[test]
    fn a_token_that_would_inject_header_lines_is_refused() {
        for bad in ["s3cr3t\r\nX-Injected: 1", "s3cr3t\nmore", "s3cr3t\u{7f}"] {
            let error = IssuedToken::from_token(&Token::new(bad, None))
                .err()
                .unwrap();
            let text = error.to_string();
            assert!(
                !text.contains("s3cr3t") && !text.contains("Injected"),
                "{text}"
            );
        }
        assert!(IssuedToken::from_token(&Token::new("eyJ.a.b", None)).is_ok());
    }

    #[test]
    fn rfc3339_is_utc_to_the_second() {
        let at = std::time::UNIX_EPOCH + Duration::from_millis(1_767_322_245_678);
        assert_eq!(rfc3339(at), "2026-01-02T02:50:45Z");
    }
}
