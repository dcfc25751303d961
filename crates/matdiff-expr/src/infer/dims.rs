//! The union-find over dimension variables, and the names of free dimensions in messages.

use crate::node::{Dim, Shape};

use super::{DimValue, Dims, Namer, TShape};

impl Dims {
    fn new_elem(&mut self, val: Option<DimValue>, nonunit: bool) -> u32 {
        let i = self.parent.len() as u32;
        self.parent.push(i);
        self.val.push(val);
        self.nonunit.push(nonunit);
        i
    }

    pub(super) fn fresh(&mut self) -> u32 {
        self.new_elem(None, true)
    }

    pub(super) fn known(&mut self, k: u64) -> u32 {
        self.new_elem(Some(DimValue::Known(k)), false)
    }

    pub(super) fn elem_of_dim(&mut self, d: Dim) -> u32 {
        match d {
            Dim::Known(k) => self.known(k),
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

    pub(super) fn elems_of_shape(&mut self, s: Shape) -> TShape {
        (self.elem_of_dim(s.rows), self.elem_of_dim(s.cols))
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

impl Namer<'_> {
    pub(super) fn dim(&mut self, dims: &mut Dims, x: u32) -> String {
        let r = dims.find(x);
        match dims.val[r as usize] {
            Some(DimValue::Known(k)) => k.to_string(),
            Some(DimValue::Rigid(v)) => self.pool.dim_name(v).to_string(),
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
