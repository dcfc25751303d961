//! `cargo run -p matdiff-codegen-check --example fuzz_codegen -- [SEEDS] [JAX_EVERY] [FIRST_SEED]`:
//! a long run of the code generators' differential fuzzer: the NumPy code of every drawn case,
//! the JAX code of every `JAX_EVERY`-th seed (JAX compiles each case), through python3 in parts
//! of 2,000 seeds, with the failures as they come and the counts after each part.

use std::time::Instant;

use matdiff_codegen::Lang;
use matdiff_testkit::codegen_differential::{run_python, Report};

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| {
            a.parse()
                .expect("SEEDS, JAX_EVERY and FIRST_SEED are whole numbers")
        })
        .collect();
    let seeds = args.first().copied().unwrap_or(20_000);
    let jax_every = args.get(1).copied().unwrap_or(10).max(1);
    let first = args.get(2).copied().unwrap_or(1_000_000);
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/generated/run_generated.py");
    let path = std::env::temp_dir().join(format!("fuzz_codegen_{}.json", std::process::id()));
    let start = Instant::now();
    let mut report = Report::default();
    let mut seed = first;
    while seed < first + seeds {
        let n = 2_000.min(first + seeds - seed);
        let shown = report.failures.len();
        let cases = report.draw(seed..seed + n);
        let json: Vec<_> = cases
            .iter()
            .map(|c| {
                let jax = c.seed % jax_every == 0;
                c.python_json(if jax {
                    &[Lang::NumPy, Lang::Jax]
                } else {
                    &[Lang::NumPy]
                })
            })
            .collect();
        let results = run_python(&json, &script, &path).unwrap_or_else(|e| panic!("{e}"));
        report.add_python(&cases, &results);
        for f in &report.failures[shown..] {
            println!("{f}");
        }
        seed += n;
        eprintln!(
            "{:.0} s: {}",
            start.elapsed().as_secs_f64(),
            report.summary()
        );
    }
    let _ = std::fs::remove_file(&path);
    println!("{}", report.summary());
    std::process::exit(i32::from(report.failed > 0));
}
