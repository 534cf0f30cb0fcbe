//! Project automation for en-auth.
//!
//! - `cargo xtask ci`: everything CI checks — formatting, clippy (`-D warnings`), the supply
//!   chain (cargo-deny, installed pinned), installing the real protocol peers, all tests (unit,
//!   integration against the peers, fuzz-corpus replays, doc tests), a fuzz smoke (cargo-fuzz,
//!   installed pinned) and the docs (`-D warnings`). Fails at the first failing step.
//! - `cargo xtask demo`: the zero-configuration demo.
//! - `cargo xtask emulators`: the testkit's OAuth2 token endpoint and Cognito user pool (each
//!   with a protected resource) on loopback, serving until Ctrl-C or SIGTERM, with an
//!   environments file for `en-auth` (its path printed, with the demo client and user): to try
//!   the command line without an identity server (the `emulators` example).
//! - `cargo xtask peers install`: installs oidc-provider (npm), and ministack and
//!   django-oauth-toolkit (PyPI, in `peers/.venv`) from their committed lock files, and the
//!   Debian packages the tests run (faketime, curl, redis-server, kubernetes-client for
//!   kubectl, openssl) when missing.
//! - `cargo xtask bench`: the criterion benchmarks.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.current_dir(root());
    command
}

/// Runs `command`, echoing it; an error names the step.
fn run(step: &str, mut command: Command) -> Result<(), String> {
    eprintln!("==> {step}: {command:?}");
    let status = command
        .status()
        .map_err(|e| format!("{step}: cannot run {command:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{step} failed ({status})"))
    }
}

fn install_peers() -> Result<(), String> {
    let peers = root().join("peers");
    for tool in ["node", "npm", "python3"] {
        if Command::new(tool).arg("--version").output().is_err() {
            return Err(format!(
                "`{tool}` is not on PATH: the integration tests need Node.js and Python 3"
            ));
        }
    }
    for (dir, what) in [
        ("oidc", "oidc-provider"),
        ("cognito-js", "amazon-cognito-identity-js"),
    ] {
        let mut npm = Command::new("npm");
        npm.args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(peers.join(dir));
        run(&format!("install {what} (npm ci)"), npm)?;
    }

    // Debian packages: libfaketime moves the wall clock for the wall-clock-jump test; curl is
    // fed `en-auth token --format header` by the command line's tests; redis-server below.
    let mut debian = Vec::new();
    if !Path::new("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1").is_file()
        && !Path::new("/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1").is_file()
    {
        debian.push("faketime");
    }
    if Command::new("curl").arg("--version").output().is_err() {
        debian.push("curl");
    }
    // redis-server (it brings redis-cli): the shared token store's tests start real Redis
    // servers and a 3-node Redis Cluster (en_auth_peers::redis).
    if Command::new("redis-server")
        .arg("--version")
        .output()
        .is_err()
    {
        debian.push("redis-server");
    }
    // kubectl (Debian's kubernetes-client) runs `en-auth token --format exec-credential` as
    // its credential plugin in the command line's tests, against an HTTPS API whose
    // certificate openssl makes (as for the TLS Redis servers). Caution: Debian 12's package is
    // kubectl 1.20, which predates client.authentication.k8s.io/v1 and `interactiveMode` (1.22):
    // the tests are written for kubectl 1.32, which the machine image carries.
    if Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_err()
    {
        debian.push("kubernetes-client");
    }
    if Command::new("openssl").arg("version").output().is_err() {
        debian.push("openssl");
    }
    // util-linux's `script` gives en-auth a pseudo-terminal (prompts refused for kubectl).
    if Command::new("script").arg("--version").output().is_err() {
        debian.push("bsdutils");
    }
    if !debian.is_empty() {
        let what = debian.join(" ");
        let mut update = Command::new("apt-get");
        update.args(["update", "-qq"]);
        run(&format!("apt-get update (for {what})"), update)?;
        let mut apt = Command::new("apt-get");
        apt.args(["install", "-y", "-qq"])
            .args(&debian)
            .env("DEBIAN_FRONTEND", "noninteractive");
        run(&format!("install {what} (apt-get)"), apt)?;
    }

    let venv = peers.join(".venv");
    if !venv.join("bin/python").is_file() {
        let mut python = Command::new("python3");
        python.args(["-m", "venv"]).arg(&venv);
        run("create the peers' virtualenv", python)?;
    }
    let mut pip = Command::new(venv.join("bin/pip"));
    pip.args(["install", "--quiet", "--disable-pip-version-check", "-r"])
        .arg(peers.join("requirements.txt"));
    run(
        "install ministack, pycognito and django-oauth-toolkit (pip)",
        pip,
    )
}

/// The pinned versions of the cargo tools CI installs.
const CARGO_DENY: (&str, &str) = ("cargo-deny", "0.20.2");

/// Installs `tool` at `version` with `cargo install --locked` unless cargo already finds that
/// version as a subcommand (in `$CARGO_HOME/bin` or on `PATH`).
fn ensure_cargo_tool((tool, version): (&str, &str)) -> Result<(), String> {
    let subcommand = tool.trim_start_matches("cargo-");
    let installed = cargo()
        .args([subcommand, "--version"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains(version))
        .unwrap_or(false);
    if installed {
        return Ok(());
    }
    let mut install = cargo();
    install.args(["install", "--locked", tool, "--version", version]);
    run(&format!("install {tool} {version}"), install)
}

/// cargo-deny: bans (one reqwest and one hyper major), licenses and sources, always;
/// advisories only when the advisory database can be fetched.
fn supply_chain() -> Result<(), String> {
    ensure_cargo_tool(CARGO_DENY)?;
    // cargo-deny resolves the crates of every target platform (windows-sys, …), offline: fetch
    // them all first, so that the check does not depend on what this machine's cache holds.
    let mut fetch = cargo();
    fetch.args(["fetch", "--locked"]);
    run("fetch every platform's crates (for cargo deny)", fetch)?;
    let mut deny = cargo();
    deny.args(["deny", "--offline", "check", "bans", "licenses", "sources"]);
    run("supply chain (cargo deny: bans, licenses, sources)", deny)?;
    let mut fetch = cargo();
    fetch
        .args(["deny", "fetch", "db"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    if fetch.status().is_ok_and(|s| s.success()) {
        let mut advisories = cargo();
        advisories.args(["deny", "check", "advisories"]);
        run("supply chain (cargo deny: advisories)", advisories)
    } else {
        eprintln!("==> supply chain (cargo deny: advisories): SKIPPED — the advisory database cannot be fetched from this machine");
        Ok(())
    }
}

/// The pinned cargo-fuzz, for the fuzz smoke.
const CARGO_FUZZ: (&str, &str) = ("cargo-fuzz", "0.13.2");

/// A short run of every fuzz target over its committed corpus (`fuzz/smoke.sh`). cargo-fuzz
/// needs nightly compiler flags; on the stable toolchain `RUSTC_BOOTSTRAP=1` allows them.
fn fuzz_smoke() -> Result<(), String> {
    ensure_cargo_tool(CARGO_FUZZ)?;
    let mut smoke = Command::new("bash");
    smoke.arg(root().join("fuzz/smoke.sh")).current_dir(root());
    run("fuzz smoke (every target, briefly)", smoke)
}

fn ci() -> Result<(), String> {
    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--", "--check"]);
    run("format check", fmt)?;

    let mut clippy = cargo();
    clippy.args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ]);
    run("clippy", clippy)?;

    supply_chain()?;

    install_peers()?;

    let mut tests = cargo();
    tests.args(["test", "--workspace", "--all-targets", "--locked"]);
    run(
        "tests (unit, integration with the real peers, benches as tests)",
        tests,
    )?;

    let mut doctests = cargo();
    doctests.args(["test", "--workspace", "--doc", "--locked"]);
    run("doc tests", doctests)?;

    fuzz_smoke()?;

    let mut doc = cargo();
    doc.args(["doc", "--workspace", "--no-deps", "--locked"])
        .env("RUSTDOCFLAGS", "-D warnings");
    run("docs", doc)?;
    eprintln!("==> ci: all steps passed");
    Ok(())
}

/// Builds the demo with cargo's progress shown (the first build takes minutes on two cores),
/// then runs it quietly.
fn demo() -> Result<(), String> {
    const DEMO: [&str; 4] = ["--package", "en-auth-examples", "--example", "demo"];
    eprintln!(
        "==> building the demo (the first build takes a few minutes; later runs start at once)"
    );
    let mut build = cargo();
    build.arg("build").args(DEMO);
    run("build the demo", build)?;
    let mut demo = cargo();
    demo.args(["run", "--quiet"]).args(DEMO);
    run("demo", demo)
}

/// The `emulators` example, built with cargo's progress shown, then run quietly: it serves
/// until interrupted.
fn emulators() -> Result<(), String> {
    const EMULATORS: [&str; 4] = ["--package", "en-auth-examples", "--example", "emulators"];
    let mut build = cargo();
    build.arg("build").args(EMULATORS);
    run("build the emulators", build)?;
    let mut emulators = cargo();
    emulators.args(["run", "--quiet"]).args(EMULATORS);
    run("emulators", emulators)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["ci"] => ci(),
        ["demo"] => demo(),
        ["emulators"] => emulators(),
        ["peers", "install"] => install_peers(),
        ["bench", rest @ ..] => {
            let mut bench = cargo();
            bench
                .args([
                    "bench",
                    "-p",
                    "en-auth-core",
                    "-p",
                    "en-auth-oauth2",
                    "-p",
                    "en-auth-srp",
                    "-p",
                    "en-auth-redis",
                    "-p",
                    "en-auth-tower",
                ])
                .args(rest);
            run("benchmarks", bench)
        }
        _ => Err(
            "usage: cargo xtask <ci | demo | emulators | peers install | bench [criterion args]>"
                .into(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}
