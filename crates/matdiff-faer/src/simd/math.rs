//! Branch-free `f64` element functions: range reduction and polynomials, no library calls, so that
//! a loop over them compiles to vector code. `f32` goes through them in `f64` and rounds once.

// The constants are written as fdlibm publishes them.
#![allow(clippy::excessive_precision)]
// `x.max(lo).min(hi)` on purpose: unlike `clamp`, it turns NaN into a number (the result is
// selected afterwards), so that no lane computes with garbage.
#![allow(clippy::manual_clamp)]

/// `2^52 + 2^51`: adding it rounds an `f64` below `2^51` in magnitude to an integer.
const ROUND: f64 = 6755399441055744.0;
/// `ln 2` split so that `k * LN2_HI` is exact for `|k| < 2^11`.
const LN2_HI: f64 = 6.931_471_803_691_238_164_9e-1;
const LN2_LO: f64 = 1.908_214_929_270_587_700_02e-10;

/// Above this `exp` overflows.
const EXP_MAX: f64 = 709.782_712_893_384;
/// Below this `exp` rounds to zero.
const EXP_MIN: f64 = -745.133_219_101_941_2;

/// `a * b + c`, fused (one rounding) where the instruction set has FMA.
#[inline(always)]
pub(super) fn mad<const FMA: bool>(a: f64, b: f64, c: f64) -> f64 {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// `(k, r)` with `x = k ln2 + r`, `|r| <= ln2/2`, for `|x| <= 746`.
#[inline(always)]
fn reduce(x: f64) -> (i64, f64) {
    let shifted = x * std::f64::consts::LOG2_E + ROUND;
    let k = shifted - ROUND;
    let k_int = shifted.to_bits().wrapping_sub(ROUND.to_bits()) as i64;
    (k_int, (x - k * LN2_HI) - k * LN2_LO)
}

/// `expm1(r)` for `|r| <= ln2/2`: the Taylor series to `r^13` (remainder below `5e-18`).
#[inline(always)]
fn expm1_reduced<const FMA: bool>(r: f64) -> f64 {
    let mut p = 1.0 / 6_227_020_800.0;
    for c in [
        1.0 / 479_001_600.0,
        1.0 / 39_916_800.0,
        1.0 / 3_628_800.0,
        1.0 / 362_880.0,
        1.0 / 40_320.0,
        1.0 / 5_040.0,
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
        1.0,
    ] {
        p = mad::<FMA>(p, r, c);
    }
    p * r
}

/// `2^k` for `-1022 <= k <= 1023`.
#[inline(always)]
fn pow2(k: i64) -> f64 {
    f64::from_bits((k.wrapping_add(1023) as u64) << 52)
}

/// `exp(x)`, subnormal results included (rounded once).
#[inline(always)]
pub(crate) fn exp<const FMA: bool>(x: f64) -> f64 {
    let (k, r) = reduce(x.max(EXP_MIN - 1.0).min(EXP_MAX + 1.0));
    // 2^k as two factors, each a normal number, so that a subnormal result is rounded once.
    let half = k >> 1;
    let y = ((1.0 + expm1_reduced::<FMA>(r)) * pow2(half)) * pow2(k - half);
    if x.is_nan() {
        x
    } else if x > EXP_MAX {
        f64::INFINITY
    } else if x < EXP_MIN {
        0.0
    } else {
        y
    }
}

/// `exp(x) - 1`, accurate for small `x`.
#[inline(always)]
pub(crate) fn expm1<const FMA: bool>(x: f64) -> f64 {
    let (k, r) = reduce(x.max(-40.0).min(EXP_MAX + 1.0));
    let em1 = expm1_reduced::<FMA>(r);
    // 2^k em1 + (2^k - 1) is exact in its last step up to k = 53; beyond, the -1 is below an ulp.
    let small_k = k.min(60);
    let s = pow2(small_k);
    let small = s * em1 + (s - 1.0);
    let half = k >> 1;
    let large = ((1.0 + em1) * pow2(half)) * pow2(k - half);
    if x.is_nan() {
        x
    } else if x > EXP_MAX {
        f64::INFINITY
    } else if x < -40.0 {
        -1.0
    } else if k > 60 {
        large
    } else {
        small
    }
}

/// `ln(x)`: fdlibm's reduction to `[sqrt(2)/2, sqrt(2))` and its polynomial in `s = f/(2+f)`.
#[inline(always)]
pub(crate) fn ln<const FMA: bool>(x: f64) -> f64 {
    const LG: [f64; 7] = [
        6.666_666_666_666_735_13e-1,
        3.999_999_999_940_941_908e-1,
        2.857_142_874_366_239_149e-1,
        2.222_219_843_214_978_396e-1,
        1.818_357_216_161_805_012e-1,
        1.531_383_769_920_937_332e-1,
        1.479_819_860_511_658_591e-1,
    ];
    // Subnormals scaled into the normal range.
    let subnormal = x < f64::MIN_POSITIVE;
    let xs = if subnormal {
        x * 18_014_398_509_481_984.0
    } else {
        x
    };
    let bits = xs.to_bits();
    let hx = (bits >> 32).wrapping_add(0x3ff0_0000 - 0x3fe6_a09e) & 0xffff_ffff;
    let e = ((hx >> 20) as i32 - 0x3ff) - if subnormal { 54 } else { 0 };
    let hx = (hx & 0x000f_ffff) + 0x3fe6_a09e;
    let m = f64::from_bits((hx << 32) | (bits & 0xffff_ffff));
    let f = m - 1.0;
    let hfsq = 0.5 * f * f;
    let s = f / (2.0 + f);
    let z = s * s;
    let w = z * z;
    let t1 = w * mad::<FMA>(w, mad::<FMA>(w, LG[5], LG[3]), LG[1]);
    let t2 = z * mad::<FMA>(w, mad::<FMA>(w, mad::<FMA>(w, LG[6], LG[4]), LG[2]), LG[0]);
    let r = t2 + t1;
    let dk = e as f64;
    let y = s * (hfsq + r) + dk * LN2_LO - hfsq + f + dk * LN2_HI;
    if x.is_nan() || x < 0.0 {
        f64::NAN
    } else if x == 0.0 {
        f64::NEG_INFINITY
    } else if x == f64::INFINITY {
        x
    } else {
        y
    }
}

/// `ln(1 + x)`, accurate for small `x`: `ln(u) - ((u - 1) - x)/u` with `u = 1 + x` rounded.
#[inline(always)]
pub(crate) fn ln_1p<const FMA: bool>(x: f64) -> f64 {
    let u = 1.0 + x;
    let y = ln::<FMA>(u) - ((u - 1.0) - x) / u;
    if x == f64::INFINITY {
        x
    } else if x == -1.0 {
        f64::NEG_INFINITY
    } else {
        y
    }
}

/// `exp(x) - 1` for `0 <= x <= 40` (`tanh`'s range): [`expm1`] without its special values and
/// large arguments (`2^k - 1` is exact up to `k = 53`, beyond the `-1` is below an ulp).
#[inline(always)]
fn expm1_0_40<const FMA: bool>(x: f64) -> f64 {
    let (k, r) = reduce(x);
    let s = pow2(k);
    s * expm1_reduced::<FMA>(r) + (s - 1.0)
}

/// `tanh(x) = sign(x) t/(t + 2)` with `t = expm1(2|x|)`; `tanh(20)` is 1 in `f64`.
#[inline(always)]
pub(crate) fn tanh<const FMA: bool>(x: f64) -> f64 {
    let t = expm1_0_40::<FMA>(2.0 * x.abs().min(20.0));
    let y = (t / (t + 2.0)).copysign(x);
    if x.is_nan() {
        x
    } else {
        y
    }
}

/// `exp(-|x|)`.
#[inline(always)]
fn exp_neg_abs<const FMA: bool>(x: f64) -> f64 {
    exp::<FMA>(-x.abs())
}

/// The logistic function: `1/(1 + e)` or `e/(1 + e)` with `e = exp(-|x|)`.
#[inline(always)]
pub(crate) fn sigmoid<const FMA: bool>(x: f64) -> f64 {
    let e = exp_neg_abs::<FMA>(x);
    let d = 1.0 + e;
    if x >= 0.0 {
        1.0 / d
    } else if x < 0.0 {
        e / d
    } else {
        x
    }
}

/// `sigmoid'(x) = e/(1 + e)^2` with `e = exp(-|x|)`, the square as `1 + e (2 + e)` (one
/// rounding with FMA; `(1 + e)(1 + e)` rounds twice and reached 3 ulp).
#[inline(always)]
pub(crate) fn sigmoid_prime<const FMA: bool>(x: f64) -> f64 {
    let e = exp_neg_abs::<FMA>(x);
    e / mad::<FMA>(e, 2.0 + e, 1.0)
}

/// `sigmoid''(x) = sigmoid'(x) (1 - 2 sigmoid(x))`, the second factor `-sign(x) (1 - e)/(1 + e)`
/// with `1 - e = -expm1(-|x|)` (no cancellation near 0).
#[inline(always)]
pub(crate) fn sigmoid_second<const FMA: bool>(x: f64) -> f64 {
    let em = expm1::<FMA>(-x.abs());
    let e = exp_neg_abs::<FMA>(x);
    let d = 1.0 + e;
    let r = em / d;
    let r = if x >= 0.0 { r } else { -r };
    e / (d * d) * r
}

/// `4 exp(x)` for `x <= 0`, a subnormal result rounded once (not `4` times a rounded one).
#[inline(always)]
fn exp_times_4<const FMA: bool>(x: f64) -> f64 {
    // Below EXP_MIN - 3, 4 exp(x) rounds to 0.
    let (k, r) = reduce(x.max(EXP_MIN - 3.0));
    let k = k + 2;
    let half = k >> 1;
    let y = ((1.0 + expm1_reduced::<FMA>(r)) * pow2(half)) * pow2(k - half);
    if x.is_nan() {
        x
    } else {
        y
    }
}

/// `tanh'(x) = 4e/(1 + e)^2` with `e = exp(-2|x|)`, `4e` rounded once where it is subnormal.
#[inline(always)]
pub(crate) fn tanh_prime<const FMA: bool>(x: f64) -> f64 {
    let e4 = exp_times_4::<FMA>(-2.0 * x.abs());
    let d = 1.0 + 0.25 * e4;
    e4 / (d * d)
}

/// `softplus(x) = max(x, 0) + ln(1 + exp(-|x|))`.
#[inline(always)]
pub(crate) fn softplus<const FMA: bool>(x: f64) -> f64 {
    let y = x.max(0.0) + ln_1p::<FMA>(exp_neg_abs::<FMA>(x));
    if x.is_nan() {
        x
    } else {
        y
    }
}

/// Beyond this `|x|` the reduction of `sin` and `cos` is not done here: the caller takes libm.
pub(crate) const TRIG_MAX: f64 = 1_048_576.0;

/// `a + b` and its rounding error, exactly (Knuth's two-sum, no branch).
#[inline(always)]
fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    (s, (a - (s - bb)) + (b - bb))
}

/// `(k, r, r_lo)` with `x = k pi/2 + r + r_lo` for `|x| <= TRIG_MAX`: Cody-Waite with `pi/2` in
/// three 33-bit parts (fdlibm's, so that `k` times each is exact for `|k| < 2^20`) and a fourth
/// for the rest, the subtractions summed exactly, so that `r` keeps its relative accuracy when
/// `x` is close to a multiple of `pi/2`.
#[inline(always)]
fn reduce_half_pi(x: f64) -> (i64, f64, f64) {
    const P1: f64 = 1.570_796_326_734_125_614_17;
    const P2: f64 = 6.077_100_506_303_965_976_60e-11;
    const P3: f64 = 2.022_266_248_711_166_455_80e-21;
    const P3T: f64 = 8.478_427_660_368_899_569_97e-32;
    let shifted = x * std::f64::consts::FRAC_2_PI + ROUND;
    let kf = shifted - ROUND;
    let k = shifted.to_bits().wrapping_sub(ROUND.to_bits()) as i64;
    let t1 = x - kf * P1;
    let (t2, e2) = two_sum(t1, -(kf * P2));
    let (t3, e3) = two_sum(t2, -(kf * P3));
    let tail = (e2 + e3) - kf * P3T;
    let r = t3 + tail;
    (k, r, (t3 - r) + tail)
}

/// `sin(r + r_lo)` for `|r| <= pi/4`: musl's `__sin`.
#[inline(always)]
fn sin_reduced<const FMA: bool>(x: f64, y: f64) -> f64 {
    const S: [f64; 6] = [
        -1.666_666_666_666_663_243_48e-1,
        8.333_333_333_322_489_461_24e-3,
        -1.984_126_982_985_794_931_34e-4,
        2.755_731_370_707_006_767_89e-6,
        -2.505_076_025_340_686_341_95e-8,
        1.589_690_995_211_550_102_21e-10,
    ];
    let z = x * x;
    let w = z * z;
    let r = mad::<FMA>(z, mad::<FMA>(z, S[3], S[2]), S[1]) + z * w * mad::<FMA>(z, S[5], S[4]);
    let v = z * x;
    x - ((z * (0.5 * y - v * r) - y) - v * S[0])
}

/// `cos(r + r_lo)` for `|r| <= pi/4`: musl's `__cos`.
#[inline(always)]
fn cos_reduced<const FMA: bool>(x: f64, y: f64) -> f64 {
    const C: [f64; 6] = [
        4.166_666_666_666_660_190_37e-2,
        -1.388_888_888_887_410_957_49e-3,
        2.480_158_728_947_672_941_78e-5,
        -2.755_731_435_139_066_330_35e-7,
        2.087_572_321_298_174_827_90e-9,
        -1.135_964_755_778_819_482_65e-11,
    ];
    let z = x * x;
    let w = z * z;
    let r = z * mad::<FMA>(z, mad::<FMA>(z, C[2], C[1]), C[0])
        + w * w * mad::<FMA>(z, mad::<FMA>(z, C[5], C[4]), C[3]);
    let hz = 0.5 * z;
    let w = 1.0 - hz;
    w + (((1.0 - w) - hz) + (z * r - x * y))
}

/// `sin(x + quarter pi/2)` for `|x| <= TRIG_MAX` (`quarter` 0 is `sin`, 1 is `cos`); NaN and
/// larger `|x|` give garbage, which the caller replaces by libm's result.
#[inline(always)]
fn sin_shifted<const FMA: bool>(x: f64, quarter: i64) -> f64 {
    let (k, r, r_lo) = reduce_half_pi(x.max(-TRIG_MAX).min(TRIG_MAX));
    let s = sin_reduced::<FMA>(r, r_lo);
    let c = cos_reduced::<FMA>(r, r_lo);
    let n = k.wrapping_add(quarter) & 3;
    let y = if n & 1 == 0 { s } else { c };
    if n & 2 == 0 {
        y
    } else {
        -y
    }
}

/// `sin(x)` for `|x| <= TRIG_MAX` (`x` itself below `2^-27`, where it is the rounded sine).
#[inline(always)]
pub(crate) fn sin<const FMA: bool>(x: f64) -> f64 {
    let y = sin_shifted::<FMA>(x, 0);
    if x.abs() < 7.450_580_596_923_828e-9 {
        x
    } else {
        y
    }
}

/// `cos(x)` for `|x| <= TRIG_MAX`.
#[inline(always)]
pub(crate) fn cos<const FMA: bool>(x: f64) -> f64 {
    let y = sin_shifted::<FMA>(x, 1);
    if x.abs() < 7.450_580_596_923_828e-9 {
        1.0
    } else {
        y
    }
}
