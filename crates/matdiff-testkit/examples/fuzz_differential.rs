//! `cargo run --release -p matdiff-testkit --example fuzz_differential -- [CASES] [FIRST_SEED]`:
//! a long run of the differential fuzzer, in parts, with the failures as they come.

use std::time::Instant;

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("CASES and FIRST_SEED are whole numbers"))
        .collect();
    let cases = args.first().copied().unwrap_or(100_000);
    let first = args.get(1).copied().unwrap_or(1_000_000_000);
    let part = 10_000u64.min(cases);
    let start = Instant::now();
    let (mut checked, mut refused, mut failed, mut sized_only, mut other) = (0, 0, 0, 0, 0);
    let mut seed = first;
    while seed < first + cases {
        let n = part.min(first + cases - seed);
        let r = matdiff_testkit::differential::run(seed, n as usize);
        for f in &r.failures {
            println!("{f}");
        }
        checked += r.checked;
        refused += r.refused_by_reference;
        failed += r.failed;
        sized_only += r.refused_without_sizes;
        other += r.other_sizes_without_sizes;
        seed += n;
        eprintln!(
            "{} cases ({checked} checked, {sized_only} of them refused without sizes, {other} read at other sizes without them, {refused} refused by the reference, {failed} failed) in {:.0} s",
            seed - first,
            start.elapsed().as_secs_f64()
        );
    }
    println!("{checked} passed, {failed} failed, {refused} skipped");
    std::process::exit(i32::from(failed > 0));
}
