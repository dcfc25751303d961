//! `x^p` in `f64` without library calls, as ARM's optimized-routines `pow` (musl's `pow.c`):
//! `ln x` in double-double (about 68 bits: a 128-entry table of `ln c` in two parts and a
//! polynomial of `ln(z/c)` whose `r^2/2` term is carried exactly), multiplied by `p` with the
//! product's rounding error kept, then `exp` of that double-double argument (a 128-entry table
//! of `2^(i/128)` in two parts and a polynomial). The error of the product, which a plain
//! `exp(p ln x)` would pay in `|p ln x|` ulps, stays below `2^-60` of the result.
//!
//! [`pow`] computes ordinary entries: finite non-zero `x` (subnormals included, negative with an
//! integer `p`), finite `p`, results of magnitude between `exp(-708)` and `exp(708)`. Every
//! other entry comes out NaN, and [`needs_libm`] tells the caller to take libm's `pow` there
//! (zeros, infinities, NaN, overflow and results near or below the subnormal range).

// Written as the reference publishes them.
#![allow(clippy::excessive_precision)]
// `x.max(lo).min(hi)` on purpose, as in `math.rs`: NaN becomes a number, selected away later.
#![allow(clippy::manual_clamp)]

use super::pow64_tables::{
    EXP2_BITS, EXP2_TAIL, INVC, LN2_HI, LN2_LO, LN2_N_HI, LN2_N_LO, LOGC, LOGC_TAIL,
};

/// The bits of `0x1.69555p-1`, where the table's subintervals start.
const OFF: u64 = 0x3fe6_9555_0000_0000;
/// `2^52 + 2^51`: adding it rounds an `f64` below `2^51` in magnitude to an integer.
const ROUND: f64 = 6_755_399_441_055_744.0;
/// Beyond this `|p ln x|` the result may overflow or be subnormal: the caller takes libm.
const EXP_ARG_MAX: f64 = 708.0;

/// `(hi, lo)` with `hi + lo = ln x` to about 68 bits, for the bits `ix` of a positive normal
/// number (or of a subnormal scaled by `2^52`, its exponent field lowered by 52).
#[inline(always)]
fn ln_dd(ix: u64) -> (f64, f64) {
    let tmp = ix.wrapping_sub(OFF);
    let i = (tmp >> 45) as usize & 127;
    let k = (tmp as i64) >> 52;
    let z = f64::from_bits(ix.wrapping_sub(tmp & (0xfff << 52)));
    let kd = k as f64;
    // 1/c has at most 9 bits and |z/c - 1| < 1/128: r is exact.
    let r = z.mul_add(INVC[i], -1.0);
    // k ln2_hi + ln c (exact) + r, the rounding error of the sum kept.
    let t1 = kd * LN2_HI + LOGC[i];
    let t2 = t1 + r;
    let lo1 = kd.mul_add(LN2_LO, LOGC_TAIL[i]);
    let lo2 = t1 - t2 + r;
    // + (-r^2/2), its product and sum errors kept.
    let ar = -0.5 * r;
    let ar2 = r * ar;
    let hi = t2 + ar2;
    let lo3 = ar.mul_add(r, -ar2);
    let lo4 = t2 - hi + ar2;
    // ln(1 + r) - r + r^2/2: the Taylor series from r^3 to r^10 (|r| < 2^-7, the rest below
    // 2^-78 of the result).
    let mut q: f64 = -1.0 / 10.0;
    for c in [
        1.0 / 9.0,
        -1.0 / 8.0,
        1.0 / 7.0,
        -1.0 / 6.0,
        1.0 / 5.0,
        -1.0 / 4.0,
        1.0 / 3.0,
    ] {
        q = q.mul_add(r, c);
    }
    let p = r * r * r * q;
    let lo = lo1 + lo2 + lo3 + lo4 + p;
    let y = hi + lo;
    (y, hi - y + lo)
}

/// `exp(x + tail)` for `|x| <= EXP_ARG_MAX` and `|tail|` below an ulp of `x`: `x + tail =
/// k ln2/128 + r`, `exp = 2^(k/128) exp(r)` with `2^(k/128) = scale (1 + table tail)`.
#[inline(always)]
fn exp_dd(x: f64, tail: f64) -> f64 {
    let shifted = x * (128.0 * std::f64::consts::LOG2_E) + ROUND;
    let ki = shifted.to_bits();
    let kd = shifted - ROUND;
    let r = kd.mul_add(-LN2_N_LO, kd.mul_add(-LN2_N_HI, x)) + tail;
    let i = ki as usize & 127;
    // The low bits of ROUND's are zero: `ki << 45` is `k << 45`, the power of two in the
    // exponent field and `i << 45` below it, which EXP2_BITS subtracts.
    let scale = f64::from_bits(EXP2_BITS[i].wrapping_add(ki << 45));
    // exp(r) - 1 by Taylor to r^6 (|r| <= ln2/256: the rest below 2^-71).
    let r2 = r * r;
    let c = (1.0 / 720.0f64).mul_add(r2, (1.0 / 120.0f64).mul_add(r, 1.0 / 24.0));
    let em1 = (r2 * r2).mul_add(c, r2.mul_add((1.0 / 6.0f64).mul_add(r, 0.5), r));
    scale.mul_add(EXP2_TAIL[i] + em1, scale)
}

/// `x^p` for the ordinary entries (see the module), NaN for the others. Compiled for
/// instruction sets with FMA only (`mul_add` is a library call elsewhere).
#[inline(always)]
pub(super) fn pow(x: f64, p: f64) -> f64 {
    let ax = x.abs();
    // Subnormals scaled by 2^52 into the normal range, the exponent field lowered by 52.
    let ix = if ax < f64::MIN_POSITIVE {
        (ax * 4_503_599_627_370_496.0)
            .to_bits()
            .wrapping_sub(52 << 52)
    } else {
        ax.to_bits()
    };
    let (hi, lo) = ln_dd(ix);
    let ehi = p * hi;
    let elo = p.mul_add(lo, p.mul_add(hi, -ehi));
    let y = exp_dd(ehi.max(-EXP_ARG_MAX).min(EXP_ARG_MAX), elo);
    let integer = p.fract() == 0.0;
    let odd = integer && (0.5 * p).fract() != 0.0;
    if ehi.abs() > EXP_ARG_MAX || ehi.is_nan() || (x < 0.0 && !integer) {
        f64::NAN
    } else if x < 0.0 && odd {
        -y
    } else {
        y
    }
}

/// Whether the entry `x^p` is not an ordinary one (see the module), given the value `y` that
/// [`pow`] computed for it.
#[inline(always)]
pub(super) fn needs_libm(x: f64, p: f64, y: f64) -> bool {
    // `|`, not `||`: no branches, so that the vector pass can fold it.
    y.is_nan() | (x == 0.0) | !x.is_finite() | !p.is_finite()
}
