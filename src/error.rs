//! The top-level error of pactown commands and its exit code.
use crate::diagnostic::Diagnostics;

/// Everything a command can fail with. Library modules have their own error types; this one
/// wraps them at the command boundary and decides the exit code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Invalid README or ecosystem file (exit code 2).
    #[error("{0}")]
    Invalid(Diagnostics),
    /// A container engine failed or is not reachable.
    #[error(transparent)]
    Engine(#[from] crate::engine::EngineError),
    /// An image build failed.
    #[error(transparent)]
    Build(#[from] crate::image::BuildError),
    /// Pushing images failed (exit code 75 when transient, 2 for usage, else 1).
    #[error(transparent)]
    Push(crate::image::push::ImagePushError),
    /// An export could not be generated or written (exit code 2 for values that cannot be
    /// expressed, 1 otherwise).
    #[error(transparent)]
    Export(#[from] crate::export::ExportError),
    /// `quadlet install` failed (and rolled back where it had changed something).
    #[error(transparent)]
    Install(#[from] crate::quadlet::install::InstallError),
    /// `pactown test` could not run (exit code 2 for an unknown service).
    #[error(transparent)]
    Suite(#[from] crate::suite::SuiteError),
    /// Deploying failed (a service is not healthy, a watcher, a restart).
    #[error(transparent)]
    Deploy(#[from] crate::deploy::error::DeployError),
    /// The project cannot run as asked (tenant, secrets).
    #[error(transparent)]
    Project(crate::project::RunLoadError),
    /// A service did not become healthy in time (exit code 3).
    #[error("{0}")]
    Readiness(String),
    /// A file-system problem, with what was being done.
    #[error("{context}: {source}")]
    Io {
        /// What pactown was doing.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// `--tenant` / `--port-offset` cannot be applied.
    #[error(transparent)]
    Tenant(#[from] crate::config::tenant::TenantError),
    /// `${VAR}` references or env files cannot be resolved.
    #[error(transparent)]
    Secret(#[from] crate::secrets::SecretError),
    /// A `build --metadata-file` file (`export --images FILE`) is unreadable or wrong.
    #[error(transparent)]
    Metadata(#[from] crate::image::push::MetadataError),
    /// `images bootstrap` failed (debootstrap, tar, or the engine's import).
    #[error(transparent)]
    Bootstrap(#[from] crate::image::bootstrap::BootstrapError),
    /// The registry client could not be set up.
    #[error(transparent)]
    Client(#[from] crate::registry::client::ClientError),
    /// `pull` failed (the lock file is written only when every reference succeeded).
    #[error(transparent)]
    Pull(#[from] crate::registry::pull::PullError),
    /// `registry serve --token-file`: the file is unreadable or malformed.
    #[error(transparent)]
    TokenFile(#[from] crate::registry::auth::TokenFileError),
    /// `registry serve` could not start (address in use, storage unreadable).
    #[error(transparent)]
    Serve(#[from] crate::registry::server::ServeError),
    /// `--json` output could not be encoded.
    #[error("cannot {what}: {source}")]
    Json {
        /// What was being done (`write JSON`, `encode the graph as JSON`).
        what: &'static str,
        /// The encoder's error.
        source: serde_json::Error,
    },
    /// A command asked for something pactown will not do as asked; the message says what to
    /// pass or do instead.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// Output could not be encoded as YAML.
    #[error("cannot {what}: {source}")]
    Yaml {
        /// What was being done.
        what: &'static str,
        /// The encoder's error.
        source: serde_yaml::Error,
    },
    /// `pactown exec` on a service that does not run.
    #[error(transparent)]
    Exec(crate::observe::exec::ExecError),
    /// `-p/--project-name` that cannot be an ecosystem name.
    #[error(transparent)]
    ProjectName(#[from] crate::config::ProjectNameError),
}

/// What a command's arguments or surroundings ask for that cannot be done; each message names
/// the flag, file or variable and what to do instead. (Exit code 1, as before these were typed.)
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// A service name that the ecosystem file does not define.
    #[error("`{service}` is not a service of {file}")]
    UnknownService {
        /// The name given.
        service: String,
        /// The ecosystem file.
        file: String,
    },
    /// `pactown watch --detach`.
    #[error("`pactown watch` runs in the foreground; drop --detach")]
    WatchDetached,
    /// `init --name` that cannot be an ecosystem name.
    #[error(
        "`{name}` is not a valid ecosystem name; use lowercase letters, digits and `-`, e.g. `{suggestion}`"
    )]
    EcosystemName {
        /// The name given.
        name: String,
        /// A valid name made from it.
        suggestion: String,
    },
    /// `init --base-port` outside 1024..65533.
    #[error("--base-port {0} leaves no room for two services; use 1024..65533")]
    BasePort(u16),
    /// `init` into a folder that has some of the files already.
    #[error(
        "refusing to overwrite existing files: {}; choose an empty folder (`pactown init NEW_DIR`)",
        .0.join(", ")
    )]
    WouldOverwrite(Vec<String>),
    /// A file `generate` would write exists.
    #[error("{} already exists; pass --force to overwrite it", .0.display())]
    Exists(std::path::PathBuf),
    /// `registry serve --rate-limit` negative or not a number.
    #[error("--rate-limit {0} must be a number >= 0")]
    RateLimit(f64),
    /// `registry serve --token-file` readable or writable by others.
    #[error(
        "token file {} has mode {mode:03o}: other users can read or change the registry's write tokens; run `chmod 600 {}` (or pass --allow-readable-token-file)",
        path.display(),
        path.display()
    )]
    TokenFileMode {
        /// The token file.
        path: std::path::PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// `publish`: some services could not be published (each was reported above).
    #[error("{failed} of {total} publishes failed")]
    PublishesFailed {
        /// How many failed.
        failed: usize,
        /// How many were tried.
        total: usize,
    },
    /// `images bootstrap --tag` that is not an image reference.
    #[error("--tag {0:?} is not an image reference (NAME[:TAG], lowercase name)")]
    ImageTag(String),
    /// `--image` without `=`.
    #[error("--image `{0}`: expected SERVICE=REF")]
    ImageOverride(String),
    /// `--image SERVICE=REF` for a service the ecosystem does not have.
    #[error("--image `{arg}`: no service `{service}` in {}", file.display())]
    ImageOverrideService {
        /// The argument as given.
        arg: String,
        /// Its service part.
        service: String,
        /// The ecosystem file.
        file: std::path::PathBuf,
    },
    /// An export needs the image of a service whose README is not pulled yet.
    #[error(
        "service `{0}`: its README comes from the registry; pull it first or pass --image {0}=REF"
    )]
    UnpulledReadme(String),
    /// `export --images FILE` without an entry for a service.
    #[error(
        "{}: no image of service `{service}` (the file is from ecosystem `{ecosystem}`); push it with `pactown build {} --push --metadata-file …`",
        images_file.display(),
        ecosystem_file.display()
    )]
    NoPushedImage {
        /// The metadata file.
        images_file: std::path::PathBuf,
        /// The service.
        service: String,
        /// The ecosystem the metadata file was written for.
        ecosystem: String,
        /// This project's ecosystem file.
        ecosystem_file: std::path::PathBuf,
    },
    /// `export quadlet --auto-update` without registry images.
    #[error("--auto-update needs --images FILE (registry images; local ones cannot be updated)")]
    AutoUpdateNeedsImages,
    /// `quadlet install` (user scope) without `HOME`.
    #[error("HOME is not set; cannot find the user's unit folder")]
    NoHome,
    /// `quadlet install` (user scope) without `XDG_RUNTIME_DIR`.
    #[error(
        "XDG_RUNTIME_DIR is not set, so `systemctl --user` cannot reach your systemd: log in as the user (ssh, `machinectl shell USER@`) instead of `su`, or set XDG_RUNTIME_DIR=/run/user/$(id -u)"
    )]
    NoXdgRuntimeDir,
    /// `HOME` and `XDG_STATE_HOME` are both unset (user-scope state).
    #[error("HOME is not set; cannot find the user's state folder")]
    NoStateHome,
    /// `ingress ca` on an ecosystem file without `ingress:`.
    #[error(
        "{} has no `ingress:`; add `ingress: {{tls: internal}}` and an `expose:` to a service",
        .0.display()
    )]
    NoIngress(std::path::PathBuf),
    /// `ingress ca` on an ingress that has no local CA (`tls: acme` or `off`).
    #[error("the ingress of {ecosystem} uses `tls: {tls}`: there is no local CA to trust ({why})")]
    NoLocalCa {
        /// Ecosystem name.
        ecosystem: String,
        /// Its TLS mode.
        tls: String,
        /// Where its certificates come from instead.
        why: &'static str,
    },
    /// The local CA file does not exist (yet).
    #[error(
        "no local CA at {}: Caddy creates it when {unit} first starts; is it running? (`{systemctl} status {unit}`{hint})",
        path.display()
    )]
    LocalCaMissing {
        /// Where it was looked for.
        path: std::path::PathBuf,
        /// The ingress unit.
        unit: String,
        /// `systemctl` or `systemctl --user`.
        systemctl: &'static str,
        /// A hint about `--system`, or empty.
        hint: &'static str,
    },
    /// The system ingress's CA readable by root only.
    #[error(
        "cannot read {}: the system ingress keeps its CA readable by root only; run `sudo pactown ingress ca --system`",
        .0.display()
    )]
    LocalCaRootOnly(std::path::PathBuf),
    /// `ingress ca --engine` without an ingress container of `up`.
    #[error("ecosystem {0} has no ingress container on this engine: run `pactown up` first (or pass --user/--system for Quadlet units)")]
    NoIngressContainer(String),
    /// The ingress container has no local CA (yet).
    #[error("no local CA at {at}: {message}. Caddy creates it when the ingress starts; is it running (`pactown status`, `pactown logs`)?")]
    ContainerCaMissing {
        /// Path and container.
        at: String,
        /// What `cat` said.
        message: String,
    },
    /// The local CA file is not a PEM certificate.
    #[error("{} is not a PEM certificate; remove it and restart {unit} to make a new CA", path.display())]
    LocalCaNotPem {
        /// The file.
        path: std::path::PathBuf,
        /// The ingress unit.
        unit: String,
    },
    /// `quadlet install` of an ingress without the host's Caddy.
    #[error(
        "`ingress:` runs Caddy from the host, and {0} does not exist: install Debian's package (`sudo apt-get install caddy`, then `sudo systemctl disable --now caddy`: pactown runs its own instance per ecosystem)"
    )]
    NoCaddy(String),
    /// A rootless ingress on a port below the host's unprivileged port start.
    #[error(
        "a rootless ingress cannot bind port {port}: this host lets users bind ports from {lowest} up. Run `sudo sysctl net.ipv4.ip_unprivileged_port_start={port}` (and put it in /etc/sysctl.d/ to keep it), install with --system, or set `ingress: {{http_port: 8080, https_port: 8443}}`"
    )]
    PrivilegedPort {
        /// The lowest port asked for.
        port: u16,
        /// The lowest port users may bind.
        lowest: u16,
    },
    /// `run README.md CMD…`: a command given with a README.
    #[error("`run {0}` runs that README as a service and takes no command; to run a command in a service's one-off container name the service: `pactown -f FILE run SERVICE -- CMD…`")]
    RunReadmeCommand(String),
    /// `run SERVICE` with a flag that only applies to `run README.md`.
    #[error("{flag} applies to `run README.md`, not to a one-off command in service `{service}`")]
    RunServiceFlag {
        /// The flag.
        flag: &'static str,
        /// The service named.
        service: String,
    },
    /// `up --no-deps` without a service.
    #[error("--no-deps needs the services to start: `pactown up SERVICE… --no-deps -d`")]
    NoDepsWithoutServices,
    /// `up SERVICE…` in the foreground or with `--watch`.
    #[error(
        "`up {0}` starts part of the ecosystem and runs detached only: add -d (Ctrl+C in the foreground and watch mode act on the whole ecosystem)"
    )]
    ServicesNeedDetach(String),
    /// `pactown -f A COMMAND B`: two different ecosystem files.
    #[error(
        "-f {} and the FILE argument {} name different ecosystem files; pass one of them",
        flag.display(),
        argument.display()
    )]
    TwoFiles {
        /// The file of `-f`.
        flag: std::path::PathBuf,
        /// The command's FILE argument.
        argument: std::path::PathBuf,
    },
    /// `-p A` and `--name B`.
    #[error("-p/--project-name {project} and --name {name} differ; pass one of them")]
    TwoNames {
        /// `--name`.
        name: String,
        /// `-p`.
        project: String,
    },
    /// A lifecycle command on an ecosystem file whose name cannot be read.
    #[error("cannot read the ecosystem name from {}; pass it with --name", .0.display())]
    NoEcosystemName(std::path::PathBuf),
}

impl Error {
    /// Exit code documented in README: 1 error, 2 invalid input/usage, 3 readiness time-out,
    /// 75 transient push failure (registry unreachable, 5xx, time-out: retry).
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Invalid(_)
            | Error::ProjectName(_)
            | Error::Request(
                RequestError::TwoFiles { .. }
                | RequestError::TwoNames { .. }
                | RequestError::ServicesNeedDetach(_)
                | RequestError::NoDepsWithoutServices
                | RequestError::RunReadmeCommand(_)
                | RequestError::RunServiceFlag { .. },
            ) => 2,
            Error::Readiness(_) => 3,
            Error::Suite(crate::suite::SuiteError::UnknownService { .. })
            | Error::Deploy(crate::deploy::error::DeployError::UnknownService { .. }) => 2,
            Error::Push(p) => p.exit_code(),
            Error::Export(
                crate::export::ExportError::Unsafe { .. }
                | crate::export::ExportError::Unsupported { .. }
                | crate::export::ExportError::MissingImage { .. },
            ) => 2,
            _ => 1,
        }
    }

    /// `--json` output that could not be encoded (`what`: `write JSON`, …).
    pub fn json(what: &'static str) -> impl FnOnce(serde_json::Error) -> Self {
        move |source| Error::Json { what, source }
    }

    /// Wraps an IO error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

impl From<Diagnostics> for Error {
    fn from(d: Diagnostics) -> Self {
        Error::Invalid(d)
    }
}

/// Result alias for command-level code.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<crate::project::RunLoadError> for Error {
    fn from(e: crate::project::RunLoadError) -> Self {
        match e {
            crate::project::RunLoadError::Invalid(d) => Error::Invalid(d),
            other => Error::Project(other),
        }
    }
}
