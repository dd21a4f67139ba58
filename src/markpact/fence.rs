//! Fence recognition (spec §3) with pulldown-cmark offset events. pulldown-cmark decides what is
//! a fenced code block (CommonMark rules); the info string and the body are then read from the
//! raw source lines so that no escape or entity processing ever happens (§4, §7).
use super::text::LineIndex;
use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};

/// A top-level fenced code block, closed properly.
#[derive(Debug)]
pub(crate) struct Fence<'a> {
    /// 1-based line of the opening fence.
    pub line: usize,
    /// The raw info string (after the fence run), trimmed.
    pub info: &'a str,
    /// Body lines with their 1-based line numbers, indentation removed per §5.1, leading and
    /// trailing blank lines removed per §5.2.
    pub body: Vec<(usize, &'a str)>,
}

/// What the scan found besides proper fences.
#[derive(Debug)]
pub(crate) enum Found<'a> {
    /// A closed top-level fence.
    Fence(Fence<'a>),
    /// A top-level fence left open at end of document (1-based opening line).
    Unclosed { line: usize, info: &'a str },
    /// A fence inside a block quote or list item (1-based line, info string as parsed).
    Nested { line: usize, info: String },
}

/// Scans a normalized document for fenced code blocks.
pub(crate) fn scan<'a>(text: &'a str, index: &LineIndex<'a>) -> Vec<Found<'a>> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    for (event, range) in Parser::new_ext(text, Options::empty()).into_offset_iter() {
        match event {
            Event::Start(Tag::BlockQuote(_) | Tag::Item | Tag::FootnoteDefinition(_)) => {
                depth += 1;
            }
            Event::End(TagEnd::BlockQuote(_) | TagEnd::Item | TagEnd::FootnoteDefinition) => {
                depth = depth.saturating_sub(1);
            }
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
                let open = index.line_of(range.start);
                if depth > 0 {
                    out.push(Found::Nested {
                        line: open + 1,
                        info: info.into_string(),
                    });
                    continue;
                }
                if let Some(ev) = top_level(index, open, range.end) {
                    out.push(ev);
                }
            }
            _ => {}
        }
    }
    out
}

/// Reads a top-level fence from its raw lines. `end` is the end offset of the block's range.
fn top_level<'a>(index: &LineIndex<'a>, open: usize, end: usize) -> Option<Found<'a>> {
    let opening = index.line(open);
    let (indent, fence_char, run, info) = opening_fence(opening)?;
    // Last line of the block's source range (the range may or may not include the final LF).
    let last = index.line_of(end.saturating_sub(1)).max(open);
    let closed = last > open && is_closing(index.line(last), fence_char, run);
    if !closed {
        return Some(Found::Unclosed {
            line: open + 1,
            info,
        });
    }
    let mut body: Vec<(usize, &str)> = ((open + 1)..last)
        .map(|i| (i + 1, strip_spaces(index.line(i), indent)))
        .collect();
    let blank = |l: &str| l.bytes().all(|b| b == b' ' || b == b'\t');
    let first = body
        .iter()
        .position(|(_, l)| !blank(l))
        .unwrap_or(body.len());
    let keep = body
        .iter()
        .rposition(|(_, l)| !blank(l))
        .map_or(0, |i| i + 1);
    body.truncate(keep);
    body.drain(..first.min(body.len()));
    Some(Found::Fence(Fence {
        line: open + 1,
        info,
        body,
    }))
}

/// Parses an opening fence line: (indentation, fence char, run length, trimmed info).
fn opening_fence(line: &str) -> Option<(usize, u8, usize, &str)> {
    let indent = line.bytes().take_while(|&b| b == b' ').count();
    if indent > 3 {
        return None;
    }
    let rest = line.get(indent..)?;
    let fence_char = *rest.as_bytes().first()?;
    if fence_char != b'`' && fence_char != b'~' {
        return None;
    }
    let run = rest.bytes().take_while(|&b| b == fence_char).count();
    if run < 3 {
        return None;
    }
    let info = rest.get(run..)?.trim_matches([' ', '\t']);
    Some((indent, fence_char, run, info))
}

/// True when `line` closes a fence of `run` × `fence_char`.
fn is_closing(line: &str, fence_char: u8, run: usize) -> bool {
    let indent = line.bytes().take_while(|&b| b == b' ').count();
    if indent > 3 {
        return false;
    }
    let rest = line.get(indent..).unwrap_or("");
    let n = rest.bytes().take_while(|&b| b == fence_char).count();
    n >= run
        && rest
            .get(n..)
            .is_some_and(|tail| tail.bytes().all(|b| b == b' ' || b == b'\t'))
}

/// Removes up to `n` leading spaces (never tabs).
fn strip_spaces(line: &str, n: usize) -> &str {
    let k = line.bytes().take(n).take_while(|&b| b == b' ').count();
    line.get(k..).unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fences(text: &str) -> Vec<String> {
        let index = LineIndex::new(text);
        scan(text, &index)
            .into_iter()
            .map(|e| match e {
                Found::Fence(f) => format!(
                    "F{}:{}:{}",
                    f.line,
                    f.info,
                    f.body
                        .iter()
                        .map(|(n, l)| format!("{n}={l}"))
                        .collect::<Vec<_>>()
                        .join("|")
                ),
                Found::Unclosed { line, info } => format!("U{line}:{info}"),
                Found::Nested { line, info } => format!("N{line}:{info}"),
            })
            .collect()
    }

    #[test]
    fn basic_and_longer_fences() {
        assert_eq!(fences("```a b\nx\n```\n"), ["F1:a b:2=x"]);
        assert_eq!(fences("```a\nx\n```"), ["F1:a:2=x"]);
        assert_eq!(
            fences("````md\n```json\n{}\n```\n````\n"),
            ["F1:md:2=```json|3={}|4=```"]
        );
        assert_eq!(fences("~~~p\n```\n~~~\n"), ["F1:p:2=```"]);
        assert_eq!(fences("```\n\n  \nx\n\n```\n"), ["F1::4=x"]);
        assert_eq!(fences("```\n```\n"), ["F1::"]);
    }

    #[test]
    fn indentation() {
        assert_eq!(fences("  ```p\n    a\n \tb\n  ```\n"), ["F1:p:2=  a|3=\tb"]);
        assert!(fences("    ```p\n    a\n    ```\n").is_empty());
    }

    #[test]
    fn unclosed_and_nested() {
        assert_eq!(fences("```p\nx\n"), ["U1:p"]);
        assert_eq!(fences("```p"), ["U1:p"]);
        assert_eq!(fences("text\n\n```p\nx\n\n\n"), ["U3:p"]);
        assert_eq!(fences("````p\nx\n```\n"), ["U1:p"]);
        assert_eq!(fences("> ```p q\n> x\n> ```\n"), ["N1:p q"]);
        assert_eq!(fences("- item\n\n  ```p\n  x\n  ```\n"), ["N3:p"]);
    }
}
