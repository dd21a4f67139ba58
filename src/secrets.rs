//! Secrets in service environments.
//!
//! - A value may reference the caller's environment with Compose's syntax
//!   ([`crate::config::interpolate`]: `${VAR}`, `${VAR:-default}`, `${VAR:?message}`…; `$$` is
//!   a literal `$`). References are resolved only when containers are created ([`resolve`]),
//!   from the process environment over the `env_file:` of the service and of the ecosystem and
//!   the `.env` beside the ecosystem file, so
//!   the ecosystem file, `graph`, `parse` and the generated deployment files hold references,
//!   never the values.
//! - A variable the user wrote in a service's `env:` whose name looks secret ([`is_secret_key`]:
//!   `*PASSWORD*`, `*SECRET*`, `*TOKEN*`, `*KEY*`, `*CREDENTIAL*`, case-insensitive) is a secret
//!   ([`is_secret_env`]): shown as [`MASK`] wherever pactown prints an environment, and written
//!   to Compose/Quadlet/Kube files as a reference only. Names pactown derives (a dependency
//!   `token-service`'s `TOKEN_SERVICE_URL`/`_HOST`/`_PORT`, a `depends_on` `env_var`,
//!   `SERVICE_URL`…) hold addresses pactown wrote itself, never secrets, whatever they look like.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What a secret value is printed as.
pub const MASK: &str = "***";

/// Name fragments that mark a variable as secret.
pub const SECRET_PATTERNS: [&str; 6] =
    ["PASSWORD", "PASSWD", "SECRET", "TOKEN", "KEY", "CREDENTIAL"];

/// True when a variable name looks like it holds a secret.
#[must_use]
pub fn is_secret_key(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    SECRET_PATTERNS.iter().any(|p| upper.contains(p))
}

/// True when `key` of `svc`'s environment holds a secret: the user wrote it in the service's
/// `env:` and its name looks secret ([`is_secret_key`]). The one classification every exporter
/// and every masked printout uses; variables pactown injects (dependency URLs, hosts, ports,
/// names) are never secrets, however their names read.
#[must_use]
pub fn is_secret_env(svc: &crate::config::ServiceSpec, key: &str) -> bool {
    svc.env.contains_key(key) && is_secret_key(key)
}

/// A service's environment `env` (as injected plus its own) with its secrets
/// ([`is_secret_env`]) replaced by [`MASK`].
#[must_use]
pub fn mask_env(
    svc: &crate::config::ServiceSpec,
    env: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    env.iter()
        .map(|(k, v)| {
            let shown = if is_secret_env(svc, k) && !v.is_empty() {
                MASK.to_string()
            } else {
                v.clone()
            };
            (k.clone(), shown)
        })
        .collect()
}

/// A line of shell text with secret values masked: values of secret-looking `NAME=value`
/// assignments (`export API_TOKEN=abc` → `export API_TOKEN=***`, quoted values masked whole)
/// and of secret-looking long options (`--token=abc` → `--token=***`, `--api-key abc` →
/// `--api-key ***`). A value that is one `${VAR}` reference is kept.
#[must_use]
pub fn mask_assignments(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut mask_next = false;
    for (gap, word) in shell_words(line) {
        out.push_str(gap);
        if std::mem::take(&mut mask_next) && !word.starts_with('-') && !is_reference(unquote(word))
        {
            out.push_str(MASK);
            continue;
        }
        match word.split_once('=') {
            Some((name, value))
                if !value.is_empty() && secret_name(name) && !is_reference(unquote(value)) =>
            {
                out.push_str(name);
                out.push('=');
                out.push_str(MASK);
            }
            None if word.starts_with("--") && secret_name(word) => {
                out.push_str(word);
                mask_next = true;
            }
            _ => out.push_str(word),
        }
    }
    out
}

/// `NAME` of an assignment or `--name` of an option, when it looks secret.
fn secret_name(name: &str) -> bool {
    let bare = name.strip_prefix("--").unwrap_or(name);
    !bare.is_empty()
        && bare
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || (c == '-' && name.starts_with("--")))
        && is_secret_key(&bare.replace('-', "_"))
}

fn unquote(value: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = value.strip_prefix(q).and_then(|v| v.strip_suffix(q)) {
            return inner;
        }
    }
    value
}

/// Splits a line into shell words, each with the whitespace before it; quotes (`'…'`, `"…"`) and
/// backslash escapes keep a word together, as the shell reads it.
fn shell_words(line: &str) -> Vec<(&str, &str)> {
    let mut words = Vec::new();
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let gap_start = i;
        while i < bytes.len() && (bytes[i] == b' ' || bytes[i] == b'\t') {
            i += 1;
        }
        let start = i;
        let mut quote: Option<u8> = None;
        while i < bytes.len() {
            let b = bytes[i];
            match quote {
                Some(q) if b == q => quote = None,
                Some(b'"') if b == b'\\' => i += 1,
                Some(_) => {}
                None if b == b' ' || b == b'\t' => break,
                None if b == b'"' || b == b'\'' => quote = Some(b),
                None if b == b'\\' => i += 1,
                None => {}
            }
            i += 1;
        }
        let i_end = i.min(bytes.len());
        if let (Some(gap), Some(word)) = (line.get(gap_start..start), line.get(start..i_end)) {
            words.push((gap, word));
        }
        i = i_end;
    }
    words
}

/// Replaces every occurrence of the given secret values in a line with [`MASK`] (for service
/// logs). Values shorter than 4 characters are left alone: masking them would garble the text.
#[must_use]
pub fn redact(line: &str, values: &[String]) -> String {
    let mut out = line.to_string();
    for v in values {
        if v.len() >= 4 && out.contains(v.as_str()) {
            out = out.replace(v.as_str(), MASK);
        }
    }
    out
}

/// True when the whole value is one `${VAR}` reference (with or without a default).
#[must_use]
pub fn is_reference(value: &str) -> bool {
    crate::config::interpolate::is_single_reference(value)
}

/// True when a value holds text of its own besides `${VAR}` references: literal characters
/// around or between them, or a `${VAR:-default}` default. For a secret-looking key such a
/// value is a secret written in clear (`hunter2${X}`, `${DB_PASSWORD:-hunter2}`).
#[must_use]
pub fn has_clear_text(value: &str) -> bool {
    crate::config::interpolate::has_literal_text(value)
}

/// The variable names referenced by `${VAR}` / `${VAR:-default}` in a value, in order (those
/// inside defaults included).
#[must_use]
pub fn references(value: &str) -> Vec<String> {
    crate::config::interpolate::names(value)
}

fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A problem resolving references.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// A referenced variable is set nowhere.
    #[error("service `{service}`: env `{key}` references ${{{var}}}, which is not set in the environment or an env_file; export {var}=… before running pactown, or add it to the env_file")]
    Unset {
        /// Service.
        service: String,
        /// Variable of the service.
        key: String,
        /// The referenced variable.
        var: String,
    },
    /// A `${VAR:?message}` reference whose variable is not set.
    #[error("service `{service}`: env `{key}` requires ${{{var}}}: {message}")]
    Required {
        /// Service.
        service: String,
        /// Variable of the service.
        key: String,
        /// The referenced variable.
        var: String,
        /// The message written in the reference.
        message: String,
    },
    /// A malformed `${…}` in an env value.
    #[error("service `{service}`: env `{key}`: {error}; write `$${{` for a literal `${{`")]
    Syntax {
        /// Service.
        service: String,
        /// Variable of the service.
        key: String,
        /// What is wrong.
        error: crate::config::interpolate::InterpolationError,
    },
    /// An env file that cannot be read or parsed.
    #[error("{path}:{line}: {message}")]
    EnvFile {
        /// The file.
        path: PathBuf,
        /// 1-based line (0 for the whole file).
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// Interpolates `value` (Compose syntax, [`crate::config::interpolate`]); a variable that is
/// set nowhere and has no default is an error here, unlike in the rest of the file.
///
/// # Errors
/// The name of the first variable that `lookup` does not know and that has no default, or the
/// interpolation error.
pub fn interpolate(
    value: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, Interpolation> {
    let e = crate::config::interpolate::expand(value, lookup).map_err(Interpolation::Invalid)?;
    match e.unset().first() {
        Some(name) => Err(Interpolation::Unset((*name).to_string())),
        None => Ok(e.text),
    }
}

/// Why [`interpolate`] failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interpolation {
    /// A referenced variable without a default is not set.
    Unset(String),
    /// Malformed syntax or a missing required variable.
    Invalid(crate::config::interpolate::InterpolationError),
}

/// Reads an env file: `NAME=value` lines, `#` comments, blank lines, an optional `export `
/// prefix, and values in single or double quotes.
///
/// # Errors
/// [`SecretError::EnvFile`] naming the file and line.
pub fn read_env_file(path: &Path) -> Result<BTreeMap<String, String>, SecretError> {
    let text =
        crate::input::read_capped_string(path, crate::input::MAX_CONFIG_BYTES).map_err(|e| {
            SecretError::EnvFile {
                path: path.to_path_buf(),
                line: 0,
                message: format!("cannot read env_file: {e}"),
            }
        })?;
    parse_env_file(path, &text)
}

/// Parses env-file text (see [`read_env_file`]).
///
/// # Errors
/// [`SecretError::EnvFile`] naming the file and line.
pub fn parse_env_file(path: &Path, text: &str) -> Result<BTreeMap<String, String>, SecretError> {
    let mut out = BTreeMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((name, value)) = line.split_once('=') else {
            return Err(SecretError::EnvFile {
                path: path.to_path_buf(),
                line: i + 1,
                message: "expected NAME=value".into(),
            });
        };
        let name = name.trim();
        if !is_var_name(name) {
            return Err(SecretError::EnvFile {
                path: path.to_path_buf(),
                line: i + 1,
                message: format!("`{name}` is not a valid variable name"),
            });
        }
        let value = value.trim();
        let value = ['"', '\'']
            .iter()
            .find_map(|q| {
                value
                    .strip_prefix(*q)
                    .and_then(|v| v.strip_suffix(*q))
                    .map(str::to_string)
            })
            .unwrap_or_else(|| value.to_string());
        out.insert(name.to_string(), value);
    }
    Ok(out)
}

/// Where `env:` references of an ecosystem's services are looked up, in this order: the process
/// environment, the service's `env_file:`, the ecosystem's `env_file:`, the `.env` beside the
/// ecosystem file.
#[derive(Debug, Clone, Default)]
pub struct EnvSources {
    process: BTreeMap<String, String>,
    services: BTreeMap<String, BTreeMap<String, String>>,
    eco_file: BTreeMap<String, String>,
    dot_env: BTreeMap<String, String>,
}

impl EnvSources {
    /// Reads every env file of `eco` (and `.env`, when it exists).
    ///
    /// # Errors
    /// An env file that cannot be read or parsed, naming its line.
    pub fn read(
        eco: &crate::config::Ecosystem,
        process_env: &BTreeMap<String, String>,
    ) -> Result<Self, SecretError> {
        let eco_file = match &eco.env_file {
            Some(p) => read_env_file(p)?,
            None => BTreeMap::new(),
        };
        let dot_env_path = crate::config::interpolate::dot_env_path(&eco.dir);
        let dot_env = if dot_env_path.exists() {
            read_env_file(&dot_env_path)?
        } else {
            BTreeMap::new()
        };
        let mut services = BTreeMap::new();
        for svc in &eco.services {
            if let Some(p) = &svc.env_file {
                services.insert(svc.name.clone(), read_env_file(p)?);
            }
        }
        Ok(EnvSources {
            process: process_env.clone(),
            services,
            eco_file,
            dot_env,
        })
    }

    /// The value of `name` for `service`'s `env:` references.
    #[must_use]
    pub fn get(&self, service: &str, name: &str) -> Option<String> {
        self.process
            .get(name)
            .or_else(|| self.services.get(service).and_then(|m| m.get(name)))
            .or_else(|| self.eco_file.get(name))
            .or_else(|| self.dot_env.get(name))
            .cloned()
    }
}

/// Resolves the `${VAR}` references in every service's `env` of `eco`, in place, from
/// [`EnvSources`].
///
/// # Errors
/// An unreadable env file, or a reference set nowhere (naming service, key and variable).
pub fn resolve(
    eco: &mut crate::config::Ecosystem,
    process_env: &BTreeMap<String, String>,
) -> Result<(), SecretError> {
    let sources = EnvSources::read(eco, process_env)?;
    for svc in &mut eco.services {
        let service = svc.name.clone();
        let lookup = |name: &str| sources.get(&service, name);
        for (key, value) in &mut svc.env {
            *value = interpolate(value, &lookup).map_err(|e| match e {
                Interpolation::Unset(var) => SecretError::Unset {
                    service: svc.name.clone(),
                    key: key.clone(),
                    var,
                },
                Interpolation::Invalid(
                    crate::config::interpolate::InterpolationError::Required { name, message },
                ) => SecretError::Required {
                    service: svc.name.clone(),
                    key: key.clone(),
                    var: name,
                    message,
                },
                Interpolation::Invalid(error) => SecretError::Syntax {
                    service: svc.name.clone(),
                    key: key.clone(),
                    error,
                },
            })?;
        }
    }
    Ok(())
}

/// Warnings for `validate` about what `up` would stop at when it resolves `env:` values: an
/// `env_file:` that does not exist or cannot be read, and a reference to a variable set nowhere
/// (process environment, `env_file:`s, `.env`) without a default, or a required one.
#[must_use]
pub fn env_warnings(
    eco: &crate::config::Ecosystem,
    process_env: &BTreeMap<String, String>,
) -> Vec<crate::diagnostic::Diagnostic> {
    use crate::diagnostic::{Code, Diagnostic};
    let mut out = Vec::new();
    let read = |path: &Path, line: usize, out: &mut Vec<Diagnostic>| {
        if !path.exists() {
            out.push(
                Diagnostic::warning(
                    Code::MissingEnvFile,
                    &eco.file,
                    line,
                    format!("env_file `{}` does not exist", path.display()),
                )
                .with_hint("create it (NAME=value lines) or remove `env_file:`; `up` stops at a missing env_file"),
            );
            return BTreeMap::new();
        }
        match read_env_file(path) {
            Ok(m) => m,
            Err(e) => {
                out.push(
                    Diagnostic::warning(Code::Io, &eco.file, line, e.to_string())
                        .with_hint("fix the env_file; `up` stops at it"),
                );
                BTreeMap::new()
            }
        }
    };
    let eco_file = eco
        .env_file
        .as_deref()
        .map(|p| read(p, 0, &mut out))
        .unwrap_or_default();
    let dot_env_path = crate::config::interpolate::dot_env_path(&eco.dir);
    let dot_env = if dot_env_path.is_file() {
        read_env_file(&dot_env_path).unwrap_or_default()
    } else {
        BTreeMap::new()
    };
    for svc in &eco.services {
        let svc_file = svc
            .env_file
            .as_deref()
            .map(|p| read(p, svc.line, &mut out))
            .unwrap_or_default();
        let lookup = |name: &str| {
            process_env
                .get(name)
                .or_else(|| svc_file.get(name))
                .or_else(|| eco_file.get(name))
                .or_else(|| dot_env.get(name))
                .cloned()
        };
        for (key, value) in &svc.env {
            let problem = match interpolate(value, &lookup) {
                Ok(_) => continue,
                Err(Interpolation::Unset(var)) => format!(
                    "service `{}`: env `{key}` references ${{{var}}}, which is not set in the environment, an env_file or .env; `up` will stop here",
                    svc.name
                ),
                Err(Interpolation::Invalid(e)) => {
                    format!("service `{}`: env `{key}`: {e}; `up` will stop here", svc.name)
                }
            };
            out.push(
                Diagnostic::warning(Code::UnsetVariable, &eco.file, svc.line, problem).with_hint(
                    "export the variable before running pactown, add it to an env_file or .env, or give a default: `${NAME:-value}`",
                ),
            );
        }
    }
    out
}

/// The secret values of a service ([`is_secret_env`]: its own secret-looking `env:` keys), for
/// [`redact`].
#[must_use]
pub fn secret_values(svc: &crate::config::ServiceSpec) -> Vec<String> {
    svc.env
        .iter()
        .filter(|(k, v)| is_secret_env(svc, k) && !v.is_empty())
        .map(|(_, v)| v.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_keys() {
        for k in [
            "DB_PASSWORD",
            "api_key",
            "GITHUB_TOKEN",
            "AWS_SECRET_ACCESS_KEY",
            "CREDENTIALS",
        ] {
            assert!(is_secret_key(k), "{k}");
        }
        for k in ["PORT", "LOG_LEVEL", "ITEMS"] {
            assert!(!is_secret_key(k), "{k}");
        }
    }

    #[test]
    fn interpolation() {
        let look = |n: &str| match n {
            "A" => Some("1".to_string()),
            "E" => Some(String::new()),
            _ => None,
        };
        assert_eq!(interpolate("x${A}y", &look), Ok("x1y".into()));
        assert_eq!(interpolate("${B:-d}", &look), Ok("d".into()));
        assert_eq!(interpolate("${E:-d}", &look), Ok("d".into()));
        assert_eq!(interpolate("${E}", &look), Ok(String::new()));
        assert_eq!(interpolate("$${A}", &look), Ok("${A}".into()));
        assert_eq!(
            interpolate("${B}", &look),
            Err(Interpolation::Unset("B".into()))
        );
        assert!(matches!(
            interpolate("${not a var}", &look),
            Err(Interpolation::Invalid(_))
        ));
        assert_eq!(references("a ${X} $${Y} ${Z:-1}"), vec!["X", "Z"]);
        assert!(is_reference("${DB_PASSWORD}"));
        assert!(!is_reference("pre${DB_PASSWORD}"));
    }

    #[test]
    fn masking() {
        assert_eq!(
            mask_assignments("export API_TOKEN=abc PORT=1 KEY=${KEY}"),
            "export API_TOKEN=*** PORT=1 KEY=${KEY}"
        );
        assert_eq!(
            mask_assignments("DB_PASSWORD=\"quoted secret1\" python a.py --token=t1 --api-key k2 --port 80 --key=\"${K}\""),
            "DB_PASSWORD=*** python a.py --token=*** --api-key *** --port 80 --key=\"${K}\""
        );
        assert_eq!(
            mask_assignments("A_SECRET='a b \\' c' B=1  x"),
            "A_SECRET=*** c' B=1  x"
        );
        assert_eq!(
            redact("login with hunter22 ok", &["hunter22".into()]),
            "login with *** ok"
        );
        let mut svc = crate::config::ServiceSpec::with_defaults("app", 8000, "README.md".into());
        svc.env
            .insert("DB_PASSWORD".to_string(), "s3cret".to_string());
        let env = BTreeMap::from([
            ("DB_PASSWORD".to_string(), "s3cret".to_string()),
            ("PORT".to_string(), "1".to_string()),
            // injected for a dependency `token-service`: not written by the user
            (
                "TOKEN_SERVICE_URL".to_string(),
                "http://token-service:8000".to_string(),
            ),
        ]);
        let shown = mask_env(&svc, &env);
        assert_eq!(shown["DB_PASSWORD"], MASK);
        assert_eq!(shown["PORT"], "1");
        assert_eq!(shown["TOKEN_SERVICE_URL"], "http://token-service:8000");
        assert!(is_secret_env(&svc, "DB_PASSWORD"));
        assert!(!is_secret_env(&svc, "TOKEN_SERVICE_URL"));
    }

    #[test]
    fn env_files() {
        let m = parse_env_file(
            Path::new(".env"),
            "# c\n\nexport A=1\nB=\"two words\"\nC='x'\n",
        )
        .unwrap();
        assert_eq!(m["A"], "1");
        assert_eq!(m["B"], "two words");
        assert_eq!(m["C"], "x");
        let e = parse_env_file(Path::new(".env"), "A=1\nnope\n").unwrap_err();
        assert!(e.to_string().starts_with(".env:2:"), "{e}");
    }
}
