//! What the first- and second-order differential fuzzers share: the [`Failure`] of a drawn
//! case, the [`Failures`] a run keeps, and [`long_run`], the loop of their long-run examples.
//!
//! ```
//! use matdiff_testkit::fuzz_report::{Failure, Failures};
//! let mut failures = Failures::default();
//! failures.push(Failure {
//!     seed: 7,
//!     case: "grad \"tr(X)\" --wrt X".to_string(),
//!     what: "value 1 differs from 2".to_string(),
//! });
//! assert_eq!(failures.count(), 1);
//! let shown: Vec<String> = failures.iter().map(|f| f.to_string()).collect();
//! assert_eq!(shown, ["seed 7: grad \"tr(X)\" --wrt X: value 1 differs from 2"]);
//! ```

use std::fmt;
use std::time::Instant;

/// How many failures a run keeps (all are counted).
pub const KEPT: usize = 20;

/// A drawn case where matdiff disagrees with the reference, or refuses what it should do.
#[derive(Clone, Debug)]
pub struct Failure {
    /// The seed that draws the case again.
    pub seed: u64,
    /// The case as it was asked: `grad "tr(X)" --wrt X`, `Hvp of "tr(X)" --wrt X`.
    pub case: String,
    /// What went wrong.
    pub what: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "seed {}: {}: {}", self.seed, self.case, self.what)
    }
}

/// The failures of a run: the first [`KEPT`] kept, all counted.
#[derive(Clone, Debug, Default)]
pub struct Failures {
    kept: Vec<Failure>,
    count: usize,
}

impl Failures {
    /// Counts a failure, and keeps it if fewer than [`KEPT`] are.
    pub fn push(&mut self, failure: Failure) {
        self.count += 1;
        if self.kept.len() < KEPT {
            self.kept.push(failure);
        }
    }

    /// Adds the failures of another run: its count, and its kept ones while there is room.
    pub fn merge(&mut self, other: Failures) {
        self.count += other.count;
        let room = KEPT.saturating_sub(self.kept.len());
        self.kept.extend(other.kept.into_iter().take(room));
    }

    /// How many failures there were.
    pub fn count(&self) -> usize {
        self.count
    }

    /// The failures kept, in the order they came.
    pub fn iter(&self) -> std::slice::Iter<'_, Failure> {
        self.kept.iter()
    }
}

impl<'a> IntoIterator for &'a Failures {
    type Item = &'a Failure;
    type IntoIter = std::slice::Iter<'a, Failure>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// The report of a fuzzer's run, as [`long_run`] adds runs up.
pub trait FuzzReport: Default {
    /// The failures of the run.
    fn failures(&self) -> &Failures;
    /// Adds the counts and failures of another run.
    fn merge(&mut self, other: Self);
    /// The line printed after each part: the cases so far and what became of them.
    fn progress(&self) -> String;
}

/// A long run from the command line `[CASES] [FIRST_SEED]` (100,000 cases from the seed 1e9 by
/// default) in parts of `part` cases, each run by `run(first_seed, cases)`: the failures are
/// printed as they come, the progress (on standard error) after each part. Returns the total.
pub fn long_run<R: FuzzReport>(part: u64, run: impl Fn(u64, usize) -> R) -> R {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("CASES and FIRST_SEED are whole numbers"))
        .collect();
    let cases = args.first().copied().unwrap_or(100_000);
    let first = args.get(1).copied().unwrap_or(1_000_000_000);
    let part = part.min(cases);
    let start = Instant::now();
    let mut total = R::default();
    let mut seed = first;
    while seed < first + cases {
        let n = part.min(first + cases - seed);
        let r = run(seed, n as usize);
        for f in r.failures() {
            println!("{f}");
        }
        total.merge(r);
        seed += n;
        eprintln!(
            "{} in {:.0} s",
            total.progress(),
            start.elapsed().as_secs_f64()
        );
    }
    total
}
