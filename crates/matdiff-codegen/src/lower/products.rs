//! Products, traces of products and matrix chains ordered by dynamic programming.

use matdiff_expr::{Dim, ExprId, Node};

use crate::CodegenError;

use super::{Ew, Kind, Lowered, Lowering, Op, Operand, Size, Slot, SYMBOLIC_SIZE};

impl Lowering<'_> {
    /// The scalar factors and the matrix factors of a product, with shared sub-products
    /// replaced by their nodes.
    fn factors(&self, xs: &[ExprId]) -> (Vec<ExprId>, Vec<ExprId>) {
        let (mut scalars, mut mats): (Vec<ExprId>, Vec<ExprId>) =
            xs.iter().partition(|&&x| self.pool.shape(x).is_scalar());
        // The longest proper run of factors that the program computes as a product of its own.
        'outer: loop {
            for len in (2..mats.len()).rev() {
                for start in 0..=mats.len() - len {
                    if let Some(&p) = self.products.get(&mats[start..start + len]) {
                        // A sub-product that is a scalar (`b'*D*y` in `b'*D*y*x'`) is a number
                        // in generated code: a scalar factor, not a matrix of the chain.
                        if self.pool.shape(p).is_scalar() {
                            mats.drain(start..start + len);
                            scalars.push(p);
                        } else {
                            mats.splice(start..start + len, [p]);
                        }
                        continue 'outer;
                    }
                }
            }
            break;
        }
        (scalars, mats)
    }

    /// A product: scalars times a matrix chain.
    pub(super) fn product(&mut self, id: ExprId, xs: &[ExprId]) -> Result<Lowered, CodegenError> {
        let (scalars, mats) = self.factors(xs);
        let mut alpha: Vec<Ew> = scalars
            .iter()
            .map(|&s| self.ew(s))
            .collect::<Result<_, _>>()?;
        if mats.is_empty() {
            return Ok(Lowered::Ew(Ew::Mul(alpha)));
        }
        let scalar_result = self.pool.shape(id).is_scalar();
        let alpha_ew = (!alpha.is_empty() && !scalar_result).then(|| product_of(alpha.clone()));
        let (result, used_alpha) = self.chain(&mats, alpha_ew)?;
        if scalar_result {
            let item = self.push(None, Kind::Scalar, Op::Item(result.slot));
            alpha.push(Ew::Leaf(Operand {
                slot: item,
                t: false,
            }));
            return Ok(Lowered::Ew(product_of(alpha)));
        }
        let leaf = Ew::Leaf(result);
        if used_alpha || alpha.is_empty() {
            if !result.t && matches!(result.slot, Slot::Temp(_)) {
                return Ok(Lowered::Slot(result.slot));
            }
            return Ok(Lowered::Ew(leaf));
        }
        alpha.push(leaf);
        Ok(Lowered::Ew(Ew::Mul(alpha)))
    }

    /// `tr(...)`: of a product without forming it, where it can.
    pub(super) fn trace(&mut self, id: ExprId, a: ExprId) -> Result<Lowered, CodegenError> {
        let pool = self.pool;
        // The trace of a scalar (a number in generated code) is the scalar.
        if pool.shape(a).is_scalar() {
            return Ok(Lowered::Ew(self.ew(a)?));
        }
        if let (Node::Mul(xs), false) = (pool.node(a), self.keep.contains(&a)) {
            let xs = xs.to_vec();
            let (scalars, mats) = self.factors(&xs);
            let simple = mats.len() >= 2 && mats.iter().all(|&m| self.plain_factor(m));
            if simple {
                let mut alpha: Vec<Ew> = scalars
                    .iter()
                    .map(|&s| self.ew(s))
                    .collect::<Result<_, _>>()?;
                let split = self.best_split(&mats);
                let (l, _) = self.chain(&mats[..split], None)?;
                let (r, _) = self.chain(&mats[split..], None)?;
                let slot = self.push(None, Kind::Scalar, Op::TraceProduct(l, r));
                alpha.push(Ew::Leaf(Operand { slot, t: false }));
                let _ = id;
                return Ok(Lowered::Ew(product_of(alpha)));
            }
        }
        let o = self.operand(a)?;
        self.op(id, Op::Trace(o))
    }

    /// A factor that is an ordinary matrix (not an inverse, `ones` or `I`).
    fn plain_factor(&self, id: ExprId) -> bool {
        let pool = self.pool;
        let inner = match pool.node(id) {
            Node::Transpose(a) => *a,
            _ => id,
        };
        match pool.node(inner) {
            Node::Inv(_) => false,
            Node::Ones(_) | Node::Identity(_) => self.keep.contains(&inner),
            _ => true,
        }
    }

    /// The product of matrix factors (at least one) as an operand; `alpha` scales the last
    /// product, if there is one (the flag says whether it was used).
    fn chain(
        &mut self,
        mats: &[ExprId],
        alpha: Option<Ew>,
    ) -> Result<(Operand, bool), CodegenError> {
        let pool = self.pool;
        // Identities drop out of products with other factors.
        let kept: Vec<ExprId> = mats
            .iter()
            .copied()
            .filter(|&m| !matches!(pool.node(m), Node::Identity(_)) || self.keep.contains(&m))
            .collect();
        let mats: &[ExprId] = if kept.is_empty() { &mats[..1] } else { &kept };
        if mats.len() == 1 {
            return Ok((self.operand(mats[0])?, false));
        }
        // An inverse in a product is a solve (even where the inverse is shared).
        let unkept = |m: ExprId| !self.keep.contains(&m);
        let inverse = |m: ExprId| -> Option<(ExprId, bool)> {
            match pool.node(m) {
                Node::Inv(a) => Some((*a, false)),
                Node::Transpose(t) if unkept(m) => match pool.node(*t) {
                    Node::Inv(a) => Some((*a, true)),
                    _ => None,
                },
                _ => None,
            }
        };
        if let Some(i) = mats.iter().position(|&m| inverse(m).is_some()) {
            let (a, t) = inverse(mats[i]).expect("an inverse");
            let mut a = self.operand(a)?;
            a.t ^= t;
            let kind = |s: &Self, ids: &[ExprId]| -> Result<Kind, CodegenError> {
                let first = pool.shape(ids[0]);
                let last = pool.shape(*ids.last().expect("a factor"));
                Ok(Kind::Matrix(s.size(first.rows)?, s.size(last.cols)?))
            };
            if i + 1 < mats.len() {
                // inv(A)*B*C: the solve takes the narrowest prefix of the rest as its right-hand
                // side (inv(A)*b*c' solves for b, then forms the outer product).
                let width = |m: ExprId| match pool.shape(m).cols {
                    Dim::Known(k) => k as f64,
                    Dim::Sym(_) => SYMBOLIC_SIZE,
                    Dim::Prod(_) => SYMBOLIC_SIZE * SYMBOLIC_SIZE,
                };
                let mut j = i + 1;
                for k in i + 1..mats.len() {
                    if width(mats[k]) < width(mats[j]) {
                        j = k;
                    }
                }
                let (b, _) = self.chain(&mats[i + 1..=j], None)?;
                let k = kind(self, &mats[i..=j])?;
                let mut mid = Operand {
                    slot: self.push(None, k, Op::Solve { a, b }),
                    t: false,
                };
                let mut alpha = alpha;
                let mut used = false;
                if j + 1 < mats.len() {
                    let (r, _) = self.chain(&mats[j + 1..], None)?;
                    let k = kind(self, &mats[i..])?;
                    let scale = if i == 0 { alpha.take() } else { None };
                    used = scale.is_some();
                    mid = Operand {
                        slot: self.push(
                            None,
                            k,
                            Op::MatMul {
                                a: mid,
                                b: r,
                                alpha: scale,
                            },
                        ),
                        t: false,
                    };
                }
                let (out, used_here) = self.chain_with(&mats[..i], mid, alpha)?;
                return Ok((out, used || used_here));
            }
            // X*inv(A) = (inv(A')*X')'
            let (x, _) = self.chain(&mats[..i], None)?;
            let k = kind(self, mats)?;
            let k = match k {
                Kind::Matrix(r, c) => Kind::Matrix(c, r),
                s => s,
            };
            let s = self.push(
                None,
                k,
                Op::Solve {
                    a: Operand {
                        slot: a.slot,
                        t: !a.t,
                    },
                    b: Operand {
                        slot: x.slot,
                        t: !x.t,
                    },
                },
            );
            return Ok((Operand { slot: s, t: true }, false));
        }
        // `ones` at either end is a sum.
        let is_ones = |m: ExprId| unkept(m) && matches!(pool.node(m), Node::Ones(_));
        let is_ones_row = |m: ExprId| match pool.node(m) {
            Node::Transpose(o) => unkept(m) && is_ones(*o),
            _ => false,
        };
        let last = *mats.last().expect("factors");
        if is_ones(last) {
            let (x, _) = self.chain(&mats[..mats.len() - 1], None)?;
            let k = Kind::Matrix(self.size(pool.shape(mats[0]).rows)?, Size::Known(1));
            let s = self.push(None, k, Op::RowSums(x));
            return Ok((Operand { slot: s, t: false }, false));
        }
        if is_ones_row(mats[0]) {
            let (x, _) = self.chain(&mats[1..], None)?;
            let k = Kind::Matrix(Size::Known(1), self.size(pool.shape(last).cols)?);
            let s = self.push(None, k, Op::ColSums(x));
            return Ok((Operand { slot: s, t: false }, false));
        }
        let split = self.best_split(mats);
        let (l, _) = self.chain(&mats[..split], None)?;
        let (r, _) = self.chain(&mats[split..], None)?;
        let k = Kind::Matrix(
            self.size(pool.shape(mats[0]).rows)?,
            self.size(pool.shape(last).cols)?,
        );
        let used = alpha.is_some();
        let s = self.push(None, k, Op::MatMul { a: l, b: r, alpha });
        Ok((Operand { slot: s, t: false }, used))
    }

    /// `chain(mats) * rest`, `alpha` scaling the last product.
    fn chain_with(
        &mut self,
        mats: &[ExprId],
        rest: Operand,
        alpha: Option<Ew>,
    ) -> Result<(Operand, bool), CodegenError> {
        if mats.is_empty() {
            return Ok((rest, false));
        }
        let (l, _) = self.chain(mats, None)?;
        let pool = self.pool;
        let rows = self.size(pool.shape(mats[0]).rows)?;
        let cols = match self.program.kind(rest.slot) {
            Kind::Matrix(r, c) => {
                if rest.t {
                    r
                } else {
                    c
                }
            }
            Kind::Scalar => Size::Known(1),
        };
        let used = alpha.is_some();
        let s = self.push(
            None,
            Kind::Matrix(rows, cols),
            Op::MatMul {
                a: l,
                b: rest,
                alpha,
            },
        );
        Ok((Operand { slot: s, t: false }, used))
    }

    /// Where to split a chain for the cheapest product (by dynamic programming over the sizes,
    /// symbolic sizes counted as [`SYMBOLIC_SIZE`]).
    fn best_split(&self, mats: &[ExprId]) -> usize {
        let size = |d: Dim| match d {
            Dim::Known(k) => k as f64,
            Dim::Sym(_) => SYMBOLIC_SIZE,
            Dim::Prod(_) => SYMBOLIC_SIZE * SYMBOLIC_SIZE,
        };
        let n = mats.len();
        let mut p = vec![size(self.pool.shape(mats[0]).rows)];
        p.extend(mats.iter().map(|&m| size(self.pool.shape(m).cols)));
        let mut cost = vec![vec![0.0f64; n]; n];
        let mut split = vec![vec![0usize; n]; n];
        for len in 2..=n {
            for i in 0..=n - len {
                let j = i + len - 1;
                cost[i][j] = f64::INFINITY;
                for k in i..j {
                    let c = cost[i][k] + cost[k + 1][j] + p[i] * p[k + 1] * p[j + 1];
                    if c < cost[i][j] {
                        cost[i][j] = c;
                        split[i][j] = k + 1;
                    }
                }
            }
        }
        split[0][n - 1]
    }
}

fn product_of(mut xs: Vec<Ew>) -> Ew {
    if xs.len() == 1 {
        xs.pop().expect("one factor")
    } else {
        Ew::Mul(xs)
    }
}
