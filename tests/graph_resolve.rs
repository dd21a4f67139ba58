//! Dependency graph: order, levels, cycles, unknown services and injected environment.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use pactown::config::{self, Ecosystem};
use pactown::graph::{self, injected_env};
use pactown::Code;
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

fn eco(text: &str) -> Ecosystem {
    config::parse(Path::new("shop.pactown.yaml"), text).unwrap()
}

#[test]
fn order_follows_dependencies_with_ties_in_yaml_order() {
    let e = eco("services:\n  web:\n    depends_on: [api, auth]\n  api:\n    depends_on: [db]\n  auth: {}\n  db: {}\n  docs: {}\n");
    let g = graph::resolve(&e).unwrap();
    // Whenever several services are ready, the one earliest in the YAML goes first.
    assert_eq!(g.order, ["auth", "db", "api", "web", "docs"]);
    assert_eq!(
        g.levels,
        vec![vec!["auth", "db", "docs"], vec!["api"], vec!["web"]]
    );
    assert_eq!(g.dependencies_of("web"), ["api", "auth"]);
    assert_eq!(g.dependants_of("db"), ["api"]);
    assert_eq!(g.dependants_of("auth"), ["web"]);
    assert!(g.dependants_of("web").is_empty());
    assert_eq!(g.dependencies.len(), 5);
    let plain = graph::resolve(&eco("services:\n  c: {}\n  a: {}\n  b: {}\n")).unwrap();
    assert_eq!(plain.order, ["c", "a", "b"]);
    assert_eq!(plain.levels, vec![vec!["c", "a", "b"]]);
}

#[test]
fn cycles_are_named_in_order() {
    let e = eco("services:\n  a:\n    depends_on: [b]\n  b:\n    depends_on: [c]\n  c:\n    depends_on: [a]\n  d:\n    depends_on: [a]\n");
    let d = graph::resolve(&e).unwrap_err();
    assert_eq!(d.0.len(), 1, "{d}");
    assert_eq!(d.0[0].code, Code::CircularDependency);
    assert!(
        d.0[0].message.ends_with("a -> b -> c -> a"),
        "{}",
        d.0[0].message
    );
    assert_eq!(d.0[0].line, 3, "points at a's depends_on entry for b");
    assert!(d.to_string().starts_with("shop.pactown.yaml:3"), "{d}");
}

#[test]
fn self_dependency_and_two_cycles() {
    let e = eco("services:\n  a:\n    depends_on: [a]\n  b:\n    depends_on: [c]\n  c:\n    depends_on: [b]\n");
    let d = graph::resolve(&e).unwrap_err();
    let msgs: Vec<&str> = d.0.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(
        msgs,
        [
            "circular dependency: a -> a",
            "circular dependency: b -> c -> b"
        ]
    );
}

#[test]
fn unknown_services_suggest_a_name() {
    let e = eco(
        "services:\n  api:\n    depends_on:\n      - databse\n      - name: zzz\n  database: {}\n",
    );
    let d = graph::resolve(&e).unwrap_err();
    let got: Vec<(Code, usize)> = d.0.iter().map(|d| (d.code, d.line)).collect();
    assert_eq!(got, [(Code::UnknownService, 4), (Code::UnknownService, 5)]);
    assert_eq!(d.0[0].hint.as_deref(), Some("did you mean `database`?"));
    assert!(d.0[1].hint.as_deref().unwrap().contains("api, database"));
}

#[test]
fn injected_env_for_derived_dependencies() {
    let e = eco("name: shop\nservices:\n  user-db:\n    port: 8100\n  api:\n    port: 8101\n    depends_on:\n      - name: user-db\n        env_var: DATABASE_URL\n    env: {LOG: debug, PORT: '9999'}\n");
    let env = injected_env(&e, e.service("api").unwrap());
    let got: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        got,
        [
            ("DATABASE_URL", "http://user-db:8100"),
            ("LOG", "debug"),
            ("MARKPACT_PORT", "8101"),
            ("PACTOWN_ECOSYSTEM", "shop"),
            ("PACTOWN_SERVICE_NAME", "api"),
            ("PORT", "9999"),
            ("SERVICE_NAME", "api"),
            ("SERVICE_URL", "http://api:8101"),
            ("USER_DB_HOST", "user-db"),
            ("USER_DB_PORT", "8100"),
            ("USER_DB_URL", "http://user-db:8100"),
        ]
    );
    assert_eq!(graph::injected_env_all(&e).get("api"), Some(&env));
}

#[test]
fn explicit_endpoints_are_used_verbatim_and_localhost_warns() {
    let e = eco("services:\n  db: {}\n  cache: {}\n  api:\n    depends_on:\n      - name: db\n        endpoint: https://db.internal/v1\n      - name: cache\n        endpoint: http://localhost:6379\n");
    let env = injected_env(&e, e.service("api").unwrap());
    assert_eq!(env["DB_URL"], "https://db.internal/v1");
    assert_eq!(env["DB_HOST"], "db.internal");
    assert_eq!(env["DB_PORT"], "443");
    assert_eq!(env["CACHE_URL"], "http://localhost:6379");
    assert_eq!(env["CACHE_PORT"], "6379");
    let w = graph::endpoint_warnings(&e);
    assert_eq!(w.len(), 1);
    assert_eq!((w[0].code, w[0].line), (Code::LocalhostEndpoint, 8));
    assert!(!w[0].is_error());
}

fn chain(n: usize) -> String {
    let mut s = String::from("name: chain\nbase_port: 20000\nservices:\n");
    for i in 0..n {
        let _ = writeln!(s, "  s{i}:");
        if i > 0 {
            let _ = writeln!(s, "    depends_on: [s{}]", i - 1);
        }
    }
    s
}

#[test]
fn deep_chain_is_linear_and_does_not_overflow() {
    let n = 5_000;
    let e = eco(&chain(n));
    let start = Instant::now();
    let g = graph::resolve(&e).unwrap();
    let _ = graph::injected_env_all(&e);
    let _ = graph::render::tree(&e, &g);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(g.levels.len(), n);
    assert_eq!(g.order.first().map(String::as_str), Some("s0"));
    assert_eq!(g.order.last().map(String::as_str), Some("s4999"));
}

#[test]
fn long_cycle_is_found_without_recursion() {
    let mut text = chain(3_000);
    text.push_str("  head:\n    depends_on: [s2999]\n");
    text = text.replace("  s0:\n", "  s0:\n    depends_on: [head]\n");
    let d = graph::resolve(&eco(&text)).unwrap_err();
    assert_eq!(d.0.len(), 1);
    assert!(d.0[0]
        .message
        .starts_with("circular dependency: s0 -> head -> s2999 -> s2998"));
    assert!(d.0[0].message.ends_with("s1 -> s0"));
}

#[test]
fn fan_out_levels() {
    let mut s = String::from("base_port: 20000\nservices:\n  hub:\n");
    for i in 0..1_000 {
        let _ = writeln!(s, "  leaf{i}:\n    depends_on: [hub]");
    }
    let g = graph::resolve(&eco(&s)).unwrap();
    assert_eq!(g.levels.len(), 2);
    assert_eq!(g.levels[1].len(), 1_000);
    assert_eq!(g.dependants_of("hub").len(), 1_000);
}
