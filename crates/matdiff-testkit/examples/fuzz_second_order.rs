//! `cargo run --release -p matdiff-testkit --example fuzz_second_order -- [CASES] [FIRST_SEED]`:
//! a long run of the second-order differential fuzzer, in parts, with the failures as they
//! come and the counts (checked, refused by reason) at the end.

use std::time::Instant;

use matdiff_testkit::fuzz_report::long_run;
use matdiff_testkit::second_differential::run;

fn main() {
    let start = Instant::now();
    let total = long_run(5_000, run);
    print!("{}", total.summary());
    println!("in {:.0} s", start.elapsed().as_secs_f64());
    std::process::exit(i32::from(total.failures.count() > 0));
}
