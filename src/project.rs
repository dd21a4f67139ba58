//! A loaded project: the ecosystem file, its dependency graph and every service's parsed README.
use crate::config::{self, Ecosystem, ReadmeSource};
use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::graph::{self, DependencyGraph};
use crate::markpact::{self, Markpact};
use crate::registry;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// Everything `validate`, `build` and `up` need before touching an engine.
#[derive(Debug, Clone)]
pub struct Project {
    /// The ecosystem file.
    pub ecosystem: Ecosystem,
    /// Its dependency graph.
    pub graph: DependencyGraph,
    /// Parsed README per service name.
    pub docs: BTreeMap<String, Markpact>,
    /// Warnings from the file and the READMEs.
    pub warnings: Vec<Diagnostic>,
    /// Secret-looking values substituted into the file outside `env:` (masked in output).
    pub interpolated_secrets: Vec<String>,
}

impl Project {
    /// Number of distinct local README files that were parsed.
    #[must_use]
    pub fn readme_count(&self) -> usize {
        let mut paths: Vec<&Path> = self.docs.values().map(|d| d.path.as_path()).collect();
        paths.sort();
        paths.dedup();
        paths.len()
    }
}

/// What [`load_with`] does with a `registry:` README that is not pulled yet (no entry in
/// `pactown.lock`, or its vendored file is missing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unpulled {
    /// A warning; the service has no parsed README (`validate`, `export`, `quadlet`, which can
    /// be told an image instead).
    Warn,
    /// An error telling to run `pactown pull` (`up`, `build`: they need every README).
    Fail,
}

/// Loads and validates an ecosystem file and every README it names, reporting all problems at
/// once (errors sorted by file and line). READMEs from a registry are read from the vendor
/// folder written by `pactown pull`; one that is not pulled yet is a warning
/// ([`Unpulled::Warn`]).
///
/// # Errors
/// Every error found (with the warnings next to them); nothing is written.
pub fn load(path: &Path) -> Result<Project, Diagnostics> {
    load_with(path, Unpulled::Warn)
}

/// [`load`], choosing what a `registry:` README that is not pulled yet is. A vendored README
/// that does not match its sha256 in `pactown.lock`, or an unreadable lock file, is an error
/// either way.
///
/// # Errors
/// Every error found (with the warnings next to them); nothing is written.
pub fn load_with(path: &Path, unpulled: Unpulled) -> Result<Project, Diagnostics> {
    let text = config::read_text(path)?;
    let partial = config::parse_partial(path, &text);
    let mut diags = partial.diagnostics.0;
    let interpolated_secrets = partial.secret_values;
    let Some(eco) = partial.ecosystem else {
        return Err(finish(path, diags));
    };

    let graph = match graph::resolve(&eco) {
        Ok(g) => Some(g),
        Err(d) => {
            diags.extend(d.0);
            None
        }
    };
    diags.extend(graph::endpoint_warnings(&eco));
    let envs = graph::injected_env_all(&eco);
    let vendored = vendored_readmes(&eco, &partial.bad_readmes, unpulled, &mut diags);

    // Parse each distinct README once, even when several services share it.
    let mut parsed: HashMap<PathBuf, Option<Markpact>> = HashMap::new();
    let mut docs = BTreeMap::new();
    for svc in &eco.services {
        if svc.target != "web" {
            diags.push(
                Diagnostic::error(
                    Code::UnsupportedTarget,
                    &eco.file,
                    svc.line,
                    format!(
                        "service `{}` has target `{}`; pactown runs web services only",
                        svc.name, svc.target
                    ),
                )
                .with_hint("remove `target:` or set it to `web`"),
            );
        }
        if partial.bad_readmes.contains(&svc.name) {
            continue;
        }
        let readme = match &svc.readme {
            ReadmeSource::Local { path, .. } => path,
            ReadmeSource::Registry { .. } => match vendored.get(&svc.name) {
                Some(path) => path,
                None => continue,
            },
        };
        let first_time = !parsed.contains_key(readme);
        let entry =
            parsed
                .entry(readme.clone())
                .or_insert_with(|| match markpact::parse_file(readme) {
                    Ok(doc) => Some(doc),
                    Err(d) => {
                        diags.extend(d.0);
                        None
                    }
                });
        let Some(doc) = entry else { continue };
        if first_time {
            diags.extend(doc.warnings.iter().cloned());
            diags.extend(markpact::validate(doc));
        }
        if let Some(env) = envs.get(&svc.name) {
            diags.extend(markpact::missing_env(doc, &|name| env.contains_key(name)));
        }
        diags.extend(markpact::listen_warnings(doc, &svc.name, svc.port));
        docs.insert(svc.name.clone(), doc.clone());
    }

    let all = finish(path, diags);
    match graph {
        Some(graph) if !all.has_errors() => Ok(Project {
            ecosystem: eco,
            graph,
            docs,
            warnings: all.0,
            interpolated_secrets,
        }),
        _ => Err(all),
    }
}

/// One README run without an ecosystem file (`pactown run`): what the one service is.
#[derive(Debug, Clone, Default)]
pub struct SingleService {
    /// The port it listens on and is published on (`-p`); `None` with [`SingleService::job`].
    pub port: Option<u16>,
    /// Extra environment (`-e K=V`), applied last.
    pub env: BTreeMap<String, String>,
    /// Run it once to completion (`--once`): a job.
    pub job: bool,
}

/// The port a README run alone listens on when `-p` is not given (spec §10's default
/// `MARKPACT_PORT`).
pub const SINGLE_DEFAULT_PORT: u16 = 8000;

/// The project of one README run without an ecosystem file: an ecosystem `run-<name>-<hash>`
/// (name from the README's folder, hash of its absolute path, so two READMEs never share
/// containers and the same README always gets the same name) with one service `<name>` of the
/// ecosystem-file defaults (hardening included), on `service.port`.
///
/// # Errors
/// The README's parse and validation errors; an `Io` error when it cannot be read.
pub fn single(readme: &Path, service: &SingleService) -> Result<Project, Diagnostics> {
    let doc = markpact::parse_file(readme)?;
    let abs = std::fs::canonicalize(readme).unwrap_or_else(|_| readme.to_path_buf());
    let stem = abs
        .parent()
        .and_then(Path::file_name)
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "app".to_string());
    let name = config::rules::sanitize_name(&stem);
    let name: String = name.chars().take(40).collect();
    let name = name.trim_end_matches('-').to_string();
    let digest = crate::image::cache_key::digest(abs.to_string_lossy().as_bytes());
    let hash: String = crate::image::cache_key::short(&digest)
        .chars()
        .take(8)
        .collect();
    let dir = abs
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let mut spec = config::ServiceSpec::with_defaults(
        &name,
        if service.job {
            None
        } else {
            Some(service.port.unwrap_or(SINGLE_DEFAULT_PORT))
        },
        abs.clone(),
    );
    spec.readme = ReadmeSource::Local {
        relative: abs
            .file_name()
            .map_or_else(|| "README.md".into(), |n| n.to_string_lossy().into_owned()),
        path: abs.clone(),
    };
    spec.env.clone_from(&service.env);
    if service.job {
        spec.kind = config::ServiceKind::Job;
        spec.auto_restart = false;
    }
    let eco = Ecosystem {
        file: abs.clone(),
        dir: dir.clone(),
        name: format!("run-{name}-{hash}"),
        version: "0.1.0".into(),
        description: None,
        base_port: SINGLE_DEFAULT_PORT,
        sandbox_root: dir.join(".pactown-sandboxes"),
        network: None,
        registry: None,
        build: config::BuildSettings::default(),
        engine: None,
        profiles: BTreeMap::new(),
        env_file: None,
        tenant: None,
        ingress: None,
        services: vec![spec],
    };
    let mut diags: Vec<Diagnostic> = doc.warnings.clone();
    diags.extend(markpact::validate(&doc));
    diags.extend(markpact::listen_warnings(&doc, &name, eco.services[0].port));
    let envs = graph::injected_env_all(&eco);
    if let Some(env) = envs.get(&name) {
        diags.extend(markpact::missing_env(&doc, &|n| env.contains_key(n)));
    }
    let all = finish(&abs, diags);
    if all.has_errors() {
        return Err(all);
    }
    let graph = graph::resolve(&eco)?;
    Ok(Project {
        docs: BTreeMap::from([(name, doc)]),
        ecosystem: eco,
        graph,
        warnings: all.0,
        interpolated_secrets: Vec::new(),
    })
}

/// The vendored README of every `registry:` service that is pulled, by service name. For the
/// others: a warning or an error (per `unpulled`) when not pulled yet, the lock file's own errors
/// when the vendored file does not match it.
fn vendored_readmes(
    eco: &Ecosystem,
    skip: &BTreeSet<String>,
    unpulled: Unpulled,
    diags: &mut Vec<Diagnostic>,
) -> BTreeMap<String, PathBuf> {
    let wanted = |s: &&config::ServiceSpec| {
        matches!(s.readme, ReadmeSource::Registry { .. }) && !skip.contains(&s.name)
    };
    if !eco.services.iter().any(|s| wanted(&s)) {
        return BTreeMap::new();
    }
    // Fast path: everything pulled and intact.
    if let Ok(all) = registry::resolve_vendor(eco) {
        return all;
    }
    // Something is missing: resolve service by service to tell which.
    let lock = registry::lock::read_lock(&registry::lock::lock_path(eco)).ok();
    let mut found = BTreeMap::new();
    for svc in eco.services.iter().filter(wanted) {
        let ReadmeSource::Registry {
            namespace,
            name,
            version,
        } = &svc.readme
        else {
            continue;
        };
        let mut one = eco.clone();
        one.services = vec![svc.clone()];
        let errors = match registry::resolve_vendor(&one) {
            Ok(mut map) => {
                if let Some(p) = map.remove(&svc.name) {
                    found.insert(svc.name.clone(), p);
                }
                continue;
            }
            Err(d) => d.0,
        };
        let pulled = lock
            .as_ref()
            .and_then(|l| l.find(namespace, name, version))
            .is_some_and(|e| eco.dir.join(&e.path).is_file());
        if pulled || unpulled == Unpulled::Fail || lock.is_none() {
            diags.extend(errors);
            continue;
        }
        diags.push(
            Diagnostic::warning(
                Code::RegistryReadme,
                &eco.file,
                svc.line,
                format!(
                    "README of `{}` comes from the registry ({namespace}/{name}@{version}), is not pulled yet and was not checked",
                    svc.name
                ),
            )
            .with_hint(format!(
                "run `pactown pull {}` (`up` and `build` need it)",
                eco.file.display()
            )),
        );
    }
    found
}

/// Sorted for reading: the ecosystem file's own problems first, then each README's, each by
/// line (errors before warnings on a line).
fn finish(eco_file: &Path, diags: Vec<Diagnostic>) -> Diagnostics {
    let mut d = Diagnostics(diags);
    d.0.sort_by(|a, b| {
        (a.file != eco_file, &a.file, a.line, a.severity, a.column).cmp(&(
            b.file != eco_file,
            &b.file,
            b.line,
            b.severity,
            b.column,
        ))
    });
    d.0.dedup();
    d
}

/// Which copy of a project runs: the file's own, or a tenant's (`--tenant`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunAs {
    /// Tenant name.
    pub tenant: Option<String>,
    /// Port offset of the tenant's copy (default: derived from the name).
    pub port_offset: Option<u16>,
    /// `pactown -p NAME`: replaces the file's `name:` (before the tenant is applied).
    pub project_name: Option<String>,
}

/// Why a project cannot run.
#[derive(Debug, thiserror::Error)]
pub enum RunLoadError {
    /// The file or a README is invalid (or a `registry:` README is not pulled).
    #[error("{0}")]
    Invalid(Diagnostics),
    /// The tenant name or its ports do not work.
    #[error(transparent)]
    Tenant(#[from] crate::config::tenant::TenantError),
    /// A secret could not be resolved.
    #[error(transparent)]
    Secret(#[from] crate::secrets::SecretError),
}

/// Loads `path` for running it, the one policy of `up`, watch mode and `run`: every README
/// must be there ([`Unpulled::Fail`]), the tenant's copy replaces the file's ecosystem, and
/// `${VAR}` references and secrets are resolved from the process environment. The secret values
/// to mask in output are [`secret_values`].
///
/// # Errors
/// [`RunLoadError`].
pub fn load_for_run(path: &Path, run_as: &RunAs) -> Result<Project, RunLoadError> {
    let mut project = load_with(path, Unpulled::Fail).map_err(RunLoadError::Invalid)?;
    if let Some(name) = &run_as.project_name {
        project.ecosystem.name.clone_from(name);
    }
    if let Some(t) = &run_as.tenant {
        project.ecosystem = crate::config::tenant::apply(project.ecosystem, t, run_as.port_offset)?;
    }
    let process_env: BTreeMap<String, String> = std::env::vars().collect();
    crate::secrets::resolve(&mut project.ecosystem, &process_env)?;
    Ok(project)
}

/// Every secret value of the project's services (to mask in everything printed).
#[must_use]
pub fn secret_values(project: &Project) -> Vec<String> {
    let mut values: Vec<String> = project
        .ecosystem
        .services
        .iter()
        .flat_map(crate::secrets::secret_values)
        .collect();
    values.extend(project.interpolated_secrets.iter().cloned());
    values
}
