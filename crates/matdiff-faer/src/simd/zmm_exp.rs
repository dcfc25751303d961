//! The `f64` `exp` family in AVX-512 intrinsics (Tang's method, as NumPy's AVX512F `exp`):
//! `x = (k/16) ln2 + r` with `|r| <= ln2/32`, `exp(x) = 2^floor(k/16) 2^(j/16) exp(r)` with
//! `j = k mod 16`, `2^(j/16)` from a 16-entry table in two parts (`TOP` and the relative rest
//! `TAIL`) read with `vpermi2pd` (two registers each, no gathers), `exp(r) - 1` by its Taylor
//! series to `r^7` (remainder below `2^-59.5`), and the power of two applied by `vscalefpd`,
//! which rounds a subnormal result from the 53-bit one and overflows to infinity on its own.
//! NaN propagates through every step (the clamps keep it), so no lane needs a special case but
//! `expm1`'s sign of zero.
//!
//! Error of `exp`: the rounding of the last `fma`, 0.5 ulp, plus below 0.05 ulp from the
//! reduction, the polynomial and the table's rest (`r` is `x - k C1 - k C2` by two FMAs, `C1 +
//! C2 = ln2/16` to 106 bits).

// The constants as Python's `decimal` prints them (see `TOP`).
#![allow(clippy::excessive_precision, clippy::unreadable_literal)]

use std::arch::x86_64::*;

/// `2^52 + 2^51`: adding it rounds an `f64` below `2^51` in magnitude to an integer, left in the
/// low bits of the sum.
const ROUND: f64 = 6755399441055744.0;
/// `16/ln2`.
const INV_LN2_16: f64 = 23.083120654223414;
/// `ln2/16` rounded, and the rest.
const LN2_16_HI: f64 = 0.04332169878499658;
const LN2_16_LO: f64 = 1.4494042586539372e-18;

/// `2^(j/16)` rounded to `f64` (`TOP`) and `(2^(j/16) - TOP[j]) / TOP[j]` (`TAIL`), from
/// `decimal.Decimal(2) ** (Decimal(j) / 16)` at 60 digits.
static TOP: [f64; 16] = [
    1.0,
    1.0442737824274138,
    1.0905077326652577,
    1.1387886347566916,
    1.189207115002721,
    1.241857812073484,
    1.2968395546510096,
    1.3542555469368927,
    std::f64::consts::SQRT_2,
    1.4768261459394993,
    1.5422108254079407,
    1.6104903319492543,
    1.681792830507429,
    1.7562521603732995,
    1.8340080864093424,
    1.9152065613971474,
];
static TAIL: [f64; 16] = [
    0.0,
    8.189317638195515e-17,
    -2.7939114859515733e-17,
    7.826573258636076e-17,
    3.3484623336251524e-17,
    3.750854201303127e-17,
    1.9572585293112036e-17,
    5.68648095791174e-17,
    -6.835808657661922e-17,
    -2.3591094770850053e-17,
    5.1548301170786783e-17,
    1.5341410053603723e-17,
    4.875160526227062e-17,
    1.685487290628973e-17,
    1.790126907604513e-17,
    -5.545065618639427e-17,
];

/// Below this `exp` is 0 (`exp(-746) < 2^-1075`); above `EXP_HI` it overflows.
const EXP_LO: f64 = -746.0;
const EXP_HI: f64 = 710.0;
/// Below this `expm1` is -1 rounded (`exp(-40) < 2^-57`).
const EXPM1_LO: f64 = -40.0;
/// The sign bit.
const SIGN: i64 = i64::MIN;

#[inline(always)]
unsafe fn splat(v: f64) -> __m512d {
    _mm512_set1_pd(v)
}

/// The 16 entries of `table` at the low four bits of each lane of `j`.
#[inline(always)]
unsafe fn lookup(table: &[f64; 16], j: __m512i) -> __m512d {
    let lo = _mm512_loadu_pd(table.as_ptr());
    let hi = _mm512_loadu_pd(table.as_ptr().add(8));
    _mm512_permutex2var_pd(lo, j, hi)
}

/// `max(lo, min(hi, x))`, NaN kept (`vmaxpd` and `vminpd` return their second operand then).
#[inline(always)]
unsafe fn clamp(x: __m512d, lo: f64, hi: f64) -> __m512d {
    _mm512_max_pd(splat(lo), _mm512_min_pd(splat(hi), x))
}

/// The reduction of `x` (`|x| <= 800`), in parts: `(k/16, t, r_hi, small)` with `k` an integer,
/// `t = TOP[k mod 16]`, `r_hi = x - k C1` (exact: its bits lie between `2^-7` and `2^-58`) and
/// `small = TAIL[k mod 16] - k C2 + expm1(r) - r` (`r = r_hi - k C2`, `|r| <= ln2/32 + 2^-40`),
/// so that `exp(x) = 2^floor(k/16) t (1 + r_hi + small)` (to `2^-58`: the product of `TAIL` and
/// `expm1(r)` left out), the roundings of `small` (below `2^-64`) the only ones.
#[inline(always)]
unsafe fn reduce_parts(x: __m512d) -> (__m512d, __m512d, __m512d, __m512d) {
    let shifted = _mm512_fmadd_pd(x, splat(INV_LN2_16), splat(ROUND));
    let k = _mm512_sub_pd(shifted, splat(ROUND));
    let r_hi = _mm512_fnmadd_pd(k, splat(LN2_16_HI), x);
    let r = _mm512_fnmadd_pd(k, splat(LN2_16_LO), r_hi);
    // The low bits of ROUND's are zero: those of `shifted` are k's, two's complement.
    let j = _mm512_castpd_si512(shifted);
    let t = lookup(&TOP, j);
    let corr = _mm512_fnmadd_pd(k, splat(LN2_16_LO), lookup(&TAIL, j));
    let small = _mm512_fmadd_pd(_mm512_mul_pd(r, r), q(r), corr);
    (_mm512_mul_pd(k, splat(1.0 / 16.0)), t, r_hi, small)
}

/// `(expm1(r) - r) / r^2` by Taylor to `r^5` (`expm1` to `r^7`; for `|r| <= ln2/32 + 2^-40` the
/// rest is below `r^8/8! < 2^-59.5`).
#[inline(always)]
unsafe fn q(r: __m512d) -> __m512d {
    let mut q = splat(1.0 / 5040.0);
    for c in [1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5] {
        q = _mm512_fmadd_pd(q, r, splat(c));
    }
    q
}

/// `exp(x) = 2^floor(k/16) t (1 + s)` for `|x| <= 800`: `(k/16, t, s)` as [`reduce_parts`] with
/// `s = r + TAIL[k mod 16] + expm1(r) - r` rounded (`|s| < 0.022`; its three roundings cost
/// below 0.05 ulp of `exp`).
#[inline(always)]
unsafe fn reduce(x: __m512d) -> (__m512d, __m512d, __m512d) {
    let shifted = _mm512_fmadd_pd(x, splat(INV_LN2_16), splat(ROUND));
    let k = _mm512_sub_pd(shifted, splat(ROUND));
    let r = _mm512_fnmadd_pd(k, splat(LN2_16_HI), x);
    let r = _mm512_fnmadd_pd(k, splat(LN2_16_LO), r);
    let j = _mm512_castpd_si512(shifted);
    let t = lookup(&TOP, j);
    let tail = lookup(&TAIL, j);
    let s = _mm512_fmadd_pd(_mm512_mul_pd(r, r), q(r), _mm512_add_pd(r, tail));
    (_mm512_mul_pd(k, splat(1.0 / 16.0)), t, s)
}

/// `2^floor(k16) t (1 + r_hi + small) - 1` for `-1 <= k16 < 1000` (a reduction by
/// [`reduce_parts`]): with `T = 2^floor(k16) t` (exact), `T - 1` in two parts (exact for
/// `-1 <= floor(k16) <= 52`, a fast two-sum beyond, where `T > 1`) and `T r_hi` by an FMA, so
/// that two roundings are left: of `T r_hi + T small + lo` (below `2^-53 |T r_hi|`, a quarter
/// of an ulp of the result) and of the last sum.
#[inline(always)]
unsafe fn expm1_upper(k16: __m512d, t: __m512d, r_hi: __m512d, small: __m512d) -> __m512d {
    let big_t = _mm512_scalef_pd(t, k16);
    let hi = _mm512_sub_pd(big_t, splat(1.0));
    let lo = _mm512_sub_pd(_mm512_sub_pd(big_t, hi), splat(1.0));
    let v = _mm512_fmadd_pd(big_t, r_hi, _mm512_fmadd_pd(big_t, small, lo));
    _mm512_add_pd(hi, v)
}

/// `2^floor(k16) t (1 + r_hi + small)`: `exp` from [`reduce_parts`].
#[inline(always)]
unsafe fn exp_from_parts(k16: __m512d, t: __m512d, r_hi: __m512d, small: __m512d) -> __m512d {
    _mm512_scalef_pd(_mm512_fmadd_pd(t, _mm512_add_pd(r_hi, small), t), k16)
}

/// The bits of `y` with the sign of `x`.
#[inline(always)]
unsafe fn copysign(y: __m512d, x: __m512d) -> __m512d {
    _mm512_castsi512_pd(_mm512_ternarylogic_epi64::<0xca>(
        _mm512_set1_epi64(SIGN),
        _mm512_castpd_si512(x),
        _mm512_castpd_si512(y),
    ))
}

/// `exp(x)`; subnormal results rounded from the 53-bit one by `vscalefpd`.
#[inline(always)]
pub(crate) unsafe fn exp(x: __m512d) -> __m512d {
    let (k16, t, s) = reduce(clamp(x, EXP_LO, EXP_HI));
    _mm512_scalef_pd(_mm512_fmadd_pd(t, s, t), k16)
}

/// `exp(x) - 1`: [`expm1_upper`] where `-1 <= floor(k/16) < 1000` (`-0.72 < x < 693`), else
/// `exp(x) - 1` (below `-1/2`, the rounding of `exp(x) < 1/2` costs at most a quarter of an
/// ulp; above `2^1000` the `-1` vanishes and `vscalefpd` overflows to infinity).
#[inline(always)]
pub(crate) unsafe fn expm1(x: __m512d) -> __m512d {
    let (k16, t, r_hi, small) = reduce_parts(clamp(x, EXPM1_LO, EXP_HI));
    let upper = expm1_upper(k16, t, r_hi, small);
    let lower = _mm512_sub_pd(exp_from_parts(k16, t, r_hi, small), splat(1.0));
    let from = _mm512_cmp_pd_mask::<_CMP_GE_OQ>(k16, splat(-1.0));
    let inside = _mm512_mask_cmp_pd_mask::<_CMP_LT_OQ>(from, k16, splat(1000.0));
    // expm1 has the sign of x: this gives expm1(-0) = -0.
    copysign(_mm512_mask_blend_pd(inside, lower, upper), x)
}

/// `tanh(x) = sign(x) t/(t + 2)` with `t = expm1(2|x|)`; `tanh(20)` is 1 in `f64`.
#[inline(always)]
pub(crate) unsafe fn tanh(x: __m512d) -> __m512d {
    let a = _mm512_min_pd(splat(20.0), _mm512_abs_pd(x));
    let (k16, t, r_hi, small) = reduce_parts(_mm512_add_pd(a, a));
    let e = expm1_upper(k16, t, r_hi, small);
    copysign(_mm512_div_pd(e, _mm512_add_pd(e, splat(2.0))), x)
}

/// `exp(-|x|)`.
#[inline(always)]
unsafe fn exp_neg_abs(x: __m512d) -> __m512d {
    exp(_mm512_sub_pd(_mm512_setzero_pd(), _mm512_abs_pd(x)))
}

/// `tanh'(x) = 4e/(1 + e)^2` with `e = exp(-2|x|)`, `4e` rounded once where it is subnormal
/// (its power of two raised by 2 before `vscalefpd`).
#[inline(always)]
pub(crate) unsafe fn tanh_prime(x: __m512d) -> __m512d {
    let a = _mm512_abs_pd(x);
    // Below -750, 4e rounds to 0.
    let z = _mm512_max_pd(
        splat(-750.0),
        _mm512_sub_pd(_mm512_setzero_pd(), _mm512_add_pd(a, a)),
    );
    let (k16, t, s) = reduce(z);
    let e4 = _mm512_scalef_pd(_mm512_fmadd_pd(t, s, t), _mm512_add_pd(k16, splat(2.0)));
    let d = _mm512_fmadd_pd(splat(0.25), e4, splat(1.0));
    _mm512_div_pd(e4, _mm512_mul_pd(d, d))
}

/// `tanh''(x) = -2 tanh(x) tanh'(x)`.
#[inline(always)]
pub(crate) unsafe fn tanh_second(x: __m512d) -> __m512d {
    _mm512_mul_pd(_mm512_mul_pd(splat(-2.0), tanh(x)), tanh_prime(x))
}

/// The logistic function: `1/(1 + e)` for `x >= 0`, `e/(1 + e)` below, with `e = exp(-|x|)`.
#[inline(always)]
pub(crate) unsafe fn sigmoid(x: __m512d) -> __m512d {
    let e = exp_neg_abs(x);
    let d = _mm512_add_pd(splat(1.0), e);
    let negative = _mm512_cmp_pd_mask::<_CMP_LT_OQ>(x, _mm512_setzero_pd());
    _mm512_div_pd(_mm512_mask_blend_pd(negative, splat(1.0), e), d)
}

/// `sigmoid'(x) = e/(1 + e)^2` with `e = exp(-|x|)`.
#[inline(always)]
pub(crate) unsafe fn sigmoid_prime(x: __m512d) -> __m512d {
    let e = exp_neg_abs(x);
    // (1 + e)^2 = 1 + e (2 + e), rounded once.
    let d2 = _mm512_fmadd_pd(e, _mm512_add_pd(splat(2.0), e), splat(1.0));
    _mm512_div_pd(e, d2)
}

/// `sigmoid''(x) = sigmoid'(x) (1 - 2 sigmoid(x))`, the second factor `-sign(x) (1 - e)/(1 + e)`
/// with `1 - e = -expm1(-|x|)`: `exp(-|x|)` and `expm1(-|x|)` from one reduction.
#[inline(always)]
pub(crate) unsafe fn sigmoid_second(x: __m512d) -> __m512d {
    let na = _mm512_sub_pd(_mm512_setzero_pd(), _mm512_abs_pd(x));
    let (k16, t, r_hi, small) = reduce_parts(_mm512_max_pd(splat(EXP_LO), na));
    let e = exp_from_parts(k16, t, r_hi, small);
    let upper = expm1_upper(k16, t, r_hi, small);
    let lower = _mm512_sub_pd(e, splat(1.0));
    let below = _mm512_cmp_pd_mask::<_CMP_LT_OQ>(k16, splat(-1.0));
    let em = _mm512_mask_blend_pd(below, upper, lower);
    let d = _mm512_add_pd(splat(1.0), e);
    // r = em/d with the sign flipped where x is negative: r ^ (x & SIGN).
    let r = _mm512_castsi512_pd(_mm512_ternarylogic_epi64::<0x6a>(
        _mm512_set1_epi64(SIGN),
        _mm512_castpd_si512(x),
        _mm512_castpd_si512(_mm512_div_pd(em, d)),
    ));
    _mm512_mul_pd(_mm512_div_pd(e, _mm512_mul_pd(d, d)), r)
}
