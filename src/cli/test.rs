//! `pactown test [FILE] [SERVICE…]`: run the READMEs' `markpact:test` blocks against the running
//! ecosystem ([`crate::suite`]); a table (or `--json`) on stdout, `--junit FILE`
//! for CI; exit code 1 when a test failed.
use crate::config::EngineChoice;
use crate::deploy::DeployOptions;
use crate::error::Error;
use crate::suite::{self, TestReport, TestRequest};
use crate::ui::Printer;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// Arguments of `pactown test`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The ecosystem file (default: `-f`/`PACTOWN_FILE`, else the only `*.pactown.yaml` in the
    /// current folder).
    pub file: Option<PathBuf>,
    /// Only these services' tests (default: every service with tests).
    pub services: Vec<String>,
    /// Container engine.
    #[arg(long, env = "PACTOWN_ENGINE", value_enum)]
    pub engine: Option<EngineChoice>,
    /// Print the results as JSON on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Also write the results as JUnit XML to this file.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
}

/// How results are shown.
#[derive(Debug, Clone, Default)]
pub(super) struct Output {
    /// JSON on stdout instead of the table.
    pub json: bool,
    /// JUnit XML file to write.
    pub junit: Option<PathBuf>,
}

/// Runs `pactown test`.
///
/// # Errors
/// Invalid project, engine errors, an unknown service, an unwritable JUnit file.
pub async fn run(
    mut args: Args,
    globals: &super::Globals,
    printer: &Printer,
) -> Result<ExitCode, Error> {
    let (file, services) = globals.file_and_services(args.file.as_deref(), &args.services)?;
    args.services = services;
    let file = crate::config::resolve_file(file.as_deref())?;
    let mut project = globals.project(&file, crate::project::Unpulled::Fail)?;
    if !args.json {
        printer.diagnostics(&project.warnings);
    }
    let process_env: std::collections::BTreeMap<String, String> = std::env::vars().collect();
    crate::secrets::resolve(&mut project.ecosystem, &process_env)?;
    let mut printer = printer.clone();
    for svc in &project.ecosystem.services {
        printer = printer.with_secrets(crate::secrets::secret_values(svc));
    }
    let engine = crate::deploy::connect(args.engine, Some(&project.ecosystem)).await?;
    let out = Output {
        json: args.json,
        junit: args.junit,
    };
    let report = run_suite(engine, &project, &file, args.services).await?;
    show(&report, &out, &printer)?;
    Ok(exit_code(&report))
}

/// Runs the suite of `project` (used by `test` and `up --test`).
pub(super) async fn run_suite(
    engine: Arc<dyn crate::engine::Engine>,
    project: &crate::project::Project,
    file: &Path,
    services: Vec<String>,
) -> Result<TestReport, Error> {
    let req = TestRequest {
        services,
        deploy: DeployOptions {
            ecosystem_file: std::fs::canonicalize(file).ok(),
            ..DeployOptions::default()
        },
    };
    Ok(suite::run(engine, project, &req).await?)
}

/// 0 when every test passed, else 1.
pub(super) fn exit_code(report: &TestReport) -> ExitCode {
    if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Prints the report (table or JSON) and writes the JUnit file.
pub(super) fn show(report: &TestReport, out: &Output, printer: &Printer) -> Result<(), Error> {
    if let Some(path) = &out.junit {
        std::fs::write(path, suite::junit(report))
            .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?;
    }
    if out.json {
        let text = serde_json::to_string_pretty(report).map_err(Error::json("write JSON"))?;
        printer.out(&text);
        return Ok(());
    }
    if report.tests == 0 {
        printer.warn("no `markpact:test` blocks in the selected services");
        return Ok(());
    }
    printer.out(&table(report, printer));
    let summary = format!(
        "{}: {} passed, {} failed ({:.2}s)",
        report.ecosystem,
        report.passed,
        report.failed,
        std::time::Duration::from_millis(report.ms).as_secs_f64()
    );
    if report.ok() {
        printer.info(&summary);
    } else {
        printer.error(&summary);
    }
    Ok(())
}

/// The results as a table: result, service, README:LINE, test, detail; the output of failures
/// indented below them.
fn table(report: &TestReport, printer: &Printer) -> String {
    let loc: Vec<String> = report
        .results
        .iter()
        .map(suite::TestResult::location)
        .collect();
    let w_service = report
        .results
        .iter()
        .map(|r| r.service.len())
        .max()
        .unwrap_or(0)
        .max("SERVICE".len());
    let w_loc = loc
        .iter()
        .map(String::len)
        .max()
        .unwrap_or(0)
        .max("WHERE".len());
    let w_test = report
        .results
        .iter()
        .map(|r| r.test.chars().count().min(60))
        .max()
        .unwrap_or(0)
        .max("TEST".len());
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<4}  {:<w_service$}  {:<w_loc$}  {:<w_test$}  DETAIL",
        "", "SERVICE", "WHERE", "TEST"
    );
    for (r, loc) in report.results.iter().zip(&loc) {
        let mark = if r.passed {
            printer.paint("pass", console::Style::new().green())
        } else {
            printer.paint("FAIL", console::Style::new().red().bold())
        };
        let test: String = if r.test.chars().count() > 60 {
            r.test
                .chars()
                .take(59)
                .chain(std::iter::once('…'))
                .collect()
        } else {
            r.test.clone()
        };
        let _ = writeln!(
            s,
            "{mark}  {:<w_service$}  {loc:<w_loc$}  {test:<w_test$}  {}",
            r.service, r.detail
        );
        for line in &r.output {
            let _ = writeln!(s, "      | {line}");
        }
    }
    s.trim_end().to_string()
}
