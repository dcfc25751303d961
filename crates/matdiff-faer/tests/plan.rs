//! The plan's choices, through its statistics: chain order, shared work, fusion, lazy constants,
//! solves instead of inverses, buffer reuse, repeated runs.

mod common;

use common::*;
use faer::Mat;
use matdiff_faer::{Options, Plan, PlanStats, Sizes, Values};
use rand::rngs::StdRng;
use rand::SeedableRng;

fn compile(srcs: &[&str], values: &Values<f64>) -> (Plan<f64>, Vec<Mat<f64>>) {
    let mut pool = matdiff_expr::ExprPool::new();
    let d = decls(values);
    let roots: Vec<_> = srcs
        .iter()
        .map(|s| pool.parse_with(s, &d).unwrap().root)
        .collect();
    let sizes = Sizes::from_values(&pool, values).unwrap();
    let mut plan = Plan::compile(&pool, &roots, &sizes).unwrap();
    let out = plan.run(values).unwrap();
    (plan, out)
}

fn stats(srcs: &[&str], values: &Values<f64>) -> PlanStats {
    compile(srcs, values).0.stats()
}

/// The least flops of any parenthesisation of a chain with these dimensions (brute force).
fn min_flops(d: &[usize]) -> u64 {
    fn go(d: &[usize], i: usize, j: usize) -> u64 {
        if i + 1 == j {
            return 0;
        }
        (i + 1..j)
            .map(|k| go(d, i, k) + go(d, k, j) + 2 * (d[i] * d[k] * d[j]) as u64)
            .min()
            .unwrap()
    }
    go(d, 0, d.len() - 1)
}

#[test]
fn chain_order_has_the_minimum_flop_count() {
    let mut rng = StdRng::seed_from_u64(11);
    for dims in [
        [40, 10, 50, 20, 1],
        [1, 30, 5, 60, 7],
        [8, 60, 3, 50, 9],
        [25, 25, 25, 25, 1],
    ] {
        let values = Values::new()
            .with("A", rand_mat(&mut rng, dims[0], dims[1], -1.0, 1.0))
            .with("B", rand_mat(&mut rng, dims[1], dims[2], -1.0, 1.0))
            .with("C", rand_mat(&mut rng, dims[2], dims[3], -1.0, 1.0))
            .with("X", rand_mat(&mut rng, dims[3], dims[4], -1.0, 1.0));
        let (plan, out) = compile(&["A*B*C*X"], &values);
        let s = plan.stats();
        assert_eq!(s.matmul_flops, min_flops(&dims), "{dims:?}");
        assert_eq!(s.matmuls, 3);
        let want =
            &(&(&get(&values, "A") * &get(&values, "B")) * &get(&values, "C")) * &get(&values, "X");
        assert_close(&out[0], &want, 1e-12, "A*B*C*X");
    }
    // A*B*x with x a vector never forms A*B.
    let mut rng = StdRng::seed_from_u64(12);
    let values = Values::new()
        .with("A", rand_mat(&mut rng, 30, 40, -1.0, 1.0))
        .with("B", rand_mat(&mut rng, 40, 50, -1.0, 1.0))
        .with("x", rand_mat(&mut rng, 50, 1, -1.0, 1.0));
    assert_eq!(
        stats(&["A*B*x"], &values).matmul_flops,
        2 * (40 * 50 + 30 * 40)
    );
}

#[test]
fn shared_work_is_done_once() {
    let values = fixture(21);
    // W*X (here A*B) feeds both roots; it is computed once.
    let s = stats(&["sigmoid(A*B)", "tanh(A*B)", "A*B"], &values);
    assert_eq!(s.matmuls, 1);
    // The value and the gradient of the layer loss share Z = W*X and Y = sigmoid(Z).
    let mut rng = StdRng::seed_from_u64(22);
    let mut m = rand_mat(&mut rng, 3, 3, -1.0, 1.0);
    m = Mat::from_fn(3, 3, |i, j| m[(i, j)] + m[(j, i)]);
    let values = Values::new()
        .with("W", rand_mat(&mut rng, 3, 4, -1.0, 1.0))
        .with("X", rand_mat(&mut rng, 4, 5, -1.0, 1.0))
        .with("M", m);
    let s = stats(
        &[
            "tr(Y'*M*Y) where Y = sigmoid(W*X)",
            "W'*((2*M*Y) .* sigmoid'(W*X)) where Y = sigmoid(W*X)",
        ],
        &values,
    );
    // W*X, M*Y (for the trace, reused scaled for 2*M*Y) and W'*(...): as many products as by
    // hand.
    assert_eq!(s.matmuls, 3, "{s:?}");
    // The same in the other order of the roots.
    let s = stats(
        &[
            "W'*((2*M*Y) .* sigmoid'(W*X)) where Y = sigmoid(W*X)",
            "tr(Y'*M*Y) where Y = sigmoid(W*X)",
        ],
        &values,
    );
    assert_eq!(s.matmuls, 3, "{s:?}");
    // Products shared between chains are reused, with their scale.
    let values = fixture(29);
    let (plan, out) = compile(&["3*A*B*C", "A*B*C*C'", "2*A*B"], &values);
    // A*(B*C) (2 products, the cheaper order), then A*B*C*C' reuses 3*A*B*C (1), and A*B is
    // not among the products computed (1): 4 instead of 6.
    assert_eq!(plan.stats().matmuls, 4, "{:?}", plan.stats());
    let (a, b, c) = (get(&values, "A"), get(&values, "B"), get(&values, "C"));
    let abc = &(&a * &b) * &c;
    assert_close(&out[0], &(&abc * faer::Scale(3.0)), 1e-12, "3*A*B*C");
    assert_close(&out[1], &(&abc * c.transpose()), 1e-12, "A*B*C*C'");
    assert_close(&out[2], &(&(&a * &b) * faer::Scale(2.0)), 1e-12, "2*A*B");
}

#[test]
fn element_wise_work_is_fused() {
    let values = fixture(23);
    // One pass that reads A once.
    let s = stats(&["sigmoid(A) .* (1 - sigmoid(A))"], &values);
    assert_eq!((s.kernels, s.kernel_inputs), (1, 1), "{s:?}");
    let s = stats(&["exp(A) + 2*log(P) .* A - A ./ P"], &values);
    assert_eq!((s.kernels, s.kernel_inputs), (1, 2), "{s:?}");
    // Reductions of element-wise work are fused too: no buffer but the 1x1 result.
    let s = stats(&["sum(exp(A) .* D)"], &values);
    assert_eq!((s.kernels, s.buffers), (1, 1), "{s:?}");
    let s = stats(&["norm2(A - D)"], &values);
    assert_eq!((s.kernels, s.buffers), (1, 1), "{s:?}");
}

#[test]
fn constants_and_broadcasts_are_not_materialised() {
    let values = fixture(24);
    // A bias broadcast over the columns is a broadcast add: one pass, no product, no ones.
    let s = stats(&["A + a*ones'"], &values);
    assert_eq!((s.matmuls, s.kernels, s.buffers), (0, 1, 1), "{s:?}");
    // G*ones is a row sum, ones'*G a column sum.
    let s = stats(&["A*ones"], &values);
    assert_eq!((s.matmuls, s.kernels, s.buffers), (0, 0, 1), "{s:?}");
    let s = stats(&["ones'*A"], &values);
    assert_eq!((s.matmuls, s.buffers), (0, 1), "{s:?}");
    // I and diag(v) in products and sums.
    let s = stats(&["A*I*B + A*diag(v)*B"], &values);
    assert_eq!(s.matmuls, 2, "{s:?}");
    let s = stats(&["S + 2*I"], &values);
    assert_eq!((s.kernels, s.buffers), (1, 1), "{s:?}");
    // sum of a product: (ones'*A)*(B*ones), no n^3 work.
    let s = stats(&["sum(A*B)"], &values);
    assert_eq!(s.matmul_flops, 2 * 4, "{s:?}");
    // tr(A*B*...) as a dot product of two halves.
    let s = stats(&["tr(A'*A*S)"], &values);
    assert!(s.matmul_flops <= 2 * 4 * 3 * 4, "{s:?}");
}

#[test]
fn inverses_in_products_are_solves() {
    let values = fixture(25);
    let s = stats(&["inv(S)*B"], &values);
    assert_eq!((s.factorizations, s.solves, s.matmuls), (1, 1, 0), "{s:?}");
    let s = stats(&["A*inv(S)*B + A*inv(S)'*B"], &values);
    assert_eq!(s.factorizations, 1, "{s:?}");
    assert_eq!(s.solves, 2, "{s:?}");
}

#[test]
fn buffers_are_reused() {
    let values = fixture(26);
    let s = stats(&["exp(S*exp(S*exp(S*exp(S*exp(S*exp(S*T))))))"], &values);
    assert!(s.buffers <= 3, "{s:?}");
}

#[test]
fn a_plan_runs_again_on_new_values() {
    let v1 = fixture(27);
    let v2 = fixture(28);
    let mut pool = matdiff_expr::ExprPool::new();
    let d = decls(&v1);
    let f = pool.parse_with("A*inv(S)*B + a*ones'*B", &d).unwrap().root;
    let g = pool.parse_with("tr(S*T) + sum(exp(A))", &d).unwrap().root;
    let sizes = Sizes::from_values(&pool, &v1).unwrap();
    for threads in [1, 2] {
        let mut plan =
            Plan::compile_with(&pool, &[f, g], &sizes, &Options::new().threads(threads)).unwrap();
        for v in [&v1, &v2, &v1] {
            let out = plan.run(v).unwrap();
            assert_close(
                &out[0],
                &eval_src("A*inv(S)*B + a*ones'*B", v).unwrap(),
                1e-12,
                "f",
            );
            assert_close(
                &out[1],
                &eval_src("tr(S*T) + sum(exp(A))", v).unwrap(),
                1e-12,
                "g",
            );
        }
    }
}

/// `run_into` gives what `run` gives, from borrowed inputs, and runs in a loop without
/// allocating: each root's buffer goes back and forth between the plan and the caller.
#[test]
fn run_into_reuses_the_callers_matrices() {
    let values = fixture(29);
    let srcs = ["exp(A*B) .* (A*B)", "tr(S*T)", "A"];
    let (mut plan, expected) = compile(&srcs, &values);
    let names = ["A", "B", "S", "T"];
    let borrowed: Vec<(&str, faer::MatRef<'_, f64>)> = names
        .iter()
        .map(|&n| (n, values.get(n).unwrap().as_ref()))
        .collect();
    let mut outputs = Vec::new();
    let mut first_buffers = Vec::new();
    for run in 0..4 {
        plan.run_into(&borrowed[..], &mut outputs).unwrap();
        for (got, want) in outputs.iter().zip(&expected) {
            assert_close(got, want, 0.0, "run_into");
        }
        let buffer = outputs[0].as_ptr();
        match run {
            0 => first_buffers.push(buffer),
            1 => first_buffers.push(buffer),
            _ => assert_eq!(buffer, first_buffers[run % 2], "run {run}"),
        }
    }
    assert_ne!(first_buffers[0], first_buffers[1]);
    // A missing input is an error, as with `run`.
    let e = plan.run_into(&borrowed[..2], &mut outputs).unwrap_err();
    assert!(e.to_string().contains("'S'"), "{e}");
}

#[test]
fn kron_times_a_vector_is_never_formed() {
    let mut rng = StdRng::seed_from_u64(7);
    let values = Values::new()
        .with("L", rand_mat(&mut rng, 40, 30, -1.0, 1.0))
        .with("R", rand_mat(&mut rng, 20, 50, -1.0, 1.0))
        .with("V", rand_mat(&mut rng, 50, 30, -1.0, 1.0));
    let (plan, out) = compile(&["kron(L, R)*vec(V)", "vec(R*V*L')"], &values);
    assert_close(&out[0], &out[1], 1e-12, "kron(L, R)*vec(V)");
    // The Kronecker product has 40*20 x 30*50 = 1.2 million entries; vec(R*V*L') costs
    // 2*(20*50*30 + 20*30*40) flops, twice (once per root).
    let s = plan.stats();
    assert!(
        s.flops < 4 * (20 * 50 * 30 + 20 * 30 * 40) + 10_000,
        "{s:?}"
    );
    // Used elsewhere, the product is formed, and agrees.
    let (_, out) = compile(&["kron(L, R)*vec(V)", "sum(kron(L, R))"], &values);
    let want = values.get("L").unwrap().sum() * values.get("R").unwrap().sum();
    assert!((out[1][(0, 0)] - want).abs() < 1e-9 * want.abs().max(1.0));
}
