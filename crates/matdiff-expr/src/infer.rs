//! Shape inference by unification over the syntax tree, then lowering into the pool.

use crate::fxhash::FxHashMap as HashMap;
use std::ops::Range;

use crate::decl::{Decl, DeclDim, DeclShape};
use crate::error::{ExprError, ParseError};
use crate::node::{Dim, DimVar, ExprId, Fun, Func, Node, Num, Reduce, Shape};
use crate::parser::{is_reserved, Ast, AstBinding, AstKind, BinOp, Callee, NaryOp};
use crate::pool::{ExprPool, Structure};

/// A parsed expression: its root and the names of its `where` bindings (in the order written).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expr {
    /// The expression, with every binding substituted.
    pub root: ExprId,
    /// The `where` bindings: each name with the node it stands for.
    pub bindings: Vec<(String, ExprId)>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Val {
    Known(u64),
    Rigid(DimVar),
}

/// Union-find over dimension variables.
#[derive(Default)]
pub(crate) struct Dims {
    parent: Vec<u32>,
    val: Vec<Option<Val>>,
    nonunit: Vec<bool>,
    rigid: HashMap<DimVar, u32>,
}

type TShape = (u32, u32);

impl Dims {
    fn new_elem(&mut self, val: Option<Val>, nonunit: bool) -> u32 {
        let i = self.parent.len() as u32;
        self.parent.push(i);
        self.val.push(val);
        self.nonunit.push(nonunit);
        i
    }

    fn fresh(&mut self) -> u32 {
        self.new_elem(None, true)
    }

    fn known(&mut self, k: u64) -> u32 {
        self.new_elem(Some(Val::Known(k)), false)
    }

    fn elem_of_dim(&mut self, d: Dim) -> u32 {
        match d {
            Dim::Known(k) => self.known(k),
            Dim::Sym(v) => {
                if let Some(&e) = self.rigid.get(&v) {
                    return e;
                }
                let e = self.new_elem(Some(Val::Rigid(v)), true);
                self.rigid.insert(v, e);
                e
            }
        }
    }

    fn elems_of_shape(&mut self, s: Shape) -> TShape {
        (self.elem_of_dim(s.rows), self.elem_of_dim(s.cols))
    }

    fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let p = self.parent[x as usize];
            self.parent[x as usize] = self.parent[p as usize];
            x = p;
        }
        x
    }

    fn value(&mut self, x: u32) -> Option<Val> {
        let r = self.find(x);
        self.val[r as usize]
    }

    fn is_one(&mut self, x: u32) -> bool {
        self.value(x) == Some(Val::Known(1))
    }

    fn is_scalar(&mut self, s: TShape) -> bool {
        self.is_one(s.0) && self.is_one(s.1)
    }

    /// Makes two dimensions equal, or says they cannot be.
    fn unify(&mut self, a: u32, b: u32) -> bool {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return true;
        }
        let (va, vb) = (self.val[ra as usize], self.val[rb as usize]);
        let val = match (va, vb) {
            (Some(x), Some(y)) if x != y => return false,
            (Some(x), _) | (_, Some(x)) => Some(x),
            (None, None) => None,
        };
        let nonunit = self.nonunit[ra as usize] || self.nonunit[rb as usize];
        if nonunit && val == Some(Val::Known(1)) {
            return false;
        }
        self.parent[rb as usize] = ra;
        self.val[ra as usize] = val;
        self.nonunit[ra as usize] = nonunit;
        true
    }

    fn unify_shape(&mut self, a: TShape, b: TShape) -> bool {
        // Both, so that no half-unified state is left without being reported.
        let r = self.unify(a.0, b.0);
        r && self.unify(a.1, b.1)
    }
}

/// Names free dimensions on demand for messages (`m`, `n`, ... not used by the pool).
struct Namer<'a> {
    pool: &'a ExprPool,
    names: HashMap<u32, String>,
}

impl Namer<'_> {
    fn dim(&mut self, dims: &mut Dims, x: u32) -> String {
        let r = dims.find(x);
        match dims.val[r as usize] {
            Some(Val::Known(k)) => k.to_string(),
            Some(Val::Rigid(v)) => self.pool.dim_name(v).to_string(),
            None => {
                if let Some(n) = self.names.get(&r) {
                    return n.clone();
                }
                let taken: Vec<String> = self.names.values().cloned().collect();
                let name = ["m", "n", "p", "q", "r", "s", "t", "u", "v", "k"]
                    .iter()
                    .map(|s| s.to_string())
                    .chain((1..).map(|i| format!("n{i}")))
                    .find(|c| self.pool.find_symbol(c).is_none() && !taken.contains(c))
                    .expect("endless names");
                self.names.insert(r, name.clone());
                name
            }
        }
    }

    fn shape(&mut self, dims: &mut Dims, s: TShape) -> String {
        if dims.is_scalar(s) {
            return "scalar".into();
        }
        let (r, c) = (self.dim(dims, s.0), self.dim(dims, s.1));
        if r.parse::<u64>().is_ok() && c.parse::<u64>().is_ok() {
            format!("{r}x{c}")
        } else {
            format!("{r} x {c}")
        }
    }
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
    /// Variables of this expression with their shapes (in first-use order).
    vars: Vec<(String, TShape, Range<usize>)>,
    var_index: HashMap<String, usize>,
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
            dims: Dims::default(),
            vars: Vec::new(),
            var_index: HashMap::default(),
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
        };
        let s = shapes
            .iter()
            .map(|&s| namer.shape(&mut self.dims, s))
            .collect();
        let d = dims.iter().map(|&d| namer.dim(&mut self.dims, d)).collect();
        (s, d)
    }

    fn var_shape(&mut self, name: &str, span: &Range<usize>) -> Result<TShape, ParseError> {
        if let Some(&i) = self.var_index.get(name) {
            return Ok(self.vars[i].1);
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
            Some(info) => self.dims.elems_of_shape(info.shape),
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
        self.var_index.insert(name.to_string(), self.vars.len());
        self.vars.push((name.to_string(), shape, span.clone()));
        Ok(shape)
    }

    /// Infers the shape of a tree, filling in the dimensions of `I` and `ones`.
    ///
    /// This recursion is as deep as the tree: its frame is kept small (the work of each
    /// operator is in a helper) so that deep trees fit a small thread stack.
    pub(crate) fn infer(&mut self, ast: &mut Ast) -> Result<TShape, ParseError> {
        match &mut ast.kind {
            AstKind::Neg(a) => self.infer(a),
            AstKind::Transpose(a) => {
                let s = self.infer(a)?;
                Ok((s.1, s.0))
            }
            AstKind::Nary(op, items, ops) => {
                let mut shapes = Vec::with_capacity(items.len());
                for item in items.iter_mut() {
                    shapes.push(self.infer(item)?);
                }
                self.infer_nary(*op, &shapes, ops)
            }
            AstKind::Bin(op, a, b, op_span) => {
                let sa = self.infer(a)?;
                let sb = self.infer(b)?;
                self.infer_bin(*op, sa, sb, b, op_span)
            }
            AstKind::Call {
                callee,
                name,
                name_span,
                arg,
                ..
            } => {
                if *callee == Callee::Abstract {
                    self.use_function(name, name_span)?;
                }
                if let Callee::Sized { ones } = *callee {
                    return self.infer_sized(ones, arg);
                }
                let s = self.infer(arg)?;
                self.infer_call(*callee, name, name_span, s)
            }
            _ => self.infer_leaf(ast),
        }
    }

    #[inline(never)]
    fn infer_leaf(&mut self, ast: &mut Ast) -> Result<TShape, ParseError> {
        match &mut ast.kind {
            AstKind::Name(n) => {
                if let Some(&s) = self.bindings.get(n.as_str()) {
                    return Ok(s);
                }
                let n = n.clone();
                self.var_shape(&n, &ast.span)
            }
            AstKind::Eye(slot) => {
                let d = self.dims.fresh();
                *slot = Some(d);
                Ok((d, d))
            }
            AstKind::Ones(slot) => {
                let d = self.dims.fresh();
                *slot = Some(d);
                Ok((d, self.dims.known(1)))
            }
            _ => {
                let one = self.dims.known(1);
                Ok((one, one))
            }
        }
    }

    #[inline(never)]
    fn infer_nary(
        &mut self,
        op: NaryOp,
        shapes: &[TShape],
        ops: &[Range<usize>],
    ) -> Result<TShape, ParseError> {
        let mut acc = shapes[0];
        for (k, &s) in shapes.iter().enumerate().skip(1) {
            let op_span = ops[k - 1].clone();
            match op {
                NaryOp::Mul => {
                    if self.dims.is_scalar(acc) {
                        acc = s;
                    } else if !self.dims.is_scalar(s) {
                        if !self.dims.unify(acc.1, s.0) {
                            let (m, d) = self.describe(&[acc, s], &[acc.1, s.0]);
                            return Err(self.err(
                                format!(
                                    "cannot multiply {} by {}: inner dimensions {} and {} differ",
                                    m[0], m[1], d[0], d[1]
                                ),
                                op_span,
                            ));
                        }
                        acc = (acc.0, s.1);
                    }
                }
                NaryOp::Add | NaryOp::Hadamard => {
                    if self.dims.is_scalar(s) {
                        continue;
                    }
                    if self.dims.is_scalar(acc) {
                        acc = s;
                    } else if !self.dims.unify_shape(acc, s) {
                        let m = self.shape_msg(&[acc, s]);
                        let what = if op == NaryOp::Add {
                            "add"
                        } else {
                            "multiply element-wise"
                        };
                        return Err(self.err(
                            format!("cannot {what} {} and {}: the shapes differ", m[0], m[1]),
                            op_span,
                        ));
                    }
                }
            }
        }
        Ok(acc)
    }

    #[inline(never)]
    fn infer_bin(
        &mut self,
        op: BinOp,
        sa: TShape,
        sb: TShape,
        b: &Ast,
        op_span: &Range<usize>,
    ) -> Result<TShape, ParseError> {
        let op_span = op_span.clone();
        match op {
            BinOp::Div | BinOp::HPow | BinOp::Pow if !self.dims.is_scalar(sb) => {
                let m = self.shape_msg(&[sb]);
                let msg = match op {
                    BinOp::Div => format!("cannot divide by a matrix of shape {}: '/' divides by a scalar (use './' for element-wise division, or inv)", m[0]),
                    _ => format!("the exponent must be a scalar, got {}", m[0]),
                };
                Err(self.err(msg, op_span))
            }
            BinOp::Div | BinOp::HPow => Ok(sa),
            BinOp::Pow => {
                if self.dims.is_scalar(sa) {
                    return Ok(sa);
                }
                if integer_literal(b).is_none() && !self.integer_ast(b) {
                    return Err(self.err(
                        "a matrix power needs an integer exponent: a number, or a symbol declared --let 'k: integer' (use '.^' for an element-wise power)".into(),
                        b.span.clone(),
                    ));
                }
                if !self.dims.unify(sa.0, sa.1) {
                    let m = self.shape_msg(&[sa]);
                    return Err(self.err(
                        format!(
                            "a matrix power needs a square matrix, got {} (use '.^' for an element-wise power)",
                            m[0]
                        ),
                        op_span,
                    ));
                }
                Ok(sa)
            }
            BinOp::Extreme(max) => {
                if self.dims.is_scalar(sb) {
                    Ok(sa)
                } else if self.dims.is_scalar(sa) {
                    Ok(sb)
                } else if self.dims.unify_shape(sa, sb) {
                    Ok(sa)
                } else {
                    let m = self.shape_msg(&[sa, sb]);
                    let name = if max { "maximum" } else { "minimum" };
                    Err(self.err(
                        format!(
                            "cannot take the {name} of {} and {}: the shapes differ",
                            m[0], m[1]
                        ),
                        op_span,
                    ))
                }
            }
            BinOp::HDiv => {
                if self.dims.is_scalar(sb) {
                    Ok(sa)
                } else if self.dims.is_scalar(sa) {
                    Ok(sb)
                } else if self.dims.unify_shape(sa, sb) {
                    Ok(sa)
                } else {
                    let m = self.shape_msg(&[sa, sb]);
                    Err(self.err(
                        format!(
                            "cannot divide {} by {} element-wise: the shapes differ",
                            m[0], m[1]
                        ),
                        op_span,
                    ))
                }
            }
        }
    }

    /// Records `name` as an abstract function, unless it is a variable.
    #[inline(never)]
    fn use_function(&mut self, name: &str, name_span: &Range<usize>) -> Result<(), ParseError> {
        if self.var_index.contains_key(name)
            || self
                .pool
                .find_symbol(name)
                .is_some_and(|s| self.pool.var_info(s).is_some())
        {
            return Err(self.err(
                format!("'{name}' is used both as a function and as a variable"),
                name_span.clone(),
            ));
        }
        self.functions
            .entry(name.to_string())
            .or_insert(name_span.clone());
        Ok(())
    }

    #[inline(never)]
    fn infer_call(
        &mut self,
        callee: Callee,
        name: &str,
        name_span: &Range<usize>,
        s: TShape,
    ) -> Result<TShape, ParseError> {
        let name_span = name_span.clone();
        match callee {
            Callee::Elementwise(_) | Callee::Abstract => Ok(s),
            Callee::Reduce(r) | Callee::Softmax(r) => {
                if matches!(callee, Callee::Softmax(_)) {
                    return Ok(s);
                }
                if r == Reduce::LogSumExp {
                    // One per column: a row (a scalar for a column vector).
                    return Ok((self.dims.known(1), s.1));
                }
                if r.needs_square() && !self.dims.unify(s.0, s.1) {
                    let m = self.shape_msg(&[s]);
                    let kind = if self.dims.is_one(s.1) {
                        "a vector"
                    } else {
                        "a matrix"
                    };
                    return Err(self.err(
                        format!(
                            "'{name}' needs a square matrix, got {kind} of shape {}",
                            m[0]
                        ),
                        name_span,
                    ));
                }
                let one = self.dims.known(1);
                Ok((one, one))
            }
            Callee::Inv => {
                if !self.dims.unify(s.0, s.1) {
                    let m = self.shape_msg(&[s]);
                    return Err(self.err(
                        format!("'inv' needs a square matrix, got {}", m[0]),
                        name_span,
                    ));
                }
                Ok(s)
            }
            Callee::Tri(t) => {
                if !self.dims.unify(s.0, s.1) {
                    let m = self.shape_msg(&[s]);
                    return Err(self.err(
                        format!("'{}' needs a square matrix, got {}", t.name(), m[0]),
                        name_span,
                    ));
                }
                Ok(s)
            }
            Callee::Size { .. } => {
                let one = self.dims.known(1);
                Ok((one, one))
            }
            Callee::Sized { .. } => unreachable!("inferred by infer_sized"),
            Callee::Diag => {
                if self.dims.is_one(s.1) {
                    Ok((s.0, s.0))
                } else if self.dims.unify(s.0, s.1) {
                    Ok((s.0, self.dims.known(1)))
                } else {
                    let m = self.shape_msg(&[s]);
                    Err(self.err(
                        format!("'diag' needs a vector or a square matrix, got {}", m[0]),
                        name_span,
                    ))
                }
            }
        }
    }

    /// `ones(N)` or `eye(N)`: the size is a whole number or `rows(E)`/`cols(E)`.
    fn infer_sized(&mut self, ones: bool, size: &mut Ast) -> Result<TShape, ParseError> {
        let d = match &mut size.kind {
            AstKind::Num(_) => match integer_literal(size) {
                Some(k) if k >= 1 => self.dims.known(k as u64),
                _ => return Err(self.err(SIZE_MESSAGE.into(), size.span.clone())),
            },
            AstKind::Call {
                callee: Callee::Size { cols },
                arg,
                ..
            } => {
                let cols = *cols;
                let s = self.infer(arg)?;
                if cols {
                    s.1
                } else {
                    s.0
                }
            }
            _ => return Err(self.err(SIZE_MESSAGE.into(), size.span.clone())),
        };
        Ok(if ones {
            (d, self.dims.known(1))
        } else {
            (d, d)
        })
    }

    /// Whether an exponent is an integer by declaration: an integer symbol (`k: integer`), an
    /// integer number, or sums, negations and products of those (`k - 1`).
    fn integer_ast(&self, ast: &Ast) -> bool {
        match &ast.kind {
            AstKind::Num(v) => Num::new(*v).and_then(Num::as_integer).is_some(),
            AstKind::Name(n) => {
                self.structures
                    .iter()
                    .any(|s| &s.0 == n && s.1 == Structure::Integer)
                    || self
                        .pool
                        .find_symbol(n)
                        .and_then(|s| self.pool.var_info(s))
                        .is_some_and(|i| i.structure == Structure::Integer)
            }
            AstKind::Neg(a) => self.integer_ast(a),
            AstKind::Nary(NaryOp::Add | NaryOp::Mul, xs, _) => {
                xs.iter().all(|x| self.integer_ast(x))
            }
            _ => false,
        }
    }

    /// Infers the bindings in dependency order, then the root.
    pub(crate) fn infer_all(
        &mut self,
        root: &mut Ast,
        bindings: &mut [AstBinding],
    ) -> Result<(Vec<usize>, TShape), ParseError> {
        let order = binding_order(bindings)?;
        for &i in &order {
            let s = self.infer(&mut bindings[i].value)?;
            self.bindings.insert(bindings[i].name.clone(), s);
        }
        let s = self.infer(root)?;
        Ok((order, s))
    }

    /// Applies a declaration: the declared shape becomes the variable's shape, or is unified with
    /// the shape it already has.
    pub(crate) fn apply_decl(&mut self, decl: &Decl) -> Result<(), ParseError> {
        if decl.function {
            for (name, span) in &decl.names {
                if is_reserved(name) {
                    return Err(self.err(
                        format!("'{name}' is a reserved word and cannot be declared"),
                        span.clone(),
                    ));
                }
                self.use_function(name, span)?;
            }
            return Ok(());
        }
        for (name, span) in &decl.names {
            let declared = match decl.shape.clone() {
                DeclShape::Scalar => Some((self.dims.known(1), self.dims.known(1))),
                DeclShape::Vector(d) => Some((self.decl_dim(d), self.dims.known(1))),
                DeclShape::Matrix(r, c) => Some((self.decl_dim(r), self.decl_dim(c))),
                DeclShape::Default => None,
            };
            if is_reserved(name) {
                return Err(self.err(
                    format!("'{name}' is a reserved word and cannot be declared"),
                    span.clone(),
                ));
            }
            let known = self
                .pool
                .find_symbol(name)
                .is_some_and(|s| self.pool.var_info(s).is_some());
            let shape = match (declared, self.var_index.get(name.as_str())) {
                (Some(d), None) if !known => {
                    self.var_index.insert(name.clone(), self.vars.len());
                    self.vars.push((name.clone(), d, span.clone()));
                    d
                }
                (declared, _) => {
                    let s = self.var_shape(name, span)?;
                    if let Some(d) = declared {
                        if !self.dims.unify_shape(s, d) {
                            let m = self.shape_msg(&[s, d]);
                            return Err(self.err(
                                format!("'{name}' has shape {} and is declared {}", m[0], m[1]),
                                span.clone(),
                            ));
                        }
                    }
                    s
                }
            };
            if decl.structure != Structure::General {
                if !self.dims.unify(shape.0, shape.1) {
                    let m = self.shape_msg(&[shape]);
                    return Err(self.err(
                        format!(
                            "'{name}' is declared {} but has shape {}",
                            decl.structure.name(),
                            m[0]
                        ),
                        span.clone(),
                    ));
                }
                self.structures
                    .push((name.clone(), decl.structure, span.clone()));
            }
            if decl.symmetric {
                if !self.dims.unify(shape.0, shape.1) {
                    let m = self.shape_msg(&[shape]);
                    return Err(self.err(
                        format!("'{name}' is declared symmetric but has shape {}", m[0]),
                        span.clone(),
                    ));
                }
                self.symmetric.push(name.clone());
            }
        }
        Ok(())
    }

    fn decl_dim(&mut self, d: Option<DeclDim>) -> u32 {
        match d {
            None => self.dims.fresh(),
            Some(DeclDim::Known(k)) => self.dims.known(k),
            Some(DeclDim::Named(ref n)) => {
                let v = self.pool.dim_named(n);
                self.dims.elem_of_dim(Dim::Sym(v))
            }
        }
    }

    /// Writes the inferred variables into the pool and lowers the trees to nodes.
    pub(crate) fn lower_all(
        mut self,
        root: &Ast,
        bindings: &[AstBinding],
        order: &[usize],
    ) -> Result<Expr, ParseError> {
        let symmetric = std::mem::take(&mut self.symmetric);
        let mut resolved: HashMap<u32, Dim> = HashMap::default();
        let vars = std::mem::take(&mut self.vars);
        for (name, (r, c), span) in &vars {
            let shape = Shape::new(
                self.resolve(*r, &mut resolved),
                self.resolve(*c, &mut resolved),
            );
            let sym = symmetric.contains(name);
            self.pool
                .declare_var(name, shape, sym)
                .map_err(|e| ParseError::new(e.to_string(), span.clone()))?;
        }
        for (name, structure, span) in std::mem::take(&mut self.structures) {
            self.pool
                .declare_structure(&name, structure)
                .map_err(|e| ParseError::new(e.to_string(), span))?;
        }
        let functions = std::mem::take(&mut self.functions);
        let mut names: Vec<_> = functions.into_iter().collect();
        names.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, span) in names {
            self.pool
                .declare_function(&name)
                .map_err(|e| ParseError::new(e.to_string(), span))?;
        }
        let mut env: HashMap<String, ExprId> = HashMap::default();
        for &i in order {
            let id = self.lower(&bindings[i].value, &env, &mut resolved)?;
            env.insert(bindings[i].name.clone(), id);
        }
        let root = self.lower(root, &env, &mut resolved)?;
        let bindings = bindings
            .iter()
            .map(|b| (b.name.clone(), env[&b.name]))
            .collect();
        Ok(Expr { root, bindings })
    }

    fn resolve(&mut self, x: u32, resolved: &mut HashMap<u32, Dim>) -> Dim {
        let r = self.dims.find(x);
        match self.dims.val[r as usize] {
            Some(Val::Known(k)) => Dim::Known(k),
            Some(Val::Rigid(v)) => Dim::Sym(v),
            None => *resolved
                .entry(r)
                .or_insert_with(|| Dim::Sym(self.pool.fresh_dim())),
        }
    }

    /// The dimension of an `I` or `ones`. The dimensions that no variable constrains (`tr(I)`,
    /// `sum(ones)`) are all one: the first name, in the order of `fresh_dim`, that no variable
    /// of the pool uses. The same text then always gives the same node, so printing and parsing
    /// again keeps the id (their sizes cannot be known anyway).
    fn resolve_free(&mut self, x: u32, resolved: &mut HashMap<u32, Dim>) -> Dim {
        let r = self.dims.find(x);
        if self.dims.val[r as usize].is_some() || resolved.contains_key(&r) {
            return self.resolve(x, resolved);
        }
        let dim = match self.free_dim {
            Some(d) => d,
            None => {
                let d = Dim::Sym(self.pool.unused_dim());
                self.free_dim = Some(d);
                d
            }
        };
        resolved.insert(r, dim);
        dim
    }

    /// Lowers a tree into pool nodes. As deep as the tree, so the frame is kept small.
    fn lower(
        &mut self,
        ast: &Ast,
        env: &HashMap<String, ExprId>,
        resolved: &mut HashMap<u32, Dim>,
    ) -> Result<ExprId, ParseError> {
        let node = match &ast.kind {
            AstKind::Neg(a) => Node::Neg(self.lower(a, env, resolved)?),
            AstKind::Transpose(a) => Node::Transpose(self.lower(a, env, resolved)?),
            AstKind::Nary(op, items, _) => {
                let mut ids = Vec::with_capacity(items.len());
                for item in items {
                    ids.push(self.lower(item, env, resolved)?);
                }
                match op {
                    NaryOp::Add => Node::Add(ids.into()),
                    NaryOp::Mul => Node::Mul(ids.into()),
                    NaryOp::Hadamard => Node::Hadamard(ids.into()),
                }
            }
            AstKind::Bin(op, a, b, _) => {
                let ab = [self.lower(a, env, resolved)?, self.lower(b, env, resolved)?];
                match op {
                    BinOp::Div => Node::Div(ab),
                    BinOp::HDiv => Node::HDiv(ab),
                    BinOp::Pow => Node::Pow(ab),
                    BinOp::HPow => Node::HPow(ab),
                    BinOp::Extreme(max) => {
                        let span = match &ast.kind {
                            AstKind::Bin(_, _, _, s) => s.clone(),
                            _ => ast.span.clone(),
                        };
                        return self
                            .extreme(*max, ab[0], ab[1])
                            .map_err(|e| ParseError::new(e.to_string(), span));
                    }
                }
            }
            AstKind::Call {
                callee: Callee::Sized { ones },
                arg,
                ..
            } => {
                let d = self.lowered_size(arg, env, resolved)?;
                if d == Dim::ONE {
                    Node::Num(Num::new(1.0).expect("finite"))
                } else if *ones {
                    Node::Ones(d)
                } else {
                    Node::Identity(d)
                }
            }
            AstKind::Call {
                callee: Callee::Size { .. },
                ..
            } => {
                let d = self.lowered_size(ast, env, resolved)?;
                if d == Dim::ONE {
                    Node::Num(Num::new(1.0).expect("finite"))
                } else {
                    // The count of a dimension is the product ones'*ones.
                    let ones = self.intern_at(Node::Ones(d), ast)?;
                    let row = self.intern_at(Node::Transpose(ones), ast)?;
                    Node::Mul(vec![row, ones].into())
                }
            }
            AstKind::Call { arg, .. } => {
                let arg = self.lower(arg, env, resolved)?;
                self.call_node(ast, arg)?
            }
            _ => match self.leaf_node(ast, env, resolved) {
                Ok(node) => node,
                Err(id) => return Ok(id),
            },
        };
        self.intern_at(node, ast)
    }

    /// The node of a leaf, or the id of a bound name.
    #[inline(never)]
    fn leaf_node(
        &mut self,
        ast: &Ast,
        env: &HashMap<String, ExprId>,
        resolved: &mut HashMap<u32, Dim>,
    ) -> Result<Node, ExprId> {
        Ok(match &ast.kind {
            AstKind::Name(n) => {
                if let Some(&id) = env.get(n) {
                    return Err(id);
                }
                Node::Var(self.pool.symbol(n))
            }
            AstKind::Eye(d) => Node::Identity(self.resolve_free(d.expect("inferred"), resolved)),
            AstKind::Ones(d) => Node::Ones(self.resolve_free(d.expect("inferred"), resolved)),
            AstKind::Num(v) => Node::Num(Num::new(*v).expect("lexed numbers are finite")),
            _ => unreachable!("not a leaf"),
        })
    }

    #[inline(never)]
    fn call_node(&mut self, ast: &Ast, arg: ExprId) -> Result<Node, ParseError> {
        let AstKind::Call {
            callee,
            name,
            order,
            name_span,
            ..
        } = &ast.kind
        else {
            unreachable!("a call")
        };
        Ok(match callee {
            Callee::Elementwise(f) => Node::Apply {
                fun: Fun::Builtin(*f),
                order: *order,
                arg,
            },
            Callee::Abstract => Node::Apply {
                fun: Fun::Abstract(self.pool.symbol(name)),
                order: *order,
                arg,
            },
            Callee::Reduce(Reduce::LogSumExp) => Node::LogSumExpCols(arg),
            Callee::Reduce(r) => Node::Reduce(*r, arg),
            Callee::Softmax(_) => {
                return self
                    .softmax(arg)
                    .map_err(|e| ParseError::new(e.to_string(), name_span.clone()))
            }
            Callee::Inv => Node::Inv(arg),
            Callee::Diag => Node::Diag(arg),
            Callee::Tri(t) => Node::Tri(*t, arg),
            Callee::Size { .. } | Callee::Sized { .. } => unreachable!("lowered by lower"),
        })
    }

    /// The dimension a size names: a whole number, or `rows(E)`/`cols(E)` (E is lowered for its
    /// shape only).
    fn lowered_size(
        &mut self,
        size: &Ast,
        env: &HashMap<String, ExprId>,
        resolved: &mut HashMap<u32, Dim>,
    ) -> Result<Dim, ParseError> {
        match &size.kind {
            AstKind::Call {
                callee: Callee::Size { cols },
                arg,
                ..
            } => {
                let e = self.lower(arg, env, resolved)?;
                let shape = self.pool.shape(e);
                Ok(if *cols { shape.cols } else { shape.rows })
            }
            _ => {
                let k = integer_literal(size).expect("checked by inference");
                Ok(Dim::Known(k as u64))
            }
        }
    }

    /// `maximum(X, Y)` (or `minimum`) written exactly with existing operators:
    /// `X .* ((O + sign(X - Y))/2) + Y .* ((O - sign(X - Y))/2)` (`sign(Y - X)` for `minimum`),
    /// `O` all ones of the shape. Each
    /// weight is exactly 0, 1/2 (a tie) or 1, so the value is exact, and the gradient is 1/2 to
    /// each argument at a tie (as JAX). Printed back as `maximum(X, Y)`.
    fn extreme(&mut self, max: bool, x: ExprId, y: ExprId) -> Result<ExprId, ExprError> {
        let (sx, sy) = (self.pool.shape(x), self.pool.shape(y));
        let shape = if sx.is_scalar() { sy } else { sx };
        let mut ones = Vec::new();
        if shape.rows != Dim::ONE {
            ones.push(self.pool.intern(Node::Ones(shape.rows))?);
        }
        if shape.cols != Dim::ONE {
            let o = self.pool.intern(Node::Ones(shape.cols))?;
            ones.push(self.pool.intern(Node::Transpose(o))?);
        }
        let o = match ones.len() {
            0 => self.pool.num(1.0),
            1 => ones[0],
            _ => self.pool.intern(Node::Mul(ones.into()))?,
        };
        // The weight of x is 1 where x is the larger (maximum) or the smaller (minimum).
        let (p, q) = (x, y);
        let (hi, lo) = if max { (x, y) } else { (y, x) };
        let neg_lo = self.pool.intern(Node::Neg(lo))?;
        let gap = self.pool.intern(Node::Add(vec![hi, neg_lo].into()))?;
        let sign = self.pool.intern(Node::Apply {
            fun: Fun::Builtin(Func::Sign),
            order: 0,
            arg: gap,
        })?;
        let two = self.pool.num(2.0);
        let up = self.pool.intern(Node::Add(vec![o, sign].into()))?;
        let w_p = self.pool.intern(Node::Div([up, two]))?;
        let neg_sign = self.pool.intern(Node::Neg(sign))?;
        let down = self.pool.intern(Node::Add(vec![o, neg_sign].into()))?;
        let w_q = self.pool.intern(Node::Div([down, two]))?;
        let hp = self.pool.intern(Node::Hadamard(vec![p, w_p].into()))?;
        let hq = self.pool.intern(Node::Hadamard(vec![q, w_q].into()))?;
        self.pool.intern(Node::Add(vec![hp, hq].into()))
    }

    /// `softmax(x)`, written `exp(x - logsumexp(x))`: stable, as `logsumexp` is evaluated with
    /// the maximum shifted out; printed back as `softmax(x)`. One per column of a matrix:
    /// `exp(X - ones*logsumexp(X))`.
    fn softmax(&mut self, x: ExprId) -> Result<Node, ExprError> {
        let mut lse = self.pool.intern(Node::LogSumExpCols(x))?;
        let shape = self.pool.shape(x);
        if shape.cols != Dim::ONE {
            let ones = self.pool.intern(Node::Ones(shape.rows))?;
            lse = self.pool.intern(Node::Mul(vec![ones, lse].into()))?;
        }
        let neg = self.pool.intern(Node::Neg(lse))?;
        let shifted = self.pool.intern(Node::Add(vec![x, neg].into()))?;
        Ok(Node::Apply {
            fun: Fun::Builtin(Func::Exp),
            order: 0,
            arg: shifted,
        })
    }

    /// Interns a node, an error pointing at the operator of its tree.
    #[inline(never)]
    fn intern_at(&mut self, node: Node, ast: &Ast) -> Result<ExprId, ParseError> {
        self.pool.intern(node).map_err(|e| {
            let span = match &ast.kind {
                AstKind::Nary(_, _, ops) => ops.first().cloned().unwrap_or(ast.span.clone()),
                AstKind::Bin(_, _, _, op) => op.clone(),
                AstKind::Call { name_span, .. } => name_span.clone(),
                _ => ast.span.clone(),
            };
            ParseError::new(e.to_string(), span)
        })
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

/// The bindings in an order where each comes after those it uses; an error names a cycle.
fn binding_order(bindings: &[AstBinding]) -> Result<Vec<usize>, ParseError> {
    let mut index = HashMap::default();
    for (i, b) in bindings.iter().enumerate() {
        if index.insert(b.name.as_str(), i).is_some() {
            return Err(ParseError::new(
                format!("'{}' is bound twice", b.name),
                b.name_span.clone(),
            ));
        }
    }
    // uses[i]: the bindings that binding i refers to.
    let mut uses: Vec<Vec<usize>> = Vec::with_capacity(bindings.len());
    for b in bindings {
        let mut names = Vec::new();
        collect_names(&b.value, &mut names);
        let mut u: Vec<usize> = names
            .iter()
            .filter_map(|n| index.get(n.as_str()).copied())
            .collect();
        u.sort_unstable();
        u.dedup();
        uses.push(u);
    }
    let n = bindings.len();
    let mut pending: Vec<usize> = uses.iter().map(Vec::len).collect();
    let mut users: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, u) in uses.iter().enumerate() {
        for &j in u {
            users[j].push(i);
        }
    }
    let mut ready: Vec<usize> = (0..n).filter(|&i| pending[i] == 0).rev().collect();
    let mut order = Vec::with_capacity(n);
    while let Some(i) = ready.pop() {
        order.push(i);
        for &k in &users[i] {
            pending[k] -= 1;
            if pending[k] == 0 {
                ready.push(k);
            }
        }
    }
    if order.len() < n {
        let stuck: Vec<&str> = (0..n)
            .filter(|&i| pending[i] > 0)
            .map(|i| bindings[i].name.as_str())
            .collect();
        let first = (0..n).find(|&i| pending[i] > 0).expect("a stuck binding");
        let message = if uses[first] == [first] {
            format!("the binding '{}' refers to itself", stuck[0])
        } else {
            let mut names: Vec<String> = stuck.iter().take(6).map(|n| format!("'{n}'")).collect();
            if stuck.len() > 6 {
                names.push(format!("and {} more", stuck.len() - 6));
            }
            format!(
                "the bindings {} refer to each other in a cycle",
                names.join(", ")
            )
        };
        return Err(ParseError::new(message, bindings[first].name_span.clone()));
    }
    Ok(order)
}

fn collect_names(ast: &Ast, out: &mut Vec<String>) {
    match &ast.kind {
        AstKind::Name(n) => out.push(n.clone()),
        AstKind::Num(_) | AstKind::Eye(_) | AstKind::Ones(_) => {}
        AstKind::Neg(a) | AstKind::Transpose(a) | AstKind::Call { arg: a, .. } => {
            collect_names(a, out)
        }
        AstKind::Nary(_, xs, _) => xs.iter().for_each(|x| collect_names(x, out)),
        AstKind::Bin(_, a, b, _) => {
            collect_names(a, out);
            collect_names(b, out);
        }
    }
}
