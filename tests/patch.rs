//! The NNRepLayer patch: known optima are found, every repair sample satisfies Ψ on the
//! real patched network, infeasible requests are reported as such, the big-M bounds are
//! sound where unclamped ones are not, and the verifier loop ends proved safe.

mod reach_common;

use nalgebra::{DMatrix, DVector};
use rand::{Rng, SeedableRng};
use saferl::nn::{Layer, ReluNet};
use saferl::repair::patch::{
    Constraint, LoopOptions, PatchError, PatchOptions, PatchStatus, Sample, Verifier, patch,
    repair_loop,
};
use saferl::spec::InputSet;
use saferl::spec::Property;
use saferl::spec::constraint::parse_joint_inequality;
use saferl::verify::bounds::pre_activation_bounds;
use saferl::verify::reach::{self, Verdict};
use std::time::Duration;

fn layer(rows: usize, cols: usize, w: &[f64], b: &[f64]) -> Layer {
    Layer {
        weights: DMatrix::from_row_slice(rows, cols, w),
        bias: DVector::from_column_slice(b),
    }
}

fn random_net(seed: u64, sizes: &[usize]) -> ReluNet {
    reach_common::random_net(&mut reach_common::rng(seed), sizes)
}

/// A constraint over `inputs` inputs and `outputs` outputs from text inequalities.
fn constraint(
    name: &str,
    inputs: usize,
    outputs: usize,
    condition: Option<(Vec<f64>, Vec<f64>)>,
    unsafe_set: &[&[&str]],
) -> Constraint {
    let (lower, upper) =
        condition.unwrap_or((vec![f64::NEG_INFINITY; inputs], vec![f64::INFINITY; inputs]));
    Constraint {
        name: name.to_string(),
        condition: InputSet {
            lower,
            upper,
            constraints: vec![],
        },
        unsafe_set: unsafe_set
            .iter()
            .map(|conj| {
                conj.iter()
                    .map(|t| parse_joint_inequality(t, inputs, outputs).unwrap())
                    .collect()
            })
            .collect(),
    }
}

/// Samples whose targets are the network's own outputs (keep behaviour).
fn keep_behaviour(net: &ReluNet, inputs: &[Vec<f64>]) -> Vec<Sample> {
    inputs
        .iter()
        .map(|x| Sample {
            input: x.clone(),
            target: net.forward(x),
        })
        .collect()
}

/// h = relu(x), y = w·h + b with w = 1, b = 0; samples x = 1, 2, 3 keep y = x; Ψ: y < 2.5;
/// λ = 0, so the optimum can be computed by hand; the last layer is patched.
fn patch_the_cap_problem(clearance: f64) -> saferl::repair::patch::PatchResult {
    let net = ReluNet::new(vec![
        layer(1, 1, &[1.0], &[0.0]),
        layer(1, 1, &[1.0], &[0.0]),
    ])
    .unwrap();
    let inputs: Vec<Vec<f64>> = [1.0, 2.0, 3.0].iter().map(|&x| vec![x]).collect();
    let samples = keep_behaviour(&net, &inputs);
    let psi = constraint("cap", 1, 1, None, &[&["y0 >= 2.5"]]);
    let mut options = PatchOptions::for_layer(1);
    options.lambda = 0.0;
    options.margin = 1e-6; // the hand-computed optimum sits (almost) on the boundary
    options.clearance = clearance;
    patch(&net, &samples, &[psi], &options).unwrap()
}

#[test]
fn last_layer_patch_finds_the_hand_computed_optimum() {
    // min Σ ((w − 1)h + b)² s.t. 3w + b ≤ 2.5 gives w = 0.7, b = 0.4 and
    // objective 0.1² + 0.2² + 0.5² = 0.30.
    let result = patch_the_cap_problem(0.0);
    let patched = &result.net.layers()[1];
    assert!((patched.weights[(0, 0)] - 0.7).abs() < 1e-4, "{patched:?}");
    assert!((patched.bias[0] - 0.4).abs() < 1e-4, "{patched:?}");
    assert!(
        (result.objective - 0.30).abs() < 1e-4,
        "{}",
        result.objective
    );
    assert_eq!(result.status, PatchStatus::Optimal);
    assert!(result.gap <= 0.01 && result.lower_bound <= result.objective + 1e-9);
    assert!((result.delta - 0.4).abs() < 1e-4);
    assert!(result.violations.is_empty());
    assert!(result.net.forward(&[3.0])[0] < 2.5);
}

#[test]
fn clearance_moves_the_optimum_that_far_from_the_unsafe_set() {
    // The problem above with clearance 0.5: 3w + b ≤ 2. With a = w − 1 and b = −1 − 3a on
    // the boundary, Σ (a·x + b)² = (2a + 1)² + (a + 1)² + 1 is least at a = −0.6: w = 0.4,
    // b = 0.8, objective 1.2, and the worst sample's output is 2.0, not 2.5.
    let result = patch_the_cap_problem(0.5);
    let patched = &result.net.layers()[1];
    assert!((patched.weights[(0, 0)] - 0.4).abs() < 1e-4, "{patched:?}");
    assert!((patched.bias[0] - 0.8).abs() < 1e-4, "{patched:?}");
    assert!(
        (result.objective - 1.2).abs() < 1e-4,
        "{}",
        result.objective
    );
    let worst = result.net.forward(&[3.0])[0];
    assert!((1.99..=2.0).contains(&worst), "{worst}");
}

#[test]
fn hidden_layer_patch_is_at_least_as_good_as_every_feasible_grid_point() {
    // One free hidden neuron (weight w, bias b): the MIQP optimum cannot be beaten by any
    // point of a fine grid over the admissible box that satisfies Ψ on every sample.
    let net = ReluNet::new(vec![
        layer(2, 1, &[1.0, -1.0], &[0.0, 0.5]),
        layer(1, 2, &[1.0, 0.5], &[0.0]),
    ])
    .unwrap();
    let inputs: Vec<Vec<f64>> = [-1.0, -0.5, 0.0, 0.5, 1.0, 1.5]
        .iter()
        .map(|&x| vec![x])
        .collect();
    let samples = keep_behaviour(&net, &inputs);
    let psi = constraint("cap", 1, 1, None, &[&["y0 >= 1.0"]]);
    assert!(
        samples.iter().any(|s| s.target[0] >= 1.0),
        "the original violates Ψ"
    );
    let mut options = PatchOptions::for_layer(0);
    options.nodes = Some(vec![0]);
    options.lambda = 0.1;
    options.max_change = 1.0;
    options.gap = 1e-4;
    options.margin = 1e-6; // the grid's best points may sit (almost) on the boundary
    let result = patch(&net, &samples, std::slice::from_ref(&psi), &options).unwrap();
    assert!(result.violations.is_empty());
    let objective = |w: f64, b: f64| -> Option<f64> {
        let mut layers = net.clone().into_layers();
        layers[0].weights[(0, 0)] = w;
        layers[0].bias[0] = b;
        let candidate = ReluNet::new(layers).unwrap();
        let mut total = 0.1 * (w - 1.0).abs().max(b.abs());
        for s in &samples {
            let y = candidate.forward(&s.input);
            if psi.violated_by(&s.input, &y) {
                return None;
            }
            total += (y[0] - s.target[0]).powi(2);
        }
        Some(total)
    };
    let steps = 400;
    let mut best = f64::INFINITY;
    for i in 0..=steps {
        for k in 0..=steps {
            let w = 0.0 + 2.0 * i as f64 / steps as f64;
            let b = -1.0 + 2.0 * k as f64 / steps as f64;
            if let Some(o) = objective(w, b) {
                best = best.min(o);
            }
        }
    }
    assert!(best.is_finite(), "the grid has feasible points");
    assert!(
        result.objective <= best * (1.0 + 1e-3) + 1e-6,
        "patch {} vs grid {best}",
        result.objective
    );
    assert!(result.lower_bound <= best + 1e-6);
}

#[test]
fn every_repair_sample_satisfies_every_kind_of_constraint_after_the_patch() {
    let net = random_net(3, &[2, 6, 6, 1]);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let inputs: Vec<Vec<f64>> = (0..20)
        .map(|_| vec![rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0)])
        .collect();
    let samples = keep_behaviour(&net, &inputs);
    let outputs: Vec<f64> = samples.iter().map(|s| s.target[0]).collect();
    let (lo, hi) = outputs
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &y| {
            (a.min(y), b.max(y))
        });
    let at = |share: f64| lo + share * (hi - lo);
    let constraints = vec![
        // global bound: y < at(0.7)
        constraint("cap", 2, 1, None, &[&[&format!("y0 >= {}", at(0.7))]]),
        // input-output: y > 0.1·x0 + at(0.1) (unsafe: y − 0.1·x0 ≤ at(0.1))
        constraint(
            "floor-tracks-x0",
            2,
            1,
            None,
            &[&[&format!("y0 - 0.1*x0 <= {}", at(0.1))]],
        ),
        // conditional box: if x1 ∈ [0, 1] then y ∉ [at(0.3), at(0.55)]
        constraint(
            "box",
            2,
            1,
            Some((vec![f64::NEG_INFINITY, 0.0], vec![f64::INFINITY, 1.0])),
            &[&[
                &format!("y0 >= {}", at(0.3)),
                &format!("y0 <= {}", at(0.55)),
            ]],
        ),
    ];
    let violating_before = samples
        .iter()
        .filter(|s| {
            constraints
                .iter()
                .any(|c| c.violated_by(&s.input, &s.target))
        })
        .count();
    assert!(violating_before > 0);
    let mut options = PatchOptions::for_layer(1);
    options.max_change = 0.5;
    options.gap = 0.05;
    // Proving the gap can take long (weak big-M relaxations); feasibility is the point here.
    options.time_limit = Some(std::time::Duration::from_secs(15));
    let result = patch(&net, &samples, &constraints, &options).unwrap();
    for s in &samples {
        let y = result.net.forward(&s.input);
        for c in &constraints {
            assert!(
                !c.violated_by(&s.input, &y),
                "{} violated at {:?}: {y:?}",
                c.name,
                s.input
            );
        }
    }
    assert!(result.violations.is_empty());
    // Only layer 1 changed, by at most δ ≤ max_change.
    for (k, (a, b)) in net.layers().iter().zip(result.net.layers()).enumerate() {
        if k != 1 {
            assert_eq!(a, b);
        }
    }
    assert!(result.delta <= 2.0 + 1e-9);
    for c in &constraints {
        let before = samples
            .iter()
            .filter(|s| c.violated_by(&s.input, &s.target))
            .count();
        eprintln!("{}: {before} samples violated before the patch", c.name);
    }
    assert!(result.lower_bound <= result.objective + 1e-9);
}

#[test]
fn infeasible_requests_are_reported_not_panicked() {
    let net = random_net(5, &[2, 4, 1]);
    let samples = keep_behaviour(&net, &[vec![0.2, -0.3], vec![0.5, 0.5]]);
    // No output within reach can leave y ≤ 1000.
    let unreachable = constraint("impossible", 2, 1, None, &[&["y0 <= 1000"]]);
    let mut options = PatchOptions::for_layer(1);
    options.max_change = 0.1;
    let err = patch(&net, &samples, &[unreachable], &options).unwrap_err();
    assert!(matches!(err, PatchError::Infeasible(_)), "{err}");
    assert!(err.to_string().contains("impossible"), "{err}");
    // Each constraint alone is satisfiable; together (y < c and y > c) they are not:
    // this one the solver has to find.
    let c = net.forward(&samples[0].input)[0];
    let both = [
        constraint("below", 2, 1, None, &[&[&format!("y0 >= {c}")]]),
        constraint("above", 2, 1, None, &[&[&format!("y0 <= {c}")]]),
    ];
    let err = patch(&net, &samples, &both, &PatchOptions::for_layer(1)).unwrap_err();
    assert!(matches!(err, PatchError::Infeasible(_)), "{err}");
    // Bad requests are errors too.
    let err = patch(&net, &samples, &both, &PatchOptions::for_layer(7)).unwrap_err();
    assert!(matches!(err, PatchError::NoSuchLayer { .. }), "{err}");
}

#[test]
fn clamped_bounds_keep_the_feasible_point_that_unclamped_bounds_cut_off() {
    // Layer 0 (repaired): neuron 0 has pre-activation −2 ± 1 (always inactive: output 0).
    // Layer 1: z = h0 + 0.5, so z = 0.5 and y = relu(z) = 0.5 for the sample. Ψ: y > 0.4.
    // Propagating layer 0's interval [−3, −1] unclamped gives z ∈ [−2.5, −0.5]: "always
    // inactive", y = 0, and the request would look infeasible although the original
    // network already satisfies it.
    let net = ReluNet::new(vec![
        layer(2, 1, &[1.0, 1.0], &[-2.0, 0.0]),
        layer(1, 2, &[1.0, 0.0], &[0.5]),
        layer(1, 1, &[1.0], &[0.0]),
    ])
    .unwrap();
    let x = vec![0.0];
    assert_eq!(net.forward(&x), vec![0.5]);
    let bounds = pre_activation_bounds(&net, 0, &x, &[true, true], 1.0);
    let first = bounds[0][0];
    assert!(first.hi < 0.0, "neuron 0 is always inactive: {first:?}");
    let unclamped_hi = first.hi + 0.5; // z = 1·h0 + 0·h1 + 0.5 with h0 unclamped
    assert!(
        unclamped_hi < 0.5,
        "unclamped bounds exclude the true value"
    );
    assert!(bounds[1][0].contains(0.5), "{:?}", bounds[1][0]);

    let samples = keep_behaviour(&net, &[x]);
    let psi = constraint("floor", 1, 1, None, &[&["y0 <= 0.4"]]);
    let result = patch(&net, &samples, &[psi], &PatchOptions::for_layer(0)).unwrap();
    assert!(result.violations.is_empty());
    assert!(
        result.objective < 1e-6,
        "nothing needs to change: {}",
        result.objective
    );
}

/// A random network over [−1, 1]², 25 grid samples keeping its behaviour, and a cap at
/// 80 % of their output range, which the network violates somewhere in the box.
fn capped_random_net() -> (ReluNet, Vec<Sample>, Constraint, Property) {
    let net = random_net(21, &[2, 6, 1]);
    let domain = (vec![-1.0, -1.0], vec![1.0, 1.0]);
    let grid: Vec<Vec<f64>> = (0..5)
        .flat_map(|i| (0..5).map(move |k| vec![-1.0 + 0.5 * i as f64, -1.0 + 0.5 * k as f64]))
        .collect();
    let samples = keep_behaviour(&net, &grid);
    let outputs: Vec<f64> = samples.iter().map(|s| s.target[0]).collect();
    let max = outputs.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let min = outputs.iter().cloned().fold(f64::INFINITY, f64::min);
    let cap = min + 0.8 * (max - min);
    let psi = constraint("cap", 2, 1, Some(domain), &[&[&format!("y0 >= {cap}")]]);
    let property = psi.to_property().unwrap();
    let before = reach::verify(&net, &property, &reach::Options::default()).unwrap();
    assert_eq!(before.verdict, Verdict::Unsafe, "the original is unsafe");
    (net, samples, psi, property)
}

fn reach_loop(
    verify_timeout: Option<Duration>,
    verify_timeout_max: Option<Duration>,
) -> LoopOptions {
    LoopOptions {
        patch: PatchOptions::for_layer(1),
        max_rounds: 10,
        verify_timeout,
        verify_timeout_max,
        max_new_samples: 200,
        verifier: Verifier::Reach,
    }
}

#[test]
fn the_verifier_loop_ends_proved_safe() {
    let (net, samples, psi, property) = capped_random_net();
    let options = reach_loop(None, None);
    let mut seen = Vec::new();
    let result = repair_loop(&net, samples, &[psi], &options, &mut |r| seen.push(r.round)).unwrap();
    assert!(result.verified, "rounds: {:?}", result.rounds);
    assert_eq!(seen, (1..=result.rounds.len()).collect::<Vec<_>>());
    let after = reach::verify(&result.net, &property, &reach::Options::default()).unwrap();
    assert_eq!(after.verdict, Verdict::Safe);
}

#[test]
fn a_verification_out_of_time_is_retried_longer_instead_of_ending_the_loop() {
    let (net, samples, psi, property) = capped_random_net();
    // A nanosecond decides nothing: without escalation the first round would end the loop
    // undecided, with no counterexample to add.
    let first = Duration::from_nanos(1);
    let options = reach_loop(Some(first), Some(Duration::from_secs(60)));
    let result = repair_loop(&net, samples, &[psi], &options, &mut |_| {}).unwrap();
    assert!(result.verified, "rounds: {:?}", result.rounds);
    let used = result.rounds[0].verify_timeout.unwrap();
    assert!(
        used > first.as_secs_f64(),
        "round 1 verified again with {used} s"
    );
    let after = reach::verify(&result.net, &property, &reach::Options::default()).unwrap();
    assert_eq!(after.verdict, Verdict::Safe);
}
