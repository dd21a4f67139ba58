//! Escaping for systemd unit files (systemd.syntax(7), systemd.service(5) "Command lines") as
//! Quadlet reads them.
//!
//! Two layers act on a value in a `.container` file:
//!
//! 1. Quadlet parses the line. Keys read as *word lists* (`Environment=`, `Label=`,
//!    `PodmanArgs=`) are split at whitespace, `"…"` quotes are removed and C escapes
//!    (`\n`, `\\`, `\"`, `\xNN`) are decoded. Keys read *raw* (`HealthCmd=`, `Image=`) keep the
//!    text as written. A line ending in `\` continues on the next line.
//! 2. Quadlet copies the values into the generated service's `ExecStart=` (re-quoting them), and
//!    systemd then resolves `%` specifiers and, when the command runs, `$VAR`/`${VAR}`
//!    references in it. `%%` and `$$` are the literal characters.
//!
//! So every user value is written with `%` → `%%` and `$` → `$$`; word-list values are quoted with
//! C escapes for `\`, `"` and control characters; raw values must be one line without control
//! characters and must not end in `\`. Anything else is refused by the callers with an error
//! naming the service and key.
use std::fmt::Write as _;

/// Why a raw value was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawProblem {
    /// Contains a control character (newline, tab, NUL…).
    Control(char),
    /// Ends in a backslash, which would continue the line.
    TrailingBackslash,
    /// Empty.
    Empty,
}

impl std::fmt::Display for RawProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RawProblem::Control(c) => write!(
                f,
                "contains the control character U+{:04X}, which this key cannot hold",
                u32::from(*c)
            ),
            RawProblem::TrailingBackslash => {
                f.write_str("ends in `\\`, which systemd reads as a line continuation")
            }
            RawProblem::Empty => f.write_str("is empty"),
        }
    }
}

/// Escapes systemd's expansion characters: `%` → `%%`, `$` → `$$`.
fn push_expansion_safe(out: &mut String, c: char) {
    match c {
        '%' => out.push_str("%%"),
        '$' => out.push_str("$$"),
        c => out.push(c),
    }
}

/// A value for a raw key (read verbatim by Quadlet, expanded by systemd): `%` and `$` doubled.
///
/// # Errors
/// A [`RawProblem`] when the value cannot be written on one line as-is.
pub fn raw(value: &str) -> Result<String, RawProblem> {
    if value.is_empty() {
        return Err(RawProblem::Empty);
    }
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Err(RawProblem::Control(c));
    }
    if value.ends_with('\\') {
        return Err(RawProblem::TrailingBackslash);
    }
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        push_expansion_safe(&mut out, c);
    }
    Ok(out)
}

/// One word of a word-list key, always double-quoted: `\` → `\\`, `"` → `\"`, newline, tab and
/// carriage return as `\n`, `\t`, `\r`, other C0 controls and DEL as `\xNN`, `%` → `%%`,
/// `$` → `$$`. Callers must have refused NUL and C1 controls (U+0080–U+009F) before, which
/// cannot round-trip through systemd's `\xNN` as UTF-8.
#[must_use]
pub fn quoted_word(word: &str) -> String {
    let mut out = String::with_capacity(word.len() + 2);
    out.push('"');
    for c in word.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_ascii_control() => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c => push_expansion_safe(&mut out, c),
        }
    }
    out.push('"');
    out
}

/// Whether [`quoted_word`] can carry this word so it reads back unchanged.
#[must_use]
pub fn quotable(word: &str) -> bool {
    !word
        .chars()
        .any(|c| c == '\0' || ('\u{80}'..='\u{9f}').contains(&c))
}

/// Several words, each quoted, separated by one space.
#[must_use]
pub fn quoted_words<S: AsRef<str>>(words: &[S]) -> String {
    words
        .iter()
        .map(|w| quoted_word(w.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_doubles_expansions() {
        assert_eq!(raw("a%b$c").as_deref(), Ok("a%%b$$c"));
        assert_eq!(raw("x\\"), Err(RawProblem::TrailingBackslash));
        assert_eq!(raw("a\nb"), Err(RawProblem::Control('\n')));
        assert_eq!(raw(""), Err(RawProblem::Empty));
    }

    #[test]
    fn quoted_word_escapes() {
        assert_eq!(quoted_word("A=x y"), "\"A=x y\"");
        assert_eq!(quoted_word("q\"\\"), "\"q\\\"\\\\\"");
        assert_eq!(quoted_word("l1\nl2\t%$\u{1}"), "\"l1\\nl2\\t%%$$\\x01\"");
        assert!(!quotable("a\0"));
        assert!(!quotable("a\u{85}"));
        assert!(quotable("ünï ✓"));
    }
}
