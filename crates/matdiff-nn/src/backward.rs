//! The backward pass: the choice between the derived one and the hand-written reference.

use faer::{Mat, MatRef};

use crate::activation::Activation;
use crate::derived::{
    DerivedLayer, DerivedRuns, Slot, INPUT, OUTPUT, PRE_ACTIVATION, UPSTREAM, WEIGHTS,
};
use crate::error::NnError;
use crate::kernels::{col, col_mut, gemm, row_sums};
use crate::network::{Dense, Gradients, Network, Tape};
use crate::real::Real;

/// Which backward pass computes the gradients.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum BackwardKind {
    /// Derived by the rewriter: each layer's `g(W*A + b*ones')` with the upstream gradient `G`
    /// gives `dL/dW`, `dL/db` and `dL/dA`, in terms of the forward values `Z` and `Y = g(Z)`,
    /// compiled into one matdiff-faer plan per layer that computes `G .* g'(Z)` once. The
    /// training path.
    #[default]
    Derived,
    /// Seed Algorithm 1 written by hand on faer (`dZ = G .* g'(Z)`, `dW = dZ*A'`, `db = dZ*ones`,
    /// `dA = W'*dZ`): the benchmarks' reference and the tests' oracle.
    HandWritten,
}

/// The backward pass a network was built with, and every layer's derived gradients.
#[derive(Clone, Debug)]
pub(crate) struct Backward {
    kind: BackwardKind,
    derived: Vec<DerivedLayer>,
}

impl Backward {
    /// Derives the gradients of every layer (the first needs no `dL/dA`).
    pub(crate) fn new<T: Real>(layers: &[Dense<T>], kind: BackwardKind) -> Result<Self, NnError> {
        let derived = layers
            .iter()
            .enumerate()
            .map(|(k, layer)| DerivedLayer::new(layer.activation, k > 0))
            .collect::<Result<_, _>>()?;
        Ok(Backward { kind, derived })
    }

    pub(crate) fn kind(&self) -> BackwardKind {
        self.kind
    }

    /// The derived gradients of layer `k` in the expression syntax: `dL/dW`, `dL/db`, `dL/dA`.
    pub(crate) fn formulas(&self, k: usize) -> Vec<String> {
        self.derived[k].formulas()
    }

    /// Runs the backward pass of `kind` over the tape of a forward pass of `n` examples, whose
    /// last `dZ` holds the loss gradient.
    pub(crate) fn run<T: Real>(
        &self,
        kind: BackwardKind,
        network: &Network<T>,
        tape: &mut Tape<T>,
        n: usize,
        grads: &mut Gradients<T>,
    ) -> Result<(), NnError> {
        match kind {
            BackwardKind::HandWritten => {
                hand_written(network, tape, n, grads);
                Ok(())
            }
            BackwardKind::Derived => self.derived(network, tape, n, grads),
        }
    }

    fn derived<T: Real>(
        &self,
        network: &Network<T>,
        tape: &mut Tape<T>,
        n: usize,
        grads: &mut Gradients<T>,
    ) -> Result<(), NnError> {
        let count = network.layers.len();
        let mut runs = tape
            .derived
            .take()
            .unwrap_or_else(|| DerivedRuns::new(count));
        // dL/dA of the layer above, moved out of that layer's outputs until it is read.
        let mut upstream: Option<Mat<T>> = None;
        let mut result = Ok(());
        for k in (0..count).rev() {
            let layer = &self.derived[k];
            let weights = network.layers[k].weights.as_ref();
            let output_of = |j: usize| {
                if network.layers[j].activation == Activation::Identity {
                    Slot::PreActivation(j)
                } else {
                    Slot::Activation(j)
                }
            };
            let mut inputs: Vec<(&str, MatRef<'_, T>)> = layer
                .reads
                .iter()
                .filter_map(|&name| {
                    let value = match name {
                        WEIGHTS => weights,
                        INPUT if k == 0 => tape.view(Slot::Input, n),
                        INPUT => tape.view(output_of(k - 1), n),
                        OUTPUT => tape.view(output_of(k), n),
                        PRE_ACTIVATION => tape.view(Slot::PreActivation(k), n),
                        _ => return None,
                    };
                    Some((name, value))
                })
                .collect();
            inputs.push((
                UPSTREAM,
                match &upstream {
                    Some(g) => g.as_ref(),
                    None => tape.view(Slot::LossGradient(count - 1), n),
                },
            ));
            let out = match runs.run(k, layer, weights, &inputs) {
                Ok(out) => out,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            };
            // The gradients' previous buffers go back to the plan, to be written next step.
            std::mem::swap(&mut grads.weights[k], &mut out[0]);
            std::mem::swap(&mut grads.biases[k], &mut out[1]);
            let below = out.get_mut(2).map(|a| std::mem::replace(a, Mat::new()));
            if let (Some(g), Some(slot)) = (upstream.take(), runs.output_mut(k + 1, 2)) {
                *slot = g;
            }
            upstream = below;
        }
        if let (Some(g), Some(slot)) = (upstream, runs.output_mut(0, 2)) {
            *slot = g;
        }
        tape.derived = Some(runs);
        result
    }
}

/// Seed Algorithm 1 by hand, layer by layer from the last.
pub(crate) fn hand_written<T: Real>(
    network: &Network<T>,
    tape: &mut Tape<T>,
    n: usize,
    grads: &mut Gradients<T>,
) {
    for k in (0..network.layers.len()).rev() {
        let layer = &network.layers[k];
        if layer.activation != Activation::Identity {
            // dZ = dA .* g'(Z), in place.
            let (z, a, dz) = (&tape.z[k], &tape.a[k], &mut tape.dz[k]);
            for j in 0..n {
                layer.activation.backprop_slice(
                    col(z.as_ref(), j),
                    col(a.as_ref(), j),
                    col_mut(dz.as_mut(), j),
                );
            }
        }
        let dz = tape.dz[k].as_ref().subcols(0, n);
        gemm(
            grads.weights[k].as_mut(),
            false,
            dz,
            tape.input_of(network, k, n).transpose(),
        );
        row_sums(dz, grads.biases[k].as_mut());
        if k > 0 {
            let (below, here) = tape.dz.split_at_mut(k);
            gemm(
                below[k - 1].as_mut().subcols_mut(0, n),
                false,
                layer.weights.as_ref().transpose(),
                here[0].as_ref().subcols(0, n),
            );
        }
    }
}
