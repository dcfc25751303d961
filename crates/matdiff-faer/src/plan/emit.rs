//! The compiler's emission of instructions for the roles, and the finished plan with its buffer reuse.

use super::*;

impl<'a, T: Scalar> Compiler<'a, T> {
    // ----- Emission -----

    pub(super) fn new_slot(&mut self, dims: (usize, usize)) -> usize {
        self.slot_dims.push(dims);
        self.slot_dims.len() - 1
    }

    pub(super) fn node_slot(&mut self, li: usize) -> usize {
        let s = self.new_slot(self.dims[li]);
        self.slot_of[li] = Some(s);
        s
    }

    pub(super) fn tree_size(&mut self, id: ExprId) -> u64 {
        if let Some(&s) = self.tree_sizes.get(&id) {
            return s;
        }
        let mut s = 1u64;
        for &c in self.pool.node(id).children() {
            s = s.saturating_add(self.tree_size(c)).min(1 << 40);
        }
        self.tree_sizes.insert(id, s);
        s
    }

    /// The description of a node in error messages (the plain syntax, or its operator when huge).
    pub(super) fn desc(&mut self, id: ExprId) -> u32 {
        if let Some(&d) = self.desc_of.get(&id) {
            return d;
        }
        let text = if self.tree_size(id) <= 64 {
            self.pool.plain(id)
        } else {
            let op = match self.pool.node(id) {
                Node::Reduce(r, _) => r.name().to_string(),
                Node::Apply { fun, .. } => self.pool.fun_name(*fun).to_string(),
                Node::Inv(_) => "inv".into(),
                Node::Pow(_) => "^".into(),
                _ => "the expression".into(),
            };
            format!("{op}(...) (a large expression)")
        };
        self.descs.push(text);
        let d = (self.descs.len() - 1) as u32;
        self.desc_of.insert(id, d);
        d
    }

    /// The operand of a materialised node (a variable, a buffer, or a transpose of one).
    pub(super) fn operand(&mut self, id: ExprId) -> Opnd {
        match self.pool.node(id) {
            Node::Var(s) => {
                let s = *s;
                let k = match self.input_of.get(&s) {
                    Some(&k) => k,
                    None => {
                        let (rows, cols) = self.dims[self.li(id)];
                        let symmetric = self.pool.var_info(s).is_some_and(|i| i.symmetric);
                        self.inputs.push(InputSpec {
                            name: self.pool.name(s).to_string(),
                            rows,
                            cols,
                            symmetric,
                        });
                        self.input_of.insert(s, self.inputs.len() - 1);
                        self.inputs.len() - 1
                    }
                };
                Opnd {
                    src: Src::Input(k),
                    t: false,
                }
            }
            Node::Transpose(x) => self.operand(*x).flip(),
            _ => {
                let li = self.li(id);
                let s = self.slot_of[li].unwrap_or_else(|| {
                    panic!(
                        "node {id:?} ({:?}) is used before it is computed",
                        self.role[li]
                    )
                });
                Opnd {
                    src: Src::Slot(s),
                    t: false,
                }
            }
        }
    }

    pub(super) fn needs_slot(&self, li: usize) -> bool {
        let f = self.flags[li];
        match self.node(li) {
            Node::Var(_) | Node::Transpose(_) => false,
            Node::Num(_) => f & (OPERAND | FACTOR | VECTOR) != 0,
            Node::Identity(_) => f & (OPERAND | VECTOR | SCALAR) != 0,
            Node::Ones(_) => f & (OPERAND | SCALAR) != 0,
            Node::Diag(v) if self.pool.shape(*v).cols == Dim::ONE => {
                f & (OPERAND | VECTOR | SCALAR) != 0
            }
            Node::Diag(_) if matches!(self.role[li], Role::Plain) => f & !LEAF != 0,
            Node::Inv(_) => f & !FACTOR != 0,
            // Not computed when only a product kron(L, R)*v reads it.
            Node::Kron(_) => f != 0,
            _ => true,
        }
    }

    pub(super) fn emit(&mut self) -> Result<(), EvalError> {
        for li in 0..self.ids.len() {
            let id = self.ids[li];
            match self.role[li].clone() {
                Role::Absorbed | Role::Inline(_) | Role::KernelInto(_) | Role::LazyOuter => {}
                Role::Kernel => {
                    let dst = self.node_slot(li);
                    self.emit_kernel(li, Sink::Buffer, dst)?;
                }
                Role::FusedReduce(cl) => {
                    let Role::KernelInto(sink) = self.role[cl] else {
                        unreachable!("a fused reduction has a kernel")
                    };
                    let dst = self.node_slot(li);
                    self.emit_kernel(cl, sink, dst)?;
                }
                Role::Chain(e) => {
                    let dst = self.node_slot(li);
                    self.emit_chain(&e, Mode::Product, dst);
                }
                Role::ReduceChain(mode, e) => {
                    let dst = self.node_slot(li);
                    self.emit_chain(&e, mode, dst);
                }
                Role::Plain => {
                    if self.needs_slot(li) {
                        self.emit_plain(li, id);
                    }
                }
            }
        }
        Ok(())
    }

    pub(super) fn emit_plain(&mut self, li: usize, id: ExprId) {
        let (rows, cols) = self.dims[li];
        match self.pool.node(id) {
            Node::Kron(_) | Node::Vectorize(_) | Node::Unvec(..) | Node::Commutation(..) => {
                self.emit_vec_op(li, id)
            }
            Node::Mul(_) if self.kron_times_vec(id).is_some() => self.emit_vec_op(li, id),
            Node::Num(v) => {
                let dst = self.node_slot(li);
                self.instrs.push(Instr::Fill {
                    dst,
                    rows,
                    cols,
                    value: v.get(),
                });
            }
            Node::Ones(_) => {
                let dst = self.node_slot(li);
                self.instrs.push(Instr::Fill {
                    dst,
                    rows,
                    cols,
                    value: 1.0,
                });
            }
            Node::Identity(_) => {
                let dst = self.node_slot(li);
                self.instrs.push(Instr::Identity {
                    dst,
                    n: rows,
                    alpha: Alpha::one(),
                });
            }
            Node::Diag(v) if self.pool.shape(*v).cols == Dim::ONE => {
                let v = self.operand(*v);
                let dst = self.node_slot(li);
                self.instrs.push(Instr::DiagMat {
                    dst,
                    v,
                    alpha: Alpha::one(),
                });
            }
            Node::Diag(m) => {
                let m = self.operand(*m);
                let dst = self.node_slot(li);
                self.instrs.push(Instr::DiagOf { dst, m });
            }
            Node::LogSumExpCols(m) => {
                let m = self.operand(*m);
                let dst = self.node_slot(li);
                self.instrs.push(Instr::LogSumExpCols { dst, m });
            }
            Node::Tri(t, m) => {
                let m = self.operand(*m);
                let dst = self.node_slot(li);
                let lower = *t == matdiff_expr::Triangle::Lower;
                self.instrs.push(Instr::Tri { dst, m, lower });
            }
            Node::Inv(a) => {
                let (base, t) = self.strip(*a, false);
                let lu = self.lu_for(base, id);
                let dst = self.node_slot(li);
                self.stats.flops += 2 * (rows as u64).pow(3);
                self.instrs.push(Instr::Inverse {
                    dst,
                    lu,
                    t,
                    alpha: Alpha::one(),
                });
            }
            Node::Reduce(kind, c) => {
                let src = self.operand(*c);
                let node = self.desc(id);
                let (r, cc) = self.dims[self.li(*c)];
                self.stats.flops += match kind {
                    Reduce::Det | Reduce::LogDet => 2 * (r as u64).pow(3) / 3,
                    _ => (r * cc) as u64,
                };
                let dst = self.node_slot(li);
                self.instrs.push(Instr::Reduce {
                    dst,
                    kind: *kind,
                    src,
                    node,
                });
            }
            Node::Pow([a, k]) => {
                let exponent = match self.pool.node(*k) {
                    Node::Num(_) => None,
                    _ => Some(self.operand(*k)),
                };
                let k = match self.pool.node(*k) {
                    Node::Num(n) => n.as_integer().unwrap_or(1),
                    _ => 1,
                };
                let a = self.operand(*a);
                let node = self.desc(id);
                let n = rows as u64;
                self.stats.flops +=
                    2 * n * n * n * (64 - k.unsigned_abs().leading_zeros() as u64) * 2;
                let dst = self.node_slot(li);
                self.instrs.push(Instr::MatPow {
                    dst,
                    a,
                    k,
                    exponent,
                    node,
                });
            }
            other => unreachable!("no plain evaluation of {other:?}"),
        }
    }

    pub(super) fn lu_for(&mut self, base: ExprId, inv_node: ExprId) -> usize {
        if let Some(&k) = self.lu_of.get(&base) {
            return k;
        }
        let a = self.operand(base);
        let node = self.desc(inv_node);
        let k = self.lu_of.len();
        self.lu_of.insert(base, k);
        let n = self.dims[self.li(base)].0 as u64;
        self.stats.flops += 2 * n * n * n / 3;
        self.stats.factorizations += 1;
        self.instrs.push(Instr::Lu { lu: k, a, node });
        k
    }

    // ----- Finishing: outputs and buffer reuse -----

    pub(super) fn finish(mut self) -> Plan<T> {
        let roots = self.roots.clone();
        let outs: Vec<Opnd> = roots.iter().map(|&r| self.operand(r)).collect();
        let nslots = self.slot_dims.len();
        super::fuse::fuse(&mut self.instrs, &outs, &self.slot_dims);
        let mut protected = vec![false; nslots];
        let mut count = vec![0usize; nslots];
        for o in &outs {
            if let Src::Slot(s) = o.src {
                protected[s] = true;
                count[s] += 1;
            }
        }
        let mut last_use: Vec<Option<usize>> = vec![None; nslots];
        for (i, ins) in self.instrs.iter_mut().enumerate() {
            for s in ins.operands_mut() {
                if let Src::Slot(k) = *s {
                    last_use[k] = Some(i);
                }
            }
        }
        let mut phys = vec![usize::MAX; nslots];
        let mut phys_dims: Vec<(usize, usize)> = Vec::new();
        let mut free: HashMap<(usize, usize), Vec<usize>> = HashMap::new();
        for (i, ins) in self.instrs.iter_mut().enumerate() {
            let mut reads: Vec<usize> = Vec::new();
            for s in ins.operands_mut() {
                if let Src::Slot(k) = *s {
                    reads.push(k);
                    *s = Src::Slot(phys[k]);
                }
            }
            // A slot written and never read is free again after the instruction (not before
            // its other slot, when it writes two, is given one).
            let mut unread = Vec::new();
            for d in ins.dsts_mut() {
                let v = *d;
                let dims = self.slot_dims[v];
                let p = match free.get_mut(&dims).and_then(|f| f.pop()) {
                    Some(p) => p,
                    None => {
                        phys_dims.push(dims);
                        phys_dims.len() - 1
                    }
                };
                phys[v] = p;
                *d = p;
                if last_use[v].is_none() && !protected[v] {
                    unread.push((dims, p));
                }
            }
            for (dims, p) in unread {
                free.entry(dims).or_default().push(p);
            }
            reads.sort_unstable();
            reads.dedup();
            for k in reads {
                if last_use[k] == Some(i) && !protected[k] {
                    free.entry(self.slot_dims[k]).or_default().push(phys[k]);
                }
            }
        }
        let outputs = outs
            .iter()
            .map(|o| match o.src {
                Src::Slot(s) => (
                    Opnd {
                        src: Src::Slot(phys[s]),
                        t: o.t,
                    },
                    !o.t && count[s] == 1,
                ),
                Src::Input(_) => (*o, false),
            })
            .collect();
        self.stats.buffers = phys_dims.len();
        self.stats.instructions = self.instrs.len();
        #[cfg(feature = "rayon")]
        let par = match self.options.threads {
            1 => Par::Seq,
            n => Par::rayon(n),
        };
        #[cfg(not(feature = "rayon"))]
        let par = Par::Seq;
        Plan {
            instrs: self.instrs,
            inputs: self.inputs,
            outputs,
            slots: (0..phys_dims.len()).map(|_| Mat::new()).collect(),
            lus: (0..self.lu_of.len()).map(|_| None).collect(),
            regs: Vec::new(),
            functions: self.functions,
            descs: if self.descs.is_empty() {
                vec![String::new()]
            } else {
                self.descs
            },
            par,
            stats: self.stats,
        }
    }
}
