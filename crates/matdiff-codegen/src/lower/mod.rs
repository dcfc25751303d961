//! Lowering: a function and its gradients (DAG nodes of one pool) into a [`Program`] of
//! temporaries that every target prints.
//!
//! What is decided here, once for all targets: which nodes become temporaries (the shared ones,
//! the named ones and every matrix operation), the order of each matrix product (by a cost model
//! over symbolic sizes), solves instead of inverses in products, traces of products as sums of
//! element-wise products, `sigmoid'` and `tanh'` written through an existing `sigmoid`/`tanh`.

use std::collections::{HashMap, HashSet};

use matdiff_expr::{DimVar, ExprId, ExprPool, Func, Printer, Style};

use crate::CodegenError;

mod analysis;
mod nodes;
mod products;
mod vec_ops;

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
    /// A product of sizes (`Program::products`), for a product dimension (`m*p`).
    Prod(usize),
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
    /// `kron(a, b)`.
    Kron(Operand, Operand),
    /// `vec(a)`: the columns stacked.
    Vec(Operand),
    /// `unvec(a, rows)`: the column as a matrix of `rows` rows.
    Unvec(Operand, Size),
    /// `commutation(m, n)`.
    Commutation(Size, Size),
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
            Op::Solve { a, b } | Op::TraceProduct(a, b) | Op::Kron(a, b) => {
                out.extend([a.slot, b.slot])
            }
            Op::Vec(a) | Op::Unvec(a, _) => out.push(a.slot),
            Op::Commutation(..) => {}
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
    /// The factors of each `Size::Prod`.
    pub(crate) products: Vec<Vec<Size>>,
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
    /// The factors of each `Size::Prod` made (`Program::products` at the end).
    size_products: std::cell::RefCell<Vec<Vec<Size>>>,
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
            products: Vec::new(),
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
        size_products: Default::default(),
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
    l.program.products = l.size_products.take();
    Ok(l.program)
}

enum Lowered {
    Ew(Ew),
    Slot(Slot),
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
