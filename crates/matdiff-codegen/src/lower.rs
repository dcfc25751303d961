//! Lowering: a function and its gradients (DAG nodes of one pool) into a [`Program`] of
//! temporaries that every target prints.
//!
//! What is decided here, once for all targets: which nodes become temporaries (the shared ones,
//! the named ones and every matrix operation), the order of each matrix product (by a cost model
//! over symbolic sizes), solves instead of inverses in products, traces of products as sums of
//! element-wise products, `sigmoid'` and `tanh'` written through an existing `sigmoid`/`tanh`.

use std::collections::{BTreeMap, HashMap, HashSet};

use matdiff_expr::{Dim, DimVar, ExprId, ExprPool, Fun, Func, Node, Printer, Reduce, Style};

use crate::CodegenError;

/// Where a value lives: an argument of the function or a temporary.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub(crate) enum Slot {
    Input(usize),
    Temp(usize),
}

/// A size at run time: a number, or an axis of an argument.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub(crate) enum Size {
    Known(u64),
    Axis(usize, u8),
}

/// A scalar, or a matrix (column vectors are n x 1 matrices).
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    Scalar,
    Matrix(Size, Size),
}

/// A matrix operand: a slot, maybe transposed.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub(crate) struct Operand {
    pub(crate) slot: Slot,
    pub(crate) t: bool,
}

/// An element-wise (or scalar) expression, printed inline; scalars broadcast.
#[derive(Clone, Debug)]
pub(crate) enum Ew {
    Leaf(Operand),
    Num(f64),
    Neg(Box<Ew>),
    Add(Vec<Ew>),
    Mul(Vec<Ew>),
    Div(Box<Ew>, Box<Ew>),
    Pow(Box<Ew>, Box<Ew>),
    Fun(Func, u8, Box<Ew>),
    /// An abstract function (an argument of the generated function), by index.
    Abstract(usize, u8, Box<Ew>),
}

/// A reduction of an element-wise expression to a scalar.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub(crate) enum Fold {
    Sum,
    SumAbs,
    /// The square root of the sum of squares.
    Norm2,
    /// The largest entry.
    Max,
    /// The smallest entry.
    Min,
    /// `log(sum(exp(x)))`, with the largest entry shifted out.
    LogSumExp,
}

/// What a temporary computes.
#[derive(Clone, Debug)]
pub(crate) enum Op {
    /// An element-wise or scalar expression, materialised.
    Ew(Ew),
    /// `alpha * a * b`.
    MatMul {
        a: Operand,
        b: Operand,
        alpha: Option<Ew>,
    },
    /// `inv(a) * b`.
    Solve {
        a: Operand,
        b: Operand,
    },
    Inverse(Operand),
    Power(Operand, i64),
    /// A square matrix to an integer power known at run time (`X^k`, `k: integer`).
    PowerBy(Operand, Ew),
    Identity(Size),
    Ones(Size, Size),
    /// A column vector to its diagonal matrix.
    DiagMatrix(Slot),
    /// A square matrix's diagonal, as a column.
    DiagVector(Operand),
    /// `tril(a)` (`true`) or `triu(a)`.
    Triangle(Operand, bool),
    /// The max-shifted `logsumexp` of each column, a row.
    LogSumExpCols(Operand),
    /// `a * ones`: the sums of the rows, a column.
    RowSums(Operand),
    /// `ones' * a`: the sums of the columns, a row.
    ColSums(Operand),
    /// The entry of a 1 x 1 matrix.
    Item(Slot),
    Trace(Operand),
    /// `tr(a * b)`, without the product.
    TraceProduct(Operand, Operand),
    Det(Operand),
    LogDet(Operand),
    /// `log|det(a)|`.
    LogAbsDet(Operand),
    Fold(Fold, Ew),
}

impl Op {
    /// The slots the operation reads.
    pub(crate) fn slots(&self) -> Vec<Slot> {
        fn ew(e: &Ew, out: &mut Vec<Slot>) {
            match e {
                Ew::Leaf(o) => out.push(o.slot),
                Ew::Num(_) => {}
                Ew::Neg(a) | Ew::Fun(_, _, a) | Ew::Abstract(_, _, a) => ew(a, out),
                Ew::Add(xs) | Ew::Mul(xs) => xs.iter().for_each(|x| ew(x, out)),
                Ew::Div(a, b) | Ew::Pow(a, b) => {
                    ew(a, out);
                    ew(b, out);
                }
            }
        }
        let mut out = Vec::new();
        match self {
            Op::Ew(e) | Op::Fold(_, e) => ew(e, &mut out),
            Op::PowerBy(a, e) => {
                out.push(a.slot);
                ew(e, &mut out);
            }
            Op::MatMul { a, b, alpha } => {
                out.extend([a.slot, b.slot]);
                if let Some(al) = alpha {
                    ew(al, &mut out);
                }
            }
            Op::Solve { a, b } | Op::TraceProduct(a, b) => out.extend([a.slot, b.slot]),
            Op::Inverse(a)
            | Op::Power(a, _)
            | Op::DiagVector(a)
            | Op::Triangle(a, _)
            | Op::LogSumExpCols(a)
            | Op::RowSums(a)
            | Op::ColSums(a)
            | Op::Trace(a)
            | Op::Det(a)
            | Op::LogDet(a)
            | Op::LogAbsDet(a) => out.push(a.slot),
            Op::DiagMatrix(s) | Op::Item(s) => out.push(*s),
            Op::Identity(_) | Op::Ones(..) => {}
        }
        out
    }
}

/// A temporary: its name, kind and operation.
#[derive(Clone, Debug)]
pub(crate) struct Temp {
    pub(crate) name: String,
    pub(crate) kind: Kind,
    pub(crate) op: Op,
}

/// An argument of the generated function.
#[derive(Clone, Debug)]
pub(crate) struct Input {
    pub(crate) name: String,
    pub(crate) kind: Kind,
    /// The declared shape, as text (`m x n`).
    pub(crate) shape: String,
    /// Declared symmetric.
    pub(crate) symmetric: bool,
    /// Declared diagonal.
    pub(crate) diagonal: bool,
    /// Declared lower or upper triangular.
    pub(crate) triangle: Option<matdiff_expr::Triangle>,
    /// A column vector (n x 1).
    pub(crate) vector: bool,
}

/// One result: the value or a gradient.
#[derive(Clone, Debug)]
pub(crate) struct Output {
    /// `value`, or the variable's name for its gradient.
    pub(crate) name: String,
    pub(crate) slot: Slot,
    /// The formula, as text (plain style).
    pub(crate) formula: String,
}

/// A function and its gradients as a straight-line program of temporaries, which the target
/// printers turn into source code.
#[derive(Clone, Debug)]
pub struct Program {
    pub(crate) inputs: Vec<Input>,
    /// The abstract element-wise functions, with the highest derivative order used.
    pub(crate) functions: Vec<(String, u8)>,
    pub(crate) temps: Vec<Temp>,
    pub(crate) outputs: Vec<Output>,
    /// Every symbolic dimension with its name and where its size is read.
    pub(crate) dims: Vec<(String, Size)>,
}

impl Program {
    /// The value's and the gradients' formulas, one `name = formula` line each.
    pub fn formulas(&self) -> Vec<String> {
        self.outputs
            .iter()
            .map(|o| {
                if o.name == "value" {
                    format!("f = {}", o.formula)
                } else {
                    format!("df/d{} = {}", o.name, o.formula)
                }
            })
            .collect()
    }

    /// The number of matrix products of the program.
    pub fn matmuls(&self) -> usize {
        self.temps
            .iter()
            .filter(|t| matches!(t.op, Op::MatMul { .. }))
            .count()
    }

    pub(crate) fn kind(&self, slot: Slot) -> Kind {
        match slot {
            Slot::Input(k) => self.inputs[k].kind,
            Slot::Temp(k) => self.temps[k].kind,
        }
    }
}

/// Assumed size of a symbolic dimension when ordering products: large, and equal for all.
const SYMBOLIC_SIZE: f64 = 1000.0;

pub(crate) struct Lowering<'p> {
    pool: &'p ExprPool,
    program: Program,
    dims: HashMap<DimVar, Size>,
    inputs: HashMap<ExprId, usize>,
    slots: HashMap<ExprId, Slot>,
    /// Nodes that get a temporary (shared, named or a root).
    keep: HashSet<ExprId>,
    names: HashMap<ExprId, String>,
    /// The matrix-only factor lists of the product nodes, to reuse shared sub-products.
    products: HashMap<Vec<ExprId>, ExprId>,
    /// Nodes of the program, to reuse `sigmoid(Z)` for `sigmoid'(Z)`.
    reachable: HashSet<ExprId>,
    temp_count: usize,
    /// Every operation pushed, by its text, to reuse.
    computed: HashMap<String, Slot>,
}

/// Lowers the function `value` and the `gradients` (each with its variable's name) of one pool;
/// `names` are the `where` bindings to keep as named temporaries.
pub(crate) fn lower(
    pool: &ExprPool,
    value: ExprId,
    gradients: &[(String, ExprId)],
    names: &[(String, ExprId)],
    printer: &Printer<'_>,
    gradient_texts: &[String],
) -> Result<Program, CodegenError> {
    let roots: Vec<ExprId> = std::iter::once(value)
        .chain(gradients.iter().map(|g| g.1))
        .collect();
    let mut l = Lowering {
        pool,
        program: Program {
            inputs: Vec::new(),
            functions: Vec::new(),
            temps: Vec::new(),
            outputs: Vec::new(),
            dims: Vec::new(),
        },
        dims: HashMap::new(),
        inputs: HashMap::new(),
        slots: HashMap::new(),
        keep: HashSet::new(),
        names: HashMap::new(),
        products: HashMap::new(),
        reachable: HashSet::new(),
        temp_count: 0,
        computed: HashMap::new(),
    };
    l.analyse(&roots, names);
    l.declare_inputs(&roots)?;
    let mut outputs = Vec::new();
    let value_text = printer.print(value);
    outputs.push(("value".to_string(), value, value_text));
    for ((name, id), text) in gradients.iter().zip(gradient_texts) {
        outputs.push((name.clone(), *id, text.clone()));
    }
    for (name, id, formula) in outputs {
        let slot = l.materialize(id)?;
        l.program.outputs.push(Output {
            name,
            slot,
            formula,
        });
    }
    l.name_results();
    Ok(l.program)
}

/// The children of a node as the program uses them: `sigmoid'(Z)` and `tanh'(Z)` use
/// `sigmoid(Z)` and `tanh(Z)` where those are part of the program.
fn uses(pool: &ExprPool, id: ExprId, exists: &dyn Fn(&Node) -> Option<ExprId>) -> Vec<ExprId> {
    if let Some(base) = reused_base(pool, id, exists) {
        return vec![base];
    }
    pool.node(id).children().to_vec()
}

/// `sigmoid(Z)` (or `tanh(Z)`) for `sigmoid'(Z)` (`tanh'(Z)`), when it exists.
fn reused_base(
    pool: &ExprPool,
    id: ExprId,
    exists: &dyn Fn(&Node) -> Option<ExprId>,
) -> Option<ExprId> {
    match pool.node(id) {
        Node::Apply {
            fun: Fun::Builtin(f @ (Func::Sigmoid | Func::Tanh)),
            order: 1,
            arg,
        } => exists(&Node::Apply {
            fun: Fun::Builtin(*f),
            order: 0,
            arg: *arg,
        }),
        _ => None,
    }
}

impl Lowering<'_> {
    /// Temporaries that are results get the results' names (`value`, `grad_X`).
    fn name_results(&mut self) {
        let p = &mut self.program;
        for k in 0..p.outputs.len() {
            let Slot::Temp(t) = p.outputs[k].slot else {
                continue;
            };
            let once = p.outputs.iter().filter(|o| o.slot == Slot::Temp(t)).count() == 1;
            let auto = p.temps[t].name.starts_with('t')
                && p.temps[t].name[1..].chars().all(|c| c.is_ascii_digit());
            let name = result_name(&p.outputs[k].name);
            let taken =
                p.inputs.iter().any(|i| i.name == name) || p.temps.iter().any(|x| x.name == name);
            if once && auto && !taken {
                p.temps[t].name = name;
            }
        }
        // The other temporaries numbered in order.
        let mut next = 0;
        for k in 0..p.temps.len() {
            let name = &p.temps[k].name;
            if !(name.starts_with('t') && name[1..].chars().all(|c| c.is_ascii_digit())) {
                continue;
            }
            let fresh = loop {
                next += 1;
                let fresh = format!("t{next}");
                let taken = p.inputs.iter().any(|i| i.name == fresh)
                    || p.functions.iter().any(|f| f.0 == fresh)
                    || p.temps
                        .iter()
                        .any(|x| x.name == fresh && x.name != p.temps[k].name);
                if !taken {
                    break fresh;
                }
            };
            p.temps[k].name = fresh;
        }
    }

    /// Counts uses and finds what is kept as a temporary.
    fn analyse(&mut self, roots: &[ExprId], names: &[(String, ExprId)]) {
        let pool = self.pool;
        // Every node under the roots (by the plain children first).
        let mut stack = roots.to_vec();
        let mut all = HashSet::new();
        while let Some(id) = stack.pop() {
            if all.insert(id) {
                stack.extend_from_slice(pool.node(id).children());
            }
        }
        let index: HashMap<Node, ExprId> =
            all.iter().map(|&id| (pool.node(id).clone(), id)).collect();
        let exists = |n: &Node| index.get(n).copied();
        // Then the nodes the program uses, and how often.
        let mut count: HashMap<ExprId, u32> = HashMap::new();
        let mut seen = HashSet::new();
        let mut stack = roots.to_vec();
        while let Some(id) = stack.pop() {
            if !seen.insert(id) {
                continue;
            }
            for c in uses(pool, id, &exists) {
                *count.entry(c).or_default() += 1;
                stack.push(c);
            }
        }
        self.reachable = seen;
        for (&id, &n) in &count {
            if n >= 2 && !trivial(pool, id) {
                self.keep.insert(id);
            }
        }
        for (name, id) in names {
            if self.reachable.contains(id) && !trivial(pool, *id) {
                self.keep.insert(*id);
                self.names.entry(*id).or_insert_with(|| name.clone());
            }
        }
        for &id in &self.reachable {
            if let Node::Mul(xs) = pool.node(id) {
                if xs.iter().all(|&x| !pool.shape(x).is_scalar()) {
                    self.products.insert(xs.to_vec(), id);
                }
            }
        }
    }

    /// The arguments: every variable, sorted by name, then the abstract functions.
    fn declare_inputs(&mut self, roots: &[ExprId]) -> Result<(), CodegenError> {
        let pool = self.pool;
        let mut vars = BTreeMap::new();
        let mut funs: BTreeMap<String, u8> = BTreeMap::new();
        for &id in &self.reachable {
            match pool.node(id) {
                Node::Var(s) => {
                    vars.insert(pool.name(*s).to_string(), id);
                }
                Node::Apply {
                    fun: Fun::Abstract(s),
                    order,
                    ..
                } => {
                    let e = funs.entry(pool.name(*s).to_string()).or_default();
                    *e = (*e).max(*order);
                }
                _ => {}
            }
        }
        let _ = roots;
        for (name, id) in vars {
            let Node::Var(s) = pool.node(id) else {
                unreachable!("a variable")
            };
            let info = pool.var_info(*s).ok_or_else(|| CodegenError::Unsupported {
                what: format!("'{name}' is not a declared variable"),
            })?;
            let k = self.program.inputs.len();
            let shape = info.shape;
            let kind = if shape.is_scalar() {
                Kind::Scalar
            } else {
                Kind::Matrix(
                    self.size_at(shape.rows, k, 0),
                    self.size_at(shape.cols, k, 1),
                )
            };
            self.program.inputs.push(Input {
                name,
                kind,
                shape: pool.shape_str(shape),
                symmetric: info.symmetric,
                diagonal: info.structure == matdiff_expr::Structure::Diagonal,
                triangle: match info.structure {
                    matdiff_expr::Structure::Lower => Some(matdiff_expr::Triangle::Lower),
                    matdiff_expr::Structure::Upper => Some(matdiff_expr::Triangle::Upper),
                    _ => None,
                },
                vector: shape.cols == Dim::ONE && shape.rows != Dim::ONE,
            });
            self.inputs.insert(id, k);
            self.slots.insert(id, Slot::Input(k));
        }
        self.program.functions = funs.into_iter().collect();
        Ok(())
    }

    /// The size of `dim`, read from axis `axis` of input `k` where it is seen first.
    fn size_at(&mut self, dim: Dim, k: usize, axis: u8) -> Size {
        match dim {
            Dim::Known(n) => Size::Known(n),
            Dim::Sym(v) => *self.dims.entry(v).or_insert_with(|| {
                let size = Size::Axis(k, axis);
                self.program
                    .dims
                    .push((self.pool.dim_name(v).to_string(), size));
                size
            }),
        }
    }

    fn size(&self, dim: Dim) -> Result<Size, CodegenError> {
        match dim {
            Dim::Known(n) => Ok(Size::Known(n)),
            Dim::Sym(v) => self
                .dims
                .get(&v)
                .copied()
                .ok_or_else(|| CodegenError::UnknownSize {
                    dim: self.pool.dim_name(v).to_string(),
                }),
        }
    }

    fn kind_of(&self, id: ExprId) -> Result<Kind, CodegenError> {
        let shape = self.pool.shape(id);
        if shape.is_scalar() {
            Ok(Kind::Scalar)
        } else {
            Ok(Kind::Matrix(self.size(shape.rows)?, self.size(shape.cols)?))
        }
    }

    fn push(&mut self, name: Option<String>, kind: Kind, op: Op) -> Slot {
        // The same operation on the same operands is computed once.
        let key = format!("{kind:?} {op:?}");
        if name.is_none() {
            if let Some(&slot) = self.computed.get(&key) {
                return slot;
            }
        }
        let name = name.unwrap_or_else(|| loop {
            self.temp_count += 1;
            let name = format!("t{}", self.temp_count);
            let taken = self.program.inputs.iter().any(|i| i.name == name)
                || self.names.values().any(|n| *n == name)
                || self.program.functions.iter().any(|f| f.0 == name);
            if !taken {
                break name;
            }
        });
        self.program.temps.push(Temp { name, kind, op });
        let slot = Slot::Temp(self.program.temps.len() - 1);
        self.computed.entry(key).or_insert(slot);
        slot
    }

    /// A temporary (or argument) holding the node's value.
    fn materialize(&mut self, id: ExprId) -> Result<Slot, CodegenError> {
        if let Some(&s) = self.slots.get(&id) {
            return Ok(s);
        }
        let kind = self.kind_of(id)?;
        let name = self.names.get(&id).cloned();
        let slot = match self.lower_node(id)? {
            Lowered::Ew(Ew::Leaf(Operand { slot, t: false })) if name.is_none() => slot,
            Lowered::Ew(ew) => self.push(name, kind, Op::Ew(ew)),
            Lowered::Slot(slot) if name.is_none() => slot,
            Lowered::Slot(slot) => {
                self.push(name, kind, Op::Ew(Ew::Leaf(Operand { slot, t: false })))
            }
        };
        self.slots.insert(id, slot);
        Ok(slot)
    }

    /// The node as an inline element-wise expression (a leaf where it is kept).
    fn ew(&mut self, id: ExprId) -> Result<Ew, CodegenError> {
        if self.keep.contains(&id) || self.slots.contains_key(&id) {
            let slot = self.materialize(id)?;
            return Ok(Ew::Leaf(Operand { slot, t: false }));
        }
        match self.lower_node(id)? {
            Lowered::Ew(e) => Ok(e),
            Lowered::Slot(slot) => {
                self.slots.insert(id, slot);
                Ok(Ew::Leaf(Operand { slot, t: false }))
            }
        }
    }

    /// The node as a matrix operand (a transpose is a flag, not a copy).
    fn operand(&mut self, id: ExprId) -> Result<Operand, CodegenError> {
        if let Node::Transpose(a) = self.pool.node(id) {
            if !self.keep.contains(&id) {
                let o = self.operand(*a)?;
                return Ok(Operand {
                    slot: o.slot,
                    t: !o.t,
                });
            }
        }
        Ok(Operand {
            slot: self.materialize(id)?,
            t: false,
        })
    }

    fn lower_node(&mut self, id: ExprId) -> Result<Lowered, CodegenError> {
        let pool = self.pool;
        let node = pool.node(id).clone();
        let shape = pool.shape(id);
        let ew = |e: Ew| Ok(Lowered::Ew(e));
        match node {
            Node::Var(_) => Ok(Lowered::Slot(self.slots[&id])),
            Node::Num(n) => ew(Ew::Num(n.get())),
            Node::Identity(d) => {
                let n = self.size(d)?;
                self.op(id, Op::Identity(n))
            }
            Node::Ones(d) => {
                let n = self.size(d)?;
                self.op(id, Op::Ones(n, Size::Known(1)))
            }
            Node::Neg(a) => ew(Ew::Neg(Box::new(self.ew(a)?))),
            Node::Add(xs) => ew(Ew::Add(self.ews(&xs)?)),
            Node::Hadamard(xs) => ew(Ew::Mul(self.ews(&xs)?)),
            Node::Div([a, b]) | Node::HDiv([a, b]) => {
                ew(Ew::Div(Box::new(self.ew(a)?), Box::new(self.ew(b)?)))
            }
            Node::HPow([a, b]) => ew(Ew::Pow(Box::new(self.ew(a)?), Box::new(self.ew(b)?))),
            Node::Pow([a, k]) if shape.is_scalar() => {
                ew(Ew::Pow(Box::new(self.ew(a)?), Box::new(self.ew(k)?)))
            }
            Node::Pow([a, k]) if !matches!(pool.node(k), Node::Num(_)) => {
                // An integer symbol (`k: integer`, the parser checked it): read at run time.
                let e = self.ew(k)?;
                let a = self.operand(a)?;
                self.op(id, Op::PowerBy(a, e))
            }
            Node::Pow([a, k]) => {
                let k = match pool.node(k) {
                    Node::Num(n) => n.as_integer(),
                    _ => None,
                }
                .ok_or_else(|| CodegenError::Unsupported {
                    what: format!("a matrix power by a non-integer: {}", pool.plain(id)),
                })?;
                let a = self.operand(a)?;
                match k {
                    1 => Ok(Lowered::Ew(Ew::Leaf(a))),
                    _ => self.op(id, Op::Power(a, k)),
                }
            }
            Node::Transpose(a) => {
                if shape.is_scalar() {
                    return Ok(Lowered::Ew(self.ew(a)?));
                }
                let e = self.ew(a)?;
                ew(transposed(e))
            }
            Node::Apply { fun, order, arg } => {
                if order > 2 {
                    return Err(CodegenError::Unsupported {
                        what: format!("a derivative of order {order}: {}", pool.plain(id)),
                    });
                }
                if let Some(base) = self.reused(id) {
                    let b = self.ew(base)?;
                    return ew(match fun {
                        // sigmoid' = s (1 - s)
                        Fun::Builtin(Func::Sigmoid) => Ew::Mul(vec![
                            b.clone(),
                            Ew::Add(vec![Ew::Num(1.0), Ew::Neg(Box::new(b))]),
                        ]),
                        // tanh' = 1 - t^2
                        _ => Ew::Add(vec![
                            Ew::Num(1.0),
                            Ew::Neg(Box::new(Ew::Mul(vec![b.clone(), b]))),
                        ]),
                    });
                }
                let a = Box::new(self.ew(arg)?);
                match fun {
                    Fun::Builtin(f) => ew(Ew::Fun(f, order, a)),
                    Fun::Abstract(s) => {
                        let name = pool.name(s);
                        let k = self
                            .program
                            .functions
                            .iter()
                            .position(|f| f.0 == name)
                            .expect("declared with the inputs");
                        ew(Ew::Abstract(k, order, a))
                    }
                }
            }
            Node::Reduce(r, a) => {
                let op = match r {
                    Reduce::Trace => return self.trace(id, a),
                    Reduce::Det => Op::Det(self.operand(a)?),
                    Reduce::LogDet => Op::LogDet(self.operand(a)?),
                    Reduce::LogAbsDet => Op::LogAbsDet(self.operand(a)?),
                    Reduce::Sum
                    | Reduce::Norm1
                    | Reduce::Norm2
                    | Reduce::Max
                    | Reduce::Min
                    | Reduce::LogSumExp => {
                        let fold = match r {
                            Reduce::Sum => Fold::Sum,
                            Reduce::Norm1 => Fold::SumAbs,
                            Reduce::Norm2 => Fold::Norm2,
                            Reduce::Max => Fold::Max,
                            Reduce::Min => Fold::Min,
                            _ => Fold::LogSumExp,
                        };
                        let s = pool.shape(a);
                        if s.is_scalar() {
                            let e = self.ew(a)?;
                            return ew(match fold {
                                Fold::SumAbs | Fold::Norm2 => Ew::Fun(Func::Abs, 0, Box::new(e)),
                                _ => e,
                            });
                        }
                        Op::Fold(fold, self.ew(a)?)
                    }
                };
                self.op(id, op)
            }
            Node::Inv(a) => {
                if shape.is_scalar() {
                    return ew(Ew::Div(Box::new(Ew::Num(1.0)), Box::new(self.ew(a)?)));
                }
                let a = self.operand(a)?;
                self.op(id, Op::Inverse(a))
            }
            Node::Diag(a) => {
                let s = pool.shape(a);
                if s.is_scalar() {
                    return Ok(Lowered::Ew(self.ew(a)?));
                }
                if s.cols == Dim::ONE {
                    let v = self.materialize(a)?;
                    self.op(id, Op::DiagMatrix(v))
                } else {
                    let m = self.operand(a)?;
                    self.op(id, Op::DiagVector(m))
                }
            }
            Node::LogSumExpCols(a) => {
                let m = self.operand(a)?;
                self.op(id, Op::LogSumExpCols(m))
            }
            Node::Tri(t, a) => {
                if pool.shape(a).is_scalar() {
                    return Ok(Lowered::Ew(self.ew(a)?));
                }
                let m = self.operand(a)?;
                self.op(id, Op::Triangle(m, t == matdiff_expr::Triangle::Lower))
            }
            Node::Mul(xs) => self.product(id, &xs),
        }
    }

    fn ews(&mut self, xs: &[ExprId]) -> Result<Vec<Ew>, CodegenError> {
        xs.iter().map(|&x| self.ew(x)).collect()
    }

    /// A temporary for `op`, with the node's kind.
    fn op(&mut self, id: ExprId, op: Op) -> Result<Lowered, CodegenError> {
        let kind = self.kind_of(id)?;
        let name = self.names.get(&id).cloned();
        let slot = self.push(name, kind, op);
        self.slots.insert(id, slot);
        Ok(Lowered::Slot(slot))
    }

    fn reused(&self, id: ExprId) -> Option<ExprId> {
        let pool = self.pool;
        let reachable = &self.reachable;
        // Only a base the program computes anyway is reused.
        let find = |n: &Node| reachable.iter().copied().find(|&r| pool.node(r) == n);
        reused_base(pool, id, &find)
    }

    /// The scalar factors and the matrix factors of a product, with shared sub-products
    /// replaced by their nodes.
    fn factors(&self, xs: &[ExprId]) -> (Vec<ExprId>, Vec<ExprId>) {
        let (scalars, mut mats): (Vec<ExprId>, Vec<ExprId>) =
            xs.iter().partition(|&&x| self.pool.shape(x).is_scalar());
        // The longest proper run of factors that the program computes as a product of its own.
        'outer: loop {
            for len in (2..mats.len()).rev() {
                for start in 0..=mats.len() - len {
                    if let Some(&p) = self.products.get(&mats[start..start + len]) {
                        mats.splice(start..start + len, [p]);
                        continue 'outer;
                    }
                }
            }
            break;
        }
        (scalars, mats)
    }

    /// A product: scalars times a matrix chain.
    fn product(&mut self, id: ExprId, xs: &[ExprId]) -> Result<Lowered, CodegenError> {
        let (scalars, mats) = self.factors(xs);
        let mut alpha: Vec<Ew> = scalars
            .iter()
            .map(|&s| self.ew(s))
            .collect::<Result<_, _>>()?;
        if mats.is_empty() {
            return Ok(Lowered::Ew(Ew::Mul(alpha)));
        }
        let scalar_result = self.pool.shape(id).is_scalar();
        let alpha_ew = (!alpha.is_empty() && !scalar_result).then(|| product_of(alpha.clone()));
        let (result, used_alpha) = self.chain(&mats, alpha_ew)?;
        if scalar_result {
            let item = self.push(None, Kind::Scalar, Op::Item(result.slot));
            alpha.push(Ew::Leaf(Operand {
                slot: item,
                t: false,
            }));
            return Ok(Lowered::Ew(product_of(alpha)));
        }
        let leaf = Ew::Leaf(result);
        if used_alpha || alpha.is_empty() {
            if !result.t && matches!(result.slot, Slot::Temp(_)) {
                return Ok(Lowered::Slot(result.slot));
            }
            return Ok(Lowered::Ew(leaf));
        }
        alpha.push(leaf);
        Ok(Lowered::Ew(Ew::Mul(alpha)))
    }

    /// `tr(...)`: of a product without forming it, where it can.
    fn trace(&mut self, id: ExprId, a: ExprId) -> Result<Lowered, CodegenError> {
        let pool = self.pool;
        if let (Node::Mul(xs), false) = (pool.node(a), self.keep.contains(&a)) {
            let xs = xs.to_vec();
            let (scalars, mats) = self.factors(&xs);
            let simple = mats.len() >= 2 && mats.iter().all(|&m| self.plain_factor(m));
            if simple {
                let mut alpha: Vec<Ew> = scalars
                    .iter()
                    .map(|&s| self.ew(s))
                    .collect::<Result<_, _>>()?;
                let split = self.best_split(&mats);
                let (l, _) = self.chain(&mats[..split], None)?;
                let (r, _) = self.chain(&mats[split..], None)?;
                let slot = self.push(None, Kind::Scalar, Op::TraceProduct(l, r));
                alpha.push(Ew::Leaf(Operand { slot, t: false }));
                let _ = id;
                return Ok(Lowered::Ew(product_of(alpha)));
            }
        }
        let o = self.operand(a)?;
        self.op(id, Op::Trace(o))
    }

    /// A factor that is an ordinary matrix (not an inverse, `ones` or `I`).
    fn plain_factor(&self, id: ExprId) -> bool {
        let pool = self.pool;
        let inner = match pool.node(id) {
            Node::Transpose(a) => *a,
            _ => id,
        };
        match pool.node(inner) {
            Node::Inv(_) => false,
            Node::Ones(_) | Node::Identity(_) => self.keep.contains(&inner),
            _ => true,
        }
    }

    /// The product of matrix factors (at least one) as an operand; `alpha` scales the last
    /// product, if there is one (the flag says whether it was used).
    fn chain(
        &mut self,
        mats: &[ExprId],
        alpha: Option<Ew>,
    ) -> Result<(Operand, bool), CodegenError> {
        let pool = self.pool;
        // Identities drop out of products with other factors.
        let kept: Vec<ExprId> = mats
            .iter()
            .copied()
            .filter(|&m| !matches!(pool.node(m), Node::Identity(_)) || self.keep.contains(&m))
            .collect();
        let mats: &[ExprId] = if kept.is_empty() { &mats[..1] } else { &kept };
        if mats.len() == 1 {
            return Ok((self.operand(mats[0])?, false));
        }
        // An inverse in a product is a solve (even where the inverse is shared).
        let unkept = |m: ExprId| !self.keep.contains(&m);
        let inverse = |m: ExprId| -> Option<(ExprId, bool)> {
            match pool.node(m) {
                Node::Inv(a) => Some((*a, false)),
                Node::Transpose(t) if unkept(m) => match pool.node(*t) {
                    Node::Inv(a) => Some((*a, true)),
                    _ => None,
                },
                _ => None,
            }
        };
        if let Some(i) = mats.iter().position(|&m| inverse(m).is_some()) {
            let (a, t) = inverse(mats[i]).expect("an inverse");
            let mut a = self.operand(a)?;
            a.t ^= t;
            let kind = |s: &Self, ids: &[ExprId]| -> Result<Kind, CodegenError> {
                let first = pool.shape(ids[0]);
                let last = pool.shape(*ids.last().expect("a factor"));
                Ok(Kind::Matrix(s.size(first.rows)?, s.size(last.cols)?))
            };
            if i + 1 < mats.len() {
                // inv(A)*B*C: the solve takes the narrowest prefix of the rest as its right-hand
                // side (inv(A)*b*c' solves for b, then forms the outer product).
                let width = |m: ExprId| match pool.shape(m).cols {
                    Dim::Known(k) => k as f64,
                    Dim::Sym(_) => SYMBOLIC_SIZE,
                };
                let mut j = i + 1;
                for k in i + 1..mats.len() {
                    if width(mats[k]) < width(mats[j]) {
                        j = k;
                    }
                }
                let (b, _) = self.chain(&mats[i + 1..=j], None)?;
                let k = kind(self, &mats[i..=j])?;
                let mut mid = Operand {
                    slot: self.push(None, k, Op::Solve { a, b }),
                    t: false,
                };
                let mut alpha = alpha;
                let mut used = false;
                if j + 1 < mats.len() {
                    let (r, _) = self.chain(&mats[j + 1..], None)?;
                    let k = kind(self, &mats[i..])?;
                    let scale = if i == 0 { alpha.take() } else { None };
                    used = scale.is_some();
                    mid = Operand {
                        slot: self.push(
                            None,
                            k,
                            Op::MatMul {
                                a: mid,
                                b: r,
                                alpha: scale,
                            },
                        ),
                        t: false,
                    };
                }
                let (out, used_here) = self.chain_with(&mats[..i], mid, alpha)?;
                return Ok((out, used || used_here));
            }
            // X*inv(A) = (inv(A')*X')'
            let (x, _) = self.chain(&mats[..i], None)?;
            let k = kind(self, mats)?;
            let k = match k {
                Kind::Matrix(r, c) => Kind::Matrix(c, r),
                s => s,
            };
            let s = self.push(
                None,
                k,
                Op::Solve {
                    a: Operand {
                        slot: a.slot,
                        t: !a.t,
                    },
                    b: Operand {
                        slot: x.slot,
                        t: !x.t,
                    },
                },
            );
            return Ok((Operand { slot: s, t: true }, false));
        }
        // `ones` at either end is a sum.
        let is_ones = |m: ExprId| unkept(m) && matches!(pool.node(m), Node::Ones(_));
        let is_ones_row = |m: ExprId| match pool.node(m) {
            Node::Transpose(o) => unkept(m) && is_ones(*o),
            _ => false,
        };
        let last = *mats.last().expect("factors");
        if is_ones(last) {
            let (x, _) = self.chain(&mats[..mats.len() - 1], None)?;
            let k = Kind::Matrix(self.size(pool.shape(mats[0]).rows)?, Size::Known(1));
            let s = self.push(None, k, Op::RowSums(x));
            return Ok((Operand { slot: s, t: false }, false));
        }
        if is_ones_row(mats[0]) {
            let (x, _) = self.chain(&mats[1..], None)?;
            let k = Kind::Matrix(Size::Known(1), self.size(pool.shape(last).cols)?);
            let s = self.push(None, k, Op::ColSums(x));
            return Ok((Operand { slot: s, t: false }, false));
        }
        let split = self.best_split(mats);
        let (l, _) = self.chain(&mats[..split], None)?;
        let (r, _) = self.chain(&mats[split..], None)?;
        let k = Kind::Matrix(
            self.size(pool.shape(mats[0]).rows)?,
            self.size(pool.shape(last).cols)?,
        );
        let used = alpha.is_some();
        let s = self.push(None, k, Op::MatMul { a: l, b: r, alpha });
        Ok((Operand { slot: s, t: false }, used))
    }

    /// `chain(mats) * rest`, `alpha` scaling the last product.
    fn chain_with(
        &mut self,
        mats: &[ExprId],
        rest: Operand,
        alpha: Option<Ew>,
    ) -> Result<(Operand, bool), CodegenError> {
        if mats.is_empty() {
            return Ok((rest, false));
        }
        let (l, _) = self.chain(mats, None)?;
        let pool = self.pool;
        let rows = self.size(pool.shape(mats[0]).rows)?;
        let cols = match self.program.kind(rest.slot) {
            Kind::Matrix(r, c) => {
                if rest.t {
                    r
                } else {
                    c
                }
            }
            Kind::Scalar => Size::Known(1),
        };
        let used = alpha.is_some();
        let s = self.push(
            None,
            Kind::Matrix(rows, cols),
            Op::MatMul {
                a: l,
                b: rest,
                alpha,
            },
        );
        Ok((Operand { slot: s, t: false }, used))
    }

    /// Where to split a chain for the cheapest product (by dynamic programming over the sizes,
    /// symbolic sizes counted as [`SYMBOLIC_SIZE`]).
    fn best_split(&self, mats: &[ExprId]) -> usize {
        let size = |d: Dim| match d {
            Dim::Known(k) => k as f64,
            Dim::Sym(_) => SYMBOLIC_SIZE,
        };
        let n = mats.len();
        let mut p = vec![size(self.pool.shape(mats[0]).rows)];
        p.extend(mats.iter().map(|&m| size(self.pool.shape(m).cols)));
        let mut cost = vec![vec![0.0f64; n]; n];
        let mut split = vec![vec![0usize; n]; n];
        for len in 2..=n {
            for i in 0..=n - len {
                let j = i + len - 1;
                cost[i][j] = f64::INFINITY;
                for k in i..j {
                    let c = cost[i][k] + cost[k + 1][j] + p[i] * p[k + 1] * p[j + 1];
                    if c < cost[i][j] {
                        cost[i][j] = c;
                        split[i][j] = k + 1;
                    }
                }
            }
        }
        split[0][n - 1]
    }
}

enum Lowered {
    Ew(Ew),
    Slot(Slot),
}

/// Variables, numbers and transposes of variables are never temporaries.
fn trivial(pool: &ExprPool, id: ExprId) -> bool {
    match pool.node(id) {
        Node::Var(_) | Node::Num(_) => true,
        Node::Transpose(a) => matches!(pool.node(*a), Node::Var(_)),
        _ => false,
    }
}

/// The transpose of an element-wise expression: its matrix leaves transposed.
fn transposed(e: Ew) -> Ew {
    let t = |e: Box<Ew>| Box::new(transposed(*e));
    match e {
        Ew::Leaf(o) => Ew::Leaf(Operand {
            slot: o.slot,
            t: !o.t,
        }),
        Ew::Num(n) => Ew::Num(n),
        Ew::Neg(a) => Ew::Neg(t(a)),
        Ew::Add(xs) => Ew::Add(xs.into_iter().map(transposed).collect()),
        Ew::Mul(xs) => Ew::Mul(xs.into_iter().map(transposed).collect()),
        Ew::Div(a, b) => Ew::Div(t(a), t(b)),
        Ew::Pow(a, b) => Ew::Pow(t(a), t(b)),
        Ew::Fun(f, k, a) => Ew::Fun(f, k, t(a)),
        Ew::Abstract(f, k, a) => Ew::Abstract(f, k, t(a)),
    }
}

fn product_of(mut xs: Vec<Ew>) -> Ew {
    if xs.len() == 1 {
        xs.pop().expect("one factor")
    } else {
        Ew::Mul(xs)
    }
}

/// The plain text of the function with the `where` bindings.
pub(crate) fn function_printer<'a>(pool: &'a ExprPool, names: &[(String, ExprId)]) -> Printer<'a> {
    Printer::new(pool, Style::Plain).with_bindings(names)
}

/// The name of a result in generated code: `value`, or `grad_X` for the gradient of `X`.
pub(crate) fn result_name(output: &str) -> String {
    if output == "value" {
        "value".to_string()
    } else {
        format!("grad_{output}")
    }
}
