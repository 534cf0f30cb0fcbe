//! `cargo xtask package`: the published crates packaged as `cargo publish` would upload them,
//! and each one built from its `.crate` file.

use serde_json::Value;

use crate::{cargo, run};

/// The workspace members that can be published: those whose manifest does not say
/// `publish = false`, as `cargo metadata` reports them. The manifests are the one list: a new
/// crate is packaged unless it says `publish = false`.
fn published_crates() -> Result<Vec<(String, String)>, String> {
    let mut metadata = cargo();
    metadata.args(["metadata", "--no-deps", "--format-version", "1", "--locked"]);
    let output = metadata
        .output()
        .map_err(|e| format!("{STEP}: cannot run {metadata:?}: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "{STEP}: {metadata:?} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let metadata: Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("{STEP}: cargo metadata's output is not JSON: {e}"))?;
    published(&metadata)
}

const STEP: &str = "list the published crates";

/// The names and versions, sorted by name, of the packages in `cargo metadata` output that can
/// be published: its `publish` field is `null` for any registry, `[]` for `publish = false`,
/// else the registries.
fn published(metadata: &Value) -> Result<Vec<(String, String)>, String> {
    let packages = metadata["packages"]
        .as_array()
        .ok_or(format!("{STEP}: cargo metadata lists no packages"))?;
    let mut published = Vec::new();
    for package in packages {
        let name = package["name"].as_str().ok_or(format!(
            "{STEP}: a package without a name in cargo metadata"
        ))?;
        let unpublished = package["publish"]
            .as_array()
            .is_some_and(|registries| registries.is_empty());
        if !unpublished {
            let version = package["version"].as_str().ok_or(format!(
                "{STEP}: the package {name} has no version in cargo metadata"
            ))?;
            published.push((name.to_owned(), version.to_owned()));
        }
    }
    if published.is_empty() {
        return Err(format!("{STEP}: every crate says `publish = false`"));
    }
    published.sort();
    Ok(published)
}

/// `cargo package` for the published crates together (cargo ≥ 1.90 resolves their path
/// dependencies on each other through a local registry of the `.crate` files just made), with
/// the full verification: each `.crate` is unpacked and built on its own, as crates.io users
/// will build it, so a file left out of a package or a dependency without a version fails
/// here. Dev-dependencies on unpublished crates carry no version and are left out of the
/// packages by cargo; tests and examples are not built by the verification.
///
/// `--allow-dirty`: the other steps of `ci` check the working tree as it is, and so does this
/// one (uncommitted changes packaged). `cargo publish` itself still refuses a dirty tree.
///
/// Needs crates.io's index (each package's dependencies are resolved afresh). From a cold
/// target directory it builds every published crate's dependencies once more, without the
/// workspace's feature unification: about 12 minutes on two busy cores, a minute or two warm.
pub fn package() -> Result<(), String> {
    let crates = published_crates()?;
    let names: Vec<&str> = crates.iter().map(|(name, _)| name.as_str()).collect();
    eprintln!("==> published crates: {}", names.join(", "));
    if let Some(sources) = registry_sources() {
        remove_stale_unpacked_copies(&sources, &crates)?;
    }
    let mut package = cargo();
    package.args(["package", "--locked", "--allow-dirty"]);
    for name in names {
        package.args(["--package", name]);
    }
    run(
        "package the published crates (each built from its .crate)",
        package,
    )
}

/// Cargo's verification builds a package that depends on another of ours from the local
/// registry of fresh `.crate` files, unpacked under `$CARGO_HOME/registry/src/<registry>/
/// <name>-<version>`; it unpacks a version only when that directory is not there yet. Since our
/// versions stay `0.1.0` between commits, a `CARGO_HOME` kept from an earlier run (a CI machine's,
/// a developer's) holds an old commit's source there, and the verification built
/// en-auth-redis against an en-auth-core from before the RustCrypto 0.11 upgrade (CI failed on
/// it). Each published crate's unpacked copy is removed first, so the build sees this commit's.
fn remove_stale_unpacked_copies(
    sources: &std::path::Path,
    crates: &[(String, String)],
) -> Result<(), String> {
    let Ok(registries) = std::fs::read_dir(sources) else {
        return Ok(()); // no registry unpacked yet: nothing stale
    };
    for registry in registries.flatten() {
        for (name, version) in crates {
            let unpacked = registry.path().join(format!("{name}-{version}"));
            if unpacked.is_dir() {
                eprintln!(
                    "==> removing an earlier unpacked copy: {}",
                    unpacked.display()
                );
                std::fs::remove_dir_all(&unpacked)
                    .map_err(|e| format!("cannot remove {}: {e}", unpacked.display()))?;
            }
        }
    }
    Ok(())
}

/// `$CARGO_HOME/registry/src` (`CARGO_HOME` defaults to `~/.cargo`).
fn registry_sources() -> Option<std::path::PathBuf> {
    let cargo_home = match std::env::var_os("CARGO_HOME") {
        Some(home) => std::path::PathBuf::from(home),
        None => std::path::PathBuf::from(std::env::var_os("HOME")?).join(".cargo"),
    };
    Some(cargo_home.join("registry").join("src"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{published, published_crates, remove_stale_unpacked_copies};

    /// The CI failure this guards against: an unpacked `en-auth-core-0.1.0` from an earlier run
    /// was built instead of this commit's. Ours go, any other crate's stay.
    #[test]
    fn earlier_unpacked_copies_of_our_crates_are_removed_and_others_kept() {
        let sources = std::env::temp_dir().join(format!("xtask-sources-{}", std::process::id()));
        let ours = sources.join("-22c3805da5a543b4").join("en-auth-core-0.1.0");
        let theirs = sources
            .join("index.crates.io-1949cf8c6b5b557f")
            .join("hmac-0.13.0");
        let other_version = sources.join("-22c3805da5a543b4").join("en-auth-core-0.0.9");
        for dir in [&ours, &theirs, &other_version] {
            std::fs::create_dir_all(dir.join("src")).unwrap();
            std::fs::write(dir.join("src").join("lib.rs"), "// old").unwrap();
        }
        let crates = [("en-auth-core".to_owned(), "0.1.0".to_owned())];
        remove_stale_unpacked_copies(&sources, &crates).unwrap();
        let (ours_left, theirs_left, other_left) =
            (ours.exists(), theirs.exists(), other_version.exists());
        std::fs::remove_dir_all(&sources).unwrap();
        assert!(!ours_left, "our crate's earlier copy must go");
        assert!(theirs_left && other_left, "nothing else is touched");
        // No registry unpacked at all is no error.
        remove_stale_unpacked_copies(&sources, &crates).unwrap();
    }

    #[test]
    fn publish_false_is_left_out_and_registries_kept() {
        let metadata = json!({"packages": [
            {"name": "b-lib", "version": "0.2.0", "publish": null},
            {"name": "internal", "version": "1.0.0", "publish": []},
            {"name": "a-lib", "version": "0.1.0", "publish": ["crates-io"]},
        ]});
        assert_eq!(
            published(&metadata).unwrap(),
            [
                ("a-lib".to_owned(), "0.1.0".to_owned()),
                ("b-lib".to_owned(), "0.2.0".to_owned())
            ]
        );
    }

    #[test]
    fn nothing_to_publish_is_an_error() {
        let metadata = json!({"packages": [{"name": "internal", "publish": []}]});
        assert!(published(&metadata).is_err());
        assert!(published(&json!({"version": 1})).is_err());
    }

    /// The decision of issue 16: the libraries, the command line and the testkit are
    /// published; en-auth's own test support, examples and automation are not. Changing a
    /// crate's `publish` changes this list on purpose.
    #[test]
    fn the_workspace_publishes_the_user_facing_crates() {
        let names: Vec<String> = published_crates()
            .unwrap()
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        assert_eq!(
            names,
            [
                "en-auth-cli",
                "en-auth-core",
                "en-auth-oauth2",
                "en-auth-redis",
                "en-auth-srp",
                "en-auth-testkit",
                "en-auth-tower",
            ]
        );
    }
}
