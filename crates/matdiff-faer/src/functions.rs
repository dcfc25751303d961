//! Numeric definitions of abstract element-wise functions: [`Functions`].

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// A numeric scalar function.
pub type ScalarFn<T> = Arc<dyn Fn(T) -> T + Send + Sync>;

/// Numeric definitions of abstract element-wise functions (the seed's `g`), by name: the function
/// and its derivatives. This is also how a downstream crate registers a new element-wise function.
///
/// ```
/// use faer::mat;
/// use matdiff_expr::ExprPool;
/// use matdiff_faer::{Functions, Options, Plan, Sizes, Values};
/// let mut pool = ExprPool::new();
/// let e = pool.parse("sum(g'(X))").unwrap();
/// let functions = Functions::new().with("g", |x: f64| x * x * x, |x| 3.0 * x * x);
/// let values = Values::new().with("X", mat![[1.0, 2.0]]);
/// let sizes = Sizes::from_values(&pool, &values).unwrap();
/// let options = Options::new().functions(functions);
/// let mut plan = Plan::compile_with(&pool, &[e.root], &sizes, &options).unwrap();
/// assert_eq!(plan.run(&values).unwrap()[0][(0, 0)], 15.0);
/// ```
pub struct Functions<T> {
    map: BTreeMap<String, Vec<ScalarFn<T>>>,
}

impl<T> Default for Functions<T> {
    fn default() -> Self {
        Functions {
            map: BTreeMap::new(),
        }
    }
}

impl<T> Clone for Functions<T> {
    fn clone(&self) -> Self {
        Functions {
            map: self.map.clone(),
        }
    }
}

impl<T> fmt::Debug for Functions<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.map.iter().map(|(k, v)| (k, v.len())))
            .finish()
    }
}

impl<T: 'static> Functions<T> {
    /// No function defined.
    pub fn new() -> Functions<T> {
        Functions::default()
    }

    /// Defines `name` by its value and first derivative (replacing any previous definition).
    pub fn define(
        &mut self,
        name: &str,
        f: impl Fn(T) -> T + Send + Sync + 'static,
        df: impl Fn(T) -> T + Send + Sync + 'static,
    ) {
        self.map
            .insert(name.to_string(), vec![Arc::new(f), Arc::new(df)]);
    }

    /// These definitions and one more (value and first derivative).
    pub fn with(
        mut self,
        name: &str,
        f: impl Fn(T) -> T + Send + Sync + 'static,
        df: impl Fn(T) -> T + Send + Sync + 'static,
    ) -> Functions<T> {
        self.define(name, f, df);
        self
    }

    /// Adds the second derivative of a defined function (`g''(Z)`). Returns `false` when `name`
    /// is not defined.
    pub fn define_second(
        &mut self,
        name: &str,
        ddf: impl Fn(T) -> T + Send + Sync + 'static,
    ) -> bool {
        match self.map.get_mut(name) {
            Some(fs) => {
                fs.truncate(2);
                fs.push(Arc::new(ddf));
                true
            }
            None => false,
        }
    }

    /// The derivative of the given order (0: the function itself) of `name`, if defined.
    pub fn get(&self, name: &str, order: u8) -> Option<&ScalarFn<T>> {
        self.map.get(name)?.get(order as usize)
    }
}
