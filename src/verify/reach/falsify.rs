//! Looking for counterexamples without proof: random sampling and projected gradient ascent.
//!
//! Cheap attacks find most violations of an unsafe network in milliseconds, so
//! verification tries them before the exact search; they also serve as an independent
//! check of `safe` verdicts in the tests. Nothing here can prove safety.
//!
//! A piecewise-linear network attains its extremes at vertices of its linear pieces, and
//! many of those lie on the faces of the input box: half of the samples therefore pin each
//! coordinate to a bound with probability one half (on ACAS Xu 1_9 property 7 the only
//! violations are a sliver along a face, which uniform sampling hits once in a million).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::Counterexample;
use crate::nn::ReluNet;
use crate::spec::{HalfSpace, Property};

/// Accepted ascent steps (or step halvings) per start point.
const STEPS: usize = 100;

/// Smallest step, as a fraction of each input's range, before an ascent gives up.
const MIN_STEP: f64 = 1e-7;

/// How deep an output is in the unsafe set: the largest, over disjuncts, of the smallest
/// slack of its half-spaces (`>= 0` iff the output is unsafe).
pub fn depth(property: &Property, output: &[f64]) -> f64 {
    property
        .unsafe_set
        .disjuncts
        .iter()
        .map(|rows| conjunct_depth(rows, output))
        .fold(f64::NEG_INFINITY, f64::max)
}

/// The smallest slack of one conjunction of half-spaces (`>= 0` iff `output` is inside).
fn conjunct_depth(rows: &[HalfSpace], output: &[f64]) -> f64 {
    rows.iter()
        .map(|h| h.slack(output))
        .fold(f64::INFINITY, f64::min)
}

/// Random samples of the input set (half uniform, half pinned to faces), then gradient
/// ascent on [`depth`] from the deepest few.
pub fn attack(
    net: &ReluNet,
    property: &Property,
    samples: usize,
    seed: u64,
) -> Option<Counterexample> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut scored = Vec::with_capacity(samples);
    for i in 0..samples {
        let mut x = random_input(property, &mut rng);
        if i % 2 == 1 {
            pin_to_faces(property, &mut x, &mut rng);
        }
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

/// Moves each coordinate of `x` to its lower or upper bound with probability 1/4 each.
fn pin_to_faces(property: &Property, x: &mut [f64], rng: &mut impl Rng) {
    let input = &property.input;
    for (v, (&lo, &hi)) in x.iter_mut().zip(input.lower.iter().zip(&input.upper)) {
        match rng.random_range(0..4) {
            0 => *v = lo,
            1 => *v = hi,
            _ => {}
        }
    }
}

/// Projected ascent on [`depth`] from `x`, staying in the input box. Each step follows the
/// gradient of a soft minimum over the deepest disjunct's half-spaces (so two tied
/// half-spaces do not make it zig-zag), scaled so that its largest coordinate moves by the
/// step times that input's range (inputs the depth hardly depends on stay nearly put,
/// which keeps the ascent on thin slivers), and is kept only if the depth grows; otherwise
/// the step is halved. The depth thus never decreases.
pub fn ascend(net: &ReluNet, property: &Property, mut x: Vec<f64>) -> Option<Counterexample> {
    let input = &property.input;
    let width: Vec<f64> = input
        .lower
        .iter()
        .zip(&input.upper)
        .map(|(l, u)| u - l)
        .collect();
    let mut y = net.forward(&x);
    let mut current = depth(property, &y);
    let mut step = 0.05;
    for _ in 0..STEPS {
        if property.violated_by(&x, &y) {
            return Some(Counterexample {
                input: x,
                output: y,
            });
        }
        if step < MIN_STEP {
            break;
        }
        let direction = ascent_direction(net, property, &x, &y);
        let largest = direction.iter().fold(0.0f64, |m, d| m.max(d.abs()));
        if largest == 0.0 {
            break;
        }
        let candidate: Vec<f64> = x
            .iter()
            .enumerate()
            .map(|(i, xi)| {
                (xi + step * width[i] * direction[i] / largest)
                    .clamp(input.lower[i], input.upper[i])
            })
            .collect();
        let candidate_y = net.forward(&candidate);
        let candidate_depth = depth(property, &candidate_y);
        if candidate_depth > current {
            (x, y, current) = (candidate, candidate_y, candidate_depth);
            step *= 1.5;
        } else {
            step *= 0.5;
        }
    }
    property.violated_by(&x, &y).then_some(Counterexample {
        input: x,
        output: y,
    })
}

/// Gradient, at `x`, of a soft minimum of the slacks of the deepest disjunct: each
/// half-space is weighted by `exp(−(slack − min)/τ)` with `τ` a tenth of the distance to
/// the unsafe set, so the half-spaces that are nearly tied all pull.
fn ascent_direction(net: &ReluNet, property: &Property, x: &[f64], y: &[f64]) -> Vec<f64> {
    let deepest = property
        .unsafe_set
        .disjuncts
        .iter()
        .max_by(|a, b| conjunct_depth(a, y).total_cmp(&conjunct_depth(b, y)));
    let Some(rows) = deepest else {
        return vec![0.0; x.len()];
    };
    let lowest = conjunct_depth(rows, y);
    let temperature = 0.1 * lowest.abs() + f64::MIN_POSITIVE;
    // slack = rhs − a·y, so the soft minimum's gradient in y is −Σ w_r a_r.
    let mut a = vec![0.0; y.len()];
    for h in rows {
        let weight = (-(h.slack(y) - lowest) / temperature).exp();
        for (ai, c) in a.iter_mut().zip(&h.coeffs) {
            *ai -= weight * c;
        }
    }
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
