//! The compiler's product chains: factors, the dynamic-programming order, and their emission.

use super::*;

impl<'a, T: Scalar> Compiler<'a, T> {
    // ----- Product chains -----

    pub(super) fn fac(&mut self, base: ExprId, t: bool, inv: Option<ExprId>) -> Fac {
        let bl = self.li(base);
        let (r, c) = self.dims[bl];
        let (rows, cols) = if t { (c, r) } else { (r, c) };
        let kind = if let Some(inv_node) = inv {
            FacKind::Inv {
                lu: self.lu_for(base, inv_node),
                t,
            }
        } else {
            match self.pool.node(base) {
                Node::Ones(_) if self.slot_of[bl].is_none() => FacKind::Ones,
                Node::Diag(v)
                    if self.slot_of[bl].is_none() && self.pool.shape(*v).cols == Dim::ONE =>
                {
                    FacKind::Diag(self.operand(*v))
                }
                _ => {
                    let o = self.operand(base);
                    FacKind::Dense(if t { o.flip() } else { o })
                }
            }
        };
        Fac {
            kind,
            rows,
            cols,
            key: Some((base, t, inv)),
        }
    }

    pub(super) fn mul_cost(facs: &[Fac], l: (usize, usize), r: (usize, usize)) -> f64 {
        let (m, k, n) = (
            facs[l.0].rows as f64,
            facs[l.1].cols as f64,
            facs[r.1].cols as f64,
        );
        let single = |(a, b): (usize, usize)| (a == b).then(|| &facs[a].kind);
        match (single(l), single(r)) {
            (Some(FacKind::Inv { .. }), _) => 2.0 * k * k * n,
            (_, Some(FacKind::Inv { .. })) => 2.0 * k * k * m,
            (Some(FacKind::Diag(_)), _) => k * n,
            (_, Some(FacKind::Diag(_))) => m * k,
            (Some(FacKind::Ones), _) => k * n + m * n,
            (_, Some(FacKind::Ones)) => m * k + m * n,
            _ => 2.0 * m * k * n,
        }
    }

    /// The key of the product of factors `i..=j`, when they all stand for factors of the DAG.
    pub(super) fn range_key(facs: &[Fac], i: usize, j: usize) -> Option<Vec<FKey>> {
        facs[i..=j].iter().map(|f| f.key).collect()
    }

    /// Matrix-chain dynamic programming: the cheapest cost and split of every range, where a
    /// product computed earlier (by another chain of the plan) costs nothing.
    pub(super) fn chain_order(&self, facs: &[Fac]) -> Order {
        let k = facs.len();
        let mut cost = vec![vec![0.0f64; k]; k];
        let mut split = vec![vec![0usize; k]; k];
        let mut reuse = vec![vec![None; k]; k];
        for len in 2..=k {
            for i in 0..=k - len {
                let j = i + len - 1;
                if let Some(&found) =
                    Self::range_key(facs, i, j).and_then(|key| self.products.get(&key))
                {
                    reuse[i][j] = Some(found);
                    continue;
                }
                let mut best = f64::INFINITY;
                for s in i..j {
                    let c = cost[i][s] + cost[s + 1][j] + Self::mul_cost(facs, (i, s), (s + 1, j));
                    if c < best {
                        best = c;
                        split[i][j] = s;
                    }
                }
                cost[i][j] = best;
            }
        }
        Order { cost, split, reuse }
    }

    pub(super) fn alpha(&mut self, e: &Expansion) -> Alpha {
        let scalars = e.scalars.clone();
        let mut ops: Vec<Opnd> = scalars.into_iter().map(|s| self.operand(s)).collect();
        for sub in &e.scalar_chains {
            let s = self.new_slot((1, 1));
            self.emit_chain(sub, Mode::Product, s);
            ops.push(Opnd {
                src: Src::Slot(s),
                t: false,
            });
        }
        Alpha {
            c: e.c,
            scalars: ops,
        }
    }

    pub(super) fn emit_chain(&mut self, e: &Expansion, mode: Mode, dst: usize) {
        let alpha = self.alpha(e);
        let mut facs: Vec<Fac> = e
            .factors
            .iter()
            .map(|&(b, t, inv)| self.fac(b, t, inv))
            .collect();
        if facs.is_empty() {
            // A product of identities.
            let d = e.identity.expect("a product has a matrix factor");
            let n = self.sizes.dim(self.pool, d).unwrap_or(1);
            let s = self.new_slot((n, n));
            self.instrs.push(Instr::Identity {
                dst: s,
                n,
                alpha: Alpha::one(),
            });
            facs.push(Fac {
                kind: FacKind::Dense(Opnd {
                    src: Src::Slot(s),
                    t: false,
                }),
                rows: n,
                cols: n,
                key: None,
            });
        }
        if mode == Mode::Sum {
            let (r, c) = (facs[0].rows, facs[facs.len() - 1].cols);
            facs.insert(
                0,
                Fac {
                    kind: FacKind::Ones,
                    rows: 1,
                    cols: r,
                    key: None,
                },
            );
            facs.push(Fac {
                kind: FacKind::Ones,
                rows: c,
                cols: 1,
                key: None,
            });
        }
        self.finish_chain(facs, mode, dst, alpha)
    }

    pub(super) fn finish_chain(
        &mut self,
        facs: Vec<Fac>,
        mode: Mode,
        dst: usize,
        mut alpha: Alpha,
    ) {
        let k = facs.len();
        let order = self.chain_order(&facs);
        let cost = &order.cost;
        self.chain_scale = 1.0;
        match mode {
            Mode::Product | Mode::Sum => {
                self.emit_range(&facs, &order, 0, k - 1, Some((dst, alpha)));
            }
            Mode::Trace | Mode::Diag => {
                let n = facs[0].rows;
                // Either the whole product then its diagonal, or tr(L*R) as a dot product.
                let mut best = (cost[0][k - 1] + n as f64, None);
                for s in 0..k - 1 {
                    let c = cost[0][s] + cost[s + 1][k - 1] + (facs[0].rows * facs[s].cols) as f64;
                    if c < best.0 {
                        best = (c, Some(s));
                    }
                }
                match best.1 {
                    Some(s) => {
                        let l = self.emit_range(&facs, &order, 0, s, None);
                        let r = self.emit_range(&facs, &order, s + 1, k - 1, None);
                        let (l, r) = (self.dense(&facs, l), self.dense(&facs, r));
                        alpha.c *= std::mem::replace(&mut self.chain_scale, 1.0);
                        self.stats.flops += 2 * (facs[0].rows * facs[s].cols) as u64;
                        self.instrs.push(if mode == Mode::Trace {
                            Instr::TraceDot { dst, l, r, alpha }
                        } else {
                            Instr::DiagDot { dst, l, r, alpha }
                        });
                    }
                    None => {
                        let tmp = self.new_slot((n, facs[k - 1].cols));
                        self.emit_range(&facs, &order, 0, k - 1, Some((tmp, alpha)));
                        let m = Opnd {
                            src: Src::Slot(tmp),
                            t: false,
                        };
                        self.instrs.push(if mode == Mode::Trace {
                            Instr::Reduce {
                                dst,
                                kind: Reduce::Trace,
                                src: m,
                                node: 0,
                            }
                        } else {
                            Instr::DiagOf { dst, m }
                        });
                    }
                }
            }
        }
    }

    /// Emits the product of factors `i..=j`; with `out`, into that slot and scaled.
    pub(super) fn emit_range(
        &mut self,
        facs: &[Fac],
        order: &Order,
        i: usize,
        j: usize,
        out: Option<(usize, Alpha)>,
    ) -> Val {
        if i == j {
            return match out {
                None => Val::Fac(i),
                Some((dst, alpha)) => {
                    self.materialise(&facs[i], dst, alpha);
                    Val::Slot(dst)
                }
            };
        }
        if let Some((slot, c)) = order.reuse[i][j] {
            return match out {
                None => {
                    self.chain_scale /= c;
                    Val::Slot(slot)
                }
                Some((dst, mut alpha)) => {
                    alpha.c *= std::mem::replace(&mut self.chain_scale, 1.0) / c;
                    self.stats.flops += (facs[i].rows * facs[j].cols) as u64;
                    self.instrs.push(Instr::Copy {
                        dst,
                        src: Opnd {
                            src: Src::Slot(slot),
                            t: false,
                        },
                        alpha,
                    });
                    Val::Slot(dst)
                }
            };
        }
        let s = order.split[i][j];
        let before = self.chain_scale;
        let l = self.emit_range(facs, order, i, s, None);
        let r = self.emit_range(facs, order, s + 1, j, None);
        // Reused products inside this range carry their own numbers: `l*r` is the true product
        // divided by `within`.
        let within = self.chain_scale / before;
        let (dst, alpha) = match out {
            Some((d, mut alpha)) => {
                alpha.c *= std::mem::replace(&mut self.chain_scale, 1.0);
                (d, alpha)
            }
            None => (self.new_slot((facs[i].rows, facs[j].cols)), Alpha::one()),
        };
        // `dst` will hold `alpha.c / within` times the true product of the range.
        let c = alpha.c / within;
        let reusable = alpha.scalars.is_empty() && c != 0.0 && c.is_finite();
        if let (Some(key), true) = (Self::range_key(facs, i, j), reusable) {
            self.products.entry(key).or_insert((dst, c));
        }
        self.combine(
            facs,
            l,
            r,
            dst,
            alpha,
            (facs[i].rows, facs[s].cols, facs[j].cols),
        );
        Val::Slot(dst)
    }

    pub(super) fn combine(
        &mut self,
        facs: &[Fac],
        l: Val,
        r: Val,
        dst: usize,
        alpha: Alpha,
        mkn: (usize, usize, usize),
    ) {
        let (m, k, n) = mkn;
        let kind = |v: &Val| match v {
            Val::Fac(i) => Some(facs[*i].kind.clone()),
            Val::Slot(_) => None,
        };
        let (lk, rk) = (kind(&l), kind(&r));
        let instr = match (lk, rk) {
            (Some(FacKind::Inv { lu, t }), _) => {
                self.stats.solves += 1;
                self.stats.flops += (2 * k * k * n) as u64;
                let rhs = self.dense(facs, r);
                Instr::Solve {
                    dst,
                    lu,
                    t,
                    rhs,
                    alpha,
                }
            }
            (_, Some(FacKind::Inv { lu, t })) => {
                self.stats.solves += 1;
                self.stats.flops += (2 * k * k * m) as u64;
                let lhs = self.dense(facs, l);
                Instr::SolveRight {
                    dst,
                    lu,
                    t,
                    lhs,
                    alpha,
                }
            }
            (Some(FacKind::Diag(d)), _) => {
                self.stats.flops += (k * n) as u64;
                let src = self.dense(facs, r);
                Instr::ScaleRows { dst, d, src, alpha }
            }
            (_, Some(FacKind::Diag(d))) => {
                self.stats.flops += (m * k) as u64;
                let src = self.dense(facs, l);
                Instr::ScaleCols { dst, src, d, alpha }
            }
            (Some(FacKind::Ones), _) => {
                self.stats.flops += (k * n + m * n) as u64;
                let v = self.dense(facs, r);
                if m == 1 {
                    Instr::ColSums { dst, src: v, alpha }
                } else {
                    Instr::Broadcast {
                        dst,
                        v,
                        rows: m,
                        cols: n,
                        by_rows: true,
                        alpha,
                    }
                }
            }
            (_, Some(FacKind::Ones)) => {
                self.stats.flops += (m * k + m * n) as u64;
                let v = self.dense(facs, l);
                if n == 1 {
                    Instr::RowSums { dst, src: v, alpha }
                } else {
                    Instr::Broadcast {
                        dst,
                        v,
                        rows: m,
                        cols: n,
                        by_rows: false,
                        alpha,
                    }
                }
            }
            _ => {
                let f = 2 * (m * k * n) as u64;
                self.stats.flops += f;
                self.stats.matmul_flops += f;
                self.stats.matmuls += 1;
                let lhs = self.dense(facs, l);
                let rhs = self.dense(facs, r);
                Instr::MatMul {
                    dst,
                    lhs,
                    rhs,
                    alpha,
                }
            }
        };
        self.instrs.push(instr);
    }

    /// A dense operand of a chain value, materialising a lazy factor if needed.
    pub(super) fn dense(&mut self, facs: &[Fac], v: Val) -> Opnd {
        match v {
            Val::Slot(s) => Opnd {
                src: Src::Slot(s),
                t: false,
            },
            Val::Fac(i) => match &facs[i].kind {
                FacKind::Dense(o) => *o,
                _ => {
                    let s = self.new_slot((facs[i].rows, facs[i].cols));
                    self.materialise(&facs[i], s, Alpha::one());
                    Opnd {
                        src: Src::Slot(s),
                        t: false,
                    }
                }
            },
        }
    }

    pub(super) fn materialise(&mut self, fac: &Fac, dst: usize, alpha: Alpha) {
        let instr = match &fac.kind {
            FacKind::Dense(o) => Instr::Copy {
                dst,
                src: *o,
                alpha,
            },
            FacKind::Ones => {
                if alpha.is_one() {
                    Instr::Fill {
                        dst,
                        rows: fac.rows,
                        cols: fac.cols,
                        value: 1.0,
                    }
                } else {
                    let s = self.new_slot((1, 1));
                    self.instrs.push(Instr::Fill {
                        dst: s,
                        rows: 1,
                        cols: 1,
                        value: 1.0,
                    });
                    Instr::Broadcast {
                        dst,
                        v: Opnd {
                            src: Src::Slot(s),
                            t: false,
                        },
                        rows: fac.rows,
                        cols: fac.cols,
                        by_rows: false,
                        alpha,
                    }
                }
            }
            FacKind::Diag(v) => Instr::DiagMat { dst, v: *v, alpha },
            FacKind::Inv { lu, t } => {
                self.stats.flops += 2 * (fac.rows as u64).pow(3);
                Instr::Inverse {
                    dst,
                    lu: *lu,
                    t: *t,
                    alpha,
                }
            }
        };
        self.instrs.push(instr);
    }
}
