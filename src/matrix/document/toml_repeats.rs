//! The key a TOML document writes twice first, in the order the document is written.
//!
//! toml_edit refuses a repeated key but meets keys late: an inline table's keys are checked when the table closes,
//! a line's key after its value. After `a = 1`, the line `a = {b = 1, b = 2}` is refused for `b`, where YAML's
//! reader, which meets keys as they are written, names `a`. So once toml_edit has refused a document for a repeated
//! key, this walk over toml_parser's events names the first one written, keeping TOML's table rules as toml_edit
//! applies them; both syntaxes then name the same key by construction.

use std::borrow::Cow;
use std::collections::HashMap;

use toml_parser::parser::{Event, EventKind};
use toml_parser::{ParseError, Source};

/// The first key written twice in one table, and where that second writing starts; None when a syntax error comes
/// first (toml_edit's report stands then).
pub fn first(text: &str) -> Option<(String, usize)> {
    let source = Source::new(text);
    let mut events = Vec::new();
    let mut errors = Vec::new();
    toml_parser::parser::parse_document(&source.lex().into_vec(), &mut events, &mut errors);
    // Past a syntax error the events are the parser's guesses.
    let sound_until = first_error(source, &events, errors);
    let mut walk = Walk::new(source);
    events
        .iter()
        .take_while(|event| event.span().start() < sound_until)
        .find_map(|event| walk.event(event))
}

/// Where the first syntax error starts: the parser's, or a key's or value's that only decoding finds (`a = ` with
/// no value parses).
fn first_error(source: Source, events: &[Event], mut errors: Vec<ParseError>) -> usize {
    for event in events {
        let Some(raw) = source.get(event) else {
            continue;
        };
        match event.kind() {
            EventKind::SimpleKey => raw.decode_key(&mut String::new(), &mut errors),
            EventKind::Scalar => drop(raw.decode_scalar(&mut Cow::Borrowed(""), &mut errors)),
            _ => {}
        }
    }
    errors
        .iter()
        .map(|e| e.unexpected().map_or(0, |span| span.start()))
        .min()
        .unwrap_or(usize::MAX)
}

/// How a table came to be, which decides what may add to it later (toml_edit's `implicit` and `dotted` flags).
#[derive(Clone, Copy, PartialEq)]
enum Made {
    /// By a `[header]` or `[[header]]`, or the root.
    Header,
    /// As the parent a header names on its way (`a` in `[a.b]`): a later `[a]` may still define it.
    Implicit,
    /// By a dotted key (`a` in `a.b = 1`).
    Dotted,
    /// By `{…}`: closed once written.
    Inline,
}

enum Slot {
    Value,
    Table(usize),
    /// An array of tables; headers and dotted keys reach into the last.
    Tables(Vec<usize>),
}

/// Why a key path cannot be followed.
enum Refused {
    /// The key at this index of the path is written twice.
    Repeated(usize),
    /// Another problem (a dotted key through a value); toml_edit names it, the walk only leaves the line out.
    Other,
}

struct Walk<'s> {
    source: Source<'s>,
    /// Every table met, by index; 0 is the root.
    tables: Vec<(Made, HashMap<String, Slot>)>,
    /// The table lines write into: the root, or the last header's.
    body: usize,
    /// The inline tables (Some) and arrays (None) being written, innermost last.
    open: Vec<Option<usize>>,
    /// The key path being read, each part with where it starts.
    keys: Vec<(String, usize)>,
    /// The table and key awaiting a value.
    pending: Option<(usize, String)>,
}

impl<'s> Walk<'s> {
    fn new(source: Source<'s>) -> Self {
        Self {
            source,
            tables: vec![(Made::Header, HashMap::new())],
            body: 0,
            open: Vec::new(),
            keys: Vec::new(),
            pending: None,
        }
    }

    /// Follows one event; the repeated key and where, once one is met.
    fn event(&mut self, event: &Event) -> Option<(String, usize)> {
        let checked = match event.kind() {
            EventKind::StdTableClose => self.header(false),
            EventKind::ArrayTableClose => self.header(true),
            EventKind::KeyValSep => self.key_value(),
            kind => {
                self.follow(kind, event);
                return None;
            }
        };
        let repeated = match checked {
            Err(Refused::Repeated(index)) => Some(self.keys[index].clone()),
            _ => None,
        };
        self.keys.clear();
        repeated
    }

    /// An event that ends no key path: a part of one, or a value's start or end.
    fn follow(&mut self, kind: EventKind, event: &Event) {
        match kind {
            EventKind::SimpleKey => {
                let mut key = String::new();
                if let Some(raw) = self.source.get(event) {
                    raw.decode_key(&mut key, &mut ());
                }
                self.keys.push((key, event.span().start()));
            }
            EventKind::Scalar => self.place(Slot::Value),
            EventKind::ArrayOpen => {
                self.place(Slot::Value);
                self.open.push(None);
            }
            EventKind::InlineTableOpen => {
                let table = self.new_table(Made::Inline);
                self.place(Slot::Table(table));
                self.open.push(Some(table));
            }
            EventKind::ArrayClose | EventKind::InlineTableClose => {
                self.open.pop();
            }
            _ => {}
        }
    }

    /// `[a.b]` or `[[a.b]]`: the table lines write into from here on (a fresh one past another problem, so that
    /// its lines repeat nothing).
    fn header(&mut self, array: bool) -> Result<(), Refused> {
        let defined = self.define(array);
        self.body = match defined {
            Ok(table) => table,
            Err(_) => self.new_table(Made::Header),
        };
        defined.map(drop)
    }

    fn define(&mut self, array: bool) -> Result<usize, Refused> {
        let last = self.keys.len() - 1;
        let mut parent = 0;
        for index in 0..last {
            parent = self.descend_header(parent, index)?;
        }
        let key = self.keys[last].0.clone();
        if let Some(&Slot::Table(id)) = self.tables[parent].1.get(&key) {
            // `[a]` after `[a.b]` defines the `a` that header implied.
            if !array && self.tables[id].0 == Made::Implicit {
                self.tables[id].0 = Made::Header;
                return Ok(id);
            }
        }
        let table = self.new_table(Made::Header);
        match self.tables[parent].1.get_mut(&key) {
            Some(Slot::Tables(elements)) if array => elements.push(table),
            Some(_) => return Err(Refused::Repeated(last)),
            None => {
                let slot = match array {
                    true => Slot::Tables(vec![table]),
                    false => Slot::Table(table),
                };
                self.tables[parent].1.insert(key, slot);
            }
        }
        Ok(table)
    }

    /// A header's way through `table` to its `index`-th key, creating the tables it names.
    fn descend_header(&mut self, table: usize, index: usize) -> Result<usize, Refused> {
        match self.tables[table].1.get(&self.keys[index].0) {
            None => Ok(self.insert_table(table, index, Made::Implicit)),
            Some(Slot::Tables(elements)) => {
                Ok(*elements.last().expect("an array of tables has one"))
            }
            Some(&Slot::Table(id)) if self.tables[id].0 != Made::Inline => Ok(id),
            Some(_) => Err(Refused::Other),
        }
    }

    /// `a.b = …`: checks the path where it is written, before its value, and keeps the key for the value.
    fn key_value(&mut self) -> Result<(), Refused> {
        let inline = self.open.last().copied().flatten();
        let mut table = inline.unwrap_or(self.body);
        let last = self.keys.len() - 1;
        for index in 0..last {
            table = self.descend_dotted(table, index, inline.is_some())?;
        }
        // As toml_edit has it: a dotted key writes into a table dotted keys made, a plain key into one they did not.
        let into_dotted = self.tables[table].0 == Made::Dotted;
        let key = self.keys[last].0.clone();
        if into_dotted != (last > 0) || self.tables[table].1.contains_key(&key) {
            return Err(Refused::Repeated(last));
        }
        self.pending = Some((table, key));
        Ok(())
    }

    /// A dotted key's way through `table` to its `index`-th key, creating the tables it names.
    fn descend_dotted(
        &mut self,
        table: usize,
        index: usize,
        inline: bool,
    ) -> Result<usize, Refused> {
        match self.tables[table].1.get(&self.keys[index].0) {
            None => Ok(self.insert_table(table, index, Made::Dotted)),
            Some(Slot::Tables(elements)) => {
                Ok(*elements.last().expect("an array of tables has one"))
            }
            Some(&Slot::Table(id)) => match self.tables[id].0 {
                Made::Implicit | Made::Dotted => Ok(id),
                Made::Header => Err(Refused::Repeated(index)),
                // Outside any inline table toml_edit holds one as a plain value, which no dotted key extends.
                Made::Inline if inline => Err(Refused::Repeated(index)),
                Made::Inline => Err(Refused::Other),
            },
            Some(Slot::Value) => Err(Refused::Other),
        }
    }

    fn insert_table(&mut self, parent: usize, index: usize, made: Made) -> usize {
        let table = self.new_table(made);
        let key = self.keys[index].0.clone();
        self.tables[parent].1.insert(key, Slot::Table(table));
        table
    }

    fn new_table(&mut self, made: Made) -> usize {
        self.tables.push((made, HashMap::new()));
        self.tables.len() - 1
    }

    /// A value starts: it belongs to the key awaiting one, if any (an array's items belong to no key).
    fn place(&mut self, slot: Slot) {
        if let Some((table, key)) = self.pending.take() {
            self.tables[table].1.insert(key, slot);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repeated_key_written_first_is_named_at_its_second_writing() {
        for (text, key, at) in [
            ("a = 1\nb = 2\na = 3\n", "a", 12),
            // toml_edit names `b`, met when the inline table closes; `a` is written before it.
            ("a = 1\na = {b = 1, b = 2}\n", "a", 6),
            ("t = {x = 1, x = 2, b = {y = 1, y = 2}}\n", "x", 12),
            ("t = {b = {y = 1, y = 2}, x = 1, x = 2}\n", "y", 17),
            ("\"`\" = 1\n\"\\u0060\" = 2\n", "`", 8),
            ("[t]\n'x' = 1\nx = 2\n", "x", 12),
            ("[t]\n[t]\n", "t", 5),
            ("[[t]]\n[t]\n", "t", 7),
            ("[t]\n[[t]]\n", "t", 6),
            ("a.b = 1\na.b = 2\n", "b", 10),
            ("a.b = 1\na = 2\n", "a", 8),
            ("[a]\n[b]\n[a.c]\nx = 1\n[a.c]\n", "c", 23),
            ("t = {a.b = 1, a = 2}\n", "a", 14),
            ("t = {a = {}, a.b = 2}\n", "a", 13),
        ] {
            let refused = toml_edit::ImDocument::parse(text).unwrap_err();
            assert!(refused.message().contains("duplicate key"), "{text}");
            assert_eq!(first(text), Some((key.to_string(), at)), "{text}");
        }
    }

    #[test]
    fn tables_that_toml_lets_grow_are_not_repeats() {
        for text in [
            "[a.b]\n[a]\nx = 1\n",
            "a.b = 1\na.c = 2\n",
            "[[t]]\nx = 1\n[[t]]\nx = 2\n[t.u]\ny = 1\n",
            "t = {a.b = 1, a.c = 2}\n",
            "l = [{x = 1}, {x = 2}]\nx = 3\n",
            "[a]\nb.c = 1\n[a.d]\n",
        ] {
            assert!(toml_edit::ImDocument::parse(text).is_ok(), "{text}");
            assert_eq!(first(text), None, "{text}");
        }
    }

    #[test]
    fn nothing_past_a_syntax_error_is_named() {
        for text in [
            "a = \nb = 1\nb = 2\n",
            "a = \"\\q\"\nb = 1\nb = 2\n",
            "a = [\nb = 1\nb = 2\n",
        ] {
            assert_eq!(first(text), None, "{text}");
        }
        assert_eq!(first("b = 1\nb = 2\na = \n"), Some(("b".to_string(), 6)));
    }
}
