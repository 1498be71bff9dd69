//! What the library says while it works, on the terminal: [`Terminal`] is the binary's [`Sink`]. Progress on long
//! runs is an indicatif bar on a terminal and one plain line per finished cell otherwise (CI logs); notes and
//! warnings go above the bar.
//!
//! The bar's message names the running cells by the axes that vary across the run only: the full keys of a
//! three-axis matrix do not fit a terminal line, and the axes every cell shares say nothing.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use qcompat::matrix::cell_key::CellKey;
use qcompat::results::CellResult;
use qcompat::sink::Sink;

/// How much a run says on stderr while it runs (`-q`, default, `-v`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Detail {
    /// Nothing but warnings and errors: no bar, no per-cell lines, no notes.
    Quiet,
    #[default]
    Normal,
    /// Each finished cell's line also names its environment and its log.
    Verbose,
}

/// The binary's sink: one progress display per batch of cells, notes unless `-q`, warnings always.
pub struct Terminal {
    detail: Detail,
    batch: Mutex<Option<Progress>>,
}

impl Terminal {
    pub fn new(detail: Detail) -> Self {
        Self {
            detail,
            batch: Mutex::new(None),
        }
    }

    /// `line` above the progress bar when one is showing, else on stderr.
    fn say(&self, line: &str) {
        match self.batch.lock().expect("batch lock").as_ref() {
            Some(progress) => progress.println(line),
            None => eprintln!("{line}"),
        }
    }
}

impl Sink for Terminal {
    fn cells_starting(&self, cells: &[CellKey]) {
        let progress = Progress::new(cells.len())
            .naming_by(cells)
            .detail(self.detail);
        *self.batch.lock().expect("batch lock") = Some(progress);
    }

    fn cell_started(&self, cell: &CellKey) {
        if let Some(progress) = self.batch.lock().expect("batch lock").as_ref() {
            progress.started(&cell.to_string());
        }
    }

    fn cell_finished(&self, cell: &CellResult) {
        if let Some(progress) = self.batch.lock().expect("batch lock").as_ref() {
            progress.finished(cell);
        }
    }

    fn cells_ended(&self) {
        if let Some(progress) = self.batch.lock().expect("batch lock").take() {
            progress.clear();
        }
    }

    fn note(&self, text: &str) {
        if self.detail != Detail::Quiet {
            self.say(text);
        }
    }

    fn warn(&self, text: &str) {
        self.say(&format!("warning: {text}"));
    }
}

struct Progress {
    bar: Option<ProgressBar>,
    detail: Detail,
    /// Axes whose value differs between the run's cells; empty: show whole keys.
    varying: Vec<String>,
    total: usize,
    state: Mutex<State>,
}

struct State {
    done: usize,
    running: Vec<String>,
    started: Instant,
}

impl Progress {
    fn new(total: usize) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total as u64);
            bar.set_style(
                ProgressStyle::with_template(
                    "{elapsed_precise} [{bar:30}] {pos}/{len} cells  {wide_msg}",
                )
                .expect("static template")
                .progress_chars("=> "),
            );
            bar
        });
        Self {
            bar,
            detail: Detail::Normal,
            varying: Vec::new(),
            total,
            state: Mutex::new(State {
                done: 0,
                running: Vec::new(),
                started: Instant::now(),
            }),
        }
    }

    /// `-q` drops the bar and every line; `-v` adds each cell's environment and log to its line.
    fn detail(mut self, detail: Detail) -> Self {
        if detail == Detail::Quiet {
            self.bar = None;
        }
        self.detail = detail;
        self
    }

    /// Names running cells by the axes that vary across `cells` (the cells this run will run).
    fn naming_by(mut self, cells: &[CellKey]) -> Self {
        self.varying = varying_axes(cells);
        self
    }

    fn started(&self, key: &str) {
        let mut state = self.state.lock().expect("progress lock");
        state.running.push(key.to_string());
        let labels: Vec<String> = state.running.iter().map(|k| self.label(k)).collect();
        if let Some(bar) = &self.bar {
            bar.set_message(format!("running {}", labels.join(" | ")));
        }
    }

    /// `a=1,b=2,c=3` as `b=2` when only `b` varies.
    fn label(&self, key: &str) -> String {
        if self.varying.is_empty() {
            return key.to_string();
        }
        key.split(',')
            .filter(|pair| {
                let axis = pair.split('=').next().unwrap_or_default();
                self.varying.iter().any(|v| v == axis)
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    fn finished(&self, cell: &CellResult) {
        let mut state = self.state.lock().expect("progress lock");
        let key = cell.key.to_string();
        state.running.retain(|k| *k != key);
        state.done += 1;
        let outcomes: Vec<String> = cell
            .probes
            .iter()
            .map(|p| format!("{}={}", p.name, p.outcome))
            .collect();
        let mut line = format!(
            "[{}/{}] {key}  {}  ({:.1}s)",
            state.done,
            self.total,
            outcomes.join(" "),
            state.started.elapsed().as_secs_f64()
        );
        if self.detail == Detail::Quiet {
            return;
        }
        if self.detail == Detail::Verbose {
            line.push_str(&verbose_detail(cell));
        }
        match &self.bar {
            Some(bar) => {
                bar.println(line);
                bar.inc(1);
                let labels: Vec<String> = state.running.iter().map(|k| self.label(k)).collect();
                bar.set_message(format!("running {}", labels.join(" | ")));
            }
            None => eprintln!("{line}"),
        }
    }

    /// A line for the reader, above the bar on a terminal.
    fn println(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }

    fn clear(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// `\n    env …  (built)\n    log …`: where a cell's environment and log are (none for a cell that got no
/// environment).
fn verbose_detail(cell: &CellResult) -> String {
    let mut text = String::new();
    if let Some(env) = &cell.env {
        let how = if env.created { "built" } else { "cached" };
        text.push_str(&format!("\n    env {} ({how})", env.hash));
    }
    if let Some(log) = cell.probes.iter().find_map(|p| p.log.as_deref()) {
        text.push_str(&format!("\n    log {log}"));
    }
    text
}

/// The axes whose value is not the same in every cell, in key order.
fn varying_axes(cells: &[CellKey]) -> Vec<String> {
    let Some(first) = cells.first() else {
        return Vec::new();
    };
    let mut axes: Vec<String> = Vec::new();
    for cell in cells {
        for (axis, value) in cell.iter() {
            if first.get(axis) != Some(value) && !axes.iter().any(|a| a == axis) {
                axes.push(axis.to_string());
            }
        }
    }
    // Key order, whichever cell showed the difference first.
    let order: Vec<&str> = cells.iter().flat_map(|c| c.axes()).collect();
    axes.sort_by_key(|a| order.iter().position(|o| o == a));
    axes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_cells_are_named_by_the_axes_that_vary() {
        let key = |l: &str, b: &str| {
            CellKey::new([("lightning", l), ("bitsandbytes", b), ("torch", "2.3.0")])
        };
        let cells = [
            key("2.3.0.dev20240519", "0.49.2"),
            key("2.3.0.dev20240526", "0.49.2"),
            key("2.4.0", "0.42.0"),
        ];
        assert_eq!(varying_axes(&cells), ["lightning", "bitsandbytes"]);
        let progress = Progress::new(3).naming_by(&cells);
        assert_eq!(
            progress.label(&cells[0].to_string()),
            "lightning=2.3.0.dev20240519,bitsandbytes=0.49.2"
        );
        assert_eq!(varying_axes(&cells[..1]), Vec::<String>::new());
    }
}
