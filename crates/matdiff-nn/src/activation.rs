//! Element-wise activation functions of dense layers and their derivatives.

use matdiff_expr::Func;
use matdiff_faer::simd;

use crate::real::Real;

/// The activation `g` of a dense layer, `A = g(W*A_prev + b*ones')`.
///
/// ```
/// use matdiff_nn::Activation;
/// assert_eq!(Activation::Relu.apply(-2.0_f64), 0.0);
/// assert_eq!(Activation::Tanh.derivative(0.0_f64), 1.0);
/// assert_eq!(Activation::Softplus.name(), "softplus");
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Activation {
    /// `g(z) = z`.
    Identity,
    /// The logistic function `1 / (1 + exp(-z))`.
    Sigmoid,
    /// `tanh(z)`.
    Tanh,
    /// `max(z, 0)`.
    Relu,
    /// `log(1 + exp(z))`.
    Softplus,
}

impl Activation {
    /// Every activation.
    pub const ALL: [Activation; 5] = [
        Activation::Identity,
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Relu,
        Activation::Softplus,
    ];

    /// The name, as in the expression language (`identity` is not a function there: it is left out).
    pub fn name(self) -> &'static str {
        match self {
            Activation::Identity => "identity",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Relu => "relu",
            Activation::Softplus => "softplus",
        }
    }

    /// The activation of a name written by [`Activation::name`].
    pub fn from_name(name: &str) -> Option<Activation> {
        Activation::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The built-in function of the expression language, `None` for the identity.
    pub fn func(self) -> Option<Func> {
        match self {
            Activation::Identity => None,
            Activation::Sigmoid => Some(Func::Sigmoid),
            Activation::Tanh => Some(Func::Tanh),
            Activation::Relu => Some(Func::Relu),
            Activation::Softplus => Some(Func::Softplus),
        }
    }

    /// `g(z)`.
    #[inline]
    pub fn apply<T: Real>(self, z: T) -> T {
        match self {
            Activation::Identity => z,
            Activation::Sigmoid => sigmoid(z),
            Activation::Tanh => z.tanh(),
            Activation::Relu => relu(z),
            Activation::Softplus => softplus(z),
        }
    }

    /// `g'(z)`.
    #[inline]
    pub fn derivative<T: Real>(self, z: T) -> T {
        match self {
            Activation::Identity => T::ONE,
            Activation::Sigmoid => {
                let s = sigmoid(z);
                s * (T::ONE - s)
            }
            Activation::Tanh => {
                let t = z.tanh();
                T::ONE - t * t
            }
            Activation::Relu => relu_step(z),
            Activation::Softplus => sigmoid(z),
        }
    }

    /// `a[i] = g(z[i])` for every entry.
    pub(crate) fn apply_slice<T: Real>(self, z: &[T], a: &mut [T]) {
        match self {
            Activation::Identity => a.copy_from_slice(z),
            Activation::Sigmoid => simd::apply(Func::Sigmoid, 0, z, a),
            Activation::Tanh => T::tanh_slice(z, a),
            Activation::Relu => map(z, a, relu),
            Activation::Softplus => simd::apply(Func::Softplus, 0, z, a),
        }
    }

    /// `dz[i] = da[i] * g'(z[i])`, in place (`dz` holds `da` on entry); `a = g(z)`.
    pub(crate) fn backprop_slice<T: Real>(self, z: &[T], a: &[T], dz: &mut [T]) {
        matdiff_faer::simd::wide(
            #[inline(always)]
            || match self {
                Activation::Identity => {}
                Activation::Sigmoid => zip3(z, a, dz, |_, a, d| d * (a * (T::ONE - a))),
                Activation::Tanh => zip3(z, a, dz, |_, a, d| d * (T::ONE - a * a)),
                Activation::Relu => zip3(z, a, dz, |z, _, d| d * relu_step(z)),
                Activation::Softplus => zip3(z, a, dz, |z, _, d| d * sigmoid(z)),
            },
        )
    }
}

#[inline]
fn map<T: Real>(z: &[T], a: &mut [T], f: impl Fn(T) -> T) {
    for (a, &z) in a.iter_mut().zip(z) {
        *a = f(z);
    }
}

#[inline]
fn zip3<T: Real>(z: &[T], a: &[T], d: &mut [T], f: impl Fn(T, T, T) -> T) {
    for ((d, &z), &a) in d.iter_mut().zip(z).zip(a) {
        *d = f(z, a, *d);
    }
}

/// The logistic function, without overflow for large `|z|`.
#[inline]
pub(crate) fn sigmoid<T: Real>(z: T) -> T {
    let e = (-z.abs()).exp();
    let r = T::ONE / (T::ONE + e);
    if z >= T::ZERO {
        r
    } else {
        e * r
    }
}

/// `log(1 + exp(z))`, without overflow for large `z`.
#[inline]
pub(crate) fn softplus<T: Real>(z: T) -> T {
    z.max(T::ZERO) + (-z.abs()).exp().ln_1p()
}

#[inline]
fn relu<T: Real>(z: T) -> T {
    if z > T::ZERO {
        z
    } else {
        T::ZERO
    }
}

/// The derivative of relu; 0 at 0 (a subgradient).
#[inline]
fn relu_step<T: Real>(z: T) -> T {
    if z > T::ZERO {
        T::ONE
    } else {
        T::ZERO
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivatives_match_central_differences() {
        let h = 1e-6;
        for act in Activation::ALL {
            for z in [-3.1, -0.7, 0.4, 2.3] {
                let numeric = (act.apply(z + h) - act.apply(z - h)) / (2.0 * h);
                let exact = act.derivative(z);
                assert!(
                    (numeric - exact).abs() < 1e-8,
                    "{act:?} at {z}: {numeric} vs {exact}"
                );
                // The fused backward step computes the same g'(z), from z or from a = g(z).
                let (zs, a_s, mut d) = ([z], [act.apply(z)], [1.0]);
                act.backprop_slice(&zs, &a_s, &mut d);
                assert!((d[0] - exact).abs() < 1e-15, "{act:?} at {z}");
            }
        }
    }

    #[test]
    fn sigmoid_and_softplus_stay_finite_for_large_inputs() {
        for z in [-1e4_f32, 1e4] {
            assert!(sigmoid(z).is_finite() && softplus(z).is_finite());
        }
        assert_eq!(sigmoid(1e4_f64), 1.0);
        assert_eq!(softplus(1e4_f64), 1e4);
        assert_eq!(softplus(-1e4_f64), 0.0);
    }
}
