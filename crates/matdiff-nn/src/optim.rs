//! Optimisers: SGD, SGD with momentum, Adam; L2 weight decay is added to the weights' gradients.

use faer::Mat;

use crate::error::NnError;
use crate::kernels::{col, col_mut};
use crate::network::{Gradients, Network};
use crate::real::Real;

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
                &mut layer.weights,
                &grads.weights[k],
                self.weight_decay,
                self.first.as_mut().map(|g| &mut g.weights[k]),
                self.second.as_mut().map(|g| &mut g.weights[k]),
            );
            update(
                optimizer,
                steps,
                &mut layer.bias,
                &grads.biases[k],
                T::ZERO,
                self.first.as_mut().map(|g| &mut g.biases[k]),
                self.second.as_mut().map(|g| &mut g.biases[k]),
            );
        }
    }
}

/// Updates one parameter matrix from its gradient and its slots of optimiser state.
fn update<T: Real>(
    optimizer: Optimizer,
    steps: i32,
    param: &mut Mat<T>,
    grad: &Mat<T>,
    wd: T,
    mut first: Option<&mut Mat<T>>,
    mut second: Option<&mut Mat<T>>,
) {
    for j in 0..param.ncols() {
        let p = col_mut(param.as_mut(), j);
        let g = col(grad.as_ref(), j);
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
                let v = col_mut(first.as_deref_mut().expect("velocity").as_mut(), j);
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
                let m = col_mut(first.as_deref_mut().expect("first moment").as_mut(), j);
                let v = col_mut(second.as_deref_mut().expect("second moment").as_mut(), j);
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
