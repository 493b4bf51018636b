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

use crate::nn::{Layer, ReluNet};
use nalgebra::{DMatrix, DVector};

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
        all.push(affine_bounds(next, &inputs));
    }
    all
}

/// The pre-activation intervals of every layer of `net` (the last entry bounds the
/// output) for inputs in the box `[lower, upper]`: the big-M bounds of the MILP verifier.
///
/// Plain interval arithmetic forgets that neurons share inputs and is hopelessly loose
/// after a few layers of a 40-input network (every ReLU then needs a binary). So each
/// layer also carries a lower and an upper *linear function of the input* (symbolic
/// intervals: an unstable ReLU's upper relaxation `u·(z − l)/(u − l)`, its lower `z` or
/// `0`, whichever loses less), concretized over the box; the result is the intersection
/// of both, widened against rounding.
pub fn box_bounds(net: &ReluNet, lower: &[f64], upper: &[f64]) -> Vec<Vec<Interval>> {
    let box_ = InputBox {
        lower: DVector::from_column_slice(lower),
        upper: DVector::from_column_slice(upper),
    };
    // The current layer's inputs, bounded below and above by linear functions of x.
    let dim = lower.len();
    let mut low = Linear {
        weights: DMatrix::identity(dim, dim),
        constant: DVector::zeros(dim),
    };
    let mut high = low.clone();
    let mut inputs: Vec<Interval> = lower
        .iter()
        .zip(upper)
        .map(|(&lo, &hi)| Interval { lo, hi })
        .collect();
    let mut all: Vec<Vec<Interval>> = Vec::new();
    let layers = net.layers();
    for (depth, layer) in layers.iter().enumerate() {
        let positive = layer.weights.map(|w| w.max(0.0));
        let negative = layer.weights.map(|w| w.min(0.0));
        let z_low = Linear {
            weights: &positive * &low.weights + &negative * &high.weights,
            constant: &positive * &low.constant + &negative * &high.constant + &layer.bias,
        };
        let z_high = Linear {
            weights: &positive * &high.weights + &negative * &low.weights,
            constant: &positive * &high.constant + &negative * &low.constant + &layer.bias,
        };
        let bounds: Vec<Interval> = affine_bounds(layer, &inputs)
            .into_iter()
            .enumerate()
            .map(|(j, plain)| {
                Interval {
                    lo: plain.lo.max(box_.min(&z_low, j)),
                    hi: plain.hi.min(box_.max(&z_high, j)),
                }
                .widened()
            })
            .collect();
        if depth + 1 < layers.len() {
            (low, high) = relu_relaxation(z_low, z_high, &bounds);
            inputs = bounds.iter().map(Interval::relu).collect();
        }
        all.push(bounds);
    }
    all
}

/// `weights · x + constant`, one row per neuron.
#[derive(Clone)]
struct Linear {
    weights: DMatrix<f64>,
    constant: DVector<f64>,
}

/// The input box, to concretize linear functions over.
struct InputBox {
    lower: DVector<f64>,
    upper: DVector<f64>,
}

impl InputBox {
    fn min(&self, f: &Linear, j: usize) -> f64 {
        let row = f.weights.row(j);
        f.constant[j]
            + row
                .iter()
                .zip(self.lower.iter().zip(self.upper.iter()))
                .map(|(&w, (&lo, &hi))| if w >= 0.0 { w * lo } else { w * hi })
                .sum::<f64>()
    }

    fn max(&self, f: &Linear, j: usize) -> f64 {
        let row = f.weights.row(j);
        f.constant[j]
            + row
                .iter()
                .zip(self.lower.iter().zip(self.upper.iter()))
                .map(|(&w, (&lo, &hi))| if w >= 0.0 { w * hi } else { w * lo })
                .sum::<f64>()
    }
}

/// Linear lower and upper bounds of `relu(z)` given `z_low ≤ z ≤ z_high` and `z`'s
/// concrete interval per neuron.
fn relu_relaxation(mut low: Linear, mut high: Linear, bounds: &[Interval]) -> (Linear, Linear) {
    for (j, b) in bounds.iter().enumerate() {
        if b.hi <= 0.0 {
            low.weights.row_mut(j).fill(0.0);
            low.constant[j] = 0.0;
            high.weights.row_mut(j).fill(0.0);
            high.constant[j] = 0.0;
        } else if b.lo < 0.0 {
            // relu(z) ≤ λ·(z − lo) with λ = hi / (hi − lo); relu(z) ≥ z or ≥ 0.
            let slope = b.hi / (b.hi - b.lo);
            high.weights.row_mut(j).scale_mut(slope);
            high.constant[j] = slope * (high.constant[j] - b.lo);
            if b.hi < -b.lo {
                low.weights.row_mut(j).fill(0.0);
                low.constant[j] = 0.0;
            }
        }
    }
    (low, high)
}

/// Interval image of `W·x + b` for `x` in the box `inputs`, widened against rounding.
fn affine_bounds(layer: &Layer, inputs: &[Interval]) -> Vec<Interval> {
    (0..layer.outputs())
        .map(|j| {
            let (mut lo, mut hi) = (layer.bias[j], layer.bias[j]);
            for (w, x) in layer.weights.row(j).iter().zip(inputs) {
                let (a, b) = (w * x.lo, w * x.hi);
                lo += a.min(b);
                hi += a.max(b);
            }
            Interval { lo, hi }.widened()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::random_net;
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
    fn box_bounds_hold_every_sampled_input_and_beat_plain_intervals() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut tighter = 0;
        for _ in 0..50 {
            let net = random_net(&mut rng, &[6, 12, 12, 12, 2]);
            let lower: Vec<f64> = (0..6).map(|_| rng.random_range(-2.0..0.0)).collect();
            let upper: Vec<f64> = lower
                .iter()
                .map(|l| l + rng.random_range(0.0..2.0))
                .collect();
            let bounds = box_bounds(&net, &lower, &upper);
            for _ in 0..200 {
                let x: Vec<f64> = lower
                    .iter()
                    .zip(&upper)
                    .map(|(&l, &u)| rng.random_range(l..=u))
                    .collect();
                let mut value = DVector::from_column_slice(&x);
                for (depth, layer) in net.layers().iter().enumerate() {
                    let pre = layer.affine(&value);
                    for (j, v) in pre.iter().enumerate() {
                        assert!(
                            bounds[depth][j].contains(*v),
                            "{v} outside {:?}",
                            bounds[depth][j]
                        );
                    }
                    value = pre.map(|v| v.max(0.0));
                }
            }
            // Plain interval arithmetic, for comparison.
            let mut inputs: Vec<Interval> = lower
                .iter()
                .zip(&upper)
                .map(|(&lo, &hi)| Interval { lo, hi })
                .collect();
            let mut plain = Vec::new();
            for layer in net.layers() {
                plain = affine_bounds(layer, &inputs);
                inputs = plain.iter().map(Interval::relu).collect();
            }
            let width = |b: &[Interval]| b.iter().map(|i| i.hi - i.lo).sum::<f64>();
            let last = bounds.last().unwrap();
            assert!(width(last) <= width(&plain) + 1e-6);
            tighter += usize::from(width(last) < 0.9 * width(&plain));
        }
        assert!(
            tighter >= 25,
            "symbolic bounds were clearly tighter only {tighter}/50 times"
        );
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
