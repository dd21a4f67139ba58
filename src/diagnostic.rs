//! Diagnostics shared by the markpact parser, the ecosystem config and the graph: each one names
//! a file, a 1-based line, a stable code, a message and a hint on what to do.
use serde::Serialize;
use std::fmt;
use std::path::{Path, PathBuf};

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Aborts the operation; nothing is written.
    Error,
    /// Reported, the operation goes on.
    Warning,
}

macro_rules! codes {
    ($( $(#[$doc:meta])* $name:ident ),* $(,)?) => {
        /// Stable diagnostic codes (markpact spec §13 plus config and engine codes).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        pub enum Code { $( $(#[$doc])* $name ),* }
        impl Code {
            /// The code's name as written in JSON output and messages.
            #[must_use]
            pub fn as_str(self) -> &'static str {
                match self { $( Code::$name => stringify!($name) ),* }
            }
        }
    };
}

codes! {
    // markpact §2–§11 errors
    InvalidEncoding, LimitExceeded, UnclosedFence, MalformedInfo, DuplicateAttribute,
    MissingPath, InvalidPath, AbsolutePath, PathTraversal, ReservedPath, DuplicatePath,
    PathConflict, DuplicateBlock, EmptyRun, InvalidTestLine, InvalidTarget, InvalidDependency,
    ManifestConflict, AmbiguousEcosystem, UnknownEcosystem, NoBlocks,
    // validation for running a service
    MissingRun, UnsupportedDependencies, UnsupportedTarget, MissingEnv,
    // ecosystem file (§12)
    CircularDependency, UnknownService, PortConflict, InvalidPort,
    /// The YAML is not well-formed or has the wrong shape.
    InvalidYaml,
    /// A key that the ecosystem file does not know.
    UnknownKey,
    /// A value of the right type but not allowed (bad name, bad path, zero replicas…).
    InvalidValue,
    /// A file that cannot be read.
    Io,
    /// A `${VAR}` whose variable is not set (a warning; an error for `${VAR:?message}`).
    UnsetVariable,
    /// A malformed `${…}` in the ecosystem file.
    InvalidInterpolation,
    /// An `env_file:` that does not exist.
    MissingEnvFile,
    // markpact warnings
    UnknownKind, UnknownAttribute, UnsupportedAttribute, ExtraWord, TagPosition,
    NestedBlockIgnored, UnknownScope, ScopeMismatch, EmptyDeps, CaseCollision,
    /// An explicit endpoint points at localhost, which is wrong across containers.
    LocalhostEndpoint,
    /// A service README comes from a registry and was not checked locally.
    RegistryReadme,
    /// A service turns off one of the hardened container defaults (`security:`).
    SecurityOptOut,
    /// A secret-looking value is written in clear in the ecosystem file.
    SecretInClear,
    /// A run block installs packages at start (`pip install`, `npm install`/`ci`); pactown runs
    /// the step at image build time, after the code, so it belongs in a deps block.
    InstallAtStart,
    /// A run block's server listens on 127.0.0.1/localhost only, unreachable from outside its
    /// container.
    LoopbackBind,
    /// A run block names a port other than the service's `port`.
    PortMismatch,
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem found in a README or an ecosystem file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Stable code, e.g. `PathTraversal`.
    pub code: Code,
    /// The file the problem is in (README or YAML), as the user named it.
    pub file: PathBuf,
    /// 1-based line; 0 when the problem concerns the whole file.
    pub line: usize,
    /// 1-based column, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Diagnostic {
    /// A new error diagnostic.
    pub fn error(
        code: Code,
        file: impl AsRef<Path>,
        line: usize,
        message: impl Into<String>,
    ) -> Self {
        Self {
            severity: Severity::Error,
            code,
            file: file.as_ref().to_path_buf(),
            line,
            column: None,
            message: message.into(),
            hint: None,
        }
    }

    /// A new warning diagnostic.
    pub fn warning(
        code: Code,
        file: impl AsRef<Path>,
        line: usize,
        message: impl Into<String>,
    ) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(code, file, line, message)
        }
    }

    /// Adds a hint on what to do.
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Adds a 1-based column.
    #[must_use]
    pub fn with_column(mut self, column: usize) -> Self {
        self.column = Some(column);
        self
    }

    /// True for errors.
    #[must_use]
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        write!(f, ": {sev}[{}]: {}", self.code, self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// A set of diagnostics, at least one of them an error when used as an `Err`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// Wraps one diagnostic.
    #[must_use]
    pub fn single(d: Diagnostic) -> Self {
        Self(vec![d])
    }

    /// Sorts by file then line (errors before warnings on the same line), the order they are shown in.
    pub fn sort(&mut self) {
        self.0.sort_by(|a, b| {
            (&a.file, a.line, a.severity, a.column).cmp(&(&b.file, b.line, b.severity, b.column))
        });
    }

    /// True when at least one diagnostic is an error.
    #[must_use]
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diagnostic::is_error)
    }

    /// The errors only.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(|d| d.is_error())
    }

    /// The warnings only.
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(|d| !d.is_error())
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Self::single(d)
    }
}
