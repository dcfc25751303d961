//! The dense value of a Kronecker (vec) form at given values: [`evaluate_vec_form`].

use matdiff_expr::{ExprId, ExprPool, Shape, VecFactor, VecTerm};

use crate::{dense_vec_form, EvalError, Mat, Plan, Sizes, Values, VecFactorValue};

/// The dense value of a Kronecker form: its sum, and each term's matrix (its scale times the
/// product of its factors), in the order of the terms.
#[derive(Clone, Debug)]
pub struct DenseVecForm {
    /// The sum of the terms; the zero matrix of the form's shape when there is none.
    pub total: Mat<f64>,
    /// Each term's matrix.
    pub terms: Vec<Mat<f64>>,
}

/// Evaluates the Kronecker form `terms` at `values`: every matrix of its factors (and every
/// scale) by one plan, then the Kronecker products formed, multiplied and summed. `shape` is
/// the form's dense shape (`len(vec(F))` by `len(vec(X))`), the value of a form without terms.
///
/// ```
/// use matdiff_expr::{Decl, Dim, ExprPool, Shape, VecFactor, VecTerm};
/// use matdiff_faer::{evaluate_vec_form, Mat, Values};
/// let mut pool = ExprPool::new();
/// let decls = [Decl::sized("A", 2, 2)];
/// let a = pool.parse_with("A", &decls).unwrap().root;
/// let (two, i) = (pool.parse("2").unwrap().root, pool.parse("eye(1)").unwrap().root);
/// // 2*(eye(1) ⊗ A): the Jacobian of 2*A*x by x.
/// let term = VecTerm { scale: two, factors: vec![VecFactor::Kron { left: i, right: a }] };
/// let values = Values::new().with("A", Mat::from_fn(2, 2, |i, j| (i + 2 * j) as f64));
/// let shape = Shape::new(Dim::Known(2), Dim::Known(2));
/// let form = evaluate_vec_form(&pool, &[term], shape, &values).unwrap();
/// assert_eq!(form.total, Mat::from_fn(2, 2, |i, j| 2.0 * (i + 2 * j) as f64));
/// ```
pub fn evaluate_vec_form(
    pool: &ExprPool,
    terms: &[VecTerm],
    shape: Shape,
    values: &Values<f64>,
) -> Result<DenseVecForm, EvalError> {
    let sizes = Sizes::from_values(pool, values)?;
    if terms.is_empty() {
        let (rows, cols) = sizes.shape(pool, shape)?;
        return Ok(DenseVecForm {
            total: Mat::zeros(rows, cols),
            terms: Vec::new(),
        });
    }
    let mut roots: Vec<ExprId> = Vec::new();
    for t in terms {
        roots.push(t.scale);
        for f in &t.factors {
            roots.extend(f.matrices());
        }
    }
    let mut plan = Plan::<f64>::compile(pool, &roots, &sizes)?;
    let mut out = plan.run(values)?.into_iter();
    let mut next = || out.next().expect("one value per root");
    let mut dense = Vec::with_capacity(terms.len());
    let mut total: Option<Mat<f64>> = None;
    for t in terms {
        let scale = next()[(0, 0)];
        let mut factors = Vec::with_capacity(t.factors.len());
        for f in &t.factors {
            factors.push(match f {
                VecFactor::Kron { .. } => VecFactorValue::Kron(next(), next()),
                VecFactor::DiagVec(_) => VecFactorValue::DiagVec(next()),
                VecFactor::Outer { .. } => VecFactorValue::Outer(next(), next()),
                VecFactor::Commutation { rows, cols } => {
                    VecFactorValue::Commutation(sizes.dim(pool, *rows)?, sizes.dim(pool, *cols)?)
                }
            });
        }
        let term = dense_vec_form(&[(scale, factors)]).ok_or(EvalError::VecFormSizes)?;
        total = Some(match total {
            None => term.clone(),
            Some(s) if (s.nrows(), s.ncols()) == (term.nrows(), term.ncols()) => s + &term,
            Some(_) => return Err(EvalError::VecFormSizes),
        });
        dense.push(term);
    }
    Ok(DenseVecForm {
        total: total.expect("a term"),
        terms: dense,
    })
}
