//! `f64` `ln` and `ln_1p` with AVX-512 intrinsics, eight lanes, no division: the tables are
//! read by in-register permutes (`vpermt2pd`), not gathers.
//!
//! `x = 2^k m` with `m` in `[0.75, 1.5)` (`getexp`, `getmant`, subnormals included), `c` is
//! `1/m` (`rcp14`, 14 bits) rounded to a multiple of `1/16`: one of the eleven values `11/16`
//! to `21/16`, and `c = 1` for `m` within about `1/32` of 1. `r = m c - 1` is exact in one
//! FMA (a multiple of `2^-57` below `2^-4` in magnitude) and `|r| <= 1.5/32 + 2^-14 < 0.047`.
//! Then `ln x = k ln2 + ln(1/c) + ln(1 + r)`, `ln(1/c)` from a 16-entry table indexed by
//! `16 c mod 16` as `hi + lo`, `hi` a multiple of `2^-43` so that `k LN2_HI + hi` is exact,
//! and `ln(1 + r) = r + r^2 P(r)` with `P` the Taylor series to `r^12`. The remainder, below
//! `|r|^13/13`, is under 0.01 ulp of the result: at most `2^-61` where `|r|` reaches 0.047 (`m`
//! near 1.5 or 0.75, `|ln x| >= 0.28`), `2^-68` where `|ln x|` is as small as 0.03 (`m` near
//! `1 ± 1/32`), and `|r|^12/13 < 2^-63` of `r` when `c = 1`. The sum: `w = (k LN2_HI + hi) + r` with its rounding error kept (two-sum),
//! the small terms added to that error, `w` last. Near 1 (`c = 1`, `k = 0`) this is
//! `r + r^2 P(r)` with `r = x - 1` exact.
//!
//! `ln_1p(x)`: `u = 1 + x` rounded and its rounding error `d` (two-sum, exact), then
//! `ln(1 + x) = ln(u) + ln(1 + d/u)`, with `d/u = d c 2^-k / (1 + r)` taken as
//! `d c 2^-k (1 - r)`: `|d/u| <= 2^-53`, so the dropped `r^2` term is far below an ulp.
//!
//! Special values by `fixupimm` on `x` (on `u` for `ln_1p`, whose zeros are then `x`).

use std::arch::x86_64::*;

/// `ln 2` split so that `k * LN2_HI` is exact for `|k| < 2^11` (fdlibm's).
const LN2_HI: f64 = 6.931_471_803_691_238e-1;
const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;

/// `-ln(c)` for `c = j/16`, at index `j mod 16` (`j` from 11 to 21; the others unused),
/// rounded to a multiple of `2^-43`; [`NEG_LN_C_LO`] is the rest (below `2^-44`).
static NEG_LN_C_HI: [f64; 16] = [
    0.0,
    -0.06062462181648698,
    -0.11778303565643,
    -0.17185025692663203,
    -0.22314355131425145,
    -0.2719337154836694,
    0.0,
    0.0,
    0.0,
    0.0,
    0.0,
    0.3746934494414518,
    0.28768207245173016,
    0.20763936477828793,
    0.13353139262449076,
    0.0645385211375924,
];

static NEG_LN_C_LO: [f64; 16] = [
    0.0,
    5.213620639136504e-14,
    4.654729747598445e-14,
    -2.7194441649495324e-14,
    4.169796584527195e-14,
    2.7643769993528702e-14,
    0.0,
    0.0,
    0.0,
    0.0,
    0.0,
    -4.1082176222359656e-14,
    5.076326383153408e-14,
    -4.3425422595242564e-14,
    3.1859736349078334e-14,
    -2.1225608044809997e-14,
];

/// `P(r)` with `ln(1 + r) = r + r^2 P(r) + O(r^13)`: `-1/2 + r/3 - ... - r^10/12`, highest
/// first.
const P: [f64; 11] = [
    -1.0 / 12.0,
    1.0 / 11.0,
    -1.0 / 10.0,
    1.0 / 9.0,
    -1.0 / 8.0,
    1.0 / 7.0,
    -1.0 / 6.0,
    1.0 / 5.0,
    -1.0 / 4.0,
    1.0 / 3.0,
    -0.5,
];

/// `fixupimm`'s answers by class of its input (a nibble each: QNaN, SNaN, ±0, +1, -inf, +inf,
/// negative, positive): NaN stays NaN (quieted), `±0 -> -inf`, `+1 -> +0`, `-inf` and
/// negative numbers `-> NaN`, `+inf -> +inf`, positive numbers keep the computed value.
const LN_SPECIAL: i64 = 0x0353_8422;
/// As [`LN_SPECIAL`] for `u = 1 + x`, but `u = +1` keeps the computed value (it is `x`'s
/// rounding error, or `x` itself when `x` is below `2^-53`).
const LN_1P_SPECIAL: i64 = 0x0353_0422;
/// `x = ±0` gives `x` itself, every other class the computed value.
const ZERO_IS_X: i64 = 0x0000_0100;

/// The 16-entry table `t` at the index `idx mod 16` of each lane, in registers.
#[inline]
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2,fma")]
fn lookup(t: &[f64; 16], idx: __m512i) -> __m512d {
    // SAFETY: `t` has sixteen entries: two loads of eight.
    let (lo, hi) = unsafe {
        (
            _mm512_loadu_pd(t.as_ptr()),
            _mm512_loadu_pd(t.as_ptr().add(8)),
        )
    };
    _mm512_permutex2var_pd(lo, idx, hi)
}

/// `ln u` for a positive finite `u` (garbage elsewhere) as `w + lo`, and the `c`, `r` and `k`
/// of its reduction (`u = 2^k m`, `r = m c - 1`).
#[inline]
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2,fma")]
fn ln_parts(u: __m512d) -> (__m512d, __m512d, __m512d, __m512d, __m512d) {
    let one = _mm512_set1_pd(1.0);
    let m = _mm512_getmant_pd::<_MM_MANT_NORM_P75_1P5, _MM_MANT_SIGN_ZERO>(u);
    // getexp is floor(log2 u); m below 1 was halved once more.
    let e = _mm512_getexp_pd(u);
    let k = _mm512_mask_add_pd(e, _mm512_cmp_pd_mask::<_CMP_LT_OQ>(m, one), e, one);
    // 1/m to 14 bits, rounded to four fractional bits (nearest).
    let c = _mm512_roundscale_pd::<{ (4 << 4) | _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
        _mm512_rcp14_pd(m),
    );
    // 2^52 + 16 c: the integer 16 c in the low bits, of which permutex2var reads four.
    let idx = _mm512_castpd_si512(_mm512_fmadd_pd(
        c,
        _mm512_set1_pd(16.0),
        _mm512_set1_pd(4_503_599_627_370_496.0),
    ));
    let r = _mm512_fmsub_pd(m, c, one);
    let hi = _mm512_fmadd_pd(k, _mm512_set1_pd(LN2_HI), lookup(&NEG_LN_C_HI, idx));
    let tail = _mm512_fmadd_pd(k, _mm512_set1_pd(LN2_LO), lookup(&NEG_LN_C_LO, idx));
    // w = hi + r and its rounding error (|hi| >= |r| unless hi = 0).
    let w = _mm512_add_pd(hi, r);
    let err = _mm512_add_pd(_mm512_sub_pd(hi, w), r);
    let mut p = _mm512_set1_pd(P[0]);
    for &coef in &P[1..] {
        p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(coef));
    }
    let r2 = _mm512_mul_pd(r, r);
    let lo = _mm512_fmadd_pd(r2, p, _mm512_add_pd(err, tail));
    (w, lo, c, r, k)
}

/// `ln x`, eight lanes (see the module's documentation).
#[inline]
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2,fma")]
pub(crate) fn ln(x: __m512d) -> __m512d {
    let (w, lo, _, _, _) = ln_parts(x);
    let y = _mm512_add_pd(w, lo);
    _mm512_fixupimm_pd::<0>(y, x, _mm512_set1_epi64(LN_SPECIAL))
}

/// `ln(1 + x)`, eight lanes (see the module's documentation).
#[inline]
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2,fma")]
pub(crate) fn ln_1p(x: __m512d) -> __m512d {
    let one = _mm512_set1_pd(1.0);
    let u = _mm512_add_pd(one, x);
    // d = (1 + x) - u exactly (two-sum).
    let b = _mm512_sub_pd(u, one);
    let d = _mm512_add_pd(_mm512_sub_pd(one, _mm512_sub_pd(u, b)), _mm512_sub_pd(x, b));
    let (w, lo, c, r, k) = ln_parts(u);
    // d/u = d c 2^-k / (1 + r) ~ q (1 - r).
    let q = _mm512_scalef_pd(_mm512_mul_pd(d, c), _mm512_sub_pd(_mm512_setzero_pd(), k));
    let corr = _mm512_fnmadd_pd(q, r, q);
    let y = _mm512_add_pd(w, _mm512_add_pd(lo, corr));
    let y = _mm512_fixupimm_pd::<0>(y, u, _mm512_set1_epi64(LN_1P_SPECIAL));
    _mm512_fixupimm_pd::<0>(y, x, _mm512_set1_epi64(ZERO_IS_X))
}
