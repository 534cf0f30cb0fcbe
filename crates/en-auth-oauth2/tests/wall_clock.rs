//! Token expiry follows the monotonic clock: the wall clock jumping forwards or back by a year
//! neither expires a fresh token nor keeps an expired one alive.
//!
//! The wall clock is moved for real, in a child process run under libfaketime (Debian package
//! `faketime`, installed by `cargo xtask peers install`): this test re-runs itself with
//! `LD_PRELOAD=libfaketime.so.1`, `FAKETIME_DONT_FAKE_MONOTONIC=1`, and a timestamp file that
//! the child rewrites to jump the wall clock while its monotonic clocks run on untouched.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use en_auth_oauth2::{ClientInfo, Environment, ServiceAccountAuthorizer};
use en_auth_testkit::OAuthServer;
use secrecy::ExposeSecret;

const CHILD: &str = "EN_AUTH_FAKETIME_CHILD";
const LIBFAKETIME: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/faketime/libfaketime.so.1",
];

#[test]
fn expiry_follows_the_monotonic_clock_when_the_wall_clock_jumps() {
    if let Ok(timestamp_file) = std::env::var(CHILD) {
        in_faked_time(Path::new(&timestamp_file));
        return;
    }
    let lib = LIBFAKETIME
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .expect(
        "libfaketime is not installed: run `cargo xtask peers install` (apt-get install faketime)",
    );
    let timestamp_file =
        std::env::temp_dir().join(format!("en-auth-faketime-{}", std::process::id()));
    std::fs::write(&timestamp_file, "+0\n").unwrap();
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "expiry_follows_the_monotonic_clock_when_the_wall_clock_jumps",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("LD_PRELOAD", &lib)
        .env("FAKETIME_TIMESTAMP_FILE", &timestamp_file)
        .env("FAKETIME_NO_CACHE", "1")
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
        .env(CHILD, &timestamp_file)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&timestamp_file);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "the faked-time run failed:\n{text}"
    );
    assert!(text.contains("1 passed"), "the child ran no test:\n{text}");
}

/// Jumps the wall clock (through libfaketime's timestamp file) and checks that it moved.
fn jump(timestamp_file: &Path, offset: &str, expect: impl Fn(Duration, bool) -> bool) {
    let before = SystemTime::now();
    std::fs::write(timestamp_file, format!("{offset}\n")).unwrap();
    let after = SystemTime::now();
    let (delta, forwards) = match after.duration_since(before) {
        Ok(d) => (d, true),
        Err(e) => (e.duration(), false),
    };
    assert!(
        expect(delta, forwards),
        "the wall clock did not jump ({offset}): {delta:?}, forwards {forwards}"
    );
}

fn in_faked_time(timestamp_file: &Path) {
    let year = Duration::from_secs(300 * 24 * 3600);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // A long-lived token and a short-lived one.
        let long = OAuthServer::builder()
            .client("svc", "secret")
            .token_lifetime_secs(3600)
            .start()
            .await;
        let short = OAuthServer::builder()
            .client("svc", "secret")
            .token_lifetime_secs(3)
            .start()
            .await;
        let auth = |server: &OAuthServer| {
            let environment = Environment::new("clock")
                .with_token_url(&server.token_url())
                .unwrap();
            ServiceAccountAuthorizer::new(ClientInfo::new("svc", "secret"), environment).unwrap()
        };
        let (long_auth, short_auth) = (auth(&long), auth(&short));
        let first = long_auth
            .access_token()
            .await
            .unwrap()
            .secret()
            .expose_secret()
            .to_owned();
        let short_token = short_auth.access_token().await.unwrap();
        let (short_first, short_expires) = (
            short_token.secret().expose_secret().to_owned(),
            short_token.expires_at().unwrap(),
        );
        drop(short_token);

        // The wall clock leaps 400 days ahead: the fresh token stays fresh.
        jump(timestamp_file, "+400d", |d, forwards| forwards && d > year);
        assert_eq!(
            long_auth
                .access_token()
                .await
                .unwrap()
                .secret()
                .expose_secret(),
            &first
        );
        assert_eq!(
            short_auth
                .access_token()
                .await
                .unwrap()
                .secret()
                .expose_secret(),
            &short_first
        );
        assert_eq!(
            long.token_requests() + short.token_requests(),
            2,
            "no renewal for a wall-clock jump"
        );

        // ...and 400 days back: an expired token does not come back to life.
        jump(timestamp_file, "-400d", |d, forwards| !forwards && d > year);
        tokio::time::sleep_until(short_expires.into()).await;
        let renewed = short_auth
            .access_token()
            .await
            .unwrap()
            .secret()
            .expose_secret()
            .to_owned();
        assert_ne!(renewed, short_first, "renewed on the monotonic clock");
        assert_eq!(
            long_auth
                .access_token()
                .await
                .unwrap()
                .secret()
                .expose_secret(),
            &first
        );
        assert_eq!(long.token_requests(), 1);
        assert_eq!(short.token_requests(), 2);
    });
}
