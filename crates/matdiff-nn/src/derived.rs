//! The backward pass derived by the rewriter and evaluated by matdiff-faer plans.
//!
//! For every layer, the engine derives `tr(G' * g(W*A + b*ones'))` with respect to `W`, `b` and
//! `A` (the upstream gradient `G`, seed Algorithm 1). For tanh and sigmoid, `g` enters as the
//! seed's abstract function with its derivative registered in terms of its value (`1 - g(x).^2`,
//! `g(x) .* (1 - g(x))`), as backprop is usually written; relu and softplus are the built-in
//! functions. The forward pass's values are then named in the gradients: `Z = W*A + b*ones'` and
//! `Y = g(Z)` (both cached, so the plans neither multiply `W*A` nor evaluate `g` again), and the
//! gradients are compiled together into one plan per layer and batch size, so that
//! `G .* g'(Z)` is computed once for the three of them.

use std::collections::{HashMap, HashSet};

use faer::{Mat, MatRef};
use matdiff_expr::{ExprId, ExprPool, Node};
use matdiff_faer::{Options, Plan, Sizes, Values};
use matdiff_rewrite::{derive, substitute, Derivatives, DeriveOptions};

use crate::activation::Activation;
use crate::error::NnError;
use crate::kernels::par_for;
use crate::real::Real;

/// The names of a layer's expression.
pub(crate) const WEIGHTS: &str = "W";
pub(crate) const INPUT: &str = "A";
pub(crate) const PRE_ACTIVATION: &str = "Z";
pub(crate) const OUTPUT: &str = "Y";
pub(crate) const UPSTREAM: &str = "G";

/// One layer's derived gradients, symbolic.
#[derive(Clone, Debug)]
pub(crate) struct DerivedLayer {
    pool: ExprPool,
    /// `dL/dW`, `dL/db`, and `dL/dA` unless the layer is the first.
    roots: Vec<ExprId>,
    /// The variables the roots read, among `W`, `A`, `Z`, `Y` (all read `G`).
    pub(crate) reads: Vec<&'static str>,
}

impl DerivedLayer {
    /// Derives the gradients of one layer with activation `activation`.
    pub(crate) fn new(activation: Activation, input_gradient: bool) -> Result<Self, NnError> {
        let z_src = format!("{WEIGHTS}*{INPUT} + b*ones'");
        // The activation, and its derivative in terms of its value when that is the cheaper form.
        let (src, derivative) = match activation {
            Activation::Identity => (z_src.clone(), None),
            Activation::Tanh => (format!("g({z_src})"), Some("1 - g(x).^2")),
            Activation::Sigmoid => (format!("g({z_src})"), Some("g(x) .* (1 - g(x))")),
            Activation::Relu | Activation::Softplus => {
                (format!("{}({z_src})", activation.name()), None)
            }
        };
        let mut pool = ExprPool::new();
        let expr = pool
            .parse(&src)
            .map_err(|e| derivation(&src, e.to_string()))?;
        let z_node = pool
            .parse(&z_src)
            .map_err(|e| derivation(&src, e.to_string()))?
            .root;
        let shape = pool.shape(z_node);
        let mut named = HashMap::new();
        for (name, node) in [(PRE_ACTIVATION, z_node), (OUTPUT, expr.root)] {
            pool.declare_var(name, shape, false)
                .map_err(|e| derivation(&src, e.to_string()))?;
            let var = pool
                .var(name)
                .map_err(|e| derivation(&src, e.to_string()))?;
            if node != var {
                named.insert(node, var);
            }
        }
        if activation == Activation::Identity {
            // The output is Z itself.
            named.insert(
                z_node,
                pool.var(PRE_ACTIVATION)
                    .map_err(|e| derivation(&src, e.to_string()))?,
            );
        }
        let mut functions = Derivatives::new();
        if let Some(d) = derivative {
            functions.register("g", d);
        }
        // The backward pass needs the gradients, not the lines that derive them.
        let options = DeriveOptions {
            upstream: Some(UPSTREAM.to_string()),
            functions,
            gradient_only: true,
        };
        let wrts: &[&str] = if input_gradient {
            &["W", "b", "A"]
        } else {
            &["W", "b"]
        };
        let mut roots = Vec::new();
        for wrt in wrts {
            let d = derive(&mut pool, &expr, wrt, &options)
                .map_err(|e| derivation(&src, format!("with respect to {wrt}: {e}")))?;
            let root = substitute(&mut pool, d.gradient, &named)
                .map_err(|e| derivation(&src, e.to_string()))?;
            roots.push(root);
        }
        let reads = [WEIGHTS, INPUT, PRE_ACTIVATION, OUTPUT]
            .into_iter()
            .filter(|name| reads_variable(&pool, &roots, name))
            .collect();
        Ok(DerivedLayer { pool, roots, reads })
    }

    /// The derived gradients in the expression syntax: `dL/dW`, `dL/db` and maybe `dL/dA`.
    pub(crate) fn formulas(&self) -> Vec<String> {
        self.roots.iter().map(|&r| self.pool.plain(r)).collect()
    }
}

fn derivation(src: &str, reason: String) -> NnError {
    NnError::Derivation {
        expr: src.to_string(),
        reason,
    }
}

/// Whether the variable `name` occurs under one of the roots.
fn reads_variable(pool: &ExprPool, roots: &[ExprId], name: &str) -> bool {
    let Some(symbol) = pool.find_symbol(name) else {
        return false;
    };
    let mut seen = HashSet::new();
    let mut stack = roots.to_vec();
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        match pool.node(id) {
            Node::Var(s) if *s == symbol => return true,
            node => stack.extend_from_slice(node.children()),
        }
    }
    false
}

/// The compiled plans of one network (per layer and batch size) and their outputs, reused from
/// one step to the next.
#[derive(Debug)]
pub(crate) struct DerivedRuns<T: Real> {
    plans: Vec<HashMap<usize, Plan<T>>>,
    /// Per layer, the last run's `[dW, db]` or `[dW, db, dA]`.
    outputs: Vec<Vec<Mat<T>>>,
}

/// Where a value a layer's plan reads lives in the tape of the forward pass.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Slot {
    /// The network's input.
    Input,
    /// `Z` of a layer.
    PreActivation(usize),
    /// `g(Z)` of a layer with an activation.
    Activation(usize),
    /// `dZ` of the last layer: the loss gradient.
    LossGradient(usize),
}

impl<T: Real> DerivedRuns<T> {
    pub(crate) fn new(layers: usize) -> Self {
        DerivedRuns {
            plans: (0..layers).map(|_| HashMap::new()).collect(),
            outputs: (0..layers).map(|_| Vec::new()).collect(),
        }
    }

    /// Runs layer `k`'s plan on borrowed inputs (by name: the weights, the tape's buffers, the
    /// upstream gradient) into its outputs `[dW, db]` or `[dW, db, dA]`, which it returns. The
    /// plan for a new batch size is compiled on first use; `weights` sizes its threads.
    pub(crate) fn run(
        &mut self,
        k: usize,
        layer: &DerivedLayer,
        weights: MatRef<'_, T>,
        inputs: &[(&str, MatRef<'_, T>)],
    ) -> Result<&mut Vec<Mat<T>>, NnError> {
        let n = inputs
            .iter()
            .find(|(name, _)| *name == UPSTREAM)
            .map_or(0, |(_, g)| g.ncols());
        let plan = match self.plans[k].entry(n) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let mut values = Values::new();
                for (name, value) in inputs {
                    values.insert(*name, value.to_owned());
                }
                let sizes = Sizes::from_values(&layer.pool, &values)?;
                let (m, kk) = (weights.nrows(), weights.ncols());
                let threads = if par_for(m, n, kk) == faer::Par::Seq {
                    1
                } else {
                    0
                };
                let options = Options::new().threads(threads);
                e.insert(Plan::compile_with(
                    &layer.pool,
                    &layer.roots,
                    &sizes,
                    &options,
                )?)
            }
        };
        plan.run_into(inputs, &mut self.outputs[k])?;
        Ok(&mut self.outputs[k])
    }

    /// Layer `k`'s output buffer `i`, to hand a matrix back for reuse.
    pub(crate) fn output_mut(&mut self, k: usize, i: usize) -> Option<&mut Mat<T>> {
        self.outputs.get_mut(k)?.get_mut(i)
    }
}
