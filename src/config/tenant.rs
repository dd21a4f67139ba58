//! Tenants: `--tenant NAME` runs a second copy of an ecosystem side by side. The copy is the same
//! ecosystem under another name (`<ecosystem>--<tenant>`), so it gets its own network (engine
//! DNS answers only inside one network, and bridge networks do not route to each other), its own
//! container and volume names, its own labels (plus `io.pactown.tenant`), and its own ports:
//! every service port moves by a fixed offset, derived from the tenant name unless given, so the
//! same tenant always gets the same ports.
use crate::config::{rules, Ecosystem};
use sha2::{Digest, Sha256};

/// The ecosystem name of a tenant's copy.
#[must_use]
pub fn tenant_name(ecosystem: &str, tenant: &str) -> String {
    format!("{ecosystem}--{tenant}")
}

/// The default port offset of a tenant: a multiple of 1000 between 1000 and 30000, from the
/// sha256 of its name (stable across runs and machines).
#[must_use]
pub fn default_offset(tenant: &str) -> u16 {
    let digest = Sha256::digest(tenant.as_bytes());
    let k = u16::from(digest.first().copied().unwrap_or(0)) % 30;
    1000 * (k + 1)
}

/// A `--tenant` that cannot be run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TenantError {
    /// The name cannot be part of container, network and DNS names.
    #[error(
        "tenant name `{0}` is not valid: use lowercase letters, digits and single `-`, \
         starting with a letter or digit, at most 30 characters"
    )]
    BadName(String),
    /// A port moved by the tenant's offset would pass 65535.
    #[error(
        "{what} {port} + tenant port offset {offset} is above 65535; pass a smaller --port-offset"
    )]
    PortOverflow {
        /// `base_port` or ``port of `SERVICE` ``.
        what: String,
        /// The port in the ecosystem file.
        port: u16,
        /// The tenant's offset.
        offset: u16,
    },
}

/// Checks a tenant name: it becomes part of container, network and DNS names.
///
/// # Errors
/// [`TenantError::BadName`], saying what is allowed.
pub fn check_name(tenant: &str) -> Result<(), TenantError> {
    if rules::is_service_name(tenant) && tenant.len() <= 30 && !tenant.contains("--") {
        Ok(())
    } else {
        Err(TenantError::BadName(tenant.to_string()))
    }
}

/// The tenant's copy of `eco`: renamed, its network renamed, and every port moved by `offset`
/// (default [`default_offset`]).
///
/// # Errors
/// [`TenantError`]: a bad tenant name, or a port that would pass 65535.
pub fn apply(
    mut eco: Ecosystem,
    tenant: &str,
    offset: Option<u16>,
) -> Result<Ecosystem, TenantError> {
    check_name(tenant)?;
    let offset = offset.unwrap_or_else(|| default_offset(tenant));
    eco.name = tenant_name(&eco.name, tenant);
    eco.network = eco.network.map(|n| tenant_name(&n, tenant));
    eco.tenant = Some(tenant.to_string());
    let shift = |p: u16, what: &str| {
        p.checked_add(offset)
            .ok_or_else(|| TenantError::PortOverflow {
                what: what.to_string(),
                port: p,
                offset,
            })
    };
    eco.base_port = shift(eco.base_port, "base_port")?;
    for s in &mut eco.services {
        if let Some(p) = s.port {
            s.port = Some(shift(p, &format!("port of `{}`", s.name))?);
        }
    }
    Ok(eco)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_are_renamed_and_moved_deterministically() {
        let eco = crate::config::parse(
            std::path::Path::new("t.pactown.yaml"),
            "name: shop\nservices:\n  api:\n    port: 8100\n  web:\n    port: 8101\n    depends_on: [api]\n",
        )
        .unwrap();
        let a = apply(eco.clone(), "acme", Some(1000)).unwrap();
        assert_eq!(a.name, "shop--acme");
        assert_eq!(a.network_name(), "pactown-shop--acme");
        assert_eq!(a.tenant.as_deref(), Some("acme"));
        assert_eq!(a.services[0].port, Some(9100));
        assert_eq!(a.services[1].port, Some(9101));
        let d = default_offset("acme");
        assert_eq!(d, default_offset("acme"));
        assert!((1000..=30_000).contains(&d) && d % 1000 == 0);
        assert_eq!(
            apply(eco.clone(), "Bad_Name", None).unwrap_err(),
            TenantError::BadName("Bad_Name".into())
        );
        assert_eq!(
            apply(eco, "x", Some(60_000)).unwrap_err().to_string(),
            "base_port 8000 + tenant port offset 60000 is above 65535; pass a smaller --port-offset"
        );
    }
}
