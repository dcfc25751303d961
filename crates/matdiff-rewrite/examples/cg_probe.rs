//! Parses and derives one expression, gradient only, N times: the work of one
//! `derive/sympy-gradient-only` bench iteration, for counting instructions with callgrind.
//!
//! ```text
//! cargo build --release -p matdiff-rewrite --example cg_probe
//! valgrind --tool=callgrind target/release/examples/cg_probe "a'*exp(X*b)" X 1000
//! valgrind --tool=callgrind target/release/examples/cg_probe "a'*exp(X*b)" X 2000
//! ```
//!
//! The difference of the two totals over 1000 is the cost of one parse and derivation, without
//! the process's setup. A fourth argument prints the gradient.

use matdiff_expr::{ExprPool, Printer, Style};
use matdiff_rewrite::{derive, DeriveOptions};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, src, wrt, n, rest @ ..] = &args[..] else {
        eprintln!("usage: cg_probe EXPR VARIABLE COUNT [print]");
        std::process::exit(2);
    };
    let n: usize = n.parse().expect("COUNT is a number");
    let mut acc = 0;
    for _ in 0..n {
        // As the bench does: the options made, the text parsed and derived, every time.
        let options = DeriveOptions {
            gradient_only: true,
            ..DeriveOptions::default()
        };
        let mut pool = ExprPool::new();
        let e = pool
            .parse_with(std::hint::black_box(src), &[])
            .expect("EXPR parses");
        let d = derive(&mut pool, &e, wrt, &options).expect("EXPR derives");
        if !rest.is_empty() {
            println!("{}", Printer::new(&pool, Style::Plain).print(d.gradient));
        }
        acc += d.steps.len() + d.gradient.index();
    }
    std::hint::black_box(acc);
}
