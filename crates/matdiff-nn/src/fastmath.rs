//! Vectorisable `tanh` and `exp` for slices: range reduction and polynomials without branches or
//! library calls, so that the compiler turns the loops into SIMD code, dispatched at run time to
//! AVX2 and FMA where the processor has them. Accurate to a few units in the last place.

/// Runs an `#[inline(always)]` kernel compiled for AVX2 + FMA when available, else for the
/// baseline target.
macro_rules! dispatch {
    ($kernel:ident, $t:ty, $z:expr, $out:expr) => {{
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx2,fma")]
            unsafe fn avx2(z: &[$t], out: &mut [$t]) {
                $kernel(z, out)
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                // SAFETY: the processor has the features the function was compiled for.
                return unsafe { avx2($z, $out) };
            }
        }
        $kernel($z, $out)
    }};
}

/// `out[i] = tanh(z[i])` (`f32`).
pub(crate) fn tanh_f32(z: &[f32], out: &mut [f32]) {
    dispatch!(tanh_f32_impl, f32, z, out)
}

/// `out[i] = tanh(z[i])` (`f64`).
pub(crate) fn tanh_f64(z: &[f64], out: &mut [f64]) {
    dispatch!(tanh_f64_impl, f64, z, out)
}

/// `2^52 + 2^51`: adding it rounds an `f64` below `2^51` in magnitude to an integer.
const ROUND_F64: f64 = 6755399441055744.0;
/// `2^23 + 2^22`: the same for `f32`.
const ROUND_F32: f32 = 12582912.0;

#[inline(always)]
fn tanh_f64_impl(z: &[f64], out: &mut [f64]) {
    for (o, &x) in out.iter_mut().zip(z) {
        // tanh(x) = sign(x) * t / (t + 2) with t = expm1(2|x|); tanh(22) is 1 in f64.
        let y = 2.0 * x.abs().min(22.0);
        let t = expm1_f64(y);
        let r = (t / (t + 2.0)).copysign(x);
        *o = if x.is_nan() { x } else { r };
    }
}

#[inline(always)]
fn tanh_f32_impl(z: &[f32], out: &mut [f32]) {
    for (o, &x) in out.iter_mut().zip(z) {
        let y = 2.0 * x.abs().min(9.0);
        let t = expm1_f32(y);
        let r = (t / (t + 2.0)).copysign(x);
        *o = if x.is_nan() { x } else { r };
    }
}

/// `exp(y) - 1` for `0 <= y <= 44`, relative error of a few ulp.
#[inline(always)]
fn expm1_f64(y: f64) -> f64 {
    const LN2_HI: f64 = 0.693_147_180_369_123_8;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    let shifted = y * std::f64::consts::LOG2_E + ROUND_F64;
    let k = shifted - ROUND_F64;
    let k_int = shifted.to_bits().wrapping_sub(ROUND_F64.to_bits()) as i64;
    let r = (y - k * LN2_HI) - k * LN2_LO;
    // expm1(r) for |r| <= ln2/2 by its Taylor series to r^13 (remainder below 1e-16 relative).
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
        p = p * r + c;
    }
    let em1 = p * r;
    let scale = f64::from_bits(((k_int + 1023) as u64) << 52);
    scale * em1 + (scale - 1.0)
}

/// `exp(y) - 1` for `0 <= y <= 18` in `f32`.
#[inline(always)]
fn expm1_f32(y: f32) -> f32 {
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    let shifted = y * std::f32::consts::LOG2_E + ROUND_F32;
    let k = shifted - ROUND_F32;
    let k_int = shifted.to_bits().wrapping_sub(ROUND_F32.to_bits()) as i32;
    let r = (y - k * LN2_HI) - k * LN2_LO;
    // Taylor series to r^8 (remainder below 1e-9 relative).
    let mut p = 1.0 / 40_320.0;
    for c in [
        1.0 / 5_040.0,
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
        1.0,
    ] {
        p = p * r + c;
    }
    let em1 = p * r;
    let scale = f32::from_bits(((k_int + 127) as u32) << 23);
    scale * em1 + (scale - 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> Vec<f64> {
        let mut xs: Vec<f64> = (-4000..=4000).map(|i| i as f64 / 400.0).collect();
        xs.extend([
            0.0, -0.0, 1e-300, -1e-12, 1e-8, 0.3465, 0.3466, 21.9, 22.0, 30.0, -1e4, 1e308,
        ]);
        xs.extend((1..60).map(|k| 2f64.powi(-k)));
        xs
    }

    #[test]
    fn tanh_f64_is_within_a_few_ulp_of_std() {
        let xs = grid();
        let mut out = vec![0.0; xs.len()];
        tanh_f64(&xs, &mut out);
        for (&x, &t) in xs.iter().zip(&out) {
            let exact = x.tanh();
            assert!(
                (t - exact).abs() <= 4.0 * f64::EPSILON * exact.abs(),
                "tanh({x:e}) = {t:e}, std {exact:e}"
            );
        }
    }

    #[test]
    fn tanh_f32_is_within_a_few_ulp_of_std() {
        let xs: Vec<f32> = grid().into_iter().map(|x| x as f32).collect();
        let mut out = vec![0.0; xs.len()];
        tanh_f32(&xs, &mut out);
        for (&x, &t) in xs.iter().zip(&out) {
            let exact = (x as f64).tanh();
            assert!(
                (t as f64 - exact).abs() <= 4.0 * f32::EPSILON as f64 * exact.abs(),
                "tanh({x:e}) = {t:e}, exact {exact:e}"
            );
        }
    }
}
