//! The scalar types a plan evaluates in: `f32`, `f64` and `Complex<f64>` (for the complex step).

use std::fmt::Debug;
use std::ops::{Add, AddAssign, Div, Mul, MulAssign, Neg, Sub};

use faer::traits::ComplexField;
use matdiff_expr::Func;
use num_complex::Complex;

/// A number type a [`Plan`](crate::Plan) evaluates in.
///
/// Every function is the analytic extension of its real counterpart, so that the complex step
/// `Im f(x + ih) / h` is the derivative: `abs(z) = z * sign(Re z)`, `relu(z) = z` when
/// `Re z > 0`, transposes never conjugate.
///
/// ```
/// use matdiff_faer::Scalar;
/// use num_complex::Complex;
/// let h = 1e-20;
/// let z = Complex::new(0.3, h).sigmoid();
/// let s = 0.3f64.sigmoid();
/// assert!((z.im / h - s * (1.0 - s)).abs() < 1e-15);
/// ```
pub trait Scalar:
    ComplexField
    + Copy
    + Send
    + Sync
    + Debug
    + PartialEq
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + MulAssign
{
    /// Whether the type is complex.
    const IS_COMPLEX: bool;
    /// The machine epsilon of the real part.
    const EPSILON: f64;

    /// A real number.
    fn from_f64(x: f64) -> Self;
    /// The real part, as an `f64`.
    fn re(self) -> f64;
    /// The imaginary part, as an `f64` (zero for real types).
    fn im(self) -> f64;
    /// Whether both parts are finite.
    fn finite(self) -> bool;
    /// `exp`.
    fn exp(self) -> Self;
    /// The natural logarithm (principal branch).
    fn ln(self) -> Self;
    /// `ln(1 + x)`, accurate for small `x`.
    fn ln_1p(self) -> Self;
    /// `sin`.
    fn sin(self) -> Self;
    /// `cos`.
    fn cos(self) -> Self;
    /// `tan`.
    fn tan(self) -> Self;
    /// `tanh`.
    fn tanh(self) -> Self;
    /// The square root (principal branch).
    fn sqrt(self) -> Self;
    /// `asin` (principal branch).
    fn asin(self) -> Self;
    /// `atan` (principal branch).
    fn atan(self) -> Self;
    /// `sinh`.
    fn sinh(self) -> Self;
    /// `cosh`.
    fn cosh(self) -> Self;
    /// `exp(x) - 1`, accurate for small `x`.
    fn exp_m1(self) -> Self;
    /// Integer power.
    fn powi(self, k: i32) -> Self;
    /// Power with a general exponent (principal branch).
    fn pow(self, p: Self) -> Self;

    /// Zero.
    #[inline]
    fn zero() -> Self {
        Self::from_f64(0.0)
    }
    /// One.
    #[inline]
    fn one() -> Self {
        Self::from_f64(1.0)
    }
    /// The sign of the real part: -1, 0 or 1.
    #[inline]
    fn sign(self) -> Self {
        let r = self.re();
        Self::from_f64(if r > 0.0 {
            1.0
        } else if r < 0.0 {
            -1.0
        } else if r == 0.0 {
            0.0
        } else {
            f64::NAN
        })
    }
    /// The logistic function, stable for large arguments of either sign.
    #[inline]
    fn sigmoid(self) -> Self {
        if self.re() >= 0.0 {
            Self::one() / (Self::one() + (-self).exp())
        } else {
            let e = self.exp();
            e / (Self::one() + e)
        }
    }
    /// `log(1 + exp(x))`, stable for large arguments of either sign.
    #[inline]
    fn softplus(self) -> Self {
        if self.re() > 0.0 {
            self + (-self).exp().ln_1p()
        } else {
            self.exp().ln_1p()
        }
    }
    /// `exp(-|x|)` (by the sign of the real part) and whether `Re x >= 0`: the building block of
    /// derivatives of `sigmoid` and `tanh` without cancellation.
    #[inline]
    fn exp_neg_abs(self) -> (Self, bool) {
        if self.re() >= 0.0 {
            ((-self).exp(), true)
        } else {
            (self.exp(), false)
        }
    }
    /// `sigmoid'(x) = sigmoid(x) sigmoid(-x) = e / (1 + e)^2` with `e = exp(-|x|)`.
    #[inline]
    fn sigmoid_prime(self) -> Self {
        let (e, _) = self.exp_neg_abs();
        let d = Self::one() + e;
        e / (d * d)
    }
    /// `1 - 2 sigmoid(x)`, without cancellation.
    #[inline]
    fn one_minus_two_sigmoid(self) -> Self {
        let (e, positive) = self.exp_neg_abs();
        let r = (Self::one() - e) / (Self::one() + e);
        if positive {
            -r
        } else {
            r
        }
    }
    /// `tanh'(x) = 1 - tanh(x)^2 = 4e / (1 + e)^2` with `e = exp(-2|x|)`.
    #[inline]
    fn tanh_prime(self) -> Self {
        let (e, _) = (self + self).exp_neg_abs();
        let d = Self::one() + e;
        Self::from_f64(4.0) * e / (d * d)
    }
    /// `x` where `Re x > 0`, else 0 (NaN stays NaN).
    #[inline]
    fn relu(self) -> Self {
        if self.re() > 0.0 || self.re().is_nan() {
            self
        } else {
            Self::zero()
        }
    }
    /// `x * sign(Re x)`.
    #[inline]
    fn abs_analytic(self) -> Self {
        if self.re() < 0.0 {
            -self
        } else {
            self
        }
    }

    /// A built-in element-wise function or its first or second derivative.
    fn apply(self, func: Func, order: u8) -> Self {
        let one = Self::one();
        let two = Self::from_f64(2.0);
        match (func, order) {
            (Func::Exp, _) => self.exp(),
            (Func::Log, 0) => self.ln(),
            (Func::Log, 1) => one / self,
            (Func::Log, _) => -(one / (self * self)),
            (Func::Sin, 0) => self.sin(),
            (Func::Sin, 1) => self.cos(),
            (Func::Sin, _) | (Func::Cos, 1) => -self.sin(),
            (Func::Cos, 0) => self.cos(),
            (Func::Cos, _) => -self.cos(),
            (Func::Tan, 0) => self.tan(),
            (Func::Tan, 1) => {
                let t = self.tan();
                one + t * t
            }
            (Func::Tan, _) => {
                let t = self.tan();
                two * t * (one + t * t)
            }
            (Func::Tanh, 0) => self.tanh(),
            (Func::Tanh, 1) => self.tanh_prime(),
            (Func::Tanh, _) => -two * self.tanh() * self.tanh_prime(),
            (Func::Sigmoid, 0) => self.sigmoid(),
            (Func::Sigmoid, 1) | (Func::Softplus, 2) => self.sigmoid_prime(),
            (Func::Sigmoid, _) => self.sigmoid_prime() * self.one_minus_two_sigmoid(),
            (Func::Relu, 0) => self.relu(),
            (Func::Relu, 1) => Self::from_f64(if self.re() > 0.0 { 1.0 } else { 0.0 }),
            (Func::Relu, _) | (Func::Abs, 2..) => Self::zero(),
            (Func::Softplus, 0) => self.softplus(),
            (Func::Softplus, _) => self.sigmoid(),
            (Func::Sqrt, 0) => self.sqrt(),
            (Func::Sqrt, 1) => one / (two * self.sqrt()),
            (Func::Sqrt, _) => -(one / (Self::from_f64(4.0) * self * self.sqrt())),
            (Func::Abs, 0) => self.abs_analytic(),
            (Func::Abs, _) => self.sign(),
            (Func::Sign, 0) => self.sign(),
            (Func::Sign, _) => Self::zero(),
            (Func::Arcsin | Func::Arccos, 0) => {
                let a = self.asin();
                if func == Func::Arcsin {
                    a
                } else {
                    Self::from_f64(std::f64::consts::FRAC_PI_2) - a
                }
            }
            (Func::Arcsin | Func::Arccos, _) => {
                // 1 / sqrt(1 - x^2), and x / (1 - x^2)^(3/2); arccos has the opposite sign.
                let r = one - self * self;
                let d = if order == 1 {
                    one / r.sqrt()
                } else {
                    self / (r * r.sqrt())
                };
                if func == Func::Arcsin {
                    d
                } else {
                    -d
                }
            }
            (Func::Arctan, 0) => self.atan(),
            (Func::Arctan, 1) => one / (one + self * self),
            (Func::Arctan, _) => {
                let r = one + self * self;
                -(two * self) / (r * r)
            }
            (Func::Sinh, 0) | (Func::Cosh, 1) | (Func::Sinh, 2..) => self.sinh(),
            (Func::Cosh, 0) | (Func::Sinh, 1) | (Func::Cosh, 2..) => self.cosh(),
            (Func::Log1p, 0) => self.ln_1p(),
            (Func::Log1p, 1) => one / (one + self),
            (Func::Log1p, _) => {
                let r = one + self;
                -(one / (r * r))
            }
            (Func::Expm1, 0) => self.exp_m1(),
            (Func::Expm1, _) => self.exp(),
        }
    }
}

macro_rules! real_scalar {
    ($t:ty) => {
        impl Scalar for $t {
            const IS_COMPLEX: bool = false;
            const EPSILON: f64 = <$t>::EPSILON as f64;
            #[inline]
            fn from_f64(x: f64) -> Self {
                x as $t
            }
            #[inline]
            fn re(self) -> f64 {
                self as f64
            }
            #[inline]
            fn im(self) -> f64 {
                0.0
            }
            #[inline]
            fn finite(self) -> bool {
                self.is_finite()
            }
            #[inline]
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
            #[inline]
            fn ln(self) -> Self {
                <$t>::ln(self)
            }
            #[inline]
            fn ln_1p(self) -> Self {
                <$t>::ln_1p(self)
            }
            #[inline]
            fn sin(self) -> Self {
                <$t>::sin(self)
            }
            #[inline]
            fn cos(self) -> Self {
                <$t>::cos(self)
            }
            #[inline]
            fn tan(self) -> Self {
                <$t>::tan(self)
            }
            #[inline]
            fn tanh(self) -> Self {
                <$t>::tanh(self)
            }
            #[inline]
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            #[inline]
            fn asin(self) -> Self {
                <$t>::asin(self)
            }
            #[inline]
            fn atan(self) -> Self {
                <$t>::atan(self)
            }
            #[inline]
            fn sinh(self) -> Self {
                <$t>::sinh(self)
            }
            #[inline]
            fn cosh(self) -> Self {
                <$t>::cosh(self)
            }
            #[inline]
            fn exp_m1(self) -> Self {
                <$t>::exp_m1(self)
            }
            #[inline]
            fn powi(self, k: i32) -> Self {
                <$t>::powi(self, k)
            }
            #[inline]
            fn pow(self, p: Self) -> Self {
                <$t>::powf(self, p)
            }
        }
    };
}

real_scalar!(f64);
real_scalar!(f32);

impl Scalar for Complex<f64> {
    const IS_COMPLEX: bool = true;
    const EPSILON: f64 = f64::EPSILON;
    #[inline]
    fn from_f64(x: f64) -> Self {
        Complex::new(x, 0.0)
    }
    #[inline]
    fn re(self) -> f64 {
        self.re
    }
    #[inline]
    fn im(self) -> f64 {
        self.im
    }
    #[inline]
    fn finite(self) -> bool {
        self.re.is_finite() && self.im.is_finite()
    }
    #[inline]
    fn exp(self) -> Self {
        Complex::exp(self)
    }
    #[inline]
    fn ln(self) -> Self {
        Complex::ln(self)
    }
    #[inline]
    fn ln_1p(self) -> Self {
        // ln(1 + z) = ln|1 + z| + i arg(1 + z), with |1 + z|^2 - 1 = 2 Re z + |z|^2 formed
        // without cancellation.
        let (x, y) = (self.re, self.im);
        let re = 0.5 * (2.0 * x + x * x + y * y).ln_1p();
        Complex::new(re, y.atan2(1.0 + x))
    }
    #[inline]
    fn sin(self) -> Self {
        Complex::sin(self)
    }
    #[inline]
    fn cos(self) -> Self {
        Complex::cos(self)
    }
    #[inline]
    fn tan(self) -> Self {
        Complex::tan(self)
    }
    #[inline]
    fn tanh(self) -> Self {
        Complex::tanh(self)
    }
    #[inline]
    fn sqrt(self) -> Self {
        Complex::sqrt(self)
    }
    #[inline]
    fn asin(self) -> Self {
        // asin z = atan(z / sqrt(1 - z^2)) for |Re z| < 1 (the domain), with the atan below:
        // no step of it loses a small imaginary part.
        let one = Complex::new(1.0, 0.0);
        Scalar::atan(self / Complex::sqrt(one - self * self))
    }
    #[inline]
    fn atan(self) -> Self {
        // atan(x + iy) = atan2(2x, 1 - x^2 - y^2)/2 + i ln(((1 + y)^2 + x^2)/((1 - y)^2 + x^2))/4,
        // the log as ln_1p(4y / ((1 - y)^2 + x^2)): exact for a small y.
        let (x, y) = (self.re, self.im);
        let re = 0.5 * (2.0 * x).atan2(1.0 - x * x - y * y);
        let im = 0.25 * (4.0 * y / ((1.0 - y) * (1.0 - y) + x * x)).ln_1p();
        Complex::new(re, im)
    }
    #[inline]
    fn sinh(self) -> Self {
        Complex::new(
            self.re.sinh() * self.im.cos(),
            self.re.cosh() * self.im.sin(),
        )
    }
    #[inline]
    fn cosh(self) -> Self {
        Complex::new(
            self.re.cosh() * self.im.cos(),
            self.re.sinh() * self.im.sin(),
        )
    }
    #[inline]
    fn exp_m1(self) -> Self {
        // exp(x)(cos y + i sin y) - 1, the real part as expm1(x) cos y - 2 sin^2(y/2).
        let (x, y) = (self.re, self.im);
        let half = (0.5 * y).sin();
        Complex::new(x.exp_m1() * y.cos() - 2.0 * half * half, x.exp() * y.sin())
    }
    #[inline]
    fn powi(self, k: i32) -> Self {
        Complex::powi(&self, k)
    }
    #[inline]
    fn pow(self, p: Self) -> Self {
        Complex::powc(self, p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_for_large_arguments() {
        assert_eq!(1000.0f64.sigmoid(), 1.0);
        assert!((-1000.0f64).sigmoid() >= 0.0);
        assert!(((-745.0f64).sigmoid() - (-745.0f64).exp()).abs() < 1e-300);
        assert_eq!(1000.0f64.softplus(), 1000.0);
        assert!(((-50.0f64).softplus() - (-50.0f64).exp()).abs() < 1e-30);
        let z = Complex::new(800.0, 1e-20).softplus();
        assert_eq!(z.re, 800.0);
        assert!((z.im / 1e-20 - 1.0).abs() < 1e-15);
    }

    /// The complex step of every built-in function equals its first derivative (as the real
    /// type computes it), at points inside each domain.
    #[test]
    fn the_complex_step_of_each_function_is_its_derivative() {
        let h = 1e-20;
        for f in Func::ALL {
            if matches!(f, Func::Relu | Func::Abs) {
                continue; // not analytic at 0; checked away from 0 below
            }
            for x in [-0.9, -0.3, 0.05, 0.4, 0.95, 2.5] {
                let outside = match f {
                    Func::Log | Func::Sqrt => x <= 0.0,
                    Func::Arcsin | Func::Arccos => f64::abs(x) >= 1.0,
                    _ => false,
                };
                if outside {
                    continue;
                }
                let step = Complex::new(x, h).apply(f, 0);
                let d = x.apply(f, 1);
                let value = x.apply(f, 0);
                assert!(
                    (step.im / h - d).abs() <= 1e-14 * d.abs().max(1.0),
                    "{f:?}'({x}): complex step {} against {d}",
                    step.im / h
                );
                assert!(
                    (step.re - value).abs() <= 1e-15 * value.abs().max(1.0),
                    "{f:?}({x}): {} against {value}",
                    step.re
                );
                // The second derivative against a central difference of the first.
                let e = 1e-5;
                let fd = (((x + e).apply(f, 1)) - ((x - e).apply(f, 1))) / (2.0 * e);
                let d2 = x.apply(f, 2);
                assert!(
                    (fd - d2).abs() <= 1e-6 * d2.abs().max(1.0),
                    "{f:?}''({x}): {d2} against {fd}"
                );
            }
        }
        for f in [Func::Relu, Func::Abs, Func::Sign] {
            let z = Complex::new(-0.5, h).apply(f, 0);
            assert_eq!(z.im / h, (-0.5f64).apply(f, 1));
        }
    }

    #[test]
    fn new_functions_are_accurate_where_the_naive_forms_are_not() {
        assert_eq!(1e-20f64.apply(Func::Log1p, 0), 1e-20);
        assert_eq!(1e-20f64.apply(Func::Expm1, 0), 1e-20);
        let z = Complex::new(1e-18, 1e-20).apply(Func::Expm1, 0);
        assert!((z.re - 1e-18).abs() < 1e-32 && (z.im - 1e-20).abs() < 1e-34);
        let a = Complex::new(0.999, 1e-20).apply(Func::Arcsin, 0);
        assert!((a.re - 0.999f64.asin()).abs() < 1e-15);
        assert!((a.im / 1e-20 - 1.0 / (1.0 - 0.999f64 * 0.999).sqrt()).abs() < 1e-11);
    }

    #[test]
    fn complex_ln_1p_is_accurate_for_small_arguments() {
        let z = Complex::new(1e-18, 1e-20).ln_1p();
        assert!((z.re - 1e-18).abs() < 1e-32);
        assert!((z.im - 1e-20).abs() < 1e-34);
    }
}
