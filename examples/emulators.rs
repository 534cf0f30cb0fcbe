//! The testkit's emulators as a service, to try `en-auth` (and the library) without an identity
//! server: `cargo xtask emulators` (or `cargo run -p en-auth-examples --bin en-auth-emulators`).
//!
//! Starts an OAuth2 token endpoint and a Cognito user pool (each with a protected resource) on
//! loopback at free ports, writes the environments file pointing at them to a temp file, prints
//! its path, the `export` lines and commands to try, and serves until Ctrl-C or SIGTERM (the
//! file is then removed). The first stdout line is `environments: <path>`.

use en_auth_testkit::emulators::Emulators;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Before anything is printed: whoever reads the first line may signal at once.
    let stop = Stop::install()?;
    let emulators = Emulators::start().await;
    let path = std::env::temp_dir().join(format!("en-auth-emulators-{}.toml", std::process::id()));
    std::fs::write(&path, emulators.environments_toml())?;
    println!("environments: {}", path.display());
    println!();
    print!("{}", emulators.environments_toml());
    println!();
    print!("{}", emulators.instructions(&path));
    std::io::Write::flush(&mut std::io::stdout())?;

    let how = stop.wait().await;
    let _ = std::fs::remove_file(&path);
    eprintln!("emulators: {how}: stopped");
    Ok(())
}

/// Ctrl-C (SIGINT) and, on Unix, SIGTERM, listened to from [`Stop::install`] on.
struct Stop {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Stop {
    fn install() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Self {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// Waits for either signal; which one came.
    async fn wait(mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => "interrupted",
                _ = self.terminate.recv() => "terminated",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "interrupted"
        }
    }
}
