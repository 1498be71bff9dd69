//! Progress on long runs: an indicatif bar on a terminal, one plain line per finished cell otherwise (CI logs).

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use crate::results::CellResult;

pub struct Progress {
    bar: Option<ProgressBar>,
    total: usize,
    state: Mutex<State>,
}

struct State {
    done: usize,
    running: Vec<String>,
    started: Instant,
}

impl Progress {
    pub fn new(total: usize) -> Self {
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
            total,
            state: Mutex::new(State {
                done: 0,
                running: Vec::new(),
                started: Instant::now(),
            }),
        }
    }

    pub fn started(&self, key: &str) {
        let mut state = self.state.lock().expect("progress lock");
        state.running.push(key.to_string());
        if let Some(bar) = &self.bar {
            bar.set_message(format!("running {}", state.running.join(" | ")));
        }
    }

    pub fn finished(&self, cell: &CellResult) {
        let mut state = self.state.lock().expect("progress lock");
        let key = cell.key.to_string();
        state.running.retain(|k| *k != key);
        state.done += 1;
        let outcomes: Vec<String> = cell
            .probes
            .iter()
            .map(|p| format!("{}={}", p.name, p.outcome))
            .collect();
        let line = format!(
            "[{}/{}] {key}  {}  ({:.1}s)",
            state.done,
            self.total,
            outcomes.join(" "),
            state.started.elapsed().as_secs_f64()
        );
        match &self.bar {
            Some(bar) => {
                bar.println(line);
                bar.inc(1);
                bar.set_message(format!("running {}", state.running.join(" | ")));
            }
            None => eprintln!("{line}"),
        }
    }

    /// A line for the reader, above the bar on a terminal.
    pub fn note(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }

    pub fn clear(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
