//! Saving and loading weights in the safetensors format (readable by NumPy and PyTorch users).
//!
//! Layer `k` is stored as `layers.k.weight` (outputs x inputs, row-major, as PyTorch's
//! `nn.Linear.weight`) and `layers.k.bias` (outputs); the header's metadata records the activations
//! and the loss, so that loading rebuilds the same network.

use std::collections::HashMap;

use faer::Mat;
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};

use crate::activation::Activation;
use crate::backward::BackwardKind;
use crate::error::NnError;
use crate::loss::Loss;
use crate::network::{Dense, Network};
use crate::real::Real;

const FORMAT: &str = "matdiff-nn";

impl<T: Real> Network<T> {
    /// The weights in the safetensors format, in the network's own precision.
    ///
    /// ```
    /// use matdiff_nn::{Activation, BackwardKind, Loss, Network};
    /// let net = Network::<f32>::builder(3).dense(4, Activation::Sigmoid).output(2, Loss::MeanSquaredError).build().unwrap();
    /// let bytes = net.to_safetensors().unwrap();
    /// let back = Network::<f32>::from_safetensors(&bytes, BackwardKind::default()).unwrap();
    /// assert_eq!(back.layers()[0].weights(), net.layers()[0].weights());
    /// ```
    pub fn to_safetensors(&self) -> Result<Vec<u8>, NnError> {
        let dtype = dtype_of::<T>();
        let mut buffers = Vec::new();
        for (k, layer) in self.layers.iter().enumerate() {
            let w = layer.weights();
            let mut weight = Vec::with_capacity(w.nrows() * w.ncols() * T::BYTES);
            for i in 0..w.nrows() {
                for j in 0..w.ncols() {
                    w[(i, j)].write_le(&mut weight);
                }
            }
            let mut bias = Vec::with_capacity(w.nrows() * T::BYTES);
            for i in 0..w.nrows() {
                layer.bias[(i, 0)].write_le(&mut bias);
            }
            buffers.push((
                format!("layers.{k}.weight"),
                vec![w.nrows(), w.ncols()],
                weight,
            ));
            buffers.push((format!("layers.{k}.bias"), vec![w.nrows()], bias));
        }
        let views = buffers
            .iter()
            .map(|(name, shape, data)| {
                Ok((name.as_str(), TensorView::new(dtype, shape.clone(), data)?))
            })
            .collect::<Result<Vec<_>, NnError>>()?;
        let activations: Vec<&str> = self.layers.iter().map(|l| l.activation.name()).collect();
        let metadata = HashMap::from([
            ("format".to_string(), FORMAT.to_string()),
            ("activations".to_string(), activations.join(",")),
            ("loss".to_string(), self.loss.name().to_string()),
        ]);
        Ok(safetensors::serialize(views, Some(metadata))?)
    }

    /// A network from weights written by [`Network::to_safetensors`] (in `f32` or `f64`: values are
    /// converted to `T`), with the given backward pass.
    pub fn from_safetensors(bytes: &[u8], backward: BackwardKind) -> Result<Self, NnError> {
        let tensors = SafeTensors::deserialize(bytes)?;
        let (_, header) = SafeTensors::read_metadata(bytes)?;
        let meta = header
            .metadata()
            .as_ref()
            .ok_or_else(|| weights_error("no metadata: not written by matdiff-nn"))?;
        let field = |key: &str| {
            meta.get(key)
                .ok_or_else(|| weights_error(format!("metadata has no `{key}`")))
        };
        if field("format")? != FORMAT {
            return Err(weights_error(format!(
                "metadata `format` is not `{FORMAT}`"
            )));
        }
        let loss_name = field("loss")?;
        let loss = Loss::from_name(loss_name)
            .ok_or_else(|| weights_error(format!("unknown loss `{loss_name}`")))?;
        let mut layers = Vec::new();
        for (k, name) in field("activations")?.split(',').enumerate() {
            let activation = Activation::from_name(name)
                .ok_or_else(|| weights_error(format!("layer {k}: unknown activation `{name}`")))?;
            let weight = tensors.tensor(&format!("layers.{k}.weight"))?;
            let bias = tensors.tensor(&format!("layers.{k}.bias"))?;
            let (rows, cols) = match *weight.shape() {
                [r, c] => (r, c),
                ref s => {
                    return Err(weights_error(format!(
                        "layer {k}: weight of shape {s:?} is not a matrix"
                    )))
                }
            };
            if bias.shape() != [rows] {
                return Err(weights_error(format!(
                    "layer {k}: bias of shape {:?}, expected [{rows}]",
                    bias.shape()
                )));
            }
            let w = values::<T>(&weight, k)?;
            let b = values::<T>(&bias, k)?;
            layers.push(Dense {
                weights: Mat::from_fn(rows, cols, |i, j| w[i * cols + j]),
                bias: Mat::from_fn(rows, 1, |i, _| b[i]),
                activation,
            });
        }
        if tensors.len() != 2 * layers.len() {
            return Err(weights_error(format!(
                "{} tensors for {} layers: expected only weights and biases",
                tensors.len(),
                layers.len()
            )));
        }
        Network::from_layers(layers, loss, backward)
    }
}

fn dtype_of<T: Real>() -> Dtype {
    if T::BYTES == 4 {
        Dtype::F32
    } else {
        Dtype::F64
    }
}

fn weights_error(reason: impl Into<String>) -> NnError {
    NnError::Weights(reason.into())
}

/// The values of an `F32` or `F64` tensor, converted to `T`.
fn values<T: Real>(view: &TensorView<'_>, layer: usize) -> Result<Vec<T>, NnError> {
    let data = view.data();
    Ok(match view.dtype() {
        Dtype::F32 => data
            .chunks_exact(4)
            .map(|c| T::from_f64(f32::read_le(c) as f64))
            .collect(),
        Dtype::F64 => data
            .chunks_exact(8)
            .map(|c| T::from_f64(f64::read_le(c)))
            .collect(),
        other => {
            return Err(weights_error(format!(
                "layer {layer}: dtype {other:?}, expected F32 or F64"
            )))
        }
    })
}
