//! A dependency line of a snippet (`en-auth-oauth2 = { path = "…", features = […] }`,
//! `reqwest = "0.13"`) checked against the workspace.

use semver::{Version, VersionReq};
use toml::{Table, Value};

use crate::workspace::{lowest, manifest, root, table};

/// What the workspace says about dependencies.
pub struct Workspace {
    /// `[workspace.dependencies]`.
    pub dependencies: Table,
    /// `workspace.package.repository`: the only URL a `git` form may name.
    pub repository: String,
    /// `workspace.package.version`: the version of every en-auth crate.
    pub version: Version,
}

impl Workspace {
    /// Reads the workspace's `Cargo.toml`.
    pub fn read() -> Workspace {
        let root_manifest = manifest("Cargo.toml");
        let workspace = table(&root_manifest, "workspace");
        let package = table(workspace, "package");
        let field = |name: &str| {
            package
                .get(name)
                .and_then(Value::as_str)
                .unwrap_or_else(|| panic!("workspace.package.{name} is missing"))
                .to_owned()
        };
        Workspace {
            dependencies: table(workspace, "dependencies").clone(),
            repository: field("repository"),
            version: Version::parse(&field("version")).expect("workspace.package.version"),
        }
    }

    /// The problems of the line `name = spec`; none when the workspace agrees with it.
    pub fn check(&self, name: &str, spec: &Value) -> Vec<String> {
        let (version, details) = match spec {
            Value::String(version) => (Some(version.as_str()), Table::new()),
            Value::Table(details) => (
                details.get("version").and_then(Value::as_str),
                details.clone(),
            ),
            other => {
                return vec![format!(
                    "`{name} = {other:?}` is neither a version nor a table"
                )]
            }
        };
        let requirement = match version.map(VersionReq::parse).transpose() {
            Ok(requirement) => requirement,
            Err(e) => return vec![format!("`{name}`: {version:?} is not a requirement: {e}")],
        };
        if name.starts_with("en-auth-") {
            self.check_ours(name, requirement.as_ref(), &details)
        } else {
            self.check_theirs(name, requirement.as_ref())
        }
    }

    /// A crate of this workspace: published, at the right path or repository, in a version
    /// it has, with features it has.
    fn check_ours(
        &self,
        name: &str,
        requirement: Option<&VersionReq>,
        details: &Table,
    ) -> Vec<String> {
        let relative = format!("crates/{name}/Cargo.toml");
        if !root().join(&relative).exists() {
            return vec![format!("`{name}` is not a crate of this workspace")];
        }
        let krate = manifest(&relative);
        let mut problems = Vec::new();
        if table(&krate, "package")
            .get("publish")
            .and_then(Value::as_bool)
            == Some(false)
        {
            problems.push(format!("`{name}` is not published (publish = false)"));
        }
        if let Some(path) = details.get("path").and_then(Value::as_str) {
            if !path.ends_with(&format!("crates/{name}")) {
                problems.push(format!("`{name}`'s path {path:?} is not …/crates/{name}"));
            }
        }
        if let Some(git) = details.get("git").and_then(Value::as_str) {
            if git != self.repository {
                problems.push(format!(
                    "`{name}`'s git {git:?} is not the repository {:?}",
                    self.repository
                ));
            }
        }
        if let Some(requirement) = requirement {
            if !requirement.matches(&self.version) {
                problems.push(format!(
                    "`{name} = \"{requirement}\"` does not admit the crate's version {}",
                    self.version
                ));
            }
        }
        let features = table(&krate, "features");
        let asked = details.get("features").and_then(Value::as_array);
        for feature in asked.into_iter().flatten() {
            let feature = feature.as_str().unwrap_or_default();
            if !features.contains_key(feature) {
                problems.push(format!("`{name}` has no feature `{feature}`"));
            }
        }
        problems
    }

    /// A crate from crates.io: one the workspace depends on, in a version the workspace's
    /// requirement admits (so that a reader's build has the versions the workspace is tested
    /// with).
    fn check_theirs(&self, name: &str, requirement: Option<&VersionReq>) -> Vec<String> {
        let Some(ours) = self.dependencies.get(name) else {
            return vec![format!(
                "`{name}` is not a dependency of this workspace: its version cannot be checked"
            )];
        };
        let ours = match ours {
            Value::String(version) => version.as_str(),
            other => other.get("version").and_then(Value::as_str).unwrap_or("0"),
        };
        match requirement {
            None => vec![format!("`{name}` has no version")],
            Some(requirement) if !requirement.matches(&lowest(ours)) => vec![format!(
                "`{name} = \"{requirement}\"` does not admit {}, the workspace's `{name} = \"{ours}\"`",
                lowest(ours)
            )],
            Some(_) => Vec::new(),
        }
    }
}

#[test]
fn a_wrong_line_is_reported() {
    let workspace = Workspace::read();
    let line = |text: &str| -> Vec<String> {
        let table: Table = text.parse().expect("TOML");
        let (name, spec) = table.iter().next().expect("one line");
        workspace.check(name, spec)
    };
    assert!(line(r#"reqwest = "0.13""#).is_empty());
    assert_eq!(line(r#"reqwest = "0.12""#).len(), 1);
    assert_eq!(line(r#"left-pad = "1""#).len(), 1);
    assert!(line(r#"en-auth-oauth2 = { path = "../en-auth/crates/en-auth-oauth2" }"#).is_empty());
    assert_eq!(
        line(r#"en-auth-oauth2 = { path = "../en-auth/crates/en-auth-srp" }"#).len(),
        1
    );
    assert_eq!(
        line(r#"en-auth-oauth2 = { git = "https://github.com/x/y" }"#).len(),
        1
    );
    assert_eq!(line(r#"en-auth-oauth2 = { version = "0.2" }"#).len(), 1);
    assert_eq!(
        line(r#"en-auth-oauth2 = { version = "0.1", features = ["nope"] }"#).len(),
        1
    );
    assert_eq!(
        line(r#"en-auth-fleet = { path = "../en-auth/crates/en-auth-fleet" }"#).len(),
        1
    );
}
