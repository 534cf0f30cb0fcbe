//! `en-auth token --format exec-credential` as a Kubernetes client-go credential plugin: what
//! kubectl says in `KUBERNETES_EXEC_INFO` — the `apiVersion` to answer with, and whether the
//! plugin may prompt (`spec.interactive`).
//!
//! Source: Kubernetes, "client-go credential plugins"
//! (<https://kubernetes.io/docs/reference/access-authn-authz/authentication/#client-go-credential-plugins>),
//! and the `client.authentication.k8s.io` API group (`v1`, `v1beta1`).

use serde_json::Value;

use crate::failure::{Exit, Failure, Subject};

/// The variable kubectl (client-go) hands the plugin its `ExecCredential` request in: JSON with
/// `apiVersion`, `kind` and `spec.interactive` (and `spec.cluster` when the kubeconfig asks).
pub const EXEC_INFO_VAR: &str = "KUBERNETES_EXEC_INFO";

/// `client.authentication.k8s.io/v1`, the version answered when kubectl does not say.
pub const V1: &str = "client.authentication.k8s.io/v1";

/// `client.authentication.k8s.io/v1beta1`, which older kubeconfigs name.
pub const V1BETA1: &str = "client.authentication.k8s.io/v1beta1";

/// Why en-auth may not prompt when kubectl says `spec.interactive: false` (a clause of the
/// failure line, see [`crate::input::forbid_prompts`]).
pub const NOT_INTERACTIVE: &str =
    "kubectl does not let en-auth prompt: its KUBERNETES_EXEC_INFO has spec.interactive false";

/// What kubectl asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecInfo {
    /// The `apiVersion` to answer with: [`V1`] or [`V1BETA1`].
    pub api_version: &'static str,
    /// `spec.interactive`: whether the plugin may prompt on the terminal (kubectl passes its
    /// stdin on only then); `None` when kubectl did not say (no `KUBERNETES_EXEC_INFO`).
    pub interactive: Option<bool>,
}

impl ExecInfo {
    /// From `KUBERNETES_EXEC_INFO`; without it (or if empty), [`V1`] and no word on prompting.
    ///
    /// # Errors
    /// Exit 3 (configuration) if it is not an `ExecCredential` in JSON, or names an
    /// `apiVersion` other than [`V1`] and [`V1BETA1`].
    pub fn from_env() -> Result<Self, Failure> {
        let text = std::env::var(EXEC_INFO_VAR).ok();
        Self::parse(text.as_deref().filter(|t| !t.trim().is_empty()))
            .map_err(|message| Failure::new(Exit::Configuration, &Subject::default(), message))
    }

    /// From the text of `KUBERNETES_EXEC_INFO`, `None` if unset; the error is the failure line.
    fn parse(text: Option<&str>) -> Result<Self, String> {
        let Some(text) = text else {
            return Ok(Self {
                api_version: V1,
                interactive: None,
            });
        };
        let value: Value =
            serde_json::from_str(text).map_err(|e| format!("{EXEC_INFO_VAR} is not JSON ({e})"))?;
        if value.get("kind").and_then(Value::as_str) != Some("ExecCredential") {
            return Err(format!("{EXEC_INFO_VAR} is not an ExecCredential"));
        }
        let api_version = match value.get("apiVersion").and_then(Value::as_str) {
            Some(V1) => V1,
            Some(V1BETA1) => V1BETA1,
            Some(other) => {
                return Err(format!(
                    "kubectl asks for an ExecCredential of apiVersion `{}`; en-auth answers \
                     {V1} and {V1BETA1}: set one of them as the kubeconfig's exec apiVersion",
                    other.escape_debug()
                ))
            }
            None => return Err(format!("{EXEC_INFO_VAR} names no apiVersion")),
        };
        let interactive = value
            .pointer("/spec/interactive")
            .and_then(Value::as_bool)
            // Absent means false: client-go always sets it (an omitted bool is false).
            .or(Some(false));
        Ok(Self {
            api_version,
            interactive,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_versions_and_the_interactive_flag() {
        let parsed = ExecInfo::parse(Some(
            r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}"#,
        ))
        .unwrap();
        assert_eq!(
            parsed,
            ExecInfo {
                api_version: V1,
                interactive: Some(false)
            }
        );
        let parsed = ExecInfo::parse(Some(
            r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{"interactive":true,"cluster":{"server":"https://k"}}}"#,
        ))
        .unwrap();
        assert_eq!(
            parsed,
            ExecInfo {
                api_version: V1BETA1,
                interactive: Some(true)
            }
        );
        let parsed = ExecInfo::parse(Some(
            r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{}}"#,
        ))
        .unwrap();
        assert_eq!(parsed.interactive, Some(false));
    }

    #[test]
    fn without_the_variable_v1() {
        assert_eq!(
            ExecInfo::parse(None).unwrap(),
            ExecInfo {
                api_version: V1,
                interactive: None
            }
        );
    }

    #[test]
    fn an_unknown_version_or_no_exec_credential_is_refused() {
        let line = ExecInfo::parse(Some(
            r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1alpha1","spec":{}}"#,
        ))
        .unwrap_err();
        assert!(
            line.contains("`client.authentication.k8s.io/v1alpha1`"),
            "{line}"
        );
        assert!(line.contains(V1) && line.contains(V1BETA1), "{line}");
        assert!(ExecInfo::parse(Some("not json"))
            .unwrap_err()
            .contains(EXEC_INFO_VAR));
        assert!(ExecInfo::parse(Some(r#"{"kind":"Pod","apiVersion":"v1"}"#)).is_err());
        assert!(ExecInfo::parse(Some(r#"{"kind":"ExecCredential"}"#)).is_err());
    }
}
