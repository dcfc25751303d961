//! The compiler's element-wise kernels: the operations of a fused group.

use super::*;

impl<'a, T: Scalar> Compiler<'a, T> {
    // ----- Kernels -----

    pub(super) fn emit_kernel(
        &mut self,
        root: usize,
        sink: Sink,
        dst: usize,
    ) -> Result<(), EvalError> {
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

    pub(super) fn push(ops: &mut Vec<KOp<T>>, op: KOp<T>) -> usize {
        ops.push(op);
        ops.len() - 1
    }

    /// The register of a node inside the kernel of `group`.
    pub(super) fn kop(
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

    pub(super) fn kop_node(
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

    pub(super) fn function(
        &mut self,
        s: Symbol,
        order: u8,
        id: ExprId,
    ) -> Result<usize, EvalError> {
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
    pub(super) fn kop_leaf(&mut self, li: usize, t: bool, ops: &mut Vec<KOp<T>>) -> usize {
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
}
