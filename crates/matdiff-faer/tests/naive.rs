//! The planner against a naive recursive evaluation (one faer operation per node, no planning),
//! on many expressions compiled together as the roots of one plan, so that fusion, chain order,
//! lazy constants and reuse between roots all meet.

mod common;

use common::*;
use faer::linalg::solvers::DenseSolveCore;
use faer::Mat;
use matdiff_expr::{ExprId, ExprPool, Fun, Node, Reduce};
use matdiff_faer::{Plan, Scalar, Sizes, Values};

fn broadcast(a: &Mat<f64>, b: &Mat<f64>, f: impl Fn(f64, f64) -> f64) -> Mat<f64> {
    let (r, c) = if a.nrows() * a.ncols() == 1 {
        (b.nrows(), b.ncols())
    } else {
        (a.nrows(), a.ncols())
    };
    let at = |m: &Mat<f64>, i: usize, j: usize| {
        if m.nrows() * m.ncols() == 1 {
            m[(0, 0)]
        } else {
            m[(i, j)]
        }
    };
    Mat::from_fn(r, c, |i, j| f(at(a, i, j), at(b, i, j)))
}

fn naive(pool: &ExprPool, id: ExprId, v: &Values<f64>, sizes: &Sizes) -> Mat<f64> {
    let ev = |x: ExprId| naive(pool, x, v, sizes);
    let (rows, cols) = sizes.shape(pool, pool.shape(id)).unwrap();
    match pool.node(id) {
        Node::Var(s) => v.get(pool.name(*s)).unwrap().clone(),
        Node::Num(n) => scalar(n.get()),
        Node::Identity(_) => Mat::identity(rows, cols),
        Node::Ones(_) => Mat::from_fn(rows, 1, |_, _| 1.0),
        Node::Neg(a) => -ev(*a),
        Node::Add(xs) => xs[1..]
            .iter()
            .fold(ev(xs[0]), |acc, x| broadcast(&acc, &ev(*x), |p, q| p + q)),
        Node::Hadamard(xs) => xs[1..]
            .iter()
            .fold(ev(xs[0]), |acc, x| broadcast(&acc, &ev(*x), |p, q| p * q)),
        Node::Mul(xs) => xs[1..].iter().fold(ev(xs[0]), |acc, x| {
            let b = ev(*x);
            if acc.nrows() * acc.ncols() == 1 && b.nrows() != 1 {
                map(&b, |q| acc[(0, 0)] * q)
            } else if b.nrows() * b.ncols() == 1 && acc.ncols() != 1 {
                map(&acc, |p| p * b[(0, 0)])
            } else {
                &acc * &b
            }
        }),
        Node::Div([a, b]) | Node::HDiv([a, b]) => broadcast(&ev(*a), &ev(*b), |p, q| p / q),
        Node::HPow([a, b]) => broadcast(&ev(*a), &ev(*b), f64::powf),
        Node::Pow([a, b]) => {
            let (x, k) = (ev(*a), ev(*b)[(0, 0)]);
            if x.nrows() * x.ncols() == 1 {
                return scalar(x[(0, 0)].powf(k));
            }
            let base = if k < 0.0 {
                x.partial_piv_lu().inverse()
            } else {
                x
            };
            (0..k.abs() as usize).fold(Mat::identity(rows, cols), |acc, _| &acc * &base)
        }
        Node::Transpose(a) => ev(*a).transpose().to_owned(),
        Node::Apply { fun, order, arg } => {
            let Fun::Builtin(f) = fun else {
                panic!("abstract function")
            };
            map(&ev(*arg), |x| x.apply(*f, *order))
        }
        Node::Reduce(r, a) => {
            let m = ev(*a);
            scalar(match r {
                Reduce::Trace => (0..m.nrows()).map(|i| m[(i, i)]).sum(),
                Reduce::Det => m.determinant(),
                Reduce::LogDet => m.determinant().ln(),
                Reduce::Sum => m.sum(),
                Reduce::Norm1 => map(&m, f64::abs).sum(),
                Reduce::Norm2 => m.norm_l2(),
                Reduce::LogAbsDet => m.determinant().abs().ln(),
                Reduce::Max => map(&m, |x| x).max().expect("entries"),
                Reduce::Min => map(&m, |x| x).min().expect("entries"),
                Reduce::LogSumExp => map(&m, f64::exp).sum().ln(),
            })
        }
        Node::Inv(a) => ev(*a).partial_piv_lu().inverse(),
        Node::Diag(a) => {
            let m = ev(*a);
            if m.ncols() == 1 {
                Mat::from_fn(
                    m.nrows(),
                    m.nrows(),
                    |i, j| if i == j { m[(i, 0)] } else { 0.0 },
                )
            } else {
                Mat::from_fn(m.nrows(), 1, |i, _| m[(i, i)])
            }
        }
        Node::LogSumExpCols(a) => {
            let m = ev(*a);
            Mat::from_fn(1, m.ncols(), |_, j| {
                (0..m.nrows()).map(|i| m[(i, j)].exp()).sum::<f64>().ln()
            })
        }
        Node::Kron([a, b]) => {
            let (a, b) = (ev(*a), ev(*b));
            let (p, q) = (b.nrows(), b.ncols());
            Mat::from_fn(a.nrows() * p, a.ncols() * q, |i, j| {
                a[(i / p, j / q)] * b[(i % p, j % q)]
            })
        }
        Node::Vectorize(a) => {
            let m = ev(*a);
            Mat::from_fn(m.nrows() * m.ncols(), 1, |k, _| {
                m[(k % m.nrows(), k / m.nrows())]
            })
        }
        Node::Unvec(g, d) => {
            let g = ev(*g);
            let rows = sizes.dim(pool, *d).unwrap();
            Mat::from_fn(rows, g.nrows() / rows, |i, j| g[(i + j * rows, 0)])
        }
        Node::Commutation(m, n) => {
            let (m, n) = (sizes.dim(pool, *m).unwrap(), sizes.dim(pool, *n).unwrap());
            // Row j + i*n has its one at column i + j*m.
            Mat::from_fn(m * n, m * n, |r, c| {
                let (j, i) = (r % n, r / n);
                if c == i + j * m {
                    1.0
                } else {
                    0.0
                }
            })
        }
        Node::Tri(t, a) => {
            let m = ev(*a);
            let lower = *t == matdiff_expr::Triangle::Lower;
            Mat::from_fn(m.nrows(), m.ncols(), |i, j| {
                if (lower && i >= j) || (!lower && i <= j) {
                    m[(i, j)]
                } else {
                    0.0
                }
            })
        }
    }
}

const EXPRESSIONS: &[&str] = &[
    "A*B*C",
    "2*A*B*C",
    "A*B*C*C'",
    "(A*B)'*D",
    "-(A*B*C)'*a",
    "a'*A*B*c*c'",
    "tr(A'*A*S) + sum(A*B) - tr(S*T*S)",
    "sum(exp(A*B) .* (A*B)) + norm2(A*B - 1)",
    "sigmoid(A*B) .* (1 - sigmoid(A*B)) - sigmoid'(A*B)",
    "tanh(A'*a) + tanh'(A'*a) .* (A'*a) + v",
    "A + a*ones' + 2*ones*b' - alpha*a*b'",
    "(A + a*ones')*ones + A*diag(v)*ones",
    "ones'*(A .* D)*B + b'*B",
    // Row and column sums of contiguous and of transposed (strided) operands.
    "A'*ones",
    "ones'*A'",
    "(A*B)'*ones + 0*c",
    "ones'*(A*B)' + ones'*(A*B)'",
    "diag(S*T) + diag(S .* T) + diag(S)*2",
    "diag(v)*S*diag(v) + S .* I - inv(S)'",
    "inv(S)*T*inv(S) - S^-2*T + S^2*inv(S)",
    "A*inv(S)*B + A*inv(S')*B - A*S^-1*B",
    "logdet(S) + det(S) - logdet(S'*S)/2 + det(T)",
    "norm1(A - D) + norm2(A .^ 3) - sum(abs(A)) + sum(relu(A) - relu'(A))",
    "alpha*beta*A*B + (a'*a)*A*B - A*(beta*B)",
    "P .^ alpha + log(P) ./ P + sqrt(P) .* softplus(A)",
    "(alpha + beta)^2 * tr(S) + alpha ^ beta",
    "exp(T*tanh(S*exp(T)))",
    "S*S*S*v - S^3*v",
    "tr(inv(S)*T) + sum(inv(S)*v) + v'*inv(S)*v",
    // Kronecker products, vec, unvec, commutation; kron(L, R)*v is never formed.
    "kron(A, C)",
    "kron(A, C)'*kron(D, c) + kron(v, alpha*ones(2)*b') + kron(ones(2), kron(alpha, A)')*ones(3)*ones(4)'",
    "kron(A, C)*vec(C'*B') - vec(C*C'*B'*A') + kron(A, C)*vec(C'*B')",
    "kron(S, T)*vec(S*T) - kron(S, T)'*vec(T)",
    "commutation(rows(A), cols(A))*vec(A) - vec(A') + vec(unvec(vec(A), 2))",
    "unvec(vec(A)*2, rows(D)) .* D + unvec(kron(a, b), rows(a))",
];

#[test]
fn plans_agree_with_naive_evaluation() {
    for seed in [1, 2] {
        let values = fixture(seed);
        let mut pool = ExprPool::new();
        let d = decls(&values);
        let roots: Vec<ExprId> = EXPRESSIONS
            .iter()
            .map(|s| {
                pool.parse_with(s, &d)
                    .unwrap_or_else(|e| panic!("{}", e.render(s)))
                    .root
            })
            .collect();
        let sizes = Sizes::from_values(&pool, &values).unwrap();
        // All together (sharing and reuse between roots), and each alone.
        let mut plan = Plan::<f64>::compile(&pool, &roots, &sizes).unwrap();
        let together = plan.run(&values).unwrap();
        for (k, (&root, src)) in roots.iter().zip(EXPRESSIONS).enumerate() {
            let want = naive(&pool, root, &values, &sizes);
            assert_close(&together[k], &want, 1e-11, src);
            let mut alone = Plan::<f64>::compile(&pool, &[root], &sizes).unwrap();
            assert_close(&alone.run(&values).unwrap()[0], &want, 1e-11, src);
        }
    }
}
