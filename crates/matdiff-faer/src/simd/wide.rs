//! Plain loops (the kernels' `+`, `*`, ...) compiled for the widest vector instructions the
//! processor has: the crate is built for the baseline target (two `f64` lanes). The operations
//! are the same (Rust never fuses a multiply and an add on its own), so the results are the
//! bits of the baseline loop.

use super::{isa, Isa};

/// Runs `f` inlined into a copy compiled for AVX-512, or AVX2, where the processor has it.
/// Mark the closure `#[inline(always)]`: otherwise it stays a function of its own, compiled for
/// the baseline.
///
/// ```
/// let x = [1.0f64, 2.0, 3.0];
/// let mut y = [0.0; 3];
/// matdiff_faer::simd::wide(
///     #[inline(always)]
///     || y.iter_mut().zip(&x).for_each(|(y, x)| *y = 2.0 * x + 1.0),
/// );
/// assert_eq!(y, [3.0, 5.0, 7.0]);
/// ```
#[inline(always)]
pub fn wide<R>(f: impl FnOnce() -> R) -> R {
    match isa() {
        // SAFETY: `isa()` found the features the copies are compiled for.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { avx512(f) },
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { avx2(f) },
        Isa::Baseline => f(),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2,fma")]
unsafe fn avx512<R>(f: impl FnOnce() -> R) -> R {
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}
