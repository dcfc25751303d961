//! Saving and loading, training behaviour, optimisers and errors.

use faer::Mat;
use matdiff_nn::{
    digits, Activation, BackwardKind, Dataset, Loss, Network, NnError, Optimizer, TrainConfig,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn random(rows: usize, cols: usize, seed: u64) -> Mat<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    Mat::from_fn(rows, cols, |_, _| rng.random_range(-1.0..1.0))
}

fn small_net(loss: Loss) -> Network<f64> {
    Network::<f64>::builder(5)
        .dense(7, Activation::Softplus)
        .dense(6, Activation::Relu)
        .output(3, loss)
        .seed(3)
        .build()
        .unwrap()
}

#[test]
fn save_then_load_gives_identical_predictions() {
    let x = random(5, 9, 1);
    for loss in Loss::ALL {
        let net = small_net(loss);
        let bytes = net.to_safetensors().unwrap();
        let back = Network::<f64>::from_safetensors(&bytes, BackwardKind::default()).unwrap();
        assert_eq!(back.loss(), loss);
        assert_eq!(
            back.predict(x.as_ref()).unwrap(),
            net.predict(x.as_ref()).unwrap()
        );
    }
    // f32 weights load into an f32 network bit for bit, and into f64 exactly converted.
    let net32 = Network::<f32>::builder(5)
        .dense(4, Activation::Sigmoid)
        .output(2, Loss::SigmoidCrossEntropy)
        .build()
        .unwrap();
    let bytes = net32.to_safetensors().unwrap();
    let back32 = Network::<f32>::from_safetensors(&bytes, BackwardKind::default()).unwrap();
    let x32 = Mat::from_fn(5, 3, |i, j| x[(i, j)] as f32);
    assert_eq!(
        back32.predict(x32.as_ref()).unwrap(),
        net32.predict(x32.as_ref()).unwrap()
    );
    let back64 = Network::<f64>::from_safetensors(&bytes, BackwardKind::default()).unwrap();
    assert_eq!(
        back64.layers()[0].weights()[(1, 2)],
        net32.layers()[0].weights()[(1, 2)] as f64
    );
}

#[test]
fn saved_weights_are_plain_safetensors_in_pytorch_layout() {
    let net = small_net(Loss::SoftmaxCrossEntropy);
    let bytes = net.to_safetensors().unwrap();
    let tensors = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let w = tensors.tensor("layers.1.weight").unwrap();
    assert_eq!(w.shape(), [6, 7]);
    assert_eq!(w.dtype(), safetensors::Dtype::F64);
    // Row-major: entry (i, j) is element i * 7 + j.
    let entry = f64::from_le_bytes(w.data()[8 * (2 * 7 + 5)..][..8].try_into().unwrap());
    assert_eq!(entry, net.layers()[1].weights()[(2, 5)]);
    assert_eq!(tensors.tensor("layers.2.bias").unwrap().shape(), [3]);
}

#[test]
fn loading_garbage_is_an_error() {
    let err = Network::<f64>::from_safetensors(b"not a file", BackwardKind::default()).unwrap_err();
    assert!(matches!(err, NnError::Safetensors(_)), "{err}");
    let empty = safetensors::serialize(
        Vec::<(&str, safetensors::tensor::TensorView<'_>)>::new(),
        None,
    )
    .unwrap();
    let err = Network::<f64>::from_safetensors(&empty, BackwardKind::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "weights: no metadata: not written by matdiff-nn"
    );
}

#[test]
fn shapes_are_checked_with_clear_errors() {
    let net = small_net(Loss::MeanSquaredError);
    let err = net.predict(random(4, 2, 0).as_ref()).unwrap_err();
    assert_eq!(err.to_string(), "inputs: expected 5, found 4");
    let err = net
        .gradients(random(5, 2, 0).as_ref(), random(3, 4, 0).as_ref())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "target columns (examples): expected 2, found 4"
    );
    let err = Network::<f64>::builder(3)
        .dense(4, Activation::Tanh)
        .build()
        .unwrap_err();
    assert!(matches!(err, NnError::NoOutputLayer));
    let err = Network::<f64>::builder(3)
        .dense(0, Activation::Tanh)
        .output(1, Loss::MeanSquaredError)
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "layer 1 has zero units (layer 0 is the input)"
    );
    let config = TrainConfig {
        batch_size: 0,
        ..TrainConfig::default()
    };
    let data = Dataset::new(random(5, 4, 1), random(3, 4, 2)).unwrap();
    let err = small_net(Loss::MeanSquaredError)
        .fit(&data, None, &config)
        .unwrap_err();
    assert!(err.to_string().contains("batch_size"), "{err}");
    let config = TrainConfig {
        optimizer: Optimizer::momentum(0.1, 1.5),
        ..TrainConfig::default()
    };
    let err = small_net(Loss::MeanSquaredError)
        .fit(&data, None, &config)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid training setting `momentum`: 1.5 is not in [0, 1)"
    );
}

#[test]
fn sgd_with_weight_decay_takes_the_textbook_step() {
    let net = small_net(Loss::MeanSquaredError);
    let (x, y) = (random(5, 4, 5), random(3, 4, 6));
    let data = Dataset::new(x.clone(), y.clone()).unwrap();
    let (_, g) = net.gradients(x.as_ref(), y.as_ref()).unwrap();
    let (lr, wd) = (0.3, 0.01);
    let mut trained = net.clone();
    let config = TrainConfig {
        epochs: 1,
        batch_size: 4,
        optimizer: Optimizer::sgd(lr),
        weight_decay: wd,
        seed: 0,
        progress: false,
    };
    trained.fit(&data, None, &config).unwrap();
    for k in 0..net.layers().len() {
        let w = net.layers()[k].weights();
        let expected = w - (&g.weights[k] + w * faer::Scale(wd)) * faer::Scale(lr);
        assert!(
            (trained.layers()[k].weights() - &expected).norm_max() < 1e-14,
            "layer {k}"
        );
        let expected_b = net.layers()[k].bias() - &g.biases[k] * faer::Scale(lr);
        assert!(
            (trained.layers()[k].bias() - &expected_b).norm_max() < 1e-14,
            "layer {k}"
        );
    }
}

#[test]
fn every_optimizer_lowers_the_loss_and_training_is_reproducible() {
    let (x, y) = (random(5, 40, 7), random(3, 40, 8));
    let data = Dataset::new(x.clone(), y.clone()).unwrap();
    for optimizer in [
        Optimizer::sgd(0.05),
        Optimizer::momentum(0.02, 0.9),
        Optimizer::adam(0.01),
    ] {
        let start = small_net(Loss::MeanSquaredError);
        let before = start.loss_value(x.as_ref(), y.as_ref()).unwrap();
        let config = TrainConfig {
            epochs: 15,
            batch_size: 8,
            optimizer,
            weight_decay: 1e-3,
            seed: 4,
            progress: false,
        };
        let mut a = start.clone();
        let history = a.fit(&data, Some(&data), &config).unwrap();
        let after = a.loss_value(x.as_ref(), y.as_ref()).unwrap();
        assert!(after < 0.8 * before, "{optimizer:?}: {before} -> {after}");
        assert_eq!(history.epochs.len(), 15);
        assert_eq!(history.epochs[14].valid.unwrap().loss, after);
        let mut b = start.clone();
        let again = b.fit(&data, Some(&data), &config).unwrap();
        assert_eq!(
            history.epochs.iter().map(|e| e.train).collect::<Vec<_>>(),
            again.epochs.iter().map(|e| e.train).collect::<Vec<_>>()
        );
    }
}

#[test]
fn softmax_cross_entropy_of_huge_logits_is_finite_through_the_network() {
    // Weights of 1e3 on inputs of 10 give logits around 1e4.
    let layers = vec![matdiff_nn::Dense::new(
        Mat::from_fn(3, 2, |i, j| if i == j { 1e3 } else { -1e3 }),
        Mat::zeros(3, 1),
        Activation::Identity,
    )];
    let net =
        Network::from_layers(layers, Loss::SoftmaxCrossEntropy, BackwardKind::default()).unwrap();
    let x = Mat::from_fn(2, 2, |i, j| if i == j { 10.0 } else { 0.0 });
    let y = Mat::from_fn(3, 2, |i, _| if i == 2 { 1.0 } else { 0.0 });
    let (loss, g) = net.gradients(x.as_ref(), y.as_ref()).unwrap();
    assert!(loss.is_finite() && loss > 9e3, "{loss}");
    let g_max: f64 = g.weights[0].norm_max();
    assert!(g_max.is_finite());
    let p = net.predict(x.as_ref()).unwrap();
    assert!(p.col_iter().all(|c| (c.sum() - 1.0_f64).abs() < 1e-12));
}

#[test]
fn a_small_digits_network_learns() {
    let (train, test) = digits::<f32>().split(0.8, 42).unwrap();
    let mut net = Network::<f32>::builder(64)
        .dense(16, Activation::Tanh)
        .output(10, Loss::SoftmaxCrossEntropy)
        .build()
        .unwrap();
    let config = TrainConfig {
        epochs: 4,
        progress: false,
        ..TrainConfig::default()
    };
    let history = net.fit(&train, Some(&test), &config).unwrap();
    let first = history.epochs[0].valid.unwrap();
    let last = history.epochs[3].valid.unwrap();
    assert!(last.loss < first.loss);
    assert!(last.accuracy.unwrap() > 0.85, "{last:?}");
    let svg = history.to_svg().unwrap();
    assert!(svg.contains("validation loss") && svg.contains("</svg>"));
}
