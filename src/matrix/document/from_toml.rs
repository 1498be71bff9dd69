//! TOML into [`Node`]s, through toml_edit's parse tree, which keeps the span of every key and value.

use toml_edit::{ImDocument, Item, Table, Value};

use super::{Entry, Kind, Node, Problem, repeated_key};

pub fn parse(text: &str) -> Result<Node, Problem> {
    let document = ImDocument::parse(text).map_err(|e| {
        let at = e.span().map_or(0, |s| s.start);
        Problem::new(at, message(e.message()))
    })?;
    Ok(table(document.as_table(), 0))
}

/// toml_edit's words, on one line; a repeated key gets the words YAML's does.
fn message(text: &str) -> String {
    if let Some(rest) = text.split("duplicate key `").nth(1)
        && let Some((key, _)) = rest.split_once('`')
    {
        return repeated_key(key);
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A table whose own span is unknown (the root, or one implied by a dotted key) starts at `fallback`.
fn table(table: &Table, fallback: usize) -> Node {
    let entries = table
        .iter()
        .filter_map(|(key, item)| {
            let at = table
                .key(key)
                .and_then(|k| k.span())
                .map_or(fallback, |s| s.start);
            Some(Entry {
                key: key.to_string(),
                at,
                value: item_node(item, at)?,
            })
        })
        .collect();
    Node {
        at: table.span().map_or(fallback, |s| s.start),
        kind: Kind::Table(entries),
    }
}

fn item_node(item: &Item, key_at: usize) -> Option<Node> {
    match item {
        Item::None => None,
        Item::Value(value) => Some(value_node(value, key_at)),
        Item::Table(t) => Some(table(t, key_at)),
        Item::ArrayOfTables(tables) => Some(Node {
            at: tables.span().map_or(key_at, |s| s.start),
            kind: Kind::List(tables.iter().map(|t| table(t, key_at)).collect()),
        }),
    }
}

fn value_node(value: &Value, key_at: usize) -> Node {
    let kind = match value {
        Value::String(text) => Kind::Text(text.value().clone()),
        Value::Boolean(flag) => Kind::Bool(*flag.value()),
        Value::Integer(_) | Value::Float(_) => Kind::Other("a number"),
        Value::Datetime(_) => Kind::Other("a date"),
        Value::Array(values) => Kind::List(values.iter().map(|v| value_node(v, key_at)).collect()),
        Value::InlineTable(inline) => Kind::Table(
            inline
                .iter()
                .map(|(key, v)| {
                    let at = inline
                        .key(key)
                        .and_then(|k| k.span())
                        .map_or(key_at, |s| s.start);
                    Entry {
                        key: key.to_string(),
                        at,
                        value: value_node(v, at),
                    }
                })
                .collect(),
        ),
    };
    Node {
        at: value.span().map_or(key_at, |s| s.start),
        kind,
    }
}
