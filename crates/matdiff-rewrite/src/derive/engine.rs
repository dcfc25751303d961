//! The engine's stages: the differential (a), the trace-tricks lines, the core relationship (c).

use matdiff_expr::{Decl, DeclDim, DeclShape, Dim, ExprId, ExprPool, Ids, Node, Reduce, Symbol};
use matdiff_expr::{FxHashMap as HashMap, FxHashSet as HashSet};
use smallvec::{smallvec, SmallVec};

use crate::error::DeriveError;
use crate::rules::RuleId;

use super::setup::fresh_name;
use super::{
    replace_word, substitute, Aux, Engine, LhsFunction::F, State, States, Step, StepKind, StepLhs,
};

impl Engine<'_> {
    pub(crate) fn depends(&self, id: ExprId) -> bool {
        self.depends.get(id.index()).copied().unwrap_or(false)
    }

    /// Whether `id` mentions a named subexpression that depends on the variable.
    pub(crate) fn mentions_names(&self, id: ExprId) -> bool {
        let mut stack = vec![id];
        let mut seen = HashSet::default();
        while let Some(x) = stack.pop() {
            if self.boundaries.contains_key(&x) || (x != self.dx && self.dvars.contains(&x)) {
                return true;
            }
            if seen.insert(x) {
                stack.extend_from_slice(self.s.pool.node(x).children());
            }
        }
        false
    }

    pub(super) fn has_d(&mut self, id: ExprId) -> bool {
        if let Some(b) = self.has_d.get(id) {
            return b;
        }
        // The differential variables are remembered from the start (see `setup`).
        let mut b = false;
        let mut i = 0;
        while !b && i < self.s.pool.node(id).children().len() {
            b = self.has_d(self.s.pool.node(id).children()[i]);
            i += 1;
        }
        self.has_d.insert(id, b);
        b
    }

    /// Parses a registered derivative template and substitutes the argument for `x`.
    pub(crate) fn instantiate(
        &mut self,
        name: &str,
        template: &str,
        arg: ExprId,
    ) -> Result<ExprId, DeriveError> {
        let shape = self.s.pool.shape(arg);
        let placeholder = format!("__{name}_x");
        // A product dimension has no declaration: the template infers it from the argument.
        let dim = |p: &ExprPool, d: Dim| match d {
            Dim::Known(k) => Some(DeclDim::Known(k)),
            Dim::Sym(v) => Some(DeclDim::Named(p.dim_name(v).to_string())),
            Dim::Prod(_) => None,
        };
        let decl = Decl {
            names: vec![(placeholder.clone(), 0..0)],
            shape: DeclShape::Matrix(dim(self.s.pool, shape.rows), dim(self.s.pool, shape.cols)),
            symmetric: false,
            function: false,
            structure: matdiff_expr::Structure::General,
        };
        let text = replace_word(template, "x", &placeholder);
        let parsed =
            self.s
                .pool
                .parse_with(&text, &[decl])
                .map_err(|_| DeriveError::Unsupported {
                    expr: format!("{name}' = {template}"),
                    wrt: "x".into(),
                    why: "the registered derivative does not parse",
                })?;
        let sym = self.s.pool.symbol(&placeholder);
        let var = self.s.pool.intern(Node::Var(sym))?;
        let mut map = HashMap::default();
        map.insert(var, arg);
        Ok(substitute(self.s.pool, parsed.root, &map)?)
    }

    /// Runs every stage; returns the gradient and the definitions of the auxiliary variables.
    pub(super) fn run(
        &mut self,
        root: ExprId,
        wrt: &str,
        symmetric: bool,
    ) -> Result<(ExprId, Vec<(Symbol, ExprId)>), DeriveError> {
        // The root, then the named subexpressions from the outermost (largest id) inwards.
        let mut order: SmallVec<[ExprId; 4]> = smallvec![root];
        order.extend(self.boundaries.keys().copied().filter(|&b| b != root));
        order[1..].sort_by(|a, b| b.cmp(a));
        let mut adjoints: HashMap<ExprId, Vec<ExprId>> = HashMap::default();
        let mut grad_terms: SmallVec<[ExprId; 4]> = SmallVec::new();
        let mut shown: HashMap<ExprId, ExprId> = HashMap::default();
        let mut display_defs: Vec<(Symbol, ExprId)> = Vec::new();
        let mut dvar_defs: Vec<(ExprId, Symbol, ExprId)> = Vec::new();
        self.push(
            StepKind::Function,
            &StepLhs::Function(F),
            root,
            vec![],
            false,
        );
        for (k, &node) in order.iter().enumerate() {
            self.stage = node;
            self.line_rules.clear();
            let (start, lhs) = if k == 0 {
                (State { u: None, e: node }, StepLhs::Differential(F))
            } else {
                let contributions = adjoints.remove(&node).unwrap_or_default();
                if contributions.is_empty() {
                    continue;
                }
                let name = self.boundaries[&node].name.clone();
                let value = self.s.add(&contributions)?;
                let value = self.s.canon(value)?;
                let shape = self.s.pool.shape(node);
                let base = format!("{}{name}", Aux::Gradient.prefix());
                let gname = fresh_name(self.s.pool, &base, shape);
                let gsym = super::setup::declare_internal(self.s.pool, &gname, shape)?;
                // `∂f/∂Y_1` when `∂f/∂Y` is taken: the name's gradient is written with its suffix.
                let of = format!("{name}{}", &gname[base.len()..]);
                self.aux.push((gsym, Aux::Gradient));
                let gvar = self.s.pool.intern(Node::Var(gsym))?;
                if self.recording() {
                    let shown_value = self.s.present(value)?;
                    self.push(
                        StepKind::Gradient,
                        &StepLhs::Gradient(F, of.into()),
                        shown_value,
                        vec![RuleId::C],
                        false,
                    );
                }
                display_defs.push((gsym, value));
                shown.insert(gvar, value);
                let dvar = self.boundaries[&node].dvar;
                let lhs = if adjoints.values().all(Vec::is_empty) && grad_terms.is_empty() {
                    StepLhs::Differential(F)
                } else {
                    StepLhs::DifferentialThrough(F, name.into())
                };
                let start = State {
                    u: Some(gvar),
                    e: dvar,
                };
                self.push_shown(&lhs, &[start], vec![RuleId::C], false)?;
                (start, lhs)
            };
            // (a) The differential.
            self.line_rules.clear();
            let Some(d) = self.d(node)? else {
                if k > 0 {
                    // Nothing flows through this name (sign(X) is piecewise constant): its
                    // differential is 0, and the line that names it is 0.
                    let dvar = self.boundaries[&node].dvar;
                    let Node::Var(sym) = *self.s.pool.node(dvar) else {
                        unreachable!("a differential variable")
                    };
                    let shape = self.s.pool.shape(node);
                    let zero = self.s.zero(shape)?;
                    dvar_defs.push((node, sym, zero));
                    let rules = std::mem::take(&mut self.line_rules);
                    let zero = self.s.pool.num(0.0);
                    self.push(StepKind::Differential, &lhs, zero, rules, true);
                }
                continue;
            };
            if k > 0 {
                let dvar = self.boundaries[&node].dvar;
                let Node::Var(sym) = *self.s.pool.node(dvar) else {
                    unreachable!("a differential variable")
                };
                dvar_defs.push((node, sym, d));
            }
            let mut states: States = smallvec![State { u: start.u, e: d }];
            let rules = std::mem::take(&mut self.line_rules);
            // The function's differential is shown as it comes, `df = a'*(exp(X*b) .* (dX*b))`;
            // the trace form follows by T1.
            if k == 0 {
                self.push(StepKind::Differential, &lhs, d, rules, false);
            } else {
                self.push_shown(&lhs, &states, rules, true)?;
            }
            // The same differential with its algebra done, when that is much shorter
            // (log(det(X)): 1/det(X)*det(X)*tr(inv(X)*dX) is tr(inv(X)*dX)).
            let applied = self.s.applied.len();
            let tidy = self.s.canon(d)?;
            if !self.has_d(tidy) {
                // The differential is zero (X - X): nothing flows through this stage.
                self.push(StepKind::Differential, &lhs, tidy, vec![RuleId::A], true);
                continue;
            }
            if self.s.pool.tree_size(tidy).saturating_add(2) < self.s.pool.tree_size(d) {
                states = smallvec![State {
                    u: start.u,
                    e: tidy,
                }];
                if k == 0 {
                    self.push(StepKind::Differential, &lhs, tidy, vec![RuleId::A], true);
                } else {
                    self.push_shown(&lhs, &states, vec![RuleId::A], true)?;
                }
            } else {
                // Not shown: the identities it applied are not this derivation's.
                self.s.applied.truncate(applied);
            }
            let d = states[0].e;
            let scalar_wrt = self.s.pool.shape(self.dx).is_scalar()
                || self.s.pool.shape(self.dx).cols == Dim::ONE;
            if k == 0 && !scalar_wrt && self.recording() && !self.is_trace_form(d) {
                let t = self.s.pool.intern(Node::Reduce(Reduce::Trace, d))?;
                self.push(StepKind::Differential, &lhs, t, vec![RuleId::T1], true);
            }
            // (b) The trace tricks.
            let collected = self.trace_tricks(states, &lhs)?;
            for st in collected {
                let u = st.u.expect("collected");
                if st.e == self.dx {
                    grad_terms.push(u);
                } else {
                    let owner = self
                        .boundaries
                        .iter()
                        .find(|(_, b)| b.dvar == st.e)
                        .map(|(&id, _)| id)
                        .expect("a differential variable of a name");
                    adjoints.entry(owner).or_default().push(u);
                }
            }
        }
        // (c) The core relationship.
        let shown_full = self.core_relationship(&grad_terms, &shown, wrt, symmetric)?;
        // Definitions: differentials from the innermost name out, then the gradients of names.
        dvar_defs.sort_by_key(|d| d.0);
        let mut definitions: Vec<(Symbol, ExprId)> =
            dvar_defs.into_iter().map(|(_, s, d)| (s, d)).collect();
        definitions.extend(display_defs);
        Ok((shown_full, definitions))
    }

    /// Step (b), the trace tricks: one peel of every term per line, until no term changes, then
    /// the terms of the same differential collected. Returns the collected terms.
    fn trace_tricks(&mut self, mut states: States, lhs: &StepLhs) -> Result<States, DeriveError> {
        // The terms of the next line go into `next`, whose buffer is kept from line to line.
        let mut next = States::with_capacity(states.len() + 2);
        // The rules of a line, in a buffer kept from line to line unless the line is recorded.
        let mut rules = Vec::with_capacity(4);
        loop {
            rules.clear();
            next.clear();
            let mut changed = false;
            for st in &states {
                changed |= self.peel(*st, &mut next, &mut rules)?;
            }
            if !changed {
                break;
            }
            std::mem::swap(&mut states, &mut next);
            let line = if self.recording() {
                std::mem::replace(&mut rules, Vec::with_capacity(4))
            } else {
                Vec::new()
            };
            self.push_shown(lhs, &states, line, true)?;
        }
        // Collect terms of the same differential.
        let mut groups: SmallVec<[(ExprId, SmallVec<[ExprId; 2]>); 2]> = SmallVec::new();
        for st in &states {
            let u = self.u_or_identity(*st)?;
            match groups.iter_mut().find(|g| g.0 == st.e) {
                Some(g) => g.1.push(u),
                None => groups.push((st.e, smallvec![u])),
            }
        }
        let mut collected = States::new();
        for (e, us) in &groups {
            let total = self.s.add(us)?;
            collected.push(State {
                u: Some(total),
                e: *e,
            });
        }
        if states.len() > collected.len() {
            self.push_shown(lhs, &collected, vec![RuleId::T3, RuleId::A], true)?;
        }
        Ok(collected)
    }

    /// Step (c), the core relationship: the gradient from the terms `tr(G'*dX)`, the names
    /// substituted back, shortened, and projected for a structured variable. Returns the
    /// gradient as shown.
    fn core_relationship(
        &mut self,
        grad_terms: &[ExprId],
        shown: &HashMap<ExprId, ExprId>,
        wrt: &str,
        symmetric: bool,
    ) -> Result<ExprId, DeriveError> {
        let g = if grad_terms.is_empty() {
            let shape = self.s.pool.shape(self.dx);
            self.s.zero(shape)?
        } else {
            self.s.add(grad_terms)?
        };
        let gname = StepLhs::Gradient(F, wrt.into());
        let shown_g = if self.recording() {
            let shown_g = self.s.present(g)?;
            self.push(StepKind::Gradient, &gname, shown_g, vec![RuleId::C], false);
            Some(shown_g)
        } else {
            None
        };
        let mut full = substitute(self.s.pool, g, shown)?;
        full = self.s.canon(full)?;
        let mut shown_full = self.s.present(full)?;
        if shown_g.is_some_and(|g| g != shown_full) {
            let rules = if shown.is_empty() {
                vec![RuleId::A]
            } else {
                vec![RuleId::B, RuleId::A]
            };
            self.push(StepKind::Gradient, &gname, shown_full, rules, true);
        }
        // Element-wise products distributed, when that is shorter (the logistic loss).
        if let Some((shorter, rules)) = self.s.shorten(full)? {
            full = shorter;
            shown_full = self.s.present(full)?;
            self.push(StepKind::Gradient, &gname, shown_full, rules, true);
        }
        // A gradient that is already symmetric is its own symmetric part.
        let already = symmetric && {
            let t = self.s.transpose(full)?;
            // Expansion is only a comparison: where it fails, keep the general formula.
            match (self.s.expand(full), self.s.expand(t)) {
                (Ok(Some(a)), Ok(Some(b))) => a == b,
                _ => false,
            }
        };
        if symmetric && !already {
            let t = self.s.transpose(full)?;
            let sum = self.s.add(&[full, t])?;
            let half = self.s.scale(0.5, sum)?;
            full = self.s.canon(half)?;
            let shown = self.s.present(full)?;
            if shown != shown_full {
                shown_full = shown;
                // A projection, not an equal form: a new line (the steps check compares
                // continued lines by value).
                self.push(
                    StepKind::Gradient,
                    &gname,
                    shown_full,
                    vec![RuleId::S],
                    false,
                );
            }
        }
        // A diagonal variable: the gradient is the diagonal part (a projection, so a new line).
        let info = self.wrt_info();
        if let Some(info) = info.filter(|i| i.structure == matdiff_expr::Structure::Diagonal) {
            let eye = self.s.pool.intern(Node::Identity(info.shape.rows))?;
            let h = self.s.hadamard(&[eye, full], &[])?;
            full = self.s.canon(h)?;
            shown_full = self.s.present(full)?;
            self.push(
                StepKind::Gradient,
                &gname,
                shown_full,
                vec![RuleId::S2],
                false,
            );
        }
        // A triangular variable: the gradient is that triangle (a projection, so a new line).
        if let Some(t) = info.and_then(|i| crate::triangle::of_structure(i.structure)) {
            full = crate::triangle::tri(&mut self.s, t, full)?;
            shown_full = self.s.present(full)?;
            self.push(
                StepKind::Gradient,
                &gname,
                shown_full,
                vec![RuleId::S3],
                false,
            );
        }
        Ok(shown_full)
    }

    /// What the pool knows of the variable.
    pub(super) fn wrt_info(&self) -> Option<matdiff_expr::VarInfo> {
        match self.s.pool.node(self.wrt_node) {
            Node::Var(s) => self.s.pool.var_info(*s),
            _ => None,
        }
    }

    /// Whether the steps are recorded (not [`DeriveOptions::gradient_only`]).
    ///
    /// [`DeriveOptions::gradient_only`]: super::DeriveOptions::gradient_only
    pub(super) fn recording(&self) -> bool {
        self.steps.is_some()
    }

    /// Records a line (nothing when the steps are not recorded).
    pub(super) fn push(
        &mut self,
        kind: StepKind,
        lhs: &StepLhs,
        expr: ExprId,
        mut rules: Vec<RuleId>,
        continues: bool,
    ) {
        let Some(steps) = &mut self.steps else {
            self.s.applied.clear();
            return;
        };
        // Function identities the simplifier applied on the way to this line.
        for r in self.s.applied.drain(..) {
            if !rules.contains(&r) {
                rules.push(r);
            }
        }
        if continues {
            if let Some(last) = steps.last_mut() {
                if last.expr == expr {
                    return;
                }
            }
        }
        steps.push(Step {
            kind,
            lhs: lhs.clone(),
            expr,
            rules,
            continues,
        });
    }

    /// Records a differential line of the terms `states` as printed (nothing, and no printing,
    /// when the steps are not recorded).
    fn push_shown(
        &mut self,
        lhs: &StepLhs,
        states: &[State],
        rules: Vec<RuleId>,
        continues: bool,
    ) -> Result<(), DeriveError> {
        if self.recording() {
            let line = self.show(states)?;
            self.push(StepKind::Differential, lhs, line, rules, continues);
        } else {
            self.s.applied.clear();
        }
        Ok(())
    }

    /// Whether a differential is already written with traces: `tr(...)`, sums and multiples of
    /// such (T1 would only wrap it once more).
    pub(super) fn is_trace_form(&mut self, id: ExprId) -> bool {
        match self.s.pool.node(id).clone() {
            Node::Reduce(Reduce::Trace, _) => true,
            Node::Add(xs) => xs.iter().all(|&x| self.is_trace_form(x)),
            Node::Neg(x) | Node::Div([x, _]) => self.is_trace_form(x),
            Node::Mul(xs) => {
                let with_d: Vec<ExprId> = xs.iter().copied().filter(|&x| self.has_d(x)).collect();
                with_d.len() == 1
                    && self.is_trace_form(with_d[0])
                    && xs.iter().all(|&x| self.s.pool.shape(x).is_scalar())
            }
            _ => false,
        }
    }

    pub(super) fn identity(&mut self, d: Dim) -> Result<ExprId, DeriveError> {
        Ok(self.s.pool.intern(Node::Identity(d))?)
    }

    /// The differential as printed: the sum of its terms `tr(U'*e)` (`U'*e` when that is 1 x 1).
    pub(super) fn show(&mut self, states: &[State]) -> Result<ExprId, DeriveError> {
        let terms = states
            .iter()
            .map(|st| self.show_one(*st))
            .collect::<Result<Ids, _>>()?;
        Ok(if terms.len() == 1 {
            terms[0]
        } else {
            self.s.pool.intern(Node::Add(terms))?
        })
    }

    pub(super) fn show_one(&mut self, st: State) -> Result<ExprId, DeriveError> {
        let pool_shape = |e: &Self, x: ExprId| e.s.pool.shape(x);
        let Some(u) = st.u else {
            let vector = pool_shape(self, self.dx).cols == Dim::ONE;
            let already = self.is_trace_form(st.e);
            return Ok(
                if (pool_shape(self, st.e).is_scalar() && vector) || already {
                    st.e
                } else {
                    self.s.pool.intern(Node::Reduce(Reduce::Trace, st.e))?
                },
            );
        };
        let ut = self.s.transpose(u)?;
        let ut = self.s.present(ut)?;
        let (negative, ut) = match self.s.pool.node(ut).clone() {
            Node::Neg(v) => (true, v),
            Node::Num(c) if c.get() < 0.0 => (true, self.s.pool.num(-c.get())),
            _ => (false, ut),
        };
        // c*I times e is c*e.
        let ut = match self.s.pool.node(ut).clone() {
            Node::Mul(xs)
                if xs
                    .iter()
                    .any(|&x| matches!(self.s.pool.node(x), Node::Identity(_))) =>
            {
                let rest: Vec<ExprId> = xs
                    .iter()
                    .copied()
                    .filter(|&x| !matches!(self.s.pool.node(x), Node::Identity(_)))
                    .collect();
                if rest.iter().all(|&x| self.s.pool.shape(x).is_scalar()) {
                    self.s.mul(&rest)?
                } else {
                    ut
                }
            }
            _ => ut,
        };
        let unit = matches!(self.s.pool.node(ut), Node::Identity(_))
            || self.s.pool.node(ut) == &Node::Num(matdiff_expr::Num::new(1.0).expect("finite"));
        let product = if unit {
            st.e
        } else {
            self.s.pool.intern(Node::Mul([ut, st.e].into()))?
        };
        // Matrices keep the trace form throughout, as the seed writes; vectors and scalars use
        // df = g'*dx (seed eq. 20).
        let dx = pool_shape(self, self.dx);
        let vector = dx.cols == Dim::ONE;
        let body =
            if pool_shape(self, product).is_scalar() && (vector || self.is_trace_form(product)) {
                product
            } else {
                self.s.pool.intern(Node::Reduce(Reduce::Trace, product))?
            };
        Ok(if negative {
            self.s.pool.intern(Node::Neg(body))?
        } else {
            body
        })
    }

    /// `U` as a matrix (the identity of the right size when `None`).
    pub(super) fn u_or_identity(&mut self, st: State) -> Result<ExprId, DeriveError> {
        match st.u {
            Some(u) => Ok(u),
            None => {
                let shape = self.s.pool.shape(st.e);
                if shape.is_scalar() {
                    Ok(self.s.pool.num(1.0))
                } else {
                    self.identity(shape.rows)
                }
            }
        }
    }
}
