//! The README and the guides in `docs/` checked against the workspace, without timing
//! anything: every guide is a doc test of this crate (`readme.rs`), every relative link and
//! anchor resolves, the `[profile.dev.package.…]` lines users are told to copy are the
//! workspace's own, the dependency lines name this workspace's crates, features, repository
//! and versions, and the environments files shown load.

mod dependencies;
mod markdown;
mod workspace;

use std::path::PathBuf;

use en_auth_oauth2::Environment;
use toml::Table;

use dependencies::Workspace;
use markdown::Document;
use workspace::{dev_package_profiles, documents, guides, manifest, root};

#[test]
fn every_guide_is_a_doc_test() {
    let readme_rs = std::fs::read_to_string(root().join("examples/readme.rs")).expect("readme.rs");
    let guides = guides().into_iter().map(|guide| {
        let name = guide.file_name().expect("a file name").to_string_lossy();
        format!("../docs/{name}")
    });
    for file in std::iter::once("../README.md".to_owned()).chain(guides) {
        let line = format!("#[doc = include_str!(\"{file}\")]");
        assert!(
            readme_rs.contains(&line),
            "examples/readme.rs does not include {file} as doc tests: add\n\
             #[cfg(doctest)]\n{line}\npub struct …Doctests;"
        );
    }
}

/// What is wrong with `link` in `document`, if anything: a file that does not exist, or an
/// anchor that no heading of the Markdown file it names has.
fn broken(document: &Document, link: &str, documents: &[Document]) -> Option<String> {
    if link.contains("://") || link.starts_with("mailto:") {
        return None;
    }
    let (file, anchor) = match link.split_once('#') {
        Some((file, anchor)) => (file, Some(anchor)),
        None => (link, None),
    };
    let target: PathBuf = match file {
        "" => document.path.clone(),
        file => document.path.parent()?.join(file),
    };
    let Ok(target) = target.canonicalize() else {
        return Some(format!("{link}: no such file"));
    };
    let anchor = anchor?;
    let known = documents
        .iter()
        .find(|d| d.path.canonicalize().ok().as_ref() == Some(&target));
    let anchors = match known {
        Some(d) => d.anchors.clone(),
        None if target.extension().is_some_and(|e| e == "md") => Document::read(&target).anchors,
        None => return None, // an anchor into a source file (a line): not checked
    };
    (!anchors.contains(anchor)).then(|| {
        let known: Vec<&str> = anchors.iter().map(String::as_str).collect();
        format!(
            "{link}: no heading with anchor #{anchor} in {} (it has: {})",
            target.display(),
            known.join(", ")
        )
    })
}

#[test]
fn relative_links_resolve() {
    let documents = documents();
    let broken: Vec<String> = documents
        .iter()
        .flat_map(|document| {
            let all = &documents;
            document.links.iter().filter_map(move |link| {
                broken(document, link, all).map(|p| format!("{}: {p}", document.path.display()))
            })
        })
        .collect();
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn a_broken_link_is_reported() {
    let documents = documents();
    let readme = &documents[0];
    assert!(broken(readme, "docs/fleet.md#running-a-fleet", &documents).is_none());
    assert!(broken(readme, "#crates", &documents).is_none());
    assert!(broken(readme, "docs/fleet.md#running-a-fleeet", &documents).is_some());
    assert!(broken(readme, "docs/no-such-guide.md", &documents).is_some());
    assert!(broken(readme, "#no-such-section", &documents).is_some());
}

#[test]
fn the_srp_profile_lines_are_the_workspaces() {
    let workspace = dev_package_profiles(&manifest("Cargo.toml"));
    assert!(
        !workspace.is_empty(),
        "the workspace's Cargo.toml has no [profile.dev.package.<name>] tables"
    );
    let readme = Document::read(&root().join("README.md"));
    assert!(
        readme
            .blocks("toml")
            .any(|b| b.contains("[profile.dev.package.")),
        "the README shows no [profile.dev.package.…] lines for the SRP quick start"
    );
    for document in documents() {
        let snippets = document
            .blocks("toml")
            .filter(|b| b.contains("[profile.dev.package."));
        for block in snippets {
            let snippet: Table = block.parse().unwrap_or_else(|e| {
                panic!(
                    "{}: a profile snippet that is not TOML: {e}",
                    document.path.display()
                )
            });
            let told = dev_package_profiles(&snippet);
            for (name, settings) in &told {
                assert_eq!(
                    workspace.get(name),
                    Some(settings),
                    "{} tells users to set [profile.dev.package.{name}] to {settings:?}, which \
                     the workspace's Cargo.toml does not do",
                    document.path.display()
                );
            }
            for (name, settings) in &workspace {
                assert_eq!(
                    told.get(name),
                    Some(settings),
                    "the workspace's Cargo.toml sets [profile.dev.package.{name}] to \
                     {settings:?}, which {} does not tell users to do",
                    document.path.display()
                );
            }
        }
    }
}

#[test]
fn dependency_lines_name_this_workspaces_crates_features_and_versions() {
    let workspace = Workspace::read();
    let mut problems = Vec::new();
    let mut lines = 0;
    for document in documents() {
        let at = |problem: String| format!("{}: {problem}", document.path.display());
        for block in document
            .blocks("toml")
            .filter(|b| b.contains("dependencies]"))
        {
            let snippet: Table = block.parse().unwrap_or_else(|e| {
                panic!(
                    "{}: a dependency snippet that is not TOML: {e}",
                    document.path.display()
                )
            });
            for section in ["dependencies", "dev-dependencies"] {
                for (name, spec) in workspace::table(&snippet, section) {
                    lines += 1;
                    problems.extend(workspace.check(name, spec).into_iter().map(at));
                }
            }
        }
        // The git form, in a snippet, a comment or prose: always the workspace's repository.
        for (start, _) in document.text.match_indices("git = \"") {
            let rest = &document.text[start + "git = \"".len()..];
            let url = rest.split('"').next().unwrap_or_default();
            if url != workspace.repository {
                problems.push(at(format!(
                    "git = {url:?} is not the repository {:?}",
                    workspace.repository
                )));
            }
        }
    }
    assert!(lines > 0, "no dependency lines found in the documents");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_environments_files_shown_load() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("environments.toml");
    let mut loaded = 0;
    for document in documents() {
        for block in document.blocks("toml") {
            let first = block
                .lines()
                .map(str::trim)
                .find(|line| !line.is_empty() && !line.starts_with('#'));
            if !first.is_some_and(|line| line == "[dev]" || line.starts_with("[dev.")) {
                continue;
            }
            std::fs::write(&path, block).expect("written");
            if let Err(e) = Environment::from_file(&path, "dev") {
                panic!(
                    "{}: an environments file that does not load: {e}\n{block}",
                    document.path.display()
                );
            }
            loaded += 1;
        }
    }
    assert!(
        loaded >= 3,
        "only {loaded} environments files found in the documents"
    );
}
