//! Fused instructions (`plan/fuse.rs`): `a*M*x ± b*M'*y` in one pass over `M` and
//! `a*diag(d) ± b*u*w'` in one write, against products and sums written out entry by entry here,
//! in `f64` and in `Complex<f64>` (the complex step runs through them), on one and two threads,
//! with the fusion seen in the plan.

mod common;

use common::*;
use faer::{Mat, MatRef};
use matdiff_expr::ExprPool;
use matdiff_faer::{Complex, Options, Plan, Scalar, Sizes, Values};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn compile<T: Scalar>(src: &str, values: &Values<T>, threads: usize) -> Plan<T> {
    let mut pool = ExprPool::new();
    let root = pool.parse_with(src, &decls(values)).unwrap().root;
    let sizes = Sizes::from_values(&pool, values).unwrap();
    Plan::compile_with(&pool, &[root], &sizes, &Options::new().threads(threads)).unwrap()
}

fn product<T: Scalar>(a: MatRef<'_, T>, b: MatRef<'_, T>) -> Mat<T> {
    Mat::from_fn(a.nrows(), b.ncols(), |i, j| {
        (0..a.ncols()).fold(T::zero(), |s, k| s + a[(i, k)] * b[(k, j)])
    })
}

fn combine<T: Scalar>(a: T, x: &Mat<T>, b: T, y: &Mat<T>) -> Mat<T> {
    Mat::from_fn(x.nrows(), x.ncols(), |i, j| a * x[(i, j)] + b * y[(i, j)])
}

fn diag<T: Scalar>(d: &Mat<T>) -> Mat<T> {
    let n = d.nrows();
    Mat::from_fn(n, n, |i, j| if i == j { d[(i, 0)] } else { T::zero() })
}

/// Values with random imaginary parts of size `im` (0: real).
fn draw<T: Scalar>(
    seed: u64,
    shapes: &[(&str, usize, usize)],
    im: f64,
    make: fn(f64, f64) -> T,
) -> Values<T> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut values = Values::new();
    for &(name, r, c) in shapes {
        let m = Mat::from_fn(r, c, |_, _| {
            make(
                rng.random_range(-1.0..1.0),
                im * rng.random_range(-1.0..1.0),
            )
        });
        values.insert(name, m);
    }
    values
}

/// Matrix-vector pairs: source, reference, at n x n for `A`, `B` and n-vectors.
type Case<T> = (&'static str, fn(&Values<T>) -> Mat<T>);

fn pair_cases<T: Scalar>() -> Vec<Case<T>> {
    fn g<T: Scalar>(v: &Values<T>, name: &str) -> Mat<T> {
        v.get(name).unwrap().clone()
    }
    vec![
        ("(A + A')*x", |v| {
            let (a, x) = (g(v, "A"), g(v, "x"));
            let one = T::one();
            combine(
                one,
                &product(a.as_ref(), x.as_ref()),
                one,
                &product(a.transpose(), x.as_ref()),
            )
        }),
        ("2*A*x - c*A'*y", |v| {
            let (a, x, y, c) = (g(v, "A"), g(v, "x"), g(v, "y"), g(v, "c")[(0, 0)]);
            let ax = product(a.as_ref(), x.as_ref());
            combine(
                T::from_f64(2.0),
                &ax,
                -c,
                &product(a.transpose(), y.as_ref()),
            )
        }),
        ("A'*x + A*y", |v| {
            let (a, x, y) = (g(v, "A"), g(v, "x"), g(v, "y"));
            let one = T::one();
            combine(
                one,
                &product(a.transpose(), x.as_ref()),
                one,
                &product(a.as_ref(), y.as_ref()),
            )
        }),
        ("(exp(B) + exp(B)')*x", |v| {
            let b = g(v, "B");
            let e = Mat::from_fn(b.nrows(), b.ncols(), |i, j| b[(i, j)].exp());
            let x = g(v, "x");
            let one = T::one();
            combine(
                one,
                &product(e.as_ref(), x.as_ref()),
                one,
                &product(e.transpose(), x.as_ref()),
            )
        }),
    ]
}

fn diag_outer_cases<T: Scalar>() -> Vec<Case<T>> {
    fn g<T: Scalar>(v: &Values<T>, name: &str) -> Mat<T> {
        v.get(name).unwrap().clone()
    }
    vec![
        ("diag(x) - x*x'", |v| {
            let x = g(v, "x");
            combine(
                T::one(),
                &diag(&x),
                -T::one(),
                &product(x.as_ref(), x.transpose()),
            )
        }),
        ("c*(y*x') + 3*diag(x)", |v| {
            let (x, y, c) = (g(v, "x"), g(v, "y"), g(v, "c")[(0, 0)]);
            combine(
                T::from_f64(3.0),
                &diag(&x),
                c,
                &product(y.as_ref(), x.transpose()),
            )
        }),
        ("-(x*y')' + diag(y)", |v| {
            let (x, y) = (g(v, "x"), g(v, "y"));
            combine(
                T::one(),
                &diag(&y),
                -T::one(),
                &product(y.as_ref(), x.transpose()),
            )
        }),
    ]
}

fn shapes(n: usize) -> Vec<(&'static str, usize, usize)> {
    vec![
        ("A", n, n),
        ("B", n, n),
        ("x", n, 1),
        ("y", n, 1),
        ("c", 1, 1),
    ]
}

fn symmetric_cases<T: Scalar>() -> Vec<Case<T>> {
    fn g<T: Scalar>(v: &Values<T>, name: &str) -> Mat<T> {
        v.get(name).unwrap().clone()
    }
    vec![
        ("X'*X", |v| {
            let x = g(v, "X");
            product(x.transpose(), x.as_ref())
        }),
        ("c*X*X'", |v| {
            let (x, c) = (g(v, "X"), g(v, "c")[(0, 0)]);
            let p = product(x.as_ref(), x.transpose());
            combine(c, &p, T::zero(), &p)
        }),
        ("X'*diag(y)*X", |v| {
            let (x, y) = (g(v, "X"), g(v, "y"));
            product(
                x.transpose(),
                product(diag(&y).as_ref(), x.as_ref()).as_ref(),
            )
        }),
        ("2*X*diag(z)*X'", |v| {
            let (x, z) = (g(v, "X"), g(v, "z"));
            let p = product(
                product(x.as_ref(), diag(&z).as_ref()).as_ref(),
                x.transpose(),
            );
            combine(T::from_f64(2.0), &p, T::zero(), &p)
        }),
    ]
}

fn shared_left_cases<T: Scalar>() -> Vec<Case<T>> {
    fn g<T: Scalar>(v: &Values<T>, name: &str) -> Mat<T> {
        v.get(name).unwrap().clone()
    }
    fn zip<T: Scalar>(a: &Mat<T>, b: &Mat<T>, f: impl Fn(T, T) -> T) -> Mat<T> {
        Mat::from_fn(a.nrows(), a.ncols(), |i, j| f(a[(i, j)], b[(i, j)]))
    }
    vec![
        ("exp(X*z) .* (X*w)", |v| {
            let x = g(v, "X");
            let (xz, xw) = (
                product(x.as_ref(), g(v, "z").as_ref()),
                product(x.as_ref(), g(v, "w").as_ref()),
            );
            zip(&xz, &xw, |a, b| a.exp() * b)
        }),
        ("X*z - c*(X*w)", |v| {
            let (x, c) = (g(v, "X"), g(v, "c")[(0, 0)]);
            let (xz, xw) = (
                product(x.as_ref(), g(v, "z").as_ref()),
                product(x.as_ref(), g(v, "w").as_ref()),
            );
            combine(T::one(), &xz, -c, &xw)
        }),
        ("X'*(y .* (X*w) .* exp(X*z))", |v| {
            let x = g(v, "X");
            let (xz, xw) = (
                product(x.as_ref(), g(v, "z").as_ref()),
                product(x.as_ref(), g(v, "w").as_ref()),
            );
            let inner = zip(&zip(&g(v, "y"), &xw, |a, b| a * b), &xz, |a, b| a * b.exp());
            product(x.transpose(), inner.as_ref())
        }),
    ]
}

/// X of (n + 40) x 42 and vectors y, z, w along its sides, for symmetric products (at least
/// 32 x 32) and products by columns (four at a time, and two left).
fn tall(n: usize) -> Vec<(&'static str, usize, usize)> {
    let m = n + 40;
    vec![
        ("X", m, 42),
        ("y", m, 1),
        ("z", 42, 1),
        ("w", 42, 1),
        ("c", 1, 1),
    ]
}

/// Every case fused, equal to its reference, and the same bits on one and two threads.
fn check<T: Scalar>(cases: Vec<Case<T>>, fused: &str, im: f64, make: fn(f64, f64) -> T) {
    let shapes = match fused {
        "SymmetricProduct" | "SharedLeft" => tall,
        _ => shapes,
    };
    // 300 x 300 runs on two threads, 9 x 9 on one.
    for (seed, n) in [(1, 9), (2, 300)] {
        let values = draw(seed, &shapes(n), im, make);
        for (src, reference) in &cases {
            let mut plan = compile(src, &values, 2);
            assert!(format!("{plan:?}").contains(fused), "{src}: not fused");
            let got = plan.run(&values).unwrap().remove(0);
            let want = reference(&values);
            let scale = (0..want.ncols())
                .flat_map(|j| (0..want.nrows()).map(move |i| (i, j)))
                .fold(1.0f64, |s, ij| s.max(want[ij].re().abs()));
            for j in 0..want.ncols() {
                for i in 0..want.nrows() {
                    let e = got[(i, j)] - want[(i, j)];
                    assert!(
                        e.re().abs().max(e.im().abs()) <= 1e-12 * scale,
                        "{src} at n = {n}: entry ({i}, {j}) is {:?}, expected {:?}",
                        got[(i, j)],
                        want[(i, j)]
                    );
                }
            }
            let one = compile(src, &values, 1).run(&values).unwrap().remove(0);
            assert!(one == got, "{src} at n = {n}: threads change the result");
        }
    }
}

#[test]
fn matrix_vector_pairs_read_the_matrix_once_and_agree_with_the_products() {
    check(pair_cases::<f64>(), "MatVecPair", 0.0, |re, _| re);
}

#[test]
fn matrix_vector_pairs_carry_the_complex_step() {
    check(
        pair_cases::<Complex<f64>>(),
        "MatVecPair",
        1e-3,
        Complex::new,
    );
}

#[test]
fn diagonal_plus_outer_product_writes_once_and_agrees_entry_by_entry() {
    check(diag_outer_cases::<f64>(), "DiagOuter", 0.0, |re, _| re);
}

#[test]
fn diagonal_plus_outer_product_carries_the_complex_step() {
    check(
        diag_outer_cases::<Complex<f64>>(),
        "DiagOuter",
        1e-3,
        Complex::new,
    );
}

#[test]
fn symmetric_products_compute_half_and_mirror_it() {
    check(
        symmetric_cases::<f64>(),
        "SymmetricProduct",
        0.0,
        |re, _| re,
    );
}

#[test]
fn symmetric_products_carry_the_complex_step() {
    check(
        symmetric_cases::<Complex<f64>>(),
        "SymmetricProduct",
        1e-3,
        Complex::new,
    );
}

#[test]
fn products_sharing_their_left_factor_read_it_once() {
    check(shared_left_cases::<f64>(), "SharedLeft", 0.0, |re, _| re);
}

#[test]
fn products_sharing_their_left_factor_carry_the_complex_step() {
    check(
        shared_left_cases::<Complex<f64>>(),
        "SharedLeft",
        1e-3,
        Complex::new,
    );
}

#[test]
fn a_product_that_needs_the_other_is_not_paired_with_it() {
    let values = draw(6, &tall(30), 0.0, |re, _| re);
    let src = "X*exp(0.01*X'*(X*z))";
    let plan = compile(src, &values, 2);
    assert!(!format!("{plan:?}").contains("SharedLeft"));
    let (x, z) = (get(&values, "X"), get(&values, "z"));
    let inner = product(x.transpose(), product(x.as_ref(), z.as_ref()).as_ref());
    let e = Mat::from_fn(inner.nrows(), 1, |i, _| (0.01 * inner[(i, 0)]).exp());
    let got = compile(src, &values, 2).run(&values).unwrap().remove(0);
    assert_close(&got, &product(x.as_ref(), e.as_ref()), 1e-12, src);
}

#[test]
fn products_that_are_not_symmetric_are_computed_whole() {
    let mut values = draw(5, &tall(60), 0.0, |re, _| re);
    values.insert(
        "Y",
        get(&values, "X")
            .transpose()
            .to_owned()
            .transpose()
            .to_owned(),
    );
    values.get_mut("Y").unwrap()[(3, 1)] += 1.0;
    for src in ["X'*diag(y)*Y", "Y'*X", "X*diag(z)*Y'"] {
        let plan = compile(src, &values, 2);
        assert!(!format!("{plan:?}").contains("SymmetricProduct"), "{src}");
    }
}

#[test]
fn a_transposed_borrowed_matrix_is_read_across() {
    // The plan reads A by columns; given A as the transpose of a stored matrix, it reads the
    // stored one by columns and swaps the roles of x and y.
    let values = draw(3, &shapes(9), 0.0, |re, _| re);
    let (a, x, y) = (get(&values, "A"), get(&values, "x"), get(&values, "y"));
    let stored = a.transpose().to_owned();
    let mut plan = compile("A*x - 2*A'*y", &values, 1);
    let mut out = Vec::new();
    let inputs = [
        ("A", stored.transpose()),
        ("x", x.as_ref()),
        ("y", y.as_ref()),
    ];
    plan.run_into(&inputs[..], &mut out).unwrap();
    let want = combine(
        1.0,
        &product(a.as_ref(), x.as_ref()),
        -2.0,
        &product(a.transpose(), y.as_ref()),
    );
    assert_close(&out[0], &want, 1e-13, "A*x - 2*A'*y");
}

#[test]
fn products_of_different_matrices_are_not_paired() {
    let values = draw(4, &shapes(6), 0.0, |re, _| re);
    let plan = compile("A*x + B'*x", &values, 1);
    assert!(!format!("{plan:?}").contains("MatVecPair"));
}
