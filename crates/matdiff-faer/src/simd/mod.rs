//! Vectorised element-wise functions for `f32` and `f64` slices, dispatched at run time to
//! AVX-512, AVX2 + FMA or the baseline target.
//!
//! The functions are range reductions and polynomials without branches or library calls
//! (`math.rs` in `f64`, `math32.rs` in `f32`), so that the loops compile to vector code for each
//! instruction set (found once per process). On AVX-512 the `f64` `exp` family (`exp`, `expm1`,
//! `tanh` and the logistic functions, with their derivatives) runs kernels written with
//! intrinsics (`zmm_exp.rs`, through `zmm.rs`): Tang's method, a 16-entry table of `2^(j/16)`
//! (top and tail) read by in-register permutes, `vscalefpd` for the power of two and the
//! subnormal and overflowing results; so do `f64` `log` and `log1p` (`zmm_log.rs`): no
//! division, `ln(1/c)` from a 16-entry table read by in-register permutes. `f32` runs natively
//! (twice the lanes) for `exp`, `expm1`, `log`, `log1p`, `tanh`, `softplus`, the logistic
//! functions, and `sin` and `cos` where the instruction set has FMA, and elsewhere is computed
//! in `f64` and rounded once. `sin` and `cos` reduce their argument by Cody-Waite: in `f64` with
//! `pi/2` in three 33-bit parts and a fourth for the rest, summed exactly, up to `|x| = 2^20`;
//! in `f32` with FMA by `pi/2` in three `f32` parts to a sum `r + rl` (without FMA as musl's
//! `sinf`, in `f64` lanes) up to `|x| = 2^22`; beyond (and at NaN, ±inf) they take libm's
//! result, entry by entry. [`pow()`] (`x.^p` in the
//! plans' kernels; integer constant exponents stay repeated multiplication) is vectorised: in
//! `f32` as `2^(p log2|x|)` in `f64` lanes with short polynomials of `f32` accuracy (`pow.rs`);
//! in `f64` as ARM's and musl's `pow` (`pow64.rs`): `log x`
//! in double-double from a 128-entry table and a polynomial, times `p` with the product's
//! rounding error kept, and `exp` of that double-double argument from a second table, so that
//! no `|p log x|` ulps are lost; libm's `pow` at zeros, infinities, NaN and results beyond
//! `exp(±708)`. Complex numbers, and functions not in the table below, go through
//! [`Scalar::apply`] one entry at a time.
//!
//! Accuracy against the platform's libm (std), measured over random sweeps of the whole range
//! and at subnormals, overflow, NaN, ±inf and the branch points (near multiples of `pi/2` for
//! `sin` and `cos`) by the tests of this module (`simd/tests.rs`):
//!
//! | function | `f64` max ulp | `f32` max ulp | `f32` computed in |
//! |---|---|---|---|
//! | `exp` (also `expm1'`) | 1 | 1 | `f32` |
//! | `expm1` | 2 (AVX-512: 1) | 1 (all inputs) | `f32` |
//! | `log`, `log1p` | 1 | 1 (all inputs) | `f32` |
//! | `tanh` | 4 (AVX-512: 2) | 1 | `f32` |
//! | `tanh'` | 3 (AVX-512: 2) | 4 | `f32` |
//! | `tanh''` | 6 (AVX-512: 4) | 1 | `f64` |
//! | `sigmoid` (also `softplus'`) | 2 (AVX-512: 1) | 2 | `f32` |
//! | `sigmoid'` (also `softplus''`) | 3 (AVX-512: 2) | 3 | `f32` |
//! | `softplus` | 2 | 2 | `f32` |
//! | `sigmoid''` | 3 (AVX-512: 2) | 1 | `f64` |
//! | `sin`, `cos` and their derivatives | 1 | 1 (all inputs) | `f32` (with FMA) |
//! | `x.^p` (non-integer or non-constant `p`) | 1 | 1 (all bases‡) | `f64` (short polynomials) |
//! | `sqrt`, `relu` and the rational derivatives (`log'`, `sqrt'`, ...) | 0 | 1 | `f64` |
//!
//! (`f64`: against std's function, or for the derivatives against the scalar formulas of
//! [`Scalar::apply`] on std, `sigmoid''` against `-sigmoid'(x) tanh(x/2)` since the scalar form
//! cancels near 0; `f32`: against std's `f64` result rounded to `f32`. "AVX-512": the kernels of
//! `zmm_exp.rs`, also checked near every boundary of their table, session 9. "All inputs": also
//! checked on every one of the 2^32 `f32` inputs, on each instruction set, in session 8: 0.3%
//! of them are 1 ulp off (for each of the three), none more; `sin` and `cos` in session 9
//! (`f32_sin_cos_on_all_inputs`), none more than 1 ulp off: of the 2.5e9 inputs within `2^22`,
//! 0.47% 1 ulp off with FMA (nearly none on the baseline, musl's `sinf` in `f64`), and 1.3% of
//! the others (std's `f32` functions). ‡ `f32_pow_on_all_bases`, session 9, every base on each
//! instruction set: for `p` = 1.5, -2.7 and 0.1, 0.48%, 0.26% and 0.70% 1 ulp off, none more.)
//! `tan`, the inverse and
//! hyperbolic functions other than `tanh` stay scalar.
//!
//! Throughput in millions of entries per second on 10^6 entries (`cargo bench --bench
//! elementwise`: `plan` is `f(X)` on both cores, `simd` is [`apply`] (or [`pow()`]) on one;
//! `python3 benches/elementwise.py`: NumPy's ufuncs, one thread), Rust and Python run back to
//! back twice on the idle machine (session 9, 2026-12-06; 2 cores with AVX-512, AMD EPYC), the
//! best of the two runs each:
//!
//! | function | f64 plan | f64 simd | f64 NumPy | f32 plan | f32 simd | f32 NumPy |
//! |---|---|---|---|---|---|---|
//! | `exp` | 2770 | 1908 | 1223 | 4233 | 2923 | 2267 |
//! | `expm1` | 2014 | 1222 | 832 | 4260 | 3086 | 2878 |
//! | `log` | 1579 | 1242 | 1203 | 3074 | 2551 | 2685 |
//! | `log1p` | 1362 | 986 | 996 | 3168 | 2420 | 2393 |
//! | `tanh` | 1934 | 1230 | 635 | 3287 | 2184 | 2756 |
//! | `sigmoid` | 2149 | 1370 | 182 | 3464 | 2336 | 300 |
//! | `sigmoid'` | 2136 | 1385 | 162 | 3484 | 2513 | 281 |
//! | `softplus` | 476 | 255 | 63 | 1568 | 950 | 67 |
//! | `sqrt` | 2054 | 1788 | 856 | 4930 | 5798 | 2898 |
//! | `sin` | 806 | 449 | 67 | 2887 | 1940 | 1936 |
//! | `cos` | 840 | 444 | 64 | 2973 | 2028 | 1899 |
//! | `.^ 1.5` | 407* | 237* | 365* | 776 | 588 | 860 |
//!
//! \* After `pow64.rs` found its libm entries in the vector pass (no scalar second scan), two
//! more back-to-back idle rounds (NumPy 349 to 365 in them; `f32`: plan 800, simd 594, NumPy
//! 856 to 873).
//!
//! Against the kernels before session 9 (run alternately with them under load, criterion's
//! `simd` ratios): `f64` `exp` 1.85 to 2.2, `expm1` 1.3 to 1.4, `sigmoid` 1.3 to 1.6,
//! `sigmoid'` 1.5 to 1.8, `tanh` 1.1 to 1.2 (`zmm_exp.rs`); `log` 1.5 to 1.7, `log1p` 1.2 to
//! 1.6 (`zmm_log.rs`); `f32` `sin` 2.0 to 2.2, `cos` 2.0 to 2.4, `.^ 1.5` 2.1 to 2.7 (native
//! `sin`, `cos` and a short `pow`). On the same idle machine before them: `f64` `exp` 1017,
//! `log` 770, `log1p` 638, `f32` `sin` 872, `.^ 1.5` 233 (`simd`).
//!
//! Ahead of NumPy on both cores (`plan`): every function but `f32` `.^ p` (0.92x). On one core
//! (`simd`), behind: `f64` `.^ p` (0.65x: its five table lookups are gathers), `f32` `.^ p`
//! (0.68x; its `log2` keeps a division), `f32` `tanh` (0.79x), `f32` `log` (0.95x); level:
//! `f64` `log`, `log1p` and `f32` `log1p`, `sin`, `cos`.
//!
//! Special values follow libm: NaN gives NaN, `exp(-inf) = 0`, `log(0) = -inf`, `log(-1)` is
//! NaN, `tanh(±inf) = ±1`, `tanh(-0) = sin(-0) = -0`, `sin(±inf)` is NaN.
//!
//! ```
//! use matdiff_expr::Func;
//! use matdiff_faer::simd;
//! let x = [0.0f64, 1.0, -800.0, f64::INFINITY];
//! let mut out = [0.0; 4];
//! simd::apply(Func::Exp, 0, &x, &mut out);
//! assert_eq!(out[0], 1.0);
//! assert!((out[1] - std::f64::consts::E).abs() <= f64::EPSILON * 3.0);
//! assert_eq!(&out[2..], &[0.0, f64::INFINITY]);
//! ```

mod math;
mod math32;
mod pow;
mod pow64;
mod pow64_tables;
#[cfg(test)]
mod tests;
mod wide;
#[cfg(target_arch = "x86_64")]
mod zmm;

use std::any::TypeId;
#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::__m512d;
use std::sync::OnceLock;

use matdiff_expr::Func;

use crate::Scalar;
#[cfg(test)]
use num_complex::Complex;
pub use pow::pow;
pub use wide::wide;

/// `out[i] = f(x[i])` for a built-in function `func` or its derivative of order `order` (as
/// [`Scalar::apply`]), vectorised for `f32` and `f64` where the module's table has the function.
///
/// # Panics
/// When `x` and `out` differ in length.
pub fn apply<T: Scalar>(func: Func, order: u8, x: &[T], out: &mut [T]) {
    assert_eq!(
        x.len(),
        out.len(),
        "simd::apply: slices of different lengths"
    );
    let done = if let (Some(x), Some(out)) = (cast::<T, f64>(x), cast_mut::<T, f64>(out)) {
        vectorised(func, order, x, out)
    } else if let (Some(x), Some(out)) = (cast::<T, f32>(x), cast_mut::<T, f32>(out)) {
        vectorised(func, order, x, out)
    } else {
        false
    };
    if !done {
        for (o, &v) in out.iter_mut().zip(x) {
            *o = v.apply(func, order);
        }
    }
}

/// The slice as `&[U]` when `T` is `U`.
fn cast<T: 'static, U: 'static>(x: &[T]) -> Option<&[U]> {
    // SAFETY: T and U are the same type.
    (TypeId::of::<T>() == TypeId::of::<U>())
        .then(|| unsafe { std::slice::from_raw_parts(x.as_ptr().cast::<U>(), x.len()) })
}

/// The slice as `&mut [U]` when `T` is `U`.
fn cast_mut<T: 'static, U: 'static>(x: &mut [T]) -> Option<&mut [U]> {
    // SAFETY: T and U are the same type.
    (TypeId::of::<T>() == TypeId::of::<U>())
        .then(|| unsafe { std::slice::from_raw_parts_mut(x.as_mut_ptr().cast::<U>(), x.len()) })
}

/// A real lane type: `f64`, or `f32`.
trait Lane: Scalar {
    /// Beyond this `|x|`, `sin` and `cos` take libm.
    const TRIG_MAX: f64;
    fn eval<E: Element, const FMA: bool>(self) -> Self;
}

impl Lane for f64 {
    const TRIG_MAX: f64 = math::TRIG_MAX;
    #[inline(always)]
    fn eval<E: Element, const FMA: bool>(self) -> f64 {
        E::eval::<FMA>(self)
    }
}

impl Lane for f32 {
    const TRIG_MAX: f64 = math32::TRIG_MAX as f64;
    #[inline(always)]
    fn eval<E: Element, const FMA: bool>(self) -> f32 {
        E::eval32::<FMA>(self)
    }
}

/// One element function, inlined into the loop of each instruction set.
trait Element {
    fn eval<const FMA: bool>(x: f64) -> f64;
    /// In `f32`: natively where `math32.rs` has the function, else in `f64` rounded once.
    #[inline(always)]
    fn eval32<const FMA: bool>(x: f32) -> f32 {
        Self::eval::<FMA>(x as f64) as f32
    }
    /// Whether [`Element::zmm`] is written: an `f64` kernel with AVX-512 intrinsics (`zmm.rs`),
    /// for what the plain loops cannot express (tables read by in-register permutes).
    const HAS_ZMM: bool = false;
    /// Eight `f64` lanes at once; called only when [`Element::HAS_ZMM`].
    ///
    /// # Safety
    /// The processor has the features of `each_avx512`.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn zmm(x: __m512d) -> __m512d {
        x
    }
}

macro_rules! elements {
    ($($name:ident = |$x:ident| $body:expr $(, f32: $m32:ident::$f32:ident)? $(, zmm: $zmm:ident)?;)*) => {
        $(
            struct $name;
            impl Element for $name {
                #[inline(always)]
                fn eval<const FMA: bool>($x: f64) -> f64 {
                    $body
                }
                $(
                    #[inline(always)]
                    fn eval32<const FMA: bool>(x: f32) -> f32 {
                        $m32::$f32::<FMA>(x)
                    }
                )?
                $(
                    const HAS_ZMM: bool = true;
                    #[cfg(target_arch = "x86_64")]
                    #[inline(always)]
                    unsafe fn zmm(x: __m512d) -> __m512d {
                        // SAFETY: the caller's processor has the kernel's features.
                        unsafe { zmm::$zmm(x) }
                    }
                )?
            }
        )*
    };
}

elements! {
    Exp = |x| math::exp::<FMA>(x), f32: math32::exp, zmm: exp;
    Expm1 = |x| math::expm1::<FMA>(x), f32: math32::expm1, zmm: expm1;
    Ln = |x| math::ln::<FMA>(x), f32: math32::ln, zmm: ln;
    Recip = |x| 1.0 / x;
    NegRecipSq = |x| -(1.0 / (x * x));
    Ln1p = |x| math::ln_1p::<FMA>(x), f32: math32::ln_1p, zmm: ln_1p;
    Recip1p = |x| 1.0 / (1.0 + x);
    NegRecip1pSq = |x| {
        let r = 1.0 + x;
        -(1.0 / (r * r))
    };
    Tanh = |x| math::tanh::<FMA>(x), f32: math32::tanh, zmm: tanh;
    TanhPrime = |x| math::tanh_prime::<FMA>(x), f32: math32::tanh_prime, zmm: tanh_prime;
    TanhSecond = |x| -2.0 * math::tanh::<FMA>(x) * math::tanh_prime::<FMA>(x), zmm: tanh_second;
    Sigmoid = |x| math::sigmoid::<FMA>(x), f32: math32::sigmoid, zmm: sigmoid;
    SigmoidPrime = |x| math::sigmoid_prime::<FMA>(x), f32: math32::sigmoid_prime, zmm: sigmoid_prime;
    SigmoidSecond = |x| math::sigmoid_second::<FMA>(x), zmm: sigmoid_second;
    Softplus = |x| math::softplus::<FMA>(x), f32: math32::softplus;
    Sqrt = |x| x.sqrt();
    SqrtPrime = |x| 1.0 / (2.0 * x.sqrt());
    SqrtSecond = |x| -(1.0 / (4.0 * x * x.sqrt()));
    Relu = |x| if x > 0.0 || x.is_nan() { x } else { 0.0 };
    Sin = |x| math::sin::<FMA>(x), f32: math32::sin;
    Cos = |x| math::cos::<FMA>(x), f32: math32::cos;
    NegSin = |x| -math::sin::<FMA>(x), f32: math32::neg_sin;
    NegCos = |x| -math::cos::<FMA>(x), f32: math32::neg_cos;
}

/// Runs the vectorised kernel of `(func, order)`; `false` when the table has none.
fn vectorised<L: Lane>(func: Func, order: u8, x: &[L], out: &mut [L]) -> bool {
    vectorised_on(isa(), func, order, x, out)
}

fn vectorised_on<L: Lane>(isa: Isa, func: Func, order: u8, x: &[L], out: &mut [L]) -> bool {
    let run = |kernel: fn(Isa, &[L], &mut [L]), x: &[L], out: &mut [L]| kernel(isa, x, out);
    match (func, order) {
        (Func::Exp, _) | (Func::Expm1, 1..) => run(run_on::<Exp, L>, x, out),
        (Func::Expm1, 0) => run(run_on::<Expm1, L>, x, out),
        (Func::Log, 0) => run(run_on::<Ln, L>, x, out),
        (Func::Log, 1) => run(run_on::<Recip, L>, x, out),
        (Func::Log, _) => run(run_on::<NegRecipSq, L>, x, out),
        (Func::Log1p, 0) => run(run_on::<Ln1p, L>, x, out),
        (Func::Log1p, 1) => run(run_on::<Recip1p, L>, x, out),
        (Func::Log1p, _) => run(run_on::<NegRecip1pSq, L>, x, out),
        (Func::Tanh, 0) => run(run_on::<Tanh, L>, x, out),
        (Func::Tanh, 1) => run(run_on::<TanhPrime, L>, x, out),
        (Func::Tanh, _) => run(run_on::<TanhSecond, L>, x, out),
        (Func::Sigmoid, 0) | (Func::Softplus, 1) => run(run_on::<Sigmoid, L>, x, out),
        (Func::Sigmoid, 1) | (Func::Softplus, 2..) => run(run_on::<SigmoidPrime, L>, x, out),
        (Func::Sigmoid, _) => run(run_on::<SigmoidSecond, L>, x, out),
        (Func::Softplus, 0) => run(run_on::<Softplus, L>, x, out),
        (Func::Sqrt, 0) => run(run_on::<Sqrt, L>, x, out),
        (Func::Sqrt, 1) => run(run_on::<SqrtPrime, L>, x, out),
        (Func::Sqrt, _) => run(run_on::<SqrtSecond, L>, x, out),
        (Func::Relu, 0) => run(run_on::<Relu, L>, x, out),
        (Func::Sin, 0) => run(run_on::<Sin, L>, x, out),
        (Func::Sin, 1) | (Func::Cos, 0) => run(run_on::<Cos, L>, x, out),
        (Func::Sin, _) | (Func::Cos, 1) => run(run_on::<NegSin, L>, x, out),
        (Func::Cos, _) => run(run_on::<NegCos, L>, x, out),
        _ => return false,
    }
    if matches!(func, Func::Sin | Func::Cos) {
        // Beyond `TRIG_MAX` (and for NaN and ±inf) libm's reduction, entry by entry: a pass
        // without branches to find out, the second only when there is one.
        let huge = |v: &L| v.re().abs() > L::TRIG_MAX || v.re().is_nan();
        if x.iter().fold(false, |any, v| any | huge(v)) {
            for (o, v) in out.iter_mut().zip(x).filter(|(_, v)| huge(v)) {
                *o = v.apply(func, order);
            }
        }
    }
    true
}

#[inline(always)]
fn each<E: Element, L: Lane, const FMA: bool>(x: &[L], out: &mut [L]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = v.eval::<E, FMA>();
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2,fma")]
fn each_avx512<E: Element, L: Lane>(x: &[L], out: &mut [L]) {
    each::<E, L, true>(x, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn each_avx2<E: Element, L: Lane>(x: &[L], out: &mut [L]) {
    each::<E, L, true>(x, out)
}

/// The widest instruction set the processor has.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Isa {
    #[cfg(target_arch = "x86_64")]
    Avx512,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    Baseline,
}

/// The widest instruction set, found once.
fn isa() -> Isa {
    static ISA: OnceLock<Isa> = OnceLock::new();
    *ISA.get_or_init(detect_isa)
}

fn detect_isa() -> Isa {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        if has!("avx512f") && has!("avx512dq") && has!("avx512vl") && has!("avx2") && has!("fma") {
            return Isa::Avx512;
        }
        if has!("avx2") && has!("fma") {
            return Isa::Avx2;
        }
    }
    Isa::Baseline
}

fn run_on<E: Element, L: Lane>(isa: Isa, x: &[L], out: &mut [L]) {
    #[cfg(target_arch = "x86_64")]
    if E::HAS_ZMM && isa == Isa::Avx512 {
        if let (Some(x), Some(out)) = (cast::<L, f64>(x), cast_mut::<L, f64>(out)) {
            // SAFETY: `isa()` found the features the kernel is compiled for.
            return unsafe { zmm::each::<E>(x, out) };
        }
    }
    match isa {
        // SAFETY: `isa()` found the features the functions are compiled for.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { each_avx512::<E, L>(x, out) },
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { each_avx2::<E, L>(x, out) },
        Isa::Baseline => each::<E, L, false>(x, out),
    }
}
