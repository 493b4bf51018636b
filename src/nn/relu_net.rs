//! The plain-Rust network every analysis and repair works on.
//!
//! Burn models are for training; verification and repair need exact, inspectable f64
//! weights with no autodiff machinery in the way. `ReluNet` is that interchange type:
//! dense layers, ReLU after every hidden layer, identity after the last.

use nalgebra::{DMatrix, DVector};

/// Why a set of layers does not form a network.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum NetShapeError {
    #[error("a network needs at least one layer")]
    NoLayers,
    #[error(
        "layer {layer}: weights are {rows}×{cols} but the bias has {bias} entries (expected {rows})"
    )]
    BiasMismatch {
        layer: usize,
        rows: usize,
        cols: usize,
        bias: usize,
    },
    #[error("layer {layer} takes {got} inputs but the previous layer has {expected} outputs")]
    ChainMismatch {
        layer: usize,
        expected: usize,
        got: usize,
    },
    #[error("layer {layer} has a zero-sized weight matrix")]
    Empty { layer: usize },
}

/// One dense layer `y = W x + b`; `weights` is outputs × inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    pub weights: DMatrix<f64>,
    pub bias: DVector<f64>,
}

impl Layer {
    /// Number of inputs of this layer.
    pub fn inputs(&self) -> usize {
        self.weights.ncols()
    }

    /// Number of outputs (neurons) of this layer.
    pub fn outputs(&self) -> usize {
        self.weights.nrows()
    }

    /// `W x + b`, without any activation.
    pub fn affine(&self, x: &DVector<f64>) -> DVector<f64> {
        &self.weights * x + &self.bias
    }
}

/// A feed-forward ReLU network: ReLU after every layer except the last (identity output).
#[derive(Debug, Clone, PartialEq)]
pub struct ReluNet {
    layers: Vec<Layer>,
}

/// The activations entering the first layer after `prefix` (a network's first layers).
pub fn activations_before(prefix: &[Layer], input: &[f64]) -> Vec<f64> {
    let mut value = DVector::from_column_slice(input);
    for layer in prefix {
        value = layer.affine(&value).map(|v| v.max(0.0));
    }
    value.as_slice().to_vec()
}

impl ReluNet {
    /// The pre-activations of layers `layer..` (the last: the outputs) given the
    /// activations entering `layer`.
    pub fn pre_activations(&self, layer: usize, layer_input: &[f64]) -> Vec<Vec<f64>> {
        let mut value = DVector::from_column_slice(layer_input);
        self.layers()[layer..]
            .iter()
            .map(|l| {
                let pre = l.affine(&value);
                value = pre.map(|v| v.max(0.0));
                pre.as_slice().to_vec()
            })
            .collect()
    }

    /// Builds a network, checking that the layer shapes chain.
    pub fn new(layers: Vec<Layer>) -> Result<Self, NetShapeError> {
        if layers.is_empty() {
            return Err(NetShapeError::NoLayers);
        }
        for (i, layer) in layers.iter().enumerate() {
            if layer.inputs() == 0 || layer.outputs() == 0 {
                return Err(NetShapeError::Empty { layer: i });
            }
            if layer.bias.len() != layer.outputs() {
                return Err(NetShapeError::BiasMismatch {
                    layer: i,
                    rows: layer.outputs(),
                    cols: layer.inputs(),
                    bias: layer.bias.len(),
                });
            }
            if i > 0 && layers[i - 1].outputs() != layer.inputs() {
                return Err(NetShapeError::ChainMismatch {
                    layer: i,
                    expected: layers[i - 1].outputs(),
                    got: layer.inputs(),
                });
            }
        }
        Ok(Self { layers })
    }

    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// Consumes the network, returning its layers (e.g. to patch one and rebuild).
    pub fn into_layers(self) -> Vec<Layer> {
        self.layers
    }

    pub fn input_dim(&self) -> usize {
        self.layers[0].inputs()
    }

    pub fn output_dim(&self) -> usize {
        self.layers[self.layers.len() - 1].outputs()
    }

    /// Evaluates the network on one input.
    ///
    /// # Panics
    /// If `x.len() != self.input_dim()`: a caller bug, not bad user input.
    pub fn forward(&self, x: &[f64]) -> Vec<f64> {
        assert_eq!(x.len(), self.input_dim(), "ReluNet::forward: input size");
        let mut value = DVector::from_column_slice(x);
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            value = layer.affine(&value);
            if i < last {
                value.apply(|v| *v = v.max(0.0));
            }
        }
        value.as_slice().to_vec()
    }
}

/// A network `sizes[0] → … → sizes[n]` with weights uniform in ±1 and biases in ±0.5:
/// material for the unit tests of every module that analyses networks.
#[cfg(test)]
pub(crate) fn random_net(rng: &mut impl rand::Rng, sizes: &[usize]) -> ReluNet {
    let layers = sizes
        .windows(2)
        .map(|w| Layer {
            weights: DMatrix::from_fn(w[1], w[0], |_, _| rng.random_range(-1.0..1.0)),
            bias: DVector::from_fn(w[1], |_, _| rng.random_range(-0.5..0.5)),
        })
        .collect();
    ReluNet::new(layers).expect("consecutive sizes chain")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(rows: usize, cols: usize, w: &[f64], b: &[f64]) -> Layer {
        Layer {
            weights: DMatrix::from_row_slice(rows, cols, w),
            bias: DVector::from_column_slice(b),
        }
    }

    #[test]
    fn forward_applies_relu_on_hidden_layers_only() {
        let net = ReluNet::new(vec![
            layer(2, 1, &[1.0, -1.0], &[0.0, 0.0]),
            layer(1, 2, &[1.0, 1.0], &[-5.0]),
        ])
        .unwrap();
        // hidden = relu([3, -3]) = [3, 0]; out = 3 - 5 = -2 (no ReLU on the output)
        assert_eq!(net.forward(&[3.0]), vec![-2.0]);
        assert_eq!(net.forward(&[-4.0]), vec![-1.0]);
    }

    #[test]
    fn rejects_layers_that_do_not_chain() {
        let err = ReluNet::new(vec![
            layer(2, 1, &[1.0, 1.0], &[0.0, 0.0]),
            layer(1, 3, &[1.0, 1.0, 1.0], &[0.0]),
        ])
        .unwrap_err();
        assert_eq!(
            err,
            NetShapeError::ChainMismatch {
                layer: 1,
                expected: 2,
                got: 3
            }
        );
        assert_eq!(ReluNet::new(vec![]).unwrap_err(), NetShapeError::NoLayers);
    }
}
