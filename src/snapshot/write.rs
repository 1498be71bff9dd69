//! Writes a snapshot as stable, diff-friendly TOML.
//!
//! Written by hand rather than through serde so the layout is ours to keep: one line per resolved package and per
//! metric (a version bump is a one-line change in a pull request), keys in a fixed order, and no field that varies
//! between runs of the same versions.

use std::fmt::Write;

use super::{Snapshot, SnapshotProbe};
use crate::probe::spec::Role;

pub fn render(snapshot: &Snapshot) -> String {
    let mut out = String::new();
    out.push_str("# qcompat snapshot: written by `qcompat run --update`, compared by `qcompat run --check`.\n");
    out.push_str("# One [[cell]] per matrix cell, in matrix order. Review changes with `qcompat diff OLD NEW`.\n");
    let _ = writeln!(out, "matrix = {}", string(&snapshot.matrix));
    // Header fields only when set, so a whole run of explicit versions writes the file it always wrote.
    if let Some(listed) = &snapshot.listed {
        let _ = writeln!(out, "listed = {}", string(listed));
    }
    if let Some(part) = &snapshot.part {
        let (k, n) = part.shard;
        let _ = writeln!(out, "plan = {}", string(&part.plan));
        let _ = writeln!(out, "shard = {}", string(&format!("{k}/{n}")));
        let positions: Vec<String> = part.positions.iter().map(ToString::to_string).collect();
        let _ = writeln!(out, "positions = [{}]", positions.join(", "));
    }
    for cell in &snapshot.cells {
        out.push_str("\n[[cell]]\n");
        let axes: Vec<String> = cell
            .key
            .iter()
            .map(|(axis, version)| format!("{} = {}", key(axis), string(version)))
            .collect();
        let _ = writeln!(out, "key = {{ {} }}", axes.join(", "));
        if !cell.resolved.is_empty() {
            out.push_str("\n[cell.resolved]\n");
            for (package, version) in &cell.resolved {
                let _ = writeln!(out, "{} = {}", key(package), string(version));
            }
        }
        for probe in &cell.probes {
            write_probe(&mut out, probe);
        }
    }
    out
}

fn write_probe(out: &mut String, probe: &SnapshotProbe) {
    out.push_str("\n[[cell.probe]]\n");
    let _ = writeln!(out, "name = {}", string(&probe.name));
    let _ = writeln!(out, "outcome = {}", string(probe.outcome.as_str()));
    for (field, value) in [
        ("signature", &probe.signature),
        ("frame", &probe.frame),
        ("known", &probe.known),
    ] {
        if let Some(value) = value {
            let _ = writeln!(out, "{field} = {}", string(value));
        }
    }
    if probe.declared {
        out.push_str("declared = true\n");
    }
    if let Some(role) = probe.role {
        let role = if role == Role::Control {
            "control"
        } else {
            "quantized"
        };
        let _ = writeln!(out, "role = {}", string(role));
    }
    if !probe.substitutions.is_empty() {
        let items: Vec<String> = probe.substitutions.iter().map(|s| string(s)).collect();
        let _ = writeln!(out, "substitutions = [{}]", items.join(", "));
    }
    let metrics: Vec<_> = probe.metrics.iter().filter(|(_, v)| !v.is_null()).collect();
    if !metrics.is_empty() {
        out.push_str("\n[cell.probe.metrics]\n");
        for (name, value) in metrics {
            let _ = writeln!(out, "{} = {}", key(name), value_text(value));
        }
    }
    for test in &probe.tests {
        out.push_str("\n[[cell.probe.test]]\n");
        let _ = writeln!(out, "id = {}", string(&test.id));
        let _ = writeln!(out, "outcome = {}", string(test.outcome.as_str()));
        if let Some(message) = &test.message {
            let _ = writeln!(out, "message = {}", string(message));
        }
    }
}

/// A bare key when TOML allows one, else a quoted one (`zope.interface` must not become a dotted key).
fn key(text: &str) -> String {
    let bare = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if bare { text.to_string() } else { string(text) }
}

fn string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// A metric value in TOML syntax; nulls inside lists and tables are dropped (TOML has no null).
fn value_text(value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => toml::Value::Float(f).to_string(),
            _ => n.to_string(),
        },
        Value::String(s) => string(s),
        Value::Array(items) => {
            let items: Vec<String> = items
                .iter()
                .filter(|v| !v.is_null())
                .map(value_text)
                .collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(fields) => {
            let fields: Vec<String> = fields
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| format!("{} = {}", key(k), value_text(v)))
                .collect();
            format!("{{ {} }}", fields.join(", "))
        }
    }
}
