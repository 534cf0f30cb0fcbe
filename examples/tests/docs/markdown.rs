//! What the document tests read from a Markdown file, parsed by `pulldown-cmark`: its fenced
//! code blocks, its link targets, and the anchors GitHub gives its headings.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use pulldown_cmark::{CodeBlockKind, Event, Parser, Tag, TagEnd};

/// A Markdown file of the workspace.
pub struct Document {
    /// Where it is.
    pub path: PathBuf,
    /// Its text.
    pub text: String,
    /// Its fenced code blocks: the info string (`toml`, `rust,no_run`) and the code.
    pub code_blocks: Vec<(String, String)>,
    /// The targets of its links and images, as written.
    pub links: Vec<String>,
    /// The anchors of its headings (`#quick-start-a-service-account`), without the `#`.
    pub anchors: BTreeSet<String>,
}

impl Document {
    /// Reads and parses the file at `path`.
    pub fn read(path: &Path) -> Document {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let mut code_blocks = Vec::new();
        let mut links = Vec::new();
        let mut anchors = BTreeSet::new();
        // The code block or heading being read, if any.
        let mut block: Option<(String, String)> = None;
        let mut heading: Option<String> = None;
        for event in Parser::new(&text) {
            match event {
                Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
                    block = Some((info.to_string(), String::new()));
                }
                Event::End(TagEnd::CodeBlock) => code_blocks.extend(block.take()),
                Event::Start(Tag::Heading { .. }) => heading = Some(String::new()),
                Event::End(TagEnd::Heading(_)) => {
                    if let Some(heading) = heading.take() {
                        let base = anchor(&heading);
                        // GitHub numbers repeated headings: `x`, `x-1`, `x-2`, …
                        let unique = (0..)
                            .map(|n| match n {
                                0 => base.clone(),
                                n => format!("{base}-{n}"),
                            })
                            .find(|candidate| !anchors.contains(candidate))
                            .expect("an unused anchor");
                        anchors.insert(unique);
                    }
                }
                Event::Start(Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. }) => {
                    links.push(dest_url.to_string());
                }
                Event::Text(t) | Event::Code(t) => {
                    if let Some((_, code)) = block.as_mut() {
                        code.push_str(&t);
                    } else if let Some(heading) = heading.as_mut() {
                        heading.push_str(&t);
                    }
                }
                _ => {}
            }
        }
        Document {
            path: path.to_owned(),
            text,
            code_blocks,
            links,
            anchors,
        }
    }

    /// The code of its fenced blocks in `language` (the first word of the info string).
    pub fn blocks<'a>(&'a self, language: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.code_blocks
            .iter()
            .filter(move |(info, _)| info.split([',', ' ']).next() == Some(language))
            .map(|(_, code)| code.as_str())
    }
}

/// The anchor GitHub gives a heading: its text in lower case, with letters, digits, `-` and `_`
/// kept, each space turned into `-`, and everything else dropped.
pub fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

#[test]
fn anchors_are_githubs() {
    assert_eq!(
        anchor("tower, hyper and tonic (gRPC): en-auth-tower"),
        "tower-hyper-and-tonic-grpc-en-auth-tower"
    );
    assert_eq!(
        anchor("Quick start: a user, over Cognito SRP"),
        "quick-start-a-user-over-cognito-srp"
    );
    assert_eq!(anchor("Which reqwest"), "which-reqwest");
}

#[test]
fn a_document_yields_its_blocks_links_and_anchors() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("doc.md");
    let text = "# Title\n\nSee [the other](other.md#a-b) and [here](#title-1).\n\n\
                ## Title\n\n```toml,ignore\n[a]\nb = 1\n```\n\n```rust\nfn f() {}\n```\n";
    std::fs::write(&path, text).expect("written");
    let document = Document::read(&path);
    assert_eq!(document.links, ["other.md#a-b", "#title-1"]);
    assert_eq!(
        document.anchors,
        BTreeSet::from(["title".to_owned(), "title-1".to_owned()])
    );
    assert_eq!(
        document.blocks("toml").collect::<Vec<_>>(),
        ["[a]\nb = 1\n"]
    );
    assert_eq!(document.blocks("rust").count(), 1);
}
