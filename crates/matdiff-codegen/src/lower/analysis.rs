//! What the program keeps: uses of each node, the temporaries, the inputs and their sizes.

use std::collections::{BTreeMap, HashMap, HashSet};

use matdiff_expr::{Dim, ExprId, ExprPool, Fun, Func, Node};

use crate::CodegenError;

use super::{result_name, Input, Kind, Lowering, Size, Slot};

/// The children of a node as the program uses them: `sigmoid'(Z)` and `tanh'(Z)` use
/// `sigmoid(Z)` and `tanh(Z)` where those are part of the program.
fn uses(pool: &ExprPool, id: ExprId, exists: &dyn Fn(&Node) -> Option<ExprId>) -> Vec<ExprId> {
    if let Some(base) = reused_base(pool, id, exists) {
        return vec![base];
    }
    pool.node(id).children().to_vec()
}

/// `sigmoid(Z)` (or `tanh(Z)`) for `sigmoid'(Z)` (`tanh'(Z)`), when it exists.
pub(super) fn reused_base(
    pool: &ExprPool,
    id: ExprId,
    exists: &dyn Fn(&Node) -> Option<ExprId>,
) -> Option<ExprId> {
    match pool.node(id) {
        Node::Apply {
            fun: Fun::Builtin(f @ (Func::Sigmoid | Func::Tanh)),
            order: 1,
            arg,
        } => exists(&Node::Apply {
            fun: Fun::Builtin(*f),
            order: 0,
            arg: *arg,
        }),
        _ => None,
    }
}

impl Lowering<'_> {
    /// Temporaries that are results get the results' names (`value`, `grad_X`).
    pub(super) fn name_results(&mut self) {
        let p = &mut self.program;
        for k in 0..p.outputs.len() {
            let Slot::Temp(t) = p.outputs[k].slot else {
                continue;
            };
            let once = p.outputs.iter().filter(|o| o.slot == Slot::Temp(t)).count() == 1;
            let auto = p.temps[t].name.starts_with('t')
                && p.temps[t].name[1..].chars().all(|c| c.is_ascii_digit());
            let name = result_name(&p.outputs[k].name);
            let taken =
                p.inputs.iter().any(|i| i.name == name) || p.temps.iter().any(|x| x.name == name);
            if once && auto && !taken {
                p.temps[t].name = name;
            }
        }
        // The other temporaries numbered in order.
        let mut next = 0;
        for k in 0..p.temps.len() {
            let name = &p.temps[k].name;
            if !(name.starts_with('t') && name[1..].chars().all(|c| c.is_ascii_digit())) {
                continue;
            }
            let fresh = loop {
                next += 1;
                let fresh = format!("t{next}");
                let taken = p.inputs.iter().any(|i| i.name == fresh)
                    || p.functions.iter().any(|f| f.0 == fresh)
                    || p.temps
                        .iter()
                        .any(|x| x.name == fresh && x.name != p.temps[k].name);
                if !taken {
                    break fresh;
                }
            };
            p.temps[k].name = fresh;
        }
    }

    /// Counts uses and finds what is kept as a temporary.
    pub(super) fn analyse(&mut self, roots: &[ExprId], names: &[(String, ExprId)]) {
        let pool = self.pool;
        // Every node under the roots (by the plain children first).
        let mut stack = roots.to_vec();
        let mut all = HashSet::new();
        while let Some(id) = stack.pop() {
            if all.insert(id) {
                stack.extend_from_slice(pool.node(id).children());
            }
        }
        let index: HashMap<Node, ExprId> =
            all.iter().map(|&id| (pool.node(id).clone(), id)).collect();
        let exists = |n: &Node| index.get(n).copied();
        // Then the nodes the program uses, and how often.
        let mut count: HashMap<ExprId, u32> = HashMap::new();
        let mut seen = HashSet::new();
        let mut stack = roots.to_vec();
        while let Some(id) = stack.pop() {
            if !seen.insert(id) {
                continue;
            }
            for c in uses(pool, id, &exists) {
                *count.entry(c).or_default() += 1;
                stack.push(c);
            }
        }
        self.reachable = seen;
        for (&id, &n) in &count {
            if n >= 2 && !trivial(pool, id) {
                self.keep.insert(id);
            }
        }
        for (name, id) in names {
            if self.reachable.contains(id) && !trivial(pool, *id) {
                self.keep.insert(*id);
                self.names.entry(*id).or_insert_with(|| name.clone());
            }
        }
        for &id in &self.reachable {
            if let Node::Mul(xs) = pool.node(id) {
                if xs.iter().all(|&x| !pool.shape(x).is_scalar()) {
                    self.products.insert(xs.to_vec(), id);
                }
            }
        }
    }

    /// The arguments: every variable, sorted by name, then the abstract functions.
    pub(super) fn declare_inputs(&mut self, roots: &[ExprId]) -> Result<(), CodegenError> {
        let pool = self.pool;
        let mut vars = BTreeMap::new();
        let mut funs: BTreeMap<String, u8> = BTreeMap::new();
        for &id in &self.reachable {
            match pool.node(id) {
                Node::Var(s) => {
                    vars.insert(pool.name(*s).to_string(), id);
                }
                Node::Apply {
                    fun: Fun::Abstract(s),
                    order,
                    ..
                } => {
                    let e = funs.entry(pool.name(*s).to_string()).or_default();
                    *e = (*e).max(*order);
                }
                _ => {}
            }
        }
        let _ = roots;
        for (name, id) in vars {
            let Node::Var(s) = pool.node(id) else {
                unreachable!("a variable")
            };
            let info = pool.var_info(*s).ok_or_else(|| CodegenError::Unsupported {
                what: format!("'{name}' is not a declared variable"),
            })?;
            let k = self.program.inputs.len();
            let shape = info.shape;
            let kind = if shape.is_scalar() {
                Kind::Scalar
            } else {
                Kind::Matrix(
                    self.size_at(shape.rows, k, 0),
                    self.size_at(shape.cols, k, 1),
                )
            };
            self.program.inputs.push(Input {
                name,
                kind,
                shape: pool.shape_str(shape),
                symmetric: info.symmetric,
                diagonal: info.structure == matdiff_expr::Structure::Diagonal,
                triangle: match info.structure {
                    matdiff_expr::Structure::Lower => Some(matdiff_expr::Triangle::Lower),
                    matdiff_expr::Structure::Upper => Some(matdiff_expr::Triangle::Upper),
                    _ => None,
                },
                vector: shape.cols == Dim::ONE && shape.rows != Dim::ONE,
            });
            self.inputs.insert(id, k);
            self.slots.insert(id, Slot::Input(k));
        }
        self.program.functions = funs.into_iter().collect();
        Ok(())
    }

    /// The size of `dim`, read from axis `axis` of input `k` where it is seen first.
    fn size_at(&mut self, dim: Dim, k: usize, axis: u8) -> Size {
        match dim {
            Dim::Known(n) => Size::Known(n),
            // Checked against its factors when they are sized already, else read from it.
            Dim::Prod(_) => self.size(dim).unwrap_or(Size::Axis(k, axis)),
            Dim::Sym(v) => *self.dims.entry(v).or_insert_with(|| {
                let size = Size::Axis(k, axis);
                self.program
                    .dims
                    .push((self.pool.dim_name(v).to_string(), size));
                size
            }),
        }
    }

    pub(super) fn size(&self, dim: Dim) -> Result<Size, CodegenError> {
        match dim {
            Dim::Known(n) => Ok(Size::Known(n)),
            Dim::Prod(_) => {
                let mut known = 1;
                let mut factors = Vec::new();
                for f in self.pool.dim_factors(dim) {
                    match self.size(f)? {
                        Size::Known(n) => known *= n,
                        s => factors.push(s),
                    }
                }
                if factors.is_empty() {
                    return Ok(Size::Known(known));
                }
                if known != 1 {
                    factors.insert(0, Size::Known(known));
                }
                let mut products = self.size_products.borrow_mut();
                products.push(factors);
                Ok(Size::Prod(products.len() - 1))
            }
            Dim::Sym(v) => self
                .dims
                .get(&v)
                .copied()
                .ok_or_else(|| CodegenError::UnknownSize {
                    dim: self.pool.dim_name(v).to_string(),
                }),
        }
    }

    pub(super) fn kind_of(&self, id: ExprId) -> Result<Kind, CodegenError> {
        let shape = self.pool.shape(id);
        if shape.is_scalar() {
            Ok(Kind::Scalar)
        } else {
            Ok(Kind::Matrix(self.size(shape.rows)?, self.size(shape.cols)?))
        }
    }
}

/// Variables, numbers and transposes of variables are never temporaries.
fn trivial(pool: &ExprPool, id: ExprId) -> bool {
    match pool.node(id) {
        Node::Var(_) | Node::Num(_) => true,
        Node::Transpose(a) => matches!(pool.node(*a), Node::Var(_)),
        _ => false,
    }
}
