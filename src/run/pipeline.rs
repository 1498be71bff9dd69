//! One matrix's cells, from a plan to results. A [`Pipeline`] owns what every command that runs cells needs: the
//! harness (toolchain, probes, preloaded interpreters, the engine's reference), the supervisor (signals and child
//! processes), the journal that makes a run resumable and a rerun free, and the sink told of each cell. `run`,
//! `monitor` and every bisect round ask it for the results of some cells and get them in the order asked, whichever
//! run produced them.

use std::sync::Arc;

use crate::env::recipe::ResolverNote;
use crate::error::Result;
use crate::matrix::Cell;
use crate::outcome::Outcome;
use crate::plan::Plan;
use crate::probe::spec::ProbeSpec;
use crate::process::supervisor::Supervisor;
use crate::results::{CellResult, Reference};
use crate::run::harness::{CellObserver, Harness, HarnessSettings};
use crate::run::journal::{self, Journal};
use crate::sink::Sink;

/// Which journal a pipeline keeps, and what it reuses from it.
pub struct JournalUse {
    /// The journal's file name under `runs/<matrix>/`.
    pub name: String,
    /// Read the results it holds (else it starts empty).
    pub resume: bool,
    /// Reuse a cell the resolver proved unsatisfiable too: a property of its versions, not of the moment (a
    /// bisect's journal). Otherwise a cell without an environment is cheap to retry and always runs again.
    pub unresolvable_too: bool,
}

impl JournalUse {
    /// The journal `bisect` and `monitor` share for the plan's probes: a monitor's new cells are the versions its
    /// bisections probe first.
    pub fn bisect(plan: &Plan) -> Self {
        Self {
            name: format!("bisect-{}.jsonl", plan.probe_names().join("+")),
            resume: true,
            unresolvable_too: true,
        }
    }
}

/// A cell's result, and whether it ran now (false: the journal had it for the same environment).
pub struct Probed {
    pub result: CellResult,
    pub ran: bool,
}

pub struct Pipeline {
    harness: Arc<Harness>,
    supervisor: Supervisor,
    probes: Vec<Arc<ProbeSpec>>,
    jobs: usize,
    observer: Arc<Recorder>,
    /// Every result the journal held when opened, and every cell finished since, in that order.
    known: Vec<CellResult>,
    unresolvable_too: bool,
}

impl Pipeline {
    /// Sets up the harness and the journal for `plan`'s probes; at most `jobs` cells run at once.
    pub fn open(
        plan: &Plan,
        settings: HarnessSettings,
        journal: JournalUse,
        jobs: usize,
        sink: Arc<dyn Sink>,
    ) -> Result<Self> {
        let harness = Arc::new(Harness::new(&plan.matrix, settings, Arc::clone(&sink))?);
        let (file, known) = Journal::open(
            harness.runs_dir(),
            &journal.name,
            journal.resume,
            &plan.probe_names(),
            &*sink,
        )?;
        let supervisor = Supervisor::new()?;
        Ok(Self {
            harness,
            supervisor,
            probes: plan.probes.clone(),
            jobs: jobs.max(1),
            observer: Arc::new(Recorder {
                journal: file,
                probes: plan.probe_names(),
                resolver_note: ResolverNote::new(&plan.matrix),
                sink,
            }),
            known,
            unresolvable_too: journal.unresolvable_too,
        })
    }

    pub fn harness(&self) -> &Harness {
        &self.harness
    }

    /// Cells run at once.
    pub fn jobs(&self) -> usize {
        self.jobs
    }

    pub fn sink(&self) -> &dyn Sink {
        &*self.observer.sink
    }

    /// How many of `cells` the journal already holds.
    pub fn remembered_count(&self, cells: &[Cell]) -> usize {
        cells
            .iter()
            .filter(|c| self.remembered(c).is_some())
            .count()
    }

    /// The built-in engine's reference row for the plan's probes (see [`Harness::reference_row`]).
    pub fn reference_row(&self) -> Result<Option<Reference>> {
        self.harness.reference_row(&self.probes)
    }

    /// Results of `cells` in the order given: from the journal where it holds one for the environment the cell
    /// would get now, else run now and journaled as each finishes. The first error stops the batch.
    pub fn results(&mut self, cells: &[Cell]) -> Result<Vec<Probed>> {
        let todo: Vec<Cell> = cells
            .iter()
            .filter(|c| self.remembered(c).is_none())
            .cloned()
            .collect();
        let sink = &self.observer.sink;
        sink.cells_starting(&todo.iter().map(Cell::key).collect::<Vec<_>>());
        let observer: Arc<dyn CellObserver> = self.observer.clone();
        let fresh =
            self.harness
                .run_cells(&self.supervisor, todo, &self.probes, self.jobs, &observer);
        sink.cells_ended();
        let fresh = fresh?;
        let probed = cells
            .iter()
            .map(|cell| match fresh.iter().find(|r| r.key == cell.key()) {
                Some(result) => Probed {
                    result: result.clone(),
                    ran: true,
                },
                None => Probed {
                    result: self
                        .remembered(cell)
                        .cloned()
                        .expect("remembered, else run"),
                    ran: false,
                },
            })
            .collect();
        self.known.extend(fresh);
        Ok(probed)
    }

    /// The latest result known for `cell` that still stands for it: one that ran in the environment the cell would
    /// get now, or (when the journal allows) one the resolver proved unsatisfiable.
    fn remembered(&self, cell: &Cell) -> Option<&CellResult> {
        let hash = self.harness.env_hash(cell);
        let key = cell.key();
        self.known.iter().rev().find(|r| {
            journal::reusable(r, cell, &hash)
                || (self.unresolvable_too
                    && r.key == key
                    && r.env.is_none()
                    && r.probes.iter().all(|p| p.outcome == Outcome::Unresolvable))
        })
    }
}

/// Told of each cell as it starts and finishes: the journal, the resolver note, the sink.
struct Recorder {
    journal: Journal,
    probes: Vec<String>,
    resolver_note: ResolverNote,
    sink: Arc<dyn Sink>,
}

impl CellObserver for Recorder {
    fn started(&self, cell: &Cell) {
        self.sink.cell_started(&cell.key());
    }

    fn finished(&self, cell: &CellResult) {
        self.journal.record(&self.probes, cell, &*self.sink);
        self.resolver_note.tell(cell, &*self.sink);
        self.sink.cell_finished(cell);
    }
}
