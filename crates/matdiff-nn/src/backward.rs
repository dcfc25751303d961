//! The backward pass: the choice between the derived one and the hand-written reference.

use crate::activation::Activation;
use crate::error::NnError;
use crate::kernels::{col, col_mut, gemm, row_sums};
use crate::network::{Dense, Gradients, Network, Tape};
use crate::real::Real;

/// Which backward pass computes the gradients.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum BackwardKind {
    /// Seed Algorithm 1 written by hand on faer (`dZ = G .* g'(Z)`, `dW = dZ*A'`, `db = dZ*ones`,
    /// `dA = W'*dZ`): the benchmarks' reference and the tests' oracle.
    ///
    /// INTERIM: this is also the default training path until the derived backward (the rewriter's
    /// gradients compiled into matdiff-faer plans) is wired in.
    #[default]
    HandWritten,
}

/// The backward pass a network was built with.
#[derive(Clone, Debug)]
pub(crate) struct Backward<T: Real> {
    kind: BackwardKind,
    _marker: std::marker::PhantomData<T>,
}

impl<T: Real> Backward<T> {
    pub(crate) fn new(_layers: &[Dense<T>], kind: BackwardKind) -> Result<Self, NnError> {
        Ok(Backward {
            kind,
            _marker: std::marker::PhantomData,
        })
    }

    pub(crate) fn kind(&self) -> BackwardKind {
        self.kind
    }

    /// Runs the backward pass of `kind` over the tape of a forward pass of `n` examples, whose
    /// last `dZ` holds the loss gradient.
    pub(crate) fn run(
        &self,
        kind: BackwardKind,
        network: &Network<T>,
        tape: &mut Tape<T>,
        n: usize,
        grads: &mut Gradients<T>,
    ) -> Result<(), NnError> {
        match kind {
            BackwardKind::HandWritten => hand_written(network, tape, n, grads),
        }
        Ok(())
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
