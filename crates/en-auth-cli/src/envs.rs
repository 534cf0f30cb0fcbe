//! `en-auth envs`: the environments of the file named by `EN_AUTH_ENVIRONMENTS`.
//!
//! The library loads one environment by id ([`Environment::from_toml_str`]); the ids are the
//! file's top-level table names, read here with the `toml` crate, and each is then loaded by
//! the library, so that what is listed is exactly what `en-auth token` would use.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use en_auth_oauth2::{Environment, ENVIRONMENTS_VAR};
use serde_json::{json, Value};

use crate::failure::{Exit, Failure, Subject};

/// The listing, as text or JSON, and whether every environment is valid.
pub fn list(json_output: bool) -> Result<(String, bool), Failure> {
    let none = Subject::default();
    let path = std::env::var_os(ENVIRONMENTS_VAR).ok_or_else(|| {
        Failure::new(
            Exit::Configuration,
            &none,
            format!("no environments file: set {ENVIRONMENTS_VAR} to the path of a TOML file"),
        )
    })?;
    let path = std::path::PathBuf::from(path);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Failure::new(
            Exit::Configuration,
            &none,
            format!("cannot read the environments file {}: {e}", path.display()),
        )
    })?;
    let tables: BTreeMap<String, toml::Value> = toml::from_str(&text).map_err(|e| {
        Failure::new(
            Exit::Configuration,
            &none,
            format!(
                "the environments file {} is malformed TOML: {}",
                path.display(),
                e.message()
            ),
        )
    })?;
    let environments: Vec<(String, Result<Environment, String>)> = tables
        .keys()
        .map(|id| {
            let loaded = Environment::from_toml_str(&text, id).map_err(|e| e.to_string());
            (id.clone(), loaded)
        })
        .collect();
    let all_valid = environments.iter().all(|(_, e)| e.is_ok());
    let output = if json_output {
        let items: Vec<Value> = environments
            .iter()
            .map(|(id, env)| match env {
                Ok(env) => describe_json(env),
                Err(error) => json!({ "id": id, "error": error }),
            })
            .collect();
        format!("{:#}\n", Value::Array(items))
    } else {
        let mut out = format!("{} ({})\n", path.display(), plural(environments.len()));
        for (id, env) in &environments {
            match env {
                Ok(env) => describe_text(&mut out, env),
                Err(error) => {
                    let _ = writeln!(out, "\n{id}\n  error: {error}");
                }
            }
        }
        out
    };
    Ok((output, all_valid))
}

fn plural(n: usize) -> String {
    match n {
        1 => "1 environment".into(),
        n => format!("{n} environments"),
    }
}

/// What `en-auth` can do with `env`.
fn flows(env: &Environment) -> Vec<&'static str> {
    let mut flows = Vec::new();
    if env.has_token_endpoint() && env.token_exchange().is_some() {
        flows.push("token exchange");
    } else if env.has_token_endpoint() {
        flows.push("client credentials");
    }
    if env.require_user_pool_id().is_ok() && env.require_region().is_ok() {
        flows.push("cognito srp");
    }
    // `en-auth login --device` / `--browser`.
    if crate::people::is_people_environment(env) && env.token_exchange().is_none() {
        flows.push("person sign-in");
    }
    flows
}

fn auth_method(env: &Environment) -> &'static str {
    env.token_endpoint_auth_method().as_str()
}

fn describe_text(out: &mut String, env: &Environment) {
    let _ = writeln!(out, "\n{}", env.id());
    let mut field = |name: &str, value: Option<String>| {
        if let Some(value) = value {
            let _ = writeln!(out, "  {name:<27} {value}");
        }
    };
    field("token_url", env.token_url().map(ToString::to_string));
    field("issuer", env.issuer().map(ToString::to_string));
    field(
        "resource",
        (!env.resources().is_empty()).then(|| env.resources().join(" ")),
    );
    field("audience", env.audience().map(str::to_owned));
    field("region", env.region().map(str::to_owned));
    field("user_pool_id", env.user_pool_id().map(str::to_owned));
    field(
        "cognito_endpoint",
        env.cognito_endpoint().map(ToString::to_string),
    );
    field(
        "scopes",
        (!env.scopes().is_empty()).then(|| env.scopes().join(" ")),
    );
    field("redirect_uri", env.redirect_uri().map(ToString::to_string));
    field(
        "authorization_url",
        env.authorization_url().map(ToString::to_string),
    );
    field(
        "device_authorization_url",
        env.device_authorization_url().map(ToString::to_string),
    );
    field(
        "revocation_url",
        env.revocation_url().map(ToString::to_string),
    );
    field(
        "token_endpoint_auth_method",
        env.has_token_endpoint()
            .then(|| auth_method(env).to_owned()),
    );
    // The paths only (a certificate is public; the key file is never read here).
    if let Some(tls) = env.tls_client() {
        field(
            "tls_client_certificate_file",
            Some(tls.certificate_file.display().to_string()),
        );
        field(
            "tls_client_key_file",
            Some(tls.key_file.display().to_string()),
        );
    }
    field(
        "refresh_token_rotation",
        env.refresh_token_rotation().then(|| "true".to_owned()),
    );
    field("dpop", env.dpop().map(dpop_summary));
    // Names only: the values may be secrets (client_assertion …).
    field(
        "extra_params",
        (!env.extra_params().is_empty()).then(|| {
            env.extra_params()
                .iter()
                .map(|(name, _)| name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        }),
    );
    let flows = flows(env);
    field(
        "flows",
        Some(if flows.is_empty() {
            "none (no token_url or issuer, no user_pool_id)".to_owned()
        } else {
            flows.join(", ")
        }),
    );
}

/// `dpop = true`'s settings in a few words: the algorithm, where the key comes from, and
/// whether a Bearer answer is accepted (the key file's path, never its content).
fn dpop_summary(config: &en_auth_oauth2::DpopConfig) -> String {
    let algorithm = config
        .signing_algorithm
        .map_or("ES256", en_auth_oauth2::SigningAlgorithm::as_str);
    let key = config.key_file.as_ref().map_or_else(
        || "a key generated per process".to_owned(),
        |path| format!("key {}", path.display()),
    );
    let bearer = if config.allow_bearer {
        ", Bearer answers accepted"
    } else {
        ""
    };
    format!("{algorithm}, {key}{bearer}")
}

fn describe_json(env: &Environment) -> Value {
    json!({
        "id": env.id(),
        "token_url": env.token_url().map(ToString::to_string),
        "issuer": env.issuer().map(ToString::to_string),
        "resource": env.resources(),
        "audience": env.audience(),
        "region": env.region(),
        "user_pool_id": env.user_pool_id(),
        "cognito_endpoint": env.cognito_endpoint().map(ToString::to_string),
        "scopes": env.scopes(),
        "redirect_uri": env.redirect_uri().map(ToString::to_string),
        "authorization_url": env.authorization_url().map(ToString::to_string),
        "device_authorization_url": env.device_authorization_url().map(ToString::to_string),
        "revocation_url": env.revocation_url().map(ToString::to_string),
        "token_endpoint_auth_method": auth_method(env),
        "refresh_token_rotation": env.refresh_token_rotation(),
        "tls_client_certificate_file": env.tls_client().map(|t| t.certificate_file.display().to_string()),
        "tls_client_key_file": env.tls_client().map(|t| t.key_file.display().to_string()),
        "dpop": env.dpop().map(dpop_summary),
        "extra_params": env.extra_params().iter().map(|(name, _)| name).collect::<Vec<_>>(),
        "flows": flows(env),
    })
}
