//! Repair samples for a trained actor.
//!
//! The patch works on the pre-tanh ReLU network (its constraints come from
//! [`crate::nn::pre_tanh::actor_constraints`]). Samples come from what the agent has seen: its replay buffer's states (targets: the actor's own outputs, so the
//! patch keeps behaviour there) and the vertices of the actor's unsafe input regions.

use crate::data::Sample;
use crate::data::samples::Split;
use crate::nn::ReluNet;
use crate::repair::select::select_vertices;
use crate::spec::{Constraint, Property};
use crate::verify::reach::UnsafeRegion;
use rand::SeedableRng;
use rand::seq::SliceRandom;

/// How many samples to draw, and how.
#[derive(Debug, Clone, Copy)]
pub struct Draw {
    pub repair: usize,
    pub test: usize,
    /// Share of each draw taken among states inside some constraint's domain.
    pub domain_share: f64,
    pub seed: u64,
}

/// Held-out test samples and repair samples among `states` (targets: `net`'s outputs).
///
/// The states are shuffled (seeded) and split into those inside some constraint's domain
/// and the others; both draws take `domain_share` of their samples from the first group,
/// topping up from either group when one runs short. The test draw (at most what the
/// repair draw leaves over) comes first and takes domain states at random, so it sees
/// violations in the proportion the actor makes them; the repair draw then takes the
/// violating domain states first (as the paper's repair sets do): those are the states
/// the patch must change.
pub fn buffer_samples(
    net: &ReluNet,
    states: Vec<Vec<f64>>,
    constraints: &[Constraint],
    draw: &Draw,
) -> Split {
    let mut states = states;
    states.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(draw.seed));
    let test_count = draw.test.min(states.len().saturating_sub(draw.repair));
    let (mut domain, mut ordinary): (Vec<Vec<f64>>, Vec<Vec<f64>>) = states
        .into_iter()
        .partition(|x| constraints.iter().any(|c| c.applies_to(x, 0.0)));
    let test = take_mixed(&mut domain, &mut ordinary, test_count, draw.domain_share);
    let violates = |x: &[f64]| {
        let y = net.forward(x);
        constraints.iter().any(|c| c.violated_by(x, &y))
    };
    // A stable sort keeps the shuffled order within each kind.
    domain.sort_by_key(|x| !violates(x));
    let repair = take_mixed(&mut domain, &mut ordinary, draw.repair, draw.domain_share);
    let with_targets = |states: Vec<Vec<f64>>| {
        states
            .into_iter()
            .map(|input| Sample {
                target: net.forward(&input),
                input,
            })
            .collect()
    };
    Split {
        repair: with_targets(repair),
        test: with_targets(test),
        // The data check is for datasets only (`patch.verifier = "data"` is refused for
        // runs, whose properties reachability or the MILP check prove).
        pool: Vec::new(),
    }
}

/// Takes `count` states off the fronts of `domain` and `ordinary`, `share` of them from
/// `domain`, topping up from either when the other runs short.
fn take_mixed(
    domain: &mut Vec<Vec<f64>>,
    ordinary: &mut Vec<Vec<f64>>,
    count: usize,
    share: f64,
) -> Vec<Vec<f64>> {
    let wanted = ((count as f64) * share).round() as usize;
    let from_ordinary = (count - wanted.min(count)).min(ordinary.len());
    let from_domain = (count - from_ordinary).min(domain.len());
    let from_ordinary = (count - from_domain).min(ordinary.len());
    let mut taken: Vec<Vec<f64>> = domain.drain(..from_domain).collect();
    taken.extend(ordinary.drain(..from_ordinary));
    taken
}

/// Up to `cap` vertices of `property`'s unsafe `regions` (one per region first, then
/// round-robin; clamped into the property's box), with `net`'s outputs as targets.
pub fn vertex_samples(
    net: &ReluNet,
    property: &Property,
    regions: &[UnsafeRegion],
    cap: usize,
) -> Vec<Sample> {
    select_vertices(regions, &property.input, cap, 0)
        .into_iter()
        .map(|input| Sample {
            target: net.forward(&input),
            input,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::{ActionScaling, Layer, actor_constraints};
    use crate::spec::{HalfSpace, InputSet, UnsafeSet};
    use nalgebra::{DMatrix, DVector};

    /// y = x0 + x1; the property: on x0 ∈ [0, 1] (x1 free in [−10, 10]), the action
    /// 2·tanh(y) must stay below 1.
    fn setting() -> (ReluNet, Property) {
        let net = ReluNet::new(vec![Layer {
            weights: DMatrix::from_row_slice(1, 2, &[1.0, 1.0]),
            bias: DVector::from_column_slice(&[0.0]),
        }])
        .unwrap();
        let property = Property {
            name: "cap".into(),
            input: InputSet {
                lower: vec![0.0, -10.0],
                upper: vec![1.0, 10.0],
                constraints: vec![],
            },
            unsafe_set: UnsafeSet {
                disjuncts: vec![vec![HalfSpace {
                    coeffs: vec![-1.0],
                    rhs: -1.0,
                }]],
            },
        };
        (net, property)
    }

    #[test]
    fn action_bounds_become_exact_pre_tanh_bounds() {
        let (_, property) = setting();
        let scaling = ActionScaling::from_bounds(&[-2.0], &[2.0]);
        let [c] = actor_constraints(&[property], &scaling)
            .unwrap()
            .try_into()
            .unwrap();
        // 2·tanh(y) ≥ 1 ⇔ y ≥ atanh(0.5).
        let edge = 0.5f64.atanh();
        assert!(c.violated_by(&[0.5, 0.0], &[edge + 1e-9]));
        assert!(!c.violated_by(&[0.5, 0.0], &[edge - 1e-9]));
        assert!(!c.violated_by(&[2.0, 0.0], &[5.0]), "outside the domain");
    }

    #[test]
    fn draws_are_disjoint_mixed_and_put_violating_states_first() {
        let (net, property) = setting();
        let scaling = ActionScaling::from_bounds(&[-2.0], &[2.0]);
        let constraints = actor_constraints(&[property], &scaling).unwrap();
        // 40 domain states (x0 = 0.5; violating when x1 ≥ 0.05), 60 outside (x0 = 5).
        let mut states: Vec<Vec<f64>> =
            (0..40).map(|i| vec![0.5, -1.0 + 0.05 * i as f64]).collect();
        states.extend((0..60).map(|i| vec![5.0, i as f64]));
        let draw = Draw {
            repair: 20,
            test: 10,
            domain_share: 0.5,
            seed: 3,
        };
        let split = buffer_samples(&net, states, &constraints, &draw);
        assert_eq!((split.repair.len(), split.test.len()), (20, 10));
        let in_domain = |s: &&Sample| s.input[0] == 0.5;
        assert_eq!(split.test.iter().filter(in_domain).count(), 5);
        assert_eq!(split.repair.iter().filter(in_domain).count(), 10);
        for s in split.repair.iter().chain(&split.test) {
            assert_eq!(s.target, net.forward(&s.input));
        }
        let repair_inputs: Vec<&Vec<f64>> = split.repair.iter().map(|s| &s.input).collect();
        assert!(
            split
                .test
                .iter()
                .all(|t| !repair_inputs.contains(&&t.input))
        );
        // 19 domain states violate (x1 ≥ 0.05), at least 14 are left after the test
        // draw: the 10 domain repair samples are all violating ones.
        let violated = |s: &Sample| constraints[0].violated_by(&s.input, &s.target);
        assert!(split.repair.iter().filter(in_domain).all(violated));
        // Too few states: the repair samples come first, nothing is used twice.
        let few = vec![vec![0.5, 1.0], vec![5.0, 0.0]];
        let split = buffer_samples(&net, few, &constraints, &draw);
        assert_eq!((split.test.len(), split.repair.len()), (0, 2));
    }
}
