//! The simplifier: a canonical form (transposes at the leaves, scalars in front, like terms
//! collected, common factors pulled out) and then a presentation pass that moves transposes to
//! where they shorten the result.

use matdiff_expr::{FxHashMap as HashMap, FxHashSet as HashSet};

use matdiff_expr::{Dim, ExprError, ExprId, ExprPool, Fun, Func, Ids, Node, Shape};

use crate::rules::RuleId;
use id_memo::IdMemo;

mod elementwise;
pub(crate) mod id_memo;
mod presentation;
mod products;
mod reductions;
mod shorten;
mod small_map;
mod sums;
#[cfg(test)]
mod tests;
mod vec_ops;

/// Simplifies expressions of one pool. Nodes listed as opaque (named bindings) are kept as they
/// are, so that results can refer to them by name.
pub struct Simplifier<'p> {
    pub(crate) pool: &'p mut ExprPool,
    memo: IdMemo<ExprId>,
    present_memo: IdMemo<Forms>,
    /// The forms the presentation pass made, by id: of the node, of its transpose.
    made: IdMemo<ExprId>,
    made_transposed: IdMemo<ExprId>,
    /// Canonical transposes, by the id transposed.
    transposed: IdMemo<ExprId>,
    opaque: HashSet<ExprId>,
    /// The printed prefixes that order factors (`sort_order`), by id: printing is the costly part.
    sort_keys: HashMap<ExprId, std::sync::Arc<str>>,
    /// Ids of the function identities applied since last taken (F1, F2).
    pub(crate) applied: Vec<RuleId>,
}

impl<'p> Simplifier<'p> {
    /// A simplifier of `pool`.
    pub fn new(pool: &'p mut ExprPool) -> Simplifier<'p> {
        Simplifier {
            pool,
            memo: IdMemo::new(),
            present_memo: IdMemo::new(),
            made: IdMemo::new(),
            made_transposed: IdMemo::new(),
            transposed: IdMemo::new(),
            opaque: HashSet::default(),
            // Empty until a key is printed: most factors are ordered by rank or first byte.
            sort_keys: HashMap::default(),
            applied: Vec::new(),
        }
    }

    /// Keeps these nodes as they are (they are printed by name).
    pub fn set_opaque(&mut self, ids: impl IntoIterator<Item = ExprId>) {
        self.opaque.extend(ids);
    }

    /// The compact form of an expression: canonical, then transposes placed where they are
    /// fewest.
    ///
    /// ```
    /// use matdiff_expr::ExprPool;
    /// use matdiff_rewrite::Simplifier;
    /// let mut pool = ExprPool::new();
    /// let e = pool.parse("(a*b')' + 0*X' + ((X*X)')'*I + X'' - X*X").unwrap().root;
    /// let s = Simplifier::new(&mut pool).simplify(e).unwrap();
    /// assert_eq!(pool.plain(s), "b*a' + X");
    /// ```
    pub fn simplify(&mut self, id: ExprId) -> Result<ExprId, ExprError> {
        let c = self.canon(id)?;
        self.present(c)
    }

    /// The canonical form (transposes pushed to the leaves).
    pub fn canon(&mut self, id: ExprId) -> Result<ExprId, ExprError> {
        if let Some(r) = self.memo.get(id) {
            return Ok(r);
        }
        if self.opaque.contains(&id) {
            return Ok(id);
        }
        let node = self.pool.node(id).clone();
        let r = match node {
            Node::Var(_) | Node::Num(_) | Node::Identity(_) | Node::Ones(_) => id,
            Node::Neg(a) => {
                let a = self.canon(a)?;
                self.scale(-1.0, a)?
            }
            Node::Transpose(a) => {
                let a = self.canon(a)?;
                self.transpose(a)?
            }
            Node::Add(xs) => {
                let xs = self.canon_all(&xs)?;
                self.add(&xs)?
            }
            Node::Mul(xs) => {
                let xs = self.canon_all(&xs)?;
                self.mul(&xs)?
            }
            Node::Hadamard(xs) => {
                let xs = self.canon_all(&xs)?;
                self.hadamard(&xs, &[])?
            }
            Node::Div([a, s]) => {
                let (a, s) = (self.canon(a)?, self.canon(s)?);
                let inv = self.pow_scalar(s, -1.0)?;
                self.mul(&[a, inv])?
            }
            Node::HDiv([a, b]) => {
                let (a, b) = (self.canon(a)?, self.canon(b)?);
                self.hdiv(a, b)?
            }
            Node::Pow([a, k]) => {
                let (a, k) = (self.canon(a)?, self.canon(k)?);
                self.pow(a, k)?
            }
            Node::HPow([a, c]) => {
                let (a, c) = (self.canon(a)?, self.canon(c)?);
                self.hpow(a, c)?
            }
            Node::Apply { fun, order, arg } => {
                let arg = self.canon(arg)?;
                self.apply(fun, order, arg)?
            }
            Node::Reduce(r, a) => {
                let a = self.canon(a)?;
                self.reduce(r, a)?
            }
            Node::Inv(a) => {
                let a = self.canon(a)?;
                self.inv(a)?
            }
            Node::Diag(a) => {
                let mut a = self.canon(a)?;
                // A square matrix and its transpose have the same diagonal: diag(A') is diag(A).
                if self.shape(a).is_square() && !self.shape(a).is_scalar() {
                    let t = self.transpose(a)?;
                    if self.transposes(t) < self.transposes(a) {
                        a = t;
                    }
                }
                match *self.pool.node(a) {
                    // diag(ones) is the identity.
                    Node::Ones(n) => self.pool.intern(Node::Identity(n))?,
                    _ => self.pool.intern(Node::Diag(a))?,
                }
            }
            Node::Tri(t, a) => {
                let a = self.canon(a)?;
                crate::triangle::tri(self, t, a)?
            }
            Node::LogSumExpCols(a) => {
                let a = self.canon(a)?;
                self.pool.intern(Node::LogSumExpCols(a))?
            }
            Node::Commutation(..) => id,
            Node::Kron(_) | Node::Vectorize(_) | Node::Unvec(..) => {
                let kids = self.canon_all(node.children())?;
                let rebuilt = self.pool.with_children(id, &kids)?;
                let node = self.pool.node(rebuilt).clone();
                self.canon_vec_op(node)?
            }
        };
        self.memo.insert(id, r);
        self.memo.insert(r, r);
        Ok(r)
    }

    /// The number of distinct transposed nodes in `id`.
    fn transposes(&self, id: ExprId) -> usize {
        let mut stack = vec![id];
        let mut seen = HashSet::default();
        let mut n = 0;
        while let Some(x) = stack.pop() {
            if !seen.insert(x) {
                continue;
            }
            let node = self.pool.node(x);
            n += usize::from(matches!(node, Node::Transpose(_)));
            stack.extend(node.children().iter().copied());
        }
        n
    }

    fn canon_all(&mut self, xs: &[ExprId]) -> Result<Ids, ExprError> {
        xs.iter().map(|&x| self.canon(x)).collect()
    }

    fn shape(&self, id: ExprId) -> Shape {
        self.pool.shape(id)
    }

    fn is_scalar(&self, id: ExprId) -> bool {
        self.shape(id).is_scalar()
    }

    fn num(&mut self, v: f64) -> ExprId {
        self.pool.num(v)
    }

    fn num_of(&self, id: ExprId) -> Option<f64> {
        match self.pool.node(id) {
            Node::Num(n) => Some(n.get()),
            _ => None,
        }
    }

    /// The zero of a shape: `0`, `0*ones` or `0*ones*ones'`.
    pub fn zero(&mut self, shape: Shape) -> Result<ExprId, ExprError> {
        let zero = self.num(0.0);
        if shape.is_scalar() {
            return Ok(zero);
        }
        let mut factors = vec![zero];
        if shape.rows != Dim::ONE {
            factors.push(self.pool.intern(Node::Ones(shape.rows))?);
        }
        if shape.cols != Dim::ONE {
            let ones = self.pool.intern(Node::Ones(shape.cols))?;
            factors.push(self.pool.intern(Node::Transpose(ones))?);
        }
        self.pool.intern(Node::Mul(factors.into()))
    }

    /// Whether a node is a zero made by [`Simplifier::zero`].
    pub fn is_zero(&self, id: ExprId) -> bool {
        match self.pool.node(id) {
            Node::Num(n) => n.get() == 0.0,
            Node::Mul(xs) => self.num_of(xs[0]) == Some(0.0),
            _ => false,
        }
    }

    /// The all-ones matrix or vector of a shape (`ones*ones'`, `ones`), recognised for removal.
    fn is_all_ones(&self, id: ExprId) -> bool {
        match self.pool.node(id) {
            Node::Ones(_) => true,
            Node::Num(n) => n.get() == 1.0,
            Node::Mul(xs) if xs.len() == 2 => {
                matches!(self.pool.node(xs[0]), Node::Ones(_))
                    && matches!(self.pool.node(xs[1]), Node::Transpose(o) if matches!(self.pool.node(*o), Node::Ones(_)))
            }
            Node::Transpose(o) => matches!(self.pool.node(*o), Node::Ones(_)),
            _ => false,
        }
    }

    /// `c * a`, canonical.
    pub fn scale(&mut self, c: f64, a: ExprId) -> Result<ExprId, ExprError> {
        let k = self.num(c);
        self.mul(&[k, a])
    }

    /// `-a`, canonical.
    pub fn neg(&mut self, a: ExprId) -> Result<ExprId, ExprError> {
        self.scale(-1.0, a)
    }

    fn pow_scalar(&mut self, s: ExprId, k: f64) -> Result<ExprId, ExprError> {
        if let Some(v) = self.num_of(s) {
            return Ok(self.num(v.powf(k)));
        }
        if k == 1.0 {
            return Ok(s);
        }
        if k == 0.5 {
            return self.pool.intern(Node::Apply {
                fun: Fun::Builtin(Func::Sqrt),
                order: 0,
                arg: s,
            });
        }
        let k = self.num(k);
        self.pool.intern(Node::Pow([s, k]))
    }

    /// `a'`, canonical: transposes go to the leaves; scalars and symmetric matrices lose them.
    pub fn transpose(&mut self, a: ExprId) -> Result<ExprId, ExprError> {
        if let Some(t) = self.transposed.get(a) {
            return Ok(t);
        }
        // Remembered only when no function identity was applied on the way, so that a step
        // still cites every identity it uses.
        let applied = self.applied.len();
        let t = self.transpose_uncached(a)?;
        if self.applied.len() == applied {
            self.transposed.insert(a, t);
        }
        Ok(t)
    }

    fn transpose_uncached(&mut self, a: ExprId) -> Result<ExprId, ExprError> {
        if self.is_scalar(a) || self.pool.is_symmetric(a) {
            return Ok(a);
        }
        let node = self.pool.node(a).clone();
        if self.opaque.contains(&a) {
            return self.pool.intern(Node::Transpose(a));
        }
        match node {
            Node::Transpose(b) => Ok(b),
            Node::Mul(xs) => {
                let xs = self.group_scalar_prefix(&xs)?;
                let ts = xs
                    .iter()
                    .rev()
                    .map(|&x| self.transpose(x))
                    .collect::<Result<Ids, _>>()?;
                self.mul(&ts)
            }
            Node::Add(xs) => {
                let ts = xs
                    .iter()
                    .map(|&x| self.transpose(x))
                    .collect::<Result<Ids, _>>()?;
                self.add(&ts)
            }
            Node::Hadamard(xs) => {
                let ts = xs
                    .iter()
                    .map(|&x| self.transpose(x))
                    .collect::<Result<Ids, _>>()?;
                self.hadamard(&ts, &[])
            }
            Node::HDiv([x, y]) => {
                let (x, y) = (self.transpose(x)?, self.transpose(y)?);
                self.hdiv(x, y)
            }
            Node::Div([x, s]) => {
                let x = self.transpose(x)?;
                self.pool.intern(Node::Div([x, s]))
            }
            Node::Neg(x) => {
                let x = self.transpose(x)?;
                self.neg(x)
            }
            Node::Apply { fun, order, arg } => {
                let arg = self.transpose(arg)?;
                self.pool.intern(Node::Apply { fun, order, arg })
            }
            Node::Tri(t, b) => {
                // tril(B)' = triu(B').
                let b = self.transpose(b)?;
                crate::triangle::tri(self, t.flipped(), b)
            }
            Node::Pow([b, k]) => {
                let b = self.transpose(b)?;
                self.pow(b, k)
            }
            Node::HPow([b, c]) => {
                let b = self.transpose(b)?;
                self.hpow(b, c)
            }
            other => match self.transpose_vec_op(&other) {
                Some(t) => t,
                None => self.pool.intern(Node::Transpose(a)),
            },
        }
    }
}

/// How the best form of a node and of its transpose are made, each with its cost.
type Forms = ((presentation::Make, u64), (presentation::Make, u64));
