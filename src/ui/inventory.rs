//! The `ls` table: [`crate::observe::inventory`] lists the ecosystems (plain data, also
//! `ls --json`), this renders them for people.
use crate::observe::inventory::EcosystemSummary;

/// `NAME TENANT SERVICES RUNNING STATE FILE`, one row per ecosystem.
#[must_use]
pub fn table(list: &[EcosystemSummary]) -> String {
    let mut rows =
        vec![["NAME", "TENANT", "SERVICES", "RUNNING", "STATE", "FILE"].map(String::from)];
    for e in list {
        rows.push([
            e.name.clone(),
            e.tenant.clone().unwrap_or_else(|| "-".into()),
            e.services.join(","),
            format!("{}/{}", e.running, e.containers),
            e.state.to_string(),
            e.file.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    crate::ui::table::render(&rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_has_one_row_per_ecosystem() {
        let list = vec![EcosystemSummary {
            name: "shop".into(),
            tenant: Some("acme".into()),
            file: Some("/srv/shop.pactown.yaml".into()),
            services: vec!["api".into(), "web".into()],
            containers: 3,
            running: 2,
            state: "partial",
        }];
        assert_eq!(
            table(&list),
            "NAME  TENANT  SERVICES  RUNNING  STATE    FILE\n\
             shop  acme    api,web   2/3      partial  /srv/shop.pactown.yaml\n"
        );
    }
}
