//! `gradient!` on the seed's examples: 2.5.4 (`tr(Y'MY)`, `Y = sigmoid(WX)`, M symmetric) and
//! the two-layer network of section 1.2, on random non-square inputs. The value is checked
//! against matdiff-faer's evaluation of the expression, every gradient against central
//! differences of the generated function's own value.

use faer::{Mat, MatRef};
use matdiff_expr::{Decl, ExprPool};
use matdiff_faer::{Options, Plan, Sizes, Values};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

matdiff_macros::gradient!(fn layer = "tr(Y'*M*Y) where Y = sigmoid(W*X)", wrt X, W, let "M: symmetric");

matdiff_macros::gradient!(
    fn network = "norm2(a2 - y)^2 where a2 = g2(W2*a1 + b2), a1 = g1(W1*x + b1)",
    wrt W1, W2, b1, b2
);

fn random(rng: &mut StdRng, r: usize, c: usize) -> Mat<f64> {
    Mat::from_fn(r, c, |_, _| rng.random_range(-1.0..1.0))
}

/// The value of `src` by matdiff-faer.
fn evaluate(src: &str, decls: &[&str], values: &Values<f64>) -> f64 {
    let mut pool = ExprPool::new();
    let decls: Vec<Decl> = decls.iter().map(|d| Decl::parse(d).unwrap()).collect();
    let e = pool.parse_with(src, &decls).unwrap();
    let sizes = Sizes::from_values(&pool, values).unwrap();
    let mut plan = Plan::compile_with(&pool, &[e.root], &sizes, &Options::new()).unwrap();
    plan.run(values).unwrap()[0][(0, 0)]
}

/// The largest relative difference between `gradient` and central differences of `f` at `x`.
fn central_difference_error(
    f: &dyn Fn(MatRef<'_, f64>) -> f64,
    x: &Mat<f64>,
    gradient: &Mat<f64>,
) -> f64 {
    let h = 1e-6;
    let mut diff = 0.0f64;
    let mut scale = f64::MIN_POSITIVE;
    for j in 0..x.ncols() {
        for i in 0..x.nrows() {
            let (mut up, mut down) = (x.clone(), x.clone());
            up[(i, j)] += h;
            down[(i, j)] -= h;
            let numeric = (f(up.as_ref()) - f(down.as_ref())) / (2.0 * h);
            diff = diff.max((numeric - gradient[(i, j)]).abs());
            scale = scale.max(gradient[(i, j)].abs());
        }
    }
    diff / scale
}

#[test]
fn seed_2_5_4_layer() {
    let mut rng = StdRng::seed_from_u64(254);
    let (m0, w, x) = (
        random(&mut rng, 4, 4),
        random(&mut rng, 4, 3),
        random(&mut rng, 3, 5),
    );
    let m = Mat::from_fn(4, 4, |i, j| m0[(i, j)] + m0[(j, i)]);
    let (value, grad_x, grad_w) = layer(m.as_ref(), w.as_ref(), x.as_ref());
    let values = Values::new()
        .with("M", m.clone())
        .with("W", w.clone())
        .with("X", x.clone());
    let reference = evaluate(
        "tr(Y'*M*Y) where Y = sigmoid(W*X)",
        &["M: symmetric"],
        &values,
    );
    assert!((value - reference).abs() <= 1e-12 * reference.abs());
    let fx = |x: MatRef<'_, f64>| layer(m.as_ref(), w.as_ref(), x).0;
    assert!(central_difference_error(&fx, &x, &grad_x) < 1e-7);
    let fw = |w: MatRef<'_, f64>| layer(m.as_ref(), w, x.as_ref()).0;
    assert!(central_difference_error(&fw, &w, &grad_w) < 1e-7);
}

#[test]
fn seed_1_2_two_layer_network() {
    let mut rng = StdRng::seed_from_u64(12);
    let (w1, w2) = (random(&mut rng, 5, 3), random(&mut rng, 2, 5));
    let (b1, b2) = (random(&mut rng, 5, 1), random(&mut rng, 2, 1));
    let (x, y) = (random(&mut rng, 3, 1), random(&mut rng, 2, 1));
    // g1 = tanh, g2 = the logistic function, with their derivatives.
    let g1 = |z: f64| z.tanh();
    let g1_prime = |z: f64| 1.0 - z.tanh().powi(2);
    let g2 = |z: f64| 1.0 / (1.0 + (-z).exp());
    let g2_prime = |z: f64| g2(z) * (1.0 - g2(z));
    let run =
        |w1: MatRef<'_, f64>, w2: MatRef<'_, f64>, b1: MatRef<'_, f64>, b2: MatRef<'_, f64>| {
            network(
                w1,
                w2,
                b1,
                b2,
                x.as_ref(),
                y.as_ref(),
                g1,
                g1_prime,
                g2,
                g2_prime,
            )
        };
    let (value, g_w1, g_w2, g_b1, g_b2) = run(w1.as_ref(), w2.as_ref(), b1.as_ref(), b2.as_ref());
    // The same network by hand.
    let a1 = Mat::from_fn(5, 1, |i, _| {
        g1((0..3).map(|k| w1[(i, k)] * x[(k, 0)]).sum::<f64>() + b1[(i, 0)])
    });
    let a2 = Mat::from_fn(2, 1, |i, _| {
        g2((0..5).map(|k| w2[(i, k)] * a1[(k, 0)]).sum::<f64>() + b2[(i, 0)])
    });
    let reference: f64 = (0..2).map(|i| (a2[(i, 0)] - y[(i, 0)]).powi(2)).sum();
    assert!((value - reference).abs() <= 1e-12 * reference.abs());
    let (w1r, w2r, b1r, b2r) = (w1.as_ref(), w2.as_ref(), b1.as_ref(), b2.as_ref());
    let e_w1 = central_difference_error(&|v| run(v, w2r, b1r, b2r).0, &w1, &g_w1);
    let e_w2 = central_difference_error(&|v| run(w1r, v, b1r, b2r).0, &w2, &g_w2);
    let e_b1 = central_difference_error(&|v| run(w1r, w2r, v, b2r).0, &b1, &g_b1);
    let e_b2 = central_difference_error(&|v| run(w1r, w2r, b1r, v).0, &b2, &g_b2);
    for (name, e) in [("W1", e_w1), ("W2", e_w2), ("b1", e_b1), ("b2", e_b2)] {
        assert!(e < 1e-7, "{name}: {e:.1e}");
    }
}
