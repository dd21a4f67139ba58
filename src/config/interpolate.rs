//! Variables in ecosystem files, with Docker Compose's syntax: `${VAR}`, `${VAR:-default}`
//! (unset or empty → default), `${VAR-default}` (unset → default), `${VAR:?message}` /
//! `${VAR?message}` (an error with the message when unset or empty / unset),
//! `${VAR:+alternative}` / `${VAR+alternative}`, and `$$` for a literal `$`. Defaults, messages
//! and alternatives may hold references themselves. A `$` before anything else (`$HOME`, `$(…)`)
//! is kept as written, so shell text in `health_cmd` reaches the container unchanged.
//!
//! The one parser and evaluator for every `${…}` pactown reads: the whole ecosystem file is
//! interpolated from the process environment over the `.env` beside it before its values are
//! typed ([`Variables`]), and a service's `env:` values — which may hold secrets — are resolved
//! with the same rules only when its containers are created ([`crate::secrets::resolve`]).
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// How deeply references may nest inside defaults (`${A:-${B:-${C}}}`).
const MAX_DEPTH: usize = 16;

/// A piece of an interpolated text.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    /// Literal text (a `$$` is already one `$`).
    Text(String),
    /// A `${NAME…}` reference.
    Var {
        name: String,
        op: Option<(Op, Vec<Piece>)>,
    },
}

/// The operator after a variable name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// `:-` / `-`: default.
    Default { empty: bool },
    /// `:?` / `?`: required.
    Required { empty: bool },
    /// `:+` / `+`: alternative when set.
    Alternative { empty: bool },
}

/// A `${…}` that cannot be read, or a required variable that is missing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InterpolationError {
    /// Malformed `${…}`.
    #[error("invalid interpolation `{text}`: {why}")]
    Syntax {
        /// The text from the `${` on (shortened).
        text: String,
        /// What is wrong.
        why: String,
    },
    /// `${VAR:?message}` / `${VAR?message}` with the variable unset (or empty).
    #[error("required variable {name} is not set: {message}")]
    Required {
        /// The variable.
        name: String,
        /// The message written after `?` (or a default one).
        message: String,
    },
}

/// One variable an interpolation used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Used {
    /// The variable's name.
    pub name: String,
    /// Its value, when it is set.
    pub value: Option<String>,
    /// Whether the reference said what to do when it is unset (a default, an alternative or a
    /// required message), so an unset variable is not worth a warning.
    pub guarded: bool,
}

/// The result of interpolating one text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expansion {
    /// The text with every reference replaced.
    pub text: String,
    /// The variables it referenced, in order (nested ones included, when evaluated).
    pub used: Vec<Used>,
}

impl Expansion {
    /// The names of referenced variables that are unset and have no default.
    #[must_use]
    pub fn unset(&self) -> Vec<&str> {
        self.used
            .iter()
            .filter(|u| u.value.is_none() && !u.guarded)
            .map(|u| u.name.as_str())
            .collect()
    }
}

/// Whether `text` holds a `${` or `$$` that interpolation would change.
#[must_use]
pub fn has_syntax(text: &str) -> bool {
    text.contains("${") || text.contains("$$")
}

/// Interpolates `text`; `lookup` gives a variable's value, `None` when it is unset.
///
/// # Errors
/// A malformed `${…}`, or a required variable that is missing.
pub fn expand(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Expansion, InterpolationError> {
    let pieces = parse(text)?;
    let mut out = Expansion {
        text: String::with_capacity(text.len()),
        used: Vec::new(),
    };
    eval(&pieces, lookup, &mut out)?;
    Ok(out)
}

/// The names of every variable `text` references (nested defaults included), without looking
/// any up; a malformed text references nothing.
#[must_use]
pub fn names(text: &str) -> Vec<String> {
    fn walk(pieces: &[Piece], out: &mut Vec<String>) {
        for p in pieces {
            if let Piece::Var { name, op } = p {
                out.push(name.clone());
                if let Some((_, word)) = op {
                    walk(word, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    if let Ok(pieces) = parse(text) {
        walk(&pieces, &mut out);
    }
    out
}

/// True when the whole text is a single `${VAR…}` reference.
#[must_use]
pub fn is_single_reference(text: &str) -> bool {
    matches!(parse(text).as_deref(), Ok([Piece::Var { .. }]))
}

/// True when the text holds anything besides plain `${VAR}` references: literal text (`$$`
/// included), a default or alternative, or malformed syntax.
#[must_use]
pub fn has_literal_text(text: &str) -> bool {
    match parse(text) {
        Ok(pieces) => pieces.iter().any(|p| match p {
            Piece::Text(t) => !t.is_empty(),
            Piece::Var { op, .. } => op.is_some(),
        }),
        Err(_) => true,
    }
}

fn eval(
    pieces: &[Piece],
    lookup: &dyn Fn(&str) -> Option<String>,
    out: &mut Expansion,
) -> Result<(), InterpolationError> {
    for piece in pieces {
        match piece {
            Piece::Text(t) => out.text.push_str(t),
            Piece::Var { name, op } => {
                let value = lookup(name);
                out.used.push(Used {
                    name: name.clone(),
                    value: value.clone(),
                    guarded: op.is_some(),
                });
                let missing = |empty: bool| match &value {
                    None => true,
                    Some(v) => empty && v.is_empty(),
                };
                match op {
                    None => out.text.push_str(value.as_deref().unwrap_or("")),
                    Some((Op::Default { empty }, word)) => {
                        if missing(*empty) {
                            eval(word, lookup, out)?;
                        } else {
                            out.text.push_str(value.as_deref().unwrap_or(""));
                        }
                    }
                    Some((Op::Alternative { empty }, word)) => {
                        if !missing(*empty) {
                            eval(word, lookup, out)?;
                        }
                    }
                    Some((Op::Required { empty }, word)) => {
                        if missing(*empty) {
                            let mut msg = Expansion {
                                text: String::new(),
                                used: Vec::new(),
                            };
                            eval(word, lookup, &mut msg)?;
                            let message = if msg.text.trim().is_empty() {
                                format!("{name} must be set")
                            } else {
                                msg.text
                            };
                            return Err(InterpolationError::Required {
                                name: name.clone(),
                                message,
                            });
                        }
                        out.text.push_str(value.as_deref().unwrap_or(""));
                    }
                }
            }
        }
    }
    Ok(())
}

fn parse(text: &str) -> Result<Vec<Piece>, InterpolationError> {
    let (pieces, rest) = parse_until(text, 0, false)?;
    debug_assert!(rest.is_empty());
    Ok(pieces)
}

fn shortened(text: &str) -> String {
    let short: String = text.chars().take(40).collect();
    if short.len() < text.len() {
        format!("{short}…")
    } else {
        short
    }
}

/// Parses pieces up to the end, or (inside a default) up to the `}` that closes it; returns the
/// pieces and the text after that `}`.
fn parse_until(
    text: &str,
    depth: usize,
    inside: bool,
) -> Result<(Vec<Piece>, &str), InterpolationError> {
    let mut pieces = Vec::new();
    let mut lit = String::new();
    let mut rest = text;
    loop {
        let Some(pos) = rest.find(if inside { ['$', '}'] } else { ['$', '$'] }) else {
            if inside {
                return Err(InterpolationError::Syntax {
                    text: shortened(text),
                    why: "a `${` is not closed with `}`".into(),
                });
            }
            lit.push_str(rest);
            break;
        };
        lit.push_str(rest.get(..pos).unwrap_or(""));
        let at = rest.get(pos..).unwrap_or("");
        if inside && at.starts_with('}') {
            rest = at.get(1..).unwrap_or("");
            if !lit.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut lit)));
            }
            return Ok((pieces, rest));
        }
        if let Some(after) = at.strip_prefix("$$") {
            lit.push('$');
            rest = after;
        } else if let Some(after) = at.strip_prefix("${") {
            if !lit.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut lit)));
            }
            let (piece, after) = parse_var(at, after, depth)?;
            pieces.push(piece);
            rest = after;
        } else {
            lit.push('$');
            rest = at.get(1..).unwrap_or("");
        }
    }
    if !lit.is_empty() {
        pieces.push(Piece::Text(lit));
    }
    Ok((pieces, ""))
}

/// Parses a reference: `start` is the text from its `${`, `after` the text after the `${`.
fn parse_var<'t>(
    start: &str,
    after: &'t str,
    depth: usize,
) -> Result<(Piece, &'t str), InterpolationError> {
    let syntax = |why: &str| InterpolationError::Syntax {
        text: shortened(start),
        why: why.to_string(),
    };
    if depth >= MAX_DEPTH {
        return Err(syntax(&format!(
            "references nest more than {MAX_DEPTH} levels deep"
        )));
    }
    let name_len = after
        .char_indices()
        .find(|(i, c)| !(c.is_ascii_alphabetic() || *c == '_' || (*i > 0 && c.is_ascii_digit())))
        .map_or(after.len(), |(i, _)| i);
    let name = after.get(..name_len).unwrap_or("");
    let rest = after.get(name_len..).unwrap_or("");
    if name.is_empty() {
        return Err(syntax(
            "expected a variable name (letters, digits, `_`); write `$${` for a literal `${`",
        ));
    }
    if let Some(rest) = rest.strip_prefix('}') {
        return Ok((
            Piece::Var {
                name: name.to_string(),
                op: None,
            },
            rest,
        ));
    }
    let (empty, rest) = match rest.strip_prefix(':') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let (op, rest) = match rest.chars().next() {
        Some('-') => (Op::Default { empty }, rest.get(1..).unwrap_or("")),
        Some('?') => (Op::Required { empty }, rest.get(1..).unwrap_or("")),
        Some('+') => (Op::Alternative { empty }, rest.get(1..).unwrap_or("")),
        None => return Err(syntax("a `${` is not closed with `}`")),
        Some(_) => {
            return Err(syntax(
                "expected `}`, `:-`, `-`, `:?`, `?`, `:+` or `+` after the name; write `$${` for a literal `${`",
            ))
        }
    };
    let (word, rest) = parse_until(rest, depth + 1, true).map_err(|e| match e {
        InterpolationError::Syntax { why, .. } => InterpolationError::Syntax {
            text: shortened(start),
            why,
        },
        other => other,
    })?;
    Ok((
        Piece::Var {
            name: name.to_string(),
            op: Some((op, word)),
        },
        rest,
    ))
}

/// The variables an ecosystem file is interpolated with: the process environment over the
/// `.env` file beside the ecosystem file (Compose's rule: a variable set in the environment
/// wins).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Variables {
    process: BTreeMap<String, String>,
    dot_env: BTreeMap<String, String>,
    dot_env_path: Option<PathBuf>,
}

/// Where a variable's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The process environment.
    Process,
    /// The `.env` file.
    DotEnv,
}

impl Variables {
    /// Variables from the given maps (tests, or a caller that already read them).
    #[must_use]
    pub fn new(
        process: BTreeMap<String, String>,
        dot_env_path: Option<PathBuf>,
        dot_env: BTreeMap<String, String>,
    ) -> Self {
        Variables {
            process,
            dot_env,
            dot_env_path,
        }
    }

    /// The process environment alone (UTF-8 variables only).
    #[must_use]
    pub fn process_only() -> Self {
        let process = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        Variables::new(process, None, BTreeMap::new())
    }

    /// The process environment (UTF-8 variables only) over `DIR/.env` when that file exists.
    ///
    /// # Errors
    /// A `.env` that cannot be read or parsed, naming its line.
    pub fn for_dir(dir: &Path) -> Result<Self, crate::secrets::SecretError> {
        let process = Self::process_only().process;
        let path = dot_env_path(dir);
        let dot_env = if path.exists() {
            crate::secrets::read_env_file(&path)?
        } else {
            BTreeMap::new()
        };
        let found = path.exists().then_some(path);
        Ok(Variables::new(process, found, dot_env))
    }

    /// A variable's value and where it comes from.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<(&str, Source)> {
        self.process
            .get(name)
            .map(|v| (v.as_str(), Source::Process))
            .or_else(|| self.dot_env.get(name).map(|v| (v.as_str(), Source::DotEnv)))
    }

    /// The `.env` file that was read, if there was one.
    #[must_use]
    pub fn dot_env_path(&self) -> Option<&Path> {
        self.dot_env_path.as_deref()
    }
}

/// The `.env` file beside an ecosystem file in `dir`.
#[must_use]
pub fn dot_env_path(dir: &Path) -> PathBuf {
    if dir.as_os_str().is_empty() || dir == Path::new(".") {
        PathBuf::from(".env")
    } else {
        dir.join(".env")
    }
}

/// What interpolating a whole file found.
#[derive(Debug, Default)]
pub(crate) struct TreeOutcome {
    /// Errors and warnings, naming the file, line and column.
    pub diagnostics: Vec<crate::diagnostic::Diagnostic>,
    /// Values of secret-looking variables substituted into the file, for masking.
    pub secret_values: Vec<String>,
}

/// Interpolates every scalar value of an ecosystem file's tree in place (keys are left alone,
/// and so are the values of each service's `env:`, which are resolved when containers are
/// created). A scalar that held a reference is typed by its result, so `port: "${PORT}"` is a
/// number when `PORT=8001`.
pub(crate) fn interpolate_tree(
    file: &Path,
    root: &mut super::yaml::Node,
    vars: &Variables,
) -> TreeOutcome {
    let mut cx = TreeCx {
        file,
        vars,
        out: TreeOutcome::default(),
        bytes: 0,
        path: Vec::new(),
        over_budget: false,
    };
    cx.walk(root);
    cx.out
}

struct TreeCx<'a> {
    file: &'a Path,
    vars: &'a Variables,
    out: TreeOutcome,
    bytes: usize,
    path: Vec<String>,
    over_budget: bool,
}

impl TreeCx<'_> {
    fn walk(&mut self, node: &mut super::yaml::Node) {
        use super::yaml::Kind;
        let (line, col) = (node.line, node.col);
        match &mut node.kind {
            Kind::Null => {}
            Kind::Scalar { text, plain } => {
                if !has_syntax(text) || self.over_budget {
                    return;
                }
                if let Some(new) = self.scalar(text, line, col) {
                    *plain = *plain || new.1;
                    *text = new.0;
                }
            }
            Kind::Seq(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    self.path.push(i.to_string());
                    self.walk(item);
                    self.path.pop();
                }
            }
            Kind::Map(entries) => {
                for (key, value) in entries.iter_mut() {
                    let key = key.scalar().unwrap_or("?").to_string();
                    let env_values = self.path.len() == 2
                        && self.path.first().is_some_and(|p| p == "services")
                        && key == "env";
                    if env_values {
                        continue;
                    }
                    self.path.push(key);
                    self.walk(value);
                    self.path.pop();
                }
            }
        }
    }

    /// The interpolated text and whether it held a reference.
    fn scalar(&mut self, text: &str, line: usize, col: usize) -> Option<(String, bool)> {
        use crate::diagnostic::{Code, Diagnostic};
        let what = if self.path.is_empty() {
            "the value".to_string()
        } else {
            format!("`{}`", self.path.join("."))
        };
        let vars = self.vars;
        let lookup = |n: &str| vars.get(n).map(|(v, _)| v.to_string());
        match expand(text, &lookup) {
            Ok(e) => {
                for name in e.unset() {
                    self.out.diagnostics.push(
                        Diagnostic::warning(
                            Code::UnsetVariable,
                            self.file,
                            line,
                            format!("{what} references ${{{name}}}, which is not set: it becomes an empty string"),
                        )
                        .with_column(col)
                        .with_hint(self.set_hint(name)),
                    );
                }
                for u in &e.used {
                    if let Some(v) = &u.value {
                        if crate::secrets::is_secret_key(&u.name)
                            && !v.is_empty()
                            && !self.out.secret_values.contains(v)
                        {
                            self.out.secret_values.push(v.clone());
                        }
                    }
                }
                self.bytes = self.bytes.saturating_add(e.text.len());
                if self.bytes > super::yaml::MAX_EXPANDED_BYTES {
                    self.over_budget = true;
                    self.out.diagnostics.push(
                        Diagnostic::error(
                            Code::LimitExceeded,
                            self.file,
                            line,
                            format!(
                                "the file's values expand to more than {} MiB of text once variables are substituted",
                                super::yaml::MAX_EXPANDED_BYTES >> 20
                            ),
                        )
                        .with_column(col)
                        .with_hint("use shorter variable values"),
                    );
                    return None;
                }
                let held_reference = !e.used.is_empty();
                Some((e.text, held_reference))
            }
            Err(InterpolationError::Required { name, message }) => {
                self.out.diagnostics.push(
                    Diagnostic::error(
                        Code::UnsetVariable,
                        self.file,
                        line,
                        format!("{what} requires variable {name}: {message}"),
                    )
                    .with_column(col)
                    .with_hint(self.set_hint(&name)),
                );
                None
            }
            Err(err @ InterpolationError::Syntax { .. }) => {
                self.out.diagnostics.push(
                    Diagnostic::error(Code::InvalidInterpolation, self.file, line, format!("{what}: {err}"))
                        .with_column(col)
                        .with_hint("write `${NAME}`, `${NAME:-default}` or `${NAME:?message}`; `$$` is a literal `$`"),
                );
                None
            }
        }
    }

    fn set_hint(&self, name: &str) -> String {
        let dot_env = self.vars.dot_env_path().map_or_else(
            || {
                dot_env_path(self.file.parent().unwrap_or(Path::new(".")))
                    .display()
                    .to_string()
            },
            |p| p.display().to_string(),
        );
        format!("export {name}=… or add `{name}=…` to {dot_env}, or give a default: `${{{name}:-value}}`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn look(n: &str) -> Option<String> {
        match n {
            "A" => Some("1".into()),
            "E" => Some(String::new()),
            "B" => Some("b".into()),
            _ => None,
        }
    }

    fn x(text: &str) -> Result<String, InterpolationError> {
        expand(text, &look).map(|e| e.text)
    }

    #[test]
    fn compose_forms() {
        assert_eq!(x("p${A}q").unwrap(), "p1q");
        assert_eq!(x("${U}").unwrap(), "");
        assert_eq!(x("${U:-d}").unwrap(), "d");
        assert_eq!(x("${E:-d}").unwrap(), "d");
        assert_eq!(x("${E-d}").unwrap(), "");
        assert_eq!(x("${U-d}").unwrap(), "d");
        assert_eq!(x("${A:+alt}").unwrap(), "alt");
        assert_eq!(x("${E:+alt}").unwrap(), "");
        assert_eq!(x("${E+alt}").unwrap(), "alt");
        assert_eq!(x("${U:-${B}}").unwrap(), "b");
        assert_eq!(x("${U:-${V:-deep}x}").unwrap(), "deepx");
        assert_eq!(
            x("$${A} $$ $HOME $(id) a$").unwrap(),
            "${A} $ $HOME $(id) a$"
        );
        assert_eq!(x("${E?m}").unwrap(), "");
        assert_eq!(x("${A:?m}").unwrap(), "1");
        assert_eq!(x("${U:-a}}").unwrap(), "a}");
    }

    #[test]
    fn required_and_syntax_errors() {
        assert_eq!(
            x("${U:?set U to the port}").unwrap_err(),
            InterpolationError::Required {
                name: "U".into(),
                message: "set U to the port".into()
            }
        );
        assert!(matches!(
            x("${E:?}").unwrap_err(),
            InterpolationError::Required { message, .. } if message == "E must be set"
        ));
        assert!(x("${E?m}").is_ok());
        for bad in ["${", "${A", "${1A}", "${A B}", "${A:-x", "${}", "${A:x}"] {
            assert!(
                matches!(x(bad), Err(InterpolationError::Syntax { .. })),
                "{bad}"
            );
        }
        let deep = format!("{}x{}", "${A:-".repeat(40), "}".repeat(40));
        assert!(matches!(x(&deep), Err(InterpolationError::Syntax { .. })));
    }

    #[test]
    fn used_and_names() {
        let e = expand("${A} ${U} ${V:-1} ${W:?x}", &|n| {
            (n == "A" || n == "W").then(|| "v".to_string())
        })
        .unwrap();
        assert_eq!(e.unset(), vec!["U"]);
        assert_eq!(names("${A:-${B}} $${C} ${D}"), vec!["A", "B", "D"]);
        assert!(is_single_reference("${A}"));
        assert!(is_single_reference("${A:-x}"));
        assert!(!is_single_reference("x${A}"));
        assert!(!has_literal_text("${A}${B}"));
        assert!(has_literal_text("${A:-x}"));
        assert!(has_literal_text("$${A}"));
        assert!(has_literal_text("${"));
        assert!(has_syntax("a$$b") && has_syntax("${A}") && !has_syntax("$HOME"));
    }

    #[test]
    fn process_env_wins_over_dot_env() {
        let v = Variables::new(
            BTreeMap::from([("A".into(), "proc".into())]),
            Some(".env".into()),
            BTreeMap::from([("A".into(), "file".into()), ("B".into(), "file".into())]),
        );
        assert_eq!(v.get("A"), Some(("proc", Source::Process)));
        assert_eq!(v.get("B"), Some(("file", Source::DotEnv)));
        assert_eq!(v.get("C"), None);
    }
}
