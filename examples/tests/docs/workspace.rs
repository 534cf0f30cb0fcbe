//! What the document tests read from the workspace: its files and its manifests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use semver::Version;
use toml::{Table, Value};

use crate::markdown::Document;

/// The workspace's root directory.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("examples/ is inside the workspace")
        .to_owned()
}

/// The guides: `docs/*.md`, sorted.
pub fn guides() -> Vec<PathBuf> {
    let mut guides: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/ is readable")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "md"))
        .collect();
    guides.sort();
    assert!(!guides.is_empty(), "docs/ has no guides");
    guides
}

/// Every document the tests read: the README, TESTING.md, BENCHMARKS.md and the guides.
pub fn documents() -> Vec<Document> {
    ["README.md", "TESTING.md", "BENCHMARKS.md"]
        .map(|name| root().join(name))
        .into_iter()
        .chain(guides())
        .map(|path| Document::read(&path))
        .collect()
}

/// A TOML file of the workspace (`Cargo.toml`, `crates/en-auth-srp/Cargo.toml`), parsed.
pub fn manifest(relative: &str) -> Table {
    let path = root().join(relative);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.parse()
        .unwrap_or_else(|e| panic!("{} is not TOML: {e}", path.display()))
}

/// `toml[key]` as a table; an empty one when absent.
pub fn table<'a>(toml: &'a Table, key: &str) -> &'a Table {
    static EMPTY: LazyLock<Table> = LazyLock::new(Table::new);
    toml.get(key).and_then(Value::as_table).unwrap_or(&EMPTY)
}

/// The `[profile.dev.package.<name>]` tables of a manifest or a snippet, but `"*"`.
pub fn dev_package_profiles(toml: &Table) -> BTreeMap<String, Value> {
    table(table(table(toml, "profile"), "dev"), "package")
        .iter()
        .filter(|(name, _)| name.as_str() != "*")
        .map(|(name, settings)| (name.clone(), settings.clone()))
        .collect()
}

/// The lowest version a requirement of the workspace (`"0.13.5"`, `"1"`) admits.
pub fn lowest(requirement: &str) -> Version {
    let mut parts: Vec<&str> = requirement
        .trim_start_matches(['^', '='])
        .split('.')
        .collect();
    parts.resize(3, "0");
    Version::parse(&parts.join("."))
        .unwrap_or_else(|e| panic!("the workspace requirement {requirement:?} is not x.y.z: {e}"))
}

#[test]
fn lowest_pads_a_requirement() {
    assert_eq!(lowest("1"), Version::new(1, 0, 0));
    assert_eq!(lowest("0.13.5"), Version::new(0, 13, 5));
    assert_eq!(lowest("^0.5"), Version::new(0, 5, 0));
}
