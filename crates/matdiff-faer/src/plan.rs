//! Compiling expression DAGs into plans ([`Plan`]): roles of nodes, fusion, product chains.

use std::collections::HashMap;

use faer::{Mat, MatRef, Par};
use matdiff_expr::{Dim, ExprId, ExprPool, Fun, Node, Reduce, Symbol};

use crate::error::EvalError;
use crate::exec::{self, Alpha, Ctx, Instr, KOp, Kernel, Leaf, LeafKind, Opnd, Sink, Src};
use crate::functions::{Functions, ScalarFn};
use crate::scalar::Scalar;
use crate::values::{Inputs, Sizes, Values};

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
                let cx = Ctx {
                    inputs: &views,
                    slots,
                    lus,
                    functions,
                    descs,
                    par: *par,
                };
                let r = exec::run_instr(instr, &cx, &mut out, regs);
                slots[d] = out;
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

/// The error for the first non-finite entry of an input, if any.
fn find_non_finite<T: Scalar>(spec: &InputSpec, v: MatRef<'_, T>) -> Option<EvalError> {
    for j in 0..v.ncols() {
        for i in 0..v.nrows() {
            if !v[(i, j)].finite() {
                return Some(EvalError::NonFinite {
                    name: spec.name.clone(),
                    row: i + 1,
                    col: j + 1,
                });
            }
        }
    }
    None
}

/// Whether every entry of a matrix is finite.
fn view_finite<T: Scalar>(v: MatRef<'_, T>) -> bool {
    (0..v.ncols()).all(|j| match v.col(j).try_as_col_major() {
        Some(c) => all_finite(c.as_slice()),
        None => (0..v.nrows()).all(|i| v[(i, j)].finite()),
    })
}

/// Whether every entry is finite, in one pass that vectorises: a comparison per entry folded
/// without early exit (an arithmetic test such as `x * 0` would stall on subnormal gradients).
fn all_finite<T: Scalar>(xs: &[T]) -> bool {
    xs.chunks(256)
        .all(|c| c.iter().fold(true, |ok, &x| ok & x.finite()))
}

// The symmetry check indexes the columns both ways on purpose.
#[allow(clippy::needless_range_loop)]
fn check_input<T: Scalar>(spec: &InputSpec, v: MatRef<'_, T>) -> Result<(), EvalError> {
    if v.nrows() != spec.rows || v.ncols() != spec.cols {
        return Err(EvalError::ShapeMismatch {
            name: spec.name.clone(),
            got: format!("{}x{}", v.nrows(), v.ncols()),
            expected: format!("the plan was compiled for {}x{}", spec.rows, spec.cols),
        });
    }
    if !spec.symmetric {
        return Ok(());
    }
    let cols: Vec<Vec<T>>;
    let slices: Vec<&[T]> = match (0..v.ncols())
        .map(|j| v.col(j).try_as_col_major().map(|c| c.as_slice()))
        .collect::<Option<Vec<_>>>()
    {
        Some(s) => s,
        None => {
            cols = (0..v.ncols())
                .map(|j| (0..v.nrows()).map(|i| v[(i, j)]).collect())
                .collect();
            cols.iter().map(|c| c.as_slice()).collect()
        }
    };
    {
        let scale = slices
            .iter()
            .flat_map(|c| c.iter())
            .fold(0.0f64, |m, x| m.max(x.re().abs()));
        // Blocked, so that reading the transpose stays in cache.
        let n = v.nrows();
        const B: usize = 64;
        for jb in (0..n).step_by(B) {
            for ib in (0..=jb).step_by(B) {
                for j in jb..(jb + B).min(n) {
                    for i in ib..(ib + B).min(j) {
                        if (slices[j][i].re() - slices[i][j].re()).abs() > 1e-12 * scale {
                            return Err(EvalError::NotSymmetric {
                                name: spec.name.clone(),
                                row: i + 1,
                                col: j + 1,
                            });
                        }
                    }
                }
            }
        }
    }
    Ok(())
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

impl<'a, T: Scalar> Compiler<'a, T> {
    fn new(
        pool: &'a ExprPool,
        roots: &[ExprId],
        sizes: &'a Sizes,
        options: &'a Options<T>,
    ) -> Result<Compiler<'a, T>, EvalError> {
        let mut seen: HashMap<ExprId, ()> = HashMap::new();
        let mut stack: Vec<ExprId> = roots.to_vec();
        while let Some(id) = stack.pop() {
            if seen.insert(id, ()).is_none() {
                stack.extend_from_slice(pool.node(id).children());
            }
        }
        let mut ids: Vec<ExprId> = seen.into_keys().collect();
        ids.sort();
        let local: HashMap<ExprId, usize> =
            ids.iter().enumerate().map(|(i, &id)| (id, i)).collect();
        let n = ids.len();
        // Variables first, so that a variable with no value is named as such.
        for &id in &ids {
            if let Node::Var(s) = pool.node(id) {
                let shape = pool.shape(id);
                if sizes.shape(pool, shape).is_err() {
                    return Err(EvalError::MissingVariable {
                        name: pool.name(*s).to_string(),
                    });
                }
            }
        }
        let mut dims = Vec::with_capacity(n);
        for &id in &ids {
            dims.push(sizes.shape(pool, pool.shape(id))?);
        }
        let mut uses = vec![0u32; n];
        let mut consumers = vec![Vec::new(); n];
        for (li, &id) in ids.iter().enumerate() {
            for c in pool.node(id).children() {
                let cl = local[c];
                uses[cl] += 1;
                if consumers[cl].last() != Some(&li) {
                    consumers[cl].push(li);
                }
            }
        }
        let mut is_root = vec![false; n];
        let mut flags = vec![0u8; n];
        for r in roots {
            is_root[local[r]] = true;
            flags[local[r]] |= OPERAND;
        }
        Ok(Compiler {
            pool,
            sizes,
            options,
            roots: roots.to_vec(),
            ids,
            local,
            dims,
            uses,
            consumers,
            is_root,
            flags,
            role: vec![Role::Plain; n],
            slot_of: vec![None; n],
            slot_dims: Vec::new(),
            inputs: Vec::new(),
            input_of: HashMap::new(),
            instrs: Vec::new(),
            lu_of: HashMap::new(),
            functions: Vec::new(),
            fn_of: HashMap::new(),
            descs: Vec::new(),
            desc_of: HashMap::new(),
            tree_sizes: HashMap::new(),
            products: HashMap::new(),
            chain_scale: 1.0,
            stats: PlanStats::default(),
        })
    }

    fn li(&self, id: ExprId) -> usize {
        self.local[&id]
    }

    fn node(&self, li: usize) -> &'a Node {
        self.pool.node(self.ids[li])
    }

    fn scalar_shaped(&self, id: ExprId) -> bool {
        self.pool.shape(id).is_scalar()
    }

    /// Whether a node is computed entry by entry.
    fn is_elementwise(&self, id: ExprId) -> bool {
        match self.pool.node(id) {
            Node::Neg(_)
            | Node::Add(_)
            | Node::Hadamard(_)
            | Node::Div(_)
            | Node::HDiv(_)
            | Node::HPow(_)
            | Node::Apply { .. } => true,
            Node::Pow([a, _]) => self.scalar_shaped(*a),
            Node::Mul(xs) => xs.iter().filter(|x| !self.scalar_shaped(**x)).count() <= 1,
            _ => false,
        }
    }

    /// A product of two or more matrices (not a scaling).
    fn is_chain(&self, id: ExprId) -> bool {
        matches!(self.pool.node(id), Node::Mul(_)) && !self.is_elementwise(id)
    }

    /// `u * v'` with exactly two non-scalar factors, a column and a row.
    fn outer_factors(&self, id: ExprId) -> Option<(ExprId, ExprId)> {
        let Node::Mul(xs) = self.pool.node(id) else {
            return None;
        };
        let m: Vec<ExprId> = xs
            .iter()
            .copied()
            .filter(|&x| !self.scalar_shaped(x))
            .collect();
        if m.len() != 2 {
            return None;
        }
        let (a, b) = (self.pool.shape(m[0]), self.pool.shape(m[1]));
        (a.cols == Dim::ONE && b.rows == Dim::ONE && !self.pool.shape(id).is_scalar())
            .then_some((m[0], m[1]))
    }

    fn absorbable(&self, id: ExprId) -> bool {
        let li = self.li(id);
        self.uses[li] == 1 && !self.is_root[li]
    }

    fn single_use(&self, li: usize) -> bool {
        self.uses[li] == 1 && !self.is_root[li]
    }

    fn strip(&self, mut id: ExprId, mut t: bool) -> (ExprId, bool) {
        while let Node::Transpose(x) = self.pool.node(id) {
            id = *x;
            t = !t;
        }
        (id, t)
    }

    fn expand(&mut self, id: ExprId, t: bool, top: bool, absorb: bool, e: &mut Expansion) {
        if !top && self.scalar_shaped(id) {
            // A 1x1 factor is its own transpose: `2'` is the number 2.
            let (base, _) = self.strip(id, t);
            match self.pool.node(base) {
                Node::Num(v) => e.c *= v.get(),
                _ => e.scalars.push(base),
            }
            return;
        }
        let li = self.li(id);
        match self.pool.node(id) {
            Node::Mul(xs) if top || (absorb && self.absorbable(id)) => {
                if !top {
                    self.role[li] = Role::Absorbed;
                }
                let xs: Vec<ExprId> = if t {
                    xs.iter().rev().copied().collect()
                } else {
                    xs.to_vec()
                };
                for x in xs {
                    self.expand(x, t, false, true, e);
                }
            }
            Node::Transpose(x) => {
                let a = absorb && self.absorbable(id);
                if a {
                    self.role[li] = Role::Absorbed;
                }
                self.expand(*x, !t, false, a, e);
            }
            Node::Neg(x) if absorb && self.absorbable(id) => {
                self.role[li] = Role::Absorbed;
                e.c = -e.c;
                self.expand(*x, t, false, true, e);
            }
            Node::Identity(d) => e.identity = Some(*d),
            Node::Inv(a) => {
                let (base, bt) = self.strip(*a, t);
                e.factors.push((base, bt, Some(id)));
            }
            Node::Pow([x, k]) if absorb && self.absorbable(id) => {
                let k = match self.pool.node(*k) {
                    Node::Num(n) => n.as_integer().unwrap_or(0),
                    _ => 0,
                };
                if (1..=8).contains(&k.abs()) {
                    self.role[li] = Role::Absorbed;
                    for _ in 0..k.abs() {
                        if k > 0 {
                            self.expand(*x, t, false, true, e);
                        } else {
                            let (base, bt) = self.strip(*x, t);
                            e.factors.push((base, bt, Some(id)));
                        }
                    }
                } else {
                    e.factors.push((id, t, None));
                }
            }
            _ => e.factors.push((id, t, None)),
        }
    }

    /// Expands a chain and puts the usage flags on its factors.
    fn expand_chain(&mut self, id: ExprId) -> Box<Expansion> {
        let mut e = Expansion {
            c: 1.0,
            ..Expansion::default()
        };
        self.expand(id, false, true, true, &mut e);
        // Split off runs whose product is 1x1 and cannot multiply what follows.
        let shape = |&(b, t, _): &(ExprId, bool, Option<ExprId>)| {
            let s = self.pool.shape(b);
            if t {
                s.transposed()
            } else {
                s
            }
        };
        let factors = std::mem::take(&mut e.factors);
        let mut run: Vec<(ExprId, bool, Option<ExprId>)> = Vec::new();
        let mut running = None;
        for f in factors {
            let fs = shape(&f);
            if let Some(r) = running {
                let r: matdiff_expr::Shape = r;
                if r.cols != fs.rows && r.is_scalar() {
                    e.scalar_chains.push(Expansion {
                        factors: std::mem::take(&mut run),
                        c: 1.0,
                        ..Expansion::default()
                    });
                    running = None;
                }
            }
            running = Some(match running {
                None => fs,
                Some(r) => matdiff_expr::Shape::new(r.rows, fs.cols),
            });
            run.push(f);
        }
        e.factors = run;
        let all: Vec<(ExprId, bool, Option<ExprId>)> = e
            .factors
            .iter()
            .chain(e.scalar_chains.iter().flat_map(|c| c.factors.iter()))
            .copied()
            .collect();
        for &(base, _, inv) in &all {
            let bl = self.li(base);
            if inv.is_some() {
                self.flags[bl] |= OPERAND;
            } else if !matches!(self.pool.node(base), Node::Ones(_)) {
                self.flags[bl] |= FACTOR;
            }
        }
        for &s in &e.scalars {
            let sl = self.li(s);
            self.flags[sl] |= SCALAR;
        }
        Box::new(e)
    }

    /// The group a node joins when every consumer is an element-wise node of one kernel.
    fn inline_group(&self, li: usize) -> Option<usize> {
        if self.is_root[li] || self.flags[li] != LEAF {
            return None;
        }
        let mut group = None;
        for &c in &self.consumers[li] {
            let g = match self.role[c] {
                Role::Inline(g) => g,
                Role::Kernel | Role::KernelInto(_) => c,
                _ => return None,
            };
            if group.is_some_and(|x| x != g) {
                return None;
            }
            group = Some(g);
        }
        group
    }

    fn assign_roles(&mut self) {
        for li in (0..self.ids.len()).rev() {
            if matches!(self.role[li], Role::Absorbed) {
                continue;
            }
            let id = self.ids[li];
            let f = self.flags[li];
            let node = self.node(li);
            if self.is_elementwise(id) {
                if !matches!(self.role[li], Role::KernelInto(_)) {
                    self.role[li] = match self.inline_group(li) {
                        Some(g) => Role::Inline(g),
                        None => Role::Kernel,
                    };
                }
                for c in node.children() {
                    let cl = self.li(*c);
                    self.flags[cl] |= LEAF;
                }
                continue;
            }
            match node {
                Node::Mul(_) => {
                    if let (Some((u, v)), true) =
                        (self.outer_factors(id), f == LEAF && !self.is_root[li])
                    {
                        self.role[li] = Role::LazyOuter;
                        for x in [u, v] {
                            let (base, _) = self.strip(x, false);
                            if !matches!(self.pool.node(base), Node::Ones(_)) {
                                let bl = self.li(base);
                                self.flags[bl] |= VECTOR;
                            }
                        }
                        if let Node::Mul(xs) = node {
                            let scalars: Vec<ExprId> = xs
                                .iter()
                                .copied()
                                .filter(|&x| self.scalar_shaped(x))
                                .collect();
                            for x in scalars {
                                let xl = self.li(x);
                                self.flags[xl] |= SCALAR;
                            }
                        }
                    } else {
                        let e = self.expand_chain(id);
                        self.role[li] = Role::Chain(e);
                    }
                }
                Node::Reduce(kind, c) => self.reduce_role(li, Some(*kind), *c),
                Node::Diag(c) => {
                    if self.pool.shape(*c).cols == Dim::ONE {
                        let cl = self.li(*c);
                        self.flags[cl] |= OPERAND;
                    } else {
                        self.reduce_role(li, None, *c);
                    }
                }
                Node::Transpose(x) => {
                    let xl = self.li(*x);
                    self.flags[xl] |= f;
                }
                Node::Inv(a) | Node::Pow([a, _]) | Node::Tri(_, a) | Node::LogSumExpCols(a) => {
                    let al = self.li(*a);
                    self.flags[al] |= OPERAND;
                    // A matrix power by an integer symbol reads its exponent at run time.
                    if let Node::Pow([_, k]) = node {
                        if !matches!(self.pool.node(*k), Node::Num(_)) {
                            let kl = self.li(*k);
                            self.flags[kl] |= OPERAND;
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// Fuses a reduction (`None`: the diagonal) into its argument's kernel or product chain
    /// when it is the argument's only use.
    fn reduce_role(&mut self, li: usize, kind: Option<Reduce>, c: ExprId) {
        let cl = self.li(c);
        let fusable_kernel = matches!(
            kind,
            None | Some(Reduce::Trace | Reduce::Sum | Reduce::Norm1 | Reduce::Norm2)
        );
        if fusable_kernel && self.is_elementwise(c) && self.single_use(cl) {
            let sink = match kind {
                Some(k) => Sink::Reduce(k),
                None => Sink::Diagonal,
            };
            self.role[cl] = Role::KernelInto(sink);
            self.role[li] = Role::FusedReduce(cl);
            return;
        }
        let mode = match kind {
            Some(Reduce::Trace) => Some(Mode::Trace),
            Some(Reduce::Sum) => Some(Mode::Sum),
            None => Some(Mode::Diag),
            _ => None,
        };
        if let Some(mode) = mode {
            if self.is_chain(c) && self.single_use(cl) {
                self.role[cl] = Role::Absorbed;
                let e = self.expand_chain(c);
                self.role[li] = Role::ReduceChain(mode, e);
                return;
            }
        }
        self.flags[cl] |= OPERAND;
    }

    // ----- Emission -----

    fn new_slot(&mut self, dims: (usize, usize)) -> usize {
        self.slot_dims.push(dims);
        self.slot_dims.len() - 1
    }

    fn node_slot(&mut self, li: usize) -> usize {
        let s = self.new_slot(self.dims[li]);
        self.slot_of[li] = Some(s);
        s
    }

    fn tree_size(&mut self, id: ExprId) -> u64 {
        if let Some(&s) = self.tree_sizes.get(&id) {
            return s;
        }
        let mut s = 1u64;
        for &c in self.pool.node(id).children() {
            s = s.saturating_add(self.tree_size(c)).min(1 << 40);
        }
        self.tree_sizes.insert(id, s);
        s
    }

    /// The description of a node in error messages (the plain syntax, or its operator when huge).
    fn desc(&mut self, id: ExprId) -> u32 {
        if let Some(&d) = self.desc_of.get(&id) {
            return d;
        }
        let text = if self.tree_size(id) <= 64 {
            self.pool.plain(id)
        } else {
            let op = match self.pool.node(id) {
                Node::Reduce(r, _) => r.name().to_string(),
                Node::Apply { fun, .. } => self.pool.fun_name(*fun).to_string(),
                Node::Inv(_) => "inv".into(),
                Node::Pow(_) => "^".into(),
                _ => "the expression".into(),
            };
            format!("{op}(...) (a large expression)")
        };
        self.descs.push(text);
        let d = (self.descs.len() - 1) as u32;
        self.desc_of.insert(id, d);
        d
    }

    /// The operand of a materialised node (a variable, a buffer, or a transpose of one).
    fn operand(&mut self, id: ExprId) -> Opnd {
        match self.pool.node(id) {
            Node::Var(s) => {
                let s = *s;
                let k = match self.input_of.get(&s) {
                    Some(&k) => k,
                    None => {
                        let (rows, cols) = self.dims[self.li(id)];
                        let symmetric = self.pool.var_info(s).is_some_and(|i| i.symmetric);
                        self.inputs.push(InputSpec {
                            name: self.pool.name(s).to_string(),
                            rows,
                            cols,
                            symmetric,
                        });
                        self.input_of.insert(s, self.inputs.len() - 1);
                        self.inputs.len() - 1
                    }
                };
                Opnd {
                    src: Src::Input(k),
                    t: false,
                }
            }
            Node::Transpose(x) => self.operand(*x).flip(),
            _ => {
                let li = self.li(id);
                let s = self.slot_of[li].unwrap_or_else(|| {
                    panic!(
                        "node {id:?} ({:?}) is used before it is computed",
                        self.role[li]
                    )
                });
                Opnd {
                    src: Src::Slot(s),
                    t: false,
                }
            }
        }
    }

    fn needs_slot(&self, li: usize) -> bool {
        let f = self.flags[li];
        match self.node(li) {
            Node::Var(_) | Node::Transpose(_) => false,
            Node::Num(_) => f & (OPERAND | FACTOR | VECTOR) != 0,
            Node::Identity(_) => f & (OPERAND | VECTOR | SCALAR) != 0,
            Node::Ones(_) => f & (OPERAND | SCALAR) != 0,
            Node::Diag(v) if self.pool.shape(*v).cols == Dim::ONE => {
                f & (OPERAND | VECTOR | SCALAR) != 0
            }
            Node::Diag(_) if matches!(self.role[li], Role::Plain) => f & !LEAF != 0,
            Node::Inv(_) => f & !FACTOR != 0,
            _ => true,
        }
    }

    fn emit(&mut self) -> Result<(), EvalError> {
        for li in 0..self.ids.len() {
            let id = self.ids[li];
            match self.role[li].clone() {
                Role::Absorbed | Role::Inline(_) | Role::KernelInto(_) | Role::LazyOuter => {}
                Role::Kernel => {
                    let dst = self.node_slot(li);
                    self.emit_kernel(li, Sink::Buffer, dst)?;
                }
                Role::FusedReduce(cl) => {
                    let Role::KernelInto(sink) = self.role[cl] else {
                        unreachable!("a fused reduction has a kernel")
                    };
                    let dst = self.node_slot(li);
                    self.emit_kernel(cl, sink, dst)?;
                }
                Role::Chain(e) => {
                    let dst = self.node_slot(li);
                    self.emit_chain(&e, Mode::Product, dst);
                }
                Role::ReduceChain(mode, e) => {
                    let dst = self.node_slot(li);
                    self.emit_chain(&e, mode, dst);
                }
                Role::Plain => {
                    if self.needs_slot(li) {
                        self.emit_plain(li, id);
                    }
                }
            }
        }
        Ok(())
    }

    fn emit_plain(&mut self, li: usize, id: ExprId) {
        let (rows, cols) = self.dims[li];
        match self.pool.node(id) {
            Node::Num(v) => {
                let dst = self.node_slot(li);
                self.instrs.push(Instr::Fill {
                    dst,
                    rows,
                    cols,
                    value: v.get(),
                });
            }
            Node::Ones(_) => {
                let dst = self.node_slot(li);
                self.instrs.push(Instr::Fill {
                    dst,
                    rows,
                    cols,
                    value: 1.0,
                });
            }
            Node::Identity(_) => {
                let dst = self.node_slot(li);
                self.instrs.push(Instr::Identity {
                    dst,
                    n: rows,
                    alpha: Alpha::one(),
                });
            }
            Node::Diag(v) if self.pool.shape(*v).cols == Dim::ONE => {
                let v = self.operand(*v);
                let dst = self.node_slot(li);
                self.instrs.push(Instr::DiagMat {
                    dst,
                    v,
                    alpha: Alpha::one(),
                });
            }
            Node::Diag(m) => {
                let m = self.operand(*m);
                let dst = self.node_slot(li);
                self.instrs.push(Instr::DiagOf { dst, m });
            }
            Node::LogSumExpCols(m) => {
                let m = self.operand(*m);
                let dst = self.node_slot(li);
                self.instrs.push(Instr::LogSumExpCols { dst, m });
            }
            Node::Tri(t, m) => {
                let m = self.operand(*m);
                let dst = self.node_slot(li);
                let lower = *t == matdiff_expr::Triangle::Lower;
                self.instrs.push(Instr::Tri { dst, m, lower });
            }
            Node::Inv(a) => {
                let (base, t) = self.strip(*a, false);
                let lu = self.lu_for(base, id);
                let dst = self.node_slot(li);
                self.stats.flops += 2 * (rows as u64).pow(3);
                self.instrs.push(Instr::Inverse {
                    dst,
                    lu,
                    t,
                    alpha: Alpha::one(),
                });
            }
            Node::Reduce(kind, c) => {
                let src = self.operand(*c);
                let node = self.desc(id);
                let (r, cc) = self.dims[self.li(*c)];
                self.stats.flops += match kind {
                    Reduce::Det | Reduce::LogDet => 2 * (r as u64).pow(3) / 3,
                    _ => (r * cc) as u64,
                };
                let dst = self.node_slot(li);
                self.instrs.push(Instr::Reduce {
                    dst,
                    kind: *kind,
                    src,
                    node,
                });
            }
            Node::Pow([a, k]) => {
                let exponent = match self.pool.node(*k) {
                    Node::Num(_) => None,
                    _ => Some(self.operand(*k)),
                };
                let k = match self.pool.node(*k) {
                    Node::Num(n) => n.as_integer().unwrap_or(1),
                    _ => 1,
                };
                let a = self.operand(*a);
                let node = self.desc(id);
                let n = rows as u64;
                self.stats.flops +=
                    2 * n * n * n * (64 - k.unsigned_abs().leading_zeros() as u64) * 2;
                let dst = self.node_slot(li);
                self.instrs.push(Instr::MatPow {
                    dst,
                    a,
                    k,
                    exponent,
                    node,
                });
            }
            other => unreachable!("no plain evaluation of {other:?}"),
        }
    }

    fn lu_for(&mut self, base: ExprId, inv_node: ExprId) -> usize {
        if let Some(&k) = self.lu_of.get(&base) {
            return k;
        }
        let a = self.operand(base);
        let node = self.desc(inv_node);
        let k = self.lu_of.len();
        self.lu_of.insert(base, k);
        let n = self.dims[self.li(base)].0 as u64;
        self.stats.flops += 2 * n * n * n / 3;
        self.stats.factorizations += 1;
        self.instrs.push(Instr::Lu { lu: k, a, node });
        k
    }

    // ----- Kernels -----

    fn emit_kernel(&mut self, root: usize, sink: Sink, dst: usize) -> Result<(), EvalError> {
        let mut ops: Vec<KOp<T>> = Vec::new();
        let mut memo: HashMap<usize, usize> = HashMap::new();
        self.kop(root, root, &mut ops, &mut memo)?;
        let (rows, cols) = self.dims[root];
        let work = ops
            .iter()
            .filter(|o| !matches!(o, KOp::Load(_) | KOp::Const(_)))
            .count();
        let entries = match sink {
            Sink::Diagonal | Sink::Reduce(Reduce::Trace) => rows.min(cols),
            _ => rows * cols,
        } as u64;
        self.stats.flops += entries * (work as u64 + u64::from(sink != Sink::Buffer));
        self.stats.kernels += 1;
        self.stats.kernel_inputs += ops
            .iter()
            .filter(|o| {
                matches!(
                    o,
                    KOp::Load(Leaf {
                        kind: LeafKind::Matrix(_) | LeafKind::Scalar(_),
                        ..
                    })
                )
            })
            .count();
        self.instrs.push(Instr::Kernel(Box::new(Kernel {
            ops,
            rows,
            cols,
            sink,
            dst,
        })));
        Ok(())
    }

    fn push(ops: &mut Vec<KOp<T>>, op: KOp<T>) -> usize {
        ops.push(op);
        ops.len() - 1
    }

    /// The register of a node inside the kernel of `group`.
    fn kop(
        &mut self,
        li: usize,
        group: usize,
        ops: &mut Vec<KOp<T>>,
        memo: &mut HashMap<usize, usize>,
    ) -> Result<usize, EvalError> {
        if let Some(&r) = memo.get(&li) {
            return Ok(r);
        }
        let inside = li == group || matches!(self.role[li], Role::Inline(g) if g == group);
        let r = if inside {
            self.kop_node(li, group, ops, memo)?
        } else {
            self.kop_leaf(li, false, ops)
        };
        memo.insert(li, r);
        Ok(r)
    }

    fn kop_node(
        &mut self,
        li: usize,
        group: usize,
        ops: &mut Vec<KOp<T>>,
        memo: &mut HashMap<usize, usize>,
    ) -> Result<usize, EvalError> {
        let id = self.ids[li];
        let mut sub = |this: &mut Self, c: ExprId, ops: &mut Vec<KOp<T>>| {
            let cl = this.li(c);
            this.kop(cl, group, ops, memo)
        };
        Ok(match self.pool.node(id) {
            Node::Neg(a) => {
                let a = sub(self, *a, ops)?;
                Self::push(ops, KOp::Neg(a))
            }
            Node::Add(xs) => {
                let mut acc = sub(self, xs[0], ops)?;
                for &x in &xs[1..] {
                    let xl = self.li(x);
                    let op = match self.pool.node(x) {
                        Node::Neg(y)
                            if matches!(self.role[xl], Role::Inline(g) if g == group)
                                && self.uses[xl] == 1 =>
                        {
                            let y = sub(self, *y, ops)?;
                            KOp::Sub(acc, y)
                        }
                        _ => KOp::Add(acc, sub(self, x, ops)?),
                    };
                    acc = Self::push(ops, op);
                }
                acc
            }
            Node::Hadamard(xs) | Node::Mul(xs) => {
                let mut acc = sub(self, xs[0], ops)?;
                for &x in &xs[1..] {
                    let b = sub(self, x, ops)?;
                    acc = Self::push(ops, KOp::Mul(acc, b));
                }
                acc
            }
            Node::Div([a, b]) | Node::HDiv([a, b]) => {
                let a = sub(self, *a, ops)?;
                let b = sub(self, *b, ops)?;
                Self::push(ops, KOp::Div(a, b))
            }
            Node::HPow([a, p]) | Node::Pow([a, p]) => {
                let base = sub(self, *a, ops)?;
                let int = match self.pool.node(*p) {
                    Node::Num(n) => n.as_integer().filter(|k| k.abs() < 1 << 30),
                    _ => None,
                };
                match int {
                    Some(1) => base,
                    Some(2) => Self::push(ops, KOp::Mul(base, base)),
                    Some(k) => Self::push(ops, KOp::PowInt(base, k as i32)),
                    None => {
                        let e = sub(self, *p, ops)?;
                        let d = self.desc(id);
                        Self::push(ops, KOp::Pow(base, e, d))
                    }
                }
            }
            Node::Apply { fun, order, arg } => {
                let a = sub(self, *arg, ops)?;
                match fun {
                    Fun::Builtin(f) => {
                        let d = self.desc(id);
                        Self::push(ops, KOp::Func(*f, *order, a, d))
                    }
                    Fun::Abstract(s) => {
                        let k = self.function(*s, *order, id)?;
                        Self::push(ops, KOp::Abstract(k, a))
                    }
                }
            }
            other => unreachable!("not element-wise: {other:?}"),
        })
    }

    fn function(&mut self, s: Symbol, order: u8, id: ExprId) -> Result<usize, EvalError> {
        if let Some(&k) = self.fn_of.get(&(s, order)) {
            return Ok(k);
        }
        let name = self.pool.name(s);
        let Some(f) = self.options.functions.get(name, order) else {
            return Err(EvalError::UnboundFunction {
                name: name.to_string(),
                order,
                node: self.pool.plain(id).chars().take(200).collect(),
            });
        };
        self.functions.push(f.clone());
        let k = self.functions.len() - 1;
        self.fn_of.insert((s, order), k);
        Ok(k)
    }

    /// Loads a node computed outside the kernel (or a lazy one) as a kernel input.
    fn kop_leaf(&mut self, li: usize, t: bool, ops: &mut Vec<KOp<T>>) -> usize {
        let id = self.ids[li];
        let load =
            |kind: LeafKind, ops: &mut Vec<KOp<T>>| Self::push(ops, KOp::Load(Leaf { kind, t }));
        if self.slot_of[li].is_none() {
            match self.pool.node(id) {
                Node::Num(v) => return Self::push(ops, KOp::Const(T::from_f64(v.get()))),
                Node::Ones(_) => return Self::push(ops, KOp::Const(T::one())),
                Node::Identity(_) => return load(LeafKind::Identity, ops),
                Node::Transpose(x) => {
                    let xl = self.li(*x);
                    return self.kop_leaf(xl, !t, ops);
                }
                Node::Diag(v) if self.pool.shape(*v).cols == Dim::ONE => {
                    let v = self.operand(*v).src;
                    return load(LeafKind::DiagMat(v), ops);
                }
                Node::Diag(m) => {
                    let m = self.operand(*m).src;
                    return load(LeafKind::DiagOf(m), ops);
                }
                Node::Mul(xs) if matches!(self.role[li], Role::LazyOuter) => {
                    let (u, v) = self.outer_factors(id).expect("a lazy outer product");
                    let vec_src = |this: &mut Self, x: ExprId| {
                        let (base, _) = this.strip(x, false);
                        match this.pool.node(base) {
                            Node::Ones(_) => None,
                            _ => Some(this.operand(base).src),
                        }
                    };
                    let (us, vs) = (vec_src(self, u), vec_src(self, v));
                    let mut r = load(LeafKind::Outer(us, vs), ops);
                    let scalars: Vec<ExprId> = xs
                        .iter()
                        .copied()
                        .filter(|&x| self.scalar_shaped(x))
                        .collect();
                    for x in scalars {
                        let xl = self.li(x);
                        let s = self.kop_leaf(xl, false, ops);
                        r = Self::push(ops, KOp::Mul(r, s));
                    }
                    return r;
                }
                _ => {}
            }
        }
        let o = self.operand(id);
        let (rows, cols) = self.dims[li];
        let kind = if rows == 1 && cols == 1 {
            LeafKind::Scalar(o.src)
        } else {
            LeafKind::Matrix(o.src)
        };
        Self::push(ops, KOp::Load(Leaf { kind, t: t != o.t }))
    }

    // ----- Product chains -----

    fn fac(&mut self, base: ExprId, t: bool, inv: Option<ExprId>) -> Fac {
        let bl = self.li(base);
        let (r, c) = self.dims[bl];
        let (rows, cols) = if t { (c, r) } else { (r, c) };
        let kind = if let Some(inv_node) = inv {
            FacKind::Inv {
                lu: self.lu_for(base, inv_node),
                t,
            }
        } else {
            match self.pool.node(base) {
                Node::Ones(_) if self.slot_of[bl].is_none() => FacKind::Ones,
                Node::Diag(v)
                    if self.slot_of[bl].is_none() && self.pool.shape(*v).cols == Dim::ONE =>
                {
                    FacKind::Diag(self.operand(*v))
                }
                _ => {
                    let o = self.operand(base);
                    FacKind::Dense(if t { o.flip() } else { o })
                }
            }
        };
        Fac {
            kind,
            rows,
            cols,
            key: Some((base, t, inv)),
        }
    }

    fn mul_cost(facs: &[Fac], l: (usize, usize), r: (usize, usize)) -> f64 {
        let (m, k, n) = (
            facs[l.0].rows as f64,
            facs[l.1].cols as f64,
            facs[r.1].cols as f64,
        );
        let single = |(a, b): (usize, usize)| (a == b).then(|| &facs[a].kind);
        match (single(l), single(r)) {
            (Some(FacKind::Inv { .. }), _) => 2.0 * k * k * n,
            (_, Some(FacKind::Inv { .. })) => 2.0 * k * k * m,
            (Some(FacKind::Diag(_)), _) => k * n,
            (_, Some(FacKind::Diag(_))) => m * k,
            (Some(FacKind::Ones), _) => k * n + m * n,
            (_, Some(FacKind::Ones)) => m * k + m * n,
            _ => 2.0 * m * k * n,
        }
    }

    /// The key of the product of factors `i..=j`, when they all stand for factors of the DAG.
    fn range_key(facs: &[Fac], i: usize, j: usize) -> Option<Vec<FKey>> {
        facs[i..=j].iter().map(|f| f.key).collect()
    }

    /// Matrix-chain dynamic programming: the cheapest cost and split of every range, where a
    /// product computed earlier (by another chain of the plan) costs nothing.
    fn chain_order(&self, facs: &[Fac]) -> Order {
        let k = facs.len();
        let mut cost = vec![vec![0.0f64; k]; k];
        let mut split = vec![vec![0usize; k]; k];
        let mut reuse = vec![vec![None; k]; k];
        for len in 2..=k {
            for i in 0..=k - len {
                let j = i + len - 1;
                if let Some(&found) =
                    Self::range_key(facs, i, j).and_then(|key| self.products.get(&key))
                {
                    reuse[i][j] = Some(found);
                    continue;
                }
                let mut best = f64::INFINITY;
                for s in i..j {
                    let c = cost[i][s] + cost[s + 1][j] + Self::mul_cost(facs, (i, s), (s + 1, j));
                    if c < best {
                        best = c;
                        split[i][j] = s;
                    }
                }
                cost[i][j] = best;
            }
        }
        Order { cost, split, reuse }
    }

    fn alpha(&mut self, e: &Expansion) -> Alpha {
        let scalars = e.scalars.clone();
        let mut ops: Vec<Opnd> = scalars.into_iter().map(|s| self.operand(s)).collect();
        for sub in &e.scalar_chains {
            let s = self.new_slot((1, 1));
            self.emit_chain(sub, Mode::Product, s);
            ops.push(Opnd {
                src: Src::Slot(s),
                t: false,
            });
        }
        Alpha {
            c: e.c,
            scalars: ops,
        }
    }

    fn emit_chain(&mut self, e: &Expansion, mode: Mode, dst: usize) {
        let alpha = self.alpha(e);
        let mut facs: Vec<Fac> = e
            .factors
            .iter()
            .map(|&(b, t, inv)| self.fac(b, t, inv))
            .collect();
        if facs.is_empty() {
            // A product of identities.
            let d = e.identity.expect("a product has a matrix factor");
            let n = self.sizes.dim(self.pool, d).unwrap_or(1);
            let s = self.new_slot((n, n));
            self.instrs.push(Instr::Identity {
                dst: s,
                n,
                alpha: Alpha::one(),
            });
            facs.push(Fac {
                kind: FacKind::Dense(Opnd {
                    src: Src::Slot(s),
                    t: false,
                }),
                rows: n,
                cols: n,
                key: None,
            });
        }
        if mode == Mode::Sum {
            let (r, c) = (facs[0].rows, facs[facs.len() - 1].cols);
            facs.insert(
                0,
                Fac {
                    kind: FacKind::Ones,
                    rows: 1,
                    cols: r,
                    key: None,
                },
            );
            facs.push(Fac {
                kind: FacKind::Ones,
                rows: c,
                cols: 1,
                key: None,
            });
        }
        self.finish_chain(facs, mode, dst, alpha)
    }

    fn finish_chain(&mut self, facs: Vec<Fac>, mode: Mode, dst: usize, mut alpha: Alpha) {
        let k = facs.len();
        let order = self.chain_order(&facs);
        let cost = &order.cost;
        self.chain_scale = 1.0;
        match mode {
            Mode::Product | Mode::Sum => {
                self.emit_range(&facs, &order, 0, k - 1, Some((dst, alpha)));
            }
            Mode::Trace | Mode::Diag => {
                let n = facs[0].rows;
                // Either the whole product then its diagonal, or tr(L*R) as a dot product.
                let mut best = (cost[0][k - 1] + n as f64, None);
                for s in 0..k - 1 {
                    let c = cost[0][s] + cost[s + 1][k - 1] + (facs[0].rows * facs[s].cols) as f64;
                    if c < best.0 {
                        best = (c, Some(s));
                    }
                }
                match best.1 {
                    Some(s) => {
                        let l = self.emit_range(&facs, &order, 0, s, None);
                        let r = self.emit_range(&facs, &order, s + 1, k - 1, None);
                        let (l, r) = (self.dense(&facs, l), self.dense(&facs, r));
                        alpha.c *= std::mem::replace(&mut self.chain_scale, 1.0);
                        self.stats.flops += 2 * (facs[0].rows * facs[s].cols) as u64;
                        self.instrs.push(if mode == Mode::Trace {
                            Instr::TraceDot { dst, l, r, alpha }
                        } else {
                            Instr::DiagDot { dst, l, r, alpha }
                        });
                    }
                    None => {
                        let tmp = self.new_slot((n, facs[k - 1].cols));
                        self.emit_range(&facs, &order, 0, k - 1, Some((tmp, alpha)));
                        let m = Opnd {
                            src: Src::Slot(tmp),
                            t: false,
                        };
                        self.instrs.push(if mode == Mode::Trace {
                            Instr::Reduce {
                                dst,
                                kind: Reduce::Trace,
                                src: m,
                                node: 0,
                            }
                        } else {
                            Instr::DiagOf { dst, m }
                        });
                    }
                }
            }
        }
    }

    /// Emits the product of factors `i..=j`; with `out`, into that slot and scaled.
    fn emit_range(
        &mut self,
        facs: &[Fac],
        order: &Order,
        i: usize,
        j: usize,
        out: Option<(usize, Alpha)>,
    ) -> Val {
        if i == j {
            return match out {
                None => Val::Fac(i),
                Some((dst, alpha)) => {
                    self.materialise(&facs[i], dst, alpha);
                    Val::Slot(dst)
                }
            };
        }
        if let Some((slot, c)) = order.reuse[i][j] {
            return match out {
                None => {
                    self.chain_scale /= c;
                    Val::Slot(slot)
                }
                Some((dst, mut alpha)) => {
                    alpha.c *= std::mem::replace(&mut self.chain_scale, 1.0) / c;
                    self.stats.flops += (facs[i].rows * facs[j].cols) as u64;
                    self.instrs.push(Instr::Copy {
                        dst,
                        src: Opnd {
                            src: Src::Slot(slot),
                            t: false,
                        },
                        alpha,
                    });
                    Val::Slot(dst)
                }
            };
        }
        let s = order.split[i][j];
        let before = self.chain_scale;
        let l = self.emit_range(facs, order, i, s, None);
        let r = self.emit_range(facs, order, s + 1, j, None);
        // Reused products inside this range carry their own numbers: `l*r` is the true product
        // divided by `within`.
        let within = self.chain_scale / before;
        let (dst, alpha) = match out {
            Some((d, mut alpha)) => {
                alpha.c *= std::mem::replace(&mut self.chain_scale, 1.0);
                (d, alpha)
            }
            None => (self.new_slot((facs[i].rows, facs[j].cols)), Alpha::one()),
        };
        // `dst` will hold `alpha.c / within` times the true product of the range.
        let c = alpha.c / within;
        let reusable = alpha.scalars.is_empty() && c != 0.0 && c.is_finite();
        if let (Some(key), true) = (Self::range_key(facs, i, j), reusable) {
            self.products.entry(key).or_insert((dst, c));
        }
        self.combine(
            facs,
            l,
            r,
            dst,
            alpha,
            (facs[i].rows, facs[s].cols, facs[j].cols),
        );
        Val::Slot(dst)
    }

    fn combine(
        &mut self,
        facs: &[Fac],
        l: Val,
        r: Val,
        dst: usize,
        alpha: Alpha,
        mkn: (usize, usize, usize),
    ) {
        let (m, k, n) = mkn;
        let kind = |v: &Val| match v {
            Val::Fac(i) => Some(facs[*i].kind.clone()),
            Val::Slot(_) => None,
        };
        let (lk, rk) = (kind(&l), kind(&r));
        let instr = match (lk, rk) {
            (Some(FacKind::Inv { lu, t }), _) => {
                self.stats.solves += 1;
                self.stats.flops += (2 * k * k * n) as u64;
                let rhs = self.dense(facs, r);
                Instr::Solve {
                    dst,
                    lu,
                    t,
                    rhs,
                    alpha,
                }
            }
            (_, Some(FacKind::Inv { lu, t })) => {
                self.stats.solves += 1;
                self.stats.flops += (2 * k * k * m) as u64;
                let lhs = self.dense(facs, l);
                Instr::SolveRight {
                    dst,
                    lu,
                    t,
                    lhs,
                    alpha,
                }
            }
            (Some(FacKind::Diag(d)), _) => {
                self.stats.flops += (k * n) as u64;
                let src = self.dense(facs, r);
                Instr::ScaleRows { dst, d, src, alpha }
            }
            (_, Some(FacKind::Diag(d))) => {
                self.stats.flops += (m * k) as u64;
                let src = self.dense(facs, l);
                Instr::ScaleCols { dst, src, d, alpha }
            }
            (Some(FacKind::Ones), _) => {
                self.stats.flops += (k * n + m * n) as u64;
                let v = self.dense(facs, r);
                if m == 1 {
                    Instr::ColSums { dst, src: v, alpha }
                } else {
                    Instr::Broadcast {
                        dst,
                        v,
                        rows: m,
                        cols: n,
                        by_rows: true,
                        alpha,
                    }
                }
            }
            (_, Some(FacKind::Ones)) => {
                self.stats.flops += (m * k + m * n) as u64;
                let v = self.dense(facs, l);
                if n == 1 {
                    Instr::RowSums { dst, src: v, alpha }
                } else {
                    Instr::Broadcast {
                        dst,
                        v,
                        rows: m,
                        cols: n,
                        by_rows: false,
                        alpha,
                    }
                }
            }
            _ => {
                let f = 2 * (m * k * n) as u64;
                self.stats.flops += f;
                self.stats.matmul_flops += f;
                self.stats.matmuls += 1;
                let lhs = self.dense(facs, l);
                let rhs = self.dense(facs, r);
                Instr::MatMul {
                    dst,
                    lhs,
                    rhs,
                    alpha,
                }
            }
        };
        self.instrs.push(instr);
    }

    /// A dense operand of a chain value, materialising a lazy factor if needed.
    fn dense(&mut self, facs: &[Fac], v: Val) -> Opnd {
        match v {
            Val::Slot(s) => Opnd {
                src: Src::Slot(s),
                t: false,
            },
            Val::Fac(i) => match &facs[i].kind {
                FacKind::Dense(o) => *o,
                _ => {
                    let s = self.new_slot((facs[i].rows, facs[i].cols));
                    self.materialise(&facs[i], s, Alpha::one());
                    Opnd {
                        src: Src::Slot(s),
                        t: false,
                    }
                }
            },
        }
    }

    fn materialise(&mut self, fac: &Fac, dst: usize, alpha: Alpha) {
        let instr = match &fac.kind {
            FacKind::Dense(o) => Instr::Copy {
                dst,
                src: *o,
                alpha,
            },
            FacKind::Ones => {
                if alpha.is_one() {
                    Instr::Fill {
                        dst,
                        rows: fac.rows,
                        cols: fac.cols,
                        value: 1.0,
                    }
                } else {
                    let s = self.new_slot((1, 1));
                    self.instrs.push(Instr::Fill {
                        dst: s,
                        rows: 1,
                        cols: 1,
                        value: 1.0,
                    });
                    Instr::Broadcast {
                        dst,
                        v: Opnd {
                            src: Src::Slot(s),
                            t: false,
                        },
                        rows: fac.rows,
                        cols: fac.cols,
                        by_rows: false,
                        alpha,
                    }
                }
            }
            FacKind::Diag(v) => Instr::DiagMat { dst, v: *v, alpha },
            FacKind::Inv { lu, t } => {
                self.stats.flops += 2 * (fac.rows as u64).pow(3);
                Instr::Inverse {
                    dst,
                    lu: *lu,
                    t: *t,
                    alpha,
                }
            }
        };
        self.instrs.push(instr);
    }

    // ----- Finishing: outputs and buffer reuse -----

    fn finish(mut self) -> Plan<T> {
        let roots = self.roots.clone();
        let outs: Vec<Opnd> = roots.iter().map(|&r| self.operand(r)).collect();
        let nslots = self.slot_dims.len();
        let mut protected = vec![false; nslots];
        let mut count = vec![0usize; nslots];
        for o in &outs {
            if let Src::Slot(s) = o.src {
                protected[s] = true;
                count[s] += 1;
            }
        }
        let mut last_use: Vec<Option<usize>> = vec![None; nslots];
        for (i, ins) in self.instrs.iter_mut().enumerate() {
            for s in ins.operands_mut() {
                if let Src::Slot(k) = *s {
                    last_use[k] = Some(i);
                }
            }
        }
        let mut phys = vec![usize::MAX; nslots];
        let mut phys_dims: Vec<(usize, usize)> = Vec::new();
        let mut free: HashMap<(usize, usize), Vec<usize>> = HashMap::new();
        for (i, ins) in self.instrs.iter_mut().enumerate() {
            let mut reads: Vec<usize> = Vec::new();
            for s in ins.operands_mut() {
                if let Src::Slot(k) = *s {
                    reads.push(k);
                    *s = Src::Slot(phys[k]);
                }
            }
            if let Some(d) = ins.dst_mut() {
                let v = *d;
                let dims = self.slot_dims[v];
                let p = match free.get_mut(&dims).and_then(|f| f.pop()) {
                    Some(p) => p,
                    None => {
                        phys_dims.push(dims);
                        phys_dims.len() - 1
                    }
                };
                phys[v] = p;
                *d = p;
                if last_use[v].is_none() && !protected[v] {
                    free.entry(dims).or_default().push(p);
                }
            }
            reads.sort_unstable();
            reads.dedup();
            for k in reads {
                if last_use[k] == Some(i) && !protected[k] {
                    free.entry(self.slot_dims[k]).or_default().push(phys[k]);
                }
            }
        }
        let outputs = outs
            .iter()
            .map(|o| match o.src {
                Src::Slot(s) => (
                    Opnd {
                        src: Src::Slot(phys[s]),
                        t: o.t,
                    },
                    !o.t && count[s] == 1,
                ),
                Src::Input(_) => (*o, false),
            })
            .collect();
        self.stats.buffers = phys_dims.len();
        self.stats.instructions = self.instrs.len();
        #[cfg(feature = "rayon")]
        let par = match self.options.threads {
            1 => Par::Seq,
            n => Par::rayon(n),
        };
        #[cfg(not(feature = "rayon"))]
        let par = Par::Seq;
        Plan {
            instrs: self.instrs,
            inputs: self.inputs,
            outputs,
            slots: (0..phys_dims.len()).map(|_| Mat::new()).collect(),
            lus: (0..self.lu_of.len()).map(|_| None).collect(),
            regs: Vec::new(),
            functions: self.functions,
            descs: if self.descs.is_empty() {
                vec![String::new()]
            } else {
                self.descs
            },
            par,
            stats: self.stats,
        }
    }
}
