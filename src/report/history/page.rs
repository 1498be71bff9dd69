//! The history page: one self-contained HTML file (inline style and script, no network assets). A table of axis
//! versions × nights, each point colored by its outcome, marked where a regression appeared (▲) or went away (▼),
//! with its known-issue ids; above it, the list of those events; below it, every point's details, which a point's
//! link (`#d-ROW-NIGHT`) opens, with or without the script.

use std::fmt::Write;

use super::{Event, History, Point, Row, counts};
use crate::diff::Change;
use crate::outcome::Outcome;
use crate::report::html::escape;

const STYLE: &str = concat!(
    include_str!("../assets/base.css"),
    include_str!("history.css")
);
const SCRIPT: &str = include_str!("history.js");

pub fn render(history: &History<'_>) -> String {
    let mut out = String::new();
    let title = format!("qcompat history · {}", history.matrix);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n\
         <style>\n{STYLE}</style>\n</head>\n<body>\n",
        escape(&title)
    );
    write_header(&mut out, history);
    write_events(&mut out, history);
    write_table(&mut out, history);
    write_details(&mut out, history);
    let _ = write!(out, "<script>\n{SCRIPT}</script>\n</body>\n</html>\n");
    out
}

fn write_header(out: &mut String, history: &History<'_>) {
    let count = |change: Change| history.events.iter().filter(|e| e.change == change).count();
    let (appeared, went_away) = (count(Change::Regression), count(Change::Fix));
    let span = match (history.nights.first(), history.nights.last()) {
        (Some(first), Some(last)) => format!("from {} to {}", first.label, last.label),
        _ => String::new(),
    };
    let _ = writeln!(
        out,
        "<header><h1>qcompat history · <code>{}</code></h1>\n\
         <p id=\"summary\" data-nights=\"{}\" data-appeared=\"{appeared}\" data-went-away=\"{went_away}\">\
         {} nights {} · {appeared} regression(s) appeared · {went_away} went away</p></header>",
        escape(history.matrix),
        history.nights.len(),
        history.nights.len(),
        escape(&span)
    );
    out.push_str("<ul id=\"legend\">");
    for outcome in super::WORST_FIRST {
        let _ = write!(
            out,
            "<li><span class=\"swatch o-{0}\"></span>{0}</li>",
            outcome.as_str()
        );
    }
    out.push_str(
        "<li><span class=\"mark appeared\">▲</span> a regression appeared</li>\
         <li><span class=\"mark went-away\">▼</span> it went away</li></ul>\n",
    );
}

/// The nights a regression appeared or went away, each linked to its point.
fn write_events(out: &mut String, history: &History<'_>) {
    out.push_str("<section id=\"events\"><h2>Regressions, night by night</h2>\n");
    if history.events.is_empty() {
        out.push_str("<p>No regression appeared or went away over these nights.</p>\n</section>\n");
        return;
    }
    out.push_str("<ol>\n");
    for event in &history.events {
        let night = &history.nights[event.night];
        let what = match event.change {
            Change::Regression => ("appeared", "regression appeared"),
            _ => ("went-away", "went away"),
        };
        let link = point_of(history, event)
            .map(|row| format!(" <a href=\"#d-{row}-{}\">details</a>", event.night))
            .unwrap_or_default();
        let signature = event
            .signature
            .as_deref()
            .map(|s| format!(": <code>{}</code>", escape(s)))
            .unwrap_or_default();
        let moved = match event.moved.is_empty() {
            true => String::new(),
            false => format!("; moved: {}", escape(&event.moved.join(", "))),
        };
        let _ = writeln!(
            out,
            "<li class=\"event {}\" data-night=\"{}\"><strong>{}</strong>: {} in <code>{}</code> {} ({} → {}){signature}{moved}{link}</li>",
            what.0,
            event.night,
            escape(&night.label),
            what.1,
            escape(&event.cell),
            escape(&event.probe),
            outcome_name(event.old),
            outcome_name(event.new),
        );
    }
    out.push_str("</ol>\n</section>\n");
}

/// The first row whose point that night holds the event's cell.
fn point_of(history: &History<'_>, event: &Event) -> Option<usize> {
    history.rows.iter().position(|row| {
        row.points[event.night]
            .as_ref()
            .is_some_and(|p| p.cells.iter().any(|c| c.key.to_string() == event.cell))
    })
}

fn outcome_name(outcome: Option<Outcome>) -> &'static str {
    outcome.map_or("-", Outcome::as_str)
}

fn write_table(out: &mut String, history: &History<'_>) {
    out.push_str(
        "<table class=\"history\">\n<thead><tr><th class=\"corner\">version \\ night</th>",
    );
    for (n, night) in history.nights.iter().enumerate() {
        let _ = write!(
            out,
            "<th class=\"night\" data-night=\"{n}\" title=\"{}\">{}</th>",
            escape(&night.source),
            escape(&night.label)
        );
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    let mut axis = "";
    for (r, row) in history.rows.iter().enumerate() {
        if row.axis != axis {
            axis = &row.axis;
            let _ = writeln!(
                out,
                "<tr class=\"axis\"><th colspan=\"{}\">{}</th></tr>",
                history.nights.len() + 1,
                escape(axis)
            );
        }
        write_row(out, r, row);
    }
    out.push_str("</tbody>\n</table>\n");
}

fn write_row(out: &mut String, r: usize, row: &Row<'_>) {
    let _ = write!(
        out,
        "<tr data-axis=\"{}\" data-version=\"{}\"><th>{}</th>",
        escape(&row.axis),
        escape(&row.version),
        escape(&row.version)
    );
    for (n, point) in row.points.iter().enumerate() {
        let Some(point) = point else {
            out.push_str("<td class=\"empty\">·</td>");
            continue;
        };
        let outcome = point.outcome.as_str();
        let tooltip: Vec<String> = counts(point)
            .iter()
            .map(|(o, c)| format!("{c} {o}"))
            .collect();
        let _ = write!(
            out,
            "<td><a class=\"point o-{outcome}\" id=\"p-{r}-{n}\" href=\"#d-{r}-{n}\" data-outcome=\"{outcome}\" \
             data-night=\"{n}\" data-axis=\"{}\" data-version=\"{}\" title=\"{}\">{outcome}</a>",
            escape(&row.axis),
            escape(&row.version),
            escape(&tooltip.join(", "))
        );
        write_marks(out, point);
        out.push_str("</td>");
    }
    out.push_str("</tr>\n");
}

fn write_marks(out: &mut String, point: &Point<'_>) {
    if point.appeared {
        out.push_str("<span class=\"mark appeared\" title=\"a regression appeared\">▲</span>");
    }
    if point.went_away {
        out.push_str("<span class=\"mark went-away\" title=\"a failure went away\">▼</span>");
    }
    for id in &point.known {
        let _ = write!(out, "<span class=\"known\">{}</span>", escape(id));
    }
}

/// Every point's cells: their resolved versions and probe runs, shown when the point is selected.
fn write_details(out: &mut String, history: &History<'_>) {
    out.push_str("<div id=\"points\">\n");
    for (r, row) in history.rows.iter().enumerate() {
        for (n, point) in row.points.iter().enumerate() {
            let Some(point) = point else { continue };
            let _ = writeln!(
                out,
                "<section class=\"details\" id=\"d-{r}-{n}\" data-point=\"p-{r}-{n}\"><h2>{} {} · {}</h2>",
                escape(&row.axis),
                escape(&row.version),
                escape(&history.nights[n].label)
            );
            for cell in &point.cells {
                write_cell(out, cell);
            }
            out.push_str("</section>\n");
        }
    }
    out.push_str("</div>\n");
}

fn write_cell(out: &mut String, cell: &crate::snapshot::SnapshotCell) {
    let resolved: Vec<String> = cell
        .resolved
        .iter()
        .map(|(p, v)| format!("{p} {v}"))
        .collect();
    let _ = writeln!(
        out,
        "<h3><code>{}</code></h3><p class=\"resolved\">{}</p>\n<table class=\"probes\">\
         <tr><th>probe</th><th>outcome</th><th>signature</th><th>frame</th><th>known</th></tr>",
        escape(&cell.key.to_string()),
        escape(&resolved.join(" · "))
    );
    for probe in &cell.probes {
        let outcome = probe.outcome.as_str();
        let field = |text: &Option<String>| escape(text.as_deref().unwrap_or(""));
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"outcome\"><span class=\"swatch o-{outcome}\"></span>{outcome}</td>\
             <td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&probe.name),
            field(&probe.signature),
            field(&probe.frame),
            field(&probe.known)
        );
    }
    out.push_str("</table>\n");
}
