//! The trace tricks through `kron`, `vec` and `unvec` (rules T11, T12).
//!
//! For `A` of `m x n` and `B` of `p x q`, `G` of `m*p x n*q` has blocks `G_ij` of `p x q`, and
//! `tr(G'*kron(dA, B)) = sum_ij dA_ij*tr(G_ij'*B)`: the weight of `dA` is the matrix of the
//! contractions `sum(G_ij .* B)`, `(I_m ⊗ ones_p')*(G .* (ones_m*ones_n' ⊗ B))*(I_n ⊗ ones_q)`.
//! Likewise `tr(G'*kron(A, dB)) = tr((sum_ij A_ij*G_ij)'*dB)`, the blocks summed with the
//! weights of `A`: `(ones_m' ⊗ I_p)*(G .* (A ⊗ ones_p*ones_q'))*(ones_n ⊗ I_q)`.

use matdiff_expr::{Dim, ExprId, Node};

use crate::error::DeriveError;

use super::Engine;

impl Engine<'_> {
    /// `ones(r)*ones(c)'` (a column, a row or 1 when a size is 1).
    fn ones_matrix(&mut self, rows: Dim, cols: Dim) -> Result<ExprId, DeriveError> {
        let r = self.s.pool.intern(Node::Ones(rows))?;
        let c = self.s.pool.intern(Node::Ones(cols))?;
        let ct = self.s.transpose(c)?;
        Ok(self.s.mul(&[r, ct])?)
    }

    /// `ones(d)` (`transposed`: its transpose).
    fn ones(&mut self, d: Dim, transposed: bool) -> Result<ExprId, DeriveError> {
        let o = self.s.pool.intern(Node::Ones(d))?;
        Ok(if transposed { self.s.transpose(o)? } else { o })
    }

    /// `U` as `s*kron(P, Q)` with `P` of `A`'s shape: the scalar factors, `P` and `Q`.
    fn scaled_kron(&self, u: ExprId, a: ExprId) -> Option<(Vec<ExprId>, ExprId, ExprId)> {
        let pool = &*self.s.pool;
        let (scalars, k) = match pool.node(u) {
            Node::Mul(xs) => {
                let (s, m): (Vec<ExprId>, Vec<ExprId>) =
                    xs.iter().partition(|&&x| pool.shape(x).is_scalar());
                match m[..] {
                    [k] => (s, k),
                    _ => return None,
                }
            }
            _ => (Vec::new(), u),
        };
        match *pool.node(k) {
            Node::Kron([p, q]) if pool.shape(p) == pool.shape(a) => Some((scalars, p, q)),
            _ => None,
        }
    }

    /// The weight of `dA` in `tr(U'*kron(dA, B))` (`left`) or of `dB` in `tr(U'*kron(A, dB))`.
    /// Where `U` is `s*kron(P, Q)` (`P` of `A`'s shape) every block of `U` is a multiple of `Q`:
    /// the weights are `s*sum(Q .* B)*P` and `s*sum(A .* P)*Q`; where `U` is `I` (`A`, `B`
    /// square), `tr(B)*I` and `tr(A)*I`.
    pub(super) fn kron_weight(
        &mut self,
        u: ExprId,
        [a, b]: [ExprId; 2],
        left: bool,
    ) -> Result<ExprId, DeriveError> {
        let (sa, sb) = (self.s.pool.shape(a), self.s.pool.shape(b));
        if let Some((mut factors, p, q)) = self.scaled_kron(u, a) {
            let (x, y, keep) = if left { (q, b, p) } else { (a, p, q) };
            let h = self.s.hadamard(&[x, y], &[])?;
            factors.push(self.s.reduce(matdiff_expr::Reduce::Sum, h)?);
            factors.push(keep);
            return Ok(self.s.mul(&factors)?);
        }
        if matches!(self.s.pool.node(u), Node::Identity(_)) && sa.is_square() && sb.is_square() {
            let (other, keep) = if left { (b, sa.rows) } else { (a, sb.rows) };
            let t = self.s.reduce(matdiff_expr::Reduce::Trace, other)?;
            let eye = self.identity(keep)?;
            return Ok(self.s.mul(&[t, eye])?);
        }
        let (m, n, p, q) = (sa.rows, sa.cols, sb.rows, sb.cols);
        let (row_sum, mask, col_sum) = if left {
            let eye_m = self.identity(m)?;
            let ones_p = self.ones(p, true)?;
            let ones_mn = self.ones_matrix(m, n)?;
            let eye_n = self.identity(n)?;
            let ones_q = self.ones(q, false)?;
            (
                self.s.kron(eye_m, ones_p)?,
                self.s.kron(ones_mn, b)?,
                self.s.kron(eye_n, ones_q)?,
            )
        } else {
            let ones_m = self.ones(m, true)?;
            let eye_p = self.identity(p)?;
            let ones_pq = self.ones_matrix(p, q)?;
            let ones_n = self.ones(n, false)?;
            let eye_q = self.identity(q)?;
            (
                self.s.kron(ones_m, eye_p)?,
                self.s.kron(a, ones_pq)?,
                self.s.kron(ones_n, eye_q)?,
            )
        };
        let masked = self.s.hadamard(&[u, mask], &[])?;
        Ok(self.s.mul(&[row_sum, masked, col_sum])?)
    }

    /// `unvec(U, rows(X))`, the weight of `dX` in `tr(U'*vec(dX))`.
    pub(super) fn unvec_weight(&mut self, u: ExprId, x: ExprId) -> Result<ExprId, DeriveError> {
        let rows = self.s.pool.shape(x).rows;
        Ok(self.s.unvec(u, rows)?)
    }
}
