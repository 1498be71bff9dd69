//! TOML into [`Node`]s, through toml_edit's parse tree, which keeps the span of every key and value.

use toml_edit::{ImDocument, Item, Key, Table, Value};

use super::{Entry, Kind, Node, Problem, repeated_key};

pub fn parse(text: &str) -> Result<Node, Problem> {
    let document = ImDocument::parse(text).map_err(|e| {
        let at = e.span().map_or(0, |s| s.start);
        Problem::new(at, message(e.message(), text.get(at..).unwrap_or_default()))
    })?;
    Ok(table(document.as_table(), 0))
}

/// toml_edit's words, on one line; a repeated key gets the words YAML's does, naming the key as parsed from the
/// text the error points at (toml_edit's message shows it unescaped between backquotes, ambiguous for `` ` ``).
fn message(message: &str, from: &str) -> String {
    match repeated(message, from) {
        Some(key) => repeated_key(&key),
        None => message.split_whitespace().collect::<Vec<_>>().join(" "),
    }
}

/// The key of a "duplicate key" error: in a table the error points at the key; in an inline table it points into
/// the table, and the message ends with the key.
fn repeated(message: &str, from: &str) -> Option<String> {
    let (_, rest) = message.split_once("duplicate key `")?;
    if rest.ends_with(" in document root") || rest.contains("` in table `") {
        return key_at(from);
    }
    rest.strip_suffix('`').map(str::to_string)
}

/// The key written at the start of `text`: bare, `"basic"` or `'literal'`.
fn key_at(text: &str) -> Option<String> {
    let end = match text.chars().next()? {
        '"' => {
            let mut escaped = false;
            1 + text[1..].find(|c| {
                let closes = c == '"' && !escaped;
                escaped = c == '\\' && !escaped;
                closes
            })? + 1
        }
        '\'' => text[1..].find('\'')? + 2,
        _ => text
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-')))
            .unwrap_or(text.len()),
    };
    Some(Key::parse(&text[..end]).ok()?.pop()?.get().to_string())
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
            ("a = { \"b.c\" = 1, 'b.c' = 2 }\n", "b.c", 5),
            ("[t]\n'x' = 1\nx = 2\n", "x", 12),
        ] {
            let problem = parse(text).unwrap_err();
            assert_eq!(problem.message, repeated_key(key), "{text}");
            assert_eq!(problem.at, at, "{text}");
        }
    }
}
