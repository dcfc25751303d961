//! The compiler's role assignment: which nodes fuse into kernels, chains, reductions or lazy constants.

use super::*;

impl<'a, T: Scalar> Compiler<'a, T> {
    pub(super) fn new(
        pool: &'a ExprPool,
        roots: &[ExprId],
        sizes: &'a Sizes,
        options: &'a Options<T>,
    ) -> Result<Compiler<'a, T>, EvalError> {
        let mut seen: HashMap<ExprId, ()> = HashMap::new();
        let mut stack: Vec<ExprId> = roots.to_vec();
        while let Some(id) = stack.pop() {
            if seen.insert(id, ()).is_none() {
                stack.extend_from_slice(pool.node(id).children());
            }
        }
        let mut ids: Vec<ExprId> = seen.into_keys().collect();
        ids.sort();
        let local: HashMap<ExprId, usize> =
            ids.iter().enumerate().map(|(i, &id)| (id, i)).collect();
        let n = ids.len();
        // Variables first, so that a variable with no value is named as such.
        for &id in &ids {
            if let Node::Var(s) = pool.node(id) {
                let shape = pool.shape(id);
                if sizes.shape(pool, shape).is_err() {
                    return Err(EvalError::MissingVariable {
                        name: pool.name(*s).to_string(),
                    });
                }
            }
        }
        let mut dims = Vec::with_capacity(n);
        for &id in &ids {
            dims.push(sizes.shape(pool, pool.shape(id))?);
        }
        let mut uses = vec![0u32; n];
        let mut consumers = vec![Vec::new(); n];
        for (li, &id) in ids.iter().enumerate() {
            for c in pool.node(id).children() {
                let cl = local[c];
                uses[cl] += 1;
                if consumers[cl].last() != Some(&li) {
                    consumers[cl].push(li);
                }
            }
        }
        let mut is_root = vec![false; n];
        let mut flags = vec![0u8; n];
        for r in roots {
            is_root[local[r]] = true;
            flags[local[r]] |= OPERAND;
        }
        Ok(Compiler {
            pool,
            sizes,
            options,
            roots: roots.to_vec(),
            ids,
            local,
            dims,
            uses,
            consumers,
            is_root,
            flags,
            role: vec![Role::Plain; n],
            slot_of: vec![None; n],
            slot_dims: Vec::new(),
            inputs: Vec::new(),
            input_of: HashMap::new(),
            instrs: Vec::new(),
            lu_of: HashMap::new(),
            functions: Vec::new(),
            fn_of: HashMap::new(),
            descs: Vec::new(),
            desc_of: HashMap::new(),
            tree_sizes: HashMap::new(),
            products: HashMap::new(),
            chain_scale: 1.0,
            stats: PlanStats::default(),
        })
    }

    pub(super) fn li(&self, id: ExprId) -> usize {
        self.local[&id]
    }

    pub(super) fn node(&self, li: usize) -> &'a Node {
        self.pool.node(self.ids[li])
    }

    pub(super) fn scalar_shaped(&self, id: ExprId) -> bool {
        self.pool.shape(id).is_scalar()
    }

    /// Whether a node is computed entry by entry.
    pub(super) fn is_elementwise(&self, id: ExprId) -> bool {
        match self.pool.node(id) {
            Node::Neg(_)
            | Node::Add(_)
            | Node::Hadamard(_)
            | Node::Div(_)
            | Node::HDiv(_)
            | Node::HPow(_)
            | Node::Apply { .. } => true,
            Node::Pow([a, _]) => self.scalar_shaped(*a),
            Node::Mul(xs) => xs.iter().filter(|x| !self.scalar_shaped(**x)).count() <= 1,
            _ => false,
        }
    }

    /// A product of two or more matrices (not a scaling).
    pub(super) fn is_chain(&self, id: ExprId) -> bool {
        matches!(self.pool.node(id), Node::Mul(_)) && !self.is_elementwise(id)
    }

    /// `u * v'` with exactly two non-scalar factors, a column and a row.
    pub(super) fn outer_factors(&self, id: ExprId) -> Option<(ExprId, ExprId)> {
        let Node::Mul(xs) = self.pool.node(id) else {
            return None;
        };
        let m: Vec<ExprId> = xs
            .iter()
            .copied()
            .filter(|&x| !self.scalar_shaped(x))
            .collect();
        if m.len() != 2 {
            return None;
        }
        let (a, b) = (self.pool.shape(m[0]), self.pool.shape(m[1]));
        (a.cols == Dim::ONE && b.rows == Dim::ONE && !self.pool.shape(id).is_scalar())
            .then_some((m[0], m[1]))
    }

    pub(super) fn absorbable(&self, id: ExprId) -> bool {
        let li = self.li(id);
        self.uses[li] == 1 && !self.is_root[li]
    }

    pub(super) fn single_use(&self, li: usize) -> bool {
        self.uses[li] == 1 && !self.is_root[li]
    }

    pub(super) fn strip(&self, mut id: ExprId, mut t: bool) -> (ExprId, bool) {
        while let Node::Transpose(x) = self.pool.node(id) {
            id = *x;
            t = !t;
        }
        (id, t)
    }

    pub(super) fn expand(
        &mut self,
        id: ExprId,
        t: bool,
        top: bool,
        absorb: bool,
        e: &mut Expansion,
    ) {
        if !top && self.scalar_shaped(id) {
            // A 1x1 factor is its own transpose: `2'` is the number 2.
            let (base, _) = self.strip(id, t);
            match self.pool.node(base) {
                Node::Num(v) => e.c *= v.get(),
                _ => e.scalars.push(base),
            }
            return;
        }
        let li = self.li(id);
        match self.pool.node(id) {
            Node::Mul(xs) if top || (absorb && self.absorbable(id)) => {
                if !top {
                    self.role[li] = Role::Absorbed;
                }
                let xs: Vec<ExprId> = if t {
                    xs.iter().rev().copied().collect()
                } else {
                    xs.to_vec()
                };
                for x in xs {
                    self.expand(x, t, false, true, e);
                }
            }
            Node::Transpose(x) => {
                let a = absorb && self.absorbable(id);
                if a {
                    self.role[li] = Role::Absorbed;
                }
                self.expand(*x, !t, false, a, e);
            }
            Node::Neg(x) if absorb && self.absorbable(id) => {
                self.role[li] = Role::Absorbed;
                e.c = -e.c;
                self.expand(*x, t, false, true, e);
            }
            Node::Identity(d) => e.identity = Some(*d),
            Node::Inv(a) => {
                let (base, bt) = self.strip(*a, t);
                e.factors.push((base, bt, Some(id)));
            }
            Node::Pow([x, k]) if absorb && self.absorbable(id) => {
                let k = match self.pool.node(*k) {
                    Node::Num(n) => n.as_integer().unwrap_or(0),
                    _ => 0,
                };
                if (1..=8).contains(&k.abs()) {
                    self.role[li] = Role::Absorbed;
                    for _ in 0..k.abs() {
                        if k > 0 {
                            self.expand(*x, t, false, true, e);
                        } else {
                            let (base, bt) = self.strip(*x, t);
                            e.factors.push((base, bt, Some(id)));
                        }
                    }
                } else {
                    e.factors.push((id, t, None));
                }
            }
            _ => e.factors.push((id, t, None)),
        }
    }

    /// Expands a chain and puts the usage flags on its factors.
    pub(super) fn expand_chain(&mut self, id: ExprId) -> Box<Expansion> {
        let mut e = Expansion {
            c: 1.0,
            ..Expansion::default()
        };
        self.expand(id, false, true, true, &mut e);
        // Split off runs whose product is 1x1 and cannot multiply what follows.
        let shape = |&(b, t, _): &(ExprId, bool, Option<ExprId>)| {
            let s = self.pool.shape(b);
            if t {
                s.transposed()
            } else {
                s
            }
        };
        let factors = std::mem::take(&mut e.factors);
        let mut run: Vec<(ExprId, bool, Option<ExprId>)> = Vec::new();
        let mut running = None;
        for f in factors {
            let fs = shape(&f);
            if let Some(r) = running {
                let r: matdiff_expr::Shape = r;
                if r.cols != fs.rows && r.is_scalar() {
                    e.scalar_chains.push(Expansion {
                        factors: std::mem::take(&mut run),
                        c: 1.0,
                        ..Expansion::default()
                    });
                    running = None;
                }
            }
            running = Some(match running {
                None => fs,
                Some(r) => matdiff_expr::Shape::new(r.rows, fs.cols),
            });
            run.push(f);
        }
        e.factors = run;
        let all: Vec<(ExprId, bool, Option<ExprId>)> = e
            .factors
            .iter()
            .chain(e.scalar_chains.iter().flat_map(|c| c.factors.iter()))
            .copied()
            .collect();
        for &(base, _, inv) in &all {
            let bl = self.li(base);
            if inv.is_some() {
                self.flags[bl] |= OPERAND;
            } else if !matches!(self.pool.node(base), Node::Ones(_)) {
                self.flags[bl] |= FACTOR;
            }
        }
        for &s in &e.scalars {
            let sl = self.li(s);
            self.flags[sl] |= SCALAR;
        }
        Box::new(e)
    }

    /// The group a node joins when every consumer is an element-wise node of one kernel.
    pub(super) fn inline_group(&self, li: usize) -> Option<usize> {
        if self.is_root[li] || self.flags[li] != LEAF {
            return None;
        }
        let mut group = None;
        for &c in &self.consumers[li] {
            let g = match self.role[c] {
                Role::Inline(g) => g,
                Role::Kernel | Role::KernelInto(_) => c,
                _ => return None,
            };
            if group.is_some_and(|x| x != g) {
                return None;
            }
            group = Some(g);
        }
        group
    }

    pub(super) fn assign_roles(&mut self) {
        for li in (0..self.ids.len()).rev() {
            if matches!(self.role[li], Role::Absorbed) {
                continue;
            }
            let id = self.ids[li];
            let f = self.flags[li];
            let node = self.node(li);
            if self.is_elementwise(id) {
                if !matches!(self.role[li], Role::KernelInto(_)) {
                    self.role[li] = match self.inline_group(li) {
                        Some(g) => Role::Inline(g),
                        None => Role::Kernel,
                    };
                }
                for c in node.children() {
                    let cl = self.li(*c);
                    self.flags[cl] |= LEAF;
                }
                continue;
            }
            if self.vec_op_role(id, f != 0) {
                continue;
            }
            match node {
                Node::Mul(_) => {
                    if let (Some((u, v)), true) =
                        (self.outer_factors(id), f == LEAF && !self.is_root[li])
                    {
                        self.role[li] = Role::LazyOuter;
                        for x in [u, v] {
                            let (base, _) = self.strip(x, false);
                            if !matches!(self.pool.node(base), Node::Ones(_)) {
                                let bl = self.li(base);
                                self.flags[bl] |= VECTOR;
                            }
                        }
                        if let Node::Mul(xs) = node {
                            let scalars: Vec<ExprId> = xs
                                .iter()
                                .copied()
                                .filter(|&x| self.scalar_shaped(x))
                                .collect();
                            for x in scalars {
                                let xl = self.li(x);
                                self.flags[xl] |= SCALAR;
                            }
                        }
                    } else {
                        let e = self.expand_chain(id);
                        self.role[li] = Role::Chain(e);
                    }
                }
                Node::Reduce(kind, c) => self.reduce_role(li, Some(*kind), *c),
                Node::Diag(c) => {
                    if self.pool.shape(*c).cols == Dim::ONE {
                        let cl = self.li(*c);
                        self.flags[cl] |= OPERAND;
                    } else {
                        self.reduce_role(li, None, *c);
                    }
                }
                Node::Transpose(x) => {
                    let xl = self.li(*x);
                    self.flags[xl] |= f;
                }
                Node::Inv(a) | Node::Pow([a, _]) | Node::Tri(_, a) | Node::LogSumExpCols(a) => {
                    let al = self.li(*a);
                    self.flags[al] |= OPERAND;
                    // A matrix power by an integer symbol reads its exponent at run time.
                    if let Node::Pow([_, k]) = node {
                        if !matches!(self.pool.node(*k), Node::Num(_)) {
                            let kl = self.li(*k);
                            self.flags[kl] |= OPERAND;
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// Fuses a reduction (`None`: the diagonal) into its argument's kernel or product chain
    /// when it is the argument's only use.
    pub(super) fn reduce_role(&mut self, li: usize, kind: Option<Reduce>, c: ExprId) {
        let cl = self.li(c);
        let fusable_kernel = matches!(
            kind,
            None | Some(Reduce::Trace | Reduce::Sum | Reduce::Norm1 | Reduce::Norm2)
        );
        if fusable_kernel && self.is_elementwise(c) && self.single_use(cl) {
            let sink = match kind {
                Some(k) => Sink::Reduce(k),
                None => Sink::Diagonal,
            };
            self.role[cl] = Role::KernelInto(sink);
            self.role[li] = Role::FusedReduce(cl);
            return;
        }
        let mode = match kind {
            Some(Reduce::Trace) => Some(Mode::Trace),
            Some(Reduce::Sum) => Some(Mode::Sum),
            None => Some(Mode::Diag),
            _ => None,
        };
        if let Some(mode) = mode {
            if self.is_chain(c) && self.single_use(cl) {
                self.role[cl] = Role::Absorbed;
                let e = self.expand_chain(c);
                self.role[li] = Role::ReduceChain(mode, e);
                return;
            }
        }
        self.flags[cl] |= OPERAND;
    }
}
