//! `environment`: [`en_auth_core::Environment::from_toml_str`] on arbitrary UTF-8, the input
//! split at its first newline into the environment id and the TOML text.
//!
//! Properties: never panics; errors are configuration errors; on `Ok` the environment has the
//! requested id, the id names a table of the document, every URL (`token_url`,
//! `cognito_endpoint`) is `https` or `http` to a loopback host and is accepted again by the
//! `with_*` setters, and parsing is deterministic.

use en_auth_core::{is_loopback, Environment, Error};

/// Runs the target on one input; panics on a violated property.
pub fn check(data: &[u8]) {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let (id, text) = input.split_once('\n').unwrap_or((input, ""));
    match Environment::from_toml_str(text, id) {
        Ok(env) => {
            assert_eq!(env.id(), id);
            assert!(env.source().is_none());
            let document: toml::Table = text
                .parse()
                .expect("an accepted environments file is valid TOML");
            assert!(
                document.get(id).is_some_and(toml::Value::is_table),
                "accepted id {id:?} that is not a table of the document"
            );
            for (field, url) in [
                ("token_url", env.token_url()),
                ("cognito_endpoint", env.cognito_endpoint()),
            ] {
                let Some(url) = url else { continue };
                assert!(
                    url.scheme() == "https" || (url.scheme() == "http" && is_loopback(url)),
                    "{field} {url} is neither https nor loopback http"
                );
                let again = match field {
                    "token_url" => Environment::new(id).with_token_url(url.as_str()),
                    _ => Environment::new(id).with_cognito_endpoint(url.as_str()),
                };
                assert!(
                    again.is_ok(),
                    "{field} {url} accepted from TOML, refused by the setter"
                );
            }
            let again = Environment::from_toml_str(text, id).expect("parsing is deterministic");
            assert_eq!(again, env);
            // accessors and derived values never panic
            let _ = env.require_region();
            let _ = env.require_user_pool_id();
            let _ = env.require_token_url();
            let _ = (
                env.scopes(),
                env.extra_params(),
                env.region(),
                env.user_pool_id(),
            );
            let _ = env.error("field", "message").to_string();
            let _ = format!("{env:?}");
        }
        Err(e) => {
            assert!(
                matches!(e, Error::Configuration(_)),
                "unexpected error kind: {e:?}"
            );
            let _ = e.to_string();
        }
    }
}
