//! Variable values ([`Values`]) and the concrete sizes they give the symbolic dimensions ([`Sizes`]).

use std::collections::BTreeMap;

use faer::{Mat, MatRef};
use matdiff_expr::{Dim, DimVar, ExprPool, Shape};

use crate::error::EvalError;
use crate::scalar::Scalar;

/// The values of variables, by name. A scalar is a 1x1 matrix, a column vector an n x 1 one.
///
/// ```
/// use faer::mat;
/// use matdiff_faer::Values;
/// let values = Values::new().with("X", mat![[1.0, 2.0], [3.0, 4.0]]).with_scalar("alpha", 0.5);
/// assert_eq!(values.get("alpha").unwrap()[(0, 0)], 0.5);
/// ```
#[derive(Clone, Debug)]
pub struct Values<T> {
    map: BTreeMap<String, Mat<T>>,
}

/// Where a plan reads its inputs: [`Values`], or a slice of `(name, matrix)` pairs that borrows
/// the matrices, so nothing is copied (see [`Plan::run_into`](crate::Plan::run_into)).
pub trait Inputs<T> {
    /// The value of the variable `name`, if there is one.
    fn input(&self, name: &str) -> Option<MatRef<'_, T>>;
}

impl<T: Scalar> Inputs<T> for Values<T> {
    fn input(&self, name: &str) -> Option<MatRef<'_, T>> {
        self.get(name).map(|m| m.as_ref())
    }
}

impl<T> Inputs<T> for [(&str, MatRef<'_, T>)] {
    fn input(&self, name: &str) -> Option<MatRef<'_, T>> {
        self.iter().find(|(n, _)| *n == name).map(|(_, m)| *m)
    }
}

impl<T> Default for Values<T> {
    fn default() -> Self {
        Values {
            map: BTreeMap::new(),
        }
    }
}

impl<T: Scalar> Values<T> {
    /// No values.
    pub fn new() -> Values<T> {
        Values::default()
    }

    /// Sets the value of a variable (replacing any previous one).
    pub fn insert(&mut self, name: impl Into<String>, value: Mat<T>) {
        self.map.insert(name.into(), value);
    }

    /// These values and one more.
    pub fn with(mut self, name: impl Into<String>, value: Mat<T>) -> Values<T> {
        self.insert(name, value);
        self
    }

    /// These values and a scalar.
    pub fn with_scalar(self, name: impl Into<String>, value: T) -> Values<T> {
        self.with(name, Mat::from_fn(1, 1, |_, _| value))
    }

    /// The value of a variable.
    pub fn get(&self, name: &str) -> Option<&Mat<T>> {
        self.map.get(name)
    }

    /// The value of a variable, to modify it in place.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Mat<T>> {
        self.map.get_mut(name)
    }

    /// Every value, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Mat<T>)> {
        self.map.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The values converted entry by entry (for example to complex numbers).
    pub fn map<U: Scalar>(&self, f: impl Fn(T) -> U) -> Values<U> {
        Values {
            map: self
                .map
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        Mat::from_fn(v.nrows(), v.ncols(), |i, j| f(v[(i, j)])),
                    )
                })
                .collect(),
        }
    }
}

/// Concrete sizes of the symbolic dimensions of a pool.
///
/// ```
/// use faer::Mat;
/// use matdiff_expr::ExprPool;
/// use matdiff_faer::{Sizes, Values};
/// let mut pool = ExprPool::new();
/// let e = pool.parse("A*x").unwrap();
/// let values = Values::new().with("A", Mat::<f64>::zeros(2, 3)).with("x", Mat::zeros(3, 1));
/// let sizes = Sizes::from_values(&pool, &values).unwrap();
/// assert_eq!(sizes.shape(&pool, pool.shape(e.root)).unwrap(), (2, 1));
/// // A contradiction names the variable and the dimension.
/// let bad = Values::new().with("A", Mat::<f64>::zeros(2, 3)).with("x", Mat::zeros(4, 1));
/// assert!(Sizes::from_values(&pool, &bad).is_err());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sizes {
    dims: BTreeMap<DimVar, usize>,
}

impl Sizes {
    /// No size known.
    pub fn new() -> Sizes {
        Sizes::default()
    }

    /// Sets the size of a dimension.
    pub fn set(&mut self, dim: DimVar, size: usize) {
        self.dims.insert(dim, size);
    }

    /// The size of a dimension, if known.
    pub fn get(&self, dim: DimVar) -> Option<usize> {
        self.dims.get(&dim).copied()
    }

    /// The sizes that the values give, by unifying each variable's shape with its value's size.
    /// Values of names that are not variables of the pool are ignored.
    pub fn from_values<T: Scalar>(pool: &ExprPool, values: &Values<T>) -> Result<Sizes, EvalError> {
        Sizes::from_shapes(
            pool,
            values
                .iter()
                .map(|(name, value)| (name, (value.nrows(), value.ncols()))),
        )
    }

    /// The sizes that values of these shapes (rows, columns) give, as
    /// [`from_values`](Self::from_values) does, for values held elsewhere (borrowed arrays).
    ///
    /// ```
    /// use matdiff_expr::ExprPool;
    /// use matdiff_faer::Sizes;
    /// let mut pool = ExprPool::new();
    /// let e = pool.parse("A*x").unwrap();
    /// let sizes = Sizes::from_shapes(&pool, [("A", (2, 3)), ("x", (3, 1))]).unwrap();
    /// assert_eq!(sizes.shape(&pool, pool.shape(e.root)).unwrap(), (2, 1));
    /// assert!(Sizes::from_shapes(&pool, [("A", (2, 3)), ("x", (4, 1))]).is_err());
    /// ```
    pub fn from_shapes<'a>(
        pool: &ExprPool,
        shapes: impl IntoIterator<Item = (&'a str, (usize, usize))>,
    ) -> Result<Sizes, EvalError> {
        let mut sizes = Sizes::new();
        let mut source: BTreeMap<DimVar, &str> = BTreeMap::new();
        // Product dimensions are checked once every symbolic one has its size.
        let mut products: Vec<(&str, Dim, usize, (usize, usize))> = Vec::new();
        for (name, got) in shapes {
            let Some(info) = pool.find_symbol(name).and_then(|s| pool.var_info(s)) else {
                continue;
            };
            let mismatch = |expected: String| EvalError::ShapeMismatch {
                name: name.to_string(),
                got: format!("{}x{}", got.0, got.1),
                expected,
            };
            if got.0 == 0 || got.1 == 0 {
                return Err(mismatch("a value must have at least one entry".into()));
            }
            for (dim, size) in [(info.shape.rows, got.0), (info.shape.cols, got.1)] {
                match dim {
                    Dim::Known(k) if k as usize != size => {
                        return Err(mismatch(format!(
                            "the expression needs it to be {}",
                            pool.shape_str(info.shape)
                        )))
                    }
                    Dim::Known(_) => {}
                    Dim::Prod(_) => products.push((name, dim, size, got)),
                    Dim::Sym(d) => match sizes.get(d) {
                        Some(s) if s != size => {
                            return Err(mismatch(format!(
                                "it is {} in the expression and {} = {} from the value of '{}'",
                                pool.shape_str(info.shape),
                                pool.dim_name(d),
                                s,
                                source[&d]
                            )))
                        }
                        Some(_) => {}
                        None => {
                            sizes.set(d, size);
                            source.insert(d, name);
                        }
                    },
                }
            }
        }
        for (name, dim, size, got) in products {
            // One factor not known yet takes the quotient.
            let factors = pool.dim_factors(dim);
            let unknown: Vec<DimVar> = factors
                .iter()
                .filter_map(|&f| match f {
                    Dim::Sym(d) if sizes.get(d).is_none() => Some(d),
                    _ => None,
                })
                .collect();
            if let [d] = unknown[..] {
                let rest: usize = factors
                    .iter()
                    .filter(|&&f| f != Dim::Sym(d))
                    .map(|&f| sizes.dim(pool, f).expect("known"))
                    .product();
                if size % rest == 0 {
                    sizes.set(d, size / rest);
                    source.insert(d, name);
                }
            }
            if let Ok(s) = sizes.dim(pool, dim) {
                if s != size {
                    return Err(EvalError::ShapeMismatch {
                        name: name.to_string(),
                        got: format!("{}x{}", got.0, got.1),
                        expected: format!(
                            "it is {} in the expression and {} = {s}",
                            pool.shape_str(
                                pool.var_info(pool.find_symbol(name).expect("a variable"))
                                    .expect("a variable")
                                    .shape
                            ),
                            pool.dim_str(dim)
                        ),
                    });
                }
            }
        }
        Ok(sizes)
    }

    /// The concrete size of a dimension.
    ///
    /// A product dimension is the product of its factors' sizes:
    ///
    /// ```
    /// use matdiff_expr::ExprPool;
    /// use matdiff_faer::Sizes;
    /// let mut pool = ExprPool::new();
    /// let e = pool.parse("ones(rows(A)*rows(B)) + c").unwrap();
    /// let rows = pool.shape(e.root).rows;
    /// let sizes = Sizes::from_shapes(&pool, [("A", (2, 3)), ("B", (4, 5))]).unwrap();
    /// assert_eq!(sizes.dim(&pool, rows).unwrap(), 8);
    /// // A value of c's product shape gives the one factor nothing else fixes: 12 = 3*4.
    /// let sizes = Sizes::from_shapes(&pool, [("A", (3, 3)), ("c", (12, 1))]).unwrap();
    /// assert_eq!(sizes.dim(&pool, rows).unwrap(), 12);
    /// assert!(Sizes::from_shapes(&pool, [("A", (2, 3)), ("B", (4, 5)), ("c", (9, 1))]).is_err());
    /// ```
    pub fn dim(&self, pool: &ExprPool, dim: Dim) -> Result<usize, EvalError> {
        match dim {
            Dim::Known(k) => Ok(k as usize),
            Dim::Sym(d) => self.get(d).ok_or_else(|| EvalError::UnknownDimension {
                dim: pool.dim_name(d).to_string(),
            }),
            Dim::Prod(_) => pool
                .dim_factors(dim)
                .into_iter()
                .try_fold(1usize, |n, f| Ok(n * self.dim(pool, f)?)),
        }
    }

    /// The concrete rows and columns of a shape.
    pub fn shape(&self, pool: &ExprPool, shape: Shape) -> Result<(usize, usize), EvalError> {
        Ok((self.dim(pool, shape.rows)?, self.dim(pool, shape.cols)?))
    }
}
