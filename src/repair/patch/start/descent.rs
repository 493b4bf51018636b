//! A starting activation pattern for patches the original pattern cannot hold.
//!
//! When repair samples need ReLUs after the repaired layer to switch, the
//! pattern-preserving LP is infeasible, and with thousands of binaries (a hidden layer
//! of a deeper network, hundreds of samples) HiGHS's branch and bound often finds no
//! feasible point within minutes. Gradient descent moves through activation patterns
//! freely: Adam on the repaired layer's free rows, minimising the mean squared error to
//! the targets plus a hinge penalty on how deep each sample lies inside an unsafe set,
//! every step clipped to `±max_change` of the original weights. The pattern it ends in
//! goes to the fixed-pattern LP (`local_search::mend`), and only what that LP returns is
//! used: the descent itself guarantees nothing.

use crate::nn::activations_before;
use crate::nn::{Layer, ReluNet};
use crate::repair::patch::encode::Spec;
use nalgebra::{DMatrix, DVector};
use std::time::{Duration, Instant};

/// Most Adam steps (the paper-sized prosthesis problems settle within a few thousand).
const STEPS: usize = 4000;
const LEARNING_RATE: f64 = 1e-3;
/// Weight of the hinge penalty against the squared error (both per-sample means).
const PENALTY: f64 = 1000.0;
/// The hinge asks for this share of the clearance on top of what the model requires, so
/// that the descent's last step, which may still sit a little inside, lands outside.
const EXTRA_CLEARANCE: f64 = 0.2;

/// The network with `spec.layer`'s free rows moved by projected gradient descent for at
/// most `budget` (unbounded: [`STEPS`] steps); it stops early once every sample clears
/// the hinge and the squared error has stopped falling.
pub fn descend(spec: &Spec, budget: Option<Duration>) -> ReluNet {
    let started = Instant::now();
    let layers = spec.net.layers();
    let original = &layers[spec.layer];
    let inputs = layer_inputs(spec);
    // The layer as one matrix [W | b], against inputs with a row of ones appended.
    let mut original_params = original
        .weights
        .clone()
        .insert_column(original.inputs(), 0.0);
    original_params.set_column(original.inputs(), &original.bias);
    let mut params = original_params.clone();
    let mut adam = Adam::new(params.nrows(), params.ncols());
    let mut last_error = f64::INFINITY;
    for step in 1..=STEPS {
        if budget.is_some_and(|b| started.elapsed() >= b) {
            break;
        }
        let (mut grad, error, penalty) =
            gradient(spec, &layers[spec.layer + 1..], &inputs, &params);
        if penalty == 0.0 && error > last_error * (1.0 - 1e-4) {
            break;
        }
        last_error = error;
        for (row, &free) in spec.free_rows.iter().enumerate() {
            if !free {
                grad.row_mut(row).fill(0.0);
            }
        }
        adam.step(&mut params, &grad, step);
        params.zip_apply(&original_params, |v, o| {
            *v = v.clamp(o - spec.max_change, o + spec.max_change);
        });
    }
    let mut layers = layers.to_vec();
    layers[spec.layer] = Layer {
        bias: params.column(original.inputs()).into_owned(),
        weights: params.remove_column(original.inputs()),
    };
    ReluNet::new(layers).expect("the patched layer keeps its shape")
}

/// The activations entering the repaired layer with a 1 appended (for the bias), one
/// column per sample.
fn layer_inputs(spec: &Spec) -> DMatrix<f64> {
    let prefix = &spec.net.layers()[..spec.layer];
    let columns: Vec<DVector<f64>> = spec
        .samples
        .iter()
        .map(|s| {
            let mut input = activations_before(prefix, &s.input);
            input.push(1.0);
            DVector::from_vec(input)
        })
        .collect();
    DMatrix::from_columns(&columns)
}

/// The gradient of the loss with respect to the repaired layer's [W | b], the mean
/// squared error, and the mean penalty.
fn gradient(
    spec: &Spec,
    after: &[Layer],
    inputs: &DMatrix<f64>,
    params: &DMatrix<f64>,
) -> (DMatrix<f64>, f64, f64) {
    let n = inputs.ncols() as f64;
    // Pre-activations of the repaired layer and each later one, one column per sample.
    let mut pre = vec![params * inputs];
    for layer in after {
        let activations = pre.last().expect("one layer at least").map(|v| v.max(0.0));
        pre.push(affine(layer, &activations));
    }
    let outputs = pre.last().expect("one layer at least");
    let mut grad = DMatrix::zeros(outputs.nrows(), outputs.ncols());
    let (mut error, mut penalty) = (0.0, 0.0);
    for (k, sample) in spec.samples.iter().enumerate() {
        let y: Vec<f64> = outputs.column(k).iter().copied().collect();
        for (j, (&yj, &t)) in y.iter().zip(&sample.target).enumerate() {
            error += (yj - t).powi(2) / n;
            grad[(j, k)] += 2.0 * (yj - t) / n;
        }
        for (depth, output_gradient) in unsafe_depths(spec, &sample.input, &y) {
            penalty += PENALTY * depth * depth / n;
            for (j, g) in output_gradient.iter().enumerate() {
                grad[(j, k)] += 2.0 * PENALTY * depth * g / n;
            }
        }
    }
    // Back through the later layers to the repaired layer's pre-activations.
    for (layer, below) in after.iter().rev().zip(pre.iter().rev().skip(1)) {
        grad = layer.weights.transpose() * grad;
        grad.zip_apply(below, |g, z| {
            if z <= 0.0 {
                *g = 0.0;
            }
        });
    }
    (&grad * inputs.transpose(), error, penalty)
}

/// For each unsafe polytope that `(x, y)` lies in or too near: how far it must still
/// move (the hinge, > 0) and that amount's gradient with respect to y. A polytope is
/// left through its shallowest half-space, so that one carries the gradient.
fn unsafe_depths(spec: &Spec, x: &[f64], y: &[f64]) -> Vec<(f64, Vec<f64>)> {
    let mut found = Vec::new();
    for constraint in spec.constraints {
        if !constraint.applies_to(x, 0.0) {
            continue;
        }
        for polytope in &constraint.unsafe_set {
            // Leaving half-space h·y ≤ r takes the model's leave distance past r, plus
            // the extra share of the clearance.
            let shallowest = polytope
                .iter()
                .map(|h| {
                    let need =
                        spec.leave_distance(h.output_rhs(x)) + spec.clearance * EXTRA_CLEARANCE;
                    (h.slack(x, y) + need, h)
                })
                .min_by(|a, b| a.0.total_cmp(&b.0));
            if let Some((depth, h)) = shallowest.filter(|(depth, _)| *depth > 0.0) {
                found.push((depth, h.output.iter().map(|c| -c).collect()));
            }
        }
    }
    found
}

/// `W·X + b` for a batch of columns.
fn affine(layer: &Layer, columns: &DMatrix<f64>) -> DMatrix<f64> {
    let mut z = &layer.weights * columns;
    for mut column in z.column_iter_mut() {
        column += &layer.bias;
    }
    z
}

/// Adam's moment estimates for the parameter matrix.
struct Adam {
    first: DMatrix<f64>,
    second: DMatrix<f64>,
}

impl Adam {
    fn new(rows: usize, columns: usize) -> Self {
        Self {
            first: DMatrix::zeros(rows, columns),
            second: DMatrix::zeros(rows, columns),
        }
    }

    fn step(&mut self, value: &mut DMatrix<f64>, gradient: &DMatrix<f64>, step: usize) {
        let (beta1, beta2) = (0.9_f64, 0.999_f64);
        let correction1 = 1.0 - beta1.powi(step as i32);
        let correction2 = 1.0 - beta2.powi(step as i32);
        for (((v, g), m), s) in value
            .iter_mut()
            .zip(gradient.iter())
            .zip(self.first.iter_mut())
            .zip(self.second.iter_mut())
        {
            *m = beta1 * *m + (1.0 - beta1) * g;
            *s = beta2 * *s + (1.0 - beta2) * g * g;
            *v -= LEARNING_RATE * (*m / correction1) / ((*s / correction2).sqrt() + 1e-8);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::random_net;
    use crate::repair::patch::encode::{Binaries, Encoding};
    use crate::repair::patch::start::local_search::mend;
    use crate::repair::patch::{Constraint, Sample};
    use crate::spec::InputSet;
    use crate::spec::constraint::parse_joint_inequality;
    use rand::{Rng, SeedableRng, rngs::StdRng};

    #[test]
    fn descent_clears_the_samples_within_the_weight_bound_and_mends_into_a_patch() {
        let mut rng = StdRng::seed_from_u64(7);
        let net = random_net(&mut rng, &[3, 8, 8, 1]);
        let samples: Vec<Sample> = (0..40)
            .map(|_| {
                let input: Vec<f64> = (0..3).map(|_| rng.random_range(-1.0..1.0)).collect();
                let target = net.forward(&input);
                Sample { input, target }
            })
            .collect();
        // Ψ: y below the median output, so half the samples start inside the unsafe set.
        let mut outputs: Vec<f64> = samples.iter().map(|s| s.target[0]).collect();
        outputs.sort_by(f64::total_cmp);
        let bound = outputs[outputs.len() / 2];
        let constraints = [Constraint {
            name: "below-median".into(),
            condition: InputSet {
                lower: vec![f64::NEG_INFINITY; 3],
                upper: vec![f64::INFINITY; 3],
                constraints: vec![],
            },
            unsafe_set: vec![vec![
                parse_joint_inequality(&format!("y0 >= {bound}"), 3, 1).unwrap(),
            ]],
        }];
        let mut free_rows = vec![true; 8];
        free_rows[3] = false;
        let spec = Spec {
            net: &net,
            layer: 0,
            free_rows: &free_rows,
            samples: &samples,
            constraints: &constraints,
            lambda: 0.0,
            max_change: 1.0,
            margin: 1e-6,
            clearance: 0.05,
        };
        let descended = descend(&spec, None);
        for s in &samples {
            let y = descended.forward(&s.input)[0];
            assert!(y <= bound - spec.clearance, "{y} is not clear of {bound}");
        }
        let (before, after) = (&net.layers()[0], &descended.layers()[0]);
        let change = (&after.weights - &before.weights).abs().max();
        assert!(change <= spec.max_change + 1e-12, "change {change}");
        assert_eq!(
            after.weights.row(3),
            before.weights.row(3),
            "a fixed row moved"
        );
        assert_eq!(after.bias[3], before.bias[3]);
        // Its pattern turns into a patch that provably holds the samples.
        let encoding = Encoding::build(&spec, Binaries::Free).unwrap();
        let mended = mend(&spec, &encoding, &descended, None)
            .unwrap()
            .expect("a patch");
        assert_eq!(mended.score.0, 0, "violated samples after mending");
    }
}
