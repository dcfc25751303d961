//! `x.^p` entry by entry, vectorised for `f32` (computed in `f64`, see [`math::pow_for_f32`]).
//! `f64` keeps libm's `powf`: `exp(p log x)` in `f64` loses up to `|p log x|` ulps, and a
//! `log` in double-double precision is not done here.

use super::{cast, cast_mut, isa, math, Isa};
use crate::Scalar;

/// `out[i] = x[i]^p[i]` for `f32` slices (a pow for each entry, as libm's `powf` rounded once
/// to `f32`: within 1 ulp of it); `false`, leaving `out` alone, for other types.
///
/// # Panics
/// When the slices differ in length.
///
/// ```
/// use matdiff_faer::simd;
/// let (x, p) = ([4.0f32, -2.0, 0.0], [0.5f32, 3.0, -1.5]);
/// let mut out = [0.0f32; 3];
/// assert!(simd::pow(&x, &p, &mut out));
/// assert_eq!(out, [2.0, -8.0, f32::INFINITY]);
/// assert!(!simd::pow(&[4.0f64], &[0.5], &mut [0.0]));
/// ```
pub fn pow<T: Scalar>(x: &[T], p: &[T], out: &mut [T]) -> bool {
    assert!(
        x.len() == out.len() && p.len() == out.len(),
        "simd::pow: slices of different lengths"
    );
    match (
        cast::<T, f32>(x),
        cast::<T, f32>(p),
        cast_mut::<T, f32>(out),
    ) {
        (Some(x), Some(p), Some(out)) => {
            pow_on(isa(), x, p, out);
            true
        }
        _ => false,
    }
}

pub(super) fn pow_on(isa: Isa, x: &[f32], p: &[f32], out: &mut [f32]) {
    match isa {
        // SAFETY: `isa()` found the features the functions are compiled for.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { each_avx512(x, p, out) },
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { each_avx2(x, p, out) },
        Isa::Baseline => each::<false>(x, p, out),
    }
}

#[inline(always)]
fn each<const FMA: bool>(x: &[f32], p: &[f32], out: &mut [f32]) {
    for ((o, &v), &q) in out.iter_mut().zip(x).zip(p) {
        *o = math::pow_for_f32::<FMA>(v as f64, q as f64) as f32;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2,fma")]
fn each_avx512(x: &[f32], p: &[f32], out: &mut [f32]) {
    each::<true>(x, p, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn each_avx2(x: &[f32], p: &[f32], out: &mut [f32]) {
    each::<true>(x, p, out)
}
