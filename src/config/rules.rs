//! Small validation rules shared by the config reader, the graph and the generators: names,
//! README paths (spec §7 rules 1–5), environment variable names and did-you-mean hints.
use crate::diagnostic::Code;

/// Longest service name (a DNS label).
pub const MAX_SERVICE_NAME: usize = 63;

/// `[a-z0-9][a-z0-9-]*`, at most 63 characters: service names become DNS and container names.
#[must_use]
pub fn is_service_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.len() <= MAX_SERVICE_NAME
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// A name usable for engine networks and containers: `[A-Za-z0-9][A-Za-z0-9_.-]*`, ≤ 63 chars.
#[must_use]
pub fn is_resource_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && name.len() <= MAX_SERVICE_NAME
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Turns any text into a valid service name: lowercase, runs of other characters become one
/// `-`, no leading/trailing `-`, at most 63 characters; `service` when nothing is left.
#[must_use]
pub fn sanitize_name(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.truncate(MAX_SERVICE_NAME);
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        "service".into()
    } else {
        out
    }
}

/// A POSIX environment variable name: `[A-Za-z_][A-Za-z0-9_]*`.
#[must_use]
pub fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The variable prefix for a dependency: upper-cased, `-` and `.` become `_`.
#[must_use]
pub fn env_prefix(service: &str) -> String {
    service
        .chars()
        .map(|c| match c {
            '-' | '.' => '_',
            c => c.to_ascii_uppercase(),
        })
        .collect()
}

/// A registry namespace, artifact name or version word: `[A-Za-z0-9][A-Za-z0-9._+-]*`.
#[must_use]
pub fn is_registry_word(word: &str) -> bool {
    let mut chars = word.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+'))
}

/// True for a health-check path every runner and exporter can use as it is: `/` followed by
/// URL path characters that need no escaping in any output format (`A-Z a-z 0-9 - . _ ~ / ? =
/// & + ,`), at most 1024 bytes. `validate` and the exporters apply this one rule.
#[must_use]
pub fn is_health_path(path: &str) -> bool {
    path.starts_with('/')
        && path.len() <= 1024
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~/?=&+,".contains(c))
}

/// Splits `NAMESPACE/NAME@VERSION` (namespace and version optional).
#[must_use]
pub fn parse_registry_ref(text: &str) -> Option<(Option<&str>, &str, Option<&str>)> {
    let (rest, version) = match text.split_once('@') {
        Some((r, v)) => (r, Some(v)),
        None => (text, None),
    };
    let (ns, name) = match rest.split_once('/') {
        Some((ns, name)) => (Some(ns), name),
        None => (None, rest),
    };
    let ok = is_registry_word(name)
        && ns.is_none_or(is_registry_word)
        && version.is_none_or(is_registry_word);
    ok.then_some((ns, name, version))
}

/// Validates and normalizes a relative path by spec §7 rules 1–5 (empty, absolute, forbidden
/// characters, `.`/`..`/empty segments, segment characters). Returns the path without leading
/// `./` segments, or the error code and the reason.
///
/// # Errors
/// `InvalidPath`, `AbsolutePath` or `PathTraversal` with a short reason.
pub fn normalize_path(path: &str) -> Result<String, (Code, &'static str)> {
    if path.is_empty() {
        return Err((Code::InvalidPath, "it is empty"));
    }
    let bytes = path.as_bytes();
    let drive = bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':';
    if path.starts_with('/') || path.starts_with("\\\\") || drive {
        return Err((Code::AbsolutePath, "it is absolute"));
    }
    if path.chars().any(|c| {
        c == '\\'
            || c.is_control()
            || c.is_whitespace()
            || matches!(
                c,
                '"' | '\'' | '`' | '$' | ';' | '&' | '|' | '<' | '>' | '*' | '?' | '%' | ':'
            )
    }) {
        return Err((
            Code::InvalidPath,
            "it contains a forbidden character (backslash, control, space or one of \"'`$;&|<>*?%:)",
        ));
    }
    let mut rest = path;
    while let Some(r) = rest.strip_prefix("./") {
        rest = r;
    }
    for segment in rest.split('/') {
        if segment.is_empty() || segment == "." {
            return Err((Code::InvalidPath, "it has an empty or `.` segment"));
        }
        if segment == ".." {
            return Err((Code::PathTraversal, "it has a `..` segment"));
        }
        if !segment.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '@' | '=' | ',' | '-')
        }) {
            return Err((
                Code::InvalidPath,
                "a segment has characters outside A-Z a-z 0-9 . _ + @ = , -",
            ));
        }
    }
    Ok(rest.to_string())
}

/// The closest candidate to `word`, if it is close enough to be a likely typo.
#[must_use]
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(2);
    let lower = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(&lower, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names() {
        assert!(is_service_name("api"));
        assert!(is_service_name("web-2"));
        assert!(is_service_name("0db"));
        assert!(!is_service_name("Api"));
        assert!(!is_service_name("-api"));
        assert!(!is_service_name("my_api"));
        assert!(!is_service_name(""));
        assert!(!is_service_name(&"a".repeat(64)));
        assert_eq!(sanitize_name("My API_v2!"), "my-api-v2");
        assert_eq!(sanitize_name("__"), "service");
    }

    #[test]
    fn env_names() {
        assert!(is_env_name("DB_URL"));
        assert!(is_env_name("_x1"));
        assert!(!is_env_name("1X"));
        assert!(!is_env_name("A-B"));
        assert!(!is_env_name(""));
        assert_eq!(env_prefix("user-db.v2"), "USER_DB_V2");
    }

    #[test]
    fn paths_follow_spec_rules() {
        assert_eq!(normalize_path("./api/README.md").unwrap(), "api/README.md");
        assert_eq!(normalize_path("").unwrap_err().0, Code::InvalidPath);
        assert_eq!(normalize_path("/etc/x").unwrap_err().0, Code::AbsolutePath);
        assert_eq!(normalize_path("C:x").unwrap_err().0, Code::AbsolutePath);
        assert_eq!(
            normalize_path("a b/README.md").unwrap_err().0,
            Code::InvalidPath
        );
        assert_eq!(normalize_path("a//b").unwrap_err().0, Code::InvalidPath);
        assert_eq!(normalize_path("a/./b").unwrap_err().0, Code::InvalidPath);
        assert_eq!(
            normalize_path("../x/README.md").unwrap_err().0,
            Code::PathTraversal
        );
        assert_eq!(normalize_path("a/../b").unwrap_err().0, Code::PathTraversal);
        assert_eq!(normalize_path("a/b~c").unwrap_err().0, Code::InvalidPath);
    }

    #[test]
    fn registry_refs() {
        assert_eq!(
            parse_registry_ref("team/api@1.0.0"),
            Some((Some("team"), "api", Some("1.0.0")))
        );
        assert_eq!(parse_registry_ref("api"), Some((None, "api", None)));
        assert_eq!(parse_registry_ref("a/b/c"), None);
        assert_eq!(parse_registry_ref("api@"), None);
    }

    #[test]
    fn suggestions() {
        let keys = ["depends_on", "port", "health_check"];
        assert_eq!(did_you_mean("depend_on", keys), Some("depends_on"));
        assert_eq!(did_you_mean("healthcheck", keys), Some("health_check"));
        assert_eq!(did_you_mean("Port", keys), Some("port"));
        assert_eq!(did_you_mean("zzzzzz", keys), None);
    }
}
