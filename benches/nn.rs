//! Training throughput of matdiff-nn, derived backward side by side with the hand-written faer
//! backward, in the set-up of `shared/baselines/mlp.py`: tanh hidden layer, softmax cross-entropy,
//! SGD with learning rate 0.1, Glorot initialisation.
//!
//! - `digits_mb64`: 64-128-10 on the 1797 digits, minibatch 64, 20 epochs per iteration;
//! - `synthetic_mb128`: 784-512-10 on 60,000 random examples (uniform inputs, random labels),
//!   minibatch 128, one epoch per iteration.
//!
//! Throughput is in examples per second (epochs * examples / time of the whole run, shuffling,
//! batch gathering and per-step loss included). `cargo bench -p matdiff-benches --bench nn`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use faer::Mat;
use matdiff_nn::{
    digits, Activation, BackwardKind, Dataset, Loss, Network, Optimizer, Real, TrainConfig,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const KINDS: [(&str, BackwardKind); 2] = [
    ("derived", BackwardKind::Derived),
    ("hand_written", BackwardKind::HandWritten),
];

fn network<T: Real>(inputs: usize, hidden: usize, kind: BackwardKind) -> Network<T> {
    Network::<T>::builder(inputs)
        .dense(hidden, Activation::Tanh)
        .output(10, Loss::SoftmaxCrossEntropy)
        .seed(0)
        .backward(kind)
        .build()
        .expect("a valid network")
}

fn config(epochs: usize, batch_size: usize) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size,
        optimizer: Optimizer::sgd(0.1),
        weight_decay: 0.0,
        seed: 7,
        progress: false,
    }
}

fn synthetic<T: Real>() -> Dataset<T> {
    let (n, d) = (60_000, 784);
    let mut rng = StdRng::seed_from_u64(2024);
    let inputs = Mat::from_fn(d, n, |_, _| T::from_f64(rng.random::<f64>()));
    let labels: Vec<usize> = (0..n).map(|_| rng.random_range(0..10)).collect();
    Dataset::from_labels(inputs, &labels, 10).expect("labels below 10")
}

fn train<T: Real>(
    c: &mut Criterion,
    name: &str,
    data: &Dataset<T>,
    hidden: usize,
    epochs: usize,
    batch: usize,
) {
    let mut group = c.benchmark_group(format!("nn/{name}/{}", T::DTYPE_NAME.to_lowercase()));
    group.throughput(Throughput::Elements((epochs * data.len()) as u64));
    if data.len() > 10_000 {
        group
            .sample_size(10)
            .measurement_time(Duration::from_secs(12));
    }
    for (label, kind) in KINDS {
        let start = network::<T>(data.inputs().nrows(), hidden, kind);
        let config = config(epochs, batch);
        group.bench_function(BenchmarkId::from_parameter(label), |b| {
            b.iter(|| {
                let mut net = start.clone();
                let history = net.fit(data, None, &config).expect("training runs");
                black_box(history.epochs.last().map(|e| e.train.loss))
            })
        });
    }
    group.finish();
}

fn digits_mb64(c: &mut Criterion) {
    train(c, "digits_mb64", &digits::<f32>(), 128, 20, 64);
    train(c, "digits_mb64", &digits::<f64>(), 128, 20, 64);
}

fn synthetic_mb128(c: &mut Criterion) {
    train(c, "synthetic_mb128", &synthetic::<f32>(), 512, 1, 128);
    train(c, "synthetic_mb128", &synthetic::<f64>(), 512, 1, 128);
}

criterion_group!(benches, digits_mb64, synthetic_mb128);
criterion_main!(benches);
