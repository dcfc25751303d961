//! Accuracy of the vectorised functions against std's libm, on every instruction set this
//! processor has: random sweeps of the whole range, subnormals, overflow, NaN and ±inf.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::*;

/// The instruction sets this processor can run, the baseline included.
fn isas() -> Vec<Isa> {
    let mut all = vec![Isa::Baseline];
    #[cfg(target_arch = "x86_64")]
    {
        if matches!(isa(), Isa::Avx2 | Isa::Avx512) {
            all.push(Isa::Avx2);
        }
        if isa() == Isa::Avx512 {
            all.push(Isa::Avx512);
        }
    }
    all
}

/// How many representable numbers lie between `a` and `b` (0 for two NaNs, `u64::MAX` for one).
fn ulps(a: f64, b: f64) -> u64 {
    if a.is_nan() || b.is_nan() {
        return if a.is_nan() && b.is_nan() {
            0
        } else {
            u64::MAX
        };
    }
    let order = |x: f64| {
        let m = (x.to_bits() & !(1 << 63)) as i128;
        if x.is_sign_negative() {
            -m
        } else {
            m
        }
    };
    (order(a) - order(b)).unsigned_abs() as u64
}

fn ulps32(a: f32, b: f32) -> u64 {
    if a.is_nan() || b.is_nan() {
        return if a.is_nan() && b.is_nan() {
            0
        } else {
            u64::MAX
        };
    }
    let order = |x: f32| {
        let m = (x.to_bits() & !(1 << 31)) as i64;
        if x.is_sign_negative() {
            -m
        } else {
            m
        }
    };
    (order(a) - order(b)).unsigned_abs()
}

const EDGES: [f64; 52] = [
    0.0,
    -0.0,
    f64::MIN_POSITIVE,
    -f64::MIN_POSITIVE,
    5e-324,
    -5e-324,
    1e-310,
    -1e-310,
    1e-300,
    1e-20,
    -1e-20,
    1e-8,
    0.346_573_590_279_972_6,
    0.346_573_590_279_972_7,
    0.5,
    1.0,
    -1.0,
    2.0,
    -0.999_999_999_999_999_9,
    -2.0,
    9.0,
    -9.0,
    21.9,
    22.0,
    -22.0,
    37.0,
    -37.5,
    -40.0,
    -41.0,
    88.7,
    -103.9,
    700.0,
    708.39,
    709.78,
    709.782_712_893_384,
    709.782_712_893_385,
    710.0,
    -708.39,
    -720.0,
    -745.133_219_101_941_1,
    -745.133_219_101_941_2,
    -745.14,
    -746.0,
    -800.0,
    1e300,
    1e308,
    f64::MAX,
    f64::MIN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
    -f64::NAN,
];

/// Multiples of `pi/2` rounded, and their neighbours, up to and beyond `math::TRIG_MAX`: where the
/// reduction of `sin` and `cos` cancels most.
fn near_half_pi_multiples() -> Vec<f64> {
    let mut rng = SmallRng::seed_from_u64(2);
    let ks = (1..=200)
        .chain((0..300).map(|_| rng.random_range(200..700_000)))
        .chain([667_544, 667_545, 667_546, 1 << 22]);
    let mut xs = Vec::new();
    for k in ks {
        let x = k as f64 * std::f64::consts::FRAC_PI_2;
        for d in -2i64..=2 {
            let near = f64::from_bits((x.to_bits() as i64 + d) as u64);
            xs.extend([near, -near]);
        }
    }
    xs
}

/// The edges, a uniform sweep of `[lo, hi]` and random bit patterns (every binade equally).
fn inputs(lo: f64, hi: f64) -> Vec<f64> {
    let mut rng = SmallRng::seed_from_u64(16);
    let mut xs = EDGES.to_vec();
    xs.extend(near_half_pi_multiples());
    xs.extend((0..40_000).map(|_| rng.random_range(lo..=hi)));
    xs.extend((0..40_000).map(|_| f64::from_bits(rng.random::<u64>())));
    xs
}

/// One vectorised function: where it is accurate, its reference, and its ulp bounds.
struct Case {
    func: Func,
    order: u8,
    lo: f64,
    hi: f64,
    reference: fn(f64) -> f64,
    max_ulps_f64: u64,
}

/// `sigmoid'(x) = e/(1 + e)^2` from std's `e = exp(-|x|)`, the rest in double-double: its error
/// is `e`'s damped by `(1 - e)/(1 + e)` and a few units in the 60th bit (the scalar formula of
/// `Scalar::apply` rounds three more times and was itself 1 to 2 ulp off).
fn sigmoid_prime_reference(x: f64) -> f64 {
    let e = (-x.abs()).exp();
    let d = 1.0 + e;
    // d + d_lo = 1 + e exactly; hi + lo = (1 + e)^2 to about 2^-100.
    let d_lo = e - (d - 1.0);
    let hi = d * d;
    let lo = d.mul_add(d, -hi) + 2.0 * d * d_lo;
    let q = e / hi;
    // e / (hi + lo) = q (1 - lo/hi), the division's own error corrected: e - q hi exactly by FMA.
    q + ((-q).mul_add(hi, e) - q * lo) / hi
}

fn cases() -> Vec<Case> {
    let case = |func, order, lo, hi, reference: fn(f64) -> f64, max_ulps_f64| Case {
        func,
        order,
        lo,
        hi,
        reference,
        max_ulps_f64,
    };
    vec![
        case(Func::Exp, 0, -750.0, 750.0, f64::exp, 1),
        case(Func::Expm1, 0, -50.0, 720.0, f64::exp_m1, 2),
        case(Func::Expm1, 1, -750.0, 750.0, f64::exp, 1),
        case(Func::Log, 0, 0.0, 1e6, f64::ln, 1),
        case(Func::Log, 1, -1e3, 1e3, |x| 1.0 / x, 0),
        case(Func::Log, 2, -1e3, 1e3, |x| -(1.0 / (x * x)), 0),
        case(Func::Log1p, 0, -1.0, 1e3, f64::ln_1p, 1),
        // Where the result cancels most: `log` near 1, `log1p` near 0.
        case(Func::Log, 0, 0.9, 1.1, f64::ln, 1),
        case(Func::Log1p, 0, -1e-3, 1e-3, f64::ln_1p, 1),
        case(Func::Log1p, 1, -1.0, 1e3, |x| 1.0 / (1.0 + x), 0),
        case(Func::Tanh, 0, -25.0, 25.0, f64::tanh, 4),
        case(Func::Tanh, 1, -25.0, 25.0, |x| x.apply(Func::Tanh, 1), 3),
        case(Func::Tanh, 2, -25.0, 25.0, |x| x.apply(Func::Tanh, 2), 6),
        case(
            Func::Sigmoid,
            0,
            -750.0,
            750.0,
            |x| x.apply(Func::Sigmoid, 0),
            2,
        ),
        // 3 ulp where `e` of the tableless `exp` (baseline, AVX2) is 1 ulp off at the bottom of
        // its binade and the result at the top of its own (x = -3.444075053407228); AVX-512: 2.
        case(Func::Sigmoid, 1, -750.0, 750.0, sigmoid_prime_reference, 3),
        // Where `e/((1 + e)(1 + e))` reached 3 ulp of the double-double reference.
        case(Func::Sigmoid, 1, -0.8, -0.78, sigmoid_prime_reference, 3),
        case(
            Func::Sigmoid,
            2,
            -750.0,
            750.0,
            |x| -x.apply(Func::Sigmoid, 1) * (x / 2.0).tanh(),
            3,
        ),
        case(
            Func::Softplus,
            0,
            -750.0,
            750.0,
            |x| x.apply(Func::Softplus, 0),
            2,
        ),
        case(
            Func::Softplus,
            1,
            -750.0,
            750.0,
            |x| x.apply(Func::Sigmoid, 0),
            2,
        ),
        case(Func::Sqrt, 0, 0.0, 1e6, f64::sqrt, 0),
        case(Func::Sqrt, 1, 0.0, 1e6, |x| x.apply(Func::Sqrt, 1), 0),
        case(Func::Relu, 0, -1.0, 1.0, |x| x.apply(Func::Relu, 0), 0),
        case(Func::Sin, 0, -2e6, 2e6, f64::sin, 1),
        case(Func::Sin, 1, -2e6, 2e6, f64::cos, 1),
        case(Func::Sin, 2, -2e6, 2e6, |x| -x.sin(), 1),
        case(Func::Cos, 0, -2e6, 2e6, f64::cos, 1),
        case(Func::Cos, 1, -2e6, 2e6, |x| -x.sin(), 1),
        case(Func::Cos, 2, -2e6, 2e6, |x| -x.cos(), 1),
        case(Func::Sin, 0, -10.0, 10.0, f64::sin, 1),
        case(Func::Cos, 0, -10.0, 10.0, f64::cos, 1),
    ]
}

/// `c` at `xs` on every instruction set: the worst ulp printed, a line in `failures` beyond the
/// case's bound.
fn check_case(c: &Case, xs: &[f64], failures: &mut Vec<String>) {
    let mut out = vec![0.0; xs.len()];
    for isa in isas() {
        assert!(vectorised_on(isa, c.func, c.order, xs, &mut out));
        let (worst, x, y) = xs
            .iter()
            .zip(&out)
            .map(|(&x, &y)| (ulps(y, (c.reference)(x)), x, y))
            .max_by_key(|&(u, _, _)| u)
            .unwrap();
        let line = format!(
            "{:?} order {} on {isa:?}: {worst} ulp at {x:e} ({y:e}, reference {:e})",
            c.func,
            c.order,
            (c.reference)(x)
        );
        println!("{line}");
        if worst > c.max_ulps_f64 {
            failures.push(line);
        }
    }
}

/// Every function in `f64`, on every instruction set, within its documented bound of std.
#[test]
fn f64_is_within_the_documented_ulps_of_std() {
    let mut failures = Vec::new();
    for c in cases() {
        let xs = inputs(c.lo, c.hi);
        check_case(&c, &xs, &mut failures);
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// The `exp` family in `f64` where the AVX-512 kernels (`zmm_exp.rs`) change table entries, or
/// formulas (`expm1` at `k/16` = -1, -2 and 52, 53): `x` near `(i + 1/2) ln2/16` for every `i`
/// whose `exp` is finite or a subnormal, and those points halved and negated (the arguments
/// `2|x|` and `-|x|` of `tanh` and the logistic functions), on every instruction set within the
/// documented bounds.
#[test]
fn f64_exp_family_is_within_the_documented_ulps_near_table_boundaries() {
    let step = std::f64::consts::LN_2 / 16.0;
    let mut xs = Vec::new();
    for i in -17_300i64..=16_400 {
        let b = (i as f64 + 0.5) * step;
        for d in -1i64..=1 {
            let near = f64::from_bits((b.to_bits() as i64 + d) as u64);
            xs.push(near);
        }
    }
    let mut failures = Vec::new();
    for c in cases() {
        let xs: Vec<f64> = match c.func {
            Func::Exp | Func::Expm1 => xs.clone(),
            Func::Tanh => xs.iter().flat_map(|&b| [0.5 * b, -0.5 * b]).collect(),
            Func::Sigmoid => xs.iter().flat_map(|&b| [b, -b]).collect(),
            _ => continue,
        };
        check_case(&c, &xs, &mut failures);
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// The `f32` bound of a case: 1 ulp of std's `f64` result rounded where `f32` is computed in
/// `f64` and rounded once, more where `math32.rs` computes it natively.
fn max_ulps_f32(func: Func, order: u8) -> u64 {
    match (func, order) {
        (Func::Exp, _) | (Func::Expm1, _) | (Func::Log | Func::Log1p, 0) => 1,
        (Func::Tanh, 0) => 1,
        (Func::Softplus, 0) => 2,
        (Func::Sigmoid, 0) | (Func::Softplus, 1) => 2,
        (Func::Sigmoid, 1) | (Func::Softplus, 2..) => 3,
        (Func::Tanh, 1) => 4,
        _ => 1,
    }
}

/// `f32` inputs: the `f64` ones rounded, a uniform sweep of `[lo, hi]` in `f32` and random `f32`
/// bit patterns (every binade equally).
fn inputs32(lo: f64, hi: f64) -> Vec<f32> {
    let mut rng = SmallRng::seed_from_u64(32);
    let mut xs: Vec<f32> = inputs(lo, hi).into_iter().map(|x| x as f32).collect();
    xs.extend([
        f32::MIN_POSITIVE,
        1e-40,
        -1e-40,
        88.72,
        88.73,
        -87.33,
        -87.34,
        -103.97,
        -103.98,
        -104.0,
        f32::MAX,
        f32::MIN,
        // The branch points of math32.rs: expm1 (-20, 2^-25; k = 24, 25 and -25, where its
        // h - 1/2 stops being exact), log1p (-1, 2^-25), tanh (0.625, 10).
        -20.0,
        -20.000_002,
        -19.999_998,
        -17.3,
        16.6,
        16.9,
        -0.999_999_94,
        -0.999_99,
        8.999_999,
        9.0,
        9.000_001,
        0.624_999_94,
        0.625,
        -0.625_000_06,
        9.999_999,
        10.0,
    ]);
    // Where log, log1p and expm1 lose the most: 1 and its neighbours (log), the ends of log's
    // reduction, sqrt(1/2) and sqrt(2) (log, and log1p at their values minus 1), and small
    // arguments of both signs, subnormal ones, and the threshold 2^-25 of expm1.
    use std::f32::consts::{FRAC_1_SQRT_2, SQRT_2};
    for centre in [
        1.0,
        FRAC_1_SQRT_2,
        SQRT_2,
        FRAC_1_SQRT_2 - 1.0,
        SQRT_2 - 1.0,
    ] {
        for d in -40i32..=40 {
            xs.push(f32::from_bits((centre.to_bits() as i32 + d) as u32));
        }
    }
    for e in -149..=-1 {
        let x = if e < -126 {
            f32::from_bits(1 << (e + 149))
        } else {
            f32::from_bits(((e + 127) as u32) << 23)
        };
        for near in [
            x,
            f32::from_bits(x.to_bits() + 1),
            f32::from_bits(x.to_bits() - 1),
        ] {
            xs.extend([near, -near, 1.0 + near, 1.0 - near]);
        }
    }
    xs.extend([
        -0.0,
        1.4e-45,
        -1.4e-45,
        9.14e-43,
        1.011_524_7e-6,
        2.821_009_3e-6,
    ]);
    // Multiples of pi/2 rounded to f32, and their neighbours, up to and beyond the native
    // reduction of sin and cos (2^22; 2^28 before, the ends of both kept).
    let near: Vec<u32> = (0..300).map(|_| rng.random_range(300..2_700_000)).collect();
    let ks = (1..=300)
        .chain(near)
        .chain((0..300).map(|_| rng.random_range(300..170_000_000)))
        .chain([2_670_176, 2_670_177, 2_670_178])
        .chain([170_891_317, 170_891_318, 170_891_319, 1 << 29]);
    for k in ks {
        let x = (k as f64 * std::f64::consts::FRAC_PI_2) as f32;
        for d in -2i32..=2 {
            let near = f32::from_bits((x.to_bits() as i32 + d) as u32);
            xs.extend([near, -near]);
        }
    }
    let (lo, hi) = ((lo as f32).max(f32::MIN), (hi as f32).min(f32::MAX));
    xs.extend((0..100_000).map(|_| rng.random_range(lo..=hi)));
    xs.extend((0..100_000).map(|_| f32::from_bits(rng.random::<u32>())));
    xs
}

/// Every function in `f32`, on every instruction set, within its bound of std's `f64` result
/// rounded to `f32`.
#[test]
fn f32_is_within_the_documented_ulps_of_std_rounded() {
    let mut failures = Vec::new();
    for c in cases() {
        let xs = inputs32(c.lo, c.hi);
        let mut out = vec![0.0f32; xs.len()];
        for isa in isas() {
            assert!(vectorised_on(isa, c.func, c.order, &xs, &mut out));
            let (worst, x, y) = xs
                .iter()
                .zip(&out)
                .map(|(&x, &y)| (ulps32(y, (c.reference)(x as f64) as f32), x, y))
                .max_by_key(|&(u, _, _)| u)
                .unwrap();
            let line = format!(
                "{:?} order {} on {isa:?}: {worst} ulp at {x:e} ({y:e}, reference {:e})",
                c.func,
                c.order,
                (c.reference)(x as f64) as f32
            );
            println!("{line}");
            if worst > max_ulps_f32(c.func, c.order) {
                failures.push(line);
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// `sin` and `cos` in `f32` on all `2^32` inputs, on every instruction set, within 1 ulp of
/// std's `f64` result rounded to `f32` (libm's beyond `math32::TRIG_MAX`); prints how many are
/// 1 ulp off. Minutes in release: `cargo test -p matdiff-faer --release -- --ignored
/// f32_sin_cos_on_all_inputs --nocapture`.
#[test]
#[ignore = "all 2^32 inputs: minutes in release"]
fn f32_sin_cos_on_all_inputs() {
    const CHUNK: u32 = 1 << 20;
    let mut xs = vec![0.0f32; CHUNK as usize];
    let mut out = vec![0.0f32; CHUNK as usize];
    let mut failures = Vec::new();
    for isa in isas() {
        for (func, reference) in [
            (Func::Sin, f64::sin as fn(f64) -> f64),
            (Func::Cos, f64::cos),
        ] {
            let (mut one_off, mut native, mut native_one_off) = (0u64, 0u64, 0u64);
            for start in (0..=u32::MAX - (CHUNK - 1)).step_by(CHUNK as usize) {
                for (i, x) in xs.iter_mut().enumerate() {
                    *x = f32::from_bits(start + i as u32);
                }
                assert!(vectorised_on(isa, func, 0, &xs, &mut out));
                for (&x, &y) in xs.iter().zip(&out) {
                    let want = reference(x as f64) as f32;
                    let within = x.abs() <= math32::TRIG_MAX;
                    native += u64::from(within);
                    match ulps32(y, want) {
                        0 if y.to_bits() == want.to_bits() || want.is_nan() => {}
                        1 => {
                            one_off += 1;
                            native_one_off += u64::from(within);
                        }
                        u => failures.push(format!(
                            "{func:?} on {isa:?}: {u} ulp at {x:e} ({y:e}, reference {want:e})"
                        )),
                    }
                }
            }
            println!(
                "{func:?} on {isa:?}: {one_off} of 2^32 inputs 1 ulp off ({native_one_off} of the \
                 {native} within TRIG_MAX), {} more",
                failures.len()
            );
        }
    }
    assert!(
        failures.is_empty(),
        "{:#?}",
        &failures[..failures.len().min(20)]
    );
}

/// `x.^p` in `f32` on all `2^32` bases for a few exponents, on every instruction set, within 1
/// ulp of std's `f64` `powf` rounded to `f32`; prints how many are 1 ulp off. Minutes in
/// release (`--ignored f32_pow_on_all_bases --nocapture`).
#[test]
#[ignore = "all 2^32 bases: minutes in release"]
fn f32_pow_on_all_bases() {
    const CHUNK: u32 = 1 << 20;
    let mut xs = vec![0.0f32; CHUNK as usize];
    let mut out = vec![0.0f32; CHUNK as usize];
    let mut failures = Vec::new();
    for p in [1.5f32, -2.7, 0.1] {
        let ps = vec![p; CHUNK as usize];
        for isa in isas() {
            let mut one_off = 0u64;
            for start in (0..=u32::MAX - (CHUNK - 1)).step_by(CHUNK as usize) {
                for (i, x) in xs.iter_mut().enumerate() {
                    *x = f32::from_bits(start + i as u32);
                }
                pow::pow_on(isa, &xs, &ps, &mut out);
                for (&x, &y) in xs.iter().zip(&out) {
                    let want = (x as f64).powf(p as f64) as f32;
                    match ulps32(y, want) {
                        0 if y.to_bits() == want.to_bits() || want.is_nan() => {}
                        1 => one_off += 1,
                        u => failures.push(format!(
                            "{x:e}^{p} on {isa:?}: {u} ulp ({y:e}, reference {want:e})"
                        )),
                    }
                }
            }
            println!(
                "x^{p} on {isa:?}: {one_off} of 2^32 bases 1 ulp off, {} more",
                failures.len()
            );
        }
    }
    assert!(
        failures.is_empty(),
        "{:#?}",
        &failures[..failures.len().min(20)]
    );
}

/// Special values, spelled out.
#[test]
fn special_values_follow_libm() {
    let one = |func, order, x: f64| {
        let mut out = [0.0];
        apply(func, order, &[x], &mut out);
        out[0]
    };
    let inf = f64::INFINITY;
    assert_eq!(one(Func::Exp, 0, -inf), 0.0);
    assert_eq!(one(Func::Exp, 0, inf), inf);
    assert_eq!(one(Func::Exp, 0, 0.0), 1.0);
    assert!(one(Func::Exp, 0, f64::NAN).is_nan());
    assert_eq!(one(Func::Exp, 0, -745.0), 5e-324);
    assert_eq!(one(Func::Expm1, 0, -inf), -1.0);
    assert_eq!(one(Func::Expm1, 0, 1e-300), 1e-300);
    assert!(one(Func::Expm1, 0, -0.0).is_sign_negative());
    assert_eq!(one(Func::Expm1, 0, inf), inf);
    assert!(one(Func::Expm1, 0, f64::NAN).is_nan());
    // The largest finite result, and the next argument, which overflows.
    assert_eq!(
        one(Func::Exp, 0, 709.782_712_893_384),
        1.797_693_134_862_273_2e308
    );
    assert_eq!(one(Func::Exp, 0, 709.782_712_893_384_1), inf);
    assert_eq!(one(Func::Expm1, 0, 709.782_712_893_384_1), inf);
    for order in 0..3 {
        assert!(one(Func::Tanh, order, f64::NAN).is_nan());
        assert!(one(Func::Sigmoid, order, f64::NAN).is_nan());
    }
    assert_eq!(one(Func::Tanh, 1, inf), 0.0);
    assert_eq!(one(Func::Tanh, 2, -inf), 0.0);
    assert_eq!(one(Func::Sigmoid, 2, inf), 0.0);
    assert_eq!(one(Func::Sigmoid, 2, -inf), 0.0);
    assert_eq!(one(Func::Log, 0, 0.0), -inf);
    assert_eq!(one(Func::Log, 0, -0.0), -inf);
    assert_eq!(one(Func::Log, 0, 1.0), 0.0);
    assert_eq!(one(Func::Log, 0, inf), inf);
    assert!(one(Func::Log, 0, -1.0).is_nan());
    assert!(one(Func::Log, 0, -inf).is_nan());
    assert_eq!(one(Func::Log1p, 0, -1.0), -inf);
    assert_eq!(one(Func::Log1p, 0, 1e-300), 1e-300);
    assert!(one(Func::Log1p, 0, -2.0).is_nan());
    assert!(one(Func::Log1p, 0, -inf).is_nan());
    assert_eq!(one(Func::Log1p, 0, inf), inf);
    assert!(one(Func::Log1p, 0, -0.0).is_sign_negative());
    assert_eq!(one(Func::Log1p, 0, -0.0), 0.0);
    assert_eq!(one(Func::Log1p, 0, 5e-324), 5e-324);
    assert_eq!(one(Func::Log, 0, 5e-324), 5e-324f64.ln());
    assert_eq!(one(Func::Tanh, 0, inf), 1.0);
    assert_eq!(one(Func::Tanh, 0, -inf), -1.0);
    assert!(one(Func::Tanh, 0, -0.0).is_sign_negative());
    assert_eq!(one(Func::Tanh, 0, 1e-310), 1e-310);
    assert_eq!(one(Func::Sigmoid, 0, inf), 1.0);
    assert_eq!(one(Func::Sigmoid, 0, -inf), 0.0);
    assert!(one(Func::Sigmoid, 0, f64::NAN).is_nan());
    assert_eq!(one(Func::Sigmoid, 1, inf), 0.0);
    assert_eq!(one(Func::Softplus, 0, inf), inf);
    assert_eq!(one(Func::Softplus, 0, -inf), 0.0);
    assert!(one(Func::Softplus, 0, f64::NAN).is_nan());
    assert!(one(Func::Relu, 0, f64::NAN).is_nan());
}

/// The special values of `f32` `log`, `log1p` and `expm1` (native, `math32.rs`) on every
/// instruction set, signed zeros included.
#[test]
fn f32_log_log1p_expm1_special_values_follow_libm() {
    let inf = f32::INFINITY;
    let cases: [(Func, &[f32]); 3] = [
        (
            Func::Log,
            &[
                0.0,
                -0.0,
                1.0,
                inf,
                -inf,
                -1.0,
                -1e-40,
                1e-45,
                f32::MAX,
                f32::NAN,
            ],
        ),
        (
            Func::Log1p,
            &[
                0.0,
                -0.0,
                -1.0,
                -2.0,
                inf,
                -inf,
                1e-40,
                -1e-40,
                f32::MAX,
                f32::NAN,
            ],
        ),
        (
            Func::Expm1,
            &[0.0, -0.0, inf, -inf, 1e-40, -1e-40, 88.8, -30.0, f32::NAN],
        ),
    ];
    for isa in isas() {
        for (func, xs) in cases {
            let mut out = vec![0.0f32; xs.len()];
            assert!(vectorised_on(isa, func, 0, xs, &mut out));
            for (&x, &y) in xs.iter().zip(&out) {
                let want = match func {
                    Func::Log => x.ln(),
                    Func::Log1p => x.ln_1p(),
                    _ => x.exp_m1(),
                };
                assert!(
                    y.to_bits() == want.to_bits() || (y.is_nan() && want.is_nan()),
                    "{func:?}({x:e}) on {isa:?}: {y:e}, libm {want:e}"
                );
            }
        }
    }
}

/// Complex numbers and functions outside the table take the scalar path, unchanged.
#[test]
fn other_types_and_functions_are_exact_scalar_code() {
    let z = [Complex::new(0.3, 1e-20), Complex::new(-2.0, 0.5)];
    let mut out = [Complex::new(0.0, 0.0); 2];
    apply(Func::Sigmoid, 1, &z, &mut out);
    assert_eq!(out[0], z[0].apply(Func::Sigmoid, 1));
    assert_eq!(out[1], z[1].apply(Func::Sigmoid, 1));
    let x = [0.3f64, -2.0];
    let mut out = [0.0; 2];
    apply(Func::Arctan, 0, &x, &mut out);
    assert_eq!(out, [0.3f64.atan(), (-2.0f64).atan()]);
}

/// `x.^p` in `f32`, on every instruction set, within 1 ulp of std's `f64` `powf` rounded to
/// `f32`: exponents integer and not, of both signs, large and special, on random bases of both
/// signs and every binade, and the special bases.
#[test]
fn f32_pow_is_within_one_ulp_of_std_rounded() {
    let mut rng = SmallRng::seed_from_u64(5);
    let mut ps = vec![
        0.0f32,
        -0.0,
        0.5,
        -0.5,
        1.0,
        -1.0,
        2.0,
        3.0,
        -3.0,
        1.0 / 3.0,
        1.5,
        -2.7,
        7.25,
        30.5,
        100.0,
        -150.0,
        1e-3,
        1e10,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
    ];
    ps.extend((0..20).map(|_| rng.random_range(-40.0f32..40.0)));
    ps.extend((0..10).map(|_| rng.random_range(-40i32..40) as f32));
    let mut xs: Vec<f32> = [
        0.0f32,
        -0.0,
        1.0,
        -1.0,
        0.5,
        -2.0,
        1e-40,
        -1e-40,
        f32::MIN_POSITIVE,
        f32::MAX,
        f32::MIN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
    ]
    .to_vec();
    xs.extend((0..2_000).map(|_| rng.random_range(0.0f32..10.0)));
    xs.extend((0..2_000).map(|_| f32::from_bits(rng.random::<u32>())));
    let mut failures = Vec::new();
    for &p in &ps {
        let pv = vec![p; xs.len()];
        let mut out = vec![0.0f32; xs.len()];
        for isa in isas() {
            pow::pow_on(isa, &xs, &pv, &mut out);
            let reference = |x: f32| (x as f64).powf(p as f64) as f32;
            let (worst, x, y) = xs
                .iter()
                .zip(&out)
                .map(|(&x, &y)| (ulps32(y, reference(x)), x, y))
                .max_by_key(|&(u, _, _)| u)
                .unwrap();
            if worst > 1 {
                failures.push(format!(
                    "{x:e}^{p:e} on {isa:?}: {worst} ulp ({y:e}, reference {:e})",
                    reference(x)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    // Complex numbers (the complex step) keep the scalar code of the kernels.
    let z = [Complex::new(2.0, 1e-20)];
    assert!(!pow(
        &z,
        &[Complex::new(0.5, 0.0)],
        &mut [Complex::new(0.0, 0.0)]
    ));
}

/// `sin` and `cos`: signed zeros, ±inf and NaN, and the largest arguments (libm's reduction).
#[test]
fn trigonometric_special_values_follow_libm() {
    let one = |func, order, x: f64| {
        let mut out = [0.0];
        apply(func, order, &[x], &mut out);
        out[0]
    };
    assert!(one(Func::Sin, 0, -0.0).is_sign_negative());
    assert_eq!(one(Func::Sin, 0, 1e-310), 1e-310);
    assert_eq!(one(Func::Cos, 0, -0.0), 1.0);
    for x in [f64::INFINITY, f64::NEG_INFINITY, f64::NAN] {
        assert!(one(Func::Sin, 0, x).is_nan() && one(Func::Cos, 0, x).is_nan());
    }
    for x in [1e22, f64::MAX, -3.0e300] {
        assert_eq!(one(Func::Sin, 0, x), x.sin());
        assert_eq!(one(Func::Cos, 1, x), -x.sin());
    }
}

/// `x.^p` in `f64`, on every instruction set, within 1 ulp of std's `powf`: bases of both signs
/// in every binade, subnormal, near 1 and special; exponents integer and not, small, large and
/// special, and exponents that take the result to the edges of overflow and underflow.
#[test]
fn f64_pow_is_within_one_ulp_of_std() {
    let mut rng = SmallRng::seed_from_u64(16);
    let mut xs = vec![
        0.0f64,
        -0.0,
        1.0,
        -1.0,
        0.5,
        -2.0,
        1e-310,
        -1e-310,
        5e-324,
        f64::MIN_POSITIVE,
        f64::MAX,
        f64::MIN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
    ];
    xs.extend((0..2_000).map(|_| rng.random_range(0.0..10.0)));
    xs.extend((0..2_000).map(|_| f64::from_bits(rng.random::<u64>())));
    xs.extend((0..500).map(|_| 1.0 + rng.random_range(-1e-6..1e-6)));
    xs.extend((0..100).map(|_| f64::from_bits(rng.random_range(1..1u64 << 52))));
    let mut ps = vec![
        0.0f64,
        -0.0,
        0.5,
        -0.5,
        1.0,
        -1.0,
        2.0,
        3.0,
        -3.0,
        1.0 / 3.0,
        1.5,
        -2.7,
        7.25,
        30.5,
        100.0,
        -150.0,
        1e-3,
        1e-300,
        1e10,
        -1e10,
        1e300,
        9_007_199_254_740_993.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
    ];
    ps.extend((0..20).map(|_| rng.random_range(-300.0..300.0)));
    ps.extend((0..10).map(|_| rng.random_range(-300i32..300) as f64));
    let mut failures = Vec::new();
    let mut check = |xs: &[f64], ps: &[f64]| {
        let mut out = vec![0.0f64; xs.len()];
        for isa in isas() {
            pow::pow64_on(isa, xs, ps, &mut out);
            let (worst, x, p, y) = (xs.iter().zip(ps).zip(&out))
                .map(|((&x, &p), &y)| (ulps(y, x.powf(p)), x, p, y))
                .max_by_key(|&(u, ..)| u)
                .unwrap();
            if worst > 1 {
                failures.push(format!(
                    "{x:e}^{p:e} on {isa:?}: {worst} ulp ({y:e}, reference {:e})",
                    x.powf(p)
                ));
            }
        }
    };
    for &p in &ps {
        check(&xs, &vec![p; xs.len()]);
    }
    // Each base with the exponents that take the result near exp(±708), exp(±709.78) (the
    // largest finite) and exp(-745) (the smallest subnormal), on both sides.
    let mut edge_x = Vec::new();
    let mut edge_p = Vec::new();
    for &x in xs
        .iter()
        .filter(|x| x.is_finite() && **x > 0.0 && **x != 1.0)
    {
        for target in [708.0, -708.0, 709.78, -709.78, -720.0, -745.0] {
            for step in [-1e-9, 0.0, 1e-9] {
                edge_x.push(x);
                edge_p.push(target / x.ln() * (1.0 + step));
            }
        }
    }
    check(&edge_x, &edge_p);
    // Random pairs.
    let pairs: Vec<(f64, f64)> = (0..20_000)
        .map(|_| {
            (
                rng.random_range(0.0..100.0),
                rng.random_range(-150.0..150.0),
            )
        })
        .collect();
    let (px, pp): (Vec<f64>, Vec<f64>) = pairs.into_iter().unzip();
    check(&px, &pp);
    assert!(failures.is_empty(), "{failures:#?}");
}
