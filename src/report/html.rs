//! The HTML grid: one self-contained page (inline style and script, no network assets) that pictures a whole matrix.
//!
//! The first axis runs down the rows and the second across the columns; further axes make one section per value
//! combination, with a selector to show one at a time. A one-axis matrix gets one column per probe instead. Every
//! probe run is a colored chip with its signature on hover; clicking it shows the details and lights up the cells
//! that share its signature, which are also listed, grouped, below the grid. A `#c-…` fragment in the address opens
//! a chip's details on load, so a link can point at one probe run.

use std::fmt::Write;

use indexmap::IndexMap;

use crate::outcome::Outcome;
use crate::results::{CellResult, ProbeResult, RunReport, SignatureGroup};

const STYLE: &str = include_str!("assets/grid.css");
const SCRIPT: &str = include_str!("assets/grid.js");

/// Legend order: the outcomes a reader looks for first.
const LEGEND: [Outcome; 9] = [
    Outcome::Pass,
    Outcome::Xfail,
    Outcome::Xpass,
    Outcome::Fail,
    Outcome::Timeout,
    Outcome::Crash,
    Outcome::NeedsCuda,
    Outcome::Unresolvable,
    Outcome::InstallError,
];

pub fn render(report: &RunReport) -> String {
    let groups = report.signature_groups();
    let layout = Layout::of(report);
    let mut out = String::new();
    let title = format!("qcompat · {}", report.matrix);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n\
         <style>\n{STYLE}</style>\n</head>\n<body>\n",
        escape(&title)
    );
    let _ = writeln!(
        out,
        "<header><h1>qcompat · <code>{}</code></h1>",
        escape(&report.matrix)
    );
    let regressions = report
        .cells
        .iter()
        .flat_map(|c| &c.probes)
        .filter(|p| p.outcome.is_regression())
        .count();
    let counts: Vec<String> = report
        .summary
        .iter()
        .map(|(o, n)| format!("{n} {o}"))
        .collect();
    let _ = writeln!(
        out,
        "<p id=\"summary\" data-regressions=\"{regressions}\">{} cells · {} · {regressions} regression{}</p></header>",
        report.cells.len(),
        escape(&counts.join(" · ")),
        if regressions == 1 { "" } else { "s" }
    );
    write_legend(&mut out, report);
    write_grid(&mut out, report, &layout, &groups);
    out.push_str("<aside id=\"details\" hidden><h2>Probe run</h2><dl></dl></aside>\n");
    write_signatures(&mut out, &groups, report);
    write_fixed_upstream(&mut out, report);
    let _ = write!(out, "<script>\n{SCRIPT}</script>\n</body>\n</html>\n");
    out
}

/// Which axis runs where, and the values each takes, in matrix order.
struct Layout {
    rows: (String, Vec<String>),
    /// The second axis, or none: then the columns are the probes.
    columns: Option<(String, Vec<String>)>,
    /// Values of the remaining axes, one section each (a single unnamed one when there are none).
    sections: Vec<Vec<(String, String)>>,
    probes: Vec<String>,
}

impl Layout {
    fn of(report: &RunReport) -> Self {
        let axes: Vec<String> = report
            .cells
            .first()
            .map(|c| c.key.keys().cloned().collect())
            .unwrap_or_default();
        let values = |axis: &str| -> Vec<String> {
            let mut seen: Vec<String> = Vec::new();
            for cell in &report.cells {
                let value = value_of(cell, axis);
                if !seen.contains(&value) {
                    seen.push(value);
                }
            }
            seen
        };
        let rows = axes.first().map_or_else(
            || ("cell".to_string(), Vec::new()),
            |a| (a.clone(), values(a)),
        );
        let columns = axes.get(1).map(|a| (a.clone(), values(a)));
        let mut sections: Vec<Vec<(String, String)>> = Vec::new();
        for cell in &report.cells {
            let section: Vec<(String, String)> = axes
                .iter()
                .skip(2)
                .map(|a| (a.clone(), value_of(cell, a)))
                .collect();
            if !sections.contains(&section) {
                sections.push(section);
            }
        }
        let mut probes: Vec<String> = Vec::new();
        for probe in report.cells.iter().flat_map(|c| &c.probes) {
            if !probes.contains(&probe.name) {
                probes.push(probe.name.clone());
            }
        }
        Self {
            rows,
            columns,
            sections,
            probes,
        }
    }
}

/// A partial `[[include]]` cell leaves an axis to the resolver: shown as `*`.
fn value_of(cell: &CellResult, axis: &str) -> String {
    cell.key.get(axis).cloned().unwrap_or_else(|| "*".into())
}

fn write_legend(out: &mut String, report: &RunReport) {
    out.push_str("<section id=\"legend\"><h2>Legend</h2><ul>\n");
    for outcome in LEGEND {
        let count = report.summary.get(&outcome).copied().unwrap_or(0);
        let _ = writeln!(
            out,
            "<li class=\"{}\"><span class=\"swatch o-{outcome}\"></span>{outcome} <span class=\"count\">{count}</span> \
             <span class=\"meaning\">{}</span></li>",
            if count == 0 { "absent" } else { "present" },
            meaning(outcome)
        );
    }
    out.push_str("</ul></section>\n");
}

fn meaning(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Pass => "works",
        Outcome::Fail => "a regression",
        Outcome::Xfail => "a known issue, as expected",
        Outcome::Xpass => "a known issue did not reproduce: fixed upstream?",
        Outcome::NeedsCuda => "no kernel for this device",
        Outcome::Unresolvable => "no set of versions satisfies the cell",
        Outcome::InstallError => "network or build failure",
        Outcome::Timeout => "ran past the timeout",
        Outcome::Crash => "killed by a signal",
    }
}

fn write_grid(
    out: &mut String,
    report: &RunReport,
    layout: &Layout,
    groups: &[SignatureGroup<'_>],
) {
    if layout.sections.len() > 1 {
        let axes: Vec<&str> = layout.sections[0].iter().map(|(a, _)| a.as_str()).collect();
        let _ = writeln!(
            out,
            "<nav id=\"selector\"><label>{} <select id=\"section-select\"><option value=\"all\">all</option>",
            escape(&axes.join(", "))
        );
        for (i, section) in layout.sections.iter().enumerate() {
            let _ = writeln!(
                out,
                "<option value=\"s{i}\">{}</option>",
                escape(&assignment(section))
            );
        }
        out.push_str("</select></label></nav>\n");
    }
    out.push_str("<main id=\"grid\">\n");
    for (i, section) in layout.sections.iter().enumerate() {
        let _ = writeln!(out, "<section class=\"grid-section\" id=\"s{i}\">");
        if !section.is_empty() {
            let _ = writeln!(out, "<h2>{}</h2>", escape(&assignment(section)));
        }
        let (row_axis, row_values) = &layout.rows;
        let corner = match &layout.columns {
            Some((column_axis, _)) => format!("{row_axis} ↓ · {column_axis} →"),
            None => format!("{row_axis} ↓ · probe →"),
        };
        let _ = write!(
            out,
            "<table class=\"grid\"><thead><tr><th class=\"corner\">{}</th>",
            escape(&corner)
        );
        let column_labels: Vec<&String> = match &layout.columns {
            Some((_, values)) => values.iter().collect(),
            None => layout.probes.iter().collect(),
        };
        for label in &column_labels {
            let _ = write!(out, "<th>{}</th>", escape(label));
        }
        out.push_str("</tr></thead>\n<tbody>\n");
        for row in row_values {
            let _ = write!(out, "<tr><th>{}</th>", escape(row));
            for label in &column_labels {
                let found = report.cells.iter().enumerate().find(|(_, cell)| {
                    value_of(cell, row_axis) == *row
                        && layout
                            .columns
                            .as_ref()
                            .is_none_or(|(axis, _)| value_of(cell, axis) == **label)
                        && section
                            .iter()
                            .all(|(axis, value)| value_of(cell, axis) == *value)
                });
                let Some((index, cell)) = found else {
                    out.push_str("<td class=\"empty\" title=\"not in this matrix (excluded or not run)\">—</td>");
                    continue;
                };
                out.push_str("<td>");
                for (p, probe) in cell.probes.iter().enumerate() {
                    if layout.columns.is_none() && probe.name != **label {
                        continue;
                    }
                    write_chip(
                        out,
                        cell,
                        probe,
                        (index, p),
                        layout.columns.is_some() && layout.probes.len() > 1,
                        groups,
                    );
                }
                out.push_str("</td>");
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody></table></section>\n");
    }
    out.push_str("</main>\n");
}

/// One probe run: colored by outcome, signature on hover, every detail in data attributes for the click panel.
fn write_chip(
    out: &mut String,
    cell: &CellResult,
    probe: &ProbeResult,
    (cell_index, probe_index): (usize, usize),
    label_probe: bool,
    groups: &[SignatureGroup<'_>],
) {
    let key = cell.key_string();
    let group = groups
        .iter()
        .position(|g| {
            Some(g.signature) == probe.signature.as_deref() && g.frame == probe.frame.as_deref()
        })
        .map(|i| i + 1);
    let mut hover = format!("{key} · {}: {}", probe.name, probe.outcome);
    if let Some(signature) = &probe.signature {
        let _ = write!(hover, "\n{signature}");
    }
    if let Some(frame) = &probe.frame {
        let _ = write!(hover, "\nat {frame}");
    }
    if probe.outcome == Outcome::Xpass {
        let _ = write!(
            hover,
            "\nfixed upstream? known issue {}",
            probe.known.as_deref().unwrap_or("?")
        );
    }
    let text = if label_probe {
        format!("{} {}", probe.name, probe.outcome)
    } else {
        probe.outcome.to_string()
    };
    let mut data: IndexMap<&str, String> = IndexMap::new();
    data.insert("key", key.clone());
    data.insert("probe", probe.name.clone());
    data.insert("outcome", probe.outcome.to_string());
    for (name, value) in [
        ("signature", &probe.signature),
        ("frame", &probe.frame),
        ("known", &probe.known),
    ] {
        if let Some(value) = value {
            data.insert(name, value.clone());
        }
    }
    if let Some(group) = group {
        data.insert("sig", group.to_string());
    }
    if !probe.substitutions.is_empty() {
        data.insert("substitutions", probe.substitutions.join("; "));
    }
    let attributes: String = data
        .iter()
        .map(|(k, v)| format!(" data-{k}=\"{}\"", escape(v)))
        .collect();
    let _ = write!(
        out,
        "<button type=\"button\" class=\"chip o-{}\" id=\"c-{cell_index}-{probe_index}\" title=\"{}\"{attributes}>{}{}</button>",
        probe.outcome,
        escape(&hover),
        escape(&text),
        if probe.substitutions.is_empty() {
            ""
        } else {
            "*"
        }
    );
}

fn write_signatures(out: &mut String, groups: &[SignatureGroup<'_>], report: &RunReport) {
    let _ = writeln!(
        out,
        "<section id=\"signatures\"><h2>Signatures ({})</h2>",
        groups.len()
    );
    if groups.is_empty() {
        out.push_str("<p>No probe run failed or was skipped.</p>\n");
    }
    for (i, group) in groups.iter().enumerate() {
        let n = i + 1;
        let _ = write!(
            out,
            "<article class=\"sig\" id=\"sig-{n}\" data-sig=\"{n}\"><h3><span class=\"swatch o-{}\"></span>[{n}] {} \
             <code>{}</code></h3>",
            group.outcome,
            group.outcome,
            escape(group.signature)
        );
        if let Some(frame) = group.frame {
            let _ = write!(
                out,
                "<p class=\"frame\">at <code>{}</code></p>",
                escape(frame)
            );
        }
        let _ = write!(out, "<p>{} probe run(s):</p><ul>", group.hits.len());
        for (cell, probe) in &group.hits {
            let id = chip_id(report, cell, probe);
            let known = probe
                .known
                .as_deref()
                .map(|k| format!(" (known: {})", escape(k)))
                .unwrap_or_default();
            let _ = write!(
                out,
                "<li><a href=\"#{id}\">{} · {}</a>{known}</li>",
                escape(&cell.key_string()),
                escape(&probe.name)
            );
        }
        out.push_str("</ul></article>\n");
    }
    out.push_str("</section>\n");
}

fn write_fixed_upstream(out: &mut String, report: &RunReport) {
    let fixed = super::fixed_upstream(report);
    if fixed.is_empty() {
        return;
    }
    out.push_str("<section id=\"fixed-upstream\"><h2>Fixed upstream?</h2><p>These passed inside a known issue's window; ");
    out.push_str("once they stay fixed, drop the <code>[[known]]</code> entry.</p><ul>\n");
    for (key, probe, known) in fixed {
        let _ = writeln!(
            out,
            "<li>{} · {} (known: <code>{}</code>)</li>",
            escape(&key),
            escape(probe),
            escape(known)
        );
    }
    out.push_str("</ul></section>\n");
}

fn chip_id(report: &RunReport, cell: &CellResult, probe: &ProbeResult) -> String {
    let c = report
        .cells
        .iter()
        .position(|c| std::ptr::eq(c, cell))
        .unwrap_or(0);
    let p = cell
        .probes
        .iter()
        .position(|p| std::ptr::eq(p, probe))
        .unwrap_or(0);
    format!("c-{c}-{p}")
}

fn assignment(values: &[(String, String)]) -> String {
    values
        .iter()
        .map(|(a, v)| format!("{a}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
