//! The arena with hash-consing: [`ExprPool`].

use std::collections::HashSet;

mod dedup;
mod dims;
mod keyed;
mod shapes;
mod symbols;

use crate::error::ExprError;
use crate::fxhash::FxHashMap;
use crate::ids::Ids;
use crate::names::NameTable;
use crate::node::{Dim, DimProd, DimVar, ExprId, Fun, Node, Num, Reduce, Shape, Symbol};
use dedup::Dedup;
use keyed::Keyed;
use shapes::NodeShapes;
use symbols::SymbolMap;

/// Names of new symbolic dimensions, in order of use (then `m1`, `n1`, ...).
pub(crate) const FRESH_NAMES: [&str; 12] =
    ["m", "n", "p", "q", "r", "s", "t", "u", "v", "k", "l", "h"];

/// Limits that keep hostile input from exhausting time, memory or the stack.
///
/// The defaults are chosen so that parsing, printing and re-parsing any accepted input fit in
/// a 2 MiB thread stack even in an unoptimised build: the parser, shape inference and the
/// printers recurse once per level of nesting.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest accepted source text, in bytes.
    pub max_input_bytes: usize,
    /// Deepest accepted nesting in source text: of parentheses and calls, and the height of the
    /// syntax tree of the expression and of each `where` binding. The plain form of a parsed
    /// expression (printed with its bindings) nests no deeper, so it parses again.
    pub max_nesting: usize,
    /// Greatest height of a node in the pool (a leaf has height 1); `where` bindings and
    /// derivations can build nodes higher than any one parsed syntax tree.
    pub max_height: u32,
    /// Most nodes a pool may hold.
    pub max_nodes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_input_bytes: 256 * 1024,
            max_nesting: 256,
            max_height: 512,
            max_nodes: 2_000_000,
        }
    }
}

/// What the pool knows of a variable.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct VarInfo {
    /// Its shape.
    pub shape: Shape,
    /// Declared symmetric (`--let 'M: symmetric'`, or `spd`).
    pub symmetric: bool,
    /// A structure beyond symmetry (`diagonal`, `spd`).
    pub structure: Structure,
}

/// The structure of a square variable, beyond symmetry: its gradient lives in the structure.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum Structure {
    /// No structure.
    #[default]
    General,
    /// Diagonal (`--let 'D: diagonal'`): the gradient is `I .* G`.
    Diagonal,
    /// Lower triangular (`--let 'L: lower'`): the gradient is `tril(G)`.
    Lower,
    /// Upper triangular (`--let 'U: upper'`): the gradient is `triu(G)`.
    Upper,
    /// Symmetric positive definite (`--let 'S: spd'`): symmetric, drawn positive definite.
    Spd,
    /// An integer scalar (`--let 'k: integer'`): the exponent of a matrix power `X^k`.
    Integer,
}

impl Structure {
    /// Whether entry `(i, j)` of a matrix of this structure may be non-zero (diagonal: on the
    /// diagonal; lower: on or below it; upper: on or above it; the others: everywhere).
    ///
    /// ```
    /// use matdiff_expr::Structure;
    /// assert!(Structure::Lower.allows(2, 1) && !Structure::Lower.allows(1, 2));
    /// assert!(Structure::Upper.allows(1, 2) && !Structure::Diagonal.allows(1, 2));
    /// ```
    pub fn allows(self, i: usize, j: usize) -> bool {
        match self {
            Structure::Diagonal => i == j,
            Structure::Lower => i >= j,
            Structure::Upper => i <= j,
            Structure::General | Structure::Spd | Structure::Integer => true,
        }
    }

    /// The word of a declaration.
    pub fn name(self) -> &'static str {
        match self {
            Structure::General => "general",
            Structure::Diagonal => "diagonal",
            Structure::Lower => "lower",
            Structure::Upper => "upper",
            Structure::Spd => "spd",
            Structure::Integer => "integer",
        }
    }
}

/// An arena of expression nodes with hash-consing: an identical subexpression is one node, so
/// equality of [`ExprId`]s is structural equality. Every node has a checked [`Shape`].
///
/// ```
/// use matdiff_expr::ExprPool;
/// let mut pool = ExprPool::new();
/// let a = pool.parse("tr(A*X*B) + tr(A*X*B)").unwrap();
/// let b = pool.parse("tr(A*X*B)").unwrap();
/// // The two traces are one node: the sum's children are the same id.
/// assert_eq!(pool.node(a.root).children(), &[b.root, b.root]);
/// ```
#[derive(Clone, Debug, Default)]
pub struct ExprPool {
    nodes: Vec<Node>,
    shapes: NodeShapes,
    heights: Vec<u32>,
    /// The number of nodes of the tree under each node (saturating).
    tree_sizes: Vec<u64>,
    dedup: Dedup,
    /// Variables and transposes, found without hashing.
    keyed: Keyed,
    /// Each name once, numbered by its symbol.
    names: NameTable,
    vars: SymbolMap<VarInfo>,
    functions: FxHashMap<Symbol, ()>,
    /// The variables the rewriter made (differentials), see [`ExprPool::mark_internal`].
    internal: FxHashMap<Symbol, ()>,
    dims: Vec<Symbol>,
    dim_ids: FxHashMap<Symbol, DimVar>,
    /// The factors of each product dimension (sorted, numbers first and folded into one).
    products: Vec<Box<[Dim]>>,
    product_ids: FxHashMap<Box<[Dim]>, DimProd>,
    limits: Limits,
    /// Where [`ExprPool::fresh_dim`] looks first.
    next_fresh: usize,
}

impl ExprPool {
    /// An empty pool with the default [`Limits`].
    pub fn new() -> ExprPool {
        ExprPool::with_limits(Limits::default())
    }

    /// An empty pool with the given limits.
    pub fn with_limits(limits: Limits) -> ExprPool {
        // Room for a typical derivation's nodes up front: growing the dedup table from empty
        // rehashes it several times, which costs more than the derivation's own work.
        const NODES: usize = 64;
        // And for its names (variables, differentials, dimensions).
        const NAMES: usize = 16;
        ExprPool {
            limits,
            nodes: Vec::with_capacity(NODES),
            shapes: NodeShapes::with_capacity(NODES),
            heights: Vec::with_capacity(NODES),
            tree_sizes: Vec::with_capacity(NODES),
            names: NameTable::with_capacity(NAMES),
            dedup: Dedup::with_capacity(NODES),
            keyed: Keyed::with_capacity(NAMES, NODES),
            vars: SymbolMap::with_capacity(NAMES),
            ..ExprPool::default()
        }
    }

    /// Makes room for `n` more nodes, `hashed` of them kept by the hash-consing table (not
    /// variables or transposes), so that a long input's parse does not grow the tables.
    pub(crate) fn reserve_nodes(&mut self, n: usize, hashed: usize) {
        self.nodes.reserve(n);
        self.shapes.reserve(n);
        self.heights.reserve(n);
        self.tree_sizes.reserve(n);
        self.dedup.reserve(hashed);
    }

    /// The limits of this pool.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the pool has no node.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The node of an id.
    #[track_caller]
    #[inline]
    pub fn node(&self, id: ExprId) -> &Node {
        &self.nodes[id.index()]
    }

    /// The shape of a node.
    #[track_caller]
    #[inline]
    pub fn shape(&self, id: ExprId) -> Shape {
        self.shapes[id.index()]
    }

    /// The height of the tree under a node (a leaf has height 1).
    #[track_caller]
    #[inline]
    pub fn height(&self, id: ExprId) -> u32 {
        self.heights[id.index()]
    }

    /// The number of nodes of the tree under a node, a shared subtree counted at every
    /// occurrence (saturating at `u64::MAX`).
    ///
    /// ```
    /// use matdiff_expr::ExprPool;
    /// let mut pool = ExprPool::new();
    /// let e = pool.parse("tr(X*X) + tr(X*X)").unwrap();
    /// assert_eq!(pool.tree_size(e.root), 9);
    /// ```
    #[inline]
    pub fn tree_size(&self, id: ExprId) -> u64 {
        self.tree_sizes[id.index()]
    }

    /// Every id of the pool, children before parents.
    pub fn ids(&self) -> impl DoubleEndedIterator<Item = ExprId> + ExactSizeIterator {
        (0..self.nodes.len() as u32).map(ExprId)
    }

    /// The symbol of a name, interning it if new.
    pub fn symbol(&mut self, name: &str) -> Symbol {
        Symbol(self.names.intern(name) as u32)
    }

    /// The symbol of a name, if it was interned.
    pub fn find_symbol(&self, name: &str) -> Option<Symbol> {
        self.names.get(name).map(|i| Symbol(i as u32))
    }

    /// The name of a symbol.
    #[track_caller]
    pub fn name(&self, symbol: Symbol) -> &str {
        self.names.name(symbol.0 as usize)
    }

    /// The symbolic dimension called `name`, created if new.
    pub fn dim_named(&mut self, name: &str) -> DimVar {
        let s = self.symbol(name);
        if let Some(&d) = self.dim_ids.get(&s) {
            return d;
        }
        let d = DimVar(self.dims.len() as u32);
        self.dims.push(s);
        self.dim_ids.insert(s, d);
        d
    }

    /// A new symbolic dimension with a name not used yet (`m`, `n`, `p`, ...).
    pub fn fresh_dim(&mut self) -> DimVar {
        // Candidates before `next_fresh` are taken already: start after them (linear time over
        // many fresh dimensions).
        for k in self.next_fresh.. {
            let (round, base) = (k / FRESH_NAMES.len(), FRESH_NAMES[k % FRESH_NAMES.len()]);
            let name: std::borrow::Cow<str> = if round == 0 {
                base.into()
            } else {
                format!("{base}{round}").into()
            };
            let taken = self
                .find_symbol(&name)
                .is_some_and(|s| self.dim_ids.contains_key(&s) || self.vars.contains_key(&s));
            if !taken {
                self.next_fresh = k + 1;
                return self.dim_named(&name);
            }
        }
        unreachable!("the rounds of dimension names never end")
    }

    /// The first symbolic dimension, in the order of [`ExprPool::fresh_dim`], that no variable's
    /// shape uses (created if new): the dimension of an `I` or `ones` that nothing constrains.
    pub(crate) fn unused_dim(&mut self) -> DimVar {
        let used: HashSet<DimVar> = self
            .vars
            .values()
            .flat_map(|info| [info.shape.rows, info.shape.cols])
            .filter_map(|d| match d {
                Dim::Sym(v) => Some(vec![v]),
                Dim::Prod(_) => Some(
                    self.dim_factors(d)
                        .into_iter()
                        .filter_map(|f| match f {
                            Dim::Sym(v) => Some(v),
                            _ => None,
                        })
                        .collect(),
                ),
                Dim::Known(_) => None,
            })
            .flatten()
            .collect();
        for round in 0.. {
            for base in FRESH_NAMES {
                let name = if round == 0 {
                    base.to_string()
                } else {
                    format!("{base}{round}")
                };
                let free = match self.find_symbol(&name) {
                    None => true,
                    Some(s) => {
                        !self.vars.contains_key(&s)
                            && !self.functions.contains_key(&s)
                            && self.dim_ids.get(&s).is_none_or(|d| !used.contains(d))
                    }
                };
                if free {
                    return self.dim_named(&name);
                }
            }
        }
        unreachable!("the rounds of dimension names never end")
    }

    /// The name of a symbolic dimension.
    pub fn dim_name(&self, dim: DimVar) -> &str {
        self.name(self.dims[dim.index()])
    }

    /// A dimension as text: `3`, `n` or `m*p`.
    pub fn dim_str(&self, dim: Dim) -> String {
        match dim {
            Dim::Known(k) => k.to_string(),
            Dim::Sym(d) => self.dim_name(d).to_string(),
            Dim::Prod(_) => self
                .dim_factors(dim)
                .iter()
                .map(|&f| self.dim_str(f))
                .collect::<Vec<_>>()
                .join("*"),
        }
    }

    /// The factors of a dimension: a product's (numbers first, then symbolic dimensions in
    /// order), or the dimension itself.
    pub fn dim_factors(&self, dim: Dim) -> Vec<Dim> {
        match dim {
            Dim::Prod(p) => self.products[p.0 as usize].to_vec(),
            _ => vec![dim],
        }
    }

    /// Marks a variable as one the rewriter made (a differential `dX`, `dT_1`), not the user's:
    /// a printer never names a size after it (`rows(dT_1)` would not evaluate for the user).
    pub fn mark_internal(&mut self, symbol: Symbol) {
        self.internal.insert(symbol, ());
    }

    /// Whether a variable was made by the rewriter ([`ExprPool::mark_internal`]).
    pub fn is_internal(&self, symbol: Symbol) -> bool {
        self.internal.contains_key(&symbol)
    }

    /// Whether a scalar node is an integer by construction: an integer number, a variable declared
    /// `integer`, or a sum, negation or product of those (`k - 1`).
    ///
    /// ```
    /// use matdiff_expr::{Decl, ExprPool};
    /// let mut pool = ExprPool::new();
    /// let e = pool.parse_with("tr(X^(k - 1))", &[Decl::parse("k: integer").unwrap()]).unwrap();
    /// let k = pool.parse("k - 1").unwrap().root;
    /// assert!(pool.is_integer_valued(k));
    /// ```
    pub fn is_integer_valued(&self, id: ExprId) -> bool {
        match &self.nodes[id.index()] {
            Node::Num(n) => n.as_integer().is_some(),
            Node::Var(s) => self
                .vars
                .get(s)
                .is_some_and(|i| i.structure == Structure::Integer),
            Node::Neg(a) => self.is_integer_valued(*a),
            Node::Add(xs) | Node::Mul(xs) => xs.iter().all(|&x| self.is_integer_valued(x)),
            _ => false,
        }
    }

    /// Gives a declared square variable a structure (`diagonal`; `spd`, which is also symmetric).
    pub fn declare_structure(&mut self, name: &str, structure: Structure) -> Result<(), ExprError> {
        let s = self.symbol(name);
        let Some(info) = self.vars.get(&s).copied() else {
            return Err(ExprError::UnknownVariable {
                name: name.to_string(),
            });
        };
        if structure == Structure::Integer && !info.shape.is_scalar() {
            return Err(ExprError::NotScalar {
                op: "integer",
                what: "a variable declared integer",
                shape: self.shape_str(info.shape),
            });
        }
        if !info.shape.is_square() {
            return Err(ExprError::NotSquare {
                what: format!("{} {name}", structure.name()),
                shape: self.shape_str(info.shape),
            });
        }
        let v = self.vars.get_mut(&s).expect("present");
        v.structure = structure;
        v.symmetric |= structure == Structure::Spd;
        Ok(())
    }

    /// What the pool knows of a variable.
    pub fn var_info(&self, symbol: Symbol) -> Option<VarInfo> {
        self.vars.get(&symbol).copied()
    }

    /// The declared variables, sorted by name.
    pub fn vars(&self) -> Vec<(Symbol, VarInfo)> {
        let mut v: Vec<_> = self.vars.iter().map(|(s, &i)| (s, i)).collect();
        v.sort_by(|a, b| self.name(a.0).cmp(self.name(b.0)));
        v
    }

    /// Marks a name as an abstract function (it can then not be a variable).
    pub fn declare_function(&mut self, name: &str) -> Result<Symbol, ExprError> {
        let s = self.symbol(name);
        if self.vars.contains_key(&s) {
            return Err(ExprError::FunctionAsVariable {
                name: name.to_string(),
            });
        }
        self.functions.insert(s, ());
        Ok(s)
    }

    /// The names of the abstract functions.
    pub(crate) fn function_names(&self) -> impl Iterator<Item = String> + '_ {
        self.functions.keys().map(|&s| self.name(s).to_string())
    }

    /// Whether a symbol names an abstract function.
    pub fn is_function(&self, symbol: Symbol) -> bool {
        self.functions.contains_key(&symbol)
    }

    /// The variable node of a declared variable.
    pub fn var(&mut self, name: &str) -> Result<ExprId, ExprError> {
        let s = self.symbol(name);
        self.intern(Node::Var(s))
    }

    /// The number node of a value.
    pub fn num(&mut self, value: f64) -> ExprId {
        let n = Num::new(value).expect("numbers of an expression are finite");
        self.intern(Node::Num(n)).expect("a number always interns")
    }

    /// Interns a node: checks its shape, deduplicates it and returns its id. This is the only
    /// way to make a node. `-c` for a number `c` is folded into the number `-c`; `ones` and `I`
    /// of size 1 are the number 1.
    pub fn intern(&mut self, node: Node) -> Result<ExprId, ExprError> {
        let node = match node {
            Node::Ones(Dim::ONE) | Node::Identity(Dim::ONE) => {
                Node::Num(Num::new(1.0).expect("finite"))
            }
            Node::Neg(a) => match self.nodes[a.index()] {
                Node::Num(n) => Node::Num(Num::new(-n.get()).expect("finite")),
                _ => Node::Neg(a),
            },
            Node::Add(xs) => Node::Add(self.flatten(xs, |n| matches!(n, Node::Add(_)))),
            Node::Hadamard(xs) => {
                Node::Hadamard(self.flatten(xs, |n| matches!(n, Node::Hadamard(_))))
            }
            Node::Mul(xs) => Node::Mul(self.flatten_product(xs)),
            // One per column of a column vector: the reduction.
            Node::LogSumExpCols(a) if self.shapes[a.index()].cols == Dim::ONE => {
                Node::Reduce(Reduce::LogSumExp, a)
            }
            // The vec of a column is the column.
            Node::Vectorize(a) if self.shapes[a.index()].cols == Dim::ONE => return Ok(a),
            other => other,
        };
        let keyed = self.keyed.keeps(&node);
        let hash = if keyed { 0 } else { Dedup::hash(&node) };
        if let Some(id) = self.find_hashed(hash, &node) {
            return Ok(id);
        }
        for &c in node.children() {
            assert!(
                c.index() < self.nodes.len(),
                "child {c:?} is not in this pool"
            );
        }
        let shape = self.infer_product_shape(&node)?;
        let shape = match shape {
            Some(shape) => shape,
            None => self.infer(&node)?,
        };
        let height = 1 + node
            .children()
            .iter()
            .map(|c| self.heights[c.index()])
            .max()
            .unwrap_or(0);
        if height > self.limits.max_height {
            return Err(ExprError::TooDeep {
                limit: self.limits.max_height,
            });
        }
        if self.nodes.len() >= self.limits.max_nodes {
            return Err(ExprError::TooManyNodes {
                limit: self.limits.max_nodes,
            });
        }
        let id = ExprId(self.nodes.len() as u32);
        self.nodes.push(node);
        self.shapes.push(shape);
        self.heights.push(height);
        let size = self.nodes[id.index()]
            .children()
            .iter()
            .fold(1u64, |acc, c| {
                acc.saturating_add(self.tree_sizes[c.index()])
            });
        self.tree_sizes.push(size);
        if keyed {
            self.keyed.insert(&self.nodes[id.index()], id);
        } else {
            self.dedup.insert(hash, id);
        }
        Ok(id)
    }

    /// The id of `node` if the pool holds it, without making it. The node is looked up as
    /// given: the flattening and folding of [`ExprPool::intern`] are not applied.
    ///
    /// ```
    /// use matdiff_expr::{ExprPool, Node};
    /// let mut pool = ExprPool::new();
    /// let x = pool.parse("X").unwrap().root;
    /// assert_eq!(pool.find(&Node::Transpose(x)), None);
    /// let t = pool.intern(Node::Transpose(x)).unwrap();
    /// assert_eq!(pool.find(&Node::Transpose(x)), Some(t));
    /// ```
    pub fn find(&self, node: &Node) -> Option<ExprId> {
        let hash = if self.keyed.keeps(node) {
            0
        } else {
            Dedup::hash(node)
        };
        self.find_hashed(hash, node)
    }

    /// [`ExprPool::find`] with the node's hash (unused for the nodes that [`Keyed`] keeps).
    #[inline]
    fn find_hashed(&self, hash: u64, node: &Node) -> Option<ExprId> {
        if self.keyed.keeps(node) {
            self.keyed.find(node)
        } else {
            self.dedup.find(&self.nodes, hash, node)
        }
    }

    /// Splices children of the same associative operator into their parent.
    fn flatten(&self, xs: Ids, same: impl Fn(&Node) -> bool) -> Ids {
        if !xs
            .iter()
            .any(|x| x.index() < self.nodes.len() && same(&self.nodes[x.index()]))
        {
            return xs;
        }
        let mut out = Vec::with_capacity(xs.len() + 2);
        for &x in xs.iter() {
            match self.nodes.get(x.index()) {
                Some(n) if same(n) => out.extend_from_slice(n.children()),
                _ => out.push(x),
            }
        }
        out.into()
    }

    /// Splices nested products into their parent where the result is still a valid product
    /// (`X*(a'*b)` stays nested: `X*a'` would not multiply).
    ///
    /// Splicing a factor whose own factors still chain onto the product so far leaves the shape
    /// of the product so far unchanged, so the factors after it are unaffected and one pass from
    /// left to right (linear in the number of factors) decides every splice.
    fn flatten_product(&self, xs: Ids) -> Ids {
        let shape = |x: &ExprId| self.shapes.get(x.index()).copied();
        if !xs
            .iter()
            .any(|x| matches!(self.nodes.get(x.index()), Some(Node::Mul(_))))
        {
            return xs;
        }
        // A scalar product (`a'*b`) stays one factor of a matrix product, `(a'*b)*X`; in a
        // scalar product every nested product is spliced.
        let parent_scalar = xs
            .iter()
            .try_fold(None, |acc: Option<Shape>, x| {
                let s = shape(x)?;
                Some(Some(match acc {
                    None => s,
                    Some(a) => mul_shape(a, s)?,
                }))
            })
            .flatten()
            .is_some_and(|s| s.is_scalar());
        // Room for the factors spliced one level down (most products nest no deeper).
        let spliced = xs
            .iter()
            .map(|x| match self.nodes.get(x.index()) {
                Some(Node::Mul(ys)) => ys.len(),
                _ => 1,
            })
            .sum();
        let mut out: Vec<ExprId> = Vec::with_capacity(spliced);
        let mut acc: Option<Shape> = None;
        for &x in xs.iter() {
            self.push_factor(x, parent_scalar, &mut out, &mut acc);
        }
        out.into()
    }

    /// Appends `x` to a product, spliced (recursively) when it is a product that may be and the
    /// result still multiplies.
    fn push_factor(
        &self,
        x: ExprId,
        parent_scalar: bool,
        out: &mut Vec<ExprId>,
        acc: &mut Option<Shape>,
    ) {
        let shape = self.shapes.get(x.index()).copied();
        if let Some(Node::Mul(inner)) = self.nodes.get(x.index()) {
            if parent_scalar || !shape.is_some_and(|s| s.is_scalar()) {
                // Splice in place; undo (truncate) if the factors no longer multiply. Copying
                // `out` for a trial instead made long products of products quadratic.
                let (len, before) = (out.len(), *acc);
                for &c in inner.iter() {
                    self.push_factor(c, parent_scalar, out, acc);
                }
                if before.is_none() || acc.is_some() {
                    return;
                }
                out.truncate(len);
                *acc = before;
            }
        }
        out.push(x);
        *acc = match (*acc, shape) {
            (None, s) if out.len() == 1 => s,
            (Some(a), Some(s)) => mul_shape(a, s),
            _ => None,
        };
    }

    /// The node with its children replaced (same operator), interned; `id` itself when the
    /// children are its own.
    pub fn with_children(&mut self, id: ExprId, children: &[ExprId]) -> Result<ExprId, ExprError> {
        if self.node(id).children() == children {
            return Ok(id);
        }
        let node = match self.node(id).clone() {
            n @ (Node::Var(_) | Node::Num(_) | Node::Identity(_) | Node::Ones(_)) => n,
            Node::Neg(_) => Node::Neg(children[0]),
            Node::Transpose(_) => Node::Transpose(children[0]),
            Node::Apply { fun, order, .. } => Node::Apply {
                fun,
                order,
                arg: children[0],
            },
            Node::Reduce(r, _) => Node::Reduce(r, children[0]),
            Node::Inv(_) => Node::Inv(children[0]),
            Node::Diag(_) => Node::Diag(children[0]),
            Node::Tri(t, _) => Node::Tri(t, children[0]),
            Node::LogSumExpCols(_) => Node::LogSumExpCols(children[0]),
            Node::Vectorize(_) => Node::Vectorize(children[0]),
            Node::Unvec(_, d) => Node::Unvec(children[0], d),
            Node::Kron(_) => Node::Kron([children[0], children[1]]),
            n @ Node::Commutation(..) => n,
            Node::Add(_) => Node::Add(children.into()),
            Node::Mul(_) => Node::Mul(children.into()),
            Node::Hadamard(_) => Node::Hadamard(children.into()),
            Node::Div(_) => Node::Div([children[0], children[1]]),
            Node::HDiv(_) => Node::HDiv([children[0], children[1]]),
            Node::Pow(_) => Node::Pow([children[0], children[1]]),
            Node::HPow(_) => Node::HPow([children[0], children[1]]),
        };
        self.intern(node)
    }

    /// The shape of a node whose dimensions are products (made here, so `&mut`); `None` for
    /// the other nodes.
    fn infer_product_shape(&mut self, node: &Node) -> Result<Option<Shape>, ExprError> {
        let sh = |pool: &ExprPool, id: ExprId| pool.shapes[id.index()];
        Ok(Some(match *node {
            Node::Kron([a, b]) => {
                let (sa, sb) = (sh(self, a), sh(self, b));
                Shape::new(
                    self.dim_product(sa.rows, sb.rows),
                    self.dim_product(sa.cols, sb.cols),
                )
            }
            Node::Vectorize(a) => {
                let s = sh(self, a);
                Shape::new(self.dim_product(s.rows, s.cols), Dim::ONE)
            }
            Node::Commutation(m, n) => {
                let mn = self.dim_product(m, n);
                Shape::new(mn, mn)
            }
            Node::Unvec(g, m) => {
                let s = sh(self, g);
                let cols = match self.dim_quotient(s.rows, m) {
                    Some(n) if s.cols == Dim::ONE => n,
                    _ => {
                        return Err(ExprError::Unvec {
                            shape: self.shape_str(s),
                            rows: self.dim_str(m),
                        })
                    }
                };
                Shape::new(m, cols)
            }
            _ => return Ok(None),
        }))
    }

    fn mismatch(&self, op: &'static str, a: Shape, b: Shape) -> ExprError {
        ExprError::Mismatch {
            op,
            left: self.shape_str(a),
            right: self.shape_str(b),
        }
    }

    /// The shape of a node whose children are interned, or why it has none.
    fn infer(&self, node: &Node) -> Result<Shape, ExprError> {
        let sh = |id: &ExprId| self.shapes[id.index()];
        let scalar_operand = |op: &'static str, what: &'static str, id: &ExprId| {
            if sh(id).is_scalar() {
                Ok(())
            } else {
                Err(ExprError::NotScalar {
                    op,
                    what,
                    shape: self.shape_str(sh(id)),
                })
            }
        };
        Ok(match node {
            Node::Var(s) => match self.vars.get(s) {
                Some(info) => info.shape,
                None => {
                    return Err(ExprError::UnknownVariable {
                        name: self.name(*s).to_string(),
                    })
                }
            },
            Node::Num(_) => Shape::SCALAR,
            Node::Identity(d) => Shape::new(*d, *d),
            Node::Ones(d) => Shape::new(*d, Dim::ONE),
            Node::Neg(a) | Node::Apply { arg: a, .. } => sh(a),
            Node::Transpose(a) => sh(a).transposed(),
            Node::Add(xs) | Node::Hadamard(xs) => {
                if xs.len() < 2 {
                    return Err(ExprError::Arity {
                        op: op_name(node),
                        got: xs.len(),
                    });
                }
                let op = op_name(node);
                let mut out = Shape::SCALAR;
                for x in xs.iter() {
                    let s = sh(x);
                    if s.is_scalar() {
                        continue;
                    }
                    if out.is_scalar() {
                        out = s;
                    } else if out != s {
                        return Err(self.mismatch(op, out, s));
                    }
                }
                out
            }
            Node::Mul(xs) => {
                if xs.len() < 2 {
                    return Err(ExprError::Arity {
                        op: "*",
                        got: xs.len(),
                    });
                }
                let mut out = sh(&xs[0]);
                for x in &xs[1..] {
                    out = mul_shape(out, sh(x)).ok_or_else(|| self.inner_mismatch(out, sh(x)))?;
                }
                out
            }
            Node::Div([a, b]) => {
                scalar_operand("/", "the divisor", b)?;
                sh(a)
            }
            Node::HDiv([a, b]) => {
                let (sa, sb) = (sh(a), sh(b));
                match (sa.is_scalar(), sb.is_scalar()) {
                    (true, _) => sb,
                    (_, true) => sa,
                    _ if sa == sb => sa,
                    _ => return Err(self.mismatch("./", sa, sb)),
                }
            }
            Node::Pow([a, b]) => {
                scalar_operand("^", "the exponent", b)?;
                let sa = sh(a);
                if !sa.is_scalar() {
                    if !sa.is_square() {
                        return Err(ExprError::NotSquare {
                            what: "the base of ^".into(),
                            shape: self.shape_str(sa),
                        });
                    }
                    if !self.is_integer_valued(*b) {
                        return Err(ExprError::MatrixPowerExponent);
                    }
                }
                sa
            }
            Node::HPow([a, b]) => {
                scalar_operand(".^", "the exponent", b)?;
                sh(a)
            }
            Node::Reduce(r, a) => {
                if r.needs_square() && !sh(a).is_square() {
                    return Err(ExprError::NotSquare {
                        what: format!("the argument of {}", r.name()),
                        shape: self.shape_str(sh(a)),
                    });
                }
                Shape::SCALAR
            }
            Node::Inv(a) => {
                if !sh(a).is_square() {
                    return Err(ExprError::NotSquare {
                        what: "the argument of inv".into(),
                        shape: self.shape_str(sh(a)),
                    });
                }
                sh(a)
            }
            Node::Diag(a) => {
                let s = sh(a);
                if s.cols == Dim::ONE {
                    Shape::new(s.rows, s.rows)
                } else if s.is_square() {
                    Shape::new(s.rows, Dim::ONE)
                } else {
                    return Err(ExprError::NotSquare {
                        what: "the argument of diag (a vector or a square matrix)".into(),
                        shape: self.shape_str(s),
                    });
                }
            }
            Node::LogSumExpCols(a) => Shape::new(Dim::ONE, sh(a).cols),
            Node::Kron(_) | Node::Vectorize(_) | Node::Commutation(..) | Node::Unvec(..) => {
                unreachable!("shaped by infer_product_shape")
            }
            Node::Tri(t, a) => {
                if !sh(a).is_square() {
                    return Err(ExprError::NotSquare {
                        what: format!("the argument of {}", t.name()),
                        shape: self.shape_str(sh(a)),
                    });
                }
                sh(a)
            }
        })
    }

    fn inner_mismatch(&self, a: Shape, b: Shape) -> ExprError {
        ExprError::InnerMismatch {
            left: self.shape_str(a),
            right: self.shape_str(b),
            inner_left: self.dim_str(a.cols),
            inner_right: self.dim_str(b.rows),
        }
    }

    /// Whether a node is symmetric by declaration or construction (`M` declared symmetric, `X'*X`,
    /// `A + A'`, `I`, sums and scalings of symmetric matrices, inverses of symmetric matrices).
    pub fn is_symmetric(&self, id: ExprId) -> bool {
        let shape = self.shape(id);
        if shape.is_scalar() {
            return true;
        }
        if !shape.is_square() {
            return false;
        }
        match self.node(id) {
            Node::Var(s) => self.vars.get(s).is_some_and(|i| i.symmetric),
            Node::Identity(_) => true,
            Node::Neg(a) | Node::Inv(a) => self.is_symmetric(*a),
            Node::Diag(a) => self.shape(*a).cols == Dim::ONE,
            Node::Kron([a, b]) => self.is_symmetric(*a) && self.is_symmetric(*b),
            Node::Commutation(m, n) => m == n,
            Node::Add(xs) | Node::Hadamard(xs) => xs.iter().all(|&x| self.is_symmetric(x)),
            Node::Div([a, _]) | Node::HPow([a, _]) => self.is_symmetric(*a),
            Node::Pow([a, _]) => self.is_symmetric(*a),
            Node::Apply { arg, .. } => self.is_symmetric(*arg),
            Node::Mul(xs) => {
                // A palindrome up to transposes: F1 * ... * Fk with F(k+1-i) = Fi' and a
                // symmetric middle factor (scalar factors skipped), read from both ends.
                let mut m = xs.iter().copied().filter(|&x| !self.shape(x).is_scalar());
                loop {
                    match (m.next(), m.next_back()) {
                        (Some(first), Some(last)) if self.is_transpose_of(last, first) => {}
                        (Some(_), Some(_)) => return false,
                        (Some(middle), None) => return self.is_symmetric(middle),
                        _ => return true,
                    }
                }
            }
            _ => false,
        }
    }

    /// The name of an element-wise function.
    pub fn fun_name(&self, fun: Fun) -> &str {
        match fun {
            Fun::Builtin(f) => f.name(),
            Fun::Abstract(s) => self.name(s),
        }
    }

    /// Whether `a` is structurally the transpose of `b`.
    pub fn is_transpose_of(&self, a: ExprId, b: ExprId) -> bool {
        match (self.node(a), self.node(b)) {
            (Node::Transpose(x), _) if *x == b => true,
            (_, Node::Transpose(y)) if *y == a => true,
            _ => a == b && self.is_symmetric(a),
        }
    }
}

/// The shape of `a * b` where a scalar factor scales, or `None` when the inner dimensions differ.
#[inline]
pub fn mul_shape(a: Shape, b: Shape) -> Option<Shape> {
    if a.is_scalar() {
        Some(b)
    } else if b.is_scalar() {
        Some(a)
    } else if a.cols == b.rows {
        Some(Shape::new(a.rows, b.cols))
    } else {
        None
    }
}

fn op_name(node: &Node) -> &'static str {
    match node {
        Node::Add(_) => "+",
        Node::Hadamard(_) => ".*",
        _ => "?",
    }
}
