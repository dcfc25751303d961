//! Random values for the variables of an expression, respecting the domains of its functions.

use std::collections::{BTreeMap, HashSet};

use faer::Mat;
use matdiff_expr::{Dim, ExprId, ExprPool, Fun, Func, Node, Reduce, Structure, Symbol};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::values::Values;

const POSITIVE: u8 = 1;
const WELL_CONDITIONED: u8 = 2;
const SMALL: u8 = 4;

/// Seeded random values for every variable of `root`: entries in [-1, 1], except
/// - in [0.5, 1.5] where `log`, `sqrt`, `./`, `/` or a fractional power needs them positive;
/// - ten times smaller under `arcsin`, `arccos` and `log1p` (whose domains are bounded);
/// - diagonally dominant with a positive diagonal (so invertible, with a positive determinant)
///   for square variables under `inv`, `det`, `logdet` or a negative power;
/// - symmetric for variables declared symmetric (then positive definite when also dominant);
///   symmetric and dominant (so positive definite) for `spd`; diagonal for `diagonal`; 2, 3 or 4
///   for an `integer`.
///
/// Symbolic dimensions get distinct sizes (3, 4, ..., 8 in the order of the pool, then 3 again),
/// so that shape mistakes show; declared sizes are kept.
///
/// ```
/// use matdiff_expr::ExprPool;
/// use matdiff_faer::random_values;
/// let mut pool = ExprPool::new();
/// let e = pool.parse("logdet(X) + sum(log(A*b))").unwrap();
/// let v = random_values(&pool, e.root, 1);
/// let a = v.get("A").unwrap();
/// assert_ne!(a.nrows(), a.ncols());
/// assert!(a[(0, 0)] > 0.0);
/// ```
pub fn random_values(pool: &ExprPool, root: ExprId, seed: u64) -> Values<f64> {
    draw(pool, root, seed, Order::Pool)
}

/// How many size orders and value draws [`random_values_where`] tries.
const ATTEMPTS: u64 = 12;

/// Like [`random_values`], but values that `accept` accepts, when the first draw is not: it tries
/// the sizes of the symbolic dimensions in reverse order, then in shuffled orders with new values
/// (at most 12 draws, each seeded from `seed`), and returns the first accepted draw, else the
/// first draw. `inv(X'*X)` needs `X` taller than wide, `logdet(X'*A*X)` a positive determinant:
/// `accept` says what the caller needs.
///
/// ```
/// use matdiff_expr::ExprPool;
/// use matdiff_faer::{random_values_where, Plan, Sizes};
/// let mut pool = ExprPool::new();
/// let e = pool.parse("sum(inv(X'*X))").unwrap();
/// // Accept values at which the expression evaluates without error.
/// let values = random_values_where(&pool, e.root, 0, |v| {
///     let sizes = Sizes::from_values(&pool, v).unwrap();
///     Plan::<f64>::compile(&pool, &[e.root], &sizes).unwrap().run(v).is_ok()
/// });
/// let x = values.get("X").unwrap();
/// assert!(x.nrows() > x.ncols());
/// ```
pub fn random_values_where(
    pool: &ExprPool,
    root: ExprId,
    seed: u64,
    mut accept: impl FnMut(&Values<f64>) -> bool,
) -> Values<f64> {
    let first = random_values(pool, root, seed);
    if accept(&first) {
        return first;
    }
    (1..ATTEMPTS)
        .map(|attempt| {
            let order = if attempt == 1 {
                Order::Reversed
            } else {
                Order::Shuffled(seed.wrapping_add(attempt))
            };
            draw(pool, root, seed.wrapping_add(attempt), order)
        })
        .find(|v| accept(v))
        .unwrap_or(first)
}

/// The order in which symbolic dimensions get the sizes 3, 4, 5, ...
#[derive(Copy, Clone)]
enum Order {
    /// The order of the pool.
    Pool,
    /// The reverse.
    Reversed,
    /// A permutation drawn from this seed.
    Shuffled(u64),
}

fn draw(pool: &ExprPool, root: ExprId, seed: u64, order: Order) -> Values<f64> {
    let mut needs: BTreeMap<Symbol, u8> = BTreeMap::new();
    let mut seen: HashSet<(ExprId, u8)> = HashSet::new();
    let mut stack = vec![(root, 0u8)];
    while let Some((id, ctx)) = stack.pop() {
        if !seen.insert((id, ctx)) {
            continue;
        }
        let node = pool.node(id);
        let pass = ctx;
        match node {
            Node::Var(s) => *needs.entry(*s).or_default() |= ctx,
            Node::Apply { fun, arg, .. } => {
                let c = match fun {
                    Fun::Builtin(Func::Log | Func::Sqrt) => POSITIVE,
                    Fun::Builtin(Func::Arcsin | Func::Arccos | Func::Log1p) => SMALL,
                    _ => 0,
                };
                stack.push((*arg, c));
            }
            Node::HPow([a, p]) | Node::Pow([a, p]) => {
                let integer = matches!(pool.node(*p), Node::Num(n) if n.as_integer().is_some());
                let negative = matches!(pool.node(*p), Node::Num(n) if n.get() < 0.0);
                let mut c = pass;
                if !integer {
                    c |= POSITIVE;
                }
                if negative && !pool.shape(*a).is_scalar() {
                    c |= WELL_CONDITIONED;
                }
                stack.push((*a, c));
                stack.push((*p, 0));
            }
            Node::HDiv([a, b]) | Node::Div([a, b]) => {
                stack.push((*a, pass));
                stack.push((*b, pass | POSITIVE));
            }
            Node::Inv(a) => stack.push((*a, pass | WELL_CONDITIONED)),
            Node::Reduce(Reduce::Det | Reduce::LogDet | Reduce::LogAbsDet, a) => {
                stack.push((*a, WELL_CONDITIONED))
            }
            Node::Reduce(_, a)
            | Node::Transpose(a)
            | Node::Diag(a)
            | Node::Tri(_, a)
            | Node::LogSumExpCols(a)
            | Node::Vectorize(a)
            | Node::Unvec(a, _) => stack.push((*a, pass)),
            // Positive (well conditioned) factors make a positive (well-conditioned) product.
            Node::Kron([a, b]) => {
                stack.push((*a, pass));
                stack.push((*b, pass));
            }
            Node::Neg(a) => stack.push((*a, pass & (WELL_CONDITIONED | SMALL))),
            Node::Add(xs) | Node::Mul(xs) | Node::Hadamard(xs) => {
                for &x in xs.iter() {
                    stack.push((x, pass));
                }
            }
            Node::Num(_) | Node::Identity(_) | Node::Ones(_) | Node::Commutation(..) => {}
        }
    }
    // Distinct sizes for distinct symbolic dimensions.
    let mut dims: Vec<usize> = Vec::new();
    for s in needs.keys() {
        let shape = pool.var_info(*s).expect("a variable").shape;
        for d in [shape.rows, shape.cols] {
            for f in pool.dim_factors(d) {
                if let Dim::Sym(v) = f {
                    dims.push(v.index());
                }
            }
        }
    }
    dims.sort_unstable();
    dims.dedup();
    // 3 to 8, then again: neighbouring dimensions differ, and a network of many layers stays
    // small enough to evaluate many times.
    let mut sizes: Vec<usize> = (0..dims.len()).map(|i| 3 + i % 6).collect();
    match order {
        Order::Pool => {}
        Order::Reversed => sizes.reverse(),
        Order::Shuffled(seed) => {
            let mut rng = StdRng::seed_from_u64(seed);
            for i in (1..sizes.len()).rev() {
                sizes.swap(i, rng.random_range(0..=i));
            }
        }
    }
    let size = |d: Dim| {
        pool.dim_factors(d)
            .into_iter()
            .map(|f| match f {
                Dim::Sym(v) => sizes[dims.binary_search(&v.index()).expect("collected")],
                Dim::Known(k) => k as usize,
                Dim::Prod(_) => unreachable!("the factors of a product are not products"),
            })
            .product::<usize>()
    };
    let mut rng = StdRng::seed_from_u64(seed);
    let mut values = Values::new();
    let mut names: Vec<(&str, Symbol)> = needs.keys().map(|&s| (pool.name(s), s)).collect();
    names.sort();
    for (name, s) in names {
        let info = pool.var_info(s).expect("a variable");
        let need = needs[&s];
        let (r, c) = (size(info.shape.rows), size(info.shape.cols));
        let positive = need & POSITIVE != 0;
        // Under arcsin, arccos and log1p: small, so that sums of products stay inside (-1, 1).
        let scale = if need & SMALL != 0 { 0.1 } else { 1.0 };
        let spd = info.structure == Structure::Spd;
        let dominant = (spd || need & WELL_CONDITIONED != 0) && r == c && r > 1;
        let mut m = Mat::from_fn(r, c, |_, _| {
            scale
                * if positive {
                    rng.random_range(0.5..1.5)
                } else {
                    rng.random_range(-1.0..1.0)
                }
        });
        if dominant {
            for j in 0..c {
                for i in 0..r {
                    m[(i, j)] = if i == j {
                        r as f64 + rng.random_range(0.5..1.0)
                    } else {
                        m[(i, j)] * 0.5
                    };
                }
            }
        } else if need & WELL_CONDITIONED != 0 && r == 1 && c == 1 {
            m[(0, 0)] = rng.random_range(0.5..1.5);
        }
        if info.symmetric {
            let t = m.clone();
            m = Mat::from_fn(r, c, |i, j| 0.5 * (t[(i, j)] + t[(j, i)]));
        }
        if info.structure == Structure::Integer {
            m = Mat::from_fn(1, 1, |_, _| rng.random_range(2..=4) as f64);
        }
        // Diagonal and triangular: zero outside the structure.
        let st = info.structure;
        m = Mat::from_fn(r, c, |i, j| if st.allows(i, j) { m[(i, j)] } else { 0.0 });
        values.insert(name, m);
    }
    values
}
