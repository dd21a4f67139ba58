//! The dependency graph of an ecosystem (petgraph): cycle detection naming the cycle, start
//! order, start levels for display, the environment injected into each service, and pure
//! renderers of the graph ([`render`]).
//!
//! Everything here is linear in services plus dependency edges (bar a `log n` for the ordered
//! ready set) and iterative, so a 1,000-deep chain needs no deep recursion.
pub mod render;

use crate::config::rules::{did_you_mean, env_prefix};
use crate::config::{DependsOn, Ecosystem, ServiceSpec};
use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use petgraph::graph::{DiGraph, NodeIndex};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet, VecDeque};

/// Resolved dependencies of an ecosystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DependencyGraph {
    /// Topological order, ties broken by YAML order.
    pub order: Vec<String>,
    /// Start levels: every service of a level depends only on earlier levels.
    pub levels: Vec<Vec<String>>,
    /// Direct dependencies per service, in `depends_on` order.
    pub dependencies: BTreeMap<String, Vec<String>>,
    /// Direct dependants per service, in YAML order.
    pub dependants: BTreeMap<String, Vec<String>>,
}

impl DependencyGraph {
    /// Direct dependencies of a service (empty for an unknown name).
    #[must_use]
    pub fn dependencies_of(&self, service: &str) -> &[String] {
        self.dependencies.get(service).map_or(&[], Vec::as_slice)
    }

    /// Direct dependants of a service (empty for an unknown name).
    #[must_use]
    pub fn dependants_of(&self, service: &str) -> &[String] {
        self.dependants.get(service).map_or(&[], Vec::as_slice)
    }
}

/// Builds the graph.
///
/// # Errors
/// `UnknownService` (with a did-you-mean hint) for every dependency that is not a service of the
/// file, and one `CircularDependency` per cycle, naming it in order (`a -> b -> a` reads "a
/// depends on b, which depends on a"). Sorted by line.
pub fn resolve(eco: &Ecosystem) -> Result<DependencyGraph, Diagnostics> {
    let n = eco.services.len();
    let index: HashMap<&str, usize> = eco
        .services
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.as_str(), i))
        .collect();
    let mut diags = Vec::new();
    // Edge service -> dependency, weight = position in `depends_on`.
    let mut g: DiGraph<usize, usize> = DiGraph::with_capacity(n, n);
    let nodes: Vec<NodeIndex> = (0..n).map(|i| g.add_node(i)).collect();
    // deps[i] = distinct known dependencies of i, in depends_on order.
    let mut deps: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, svc) in eco.services.iter().enumerate() {
        let mut seen = HashSet::new();
        for (k, dep) in svc.depends_on.iter().enumerate() {
            match index.get(dep.name.as_str()) {
                Some(&j) => {
                    if seen.insert(j) {
                        if let (Some(&a), Some(&b)) = (nodes.get(i), nodes.get(j)) {
                            g.add_edge(a, b, k);
                        }
                        if let Some(d) = deps.get_mut(i) {
                            d.push(j);
                        }
                    }
                }
                None => diags.push(unknown_service(eco, svc, dep)),
            }
        }
    }
    diags.extend(cycles(eco, &g, &deps));
    if !diags.is_empty() {
        let mut d = Diagnostics(diags);
        d.sort();
        return Err(d);
    }

    // Kahn's algorithm; the ready set is a min-heap on YAML position.
    let mut dependants: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut remaining: Vec<usize> = vec![0; n];
    for (i, ds) in deps.iter().enumerate() {
        for &j in ds {
            if let Some(d) = dependants.get_mut(j) {
                d.push(i);
            }
        }
        if let Some(r) = remaining.get_mut(i) {
            *r = ds.len();
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> = remaining
        .iter()
        .enumerate()
        .filter(|(_, r)| **r == 0)
        .map(|(i, _)| Reverse(i))
        .collect();
    let mut order_idx = Vec::with_capacity(n);
    while let Some(Reverse(i)) = ready.pop() {
        order_idx.push(i);
        for &k in dependants.get(i).map_or(&[][..], Vec::as_slice) {
            if let Some(r) = remaining.get_mut(k) {
                *r -= 1;
                if *r == 0 {
                    ready.push(Reverse(k));
                }
            }
        }
    }

    // Level = 1 + the highest level of its dependencies, computed in topological order.
    let mut level = vec![0usize; n];
    let mut depth = 0;
    for &i in &order_idx {
        let l = deps
            .get(i)
            .into_iter()
            .flatten()
            .filter_map(|&j| level.get(j).map(|l| l + 1))
            .max()
            .unwrap_or(0);
        if let Some(slot) = level.get_mut(i) {
            *slot = l;
        }
        depth = depth.max(l + 1);
    }
    let mut levels: Vec<Vec<String>> = vec![Vec::new(); depth];
    for (i, svc) in eco.services.iter().enumerate() {
        if let Some(slot) = level.get(i).and_then(|&l| levels.get_mut(l)) {
            slot.push(svc.name.clone());
        }
    }

    let name = |i: &usize| eco.services.get(*i).map(|s| s.name.clone());
    Ok(DependencyGraph {
        order: order_idx.iter().filter_map(name).collect(),
        levels,
        dependencies: eco
            .services
            .iter()
            .zip(&deps)
            .map(|(s, ds)| (s.name.clone(), ds.iter().filter_map(name).collect()))
            .collect(),
        dependants: eco
            .services
            .iter()
            .zip(&dependants)
            .map(|(s, ds)| (s.name.clone(), ds.iter().filter_map(name).collect()))
            .collect(),
    })
}

fn unknown_service(eco: &Ecosystem, svc: &ServiceSpec, dep: &DependsOn) -> Diagnostic {
    let names = eco.services.iter().map(|s| s.name.as_str());
    let hint = match did_you_mean(&dep.name, names) {
        Some(s) => format!("did you mean `{s}`?"),
        None => {
            let mut all: Vec<&str> = eco.services.iter().map(|s| s.name.as_str()).collect();
            all.truncate(10);
            format!(
                "depend on one of the services of this file ({}{})",
                all.join(", "),
                if eco.services.len() > 10 { ", …" } else { "" }
            )
        }
    };
    Diagnostic::error(
        Code::UnknownService,
        &eco.file,
        dep.line,
        format!(
            "service `{}` depends on `{}`, which is not a service of this file",
            svc.name, dep.name
        ),
    )
    .with_hint(hint)
}

/// One `CircularDependency` per strongly connected component that holds a cycle.
fn cycles(eco: &Ecosystem, g: &DiGraph<usize, usize>, deps: &[Vec<usize>]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for scc in petgraph::algo::kosaraju_scc(g) {
        let members: HashSet<usize> = scc
            .iter()
            .filter_map(|n| g.node_weight(*n).copied())
            .collect();
        let Some(&start) = members.iter().min() else {
            continue;
        };
        let self_loop = deps.get(start).is_some_and(|d| d.contains(&start));
        if members.len() < 2 && !self_loop {
            continue;
        }
        let path = cycle_path(start, &members, deps);
        let names: Vec<&str> = path
            .iter()
            .filter_map(|&i| eco.services.get(i).map(|s| s.name.as_str()))
            .collect();
        let Some(svc) = eco.services.get(start) else {
            continue;
        };
        let next = path.get(1).and_then(|&i| eco.services.get(i));
        let line = next
            .and_then(|nx| svc.depends_on.iter().find(|d| d.name == nx.name))
            .map_or(svc.line, |d| d.line);
        out.push(
            Diagnostic::error(
                Code::CircularDependency,
                &eco.file,
                line,
                format!("circular dependency: {}", names.join(" -> ")),
            )
            .with_hint(
                "remove one of these `depends_on` entries; services must start in some order",
            ),
        );
    }
    out
}

/// The shortest cycle from `start` back to itself inside `members` (BFS, iterative), as a list
/// of services beginning and ending with `start`.
fn cycle_path(start: usize, members: &HashSet<usize>, deps: &[Vec<usize>]) -> Vec<usize> {
    let mut parent: HashMap<usize, usize> = HashMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        for &w in deps.get(v).map_or(&[][..], Vec::as_slice) {
            if !members.contains(&w) {
                continue;
            }
            if w == start {
                let mut path = vec![start];
                let mut cur = v;
                while cur != start {
                    path.push(cur);
                    cur = parent.get(&cur).copied().unwrap_or(start);
                }
                path.push(start);
                // path is start, v, …, start reversed between the ends.
                let end = path.len() - 1;
                if let Some(middle) = path.get_mut(1..end) {
                    middle.reverse();
                }
                return path;
            }
            if w != start && !parent.contains_key(&w) {
                parent.insert(w, v);
                queue.push_back(w);
            }
        }
    }
    vec![start, start]
}

/// The environment a service's containers get (spec §10, §12): dependency variables, then
/// `MARKPACT_PORT`/`PORT`/`SERVICE_NAME`/…, then the service's own `env` (which wins).
#[must_use]
pub fn injected_env(eco: &Ecosystem, service: &ServiceSpec) -> BTreeMap<String, String> {
    let by_name = |name: &str| eco.service(name);
    env_with(eco, service, &by_name)
}

/// What a service's start script waits for ([`crate::image::start_script`]): every
/// dependency's health URL through its network alias (`http://api:8000/health`), or its port
/// (`tcp://worker:9000`) when it has no health check, separated by spaces. Empty without
/// dependencies.
#[must_use]
pub fn wait_for(eco: &Ecosystem, spec: &ServiceSpec) -> String {
    spec.depends_on
        .iter()
        .filter_map(|dep| {
            let d = eco.service(&dep.name)?;
            wait_entry(d)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a dependant's start script waits for on `dep`: its health URL, or its port when it
/// has no HTTP health check; `None` for a service without a port and for a job, which the start
/// script cannot probe: `up` starts their dependants only once they are healthy (running, or
/// their `health_cmd` passed) or completed ([`all_waitable`]).
#[must_use]
pub fn wait_entry(dep: &ServiceSpec) -> Option<String> {
    let port = dep.port.filter(|_| !dep.is_job())?;
    Some(match (&dep.health_check, &dep.health_cmd) {
        (Some(path), _) => format!("http://{}:{port}{path}", dep.name),
        _ => format!("tcp://{}:{port}", dep.name),
    })
}

/// True when the start script can hold `spec` until every dependency answers (each has a
/// [`wait_entry`]), so `up` may start it early.
#[must_use]
pub fn all_waitable(eco: &Ecosystem, spec: &ServiceSpec) -> bool {
    spec.depends_on
        .iter()
        .all(|d| eco.service(&d.name).is_none_or(|d| wait_entry(d).is_some()))
}

/// [`injected_env`] for every service, keyed by service name (one pass, no quadratic lookups).
#[must_use]
pub fn injected_env_all(eco: &Ecosystem) -> BTreeMap<String, BTreeMap<String, String>> {
    let index: HashMap<&str, &ServiceSpec> =
        eco.services.iter().map(|s| (s.name.as_str(), s)).collect();
    let by_name = |name: &str| index.get(name).copied();
    eco.services
        .iter()
        .map(|s| (s.name.clone(), env_with(eco, s, &by_name)))
        .collect()
}

fn env_with<'a>(
    eco: &'a Ecosystem,
    service: &ServiceSpec,
    by_name: &dyn Fn(&str) -> Option<&'a ServiceSpec>,
) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for dep in &service.depends_on {
        let prefix = env_prefix(&dep.name);
        let dep_spec = by_name(&dep.name);
        if dep_spec.is_some_and(ServiceSpec::is_job) && dep.endpoint.is_none() {
            // a job serves nothing: no URL; its `env_var` (if any) gets its name
            if let Some(var) = &dep.env_var {
                env.insert(var.clone(), dep.name.clone());
            }
            continue;
        }
        let dep_port = dep_spec.and_then(|d| d.port);
        let rewritten = dep.endpoint.as_deref().and_then(|e| {
            let port = dep_port?;
            Some((loopback_to_service(e, &dep.name, port)?, port))
        });
        let (url, host, port) = match (&dep.endpoint, rewritten) {
            (Some(_), Some((url, port))) => (url, Some(dep.name.clone()), Some(port)),
            (Some(endpoint), None) => {
                let (host, port) = match endpoint_host_port(endpoint) {
                    Some((h, p)) => (Some(h), p),
                    None => (None, None),
                };
                (endpoint.clone(), host, port)
            }
            (None, _) => {
                let port = dep_port;
                let url = match port {
                    Some(p) => format!("http://{}:{p}", dep.name),
                    None => format!("http://{}", dep.name),
                };
                (url, Some(dep.name.clone()), port)
            }
        };
        env.insert(format!("{prefix}_URL"), url.clone());
        if let Some(host) = host {
            env.insert(format!("{prefix}_HOST"), host);
        }
        if let Some(port) = port {
            env.insert(format!("{prefix}_PORT"), port.to_string());
        }
        if let Some(var) = &dep.env_var {
            env.insert(var.clone(), url);
        }
    }
    if let Some(port) = service.port {
        let port = port.to_string();
        env.insert("MARKPACT_PORT".into(), port.clone());
        env.insert("PORT".into(), port.clone());
        env.insert(
            "SERVICE_URL".into(),
            format!("http://{}:{port}", service.name),
        );
    }
    env.insert("SERVICE_NAME".into(), service.name.clone());
    env.insert("PACTOWN_SERVICE_NAME".into(), service.name.clone());
    env.insert("PACTOWN_ECOSYSTEM".into(), eco.name.clone());
    for (k, v) in &service.env {
        env.insert(k.clone(), v.clone());
    }
    env
}

/// Host and port of an endpoint such as `http://db:5432/x`, `https://h` (port 443) or `db:5432`.
#[must_use]
pub fn endpoint_host_port(endpoint: &str) -> Option<(String, Option<u16>)> {
    let (scheme, rest) = match endpoint.split_once("://") {
        Some((s, r)) => (Some(s.to_ascii_lowercase()), r),
        None => (None, endpoint),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let (host, port) = if let Some(after) = authority.strip_prefix('[') {
        let (h, tail) = after.split_once(']')?;
        (h.to_string(), tail.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (authority.to_string(), None),
        }
    };
    if host.is_empty() {
        return None;
    }
    let port = match port {
        Some(p) => Some(p.parse::<u16>().ok()?),
        None => match scheme.as_deref() {
            Some("http" | "ws") => Some(80),
            Some("https" | "wss") => Some(443),
            _ => None,
        },
    };
    Some((host, port))
}

/// Whether a host name or address is the local machine's loopback (or the wildcard address).
fn is_loopback(host: &str) -> bool {
    let h = host.to_ascii_lowercase();
    h == "localhost"
        || h.ends_with(".localhost")
        || h.starts_with("127.")
        || h == "::1"
        || h == "0.0.0.0"
}

/// Compatibility with ecosystem files written for the original, process-based pactown, where
/// every service runs on one host: an explicit endpoint on the loopback *at the dependency's own
/// port* (`http://localhost:8003` for a dependency on port 8003) can only mean that dependency,
/// so it becomes the same URL with the dependency's network alias as host
/// (`http://database:8003`), scheme, credentials and path kept. Any other endpoint: `None`.
#[must_use]
pub fn loopback_to_service(endpoint: &str, service: &str, port: u16) -> Option<String> {
    let (host, p) = endpoint_host_port(endpoint)?;
    if !is_loopback(&host) || p != Some(port) {
        return None;
    }
    let (scheme, rest) = match endpoint.split_once("://") {
        Some((s, r)) => (format!("{s}://"), r),
        None => (String::new(), endpoint),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let userinfo = authority.rsplit_once('@').map_or("", |(u, _)| u);
    let at = if userinfo.is_empty() { "" } else { "@" };
    Some(format!("{scheme}{userinfo}{at}{service}:{port}{tail}"))
}

/// `LocalhostEndpoint` warnings for explicit endpoints that point at the host's loopback, which
/// from inside a container is the container itself (those at the dependency's own port are
/// rewritten to its network alias, see [`loopback_to_service`], and say so).
#[must_use]
pub fn endpoint_warnings(eco: &Ecosystem) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for svc in &eco.services {
        for dep in &svc.depends_on {
            let Some(endpoint) = &dep.endpoint else {
                continue;
            };
            let dep_port = eco
                .services
                .iter()
                .find(|s| s.name == dep.name)
                .and_then(|s| s.port);
            if let Some(url) = dep_port.and_then(|p| loopback_to_service(endpoint, &dep.name, p)) {
                out.push(
                    Diagnostic::warning(
                        Code::LocalhostEndpoint,
                        &eco.file,
                        dep.line,
                        format!(
                            "endpoint `{endpoint}` of `{}` in `{}` points at localhost, which inside a container is the container itself; using {url}",
                            dep.name, svc.name
                        ),
                    )
                    .with_hint(format!("write `endpoint: {url}`, or remove `endpoint`")),
                );
                continue;
            }
            let local = endpoint_host_port(endpoint).is_some_and(|(h, _)| is_loopback(&h));
            if local {
                out.push(
                    Diagnostic::warning(
                        Code::LocalhostEndpoint,
                        &eco.file,
                        dep.line,
                        format!(
                            "endpoint `{endpoint}` of `{}` in `{}` points at localhost, which inside a container is the container itself",
                            dep.name, svc.name
                        ),
                    )
                    .with_hint(format!(
                        "remove `endpoint` to use http://{}:PORT on the ecosystem network, or name a reachable host",
                        dep.name
                    )),
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse() {
        assert_eq!(
            endpoint_host_port("http://db:5432/x"),
            Some(("db".into(), Some(5432)))
        );
        assert_eq!(
            endpoint_host_port("https://example.org"),
            Some(("example.org".into(), Some(443)))
        );
        assert_eq!(
            endpoint_host_port("postgres://u:p@db:5432/app"),
            Some(("db".into(), Some(5432)))
        );
        assert_eq!(
            endpoint_host_port("http://[::1]:80"),
            Some(("::1".into(), Some(80)))
        );
        assert_eq!(endpoint_host_port("redis"), Some(("redis".into(), None)));
        assert_eq!(endpoint_host_port("http://db:notaport"), None);
        assert_eq!(endpoint_host_port("http://"), None);
    }

    #[test]
    fn loopback_endpoints_at_the_dependency_port_become_its_alias() {
        let r = |e: &str| loopback_to_service(e, "database", 8003);
        assert_eq!(
            r("http://localhost:8003").as_deref(),
            Some("http://database:8003")
        );
        assert_eq!(
            r("http://127.0.0.1:8003/v1?x=1").as_deref(),
            Some("http://database:8003/v1?x=1")
        );
        assert_eq!(
            r("postgres://u:p@[::1]:8003/app").as_deref(),
            Some("postgres://u:p@database:8003/app")
        );
        assert_eq!(r("localhost:8003").as_deref(), Some("database:8003"));
        // another port, or another host: kept verbatim
        assert_eq!(r("http://localhost:6379"), None);
        assert_eq!(r("http://localhost"), None);
        assert_eq!(r("http://db.internal:8003"), None);
    }

    #[test]
    fn cycle_path_is_in_order() {
        // 0 -> 1 -> 2 -> 0, plus 2 -> 3 outside.
        let deps = vec![vec![1], vec![2], vec![0, 3], vec![]];
        let members: HashSet<usize> = [0, 1, 2].into_iter().collect();
        assert_eq!(cycle_path(0, &members, &deps), vec![0, 1, 2, 0]);
        let deps = vec![vec![0]];
        let members: HashSet<usize> = [0].into_iter().collect();
        assert_eq!(cycle_path(0, &members, &deps), vec![0, 0]);
    }
}
