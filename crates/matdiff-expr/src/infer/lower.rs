//! Lowering the inferred trees into pool nodes.

use crate::fxhash::FxHashMap as HashMap;
use smallvec::SmallVec;

use crate::error::{ExprError, ParseError};
use crate::ids::Ids;
use crate::node::{Dim, ExprId, Fun, Func, Node, Num, Reduce, Shape};
use crate::parser::{Ast, AstBinding, AstKind, BinOp, Callee, NaryOp};

use super::{integer_literal, DimValue, Expr, Inference};

impl<'p> Inference<'p> {
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
        let names = std::mem::take(&mut self.var_names);
        let bytes = names.iter().map(str::len).sum();
        self.pool.reserve_names(vars.len(), bytes);
        for (name, ((r, c), span)) in names.iter().zip(&vars) {
            let shape = Shape::new(
                self.resolve(*r, &mut resolved),
                self.resolve(*c, &mut resolved),
            );
            let sym = symmetric.iter().any(|s| s == name);
            let s = self
                .pool
                .declare_var(name, shape, sym)
                .map_err(|e| ParseError::new(e.to_string(), span.range()))?;
            self.var_symbols.push(s);
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
            Some(DimValue::Known(k)) => Dim::Known(k),
            Some(DimValue::Rigid(v)) => Dim::Sym(v),
            None => {
                if let Some(&d) = resolved.get(&r) {
                    return d;
                }
                // Checked acyclic by `check_products`.
                let d = match self.dims.product_of(r) {
                    Some([a, b]) => {
                        let (a, b) = (self.resolve(a, resolved), self.resolve(b, resolved));
                        self.pool.dim_product(a, b)
                    }
                    None => Dim::Sym(self.pool.fresh_dim()),
                };
                resolved.insert(r, d);
                d
            }
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
            AstKind::Nary(op, items) => {
                // A sum or product of a few operands is the common case: no allocation.
                let mut ids: SmallVec<[ExprId; 4]> = SmallVec::with_capacity(items.len());
                for item in items.iter() {
                    ids.push(self.lower(item.ast, env, resolved)?);
                }
                let ids = Ids::from(&ids[..]);
                match op {
                    NaryOp::Add => Node::Add(ids),
                    NaryOp::Mul => Node::Mul(ids),
                    NaryOp::Hadamard => Node::Hadamard(ids),
                }
            }
            AstKind::Bin(BinOp::Commutation, m, n, _) => {
                let m = self.lowered_size(m, env, resolved)?;
                let n = self.lowered_size(n, env, resolved)?;
                Node::Commutation(m, n)
            }
            AstKind::Bin(BinOp::Unvec, g, m, _) => {
                let g = self.lower(g, env, resolved)?;
                let m = self.lowered_size(m, env, resolved)?;
                Node::Unvec(g, m)
            }
            AstKind::Bin(op, a, b, _) => {
                let ab = [self.lower(a, env, resolved)?, self.lower(b, env, resolved)?];
                match op {
                    BinOp::Div => Node::Div(ab),
                    BinOp::HDiv => Node::HDiv(ab),
                    BinOp::Pow => Node::Pow(ab),
                    BinOp::HPow => Node::HPow(ab),
                    BinOp::Kron => Node::Kron(ab),
                    BinOp::Commutation | BinOp::Unvec => unreachable!("lowered above"),
                    BinOp::Extreme(max) => {
                        let span = match &ast.kind {
                            AstKind::Bin(_, _, _, s) => s.range(),
                            _ => ast.span(),
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
            AstKind::Name(n, var) => {
                if let Some(&id) = env.get(*n) {
                    return Err(id);
                }
                match var {
                    Some(i) => Node::Var(self.var_symbols[*i as usize]),
                    None => Node::Var(self.pool.symbol(n)),
                }
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
            ..
        } = &ast.kind
        else {
            unreachable!("a call")
        };
        Ok(match callee {
            Callee::Vec => Node::Vectorize(arg),
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
                    .map_err(|e| ParseError::new(e.to_string(), ast.name_span()))
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
            AstKind::Nary(NaryOp::Mul, items) => {
                let mut d = Dim::ONE;
                for item in items.iter() {
                    let f = self.lowered_size(item.ast, env, resolved)?;
                    d = self.pool.dim_product(d, f);
                }
                Ok(d)
            }
            AstKind::Bin(BinOp::Div, a, b, _) => {
                let (da, db) = (
                    self.lowered_size(a, env, resolved)?,
                    self.lowered_size(b, env, resolved)?,
                );
                self.pool.dim_quotient(da, db).ok_or_else(|| {
                    let (a, b) = (self.pool.dim_str(da), self.pool.dim_str(db));
                    ParseError::new(
                        format!("cannot divide the size {a} by {b}: declare the sizes"),
                        size.span(),
                    )
                })
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
                AstKind::Nary(_, items) => items.get(1).map_or(ast.span(), |x| x.op.range()),
                AstKind::Bin(_, _, _, op) => op.range(),
                AstKind::Call { .. } => ast.name_span(),
                _ => ast.span(),
            };
            ParseError::new(e.to_string(), span)
        })
    }
}
