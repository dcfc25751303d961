//! `f64` kernels written with AVX-512 intrinsics, eight lanes at a time, for what the plain
//! loops of `math.rs` cannot express: small tables read with in-register permutes
//! (`vpermi2pd`) instead of gathers. Each kernel is an `unsafe fn(__m512d) -> __m512d` with the
//! features of [`each`], named in `mod.rs`'s `elements!` table with `zmm: kernel`; the tests
//! of `tests.rs` run it with the other instruction sets.

use std::arch::x86_64::*;

use super::Element;

#[path = "zmm_exp.rs"]
mod zmm_exp;
pub(super) use zmm_exp::{
    exp, expm1, sigmoid, sigmoid_prime, sigmoid_second, tanh, tanh_prime, tanh_second,
};
#[path = "zmm_log.rs"]
mod zmm_log;
pub(super) use zmm_log::{ln, ln_1p};

/// `out[i] = E(x[i])` eight lanes at a time; the last `len % 8` entries by a masked load and
/// store (the masked-off lanes compute on zeros and are not written).
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2,fma")]
pub(super) fn each<E: Element>(x: &[f64], out: &mut [f64]) {
    assert_eq!(x.len(), out.len());
    let (whole, rest) = x.as_chunks::<8>();
    let (out_whole, out_rest) = out.as_chunks_mut::<8>();
    for (o, v) in out_whole.iter_mut().zip(whole) {
        // SAFETY: eight lanes read from and written to arrays of eight; the features are on.
        unsafe { _mm512_storeu_pd(o.as_mut_ptr(), E::zmm(_mm512_loadu_pd(v.as_ptr()))) };
    }
    if !rest.is_empty() {
        let mask = ((1u16 << rest.len()) - 1) as __mmask8;
        // SAFETY: the mask covers the `rest.len()` entries both slices have.
        unsafe {
            let v = _mm512_maskz_loadu_pd(mask, rest.as_ptr());
            _mm512_mask_storeu_pd(out_rest.as_mut_ptr(), mask, E::zmm(v));
        }
    }
}
