//! Turns the positioned YAML tree into an [`Ecosystem`], applying defaults and collecting every
//! problem (spec §12) instead of stopping at the first.
use super::ingress::{self, Expose, Ingress, TlsMode, INGRESS_SERVICE};
use super::model::{
    BuildSettings, DependsOn, Ecosystem, EndpointMode, EngineChoice, ReadmeSource, RegistryConfig,
    Resources, Security, ServiceKind, ServiceSpec,
};
use super::rules;
use super::yaml::{self, Kind, Node};
use crate::diagnostic::{Code, Diagnostic};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// Keys of the top-level mapping.
pub(crate) const TOP_KEYS: &[&str] = &[
    "name",
    "version",
    "description",
    "base_port",
    "sandbox_root",
    "network",
    "registry",
    "build",
    "images",
    "engine",
    "profiles",
    "env_file",
    "ingress",
    "services",
];
/// Keys of `resources:` and of each entry of `profiles:`.
pub(crate) const RESOURCE_KEYS: &[&str] = &["cpus", "memory", "pids"];
/// Keys of a service's `security:`.
pub(crate) const SECURITY_KEYS: &[&str] = &[
    "read_only",
    "no_new_privileges",
    "drop_capabilities",
    "non_root",
    "cap_add",
];
/// Keys of `registry:`.
pub(crate) const REGISTRY_KEYS: &[&str] = &["url", "namespace"];
/// Keys of `images:`.
pub(crate) const IMAGES_KEYS: &[&str] = &["repo"];
/// Keys of `build:`.
pub(crate) const BUILD_KEYS: &[&str] = &["ca_bundle"];
/// Keys of a service. `sandbox_path` is accepted for compatibility with the reference and ignored.
pub(crate) const SERVICE_KEYS: &[&str] = &[
    "readme",
    "kind",
    "port",
    "health_check",
    "health_cmd",
    "timeout",
    "replicas",
    "endpoint_mode",
    "auto_restart",
    "env",
    "depends_on",
    "target",
    "framework",
    "build_cmd",
    "build_targets",
    "sandbox_path",
    "security",
    "resources",
    "profile",
    "volumes",
    "env_file",
    "expose",
];
/// Keys of `ingress:`.
pub(crate) const INGRESS_KEYS: &[&str] = &["tls", "email", "acme_ca", "http_port", "https_port"];
/// Keys of a service's `expose:`.
pub(crate) const EXPOSE_KEYS: &[&str] = &["host", "path"];
/// Keys of a `depends_on` mapping entry.
pub(crate) const DEPENDS_KEYS: &[&str] = &["name", "env_var", "endpoint"];

/// Default registry URL when `registry:` omits `url`.
const DEFAULT_REGISTRY_URL: &str = "http://localhost:8800";

/// The result of reading a file: the model when the document had a usable shape (possibly with
/// errors in some values, which then got defaults), every diagnostic, and the services whose
/// `readme:` is invalid (so the project loader does not also try to read them).
#[derive(Debug, Clone)]
pub(crate) struct Read {
    /// The model, `None` when the YAML is unusable.
    pub ecosystem: Option<Ecosystem>,
    /// Errors and warnings, unsorted.
    pub diagnostics: Vec<Diagnostic>,
    /// Names of services whose README location is invalid.
    pub bad_readmes: BTreeSet<String>,
    /// Values of secret-looking variables substituted outside `env:` (for masking).
    pub secret_values: Vec<String>,
}

struct Ctx<'a> {
    file: &'a Path,
    diags: Vec<Diagnostic>,
}

impl Ctx<'_> {
    fn hint(
        &mut self,
        code: Code,
        node: &Node,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.diags.push(
            Diagnostic::error(code, self.file, node.line, message)
                .with_column(node.col)
                .with_hint(hint),
        );
    }

    fn wrong_type(&mut self, what: &str, expected: &str, node: &Node) {
        // Key paths are quoted; descriptions ("the ecosystem file") are not.
        let what = if what.contains(' ') {
            what.to_string()
        } else {
            format!("`{what}`")
        };
        self.hint(
            Code::InvalidYaml,
            node,
            format!("{what} must be {expected}, found {}", node.type_name()),
            format!("write {what} as {expected}"),
        );
    }

    /// A mapping's entries, reporting unknown keys with a did-you-mean hint.
    fn entries<'n>(
        &mut self,
        what: &str,
        node: &'n Node,
        known: &[&str],
    ) -> Option<Vec<(&'n str, &'n Node, &'n Node)>> {
        let Kind::Map(entries) = &node.kind else {
            self.wrong_type(what, "a mapping", node);
            return None;
        };
        let mut out = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            let Some(text) = key.scalar() else {
                self.wrong_type(&format!("a key of `{what}`"), "a plain word", key);
                continue;
            };
            if known.contains(&text) {
                out.push((text, key, value));
            } else {
                let hint = match rules::did_you_mean(text, known.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("known keys of `{what}`: {}", known.join(", ")),
                };
                self.hint(
                    Code::UnknownKey,
                    key,
                    format!("unknown key `{text}` in `{what}`"),
                    hint,
                );
            }
        }
        Some(out)
    }

    /// The value of `options` named by `text` (read from `node`); otherwise an error
    /// `unknown LABEL `TEXT`` with `hint` at the node, and `None`.
    fn choose<T: Copy>(
        &mut self,
        node: &Node,
        text: &str,
        options: &[(&str, T)],
        label: &str,
        hint: &str,
    ) -> Option<T> {
        let found = options
            .iter()
            .find(|(name, _)| *name == text)
            .map(|(_, v)| *v);
        if found.is_none() {
            self.hint(
                Code::InvalidValue,
                node,
                format!("unknown {label} `{}`", text.escape_debug()),
                hint,
            );
        }
        found
    }

    /// Any non-null scalar as text (numbers and booleans keep their spelling).
    fn string(&mut self, what: &str, node: &Node) -> Option<String> {
        match &node.kind {
            Kind::Scalar { text, .. } => Some(text.clone()),
            _ => {
                self.wrong_type(what, "a string", node);
                None
            }
        }
    }

    /// A string, or `None` for a null value.
    fn optional_string(&mut self, what: &str, node: &Node) -> Option<String> {
        if matches!(node.kind, Kind::Null) {
            None
        } else {
            self.string(what, node)
        }
    }

    /// A non-empty string.
    fn nonempty(&mut self, what: &str, node: &Node) -> Option<String> {
        let s = self.string(what, node)?;
        if s.trim().is_empty() {
            self.hint(
                Code::InvalidValue,
                node,
                format!("`{what}` is empty"),
                format!("give `{what}` a value or remove the key"),
            );
            return None;
        }
        Some(s)
    }

    /// A plain integer.
    fn integer(&mut self, what: &str, node: &Node) -> Option<i64> {
        match &node.kind {
            Kind::Scalar { text, plain: true } => {
                if let Ok(n) = text.parse::<i64>() {
                    return Some(n);
                }
                self.wrong_type(what, "a whole number", node);
                None
            }
            _ => {
                self.wrong_type(what, "a whole number", node);
                None
            }
        }
    }

    /// A plain boolean.
    fn boolean(&mut self, what: &str, node: &Node) -> Option<bool> {
        if let Kind::Scalar { text, plain: true } = &node.kind {
            if let Some(b) = yaml::parse_bool(text) {
                return Some(b);
            }
        }
        self.wrong_type(what, "true or false", node);
        None
    }

    /// A port in 1024..=65535; `InvalidPort` otherwise.
    fn port(&mut self, what: &str, node: &Node) -> Option<u16> {
        let n = self.integer(what, node)?;
        match u16::try_from(n) {
            Ok(p) if p >= 1024 => Some(p),
            _ => {
                self.hint(
                    Code::InvalidPort,
                    node,
                    format!("`{what}` {n} is not a usable port"),
                    "use a port between 1024 and 65535",
                );
                None
            }
        }
    }
}

/// Reads a whole ecosystem file, interpolating its values with `vars` first.
pub(crate) fn read(path: &Path, text: &str, vars: &super::interpolate::Variables) -> Read {
    let mut cx = Ctx {
        file: path,
        diags: Vec::new(),
    };
    let mut bad_readmes = BTreeSet::new();
    let root = match yaml::parse(text) {
        Ok((root, dups)) => {
            for d in dups {
                cx.diags.push(
                    Diagnostic::error(Code::InvalidYaml, path, d.line, d.message)
                        .with_column(d.col)
                        .with_hint("each key may appear once; remove or merge the duplicate"),
                );
            }
            root
        }
        Err(e) => {
            cx.diags.push(
                Diagnostic::error(
                    Code::InvalidYaml,
                    path,
                    e.line,
                    format!("invalid YAML: {}", e.message),
                )
                .with_column(e.col)
                .with_hint("fix the YAML syntax at this position (indentation, quotes, brackets)"),
            );
            return Read {
                ecosystem: None,
                diagnostics: cx.diags,
                bad_readmes,
                secret_values: Vec::new(),
            };
        }
    };
    let mut interpolated_secrets = Vec::new();
    let mut root = root;
    if let Some(root) = root.as_mut() {
        let outcome = super::interpolate::interpolate_tree(path, root, vars);
        cx.diags.extend(outcome.diagnostics);
        interpolated_secrets = outcome.secret_values;
    }
    let Some(root) = root else {
        cx.diags.push(
            Diagnostic::error(Code::InvalidYaml, path, 1, "the ecosystem file is empty")
                .with_hint("start from `pactown init` or add `name:` and `services:`"),
        );
        return Read {
            ecosystem: None,
            diagnostics: cx.diags,
            bad_readmes,
            secret_values: interpolated_secrets,
        };
    };
    let Some(entries) = cx.entries("the ecosystem file", &root, TOP_KEYS) else {
        return Read {
            ecosystem: None,
            diagnostics: cx.diags,
            bad_readmes,
            secret_values: interpolated_secrets,
        };
    };

    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut eco = Ecosystem {
        file: path.to_path_buf(),
        dir: dir.clone(),
        name: "unnamed-ecosystem".into(),
        version: "0.1.0".into(),
        description: None,
        base_port: 8000,
        sandbox_root: join(&dir, ".pactown-sandboxes"),
        network: None,
        registry: None,
        build: BuildSettings::default(),
        engine: None,
        profiles: BTreeMap::new(),
        env_file: None,
        tenant: None,
        ingress: None,
        services: Vec::new(),
    };
    let mut services_node = None;
    for (key, key_node, value) in entries {
        match key {
            "name" => {
                if let Some(name) = cx.nonempty("name", value) {
                    if rules::is_resource_name(&name) {
                        eco.name = name;
                    } else {
                        cx.hint(
                            Code::InvalidValue,
                            value,
                            format!("ecosystem name `{name}` cannot be used in network and container names"),
                            format!(
                                "use letters, digits, `_`, `.` and `-`, starting with a letter or digit, e.g. `{}`",
                                rules::sanitize_name(&name)
                            ),
                        );
                    }
                }
            }
            "version" => {
                if let Some(v) = cx.nonempty("version", value) {
                    eco.version = v;
                }
            }
            "description" => eco.description = cx.optional_string("description", value),
            "base_port" => {
                if let Some(p) = cx.port("base_port", value) {
                    eco.base_port = p;
                }
            }
            "sandbox_root" => {
                if let Some(s) = cx.nonempty("sandbox_root", value) {
                    eco.sandbox_root = join(&dir, &s);
                }
            }
            "network" => {
                if let Some(n) = cx.nonempty("network", value) {
                    if rules::is_resource_name(&n) {
                        eco.network = Some(n);
                    } else {
                        cx.hint(
                            Code::InvalidValue,
                            value,
                            format!("network name `{n}` is not a valid engine network name"),
                            "use letters, digits, `_`, `.` and `-`, starting with a letter or digit",
                        );
                    }
                }
            }
            "registry" => eco.registry = read_registry(&mut cx, value),
            "build" => {
                let repo = eco.build.image_repo.take();
                eco.build = read_build(&mut cx, &dir, value);
                eco.build.image_repo = eco.build.image_repo.take().or(repo);
            }
            "images" => eco.build.image_repo = read_images(&mut cx, value),
            "engine" => {
                if let Some(s) = cx.string("engine", value) {
                    let options = [
                        ("auto", EngineChoice::Auto),
                        ("docker", EngineChoice::Docker),
                        ("podman", EngineChoice::Podman),
                        ("swarm", EngineChoice::Swarm),
                    ];
                    let hint = "use `auto`, `docker`, `podman` or `swarm`";
                    if let Some(e) = cx.choose(value, &s, &options, "engine", hint) {
                        eco.engine = Some(e);
                    }
                }
            }
            "profiles" => eco.profiles = read_profiles(&mut cx, value),
            "env_file" => {
                if let Some(p) = cx.nonempty("env_file", value) {
                    eco.env_file = Some(resolve_path(&dir, &p));
                }
            }
            "ingress" => eco.ingress = read_ingress(&mut cx, key_node, value),
            "services" => services_node = Some((key_node, value)),
            _ => {}
        }
    }

    match services_node {
        None => cx.hint(
            Code::InvalidValue,
            &root,
            "the ecosystem file has no `services:`",
            "add a `services:` mapping with one entry per README",
        ),
        Some((key_node, value)) => match &value.kind {
            Kind::Map(list) if list.is_empty() => cx.hint(
                Code::InvalidValue,
                key_node,
                "`services` is empty",
                "add one entry per service README",
            ),
            Kind::Null => cx.hint(
                Code::InvalidValue,
                key_node,
                "`services` is empty",
                "add one entry per service README",
            ),
            Kind::Map(list) => {
                for (index, (key, body)) in list.iter().enumerate() {
                    if let Some(svc) =
                        read_service(&mut cx, &eco, index, key, body, &mut bad_readmes)
                    {
                        eco.services.push(svc);
                    }
                }
                check_ports(&mut cx, &eco, list);
                check_exposed(&mut cx, &eco, list);
            }
            _ => cx.wrong_type("services", "a mapping of service names", value),
        },
    }

    Read {
        ecosystem: Some(eco),
        diagnostics: cx.diags,
        bad_readmes,
        secret_values: interpolated_secrets,
    }
}

/// `dir.join(rel)`, leaving `rel` alone when `dir` is the current folder.
fn join(dir: &Path, rel: &str) -> PathBuf {
    if dir == Path::new(".") {
        PathBuf::from(rel)
    } else {
        dir.join(rel)
    }
}

/// An absolute path as is, a relative one joined with the ecosystem file's folder.
fn resolve_path(dir: &Path, p: &str) -> PathBuf {
    if Path::new(p).is_absolute() {
        PathBuf::from(p)
    } else {
        join(dir, p)
    }
}

fn read_profiles(cx: &mut Ctx<'_>, node: &Node) -> BTreeMap<String, Resources> {
    let mut out = BTreeMap::new();
    if matches!(node.kind, Kind::Null) {
        return out;
    }
    let Kind::Map(entries) = &node.kind else {
        cx.wrong_type("profiles", "a mapping of profile names", node);
        return out;
    };
    for (k, v) in entries {
        let Some(name) = k.scalar() else {
            cx.wrong_type("a profile name", "a plain word", k);
            continue;
        };
        if !rules::is_env_name(name) && !rules::is_service_name(name) {
            cx.hint(
                Code::InvalidValue,
                k,
                format!("profile name `{name}` is not valid"),
                "use letters, digits, `_` and `-`",
            );
            continue;
        }
        let r = read_resources(cx, &format!("profiles.{name}"), v);
        out.insert(name.to_string(), r);
    }
    out
}

fn read_resources(cx: &mut Ctx<'_>, what: &str, node: &Node) -> Resources {
    let mut r = Resources::default();
    if matches!(node.kind, Kind::Null) {
        return r;
    }
    let Some(entries) = cx.entries(what, node, RESOURCE_KEYS) else {
        return r;
    };
    for (k, _, value) in entries {
        let w = format!("{what}.{k}");
        let Some(text) = cx.string(&w, value) else {
            continue;
        };
        match k {
            "cpus" => match parse_cpus(&text) {
                Some(m) => r.millicpus = Some(m),
                None => cx.hint(
                    Code::InvalidValue,
                    value,
                    format!("`{w}` {text} is not a CPU count"),
                    "give a number of CPUs above 0, e.g. `0.5` or `2` (at most 3 decimals)",
                ),
            },
            "memory" => match parse_memory(&text) {
                Some(b) => r.memory = Some(b),
                None => cx.hint(
                    Code::InvalidValue,
                    value,
                    format!("`{w}` {text} is not a memory size"),
                    "give bytes with a unit, at least 6m: e.g. `256m`, `1g`, `512Mi`",
                ),
            },
            "pids" => match text.parse::<u32>() {
                Ok(n) if n >= 8 => r.pids = Some(n),
                _ => cx.hint(
                    Code::InvalidValue,
                    value,
                    format!("`{w}` {text} is not a usable process limit"),
                    "give the most processes/threads the container may run, at least 8 (e.g. 128)",
                ),
            },
            _ => {}
        }
    }
    r
}

/// `0.5` → 500, `2` → 2000; `None` for zero, negatives and more than 3 decimals.
pub(crate) fn parse_cpus(text: &str) -> Option<u64> {
    let t = text.trim();
    let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
    if frac.len() > 3
        || !whole.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
        || (whole.is_empty() && frac.is_empty())
    {
        return None;
    }
    let w: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let f: u64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<3}").parse().ok()?
    };
    let m = w.checked_mul(1000)?.checked_add(f)?;
    (m > 0).then_some(m)
}

/// `256m`, `1g`, `512Mi`, `1GiB`, `1048576` → bytes; at least 6 MiB (the engines' minimum).
pub(crate) fn parse_memory(text: &str) -> Option<u64> {
    let t = text.trim().to_ascii_lowercase();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(digits);
    let n: u64 = num.parse().ok()?;
    let mult: u64 = match unit.trim() {
        "" | "b" => 1,
        "k" | "kb" | "ki" | "kib" => 1 << 10,
        "m" | "mb" | "mi" | "mib" => 1 << 20,
        "g" | "gb" | "gi" | "gib" => 1 << 30,
        _ => return None,
    };
    let bytes = n.checked_mul(mult)?;
    (bytes >= 6 << 20).then_some(bytes)
}

fn read_security(cx: &mut Ctx<'_>, what: &str, node: &Node) -> Security {
    let mut s = Security::default();
    if matches!(node.kind, Kind::Null) {
        return s;
    }
    let Some(entries) = cx.entries(what, node, SECURITY_KEYS) else {
        return s;
    };
    for (k, _, value) in entries {
        let w = format!("{what}.{k}");
        match k {
            "cap_add" => {
                let items: Vec<&Node> = match &value.kind {
                    Kind::Null => Vec::new(),
                    Kind::Seq(items) => items.iter().collect(),
                    _ => {
                        cx.wrong_type(&w, "a list of capability names", value);
                        Vec::new()
                    }
                };
                for item in items {
                    if let Some(c) = cx.nonempty(&w, item) {
                        let c = c.to_ascii_uppercase();
                        let c = c.strip_prefix("CAP_").unwrap_or(&c).to_string();
                        if c.chars().all(|ch| ch.is_ascii_uppercase() || ch == '_') && c != "ALL" {
                            s.cap_add.push(c);
                        } else {
                            cx.hint(
                                Code::InvalidValue,
                                item,
                                format!("`{c}` is not a capability name"),
                                "name one capability, e.g. NET_BIND_SERVICE (ALL is not accepted)",
                            );
                        }
                    }
                }
            }
            _ => {
                if let Some(b) = cx.boolean(&w, value) {
                    match k {
                        "read_only" => s.read_only = b,
                        "no_new_privileges" => s.no_new_privileges = b,
                        "drop_capabilities" => s.drop_capabilities = b,
                        "non_root" => s.non_root = b,
                        _ => {}
                    }
                }
            }
        }
    }
    s
}

/// One `SecurityOptOut` warning per hardened default the service turns off.
fn warn_opt_outs(cx: &mut Ctx<'_>, service: &str, key: &Node, s: &Security) {
    let mut outs: Vec<(&str, &str)> = Vec::new();
    if !s.read_only {
        outs.push(("read_only: false", "its root file system is writable"));
    }
    if !s.no_new_privileges {
        outs.push((
            "no_new_privileges: false",
            "setuid programs in it can gain privileges",
        ));
    }
    if !s.drop_capabilities {
        outs.push((
            "drop_capabilities: false",
            "it keeps the engine's default Linux capabilities",
        ));
    }
    if !s.non_root {
        outs.push(("non_root: false", "it runs as root"));
    }
    if !s.cap_add.is_empty() {
        outs.push(("cap_add", "it gets capabilities back"));
    }
    for (what, why) in outs {
        cx.diags.push(
            Diagnostic::warning(
                Code::SecurityOptOut,
                cx.file,
                key.line,
                format!("service `{service}` opts out of a hardened default ({what}): {why}"),
            )
            .with_column(key.col)
            .with_hint("remove the opt-out from `security:` unless the service really needs it"),
        );
    }
}

/// `volumes:` — `NAME: /path`; the engine volume is named `<ecosystem>-<NAME>`.
fn read_volumes(cx: &mut Ctx<'_>, what: &str, node: &Node) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if matches!(node.kind, Kind::Null) {
        return out;
    }
    let Kind::Map(entries) = &node.kind else {
        cx.wrong_type(what, "a mapping of VOLUME: /path/in/container", node);
        return out;
    };
    let mut targets = BTreeSet::new();
    for (k, v) in entries {
        let Some(name) = k.scalar() else {
            cx.wrong_type(what, "a mapping of VOLUME: /path/in/container", k);
            continue;
        };
        if !rules::is_resource_name(name) {
            cx.hint(
                Code::InvalidValue,
                k,
                format!("volume name `{name}` is not valid"),
                "use letters, digits, `_`, `.` and `-`, starting with a letter or digit",
            );
            continue;
        }
        let Some(path) = cx.nonempty(&format!("{what}.{name}"), v) else {
            continue;
        };
        let bad = !path.starts_with('/')
            || path == "/"
            || path.split('/').any(|c| c == "..")
            || path
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == ':' || c == ',');
        if bad {
            cx.hint(
                Code::InvalidValue,
                v,
                format!("volume mount path `{path}` is not usable"),
                "give an absolute path inside the container without `..`, spaces, `:` or `,`, e.g. `/data`",
            );
            continue;
        }
        if !targets.insert(path.clone()) {
            cx.hint(
                Code::InvalidValue,
                v,
                format!("two volumes are mounted at `{path}`"),
                "mount each volume at its own path",
            );
            continue;
        }
        out.insert(name.to_string(), path);
    }
    out
}

fn read_registry(cx: &mut Ctx<'_>, node: &Node) -> Option<RegistryConfig> {
    let entries = cx.entries("registry", node, REGISTRY_KEYS)?;
    let mut reg = RegistryConfig {
        url: DEFAULT_REGISTRY_URL.into(),
        namespace: "default".into(),
    };
    for (key, _, value) in entries {
        match key {
            "url" => {
                if let Some(url) = cx.nonempty("registry.url", value) {
                    if url.starts_with("http://") || url.starts_with("https://") {
                        reg.url = url;
                    } else {
                        cx.hint(
                            Code::InvalidValue,
                            value,
                            format!("registry url `{url}` is not an http(s) URL"),
                            "write it as http://HOST:PORT",
                        );
                    }
                }
            }
            "namespace" => {
                if let Some(ns) = cx.nonempty("registry.namespace", value) {
                    if rules::is_registry_word(&ns) {
                        reg.namespace = ns;
                    } else {
                        cx.hint(
                            Code::InvalidValue,
                            value,
                            format!("registry namespace `{ns}` is not valid"),
                            "use lowercase letters, digits, `.`, `_` and `-`",
                        );
                    }
                }
            }
            _ => {}
        }
    }
    Some(reg)
}

/// `images: {repo: REGISTRY/NAMESPACE}`: where `build --push` pushes.
fn read_images(cx: &mut Ctx<'_>, node: &Node) -> Option<String> {
    if matches!(node.kind, Kind::Null) {
        return None;
    }
    let entries = cx.entries("images", node, IMAGES_KEYS)?;
    let mut repo = None;
    for (key, _, value) in entries {
        if key == "repo" {
            if let Some(r) = cx.nonempty("images.repo", value) {
                match crate::image::push::ImageRepo::parse(&r) {
                    Ok(_) => repo = Some(r),
                    Err(e) => cx.hint(
                        Code::InvalidValue,
                        value,
                        format!("images.repo: {e}"),
                        "write REGISTRY/NAMESPACE, e.g. `ghcr.io/acme` or `127.0.0.1:5000/acme`",
                    ),
                }
            }
        }
    }
    repo
}

fn read_build(cx: &mut Ctx<'_>, dir: &Path, node: &Node) -> BuildSettings {
    let mut build = BuildSettings::default();
    if matches!(node.kind, Kind::Null) {
        return build;
    }
    let Some(entries) = cx.entries("build", node, BUILD_KEYS) else {
        return build;
    };
    for (key, _, value) in entries {
        if key == "ca_bundle" {
            if let Some(p) = cx.nonempty("build.ca_bundle", value) {
                build.ca_bundle = Some(if Path::new(&p).is_absolute() {
                    PathBuf::from(p)
                } else {
                    join(dir, &p)
                });
            }
        }
    }
    build
}

#[allow(clippy::too_many_lines)]
fn read_service(
    cx: &mut Ctx<'_>,
    eco: &Ecosystem,
    index: usize,
    key: &Node,
    body: &Node,
    bad_readmes: &mut BTreeSet<String>,
) -> Option<ServiceSpec> {
    let Some(name) = key.scalar().map(str::to_string) else {
        cx.wrong_type("a service name", "a plain word", key);
        return None;
    };
    if !rules::is_service_name(&name) {
        let suggestion = rules::sanitize_name(&name);
        cx.hint(
            Code::InvalidValue,
            key,
            format!("service name `{name}` is not valid: it becomes a DNS and container name"),
            format!(
                "use lowercase letters, digits and `-`, starting with a letter or digit, at most 63 characters, e.g. `{suggestion}`"
            ),
        );
    }
    let default_port = u32::from(eco.base_port) + u32::try_from(index).unwrap_or(u32::MAX);
    let mut svc = ServiceSpec {
        index,
        line: key.line,
        ..ServiceSpec::with_defaults(
            &name,
            u16::try_from(default_port).unwrap_or(0),
            join(&eco.dir, &format!("{name}/README.md")),
        )
    };
    let mut own_resources = Resources::default();
    let mut explicit_port = false;
    let mut port_node: Option<&Node> = None;
    let mut health_cmd_node: Option<&Node> = None;
    let mut health_check_node: Option<&Node> = None;
    let mut restart_node: Option<&Node> = None;
    let mut replicas_node: Option<&Node> = None;
    let mut readme_set = false;
    let entries = if matches!(body.kind, Kind::Null) {
        Vec::new()
    } else {
        let what = format!("services.{name}");
        match cx.entries(&what, body, SERVICE_KEYS) {
            Some(e) => e,
            None => return Some(svc),
        }
    };
    for (k, _, value) in entries {
        let what = format!("services.{name}.{k}");
        match k {
            "readme" => {
                readme_set = true;
                match cx.nonempty(&what, value) {
                    Some(text) => match read_readme(cx, eco, &text, value) {
                        Some(src) => svc.readme = src,
                        None => {
                            bad_readmes.insert(name.clone());
                        }
                    },
                    None => {
                        bad_readmes.insert(name.clone());
                    }
                }
            }
            "port" => {
                explicit_port = true;
                port_node = Some(value);
                // `port: null`: a service without a port (a queue consumer, a scheduler)
                svc.port = if matches!(value.kind, Kind::Null) {
                    None
                } else {
                    cx.port(&what, value)
                };
            }
            "endpoint_mode" => {
                if let Some(m) = cx.nonempty(&what, value) {
                    let options = [("dnsrr", EndpointMode::Dnsrr), ("vip", EndpointMode::Vip)];
                    let hint = "use `dnsrr` (DNS round robin over the tasks, the default; works without IPVS) or `vip` (a virtual IP per Swarm service; needs IPVS in the nodes' kernels)";
                    if let Some(mode) = cx.choose(value, &m, &options, "endpoint_mode", hint) {
                        svc.endpoint_mode = mode;
                    }
                }
            }
            "kind" => {
                if let Some(k) = cx.nonempty(&what, value) {
                    let options = [("service", ServiceKind::Service), ("job", ServiceKind::Job)];
                    let hint = "use `service` (runs until stopped, the default) or `job` (runs once to completion, e.g. a migration)";
                    if let Some(kind) = cx.choose(value, &k, &options, "kind", hint) {
                        svc.kind = kind;
                    }
                }
            }
            "health_cmd" => {
                if matches!(value.kind, Kind::Null) {
                    continue;
                }
                if let Some(c) = cx.nonempty(&what, value) {
                    if c.chars().any(char::is_control) || c.len() > 4096 {
                        cx.hint(
                            Code::InvalidValue,
                            value,
                            "`health_cmd` is longer than 4096 bytes or is not one line (it holds a control character)",
                            "write a short shell command, e.g. `test -f /tmp/ready`",
                        );
                    } else {
                        svc.health_cmd = Some(c);
                        health_cmd_node = Some(value);
                    }
                }
            }
            "health_check" => {
                if matches!(value.kind, Kind::Null) {
                    continue;
                }
                if let Some(h) = cx.nonempty(&what, value) {
                    if rules::is_health_path(&h) {
                        svc.health_check = Some(h);
                        health_check_node = Some(value);
                    } else {
                        cx.hint(
                            Code::InvalidValue,
                            value,
                            format!("{what} `{}` is not a plain HTTP path", h.escape_debug()),
                            "write `/` followed by letters, digits and `-._~/?=&+,`, e.g. `/health` (no `%`, `;` or spaces)",
                        );
                    }
                }
            }
            "timeout" => {
                if let Some(t) = cx.integer(&what, value) {
                    match u64::try_from(t) {
                        Ok(t) if (1..=86_400).contains(&t) => svc.timeout = t,
                        _ => cx.hint(
                            Code::InvalidValue,
                            value,
                            format!("timeout {t} is out of range"),
                            "give the seconds to become healthy, between 1 and 86400",
                        ),
                    }
                }
            }
            "replicas" => {
                if let Some(r) = cx.integer(&what, value) {
                    match u32::try_from(r) {
                        Ok(r) if (1..=100).contains(&r) => {
                            svc.replicas = r;
                            replicas_node = Some(value);
                        }
                        _ => cx.hint(
                            Code::InvalidValue,
                            value,
                            format!("replicas {r} is out of range"),
                            "use a number of containers between 1 and 100",
                        ),
                    }
                }
            }
            "auto_restart" => {
                if let Some(b) = cx.boolean(&what, value) {
                    svc.auto_restart = b;
                    restart_node = Some(value);
                }
            }
            "env" => svc.env = read_env(cx, &what, value),
            "depends_on" => svc.depends_on = read_depends(cx, &what, value),
            "target" => {
                if let Some(t) = cx.nonempty(&what, value) {
                    if matches!(t.as_str(), "web" | "desktop" | "mobile") {
                        svc.target = t;
                    } else {
                        cx.hint(
                            Code::InvalidValue,
                            value,
                            format!("unknown target `{t}`"),
                            "use `web` (the only target pactown runs), `desktop` or `mobile`",
                        );
                    }
                }
            }
            "framework" => svc.framework = cx.optional_string(&what, value),
            "build_cmd" => svc.build_cmd = cx.optional_string(&what, value),
            "build_targets" => match &value.kind {
                Kind::Null => {}
                Kind::Seq(items) => {
                    for item in items {
                        if let Some(s) = cx.nonempty(&what, item) {
                            svc.build_targets.push(s);
                        }
                    }
                }
                _ => cx.wrong_type(&what, "a list of strings", value),
            },
            "security" => svc.security = read_security(cx, &what, value),
            "resources" => own_resources = read_resources(cx, &what, value),
            "profile" => {
                if let Some(p) = cx.nonempty(&what, value) {
                    match eco.profiles.get(&p) {
                        Some(r) => {
                            svc.resources = *r;
                            svc.profile = Some(p);
                        }
                        None => {
                            let known: Vec<&str> =
                                eco.profiles.keys().map(String::as_str).collect();
                            let hint = match rules::did_you_mean(&p, known.iter().copied()) {
                                Some(s) => format!("did you mean `{s}`?"),
                                None if known.is_empty() => {
                                    "define it under a top-level `profiles:` mapping".to_string()
                                }
                                None => format!("known profiles: {}", known.join(", ")),
                            };
                            cx.hint(
                                Code::InvalidValue,
                                value,
                                format!("unknown resource profile `{p}`"),
                                hint,
                            );
                        }
                    }
                }
            }
            "volumes" => svc.volumes = read_volumes(cx, &what, value),
            "env_file" => {
                if let Some(p) = cx.nonempty(&what, value) {
                    svc.env_file = Some(resolve_path(&eco.dir, &p));
                }
            }
            "expose" => svc.expose = read_expose(cx, &what, key_of(body, "expose"), value),
            // Accepted for compatibility with the reference; pactown runs in containers.
            _ => {}
        }
    }
    svc.resources = own_resources.over(svc.resources);
    warn_opt_outs(cx, &name, key, &svc.security);
    let shape = Shape {
        port: port_node,
        health_cmd: health_cmd_node,
        health_check: health_check_node,
        restart: restart_node,
        replicas: replicas_node,
    };
    check_shape(cx, &name, &mut svc, &shape);
    if !explicit_port && !svc.is_job() && default_port > 65_535 {
        cx.hint(
            Code::InvalidPort,
            key,
            format!("service `{name}` would get port {default_port} (base_port + position), above 65535"),
            "lower `base_port` or give the service an explicit `port:`",
        );
        svc.port = None;
    }
    if !readme_set && !rules::is_service_name(&name) {
        bad_readmes.insert(name.clone());
    }
    Some(svc)
}

/// Where the keys that decide a service's shape were written (for diagnostics).
struct Shape<'n> {
    port: Option<&'n Node>,
    health_cmd: Option<&'n Node>,
    health_check: Option<&'n Node>,
    restart: Option<&'n Node>,
    replicas: Option<&'n Node>,
}

/// The rules between `kind`, `port`, `health_check`, `health_cmd`, `auto_restart` and
/// `replicas`: a job has no port, no health probe, no restart and one container (and its
/// `auto_restart` defaults to off); `health_check` needs a port; `health_check` and
/// `health_cmd` exclude each other.
fn check_shape(cx: &mut Ctx<'_>, name: &str, svc: &mut ServiceSpec, at: &Shape<'_>) {
    if svc.is_job() {
        match at.port {
            Some(node) if !matches!(node.kind, Kind::Null) => cx.hint(
                Code::InvalidValue,
                node,
                format!("job `{name}` has a `port:`; a job runs to completion and serves nothing"),
                "remove `port:` (or drop `kind: job` for a long-running service)",
            ),
            _ => {}
        }
        svc.port = None;
        for (node, key) in [
            (at.health_check, "health_check"),
            (at.health_cmd, "health_cmd"),
        ] {
            if let Some(node) = node {
                cx.hint(
                    Code::InvalidValue,
                    node,
                    format!("job `{name}` has a `{key}:`; a job is done when it exits 0"),
                    format!("remove `{key}:`"),
                );
            }
        }
        match at.restart {
            Some(node) if svc.auto_restart => cx.hint(
                Code::InvalidValue,
                node,
                format!("job `{name}` has `auto_restart: true`; a job runs once"),
                "remove `auto_restart:` (a failed job is run again by the next `pactown up`)",
            ),
            _ => {}
        }
        svc.auto_restart = false;
        if let Some(node) = at.replicas.filter(|_| svc.replicas > 1) {
            cx.hint(
                Code::InvalidValue,
                node,
                format!(
                    "job `{name}` has {} replicas; a job runs in one container",
                    svc.replicas
                ),
                "remove `replicas:`",
            );
        }
        svc.replicas = 1;
        return;
    }
    if let (Some(check), Some(_)) = (at.health_check, at.health_cmd) {
        cx.hint(
            Code::InvalidValue,
            check,
            format!("service `{name}` has both `health_check` and `health_cmd`"),
            "keep one: `health_check: /path` (HTTP on its port) or `health_cmd: CMD` (run inside the container)",
        );
    }
    if svc.port.is_none() {
        if let (Some(check), Some(port)) = (at.health_check, at.port) {
            if matches!(port.kind, Kind::Null) {
                cx.hint(
                    Code::InvalidValue,
                    check,
                    format!("service `{name}` has `health_check` but no port (`port: null`)"),
                    "use `health_cmd: CMD` (run inside the container) for a service without a port, or give it a port",
                );
            }
        }
    }
}

fn read_readme(cx: &mut Ctx<'_>, eco: &Ecosystem, text: &str, node: &Node) -> Option<ReadmeSource> {
    if let Some(rest) = text.strip_prefix("registry:") {
        return match rules::parse_registry_ref(rest) {
            Some((ns, name, version)) => Some(ReadmeSource::Registry {
                namespace: ns.map_or_else(
                    || {
                        eco.registry
                            .as_ref()
                            .map_or_else(|| "default".to_string(), |r| r.namespace.clone())
                    },
                    str::to_string,
                ),
                name: name.to_string(),
                version: version.unwrap_or("latest").to_string(),
            }),
            None => {
                cx.hint(
                    Code::InvalidValue,
                    node,
                    format!("registry README `{text}` is not of the form registry:NAMESPACE/NAME@VERSION"),
                    "write e.g. `registry:default/api@1.0.0`",
                );
                None
            }
        };
    }
    match rules::normalize_path(text) {
        Ok(relative) => {
            let path = join(&eco.dir, &relative);
            Some(ReadmeSource::Local { relative, path })
        }
        Err((code, why)) => {
            cx.hint(
                code,
                node,
                format!("README path `{text}` is not allowed: {why}"),
                "give a path relative to the ecosystem file's folder, inside it, e.g. `api/README.md`",
            );
            None
        }
    }
}

fn read_env(cx: &mut Ctx<'_>, what: &str, node: &Node) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    let Kind::Map(entries) = &node.kind else {
        if !matches!(node.kind, Kind::Null) {
            cx.wrong_type(what, "a mapping of NAME: value", node);
        }
        return env;
    };
    for (k, v) in entries {
        let Some(name) = k.scalar() else {
            cx.wrong_type(what, "a mapping of NAME: value", k);
            continue;
        };
        if !rules::is_env_name(name) {
            cx.hint(
                Code::InvalidValue,
                k,
                format!("`{name}` is not a valid environment variable name"),
                "use letters, digits and `_`, not starting with a digit (e.g. LOG_LEVEL)",
            );
            continue;
        }
        match &v.kind {
            Kind::Scalar { text, .. } => {
                if crate::secrets::is_secret_key(name) && crate::secrets::has_clear_text(text) {
                    cx.diags.push(
                        Diagnostic::warning(
                            Code::SecretInClear,
                            cx.file,
                            v.line,
                            format!("`{what}.{name}` holds a secret in clear in the ecosystem file"),
                        )
                        .with_column(v.col)
                        .with_hint(format!(
                            "write `{name}: ${{{name}}}` and set {name} in the environment or an `env_file:`"
                        )),
                    );
                }
                env.insert(name.to_string(), text.clone());
            }
            Kind::Null => cx.hint(
                Code::InvalidValue,
                v,
                format!("environment variable `{name}` has no value"),
                format!("write `{name}: \"\"` for an empty value, or remove it"),
            ),
            _ => cx.wrong_type(&format!("{what}.{name}"), "a string, number or boolean", v),
        }
    }
    env
}

fn read_depends(cx: &mut Ctx<'_>, what: &str, node: &Node) -> Vec<DependsOn> {
    let mut out: Vec<DependsOn> = Vec::new();
    let items: Vec<&Node> = match &node.kind {
        Kind::Null => return out,
        Kind::Seq(items) => items.iter().collect(),
        Kind::Scalar { .. } => vec![node],
        Kind::Map(_) => {
            cx.wrong_type(what, "a list", node);
            return out;
        }
    };
    let mut seen: HashMap<String, usize> = HashMap::new();
    for item in items {
        let dep = match &item.kind {
            Kind::Scalar { text, .. } => {
                read_dep_name(cx, what, text, item).map(|(name, version)| DependsOn {
                    name,
                    version,
                    env_var: None,
                    endpoint: None,
                    line: item.line,
                })
            }
            Kind::Map(_) => read_dep_map(cx, what, item),
            _ => {
                cx.wrong_type(
                    what,
                    "a list of service names or {name, env_var, endpoint} mappings",
                    item,
                );
                None
            }
        };
        let Some(dep) = dep else { continue };
        if let Some(line) = seen.get(&dep.name) {
            cx.hint(
                Code::InvalidValue,
                item,
                format!(
                    "`{}` is listed twice in `{what}` (first on line {line})",
                    dep.name
                ),
                "remove the duplicate entry",
            );
            continue;
        }
        seen.insert(dep.name.clone(), dep.line);
        out.push(dep);
    }
    out
}

/// `db` or `db@1.2`.
fn read_dep_name(
    cx: &mut Ctx<'_>,
    what: &str,
    text: &str,
    node: &Node,
) -> Option<(String, Option<String>)> {
    let (name, version) = match text.split_once('@') {
        Some((n, v)) => (n.trim(), Some(v.trim())),
        None => (text.trim(), None),
    };
    if name.is_empty() || version.is_some_and(str::is_empty) {
        cx.hint(
            Code::InvalidValue,
            node,
            format!("`{text}` in `{what}` is not a service reference"),
            "write the service name, optionally with a version: `db` or `db@1.2`",
        );
        return None;
    }
    Some((name.to_string(), version.map(str::to_string)))
}

fn read_dep_map(cx: &mut Ctx<'_>, what: &str, node: &Node) -> Option<DependsOn> {
    let entries = cx.entries(what, node, DEPENDS_KEYS)?;
    let mut dep = DependsOn {
        name: String::new(),
        version: None,
        env_var: None,
        endpoint: None,
        line: node.line,
    };
    let mut ok = true;
    for (k, _, value) in entries {
        let w = format!("{what}.{k}");
        match k {
            "name" => match cx
                .nonempty(&w, value)
                .and_then(|t| read_dep_name(cx, what, &t, value))
            {
                Some((n, v)) => {
                    dep.name = n;
                    dep.version = v;
                }
                None => ok = false,
            },
            "env_var" => {
                if let Some(v) = cx.nonempty(&w, value) {
                    if rules::is_env_name(&v) {
                        dep.env_var = Some(v);
                    } else {
                        cx.hint(
                            Code::InvalidValue,
                            value,
                            format!("`{v}` is not a valid environment variable name"),
                            "use letters, digits and `_`, not starting with a digit (e.g. DB_URL)",
                        );
                    }
                }
            }
            "endpoint" => {
                if let Some(v) = cx.nonempty(&w, value) {
                    if v.chars().any(char::is_whitespace) {
                        cx.hint(
                            Code::InvalidValue,
                            value,
                            format!("endpoint `{v}` contains whitespace"),
                            "write a URL such as http://db:5432",
                        );
                    } else {
                        dep.endpoint = Some(v);
                    }
                }
            }
            _ => {}
        }
    }
    if dep.name.is_empty() {
        if ok {
            cx.hint(
                Code::InvalidValue,
                node,
                format!("an entry of `{what}` has no `name`"),
                "add `name: SERVICE` to the entry",
            );
        }
        return None;
    }
    Some(dep)
}

/// `PortConflict` for every service whose port another service already uses.
fn check_ports(cx: &mut Ctx<'_>, eco: &Ecosystem, list: &[(Node, Node)]) {
    let mut used: HashMap<u16, &ServiceSpec> = HashMap::new();
    for svc in &eco.services {
        let Some(port) = svc.port else {
            continue;
        };
        let Some((key, _)) = list.get(svc.index) else {
            continue;
        };
        match used.get(&port) {
            Some(first) => {
                cx.hint(
                    Code::PortConflict,
                    key,
                    format!(
                        "services `{}` (line {}) and `{}` both use port {}",
                        first.name, first.line, svc.name, port
                    ),
                    "give one of them a different explicit `port:` (auto ports are base_port + position, counting every service)",
                );
            }
            None => {
                used.insert(port, svc);
            }
        }
    }
}

/// The key node `name` of a mapping (for the line of a diagnostic), else the mapping itself.
fn key_of<'n>(map: &'n Node, name: &str) -> &'n Node {
    if let Kind::Map(entries) = &map.kind {
        if let Some((k, _)) = entries.iter().find(|(k, _)| k.scalar() == Some(name)) {
            return k;
        }
    }
    map
}

/// A port for the proxy: 1..=65535 (80 and 443 are the point of it).
fn proxy_port(cx: &mut Ctx<'_>, what: &str, node: &Node) -> Option<u16> {
    let n = cx.integer(what, node)?;
    match u16::try_from(n) {
        Ok(p) if p > 0 => Some(p),
        _ => {
            cx.hint(
                Code::InvalidPort,
                node,
                format!("`{what}` {n} is not a port"),
                "use a port between 1 and 65535 (80 and 443 by default)",
            );
            None
        }
    }
}

/// `ingress: {tls: acme|internal|off, email, acme_ca, http_port, https_port}`.
fn read_ingress(cx: &mut Ctx<'_>, key: &Node, node: &Node) -> Option<Ingress> {
    let mut ing = Ingress {
        line: key.line,
        ..Ingress::default()
    };
    if matches!(node.kind, Kind::Null) {
        return Some(ing);
    }
    let entries = cx.entries("ingress", node, INGRESS_KEYS)?;
    let mut email_node = None;
    let mut ca_node = None;
    for (k, _, value) in entries {
        let what = format!("ingress.{k}");
        match k {
            "tls" => {
                if let Some(t) = cx.nonempty(&what, value) {
                    let options = [
                        ("acme", TlsMode::Acme),
                        ("internal", TlsMode::Internal),
                        ("off", TlsMode::Off),
                        ("false", TlsMode::Off),
                    ];
                    let hint = "use `acme` (certificates from Let's Encrypt or `acme_ca`), `internal` (the proxy's own CA, see `pactown ingress ca`) or `off` (plain HTTP)";
                    if let Some(mode) = cx.choose(value, &t, &options, "TLS mode", hint) {
                        ing.tls = mode;
                    }
                }
            }
            "email" => {
                if let Some(e) = cx.nonempty(&what, value) {
                    if ingress::is_email(&e) {
                        ing.email = Some(e);
                        email_node = Some(value);
                    } else {
                        cx.hint(
                            Code::InvalidValue,
                            value,
                            format!("ingress.email `{}` is not a plain e-mail address", e.escape_debug()),
                            "write LOCAL@HOST with letters, digits and `.+_-` before the `@` and a lowercase host name after it",
                        );
                    }
                }
            }
            "acme_ca" => {
                if let Some(u) = cx.nonempty(&what, value) {
                    if ingress::is_acme_directory(&u) {
                        ing.acme_ca = Some(u);
                        ca_node = Some(value);
                    } else {
                        cx.hint(
                            Code::InvalidValue,
                            value,
                            format!("ingress.acme_ca `{}` is not an https ACME directory URL", u.escape_debug()),
                            "write https://HOST[:PORT]/PATH, e.g. https://acme-staging-v02.api.letsencrypt.org/directory",
                        );
                    }
                }
            }
            "http_port" => {
                if let Some(p) = proxy_port(cx, &what, value) {
                    ing.http_port = p;
                }
            }
            "https_port" => {
                if let Some(p) = proxy_port(cx, &what, value) {
                    ing.https_port = p;
                }
            }
            _ => {}
        }
    }
    if ing.http_port == ing.https_port {
        cx.hint(
            Code::InvalidPort,
            key,
            format!(
                "ingress http_port and https_port are both {}",
                ing.http_port
            ),
            "give them different ports (80 and 443 by default)",
        );
    }
    if ing.tls != TlsMode::Acme {
        for (node, k) in [(email_node, "email"), (ca_node, "acme_ca")] {
            if let Some(n) = node {
                cx.diags.push(
                    Diagnostic::warning(
                        Code::InvalidValue,
                        cx.file,
                        n.line,
                        format!("ingress.{k} is ignored with `tls: {}`", ing.tls),
                    )
                    .with_column(n.col)
                    .with_hint("it is used by `tls: acme` only; remove it or switch to acme"),
                );
            }
        }
    }
    Some(ing)
}

/// A service's `expose: {host: NAME, path: /PREFIX}` (or `expose: NAME`).
fn read_expose(cx: &mut Ctx<'_>, what: &str, key: &Node, node: &Node) -> Option<Expose> {
    let mut host = None;
    let mut path = "/".to_string();
    let mut host_node = node;
    if let Kind::Scalar { .. } = node.kind {
        host = cx.nonempty(what, node);
    } else {
        let entries = cx.entries(what, node, EXPOSE_KEYS)?;
        for (k, _, value) in entries {
            match k {
                "host" => {
                    host = cx.nonempty(&format!("{what}.host"), value);
                    host_node = value;
                }
                "path" => {
                    if let Some(p) = cx.nonempty(&format!("{what}.path"), value) {
                        if ingress::is_prefix_path(&p) {
                            path = p;
                        } else {
                            cx.hint(
                                Code::InvalidValue,
                                value,
                                format!("{what}.path `{}` is not a plain path prefix", p.escape_debug()),
                                "write `/` or `/` followed by segments of letters, digits and `-._~` separated by `/`, e.g. `/api` (no trailing `/`, `*`, `%`, spaces, braces or quotes)",
                            );
                        }
                    }
                }
                _ => {}
            }
        }
    }
    let Some(host) = host else {
        if !matches!(node.kind, Kind::Scalar { .. }) {
            cx.hint(
                Code::InvalidValue,
                key,
                format!("`{what}` has no `host`"),
                "add the public host name, e.g. `expose: {host: api.example.com}`",
            );
        }
        return None;
    };
    if !ingress::is_host_name(&host) {
        cx.hint(
            Code::InvalidValue,
            host_node,
            format!("{what} host `{}` is not a host name", host.escape_debug()),
            "write a lowercase DNS name of letters, digits, `-` and dots, e.g. `api.example.com` (no port, scheme, wildcard, IP address, spaces or braces)",
        );
        return None;
    }
    Some(Expose {
        host,
        path,
        line: key.line,
    })
}

/// Exposed services need the top-level `ingress:`, a port and a long-running kind; no two may
/// claim the same host and path, and the proxy's own service name is taken.
fn check_exposed(cx: &mut Ctx<'_>, eco: &Ecosystem, list: &[(Node, Node)]) {
    let mut seen: HashMap<(&str, &str), &str> = HashMap::new();
    for svc in &eco.services {
        let Some(expose) = &svc.expose else {
            continue;
        };
        let Some((_, body)) = list
            .iter()
            .find(|(k, _)| k.scalar() == Some(svc.name.as_str()))
        else {
            continue;
        };
        let at = key_of(body, "expose");
        let what = format!("services.{}.expose", svc.name);
        if eco.ingress.is_none() {
            cx.hint(
                Code::InvalidValue,
                at,
                format!("`{what}` needs a top-level `ingress:`"),
                "add `ingress: {tls: acme, email: you@example.com}` (public certificates) or `ingress: {tls: internal}` (the proxy's own CA)",
            );
        }
        if svc.is_job() {
            cx.hint(
                Code::InvalidValue,
                at,
                format!("`{what}`: a job cannot be exposed"),
                "expose a long-running service (`kind: service`) instead",
            );
        } else if svc.port.is_none() {
            cx.hint(
                Code::InvalidValue,
                at,
                format!("`{what}`: service `{}` has no port to route to", svc.name),
                "give the service a `port:` or remove `expose:`",
            );
        }
        if let Some(other) = seen.insert((&expose.host, &expose.path), &svc.name) {
            cx.hint(
                Code::InvalidValue,
                at,
                format!(
                    "`{what}`: {}{} is already exposed by service `{other}`",
                    expose.host, expose.path
                ),
                "give each exposed service its own host name or path prefix",
            );
        }
    }
    if eco.ingress.is_some() {
        if let Some(svc) = eco.service(INGRESS_SERVICE) {
            if let Some((k, _)) = list
                .iter()
                .find(|(k, _)| k.scalar() == Some(svc.name.as_str()))
            {
                cx.hint(
                    Code::InvalidValue,
                    k,
                    format!("service name `{INGRESS_SERVICE}` is taken by the proxy of `ingress:`"),
                    "rename the service",
                );
            }
        }
    }
}
