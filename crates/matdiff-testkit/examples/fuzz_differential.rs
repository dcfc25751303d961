//! `cargo run --release -p matdiff-testkit --example fuzz_differential -- [CASES] [FIRST_SEED]`:
//! a long run of the differential fuzzer, in parts, with the failures as they come.

use matdiff_testkit::differential::run;
use matdiff_testkit::fuzz_report::long_run;

fn main() {
    let total = long_run(10_000, run);
    println!("{}", total.summary());
    std::process::exit(i32::from(total.failures.count() > 0));
}
