//! The whole network's gradient against central differences (f64), for every activation and loss.

use faer::Mat;
use matdiff_nn::{Activation, BackwardKind, Gradients, Loss, Network};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const INPUTS: usize = 4;
const OUTPUTS: usize = 3;
const EXAMPLES: usize = 5;

/// Random targets fitting the loss: reals, probabilities, or distributions over the outputs.
fn targets(loss: Loss, rng: &mut StdRng) -> Mat<f64> {
    let mut y = Mat::from_fn(OUTPUTS, EXAMPLES, |_, _| rng.random_range(0.05..1.0));
    match loss {
        Loss::MeanSquaredError => {
            y = Mat::from_fn(OUTPUTS, EXAMPLES, |_, _| rng.random_range(-2.0..2.0))
        }
        Loss::SigmoidCrossEntropy => {}
        Loss::SoftmaxCrossEntropy => {
            for j in 0..EXAMPLES {
                let s: f64 = (0..OUTPUTS).map(|i| y[(i, j)]).sum();
                for i in 0..OUTPUTS {
                    y[(i, j)] /= s;
                }
            }
        }
    }
    y
}

/// The network with its parameter `(layer, is_bias, i, j)` moved by `delta`.
fn nudged(
    net: &Network<f64>,
    layer: usize,
    bias: bool,
    i: usize,
    j: usize,
    delta: f64,
) -> Network<f64> {
    let mut net = net.clone();
    if bias {
        net.bias_mut(layer)[(i, j)] += delta;
    } else {
        net.weights_mut(layer)[(i, j)] += delta;
    }
    net
}

fn central_differences(net: &Network<f64>, x: &Mat<f64>, y: &Mat<f64>) -> Gradients<f64> {
    let h = 1e-5;
    let mut g = Gradients::zeros_like(net);
    for (k, layer) in net.layers().iter().enumerate() {
        for bias in [false, true] {
            let (rows, cols) = if bias {
                (layer.outputs(), 1)
            } else {
                (layer.outputs(), layer.inputs())
            };
            for i in 0..rows {
                for j in 0..cols {
                    let f = |d| {
                        nudged(net, k, bias, i, j, d)
                            .loss_value(x.as_ref(), y.as_ref())
                            .unwrap()
                    };
                    let slope = (f(h) - f(-h)) / (2.0 * h);
                    if bias {
                        g.biases[k][(i, j)] = slope;
                    } else {
                        g.weights[k][(i, j)] = slope;
                    }
                }
            }
        }
    }
    g
}

fn assert_close(what: &str, exact: &Mat<f64>, numeric: &Mat<f64>) {
    let scale = numeric.norm_max().max(1e-3);
    let err = (exact - numeric).norm_max();
    assert!(
        err <= 1e-6 * scale,
        "{what}: max error {err:e} (scale {scale:e})\nexact {exact:?}\nnumeric {numeric:?}"
    );
}

fn assert_same<T: matdiff_nn::Real>(what: &str, a: &Mat<T>, b: &Mat<T>, tol: f64) {
    let diff: T = (a - b).norm_max();
    let scale: T = b.norm_max();
    assert!(
        diff.to_f64() <= tol * scale.to_f64().max(1e-300),
        "{what}: differ by {diff} (scale {scale})"
    );
}

#[test]
fn derived_backward_equals_hand_written_in_f32_on_digits_sizes() {
    let data = matdiff_nn::digits::<f32>();
    let columns: Vec<usize> = (0..64).collect();
    let batch = data.select(&columns);
    for activation in Activation::ALL {
        let net = Network::<f32>::builder(64)
            .dense(32, activation)
            .dense(16, activation)
            .output(10, Loss::SoftmaxCrossEntropy)
            .seed(5)
            .build()
            .unwrap();
        let (_, hand) = net
            .gradients_by(BackwardKind::HandWritten, batch.inputs(), batch.targets())
            .unwrap();
        let (_, derived) = net
            .gradients_by(BackwardKind::Derived, batch.inputs(), batch.targets())
            .unwrap();
        for k in 0..3 {
            assert_same(
                &format!("{activation:?} dW{k}"),
                &derived.weights[k],
                &hand.weights[k],
                1e-5,
            );
            assert_same(
                &format!("{activation:?} db{k}"),
                &derived.biases[k],
                &hand.biases[k],
                1e-5,
            );
        }
    }
}

#[test]
fn every_activation_and_loss_matches_central_differences() {
    let mut rng = StdRng::seed_from_u64(11);
    for loss in Loss::ALL {
        for activation in Activation::ALL {
            // Two hidden layers of the activation (non-square weights), then the linear output.
            let net = Network::<f64>::builder(INPUTS)
                .dense(6, activation)
                .dense(5, activation)
                .output(OUTPUTS, loss)
                .seed(rng.random())
                .build()
                .unwrap();
            // Non-zero biases, so that relu's kinks and the bias gradients are exercised.
            let layers = net
                .layers()
                .iter()
                .map(|l| {
                    let b = Mat::from_fn(l.outputs(), 1, |_, _| rng.random_range(-0.5..0.5));
                    matdiff_nn::Dense::new(l.weights().to_owned(), b, l.activation())
                })
                .collect();
            let net = Network::from_layers(layers, loss, BackwardKind::HandWritten).unwrap();
            let x = Mat::from_fn(INPUTS, EXAMPLES, |_, _| rng.random_range(-1.5..1.5));
            let y = targets(loss, &mut rng);
            let numeric = central_differences(&net, &x, &y);
            let (value, exact) = net.gradients(x.as_ref(), y.as_ref()).unwrap();
            assert!((value - net.loss_value(x.as_ref(), y.as_ref()).unwrap()).abs() < 1e-12);
            for k in 0..net.layers().len() {
                let what = format!("{loss:?} / {activation:?}: layer {k}");
                assert_close(
                    &format!("{what} dW"),
                    &exact.weights[k],
                    &numeric.weights[k],
                );
                assert_close(&format!("{what} db"), &exact.biases[k], &numeric.biases[k]);
            }
        }
    }
}
