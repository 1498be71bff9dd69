//! YAML into [`Node`]s, from saphyr's event parser, whose events carry their positions (serde_yaml's values do not).
//!
//! Plain scalars are resolved as YAML 1.2's core schema says (`5` is a number, `true` a boolean, `~` null), so a
//! version written unquoted is refused where it is a number, as in TOML, instead of `2.10` silently becoming 2.1.
//! Aliases are refused: TOML has no equivalent, and expanding them is how a small file asks for unbounded memory.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;
use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};

use super::{Entry, Kind, Node, Problem, repeated_key};

pub fn parse(text: &str) -> Result<Node, Problem> {
    let mut builder = Builder {
        chars: text.char_indices().map(|(at, _)| at).collect(),
        end: text.len(),
        open: Vec::new(),
        root: None,
    };
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| {
            let at = builder.offset(e.marker().index());
            Problem::new(at, e.info().to_string())
        })?;
        builder.event(event, span)?;
    }
    Ok(builder.root.unwrap_or(Node {
        at: 0,
        kind: Kind::Table(Vec::new()),
    }))
}

/// A list or table being read: where it starts, what it holds so far, and (a table) the key awaiting its value.
enum Open {
    List(usize, Vec<Node>),
    Table(usize, Vec<Entry>, Option<(String, usize)>),
}

struct Builder {
    /// Byte offset of each character: saphyr counts positions in characters.
    chars: Vec<usize>,
    end: usize,
    open: Vec<Open>,
    root: Option<Node>,
}

impl Builder {
    fn offset(&self, char_index: usize) -> usize {
        self.chars.get(char_index).copied().unwrap_or(self.end)
    }

    fn event(&mut self, event: Event, span: Span) -> Result<(), Problem> {
        let at = self.offset(span.start.index());
        match event {
            Event::Scalar(value, style, _, tag) => self.close(Node {
                at,
                kind: scalar(value, style, tag.as_deref()),
            }),
            Event::SequenceStart(..) => {
                self.open.push(Open::List(at, Vec::new()));
                Ok(())
            }
            Event::MappingStart(..) => {
                self.open.push(Open::Table(at, Vec::new(), None));
                Ok(())
            }
            Event::SequenceEnd | Event::MappingEnd => match self.open.pop() {
                Some(Open::List(at, nodes)) => self.close(Node {
                    at,
                    kind: Kind::List(nodes),
                }),
                Some(Open::Table(at, entries, _)) => self.close(Node {
                    at,
                    kind: Kind::Table(entries),
                }),
                None => Ok(()),
            },
            Event::Alias(_) => Err(Problem::new(
                at,
                "aliases (`*name`) are not allowed in a matrix file: write the value out",
            )),
            Event::DocumentStart(_) if self.root.is_some() => Err(Problem::new(
                at,
                "a matrix file holds one YAML document; this is a second",
            )),
            _ => Ok(()),
        }
    }

    /// A finished node: the root, an item of the open list, or a key or value of the open table.
    fn close(&mut self, node: Node) -> Result<(), Problem> {
        match self.open.last_mut() {
            None => self.root = Some(node),
            Some(Open::List(_, nodes)) => nodes.push(node),
            Some(Open::Table(_, entries, pending)) => match pending.take() {
                Some((key, at)) => entries.push(Entry {
                    key,
                    at,
                    value: node,
                }),
                None => *pending = Some(key(node, entries)?),
            },
        }
        Ok(())
    }
}

/// A key must be text, and new to its table.
fn key(node: Node, entries: &[Entry]) -> Result<(String, usize), Problem> {
    let Kind::Text(key) = node.kind else {
        return Err(Problem::new(
            node.at,
            "a key must be text: quote it (`\"5\": …`)",
        ));
    };
    if entries.iter().any(|e| e.key == key) {
        return Err(Problem::new(node.at, repeated_key(&key)));
    }
    Ok((key, node.at))
}

/// Quoted and block scalars are text; plain ones are resolved by YAML 1.2's core schema; `!!str` forces text.
fn scalar(value: Cow<str>, style: ScalarStyle, tag: Option<&Tag>) -> Kind {
    match tag {
        Some(tag) if tag.is_yaml_core_schema() && tag.suffix == "str" => {
            return Kind::Text(value.into_owned());
        }
        Some(_) => return Kind::Other("a tagged value"),
        None => {}
    }
    if style != ScalarStyle::Plain {
        return Kind::Text(value.into_owned());
    }
    static NUMBER: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(concat!(
            r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+",
            r"|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?",
            r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
        ))
        .expect("a valid pattern")
    });
    match value.as_ref() {
        "" | "~" | "null" | "Null" | "NULL" => Kind::Other("null"),
        "true" | "True" | "TRUE" => Kind::Bool(true),
        "false" | "False" | "FALSE" => Kind::Bool(false),
        text if NUMBER.is_match(text) => Kind::Other("a number"),
        _ => Kind::Text(value.into_owned()),
    }
}
