//! Losses fused with the output layer's link: mean squared error, sigmoid with binary cross-entropy,
//! softmax with cross-entropy. Each gives the gradient with respect to the last pre-activation `Z`.

use faer::prelude::ReborrowMut;
use faer::{MatMut, MatRef};

use crate::activation::{sigmoid, softplus};
use crate::kernels::{col, col_mut};
use crate::real::Real;

/// The loss of a network, applied to the last layer's pre-activation `Z` (one example per column)
/// and the targets `Y` of the same shape. Every loss is averaged over the `N` examples of a batch,
/// and its gradient with respect to `Z` is `(P - Y) / N`, where `P` is the prediction.
///
/// ```
/// use faer::mat;
/// use matdiff_nn::Loss;
/// let z = mat![[1e4_f64, 0.0], [0.0, 1e4]];
/// let y = mat![[0.0, 0.0], [1.0, 1.0]];
/// // Stable for large logits: the first example is confidently wrong by 1e4 nats.
/// assert_eq!(Loss::SoftmaxCrossEntropy.value(z.as_ref(), y.as_ref()), 5e3);
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Loss {
    /// `L = ||Z - Y||^2 / (2N)`; the prediction is `Z`.
    MeanSquaredError,
    /// Binary cross-entropy of `P = sigmoid(Z)` against targets in `[0, 1]`, computed from `Z` as
    /// `sum(softplus(Z) - Y .* Z) / N`; every entry is one binary decision.
    SigmoidCrossEntropy,
    /// Cross-entropy of `P = softmax(Z)` (per column) against target distributions (one-hot
    /// columns for labels), computed as `sum_j (logsumexp(z_j) - y_j' z_j) / N`.
    SoftmaxCrossEntropy,
}

/// Sum of per-example losses, and correct predictions out of the decisions counted.
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub(crate) struct BatchScore {
    pub(crate) loss_sum: f64,
    pub(crate) correct: usize,
    pub(crate) decisions: usize,
}

impl Loss {
    /// Every loss.
    pub const ALL: [Loss; 3] = [
        Loss::MeanSquaredError,
        Loss::SigmoidCrossEntropy,
        Loss::SoftmaxCrossEntropy,
    ];

    /// A stable name, used in saved weights: `mse`, `sigmoid_cross_entropy`, `softmax_cross_entropy`.
    pub fn name(self) -> &'static str {
        match self {
            Loss::MeanSquaredError => "mse",
            Loss::SigmoidCrossEntropy => "sigmoid_cross_entropy",
            Loss::SoftmaxCrossEntropy => "softmax_cross_entropy",
        }
    }

    /// The loss of a name written by [`Loss::name`].
    pub fn from_name(name: &str) -> Option<Loss> {
        Loss::ALL.into_iter().find(|l| l.name() == name)
    }

    /// Whether predictions are classifications, so that an accuracy is measured.
    pub fn classifies(self) -> bool {
        !matches!(self, Loss::MeanSquaredError)
    }

    /// The mean loss of the pre-activations `z` against the targets `y` (same shape).
    ///
    /// # Panics
    /// If the shapes differ.
    pub fn value<T: Real>(self, z: MatRef<'_, T>, y: MatRef<'_, T>) -> f64 {
        assert_eq!(
            z.shape(),
            y.shape(),
            "loss: logits and targets differ in shape"
        );
        let n = z.ncols().max(1) as f64;
        let mut total = 0.0;
        for j in 0..z.ncols() {
            let zc: Vec<T> = z.col(j).iter().copied().collect();
            let yc: Vec<T> = y.col(j).iter().copied().collect();
            total += self.column(&zc, &yc);
        }
        total / n
    }

    /// Turns pre-activations into predictions in place: unchanged, `sigmoid`, or `softmax` per column.
    pub(crate) fn predict_in_place<T: Real>(self, mut z: MatMut<'_, T>) {
        for j in 0..z.ncols() {
            let col = col_mut(z.rb_mut(), j);
            match self {
                Loss::MeanSquaredError => {}
                Loss::SigmoidCrossEntropy => {
                    for v in col.iter_mut() {
                        *v = sigmoid(*v);
                    }
                }
                Loss::SoftmaxCrossEntropy => {
                    let max = col.iter().fold(col[0], |m, &v| m.max(v));
                    let mut sum = T::ZERO;
                    for v in col.iter_mut() {
                        *v = (*v - max).exp();
                        sum += *v;
                    }
                    let inv = T::ONE / sum;
                    for v in col.iter_mut() {
                        *v *= inv;
                    }
                }
            }
        }
    }

    /// Writes `dz = (P - Y) * scale` (contiguous columns) and scores the batch.
    pub(crate) fn gradient<T: Real>(
        self,
        z: MatRef<'_, T>,
        y: MatRef<'_, T>,
        mut dz: MatMut<'_, T>,
        scale: T,
    ) -> BatchScore {
        let mut score = BatchScore::default();
        let mut shifted = Vec::with_capacity(z.nrows());
        matdiff_faer::simd::wide(
            #[inline(always)]
            || {
                for j in 0..z.ncols() {
                    let (zc, yc, dc) = (col(z, j), col(y, j), col_mut(dz.rb_mut(), j));
                    if self != Loss::SoftmaxCrossEntropy {
                        score.loss_sum += self.column(zc, yc);
                    }
                    match self {
                        Loss::MeanSquaredError => {
                            for ((d, &z), &y) in dc.iter_mut().zip(zc).zip(yc) {
                                *d = (z - y) * scale;
                            }
                        }
                        Loss::SigmoidCrossEntropy => {
                            for ((d, &z), &y) in dc.iter_mut().zip(zc).zip(yc) {
                                *d = (sigmoid(z) - y) * scale;
                                score.correct +=
                                    usize::from((z > T::ZERO) == (y > T::from_f64(0.5)));
                            }
                            score.decisions += zc.len();
                        }
                        Loss::SoftmaxCrossEntropy => {
                            let max = zc.iter().fold(zc[0], |m, &v| m.max(v));
                            shifted.clear();
                            shifted.extend(zc.iter().map(|&z| z - max));
                            T::exp_slice(&shifted, dc);
                            let sum = dc.iter().fold(T::ZERO, |sum, &d| sum + d);
                            let inv = scale / sum;
                            for (d, &y) in dc.iter_mut().zip(yc) {
                                *d = *d * inv - y * scale;
                            }
                            // The loss from the same sum: sum_i y_i (max + log(sum) - z_i).
                            let lse = max.to_f64() + sum.to_f64().ln();
                            score.loss_sum += zc
                                .iter()
                                .zip(yc)
                                .map(|(&z, &y)| y.to_f64() * (lse - z.to_f64()))
                                .sum::<f64>();
                            score.correct += usize::from(argmax(zc) == argmax(yc));
                            score.decisions += 1;
                        }
                    }
                }
            },
        );
        score
    }

    /// The loss of one column (one example).
    fn column<T: Real>(self, z: &[T], y: &[T]) -> f64 {
        let (z, y) = (z.iter().copied(), y.iter().copied());
        match self {
            Loss::MeanSquaredError => {
                z.zip(y).map(|(z, y)| (z - y).to_f64().powi(2)).sum::<f64>() / 2.0
            }
            Loss::SigmoidCrossEntropy => {
                z.zip(y).map(|(z, y)| (softplus(z) - y * z).to_f64()).sum()
            }
            Loss::SoftmaxCrossEntropy => {
                let max = z.clone().fold(f64::NEG_INFINITY, |m, v| m.max(v.to_f64()));
                let lse = max
                    + z.clone()
                        .map(|v| (v.to_f64() - max).exp())
                        .sum::<f64>()
                        .ln();
                z.zip(y).map(|(z, y)| y.to_f64() * (lse - z.to_f64())).sum()
            }
        }
    }
}

/// Index of the first largest entry.
pub(crate) fn argmax<T: Real>(xs: &[T]) -> usize {
    let mut best = 0;
    for (i, &x) in xs.iter().enumerate() {
        if x > xs[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::Mat;

    #[test]
    fn softmax_cross_entropy_is_finite_for_logits_of_1e4() {
        let z = Mat::from_fn(3, 2, |i, j| if i == j { 1e4_f32 } else { -1e4 });
        let y = Mat::from_fn(3, 2, |i, _| if i == 2 { 1.0_f32 } else { 0.0 });
        let value = Loss::SoftmaxCrossEntropy.value(z.as_ref(), y.as_ref());
        // Each example puts 1e4 on a wrong class and -1e4 on the right one: 2e4 nats each.
        assert!(value.is_finite());
        assert!((value - 2e4).abs() < 1e-3, "{value}");
        let mut dz = Mat::zeros(3, 2);
        let score = Loss::SoftmaxCrossEntropy.gradient(z.as_ref(), y.as_ref(), dz.as_mut(), 0.5);
        assert!(dz
            .col_iter()
            .flat_map(|c| c.iter().copied())
            .all(f32::is_finite));
        assert_eq!(dz[(0, 0)], 0.5);
        assert_eq!(dz[(2, 0)], -0.5);
        assert!((score.loss_sum - 4e4).abs() < 1e-3);
        assert_eq!(score.correct, 0);
    }

    #[test]
    fn sigmoid_cross_entropy_is_finite_for_logits_of_1e4() {
        let z = Mat::from_fn(2, 1, |i, _| if i == 0 { 1e4_f64 } else { -1e4 });
        let y = Mat::from_fn(2, 1, |_, _| 1.0_f64);
        assert_eq!(Loss::SigmoidCrossEntropy.value(z.as_ref(), y.as_ref()), 1e4);
    }
}
