//! Reading a build's output stream: splitting it into lines and turning the builder's own step
//! and cache lines into a [`BuildStep`] report.
//!
//! Two dialects are understood:
//!
//! - Docker's classic builder: `Step 2/4 : RUN echo hi`, then ` ---> Using cache` when the layer
//!   came from the cache, or ` ---> Running in 0123abcd` when it was built.
//! - Podman's (buildah's) output on the Docker-compatible API: `STEP 2/4: RUN echo hi`, then
//!   `--> Using cache 0d28…` when cached.
//!
//! A `FROM` step builds no layer: it reuses a local image (pactown never pulls), so it is
//! reported as cached.
use super::BuildStep;

/// Splits a stream of chunks into lines. Engines send a line and its newline in separate
/// chunks (Docker: `Step 1/4 : FROM x` then `\n`; Podman's log frames likewise), so bytes are held
/// until their newline arrives. Works on bytes so a UTF-8 character split across chunks survives.
#[derive(Debug, Default)]
pub struct LineBuffer {
    pending: Vec<u8>,
}

impl LineBuffer {
    /// A buffer with nothing pending.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a text chunk; returns the lines it completed, without their line endings.
    pub fn push(&mut self, chunk: &str) -> Vec<String> {
        self.push_bytes(chunk.as_bytes())
    }

    /// Adds a chunk of bytes; returns the lines it completed (lossy UTF-8), without endings.
    pub fn push_bytes(&mut self, chunk: &[u8]) -> Vec<String> {
        self.pending.extend_from_slice(chunk);
        let mut lines = Vec::new();
        while let Some(pos) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=pos).collect();
            lines.push(to_text(&line));
        }
        lines
    }

    /// Returns the unterminated rest, if any (at the end of the stream).
    pub fn finish(&mut self) -> Option<String> {
        if self.pending.is_empty() {
            None
        } else {
            let rest = std::mem::take(&mut self.pending);
            Some(to_text(&rest))
        }
    }
}

/// Bytes of one line → text without a trailing `\n` / `\r\n`.
fn to_text(line: &[u8]) -> String {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    String::from_utf8_lossy(line).into_owned()
}

/// Collects the step report from build output lines, one line at a time.
#[derive(Debug, Default)]
pub struct StepParser {
    steps: Vec<BuildStep>,
}

impl StepParser {
    /// An empty report.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one output line (without its newline).
    pub fn line(&mut self, line: &str) {
        if let Some((number, instruction)) = parse_step_header(line) {
            let cached = is_from(&instruction);
            self.steps.push(BuildStep {
                number,
                instruction,
                cached,
            });
        } else if is_cache_hit(line) {
            if let Some(step) = self.steps.last_mut() {
                step.cached = true;
            }
        }
    }

    /// The step currently running (the last header seen), as its instruction.
    #[must_use]
    pub fn current(&self) -> Option<&BuildStep> {
        self.steps.last()
    }

    /// The finished report.
    #[must_use]
    pub fn finish(self) -> Vec<BuildStep> {
        self.steps
    }
}

/// `Step 2/4 : RUN x` (Docker) or `STEP 2/4: RUN x` (Podman) → `(2, "RUN x")`.
fn parse_step_header(line: &str) -> Option<(usize, String)> {
    let rest = line
        .strip_prefix("Step ")
        .or_else(|| line.strip_prefix("STEP "))?;
    let (counter, instruction) = rest.split_once(':')?;
    let counter = counter.trim();
    let (number, total) = counter.split_once('/')?;
    let number: usize = number.parse().ok()?;
    let _: usize = total.parse().ok()?;
    Some((number, instruction.trim().to_string()))
}

/// ` ---> Using cache` (Docker) or `--> Using cache <id>` (Podman).
fn is_cache_hit(line: &str) -> bool {
    let trimmed = line.trim_start();
    trimmed
        .strip_prefix("--->")
        .or_else(|| trimmed.strip_prefix("-->"))
        .is_some_and(|rest| rest.trim_start().starts_with("Using cache"))
}

fn is_from(instruction: &str) -> bool {
    instruction
        .split_whitespace()
        .next()
        .is_some_and(|word| word.eq_ignore_ascii_case("FROM"))
}

/// The image id from a `Successfully built 0123abcd` line, if this is one.
#[must_use]
pub fn successfully_built(line: &str) -> Option<String> {
    line.strip_prefix("Successfully built ")
        .map(|id| id.trim().to_string())
        .filter(|id| !id.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(lines: &[&str]) -> Vec<(usize, String, bool)> {
        let mut parser = StepParser::new();
        for line in lines {
            parser.line(line);
        }
        parser
            .finish()
            .into_iter()
            .map(|s| (s.number, s.instruction, s.cached))
            .collect()
    }

    #[test]
    fn docker_classic_first_build_is_uncached() {
        let got = report(&[
            "Step 1/3 : FROM debian:bookworm-slim",
            " ---> e2c97d21d7c5",
            "Step 2/3 : RUN echo one > /one",
            " ---> Running in b96cf2af1a7c",
            "Removing intermediate container b96cf2af1a7c",
            " ---> 9fe5e37d67e4",
            "Step 3/3 : ENV A=1",
            " ---> Running in 95868344482c",
            " ---> b194a7a9a033",
            "Successfully built b194a7a9a033",
        ]);
        assert_eq!(
            got,
            vec![
                (1, "FROM debian:bookworm-slim".into(), true),
                (2, "RUN echo one > /one".into(), false),
                (3, "ENV A=1".into(), false),
            ]
        );
    }

    #[test]
    fn docker_classic_rebuild_is_cached() {
        let got = report(&[
            "Step 1/2 : FROM debian:bookworm-slim",
            " ---> e2c97d21d7c5",
            "Step 2/2 : RUN echo one > /one",
            " ---> Using cache",
            " ---> 9fe5e37d67e4",
        ]);
        assert_eq!(got[1], (2, "RUN echo one > /one".into(), true));
    }

    #[test]
    fn podman_mixed_cache() {
        let got = report(&[
            "STEP 1/4: FROM debian:bookworm-slim",
            "STEP 2/4: RUN echo one > /one",
            "--> Using cache 890c7582d3629942508cdef67fe16e7fab1b920653c1c744d2a89b17444f5406",
            "--> 890c7582d36",
            "STEP 3/4: COPY app.py /app/",
            "--> f5e736b022f",
            "STEP 4/4: CMD [\"python3\", \"app.py\"]",
            "COMMIT docker.io/pactown-probe/x:1",
            "--> 0d28ca44aa1",
        ]);
        assert_eq!(
            got,
            vec![
                (1, "FROM debian:bookworm-slim".into(), true),
                (2, "RUN echo one > /one".into(), true),
                (3, "COPY app.py /app/".into(), false),
                (4, "CMD [\"python3\", \"app.py\"]".into(), false),
            ]
        );
    }

    #[test]
    fn program_output_resembling_headers_is_ignored() {
        let got = report(&[
            "Step one: not a header",
            "STEP x/y: nope",
            "---> Using cache",
        ]);
        assert!(got.is_empty());
    }

    #[test]
    fn instruction_keeps_colons() {
        let got = report(&["Step 2/2 : ENV URL=http://x:8000"]);
        assert_eq!(got[0].1, "ENV URL=http://x:8000");
    }

    #[test]
    fn line_buffer_joins_split_chunks() {
        let mut buf = LineBuffer::new();
        assert!(buf.push("Step 1/4 : FROM x").is_empty());
        assert_eq!(buf.push("\n"), vec!["Step 1/4 : FROM x".to_string()]);
        assert_eq!(
            buf.push(" ---> a\r\nb\nc"),
            vec![" ---> a".to_string(), "b".to_string()]
        );
        assert_eq!(buf.finish(), Some("c".to_string()));
        assert_eq!(buf.finish(), None);
    }

    #[test]
    fn line_buffer_keeps_split_utf8() {
        let mut buf = LineBuffer::new();
        let bytes = "é\n".as_bytes();
        assert!(buf.push_bytes(&bytes[..1]).is_empty());
        assert_eq!(buf.push_bytes(&bytes[1..]), vec!["é".to_string()]);
    }

    #[test]
    fn successfully_built_line() {
        assert_eq!(
            successfully_built("Successfully built 0d28ca44aa17"),
            Some("0d28ca44aa17".into())
        );
        assert_eq!(successfully_built("Successfully tagged x:1"), None);
    }
}
