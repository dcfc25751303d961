//! Plain loops (the kernels' `+`, `*`, ...) compiled for the widest vector instructions the
//! processor has: the crate is built for the baseline target (two `f64` lanes). The operations
//! are the same (Rust never fuses a multiply and an add on its own), so the results are the
//! bits of the baseline loop.

use super::{isa, Isa};

/// Runs `f` inlined into a copy compiled for AVX-512, or AVX2, where the processor has it.
/// Mark the closure `#[inline(always)]`: otherwise it stays a function of its own, compiled for
/// the baseline.
#[inline(always)]
pub(crate) fn wide<R>(f: impl FnOnce() -> R) -> R {
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
