//! `x.^p` entry by entry, vectorised for `f64` (double-double `ln`, see `pow64.rs`; libm's
//! `pow` at zeros, infinities, NaN and results near overflow or the subnormal range) and for
//! `f32` (computed in `f64`, see [`math::pow_for_f32`]).

use super::{cast, cast_mut, isa, math, pow64, Isa};
use crate::Scalar;

/// `out[i] = x[i]^p[i]` for `f32` and `f64` slices (within 1 ulp of libm's `pow`, for `f32`
/// of its `f64` result rounded once); `false`, leaving `out` alone, for other types.
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
/// let mut out = [0.0f64; 3];
/// assert!(simd::pow(&[4.0f64, -2.0, 0.0], &[0.5, 3.0, -1.5], &mut out));
/// assert_eq!(out, [2.0, -8.0, f64::INFINITY]);
/// ```
pub fn pow<T: Scalar>(x: &[T], p: &[T], out: &mut [T]) -> bool {
    assert!(
        x.len() == out.len() && p.len() == out.len(),
        "simd::pow: slices of different lengths"
    );
    if let (Some(x), Some(p), Some(out)) = (
        cast::<T, f64>(x),
        cast::<T, f64>(p),
        cast_mut::<T, f64>(out),
    ) {
        pow64_on(isa(), x, p, out);
        return true;
    }
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

/// `f64`: the vector pass, then libm where it left an entry to it (a pass without branches to
/// find out, the second only when there is one). Without FMA, libm throughout.
pub(super) fn pow64_on(isa: Isa, x: &[f64], p: &[f64], out: &mut [f64]) {
    match isa {
        // SAFETY: `isa()` found the features the functions are compiled for.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { each64_avx512(x, p, out) },
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { each64_avx2(x, p, out) },
        Isa::Baseline => {
            for ((o, &v), &q) in out.iter_mut().zip(x).zip(p) {
                *o = v.powf(q);
            }
            return;
        }
    }
    let special = |((&v, &q), &y): ((&f64, &f64), &f64)| pow64::needs_libm(v, q, y);
    let entries = || x.iter().zip(p).zip(out.iter());
    if entries().fold(false, |any, e| any | special(e)) {
        for ((o, &v), &q) in out.iter_mut().zip(x).zip(p) {
            if pow64::needs_libm(v, q, *o) {
                *o = v.powf(q);
            }
        }
    }
}

#[inline(always)]
fn each64(x: &[f64], p: &[f64], out: &mut [f64]) {
    for ((o, &v), &q) in out.iter_mut().zip(x).zip(p) {
        *o = pow64::pow(v, q);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2,fma")]
fn each64_avx512(x: &[f64], p: &[f64], out: &mut [f64]) {
    each64(x, p, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn each64_avx2(x: &[f64], p: &[f64], out: &mut [f64]) {
    each64(x, p, out)
}
