//! Shape inference by unification over the syntax tree, then lowering into the pool.

use crate::fxhash::FxHashMap as HashMap;
use std::ops::Range;

use crate::error::ParseError;
use crate::lexer::Span;
use crate::names::NameTable;
use crate::node::Symbol;
use crate::node::{Dim, DimVar, ExprId, Num};
use crate::parser::{Ast, AstKind};
use crate::pool::{ExprPool, Structure};

mod dims;
mod lower;
mod shapes;

/// A parsed expression: its root and the names of its `where` bindings (in the order written).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expr {
    /// The expression, with every binding substituted.
    pub root: ExprId,
    /// The `where` bindings: each name with the node it stands for.
    pub bindings: Vec<(String, ExprId)>,
}

/// What a class of equal dimensions is bound to: a size, or a user's named dimension.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum DimValue {
    Known(u64),
    Rigid(DimVar),
}

/// Union-find over dimension variables.
#[derive(Default)]
pub(crate) struct Dims {
    parent: Vec<u32>,
    /// An upper bound of the height of each root's tree.
    rank: Vec<u8>,
    val: Vec<Option<DimValue>>,
    nonunit: Vec<bool>,
    rigid: HashMap<DimVar, u32>,
    /// Product dimensions: `elem = factors[0] * factors[1]`, with the place that made them.
    products: Vec<Product>,
    /// The element of the number 1, shared by every scalar and every vector's columns (a
    /// long input has hundreds of thousands).
    one: Option<u32>,
}

/// One product dimension of the union-find: its element, its two factors, where it was made.
#[derive(Clone)]
struct Product {
    elem: u32,
    factors: [u32; 2],
    span: Range<usize>,
}

type TShape = (u32, u32);

/// Names free dimensions on demand for messages (`m`, `n`, ... not used by the pool).
struct Namer<'a> {
    pool: &'a ExprPool,
    names: HashMap<u32, String>,
    /// Classes whose product is being written out: named, not expanded again (`m = m*p`).
    expanding: Vec<u32>,
}

/// The default shape of a new name: a scalar for Greek names, a matrix for capitalised names, a
/// column vector otherwise.
pub(crate) fn is_greek(name: &str) -> bool {
    const GREEK: [&str; 24] = [
        "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
        "lambda", "mu", "nu", "xi", "omicron", "pi", "rho", "sigma", "tau", "upsilon", "phi",
        "chi", "psi", "omega",
    ];
    let first = name.chars().next().unwrap_or('a');
    let base = name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '_');
    ('\u{370}'..='\u{3ff}').contains(&first) || GREEK.contains(&base)
}

pub(crate) struct Inference<'p> {
    pub(crate) pool: &'p mut ExprPool,
    dims: Dims,
    /// The names of the variables of this expression, numbered in first-use order.
    var_names: NameTable,
    /// The shape of each variable, and where it is first used.
    vars: Vec<(TShape, Span)>,
    /// The symbol of each variable (by its index in `vars`), once declared in the pool.
    var_symbols: Vec<Symbol>,
    functions: HashMap<String, Range<usize>>,
    bindings: HashMap<String, TShape>,
    symmetric: Vec<String>,
    /// Declared structures (`diagonal`, `spd`), applied once the variables are in the pool.
    structures: Vec<(String, Structure, Range<usize>)>,
    /// The dimension of every `I` and `ones` that no variable constrains, once there is one.
    free_dim: Option<Dim>,
}

impl<'p> Inference<'p> {
    pub(crate) fn new(pool: &'p mut ExprPool) -> Inference<'p> {
        Inference {
            pool,
            dims: Dims::with_capacity(16),
            vars: Vec::new(),
            // Room for a short input's names: growing the index from empty rehashes it.
            var_names: NameTable::with_capacity(8),
            var_symbols: Vec::new(),
            functions: HashMap::default(),
            bindings: HashMap::default(),
            symmetric: Vec::new(),
            structures: Vec::new(),
            free_dim: None,
        }
    }

    fn err(&mut self, msg: String, span: Range<usize>) -> ParseError {
        ParseError::new(msg, span)
    }

    fn shape_msg(&mut self, shapes: &[TShape]) -> Vec<String> {
        self.describe(shapes, &[]).0
    }

    /// Shapes and dimensions as text, free dimensions named consistently across both.
    fn describe(&mut self, shapes: &[TShape], dims: &[u32]) -> (Vec<String>, Vec<String>) {
        let mut namer = Namer {
            pool: self.pool,
            names: HashMap::default(),
            expanding: Vec::new(),
        };
        let s = shapes
            .iter()
            .map(|&s| namer.shape(&mut self.dims, s))
            .collect();
        let d = dims.iter().map(|&d| namer.dim(&mut self.dims, d)).collect();
        (s, d)
    }

    fn var_shape(&mut self, name: &str, span: &Range<usize>) -> Result<TShape, ParseError> {
        let i = self.var_entry(name, span)?;
        Ok(self.vars[i].0)
    }

    /// The index of a variable in `vars`, added with its default shape if new.
    fn var_entry(&mut self, name: &str, span: &Range<usize>) -> Result<usize, ParseError> {
        if let Some(i) = self.var_names.get(name) {
            return Ok(i);
        }
        if self.functions.contains_key(name) {
            return Err(self.err(
                format!("'{name}' is used both as a function and as a variable"),
                span.clone(),
            ));
        }
        let sym = self.pool.find_symbol(name);
        if sym.is_some_and(|s| self.pool.is_function(s)) {
            return Err(self.err(
                format!("'{name}' is used both as a function and as a variable"),
                span.clone(),
            ));
        }
        let shape = match sym.and_then(|s| self.pool.var_info(s)) {
            Some(info) => self.dims.elems_of_shape(self.pool, info.shape),
            None => {
                let first = name.chars().next().unwrap_or('a');
                if is_greek(name) {
                    let one = self.dims.known(1);
                    (one, one)
                } else if first.is_uppercase() {
                    (self.dims.fresh(), self.dims.fresh())
                } else {
                    (self.dims.fresh(), self.dims.known(1))
                }
            }
        };
        let i = self.var_names.intern(name);
        self.vars.push((shape, span.clone().into()));
        Ok(i)
    }
}

const SIZE_MESSAGE: &str =
    "a size is a whole number, rows(E) or cols(E): ones(3), eye(rows(A)), ones(cols(X))";

fn integer_literal(ast: &Ast) -> Option<i64> {
    match &ast.kind {
        AstKind::Num(v) => Num::new(*v)?.as_integer(),
        AstKind::Neg(a) => integer_literal(a).map(|k| -k),
        _ => None,
    }
}
