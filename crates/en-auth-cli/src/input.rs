//! What the user supplies beyond the command line: the client secret, the password, and the
//! answers to login challenges — from the environment, a file, or the terminal (echo off for
//! secrets), never from an argument.

use std::io::{BufRead, IsTerminal, Read};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use en_auth_srp::{
    Challenge, ChallengeResponses, CUSTOM_CHALLENGE, EMAIL_OTP, MFA_SETUP, NEW_PASSWORD_REQUIRED,
    SELECT_CHALLENGE, SELECT_MFA_TYPE, SMS_MFA, SMS_OTP, SOFTWARE_TOKEN_MFA,
};
use secrecy::SecretString;
use zeroize::Zeroizing;

use crate::failure::{terminal, Exit, Failure, Subject};

/// The variable holding the client secret.
pub const CLIENT_SECRET_VAR: &str = "CLIENT_SECRET";
/// The variable holding the user's password.
pub const PASSWORD_VAR: &str = "USER_PWD";

/// Why nothing may be asked, once [`forbid_prompts`] has said so for this process.
static PROMPTS_FORBIDDEN: OnceLock<&'static str> = OnceLock::new();

/// Forbids every prompt for the rest of the process, whatever stdin is, for the reason given
/// (one clause, e.g. kubectl's `spec.interactive` being false): a secret, password or answer
/// that is needed and not in the environment or a file then fails with exit 6, saying `reason`.
pub fn forbid_prompts(reason: &'static str) {
    let _ = PROMPTS_FORBIDDEN.set(reason);
}

/// Whether the user can be asked: prompts are not [forbidden](forbid_prompts) and stdin is a
/// terminal.
pub fn interactive() -> bool {
    PROMPTS_FORBIDDEN.get().is_none() && std::io::stdin().is_terminal()
}

/// Why the user cannot be asked, for a failure line: `stdin is not a terminal`, or the reason
/// given to [`forbid_prompts`].
pub fn why_not_interactive() -> &'static str {
    PROMPTS_FORBIDDEN
        .get()
        .copied()
        .unwrap_or("stdin is not a terminal")
}

/// What to do instead of being asked, ending a failure line: run on a terminal, unless prompts
/// are [forbidden](forbid_prompts) (then running elsewhere would not help): the reason.
fn or_on_a_terminal() -> String {
    match PROMPTS_FORBIDDEN.get() {
        Some(reason) => format!(" ({reason})"),
        None => ", or run on a terminal to be asked".to_owned(),
    }
}

/// The client secret: from `file` ('-' for stdin), else `CLIENT_SECRET`, else asked on the
/// terminal when `required`, else none (a public client).
///
/// # Errors
/// Exit 3 for an unreadable file; exit 6 when it is required and there is no terminal.
pub fn client_secret(
    file: Option<&Path>,
    required: bool,
    subject: &Subject,
) -> Result<Option<SecretString>, Failure> {
    if let Some(path) = file {
        let mut text = String::new();
        if path == Path::new("-") {
            if let Some(reason) = PROMPTS_FORBIDDEN.get() {
                return Err(Failure::new(
                    Exit::Configuration,
                    subject,
                    format!(
                        "--client-secret-file - reads stdin, which is not given to en-auth \
                         ({reason}): name a file, or set {CLIENT_SECRET_VAR}"
                    ),
                ));
            }
        }
        let read = if path == Path::new("-") {
            std::io::stdin().read_to_string(&mut text)
        } else {
            std::fs::File::open(path).and_then(|mut f| f.read_to_string(&mut text))
        };
        read.map_err(|e| {
            Failure::new(
                Exit::Configuration,
                subject,
                format!("cannot read the client secret file {}: {e}", path.display()),
            )
        })?;
        let secret = strip_line_ending(text);
        return Ok(Some(SecretString::from(secret)));
    }
    if let Some(secret) = std::env::var_os(CLIENT_SECRET_VAR) {
        let secret = secret.into_string().map_err(|_| {
            Failure::new(
                Exit::Configuration,
                subject,
                format!("{CLIENT_SECRET_VAR} is not valid UTF-8"),
            )
        })?;
        return Ok(Some(SecretString::from(secret)));
    }
    if !required {
        return Ok(None);
    }
    if !interactive() {
        return Err(Failure::new(
            Exit::InteractionNeeded,
            subject,
            format!(
                "the client secret is needed: set {CLIENT_SECRET_VAR}, use \
                 --client-secret-file{}",
                or_on_a_terminal()
            ),
        ));
    }
    let prompt = format!(
        "Client secret of `{}`: ",
        subject.client_id.as_deref().unwrap_or("")
    );
    ask_secret(&prompt, subject).map(Some)
}

/// The password: `USER_PWD`, else asked on the terminal.
///
/// # Errors
/// Exit 6 when it is not set and there is no terminal.
pub fn password(user: &str, subject: &Subject, why: &str) -> Result<SecretString, Failure> {
    if let Some(password) = std::env::var_os(PASSWORD_VAR).filter(|p| !p.is_empty()) {
        let password = password.into_string().map_err(|_| {
            Failure::new(
                Exit::Configuration,
                subject,
                format!("{PASSWORD_VAR} is not valid UTF-8"),
            )
        })?;
        return Ok(SecretString::from(password));
    }
    if !interactive() {
        return Err(Failure::new(
            Exit::InteractionNeeded,
            subject,
            format!(
                "{why}: the password of `{user}` is needed: set {PASSWORD_VAR}{}",
                or_on_a_terminal()
            ),
        ));
    }
    ask_secret(&format!("Password of `{user}`: "), subject)
}

fn ask_secret(prompt: &str, subject: &Subject) -> Result<SecretString, Failure> {
    rpassword::prompt_password(prompt)
        .map(SecretString::from)
        .map_err(|e| {
            Failure::new(
                Exit::InteractionNeeded,
                subject,
                format!("cannot read from the terminal: {e}"),
            )
        })
}

/// One trailing `\n` or `\r\n` removed: what a secret file saved by an editor ends with.
fn strip_line_ending(mut text: String) -> String {
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    text
}

/// Answers Cognito's login challenges on the terminal: MFA codes (app, SMS, email), the MFA
/// type, an authenticator app's enrolment (`MFA_SETUP`: a QR code, then its first code), a new
/// password (twice, echo off), a custom challenge's answer. Without a terminal it answers
/// nothing and records that it was asked, so that the login fails with exit 6.
#[derive(Clone, Default)]
pub struct TerminalChallenges {
    refused: Arc<AtomicBool>,
}

impl TerminalChallenges {
    /// Whether a challenge went unanswered for want of a terminal.
    pub fn refused(&self) -> bool {
        self.refused.load(Ordering::SeqCst)
    }

    /// The answer to `challenge`, or `None`.
    pub fn answer(&self, challenge: &Challenge) -> Option<ChallengeResponses> {
        let name = challenge.name();
        if ![
            SOFTWARE_TOKEN_MFA,
            SMS_MFA,
            EMAIL_OTP,
            SELECT_MFA_TYPE,
            MFA_SETUP,
            NEW_PASSWORD_REQUIRED,
            CUSTOM_CHALLENGE,
            SELECT_CHALLENGE,
            EMAIL_OTP,
            SMS_OTP,
        ]
        .contains(&name)
        {
            return None;
        }
        if !interactive() {
            self.refused.store(true, Ordering::SeqCst);
            return None;
        }
        // What Cognito sent (names, destinations, parameters) is shown without its control
        // characters.
        let user = terminal(challenge.user_name());
        let parameter = |key: &str| challenge.parameters().get(key).map(|v| terminal(v));
        match name {
            SOFTWARE_TOKEN_MFA => {
                let device = parameter("FRIENDLY_DEVICE_NAME")
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default();
                ask_line(&format!(
                    "MFA code from the authenticator app{device} of `{user}`: "
                ))
                .map(ChallengeResponses::totp)
            }
            SMS_MFA => {
                let to = parameter("CODE_DELIVERY_DESTINATION").unwrap_or("your phone".into());
                ask_line(&format!("Code sent by SMS to {to}: ")).map(ChallengeResponses::sms)
            }
            EMAIL_OTP => {
                let to = parameter("CODE_DELIVERY_DESTINATION").unwrap_or("your email".into());
                ask_line(&format!("Code sent by email to {to}: "))
                    .map(ChallengeResponses::email_otp)
            }
            SMS_OTP => {
                let to = parameter("CODE_DELIVERY_DESTINATION").unwrap_or("your phone".into());
                ask_line(&format!("Sign-in code sent by SMS to {to}: "))
                    .map(ChallengeResponses::sms_otp)
            }
            SELECT_CHALLENGE => {
                let choices = challenge
                    .available_challenges()
                    .iter()
                    .map(|c| terminal(c))
                    .collect::<Vec<_>>()
                    .join(", ");
                ask_line(&format!("How does `{user}` sign in ({choices}): "))
                    .map(|choice| ChallengeResponses::answer(choice.to_ascii_uppercase()))
            }
            MFA_SETUP => {
                let qr = challenge
                    .otpauth_uri()
                    .and_then(crate::totp_setup::qr_code)?;
                eprintln!(
                    "en-auth: `{user}` must set up an authenticator app. Scan this QR code with it:\n{qr}"
                );
                ask_line(&format!(
                    "First code from the authenticator app of `{user}`: "
                ))
                .map(ChallengeResponses::totp)
            }
            SELECT_MFA_TYPE => {
                let choices =
                    parameter("MFAS_CAN_CHOOSE").unwrap_or("SMS_MFA, SOFTWARE_TOKEN_MFA".into());
                ask_line(&format!(
                    "MFA type for `{user}`, sms, totp or email (of {choices}): "
                ))
                .map(|choice| ChallengeResponses::answer(mfa_type(&choice)))
            }
            NEW_PASSWORD_REQUIRED => {
                eprintln!("en-auth: `{user}` must choose a new password.");
                for _ in 0..3 {
                    // Both typed strings are wiped when dropped; the first is copied into the
                    // answer (which keeps it as a secret) when they match.
                    let first = Zeroizing::new(
                        rpassword::prompt_password(format!("New password of `{user}`: ")).ok()?,
                    );
                    let again = Zeroizing::new(
                        rpassword::prompt_password("Repeat the new password: ").ok()?,
                    );
                    if first == again && !first.is_empty() {
                        return Some(ChallengeResponses::new_password(first.as_str()));
                    }
                    eprintln!("en-auth: the passwords differ or are empty; again.");
                }
                None
            }
            _ => {
                for (key, value) in challenge.parameters() {
                    if !matches!(key.as_str(), "USERNAME" | "USER_ID_FOR_SRP") {
                        eprintln!("  {}: {}", terminal(key), terminal(value));
                    }
                }
                // A custom challenge's answer may be a secret (a PIN, a passphrase): not echoed.
                let answer = Zeroizing::new(
                    rpassword::prompt_password(format!(
                        "Answer to the custom challenge for `{user}` (not shown): "
                    ))
                    .ok()?,
                );
                let answer = answer.trim();
                (!answer.is_empty()).then(|| ChallengeResponses::answer(answer))
            }
        }
    }
}

/// Cognito's name for an MFA type typed as `sms` or `totp` (or its own name).
fn mfa_type(choice: &str) -> String {
    match choice.to_ascii_lowercase().as_str() {
        "sms" | "sms_mfa" => SMS_MFA.to_owned(),
        "totp" | "app" | "software_token_mfa" => SOFTWARE_TOKEN_MFA.to_owned(),
        "email" | "email_otp" => EMAIL_OTP.to_owned(),
        _ => choice.to_owned(),
    }
}

/// A line typed on the terminal (echoed: one-time codes), without its line ending.
fn ask_line(prompt: &str) -> Option<String> {
    eprint!("{prompt}");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).ok()?;
    let line = line.trim().to_owned();
    (!line.is_empty()).then_some(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mfa_types_by_short_name() {
        assert_eq!(mfa_type("TOTP"), SOFTWARE_TOKEN_MFA);
        assert_eq!(mfa_type("sms"), SMS_MFA);
        assert_eq!(mfa_type("Email"), EMAIL_OTP);
        assert_eq!(mfa_type("SOFTWARE_TOKEN_MFA"), SOFTWARE_TOKEN_MFA);
        assert_eq!(mfa_type("EMAIL_OTP"), "EMAIL_OTP");
    }

    #[test]
    fn one_line_ending_is_dropped() {
        assert_eq!(strip_line_ending("s3cret\n".into()), "s3cret");
        assert_eq!(strip_line_ending("s3cret\r\n".into()), "s3cret");
        assert_eq!(strip_line_ending("s3cret\n\n".into()), "s3cret\n");
        assert_eq!(strip_line_ending("s3cret".into()), "s3cret");
    }
}
