//! The arguments that name a running ecosystem — its file or name, a tenant, the engine — shared
//! by the commands that look at or remove one without building it (`status`, `logs`, `events`,
//! `down`, `stop`, `start`, `exec`). `-f FILE` and `-p NAME` before the command apply here too.
use super::Globals;
use crate::config::EngineChoice;
use crate::deploy::Target;
use crate::engine::Engine;
use crate::error::Error;
use std::path::PathBuf;
use std::sync::Arc;

/// Which ecosystem, which tenant's copy of it, on which engine.
#[derive(Debug, clap::Args)]
pub struct TargetArgs {
    /// The ecosystem file (default: `-f`/`PACTOWN_FILE`, else the only `*.pactown.yaml` in the
    /// current folder).
    pub file: Option<PathBuf>,
    /// The ecosystem name, when the file cannot be read.
    #[arg(long)]
    pub name: Option<String>,
    /// Address the side-by-side copy of this tenant (`up --tenant`).
    #[arg(long, value_name = "NAME", env = "PACTOWN_TENANT")]
    pub tenant: Option<String>,
    /// Container engine.
    #[arg(long, env = "PACTOWN_ENGINE", value_enum)]
    pub engine: Option<EngineChoice>,
}

impl TargetArgs {
    /// The named ecosystem (with the tenant applied) and a connection to its engine.
    ///
    /// # Errors
    /// No ecosystem name, a bad tenant name, no engine.
    pub async fn connect(&self, globals: &Globals) -> Result<(Target, Arc<dyn Engine>), Error> {
        let target = self.target(globals)?;
        let engine = crate::deploy::connect(self.engine, target.ecosystem.as_ref()).await?;
        Ok((target, engine))
    }

    /// The named ecosystem (with `-f`/`-p` and the tenant applied), without an engine.
    ///
    /// # Errors
    /// No ecosystem name, a bad project or tenant name, two different files or names.
    pub fn target(&self, globals: &Globals) -> Result<Target, Error> {
        let file = globals.file(self.file.as_deref())?;
        let name = globals.name(self.name.as_deref())?;
        let mut target = crate::deploy::target(file.as_deref(), name.as_deref())?;
        if let Some(eco) = target.ecosystem.as_mut() {
            eco.name.clone_from(&target.name);
        }
        target.with_tenant(self.tenant.as_deref(), None)
    }
}
