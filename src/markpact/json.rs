//! The canonical JSON of a parse result (spec §14).
use super::model::Markpact;
use crate::diagnostic::{Diagnostic, Diagnostics};
use serde_json::{json, Value};

fn warning(d: &Diagnostic) -> Value {
    json!({"code": d.code.as_str(), "line": d.line})
}

/// See [`super::canonical_json`].
pub(crate) fn canonical(result: &Result<Markpact, Diagnostics>) -> Value {
    match result {
        Ok(doc) => json!({
            "ok": true,
            "ecosystem": doc.runtime.as_str(),
            "files": doc.files.iter().map(|f| json!({
                "path": f.path,
                "line": f.line,
                "lang": f.lang,
                "bytes": f.contents.len(),
                "sha256": f.sha256(),
            })).collect::<Vec<_>>(),
            "deps": doc.deps.iter().map(|d| d.spec.as_str()).collect::<Vec<_>>(),
            "dev_deps": doc.dev_deps.iter().map(|d| d.spec.as_str()).collect::<Vec<_>>(),
            "run": doc.run.as_ref().map(|r| r.body.as_str()),
            "build": doc.build.as_ref().map(|r| r.body.as_str()),
            "tests": doc.tests.iter().map(|t| json!({
                "mode": t.mode,
                "line": t.line,
                "lines": t.texts().collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "warnings": doc.warnings.iter().map(warning).collect::<Vec<_>>(),
        }),
        Err(diags) => json!({
            "ok": false,
            "errors": diags.errors().map(|d| json!({
                "code": d.code.as_str(),
                "line": d.line,
                "message": d.message,
            })).collect::<Vec<_>>(),
            "warnings": diags.warnings().map(warning).collect::<Vec<_>>(),
        }),
    }
}
