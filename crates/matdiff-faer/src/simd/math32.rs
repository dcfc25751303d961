//! Native `f32` element functions, as many lanes as `f32` has: `exp` by a range reduction and
//! Cephes' `expf` polynomial, and the logistic functions on it. The others go through `math.rs`
//! in `f64`.

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

/// `exp(x)`, subnormal results included (rounded once).
#[inline(always)]
pub(crate) fn exp<const FMA: bool>(x: f32) -> f32 {
    let xc = x.max(EXP_MIN - 1.0).min(EXP_MAX + 1.0);
    let shifted = xc * std::f32::consts::LOG2_E + ROUND;
    let kf = shifted - ROUND;
    let k = shifted.to_bits().wrapping_sub(ROUND.to_bits()) as i32;
    let r = mad::<FMA>(-kf, LN2_LO, mad::<FMA>(-kf, LN2_HI, xc));
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
    let e = mad::<FMA>(p, r * r, r) + 1.0;
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
