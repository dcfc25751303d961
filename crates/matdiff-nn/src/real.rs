//! The floating-point types a network computes in: `f32` and `f64`.

use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A real floating-point type a [`Network`](crate::Network) can be built on: `f32` or `f64`.
///
/// `exp`, `ln`, `tanh` and `from_f64` come from [`matdiff_faer::Scalar`], the plans' number type.
///
/// ```
/// use matdiff_faer::Scalar;
/// use matdiff_nn::Real;
/// assert_eq!(<f32 as Scalar>::from_f64(0.5).to_f64(), 0.5);
/// assert_eq!(<f64 as Real>::DTYPE_NAME, "F64");
/// ```
pub trait Real:
    faer::traits::RealField
    + matdiff_faer::Scalar
    + sealed::Sealed
    + Copy
    + PartialOrd
    + Debug
    + Display
    + Default
    + Send
    + Sync
    + Sum
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + 'static
{
    /// The name of the type in the safetensors format (`F32` or `F64`).
    const DTYPE_NAME: &'static str;
    /// Size in bytes.
    const BYTES: usize;
    /// Zero.
    const ZERO: Self;
    /// One.
    const ONE: Self;
    /// The value as an `f64` (exact).
    fn to_f64(self) -> f64;
    /// Absolute value.
    fn abs(self) -> Self;
    /// The larger of two values.
    fn max(self, other: Self) -> Self;
    /// Whether neither infinite nor NaN.
    fn is_finite(self) -> bool;
    /// `out[i] = tanh(z[i])`, vectorised.
    fn tanh_slice(z: &[Self], out: &mut [Self]);
    /// `out[i] = exp(z[i])`, vectorised.
    fn exp_slice(z: &[Self], out: &mut [Self]);
    /// Appends the little-endian bytes.
    fn write_le(self, out: &mut Vec<u8>);
    /// Reads from exactly [`Real::BYTES`] little-endian bytes.
    fn read_le(bytes: &[u8]) -> Self;
}

macro_rules! impl_real {
    ($t:ident, $name:literal) => {
        impl Real for $t {
            const DTYPE_NAME: &'static str = $name;
            const BYTES: usize = std::mem::size_of::<$t>();
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            fn to_f64(self) -> f64 {
                self as f64
            }
            fn abs(self) -> Self {
                $t::abs(self)
            }
            fn max(self, other: Self) -> Self {
                $t::max(self, other)
            }
            fn is_finite(self) -> bool {
                $t::is_finite(self)
            }
            fn tanh_slice(z: &[Self], out: &mut [Self]) {
                matdiff_faer::simd::apply(matdiff_expr::Func::Tanh, 0, z, out)
            }
            fn exp_slice(z: &[Self], out: &mut [Self]) {
                matdiff_faer::simd::apply(matdiff_expr::Func::Exp, 0, z, out)
            }
            fn write_le(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            fn read_le(bytes: &[u8]) -> Self {
                let mut raw = [0u8; std::mem::size_of::<$t>()];
                raw.copy_from_slice(bytes);
                $t::from_le_bytes(raw)
            }
        }
    };
}

impl_real!(f32, "F32");
impl_real!(f64, "F64");
