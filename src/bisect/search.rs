//! The search itself, free of environments and processes: a sequence ordered from the good end to the bad end, a
//! known-good first point and a known-bad last point, and rounds of probes until the boundary is two neighbours (or
//! only skipped points lie between them).
//!
//! With `k` probes per round, the untested points between the current good and bad are cut into `k + 1` equal
//! parts (a k-ary search): two cores finish in fewer rounds. A skipped point (installs nothing, fails differently)
//! is never tried again and never moves the boundary, like `git bisect skip`.

use std::collections::BTreeSet;

/// What probing one point said about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Judgement {
    Good,
    Bad,
    Skip,
}

#[derive(Debug)]
pub struct Search {
    /// Index of the last point known good.
    good: usize,
    /// Index of the first point known bad.
    bad: usize,
    skipped: BTreeSet<usize>,
}

impl Search {
    /// A search over `len` points whose first is good and last is bad.
    pub fn new(len: usize) -> Self {
        assert!(len >= 2, "a search needs its two endpoints");
        Self {
            good: 0,
            bad: len - 1,
            skipped: BTreeSet::new(),
        }
    }

    /// The points worth probing next, at most `k` (none: the search is over).
    pub fn next(&self, k: usize) -> Vec<usize> {
        let open = self.open();
        let k = k.max(1).min(open.len());
        (1..=k)
            .map(|j| open[(j * open.len()) / (k + 1)])
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    }

    /// Untested points strictly between the boundary's two sides.
    pub fn open(&self) -> Vec<usize> {
        (self.good + 1..self.bad)
            .filter(|i| !self.skipped.contains(i))
            .collect()
    }

    /// Records a round's judgements. The boundary moves to the first bad point and the last good point before it;
    /// a good point after a bad one (the behaviour is not monotonic there) cannot move it.
    pub fn record(&mut self, judged: &[(usize, Judgement)]) {
        for &(i, judgement) in judged {
            if judgement == Judgement::Bad && i < self.bad && i > self.good {
                self.bad = i;
            }
            if judgement == Judgement::Skip {
                self.skipped.insert(i);
            }
        }
        for &(i, judgement) in judged {
            if judgement == Judgement::Good && i > self.good && i < self.bad {
                self.good = i;
            }
        }
    }

    /// Rounds still needed at most, with `k` probes per round.
    pub fn rounds_left(&self, k: usize) -> usize {
        let mut open = self.open().len();
        let mut rounds = 0;
        while open > 0 {
            open /= k.max(1) + 1;
            rounds += 1;
        }
        rounds
    }

    /// `(last good, first bad)` as indices.
    pub fn boundary(&self) -> (usize, usize) {
        (self.good, self.bad)
    }

    /// Skipped points between the boundary's two sides: the boundary lies somewhere among them.
    pub fn skipped_inside(&self) -> Vec<usize> {
        self.skipped
            .iter()
            .copied()
            .filter(|i| *i > self.good && *i < self.bad)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a search against `truth` (index → judgement) with `k` probes a round; returns (boundary, probes, rounds).
    fn drive(
        truth: &dyn Fn(usize) -> Judgement,
        len: usize,
        k: usize,
    ) -> ((usize, usize), usize, usize) {
        let mut search = Search::new(len);
        let (mut probes, mut rounds) = (0, 0);
        loop {
            let points = search.next(k);
            if points.is_empty() {
                return (search.boundary(), probes, rounds);
            }
            probes += points.len();
            rounds += 1;
            let judged: Vec<_> = points.iter().map(|&i| (i, truth(i))).collect();
            search.record(&judged);
        }
    }

    #[test]
    fn one_job_finds_every_boundary_within_log2_probes() {
        for len in 2..70 {
            for first_bad in 1..len {
                let truth = |i: usize| {
                    if i >= first_bad {
                        Judgement::Bad
                    } else {
                        Judgement::Good
                    }
                };
                let (boundary, probes, _) = drive(&truth, len, 1);
                assert_eq!(boundary, (first_bad - 1, first_bad), "len {len}");
                let bound = (len as f64).log2().ceil() as usize;
                assert!(
                    probes <= bound,
                    "len {len}, first bad {first_bad}: {probes} > {bound}"
                );
            }
        }
    }

    #[test]
    fn more_probes_a_round_take_fewer_rounds() {
        let truth = |i: usize| {
            if i >= 23 {
                Judgement::Bad
            } else {
                Judgement::Good
            }
        };
        let (boundary1, _, rounds1) = drive(&truth, 40, 1);
        let (boundary3, _, rounds3) = drive(&truth, 40, 3);
        assert_eq!(boundary1, (22, 23));
        assert_eq!(boundary3, (22, 23));
        assert!(
            rounds3 < rounds1,
            "{rounds3} rounds with 3 probes, {rounds1} with 1"
        );
    }

    #[test]
    fn skipped_points_are_stepped_around_and_reported_when_they_hide_the_boundary() {
        // 4..=6 cannot be judged; the boundary is at 5.
        let truth = |i: usize| match i {
            4..=6 => Judgement::Skip,
            i if i >= 5 => Judgement::Bad,
            _ => Judgement::Good,
        };
        let mut search = Search::new(12);
        loop {
            let points = search.next(1);
            if points.is_empty() {
                break;
            }
            search.record(&[(points[0], truth(points[0]))]);
        }
        assert_eq!(search.boundary(), (3, 7));
        assert_eq!(search.skipped_inside(), vec![4, 5, 6]);
    }
}
