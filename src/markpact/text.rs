//! Input handling (spec §2): UTF-8 check, BOM removal, line-ending normalization and a line index
//! that maps byte offsets to 1-based line numbers.
use std::borrow::Cow;

/// Decodes README bytes: drops a leading BOM and normalizes CRLF / lone CR to LF.
///
/// # Errors
/// The 1-based line of the first invalid UTF-8 byte.
pub(crate) fn decode(bytes: &[u8]) -> Result<Cow<'_, str>, usize> {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(err) => {
            let valid = bytes.get(..err.valid_up_to()).unwrap_or_default();
            // Lines of the original count the same as normalized ones (§2.3): count LF, and CR
            // not followed by LF.
            let mut line = 1;
            let mut prev_cr = false;
            for &b in valid {
                match b {
                    b'\n' if prev_cr => {}
                    b'\n' | b'\r' => line += 1,
                    _ => {}
                }
                prev_cr = b == b'\r';
            }
            return Err(line);
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if !text.contains('\r') {
        return Ok(Cow::Borrowed(text));
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' {
            if chars.peek() == Some(&'\n') {
                chars.next();
            }
            out.push('\n');
        } else {
            out.push(c);
        }
    }
    Ok(Cow::Owned(out))
}

/// Byte offsets of line starts, for offset → line lookups in O(log n).
pub(crate) struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    /// Indexes `text` (already normalized to LF).
    pub(crate) fn new(text: &'a str) -> Self {
        let mut starts = Vec::with_capacity(text.len() / 32 + 1);
        starts.push(0);
        starts.extend(
            text.bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| i + 1),
        );
        Self { text, starts }
    }

    /// 0-based index of the line holding byte `offset`.
    pub(crate) fn line_of(&self, offset: usize) -> usize {
        match self.starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        }
    }

    /// The text of the 0-based line `index`, without its LF.
    pub(crate) fn line(&self, index: usize) -> &'a str {
        let start = self.starts.get(index).copied().unwrap_or(self.text.len());
        let end = self
            .starts
            .get(index + 1)
            .map_or(self.text.len(), |&next| next - 1);
        self.text.get(start..end.max(start)).unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_line_endings_and_bom() {
        assert_eq!(decode(b"\xef\xbb\xbfa\r\nb\rc\n").unwrap(), "a\nb\nc\n");
        assert!(matches!(decode(b"plain\n").unwrap(), Cow::Borrowed(_)));
    }

    #[test]
    fn invalid_utf8_reports_line() {
        assert_eq!(decode(b"a\r\nb\n\xff").unwrap_err(), 3);
        assert_eq!(decode(b"a\rb\xff").unwrap_err(), 2);
    }

    #[test]
    fn line_index() {
        let idx = LineIndex::new("ab\ncd\n\nef");
        assert_eq!(idx.line(0), "ab");
        assert_eq!(idx.line(2), "");
        assert_eq!(idx.line(3), "ef");
        assert_eq!(idx.line_of(0), 0);
        assert_eq!(idx.line_of(3), 1);
        assert_eq!(idx.line_of(7), 3);
    }
}
