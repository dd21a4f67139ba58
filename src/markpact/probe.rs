//! HTTP test lines (spec §6.4): `METHOD /path [BODY json] [EXPECT code]`.

/// HTTP methods a probe may use.
pub const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// One parsed HTTP test line.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpProbe {
    /// Uppercase method.
    pub method: String,
    /// Request path, starting with `/`.
    pub path: String,
    /// JSON request body.
    pub body: Option<serde_json::Value>,
    /// Expected status; `None` means any of 200–399 passes.
    pub expect: Option<u16>,
}

impl HttpProbe {
    /// Whether a response status passes this probe.
    #[must_use]
    pub fn passes(&self, status: u16) -> bool {
        match self.expect {
            Some(code) => status == code,
            None => (200..400).contains(&status),
        }
    }
}

/// Strips a keyword (ASCII case-insensitive) followed by whitespace.
fn keyword<'a>(s: &'a str, word: &str) -> Option<&'a str> {
    let head = s.get(..word.len())?;
    let rest = s.get(word.len()..)?;
    (head.eq_ignore_ascii_case(word) && rest.starts_with([' ', '\t'])).then(|| rest.trim_start())
}

/// What is wrong with an HTTP test line; the text is the diagnostic's message
/// (`README.md:LINE`, code `invalid-test-line`) and the failed test's detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeLineError {
    /// The first word is not one of [`METHODS`].
    #[error("`{word}` is not an HTTP method ({})", METHODS.join(", "))]
    Method {
        /// The word as written.
        word: String,
    },
    /// No path after the method.
    #[error("the request path is missing")]
    MissingPath,
    /// The path is not absolute.
    #[error("request path `{0}` does not start with `/`")]
    RelativePath(String),
    /// `EXPECT` is not followed by three digits.
    #[error("`{0}` is not a 3-digit status code")]
    Status(String),
    /// `BODY` is not followed by JSON.
    #[error("BODY is not valid JSON: {0}")]
    Body(String),
    /// Something else after the path.
    #[error("unexpected `{0}` after the path (expected `BODY <json>` or `EXPECT <code>`)")]
    Trailing(String),
}

fn expect_code(s: &str) -> Result<u16, ProbeLineError> {
    let s = s.trim();
    match s.parse::<u16>() {
        Ok(code) if s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()) => Ok(code),
        _ => Err(ProbeLineError::Status(s.to_string())),
    }
}

/// Parses one HTTP test line (already trimmed).
///
/// # Errors
/// [`ProbeLineError`]: what is wrong with the line.
pub fn parse_http_line(line: &str) -> Result<HttpProbe, ProbeLineError> {
    let line = line.trim();
    let (method, rest) = line.split_once([' ', '\t']).unwrap_or((line, ""));
    let method = method.to_ascii_uppercase();
    if !METHODS.contains(&method.as_str()) {
        return Err(ProbeLineError::Method {
            word: line.split([' ', '\t']).next().unwrap_or(line).to_string(),
        });
    }
    let rest = rest.trim_start();
    let (path, rest) = rest.split_once([' ', '\t']).unwrap_or((rest, ""));
    if !path.starts_with('/') {
        return Err(if path.is_empty() {
            ProbeLineError::MissingPath
        } else {
            ProbeLineError::RelativePath(path.to_string())
        });
    }
    let rest = rest.trim_start();
    let mut probe = HttpProbe {
        method,
        path: path.to_string(),
        body: None,
        expect: None,
    };
    if rest.is_empty() {
        return Ok(probe);
    }
    if let Some(body) = keyword(rest, "BODY") {
        // JSON runs to just before the last ` EXPECT ` (or end of line).
        let upper = body.to_ascii_uppercase();
        let (json, expect) = match upper.rfind(" EXPECT ") {
            Some(i) => (body.get(..i).unwrap_or(body), body.get(i + 8..)),
            None => (body, None),
        };
        let value: serde_json::Value =
            serde_json::from_str(json.trim()).map_err(|e| ProbeLineError::Body(e.to_string()))?;
        probe.body = Some(value);
        if let Some(code) = expect {
            probe.expect = Some(expect_code(code)?);
        }
        return Ok(probe);
    }
    if let Some(code) = keyword(rest, "EXPECT") {
        probe.expect = Some(expect_code(code)?);
        return Ok(probe);
    }
    Err(ProbeLineError::Trailing(rest.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        let p = parse_http_line("get /health EXPECT 200").unwrap();
        assert_eq!(
            (p.method.as_str(), p.path.as_str(), p.expect),
            ("GET", "/health", Some(200))
        );
        let p = parse_http_line("POST /items BODY {\"name\": \"a EXPECT b\"} EXPECT 201").unwrap();
        assert_eq!(p.body.unwrap()["name"], "a EXPECT b");
        assert_eq!(p.expect, Some(201));
        let p = parse_http_line("GET /").unwrap();
        assert!(p.passes(302) && !p.passes(404));
        for bad in [
            "FETCH /x",
            "GET x",
            "GET",
            "GET /x EXPECT 20",
            "GET /x BODY {",
            "GET /x foo",
            "GET /x EXPECT 2000",
        ] {
            assert!(parse_http_line(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_http_line("FETCH /x").unwrap_err().to_string(),
            "`FETCH` is not an HTTP method (GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS)"
        );
        assert_eq!(
            parse_http_line("GET /x EXPECT 20").unwrap_err(),
            ProbeLineError::Status("20".into())
        );
    }
}
