//! Optimisers: SGD, SGD with momentum, Adam; L2 weight decay is added to the weights' gradients.

use faer::prelude::ReborrowMut;
use faer::{MatMut, MatRef};

use crate::error::NnError;
use crate::kernels::{col, col_mut};
use crate::network::{Gradients, Network};
use crate::real::Real;
use matdiff_faer::simd::wide;

/// How parameters follow their gradients.
///
/// ```
/// use matdiff_nn::Optimizer;
/// assert_eq!(Optimizer::sgd(0.1), Optimizer::Sgd { learning_rate: 0.1 });
/// assert!(matches!(Optimizer::adam(1e-3), Optimizer::Adam { beta1, .. } if beta1 == 0.9));
/// ```
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum Optimizer {
    /// `p -= lr * g`.
    Sgd {
        /// The step size.
        learning_rate: f64,
    },
    /// Heavy ball: `v = momentum * v + g`, `p -= lr * v`.
    Momentum {
        /// The step size.
        learning_rate: f64,
        /// The decay of the velocity, in `[0, 1)`.
        momentum: f64,
    },
    /// Adam (Kingma and Ba), with bias correction.
    Adam {
        /// The step size.
        learning_rate: f64,
        /// Decay of the first moment, in `[0, 1)`.
        beta1: f64,
        /// Decay of the second moment, in `[0, 1)`.
        beta2: f64,
        /// Added to the root of the second moment.
        epsilon: f64,
    },
}

impl Optimizer {
    /// Plain stochastic gradient descent.
    pub fn sgd(learning_rate: f64) -> Self {
        Optimizer::Sgd { learning_rate }
    }

    /// SGD with momentum.
    pub fn momentum(learning_rate: f64, momentum: f64) -> Self {
        Optimizer::Momentum {
            learning_rate,
            momentum,
        }
    }

    /// Adam with the usual `beta1 = 0.9`, `beta2 = 0.999`, `epsilon = 1e-8`.
    pub fn adam(learning_rate: f64) -> Self {
        Optimizer::Adam {
            learning_rate,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
        }
    }

    pub(crate) fn validate(self) -> Result<(), NnError> {
        let (lr, decays): (f64, &[(&'static str, f64)]) = match self {
            Optimizer::Sgd { learning_rate } => (learning_rate, &[]),
            Optimizer::Momentum {
                learning_rate,
                momentum,
            } => (learning_rate, &[("momentum", momentum)]),
            Optimizer::Adam {
                learning_rate,
                beta1,
                beta2,
                epsilon,
            } => {
                if !(epsilon > 0.0 && epsilon.is_finite()) {
                    return Err(invalid("epsilon", format!("{epsilon} is not positive")));
                }
                (learning_rate, &[("beta1", beta1), ("beta2", beta2)])
            }
        };
        if !(lr > 0.0 && lr.is_finite()) {
            return Err(invalid("learning_rate", format!("{lr} is not positive")));
        }
        for &(name, value) in decays {
            if !(0.0..1.0).contains(&value) {
                return Err(invalid(name, format!("{value} is not in [0, 1)")));
            }
        }
        Ok(())
    }
}

fn invalid(setting: &'static str, reason: String) -> NnError {
    NnError::InvalidSetting { setting, reason }
}

/// The optimiser's memory: velocities or moments, shaped like the parameters.
#[derive(Clone, Debug)]
pub(crate) struct OptimizerState<T: Real> {
    optimizer: Optimizer,
    weight_decay: T,
    steps: i32,
    first: Option<Gradients<T>>,
    second: Option<Gradients<T>>,
}

impl<T: Real> OptimizerState<T> {
    pub(crate) fn new(network: &Network<T>, optimizer: Optimizer, weight_decay: f64) -> Self {
        let zeros = || Some(Gradients::zeros_like(network));
        let (first, second) = match optimizer {
            Optimizer::Sgd { .. } => (None, None),
            Optimizer::Momentum { .. } => (zeros(), None),
            Optimizer::Adam { .. } => (zeros(), zeros()),
        };
        OptimizerState {
            optimizer,
            weight_decay: T::from_f64(weight_decay),
            steps: 0,
            first,
            second,
        }
    }

    /// One step on every parameter; L2 decay `weight_decay * W` joins the weights' gradients.
    pub(crate) fn step(&mut self, network: &mut Network<T>, grads: &Gradients<T>) {
        self.steps = self.steps.saturating_add(1);
        let (optimizer, steps) = (self.optimizer, self.steps);
        for (k, layer) in network.layers.iter_mut().enumerate() {
            update(
                optimizer,
                steps,
                layer.weights.as_mut(),
                grads.weights[k].as_ref(),
                self.weight_decay,
                self.first.as_mut().map(|g| g.weights[k].as_mut()),
                self.second.as_mut().map(|g| g.weights[k].as_mut()),
            );
            update(
                optimizer,
                steps,
                layer.bias.as_mut(),
                grads.biases[k].as_ref(),
                T::ZERO,
                self.first.as_mut().map(|g| g.biases[k].as_mut()),
                self.second.as_mut().map(|g| g.biases[k].as_mut()),
            );
        }
    }
}

/// Parameter matrices of at least this many entries are updated in two halves of columns on
/// two threads (every entry by the same operations, so the result does not depend on the split).
const PARALLEL_UPDATE_FROM: usize = 1 << 16;

/// Updates one parameter matrix from its gradient and its slots of optimiser state.
fn update<T: Real>(
    optimizer: Optimizer,
    steps: i32,
    param: MatMut<'_, T>,
    grad: MatRef<'_, T>,
    wd: T,
    first: Option<MatMut<'_, T>>,
    second: Option<MatMut<'_, T>>,
) {
    let cols = param.ncols();
    if cols >= 2 && param.nrows() * cols >= PARALLEL_UPDATE_FROM {
        let at = cols / 2;
        let (pa, pb) = param.split_at_col_mut(at);
        let (ga, gb) = grad.split_at_col(at);
        let (fa, fb) = split(first, at);
        let (sa, sb) = split(second, at);
        rayon::join(
            || update(optimizer, steps, pa, ga, wd, fa, sa),
            || update(optimizer, steps, pb, gb, wd, fb, sb),
        );
        return;
    }
    wide(
        #[inline(always)]
        || update_columns(optimizer, steps, param, grad, wd, first, second),
    );
}

/// [`update`] column by column, on one thread.
#[inline(always)]
fn update_columns<T: Real>(
    optimizer: Optimizer,
    steps: i32,
    mut param: MatMut<'_, T>,
    grad: MatRef<'_, T>,
    wd: T,
    mut first: Option<MatMut<'_, T>>,
    mut second: Option<MatMut<'_, T>>,
) {
    for j in 0..param.ncols() {
        let p = col_mut(param.rb_mut(), j);
        let g = col(grad, j);
        match optimizer {
            Optimizer::Sgd { learning_rate } => {
                let lr = T::from_f64(learning_rate);
                for (p, &g) in p.iter_mut().zip(g) {
                    *p -= lr * (g + wd * *p);
                }
            }
            Optimizer::Momentum {
                learning_rate,
                momentum,
            } => {
                let (lr, mu) = (T::from_f64(learning_rate), T::from_f64(momentum));
                let v = col_mut(first.as_mut().expect("velocity").rb_mut(), j);
                for ((p, &g), v) in p.iter_mut().zip(g).zip(v) {
                    *v = mu * *v + (g + wd * *p);
                    *p -= lr * *v;
                }
            }
            Optimizer::Adam {
                learning_rate,
                beta1,
                beta2,
                epsilon,
            } => {
                let step =
                    learning_rate * (1.0 - beta2.powi(steps)).sqrt() / (1.0 - beta1.powi(steps));
                let (step, eps) = (T::from_f64(step), T::from_f64(epsilon));
                let (b1, b2) = (T::from_f64(beta1), T::from_f64(beta2));
                let m = col_mut(first.as_mut().expect("first moment").rb_mut(), j);
                let v = col_mut(second.as_mut().expect("second moment").rb_mut(), j);
                for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m).zip(v) {
                    let g = g + wd * *p;
                    *m = b1 * *m + (T::ONE - b1) * g;
                    *v = b2 * *v + (T::ONE - b2) * g * g;
                    *p -= step * *m / (v.sqrt() + eps);
                }
            }
        }
    }
}

/// An optional slot of optimiser state cut at column `at`.
fn split<T>(m: Option<MatMut<'_, T>>, at: usize) -> (Option<MatMut<'_, T>>, Option<MatMut<'_, T>>) {
    match m {
        Some(m) => {
            let (a, b) = m.split_at_col_mut(at);
            (Some(a), Some(b))
        }
        None => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::Mat;

    /// A large matrix updated in halves on two threads gets the bits of column-by-column updates
    /// on one, with every optimiser and weight decay.
    #[test]
    fn large_updates_split_over_threads_give_the_bits_of_one_column_at_a_time() {
        let (rows, cols) = (301, 257);
        assert!(rows * cols >= PARALLEL_UPDATE_FROM);
        let at = |s: f64| {
            Mat::<f32>::from_fn(rows, cols, |i, j| {
                ((i * 31 + j * 17) as f64 * s).sin() as f32
            })
        };
        for optimizer in [
            Optimizer::sgd(0.1),
            Optimizer::momentum(0.05, 0.9),
            Optimizer::adam(0.01),
        ] {
            let wd = 0.01;
            let grad = at(0.37);
            let (mut split, mut first, mut second) = (at(0.11), at(0.23), at(0.05).map(|v| v * v));
            let (mut by_col, mut first_c, mut second_c) =
                (split.clone(), first.clone(), second.clone());
            for steps in 1..=3 {
                update(
                    optimizer,
                    steps,
                    split.as_mut(),
                    grad.as_ref(),
                    wd,
                    Some(first.as_mut()),
                    Some(second.as_mut()),
                );
                for j in 0..cols {
                    update(
                        optimizer,
                        steps,
                        by_col.as_mut().subcols_mut(j, 1),
                        grad.as_ref().subcols(j, 1),
                        wd,
                        Some(first_c.as_mut().subcols_mut(j, 1)),
                        Some(second_c.as_mut().subcols_mut(j, 1)),
                    );
                }
            }
            assert!(
                split == by_col && first == first_c && second == second_c,
                "{optimizer:?}"
            );
            assert!(split != at(0.11), "{optimizer:?} moved the parameters");
        }
    }
}
