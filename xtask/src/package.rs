//! `cargo xtask package`: the published crates packaged as `cargo publish` would upload them,
//! and each one built from its `.crate` file.

use serde_json::Value;

use crate::{cargo, run};

/// The workspace members that can be published: those whose manifest does not say
/// `publish = false`, as `cargo metadata` reports them. The manifests are the one list: a new
/// crate is packaged unless it says `publish = false`.
fn published_crates() -> Result<Vec<String>, String> {
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

/// The names, sorted, of the packages in `cargo metadata` output that can be published: its
/// `publish` field is `null` for any registry, `[]` for `publish = false`, else the registries.
fn published(metadata: &Value) -> Result<Vec<String>, String> {
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
            published.push(name.to_owned());
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
    eprintln!("==> published crates: {}", crates.join(", "));
    let mut package = cargo();
    package.args(["package", "--locked", "--allow-dirty"]);
    for name in &crates {
        package.args(["--package", name]);
    }
    run(
        "package the published crates (each built from its .crate)",
        package,
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{published, published_crates};

    #[test]
    fn publish_false_is_left_out_and_registries_kept() {
        let metadata = json!({"packages": [
            {"name": "b-lib", "publish": null},
            {"name": "internal", "publish": []},
            {"name": "a-lib", "publish": ["crates-io"]},
        ]});
        assert_eq!(published(&metadata).unwrap(), ["a-lib", "b-lib"]);
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
        assert_eq!(
            published_crates().unwrap(),
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
