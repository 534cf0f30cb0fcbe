//! How Cognito's errors map onto en-auth's: the three error types of the Python `en_auth` package, plus the account,
//! refresh and retryable kinds. Cognito names its errors in `__type` / `x-amzn-errortype`
//! ([common errors](https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/CommonErrors.html),
//! [InitiateAuth errors](https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_InitiateAuth.html#API_InitiateAuth_Errors)).

use std::sync::Arc;

use aws_sdk_cognitoidentityprovider::config::http::HttpResponse;
use aws_sdk_cognitoidentityprovider::error::{ProvideErrorMetadata, SdkError};
use en_auth_core::{
    AccountError, AuthorizationError, Error, InvalidClientError, InvalidCredentialsError,
    InvalidResponseError, Source, TransportError, TransportErrorKind,
};

/// Which call failed: the same Cognito error means different things in a login and a refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Call {
    /// InitiateAuth USER_SRP_AUTH and RespondToAuthChallenge.
    Login,
    /// InitiateAuth REFRESH_TOKEN_AUTH and GetTokensFromRefreshToken.
    Refresh,
    /// RevokeToken (a sign-out).
    Revoke,
}

/// What the mapping needs to know about the caller.
pub(crate) struct Context<'a> {
    pub(crate) endpoint: &'a str,
    pub(crate) client_id: &'a str,
    pub(crate) user_name: &'a str,
    pub(crate) call: Call,
}

/// Maps a failed SDK call.
pub(crate) fn map_sdk_error<E>(ctx: &Context<'_>, err: SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match err {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            en_auth_core::telemetry::record_http_status(status);
            let e = service.err();
            map_code(
                ctx,
                status,
                e.code().unwrap_or("Unknown"),
                e.message().unwrap_or(""),
            )
        }
        SdkError::TimeoutError(e) => transport(
            ctx,
            TransportErrorKind::Timeout,
            SdkError::<E, HttpResponse>::TimeoutError(e),
        ),
        SdkError::DispatchFailure(failure) => {
            let kind = if failure.is_timeout() {
                TransportErrorKind::Timeout
            } else if failure.is_io() {
                TransportErrorKind::Connect
            } else {
                TransportErrorKind::Other
            };
            transport(
                ctx,
                kind,
                SdkError::<E, HttpResponse>::DispatchFailure(failure),
            )
        }
        // Never print the raw response: its body may hold tokens.
        SdkError::ResponseError(e) => match record_status(e.raw().status().as_u16()) {
            status @ 400.. => AuthorizationError::new(
                ctx.endpoint,
                status,
                None,
                "an error response that is not a Cognito error (a proxy's page?)",
            )
            .into(),
            status => {
                InvalidResponseError::new(ctx.endpoint, Some(status), "unreadable Cognito response")
                    .into()
            }
        },
        other => InvalidResponseError::new(
            ctx.endpoint,
            None,
            format!(
                "the Cognito call failed: {}",
                aws_sdk_cognitoidentityprovider::error::DisplayErrorContext(&other)
            ),
        )
        .into(),
    }
}

/// Records `status` on the token request's span, and returns it.
fn record_status(status: u16) -> u16 {
    en_auth_core::telemetry::record_http_status(status);
    status
}

fn transport<E, R>(ctx: &Context<'_>, kind: TransportErrorKind, err: SdkError<E, R>) -> Error
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    TransportError::new(kind, ctx.endpoint, Some(Arc::new(err) as Source)).into()
}

/// Maps a Cognito error name and message.
pub(crate) fn map_code(ctx: &Context<'_>, status: u16, code: &str, message: &str) -> Error {
    // What Cognito (or whatever answers at its endpoint) sent is quoted, never printed raw.
    let code = en_auth_core::printable(code, 128);
    let code = code.as_str();
    let message = en_auth_core::printable(message, 512);
    let message = message.as_str();
    let account = |code: &str| AccountError::new(ctx.user_name, ctx.endpoint, code, message);
    let client = || {
        InvalidClientError::new(ctx.client_id, ctx.endpoint, format!("{code}: {message}")).into()
    };
    match code {
        "NotAuthorizedException" if is_client_problem(message) => client(),
        "NotAuthorizedException" if message.contains("attempts exceeded") => {
            Error::TooManyFailedAttempts(account(code))
        }
        "ResourceNotFoundException" => client(),
        // RevokeToken names a wrong or missing client secret so.
        "UnauthorizedException" if ctx.call == Call::Revoke => client(),
        // On a refresh, any other refusal that is not transient means the refresh token is no
        // good (invalid, expired, revoked, reused after rotation): the authorizer logs in again.
        _ if ctx.call == Call::Refresh && !is_retryable_code(code) && status < 500 => {
            Error::RefreshRefused(AuthorizationError::new(
                ctx.endpoint,
                status,
                Some(code.to_owned()),
                message,
            ))
        }
        "NotAuthorizedException"
        | "UserNotFoundException"
        | "CodeMismatchException"
        | "ExpiredCodeException"
        // VerifySoftwareToken refusing the first code of an MFA_SETUP enrolment.
        | "EnableSoftwareTokenMFAException" => {
            InvalidCredentialsError::new(ctx.user_name, ctx.endpoint, format!("{code}: {message}"))
                .into()
        }
        "InvalidParameterException" if message.contains("not enabled for the client") => client(),
        "UserNotConfirmedException" => Error::UserNotConfirmed(account(code)),
        "PasswordResetRequiredException" => Error::PasswordResetRequired(account(code)),
        "TooManyFailedAttemptsException" => Error::TooManyFailedAttempts(account(code)),
        _ => AuthorizationError::new(ctx.endpoint, status, Some(code.to_owned()), message).into(),
    }
}

fn is_retryable_code(code: &str) -> bool {
    en_auth_core::RETRYABLE_CODES.contains(&code)
}

/// `NotAuthorizedException`s that blame the app client rather than the user: SECRET_HASH
/// missing or wrong, a client secret required, an unknown client.
fn is_client_problem(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("secret hash")
        || m.contains("secret_hash")
        || m.contains("client secret")
        || m.contains("configured with secret")
        || m.contains("verify secret")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(call: Call, code: &str, message: &str) -> Error {
        let ctx = Context {
            endpoint: "https://cognito",
            client_id: "client",
            user_name: "alice",
            call,
        };
        map_code(&ctx, 400, code, message)
    }

    #[test]
    fn every_cognito_error_name_has_its_kind() {
        use Call::{Login, Refresh, Revoke};
        type Case<'a> = (Call, &'a str, &'a str, fn(&Error) -> bool);
        let cases: &[Case<'_>] = &[
            (
                Login,
                "NotAuthorizedException",
                "Incorrect username or password.",
                |e| matches!(e, Error::InvalidCredentials(c) if c.user_name == "alice"),
            ),
            (
                Login,
                "UserNotFoundException",
                "User does not exist.",
                |e| matches!(e, Error::InvalidCredentials(_)),
            ),
            (
                Login,
                "NotAuthorizedException",
                "Unable to verify secret hash for client client",
                |e| matches!(e, Error::InvalidClient(c) if c.client_id == "client"),
            ),
            (
                Login,
                "NotAuthorizedException",
                "Client client is configured with secret but SECRET_HASH was not received",
                |e| matches!(e, Error::InvalidClient(_)),
            ),
            (
                Login,
                "NotAuthorizedException",
                "Password attempts exceeded",
                |e| matches!(e, Error::TooManyFailedAttempts(_)),
            ),
            (
                Login,
                "ResourceNotFoundException",
                "User pool client x does not exist.",
                |e| matches!(e, Error::InvalidClient(_)),
            ),
            (
                Login,
                "InvalidParameterException",
                "USER_SRP_AUTH is not enabled for the client.",
                |e| matches!(e, Error::InvalidClient(_)),
            ),
            (
                Login,
                "InvalidParameterException",
                "Missing required parameter SRP_A",
                |e| matches!(e, Error::Authorization(a) if a.code.as_deref() == Some("InvalidParameterException")),
            ),
            (
                Login,
                "UserNotConfirmedException",
                "User is not confirmed.",
                |e| matches!(e, Error::UserNotConfirmed(a) if a.code == "UserNotConfirmedException"),
            ),
            (
                Login,
                "PasswordResetRequiredException",
                "Password reset required for the user",
                |e| matches!(e, Error::PasswordResetRequired(_)),
            ),
            (
                Login,
                "TooManyFailedAttemptsException",
                "Too many failed attempts",
                |e| matches!(e, Error::TooManyFailedAttempts(_)),
            ),
            (
                Login,
                "CodeMismatchException",
                "Invalid code received for user",
                |e| matches!(e, Error::InvalidCredentials(_)),
            ),
            (Login, "TooManyRequestsException", "Rate exceeded", |e| {
                matches!(e, Error::Authorization(_)) && e.is_retryable()
            }),
            (Login, "InternalErrorException", "Internal error", |e| {
                matches!(e, Error::Authorization(_)) && e.is_retryable()
            }),
            (Login, "LimitExceededException", "Limit exceeded", |e| {
                e.is_retryable()
            }),
            (
                Refresh,
                "NotAuthorizedException",
                "Invalid Refresh Token",
                |e| matches!(e, Error::RefreshRefused(_)) && e.is_refresh_refused(),
            ),
            (
                Refresh,
                "NotAuthorizedException",
                "Refresh Token has expired",
                |e| e.is_refresh_refused(),
            ),
            (
                Refresh,
                "NotAuthorizedException",
                "Unable to verify secret hash for client client",
                |e| matches!(e, Error::InvalidClient(_)) && !e.is_refresh_refused(),
            ),
            (
                Revoke,
                "UnauthorizedException",
                "Client is not authorized",
                |e| matches!(e, Error::InvalidClient(c) if c.client_id == "client"),
            ),
            (
                Revoke,
                "NotAuthorizedException",
                "Client client is configured with secret but ClientSecret was not received",
                |e| matches!(e, Error::InvalidClient(_)),
            ),
            (
                Revoke,
                "NotAuthorizedException",
                "Unable to verify secret for client client",
                |e| matches!(e, Error::InvalidClient(_)),
            ),
            (
                Revoke,
                "UnsupportedOperationException",
                "Token revocation is not enabled for the client",
                |e| {
                    matches!(e, Error::Authorization(a) if a.code.as_deref() == Some("UnsupportedOperationException"))
                        && !e.is_retryable()
                },
            ),
            (Revoke, "TooManyRequestsException", "Rate exceeded", |e| {
                e.is_retryable()
            }),
        ];
        for (call, code, message, check) in cases {
            let e = map(*call, code, message);
            assert!(check(&e), "{call:?} {code} {message} → {e:?}");
            if !matches!(e, Error::RefreshRefused(_)) {
                assert!(
                    e.to_string().contains(code) || e.to_string().contains(message),
                    "{e}"
                );
            }
        }
    }
}
