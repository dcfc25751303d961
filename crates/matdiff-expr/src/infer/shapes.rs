//! Shape inference over the syntax tree: operators, calls, sizes, bindings and declarations.

use crate::fxhash::FxHashMap as HashMap;
use std::ops::Range;

use smallvec::SmallVec;

use crate::decl::{Decl, DeclDim, DeclShape};
use crate::error::ParseError;
use crate::node::{Dim, Num, Reduce};
use crate::parser::{is_reserved, Ast, AstBinding, AstKind, BinOp, Callee, NaryOp, Operand};
use crate::pool::Structure;

use super::{integer_literal, Inference, TShape, SIZE_MESSAGE};

impl Inference<'_> {
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
            AstKind::Nary(op, items) => {
                // A sum or product of a few operands is the common case: no allocation.
                let mut shapes: SmallVec<[TShape; 4]> = SmallVec::with_capacity(items.len());
                for item in items.iter_mut() {
                    shapes.push(self.infer(item.ast)?);
                }
                self.infer_nary(*op, &shapes, items)
            }
            AstKind::Bin(BinOp::Commutation, m, n, op_span) => {
                let (m, n) = (self.infer_size(m)?, self.infer_size(n)?);
                let mn = self.dims.product(m, n, op_span.range());
                Ok((mn, mn))
            }
            AstKind::Bin(BinOp::Unvec, g, m, op_span) => {
                let sg = self.infer(g)?;
                let m = self.infer_size(m)?;
                self.infer_unvec(sg, m, op_span.range())
            }
            AstKind::Bin(op, a, b, op_span) => {
                let sa = self.infer(a)?;
                let sb = self.infer(b)?;
                self.infer_bin(*op, sa, sb, b, &op_span.range())
            }
            AstKind::Call { .. } => self.infer_call_node(ast),
            _ => self.infer_leaf(ast),
        }
    }

    /// A call: its argument, then the function.
    #[inline(never)]
    fn infer_call_node(&mut self, ast: &mut Ast) -> Result<TShape, ParseError> {
        let name_span = ast.name_span();
        let AstKind::Call {
            callee, name, arg, ..
        } = &mut ast.kind
        else {
            unreachable!("a call")
        };
        if *callee == Callee::Abstract {
            self.use_function(name, &name_span)?;
        }
        if let Callee::Sized { ones } = *callee {
            return self.infer_sized(ones, arg);
        }
        let s = self.infer(arg)?;
        self.infer_call(*callee, name, &name_span, s)
    }

    #[inline(never)]
    fn infer_leaf(&mut self, ast: &mut Ast) -> Result<TShape, ParseError> {
        let span = ast.span();
        match &mut ast.kind {
            AstKind::Name(n, var) => {
                if let Some(&s) = self.bindings.get(*n) {
                    return Ok(s);
                }
                let i = self.var_entry(n, &span)?;
                *var = Some(i as u32);
                Ok(self.vars[i].0)
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
        items: &[Operand],
    ) -> Result<TShape, ParseError> {
        let mut acc = shapes[0];
        for (k, &s) in shapes.iter().enumerate().skip(1) {
            let op_span = items[k].op.range();
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

    /// `unvec(g, m)`: `g` a column of `m*n` entries gives `m x n`.
    fn infer_unvec(
        &mut self,
        sg: TShape,
        m: u32,
        span: Range<usize>,
    ) -> Result<TShape, ParseError> {
        let one = self.dims.known(1);
        let mut columns = None;
        if let (Some(k), Some(r)) = (self.dims.known_value(sg.0), self.dims.known_value(m)) {
            if r != 0 && k % r == 0 {
                // Known sizes: the column count is their quotient, not a product to solve.
                columns = Some(k / r);
            } else {
                let (s, d) = self.describe(&[sg], &[m]);
                return Err(self.err(
                    format!("'unvec' needs a column of {}*n entries, got {}", d[0], s[0]),
                    span,
                ));
            }
        }
        let (n, fits) = match columns {
            Some(n) => (self.dims.known(n), true),
            None => {
                let n = self.dims.fresh();
                let mn = self.dims.product(m, n, span.clone());
                (n, self.dims.unify(sg.0, mn))
            }
        };
        if !self.dims.unify(sg.1, one) || !fits {
            let (s, d) = self.describe(&[sg], &[m]);
            return Err(self.err(
                format!(
                    "'unvec' needs a column of {}*n entries (n columns of {} rows), got {}",
                    d[0], d[0], s[0]
                ),
                span,
            ));
        }
        Ok((m, n))
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
            BinOp::Kron => Ok((
                self.dims.product(sa.0, sb.0, op_span.clone()),
                self.dims.product(sa.1, sb.1, op_span),
            )),
            BinOp::Commutation | BinOp::Unvec => unreachable!("inferred by infer"),
            BinOp::Pow => {
                if self.dims.is_scalar(sa) {
                    return Ok(sa);
                }
                if integer_literal(b).is_none() && !self.integer_ast(b) {
                    return Err(self.err(
                        "a matrix power needs an integer exponent: a number, or a symbol declared --let 'k: integer' (use '.^' for an element-wise power)".into(),
                        b.span(),
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
        if self.var_names.get(name).is_some()
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
            Callee::Vec => Ok((self.dims.product(s.0, s.1, name_span), self.dims.known(1))),
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
        let d = self.infer_size(size)?;
        Ok(if ones {
            (d, self.dims.known(1))
        } else {
            (d, d)
        })
    }

    /// A size: a whole number, `rows(E)`/`cols(E)`, a product of sizes (`rows(A)*rows(B)`),
    /// or an exact quotient (`rows(y)/2`, what `unvec(y, 2)` has as columns).
    fn infer_size(&mut self, size: &mut Ast) -> Result<u32, ParseError> {
        if let AstKind::Bin(BinOp::Div, a, b, op_span) = &mut size.kind {
            let op_span = op_span.range();
            let (da, db) = (self.infer_size(a)?, self.infer_size(b)?);
            if let (Some(x), Some(y)) = (self.dims.known_value(da), self.dims.known_value(db)) {
                if y == 0 || x % y != 0 {
                    let msg = format!("the size {x}/{y} is not a whole number");
                    return Err(self.err(msg, size.span()));
                }
                return Ok(self.dims.known(x / y));
            }
            let q = self.dims.fresh();
            let product = self.dims.product(db, q, op_span.clone());
            if !self.dims.unify(da, product) {
                let (_, d) = self.describe(&[], &[da, db]);
                let msg = format!("the size {} is not a multiple of {}", d[0], d[1]);
                return Err(self.err(msg, op_span));
            }
            return Ok(q);
        }
        let span = size.span();
        if let AstKind::Nary(NaryOp::Mul, items) = &mut size.kind {
            let mut d = self.dims.known(1);
            for item in items.iter_mut() {
                let f = self.infer_size(item.ast)?;
                d = self.dims.product(d, f, span.clone());
            }
            return Ok(d);
        }
        Ok(match &mut size.kind {
            AstKind::Num(_) => match integer_literal(size) {
                Some(k) if k >= 1 => self.dims.known(k as u64),
                _ => return Err(self.err(SIZE_MESSAGE.into(), size.span())),
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
            _ => return Err(self.err(SIZE_MESSAGE.into(), size.span())),
        })
    }

    /// Whether an exponent is an integer by declaration: an integer symbol (`k: integer`), an
    /// integer number, or sums, negations and products of those (`k - 1`).
    fn integer_ast(&self, ast: &Ast) -> bool {
        match &ast.kind {
            AstKind::Num(v) => Num::new(*v).and_then(Num::as_integer).is_some(),
            AstKind::Name(n, _) => {
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
            AstKind::Nary(NaryOp::Add | NaryOp::Mul, xs) => {
                xs.iter().all(|x| self.integer_ast(x.ast))
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
        if let Err(m) = self.dims.check_products() {
            let mut namer = super::Namer {
                pool: self.pool,
                names: HashMap::default(),
                expanding: vec![self.dims.find(m.class)],
            };
            let mut sides: Vec<String> = Vec::new();
            for &[a, b] in &m.products {
                let (a, b) = (namer.dim(&mut self.dims, a), namer.dim(&mut self.dims, b));
                sides.push(format!("{a}*{b}"));
            }
            sides.push(namer.dim(&mut self.dims, m.class));
            sides.dedup();
            if m.value.is_none() && m.products.len() > 1 {
                // The class is one of its products: named by them alone.
                sides.pop();
            }
            let hint = self.variables_sized_by(&m.products, m.class);
            return Err(self.err(
                format!(
                    "the dimensions {} must be equal and cannot be shown to be: a product of \
                     dimensions equals only the same product, or its number when its factors \
                     are numbers ({hint})",
                    sides.join(" and ")
                ),
                m.span,
            ));
        }
        Ok((order, s))
    }

    /// Which sizes to declare for a product that cannot be shown equal: the variables whose
    /// shapes have a free dimension of it (`declare the sizes of C and x, e.g. --let 'C: 2x3'`).
    fn variables_sized_by(&mut self, products: &[[u32; 2]], class: u32) -> String {
        let mut free: Vec<u32> = self.dims.free_atoms(class);
        for &[a, b] in products {
            free.extend(self.dims.free_atoms(a));
            free.extend(self.dims.free_atoms(b));
        }
        let vars: Vec<(String, TShape)> = (self.var_names.iter().zip(&self.vars))
            .map(|(name, v)| (name.to_string(), v.0))
            .collect();
        let mut names: Vec<String> = Vec::new();
        for (name, (r, c)) in vars {
            let mut atoms = self.dims.free_atoms(r);
            atoms.extend(self.dims.free_atoms(c));
            if atoms.iter().any(|a| free.contains(a)) && !names.contains(&name) {
                names.push(name);
            }
        }
        match &names[..] {
            [] => "declare the sizes, e.g. --let 'A: 2x3'".to_string(),
            [one] => format!("declare the size of {one}, e.g. --let '{one}: 2x3'"),
            [rest @ .., last] => format!(
                "declare the sizes of {} and {last}, e.g. --let '{}: 2x3'",
                rest.join(", "),
                rest[0]
            ),
        }
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
            let shape = match (declared, self.var_names.get(name)) {
                (Some(d), None) if !known => {
                    self.var_names.intern(name);
                    self.vars.push((d, span.clone().into()));
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
                self.dims.elem_of_dim(self.pool, Dim::Sym(v))
            }
        }
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
        AstKind::Name(n, _) => out.push(n.to_string()),
        AstKind::Num(_) | AstKind::Eye(_) | AstKind::Ones(_) => {}
        AstKind::Neg(a) | AstKind::Transpose(a) | AstKind::Call { arg: a, .. } => {
            collect_names(a, out)
        }
        AstKind::Nary(_, xs) => xs.iter().for_each(|x| collect_names(x.ast, out)),
        AstKind::Bin(_, a, b, _) => {
            collect_names(a, out);
            collect_names(b, out);
        }
    }
}
