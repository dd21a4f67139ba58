//! Bearer tokens for publish and delete, scoped per namespace.
//!
//! Token file: one token per line, `TOKEN namespace[,namespace…]` or `TOKEN *` (all namespaces);
//! blank lines and `#` comments are ignored. Tokens must be at least
//! [`MIN_TOKEN_CHARS`] characters. Only sha256 digests of the tokens are kept in memory, and a
//! presented token is compared against every entry in constant time.
use super::model::is_valid_name;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Shortest token accepted in a token file.
pub const MIN_TOKEN_CHARS: usize = 16;

/// Which namespaces a token may write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every namespace (`*`).
    All,
    /// The listed namespaces.
    Namespaces(Vec<String>),
}

impl Scope {
    fn allows(&self, namespace: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Namespaces(list) => list.iter().any(|n| n == namespace),
        }
    }
}

/// A problem in the token file.
#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    /// The file cannot be read.
    #[error("cannot read token file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A line is malformed.
    #[error("{path}:{line}: {message}")]
    Line {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong and what to write instead.
        message: String,
    },
}

/// Why a write was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// No (or a malformed) `Authorization: Bearer` header → 401.
    Missing,
    /// The token is unknown → 401.
    Unknown,
    /// The token is valid but not for this namespace → 403.
    Scope,
    /// The server has no token file: writes are disabled → 403.
    ReadOnly,
}

/// The tokens a server accepts.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    entries: Vec<([u8; 32], Scope)>,
    read_only: bool,
}

impl Tokens {
    /// A token set that refuses every write (server started without `--token-file`).
    #[must_use]
    pub fn read_only() -> Self {
        Self {
            entries: Vec::new(),
            read_only: true,
        }
    }

    /// Parses token-file text. `path` is used in messages.
    ///
    /// # Errors
    /// The first malformed line, naming the file and line.
    pub fn parse(path: &Path, text: &str) -> Result<Self, TokenFileError> {
        let mut entries = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |message: String| TokenFileError::Line {
                path: path.to_path_buf(),
                line: i + 1,
                message,
            };
            let mut words = line.split_whitespace();
            let (Some(token), Some(scope), None) = (words.next(), words.next(), words.next())
            else {
                return Err(bad(
                    "expected `TOKEN namespace[,namespace…]` or `TOKEN *`".into()
                ));
            };
            if token.chars().count() < MIN_TOKEN_CHARS {
                return Err(bad(format!(
                    "token is shorter than {MIN_TOKEN_CHARS} characters; generate one with `openssl rand -hex 32`"
                )));
            }
            let scope = if scope == "*" {
                Scope::All
            } else {
                let mut list = Vec::new();
                for ns in scope.split(',') {
                    if !is_valid_name(ns) {
                        return Err(bad(format!(
                            "`{ns}` is not a valid namespace ([a-z0-9][a-z0-9._-]{{0,63}})"
                        )));
                    }
                    list.push(ns.to_string());
                }
                Scope::Namespaces(list)
            };
            entries.push((digest(token), scope));
        }
        Ok(Self {
            entries,
            read_only: false,
        })
    }

    /// Reads a token file.
    ///
    /// # Errors
    /// IO and line errors.
    pub fn load(path: &Path) -> Result<Self, TokenFileError> {
        let text = crate::input::read_capped_string(path, crate::input::MAX_CONFIG_BYTES).map_err(
            |source| TokenFileError::Io {
                path: path.to_path_buf(),
                source,
            },
        )?;
        Self::parse(path, &text)
    }

    /// Number of tokens.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no tokens.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Checks an `Authorization` header value for a write to `namespace`. Pass `None` for the
    /// namespace to check only that the token is known (before the body is read).
    ///
    /// # Errors
    /// Why the write is refused.
    pub fn authorize(&self, header: Option<&str>, namespace: Option<&str>) -> Result<(), Denied> {
        if self.read_only {
            return Err(Denied::ReadOnly);
        }
        let token = header
            .and_then(|h| {
                let (scheme, rest) = h.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .filter(|t| !t.is_empty())
            .ok_or(Denied::Missing)?;
        let presented = digest(token);
        // Compare with every entry, without early exit, so timing says nothing about which
        // (or whether a) token matched.
        let mut matched: Option<&Scope> = None;
        for (known, scope) in &self.entries {
            let diff = known
                .iter()
                .zip(presented.iter())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b));
            if diff == 0 && matched.is_none() {
                matched = Some(scope);
            }
        }
        let scope = matched.ok_or(Denied::Unknown)?;
        match namespace {
            Some(ns) if !scope.allows(ns) => Err(Denied::Scope),
            _ => Ok(()),
        }
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "aaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbb";

    #[test]
    fn scopes() {
        let text = format!("# team tokens\n{A} team,shared\n\n{B} *\n");
        let t = Tokens::parse(Path::new("tokens"), &text).unwrap();
        assert_eq!(t.len(), 2);
        let a = format!("Bearer {A}");
        assert_eq!(t.authorize(Some(&a), Some("team")), Ok(()));
        assert_eq!(t.authorize(Some(&a), Some("shared")), Ok(()));
        assert_eq!(t.authorize(Some(&a), Some("other")), Err(Denied::Scope));
        assert_eq!(t.authorize(Some(&a), None), Ok(()));
        let b = format!("bearer {B}");
        assert_eq!(t.authorize(Some(&b), Some("anything")), Ok(()));
        assert_eq!(
            t.authorize(Some("Bearer nope-nope-nope-nope"), Some("team")),
            Err(Denied::Unknown)
        );
        assert_eq!(t.authorize(None, Some("team")), Err(Denied::Missing));
        assert_eq!(t.authorize(Some(A), Some("team")), Err(Denied::Missing));
        assert_eq!(t.authorize(Some("Bearer "), None), Err(Denied::Missing));
        assert_eq!(
            Tokens::read_only().authorize(Some(&a), None),
            Err(Denied::ReadOnly)
        );
    }

    #[test]
    fn bad_lines_name_the_line() {
        for (text, needle) in [
            ("short team", "shorter"),
            (A, "expected"),
            (&format!("{A} Team"), "not a valid namespace"),
            (&format!("{A} a b"), "expected"),
        ] {
            let err = Tokens::parse(Path::new("tok"), &format!("# c\n{text}\n")).unwrap_err();
            let msg = err.to_string();
            assert!(msg.starts_with("tok:2: "), "{msg}");
            assert!(msg.contains(needle), "{msg}");
        }
    }
}
