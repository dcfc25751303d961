//! `cargo run --release -p matdiff-testkit --example fuzz_second_order -- [CASES] [FIRST_SEED]`:
//! a long run of the second-order differential fuzzer, in parts, with the failures as they
//! come and the counts (checked, refused by reason) at the end.

use std::time::Instant;

use matdiff_testkit::second_differential::{run, Report};

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("CASES and FIRST_SEED are whole numbers"))
        .collect();
    let cases = args.first().copied().unwrap_or(100_000);
    let first = args.get(1).copied().unwrap_or(1_000_000_000);
    let part = 5_000u64.min(cases);
    let start = Instant::now();
    let mut total = Report::default();
    let mut seed = first;
    while seed < first + cases {
        let n = part.min(first + cases - seed);
        let r = run(seed, n as usize);
        for f in &r.failures {
            println!("{f}");
        }
        total.merge(r);
        seed += n;
        eprintln!(
            "{} cases, {} failed, in {:.0} s",
            seed - first,
            total.failed,
            start.elapsed().as_secs_f64()
        );
    }
    print!("{}", total.summary());
    println!("in {:.0} s", start.elapsed().as_secs_f64());
    std::process::exit(i32::from(total.failed > 0));
}
