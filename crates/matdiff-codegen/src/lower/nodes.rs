//! Lowering each node: temporaries, element-wise expressions and matrix operands.

use matdiff_expr::{Dim, ExprId, Fun, Func, Node, Reduce};

use crate::CodegenError;

use super::analysis::reused_base;
use super::{Ew, Fold, Kind, Lowered, Lowering, Op, Operand, Size, Slot, Temp};

impl Lowering<'_> {
    pub(super) fn push(&mut self, name: Option<String>, kind: Kind, op: Op) -> Slot {
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
    pub(super) fn materialize(&mut self, id: ExprId) -> Result<Slot, CodegenError> {
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
    pub(super) fn ew(&mut self, id: ExprId) -> Result<Ew, CodegenError> {
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
    pub(super) fn operand(&mut self, id: ExprId) -> Result<Operand, CodegenError> {
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
                if pool.shape(a).is_scalar()
                    && matches!(r, Reduce::Det | Reduce::LogDet | Reduce::LogAbsDet)
                {
                    // Of a scalar (a number in generated code): `det(c) = c`, `logdet(c) =
                    // log(c)`, `logabsdet(c) = log(|c|)`.
                    let e = self.ew(a)?;
                    return ew(match r {
                        Reduce::Det => e,
                        Reduce::LogDet => Ew::Fun(Func::Log, 0, Box::new(e)),
                        _ => Ew::Fun(Func::Log, 0, Box::new(Ew::Fun(Func::Abs, 0, Box::new(e)))),
                    });
                }
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
            Node::Kron(_) | Node::Vectorize(_) | Node::Commutation(..) | Node::Unvec(..) => {
                self.vec_op(id)
            }
        }
    }

    fn ews(&mut self, xs: &[ExprId]) -> Result<Vec<Ew>, CodegenError> {
        xs.iter().map(|&x| self.ew(x)).collect()
    }

    /// A temporary for `op`, with the node's kind.
    pub(super) fn op(&mut self, id: ExprId, op: Op) -> Result<Lowered, CodegenError> {
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
