//! Project automation for en-auth.
//!
//! - `cargo xtask ci`: everything CI checks — formatting, clippy (`-D warnings`), the supply
//!   chain and its advisories self-test (below), installing the real protocol peers, all tests
//!   (unit, integration against the peers, fuzz-corpus replays, doc tests), a fuzz smoke
//!   (cargo-fuzz, installed pinned), the docs (`-D warnings`) and the published crates'
//!   packages (below). Fails at the first failing step.
//! - `cargo xtask supply-chain`: that step alone — cargo-deny (installed pinned) checks bans,
//!   licenses and sources, then the RustSec advisories: from the snapshot in
//!   `../shared/advisory-db/` beside the repository when it is there (cloned into a scratch
//!   directory), else from the database fetched from GitHub; it prints which and how old. A
//!   vulnerable, unsound or unmaintained crate fails it (deny.toml's `[advisories]` says why);
//!   so does having no database at all.
//! - `cargo xtask advisories-selftest`: the advisory check's negative test — a scratch crate
//!   pinning `smallvec = "=1.6.0"` (RUSTSEC-2021-0003) must fail it.
//! - `cargo xtask package`: that step alone — `cargo package` for every crate without
//!   `publish = false`, each package unpacked and built as crates.io users will build it.
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

mod package;

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
        "install ministack, pycognito, django-oauth-toolkit and Authlib (pip)",
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

/// cargo-deny: bans (one reqwest and one hyper major), licenses and sources; then the
/// advisories, from the RustSec database as [`advisory_db`] finds it. A vulnerability fails the
/// run (deny.toml's `[advisories]` says what else does).
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

    let db = advisory_db()?;
    let mut advisories = cargo();
    advisories
        .args(["deny", "--offline", "--config"])
        .arg(&db.config)
        .args(["check", "advisories"]);
    run("supply chain (cargo deny: advisories)", advisories)
}

/// The RustSec advisory database snapshot for machines that cannot reach GitHub: a git bundle
/// in the read-only `shared/` directory beside the repository (`../shared` from its root).
fn advisory_snapshot() -> PathBuf {
    root().join("../shared/advisory-db/snapshot.bundle")
}

/// The directory cargo-deny 0.20 opens under its `db-path` for the default RustSec URL
/// (`<last URL segment>-<xxhash64 of the URL>`).
const RUSTSEC_DB_DIR: &str = "advisory-db-3157b0e258782691";

/// An advisory database ready for `cargo deny --offline --config <config> check advisories`.
struct AdvisoryDb {
    /// The deny.toml to check with: the repository's, or a scratch copy naming the scratch
    /// `db-path`.
    config: PathBuf,
    /// The scratch directory holding the snapshot's clone and that copy, removed on drop.
    scratch: Option<PathBuf>,
}

impl Drop for AdvisoryDb {
    fn drop(&mut self) {
        if let Some(scratch) = &self.scratch {
            let _ = std::fs::remove_dir_all(scratch);
        }
    }
}

/// Finds the advisory database and says which one it is and how old: the shared snapshot,
/// when it is there, cloned into a scratch `db-path` in the temporary directory (nothing is
/// written into the repository); otherwise the database fetched from GitHub by cargo-deny
/// into its default `db-path`. Neither → an error: the advisories are never skipped.
fn advisory_db() -> Result<AdvisoryDb, String> {
    let step = "advisory database";
    let snapshot = advisory_snapshot();
    if snapshot.is_file() {
        let scratch =
            std::env::temp_dir().join(format!("en-auth-advisory-db-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&scratch);
        // Owned from here on: removed on every return path.
        let db = AdvisoryDb {
            config: scratch.join("deny.toml"),
            scratch: Some(scratch.clone()),
        };
        let db_path = scratch.join("db");
        let checkout = db_path.join(RUSTSEC_DB_DIR);
        let mut clone = Command::new("git");
        clone
            .args(["clone", "--quiet", "--branch", "snapshot"])
            .arg(&snapshot)
            .arg(&checkout);
        run("clone the RustSec snapshot into a scratch db-path", clone)?;
        let age = db_age(&checkout)?;
        // cargo-deny dates an offline database by the later of its HEAD commit and the
        // modification time of `.git/HEAD`, which a fresh clone has just written: back-date
        // the file to the commit so that deny.toml's `maximum-db-staleness` applies.
        let head = checkout.join(".git/HEAD");
        std::fs::File::options()
            .write(true)
            .open(&head)
            .and_then(|file| file.set_modified(age.committed))
            .map_err(|e| format!("{step}: cannot date {}: {e}", head.display()))?;
        write_config_with_db_path(&db.config, &db_path)?;
        eprintln!(
            "==> advisories: RustSec snapshot from ../shared ({}, {} days old)",
            age.date, age.days
        );
        return Ok(db);
    }

    let mut fetch = cargo();
    fetch.args(["deny", "fetch", "db"]);
    run(
        "fetch the RustSec advisory database (no snapshot at ../shared/advisory-db)",
        fetch,
    )
    .map_err(|e| {
        format!(
            "{e}: the advisories cannot be checked — this machine cannot fetch the database \
             and {} is missing",
            snapshot.display()
        )
    })?;
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")))
        .ok_or(format!("{step}: neither CARGO_HOME nor HOME is set"))?;
    let checkout = cargo_home.join("advisory-dbs").join(RUSTSEC_DB_DIR);
    let age = db_age(&checkout)?;
    eprintln!(
        "==> advisories: RustSec database fetched from GitHub into {} ({}, {} days old)",
        checkout.display(),
        age.date,
        age.days
    );
    Ok(AdvisoryDb {
        config: root().join("deny.toml"),
        scratch: None,
    })
}

/// How old an advisory database is: its HEAD commit's date.
struct DbAge {
    /// `YYYY-MM-DD`.
    date: String,
    committed: std::time::SystemTime,
    days: u64,
}

fn db_age(checkout: &Path) -> Result<DbAge, String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(checkout)
        .args(["log", "-1", "--format=%cI %ct"])
        .output()
        .map_err(|e| format!("advisory database: cannot run git: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let parsed = text
        .trim()
        .split_once(' ')
        .and_then(|(iso, unix)| Some((iso.get(..10)?.to_string(), unix.parse::<u64>().ok()?)));
    let Some((date, unix)) = parsed.filter(|_| output.status.success()) else {
        return Err(format!(
            "advisory database: no HEAD commit in {}",
            checkout.display()
        ));
    };
    let committed = std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix);
    let days = std::time::SystemTime::now()
        .duration_since(committed)
        .map_or(0, |age| age.as_secs() / 86_400);
    Ok(DbAge {
        date,
        committed,
        days,
    })
}

/// Writes the repository's deny.toml to `config` with `[advisories] db-path` set to `db_path`
/// (cargo-deny 0.20 takes the database's location from its configuration only).
fn write_config_with_db_path(config: &Path, db_path: &Path) -> Result<(), String> {
    let step = "advisory database";
    let deny = std::fs::read_to_string(root().join("deny.toml"))
        .map_err(|e| format!("{step}: cannot read deny.toml: {e}"))?;
    let db_path = db_path
        .to_str()
        .filter(|p| !p.contains('\''))
        .ok_or(format!(
            "{step}: unusable scratch path {}",
            db_path.display()
        ))?;
    let mut lines: Vec<String> = Vec::new();
    let mut set = false;
    for line in deny.lines() {
        if line.trim_start().starts_with("db-path") {
            return Err(format!(
                "{step}: deny.toml sets db-path; xtask sets it for the snapshot"
            ));
        }
        lines.push(line.to_string());
        if line.trim() == "[advisories]" {
            // A TOML literal string: no escapes in the path.
            lines.push(format!("db-path = '{db_path}'"));
            set = true;
        }
    }
    if !set {
        return Err(format!("{step}: deny.toml has no [advisories] section"));
    }
    std::fs::create_dir_all(config.parent().unwrap_or(Path::new(".")))
        .and_then(|()| std::fs::write(config, lines.join("\n") + "\n"))
        .map_err(|e| format!("{step}: cannot write {}: {e}", config.display()))
}

/// The advisory step's negative test: a scratch crate (in the temporary directory) pinning
/// `smallvec = "=1.6.0"`, which RUSTSEC-2021-0003 (a buffer overflow in `insert_many`)
/// affects, must fail `cargo deny check advisories` with the same database and configuration
/// as [`supply_chain`], naming that advisory.
fn advisories_selftest() -> Result<(), String> {
    const STEP: &str = "advisories self-test";
    ensure_cargo_tool(CARGO_DENY)?;
    let db = advisory_db()?;
    let krate = std::env::temp_dir().join(format!(
        "en-auth-advisories-selftest-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&krate);
    let written = std::fs::create_dir_all(krate.join("src"))
        .and_then(|()| std::fs::write(krate.join("src/lib.rs"), ""))
        .and_then(|()| {
            std::fs::write(
                krate.join("Cargo.toml"),
                "[package]\nname = \"advisories-selftest\"\nversion = \"0.0.0\"\n\
                 edition = \"2021\"\npublish = false\n\n[dependencies]\n\
                 smallvec = \"=1.6.0\"\n\n[workspace]\n",
            )
        });
    let result = written
        .map_err(|e| format!("{STEP}: cannot write the scratch crate: {e}"))
        .and_then(|()| {
            let manifest = krate.join("Cargo.toml");
            let mut lock = cargo();
            lock.arg("generate-lockfile")
                .arg("--manifest-path")
                .arg(&manifest);
            run("lock the scratch crate (smallvec =1.6.0)", lock)?;
            let mut fetch = cargo();
            fetch.arg("fetch").arg("--manifest-path").arg(&manifest);
            run("fetch the scratch crate's smallvec", fetch)?;
            let mut deny = cargo();
            deny.args(["deny", "--offline", "--manifest-path"])
                .arg(&manifest)
                .arg("--config")
                .arg(&db.config)
                .args(["check", "advisories"]);
            eprintln!("==> {STEP}: {deny:?} (must fail)");
            let output = deny
                .output()
                .map_err(|e| format!("{STEP}: cannot run cargo deny: {e}"))?;
            let stderr = String::from_utf8_lossy(&output.stderr);
            let named = stderr.contains("RUSTSEC-2021-0003");
            if !output.status.success() && named {
                eprintln!(
                    "==> {STEP}: passed — cargo deny failed ({}) on smallvec 1.6.0, naming \
                     RUSTSEC-2021-0003",
                    output.status
                );
                Ok(())
            } else {
                eprintln!("{stderr}");
                Err(format!(
                    "{STEP} FAILED: cargo deny {} on smallvec 1.6.0 and {} RUSTSEC-2021-0003",
                    if output.status.success() {
                        "passed"
                    } else {
                        "failed"
                    },
                    if named { "named" } else { "did not name" }
                ))
            }
        });
    let _ = std::fs::remove_dir_all(&krate);
    result
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
    // A few seconds (the scratch crate's lock and smallvec 1.6.0 come from crates.io).
    advisories_selftest()?;

    install_peers()?;

    let mut tests = cargo();
    tests.args(["test", "--workspace", "--all-targets", "--locked"]);
    run(
        "tests (unit, integration with the real peers, benches as tests)",
        tests,
    )?;

    // The workspace turns en-auth-oauth2's `redis` feature on (the fleet tests use it): its
    // absence, the default, is tested in a build of its own.
    let mut without_redis = cargo();
    without_redis.args([
        "test",
        "--package",
        "en-auth-oauth2",
        "--no-default-features",
        "--test",
        "without_redis",
        "--locked",
    ]);
    run("en-auth-oauth2 without its redis feature", without_redis)?;

    let mut doctests = cargo();
    doctests.args(["test", "--workspace", "--doc", "--locked"]);
    run("doc tests", doctests)?;

    fuzz_smoke()?;

    let mut doc = cargo();
    doc.args(["doc", "--workspace", "--no-deps", "--locked"])
        .env("RUSTDOCFLAGS", "-D warnings");
    run("docs", doc)?;

    // Last: the slowest step from a cold target directory (see package::package).
    package::package()?;
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

/// The emulators (`en-auth-examples`' `en-auth-emulators` binary), built with cargo's progress
/// shown, then run quietly: it serves until interrupted.
fn emulators() -> Result<(), String> {
    const EMULATORS: [&str; 4] = [
        "--package",
        "en-auth-examples",
        "--bin",
        "en-auth-emulators",
    ];
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
        ["supply-chain"] => supply_chain(),
        ["advisories-selftest"] => advisories_selftest(),
        ["package"] => package::package(),
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
        _ => Err("usage: cargo xtask <ci | supply-chain | advisories-selftest | package | demo | emulators | peers install | bench [criterion args]>".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}
