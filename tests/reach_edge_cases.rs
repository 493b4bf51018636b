//! Corner cases of the verifier's contract: touching unsafe sets, rounding-level
//! violations, empty and fully fixed input sets, timeouts, bad input.

mod reach_common;

use std::time::Duration;

use nalgebra::{DMatrix, DVector};
use saferl::nn::{Layer, ReluNet};
use saferl::spec::{HalfSpace, InputSet, Property, UnsafeSet};
use saferl::verify::reach::{self, Mode, Options, ReachError, Verdict};

fn layer(rows: usize, cols: usize, w: &[f64], b: &[f64]) -> Layer {
    Layer {
        weights: DMatrix::from_row_slice(rows, cols, w),
        bias: DVector::from_column_slice(b),
    }
}

/// `y = relu(x) − relu(−x)` on one input: the identity, with a kink at 0.
fn identity_net() -> ReluNet {
    ReluNet::new(vec![
        layer(2, 1, &[1.0, -1.0], &[0.0, 0.0]),
        layer(1, 2, &[1.0, -1.0], &[0.0]),
    ])
    .unwrap()
}

/// Inputs in `[lo, hi]`, unsafe when `y >= threshold`.
fn at_least(lo: f64, hi: f64, threshold: f64) -> Property {
    Property {
        name: "y >= t".into(),
        input: InputSet {
            lower: vec![lo],
            upper: vec![hi],
            constraints: vec![],
        },
        unsafe_set: UnsafeSet {
            disjuncts: vec![vec![HalfSpace {
                coeffs: vec![-1.0],
                rhs: -threshold,
            }]],
        },
    }
}

fn exact(mode: Mode) -> Options {
    Options {
        mode,
        attack_samples: 0,
        ..Options::default()
    }
}

#[test]
fn an_unsafe_set_touching_the_reach_set_is_unsafe() {
    let result = reach::verify(
        &identity_net(),
        &at_least(-1.0, 1.0, 1.0),
        &exact(Mode::AllRegions),
    )
    .unwrap();
    assert_eq!(result.verdict, Verdict::Unsafe);
    assert_eq!(result.counterexample.unwrap().input, vec![1.0]);
}

#[test]
fn a_violation_within_rounding_is_unknown_not_safe() {
    // The largest output is 1; the unsafe set starts 1e-12 above it: within the margin.
    let result = reach::verify(
        &identity_net(),
        &at_least(-1.0, 1.0, 1.0 + 1e-12),
        &exact(Mode::AllRegions),
    )
    .unwrap();
    assert_eq!(result.verdict, Verdict::Unknown);
    assert!(result.note.unwrap().contains("tolerance"));
    // Clearly beyond the margin it is safe.
    let result = reach::verify(
        &identity_net(),
        &at_least(-1.0, 1.0, 1.0 + 1e-6),
        &exact(Mode::AllRegions),
    )
    .unwrap();
    assert_eq!(result.verdict, Verdict::Safe);
}

#[test]
fn empty_input_sets_and_unsatisfiable_unsafe_sets_are_safe() {
    let net = identity_net();
    let empty = at_least(1.0, -1.0, 0.0);
    assert_eq!(
        reach::verify(&net, &empty, &Options::default())
            .unwrap()
            .verdict,
        Verdict::Safe
    );
    let mut nothing = at_least(-1.0, 1.0, 0.0);
    nothing.unsafe_set.disjuncts.clear();
    assert_eq!(
        reach::verify(&net, &nothing, &Options::default())
            .unwrap()
            .verdict,
        Verdict::Safe
    );
}

#[test]
fn fully_fixed_inputs_and_networks_without_hidden_layers() {
    let net = identity_net();
    for mode in [Mode::FirstCounterexample, Mode::AllRegions] {
        let point = reach::verify(&net, &at_least(0.5, 0.5, 0.4), &exact(mode)).unwrap();
        assert_eq!(point.verdict, Verdict::Unsafe);
        let point = reach::verify(&net, &at_least(0.5, 0.5, 0.6), &exact(mode)).unwrap();
        assert_eq!(point.verdict, Verdict::Safe);
    }
    let linear = ReluNet::new(vec![layer(1, 1, &[2.0], &[0.0])]).unwrap();
    let result =
        reach::verify(&linear, &at_least(0.0, 1.0, 1.5), &exact(Mode::AllRegions)).unwrap();
    assert_eq!(result.verdict, Verdict::Unsafe);
    assert_eq!(result.regions.len(), 1);
    let mut xs: Vec<f64> = result.regions[0].vertices.iter().map(|v| v[0]).collect();
    xs.sort_by(f64::total_cmp);
    assert!((xs[0] - 0.75).abs() < 1e-9 && xs[1] == 1.0);
}

#[test]
fn a_timeout_gives_unknown() {
    let mut rng = reach_common::rng(5);
    let net = reach_common::random_net(&mut rng, &[4, 30, 30, 30, 2]);
    let property = reach_common::quantile_property(&net, reach_common::unit_box(4), &mut rng, 1.5);
    let options = Options {
        timeout: Some(Duration::ZERO),
        ..exact(Mode::AllRegions)
    };
    let result = reach::verify(&net, &property, &options).unwrap();
    assert_eq!(result.verdict, Verdict::Unknown);
    assert_eq!(result.note.as_deref(), Some("timed out"));
}

#[test]
fn bad_input_is_an_error_not_a_verdict() {
    let net = identity_net();
    let mut wrong_inputs = at_least(-1.0, 1.0, 0.0);
    wrong_inputs.input.lower.push(0.0);
    wrong_inputs.input.upper.push(1.0);
    assert!(matches!(
        reach::verify(&net, &wrong_inputs, &Options::default()),
        Err(ReachError::InputDim {
            property: 2,
            network: 1
        })
    ));
    let mut wrong_outputs = at_least(-1.0, 1.0, 0.0);
    wrong_outputs.unsafe_set.disjuncts[0][0].coeffs.push(1.0);
    assert!(matches!(
        reach::verify(&net, &wrong_outputs, &Options::default()),
        Err(ReachError::OutputDim { .. })
    ));
    let unbounded = at_least(f64::NEG_INFINITY, 1.0, 0.0);
    assert!(matches!(
        reach::verify(&net, &unbounded, &Options::default()),
        Err(ReachError::Unbounded { input: 0 })
    ));
    let nan_net = ReluNet::new(vec![layer(1, 1, &[f64::NAN], &[0.0])]).unwrap();
    assert_eq!(
        reach::verify(&nan_net, &at_least(0.0, 1.0, 0.0), &Options::default()).unwrap_err(),
        ReachError::NotFinite
    );
    let mut flat = at_least(-1.0, 1.0, 0.0);
    flat.input.constraints = vec![
        HalfSpace {
            coeffs: vec![1.0],
            rhs: 0.5,
        },
        HalfSpace {
            coeffs: vec![-1.0],
            rhs: -0.5,
        },
    ];
    assert_eq!(
        reach::verify(&net, &flat, &Options::default()).unwrap_err(),
        ReachError::FlatInput { constraint: 1 }
    );
}
