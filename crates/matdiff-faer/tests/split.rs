//! Large element-wise kernels split over threads: the same bits on any number of threads, the
//! right values, and domain errors found in every part.

mod common;

use common::*;
use faer::Mat;
use matdiff_expr::ExprPool;
use matdiff_faer::{EvalError, Options, Plan, Scalar, Sizes, Values};
use rand::rngs::StdRng;
use rand::SeedableRng;

fn run<T: Scalar>(src: &str, values: &Values<T>, threads: usize) -> Result<Mat<T>, EvalError> {
    let mut pool = ExprPool::new();
    let root = pool.parse_with(src, &decls(values)).unwrap().root;
    let sizes = Sizes::from_values(&pool, values).unwrap();
    let options = Options::new().threads(threads);
    let mut plan = Plan::compile_with(&pool, &[root], &sizes, &options).unwrap();
    Ok(plan.run(values)?.remove(0))
}

const SRC: &str = "tanh(A) .* sigmoid'(B) + exp(A - B) + log1p(A .* A)";

/// The kernel `SRC` entry by entry with std's functions.
fn direct(a: f64, b: f64) -> f64 {
    let s = 1.0 / (1.0 + (-b).exp());
    a.tanh() * (s * (1.0 - s)) + (a - b).exp() + (a * a).ln_1p()
}

fn wide_and_tall(seed: u64) -> [Values<f64>; 2] {
    let mut rng = StdRng::seed_from_u64(seed);
    // 301 x 257 (columns split unevenly) and a single column of 100003 (rows split).
    [(301, 257), (100_003, 1)].map(|(r, c)| {
        Values::new()
            .with("A", rand_mat(&mut rng, r, c, -3.0, 3.0))
            .with("B", rand_mat(&mut rng, r, c, -3.0, 3.0))
    })
}

#[test]
fn large_kernels_give_the_same_bits_on_any_number_of_threads() {
    for values in wide_and_tall(1) {
        let one = run(SRC, &values, 1).unwrap();
        for threads in [2, 3, 4, 0] {
            assert!(
                run(SRC, &values, threads).unwrap() == one,
                "{threads} threads"
            );
        }
        let (a, b) = (get(&values, "A"), get(&values, "B"));
        let want = Mat::from_fn(a.nrows(), a.ncols(), |i, j| direct(a[(i, j)], b[(i, j)]));
        assert_close(&one, &want, 1e-14, SRC);
    }
}

#[test]
fn large_f32_kernels_give_the_same_bits_on_any_number_of_threads() {
    for values in wide_and_tall(2) {
        let values: Values<f32> = values.iter().fold(Values::new(), |v, (name, m)| {
            v.with(name, m.map(|x| *x as f32))
        });
        let one = run(SRC, &values, 1).unwrap();
        assert!(run(SRC, &values, 4).unwrap() == one);
        let (a, b) = (values.get("A").unwrap(), values.get("B").unwrap());
        for j in 0..one.ncols() {
            for i in 0..one.nrows() {
                let (a, b) = (a[(i, j)], b[(i, j)]);
                let want = direct(a as f64, b as f64);
                let got = one[(i, j)] as f64;
                assert!(
                    (got - want).abs() <= 4e-7 * want.abs().max(1.0),
                    "{got} {want}"
                );
            }
        }
    }
}

#[test]
fn a_domain_error_in_any_part_is_found_and_the_first_is_reported() {
    for values in wide_and_tall(3) {
        let mut p = get(&values, "A").map(|x| x.abs() + 0.5);
        let (r, c) = (p.nrows(), p.ncols());
        p[(r - 1, c - 1)] = -2.0;
        let one = Values::new().with("P", p.clone());
        for threads in [1, 2, 4] {
            match run("log(P)", &one, threads) {
                Err(EvalError::Domain { value, .. }) => assert_eq!(value, -2.0),
                other => panic!("{threads} threads: {other:?}"),
            }
        }
        p[(0, 0)] = -1.0;
        let both = Values::new().with("P", p);
        for threads in [1, 2, 4] {
            match run("log(P)", &both, threads) {
                Err(EvalError::Domain { value, .. }) => assert_eq!(value, -1.0),
                other => panic!("{threads} threads: {other:?}"),
            }
        }
    }
}

#[test]
fn transposed_leaves_are_read_in_every_part() {
    let mut rng = StdRng::seed_from_u64(4);
    let c = rand_mat(&mut rng, 301, 301, -3.0, 3.0);
    let values = Values::new().with("C", c.clone());
    let one = run("tanh(C') .* C", &values, 1).unwrap();
    assert!(run("tanh(C') .* C", &values, 4).unwrap() == one);
    let want = Mat::from_fn(301, 301, |i, j| c[(j, i)].tanh() * c[(i, j)]);
    assert_close(&one, &want, 1e-14, "tanh(C') .* C");
}

#[test]
fn kernels_read_inputs_and_products_in_place_and_write_the_destination() {
    // Leaves read in place (an input used twice, a product in a plan buffer) next to a transposed
    // leaf that is copied, on column lengths that are not a multiple of the chunk.
    let src = "exp(A) .* A + sigmoid(A * B) - tanh(C') .* A";
    for (r, c) in [(3, 5), (301, 257), (1000, 70)] {
        let mut rng = StdRng::seed_from_u64(5);
        let a = rand_mat(&mut rng, r, c, -3.0, 3.0);
        let b = rand_mat(&mut rng, c, c, -0.5, 0.5);
        let cm = rand_mat(&mut rng, c, r, -3.0, 3.0);
        let values = Values::new()
            .with("A", a.clone())
            .with("B", b.clone())
            .with("C", cm.clone());
        let ab = &a * &b;
        let want = Mat::from_fn(r, c, |i, j| {
            let x = a[(i, j)];
            x.exp() * x + 1.0 / (1.0 + (-ab[(i, j)]).exp()) - cm[(j, i)].tanh() * x
        });
        let one = run(src, &values, 1).unwrap();
        assert_close(&one, &want, 1e-13, src);
        assert!(run(src, &values, 2).unwrap() == one, "{r} x {c}");
    }
}

#[test]
fn domain_checks_report_the_first_bad_entry_of_a_chunk() {
    // The entry in the middle of a chunk, after a good one, and the boundary values themselves.
    let cases: [(&str, f64, f64); 5] = [
        ("log(P)", 0.0, 0.0),
        ("log(P)", -3.0, -3.0),
        ("sqrt(P)", -1e-300, -1e-300),
        ("log1p(P)", -1.0, -1.0),
        ("arcsin(P)", 1.5, 1.5),
    ];
    for (src, bad, reported) in cases {
        let mut p = Mat::from_fn(300, 2, |i, _| 0.25 + i as f64 * 1e-3);
        p[(100, 1)] = bad;
        p[(200, 1)] = -7.0;
        let values = Values::new().with("P", p);
        match run(src, &values, 1) {
            Err(EvalError::Domain { value, .. }) => assert_eq!(value, reported, "{src}"),
            other => panic!("{src}: {other:?}"),
        }
    }
    // Zero and negative zero are in the domain of sqrt.
    let values = Values::new().with("P", Mat::from_fn(3, 1, |i, _| [0.0, -0.0, 4.0][i]));
    assert_eq!(run("sqrt(P)", &values, 1).unwrap()[(2, 0)], 2.0);
}
