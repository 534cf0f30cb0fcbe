//! The command line: commands, options and their help (clap derive).

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The exit codes, as `--help` shows them (`docs/cli.md` has the same table).
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  anything else (stdout closed, …)
  2  usage: unknown command or option, missing argument
  3  configuration: unknown environment, unreadable or invalid environments file or secret file
  4  credentials or client rejected: wrong secret or password, unknown client or user,
     refused scope, an account that cannot log in (unconfirmed, locked)
  5  server unreachable or failing: connection refused, timeout, HTTP 5xx, 429 (transient)
  6  interaction needed (a password, MFA code, authenticator enrolment or new password) and
     stdin is not a terminal (or kubectl says spec.interactive false)

On failure, one line on stderr names the client, the environment, the endpoint and the
server's error; the token goes to stdout only. Nothing printed contains a secret.";

const TOP_EXAMPLES: &str = "\
Examples:
  export EN_AUTH_ENVIRONMENTS=~/envs.toml CLIENT_ID=svc CLIENT_SECRET=…
  en-auth token --env dev                              # the token alone
  en-auth token --env dev --format header | curl -H @- https://api.example.com/
  en-auth exec --env dev -- ./deploy.sh                # token in $EN_AUTH_ACCESS_TOKEN
  en-auth login --env dev --user alice                 # Cognito SRP, asks the password
  en-auth login --env corp --device                    # a person, OpenID Connect device flow
  en-auth token --env dev --user alice                 # alice's access token, renewed as needed
  en-auth envs                                         # what the environments file defines";

/// en-auth: prints, caches and injects OAuth2 client-credentials and AWS Cognito (SRP) access
/// tokens for shells, curl and kubectl.
///
/// Environments (token URL, Cognito region and user pool, scopes …) come from the TOML file
/// named by EN_AUTH_ENVIRONMENTS. Tokens are cached between invocations under
/// $XDG_CACHE_HOME/en-auth (files of mode 0600 in a 0700 directory) and reused while they
/// are valid.
#[derive(Debug, Parser)]
#[command(
    name = "en-auth",
    version,
    after_help = format!("{TOP_EXAMPLES}\n\n{EXIT_CODES_HELP}"),
    max_term_width = 100
)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub command: Command,

    /// The cache directory [default: $XDG_CACHE_HOME/en-auth, else ~/.cache/en-auth]. Created
    /// with mode 0700; a directory others can read is not used.
    #[arg(long, global = true, env = "EN_AUTH_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,

    /// The key file that seals Cognito user sessions (refresh token, remembered device) in
    /// the cache: base64 of 32 bytes, mode 0600, created with a random key if missing
    /// [default: $XDG_CONFIG_HOME/en-auth/session.key, else ~/.config/en-auth/session.key].
    #[arg(
        long,
        global = true,
        env = "EN_AUTH_SESSION_KEY_FILE",
        value_name = "FILE"
    )]
    pub session_key_file: Option<PathBuf>,

    /// The environment variable that holds the session key instead (base64 of 32 bytes).
    #[arg(
        long,
        global = true,
        env = "EN_AUTH_SESSION_KEY_ENV",
        value_name = "VARIABLE",
        conflicts_with = "session_key_file"
    )]
    pub session_key_env: Option<String>,

    /// When no session key can be had (the key file unreadable or open to others, the variable
    /// unset or malformed), keep a Cognito user's refresh token unsealed in its session file
    /// (mode 0600) instead of failing (exit 3); a warning says so. Off by default: refresh
    /// tokens are never kept unsealed silently.
    #[arg(
        long,
        global = true,
        env = "EN_AUTH_ALLOW_UNSEALED_SESSIONS",
        value_parser = clap::builder::FalseyValueParser::new()
    )]
    pub allow_unsealed_sessions: bool,

    /// Say on stderr what happens (cache hits and misses, token requests); twice for the
    /// library's log. Never prints a secret.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print an access token: a client-credentials token, or a logged-in user's (--user).
    #[command(after_help = format!("{TOKEN_EXAMPLES}\n\n{EXIT_CODES_HELP}"))]
    Token(TokenCommand),

    /// Log a user in to a Cognito user pool over SRP, or sign a person in at an OpenID Connect
    /// issuer (--device, --browser), and keep the session in the cache.
    #[command(after_help = format!("{LOGIN_EXAMPLES}\n\n{EXIT_CODES_HELP}"))]
    Login(LoginCommand),

    /// Sign a user out: revoke the session's refresh token with Cognito (RevokeToken, which
    /// also revokes its access tokens), then forget the cached session. A session whose
    /// revocation fails is forgotten all the same, and the command says so and fails.
    #[command(after_help = format!("{LOGOUT_EXAMPLES}\n\n{EXIT_CODES_HELP}"))]
    Logout(LogoutCommand),

    /// Run a command with the access token in EN_AUTH_ACCESS_TOKEN; exit with its status.
    #[command(after_help = format!("{EXEC_EXAMPLES}\n\n{EXIT_CODES_HELP}"))]
    Exec(ExecCommand),

    /// List the environments of the environments file and what each defines.
    #[command(after_help = format!("{ENVS_EXAMPLES}\n\n{EXIT_CODES_HELP}"))]
    Envs(EnvsCommand),

    /// Print a shell completion script.
    #[command(after_help = COMPLETIONS_EXAMPLES)]
    Completions(CompletionsCommand),
}

const TOKEN_EXAMPLES: &str = "\
Examples:
  CLIENT_ID=svc CLIENT_SECRET=… en-auth token --env dev
  en-auth token --env dev --client-id svc --client-secret-file ~/.svc-secret --scope api/read
  en-auth token --env dev --format header | curl -H @- https://api.example.com/
  en-auth token --env dev --format json | jq .expires_at
  en-auth token --env dev --min-validity 10m           # renew if less than 10 minutes are left
  en-auth token --env dev --user alice                 # after `en-auth login`
  en-auth token --env dev --format exec-credential     # as a kubeconfig exec plugin";

const LOGIN_EXAMPLES: &str = "\
Examples:
  CLIENT_ID=app en-auth login --env dev --user alice   # a public app client: no secret
  USER_PWD=… en-auth login --env dev --user alice@example.com --client-id app
  en-auth token --env dev --user alice --client-id app # then: the access token
  CLIENT_ID=cli en-auth login --env corp --device      # a person, at any OpenID Connect issuer
  CLIENT_ID=cli en-auth login --env corp --browser     # the same in a browser (PKCE)
  CLIENT_ID=cli en-auth token --env corp               # then: the person's access token";

const LOGOUT_EXAMPLES: &str = "\
Examples:
  en-auth logout --env dev --user alice                # every app client's (unless CLIENT_ID is set)
  en-auth logout --env dev --user alice --client-id app
  CLIENT_SECRET=… en-auth logout --env dev --user alice --client-id conf  # a confidential client
  en-auth logout --env dev --user alice --no-revoke    # offline: forget without revoking
  CLIENT_ID=cli en-auth logout --env corp              # a person: RFC 7009 revocation";

const EXEC_EXAMPLES: &str = "\
Examples:
  en-auth exec --env dev -- sh -c 'curl -H \"Authorization: Bearer $EN_AUTH_ACCESS_TOKEN\" https://api.example.com/'
  en-auth exec --env dev --user alice -- ./call-api.py";

const ENVS_EXAMPLES: &str = "\
Examples:
  EN_AUTH_ENVIRONMENTS=~/envs.toml en-auth envs
  en-auth envs --json | jq -r '.[].id'";

const COMPLETIONS_EXAMPLES: &str = "\
Examples:
  en-auth completions bash > ~/.local/share/bash-completion/completions/en-auth
  en-auth completions zsh > \"${fpath[1]}/_en-auth\"
  en-auth completions fish > ~/.config/fish/completions/en-auth.fish";

/// What identifies the token: the environment, the client and, for a user, the user.
#[derive(Debug, Args)]
pub struct ClientArgs {
    /// The environment id: a table of the file named by EN_AUTH_ENVIRONMENTS.
    #[arg(long = "env", value_name = "ID")]
    pub environment: String,

    /// The client id.
    #[arg(long, env = "CLIENT_ID", value_name = "ID")]
    pub client_id: String,

    /// Read the client secret from this file ('-' for stdin; one trailing newline is
    /// dropped) instead of CLIENT_SECRET. Without either, it is asked on the terminal
    /// (not for a Cognito user: no secret means a public app client).
    #[arg(long, value_name = "FILE")]
    pub client_secret_file: Option<PathBuf>,
}

/// How a token is obtained and reused: shared by `token` and `exec`.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The client and environment.
    #[command(flatten)]
    pub client: ClientArgs,

    /// A logged-in Cognito user (see `en-auth login`): the user's access token, renewed with
    /// the refresh token. The password (USER_PWD, or asked on the terminal) is only needed
    /// when there is no session to renew.
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,

    /// A scope to request (repeatable; replaces the environment's scopes). Client
    /// credentials only.
    #[arg(long = "scope", value_name = "SCOPE", conflicts_with = "user")]
    pub scopes: Vec<String>,

    /// Renew a cached token with less validity left than this (60s, 5m, 1h30m …)
    /// [default: 60s, or a quarter of the token's lifetime if that is shorter].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub min_validity: Option<Duration>,

    /// Neither read nor write the cache: always ask the server.
    #[arg(long)]
    pub no_cache: bool,
}

/// `en-auth token`.
#[derive(Debug, Args)]
pub struct TokenCommand {
    /// Which token, and how it is reused.
    #[command(flatten)]
    pub token: TokenArgs,

    /// What to print: the token alone; an `Authorization: Bearer …` header; a JSON object
    /// (access_token, token_type, expires_in, expires_at, scope); or a Kubernetes
    /// ExecCredential, of the apiVersion kubectl asks for in KUBERNETES_EXEC_INFO
    /// (client.authentication.k8s.io/v1 or v1beta1; v1 without it), prompting for nothing
    /// when it says spec.interactive false.
    #[arg(long, value_enum, default_value_t = Format::Raw)]
    pub format: Format,
}

/// `en-auth login`.
#[derive(Debug, Args)]
pub struct LoginCommand {
    /// The app client and environment.
    #[command(flatten)]
    pub client: ClientArgs,

    /// The user name (or an alias, such as the e-mail address). The password comes from
    /// USER_PWD, or is asked on the terminal; so are MFA codes and a new password when
    /// Cognito asks for them. With --device or --browser, the name the session is kept under
    /// [default: person].
    #[arg(long, value_name = "NAME", required_unless_present_any = ["device", "browser"])]
    pub user: Option<String>,
    /// Sign a person in with the device authorization grant (RFC 8628) of the environment's
    /// OpenID Connect issuer: a URL and a code (and a QR code) are printed, to open on any
    /// device with a browser; for SSH sessions and machines without one.
    #[arg(long, conflicts_with = "browser")]
    pub device: bool,
    /// Sign a person in in a browser: the authorization code grant with PKCE, redirected to a
    /// listener on 127.0.0.1 (RFC 8252); the browser is opened, or the URL printed where there
    /// is none.
    #[arg(long)]
    pub browser: bool,
    /// With --browser at a Cognito user pool's managed login: go straight to this federated
    /// identity provider (its name in the pool: a SAML or OIDC provider, Google, …).
    #[arg(long, value_name = "NAME", requires = "browser")]
    pub identity_provider: Option<String>,
}

/// `en-auth logout`.
#[derive(Debug, Args)]
pub struct LogoutCommand {
    /// The environment id.
    #[arg(long = "env", value_name = "ID")]
    pub environment: String,

    /// The user name, as given to `en-auth login` (a person signed in with --device or
    /// --browser: optional).
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,

    /// Only this app client's session [default: every client's].
    #[arg(long, env = "CLIENT_ID", value_name = "ID")]
    pub client_id: Option<String>,

    /// Read the client secret of a confidential app client from this file ('-' for stdin)
    /// instead of CLIENT_SECRET: Cognito's RevokeToken requires it. Never asked for.
    #[arg(long, value_name = "FILE")]
    pub client_secret_file: Option<PathBuf>,

    /// Only forget the sessions here; do not revoke their refresh tokens with Cognito.
    #[arg(long)]
    pub no_revoke: bool,
}

/// `en-auth exec`.
#[derive(Debug, Args)]
pub struct ExecCommand {
    /// Which token, and how it is reused.
    #[command(flatten)]
    pub token: TokenArgs,

    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,
}

/// `en-auth envs`.
#[derive(Debug, Args)]
pub struct EnvsCommand {
    /// Print a JSON array instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `en-auth completions`.
#[derive(Debug, Args)]
pub struct CompletionsCommand {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// How `en-auth token` prints the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The access token alone.
    Raw,
    /// `Authorization: Bearer <token>`, for `curl -H`.
    Header,
    /// `{"access_token", "token_type", "expires_in", "expires_at", "scope"}`.
    Json,
    /// A Kubernetes `ExecCredential` (`client.authentication.k8s.io/v1`, or the `v1beta1`
    /// that `KUBERNETES_EXEC_INFO` names).
    ExecCredential,
}

/// A duration such as `60s`, `5m`, `1h30m` or `0`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim()).map_err(|e| format!("{e} (examples: 60s, 5m, 1h30m)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("60s"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert!(parse_duration("soon").is_err());
    }
}
