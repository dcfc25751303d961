//! The derived Hessian-vector product: the second identification of the differential method.
//!
//! With the gradients `G_j = ∂f/∂X_j` derived, the scalar `h = Σ_j tr(G_j'*V_j)` is the
//! directional derivative of `f` in the direction `(V_1, ..)`, and since the Hessian is
//! symmetric, the gradient of `h` with respect to `X_i` is the block `i` of the Hessian-vector
//! product `H[V]`: an expression in the `V_j` that never forms a Kronecker product (for one
//! variable, the rule H1 of `matdiff-rewrite`'s second-order derivations).

use matdiff_expr::{Expr, ExprId, ExprPool, Node, Reduce};
use matdiff_rewrite::{derive, Derivation, DeriveError, DeriveOptions};

/// The products `H[V]`, one expression per variable, in the direction variables named here.
pub(crate) struct DerivedHvp {
    /// The direction variable of each variable (`V_j`, of the shape of `X_j`).
    pub(crate) directions: Vec<String>,
    /// Block `i` of `H[V]`, of the shape of `X_i`.
    pub(crate) products: Vec<ExprId>,
}

/// Derives `H[V]` from the gradients `derivations` of `expr` with respect to `wrt`.
pub(crate) fn derive_hvp(
    pool: &mut ExprPool,
    expr: &Expr,
    derivations: &[Derivation],
    wrt: &[&str],
) -> Result<DerivedHvp, DeriveError> {
    let mut directions = Vec::with_capacity(wrt.len());
    let mut terms = Vec::with_capacity(wrt.len());
    for (name, d) in wrt.iter().zip(derivations) {
        let mut direction = format!("{name}__direction");
        while pool.find_symbol(&direction).is_some() {
            direction.push('_');
        }
        let x = pool.var(name)?;
        let shape = pool.shape(x);
        pool.declare_var(&direction, shape, false)?;
        let v = pool.var(&direction)?;
        let product = pool.intern(Node::Hadamard(vec![d.gradient, v].into()))?;
        terms.push(pool.intern(Node::Reduce(Reduce::Sum, product))?);
        directions.push(direction);
    }
    let h = if terms.len() == 1 {
        terms[0]
    } else {
        pool.intern(Node::Add(terms.into()))?
    };
    let inner = Expr {
        root: h,
        bindings: expr.bindings.clone(),
    };
    let mut products = Vec::with_capacity(wrt.len());
    for name in wrt {
        products.push(derive(pool, &inner, name, &DeriveOptions::default())?.gradient);
    }
    Ok(DerivedHvp {
        directions,
        products,
    })
}
