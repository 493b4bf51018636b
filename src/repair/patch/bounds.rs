//! Sound big-M bounds: interval arithmetic from the repaired layer to the output.
//!
//! The big-M ReLU encoding is only correct if every pre-activation provably lies inside
//! its interval for *every* admissible weight change; a bound that is too tight cuts off
//! feasible (even optimal) patches. Two things make these bounds sound:
//! - the repaired layer's weights and bias may each move by up to `max_change`, so a
//!   pre-activation `w·a + b` may move by up to `max_change · (‖a‖₁ + 1)`;
//! - a hidden neuron's *output* interval is its pre-activation interval clamped by ReLU
//!   (`[max(lo, 0), max(hi, 0)]`). Propagating the unclamped interval instead (as the
//!   public NNRepLayer code does) excludes the true value 0 of an always-inactive neuron
//!   and makes the next layer's bounds wrong.
//!
//! Every interval is widened by a relative 1e-9 so floating-point rounding cannot make
//! it too tight.

use crate::nn::ReluNet;

/// A closed interval `[lo, hi]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub lo: f64,
    pub hi: f64,
}

impl Interval {
    /// Whether `v` lies in the interval.
    pub fn contains(&self, v: f64) -> bool {
        self.lo <= v && v <= self.hi
    }

    /// The interval of `max(v, 0)` for `v` in this interval.
    pub fn relu(&self) -> Interval {
        Interval {
            lo: self.lo.max(0.0),
            hi: self.hi.max(0.0),
        }
    }

    /// Slightly wider, so that rounding in the computation cannot make it unsound.
    fn widened(self) -> Interval {
        let pad = |v: f64| 1e-9 * (1.0 + v.abs());
        Interval {
            lo: self.lo - pad(self.lo),
            hi: self.hi + pad(self.hi),
        }
    }
}

/// The pre-activation intervals of layers `layer..` (the last entry bounds the output)
/// for one sample whose input to `layer` is `layer_input`, when row `j` of `layer`'s
/// weights and bias may move by up to `max_change` per entry iff `free_rows[j]`.
pub fn pre_activation_bounds(
    net: &ReluNet,
    layer: usize,
    layer_input: &[f64],
    free_rows: &[bool],
    max_change: f64,
) -> Vec<Vec<Interval>> {
    let layers = net.layers();
    let repaired = &layers[layer];
    let input_norm: f64 = layer_input.iter().map(|a| a.abs()).sum::<f64>() + 1.0;
    let first: Vec<Interval> = (0..repaired.outputs())
        .map(|j| {
            let centre: f64 = repaired
                .weights
                .row(j)
                .iter()
                .zip(layer_input)
                .map(|(w, a)| w * a)
                .sum::<f64>()
                + repaired.bias[j];
            let radius = if free_rows[j] {
                max_change * input_norm
            } else {
                0.0
            };
            Interval {
                lo: centre - radius,
                hi: centre + radius,
            }
            .widened()
        })
        .collect();
    let mut all = vec![first];
    for next in &layers[layer + 1..] {
        let inputs: Vec<Interval> = all
            .last()
            .expect("one layer")
            .iter()
            .map(Interval::relu)
            .collect();
        let bounds = (0..next.outputs())
            .map(|j| {
                let (mut lo, mut hi) = (next.bias[j], next.bias[j]);
                for (w, x) in next.weights.row(j).iter().zip(&inputs) {
                    let (a, b) = (w * x.lo, w * x.hi);
                    lo += a.min(b);
                    hi += a.max(b);
                }
                Interval { lo, hi }.widened()
            })
            .collect();
        all.push(bounds);
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::{Layer, random_net};
    use nalgebra::{DMatrix, DVector};
    use rand::{Rng, SeedableRng};

    /// The activations entering `layer`.
    fn layer_input(net: &ReluNet, layer: usize, x: &[f64]) -> Vec<f64> {
        let prefix = ReluNet::new(net.layers()[..layer].to_vec()).unwrap();
        prefix.forward(x).iter().map(|v| v.max(0.0)).collect()
    }

    #[test]
    fn every_admissible_weight_change_stays_inside_the_bounds() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for trial in 0..200 {
            let net = random_net(&mut rng, &[3, 5, 4, 4, 2]);
            let layer = 1 + trial % 3;
            let x: Vec<f64> = (0..3).map(|_| rng.random_range(-2.0..2.0)).collect();
            let a = layer_input(&net, layer, &x);
            let free: Vec<bool> = (0..net.layers()[layer].outputs())
                .map(|_| rng.random_bool(0.7))
                .collect();
            let max_change = 0.3;
            let bounds = pre_activation_bounds(&net, layer, &a, &free, max_change);
            let mut layers = net.clone().into_layers();
            for (j, &is_free) in free.iter().enumerate() {
                if is_free {
                    for w in layers[layer].weights.row_mut(j).iter_mut() {
                        *w += rng.random_range(-max_change..=max_change);
                    }
                    layers[layer].bias[j] += rng.random_range(-max_change..=max_change);
                }
            }
            // Pre-activations of the perturbed network, layer by layer.
            let mut value = DVector::from_column_slice(&a);
            for (depth, l) in layers[layer..].iter().enumerate() {
                let pre = l.affine(&value);
                for (j, v) in pre.iter().enumerate() {
                    assert!(
                        bounds[depth][j].contains(*v),
                        "trial {trial}: {v} outside {:?}",
                        bounds[depth][j]
                    );
                }
                value = pre.map(|v| v.max(0.0));
            }
        }
    }

    #[test]
    fn an_always_inactive_neuron_contributes_zero_not_its_negative_interval() {
        // Hidden neuron 0 has pre-activation in [-3, -1] (always inactive, true output 0);
        // the next layer adds 0.5. Without clamping the next pre-activation would be
        // bounded by [-2.5, -0.5], excluding its true value 0.5.
        let net = ReluNet::new(vec![
            Layer {
                weights: DMatrix::from_row_slice(1, 1, &[1.0]),
                bias: DVector::from_column_slice(&[-2.0]),
            },
            Layer {
                weights: DMatrix::from_row_slice(1, 1, &[1.0]),
                bias: DVector::from_column_slice(&[0.5]),
            },
            Layer {
                weights: DMatrix::from_row_slice(1, 1, &[1.0]),
                bias: DVector::from_column_slice(&[0.0]),
            },
        ])
        .unwrap();
        let bounds = pre_activation_bounds(&net, 0, &[0.0], &[true], 1.0);
        assert!(bounds[0][0].hi < 0.0, "{:?}", bounds[0][0]);
        let unclamped_hi = bounds[0][0].hi + 0.5;
        assert!(unclamped_hi < 0.5, "the unclamped bound would exclude 0.5");
        assert!(bounds[1][0].contains(0.5), "{:?}", bounds[1][0]);
        assert_eq!(net.forward(&[0.0]), vec![0.5]);
    }
}
