//! The peel: one operator moved out of `tr(U' e)` per line (the trace tricks, step (b)).

use matdiff_expr::{Dim, ExprId, Node, Reduce};
use smallvec::{smallvec, SmallVec};

use crate::error::DeriveError;
use crate::rules::RuleId;

use super::{Engine, State, States};

impl Engine<'_> {
    /// One trace trick on a term: pushes the term(s) it becomes; false when the term is already
    /// `tr(U'*dV)` for a differential variable dV.
    pub(super) fn peel(
        &mut self,
        st: State,
        out: &mut States,
        rules: &mut Vec<RuleId>,
    ) -> Result<bool, DeriveError> {
        if self.dvars.contains(&st.e) {
            out.push(st);
            return Ok(false);
        }
        if !self.has_d(st.e) {
            // A term without a differential is zero: it drops out.
            return Ok(true);
        }
        let node = self.s.pool.node(st.e).clone();
        match node {
            Node::Add(ts) => self.peel_sum(st, &ts, out, rules)?,
            Node::Neg(a) => {
                cite(rules, RuleId::T3);
                let u = self.u_or_identity(st)?;
                let nu = self.s.neg(u)?;
                out.push(State { u: Some(nu), e: a });
            }
            Node::Transpose(a) => {
                cite(rules, RuleId::T2);
                let u = match st.u {
                    Some(u) => Some(self.s.transpose(u)?),
                    None => None,
                };
                out.push(State { u, e: a });
            }
            Node::Mul(fs) => self.peel_product(st, &fs, out, rules)?,
            Node::Hadamard(fs) => self.peel_hadamard(st, &fs, out, rules)?,
            Node::HDiv([a, b]) => {
                if self.has_d(b) {
                    return Err(self.unsupported(st, "the differential is not linear"));
                }
                cite(rules, RuleId::T5);
                let u = self.u_or_identity(st)?;
                let nu = self.s.hadamard(&[u], &[b])?;
                out.push(State { u: Some(nu), e: a });
            }
            Node::Div([a, s]) => {
                if self.has_d(s) {
                    return Err(self.unsupported(st, "the differential is not linear"));
                }
                cite(rules, RuleId::T6);
                let u = self.u_or_identity(st)?;
                let nu = self.s.hdiv(u, s)?;
                out.push(State { u: Some(nu), e: a });
            }
            Node::Reduce(Reduce::Trace, a) => {
                cite(rules, RuleId::T1);
                let u = match st.u {
                    None => None,
                    Some(u) => {
                        let shape = self.s.pool.shape(a);
                        let eye = self.identity(shape.rows)?;
                        Some(self.s.mul(&[u, eye])?)
                    }
                };
                out.push(State { u, e: a });
            }
            Node::Reduce(Reduce::Sum, a) => {
                cite(rules, RuleId::T7);
                let u = self.u_or_identity(st)?;
                let shape = self.s.pool.shape(a);
                let mut factors: SmallVec<[ExprId; 4]> = smallvec![u];
                if !shape.is_scalar() {
                    factors.push(self.s.pool.intern(Node::Ones(shape.rows))?);
                    if shape.cols != Dim::ONE {
                        let ones = self.s.pool.intern(Node::Ones(shape.cols))?;
                        factors.push(self.s.pool.intern(Node::Transpose(ones))?);
                    }
                }
                let nu = self.s.mul(&factors)?;
                out.push(State { u: Some(nu), e: a });
            }
            Node::Diag(a) => {
                cite(rules, RuleId::T8);
                let u = self.u_or_identity(st)?;
                let nu = self.s.pool.intern(Node::Diag(u))?;
                out.push(State { u: Some(nu), e: a });
            }
            Node::Tri(t, a) => {
                cite(rules, RuleId::T10);
                let u = self.u_or_identity(st)?;
                let nu = self.s.pool.intern(Node::Tri(t, u))?;
                out.push(State { u: Some(nu), e: a });
            }
            Node::Kron([a, b]) => {
                if self.has_d(a) && self.has_d(b) {
                    return Err(self.unsupported(st, "the differential is not linear"));
                }
                cite(rules, RuleId::T11);
                let u = self.u_or_identity(st)?;
                let left = self.has_d(a);
                let nu = self.kron_weight(u, [a, b], left)?;
                out.push(State {
                    u: Some(nu),
                    e: if left { a } else { b },
                });
            }
            Node::Vectorize(a) => {
                cite(rules, RuleId::T12);
                let u = self.u_or_identity(st)?;
                let nu = self.unvec_weight(u, a)?;
                out.push(State { u: Some(nu), e: a });
            }
            Node::Unvec(g, _) => {
                cite(rules, RuleId::T12);
                let u = self.u_or_identity(st)?;
                let nu = self.s.vec(u)?;
                out.push(State { u: Some(nu), e: g });
            }
            _ => return Err(self.unsupported(st, "no trace trick applies")),
        }
        Ok(true)
    }

    /// A sum: each term with a differential goes on alone (T3); a broadcast scalar term takes
    /// the sum of the multiplier's entries (T9).
    fn peel_sum(
        &mut self,
        st: State,
        ts: &[ExprId],
        out: &mut States,
        rules: &mut Vec<RuleId>,
    ) -> Result<(), DeriveError> {
        let e_shape = self.s.pool.shape(st.e);
        cite(rules, RuleId::T3);
        for &t in ts.iter() {
            if !self.has_d(t) {
                continue;
            }
            if self.s.pool.shape(t).is_scalar() && !e_shape.is_scalar() {
                // A broadcast scalar: tr(U'*(s*ones*ones')) = s*sum(U).
                cite(rules, RuleId::T9);
                let u = self.u_or_identity(st)?;
                let total = self.s.reduce(Reduce::Sum, u)?;
                out.push(State {
                    u: Some(total),
                    e: t,
                });
            } else {
                out.push(State { u: st.u, e: t });
            }
        }
        Ok(())
    }

    /// A product with the differential in one factor: the factors left and right of it move
    /// into the multiplier (T4), scalar factors too (T6).
    fn peel_product(
        &mut self,
        st: State,
        fs: &[ExprId],
        out: &mut States,
        rules: &mut Vec<RuleId>,
    ) -> Result<(), DeriveError> {
        let fs = self.s.group_scalar_prefix(fs)?;
        let positions: SmallVec<[usize; 2]> =
            (0..fs.len()).filter(|&i| self.has_d(fs[i])).collect();
        let [i] = positions[..] else {
            return Err(self.unsupported(st, "the differential is not linear"));
        };
        let fi = fs[i];
        let scalars: SmallVec<[ExprId; 4]> = fs
            .iter()
            .enumerate()
            .filter(|&(j, &f)| j != i && self.s.pool.shape(f).is_scalar())
            .map(|(_, &f)| f)
            .collect();
        let left: SmallVec<[ExprId; 4]> = fs[..i]
            .iter()
            .copied()
            .filter(|&f| !self.s.pool.shape(f).is_scalar())
            .collect();
        let right: SmallVec<[ExprId; 4]> = fs[i + 1..]
            .iter()
            .copied()
            .filter(|&f| !self.s.pool.shape(f).is_scalar())
            .collect();
        if !scalars.is_empty() {
            cite(rules, RuleId::T6);
        }
        if self.s.pool.shape(fi).is_scalar() {
            // A scalar holding the differential scales a matrix M: tr(U'*(s*M)) = s*tr(U'*M).
            cite(rules, RuleId::T4);
            let mut m = scalars.clone();
            m.extend(left.iter().chain(&right).copied());
            let m = self.s.mul(&m)?;
            let u = self.u_or_identity(st)?;
            let ut = self.s.transpose(u)?;
            let p = self.s.mul(&[ut, m])?;
            let t = self.s.reduce(Reduce::Trace, p)?;
            out.push(State { u: Some(t), e: fi });
        } else {
            if !left.is_empty() || !right.is_empty() {
                cite(rules, RuleId::T4);
            }
            let mut factors = scalars;
            if !left.is_empty() {
                let l = self.s.mul(&left)?;
                factors.push(self.s.transpose(l)?);
            }
            if let Some(u) = st.u {
                factors.push(u);
            }
            if !right.is_empty() {
                let r = self.s.mul(&right)?;
                factors.push(self.s.transpose(r)?);
            }
            let u = if factors.is_empty() {
                None
            } else {
                if factors.iter().all(|&f| self.s.pool.shape(f).is_scalar())
                    && !self.s.pool.shape(fi).is_scalar()
                {
                    let shape = self.s.pool.shape(fi);
                    factors.push(self.identity(shape.rows)?);
                }
                Some(self.s.mul(&factors)?)
            };
            out.push(State { u, e: fi });
        }
        Ok(())
    }

    /// An element-wise product with the differential in one factor: the other factors move into
    /// the multiplier (T5), or, for a broadcast scalar, into a sum of entries (T9).
    fn peel_hadamard(
        &mut self,
        st: State,
        fs: &[ExprId],
        out: &mut States,
        rules: &mut Vec<RuleId>,
    ) -> Result<(), DeriveError> {
        let e_shape = self.s.pool.shape(st.e);
        let positions: SmallVec<[usize; 2]> =
            (0..fs.len()).filter(|&i| self.has_d(fs[i])).collect();
        let [i] = positions[..] else {
            return Err(self.unsupported(st, "the differential is not linear"));
        };
        let fi = fs[i];
        let others: SmallVec<[ExprId; 4]> = fs
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != i)
            .map(|(_, &f)| f)
            .collect();
        let u = self.u_or_identity(st)?;
        if self.s.pool.shape(fi).is_scalar() && !e_shape.is_scalar() {
            cite(rules, RuleId::T9);
            let m = self.s.hadamard(&others, &[])?;
            let p = self.s.hadamard(&[u, m], &[])?;
            let t = self.s.reduce(Reduce::Sum, p)?;
            out.push(State { u: Some(t), e: fi });
        } else {
            cite(rules, RuleId::T5);
            let mut all: SmallVec<[ExprId; 4]> = smallvec![u];
            all.extend(others);
            let nu = self.s.hadamard(&all, &[])?;
            out.push(State { u: Some(nu), e: fi });
        }
        Ok(())
    }

    /// The error for a term no trace trick can take apart.
    fn unsupported(&self, st: State, why: &'static str) -> DeriveError {
        DeriveError::Unsupported {
            expr: self.s.pool.plain(st.e),
            wrt: self.s.pool.plain(self.dx),
            why,
        }
    }
}

/// Adds a rule to a line's citations, once.
fn cite(rules: &mut Vec<RuleId>, r: RuleId) {
    if !rules.contains(&r) {
        rules.push(r);
    }
}
