//! The union-find over dimension variables, and the names of free dimensions in messages.

use std::ops::Range;

use crate::node::{Dim, DimVar, Shape};
use crate::pool::ExprPool;

use super::{DimValue, Dims, Namer, Product, TShape};

/// A product dimension written out: a number times symbolic atoms (rigid dimensions of the
/// pool, or free roots of the union-find), sorted.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(super) struct Factored {
    known: u64,
    atoms: Vec<Atom>,
}

#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Atom {
    Rigid(DimVar),
    Free(u32),
}

/// Two dimensions that must be equal and cannot be shown to be: the place of the product, the
/// factors of every product in the class, and the class itself when it has a value.
pub(super) struct ProductMismatch {
    pub(super) class: u32,
    pub(super) span: Range<usize>,
    pub(super) products: Vec<[u32; 2]>,
    pub(super) value: Option<u32>,
}

impl Dims {
    /// Room for `n` dimension variables (two per variable, one per `ones` or `I`, ...), so that a
    /// short expression does not grow the vectors one push at a time.
    pub(super) fn with_capacity(n: usize) -> Dims {
        Dims {
            parent: Vec::with_capacity(n),
            rank: Vec::with_capacity(n),
            val: Vec::with_capacity(n),
            nonunit: Vec::with_capacity(n),
            ..Dims::default()
        }
    }

    fn new_elem(&mut self, val: Option<DimValue>, nonunit: bool) -> u32 {
        let i = self.parent.len() as u32;
        self.parent.push(i);
        self.rank.push(0);
        self.val.push(val);
        self.nonunit.push(nonunit);
        i
    }

    pub(super) fn fresh(&mut self) -> u32 {
        self.new_elem(None, true)
    }

    /// An element of the value `k`; the one of the value 1 is shared (a class of a known
    /// value only ever unifies with classes that take its value).
    pub(super) fn known(&mut self, k: u64) -> u32 {
        if k == 1 {
            if let Some(one) = self.one {
                return one;
            }
            let one = self.new_elem(Some(DimValue::Known(1)), false);
            self.one = Some(one);
            return one;
        }
        self.new_elem(Some(DimValue::Known(k)), false)
    }

    pub(super) fn elem_of_dim(&mut self, pool: &ExprPool, d: Dim) -> u32 {
        match d {
            Dim::Known(k) => self.known(k),
            Dim::Prod(_) => {
                let factors = pool.dim_factors(d);
                let mut e = self.elem_of_dim(pool, factors[0]);
                for &f in &factors[1..] {
                    let f = self.elem_of_dim(pool, f);
                    e = self.product(e, f, 0..0);
                }
                e
            }
            Dim::Sym(v) => {
                if let Some(&e) = self.rigid.get(&v) {
                    return e;
                }
                let e = self.new_elem(Some(DimValue::Rigid(v)), true);
                self.rigid.insert(v, e);
                e
            }
        }
    }

    pub(super) fn elems_of_shape(&mut self, pool: &ExprPool, s: Shape) -> TShape {
        (
            self.elem_of_dim(pool, s.rows),
            self.elem_of_dim(pool, s.cols),
        )
    }

    /// The product of two dimensions (made at `span`): a number when both are, the other
    /// factor when one is 1, otherwise a new dimension that only an equal product (or its
    /// number, once its factors are numbers) can equal ([`Dims::check_products`]).
    pub(super) fn product(&mut self, a: u32, b: u32, span: Range<usize>) -> u32 {
        match (self.value(a), self.value(b)) {
            (Some(DimValue::Known(1)), _) => b,
            (_, Some(DimValue::Known(1))) => a,
            (Some(DimValue::Known(x)), Some(DimValue::Known(y))) => self.known(x.saturating_mul(y)),
            _ => {
                let elem = self.new_elem(None, true);
                self.products.push(Product {
                    elem,
                    factors: [a, b],
                    span,
                });
                elem
            }
        }
    }

    /// The product that defines the class of `x`, if there is one.
    pub(super) fn product_of(&mut self, x: u32) -> Option<[u32; 2]> {
        let r = self.find(x);
        let ps: Vec<(u32, [u32; 2])> = self.products.iter().map(|p| (p.elem, p.factors)).collect();
        ps.into_iter()
            .find(|&(e, _)| self.find(e) == r)
            .map(|(_, f)| f)
    }

    /// A dimension as a number times atoms; `None` for a cycle (`m*p = m`, p not 1).
    fn factored(&mut self, x: u32, depth: usize) -> Option<Factored> {
        if depth > self.products.len() + 1 {
            return None;
        }
        let r = self.find(x);
        Some(match self.val[r as usize] {
            Some(DimValue::Known(k)) => Factored {
                known: k,
                atoms: Vec::new(),
            },
            Some(DimValue::Rigid(v)) => Factored {
                known: 1,
                atoms: vec![Atom::Rigid(v)],
            },
            None => match self.product_of(r) {
                Some([a, b]) => {
                    let (fa, fb) = (self.factored(a, depth + 1)?, self.factored(b, depth + 1)?);
                    let mut atoms = [fa.atoms, fb.atoms].concat();
                    atoms.sort();
                    Factored {
                        known: fa.known.saturating_mul(fb.known),
                        atoms,
                    }
                }
                None => Factored {
                    known: 1,
                    atoms: vec![Atom::Free(r)],
                },
            },
        })
    }

    /// The free classes (no value, no product) a dimension is made of.
    pub(super) fn free_atoms(&mut self, x: u32) -> Vec<u32> {
        self.factored(x, 0).map_or_else(Vec::new, |f| {
            f.atoms
                .into_iter()
                .filter_map(|a| match a {
                    Atom::Free(r) => Some(r),
                    Atom::Rigid(_) => None,
                })
                .collect()
        })
    }

    /// Checks every product against what it was made equal to: another product with the same
    /// factors (as a multiset), or a number when its factors are numbers. Where the two differ
    /// by one free dimension on one side against one dimension or number on the other, that
    /// free dimension is fixed (`m*p = m*q` gives `p = q`); any other difference is an error.
    pub(super) fn check_products(&mut self) -> Result<(), ProductMismatch> {
        loop {
            let mut changed = false;
            for i in 0..self.products.len() {
                let Product { elem, factors, .. } = self.products[i].clone();
                let r = self.find(elem);
                let span = self.products[i].span.clone();
                let mismatch = |dims: &mut Dims| {
                    let ps: Vec<(u32, [u32; 2])> =
                        dims.products.iter().map(|p| (p.elem, p.factors)).collect();
                    let products = ps
                        .into_iter()
                        .filter(|&(e, _)| dims.find(e) == r)
                        .map(|(_, f)| f)
                        .collect();
                    ProductMismatch {
                        class: r,
                        span: span.clone(),
                        products,
                        value: dims.val[r as usize].is_some().then_some(r),
                    }
                };
                let mine = {
                    let (fa, fb) = (self.factored(factors[0], 0), self.factored(factors[1], 0));
                    let (Some(fa), Some(fb)) = (fa, fb) else {
                        return Err(mismatch(self));
                    };
                    let mut atoms = [fa.atoms, fb.atoms].concat();
                    atoms.sort();
                    Factored {
                        known: fa.known.saturating_mul(fb.known),
                        atoms,
                    }
                };
                let Some(other) = self.factored(r, 0) else {
                    return Err(mismatch(self));
                };
                match self.equate(mine, other) {
                    Equated::Same => {}
                    Equated::Fixed => changed = true,
                    Equated::Differ => return Err(mismatch(self)),
                }
            }
            if !changed {
                return Ok(());
            }
        }
    }

    fn equate(&mut self, a: Factored, b: Factored) -> Equated {
        // Cancel the common atoms.
        let (mut ra, mut rb) = (Vec::new(), b.atoms.clone());
        for x in a.atoms {
            match rb.iter().position(|y| *y == x) {
                Some(i) => {
                    rb.remove(i);
                }
                None => ra.push(x),
            }
        }
        if ra.is_empty() && rb.is_empty() {
            return if a.known == b.known {
                Equated::Same
            } else {
                Equated::Differ
            };
        }
        // One free atom alone against a number or one atom: fix it (coefficients divided by
        // their common divisor first, so `2*m = 6` gives `m = 3`).
        let g = gcd(a.known, b.known).max(1);
        let (ka, kb) = (a.known / g, b.known / g);
        let fix = |free: &[Atom], k_free: u64, other: &[Atom], k_other: u64| match free {
            [Atom::Free(f)] if k_free == 1 => match other {
                [] if k_other > 1 => Some((*f, None, k_other)),
                [x] if k_other == 1 => Some((*f, Some(*x), 1)),
                _ => None,
            },
            _ => None,
        };
        // `x^k = y^k` gives `x = y` for sizes (`tr(kron(X, X))` needs `m*m = n*n`).
        let power_of = |atoms: &[Atom]| match atoms {
            [first, rest @ ..] if rest.iter().all(|x| x == first) => Some(*first),
            _ => None,
        };
        if ka == kb && ra.len() == rb.len() && ra.len() > 1 {
            if let (Some(x), Some(y)) = (power_of(&ra), power_of(&rb)) {
                let elem = |dims: &Dims, atom: Atom| match atom {
                    Atom::Free(g) => g,
                    Atom::Rigid(v) => dims.rigid[&v],
                };
                let (x, y) = (elem(self, x), elem(self, y));
                return if self.unify(x, y) {
                    Equated::Fixed
                } else {
                    Equated::Differ
                };
            }
        }
        // `x^k = c` gives `x` the whole k-th root of `c` (`m*m = 9` gives `m = 3`).
        for (xs, kx, ys, ky) in [(&ra, ka, &rb, kb), (&rb, kb, &ra, ka)] {
            if let (Some(Atom::Free(x)), true) =
                (power_of(xs), xs.len() > 1 && kx == 1 && ys.is_empty())
            {
                let k = xs.len() as u32;
                let root = (1..=ky).find(|r| r.checked_pow(k).is_none_or(|p| p >= ky));
                return match root {
                    Some(r) if r.checked_pow(k) == Some(ky) => {
                        let target = self.known(r);
                        if self.unify(x, target) {
                            Equated::Fixed
                        } else {
                            Equated::Differ
                        }
                    }
                    _ => Equated::Differ,
                };
            }
        }
        let fixed = fix(&ra, ka, &rb, kb).or_else(|| fix(&rb, kb, &ra, ka));
        let Some((f, atom, k)) = fixed else {
            return Equated::Differ;
        };
        let target = match atom {
            None => self.known(k),
            Some(Atom::Free(g)) => g,
            Some(Atom::Rigid(v)) => self.rigid[&v],
        };
        if self.unify(f, target) {
            Equated::Fixed
        } else {
            Equated::Differ
        }
    }

    pub(super) fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let p = self.parent[x as usize];
            self.parent[x as usize] = self.parent[p as usize];
            x = p;
        }
        x
    }

    fn value(&mut self, x: u32) -> Option<DimValue> {
        let r = self.find(x);
        self.val[r as usize]
    }

    /// The number a dimension is known to be.
    pub(super) fn known_value(&mut self, x: u32) -> Option<u64> {
        match self.value(x) {
            Some(DimValue::Known(k)) => Some(k),
            _ => None,
        }
    }

    pub(super) fn is_one(&mut self, x: u32) -> bool {
        self.value(x) == Some(DimValue::Known(1))
    }

    pub(super) fn is_scalar(&mut self, s: TShape) -> bool {
        self.is_one(s.0) && self.is_one(s.1)
    }

    /// Makes two dimensions equal, or says they cannot be.
    pub(super) fn unify(&mut self, a: u32, b: u32) -> bool {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return true;
        }
        let (va, vb) = (self.val[ra as usize], self.val[rb as usize]);
        let val = match (va, vb) {
            (Some(x), Some(y)) if x != y => return false,
            (Some(x), _) | (_, Some(x)) => Some(x),
            (None, None) => None,
        };
        let nonunit = self.nonunit[ra as usize] || self.nonunit[rb as usize];
        if nonunit && val == Some(DimValue::Known(1)) {
            return false;
        }
        // The lower tree goes under the higher (union by rank), so that no chain grows long:
        // a long sum's terms each unify a new dimension with the same one.
        let (ra, rb) = if self.rank[ra as usize] < self.rank[rb as usize] {
            (rb, ra)
        } else {
            (ra, rb)
        };
        if self.rank[ra as usize] == self.rank[rb as usize] {
            self.rank[ra as usize] += 1;
        }
        self.parent[rb as usize] = ra;
        self.val[ra as usize] = val;
        self.nonunit[ra as usize] = nonunit;
        true
    }

    pub(super) fn unify_shape(&mut self, a: TShape, b: TShape) -> bool {
        // Both, so that no half-unified state is left without being reported.
        let r = self.unify(a.0, b.0);
        r && self.unify(a.1, b.1)
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

enum Equated {
    Same,
    Fixed,
    Differ,
}

impl Namer<'_> {
    pub(super) fn dim(&mut self, dims: &mut Dims, x: u32) -> String {
        let r = dims.find(x);
        let val = dims.val[r as usize];
        match val {
            Some(DimValue::Known(k)) => k.to_string(),
            Some(DimValue::Rigid(v)) => self.pool.dim_name(v).to_string(),
            None if !self.expanding.contains(&r) && dims.product_of(r).is_some() => {
                let [a, b] = dims.product_of(r).expect("checked");
                self.expanding.push(r);
                let a = self.dim(dims, a);
                let b = self.dim(dims, b);
                self.expanding.pop();
                format!("{a}*{b}")
            }
            None => {
                if let Some(n) = self.names.get(&r) {
                    return n.clone();
                }
                let taken: Vec<String> = self.names.values().cloned().collect();
                let name = ["m", "n", "p", "q", "r", "s", "t", "u", "v", "k"]
                    .iter()
                    .map(|s| s.to_string())
                    .chain((1..).map(|i| format!("n{i}")))
                    .find(|c| self.pool.find_symbol(c).is_none() && !taken.contains(c))
                    .expect("endless names");
                self.names.insert(r, name.clone());
                name
            }
        }
    }

    pub(super) fn shape(&mut self, dims: &mut Dims, s: TShape) -> String {
        if dims.is_scalar(s) {
            return "scalar".into();
        }
        let (r, c) = (self.dim(dims, s.0), self.dim(dims, s.1));
        if r.parse::<u64>().is_ok() && c.parse::<u64>().is_ok() {
            format!("{r}x{c}")
        } else {
            format!("{r} x {c}")
        }
    }
}
