//! Derivatives of the element-wise functions `sign arcsin arccos arctan sinh cosh log1p expm1`
//! written out in the language (rules F5-F12), as the simplifier writes `exp' = exp`.

use matdiff_expr::{ExprError, ExprId, Fun, Func, Node};

use crate::rules::RuleId;
use crate::simplify::Simplifier;

impl Simplifier<'_> {
    /// `f'(x)` (or `f''(x)`) of one of these functions in closed form, recording its rule; `None`
    /// for the other functions and orders.
    pub(crate) fn written_derivative(
        &mut self,
        f: Func,
        order: u8,
        x: ExprId,
    ) -> Result<Option<ExprId>, ExprError> {
        if order == 0 {
            return Ok(None);
        }
        let d = match (f, order) {
            (Func::Sign, _) => {
                let shape = self.pool.shape(x);
                (self.zero(shape)?, RuleId::F5)
            }
            (Func::Arcsin, 1) => (self.one_over_root_of_one_minus_square(x, 1.0)?, RuleId::F6),
            (Func::Arccos, 1) => (self.one_over_root_of_one_minus_square(x, -1.0)?, RuleId::F7),
            (Func::Arctan, 1) => {
                let two = self.pool.num(2.0);
                let square = self.hpow(x, two)?;
                let one = self.pool.num(1.0);
                let den = self.add(&[one, square])?;
                (self.hdiv(one, den)?, RuleId::F8)
            }
            (Func::Sinh, 1) | (Func::Cosh, 2) => (self.call(Func::Cosh, x)?, RuleId::F9),
            (Func::Cosh, 1) | (Func::Sinh, 2) => (self.call(Func::Sinh, x)?, RuleId::F10),
            (Func::Log1p, 1) => {
                let one = self.pool.num(1.0);
                let den = self.add(&[one, x])?;
                (self.hdiv(one, den)?, RuleId::F11)
            }
            (Func::Expm1, _) => (self.call(Func::Exp, x)?, RuleId::F12),
            _ => return Ok(None),
        };
        self.applied.push(d.1);
        Ok(Some(d.0))
    }

    /// `sign ./ sqrt(1 - x.^2)`.
    fn one_over_root_of_one_minus_square(
        &mut self,
        x: ExprId,
        sign: f64,
    ) -> Result<ExprId, ExprError> {
        let two = self.pool.num(2.0);
        let square = self.hpow(x, two)?;
        let minus = self.neg(square)?;
        let one = self.pool.num(1.0);
        let rest = self.add(&[one, minus])?;
        let root = self.apply(Fun::Builtin(Func::Sqrt), 0, rest)?;
        let num = self.pool.num(sign);
        self.hdiv(num, root)
    }

    fn call(&mut self, f: Func, x: ExprId) -> Result<ExprId, ExprError> {
        self.pool.intern(Node::Apply {
            fun: Fun::Builtin(f),
            order: 0,
            arg: x,
        })
    }
}
