//! Compiling expression DAGs into plans ([`Plan`]): roles of nodes, fusion, product chains.

use std::collections::HashMap;

use faer::{Mat, MatRef, Par};
use matdiff_expr::{Dim, ExprId, ExprPool, Fun, Node, Reduce, Symbol};

use crate::error::EvalError;
use crate::exec::{self, Alpha, Ctx, Instr, KOp, Kernel, Leaf, LeafKind, Opnd, Sink, Src};
use crate::functions::{Functions, ScalarFn};
use crate::scalar::Scalar;
use crate::values::{Inputs, Sizes, Values};

mod chains;
mod distribute;
mod emit;
mod fuse;
mod inputs;
mod kernels;
mod roles;
mod vec_ops;

use inputs::{check_input, find_non_finite, view_finite};

/// Options of [`Plan::compile_with`].
#[derive(Clone, Debug)]
pub struct Options<T> {
    threads: usize,
    functions: Functions<T>,
}

impl<T: 'static> Default for Options<T> {
    fn default() -> Self {
        Options {
            threads: 0,
            functions: Functions::new(),
        }
    }
}

impl<T: 'static> Options<T> {
    /// All cores, no abstract function defined.
    pub fn new() -> Options<T> {
        Options::default()
    }

    /// The number of threads of matrix products and of large element-wise kernels (0: all
    /// cores, 1: sequential); without the `rayon` feature both are always sequential.
    pub fn threads(mut self, threads: usize) -> Options<T> {
        self.threads = threads;
        self
    }

    /// Numeric definitions of the abstract functions.
    pub fn functions(mut self, functions: Functions<T>) -> Options<T> {
        self.functions = functions;
        self
    }
}

/// What a plan costs, counted when it is compiled.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct PlanStats {
    /// Floating-point operations of one run (a multiply-add counts 2; a function call 1).
    pub flops: u64,
    /// The part of `flops` spent in dense matrix products.
    pub matmul_flops: u64,
    /// Dense matrix products.
    pub matmuls: usize,
    /// Fused element-wise passes.
    pub kernels: usize,
    /// Matrices and scalars read by the element-wise passes (each once per pass).
    pub kernel_inputs: usize,
    /// LU factorisations (each inverted matrix once).
    pub factorizations: usize,
    /// Triangular solves standing for `inv(A)*B` or `B*inv(A)`.
    pub solves: usize,
    /// Buffers after reuse.
    pub buffers: usize,
    /// Instructions.
    pub instructions: usize,
}

/// A compiled evaluation of one or more expressions of a pool at fixed sizes: compile once, run
/// many times on new values.
///
/// Shared subexpressions are computed once, product chains run in the cheapest order for the
/// sizes (`A*B*x` never forms `A*B`), element-wise work is fused into single passes,
/// `ones`, `I`, `diag` and scalar broadcasts are not materialised where the consumer can do
/// without, `inv(A)*B` is a solve, and buffers are reused from run to run.
///
/// ```
/// use faer::Mat;
/// use matdiff_expr::ExprPool;
/// use matdiff_faer::{Plan, Sizes, Values};
/// let mut pool = ExprPool::new();
/// let f = pool.parse("tr(Y'*M*Y) where Y = sigmoid(W*X)").unwrap();
/// let g = pool.parse("W'*((2*M*Y) .* sigmoid'(W*X)) where Y = sigmoid(W*X)").unwrap();
/// let values = Values::new()
///     .with("W", Mat::from_fn(3, 2, |i, j| (i + j) as f64 / 4.0))
///     .with("X", Mat::from_fn(2, 5, |i, j| i as f64 - j as f64 / 3.0))
///     .with("M", Mat::identity(3, 3));
/// let sizes = Sizes::from_values(&pool, &values).unwrap();
/// let mut plan = Plan::<f64>::compile(&pool, &[f.root, g.root], &sizes).unwrap();
/// let out = plan.run(&values).unwrap();
/// // The gradient has the shape of X.
/// assert_eq!((out[1].nrows(), out[1].ncols()), (2, 5));
/// ```
pub struct Plan<T: Scalar> {
    instrs: Vec<Instr<T>>,
    inputs: Vec<InputSpec>,
    outputs: Vec<(Opnd, bool)>,
    slots: Vec<Mat<T>>,
    lus: Vec<Option<crate::factor::Factor<T>>>,
    regs: Vec<T>,
    functions: Vec<ScalarFn<T>>,
    descs: Vec<String>,
    par: Par,
    stats: PlanStats,
}

impl<T: Scalar> std::fmt::Debug for Plan<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plan")
            .field("instructions", &self.instrs)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Debug)]
struct InputSpec {
    name: String,
    rows: usize,
    cols: usize,
    symmetric: bool,
}

impl<T: Scalar> Plan<T> {
    /// Compiles the roots with the default [`Options`].
    pub fn compile(pool: &ExprPool, roots: &[ExprId], sizes: &Sizes) -> Result<Plan<T>, EvalError> {
        Plan::compile_with(pool, roots, sizes, &Options::new())
    }

    /// Compiles the roots (evaluated together, sharing work) at the given sizes.
    pub fn compile_with(
        pool: &ExprPool,
        roots: &[ExprId],
        sizes: &Sizes,
        options: &Options<T>,
    ) -> Result<Plan<T>, EvalError> {
        let distributed = distribute::distribute(pool, roots, sizes);
        let (pool, roots) = match &distributed {
            Some((pool, roots)) => (pool, roots.as_slice()),
            None => (pool, roots),
        };
        let mut c = Compiler::new(pool, roots, sizes, options)?;
        c.assign_roles();
        c.emit()?;
        Ok(c.finish())
    }

    /// What one run costs.
    pub fn stats(&self) -> PlanStats {
        self.stats
    }

    /// Evaluates the roots at the values (every variable of the roots needs one, of the sizes
    /// the plan was compiled for). Returns one matrix per root, in order.
    ///
    /// A non-finite input is an error that names it, found when the run fails or gives a
    /// non-finite output (a NaN propagates), so that valid runs do not pay a pass over every
    /// input.
    pub fn run(&mut self, values: &Values<T>) -> Result<Vec<Mat<T>>, EvalError> {
        let mut outputs = Vec::new();
        self.evaluate(values, &mut outputs, true)?;
        Ok(outputs)
    }

    /// Evaluates the roots into `outputs` (one matrix per root, in order), reusing their memory:
    /// a root computed in a buffer of its own is swapped with the caller's matrix, which the
    /// next run writes into when its shape fits, so a run in a loop allocates nothing. Inputs
    /// are read from any [`Inputs`], such as a slice of borrowed matrices. For speed in loops it
    /// does not scan the outputs: a non-finite input that gives non-finite outputs without
    /// failing the run is not reported (a training loop watches its loss instead).
    ///
    /// ```
    /// use faer::mat;
    /// use matdiff_expr::ExprPool;
    /// use matdiff_faer::{Plan, Sizes, Values};
    /// let mut pool = ExprPool::new();
    /// let e = pool.parse("A*B + A").unwrap();
    /// let (a, b) = (mat![[1.0, 2.0], [3.0, 4.0]], mat![[1.0, 0.0], [0.0, 1.0]]);
    /// let values = Values::new().with("A", a.clone()).with("B", b.clone());
    /// let mut plan = Plan::<f64>::compile(&pool, &[e.root], &Sizes::from_values(&pool, &values)?)?;
    /// let mut outputs = Vec::new();
    /// plan.run_into(&[("A", a.as_ref()), ("B", b.as_ref())][..], &mut outputs)?;
    /// assert_eq!(outputs[0], mat![[2.0, 4.0], [6.0, 8.0]]);
    /// # Ok::<(), matdiff_faer::EvalError>(())
    /// ```
    pub fn run_into<I: Inputs<T> + ?Sized>(
        &mut self,
        values: &I,
        results: &mut Vec<Mat<T>>,
    ) -> Result<(), EvalError> {
        self.evaluate(values, results, false)
    }

    /// [`run_into`](Self::run_into), scanning the outputs for non-finite values when `scan`.
    fn evaluate<I: Inputs<T> + ?Sized>(
        &mut self,
        values: &I,
        results: &mut Vec<Mat<T>>,
        scan: bool,
    ) -> Result<(), EvalError> {
        let Plan {
            instrs,
            inputs,
            outputs,
            slots,
            lus,
            regs,
            functions,
            descs,
            par,
            ..
        } = self;
        let mut views: Vec<MatRef<'_, T>> = Vec::with_capacity(inputs.len());
        for spec in inputs.iter() {
            let v = values
                .input(&spec.name)
                .ok_or_else(|| EvalError::MissingVariable {
                    name: spec.name.clone(),
                })?;
            check_input(spec, v)?;
            views.push(v);
        }
        // Non-finite inputs are looked for when the run fails or gives non-finite outputs (a
        // NaN propagates), so that valid runs do not pay a pass over every input.
        let non_finite_input = |views: &[MatRef<'_, T>]| {
            inputs
                .iter()
                .zip(views)
                .find_map(|(spec, v)| find_non_finite(spec, *v))
        };
        let mut step = || -> Result<(), EvalError> {
            for instr in instrs.iter() {
                if let Instr::Lu { lu, .. } = instr {
                    let cx = Ctx {
                        inputs: &views,
                        slots,
                        lus,
                        functions,
                        descs,
                        par: *par,
                    };
                    let f = exec::run_instr(instr, &cx, &mut Mat::new(), regs)?;
                    lus[*lu] = f;
                    continue;
                }
                let d = instr
                    .dst()
                    .expect("instructions other than LU write a slot");
                let mut out = std::mem::replace(&mut slots[d], Mat::new());
                let second = instr.second_dst();
                let mut out2 = second.map(|s| std::mem::replace(&mut slots[s], Mat::new()));
                let cx = Ctx {
                    inputs: &views,
                    slots,
                    lus,
                    functions,
                    descs,
                    par: *par,
                };
                let r = match (instr, &mut out2) {
                    (Instr::Fused { op, .. }, Some(out2)) => {
                        exec::run_shared_left(op, &cx, &mut out, out2);
                        Ok(None)
                    }
                    _ => exec::run_instr(instr, &cx, &mut out, regs),
                };
                slots[d] = out;
                if let (Some(s), Some(out2)) = (second, out2) {
                    slots[s] = out2;
                }
                r?;
            }
            Ok(())
        };
        if let Err(e) = step() {
            return Err(non_finite_input(&views).unwrap_or(e));
        }
        let cx = Ctx {
            inputs: &views,
            slots,
            lus,
            functions,
            descs,
            par: *par,
        };
        for &(o, _) in outputs.iter().filter(|_| scan) {
            if !view_finite(cx.view(o)) {
                if let Some(e) = non_finite_input(&views) {
                    return Err(e);
                }
            }
        }
        results.resize_with(outputs.len(), Mat::new);
        for (&(o, take), result) in outputs.iter().zip(results.iter_mut()) {
            if !take || !matches!(o.src, Src::Slot(_)) {
                let view = cx.view(o);
                if result.shape() != view.shape() {
                    *result = Mat::zeros(view.nrows(), view.ncols());
                }
                result.copy_from(view);
            }
        }
        for (&(o, take), result) in outputs.iter().zip(results.iter_mut()) {
            if let (true, Src::Slot(s)) = (take, o.src) {
                std::mem::swap(&mut slots[s], result);
            }
        }
        Ok(())
    }
}

// Usage flags that consumers put on a node.
const OPERAND: u8 = 1; // a materialised value
const LEAF: u8 = 2; // an input of an element-wise kernel
const FACTOR: u8 = 4; // a factor of a product chain
const VECTOR: u8 = 8; // a vector of a lazy outer product
const SCALAR: u8 = 16; // a scale factor

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Mode {
    Product,
    Trace,
    Sum,
    Diag,
}

/// The factors of a product after looking through transposes, negations, nested products,
/// inverses and small powers.
#[derive(Clone, Debug, Default)]
struct Expansion {
    /// (base node, transposed, the inverse or power node when inverted).
    factors: Vec<(ExprId, bool, Option<ExprId>)>,
    scalars: Vec<ExprId>,
    /// Runs of factors whose product is 1x1 inside a longer product (`a'*b` in `a'*b*X`).
    scalar_chains: Vec<Expansion>,
    c: f64,
    identity: Option<Dim>,
}

#[derive(Clone, Debug)]
enum Role {
    Plain,
    Inline(usize),
    Kernel,
    KernelInto(Sink),
    Absorbed,
    Chain(Box<Expansion>),
    ReduceChain(Mode, Box<Expansion>),
    FusedReduce(usize),
    LazyOuter,
}

#[derive(Clone, Debug)]
enum FacKind {
    Dense(Opnd),
    Ones,
    Diag(Opnd),
    Inv { lu: usize, t: bool },
}

/// A factor of an expansion: (base node, transposed, the inverse or power node when inverted).
type FKey = (ExprId, bool, Option<ExprId>);

#[derive(Clone, Debug)]
struct Fac {
    kind: FacKind,
    rows: usize,
    cols: usize,
    /// The factor it stands for (`None` for the ones and identities a plan adds).
    key: Option<FKey>,
}

/// The result of the chain dynamic programming.
struct Order {
    cost: Vec<Vec<f64>>,
    split: Vec<Vec<usize>>,
    /// Ranges already computed: (slot, scale).
    reuse: Vec<Vec<Option<(usize, f64)>>>,
}

#[derive(Clone, Debug)]
enum Val {
    Fac(usize),
    Slot(usize),
}

struct Compiler<'a, T: Scalar> {
    pool: &'a ExprPool,
    sizes: &'a Sizes,
    options: &'a Options<T>,
    roots: Vec<ExprId>,
    ids: Vec<ExprId>,
    local: HashMap<ExprId, usize>,
    dims: Vec<(usize, usize)>,
    uses: Vec<u32>,
    consumers: Vec<Vec<usize>>,
    is_root: Vec<bool>,
    flags: Vec<u8>,
    role: Vec<Role>,
    // Emission.
    slot_of: Vec<Option<usize>>,
    slot_dims: Vec<(usize, usize)>,
    inputs: Vec<InputSpec>,
    input_of: HashMap<Symbol, usize>,
    instrs: Vec<Instr<T>>,
    lu_of: HashMap<ExprId, usize>,
    functions: Vec<ScalarFn<T>>,
    fn_of: HashMap<(Symbol, u8), usize>,
    descs: Vec<String>,
    desc_of: HashMap<ExprId, u32>,
    tree_sizes: HashMap<ExprId, u64>,
    /// Products already computed: factors to (slot, the constant they are scaled by).
    products: HashMap<Vec<FKey>, (usize, f64)>,
    /// The constant that reused products of the chain being emitted must be divided by.
    chain_scale: f64,
    stats: PlanStats,
}
