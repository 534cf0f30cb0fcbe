//! The blocking API and the runtimes around it, with a scripted provider (no HTTP): where its
//! token requests run, and that nothing it does can be stranded on a runtime that stops being
//! driven — and that a token request stranded there by *async* code ends the blocking wait
//! with a typed error, not a hang.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use en_auth_oauth2::secrecy::ExposeSecret;
use en_auth_oauth2::{
    AuthorizationError, Authorizer, AuthorizerBuilder, ClientInfo, Error, RenewalPolicy, Token,
    TokenProvider,
};
use futures::FutureExt;
use tokio::sync::watch;

/// Long enough never to end a wait on a healthy token request.
const WAIT_LIMIT: Duration = Duration::from_secs(60);

/// A provider that reports each call on a channel, can hold calls at a gate, and can declare
/// its current tokens due for renewal (while still usable for an hour).
struct Scripted {
    client: ClientInfo,
    calls: AtomicUsize,
    called: Mutex<mpsc::Sender<usize>>,
    gate: watch::Sender<bool>,
    due: AtomicBool,
    fail: AtomicBool,
}

struct P(Arc<Scripted>);

impl TokenProvider for P {
    async fn authorize(&self) -> Result<Token, Error> {
        let n = self.0.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let _ = self.0.called.lock().unwrap().send(n);
        let mut open = self.0.gate.subscribe();
        let _ = open.wait_for(|open| *open).await;
        if self.0.fail.load(Ordering::SeqCst) {
            return Err(AuthorizationError::new("scripted", 503, None, "down").into());
        }
        Ok(Token::new(
            format!("token-{n}"),
            Some(Duration::from_secs(3600)),
        ))
    }

    fn expired(&self, token: &Token) -> bool {
        self.0.due.load(Ordering::SeqCst) || token.needs_renewal()
    }

    fn client_info(&self) -> &ClientInfo {
        &self.0.client
    }
}

fn scripted() -> (Arc<Scripted>, mpsc::Receiver<usize>, Authorizer<P>) {
    scripted_with(RenewalPolicy::default())
}

fn scripted_with(policy: RenewalPolicy) -> (Arc<Scripted>, mpsc::Receiver<usize>, Authorizer<P>) {
    let (called, calls) = mpsc::channel();
    let provider = Arc::new(Scripted {
        client: ClientInfo::new("scripted", "secret"),
        calls: AtomicUsize::new(0),
        called: Mutex::new(called),
        gate: watch::channel(true).0,
        due: AtomicBool::new(false),
        fail: AtomicBool::new(false),
    });
    let authorizer = AuthorizerBuilder::new()
        .renewal_policy(policy)
        .build(P(Arc::clone(&provider)));
    (provider, calls, authorizer)
}

fn secret(token: &en_auth_oauth2::CurrentToken) -> String {
    token.secret().expose_secret().to_owned()
}

fn current_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A token due for renewal but still usable is returned at once and renewed in the background.
/// Asked from inside a `current_thread` runtime that is never driven again, that background
/// renewal must not land on that runtime (where it would never run): it runs on the I/O
/// runtime, and completes.
#[test]
fn a_background_renewal_started_inside_a_runtime_runs_without_it() {
    let (provider, calls, authorizer) = scripted();
    let auth = authorizer.blocking().with_wait_limit(WAIT_LIMIT);
    let first = auth.access_token().unwrap();
    assert_eq!(calls.recv().unwrap(), 1);

    provider.due.store(true, Ordering::SeqCst);
    let runtime = current_thread_runtime();
    let served = runtime.block_on(async { auth.access_token().unwrap() });
    assert_eq!(secret(&served), "token-1");
    // The runtime stays alive, undriven; the renewal it started still reaches the provider.
    assert_eq!(calls.recv_timeout(WAIT_LIMIT), Ok(2));
    provider.due.store(false, Ordering::SeqCst);
    // Joining (or finding) that renewal gives its token, with no further call.
    auth.invalidate(first.generation());
    assert_eq!(secret(&auth.access_token().unwrap()), "token-2");
    assert_eq!(auth.authorizer().token_requests(), 2);
    drop(runtime);
}

/// Async code that starts a token request on a `current_thread` runtime and then stops driving
/// it strands nobody (issue 16): the request runs on en-auth's I/O runtime, and the blocking
/// API gets its token, with no second request. (It used to wait until its limit.)
#[test]
fn a_token_request_started_by_async_code_that_stops_is_not_stranded() {
    let (provider, calls, authorizer) = scripted();
    provider.gate.send_replace(false);
    let runtime = current_thread_runtime();
    runtime.block_on(async {
        // Polled once: the token request starts, then this runtime is left undriven.
        assert!(authorizer.access_token().now_or_never().is_none());
    });
    provider.gate.send_replace(true);

    let auth = authorizer.blocking().with_wait_limit(WAIT_LIMIT);
    let token = auth
        .access_token()
        .expect("the token of the request the async code started");
    assert!(secret(&token).starts_with("token-"));
    assert_eq!(calls.try_iter().count(), 1, "one token request");
    drop(runtime);
}

/// A token provider that calls the blocking API on en-auth's own I/O runtime would wait on
/// itself: it gets an error instead.
#[tokio::test]
async fn on_the_io_runtime_it_errs_instead_of_deadlocking() {
    let (_provider, _calls, authorizer) = scripted();
    let auth = authorizer.blocking().with_wait_limit(WAIT_LIMIT);
    let answer =
        en_auth_oauth2::core::run_on_io_runtime(async move { auth.access_token().map(|_| ()) })
            .await
            .unwrap();
    match answer {
        Err(Error::Internal(e)) => assert!(e.to_string().contains("I/O runtime"), "{e}"),
        other => panic!("expected an error, got {other:?}"),
    }
}

/// A failing provider's error reaches every blocking caller as the typed error, and the
/// cooldown repeats it without a new call.
#[test]
fn a_failure_is_the_provider_s_typed_error() {
    let (provider, calls, authorizer) =
        scripted_with(RenewalPolicy::default().with_max_attempts(1));
    provider.fail.store(true, Ordering::SeqCst);
    let auth = authorizer.blocking().with_wait_limit(WAIT_LIMIT);
    let error = auth.access_token().unwrap_err();
    assert!(
        matches!(error, Error::Authorization(ref e) if e.status_code == 503),
        "{error:?}"
    );
    let again = auth.access_token().unwrap_err();
    assert!(again.cooldown().is_some(), "{again:?}");
    assert_eq!(calls.try_iter().count(), 1);
}
