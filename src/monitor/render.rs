//! A monitor run as a terminal table, Markdown (a CI job summary: what was new, what broke, the bisect report ready
//! for an upstream issue), or JSON (the [`super::MonitorReport`] as it is).

use std::fmt::Write;

use super::view::MonitorView;
use crate::render::{self, Findings};

impl Findings for MonitorView<'_> {
    fn table(&self) -> String {
        let mut out = self.headline.clone() + "\n";
        if let Some(diff) = &self.diff {
            out.push('\n');
            out.push_str(&diff.table());
        }
        if !self.bisect.bisections.is_empty() {
            out.push('\n');
            out.push_str(&self.bisect.table());
        }
        for error in &self.report.bisect_errors {
            let _ = writeln!(out, "bisect stopped: {error}");
        }
        out
    }

    fn markdown(&self) -> String {
        let mut out = format!(
            "## qcompat monitor: `{}`\n\n{}\n",
            self.report.matrix, self.headline
        );
        if let Some(diff) = &self.diff {
            out.push('\n');
            out.push_str(&diff.markdown());
        }
        if !self.bisect.bisections.is_empty() {
            out.push('\n');
            out.push_str(&self.bisect.markdown());
        }
        for error in &self.report.bisect_errors {
            let _ = writeln!(out, "\nbisect stopped: {error}");
        }
        out
    }

    fn json(&self) -> String {
        render::json(self.report)
    }
}
