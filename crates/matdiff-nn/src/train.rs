//! Training: minibatches with seeded shuffling, metrics per epoch, a progress bar on a terminal.

use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::data::Dataset;
use crate::error::NnError;
use crate::loss::BatchScore;
use crate::network::{Gradients, Network, Tape};
use crate::optim::{Optimizer, OptimizerState};
use crate::real::Real;

/// Settings of [`Network::fit`].
///
/// ```
/// use matdiff_nn::{Optimizer, TrainConfig};
/// let config = TrainConfig { epochs: 5, optimizer: Optimizer::adam(1e-3), ..TrainConfig::default() };
/// assert_eq!(config.batch_size, 64);
/// ```
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct TrainConfig {
    /// Passes over the training set.
    pub epochs: usize,
    /// Examples per step (the last batch of an epoch may be smaller).
    pub batch_size: usize,
    /// The optimiser.
    pub optimizer: Optimizer,
    /// L2 weight decay `lambda`: `lambda/2 * ||W||^2` is added to the loss of every weight matrix
    /// (not the biases).
    pub weight_decay: f64,
    /// Seed of the shuffling of the examples, reshuffled every epoch.
    pub seed: u64,
    /// Shows a progress bar when standard error is a terminal.
    pub progress: bool,
}

impl Default for TrainConfig {
    /// 20 epochs of minibatches of 64, SGD with learning rate 0.1, no decay, seed 0, progress bar.
    fn default() -> Self {
        TrainConfig {
            epochs: 20,
            batch_size: 64,
            optimizer: Optimizer::sgd(0.1),
            weight_decay: 0.0,
            seed: 0,
            progress: true,
        }
    }
}

/// Mean loss, and accuracy for classifying losses.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Metrics {
    /// Mean loss per example.
    pub loss: f64,
    /// Fraction of correct decisions (`None` for mean squared error).
    pub accuracy: Option<f64>,
}

impl Metrics {
    fn from_score(score: BatchScore, examples: usize, classifies: bool) -> Self {
        Metrics {
            loss: score.loss_sum / examples.max(1) as f64,
            accuracy: classifies.then(|| score.correct as f64 / score.decisions.max(1) as f64),
        }
    }
}

/// The metrics of one epoch.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct EpochMetrics {
    /// 1-based epoch number.
    pub epoch: usize,
    /// On the training set, averaged over the epoch's steps as they were taken.
    pub train: Metrics,
    /// On the validation set after the epoch, when one was given.
    pub valid: Option<Metrics>,
    /// Seconds since training started.
    pub seconds: f64,
}

/// Metrics of every epoch of a training run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    /// One entry per epoch, in order.
    pub epochs: Vec<EpochMetrics>,
}

/// Trains a network step by step: minibatch buffers, gradients and optimiser state.
#[derive(Debug)]
pub struct Trainer<T: Real> {
    config: TrainConfig,
    tape: Tape<T>,
    grads: Gradients<T>,
    state: OptimizerState<T>,
    rng: StdRng,
    order: Vec<usize>,
}

impl<T: Real> Trainer<T> {
    /// A trainer for `network` with the given settings.
    pub fn new(network: &Network<T>, config: TrainConfig) -> Result<Self, NnError> {
        config.optimizer.validate()?;
        if config.batch_size == 0 {
            return Err(NnError::InvalidSetting {
                setting: "batch_size",
                reason: "must be at least 1".into(),
            });
        }
        if !(config.weight_decay >= 0.0 && config.weight_decay.is_finite()) {
            return Err(NnError::InvalidSetting {
                setting: "weight_decay",
                reason: format!(
                    "{} is not a finite non-negative number",
                    config.weight_decay
                ),
            });
        }
        Ok(Trainer {
            config,
            tape: Tape::new(network, config.batch_size),
            grads: Gradients::zeros_like(network),
            state: OptimizerState::new(network, config.optimizer, config.weight_decay),
            rng: StdRng::seed_from_u64(config.seed),
            order: Vec::new(),
        })
    }

    /// One epoch over `data` in a freshly shuffled order; `on_step` is called after every step.
    pub fn epoch(
        &mut self,
        network: &mut Network<T>,
        data: &Dataset<T>,
        mut on_step: impl FnMut(),
    ) -> Result<Metrics, NnError> {
        network.check_inputs(data.inputs(), Some(data.targets()))?;
        self.order.clear();
        self.order.extend(0..data.len());
        self.order.shuffle(&mut self.rng);
        let mut total = BatchScore::default();
        let kind = network.backward_kind();
        for start in (0..data.len()).step_by(self.config.batch_size) {
            let end = (start + self.config.batch_size).min(data.len());
            let n = self
                .tape
                .gather(data.inputs(), data.targets(), &self.order[start..end]);
            let score = self
                .tape
                .forward_backward(network, kind, n, n, &mut self.grads)?;
            self.state.step(network, &self.grads);
            total.loss_sum += score.loss_sum;
            total.correct += score.correct;
            total.decisions += score.decisions;
            on_step();
        }
        Ok(Metrics::from_score(
            total,
            data.len(),
            network.loss.classifies(),
        ))
    }
}

impl<T: Real> Network<T> {
    /// Trains on `train` for `config.epochs` epochs; after each epoch measures `valid` if given.
    ///
    /// ```
    /// use matdiff_nn::{digits, Activation, Loss, Network, TrainConfig};
    /// let data = digits::<f32>();
    /// let (train, valid) = data.split(0.8, 1).unwrap();
    /// let mut net = Network::<f32>::builder(64)
    ///     .dense(32, Activation::Tanh)
    ///     .output(10, Loss::SoftmaxCrossEntropy)
    ///     .build()
    ///     .unwrap();
    /// let config = TrainConfig { epochs: 2, ..TrainConfig::default() };
    /// let history = net.fit(&train, Some(&valid), &config).unwrap();
    /// assert_eq!(history.epochs.len(), 2);
    /// assert!(history.epochs[1].valid.unwrap().accuracy.unwrap() > 0.5);
    /// ```
    pub fn fit(
        &mut self,
        train: &Dataset<T>,
        valid: Option<&Dataset<T>>,
        config: &TrainConfig,
    ) -> Result<History, NnError> {
        if let Some(valid) = valid {
            self.check_inputs(valid.inputs(), Some(valid.targets()))?;
        }
        let mut trainer = Trainer::new(self, *config)?;
        let steps_per_epoch = train.len().div_ceil(config.batch_size);
        let bar = progress_bar(config, steps_per_epoch);
        let started = Instant::now();
        let mut history = History::default();
        for epoch in 1..=config.epochs {
            bar.set_prefix(format!("epoch {epoch}/{}", config.epochs));
            let train_metrics = trainer.epoch(self, train, || bar.inc(1))?;
            let valid_metrics = valid.map(|v| self.evaluate(v)).transpose()?;
            let shown = valid_metrics.unwrap_or(train_metrics);
            bar.set_message(match shown.accuracy {
                Some(acc) => format!("loss {:.4} accuracy {:.4}", shown.loss, acc),
                None => format!("loss {:.4}", shown.loss),
            });
            history.epochs.push(EpochMetrics {
                epoch,
                train: train_metrics,
                valid: valid_metrics,
                seconds: started.elapsed().as_secs_f64(),
            });
        }
        bar.finish_and_clear();
        Ok(history)
    }

    /// The mean loss (and accuracy) over a data set, in batches of up to 1024 examples.
    pub fn evaluate(&self, data: &Dataset<T>) -> Result<Metrics, NnError> {
        self.check_inputs(data.inputs(), Some(data.targets()))?;
        let chunk = data.len().clamp(1, 1024);
        let mut tape = Tape::new(self, chunk);
        let mut total = BatchScore::default();
        let order: Vec<usize> = (0..data.len()).collect();
        for columns in order.chunks(chunk) {
            let n = tape.gather(data.inputs(), data.targets(), columns);
            let score = tape.score(self, n);
            total.loss_sum += score.loss_sum;
            total.correct += score.correct;
            total.decisions += score.decisions;
        }
        Ok(Metrics::from_score(
            total,
            data.len(),
            self.loss.classifies(),
        ))
    }
}

fn progress_bar(config: &TrainConfig, steps_per_epoch: usize) -> ProgressBar {
    if !config.progress || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let total = (steps_per_epoch * config.epochs) as u64;
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    let style =
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} steps, {msg} ({elapsed})")
            .expect("a valid progress template")
            .progress_chars("=> ");
    bar.set_style(style);
    bar
}
