//! The parse result of a markpact README (spec §14) and its parts.
use crate::diagnostic::Diagnostic;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The runtime ecosystem of one service (spec §8). Called `Runtime` to keep "ecosystem" for
/// the YAML file of services.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Runtime {
    /// Python 3 with a virtualenv.
    Python,
    /// Node.js with npm.
    Node,
    /// Go, standard library only.
    Go,
    /// Rust, standard library only.
    Rust,
    /// PHP CLI.
    Php,
    /// Static files.
    Static,
}

impl Runtime {
    /// All runtimes, in a fixed order.
    pub const ALL: [Runtime; 6] = [
        Runtime::Python,
        Runtime::Node,
        Runtime::Go,
        Runtime::Rust,
        Runtime::Php,
        Runtime::Static,
    ];

    /// Lowercase name as used in JSON, tags and file names.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Runtime::Python => "python",
            Runtime::Node => "node",
            Runtime::Go => "go",
            Runtime::Rust => "rust",
            Runtime::Php => "php",
            Runtime::Static => "static",
        }
    }
}

impl std::fmt::Display for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `markpact:file` block: a file of the build context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceFile {
    /// Normalized relative path, `/`-separated (spec §7).
    pub path: String,
    /// Line of the opening fence.
    pub line: usize,
    /// The info string's language, if any (current form only).
    pub lang: Option<String>,
    /// The bytes as written: body plus a final `\n`, or empty for an empty body (spec §5).
    pub contents: String,
}

impl SourceFile {
    /// Hex sha256 of [`SourceFile::contents`].
    #[must_use]
    pub fn sha256(&self) -> String {
        hex::encode(Sha256::digest(self.contents.as_bytes()))
    }
}

/// One entry of a `markpact:deps` block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dependency {
    /// The requirement as written (comment and surrounding space removed).
    pub spec: String,
    /// Its own line in the README.
    pub line: usize,
}

/// A shell script block (`run`, `build`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Script {
    /// The exact body, lines joined with `\n`, no trailing newline.
    pub body: String,
    /// Line of the opening fence.
    pub line: usize,
    /// The info string's language or scope word, informational only.
    pub lang: Option<String>,
}

/// How a `markpact:test` block is run (spec §6.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TestMode {
    /// `METHOD /path [BODY json] [EXPECT code]` probes.
    Http,
    /// Shell commands run inside the container.
    Shell,
}

/// One line of a `markpact:test` block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestLine {
    /// Its own line in the README.
    pub line: usize,
    /// The text, trimmed (an HTTP method is reported uppercase).
    pub text: String,
}

/// A `markpact:test` block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestBlock {
    /// HTTP or shell.
    pub mode: TestMode,
    /// Line of the opening fence.
    pub line: usize,
    /// Non-blank, non-comment lines, trimmed, each with its README line.
    pub lines: Vec<TestLine>,
}

impl TestBlock {
    /// The texts of [`TestBlock::lines`].
    pub fn texts(&self) -> impl Iterator<Item = &str> {
        self.lines.iter().map(|l| l.text.as_str())
    }
}

/// Any other known block kept verbatim (`target`, `publish`, `config`, `health`, `healthcheck`,
/// `bootstrap`, `ignore`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RawBlock {
    /// The kind after `markpact:`.
    pub kind: String,
    /// Language of the info string.
    pub lang: Option<String>,
    /// Scope word (first meta word).
    pub scope: Option<String>,
    /// `key=value` attributes.
    pub attrs: BTreeMap<String, String>,
    /// The body.
    pub body: String,
    /// Line of the opening fence.
    pub line: usize,
}

/// A parsed markpact README.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Markpact {
    /// The README as the user named it (used in diagnostics).
    pub path: PathBuf,
    /// Detected runtime (spec §8).
    pub runtime: Runtime,
    /// File blocks in document order.
    pub files: Vec<SourceFile>,
    /// Merged dependency entries in document order (what the service image installs).
    pub deps: Vec<Dependency>,
    /// Entries of `scope=dev` deps blocks (spec §6.2): validated and reported, never installed
    /// in the service image.
    pub dev_deps: Vec<Dependency>,
    /// The run script, if any.
    pub run: Option<Script>,
    /// The build script, if any.
    pub build: Option<Script>,
    /// Test blocks in order.
    pub tests: Vec<TestBlock>,
    /// Other known blocks, verbatim.
    pub blocks: Vec<RawBlock>,
    /// Warnings found while parsing.
    pub warnings: Vec<Diagnostic>,
}

impl Markpact {
    /// The file block at a normalized path.
    #[must_use]
    pub fn file(&self, path: &str) -> Option<&SourceFile> {
        self.files.iter().find(|f| f.path == path)
    }

    /// The first raw block of a kind (`target`, `publish`, …).
    #[must_use]
    pub fn block(&self, kind: &str) -> Option<&RawBlock> {
        self.blocks.iter().find(|b| b.kind == kind)
    }
}
