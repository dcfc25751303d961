//! Native `f32` element functions, as many lanes as `f32` has: `exp` by a range reduction and
//! Cephes' `expf` polynomial, `expm1` by the same reduction and a polynomial of its own, `ln`
//! and `ln_1p` by musl's `logf` reduction and a polynomial in `m - 1` without a division,
//! `tanh` as Cephes' `tanhf`, and `softplus` and the logistic functions on them; `sin` and `cos`
//! by a Cody-Waite reduction in `f32` parts with FMA (without FMA as musl's `sinf` and `cosf`, in
//! `f64` inside). The others go through `math.rs` in `f64`.

// The constants are written as Cephes publishes them.
#![allow(clippy::excessive_precision)]
// `x.max(lo).min(hi)` on purpose, as in `math.rs`: NaN becomes a number, selected away later.
#![allow(clippy::manual_clamp)]

/// `2^23 + 2^22`: adding it rounds an `f32` below `2^22` in magnitude to an integer.
const ROUND: f32 = 12_582_912.0;
/// `ln 2` split so that `k * LN2_HI` is exact for `|k| < 2^9`.
const LN2_HI: f32 = 0.693_359_375;
const LN2_LO: f32 = -2.121_944_4e-4;
/// Above this `exp` overflows.
const EXP_MAX: f32 = 88.722_839;
/// Below this `exp` rounds to zero.
const EXP_MIN: f32 = -103.972_08;

#[inline(always)]
fn mad<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// `2^k` for `-126 <= k <= 127`.
#[inline(always)]
fn pow2(k: i32) -> f32 {
    f32::from_bits((k.wrapping_add(127) as u32) << 23)
}

/// `exp(x) = 2^k e` for `x` in `exp`'s clamped range: `k` the nearest integer to `x/ln2`, `e` in
/// `[sqrt(1/2), sqrt(2)]` from the reduced argument's polynomial.
#[inline(always)]
fn exp_parts<const FMA: bool>(x: f32) -> (i32, f32) {
    let shifted = x * std::f32::consts::LOG2_E + ROUND;
    let kf = shifted - ROUND;
    let k = shifted.to_bits().wrapping_sub(ROUND.to_bits()) as i32;
    let r = mad::<FMA>(-kf, LN2_LO, mad::<FMA>(-kf, LN2_HI, x));
    let mut p = 1.987_569_2e-4;
    for c in [
        1.398_199_9e-3,
        8.333_452e-3,
        4.166_579_6e-2,
        1.666_666_5e-1,
        5.000_000_1e-1,
    ] {
        p = mad::<FMA>(p, r, c);
    }
    (k, mad::<FMA>(p, r * r, r) + 1.0)
}

/// `exp(x)`, subnormal results included (rounded once).
#[inline(always)]
pub(crate) fn exp<const FMA: bool>(x: f32) -> f32 {
    let (k, e) = exp_parts::<FMA>(x.max(EXP_MIN - 1.0).min(EXP_MAX + 1.0));
    // 2^k as two factors, each a normal number, so that a subnormal result is rounded once.
    let half = k >> 1;
    let y = (e * pow2(half)) * pow2(k - half);
    if x.is_nan() {
        x
    } else if x > EXP_MAX {
        f32::INFINITY
    } else if x < EXP_MIN {
        0.0
    } else {
        y
    }
}

/// The logistic function: `1/(1 + e)` or `e/(1 + e)` with `e = exp(-|x|)`.
#[inline(always)]
pub(crate) fn sigmoid<const FMA: bool>(x: f32) -> f32 {
    let e = exp::<FMA>(-x.abs());
    let d = 1.0 + e;
    if x >= 0.0 {
        1.0 / d
    } else if x < 0.0 {
        e / d
    } else {
        x
    }
}

/// `sigmoid'(x) = e/(1 + e)^2` with `e = exp(-|x|)`.
#[inline(always)]
pub(crate) fn sigmoid_prime<const FMA: bool>(x: f32) -> f32 {
    let e = exp::<FMA>(-x.abs());
    let d = 1.0 + e;
    e / (d * d)
}

/// `tanh'(x) = 4e/(1 + e)^2` with `e = exp(-2|x|)`.
#[inline(always)]
pub(crate) fn tanh_prime<const FMA: bool>(x: f32) -> f32 {
    let e = exp::<FMA>(-2.0 * x.abs());
    let d = 1.0 + e;
    4.0 * e / (d * d)
}

/// `(k, r)` with `x = k ln2 + r`, `|r| <= ln2/2`, for `|x| <= 105`.
#[inline(always)]
fn reduce<const FMA: bool>(x: f32) -> (i32, f32) {
    let shifted = x * std::f32::consts::LOG2_E + ROUND;
    let kf = shifted - ROUND;
    let k = shifted.to_bits().wrapping_sub(ROUND.to_bits()) as i32;
    (k, mad::<FMA>(-kf, LN2_LO, mad::<FMA>(-kf, LN2_HI, x)))
}

/// `q(r) = (expm1(r) - r)/r^2` for `|r| <= ln2/2`, a polynomial of degree 5 fitted to
/// `expm1`'s relative error (below `2^-28`; Lawson's iteration, coefficients rounded to `f32`).
#[inline(always)]
fn expm1_q<const FMA: bool>(r: f32) -> f32 {
    let mut q = 1.984_590_05e-4;
    for c in [
        1.394_091_52e-3,
        8.333_389_65e-3,
        4.166_635_87e-2,
        1.666_666_57e-1,
        0.5,
    ] {
        q = mad::<FMA>(q, r, c);
    }
    q
}

/// `exp(x) - 1`, accurate for small `x`; `-1` below `-20` (where `exp(x)` is below half an ulp
/// of 1), `x` itself below `2^-25` in magnitude (the rounded value there; it keeps `-0` and
/// the subnormals, which the halving below would round at `k = 0`). One path: `x = k ln2 + r`,
/// `h = 2^(k-1)`, `e = r + r^2 q(r)` ([`expm1_q`], rounded once) and `2 (h e + (h - 1/2))`:
/// `h - 1/2` is exact for `-24 <= k <= 24` (beyond, its rounding is at most `2^-25` of the
/// result), `h e` and the doubling are exact (`e` is normal), so one rounding at the result's
/// scale, without FMA too (`2 (((h - 1/2) + h r) + h r^2 q)`, two such roundings, was off by
/// 1 ulp twice as often); `h` does not overflow at `k = 128`.
#[inline(always)]
pub(crate) fn expm1<const FMA: bool>(x: f32) -> f32 {
    let (k, r) = reduce::<FMA>(x.max(-20.0).min(EXP_MAX + 1.0));
    let h = pow2(k - 1);
    let em1 = mad::<FMA>(r * r, expm1_q::<FMA>(r), r);
    let y = 2.0 * mad::<FMA>(h, em1, h - 0.5);
    if x.is_nan() {
        x
    } else if x > EXP_MAX {
        f32::INFINITY
    } else if x < -20.0 {
        -1.0
    } else if x.abs() < 2.980_232_2e-8 {
        x
    } else {
        y
    }
}

/// `ln(1 + r)` plus `dk ln 2` for `sqrt(1/2) - 1 <= r < sqrt(2) - 1`: `r - r^2/2 + r^3 p(r)`,
/// `p` of degree 7 fitted to relative error below `2^-26` (minimax by Lawson's iteration, the
/// coefficients rounded to `f32`), no division; the small terms summed first.
#[inline(always)]
fn ln_reduced<const FMA: bool>(r: f32, dk: f32) -> f32 {
    const P: [f32; 8] = [
        0.333_333_313,
        -0.250_008_225,
        0.200_012_267,
        -0.166_233_569,
        0.142_017_618,
        -0.131_601_945,
        0.127_615_511,
        -0.076_344_311_2,
    ];
    // `ln 2` in two parts, `dk * LN2_HI` exact (musl's `logf`).
    const LN2_HI: f32 = 6.931_381_225_6e-1;
    const LN2_LO: f32 = 9.058_000_614_5e-6;
    let mut p = P[7];
    for c in [P[6], P[5], P[4], P[3], P[2], P[1], P[0]] {
        p = mad::<FMA>(p, r, c);
    }
    let r2 = r * r;
    let small = mad::<FMA>(-0.5 * r, r, mad::<FMA>(r2, r * p, dk * LN2_LO));
    mad::<FMA>(dk, LN2_HI, small + r)
}

/// `(k, m)` with `u = 2^k m`, `sqrt(1/2) <= m < sqrt(2)`, for a positive normal `u`.
#[inline(always)]
pub(crate) fn split(u: f32) -> (i32, f32) {
    let bits = u.to_bits().wrapping_add(0x3f80_0000 - 0x3f35_04f3);
    let k = (bits >> 23) as i32 - 0x7f;
    (k, f32::from_bits((bits & 0x007f_ffff) + 0x3f35_04f3))
}

/// `ln(x)` from `ln(1 + x)`'s value `y` at finite positive `x`: libm's at the others (`-inf` at
/// 0, `+inf` at `+inf`, NaN below 0 and at NaN).
#[inline(always)]
fn ln_special(x: f32, y: f32) -> f32 {
    if x > 0.0 && x < f32::INFINITY {
        y
    } else if x == 0.0 {
        f32::NEG_INFINITY
    } else if x > 0.0 {
        x
    } else {
        f32::NAN
    }
}

/// `ln(x)`: `x = 2^k m` with `m` in `[sqrt(1/2), sqrt(2))` by the bits (subnormals scaled by
/// `2^25` first), and [`ln_reduced`] at the exact `r = m - 1`.
#[inline(always)]
pub(crate) fn ln<const FMA: bool>(x: f32) -> f32 {
    let subnormal = x < f32::MIN_POSITIVE;
    let xs = if subnormal { x * 33_554_432.0 } else { x };
    let (k, m) = split(xs);
    let k = if subnormal { k - 25 } else { k };
    ln_special(x, ln_reduced::<FMA>(m - 1.0, k as f32))
}

/// `ln(1 + x)` without a division: `u = 1 + x` rounded, `c = (u - 1) - x` its rounding error
/// (exact), `u = 2^k m`, and [`ln_reduced`] at `r = (m - 1) - c 2^-k`, `1 + x = 2^k (1 + r)`
/// up to one rounding of `r` (none for `k = 0`, where `r = x`); `x` itself below `2^-25` in
/// magnitude (the rounded value there, `-0` kept).
#[inline(always)]
pub(crate) fn ln_1p<const FMA: bool>(x: f32) -> f32 {
    let u = 1.0 + x;
    let c = (u - 1.0) - x;
    let (k, m) = split(u);
    let r = mad::<FMA>(-c, pow2(-k.min(126)), m - 1.0);
    let y = ln_special(u, ln_reduced::<FMA>(r, k as f32));
    if x.abs() < 2.980_232_2e-8 {
        x
    } else {
        y
    }
}

/// `tanh(x)`: Cephes' `tanhf`, an odd polynomial below `|x| = 0.625` and `1 - 2/(exp(2|x|) + 1)`
/// above (no cancellation there: the fraction is below 0.45), with the sign of `x`; `tanh(10)`
/// is 1 in `f32`.
#[inline(always)]
pub(crate) fn tanh<const FMA: bool>(x: f32) -> f32 {
    let a = x.abs().min(10.0);
    let z = a * a;
    let mut p = -5.704_988_727_45e-3;
    for c in [
        2.063_908_879_54e-2,
        -5.373_971_555_31e-2,
        1.333_144_220_36e-1,
        -3.333_328_194_22e-1,
    ] {
        p = mad::<FMA>(p, z, c);
    }
    let small = mad::<FMA>(p * z, a, a);
    let large = 1.0 - 2.0 / (exp_0_20::<FMA>(2.0 * a) + 1.0);
    let y = if a < 0.625 { small } else { large };
    if x.is_nan() {
        x
    } else {
        y.copysign(x)
    }
}

/// `exp(x)` for `0 <= x <= 20` (`tanh`'s range): the reduction and polynomial of [`exp`], the
/// power of two added to the exponent field, no special values.
#[inline(always)]
fn exp_0_20<const FMA: bool>(x: f32) -> f32 {
    let (k, e) = exp_parts::<FMA>(x);
    f32::from_bits(e.to_bits().wrapping_add((k as u32) << 23))
}

/// `softplus(x) = max(x, 0) + ln(1 + exp(-|x|))`.
#[inline(always)]
pub(crate) fn softplus<const FMA: bool>(x: f32) -> f32 {
    let y = x.max(0.0) + ln_1p::<FMA>(exp::<FMA>(-x.abs()));
    if x.is_nan() {
        x
    } else {
        y
    }
}

/// Beyond this `|x|` (`2^22`) the reduction of `sin` and `cos` in `f32` is not done here: the
/// caller takes libm.
pub(crate) const TRIG_MAX: f32 = 4_194_304.0;

/// `sin(x + quarter pi/2)` for `|x| <= TRIG_MAX`: natively in `f32` with FMA
/// ([`sin_shifted_fma`]), else musl's `sinf` in `f64` ([`sin_shifted_f64`]).
#[inline(always)]
fn sin_shifted<const FMA: bool>(x: f32, quarter: u32) -> f32 {
    if FMA {
        sin_shifted_fma(x, quarter)
    } else {
        sin_shifted_f64(x, quarter)
    }
}

/// `sin(x + quarter pi/2)` for `|x| <= TRIG_MAX` in `f32` lanes, with FMA (beyond, and at NaN
/// and ±inf, a number the caller replaces). `k` is the nearest integer to `x * f32(2/pi)`
/// (`|k| < 2^22`; the constant's error leaves `|r|` up to 0.96 at `|x| = 2^22`, where the
/// polynomials are fitted). Cody-Waite with `pi/2 = A + B + C`, each the `f32` nearest to the
/// rest: `u = x - k A` is exact (one FMA: `|u| < 2`, on the grid of `ulp(A)`), `k B = p + pe`
/// exactly (FMA), `u - p = r + e` by Fast2Sum, and `rl = e - pe - k C`: `x - k pi/2 = r + rl`
/// to about `2^-48` relative (`rl` not renormalised: it enters linearly). Then only `f32`:
/// `sin(r + rl) = r + r z S(z) + rl (1 - z/2)` and `cos(r + rl) = (1 - z/2) + z^2 C(z) - r rl`
/// (`z = r^2` rounded, `1 - z/2` with the difference's rounding error kept), `S` and `C` of
/// degree 3 and 2 fitted to relative errors `2^-31.5` and `2^-29` on `|r| <= 0.96` (Lawson's
/// iteration, the leading `-1/6` fixed to its `f32` value), the quadrant `k + quarter`
/// choosing the polynomial and the sign by bits. Both polynomials are computed in every lane
/// (the selection is a blend). Checked on all `2^32` inputs (`tests.rs`,
/// `f32_sin_cos_on_all_inputs`): within 1 ulp of std's `f64` result rounded to `f32`.
#[inline(always)]
fn sin_shifted_fma(x: f32, quarter: u32) -> f32 {
    const A: f32 = 1.570_796_370_506_286_6;
    const B: f32 = -4.371_138_828_673_793e-8;
    const C: f32 = -1.715_124_510_005_881_9e-15;
    let shifted = x.mul_add(std::f32::consts::FRAC_2_PI, ROUND);
    let kf = shifted - ROUND;
    let k = shifted.to_bits().wrapping_sub(ROUND.to_bits());
    let u = (-kf).mul_add(A, x);
    let p = kf * B;
    let pe = kf.mul_add(B, -p);
    let r = u - p;
    let rl = (-kf).mul_add(C, ((u - r) - p) - pe);
    let z = r * r;
    let half = 0.5 * z;
    let ps = 2.731_140_057_221_637e-6f32
        .mul_add(z, -1.984_287_664_527_073_5e-4)
        .mul_add(z, 8.333_355_188_369_751e-3);
    let sz = ps.mul_add(z * z, -0.166_666_671_633_720_4 * z);
    let s = r + r.mul_add(sz, (-half).mul_add(rl, rl));
    // `w + ew = 1 - z/2` exactly.
    let w = 1.0 - half;
    let ew = (1.0 - w) - half;
    let pc = 2.424_776_175_757_87e-5f32
        .mul_add(z, -1.388_531_643_897_295e-3)
        .mul_add(z, 4.166_659_340_262_413e-2);
    let c = w + (z * z).mul_add(pc, (-r).mul_add(rl, ew));
    let n = k.wrapping_add(quarter);
    let y = if n & 1 == 0 { s } else { c };
    f32::from_bits(y.to_bits() ^ ((n & 2) << 30))
}

/// `sin(x + quarter pi/2)` for `|x| <= TRIG_MAX` without FMA, musl's `sinf` and `cosf` without
/// branches: the reduction in `f64` by `pi/2` in two parts (the first of 25 bits, so that `k`
/// times it is exact for `|k| < 2^28`, and `x` is exact in `f64`), and `f64` polynomials of
/// `f32` accuracy (`__sindf`, `__cosdf`: relative errors below `2^-37` and `2^-34` on
/// `[-pi/4, pi/4]`).
#[inline(always)]
fn sin_shifted_f64(x: f32, quarter: u32) -> f32 {
    const P1: f64 = 1.570_796_310_901_641_845_70;
    const P1T: f64 = 1.589_325_477_352_819_669_16e-8;
    const S: [f64; 4] = [
        -0.166_666_666_416_265_235_595,
        0.008_333_329_385_889_463_175_6,
        -0.000_198_393_348_360_966_317_347,
        0.000_002_718_311_493_989_821_906_4,
    ];
    const C: [f64; 4] = [
        -0.499_999_997_251_031_003_120,
        0.041_666_623_323_739_063_189_4,
        -0.001_388_676_377_460_992_946_92,
        0.000_024_390_448_796_277_409_065_4,
    ];
    const ROUND64: f64 = 6_755_399_441_055_744.0;
    let x = x.max(-TRIG_MAX).min(TRIG_MAX) as f64;
    let shifted = x * std::f64::consts::FRAC_2_PI + ROUND64;
    let kf = shifted - ROUND64;
    let k = shifted.to_bits().wrapping_sub(ROUND64.to_bits()) as i64;
    let r = (x - kf * P1) - kf * P1T;
    let z = r * r;
    let w = z * z;
    let zr = z * r;
    let s = (r + zr * (S[0] + z * S[1])) + zr * w * (S[2] + z * S[3]);
    let c = ((1.0 + z * C[0]) + w * C[1]) + (w * z) * (C[2] + z * C[3]);
    let n = k.wrapping_add(quarter as i64) & 3;
    let y = if n & 1 == 0 { s } else { c };
    (if n & 2 == 0 { y } else { -y }) as f32
}

/// `sin(x)` for `|x| <= TRIG_MAX` (`±0` kept: the reduction's sums give `+0` at `-0`).
#[inline(always)]
pub(crate) fn sin<const FMA: bool>(x: f32) -> f32 {
    let y = sin_shifted::<FMA>(x, 0);
    if x == 0.0 {
        x
    } else {
        y
    }
}

/// `cos(x)` for `|x| <= TRIG_MAX`.
#[inline(always)]
pub(crate) fn cos<const FMA: bool>(x: f32) -> f32 {
    sin_shifted::<FMA>(x, 1)
}

/// `-sin(x)`, for the derivatives.
#[inline(always)]
pub(crate) fn neg_sin<const FMA: bool>(x: f32) -> f32 {
    -sin::<FMA>(x)
}

/// `-cos(x)`, for the derivatives.
#[inline(always)]
pub(crate) fn neg_cos<const FMA: bool>(x: f32) -> f32 {
    -cos::<FMA>(x)
}
