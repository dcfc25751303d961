//! `inv` and `logdet` of an `spd` variable go through Cholesky (the value is exactly symmetric):
//! the results agree with Gauss-Jordan elimination written out here, in real numbers and under a
//! symmetric complex step (where the factorisation must be the analytic `L L'`, not `L L^H`).

use faer::Mat;
use matdiff_expr::{Decl, ExprPool};
use matdiff_faer::{random_values, Complex, Plan, Sizes, Values};

/// The inverse by Gauss-Jordan elimination with partial pivoting, and the determinant.
fn gauss_jordan(a: &Mat<f64>) -> (Mat<f64>, f64) {
    let n = a.nrows();
    let mut m = a.clone();
    let mut inv = Mat::<f64>::identity(n, n);
    let mut det = 1.0;
    for k in 0..n {
        let p = (k..n)
            .max_by(|&i, &j| m[(i, k)].abs().total_cmp(&m[(j, k)].abs()))
            .unwrap();
        if p != k {
            det = -det;
            for j in 0..n {
                let (x, y) = (m[(k, j)], m[(p, j)]);
                (m[(k, j)], m[(p, j)]) = (y, x);
                let (x, y) = (inv[(k, j)], inv[(p, j)]);
                (inv[(k, j)], inv[(p, j)]) = (y, x);
            }
        }
        let pivot = m[(k, k)];
        det *= pivot;
        for j in 0..n {
            m[(k, j)] /= pivot;
            inv[(k, j)] /= pivot;
        }
        for i in (0..n).filter(|&i| i != k) {
            let f = m[(i, k)];
            for j in 0..n {
                m[(i, j)] -= f * m[(k, j)];
                inv[(i, j)] -= f * inv[(k, j)];
            }
        }
    }
    (inv, det)
}

fn max_diff(a: &Mat<f64>, b: &Mat<f64>) -> f64 {
    assert_eq!(a.shape(), b.shape());
    let mut m = 0.0f64;
    for j in 0..a.ncols() {
        for i in 0..a.nrows() {
            m = m.max((a[(i, j)] - b[(i, j)]).abs());
        }
    }
    m
}

/// `inv(S)*B` (S 5 x 5 spd, B 5 x 3) and `logdet(S)`, with values drawn for them.
fn setup(seed: u64) -> (ExprPool, [matdiff_expr::ExprId; 2], Values<f64>) {
    let mut pool = ExprPool::new();
    let decls = [
        Decl::parse("S: 5x5 spd").unwrap(),
        Decl::parse("B: 5x3").unwrap(),
    ];
    let solve = pool.parse_with("inv(S)*B", &decls).unwrap().root;
    let logdet = pool.parse_with("logdet(S)", &decls).unwrap().root;
    let both = pool
        .parse_with("sum(inv(S)*B) + logdet(S)", &decls)
        .unwrap();
    let values = random_values(&pool, both.root, seed);
    (pool, [solve, logdet], values)
}

#[test]
fn spd_inverse_and_logdet_agree_with_elimination() {
    for seed in 0..5 {
        let (pool, roots, values) = setup(seed);
        let s = values.get("S").unwrap().clone();
        assert_eq!(
            s,
            s.transpose().to_owned(),
            "an spd value is drawn symmetric"
        );
        let (inv, det) = gauss_jordan(&s);
        assert!(det > 0.0, "an spd value is drawn positive definite");
        let sizes = Sizes::from_values(&pool, &values).unwrap();
        let out = Plan::<f64>::compile(&pool, &roots, &sizes)
            .unwrap()
            .run(&values)
            .unwrap();
        let b = values.get("B").unwrap();
        assert!(max_diff(&out[0], &(&inv * b)) < 1e-12, "seed {seed}");
        assert!((out[1][(0, 0)] - det.ln()).abs() < 1e-12, "seed {seed}");
    }
}

#[test]
fn a_symmetric_complex_step_differentiates_through_cholesky() {
    let h = 1e-20;
    for seed in 0..5 {
        let (pool, roots, values) = setup(seed);
        let s = values.get("S").unwrap().clone();
        let b = values.get("B").unwrap().clone();
        // A symmetric direction, so that S + i h V is exactly (complex) symmetric.
        let v = Mat::from_fn(5, 5, |i, j| ((i * j + i + j) % 5) as f64 * 0.2 - 0.4);
        let mut z = Values::<Complex<f64>>::new();
        z.insert(
            "S",
            Mat::from_fn(5, 5, |i, j| Complex::new(s[(i, j)], h * v[(i, j)])),
        );
        z.insert("B", Mat::from_fn(5, 3, |i, j| Complex::new(b[(i, j)], 0.0)));
        let sizes = Sizes::from_values(&pool, &values).unwrap();
        let out = Plan::<Complex<f64>>::compile(&pool, &roots, &sizes)
            .unwrap()
            .run(&z)
            .unwrap();
        let (inv, _) = gauss_jordan(&s);
        // d(inv(S)*B) = -inv(S)*V*inv(S)*B and d logdet(S) = tr(inv(S)*V).
        let d_solve = -(&inv * &v * &inv * &b);
        let im = Mat::from_fn(5, 3, |i, j| out[0][(i, j)].im / h);
        assert!(max_diff(&im, &d_solve) < 1e-11, "seed {seed}");
        let d_logdet = (&inv * &v).diagonal().column_vector().sum();
        assert!(
            (out[1][(0, 0)].im / h - d_logdet).abs() < 1e-12,
            "seed {seed}"
        );
    }
}
