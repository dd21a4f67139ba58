//! `path=` validation (spec §7). Paths are validated, never cleaned: the only normalization is
//! dropping leading `./` segments.
use crate::diagnostic::Code;

/// Tool-owned top-level directories (§7 rule 6).
const RESERVED: [&str; 4] = [".git", ".markpact", ".venv", "node_modules"];

/// Why a path was refused: code, message, hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathError {
    /// `InvalidPath`, `AbsolutePath`, `PathTraversal`, `ReservedPath` or `LimitExceeded`.
    pub code: Code,
    /// What is wrong.
    pub message: String,
    /// What to do.
    pub hint: String,
}

fn err(code: Code, message: String, hint: &str) -> PathError {
    PathError {
        code,
        message,
        hint: hint.to_string(),
    }
}

const RELATIVE_HINT: &str =
    "use a relative path inside the build context made of letters, digits and `._+@=,-`, e.g. `path=src/main.py`";

/// Validates an untrusted `path=` value (rules 1–6) and returns the normalized path.
///
/// # Errors
/// The first rule that fails.
pub fn validate(value: &str, max_len: usize) -> Result<String, PathError> {
    if value.len() > max_len {
        return Err(err(
            Code::LimitExceeded,
            format!("path is {} bytes long (limit {max_len})", value.len()),
            "use a shorter path",
        ));
    }
    if value.is_empty() {
        return Err(err(
            Code::InvalidPath,
            "`path=` is empty".into(),
            RELATIVE_HINT,
        ));
    }
    let bytes = value.as_bytes();
    let drive = bytes.len() >= 2
        && bytes.first().is_some_and(u8::is_ascii_alphabetic)
        && bytes.get(1) == Some(&b':');
    if value.starts_with('/') || value.starts_with("\\\\") || drive {
        return Err(err(
            Code::AbsolutePath,
            format!("path `{value}` is absolute"),
            "file paths are relative to the build context, e.g. `path=etc/x`",
        ));
    }
    if let Some(c) = value.chars().find(|&c| {
        c == '\\'
            || c.is_control()
            || c.is_whitespace()
            || matches!(
                c,
                '"' | '\'' | '`' | '$' | ';' | '&' | '|' | '<' | '>' | '*' | '?' | '%' | ':'
            )
    }) {
        return Err(err(
            Code::InvalidPath,
            format!(
                "path `{}` contains the character {:?}",
                value.escape_debug(),
                c
            ),
            RELATIVE_HINT,
        ));
    }
    let mut rest = value;
    while let Some(r) = rest.strip_prefix("./") {
        rest = r;
    }
    if rest.is_empty() {
        return Err(err(
            Code::InvalidPath,
            format!("path `{value}` names no file"),
            RELATIVE_HINT,
        ));
    }
    if rest.split('/').any(|s| s == "..") {
        return Err(err(
            Code::PathTraversal,
            format!("path `{value}` contains a `..` segment"),
            "paths may not leave or re-enter directories; write the path without `..`",
        ));
    }
    for seg in rest.split('/') {
        if seg.is_empty() || seg == "." {
            return Err(err(
                Code::InvalidPath,
                format!("path `{value}` has an empty or `.` segment"),
                "remove doubled, trailing or `.` segments, e.g. `path=src/main.py`",
            ));
        }
        if !seg.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'+' | b'@' | b'=' | b',' | b'-')
        }) {
            return Err(err(
                Code::InvalidPath,
                format!(
                    "path segment `{seg}` of `{value}` has characters outside `A-Za-z0-9._+@=,-`"
                ),
                RELATIVE_HINT,
            ));
        }
    }
    let first = rest.split('/').next().unwrap_or(rest);
    if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(first)) {
        return Err(err(
            Code::ReservedPath,
            format!("path `{value}` is inside `{first}`, which pactown owns"),
            "choose another directory; .git, .markpact, .venv and node_modules are reserved",
        ));
    }
    Ok(rest.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(p: &str) -> Code {
        validate(p, 255).unwrap_err().code
    }

    #[test]
    fn accepts_and_normalizes() {
        assert_eq!(validate("./././main.py", 255).unwrap(), "main.py");
        assert_eq!(validate(".env.example", 255).unwrap(), ".env.example");
        assert_eq!(
            validate("a/b-c_d+e@f=g,h.txt", 255).unwrap(),
            "a/b-c_d+e@f=g,h.txt"
        );
    }

    #[test]
    fn rejects() {
        assert_eq!(code(""), Code::InvalidPath);
        assert_eq!(code("/etc/x"), Code::AbsolutePath);
        assert_eq!(code("C:x"), Code::AbsolutePath);
        assert_eq!(code("\\\\srv\\x"), Code::AbsolutePath);
        assert_eq!(code("a\\b.py"), Code::InvalidPath);
        assert_eq!(code("'a.py'"), Code::InvalidPath);
        assert_eq!(code("%2e%2e/x"), Code::InvalidPath);
        assert_eq!(code("a b"), Code::InvalidPath);
        assert_eq!(code("../../etc/passwd"), Code::PathTraversal);
        assert_eq!(code("app/../main.py"), Code::PathTraversal);
        assert_eq!(code("a//b"), Code::InvalidPath);
        assert_eq!(code("a/"), Code::InvalidPath);
        assert_eq!(code("a/./b"), Code::InvalidPath);
        assert_eq!(code("./"), Code::InvalidPath);
        assert_eq!(code("é.py"), Code::InvalidPath);
        assert_eq!(code(".git/hooks/pre-commit"), Code::ReservedPath);
        assert_eq!(code("node_modules/x/index.js"), Code::ReservedPath);
        assert_eq!(code(".markpact/run.sh"), Code::ReservedPath);
        assert_eq!(code(&"a".repeat(256)), Code::LimitExceeded);
    }
}
