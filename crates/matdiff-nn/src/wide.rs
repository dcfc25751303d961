//! Loops compiled for the widest vector instructions the processor has (AVX-512 or AVX2),
//! found at run time, as `matdiff_faer::simd` does for its functions: the crate itself is built
//! for the baseline target (two `f64` lanes). The operations are the same (Rust never fuses a
//! multiply and an add on its own), so the results are the bits of the baseline loop.

/// Runs `f` inlined into a copy compiled for AVX-512, or AVX2, where the processor has it.
/// Mark the closure `#[inline(always)]`: otherwise it stays a function of its own, compiled for
/// the baseline.
#[inline(always)]
pub(crate) fn wide<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        if has!("avx512f") && has!("avx512dq") && has!("avx512vl") {
            // SAFETY: the processor has the features the copy is compiled for.
            return unsafe { avx512(f) };
        }
        if has!("avx2") {
            // SAFETY: as above.
            return unsafe { avx2(f) };
        }
    }
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2")]
unsafe fn avx512<R>(f: impl FnOnce() -> R) -> R {
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}
