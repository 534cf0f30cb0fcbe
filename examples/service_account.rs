//! GET a protected URL as a service account, like the Python `en_auth` package's example.
//!
//! ```text
//! CLIENT_ID=… CLIENT_SECRET=… [API_KEY=…] ENVIRONMENT=dev EN_AUTH_ENVIRONMENTS=envs.toml \
//!     cargo run --example service_account -- https://api.example.com/resource
//! ```
//!
//! With `dpop = true` in the environment (RFC 9449), the tokens are bound to a key generated
//! for this run, and every request carries a proof signed with it.
//!
//! A client that authenticates by key (`token_endpoint_auth_method = "private_key_jwt"` and a
//! `private_key_file`, or a `client_assertion_file`, in its environment) needs no
//! `CLIENT_SECRET`: unset, the client has no secret, and the authorizer says so if its method
//! needs one.
//!
//! A client that authenticates by its TLS certificate (`token_endpoint_auth_method =
//! "tls_client_auth"` with `tls_client_certificate_file` and `tls_client_key_file`, RFC 8705)
//! needs none either; the request below presents the same certificate, so that a
//! certificate-bound token is accepted. (A private CA's servers: point `SSL_CERT_FILE` at its
//! certificate.)
//!
//! Prints the status and the body. On an authorization failure it prints one line naming the
//! client, the environment, the endpoint and the server's error, and exits with status 1.

use std::process::ExitCode;

use en_auth_oauth2::{reqwest_middleware, ClientInfo, ServiceAccountAuthorizer};

fn var(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("error: the environment variable {name} is not set"))
}

/// The line printed when the request fails: which client tried where, and the en-auth error
/// (which names the endpoint); or the request's own failure when it got as far as being sent.
fn failure_line(
    failure: &reqwest_middleware::Error,
    client_id: &str,
    environment: &str,
    url: &str,
) -> String {
    match en_auth_oauth2::auth_error(failure) {
        // A token request's error names its environment itself.
        Some(error) if error.environment().is_some() => {
            format!("error: client `{client_id}`: {error}")
        }
        Some(error) => format!("error: client `{client_id}`, environment `{environment}`: {error}"),
        None => format!("error: request to {url} failed: {failure}"),
    }
}

async fn run() -> Result<(), String> {
    let url = std::env::args()
        .nth(1)
        .ok_or("usage: service_account <url>  (with CLIENT_ID, CLIENT_SECRET, ENVIRONMENT set)")?;
    get(url).await
}

/// GETs `url` with the client and environment the variables name, printing status and body.
async fn get(url: String) -> Result<(), String> {
    let client_id = var("CLIENT_ID")?;
    let client_info = ClientInfo::new(
        client_id.as_str(),
        std::env::var("CLIENT_SECRET").unwrap_or_default(),
    )
    .with_api_key(std::env::var("API_KEY").unwrap_or_default());
    let environment = var("ENVIRONMENT")?;
    let authorizer = ServiceAccountAuthorizer::new(client_info, environment.as_str())
        .map_err(|e| format!("error: {e}"))?;
    // Redirects followed only within the origin: the API key never travels elsewhere. The
    // builder presents the TLS client certificate of the environment, if it has one (a
    // certificate-bound token, RFC 8705, is accepted only with it).
    let http = authorizer
        .resource_client_builder()
        .redirect(en_auth_oauth2::same_origin_redirects())
        .build()
        .map_err(|e| format!("error: {e}"))?;
    let client = reqwest_middleware::ClientBuilder::new(http)
        .with(authorizer)
        .build();
    let response = client
        .get(&url)
        .send()
        .await
        .map_err(|e| failure_line(&e, &client_id, &environment, &url))?;
    println!("{}", response.status());
    let body = response
        .text()
        .await
        .map_err(|e| format!("error: reading the body: {e}"))?;
    println!("{body}");
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(line) => {
            eprintln!("{line}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use en_auth_oauth2::Environment;
    use en_auth_testkit::OAuthServer;

    use super::*;

    /// The failure line for client `svc` with `secret`, its token endpoint reachable or not.
    async fn line_for(secret: &str, reachable: bool) -> (String, String) {
        let server = OAuthServer::builder().client("svc", "secret").start().await;
        let (token_url, url) = (server.token_url(), server.resource_url());
        let environment = Environment::new("emulator")
            .with_token_url(&token_url)
            .unwrap();
        let authorizer =
            ServiceAccountAuthorizer::new(ClientInfo::new("svc", secret), environment).unwrap();
        let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
            .with(authorizer)
            .build();
        if !reachable {
            drop(server);
        }
        let failure = client.get(&url).send().await.unwrap_err();
        (failure_line(&failure, "svc", "emulator", &url), token_url)
    }

    /// oidc-provider's introspection, as its resource server.
    fn introspection() -> en_auth_peers::support::Introspection {
        use en_auth_peers::{field, oidc};
        en_auth_peers::support::Introspection {
            endpoint: field(oidc(), "introspection_endpoint").to_owned(),
            client_id: field(oidc(), "clients/introspector/id").to_owned(),
            secret: field(oidc(), "clients/introspector/secret").to_owned(),
        }
    }

    /// The example's own code (`get`), configured only by the environments file (`[prod]`
    /// in `environments`) and the variables, in a child process of this test binary (the
    /// variables are the process's), against an introspected resource of oidc-provider: the
    /// child's stdout, the number of requests the resource authorized and the tokens it saw.
    async fn run_child(
        environments: String,
        client_id: &str,
        client_secret: Option<&str>,
    ) -> (String, u64, Vec<String>) {
        let resource =
            en_auth_peers::support::IntrospectedResource::start(introspection(), None).await;
        let url = resource.url().to_owned();
        let stdout = run_child_at(environments, client_id, client_secret, &url, &[]).await;
        (stdout, resource.active(), resource.tokens())
    }

    /// As [`run_child`], GETting `url`, with the extra variables `vars`: the child's stdout.
    async fn run_child_at(
        environments: String,
        client_id: &str,
        client_secret: Option<&str>,
        url: &str,
        vars: &[(&str, &str)],
    ) -> String {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("environments.toml");
        std::fs::write(&file, environments).unwrap();
        let mut child = std::process::Command::new(std::env::current_exe().unwrap());
        child
            .args([
                "--exact",
                "tests::child_get",
                "--include-ignored",
                "--nocapture",
            ])
            .env("EN_AUTH_ENVIRONMENTS", &file)
            .env("ENVIRONMENT", "prod")
            .env("CLIENT_ID", client_id)
            .env_remove("CLIENT_SECRET")
            .env_remove("API_KEY")
            .env("SERVICE_ACCOUNT_TEST_URL", url)
            .envs(vars.iter().copied());
        if let Some(secret) = client_secret {
            child.env("CLIENT_SECRET", secret);
        }
        let output = tokio::task::spawn_blocking(move || child.output().unwrap())
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    }

    /// A `tls_client_auth` client (RFC 8705) of oidc-provider's mTLS configuration from the
    /// environments file alone (and `SSL_CERT_FILE` naming the test CA, which signed the
    /// servers' certificates): the token comes from the discovered mTLS alias of the token
    /// endpoint, bound to the certificate, and the resource server, which checks the binding,
    /// accepts it from the example's client.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_tls_client_auth_client_needs_only_the_environments_file() {
        use en_auth_peers::{field, oidc_mtls};
        let peer = oidc_mtls();
        let environments = format!(
            "[prod]\nissuer = \"{}\"\nscopes = [\"{}\"]\n\
             token_endpoint_auth_method = \"tls_client_auth\"\n\
             tls_client_certificate_file = \"{}\"\ntls_client_key_file = \"{}\"\n",
            field(peer, "issuer"),
            field(peer, "scope"),
            field(peer, "files/client_cert"),
            field(peer, "files/client_key"),
        );
        let stdout = run_child_at(
            environments,
            field(peer, "clients/tls/id"),
            None,
            field(peer, "resource_url"),
            &[("SSL_CERT_FILE", field(peer, "files/ca"))],
        )
        .await;
        assert!(stdout.contains("200 OK"), "{stdout}");
        let thumbprint = field(peer, "thumbprints/client");
        assert!(
            stdout.contains(&format!("\"x5t#S256\":\"{thumbprint}\"")),
            "{stdout}"
        );
        assert!(
            stdout.contains(&format!("\"presented\":\"{thumbprint}\"")),
            "{stdout}"
        );
    }

    /// A `private_key_jwt` client against oidc-provider, with no `CLIENT_SECRET`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_private_key_jwt_client_needs_only_the_environments_file() {
        use en_auth_peers::{field, oidc};
        let environments = format!(
            "[prod]\ntoken_url = \"{}\"\nscopes = [\"{}\"]\n\
             token_endpoint_auth_method = \"private_key_jwt\"\n\
             private_key_file = \"{}\"\nsigning_algorithm = \"RS256\"\n",
            field(oidc(), "token_endpoint"),
            field(oidc(), "scope"),
            field(oidc(), "key_files/rsa_pem"),
        );
        let (stdout, active, _) =
            run_child(environments, field(oidc(), "jwt_clients/pkjwt/id"), None).await;
        assert!(stdout.contains("200 OK"), "{stdout}");
        assert_eq!(active, 1, "{stdout}");
    }

    /// The same client with only the `issuer` (no `token_url`): the token endpoint is
    /// discovered, and the assertion is for the issuer.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_private_key_jwt_client_needs_only_the_issuer() {
        use en_auth_peers::{field, oidc};
        let environments = format!(
            "[prod]\nissuer = \"{}\"\nscopes = [\"{}\"]\n\
             token_endpoint_auth_method = \"private_key_jwt\"\n\
             private_key_file = \"{}\"\nsigning_algorithm = \"ES256\"\nkey_id = \"ec-1\"\n",
            field(oidc(), "issuer"),
            field(oidc(), "scope"),
            field(oidc(), "key_files/ec_pem"),
        );
        assert!(!environments.contains("token_url"));
        let (stdout, active, tokens) =
            run_child(environments, field(oidc(), "jwt_clients/pkjwt/id"), None).await;
        assert!(stdout.contains("200 OK"), "{stdout}");
        assert_eq!(active, 1, "{stdout}");
        // The server records the client assertion's `aud`: the issuer.
        let [token] = tokens.as_slice() else {
            panic!("one token expected, the resource saw {}", tokens.len())
        };
        let info = introspection()
            .introspect(&reqwest::Client::new(), token)
            .await;
        assert_eq!(
            info["client_id"],
            field(oidc(), "jwt_clients/pkjwt/id"),
            "{info}"
        );
        assert_eq!(
            info["client_assertion_aud"],
            field(oidc(), "issuer"),
            "{info}"
        );
    }

    /// Token exchange (RFC 8693) from the environments file alone: the `subject_token_file`
    /// holds another client's token, which the exchanger client (its secret in
    /// `CLIENT_SECRET`) exchanges for a token for the `audience`, at the discovered endpoint.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_token_exchange_needs_only_the_environments_file() {
        use en_auth_oauth2::secrecy::ExposeSecret as _;
        use en_auth_peers::{field, oidc};
        let subject = ServiceAccountAuthorizer::new(
            ClientInfo::new(
                field(oidc(), "clients/basic/id"),
                field(oidc(), "clients/basic/secret"),
            ),
            Environment::new("subject")
                .with_token_url(field(oidc(), "token_endpoint"))
                .unwrap()
                .with_scopes([field(oidc(), "scope")]),
        )
        .unwrap()
        .access_token()
        .await
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let subject_file = dir.path().join("subject");
        std::fs::write(&subject_file, subject.secret().expose_secret()).unwrap();
        let environments = format!(
            "[prod]\nissuer = \"{}\"\naudience = \"urn:en-auth:reports\"\n\
             subject_token_file = \"{}\"\n",
            field(oidc(), "issuer"),
            subject_file.display(),
        );
        let (stdout, active, tokens) = run_child(
            environments,
            field(oidc(), "clients/exchanger/id"),
            Some(field(oidc(), "clients/exchanger/secret")),
        )
        .await;
        assert!(stdout.contains("200 OK"), "{stdout}");
        assert_eq!(active, 1, "{stdout}");
        // The token the resource saw is the exchanger's, exchanged for the file's subject.
        let [token] = tokens.as_slice() else {
            panic!("one token expected, the resource saw {}", tokens.len())
        };
        let info = introspection()
            .introspect(&reqwest::Client::new(), token)
            .await;
        assert_eq!(
            info["client_id"],
            field(oidc(), "clients/exchanger/id"),
            "{info}"
        );
        assert_eq!(
            info["subject_client_id"],
            field(oidc(), "clients/basic/id"),
            "{info}"
        );
        assert_eq!(info["exchanged_audience"], "urn:en-auth:reports", "{info}");
    }

    /// DPoP (RFC 9449) from the environments file alone (`dpop = true`): the example's `get`
    /// in a child process, against oidc-provider requiring nonces and the resource server
    /// that checks each proof (jwcrypto) and the token's `cnf.jkt` (introspection).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dpop_client_needs_only_the_environments_file() {
        use en_auth_peers::{dpop_resource, field, oidc_dpop};
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("environments.toml");
        std::fs::write(
            &file,
            format!(
                "[prod]\ntoken_url = \"{}\"\nscopes = [\"{}\"]\ndpop = true\n",
                field(oidc_dpop(), "token_endpoint"),
                field(oidc_dpop(), "scope"),
            ),
        )
        .unwrap();
        let url = format!("{}/example/dpop", field(dpop_resource(), "url"));
        let mut child = std::process::Command::new(std::env::current_exe().unwrap());
        child
            .args([
                "--exact",
                "tests::child_get",
                "--include-ignored",
                "--nocapture",
            ])
            .env("EN_AUTH_ENVIRONMENTS", &file)
            .env("ENVIRONMENT", "prod")
            .env("CLIENT_ID", field(oidc_dpop(), "clients/dpop/id"))
            .env("CLIENT_SECRET", field(oidc_dpop(), "clients/dpop/secret"))
            .env_remove("API_KEY")
            .env("SERVICE_ACCOUNT_TEST_URL", &url);
        let output = tokio::task::spawn_blocking(move || child.output().unwrap())
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(stdout.contains("200 OK"), "{stdout}");
        // The resource's answer: the token's client, and the thumbprint of the key that signed
        // the proof, which the token is bound to.
        assert!(stdout.contains("\"client_id\": \"svc-dpop\""), "{stdout}");
        assert!(stdout.contains("\"jkt\": \""), "{stdout}");
    }

    /// Run by the tests above in a child process: the example's `get`.
    #[tokio::test]
    #[ignore = "run by run_child, in a child process with the variables it sets"]
    async fn child_get() {
        let url = std::env::var("SERVICE_ACCOUNT_TEST_URL").expect("run by its parent test");
        get(url).await.unwrap();
    }

    #[tokio::test]
    async fn a_rejected_client_or_an_unreachable_endpoint_names_client_environment_and_endpoint() {
        for (secret, reachable) in [("wrong-secret", true), ("secret", false)] {
            let (line, token_url) = line_for(secret, reachable).await;
            for part in ["client `svc`", "environment `emulator`", &token_url] {
                assert!(line.contains(part), "{part:?} missing from {line:?}");
            }
            assert!(!line.contains('\n'), "{line:?}");
        }
    }
}
