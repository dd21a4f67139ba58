//! `pactown test`: runs the README's `markpact:test` blocks (spec §6.4) against the running
//! ecosystem and collects one [`TestResult`] per test line.
//!
//! - **http** lines go to the service's published port on 127.0.0.1 (replica 1), one request
//!   each (5 s, redirects not followed so `EXPECT 302` can pass).
//! - **shell** blocks run as one one-off container per block, from the image the service's
//!   container runs, with the environment and hardening `up` gives the service (built by the
//!   same [`crate::deploy::spec::container_spec`]), on the ecosystem's network so service names
//!   resolve, no published port and no restart. The lines reach the container as arguments of a
//!   fixed bash runner (never spliced into a script); each runs under `/bin/sh -c` with a 30 s
//!   time-out, and the runner prints a marker with a per-run nonce before and after each line, so
//!   the output of each line and its exit code are read back from the container's log. The
//!   container is removed afterwards, whatever happened.
//!
//! Nothing here prints: the caller renders the [`TestReport`] (table, JSON, JUnit via
//! [`junit`]).
use crate::config::labels;
use crate::deploy::plan::{host_port_of, DesiredService};
use crate::deploy::scheduler::DeployOptions;
use crate::deploy::spec::{container_spec, Placement};
use crate::engine::{ContainerInfo, Engine, EngineError, LogQuery};
use crate::markpact::{parse_http_line, Markpact, TestBlock, TestMode};
use crate::project::Project;
use futures_util::StreamExt;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Time-out of one HTTP test request.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(5);
/// Time-out of one shell test line.
pub const SHELL_LINE_TIMEOUT: Duration = Duration::from_secs(30);
/// Output lines kept per failed shell line.
const OUTPUT_LINES: usize = 20;
/// Label on one-off test containers: the ecosystem they test. Not `io.pactown.ecosystem`, so
/// `up`/watch never take them for one of the ecosystem's services.
pub const TEST_OF_LABEL: &str = "io.pactown.test-of";

/// The runner of a shell block: `$1…` are the lines, `PACTOWN_TEST_MARK` the marker prefix.
const RUNNER: &str = r#"i=0
for line in "$@"; do
  i=$((i + 1))
  printf '\n%s %d begin\n' "$PACTOWN_TEST_MARK" "$i"
  if command -v timeout >/dev/null 2>&1; then
    timeout -k 2 "$PACTOWN_TEST_TIMEOUT" /bin/sh -c "$line" </dev/null 2>&1
  else
    /bin/sh -c "$line" </dev/null 2>&1
  fi
  printf '\n%s %d exit %d\n' "$PACTOWN_TEST_MARK" "$i" "$?"
done
"#;

/// What `pactown test` runs.
#[derive(Debug, Clone, Default)]
pub struct TestRequest {
    /// Services whose tests run (empty: every service with tests).
    pub services: Vec<String>,
    /// Deploy options (`ecosystem_file` label) used to build the shell containers' spec.
    pub deploy: DeployOptions,
}

/// The result of one test line.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TestResult {
    /// Service name.
    pub service: String,
    /// The README, as the ecosystem file names it.
    pub readme: PathBuf,
    /// The line's own line in the README.
    pub line: usize,
    /// `http` or `shell`.
    pub mode: TestMode,
    /// The test line as written (HTTP method uppercase).
    pub test: String,
    /// True when it passed.
    pub passed: bool,
    /// What happened: `200`, `exit 0`, or why it failed.
    pub detail: String,
    /// Time it took.
    pub ms: u64,
    /// Output of a failed shell line (its last lines), or the body of a failed HTTP answer.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub output: Vec<String>,
}

impl TestResult {
    /// `README:LINE`.
    #[must_use]
    pub fn location(&self) -> String {
        format!("{}:{}", self.readme.display(), self.line)
    }
}

/// All results of a run.
#[derive(Debug, Clone, Serialize)]
pub struct TestReport {
    /// Ecosystem name.
    pub ecosystem: String,
    /// Number of tests.
    pub tests: usize,
    /// Number that passed.
    pub passed: usize,
    /// Number that failed.
    pub failed: usize,
    /// Wall-clock time of the run.
    pub ms: u64,
    /// Results in service order (ecosystem file), then README order.
    pub results: Vec<TestResult>,
}

impl TestReport {
    /// True when every test passed.
    #[must_use]
    pub fn ok(&self) -> bool {
        self.failed == 0
    }
}

/// Problems that stop a run before any test.
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    /// A service named on the command line is not in the ecosystem file.
    #[error("no service `{name}` in {file} (services: {known})")]
    UnknownService {
        /// The name given.
        name: String,
        /// The ecosystem file.
        file: String,
        /// The services of the file.
        known: String,
    },
    /// The engine failed while listing containers.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// Runs the tests of the requested services against what runs now.
///
/// # Errors
/// [`SuiteError::UnknownService`]; engine errors while listing the ecosystem's containers.
/// A service that is not running is not an error: each of its tests fails with the reason.
pub async fn run(
    engine: Arc<dyn Engine>,
    project: &Project,
    req: &TestRequest,
) -> Result<TestReport, SuiteError> {
    let started = Instant::now();
    let eco = &project.ecosystem;
    for name in &req.services {
        if !eco.services.iter().any(|s| &s.name == name) {
            return Err(SuiteError::UnknownService {
                name: name.clone(),
                file: eco.file.display().to_string(),
                known: eco
                    .services
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }
    let existing = engine
        .list_containers(&crate::deploy::ecosystem_filter(&eco.name))
        .await?;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(HTTP_TIMEOUT)
        .build()
        .ok();
    let network = eco.network_name();
    let mut results = Vec::new();
    for spec in &eco.services {
        if !req.services.is_empty() && !req.services.contains(&spec.name) {
            continue;
        }
        let Some(doc) = project.docs.get(&spec.name) else {
            continue;
        };
        if doc.tests.is_empty() {
            continue;
        }
        let running = first_replica(&existing, &spec.name);
        for block in &doc.tests {
            let Some(container) = running else {
                results.extend(block_failed(
                    &spec.name,
                    doc,
                    block,
                    &format!(
                        "service `{}` is not running (start it with `pactown up`)",
                        spec.name
                    ),
                ));
                continue;
            };
            match block.mode {
                TestMode::Http => {
                    let port = host_port_of(container, spec.port);
                    for l in &block.lines {
                        let t = Instant::now();
                        let (passed, detail, output) = match (&http, port) {
                            (Some(client), Some(port)) => http_line(client, port, &l.text).await,
                            (None, _) => (false, "cannot create an HTTP client".into(), vec![]),
                            (_, None) => (
                                false,
                                format!("service `{}` publishes no port", spec.name),
                                vec![],
                            ),
                        };
                        results.push(TestResult {
                            service: spec.name.clone(),
                            readme: doc.path.clone(),
                            line: l.line,
                            mode: TestMode::Http,
                            test: l.text.clone(),
                            passed,
                            detail,
                            ms: millis(t.elapsed()),
                            output,
                        });
                    }
                }
                TestMode::Shell => {
                    let ctx = ShellCtx {
                        engine: &engine,
                        project,
                        network: &network,
                        deploy: &req.deploy,
                    };
                    results.extend(shell_block(&ctx, &spec.name, doc, block, container).await);
                }
            }
        }
    }
    let passed = results.iter().filter(|r| r.passed).count();
    Ok(TestReport {
        ecosystem: eco.name.clone(),
        tests: results.len(),
        passed,
        failed: results.len() - passed,
        ms: millis(started.elapsed()),
        results,
    })
}

/// Replica 1 of `service` if it runs (else any running replica).
fn first_replica<'a>(existing: &'a [ContainerInfo], service: &str) -> Option<&'a ContainerInfo> {
    let mut running: Vec<&ContainerInfo> = existing
        .iter()
        .filter(|c| c.labels.get(labels::SERVICE).map(String::as_str) == Some(service))
        .filter(|c| c.state == "running")
        .collect();
    running.sort_by_key(|c| {
        c.labels
            .get(labels::REPLICA)
            .and_then(|r| r.parse::<u32>().ok())
            .unwrap_or(u32::MAX)
    });
    running.first().copied()
}

/// Every line of `block` failed for `reason`.
fn block_failed(service: &str, doc: &Markpact, block: &TestBlock, reason: &str) -> Vec<TestResult> {
    block
        .lines
        .iter()
        .map(|l| TestResult {
            service: service.to_string(),
            readme: doc.path.clone(),
            line: l.line,
            mode: block.mode,
            test: l.text.clone(),
            passed: false,
            detail: reason.to_string(),
            ms: 0,
            output: Vec::new(),
        })
        .collect()
}

/// One HTTP line: (passed, detail, output).
async fn http_line(client: &reqwest::Client, port: u16, line: &str) -> (bool, String, Vec<String>) {
    let probe = match parse_http_line(line) {
        Ok(p) => p,
        Err(e) => return (false, e.to_string(), Vec::new()),
    };
    let Ok(method) = reqwest::Method::from_bytes(probe.method.as_bytes()) else {
        return (
            false,
            format!("`{}` is not an HTTP method", probe.method),
            vec![],
        );
    };
    let url = format!("http://127.0.0.1:{port}{}", probe.path);
    let mut req = client.request(method, &url);
    if let Some(body) = &probe.body {
        req = req.json(body);
    }
    match req.send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            if probe.passes(status) {
                (true, status.to_string(), Vec::new())
            } else {
                let want = probe
                    .expect
                    .map_or_else(|| "200–399".to_string(), |c| c.to_string());
                let body = resp.text().await.unwrap_or_default();
                let output = body
                    .lines()
                    .take(OUTPUT_LINES)
                    .map(str::to_string)
                    .collect();
                (false, format!("got {status}, expected {want}"), output)
            }
        }
        Err(e) if e.is_timeout() => (
            false,
            format!("no answer within {}s", HTTP_TIMEOUT.as_secs()),
            Vec::new(),
        ),
        Err(e) => (false, format!("request failed: {e}"), Vec::new()),
    }
}

struct ShellCtx<'a> {
    engine: &'a Arc<dyn Engine>,
    project: &'a Project,
    network: &'a str,
    deploy: &'a DeployOptions,
}

/// Runs one shell block in a one-off container (see the module docs).
async fn shell_block(
    ctx: &ShellCtx<'_>,
    service: &str,
    doc: &Markpact,
    block: &TestBlock,
    container: &ContainerInfo,
) -> Vec<TestResult> {
    if block.lines.is_empty() {
        return Vec::new();
    }
    let t0 = Instant::now();
    let eco = &ctx.project.ecosystem;
    let Some(spec) = eco.services.iter().find(|s| s.name == service) else {
        return Vec::new();
    };
    let image_id = match ctx.engine.inspect_container(&container.id).await {
        Ok(d) => d.image_id,
        Err(e) => {
            return block_failed(
                service,
                doc,
                block,
                &format!("cannot inspect {service}: {e}"),
            );
        }
    };
    let desired = DesiredService::from_spec(eco, spec, &container.image, &image_id);
    let at = Placement {
        ecosystem: &eco.name,
        network: ctx.network,
        ecosystem_file: ctx.deploy.ecosystem_file.as_deref(),
    };
    let mut cs = container_spec(at, &desired, 1, None);
    let nonce = nonce();
    let mark = format!("@@pactown-test-{nonce}");
    cs.name = format!(
        "{}-{service}-test-{}",
        eco.name,
        &nonce[..8.min(nonce.len())]
    );
    cs.labels = BTreeMap::from([
        (labels::MANAGED.to_string(), "true".to_string()),
        (TEST_OF_LABEL.to_string(), eco.name.clone()),
        (labels::SERVICE.to_string(), service.to_string()),
    ]);
    cs.ports.clear();
    cs.aliases.clear();
    cs.restart = false;
    cs.healthcheck = None;
    cs.stop_timeout = Some(1);
    cs.env.insert("PACTOWN_TEST_MARK".into(), mark.clone());
    cs.env.insert(
        "PACTOWN_TEST_TIMEOUT".into(),
        SHELL_LINE_TIMEOUT.as_secs().to_string(),
    );
    // the port the service listens on inside its own container, for `curl $SERVICE:$PORT`
    if let Some(port) = spec.port {
        cs.env
            .entry("MARKPACT_PORT".into())
            .or_insert_with(|| port.to_string());
        cs.env
            .entry("PORT".into())
            .or_insert_with(|| port.to_string());
    }
    let mut command = vec![
        "/bin/bash".to_string(),
        "-c".to_string(),
        RUNNER.to_string(),
        "pactown-test".to_string(),
    ];
    command.extend(block.lines.iter().map(|l| l.text.clone()));
    cs.command = Some(command);

    let id = match ctx.engine.create_container(&cs).await {
        Ok(id) => id,
        Err(e) => {
            return block_failed(
                service,
                doc,
                block,
                &format!("cannot create the test container: {e}"),
            )
        }
    };
    let outcome = run_to_end(ctx.engine.as_ref(), &id, block.lines.len()).await;
    let log = match &outcome {
        Ok(()) | Err(RunError::TimedOut) => collect_log(ctx.engine.as_ref(), &id).await,
        Err(RunError::Engine(_)) => Vec::new(),
    };
    let _ = ctx.engine.remove_container(&id).await;
    if let Err(RunError::Engine(e)) = &outcome {
        return block_failed(service, doc, block, &format!("test container failed: {e}"));
    }
    let parsed = split_output(&log, &mark);
    let per_line = millis(t0.elapsed()) / u64::try_from(block.lines.len()).unwrap_or(1).max(1);
    block
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let (exit, output) = parsed.get(&(i + 1)).cloned().unwrap_or((None, Vec::new()));
            let (passed, detail) = match exit {
                Some(0) => (true, "exit 0".to_string()),
                Some(124) => (
                    false,
                    format!("timed out after {}s", SHELL_LINE_TIMEOUT.as_secs()),
                ),
                Some(127) if !doc.dev_deps.is_empty() => (
                    false,
                    "exit 127 (command not found; `scope=dev` dependencies are never installed in the image)"
                        .to_string(),
                ),
                Some(code) => (false, format!("exit {code}")),
                None if matches!(outcome, Err(RunError::TimedOut)) => {
                    (false, "the test container did not finish in time".to_string())
                }
                None => (false, "did not run (an earlier line ended the container)".to_string()),
            };
            let skip = output.len().saturating_sub(OUTPUT_LINES);
            TestResult {
                service: service.to_string(),
                readme: doc.path.clone(),
                line: l.line,
                mode: TestMode::Shell,
                test: l.text.clone(),
                passed,
                detail,
                ms: per_line,
                output: if passed {
                    Vec::new()
                } else {
                    output.into_iter().skip(skip).collect()
                },
            }
        })
        .collect()
}

enum RunError {
    TimedOut,
    Engine(EngineError),
}

/// Starts the container and waits until it exits (all lines' time-outs plus a margin).
async fn run_to_end(engine: &dyn Engine, id: &str, lines: usize) -> Result<(), RunError> {
    engine.start_container(id).await.map_err(RunError::Engine)?;
    let budget = SHELL_LINE_TIMEOUT
        .saturating_add(Duration::from_secs(3))
        .saturating_mul(u32::try_from(lines).unwrap_or(u32::MAX))
        .saturating_add(Duration::from_secs(10));
    let deadline = Instant::now() + budget;
    let mut delay = Duration::from_millis(50);
    loop {
        let d = engine
            .inspect_container(id)
            .await
            .map_err(RunError::Engine)?;
        if !d.running && d.info.state != "created" {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let _ = engine.kill_container(id, "KILL").await;
            return Err(RunError::TimedOut);
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(500));
    }
}

async fn collect_log(engine: &dyn Engine, id: &str) -> Vec<String> {
    let Ok(stream) = engine.logs(id, &LogQuery::default()).await else {
        return Vec::new();
    };
    tokio::time::timeout(
        Duration::from_secs(10),
        stream
            .filter_map(|l| async move { l.ok().map(|l| l.text) })
            .collect::<Vec<_>>(),
    )
    .await
    .unwrap_or_default()
}

/// Per line number (1-based): its exit code (when the end marker was seen) and its output.
fn split_output(log: &[String], mark: &str) -> BTreeMap<usize, (Option<i64>, Vec<String>)> {
    let mut out: BTreeMap<usize, (Option<i64>, Vec<String>)> = BTreeMap::new();
    let mut current: Option<usize> = None;
    for raw in log {
        let line = raw.trim_end_matches('\r');
        if let Some(rest) = line.strip_prefix(mark).and_then(|r| r.strip_prefix(' ')) {
            let mut words = rest.split(' ');
            let n = words.next().and_then(|w| w.parse::<usize>().ok());
            match (n, words.next(), words.next()) {
                (Some(n), Some("begin"), None) => {
                    out.entry(n).or_default();
                    current = Some(n);
                    continue;
                }
                (Some(n), Some("exit"), Some(code)) => {
                    if let Some(entry) = out.get_mut(&n) {
                        entry.0 = code.parse().ok();
                        // the runner adds a newline before the marker
                        if entry.1.last().is_some_and(String::is_empty) {
                            entry.1.pop();
                        }
                    }
                    current = None;
                    continue;
                }
                _ => {}
            }
        }
        if let Some(n) = current {
            if let Some(entry) = out.get_mut(&n) {
                entry.1.push(line.to_string());
            }
        }
    }
    out
}

/// A per-run nonce (hex): time and process id through sha256, so test output cannot guess it.
fn nonce() -> String {
    use sha2::{Digest, Sha256};
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let digest = Sha256::digest(format!("{now}-{}", std::process::id()).as_bytes());
    hex::encode(digest.get(..8).unwrap_or(&[]))
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The report as JUnit XML (one `testsuite` per service, one `testcase` per line, `failure`
/// with the detail and output). Every text and attribute is escaped; characters XML 1.0 cannot
/// carry at all (control characters other than tab, LF, CR) become U+FFFD.
#[must_use]
pub fn junit(report: &TestReport) -> String {
    use quick_xml::events::{BytesDecl, Event};
    use quick_xml::Writer;
    let mut services: Vec<&str> = Vec::new();
    for r in &report.results {
        if !services.contains(&r.service.as_str()) {
            services.push(&r.service);
        }
    }
    let secs = |ms: u64| format!("{:.3}", Duration::from_millis(ms).as_secs_f64());
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    let result: std::io::Result<()> = (|| {
        w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
        let tests = report.tests.to_string();
        let failures = report.failed.to_string();
        let time = secs(report.ms);
        let name = xml_safe(&format!("pactown {}", report.ecosystem));
        w.create_element("testsuites")
            .with_attributes([
                ("name", name.as_str()),
                ("tests", tests.as_str()),
                ("failures", failures.as_str()),
                ("errors", "0"),
                ("time", time.as_str()),
            ])
            .write_inner_content(|w| {
                for service in &services {
                    let rs: Vec<&TestResult> = report
                        .results
                        .iter()
                        .filter(|r| r.service == *service)
                        .collect();
                    let tests = rs.len().to_string();
                    let failures = rs.iter().filter(|r| !r.passed).count().to_string();
                    let time = secs(rs.iter().map(|r| r.ms).sum());
                    let suite = xml_safe(service);
                    w.create_element("testsuite")
                        .with_attributes([
                            ("name", suite.as_str()),
                            ("tests", tests.as_str()),
                            ("failures", failures.as_str()),
                            ("errors", "0"),
                            ("skipped", "0"),
                            ("time", time.as_str()),
                        ])
                        .write_inner_content(|w| {
                            for r in &rs {
                                write_case(w, &report.ecosystem, r)?;
                            }
                            Ok(())
                        })?;
                }
                Ok(())
            })?;
        Ok(())
    })();
    // writing into a Vec cannot fail
    drop(result);
    let mut text = String::from_utf8_lossy(&w.into_inner()).into_owned();
    text.push('\n');
    text
}

fn write_case(
    w: &mut quick_xml::Writer<Vec<u8>>,
    ecosystem: &str,
    r: &TestResult,
) -> std::io::Result<()> {
    use quick_xml::events::BytesText;
    let name = xml_safe(&format!("{} {}", r.location(), r.test));
    let class = xml_safe(&format!("{ecosystem}.{}", r.service));
    let time = format!("{:.3}", Duration::from_millis(r.ms).as_secs_f64());
    let file = xml_safe(&r.readme.display().to_string());
    let line = r.line.to_string();
    let case = w.create_element("testcase").with_attributes([
        ("name", name.as_str()),
        ("classname", class.as_str()),
        ("file", file.as_str()),
        ("line", line.as_str()),
        ("time", time.as_str()),
    ]);
    if r.passed {
        case.write_empty()?;
        return Ok(());
    }
    let message = xml_safe(&r.detail);
    let kind = match r.mode {
        TestMode::Http => "http",
        TestMode::Shell => "shell",
    };
    let body = xml_safe(&r.output.join("\n"));
    case.write_inner_content(|w| {
        w.create_element("failure")
            .with_attributes([("message", message.as_str()), ("type", kind)])
            .write_text_content(BytesText::new(&body))?;
        Ok(())
    })?;
    Ok(())
}

/// Replaces characters XML 1.0 cannot contain, even escaped.
fn xml_safe(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => '\u{fffd}',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_split_by_the_markers() {
        let mark = "@@pactown-test-abc";
        let log: Vec<String> = [
            "",
            "@@pactown-test-abc 1 begin",
            "hello",
            "",
            "@@pactown-test-abc 1 exit 0",
            "",
            "@@pactown-test-abc 2 begin",
            "@@pactown-test-other 2 exit 0",
            "boom",
            "",
            "@@pactown-test-abc 2 exit 3",
            "",
            "@@pactown-test-abc 3 begin",
            "half",
        ]
        .iter()
        .map(|s| (*s).to_string())
        .collect();
        let m = split_output(&log, mark);
        assert_eq!(m[&1], (Some(0), vec!["hello".to_string()]));
        assert_eq!(
            m[&2],
            (
                Some(3),
                vec![
                    "@@pactown-test-other 2 exit 0".to_string(),
                    "boom".to_string()
                ]
            )
        );
        assert_eq!(m[&3], (None, vec!["half".to_string()]));
        assert!(!m.contains_key(&4));
    }

    fn result(service: &str, passed: bool, test: &str, output: &[&str]) -> TestResult {
        TestResult {
            service: service.into(),
            readme: "svc/README.md".into(),
            line: 12,
            mode: TestMode::Shell,
            test: test.into(),
            passed,
            detail: if passed {
                "exit 0".into()
            } else {
                "exit 1 <&>\"'".into()
            },
            ms: 1234,
            output: output.iter().map(|s| (*s).to_string()).collect(),
        }
    }

    #[test]
    fn junit_is_well_formed_and_escaped() {
        use quick_xml::events::Event;
        let hostile = "echo '<x>' && test \"$A\" = ']]>' \u{1b}[31m\u{0}";
        let report = TestReport {
            ecosystem: "shop&co".into(),
            tests: 3,
            passed: 1,
            failed: 2,
            ms: 2000,
            results: vec![
                result("api", true, "GET /health EXPECT 200", &[]),
                result(
                    "api",
                    false,
                    hostile,
                    &["</failure>", "\u{7}bell ]]> & <b>"],
                ),
                result("web", false, "exit 1", &[]),
            ],
        };
        let xml = junit(&report);
        // every event parses, and the texts come back unescaped, control characters replaced
        let mut reader = quick_xml::Reader::from_str(&xml);
        let (mut cases, mut failures, mut suites) = (Vec::new(), Vec::new(), 0);
        let mut texts = Vec::new();
        loop {
            match reader.read_event().unwrap() {
                Event::Eof => break,
                Event::Start(e) | Event::Empty(e) => {
                    let attr = |k: &str| {
                        e.try_get_attribute(k).unwrap().map(|a| {
                            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                .unwrap()
                                .into_owned()
                        })
                    };
                    match e.name().as_ref() {
                        b"testsuite" => suites += 1,
                        b"testcase" => cases.push(attr("name").unwrap()),
                        b"failure" => failures.push(attr("message").unwrap()),
                        b"testsuites" => {
                            assert_eq!(attr("name").unwrap(), "pactown shop&co");
                            assert_eq!(attr("failures").unwrap(), "2");
                        }
                        _ => {}
                    }
                }
                Event::Text(t) => texts.push(t.decode().unwrap().into_owned()),
                Event::GeneralRef(r) => texts.push(format!("&{};", r.decode().unwrap())),
                _ => {}
            }
        }
        assert_eq!(suites, 2);
        assert_eq!(cases.len(), 3);
        assert_eq!(
            cases[1],
            "svc/README.md:12 echo '<x>' && test \"$A\" = ']]>' \u{fffd}[31m\u{fffd}"
        );
        assert_eq!(failures, ["exit 1 <&>\"'", "exit 1 <&>\"'"]);
        assert!(!xml.contains('\u{1b}') && !xml.contains('\u{0}') && !xml.contains('\u{7}'));
        assert!(xml.contains("&lt;/failure&gt;"), "{xml}");
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    }
}
