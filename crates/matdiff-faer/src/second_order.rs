//! Second order in numbers: dense matrices of linear maps (a Hessian from its Hessian-vector
//! product, in the vec layout, with no Kronecker product formed), and Jacobians and directional
//! derivatives by the complex step and central differences, to check derived ones.
//!
//! Layout: the matrix of a linear map `L(V)` has one row per entry of `vec(L)` and one column
//! per entry of `vec(V)`, both column-major, so a Jacobian is `∂vec(F)/∂vec(X)'` and a Hessian
//! `∂²f/∂vec(X)∂vec(X)'`.

use matdiff_expr::{ExprId, ExprPool};

use crate::{Complex, EvalError, Mat, Options, Plan, Sizes, Values};

/// The dense matrix of `linear`, an expression linear in the variable `direction`, evaluated at
/// `values` (which need no value of `direction`): one run of one plan per entry of the direction.
/// This is how a Hessian is made dense from its Hessian-vector product.
///
/// ```
/// use faer::mat;
/// use matdiff_expr::ExprPool;
/// use matdiff_faer::{dense_linear_map, Options, Values};
/// let mut pool = ExprPool::new();
/// // The Hessian-vector product of x'*A*x: its matrix is the Hessian A + A'.
/// let hvp = pool.parse("(A + A')*v").unwrap();
/// let values = Values::new().with("A", mat![[1.0, 2.0], [0.0, 3.0]]).with("v", mat![[0.0], [0.0]]);
/// let h = dense_linear_map(&pool, hvp.root, "v", &values, &Options::new()).unwrap();
/// assert_eq!(h[(0, 1)], 2.0);
/// assert_eq!(h[(1, 1)], 6.0);
/// ```
pub fn dense_linear_map(
    pool: &ExprPool,
    linear: ExprId,
    direction: &str,
    values: &Values<f64>,
    options: &Options<f64>,
) -> Result<Mat<f64>, EvalError> {
    let v0 = values
        .get(direction)
        .ok_or_else(|| EvalError::MissingVariable {
            name: direction.to_string(),
        })?;
    let (rows, cols) = (v0.nrows(), v0.ncols());
    let mut values = values.clone();
    values.insert(direction, Mat::zeros(rows, cols));
    let sizes = Sizes::from_values(pool, &values)?;
    let mut plan = Plan::compile_with(pool, &[linear], &sizes, options)?;
    let mut out: Option<Mat<f64>> = None;
    let mut column = Vec::new();
    for k in 0..rows * cols {
        let (i, j) = (k % rows, k / rows);
        values.get_mut(direction).expect("inserted")[(i, j)] = 1.0;
        let r = plan.run_into(&values, &mut column);
        values.get_mut(direction).expect("inserted")[(i, j)] = 0.0;
        r?;
        let c = &column[0];
        let m = out.get_or_insert_with(|| Mat::zeros(c.nrows() * c.ncols(), rows * cols));
        for (q, value) in vec_entries(c).enumerate() {
            m[(q, k)] = value;
        }
    }
    let out = out.unwrap_or_else(|| Mat::zeros(0, 0));
    // The runs wrote into reused matrices without scanning them: a non-finite entry that
    // comes from a non-finite value is reported once here, as a checked run reports it.
    if vec_entries(&out).any(|x| !x.is_finite()) {
        for (name, m) in values.iter() {
            let n = m.nrows().max(1);
            if let Some(k) = vec_entries(m).position(|x| !x.is_finite()) {
                return Err(EvalError::NonFinite {
                    name: name.to_string(),
                    row: k % n + 1,
                    col: k / n + 1,
                });
            }
        }
    }
    Ok(out)
}

/// The Jacobian `∂vec(F)/∂vec(X)'` of the expression `f` with respect to the variable `wrt` by
/// the complex step (step `1e-20`, exact to rounding): one complex run per entry of X.
///
/// ```
/// use faer::mat;
/// use matdiff_expr::ExprPool;
/// use matdiff_faer::{complex_step_jacobian, Options, Values};
/// let mut pool = ExprPool::new();
/// let f = pool.parse("exp(x) .* a").unwrap();
/// let values = Values::new().with("x", mat![[0.0], [1.0]]).with("a", mat![[2.0], [3.0]]);
/// let j = complex_step_jacobian(&pool, f.root, "x", &values, &Options::new()).unwrap();
/// assert!((j[(1, 1)] - 3.0 * 1f64.exp()).abs() < 1e-14);
/// assert_eq!(j[(0, 1)], 0.0);
/// ```
pub fn complex_step_jacobian(
    pool: &ExprPool,
    f: ExprId,
    wrt: &str,
    values: &Values<f64>,
    options: &Options<Complex<f64>>,
) -> Result<Mat<f64>, EvalError> {
    let x = wrt_value(values, wrt)?;
    let (rows, cols) = (x.nrows(), x.ncols());
    let mut columns = Vec::with_capacity(rows * cols);
    for k in 0..rows * cols {
        let mut e = Mat::zeros(rows, cols);
        e[(k % rows, k / rows)] = 1.0;
        columns.push(complex_step_directional(pool, f, wrt, &e, values, options)?);
    }
    Ok(stack_columns(&columns))
}

/// The directional derivative of the expression `f` at `values` in the direction `v` of the
/// variable `wrt`, `Im f(X + i h V) / h`, by the complex step (`h = 1e-20`); of a gradient, this
/// is the Hessian-vector product.
pub fn complex_step_directional(
    pool: &ExprPool,
    f: ExprId,
    wrt: &str,
    v: &Mat<f64>,
    values: &Values<f64>,
    options: &Options<Complex<f64>>,
) -> Result<Mat<f64>, EvalError> {
    let x = wrt_value(values, wrt)?.clone();
    let sizes = Sizes::from_values(pool, values)?;
    let mut plan = Plan::<Complex<f64>>::compile_with(pool, &[f], &sizes, options)?;
    let mut cvalues = values.map(|a| Complex::new(a, 0.0));
    let h = 1e-20;
    let moved = Mat::from_fn(x.nrows(), x.ncols(), |i, j| {
        Complex::new(x[(i, j)], h * v[(i, j)])
    });
    cvalues.insert(wrt, moved);
    let out = plan.run(&cvalues)?.remove(0);
    Ok(Mat::from_fn(out.nrows(), out.ncols(), |i, j| {
        out[(i, j)].im / h
    }))
}

/// The directional derivative of `f` in the direction `v` of `wrt` by central differences,
/// `(f(X + hV) - f(X - hV)) / 2h` with `h = cbrt(eps) * max(1, |X|) / max(|V|)`: a direction
/// that keeps a structure (symmetric `V` for a symmetric X) keeps the values valid.
pub fn finite_difference_directional(
    pool: &ExprPool,
    f: ExprId,
    wrt: &str,
    v: &Mat<f64>,
    values: &Values<f64>,
    options: &Options<f64>,
) -> Result<Mat<f64>, EvalError> {
    let x = wrt_value(values, wrt)?.clone();
    let sizes = Sizes::from_values(pool, values)?;
    let mut plan = Plan::<f64>::compile_with(pool, &[f], &sizes, options)?;
    let largest = |m: &Mat<f64>| {
        (0..m.ncols())
            .flat_map(|j| (0..m.nrows()).map(move |i| m[(i, j)].abs()))
            .fold(0.0f64, f64::max)
    };
    let h = f64::EPSILON.cbrt() * largest(&x).max(1.0) / largest(v).max(f64::MIN_POSITIVE);
    let mut at = |sign: f64| -> Result<Mat<f64>, EvalError> {
        let mut moved = values.clone();
        moved.insert(
            wrt,
            Mat::from_fn(x.nrows(), x.ncols(), |i, j| {
                x[(i, j)] + sign * h * v[(i, j)]
            }),
        );
        Ok(plan.run(&moved)?.remove(0))
    };
    let (up, down) = (at(1.0)?, at(-1.0)?);
    Ok(Mat::from_fn(up.nrows(), up.ncols(), |i, j| {
        (up[(i, j)] - down[(i, j)]) / (2.0 * h)
    }))
}

/// The Jacobian `∂vec(F)/∂vec(X)'` by central differences, the step `cbrt(eps) * max(1, |x|)`
/// per entry: a second, independent reference (it also covers functions that are not analytic).
pub fn finite_difference_jacobian(
    pool: &ExprPool,
    f: ExprId,
    wrt: &str,
    values: &Values<f64>,
    options: &Options<f64>,
) -> Result<Mat<f64>, EvalError> {
    let x = wrt_value(values, wrt)?.clone();
    let sizes = Sizes::from_values(pool, values)?;
    let mut plan = Plan::<f64>::compile_with(pool, &[f], &sizes, options)?;
    let mut v = values.clone();
    let (rows, cols) = (x.nrows(), x.ncols());
    let mut columns = Vec::with_capacity(rows * cols);
    for k in 0..rows * cols {
        let (i, j) = (k % rows, k / rows);
        let x0 = x[(i, j)];
        let h = f64::EPSILON.cbrt() * x0.abs().max(1.0);
        let (up, down) = (x0 + h, x0 - h);
        let mut at = |value: f64| -> Result<Mat<f64>, EvalError> {
            v.get_mut(wrt).expect("present")[(i, j)] = value;
            let r = plan.run(&v);
            v.get_mut(wrt).expect("present")[(i, j)] = x0;
            Ok(r?.remove(0))
        };
        let (fu, fd) = (at(up)?, at(down)?);
        columns.push(Mat::from_fn(fu.nrows(), fu.ncols(), |p, q| {
            (fu[(p, q)] - fd[(p, q)]) / (up - down)
        }));
    }
    Ok(stack_columns(&columns))
}

fn wrt_value<'v>(values: &'v Values<f64>, wrt: &str) -> Result<&'v Mat<f64>, EvalError> {
    values.get(wrt).ok_or_else(|| EvalError::MissingVariable {
        name: wrt.to_string(),
    })
}

/// The entries of a matrix in column-major order (`vec`).
fn vec_entries(m: &Mat<f64>) -> impl Iterator<Item = f64> + '_ {
    (0..m.ncols()).flat_map(move |j| (0..m.nrows()).map(move |i| m[(i, j)]))
}

/// The matrix whose k-th column is `vec` of the k-th matrix.
fn stack_columns(columns: &[Mat<f64>]) -> Mat<f64> {
    let rows = columns.first().map_or(0, |c| c.nrows() * c.ncols());
    let mut m = Mat::zeros(rows, columns.len());
    for (k, c) in columns.iter().enumerate() {
        for (q, value) in vec_entries(c).enumerate() {
            m[(q, k)] = value;
        }
    }
    m
}
