//! Dense layers, the network, its builder and the forward pass.

use faer::prelude::ReborrowMut;
use faer::{Mat, MatMut, MatRef};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::activation::Activation;
use crate::backward::{Backward, BackwardKind};
use crate::derived::{DerivedRuns, Slot};
use crate::error::NnError;
use crate::kernels::{col, col_mut, gemm};
use crate::loss::{BatchScore, Loss};
use crate::real::Real;

/// One dense layer, `A = g(W*A_prev + b*ones')`, with `W` of shape outputs x inputs and `b` a column.
#[derive(Clone, Debug)]
pub struct Dense<T: Real> {
    pub(crate) weights: Mat<T>,
    pub(crate) bias: Mat<T>,
    pub(crate) activation: Activation,
}

impl<T: Real> Dense<T> {
    /// A layer from its weights (outputs x inputs), bias (outputs x 1) and activation; the shapes
    /// are checked when the layers become a [`Network`].
    pub fn new(weights: Mat<T>, bias: Mat<T>, activation: Activation) -> Self {
        Dense {
            weights,
            bias,
            activation,
        }
    }

    /// The weights `W`, outputs x inputs.
    pub fn weights(&self) -> MatRef<'_, T> {
        self.weights.as_ref()
    }

    /// The bias `b`, outputs x 1.
    pub fn bias(&self) -> MatRef<'_, T> {
        self.bias.as_ref()
    }

    /// The activation `g`.
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// Number of inputs.
    pub fn inputs(&self) -> usize {
        self.weights.ncols()
    }

    /// Number of outputs.
    pub fn outputs(&self) -> usize {
        self.weights.nrows()
    }
}

/// How the initial weights are drawn (biases start at zero).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum Init {
    /// Glorot (Xavier) uniform: `U(-l, l)` with `l = sqrt(6 / (inputs + outputs))`; for tanh and sigmoid.
    #[default]
    Glorot,
    /// He (Kaiming) uniform: `U(-l, l)` with `l = sqrt(6 / inputs)`; for relu and softplus.
    He,
}

/// Builds a [`Network`]: inputs, hidden layers, the output layer with its loss, initialisation.
///
/// ```
/// use matdiff_nn::{Activation, Init, Loss, Network};
/// let net = Network::<f32>::builder(64)
///     .dense(128, Activation::Tanh)
///     .output(10, Loss::SoftmaxCrossEntropy)
///     .init(Init::Glorot)
///     .seed(7)
///     .build()
///     .unwrap();
/// assert_eq!(net.layers().len(), 2);
/// assert_eq!(net.layers()[1].weights().shape(), (10, 128));
/// ```
#[derive(Clone, Debug)]
pub struct NetworkBuilder<T: Real> {
    inputs: usize,
    hidden: Vec<(usize, Activation)>,
    output: Option<(usize, Loss)>,
    init: Init,
    seed: u64,
    backward: BackwardKind,
    _real: std::marker::PhantomData<T>,
}

impl<T: Real> NetworkBuilder<T> {
    /// Appends a hidden dense layer.
    pub fn dense(mut self, outputs: usize, activation: Activation) -> Self {
        self.hidden.push((outputs, activation));
        self
    }

    /// Sets the output layer: `outputs` linear units (the logits) and the loss fused with its link.
    pub fn output(mut self, outputs: usize, loss: Loss) -> Self {
        self.output = Some((outputs, loss));
        self
    }

    /// Sets the initialisation of every layer (default: Glorot).
    pub fn init(mut self, init: Init) -> Self {
        self.init = init;
        self
    }

    /// Sets the seed of the initial weights (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Chooses the backward pass used for training (default: [`BackwardKind::Derived`]).
    pub fn backward(mut self, kind: BackwardKind) -> Self {
        self.backward = kind;
        self
    }

    /// Draws the initial weights and prepares the backward pass.
    pub fn build(self) -> Result<Network<T>, NnError> {
        let (outputs, loss) = self.output.ok_or(NnError::NoOutputLayer)?;
        let mut sizes = vec![self.inputs];
        sizes.extend(self.hidden.iter().map(|&(n, _)| n));
        sizes.push(outputs);
        if let Some(k) = sizes.iter().position(|&n| n == 0) {
            return Err(NnError::EmptyLayer { layer: k });
        }
        let mut activations: Vec<Activation> = self.hidden.iter().map(|&(_, a)| a).collect();
        activations.push(Activation::Identity);
        let mut rng = StdRng::seed_from_u64(self.seed);
        let layers = activations
            .iter()
            .enumerate()
            .map(|(k, &activation)| {
                let (fan_in, fan_out) = (sizes[k], sizes[k + 1]);
                let limit = match self.init {
                    Init::Glorot => (6.0 / (fan_in + fan_out) as f64).sqrt(),
                    Init::He => (6.0 / fan_in as f64).sqrt(),
                };
                let weights = Mat::from_fn(fan_out, fan_in, |_, _| {
                    T::from_f64(rng.random_range(-limit..limit))
                });
                Dense {
                    weights,
                    bias: Mat::zeros(fan_out, 1),
                    activation,
                }
            })
            .collect();
        Network::from_layers(layers, loss, self.backward)
    }
}

/// A feed-forward network of dense layers with a loss, in the seed's convention: a batch is a matrix
/// with one example per column, `Z = W*A + b*ones'`, `A_next = g(Z)`; the last layer is linear and
/// its output goes into the [`Loss`].
///
/// ```
/// use faer::Mat;
/// use matdiff_nn::{Activation, Loss, Network};
/// let net = Network::<f64>::builder(3)
///     .dense(4, Activation::Relu)
///     .output(2, Loss::SoftmaxCrossEntropy)
///     .build()
///     .unwrap();
/// let x = Mat::from_fn(3, 5, |i, j| (i + j) as f64 / 7.0);
/// let p = net.predict(x.as_ref()).unwrap();
/// // Softmax columns are probability distributions.
/// assert!((p[(0, 0)] + p[(1, 0)] - 1.0).abs() < 1e-12);
/// ```
#[derive(Clone, Debug)]
pub struct Network<T: Real> {
    pub(crate) layers: Vec<Dense<T>>,
    pub(crate) loss: Loss,
    pub(crate) backward: Backward,
}

/// Gradients of the loss with respect to every layer's weights and bias.
#[derive(Clone, Debug, PartialEq)]
pub struct Gradients<T: Real> {
    /// `dL/dW` per layer, shaped like the weights.
    pub weights: Vec<Mat<T>>,
    /// `dL/db` per layer, shaped like the bias.
    pub biases: Vec<Mat<T>>,
}

impl<T: Real> Gradients<T> {
    /// Zero gradients shaped like the network's parameters.
    pub fn zeros_like(network: &Network<T>) -> Self {
        Gradients {
            weights: network
                .layers
                .iter()
                .map(|l| Mat::zeros(l.outputs(), l.inputs()))
                .collect(),
            biases: network
                .layers
                .iter()
                .map(|l| Mat::zeros(l.outputs(), 1))
                .collect(),
        }
    }
}

impl<T: Real> Network<T> {
    /// A builder for a network with the given number of inputs.
    pub fn builder(inputs: usize) -> NetworkBuilder<T> {
        NetworkBuilder {
            inputs,
            hidden: Vec::new(),
            output: None,
            init: Init::Glorot,
            seed: 0,
            backward: BackwardKind::default(),
            _real: std::marker::PhantomData,
        }
    }

    /// A network of given layers (each layer's inputs equal the previous one's outputs; the last
    /// layer must be linear).
    pub fn from_layers(
        layers: Vec<Dense<T>>,
        loss: Loss,
        backward: BackwardKind,
    ) -> Result<Self, NnError> {
        let last = layers.last().ok_or(NnError::NoOutputLayer)?;
        if last.activation != Activation::Identity {
            return Err(NnError::NonLinearOutput {
                activation: last.activation,
            });
        }
        for (k, pair) in layers.windows(2).enumerate() {
            if pair[0].outputs() != pair[1].inputs() {
                return Err(NnError::LayerMismatch {
                    layer: k + 1,
                    expected: pair[0].outputs(),
                    found: pair[1].inputs(),
                });
            }
        }
        for (k, l) in layers.iter().enumerate() {
            if l.bias.shape() != (l.outputs(), 1) {
                return Err(NnError::LayerMismatch {
                    layer: k,
                    expected: l.outputs(),
                    found: l.bias.nrows(),
                });
            }
        }
        let backward = Backward::new(&layers, backward)?;
        Ok(Network {
            layers,
            loss,
            backward,
        })
    }

    /// The layers, first to last.
    pub fn layers(&self) -> &[Dense<T>] {
        &self.layers
    }

    /// The weights of layer `k`, to change in place.
    pub fn weights_mut(&mut self, k: usize) -> MatMut<'_, T> {
        self.layers[k].weights.as_mut()
    }

    /// The bias of layer `k`, to change in place.
    pub fn bias_mut(&mut self, k: usize) -> MatMut<'_, T> {
        self.layers[k].bias.as_mut()
    }

    /// The loss.
    pub fn loss(&self) -> Loss {
        self.loss
    }

    /// Which backward pass [`Network::gradients`] and training use.
    pub fn backward_kind(&self) -> BackwardKind {
        self.backward.kind()
    }

    /// The gradients the rewriter derived for layer `k` (`dL/dW`, `dL/db`, and `dL/dA` but for the
    /// first layer), in the expression syntax, where `Z` is the layer's `W*A + b*ones'` and `Y` its
    /// output `g(Z)`.
    ///
    /// ```
    /// use matdiff_nn::{Activation, Loss, Network};
    /// let net = Network::<f64>::builder(3).dense(4, Activation::Tanh).output(2, Loss::MeanSquaredError).build().unwrap();
    /// assert_eq!(net.derived_gradients(0), ["(G .* (1 - Y.^2))*A'", "(G .* (1 - Y.^2))*ones"]);
    /// assert_eq!(net.derived_gradients(1), ["G*A'", "G*ones", "W'*G"]);
    /// ```
    pub fn derived_gradients(&self, k: usize) -> Vec<String> {
        self.backward.formulas(k)
    }

    /// Number of inputs (features per example).
    pub fn inputs(&self) -> usize {
        self.layers[0].inputs()
    }

    /// Number of outputs (classes, or targets per example).
    pub fn outputs(&self) -> usize {
        self.layers[self.layers.len() - 1].outputs()
    }

    /// Predictions for the examples in the columns of `x`: outputs, `sigmoid` or `softmax` of the
    /// logits, by the loss.
    pub fn predict(&self, x: MatRef<'_, T>) -> Result<Mat<T>, NnError> {
        let mut z = self.logits(x)?;
        self.loss.predict_in_place(z.as_mut());
        Ok(z)
    }

    /// The last layer's output `Z` (logits) for the examples in the columns of `x`.
    pub fn logits(&self, x: MatRef<'_, T>) -> Result<Mat<T>, NnError> {
        self.check_inputs(x, None)?;
        let mut tape = Tape::new(self, x.ncols());
        let x = tape.load_inputs(x);
        tape.forward(self, x);
        Ok(tape.z.pop().expect("a network has a layer"))
    }

    /// The mean loss over the examples in the columns of `x` with targets `y`.
    pub fn loss_value(&self, x: MatRef<'_, T>, y: MatRef<'_, T>) -> Result<f64, NnError> {
        self.check_inputs(x, Some(y))?;
        Ok(self.loss.value(self.logits(x)?.as_ref(), y))
    }

    /// The mean loss and its gradients, by the backward pass this network trains with.
    pub fn gradients(
        &self,
        x: MatRef<'_, T>,
        y: MatRef<'_, T>,
    ) -> Result<(f64, Gradients<T>), NnError> {
        self.gradients_by(self.backward.kind(), x, y)
    }

    /// The mean loss and its gradients by the given backward pass ([`BackwardKind::HandWritten`]
    /// is the reference that the derived one is tested against).
    pub fn gradients_by(
        &self,
        kind: BackwardKind,
        x: MatRef<'_, T>,
        y: MatRef<'_, T>,
    ) -> Result<(f64, Gradients<T>), NnError> {
        self.check_inputs(x, Some(y))?;
        let mut tape = Tape::new(self, x.ncols());
        let mut grads = Gradients::zeros_like(self);
        let xs = tape.load_inputs(x);
        let ys = tape.load_targets(y);
        let score = tape.forward_backward(self, kind, xs, ys, &mut grads)?;
        Ok((score.loss_sum / x.ncols().max(1) as f64, grads))
    }

    pub(crate) fn check_inputs(
        &self,
        x: MatRef<'_, T>,
        y: Option<MatRef<'_, T>>,
    ) -> Result<(), NnError> {
        if x.nrows() != self.inputs() {
            return Err(NnError::InputShape {
                what: "inputs",
                expected: self.inputs(),
                found: x.nrows(),
            });
        }
        if let Some(y) = y {
            if y.nrows() != self.outputs() {
                return Err(NnError::InputShape {
                    what: "target rows",
                    expected: self.outputs(),
                    found: y.nrows(),
                });
            }
            if y.ncols() != x.ncols() {
                return Err(NnError::InputShape {
                    what: "target columns (examples)",
                    expected: x.ncols(),
                    found: y.ncols(),
                });
            }
        }
        Ok(())
    }
}

/// Buffers of one forward and backward pass for batches of up to `capacity` examples: the
/// inputs and targets of a batch, every layer's `Z` and `A`, and every layer's `dZ`.
#[derive(Debug)]
pub(crate) struct Tape<T: Real> {
    pub(crate) x: Mat<T>,
    pub(crate) y: Mat<T>,
    pub(crate) z: Vec<Mat<T>>,
    pub(crate) a: Vec<Mat<T>>,
    pub(crate) dz: Vec<Mat<T>>,
    /// The derived backward's plans, compiled on first use.
    pub(crate) derived: Option<DerivedRuns<T>>,
}

impl<T: Real> Tape<T> {
    pub(crate) fn new(network: &Network<T>, capacity: usize) -> Self {
        let sizes = |m: usize| -> Vec<Mat<T>> {
            network
                .layers
                .iter()
                .map(|l| Mat::zeros(l.outputs(), m))
                .collect()
        };
        Tape {
            x: Mat::zeros(network.inputs(), capacity),
            y: Mat::zeros(network.outputs(), capacity),
            z: sizes(capacity),
            a: network
                .layers
                .iter()
                .map(|l| {
                    let m = if l.activation == Activation::Identity {
                        0
                    } else {
                        capacity
                    };
                    Mat::zeros(l.outputs(), m)
                })
                .collect(),
            dz: sizes(capacity),
            derived: None,
        }
    }

    /// Copies `x` into the input buffer; returns the number of examples.
    fn load_inputs(&mut self, x: MatRef<'_, T>) -> usize {
        self.x.as_mut().subcols_mut(0, x.ncols()).copy_from(x);
        x.ncols()
    }

    fn load_targets(&mut self, y: MatRef<'_, T>) -> usize {
        self.y.as_mut().subcols_mut(0, y.ncols()).copy_from(y);
        y.ncols()
    }

    /// Copies the examples `columns` of `x` and `y` into the batch buffers; returns their number.
    pub(crate) fn gather(
        &mut self,
        x: MatRef<'_, T>,
        y: MatRef<'_, T>,
        columns: &[usize],
    ) -> usize {
        for (k, &j) in columns.iter().enumerate() {
            col_mut(self.x.as_mut(), k).copy_from_slice(col(x, j));
            col_mut(self.y.as_mut(), k).copy_from_slice(col(y, j));
        }
        columns.len()
    }

    /// The output of layer `k` (its `A`; `Z` for a linear layer) for `n` examples.
    pub(crate) fn activation_of(&self, network: &Network<T>, k: usize, n: usize) -> MatRef<'_, T> {
        if network.layers[k].activation == Activation::Identity {
            self.z[k].as_ref().subcols(0, n)
        } else {
            self.a[k].as_ref().subcols(0, n)
        }
    }

    /// The input of layer `k` for `n` examples.
    pub(crate) fn input_of(&self, network: &Network<T>, k: usize, n: usize) -> MatRef<'_, T> {
        if k == 0 {
            self.x.as_ref().subcols(0, n)
        } else {
            self.activation_of(network, k - 1, n)
        }
    }

    /// The forward pass over the first `n` loaded examples: `Z = W*A + b*ones'`, `A = g(Z)`.
    pub(crate) fn forward(&mut self, network: &Network<T>, n: usize) {
        for (k, layer) in network.layers.iter().enumerate() {
            let (before, rest) = self.z.split_at_mut(k);
            let input = if k == 0 {
                self.x.as_ref()
            } else if network.layers[k - 1].activation == Activation::Identity {
                before[k - 1].as_ref()
            } else {
                self.a[k - 1].as_ref()
            };
            let mut zn = rest[0].as_mut().subcols_mut(0, n);
            let bias = col(layer.bias.as_ref(), 0);
            for j in 0..n {
                col_mut(zn.rb_mut(), j).copy_from_slice(bias);
            }
            gemm(zn, true, layer.weights.as_ref(), input.subcols(0, n));
            if layer.activation != Activation::Identity {
                for j in 0..n {
                    layer
                        .activation
                        .apply_slice(col(self.z[k].as_ref(), j), col_mut(self.a[k].as_mut(), j));
                }
            }
        }
    }

    /// Forward pass, the loss's gradient `dZ` of the last layer, and the backward pass into
    /// `grads`, for the first `n` loaded examples.
    pub(crate) fn forward_backward(
        &mut self,
        network: &Network<T>,
        kind: BackwardKind,
        n: usize,
        n_targets: usize,
        grads: &mut Gradients<T>,
    ) -> Result<BatchScore, NnError> {
        debug_assert_eq!(n, n_targets);
        self.forward(network, n);
        let last = network.layers.len() - 1;
        let scale = T::ONE / T::from_f64(n.max(1) as f64);
        let score = network.loss.gradient(
            self.z[last].as_ref().subcols(0, n),
            self.y.as_ref().subcols(0, n),
            self.dz[last].as_mut().subcols_mut(0, n),
            scale,
        );
        network.backward.run(kind, network, self, n, grads)?;
        Ok(score)
    }

    /// The first `n` columns of a buffer.
    pub(crate) fn view(&self, slot: Slot, n: usize) -> MatRef<'_, T> {
        let buffer = match slot {
            Slot::Input => &self.x,
            Slot::PreActivation(k) => &self.z[k],
            Slot::Activation(k) => &self.a[k],
            Slot::LossGradient(k) => &self.dz[k],
        };
        buffer.as_ref().subcols(0, n)
    }

    /// Forward pass and the loss's score (its gradient lands in the last `dZ`) for `n` examples.
    pub(crate) fn score(&mut self, network: &Network<T>, n: usize) -> BatchScore {
        self.forward(network, n);
        let last = network.layers.len() - 1;
        network.loss.gradient(
            self.z[last].as_ref().subcols(0, n),
            self.y.as_ref().subcols(0, n),
            self.dz[last].as_mut().subcols_mut(0, n),
            T::ONE,
        )
    }
}
