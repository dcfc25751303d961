//! `x.^p` entry by entry, vectorised for `f64` (double-double `ln`, see `pow64.rs`; libm's
//! `pow` at zeros, infinities, NaN and results near overflow or the subnormal range) and for
//! `f32` (in `f64` lanes with short polynomials of `f32` accuracy, see [`pow32`]).

use super::math::mad;
use super::{cast, cast_mut, isa, math32, pow64, Isa};
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
        *o = pow32::<FMA>(v, q);
    }
}

/// `x^p` for `f32` as `2^(p log2|x|)` in `f64`, to the accuracy `f32` needs: `|x| = 2^e m` by the
/// `f32` bits (`m` in `[sqrt(1/2), sqrt(2))`), `log2 m = 2 log2(e) atanh(s)` with
/// `s = (m - 1)/(m + 1)` by the series to `s^11` (relative error below `2^-34`), `t = p (e +
/// log2 m)` (its error below `2^-27` for `|t| <= 150`, beyond which the result is 0 or
/// infinite), `t = k + r` with `|r| <= 1/2` and `2^r` by a polynomial of degree 6 (minimax,
/// relative error `2^-28.9`), scaled by `2^k` in `f64` and rounded once to `f32` (subnormal
/// results too). Special values as libm: `x^0 = 1^p = (-1)^±inf = 1`, NaN for a negative finite
/// `x` and a finite non-integer `p`, the sign of `x` for an odd integer `p`, and through
/// `log2 0 = -inf`, `log2 inf = inf` the zeros and infinities.
#[inline(always)]
// `t.max(lo).min(hi)` on purpose, as in `math.rs`: NaN becomes a number, selected away later.
#[allow(clippy::manual_clamp)]
pub(super) fn pow32<const FMA: bool>(x: f32, p: f32) -> f32 {
    const ROUND: f64 = 6_755_399_441_055_744.0;
    let a = x.abs();
    let subnormal = a < f32::MIN_POSITIVE;
    let (e, m) = math32::split(if subnormal { a * 33_554_432.0 } else { a });
    let e = if subnormal { e - 25 } else { e };
    let m = f64::from(m);
    let s = (m - 1.0) / (m + 1.0);
    let z = s * s;
    let mut q = 2.0 / 11.0 * std::f64::consts::LOG2_E;
    for c in [9.0, 7.0, 5.0, 3.0, 1.0] {
        q = mad::<FMA>(q, z, 2.0 / c * std::f64::consts::LOG2_E);
    }
    let l = mad::<FMA>(s, q, f64::from(e));
    let l = if a > 0.0 && a < f32::INFINITY {
        l
    } else if a == 0.0 {
        f64::NEG_INFINITY
    } else {
        f64::from(a)
    };
    let t = f64::from(p) * l;
    let tc = t.max(-200.0).min(200.0);
    let shifted = tc + ROUND;
    let kf = shifted - ROUND;
    let k = shifted.to_bits().wrapping_sub(ROUND.to_bits()) as i64;
    let r = tc - kf;
    let mut e2 = 1.535_361_200_103_350_2e-4;
    for c in [
        1.339_888_406_427_088_8e-3,
        9.618_436_432_727_124e-3,
        5.550_332_437_064_258e-2,
        2.402_264_792_155_121e-1,
        6.931_472_028_820_742e-1,
    ] {
        e2 = mad::<FMA>(e2, r, c);
    }
    let y = mad::<FMA>(e2, r, 1.0) * f64::from_bits((k.wrapping_add(1023) as u64) << 52);
    let y = if t.is_nan() { t } else { y } as f32;
    let integer = p.fract() == 0.0;
    let odd = integer && (0.5 * p).fract() != 0.0;
    if p == 0.0 || x == 1.0 || (x == -1.0 && p.is_infinite()) {
        1.0
    } else if x < 0.0 && x.is_finite() && p.is_finite() && !integer {
        f32::NAN
    } else if x.is_sign_negative() && odd {
        -y
    } else {
        y
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

/// `f64`: the vector pass, which also tells whether it left an entry to libm (without
/// branches, in the same loop), then libm there, the second pass only when there is one.
/// Without FMA, libm throughout.
pub(super) fn pow64_on(isa: Isa, x: &[f64], p: &[f64], out: &mut [f64]) {
    let special = match isa {
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
    };
    if special {
        for ((o, &v), &q) in out.iter_mut().zip(x).zip(p) {
            if pow64::needs_libm(v, q, *o) {
                *o = v.powf(q);
            }
        }
    }
}

/// The vector pass; whether an entry needs libm.
#[inline(always)]
fn each64(x: &[f64], p: &[f64], out: &mut [f64]) -> bool {
    let mut special = false;
    for ((o, &v), &q) in out.iter_mut().zip(x).zip(p) {
        let y = pow64::pow(v, q);
        *o = y;
        special |= pow64::needs_libm(v, q, y);
    }
    special
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2,fma")]
fn each64_avx512(x: &[f64], p: &[f64], out: &mut [f64]) -> bool {
    each64(x, p, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn each64_avx2(x: &[f64], p: &[f64], out: &mut [f64]) -> bool {
    each64(x, p, out)
}
