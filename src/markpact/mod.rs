//! The markpact format (see `markpact-spec.md`): fenced blocks tagged `markpact:KIND` in a
//! README, parsed into a [`Markpact`] with line-accurate [`Diagnostic`]s. Parsing is pure: it
//! never writes anything.
//!
//! The pipeline: [`text`] decodes and normalizes the bytes (§2), [`fence`] finds fenced blocks
//! with pulldown-cmark (§3), [`info`] reads info strings (§4), this module interprets each kind
//! (§5, §6), [`path`] validates paths (§7), [`detect`] picks the runtime (§8) and [`deps`]
//! checks dependency entries (§9).
mod deps;
mod detect;
mod expand;
mod fence;
mod info;
mod json;
mod model;
mod path;
mod probe;
pub mod run_steps;
mod text;
mod validate;

pub use deps::{node_package_json, sanitize_service_name, split_node_spec};
pub use expand::{expand_static, guess_port};
pub use model::{
    Dependency, Markpact, RawBlock, Runtime, Script, SourceFile, TestBlock, TestLine, TestMode,
};
pub use path::{validate as validate_path, PathError};
pub use probe::{parse_http_line, HttpProbe, ProbeLineError, METHODS};

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use deps::Scope;
use info::{Info, InfoError, Tagged};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

/// Size limits of §2.4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest document in bytes (default 2 MiB).
    pub max_bytes: usize,
    /// Most `file` blocks (default 500).
    pub max_files: usize,
    /// Longest `path=` value in bytes (default 255).
    pub max_path: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 2 * 1024 * 1024,
            max_files: 500,
            max_path: 255,
        }
    }
}

/// A tagged block of a known kind as read from the document, before interpretation (for tools
/// that want to show the raw structure, see [`blocks`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The kind after `markpact:`.
    pub kind: String,
    /// The language (current form only).
    pub lang: Option<String>,
    /// The first meta word (legacy language, or scope/mode).
    pub scope: Option<String>,
    /// `key=value` attributes in order, quotes removed.
    pub attrs: Vec<(String, String)>,
    /// Line of the opening fence.
    pub line: usize,
    /// The body (§5), lines joined with `\n`.
    pub body: String,
}

/// Parses README bytes with the default [`Limits`]. `path` is only used for diagnostics.
///
/// # Errors
/// All errors of the document, sorted by line (warnings found so far are included).
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Markpact, Diagnostics> {
    parse_with(path, bytes, &Limits::default())
}

/// Parses README bytes with explicit size limits.
///
/// # Errors
/// As [`parse`].
pub fn parse_with(path: &Path, bytes: &[u8], limits: &Limits) -> Result<Markpact, Diagnostics> {
    let mut ctx = Ctx {
        path,
        diags: Vec::new(),
    };
    let text = match decode(&mut ctx, bytes, limits) {
        Some(text) => text,
        None => return Err(Diagnostics(ctx.diags)),
    };
    let index = text::LineIndex::new(&text);
    let tagged = read_blocks(&mut ctx, &text, &index);
    let doc = interpret(&mut ctx, tagged, limits);
    let mut diags = Diagnostics(ctx.diags);
    diags.sort();
    match doc {
        Some(mut doc) if !diags.has_errors() => {
            doc.warnings = diags.0;
            Ok(doc)
        }
        _ => Err(diags),
    }
}

/// The tagged blocks of known kinds of a README, with the diagnostics of fence and info-string
/// reading (no interpretation of bodies, paths or the runtime).
#[must_use]
pub fn blocks(path: &Path, bytes: &[u8]) -> (Vec<Block>, Diagnostics) {
    let mut ctx = Ctx {
        path,
        diags: Vec::new(),
    };
    let Some(text) = decode(&mut ctx, bytes, &Limits::default()) else {
        return (Vec::new(), Diagnostics(ctx.diags));
    };
    let index = text::LineIndex::new(&text);
    let found = read_blocks(&mut ctx, &text, &index);
    let blocks = found
        .blocks
        .into_iter()
        .map(|b| Block {
            scope: b.info.scope().map(str::to_string),
            kind: b.info.kind,
            lang: b.info.lang,
            attrs: b.info.attrs,
            line: b.line,
            body: join(&b.body),
        })
        .collect();
    let mut diags = Diagnostics(ctx.diags);
    diags.sort();
    (blocks, diags)
}

/// Reads and parses a README file.
///
/// # Errors
/// An `Io` diagnostic when the file cannot be read, else as [`parse`].
pub fn parse_file(path: &Path) -> Result<Markpact, Diagnostics> {
    match crate::input::read_capped(path, Limits::default().max_bytes as u64) {
        Ok(bytes) => parse(path, &bytes),
        Err(err) => Err(Diagnostics::single(
            Diagnostic::error(Code::Io, path, 0, format!("cannot read README: {err}"))
                .with_hint("check the `readme:` path in the ecosystem file"),
        )),
    }
}

/// Validation for starting a service (spec §6, §9): `MissingRun`, `UnsupportedDependencies`,
/// `UnsupportedTarget`. `MissingEnv` is checked by [`missing_env`] because it needs the
/// environment the service will get.
#[must_use]
pub fn validate(doc: &Markpact) -> Vec<Diagnostic> {
    validate::validate(doc)
}

/// Variables declared by a `.env.example` / `.env.sample` file block that `provided` lacks
/// (spec §10), as `MissingEnv` errors.
#[must_use]
pub fn missing_env(doc: &Markpact, provided: &dyn Fn(&str) -> bool) -> Vec<Diagnostic> {
    validate::missing_env(doc, provided)
}

/// Warnings about where the run block's server listens (spec §10): a loopback address only
/// (`LoopbackBind`), or a port other than the service's `port` (`PortMismatch`).
#[must_use]
pub fn listen_warnings(doc: &Markpact, service: &str, port: Option<u16>) -> Vec<Diagnostic> {
    let mut out = validate::loopback_bind(doc);
    out.extend(validate::port_mismatch(doc, service, port));
    out
}

/// 0-based line of the first `require` directive of a go.mod text, if any.
#[must_use]
pub fn go_mod_require_line(text: &str) -> Option<usize> {
    validate::go_mod_require_line(text)
}

/// The `platform` of the document's `target` block (`web` when absent).
#[must_use]
pub fn target_platform(doc: &Markpact) -> String {
    doc.block("target")
        .map_or_else(|| "web".to_string(), |b| validate::target_platform(&b.body))
}

/// The canonical JSON of spec §14 for a parse result. A failure lists its errors
/// (`code`, `line`, `message`) and, like a success, its warnings (`code`, `line`).
#[must_use]
pub fn canonical_json(result: &Result<Markpact, Diagnostics>) -> serde_json::Value {
    json::canonical(result)
}

// ---------------------------------------------------------------------------------------------

struct Ctx<'p> {
    path: &'p Path,
    diags: Vec<Diagnostic>,
}

impl Ctx<'_> {
    fn error(
        &mut self,
        code: Code,
        line: usize,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.diags
            .push(Diagnostic::error(code, self.path, line, message).with_hint(hint));
    }

    fn warn(
        &mut self,
        code: Code,
        line: usize,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.diags
            .push(Diagnostic::warning(code, self.path, line, message).with_hint(hint));
    }

    fn has_errors(&self) -> bool {
        self.diags.iter().any(Diagnostic::is_error)
    }
}

fn decode<'b>(
    ctx: &mut Ctx<'_>,
    bytes: &'b [u8],
    limits: &Limits,
) -> Option<std::borrow::Cow<'b, str>> {
    if bytes.len() > limits.max_bytes {
        ctx.error(
            Code::LimitExceeded,
            0,
            format!(
                "the document is {} bytes (limit {})",
                bytes.len(),
                limits.max_bytes
            ),
            "split the service into smaller READMEs",
        );
        return None;
    }
    match text::decode(bytes) {
        Ok(text) => Some(text),
        Err(line) => {
            ctx.error(
                Code::InvalidEncoding,
                line,
                "the document is not valid UTF-8",
                "save the README as UTF-8",
            );
            None
        }
    }
}

/// A well-formed tagged block of a known kind.
struct TaggedBlock<'a> {
    info: Tagged,
    line: usize,
    body: Vec<(usize, &'a str)>,
}

struct Found<'a> {
    blocks: Vec<TaggedBlock<'a>>,
    /// Number of top-level fences carrying a `markpact:` tag (valid or not).
    tagged: usize,
}

fn read_blocks<'a>(ctx: &mut Ctx<'_>, text: &'a str, index: &text::LineIndex<'a>) -> Found<'a> {
    let mut found = Found {
        blocks: Vec::new(),
        tagged: 0,
    };
    for ev in fence::scan(text, index) {
        match ev {
            fence::Found::Unclosed { line, info } => {
                let what = if info.contains("markpact:") {
                    format!("the fence `{info}` opened here is never closed")
                } else {
                    "a code fence opened here is never closed".to_string()
                };
                ctx.error(
                    Code::UnclosedFence,
                    line,
                    what,
                    "close it with a line of the same fence characters (at least as many); everything after it was swallowed",
                );
                if info.contains("markpact:") {
                    found.tagged += 1;
                }
            }
            fence::Found::Nested { line, info } => {
                if info.split([' ', '\t']).any(|t| t.starts_with("markpact:")) {
                    ctx.warn(
                        Code::NestedBlockIgnored,
                        line,
                        "a markpact block inside a block quote or list item is ignored",
                        "move the fence to the top level (no `>` or list indentation)",
                    );
                }
            }
            fence::Found::Fence(f) => match info::parse(f.info) {
                Info::Untagged { late_tag: None } => {}
                Info::Untagged {
                    late_tag: Some(tag),
                } => ctx.warn(
                    Code::TagPosition,
                    f.line,
                    format!("`{tag}` is not the first or second word of the info string; the block is ignored"),
                    format!("write ```` ```LANG {tag} ```` with the tag right after the language"),
                ),
                Info::Invalid(errors) => {
                    found.tagged += 1;
                    if let Some(kind) = unknown_kind(f.info) {
                        // The block is ignored anyway: its meta cannot be an error (spec §4).
                        ctx.warn(
                            Code::UnknownKind,
                            f.line,
                            format!("unknown kind `markpact:{kind}`; the block is ignored"),
                            unknown_kind_hint(kind),
                        );
                        continue;
                    }
                    for e in errors {
                        match e {
                            InfoError::Malformed(msg, hint) => {
                                ctx.error(Code::MalformedInfo, f.line, msg, hint);
                            }
                            InfoError::Duplicate(key) => ctx.error(
                                Code::DuplicateAttribute,
                                f.line,
                                format!("attribute `{key}` is given twice"),
                                format!("keep a single `{key}=`"),
                            ),
                            InfoError::TooLong(len) => ctx.error(
                                Code::LimitExceeded,
                                f.line,
                                format!(
                                    "the info string is {len} bytes (limit {})",
                                    info::MAX_INFO_BYTES
                                ),
                                "keep the fence line short: a language, the tag and a few `key=value` attributes",
                            ),
                        }
                    }
                }
                Info::Tagged(tagged) => {
                    found.tagged += 1;
                    if info::KNOWN_KINDS.contains(&tagged.kind.as_str()) {
                        found.blocks.push(TaggedBlock {
                            info: tagged,
                            line: f.line,
                            body: f.body,
                        });
                    } else {
                        ctx.warn(
                            Code::UnknownKind,
                            f.line,
                            format!("unknown kind `markpact:{}`; the block is ignored", tagged.kind),
                            unknown_kind_hint(&tagged.kind),
                        );
                    }
                }
            },
        }
    }
    found
}

/// The hint for an unknown kind: the known kind it is a typo of (at most two edits, e.g.
/// `dep`, `files`, `rnu`), then the list of known kinds.
fn unknown_kind_hint(kind: &str) -> String {
    let known = format!("known kinds: {}", info::KNOWN_KINDS.join(", "));
    let lower = kind.to_ascii_lowercase();
    let nearest = info::KNOWN_KINDS
        .iter()
        .map(|k| (strsim::damerau_levenshtein(&lower, k), *k))
        .filter(|(d, k)| *d <= 2.min(k.len() / 2))
        .min();
    match nearest {
        Some((_, k)) => format!("did you mean `markpact:{k}`? {known}"),
        None => known,
    }
}

/// The kind of an info string's tag when it is well-formed but not a known kind.
fn unknown_kind(info_string: &str) -> Option<&str> {
    let tag = info_string
        .split([' ', '\t'])
        .filter(|t| !t.is_empty())
        .take(2)
        .find(|t| t.starts_with("markpact:"))?;
    let kind = tag.get("markpact:".len()..)?;
    (info::is_ident(kind) && !info::KNOWN_KINDS.contains(&kind)).then_some(kind)
}

/// Kinds kept verbatim with no meaning in v1: a second block of one is a warning, never an
/// error (the first is kept).
const INERT_KINDS: [&str; 5] = ["publish", "config", "health", "healthcheck", "bootstrap"];

fn join(body: &[(usize, &str)]) -> String {
    let mut out = String::with_capacity(body.iter().map(|(_, l)| l.len() + 1).sum());
    for (i, (_, l)) in body.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(l);
    }
    out
}

/// A deps block after scope resolution.
struct DepsBlock {
    line: usize,
    scope: Option<Runtime>,
    /// `scope=dev`: development-only, never installed in the image.
    dev: bool,
    entries: Vec<Dependency>,
}

/// Whether a deps block carries `scope=dev` (spec §6.2).
fn is_dev(b: &TaggedBlock<'_>) -> bool {
    b.info.kind == "deps" && b.info.attr("scope") == Some("dev")
}

/// Warns about extra words and attributes the kind does not use.
fn check_meta(ctx: &mut Ctx<'_>, b: &TaggedBlock<'_>) {
    for word in b.info.words.iter().skip(1) {
        ctx.warn(
            Code::ExtraWord,
            b.line,
            format!("extra word `{word}` is ignored (only the first word is meaningful)"),
            "remove it",
        );
    }
    for (key, _) in &b.info.attrs {
        match (b.info.kind.as_str(), key.as_str()) {
            ("file", "path") => {}
            ("deps", "scope") if is_dev(b) => {}
            ("deps", "scope") => ctx.warn(
                Code::UnknownAttribute,
                b.line,
                format!(
                    "`scope={}` is not a dependency scope; the block is treated as service dependencies",
                    b.info.attr("scope").unwrap_or("")
                ),
                "`scope=dev` marks development-only dependencies; otherwise remove it",
            ),
            ("file", "mode" | "encoding") => ctx.warn(
                Code::UnsupportedAttribute,
                b.line,
                format!("attribute `{key}` is reserved and not supported in v1; it is ignored"),
                "remove it",
            ),
            (kind, _) => ctx.warn(
                Code::UnknownAttribute,
                b.line,
                format!(
                    "attribute `{key}` means nothing on a `markpact:{kind}` block; it is ignored"
                ),
                if kind == "file" {
                    "a file block knows `path=`".to_string()
                } else {
                    "remove it".to_string()
                },
            ),
        }
    }
}

/// Resolves a deps block's declared scope (§6.2).
fn deps_scope(ctx: &mut Ctx<'_>, b: &TaggedBlock<'_>) -> Option<Scope> {
    let from_lang = |ctx: &mut Ctx<'_>, warn: bool| {
        let lang = b.info.lang.as_deref()?;
        match deps::scope_of(lang) {
            Ok(scope) => scope,
            Err(()) => {
                if warn {
                    ctx.warn(
                        Code::UnknownScope,
                        b.line,
                        format!("language `{lang}` names no dependency scope; the scope is taken from the detected runtime"),
                        "use python, node, go, rust or php as the language or first word",
                    );
                }
                None
            }
        }
    };
    let Some(word) = b.info.scope() else {
        return from_lang(ctx, true);
    };
    match deps::scope_of(word) {
        Ok(Some(scope)) => {
            if let Some(lang_scope) = from_lang(ctx, false) {
                if lang_scope != scope {
                    ctx.warn(
                        Code::ScopeMismatch,
                        b.line,
                        format!(
                            "language `{}` and scope `{word}` disagree; the scope `{word}` wins",
                            b.info.lang.as_deref().unwrap_or("")
                        ),
                        "make the language and the scope word agree",
                    );
                }
            }
            Some(scope)
        }
        Ok(None) => from_lang(ctx, true),
        Err(()) => {
            ctx.warn(
                Code::UnknownScope,
                b.line,
                format!("`{word}` is not a dependency scope; the scope is taken from the language or the detected runtime"),
                "scopes: python, node, go, rust, php, system",
            );
            from_lang(ctx, false)
        }
    }
}

fn test_mode(ctx: &mut Ctx<'_>, b: &TaggedBlock<'_>) -> TestMode {
    if let Some(word) = b.info.scope() {
        return match word {
            "http" => TestMode::Http,
            "shell" | "bash" | "sh" => TestMode::Shell,
            other => {
                ctx.warn(
                    Code::UnknownScope,
                    b.line,
                    format!("test mode `{other}` is unknown; the block is run as HTTP probes"),
                    "use `http` or `shell`",
                );
                TestMode::Http
            }
        };
    }
    match b.info.lang.as_deref() {
        Some("bash" | "sh" | "shell" | "console") => TestMode::Shell,
        _ => TestMode::Http,
    }
}

fn check_target(ctx: &mut Ctx<'_>, b: &TaggedBlock<'_>, body: &str) {
    let first_line = b.body.first().map_or(b.line, |(l, _)| *l);
    let hint = "write a YAML mapping, e.g. `platform: web`";
    if let Err((message, line)) = crate::config::check_yaml_bounds(body) {
        ctx.error(
            Code::InvalidTarget,
            first_line + line.saturating_sub(1),
            format!("the target block is not valid YAML: {message}"),
            hint,
        );
        return;
    }
    let value: serde_yaml::Value = match serde_yaml::from_str(body) {
        Ok(v) => v,
        Err(e) => {
            let line = e
                .location()
                .map_or(b.line, |loc| first_line + loc.line().saturating_sub(1));
            ctx.error(
                Code::InvalidTarget,
                line,
                format!("the target block is not valid YAML: {e}"),
                hint,
            );
            return;
        }
    };
    match &value {
        serde_yaml::Value::Null => {}
        serde_yaml::Value::Mapping(map) => match map.get("platform") {
            None => {}
            Some(serde_yaml::Value::String(p))
                if matches!(p.as_str(), "web" | "desktop" | "mobile") => {}
            Some(other) => ctx.error(
                Code::InvalidTarget,
                b.line,
                format!("`platform` is {other:?}; expected web, desktop or mobile"),
                "use `platform: web`",
            ),
        },
        _ => ctx.error(
            Code::InvalidTarget,
            b.line,
            "the target block is not a YAML mapping",
            hint,
        ),
    }
}

/// Interprets the blocks (§5–§9). Returns `None` when no runtime could be decided.
fn interpret(ctx: &mut Ctx<'_>, found: Found<'_>, limits: &Limits) -> Option<Markpact> {
    let mut files: Vec<SourceFile> = Vec::new();
    let mut deps_blocks: Vec<DepsBlock> = Vec::new();
    let mut run: Option<Script> = None;
    let mut build: Option<Script> = None;
    let mut tests: Vec<TestBlock> = Vec::new();
    let mut raw: Vec<RawBlock> = Vec::new();
    let mut singles: HashMap<&'static str, usize> = HashMap::new();
    let mut file_blocks = 0usize;
    let mut dep_entries = 0usize;

    for b in &found.blocks {
        check_meta(ctx, b);
        let kind = info::KNOWN_KINDS
            .iter()
            .find(|k| **k == b.info.kind)
            .copied()
            .unwrap_or("ignore");
        if !matches!(kind, "file" | "deps" | "test" | "ignore") {
            if let Some(first) = singles.get(kind) {
                if INERT_KINDS.contains(&kind) {
                    ctx.warn(
                        Code::DuplicateBlock,
                        b.line,
                        format!("a second `markpact:{kind}` block (the first is at line {first}); this one is ignored"),
                        format!("keep a single `markpact:{kind}` block"),
                    );
                    continue;
                }
                ctx.error(
                    Code::DuplicateBlock,
                    b.line,
                    format!("a second `markpact:{kind}` block (the first is at line {first})"),
                    format!("keep a single `markpact:{kind}` block"),
                );
                continue;
            }
            singles.insert(kind, b.line);
        }
        let body = join(&b.body);
        let lang = b.info.lang.clone();
        match kind {
            "file" => {
                file_blocks += 1;
                if file_blocks == limits.max_files + 1 {
                    ctx.error(
                        Code::LimitExceeded,
                        b.line,
                        format!("more than {} file blocks", limits.max_files),
                        "split the service into smaller READMEs",
                    );
                }
                let Some(value) = b.info.attr("path") else {
                    ctx.error(
                        Code::MissingPath,
                        b.line,
                        "a `markpact:file` block needs `path=`",
                        format!(
                            "write ```` ```{} markpact:file path=main.py ````",
                            lang.as_deref().unwrap_or("python")
                        ),
                    );
                    continue;
                };
                match path::validate(value, limits.max_path) {
                    Ok(path) => {
                        let contents = if body.is_empty() { body } else { body + "\n" };
                        files.push(SourceFile {
                            path,
                            line: b.line,
                            lang,
                            contents,
                        });
                    }
                    Err(e) => ctx.error(e.code, b.line, e.message, e.hint),
                }
            }
            "deps" => {
                let scope = deps_scope(ctx, b);
                let dev = is_dev(b);
                let entries = deps::entries(&b.body);
                dep_entries += entries.len();
                if entries.is_empty() {
                    ctx.warn(
                        Code::EmptyDeps,
                        b.line,
                        "this deps block lists no dependency",
                        "add one requirement per line or remove the block",
                    );
                }
                match scope {
                    Some(Scope::System) if dev => deps_blocks.push(DepsBlock {
                        line: b.line,
                        scope: None,
                        dev,
                        entries,
                    }),
                    Some(Scope::System) => raw.push(RawBlock {
                        kind: "deps".into(),
                        lang,
                        scope: Some("system".into()),
                        attrs: BTreeMap::new(),
                        body,
                        line: b.line,
                    }),
                    Some(Scope::Runtime(r)) => deps_blocks.push(DepsBlock {
                        line: b.line,
                        scope: Some(r),
                        dev,
                        entries,
                    }),
                    None => deps_blocks.push(DepsBlock {
                        line: b.line,
                        scope: None,
                        dev,
                        entries,
                    }),
                }
            }
            "run" | "build" => {
                if kind == "run" && body.is_empty() {
                    ctx.error(
                        Code::EmptyRun,
                        b.line,
                        "the run block is empty",
                        "write the command that starts the service, e.g. `python3 main.py`",
                    );
                    continue;
                }
                let script = Script {
                    body,
                    line: b.line,
                    lang: lang.or_else(|| b.info.scope().map(str::to_string)),
                };
                if kind == "run" {
                    run = Some(script);
                } else {
                    build = Some(script);
                }
            }
            "test" => {
                let mode = test_mode(ctx, b);
                let mut lines = Vec::new();
                for &(line_no, raw_line) in &b.body {
                    let l = raw_line.trim();
                    if l.is_empty() || l.starts_with('#') {
                        continue;
                    }
                    if mode == TestMode::Http {
                        match probe::parse_http_line(l) {
                            Ok(p) => {
                                let rest = l.get(p.method.len()..).unwrap_or("");
                                lines.push(TestLine {
                                    line: line_no,
                                    text: format!("{}{rest}", p.method),
                                });
                            }
                            Err(msg) => ctx.error(
                                Code::InvalidTestLine,
                                line_no,
                                msg.to_string(),
                                "write `METHOD /path [BODY <json>] [EXPECT <code>]`, or mark the block `shell`",
                            ),
                        }
                    } else {
                        lines.push(TestLine {
                            line: line_no,
                            text: l.to_string(),
                        });
                    }
                }
                tests.push(TestBlock {
                    mode,
                    line: b.line,
                    lines,
                });
            }
            other => {
                if other == "target" {
                    check_target(ctx, b, &body);
                }
                raw.push(RawBlock {
                    kind: other.to_string(),
                    lang,
                    scope: b.info.scope().map(str::to_string),
                    attrs: b.info.attrs.iter().cloned().collect(),
                    body,
                    line: b.line,
                });
            }
        }
    }

    let files = check_paths(ctx, files);

    if found.tagged == 0 {
        ctx.error(
            Code::NoBlocks,
            0,
            "the document has no markpact block",
            "tag fenced code blocks, e.g. ```` ```python markpact:file path=main.py ```` and ```` ```bash markpact:run ````",
        );
    }

    let input = detect::Input {
        // Development-only deps do not decide the service's runtime (a node service may list
        // python tooling for its tests).
        scopes: deps_blocks
            .iter()
            .filter(|d| !d.dev)
            .filter_map(|d| d.scope.map(|s| (s, d.line)))
            .collect(),
        files: files.iter().map(|f| (f.path.as_str(), f.line)).collect(),
        dep_entries: deps_blocks
            .iter()
            .filter(|d| !d.dev)
            .map(|d| d.entries.len())
            .sum(),
        run: run.as_ref().map(|r| r.body.as_str()),
    };
    let runtime = match detect::detect(&input) {
        Ok(r) => r,
        Err((code, line, message, hint)) => {
            // An unknown runtime is a consequence of earlier errors when there are some.
            if code != Code::UnknownEcosystem || !ctx.has_errors() {
                ctx.error(code, line, message, hint);
            }
            return None;
        }
    };

    let manifest_line = |name: &str| files.iter().find(|f| f.path == name).map(|f| f.line);
    let package_json = manifest_line("package.json");
    let requirements_txt = manifest_line("requirements.txt");
    let mut deps = Vec::with_capacity(dep_entries);
    let mut dev_deps = Vec::new();
    for block in deps_blocks {
        let scope = block.scope.unwrap_or(runtime);
        if !block.entries.is_empty() && !block.dev {
            let manifest = match scope {
                Runtime::Node => package_json.map(|l| ("package.json", l)),
                Runtime::Python => requirements_txt.map(|l| ("requirements.txt", l)),
                _ => None,
            };
            if let Some((name, line)) = manifest {
                ctx.error(
                    Code::ManifestConflict,
                    block.line,
                    format!(
                        "this {scope} deps block and the `{name}` file block (line {line}) both declare dependencies"
                    ),
                    format!("list the dependencies in one place: either this deps block or `{name}`"),
                );
            }
        }
        for dep in block.entries {
            let check = match scope {
                Runtime::Python => deps::check_python(&dep.spec),
                Runtime::Node => deps::check_node(&dep.spec),
                _ => Ok(()),
            };
            if let Err((msg, hint)) = check {
                ctx.error(Code::InvalidDependency, dep.line, msg, hint);
            }
            if block.dev {
                dev_deps.push(dep);
            } else {
                deps.push(dep);
            }
        }
    }

    Some(Markpact {
        path: ctx.path.to_path_buf(),
        runtime,
        files,
        deps,
        dev_deps,
        run,
        build,
        tests,
        blocks: raw,
        warnings: Vec::new(),
    })
}

/// Duplicate paths, directory/file conflicts and case collisions (§7 rules 7–9).
fn check_paths(ctx: &mut Ctx<'_>, files: Vec<SourceFile>) -> Vec<SourceFile> {
    let mut seen: HashMap<String, usize> = HashMap::with_capacity(files.len());
    let mut kept = Vec::with_capacity(files.len());
    for f in files {
        if let Some(first) = seen.get(&f.path) {
            ctx.error(
                Code::DuplicatePath,
                f.line,
                format!(
                    "`{}` is written by the blocks at lines {first} and {}",
                    f.path, f.line
                ),
                "keep one block per file",
            );
        } else {
            seen.insert(f.path.clone(), f.line);
            kept.push(f);
        }
    }
    let paths: HashSet<&str> = kept.iter().map(|f| f.path.as_str()).collect();
    let mut conflicts = Vec::new();
    for f in &kept {
        for (i, _) in f.path.match_indices('/') {
            let dir = f.path.get(..i).unwrap_or("");
            if paths.contains(dir) {
                let other = seen.get(dir).copied().unwrap_or(0);
                conflicts.push((
                    f.line.max(other),
                    format!(
                        "`{dir}` (line {other}) is a file but `{}` (line {}) needs it as a directory",
                        f.path, f.line
                    ),
                ));
            }
        }
    }
    for (line, msg) in conflicts {
        ctx.error(
            Code::PathConflict,
            line,
            msg,
            "rename the file or the directory",
        );
    }
    let mut lower: HashMap<String, (&str, usize)> = HashMap::with_capacity(kept.len());
    let mut collisions = Vec::new();
    for f in &kept {
        match lower.get(&f.path.to_ascii_lowercase()) {
            Some(&(other, line)) => {
                collisions.push((f.line, other.to_string(), line, f.path.clone()))
            }
            None => {
                lower.insert(f.path.to_ascii_lowercase(), (f.path.as_str(), f.line));
            }
        }
    }
    for (line, other, other_line, path) in collisions {
        ctx.warn(
            Code::CaseCollision,
            line,
            format!("`{path}` differs from `{other}` (line {other_line}) only by letter case"),
            "they are one file on case-insensitive file systems; rename one",
        );
    }
    kept
}
