//! Second-order information of an objective: the [`SecondOrder`] trait, and [`Derived`], which
//! takes it from a matrix expression.

use faer::Mat;
use matdiff_expr::{Dim, Expr, ExprId, ExprPool, Structure};
use matdiff_faer::{Complex, Plan, Sizes, Values};
use matdiff_rewrite::{derive, hvp_stacked, Derivation, DeriveOptions};

use crate::OptimError;

/// A twice-differentiable function of `dimension()` unknowns, as Newton's method uses it.
///
/// Only the value, the gradient and Hessian-vector products are required; the dense Hessian is
/// made of products with the unit vectors unless an implementation knows better.
pub trait SecondOrder {
    /// The number of unknowns.
    fn dimension(&self) -> usize;

    /// The value at `x`.
    fn value(&mut self, x: &[f64]) -> Result<f64, OptimError>;

    /// The value and the gradient at `x`.
    fn value_and_gradient(&mut self, x: &[f64]) -> Result<(f64, Vec<f64>), OptimError>;

    /// The product `H(x) v` of the Hessian at `x` with the direction `v`.
    fn hessian_vector(&mut self, x: &[f64], v: &[f64]) -> Result<Vec<f64>, OptimError>;

    /// The dense Hessian at `x`: its columns are `H(x) e_j`, then it is symmetrised.
    fn hessian(&mut self, x: &[f64]) -> Result<Mat<f64>, OptimError> {
        let n = self.dimension();
        let mut h = Mat::zeros(n, n);
        let mut e = vec![0.0; n];
        for j in 0..n {
            e[j] = 1.0;
            let column = self.hessian_vector(x, &e)?;
            e[j] = 0.0;
            for (i, v) in column.into_iter().enumerate() {
                h[(i, j)] = v;
            }
        }
        Ok(Mat::from_fn(n, n, |i, j| 0.5 * (h[(i, j)] + h[(j, i)])))
    }
}

/// A variable of a [`Derived`] objective and where its entries sit in the stacked unknowns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// The variable.
    pub name: String,
    /// Its rows.
    pub rows: usize,
    /// Its columns.
    pub cols: usize,
    /// The index of its first entry in the stacked vector (entries column by column).
    pub offset: usize,
}

impl Block {
    fn len(&self) -> usize {
        self.rows * self.cols
    }
}

/// How a [`Derived`] objective computes Hessian-vector products.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum HvpRoute {
    /// The derived expression `H[V]`: the gradient of `Σ_j tr(G_j'*V_j)` with respect to each
    /// variable, `G_j` the derived gradients, evaluated by a plan.
    Derived,
    /// The complex step of the derived gradient plan in the direction `v`:
    /// `H v = Im ∇f(x + i h v) / h` with `h = 1e-20` along the unit direction (forward mode over
    /// the derived reverse gradient, what `jax.jvp(jax.grad(f))` does), exact to rounding for
    /// analytic functions.
    ComplexStep,
}

/// A scalar expression as an objective over some of its variables, stacked column by column in
/// the order given, the others fixed at their values.
///
/// The gradient of each variable is derived by the rewriter and evaluated by a plan. The
/// Hessian-vector product is derived too ([`HvpRoute::Derived`]), where the rewriter can
/// differentiate the gradient; else, and as a check, it is the complex step of the gradient
/// plan ([`HvpRoute::ComplexStep`]).
///
/// ```
/// use matdiff_expr::{Decl, ExprPool};
/// use matdiff_faer::{Mat, Values};
/// use matdiff_optim::{Derived, SecondOrder};
/// let mut pool = ExprPool::new();
/// let e = pool.parse_with("norm2(A*x - y)^2", &[Decl::sized("A", 3, 2), Decl::sized("y", 3, 1)]).unwrap();
/// let data = Values::new()
///     .with("A", Mat::from_fn(3, 2, |i, j| (i + 2 * j) as f64))
///     .with("y", Mat::from_fn(3, 1, |i, _| i as f64));
/// let mut f = Derived::new(&mut pool, &e, &["x"], &data).unwrap();
/// assert_eq!(f.start(), vec![0.0, 0.0]); // x has no value: it starts at zero
/// // The Hessian is 2*A'*A.
/// let h = f.hessian(&[1.0, -1.0]).unwrap();
/// assert!((h[(0, 1)] - 2.0 * (0.0 * 2.0 + 1.0 * 3.0 + 2.0 * 4.0)).abs() < 1e-12);
/// ```
pub struct Derived {
    blocks: Vec<Block>,
    derivations: Vec<Derivation>,
    values: Values<f64>,
    complex: Values<Complex<f64>>,
    value_plan: Plan<f64>,
    gradient_plan: Plan<f64>,
    complex_gradient_plan: Plan<Complex<f64>>,
    /// The plan of the derived `H[V]` and the names of its direction variables.
    hvp: Option<(Plan<f64>, Vec<String>)>,
    route: HvpRoute,
}

/// The step of the complex step: small enough that `h^2` vanishes next to one, for a unit
/// direction.
const COMPLEX_STEP: f64 = 1e-20;

impl Derived {
    /// The objective `expr` over the variables `wrt`, every other variable at its value in
    /// `values`. A variable of `wrt` with a value starts there, one without starts at zero
    /// with the shape the other values fix.
    pub fn new(
        pool: &mut ExprPool,
        expr: &Expr,
        wrt: &[&str],
        values: &Values<f64>,
    ) -> Result<Derived, OptimError> {
        let shape = pool.shape(expr.root);
        if (shape.rows, shape.cols) != (Dim::Known(1), Dim::Known(1)) {
            return Err(OptimError::NotScalar {
                shape: pool.shape_str(shape),
            });
        }
        if wrt.is_empty() {
            return Err(OptimError::NoVariables);
        }
        for (k, name) in wrt.iter().enumerate() {
            if wrt[..k].contains(name) {
                return Err(OptimError::Repeated {
                    name: name.to_string(),
                });
            }
        }
        let mut derivations = Vec::with_capacity(wrt.len());
        for name in wrt {
            let d = derive(pool, expr, name, &DeriveOptions::default())?;
            if d.absent {
                return Err(OptimError::Absent {
                    name: name.to_string(),
                });
            }
            derivations.push(d);
        }
        let sizes = Sizes::from_values(pool, values)?;
        let mut values = values.clone();
        let mut blocks = Vec::with_capacity(wrt.len());
        let mut offset = 0;
        for name in wrt {
            let info = pool
                .find_symbol(name)
                .and_then(|s| pool.var_info(s))
                .expect("a derived variable is a variable of the pool");
            let structure = match info.structure {
                Structure::General if info.symmetric => Some("symmetric"),
                Structure::General => None,
                s => Some(s.name()),
            };
            if let Some(structure) = structure {
                return Err(OptimError::Structured {
                    name: name.to_string(),
                    structure,
                });
            }
            let (rows, cols) = match values.get(name) {
                Some(v) => (v.nrows(), v.ncols()),
                None => {
                    let size = |dim: Dim| {
                        sizes.dim(pool, dim).map_err(|_| OptimError::UnknownShape {
                            name: name.to_string(),
                            shape: pool.shape_str(info.shape),
                            dim: pool.dim_str(dim),
                        })
                    };
                    let shape = (size(info.shape.rows)?, size(info.shape.cols)?);
                    values.insert(name.to_string(), Mat::zeros(shape.0, shape.1));
                    shape
                }
            };
            blocks.push(Block {
                name: name.to_string(),
                rows,
                cols,
                offset,
            });
            offset += rows * cols;
        }
        // The derived product: the rewriter's stacked H[V] (rule H1), in directions named apart
        // from every symbol of the pool.
        let directions: Vec<String> = wrt
            .iter()
            .map(|name| {
                let mut direction = format!("{name}__direction");
                while pool.find_symbol(&direction).is_some() {
                    direction.push('_');
                }
                direction
            })
            .collect();
        let direction_names: Vec<&str> = directions.iter().map(String::as_str).collect();
        let options = DeriveOptions::default();
        let hvp = match hvp_stacked(pool, expr, wrt, &direction_names, &options) {
            Ok(h) => {
                for (direction, b) in directions.iter().zip(&blocks) {
                    values.insert(direction.clone(), Mat::zeros(b.rows, b.cols));
                }
                let sizes = Sizes::from_values(pool, &values)?;
                Plan::compile(pool, &h.results(), &sizes)
                    .ok()
                    .map(|plan| (plan, directions))
            }
            // The rewriter cannot differentiate the gradient (a third derivative of an
            // element-wise function, a kink): the complex step of the gradient plan stands in.
            Err(_) => None,
        };
        let sizes = Sizes::from_values(pool, &values)?;
        let gradients: Vec<ExprId> = derivations.iter().map(|d| d.gradient).collect();
        let mut roots = vec![expr.root];
        roots.extend(&gradients);
        Ok(Derived {
            value_plan: Plan::compile(pool, &[expr.root], &sizes)?,
            gradient_plan: Plan::compile(pool, &roots, &sizes)?,
            complex_gradient_plan: Plan::compile(pool, &gradients, &sizes)?,
            complex: values.map(|v| Complex::new(v, 0.0)),
            values,
            blocks,
            derivations,
            route: if hvp.is_some() {
                HvpRoute::Derived
            } else {
                HvpRoute::ComplexStep
            },
            hvp,
        })
    }

    /// How Hessian-vector products are computed: derived where the rewriter could differentiate
    /// the gradient, else the complex step.
    pub fn route(&self) -> HvpRoute {
        self.route
    }

    /// This objective with Hessian-vector products by the complex step of the gradient plan, the
    /// numeric check of the derived route.
    pub fn with_complex_step(mut self) -> Derived {
        self.route = HvpRoute::ComplexStep;
        self
    }

    /// The variables, in the order of the stacked unknowns.
    pub fn blocks(&self) -> &[Block] {
        &self.blocks
    }

    /// The derivation of the gradient of each variable, in the same order.
    pub fn derivations(&self) -> &[Derivation] {
        &self.derivations
    }

    /// The starting point: the given values of the variables, zeros for the others.
    pub fn start(&self) -> Vec<f64> {
        let mut x = vec![0.0; self.dimension()];
        for b in &self.blocks {
            let m = self
                .values
                .get(&b.name)
                .expect("every variable has a value");
            for j in 0..b.cols {
                for i in 0..b.rows {
                    x[b.offset + j * b.rows + i] = m[(i, j)];
                }
            }
        }
        x
    }

    /// The stacked unknowns as one matrix per variable, in the order of [`blocks`](Self::blocks).
    pub fn unstack(&self, x: &[f64]) -> Vec<(String, Mat<f64>)> {
        self.blocks
            .iter()
            .map(|b| {
                let m = Mat::from_fn(b.rows, b.cols, |i, j| x[b.offset + j * b.rows + i]);
                (b.name.clone(), m)
            })
            .collect()
    }

    fn load(&mut self, x: &[f64]) {
        assert_eq!(x.len(), self.dimension(), "one entry per unknown");
        for b in &self.blocks {
            let m = self.values.get_mut(&b.name).expect("present");
            for j in 0..b.cols {
                for i in 0..b.rows {
                    m[(i, j)] = x[b.offset + j * b.rows + i];
                }
            }
        }
    }
}

impl SecondOrder for Derived {
    fn dimension(&self) -> usize {
        self.blocks.iter().map(Block::len).sum()
    }

    fn value(&mut self, x: &[f64]) -> Result<f64, OptimError> {
        self.load(x);
        Ok(self.value_plan.run(&self.values)?[0][(0, 0)])
    }

    fn value_and_gradient(&mut self, x: &[f64]) -> Result<(f64, Vec<f64>), OptimError> {
        self.load(x);
        let out = self.gradient_plan.run(&self.values)?;
        Ok((out[0][(0, 0)], stack(&self.blocks, &out[1..], |v| v)))
    }

    fn hessian_vector(&mut self, x: &[f64], v: &[f64]) -> Result<Vec<f64>, OptimError> {
        assert_eq!(v.len(), self.dimension(), "one entry per unknown");
        if self.route == HvpRoute::Derived && self.hvp.is_some() {
            self.load(x);
            let (plan, directions) = self.hvp.as_mut().expect("checked");
            for (b, direction) in self.blocks.iter().zip(directions.iter()) {
                let m = self.values.get_mut(direction).expect("present");
                for j in 0..b.cols {
                    for i in 0..b.rows {
                        m[(i, j)] = v[b.offset + j * b.rows + i];
                    }
                }
            }
            return Ok(stack(&self.blocks, &plan.run(&self.values)?, |v| v));
        }
        let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
        if norm == 0.0 {
            return Ok(vec![0.0; v.len()]);
        }
        // A unit direction: the imaginary part neither underflows nor loses the h^2 term.
        let h = COMPLEX_STEP / norm;
        for b in &self.blocks {
            let m = self.complex.get_mut(&b.name).expect("present");
            for j in 0..b.cols {
                for i in 0..b.rows {
                    let k = b.offset + j * b.rows + i;
                    m[(i, j)] = Complex::new(x[k], h * v[k]);
                }
            }
        }
        let out = self.complex_gradient_plan.run(&self.complex)?;
        Ok(stack(&self.blocks, &out, |z| z.im / h))
    }
}

/// The matrices of the blocks stacked column by column into one vector, each entry mapped.
fn stack<T: Copy>(blocks: &[Block], matrices: &[Mat<T>], entry: impl Fn(T) -> f64) -> Vec<f64> {
    let mut x = vec![0.0; blocks.iter().map(Block::len).sum()];
    for (b, m) in blocks.iter().zip(matrices) {
        for j in 0..b.cols {
            for i in 0..b.rows {
                x[b.offset + j * b.rows + i] = entry(m[(i, j)]);
            }
        }
    }
    x
}
