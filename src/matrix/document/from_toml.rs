//! TOML into [`Node`]s, through toml_edit's parse tree, which keeps the span of every key and value.

use toml_edit::{ImDocument, Item, Table, TomlError, Value};

use super::{Entry, Kind, Node, Problem, repeated_key, toml_repeats};

pub fn parse(text: &str) -> Result<Node, Problem> {
    let document = ImDocument::parse(text).map_err(|e| problem(&e, text))?;
    Ok(table(document.as_table(), 0))
}

/// toml_edit's words, on one line; a repeated key gets the words YAML's does, naming the one written first, where
/// toml_edit may name a later one (see `toml_repeats`).
fn problem(error: &TomlError, text: &str) -> Problem {
    if error.message().contains("duplicate key")
        && let Some((key, at)) = toml_repeats::first(text)
    {
        return Problem::new(at, repeated_key(&key));
    }
    let words: Vec<&str> = error.message().split_whitespace().collect();
    Problem::new(error.span().map_or(0, |s| s.start), words.join(" "))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_key_is_named_as_written_whatever_it_holds() {
        for (text, key, at) in [
            ("name = 1\nname = 2\n", "name", 9),
            ("\"`\" = 1\n\"\\u0060\" = 2\n", "`", 8),
            ("a = { \"b.c\" = 1, 'b.c' = 2 }\n", "b.c", 17),
            // toml_edit meets `toyquant` first: it checks an inline table's keys when the table closes.
            (
                "axes = {}\naxes = {toyquant = 1, toyquant = 2}\n",
                "axes",
                10,
            ),
            ("[t]\n'x' = 1\nx = 2\n", "x", 12),
        ] {
            let problem = parse(text).unwrap_err();
            assert_eq!(problem.message, repeated_key(key), "{text}");
            assert_eq!(problem.at, at, "{text}");
        }
    }
}
