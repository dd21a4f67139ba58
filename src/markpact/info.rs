//! The info-string grammar (spec §4): `[lang WS] markpact:KIND [WS meta]`, current and legacy
//! forms, quoted values, attribute and word items.

/// Every kind of §1.
pub(crate) const KNOWN_KINDS: [&str; 12] = [
    "file",
    "deps",
    "run",
    "test",
    "build",
    "target",
    "publish",
    "config",
    "bootstrap",
    "ignore",
    "health",
    "healthcheck",
];

const TAG: &str = "markpact:";

/// Longest info string of a tagged block, in bytes (real ones are under 200): a longer one is
/// `LimitExceeded`, refused before its items are read, so that no block can make parsing or
/// its JSON form large.
pub(crate) const MAX_INFO_BYTES: usize = 1024;

/// A problem in an info string: code-independent, the caller turns it into a diagnostic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum InfoError {
    /// Not well-formed (`MalformedInfo`): message and hint.
    Malformed(String, String),
    /// The same key twice (`DuplicateAttribute`).
    Duplicate(String),
    /// A tagged info string longer than [`MAX_INFO_BYTES`] (`LimitExceeded`): its length.
    TooLong(usize),
}

/// Result of reading an info string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Info {
    /// No tag (prose). `late_tag` is set when a later token starts with `markpact:`.
    Untagged { late_tag: Option<String> },
    /// A tagged block whose info string has errors.
    Invalid(Vec<InfoError>),
    /// A well-formed tag.
    Tagged(Tagged),
}

/// A well-formed tagged info string.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Tagged {
    /// Language (current form only).
    pub lang: Option<String>,
    /// The kind after `markpact:`.
    pub kind: String,
    /// Positional words in order (the first is the scope).
    pub words: Vec<String>,
    /// `key=value` attributes in order, quotes removed.
    pub attrs: Vec<(String, String)>,
}

impl Tagged {
    /// The first word (scope), if any.
    pub(crate) fn scope(&self) -> Option<&str> {
        self.words.first().map(String::as_str)
    }

    /// An attribute's value.
    pub(crate) fn attr(&self, key: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

fn is_ws(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Splits off the next whitespace-separated token: (token, rest).
fn next_token(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_start_matches(is_ws);
    if s.is_empty() {
        return None;
    }
    let end = s.find(is_ws).unwrap_or(s.len());
    Some((s.get(..end)?, s.get(end..)?))
}

/// Whether `s` matches `lower *( lower / digit / "_" / "-" )`.
pub(crate) fn is_ident(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

fn is_word(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'.' | b'#' | b'-'))
}

/// Reads an info string.
pub(crate) fn parse(info: &str) -> Info {
    let Some((t0, rest0)) = next_token(info) else {
        return Info::Untagged { late_tag: None };
    };
    let (lang, tag, meta) = if t0.starts_with(TAG) {
        (None, t0, rest0)
    } else {
        match next_token(rest0) {
            Some((t1, rest1)) if t1.starts_with(TAG) => (Some(t0), t1, rest1),
            Some((_, rest1)) => {
                let mut rest = rest1;
                while let Some((t, r)) = next_token(rest) {
                    if t.starts_with(TAG) {
                        return Info::Untagged {
                            late_tag: Some(t.to_string()),
                        };
                    }
                    rest = r;
                }
                return Info::Untagged { late_tag: None };
            }
            None => return Info::Untagged { late_tag: None },
        }
    };
    let mut errors = Vec::new();
    let kind = tag.get(TAG.len()..).unwrap_or("");
    if let Some(err) = kind_error(kind) {
        errors.push(err);
    }
    if info.len() > MAX_INFO_BYTES {
        errors.push(InfoError::TooLong(info.len()));
        return Info::Invalid(errors);
    }
    let mut tagged = Tagged {
        lang: lang.map(str::to_string),
        kind: kind.to_string(),
        ..Tagged::default()
    };
    parse_meta(meta, &mut tagged, &mut errors);
    if errors.is_empty() {
        Info::Tagged(tagged)
    } else {
        Info::Invalid(errors)
    }
}

fn kind_error(kind: &str) -> Option<InfoError> {
    if is_ident(kind) {
        return None;
    }
    let malformed = |m: String, h: String| Some(InfoError::Malformed(m, h));
    if kind.is_empty() {
        return malformed(
            "`markpact:` has no kind".into(),
            format!(
                "name the kind, e.g. `markpact:file`; kinds: {}",
                KNOWN_KINDS.join(", ")
            ),
        );
    }
    if let Some((head, tail)) = kind.split_once(':') {
        return malformed(
            format!("`markpact:{kind}` has an extra `:` part"),
            format!("use `markpact:{head} path={tail}`"),
        );
    }
    let lower = kind.to_ascii_lowercase();
    if lower != kind && is_ident(&lower) {
        return malformed(
            format!("kind `{kind}` is not lowercase"),
            format!("kinds are lowercase: use `markpact:{lower}`"),
        );
    }
    malformed(
        format!("`{kind}` is not a valid kind"),
        "a kind is lowercase letters, digits, `_` and `-`, starting with a letter".into(),
    )
}

/// Reads the meta items after the tag.
fn parse_meta(meta: &str, out: &mut Tagged, errors: &mut Vec<InfoError>) {
    let mut keys = std::collections::HashSet::new();
    let mut rest = meta;
    loop {
        rest = rest.trim_start_matches(is_ws);
        if rest.is_empty() {
            return;
        }
        let (token, value, after) = match split_item(rest) {
            Ok(parts) => parts,
            Err(err) => {
                errors.push(err);
                return;
            }
        };
        rest = after;
        match value {
            None => {
                if is_word(token) {
                    out.words.push(token.to_string());
                } else {
                    let hint = match token.split_once(':') {
                        Some((k, v)) if is_ident(k) => format!("use `{k}={v}`"),
                        _ => "attributes are written `key=VALUE`, e.g. `path=VALUE`".into(),
                    };
                    errors.push(InfoError::Malformed(
                        format!("`{token}` is neither a word nor a `key=value` attribute"),
                        hint,
                    ));
                }
            }
            Some((key, value)) => {
                if key.is_empty() {
                    errors.push(InfoError::Malformed(
                        format!("`{token}` has no key before `=`"),
                        "attributes are written `key=VALUE`, e.g. `path=VALUE`".into(),
                    ));
                } else if !is_ident(key) {
                    errors.push(InfoError::Malformed(
                        format!("`{key}` is not a valid attribute key"),
                        format!(
                            "keys are lowercase, e.g. `{}=VALUE`",
                            key.to_ascii_lowercase()
                        ),
                    ));
                } else if !keys.insert(key) {
                    errors.push(InfoError::Duplicate(key.to_string()));
                } else {
                    out.attrs.push((key.to_string(), value));
                }
            }
        }
    }
}

type Item<'a> = (&'a str, Option<(&'a str, String)>, &'a str);

/// Splits one item off `s` (no leading whitespace): (token text, Some((key, value)) for
/// attributes, rest).
fn split_item(s: &str) -> Result<Item<'_>, InfoError> {
    let raw_end = s.find(is_ws).unwrap_or(s.len());
    let raw = s.get(..raw_end).unwrap_or(s);
    let Some(eq) = raw.find('=') else {
        return Ok((raw, None, s.get(raw_end..).unwrap_or("")));
    };
    let key = raw.get(..eq).unwrap_or("");
    let after_eq = s.get(eq + 1..).unwrap_or("");
    if let Some(quoted) = after_eq.strip_prefix('"') {
        let Some(close) = quoted.find('"') else {
            return Err(InfoError::Malformed(
                format!("unterminated quote in `{}`", s.trim_end_matches(is_ws)),
                format!("close the quote: `{key}=\"VALUE\"`"),
            ));
        };
        let value = quoted.get(..close).unwrap_or("");
        let end = eq + 2 + close + 1;
        let token = s.get(..end).unwrap_or(s);
        if value.chars().any(char::is_control) {
            return Err(InfoError::Malformed(
                format!("control character in the quoted value of `{key}`"),
                "remove it".into(),
            ));
        }
        let rest = s.get(end..).unwrap_or("");
        if rest.chars().next().is_some_and(|c| !is_ws(c)) {
            return Err(InfoError::Malformed(
                format!("text right after the closing quote in `{token}`"),
                "separate items with a space".into(),
            ));
        }
        return Ok((token, Some((key, value.to_string())), rest));
    }
    let value = raw.get(eq + 1..).unwrap_or("");
    Ok((
        raw,
        Some((key, value.to_string())),
        s.get(raw_end..).unwrap_or(""),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tagged(info: &str) -> Tagged {
        match parse(info) {
            Info::Tagged(t) => t,
            other => panic!("{info}: {other:?}"),
        }
    }

    fn errors(info: &str) -> Vec<InfoError> {
        match parse(info) {
            Info::Invalid(e) => e,
            other => panic!("{info}: {other:?}"),
        }
    }

    #[test]
    fn many_items_are_read_in_linear_time() {
        // Below the length cap the item reader is linear; 100k attributes with the former
        // quadratic duplicate check took well over a minute in a debug build.
        let meta: String = (0..100_000).map(|i| format!(" k{i}=v")).collect();
        let mut out = Tagged::default();
        let mut errors = Vec::new();
        let start = std::time::Instant::now();
        parse_meta(&format!("{meta} k7=x"), &mut out, &mut errors);
        assert!(
            start.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(out.attrs.len(), 100_000);
        assert_eq!(errors, [InfoError::Duplicate("k7".into())]);
    }

    #[test]
    fn long_tagged_info_strings_are_refused_unread() {
        let info = format!("python markpact:file path=a.py {}", "w ".repeat(600));
        assert_eq!(errors(&info), [InfoError::TooLong(info.len())]);
        // Prose fences may be long.
        assert!(matches!(parse(&"w ".repeat(2000)), Info::Untagged { .. }));
    }

    #[test]
    fn current_and_legacy() {
        let t = tagged("python markpact:file path=main.py");
        assert_eq!(t.lang.as_deref(), Some("python"));
        assert_eq!(t.kind, "file");
        assert_eq!(t.attr("path"), Some("main.py"));
        let t = tagged("markpact:file python path=app.py");
        assert_eq!(t.lang, None);
        assert_eq!(t.scope(), Some("python"));
        assert_eq!(t.attr("path"), Some("app.py"));
        let t = tagged("markpact:run");
        assert!(t.words.is_empty() && t.attrs.is_empty());
    }

    #[test]
    fn quoted_and_raw_values() {
        assert_eq!(
            tagged("python markpact:file path=\"src/a.py\"").attr("path"),
            Some("src/a.py")
        );
        assert_eq!(
            tagged("python markpact:file path=\"my app.py\" x").attr("path"),
            Some("my app.py")
        );
        assert_eq!(
            tagged("python markpact:file path=a\";b").attr("path"),
            Some("a\";b")
        );
        assert_eq!(tagged("python markpact:file path=").attr("path"), Some(""));
        assert!(matches!(
            errors("python markpact:file path=\"a.py")[0],
            InfoError::Malformed(..)
        ));
    }

    #[test]
    fn untagged() {
        assert_eq!(parse("python"), Info::Untagged { late_tag: None });
        assert_eq!(parse(""), Info::Untagged { late_tag: None });
        assert_eq!(
            parse("python x markpact:run"),
            Info::Untagged {
                late_tag: Some("markpact:run".into())
            }
        );
        assert_eq!(parse("Markpact:file"), Info::Untagged { late_tag: None });
    }

    #[test]
    fn malformed() {
        assert!(matches!(&errors("markpact:file:main.py")[0],
            InfoError::Malformed(_, h) if h == "use `markpact:file path=main.py`"));
        assert!(matches!(&errors("python markpact:FILE path=a.py")[0],
            InfoError::Malformed(_, h) if h.contains("lowercase")));
        assert_eq!(errors("python markpact:").len(), 1);
        assert!(matches!(&errors("python markpact:file path:main.py")[0],
            InfoError::Malformed(_, h) if h == "use `path=main.py`"));
        assert_eq!(errors("python markpact:file =x").len(), 1);
        assert_eq!(errors("python markpact:file Path=x").len(), 1);
        assert_eq!(
            errors("python markpact:file path=a.py path=b.py"),
            [InfoError::Duplicate("path".into())]
        );
    }
}
