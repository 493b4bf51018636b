//! Networks: the Burn models that train and the plain [`ReluNet`] that everything else
//! analyses, with exact conversions between them and `.nnet` import/export.

mod burn_mlp;
pub mod nnet;
pub mod pre_tanh;
mod relu_net;

pub use burn_mlp::Mlp;
pub use pre_tanh::{MappingError, actor_constraints, pre_tanh_property};
#[cfg(test)]
pub(crate) use relu_net::random_net;
pub use relu_net::{Layer, NetShapeError, ReluNet, activations_before};
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

/// Why an unsafe action set has no exact counterpart on the pre-tanh outputs.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error(
    "constraint {index} mixes several actions; only one-action bounds map exactly through tanh"
)]
pub struct NotMonotoneMappable {
    pub index: usize,
}

impl ActionScaling {
    /// The pre-tanh version of the action half-space `coeffs·a <= rhs`, for a constraint on
    /// a single action `a_i = o_i + s_i·tanh(y_i)`: tanh is increasing, so the bound moves
    /// to `y_i` exactly. `Ok(None)` means every `y` satisfies it; a constraint no `y`
    /// satisfies comes back as `0 <= -1`.
    pub fn pre_tanh(
        &self,
        constraint: &crate::spec::HalfSpace,
        index: usize,
    ) -> Result<Option<crate::spec::HalfSpace>, NotMonotoneMappable> {
        let mut involved = constraint
            .coeffs
            .iter()
            .enumerate()
            .filter(|(_, c)| **c != 0.0);
        let Some((i, &a)) = involved.next() else {
            return Ok((constraint.rhs < 0.0).then(|| constraint.clone()));
        };
        if involved.next().is_some() {
            return Err(NotMonotoneMappable { index });
        }
        // a·(o + s·t) <= rhs  ⇔  sign·t <= bound, with t = tanh(y) ∈ (−1, 1).
        let slope = a * self.scale[i];
        let sign = slope.signum();
        let bound = (constraint.rhs - a * self.offset[i]) / slope.abs();
        let dim = constraint.coeffs.len();
        let mut coeffs = vec![0.0; dim];
        if bound >= 1.0 {
            return Ok(None);
        }
        if bound <= -1.0 {
            return Ok(Some(crate::spec::HalfSpace { coeffs, rhs: -1.0 }));
        }
        coeffs[i] = sign;
        Ok(Some(crate::spec::HalfSpace {
            coeffs,
            rhs: bound.atanh(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::HalfSpace;

    #[test]
    fn one_action_bounds_map_exactly_through_tanh() {
        let scaling = ActionScaling::from_bounds(&[0.0, -1.0], &[1.0, 1.0]);
        // a0 >= 0.75  ⇔  0.5 + 0.5·tanh(y0) >= 0.75  ⇔  -y0 <= -atanh(0.5)
        let h = HalfSpace {
            coeffs: vec![-1.0, 0.0],
            rhs: -0.75,
        };
        let mapped = scaling.pre_tanh(&h, 0).unwrap().unwrap();
        assert_eq!(mapped.coeffs, vec![-1.0, 0.0]);
        assert!((mapped.rhs + 0.5f64.atanh()).abs() < 1e-15);
        for y in [-2.0, 0.5, 0.549, 0.55, 3.0] {
            let action = scaling.to_env(&[f64::tanh(y), 0.0]);
            assert_eq!(h.contains(&action), mapped.contains(&[y, 0.0]), "y = {y}");
        }
        // a1 <= 2 always holds; a1 >= 2 never does.
        let always = HalfSpace {
            coeffs: vec![0.0, 1.0],
            rhs: 2.0,
        };
        assert_eq!(scaling.pre_tanh(&always, 0).unwrap(), None);
        let never = HalfSpace {
            coeffs: vec![0.0, -1.0],
            rhs: -2.0,
        };
        assert!(
            !scaling
                .pre_tanh(&never, 0)
                .unwrap()
                .unwrap()
                .contains(&[0.0, 0.0])
        );
        let mixed = HalfSpace {
            coeffs: vec![1.0, 1.0],
            rhs: 0.0,
        };
        assert_eq!(
            scaling.pre_tanh(&mixed, 3),
            Err(NotMonotoneMappable { index: 3 })
        );
    }
}
