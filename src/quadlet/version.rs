//! Target Podman versions and what their Quadlet can express.
use std::fmt;
use std::str::FromStr;

/// A Podman `MAJOR.MINOR` version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PodmanVersion {
    /// Major version.
    pub major: u16,
    /// Minor version.
    pub minor: u16,
}

impl PodmanVersion {
    /// Quadlet first shipped in 4.4.
    pub const V4_4: Self = Self::new(4, 4);
    /// `HealthInterval=`, `HealthRetries=`, `HealthTimeout=`, `HealthStartPeriod=` and the
    /// `HealthStartup*=` keys (before: the `--health-*` flags in `PodmanArgs=`).
    pub const V4_5: Self = Self::new(4, 5);
    /// `Pull=`.
    pub const V4_6: Self = Self::new(4, 6);
    /// `PidsLimit=`, and `podman run --sdnotify=healthy`.
    pub const V4_7: Self = Self::new(4, 7);
    /// `Notify=healthy`.
    pub const V5_0: Self = Self::new(5, 0);
    /// `NetworkAlias=`.
    pub const V5_2: Self = Self::new(5, 2);
    /// The default target: widely deployed and has `Notify=healthy`.
    pub const DEFAULT: Self = Self::V5_0;

    /// A version.
    #[must_use]
    pub const fn new(major: u16, minor: u16) -> Self {
        Self { major, minor }
    }
}

impl Default for PodmanVersion {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl fmt::Display for PodmanVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// A `--podman-version` that is not `MAJOR[.MINOR[.PATCH]]` (clap prints it after the flag).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a version like 5.0 or 4.9.3")]
pub struct BadVersion(pub String);

impl FromStr for PodmanVersion {
    type Err = BadVersion;

    /// Parses `5`, `5.0` or `5.0.1` (the patch level is ignored).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.trim().trim_start_matches('v').split('.');
        let bad = || BadVersion(s.to_string());
        let num = |p: Option<&str>| -> Result<u16, BadVersion> {
            match p {
                None => Ok(0),
                Some(p) => p.parse::<u16>().map_err(|_| bad()),
            }
        };
        let major = match parts.next() {
            Some(p) if !p.is_empty() => num(Some(p))?,
            _ => return Err(bad()),
        };
        let minor = num(parts.next())?;
        let _patch = num(parts.next())?;
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(Self::new(major, minor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_orders() {
        assert_eq!(
            "4.9.3".parse::<PodmanVersion>(),
            Ok(PodmanVersion::new(4, 9))
        );
        assert_eq!("5".parse::<PodmanVersion>(), Ok(PodmanVersion::new(5, 0)));
        assert!("five".parse::<PodmanVersion>().is_err());
        assert!("1.2.3.4".parse::<PodmanVersion>().is_err());
        assert!(PodmanVersion::V4_7 < PodmanVersion::V5_0);
        assert!(PodmanVersion::new(4, 10) > PodmanVersion::V4_7);
    }
}
