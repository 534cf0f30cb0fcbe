//! The emulators of `cargo xtask emulators` (the `emulators` example of `en-auth-examples`):
//! an OAuth2 token endpoint with its protected resource, and a Cognito user pool with its own,
//! on loopback at free ports, with a fixed demo client and user, and the environments file
//! (TOML, `EN_AUTH_ENVIRONMENTS`) that points `en-auth` and the library at them.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use en_auth_testkit::emulators::{self, Emulators};
//!
//! let emulators = Emulators::start().await;
//! let toml = emulators.environments_toml();
//! assert!(toml.contains(&format!("[{}]", emulators::OAUTH_ENVIRONMENT)));
//! assert!(toml.contains(&emulators.oauth.token_url()));
//! # }
//! ```

use std::path::Path;

use crate::{AppClient, CognitoServer, OAuthServer, PoolUser};

/// The client id, for the client-credentials grant and as the Cognito app client.
pub const CLIENT_ID: &str = "demo-client";
/// The client secret (of both: the app client is confidential, so that one `CLIENT_SECRET`
/// serves both environments).
pub const CLIENT_SECRET: &str = "demo-client-secret";
/// The pool's user.
pub const USER: &str = "alice";
/// Its e-mail address, which it can also log in with.
pub const USER_EMAIL: &str = "alice@example.com";
/// Its password.
pub const PASSWORD: &str = "Corr3ct-Horse!Battery";
/// The user pool's id (region `eu-west-1`).
pub const POOL_ID: &str = "eu-west-1_DemoPool";
/// The environment of the client-credentials grant at the OAuth2 emulator.
pub const OAUTH_ENVIRONMENT: &str = "emulated";
/// The environment of the Cognito user pool emulator.
pub const COGNITO_ENVIRONMENT: &str = "emulated-cognito";
/// The scope the OAuth2 environment asks for.
pub const SCOPE: &str = "demo/read";

/// Both emulators, serving until dropped.
pub struct Emulators {
    /// The OAuth2 token endpoint (client credentials: [`CLIENT_ID`], [`CLIENT_SECRET`]) and
    /// its protected resource.
    pub oauth: OAuthServer,
    /// The Cognito user pool ([`POOL_ID`]: the confidential app client [`CLIENT_ID`], the user
    /// [`USER`] / [`PASSWORD`]) and its protected resource.
    pub cognito: CognitoServer,
}

impl Emulators {
    /// Starts both on loopback at free ports, as tasks of the calling Tokio runtime (see the
    /// crate's "Which runtime a server runs on"). Tokens live an hour.
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub async fn start() -> Self {
        let oauth = OAuthServer::builder()
            .client(CLIENT_ID, CLIENT_SECRET)
            .start()
            .await;
        let cognito = CognitoServer::builder()
            .pool_id(POOL_ID)
            .client(AppClient::confidential(CLIENT_ID, CLIENT_SECRET))
            .user(PoolUser::new(USER, PASSWORD).email(USER_EMAIL))
            .start()
            .await;
        Self { oauth, cognito }
    }

    /// The environments file: [`OAUTH_ENVIRONMENT`] (`token_url`, `scopes`) and
    /// [`COGNITO_ENVIRONMENT`] (`user_pool_id`, `cognito_endpoint`).
    pub fn environments_toml(&self) -> String {
        format!(
            "# The emulators of `cargo xtask emulators`: loopback only, gone when it stops.\n\
             [{OAUTH_ENVIRONMENT}]\n\
             token_url = \"{}\"\n\
             scopes = [\"{SCOPE}\"]\n\
             \n\
             [{COGNITO_ENVIRONMENT}]\n\
             user_pool_id = \"{POOL_ID}\"\n\
             cognito_endpoint = \"{}\"\n",
            self.oauth.token_url(),
            self.cognito.endpoint()
        )
    }

    /// What to tell the user once the environments file is at `environments`: the endpoints,
    /// the variables to export, and commands to try. (The demo credentials are printed: they
    /// are fixed, public, and good only against these emulators.)
    pub fn instructions(&self, environments: &Path) -> String {
        let path = environments.display();
        format!(
            "en-auth emulators (loopback only; Ctrl-C to stop)\n\
             \n\
             OAuth2 token endpoint:   {token}\n\
             its protected resource:  {resource}\n\
             Cognito user pool:       {cognito} (pool {POOL_ID})\n\
             its protected resource:  {cognito_resource}\n\
             \n\
             environments file: {path}\n\
             \n\
             export EN_AUTH_ENVIRONMENTS={path}\n\
             export CLIENT_ID={CLIENT_ID} CLIENT_SECRET={CLIENT_SECRET}\n\
             \n\
             en-auth token --env {OAUTH_ENVIRONMENT}\n\
             en-auth token --env {OAUTH_ENVIRONMENT} --format header | curl -H @- {resource}\n\
             USER_PWD='{PASSWORD}' en-auth login --env {COGNITO_ENVIRONMENT} --user {USER}\n\
             en-auth token --env {COGNITO_ENVIRONMENT} --user {USER} --format header | curl -H @- {cognito_resource}\n",
            token = self.oauth.token_url(),
            resource = self.oauth.resource_url(),
            cognito = self.cognito.endpoint(),
            cognito_resource = self.cognito.resource_url(),
        )
    }
}
