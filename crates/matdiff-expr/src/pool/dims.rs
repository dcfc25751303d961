//! Product dimensions of a pool: made, interned and divided.

use crate::node::{Dim, DimProd, Shape};

use super::ExprPool;

impl ExprPool {
    /// The product of two dimensions: a number when both are, otherwise the one product with
    /// these factors (as a multiset), interned.
    ///
    /// ```
    /// use matdiff_expr::{Dim, ExprPool};
    /// let mut pool = ExprPool::new();
    /// let (m, p) = (Dim::Sym(pool.dim_named("m")), Dim::Sym(pool.dim_named("p")));
    /// let mp = pool.dim_product(m, p);
    /// assert_eq!(pool.dim_product(p, m), mp);
    /// assert_eq!(pool.dim_str(mp), "m*p");
    /// assert_eq!(pool.dim_product(Dim::Known(2), Dim::Known(3)), Dim::Known(6));
    /// assert_eq!(pool.dim_product(Dim::ONE, m), m);
    /// ```
    pub fn dim_product(&mut self, a: Dim, b: Dim) -> Dim {
        let mut known = 1u64;
        let mut syms: Vec<Dim> = Vec::new();
        for f in self.dim_factors(a).into_iter().chain(self.dim_factors(b)) {
            match f {
                Dim::Known(k) => known = known.saturating_mul(k),
                _ => syms.push(f),
            }
        }
        syms.sort();
        match (known, syms.len()) {
            (k, 0) => Dim::Known(k),
            (1, 1) => syms[0],
            (k, _) => {
                let mut factors = Vec::with_capacity(syms.len() + 1);
                if k != 1 {
                    factors.push(Dim::Known(k));
                }
                factors.extend(syms);
                let factors: Box<[Dim]> = factors.into();
                if let Some(&p) = self.product_ids.get(&factors) {
                    return Dim::Prod(p);
                }
                let p = DimProd(self.products.len() as u32);
                self.products.push(factors.clone());
                self.product_ids.insert(factors, p);
                Dim::Prod(p)
            }
        }
    }

    /// A shape as text: `scalar`, `3x4` or `m x n`.
    pub fn shape_str(&self, shape: Shape) -> String {
        if shape.is_scalar() {
            return "scalar".to_string();
        }
        let (r, c) = (self.dim_str(shape.rows), self.dim_str(shape.cols));
        match (shape.rows, shape.cols) {
            (Dim::Known(_), Dim::Known(_)) => format!("{r}x{c}"),
            _ => format!("{r} x {c}"),
        }
    }

    /// `a / b` when `b`'s factors are among `a`'s (numbers divide): `m*p / m` is `p`, `6 / 2`
    /// is `3`, `m / p` is `None`.
    ///
    /// ```
    /// use matdiff_expr::{Dim, ExprPool};
    /// let mut pool = ExprPool::new();
    /// let (m, p) = (Dim::Sym(pool.dim_named("m")), Dim::Sym(pool.dim_named("p")));
    /// let mp = pool.dim_product(m, p);
    /// assert_eq!(pool.dim_quotient(mp, m), Some(p));
    /// assert_eq!(pool.dim_quotient(Dim::Known(6), Dim::Known(4)), None);
    /// assert_eq!(pool.dim_quotient(m, p), None);
    /// ```
    pub fn dim_quotient(&mut self, a: Dim, b: Dim) -> Option<Dim> {
        let mut rest = self.dim_factors(a);
        let mut known_a: u64 = 1;
        rest.retain(|f| match f {
            Dim::Known(k) => {
                known_a *= k;
                false
            }
            _ => true,
        });
        let mut known_b: u64 = 1;
        for f in self.dim_factors(b) {
            match f {
                Dim::Known(k) => known_b *= k,
                _ => {
                    let i = rest.iter().position(|&x| x == f)?;
                    rest.remove(i);
                }
            }
        }
        if known_b == 0 || !known_a.is_multiple_of(known_b) {
            return None;
        }
        let mut out = Dim::Known(known_a / known_b);
        for f in rest {
            out = self.dim_product(out, f);
        }
        Some(out)
    }
}
