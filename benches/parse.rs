//! Parse + intern time: random well-shaped expressions of about 1,000 and 10,000 syntax nodes
//! (the same generator at two sizes, to show that time grows linearly), the seed's examples,
//! long flat inputs that were once quadratic (a sum of distinct integers, a product of
//! products), and hostile inputs that fail at the nesting limit (10x the input, 10x the time).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use matdiff_expr::{Decl, ExprPool};
use matdiff_testkit::random_expr;

/// The expressions of the seed article, with their declarations.
const SEED: &[(&str, &str, &[&str])] = &[
    ("2.5.1 a'Xb", "a'*X*b", &[]),
    ("2.5.2 a'exp(Xb)", "a'*exp(X*b)", &[]),
    (
        "2.5.3 tr(Y'MY)",
        "tr(Y'*M*Y) where Y = sigmoid(W*X)",
        &["M: symmetric"],
    ),
    ("2.5.4 least squares", "norm2(X*w - y)^2", &[]),
    ("2.5.5 normal equation", "inv(X'*X)*X'*y", &[]),
    (
        "1.2 two-layer network",
        "L where L = norm2(a2 - y)^2, a2 = g2(W2*a1 + b2), a1 = g1(W1*x + b1)",
        &[],
    ),
    (
        "1.2 backprop dz1",
        "(W2'*dz2) .* g'(z1) where z1 = W1*x + b1",
        &[],
    ),
];

fn parse(src: &str, decls: &[Decl]) -> usize {
    let mut pool = ExprPool::new();
    let e = pool.parse_with(src, decls).expect("the bench inputs parse");
    black_box(e.root);
    pool.len()
}

fn generated(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse_generated");
    group.sample_size(20);
    // The same generator and term size; 10x the terms.
    for (label, terms) in [("1k", 50), ("10k", 500)] {
        let g = random_expr::Gen::new(7).sum_of_terms(terms, 20);
        let pool_nodes = parse(&g.text, &[]);
        eprintln!(
            "parse_generated/{label}: {} syntax nodes, {} pool nodes, {} bytes",
            g.nodes,
            pool_nodes,
            g.text.len()
        );
        group.throughput(Throughput::Elements(g.nodes as u64));
        group.bench_with_input(BenchmarkId::from_parameter(label), &g.text, |b, src| {
            b.iter(|| parse(black_box(src), &[]))
        });
    }
    group.finish();
}

fn seed(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse_seed");
    group.sample_size(30);
    for (label, src, lets) in SEED {
        let decls: Vec<Decl> = lets.iter().map(|l| Decl::parse(l).unwrap()).collect();
        group.bench_with_input(BenchmarkId::from_parameter(label), src, |b, src| {
            b.iter(|| parse(black_box(src), &decls))
        });
    }
    group.finish();
}

fn long(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse_long");
    group.sample_size(10);
    for n in [2_000, 20_000] {
        let inputs = [
            (
                "sum_of_integers",
                (1..=n)
                    .map(|k| k.to_string())
                    .collect::<Vec<_>>()
                    .join(" + "),
            ),
            ("product_of_products", vec!["(A*B)"; n].join("*")),
        ];
        for (label, src) in inputs {
            group.throughput(Throughput::Elements(n as u64));
            group.bench_with_input(BenchmarkId::new(label, n), &src, |b, src| {
                b.iter(|| parse(black_box(src), &[]))
            });
        }
    }
    group.finish();
}

/// Inputs longer than a command line may be (given as a file or on standard input): a sum of
/// 30,000 and 300,000 distinct terms, and a network of 200 and 2,000 layers written with
/// `where` over lines with comments, as in a file. 10x the input should take 10x the time;
/// the sum's 300,000 terms take more: their ~230 MB (about 770 bytes a term) leave the L3
/// cache that 30,000 terms fit, and the system allocator returns blocks over 32 MiB to the
/// kernel after each parse, so each parse pays its page faults afresh. The example
/// `parse_sweep` shows time, bytes and page faults per term from 3,000 to 3,000,000 terms.
fn huge(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse_huge");
    group.sample_size(10);
    for n in [30_000, 300_000] {
        let src = (0..n)
            .map(|k| format!("a{k}'*x"))
            .collect::<Vec<_>>()
            .join(" + ");
        group.throughput(Throughput::Bytes(src.len() as u64));
        group.bench_with_input(BenchmarkId::new("sum_of_terms", n), &src, |b, src| {
            b.iter(|| parse_big(black_box(src)))
        });
    }
    for n in [200, 2_000] {
        let mut src = format!("sum(h{n})\nwhere\n  h1 = tanh(W1*x),  # the first layer\n");
        for k in 2..=n {
            let comma = if k < n { "," } else { "" };
            src.push_str(&format!(
                "  h{k} = tanh(W{k}*h{}){comma}  # layer {k}\n",
                k - 1
            ));
        }
        group.throughput(Throughput::Bytes(src.len() as u64));
        group.bench_with_input(BenchmarkId::new("network_layers", n), &src, |b, src| {
            b.iter(|| parse_big(black_box(src)))
        });
    }
    group.finish();
}

/// Parses with the limits of the command line (64 MiB of input, 8,192 high).
fn parse_big(src: &str) -> usize {
    let mut pool = ExprPool::with_limits(matdiff_expr::Limits {
        max_input_bytes: 64 << 20,
        max_nesting: 2048,
        max_height: 8192,
        ..matdiff_expr::Limits::default()
    });
    let e = pool.parse(src).expect("the bench inputs parse");
    black_box(e.root);
    pool.len()
}

fn hostile(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse_hostile");
    group.sample_size(10);
    for n in [10_000, 100_000] {
        let inputs = [
            (
                "nested_parens",
                format!("{}x{}", "(".repeat(n), ")".repeat(n)),
            ),
            ("division_chain", format!("x{}", "/2".repeat(n))),
        ];
        for (label, src) in inputs {
            group.throughput(Throughput::Bytes(src.len() as u64));
            group.bench_with_input(BenchmarkId::new(label, n), &src, |b, src| {
                b.iter(|| ExprPool::new().parse(black_box(src)).is_err())
            });
        }
    }
    group.finish();
}

criterion_group!(benches, generated, seed, long, huge, hostile);
criterion_main!(benches);
