//! Looking for counterexamples without proof: random sampling and projected gradient ascent.
//!
//! Cheap attacks find most violations of an unsafe network in milliseconds, so
//! verification tries them before the exact search; they also serve as an independent
//! check of `safe` verdicts in the tests. Nothing here can prove safety.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::Counterexample;
use crate::nn::ReluNet;
use crate::spec::Property;

/// Gradient steps per start point.
const STEPS: usize = 40;

/// How deep an output is in the unsafe set: the largest, over disjuncts, of the smallest
/// slack of its half-spaces (`>= 0` iff the output is unsafe).
pub fn depth(property: &Property, output: &[f64]) -> f64 {
    property
        .unsafe_set
        .disjuncts
        .iter()
        .map(|rows| {
            rows.iter()
                .map(|h| h.slack(output))
                .fold(f64::INFINITY, f64::min)
        })
        .fold(f64::NEG_INFINITY, f64::max)
}

/// Random samples of the input set, then gradient ascent on [`depth`] from the deepest few.
pub fn attack(
    net: &ReluNet,
    property: &Property,
    samples: usize,
    seed: u64,
) -> Option<Counterexample> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut scored = Vec::with_capacity(samples);
    for _ in 0..samples {
        let x = random_input(property, &mut rng);
        let y = net.forward(&x);
        if property.violated_by(&x, &y) {
            return Some(Counterexample {
                input: x,
                output: y,
            });
        }
        scored.push((depth(property, &y), x));
    }
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let starts = (samples / 100).clamp(1, 20);
    scored
        .into_iter()
        .take(starts)
        .find_map(|(_, x)| ascend(net, property, x))
}

/// A uniform point of the input box (it may miss extra input constraints).
pub fn random_input(property: &Property, rng: &mut impl Rng) -> Vec<f64> {
    let input = &property.input;
    input
        .lower
        .iter()
        .zip(&input.upper)
        .map(|(&lo, &hi)| {
            if lo < hi {
                rng.random_range(lo..=hi)
            } else {
                lo
            }
        })
        .collect()
}

/// Projected sign-gradient ascent on [`depth`] from `x`, staying in the input box.
pub fn ascend(net: &ReluNet, property: &Property, mut x: Vec<f64>) -> Option<Counterexample> {
    let input = &property.input;
    let width: Vec<f64> = input
        .lower
        .iter()
        .zip(&input.upper)
        .map(|(l, u)| u - l)
        .collect();
    let mut step = 0.1;
    for _ in 0..STEPS {
        let y = net.forward(&x);
        if property.violated_by(&x, &y) {
            return Some(Counterexample {
                input: x,
                output: y,
            });
        }
        let direction = ascent_direction(net, property, &x, &y);
        for (i, xi) in x.iter_mut().enumerate() {
            *xi = (*xi + step * width[i] * direction[i].signum())
                .clamp(input.lower[i], input.upper[i]);
        }
        step *= 0.9;
    }
    let y = net.forward(&x);
    property.violated_by(&x, &y).then_some(Counterexample {
        input: x,
        output: y,
    })
}

/// Gradient of the tightest half-space's slack of the deepest disjunct, at `x`.
fn ascent_direction(net: &ReluNet, property: &Property, x: &[f64], y: &[f64]) -> Vec<f64> {
    let tightest = property
        .unsafe_set
        .disjuncts
        .iter()
        .filter_map(|rows| rows.iter().min_by(|a, b| a.slack(y).total_cmp(&b.slack(y))))
        .max_by(|a, b| a.slack(y).total_cmp(&b.slack(y)));
    let Some(h) = tightest else {
        return vec![0.0; x.len()];
    };
    // slack = rhs − a·y, so its gradient is −Jᵀa.
    let a: Vec<f64> = h.coeffs.iter().map(|c| -c).collect();
    input_gradient(net, x, &a)
}

/// `Jᵀ a` where `J` is the network's Jacobian at `x` (ReLU derivative 0 at 0).
pub fn input_gradient(net: &ReluNet, x: &[f64], a: &[f64]) -> Vec<f64> {
    let layers = net.layers();
    let mut active = Vec::with_capacity(layers.len());
    let mut value = nalgebra::DVector::from_column_slice(x);
    for (i, layer) in layers.iter().enumerate() {
        value = layer.affine(&value);
        if i + 1 < layers.len() {
            active.push(value.map(|v| v > 0.0));
            value.apply(|v| *v = v.max(0.0));
        }
    }
    let mut g = nalgebra::DVector::from_column_slice(a);
    for (i, layer) in layers.iter().enumerate().rev() {
        g = layer.weights.tr_mul(&g);
        if i > 0 {
            for (gj, on) in g.iter_mut().zip(active[i - 1].iter()) {
                if !on {
                    *gj = 0.0;
                }
            }
        }
    }
    g.as_slice().to_vec()
}
