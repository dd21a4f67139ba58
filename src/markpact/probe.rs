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

fn expect_code(s: &str) -> Result<u16, String> {
    let s = s.trim();
    if s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().map_err(|_| format!("`{s}` is not a status code"))
    } else {
        Err(format!("`{s}` is not a 3-digit status code"))
    }
}

/// Parses one HTTP test line (already trimmed).
///
/// # Errors
/// What is wrong with the line.
pub fn parse_http_line(line: &str) -> Result<HttpProbe, String> {
    let line = line.trim();
    let (method, rest) = line.split_once([' ', '\t']).unwrap_or((line, ""));
    let method = method.to_ascii_uppercase();
    if !METHODS.contains(&method.as_str()) {
        return Err(format!(
            "`{}` is not an HTTP method ({})",
            line.split([' ', '\t']).next().unwrap_or(line),
            METHODS.join(", ")
        ));
    }
    let rest = rest.trim_start();
    let (path, rest) = rest.split_once([' ', '\t']).unwrap_or((rest, ""));
    if !path.starts_with('/') {
        return Err(if path.is_empty() {
            "the request path is missing".to_string()
        } else {
            format!("request path `{path}` does not start with `/`")
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
        let value: serde_json::Value = serde_json::from_str(json.trim())
            .map_err(|e| format!("BODY is not valid JSON: {e}"))?;
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
    Err(format!(
        "unexpected `{rest}` after the path (expected `BODY <json>` or `EXPECT <code>`)"
    ))
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
    }
}
