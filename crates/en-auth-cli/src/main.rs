//! `en-auth`: prints, caches and injects OAuth2 client-credentials and AWS Cognito (SRP)
//! access tokens for shells, curl and kubectl. See `en-auth --help` and `docs/cli.md`.

mod browser;
mod cache;
mod cli;
mod envs;
mod failure;
mod flows;
mod input;
mod kube;
mod logout;
mod people;
mod token;
mod totp_setup;
mod unsealed;

use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use crate::cache::{Cache, SessionKeySource};
use crate::cli::{Cli, Command, ExecCommand, Format};
use crate::failure::{Exit, Failure, Subject};
use crate::flows::Context;

/// The variable `en-auth exec` hands the access token to the command in.
pub const ACCESS_TOKEN_VAR: &str = "EN_AUTH_ACCESS_TOKEN";

/// What `en-auth` says on stderr besides a failure: notes with `--verbose`, warnings always.
pub struct Notes {
    verbose: u8,
}

impl Notes {
    /// A note, shown with `--verbose`.
    pub fn info(&self, message: &str) {
        if self.verbose > 0 {
            eprintln!("en-auth: {}", failure::terminal(message));
        }
    }

    /// A one-time notice, always shown.
    pub fn notice(&self, message: &str) {
        eprintln!("en-auth: note: {}", failure::terminal(message));
    }

    /// A warning, always shown.
    pub fn warn(&self, message: &str) {
        eprintln!("en-auth: warning: {}", failure::terminal(message));
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Usage errors exit 2; --help and --version print to stdout and exit 0.
            let _ = e.print();
            return if e.use_stderr() {
                Exit::Usage.into()
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    if cli.verbose > 1 {
        // The library's spans and events (which never hold a secret); not the AWS SDK's.
        let filter = tracing_subscriber::EnvFilter::new(
            "en_auth_core=debug,en_auth_oauth2=debug,en_auth_srp=debug",
        );
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .try_init();
    }
    let notes = Notes {
        verbose: cli.verbose,
    };
    match run(cli, &notes) {
        Ok(code) => code,
        Err(failure) => failure.report(),
    }
}

fn run(cli: Cli, notes: &Notes) -> Result<ExitCode, Failure> {
    let keys = SessionKeySource {
        file: cli.session_key_file.clone(),
        variable: cli.session_key_env.clone(),
        allow_unsealed: cli.allow_unsealed_sessions,
    };
    match cli.command {
        Command::Envs(args) => {
            let (text, all_valid) = envs::list(args.json)?;
            print(&text)?;
            Ok(if all_valid {
                ExitCode::SUCCESS
            } else {
                Exit::Configuration.into()
            })
        }
        Command::Completions(args) => {
            let mut out = Vec::new();
            clap_complete::generate(args.shell, &mut Cli::command(), "en-auth", &mut out);
            print(&String::from_utf8_lossy(&out))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Logout(args) => {
            let Some(cache) = Cache::open(cli.cache_dir, &keys, notes) else {
                return Ok(ExitCode::SUCCESS);
            };
            let environment = en_auth_oauth2::Environment::load(&args.environment).ok();
            let person = |environment: &en_auth_oauth2::Environment| {
                let cx = Context {
                    cache: Some(&cache),
                    notes,
                };
                people::is_people_environment(environment)
                    || args.client_id.as_deref().is_some_and(|client_id| {
                        people::has_session(environment, client_id, args.user.as_deref(), &cx)
                    })
            };
            if let Some(environment) = environment.filter(person) {
                let subject = Subject {
                    environment: Some(args.environment.clone()),
                    ..Subject::default()
                };
                let client_id = args.client_id.clone().ok_or_else(|| {
                    Failure::new(
                        Exit::Usage,
                        &subject,
                        "a person's sign-out needs the client id (--client-id or CLIENT_ID)",
                    )
                })?;
                let client = cli::ClientArgs {
                    environment: args.environment.clone(),
                    client_id,
                    client_secret_file: None,
                };
                let cx = Context {
                    cache: Some(&cache),
                    notes,
                };
                let line = runtime()?.block_on(people::logout(
                    environment,
                    &client,
                    args.user.as_deref(),
                    args.no_revoke,
                    &cx,
                ))?;
                eprintln!("en-auth: {}", failure::terminal(&line));
                return Ok(ExitCode::SUCCESS);
            }
            let Some(user) = args.user.clone() else {
                return Err(Failure::new(
                    Exit::Usage,
                    &Subject::default(),
                    "--user is required (the environment is a Cognito user pool's)",
                ));
            };
            let line = runtime()?.block_on(logout::logout(&args, &user, &cache, notes))?;
            eprintln!("en-auth: {}", failure::terminal(&line));
            Ok(ExitCode::SUCCESS)
        }
        Command::Token(args) => {
            // As kubectl's credential plugin: answer in the apiVersion it asks for, and
            // prompt for nothing unless it allows it (it passes its stdin on only then).
            let exec_info = match args.format {
                Format::ExecCredential => {
                    let info = kube::ExecInfo::from_env()?;
                    if info.interactive == Some(false) {
                        input::forbid_prompts(kube::NOT_INTERACTIVE);
                    }
                    Some(info)
                }
                _ => None,
            };
            let cache = open_cache(cli.cache_dir, &keys, args.token.no_cache, notes);
            let cx = Context {
                cache: cache.as_ref(),
                notes,
            };
            let token = runtime()?.block_on(flows::token(&args.token, &cx))?;
            let text = match exec_info {
                Some(info) => token.exec_credential(info.api_version, std::time::SystemTime::now()),
                None => token.render(args.format),
            };
            print(&text)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Login(args) => {
            let cache = open_cache(cli.cache_dir, &keys, false, notes);
            let cx = Context {
                cache: cache.as_ref(),
                notes,
            };
            let method = match (args.device, args.browser) {
                (true, _) => Some(people::Method::Device),
                (_, true) => Some(people::Method::Browser),
                _ => None,
            };
            let message = match (method, &args.user) {
                (Some(method), user) => {
                    let subject = Subject {
                        environment: Some(args.client.environment.clone()),
                        client_id: Some(args.client.client_id.clone()),
                        ..Subject::default()
                    };
                    let environment = en_auth_oauth2::Environment::load(&args.client.environment)
                        .map_err(|e| Failure::from_error(&e, &subject))?;
                    runtime()?.block_on(people::login(
                        environment,
                        &args.client,
                        user.as_deref(),
                        method,
                        args.identity_provider.as_deref(),
                        &cx,
                    ))?
                }
                (None, Some(user)) => {
                    runtime()?.block_on(flows::login_command(&args.client, user, &cx))?
                }
                (None, None) => unreachable!("clap requires --user without --device or --browser"),
            };
            eprintln!("en-auth: {}", failure::terminal(&message));
            Ok(ExitCode::SUCCESS)
        }
        Command::Exec(args) => {
            let cache = open_cache(cli.cache_dir, &keys, args.token.no_cache, notes);
            let cx = Context {
                cache: cache.as_ref(),
                notes,
            };
            let token = runtime()?.block_on(flows::token(&args.token, &cx))?;
            Ok(exec(&args, &token))
        }
    }
}

fn open_cache(
    dir: Option<std::path::PathBuf>,
    keys: &SessionKeySource,
    no_cache: bool,
    notes: &Notes,
) -> Option<Cache> {
    if no_cache {
        return None;
    }
    Cache::open(dir, keys, notes)
}

/// A single-threaded runtime: the library does its I/O on a small runtime of its own.
fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            Failure::new(
                Exit::Other,
                &Subject::default(),
                format!("cannot start: {e}"),
            )
        })
}

fn print(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| {
            Failure::new(
                Exit::Other,
                &Subject::default(),
                format!("cannot write to stdout: {e}"),
            )
        })
}

/// Every variable en-auth reads a secret from, which `en-auth exec`'s command does not get:
/// the client secret, the password, and the shared cache's encryption key named by the
/// environment (the key every replica of a fleet trusts: with it a command could open every
/// shared token and forge values).
fn secret_variables(environment: &str) -> Vec<String> {
    let mut variables = vec![
        input::CLIENT_SECRET_VAR.to_owned(),
        input::PASSWORD_VAR.to_owned(),
    ];
    if let Ok(environment) = en_auth_oauth2::Environment::load(environment) {
        variables.extend(
            environment
                .shared_cache()
                .and_then(|cache| cache.encryption_key_env.clone()),
        );
    }
    variables
}

/// Runs the command with the token in [`ACCESS_TOKEN_VAR`]: on Unix by replacing this process
/// (signals and the exit status are the command's own), elsewhere as a child whose status is
/// passed on. A command that cannot be started exits 127 (not found) or 126, as in a shell.
fn exec(args: &ExecCommand, token: &token::IssuedToken) -> ExitCode {
    use secrecy::ExposeSecret;

    let (program, rest) = args.command.split_first().expect("clap requires a command");
    let mut command = std::process::Command::new(program);
    // The command gets the token, not the secrets it was obtained with.
    command.args(rest);
    for variable in secret_variables(&args.token.client.environment) {
        command.env_remove(variable);
    }
    command.env(ACCESS_TOKEN_VAR, token.access_token.expose_secret());
    let failed = |e: std::io::Error| {
        eprintln!("en-auth: cannot run `{}`: {e}", program.to_string_lossy());
        ExitCode::from(if e.kind() == std::io::ErrorKind::NotFound {
            127
        } else {
            126
        })
    };
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        failed(command.exec())
    }
    #[cfg(not(unix))]
    {
        match command.status() {
            // An exit code that does not fit a byte (or would read as success) becomes 1.
            Ok(status) => ExitCode::from(
                status
                    .code()
                    .and_then(|c| u8::try_from(c).ok())
                    .filter(|&c| c != 0 || status.success())
                    .unwrap_or(1),
            ),
            Err(e) => failed(e),
        }
    }
}
