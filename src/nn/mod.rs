//! Networks: the Burn models that train and the plain [`ReluNet`] that everything else
//! analyses, with exact conversions between them and `.nnet` import/export.

mod burn_mlp;
pub mod nnet;
mod relu_net;

pub use burn_mlp::Mlp;
pub use relu_net::{Layer, NetShapeError, ReluNet};
use serde::{Deserialize, Serialize};

/// The actor's output transform `action = offset + scale · tanh(y)`, per action.
///
/// Kept apart from the [`ReluNet`] (which stops at `y`) because reachability works on
/// the piecewise-linear part; tanh is monotone, so unsafe action sets map back onto `y`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionScaling {
    pub scale: Vec<f64>,
    pub offset: Vec<f64>,
}

impl ActionScaling {
    /// The transform onto the box `[lower, upper]`.
    pub fn from_bounds(lower: &[f64], upper: &[f64]) -> Self {
        Self {
            scale: lower
                .iter()
                .zip(upper)
                .map(|(l, u)| (u - l) / 2.0)
                .collect(),
            offset: lower
                .iter()
                .zip(upper)
                .map(|(l, u)| (u + l) / 2.0)
                .collect(),
        }
    }

    pub fn dim(&self) -> usize {
        self.scale.len()
    }

    /// From the normalized space `[-1, 1]` to environment units.
    pub fn to_env(&self, normalized: &[f64]) -> Vec<f64> {
        normalized
            .iter()
            .zip(self.scale.iter().zip(&self.offset))
            .map(|(u, (s, o))| o + s * u)
            .collect()
    }
}

/// A deployable policy: pre-tanh ReLU network plus its output transform.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub net: ReluNet,
    pub scaling: ActionScaling,
}

impl Policy {
    /// The action for `observation`, in environment units.
    pub fn act(&self, observation: &[f64]) -> Vec<f64> {
        let pre: Vec<f64> = self
            .net
            .forward(observation)
            .iter()
            .map(|y| y.tanh())
            .collect();
        self.scaling.to_env(&pre)
    }
}
