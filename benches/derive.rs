//! Derivation time: the cases of SymPy's baseline (`../shared/baselines/sympy_derive.py`, to be
//! run in the same session for the ratio), with the steps and the gradient only (what SymPy's
//! `expr.diff` computes), every acceptance-table case, sums of k trace terms,
//! `tr(A1*X*...*Ak*X)`, and a 50-layer network written with `where` bindings.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use matdiff_expr::{Decl, ExprPool};
use matdiff_rewrite::{derive, DeriveOptions};

use matdiff_testkit::acceptance::CASES;

/// Parses and derives; the parse is part of what a user waits for.
fn derive_text(src: &str, wrt: &str, lets: &[&str], upstream: Option<&str>) -> usize {
    derive_with(src, wrt, lets, upstream, false)
}

/// Parses and derives, with the steps or the gradient only.
fn derive_with(
    src: &str,
    wrt: &str,
    lets: &[&str],
    upstream: Option<&str>,
    gradient_only: bool,
) -> usize {
    let mut pool = ExprPool::new();
    let decls: Vec<Decl> = lets.iter().map(|l| Decl::parse(l).unwrap()).collect();
    let e = pool.parse_with(src, &decls).unwrap();
    let options = DeriveOptions {
        upstream: upstream.map(str::to_string),
        gradient_only,
        ..DeriveOptions::default()
    };
    let d = derive(&mut pool, &e, wrt, &options).unwrap();
    d.steps.len() + d.gradient.index()
}

fn trace_sum(k: usize) -> String {
    (1..=k)
        .map(|i| format!("tr(A{i}*X*B{i})"))
        .collect::<Vec<_>>()
        .join(" + ")
}

fn trace_chain(k: usize) -> String {
    format!(
        "tr({})",
        (1..=k)
            .map(|i| format!("A{i}*X"))
            .collect::<Vec<_>>()
            .join("*")
    )
}

fn network(layers: usize) -> String {
    let mut s = format!("norm2(a{layers} - y)^2 where ");
    let defs: Vec<String> = (1..=layers)
        .rev()
        .map(|l| {
            let prev = if l == 1 {
                "x".to_string()
            } else {
                format!("a{}", l - 1)
            };
            format!("a{l} = tanh(W{l}*{prev} + b{l})")
        })
        .collect();
    s.push_str(&defs.join(", "));
    s
}

/// The cases of SymPy's baseline script, by its case ids, in matdiff's syntax (as its `matdiff`
/// field): EXPR and the variable.
fn sympy_cases() -> Vec<(String, String, &'static str)> {
    let mut cases: Vec<(String, String, &'static str)> = [
        ("a", "a'*X*b", "X"),
        ("b", "a'*exp(X*b)", "X"),
        ("c_lin", "tr((W*X)'*M*(W*X))", "X"),
        ("c_sig", "tr(sigmoid(W*X)'*M*sigmoid(W*X))", "X"),
        ("d", "(X*w-y)'*(X*w-y)", "w"),
        ("e", "tr(A*X'*B*X*C)", "X"),
        ("f", "log(det(X))", "X"),
        ("f_det", "det(X)", "X"),
        ("g", "tr(inv(X)*A)", "X"),
    ]
    .iter()
    .map(|(id, src, wrt)| (id.to_string(), src.to_string(), *wrt))
    .collect();
    for k in [10, 100, 1000] {
        let terms: Vec<String> = (0..k).map(|i| format!("tr(A{i}*X*B{i})")).collect();
        cases.push((format!("h_sum_k{k}"), terms.join(" + "), "X"));
        let terms: Vec<String> = (0..k).map(|i| format!("A{i}*X*B{i}")).collect();
        cases.push((
            format!("h_trsum_k{k}"),
            format!("tr({})", terms.join(" + ")),
            "X",
        ));
    }
    for k in [2, 4, 8, 16] {
        let factors: Vec<String> = (0..k).map(|i| format!("A{i}*X")).collect();
        cases.push((
            format!("h_chain_k{k}"),
            format!("tr({})", factors.join("*")),
            "X",
        ));
    }
    cases
}

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("derive/sympy");
    for (id, src, wrt) in sympy_cases() {
        g.bench_with_input(BenchmarkId::from_parameter(id), &src, |b, src| {
            b.iter(|| derive_text(black_box(src), wrt, &[], None))
        });
    }
    g.finish();

    // What SymPy's `expr.diff` computes: the gradient, without the steps.
    let mut g = c.benchmark_group("derive/sympy-gradient-only");
    for (id, src, wrt) in sympy_cases() {
        g.bench_with_input(BenchmarkId::from_parameter(id), &src, |b, src| {
            b.iter(|| derive_with(black_box(src), wrt, &[], None, true))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("derive/table");
    for (i, (src, wrt, lets, upstream, _)) in CASES.iter().enumerate() {
        g.bench_with_input(
            BenchmarkId::new(format!("{i:02}"), format!("{src} wrt {wrt}")),
            src,
            |b, src| b.iter(|| derive_text(black_box(src), wrt, lets, *upstream)),
        );
    }
    g.finish();

    let mut g = c.benchmark_group("derive/trace-sum");
    for k in [10, 100, 1000] {
        let src = trace_sum(k);
        g.bench_with_input(BenchmarkId::from_parameter(k), &src, |b, src| {
            b.iter(|| derive_text(black_box(src), "X", &[], None))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("derive/trace-chain");
    for k in [2, 4, 8, 16, 32] {
        let src = trace_chain(k);
        g.bench_with_input(BenchmarkId::from_parameter(k), &src, |b, src| {
            b.iter(|| derive_text(black_box(src), "X", &[], None))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("derive/network");
    let src = network(50);
    g.bench_function("50 layers wrt W1", |b| {
        b.iter(|| derive_text(black_box(&src), "W1", &[], None))
    });
    g.finish();
}

criterion_group! {
    name = derive_benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(3));
    targets = benches
}
criterion_main!(derive_benches);
