//! A small YAML tree that keeps the line and column of every node, built from yaml-rust2's
//! marked events. serde would lose the positions, and every config diagnostic must name the line
//! of the key or value it is about.
use std::collections::{HashMap, HashSet};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Upper bound on the number of nodes, aliases expanded (guards against "billion laughs").
const MAX_NODES: usize = 2_000_000;
/// Upper bound on the scalar text of a document, aliases expanded: a large string aliased many
/// times is refused before it is copied (guards against alias amplification).
pub(crate) const MAX_EXPANDED_BYTES: usize = 16 * 1024 * 1024;

/// One YAML node with its 1-based position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Node {
    /// What the node holds.
    pub kind: Kind,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
    /// Number of nodes in this subtree (for the alias-expansion budget).
    size: usize,
    /// Bytes of scalar text in this subtree (for the alias-expansion budget).
    bytes: usize,
}

/// The kinds of YAML nodes, scalars kept as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `~`, `null` or nothing.
    Null,
    /// Any scalar; `plain` is false for quoted/block scalars and `!!str`-tagged ones.
    Scalar {
        /// The scalar's text.
        text: String,
        /// Whether the scalar was written plain (so `8080` is a number, `"8080"` a string).
        plain: bool,
    },
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping in document order.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// A short name of the node's type for messages ("a mapping", "a list"…).
    pub fn type_name(&self) -> &'static str {
        match &self.kind {
            Kind::Null => "nothing (null)",
            Kind::Scalar { plain: false, .. } => "a string",
            Kind::Scalar { text, plain: true } => {
                if parse_bool(text).is_some() {
                    "a boolean"
                } else if text.parse::<f64>().is_ok() {
                    "a number"
                } else {
                    "a string"
                }
            }
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }

    /// The scalar text, if this is a scalar.
    pub fn scalar(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }
}

/// A plain boolean scalar (YAML 1.2 core schema spellings).
pub(crate) fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// A syntax or structure problem with its 1-based position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct YamlError {
    /// What is wrong.
    pub message: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
}

/// Parses the first document of `text`. `Ok((None, _))` for an empty document. Duplicate keys
/// are returned as errors next to the tree (the first occurrence is kept).
pub(crate) fn parse(text: &str) -> Result<(Option<Node>, Vec<YamlError>), YamlError> {
    let mut builder = Builder::default();
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut parser = Parser::new_from_str(text);
    if let Err(err) = parser.load(&mut builder, true) {
        let mark = err.marker();
        return Err(YamlError {
            message: err.info().to_string(),
            line: mark.line().max(1),
            col: mark.col() + 1,
        });
    }
    if let Some(err) = builder.fatal {
        return Err(err);
    }
    Ok((builder.root, builder.duplicates))
}

enum Frame {
    Seq {
        anchor: usize,
        line: usize,
        col: usize,
        items: Vec<Node>,
    },
    Map {
        anchor: usize,
        line: usize,
        col: usize,
        entries: Vec<(Node, Node)>,
        keys: HashSet<String>,
        pending_key: Option<Node>,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
    duplicates: Vec<YamlError>,
    fatal: Option<YamlError>,
    nodes: usize,
    bytes: usize,
}

impl Builder {
    fn push_node(&mut self, node: Node, anchor: usize) {
        if self.fatal.is_some() {
            return;
        }
        self.nodes = self.nodes.saturating_add(node.size);
        self.bytes = self.bytes.saturating_add(node.bytes);
        if self.bytes > MAX_EXPANDED_BYTES {
            self.fatal = Some(too_much_text(node.line, node.col));
            return;
        }
        if self.nodes > MAX_NODES {
            self.fatal = Some(YamlError {
                message: format!(
                    "document too large (more than {MAX_NODES} nodes once aliases are expanded)"
                ),
                line: node.line,
                col: node.col,
            });
            return;
        }
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(node);
                }
            }
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                keys,
                pending_key,
                ..
            }) => match pending_key.take() {
                None => *pending_key = Some(node),
                Some(key) => {
                    let text = key_text(&key);
                    if keys.insert(text.clone()) {
                        entries.push((key, node));
                    } else {
                        self.duplicates.push(YamlError {
                            message: format!("duplicate key `{text}`"),
                            line: key.line,
                            col: key.col,
                        });
                    }
                }
            },
        }
    }
}

/// How a mapping key is compared for duplicates.
fn key_text(key: &Node) -> String {
    match &key.kind {
        Kind::Scalar { text, .. } => text.clone(),
        Kind::Null => "~".to_string(),
        Kind::Seq(_) | Kind::Map(_) => format!("<complex key at {}:{}>", key.line, key.col),
    }
}

fn leaf(kind: Kind, mark: Marker) -> Node {
    let bytes = match &kind {
        Kind::Scalar { text, .. } => text.len(),
        _ => 0,
    };
    Node {
        kind,
        line: mark.line().max(1),
        col: mark.col() + 1,
        size: 1,
        bytes,
    }
}

fn too_much_text(line: usize, col: usize) -> YamlError {
    YamlError {
        message: format!(
            "document too large: its aliases expand to more than {} MiB of text",
            MAX_EXPANDED_BYTES >> 20
        ),
        line,
        col,
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.fatal.is_some() {
            return;
        }
        match ev {
            Event::DocumentEnd => {}
            Event::DocumentStart if self.root.is_some() => {
                self.fatal = Some(YamlError {
                    message: "the file holds more than one YAML document (`---`)".into(),
                    line: mark.line().max(1),
                    col: mark.col() + 1,
                });
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentStart => {}
            Event::Alias(id) => match self.anchors.get(&id) {
                // Checked before the copy: a refused alias is never expanded.
                Some(node)
                    if self.bytes.saturating_add(node.bytes) > MAX_EXPANDED_BYTES
                        || self.nodes.saturating_add(node.size) > MAX_NODES =>
                {
                    self.fatal = Some(too_much_text(mark.line().max(1), mark.col() + 1));
                }
                Some(node) => {
                    let node = Node {
                        line: mark.line().max(1),
                        col: mark.col() + 1,
                        ..node.clone()
                    };
                    self.push_node(node, 0);
                }
                None => {
                    self.fatal = Some(YamlError {
                        message: "alias to an unknown anchor".into(),
                        line: mark.line().max(1),
                        col: mark.col() + 1,
                    });
                }
            },
            Event::Scalar(text, style, anchor, tag) => {
                let tagged_str = tag
                    .as_ref()
                    .is_some_and(|t| t.handle == "tag:yaml.org,2002:" && t.suffix == "str");
                let plain = style == TScalarStyle::Plain && !tagged_str;
                let empty = plain && text.is_empty();
                let kind = if plain && matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL")
                {
                    Kind::Null
                } else {
                    Kind::Scalar { text, plain }
                };
                let mut node = leaf(kind, mark);
                if empty {
                    // An empty value is reported at the next token; point at its key instead.
                    if let Some(Frame::Map {
                        pending_key: Some(key),
                        ..
                    }) = self.stack.last()
                    {
                        node.line = key.line;
                        node.col = key.col;
                    }
                }
                self.push_node(node, anchor);
            }
            Event::SequenceStart(anchor, _) => self.stack.push(Frame::Seq {
                anchor,
                line: mark.line().max(1),
                col: mark.col() + 1,
                items: Vec::new(),
            }),
            Event::MappingStart(anchor, _) => self.stack.push(Frame::Map {
                anchor,
                line: mark.line().max(1),
                col: mark.col() + 1,
                entries: Vec::new(),
                keys: HashSet::new(),
                pending_key: None,
            }),
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match self.stack.pop() {
                    Some(Frame::Seq {
                        anchor,
                        line,
                        col,
                        items,
                    }) => {
                        let size = 1 + items.iter().map(|n| n.size).sum::<usize>();
                        let bytes = items.iter().map(|n| n.bytes).sum::<usize>();
                        (
                            Node {
                                kind: Kind::Seq(items),
                                line,
                                col,
                                size,
                                bytes,
                            },
                            anchor,
                        )
                    }
                    Some(Frame::Map {
                        anchor,
                        line,
                        col,
                        entries,
                        ..
                    }) => {
                        let size = 1 + entries.iter().map(|(k, v)| k.size + v.size).sum::<usize>();
                        let bytes = entries
                            .iter()
                            .map(|(k, v)| k.bytes + v.bytes)
                            .sum::<usize>();
                        (
                            Node {
                                kind: Kind::Map(entries),
                                line,
                                col,
                                size,
                                bytes,
                            },
                            anchor,
                        )
                    }
                    None => return,
                };
                // The children were already counted when they were pushed.
                self.nodes = self.nodes.saturating_sub(node.size - 1);
                self.bytes = self.bytes.saturating_sub(node.bytes);
                self.push_node(node, anchor);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        let (root, dups) = parse("a: 1\nb:\n  c: \"x\"\n").unwrap();
        assert!(dups.is_empty());
        let root = root.unwrap();
        let Kind::Map(entries) = &root.kind else {
            panic!("not a map")
        };
        assert_eq!((entries[0].0.line, entries[0].0.col), (1, 1));
        assert_eq!((entries[0].1.line, entries[0].1.col), (1, 4));
        let Kind::Map(inner) = &entries[1].1.kind else {
            panic!("not a map")
        };
        assert_eq!((inner[0].0.line, inner[0].0.col), (3, 3));
        assert_eq!(
            inner[0].1.kind,
            Kind::Scalar {
                text: "x".into(),
                plain: false
            }
        );
    }

    #[test]
    fn duplicate_keys_are_reported() {
        let (_, dups) = parse("a: 1\na: 2\n").unwrap();
        assert_eq!(dups.len(), 1);
        assert_eq!(dups[0].line, 2);
    }

    #[test]
    fn syntax_error_has_position() {
        let err = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.line >= 1, "{err:?}");
    }

    #[test]
    fn aliases_expand_and_nulls_resolve() {
        let (root, _) = parse("x: &e {A: 1}\ny: *e\nz: ~\n").unwrap();
        let Kind::Map(entries) = root.unwrap().kind else {
            panic!()
        };
        assert_eq!(entries[1].1.line, 2);
        assert!(matches!(entries[1].1.kind, Kind::Map(_)));
        assert_eq!(entries[2].1.kind, Kind::Null);
    }

    #[test]
    fn one_document_only_and_bom_is_ignored() {
        let err = parse("a: 1\n---\nb: 2\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(parse("\u{feff}a: 1\n").unwrap().0.is_some());
        assert!(parse("---\na: 1\n...\n").unwrap().0.is_some());
    }

    #[test]
    fn alias_bomb_is_refused() {
        let mut doc = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let prev = i - 1;
            doc.push_str(&format!(
                "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
            ));
        }
        assert!(parse(&doc).is_err());
    }

    #[test]
    fn alias_amplification_of_a_large_string_is_refused() {
        let mut doc = format!("a: &a \"{}\"\nb:\n", "x".repeat(1 << 20));
        for _ in 0..20 {
            doc.push_str("  - *a\n");
        }
        let err = parse(&doc).unwrap_err();
        assert!(err.message.contains("aliases expand"), "{err:?}");
        assert!(err.line > 2, "{err:?}");
        // The original and fourteen copies fit the budget.
        let ok = doc.replacen("  - *a\n", "", 6);
        assert!(parse(&ok).is_ok());
    }
}
