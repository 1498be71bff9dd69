//! The HTML grid: one self-contained page (inline style and script, no network assets) that pictures a whole matrix.
//!
//! The first axis runs down the rows and the second across the columns; further axes make one section per value
//! combination, with a selector to show one at a time. A one-axis matrix gets one column per probe instead. Every
//! probe run is a colored chip with its signature on hover; clicking it shows the details and lights up the cells
//! that share its signature, which are also listed, grouped, below the grid. A `#c-…` fragment in the address opens
//! a chip's details on load, so a link can point at one probe run.

use std::fmt::Write;

use indexmap::IndexMap;

use super::view::{Hit, View};
use crate::outcome::Outcome;
use crate::results::CellResult;

const STYLE: &str = concat!(
    include_str!("assets/base.css"),
    include_str!("assets/grid.css")
);
const SCRIPT: &str = include_str!("assets/grid.js");

/// Legend order: the outcomes a reader looks for first.
const LEGEND: [Outcome; 10] = [
    Outcome::Pass,
    Outcome::Xfail,
    Outcome::Xpass,
    Outcome::Fail,
    Outcome::Timeout,
    Outcome::Crash,
    Outcome::NeedsCuda,
    Outcome::Skipped,
    Outcome::Unresolvable,
    Outcome::InstallError,
];

pub fn render(view: &View<'_>) -> String {
    let layout = Layout::of(view);
    let mut out = String::new();
    let title = format!("qcompat · {}", view.matrix);
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
        escape(view.matrix)
    );
    let regressions = view.regressions;
    let _ = writeln!(
        out,
        "<p id=\"summary\" data-regressions=\"{regressions}\">{} cells · {} · {regressions} regression{}</p></header>",
        view.rows.len(),
        escape(&view.count_phrases().join(" · ")),
        if regressions == 1 { "" } else { "s" }
    );
    if !view.headline.is_empty() {
        out.push_str("<ul id=\"headline\">");
        for line in &view.headline {
            let _ = write!(out, "<li>{}</li>", escape(&line.text));
        }
        out.push_str("</ul>\n");
    }
    write_legend(&mut out, view);
    write_grid(&mut out, view, &layout);
    out.push_str("<aside id=\"details\" hidden><h2>Probe run</h2><dl></dl></aside>\n");
    write_signatures(&mut out, view);
    write_contrasts(&mut out, view);
    write_fixed_upstream(&mut out, view);
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
}

impl Layout {
    fn of(view: &View<'_>) -> Self {
        let cells: Vec<&CellResult> = view.rows.iter().map(|r| r.cell).collect();
        let axes: Vec<String> = cells
            .first()
            .map(|c| c.key.axes().map(String::from).collect())
            .unwrap_or_default();
        let values = |axis: &str| -> Vec<String> {
            let mut seen: Vec<String> = Vec::new();
            for cell in &cells {
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
        for cell in &cells {
            let section: Vec<(String, String)> = axes
                .iter()
                .skip(2)
                .map(|a| (a.clone(), value_of(cell, a)))
                .collect();
            if !sections.contains(&section) {
                sections.push(section);
            }
        }
        Self {
            rows,
            columns,
            sections,
        }
    }
}

/// A partial `[[include]]` cell leaves an axis to the resolver: shown as `*`.
fn value_of(cell: &CellResult, axis: &str) -> String {
    cell.key.get(axis).unwrap_or("*").to_string()
}

fn write_legend(out: &mut String, view: &View<'_>) {
    out.push_str("<section id=\"legend\"><h2>Legend</h2><ul>\n");
    for outcome in LEGEND {
        let count = view.counts.get(&outcome).copied().unwrap_or(0);
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
        Outcome::Skipped => "nothing ran: every stage skipped",
        Outcome::Unresolvable => "no set of versions satisfies the cell",
        Outcome::InstallError => "network or build failure",
        Outcome::Timeout => "ran past the timeout",
        Outcome::Crash => "killed by a signal",
    }
}

fn write_grid(out: &mut String, view: &View<'_>, layout: &Layout) {
    if layout.sections.len() > 1 {
        write_selector(out, layout);
    }
    out.push_str("<main id=\"grid\">\n");
    for (i, section) in layout.sections.iter().enumerate() {
        let _ = writeln!(out, "<section class=\"grid-section\" id=\"s{i}\">");
        if !section.is_empty() {
            let _ = writeln!(out, "<h2>{}</h2>", escape(&assignment(section)));
        }
        write_section(out, view, layout, section);
        out.push_str("</tbody></table></section>\n");
    }
    out.push_str("</main>\n");
}

fn write_selector(out: &mut String, layout: &Layout) {
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

/// One table of the grid: rows of the first axis, columns of the second (or the probes), for one section's values.
fn write_section(out: &mut String, view: &View<'_>, layout: &Layout, section: &[(String, String)]) {
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
    let column_labels: Vec<&str> = match &layout.columns {
        Some((_, values)) => values.iter().map(String::as_str).collect(),
        None => view.probes.clone(),
    };
    for label in &column_labels {
        let _ = write!(out, "<th>{}</th>", escape(label));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row_value in row_values {
        let _ = write!(out, "<tr><th>{}</th>", escape(row_value));
        for label in &column_labels {
            let found = view.rows.iter().enumerate().find(|(_, row)| {
                value_of(row.cell, row_axis) == *row_value
                    && layout
                        .columns
                        .as_ref()
                        .is_none_or(|(axis, _)| value_of(row.cell, axis) == *label)
                    && section
                        .iter()
                        .all(|(axis, value)| value_of(row.cell, axis) == *value)
            });
            let Some((r, row)) = found else {
                out.push_str(
                    "<td class=\"empty\" title=\"not in this matrix (excluded or not run)\">—</td>",
                );
                continue;
            };
            out.push_str("<td>");
            for (c, probe) in row.probes.iter().enumerate() {
                let Some(probe) = probe else { continue };
                if layout.columns.is_none() && probe.name != *label {
                    continue;
                }
                let hit = Hit {
                    cell: row.cell,
                    probe,
                    row: r,
                    column: c,
                };
                write_chip(
                    out,
                    view,
                    &hit,
                    layout.columns.is_some() && view.probes.len() > 1,
                );
            }
            out.push_str("</td>");
        }
        out.push_str("</tr>\n");
    }
}

/// One probe run: colored by outcome, signature on hover, every detail in data attributes for the click panel.
fn write_chip(out: &mut String, view: &View<'_>, hit: &Hit<'_>, label_probe: bool) {
    let (probe, key) = (hit.probe, hit.cell.key.to_string());
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
    if let Some(group) = view.group_number(probe) {
        data.insert("sig", group.to_string());
    }
    if !probe.substitutions.is_empty() {
        data.insert("substitutions", probe.substitutions.join("; "));
    }
    if !probe.tests.is_empty() {
        data.insert("tests", tests_text(&probe.tests));
    }
    let attributes: String = data
        .iter()
        .map(|(k, v)| format!(" data-{k}=\"{}\"", escape(v)))
        .collect();
    let _ = write!(
        out,
        "<button type=\"button\" class=\"chip o-{}\" id=\"{}\" title=\"{}\"{attributes}>{}{}</button>",
        probe.outcome,
        chip_id(hit),
        escape(&hover),
        escape(&text),
        if probe.substitutions.is_empty() {
            ""
        } else {
            "*"
        }
    );
}

/// A pytest probe's tests for the details: `id outcome (message)`, one after another.
fn tests_text(tests: &[crate::probe::protocol::TestResult]) -> String {
    let test = |t: &crate::probe::protocol::TestResult| match &t.message {
        Some(message) => format!("{} {} ({message})", t.id, t.outcome.as_str()),
        None => format!("{} {}", t.id, t.outcome.as_str()),
    };
    tests.iter().map(test).collect::<Vec<_>>().join("; ")
}

fn write_signatures(out: &mut String, view: &View<'_>) {
    let _ = writeln!(
        out,
        "<section id=\"signatures\"><h2>Signatures ({})</h2>",
        view.groups.len()
    );
    if view.groups.is_empty() {
        out.push_str("<p>No probe run failed or was skipped.</p>\n");
    }
    for (i, group) in view.groups.iter().enumerate() {
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
        if let Some(hint) = group.hint {
            let _ = write!(out, "<p class=\"hint\">hint: {}</p>", escape(hint));
        }
        let _ = write!(out, "<p>{} probe run(s):</p><ul>", group.hits.len());
        for hit in &group.hits {
            let known = hit
                .probe
                .known
                .as_deref()
                .map(|k| format!(" (known: {})", escape(k)))
                .unwrap_or_default();
            let _ = write!(
                out,
                "<li><a href=\"#{}\">{} · {}</a>{known}</li>",
                chip_id(hit),
                escape(&hit.cell.key.to_string()),
                escape(&hit.probe.name)
            );
        }
        out.push_str("</ul></article>\n");
    }
    out.push_str("</section>\n");
}

fn write_contrasts(out: &mut String, view: &View<'_>) {
    if view.contrasts.is_empty() {
        return;
    }
    out.push_str("<section id=\"quantization-contrast\"><h2>Specific to quantization</h2>");
    out.push_str("<p>The unquantized control passes where quantized probes fail.</p><ul>\n");
    for contrast in &view.contrasts {
        let _ = writeln!(
            out,
            "<li>{}: {}</li>",
            escape(&contrast.cell.key.to_string()),
            escape(&contrast.describe())
        );
    }
    out.push_str("</ul></section>\n");
}

fn write_fixed_upstream(out: &mut String, view: &View<'_>) {
    if view.fixed_upstream.is_empty() {
        return;
    }
    out.push_str("<section id=\"fixed-upstream\"><h2>Fixed upstream?</h2><p>These passed inside a known issue's window; ");
    out.push_str("once they stay fixed, drop the <code>[[known]]</code> entry.</p><ul>\n");
    for hit in &view.fixed_upstream {
        let _ = writeln!(
            out,
            "<li>{} · {} (known: <code>{}</code>)</li>",
            escape(&hit.cell.key.to_string()),
            escape(&hit.probe.name),
            escape(hit.probe.known.as_deref().unwrap_or("?"))
        );
    }
    out.push_str("</ul></section>\n");
}

/// `c-ROW-COLUMN`: a chip's address, so a link (or the page's fragment) can open one probe run.
fn chip_id(hit: &Hit<'_>) -> String {
    format!("c-{}-{}", hit.row, hit.column)
}

fn assignment(values: &[(String, String)]) -> String {
    values
        .iter()
        .map(|(a, v)| format!("{a}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn escape(text: &str) -> String {
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
