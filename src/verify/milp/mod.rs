//! A complete verifier for patch constraints by mixed-integer programming (HiGHS).
//!
//! The exact reachability verifier enumerates linear regions, which is hopeless on the
//! prosthesis policy's 40-dimensional input box, and it only takes unsafe sets over the
//! outputs. Here the question "is there an x in the domain whose (x, y = net(x)) lies in
//! this unsafe polytope?" is one MILP: x ranges over the domain box intersected with the
//! constraint's condition, every hidden ReLU whose sign the bounds do not fix gets the
//! big-M encoding, and the objective maximises the depth
//! `t = min_h (rhs_h − x·a_h − y·b_h)` by which (x, y) lies inside the polytope. The
//! polytope is unreachable iff the optimum is negative; HiGHS's dual bound proves that.
//! Only the sign matters, so HiGHS gets the cutoff t ≥ −tolerance (its objective bound):
//! a node whose relaxation already proves t < 0 is pruned instead of being explored for
//! the best safe point. The big-M bounds are symbolic intervals tightened by LP
//! (`lp_bounds`). Measured on ACAS Xu properties 3 and 4 (networks 1_1–1_5, 30 s): with
//! tightening and the cutoff 8 of 10 proved safe in 2.2–19 s; tightening alone, 5 of the
//! first 9 (4.9–30 s); neither, none of two tried in 60 s.
//!
//! Before each MILP, two cheap attacks look for violations, and what they find is
//! returned at once (re-evaluated): on a wide box violations are often plentiful, and the
//! MILP's search for one can be slow (on the prosthesis policy, HiGHS missed a violation
//! of 2.5° in 120 s). The reachability verifier's attack takes output-only polytopes; a
//! projected signed-gradient ascent takes every polytope and reaches the box's corners.
//!
//! Soundness: the dual bound comes from LP relaxations, valid up to the LP tolerances,
//! so "safe" needs it below `−tolerance·(1 + |rhs|)`; a maximiser is only called a
//! counterexample after it is re-evaluated with `ReluNet::forward` and violates the
//! constraint exactly. Anything in between is `Unknown`, never `Safe`.

mod lp_bounds;

use crate::nn::ReluNet;
use crate::spec::InputSet;
use crate::spec::{Constraint, JointHalfSpace};
use crate::verify::bounds::{Interval, box_bounds};
use crate::verify::reach::falsify::{self, input_gradient};
use highs::{Col, HighsModelStatus, HighsSolutionStatus, RowProblem, Sense};
use lp_bounds::{pre_activation_row, tighten};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::{Duration, Instant};

/// Relative slack the dual bound must leave before a polytope counts as unreachable.
const TOLERANCE: f64 = 1e-6;

/// Relative depth at which a point counts as clearly inside an unsafe polytope.
const DEPTH_CAP: f64 = 1e-3;

/// The verdict on one constraint over a domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MilpVerdict {
    /// No input of the domain violates the constraint (on HiGHS's proof).
    Safe,
    /// At least one of the returned points violates it, re-evaluated on the network.
    Unsafe,
    /// Neither proved: time limit, or the solver's maximisers are no real violations.
    Unknown,
}

/// The verdict, the points behind it and what it cost.
#[derive(Debug, Clone)]
pub struct MilpOutcome {
    pub verdict: MilpVerdict,
    /// Inputs at which the network violates the constraint, or comes within the solver's
    /// tolerance of it, each in a different activation pattern (the patch loop's new
    /// repair samples). Points that really violate come first.
    pub points: Vec<Vec<f64>>,
    /// Binaries of the largest model (ReLUs whose sign the box does not fix).
    pub binaries: usize,
    pub seconds: f64,
}

/// Why verification could not run.
#[derive(Debug, thiserror::Error)]
pub enum MilpError {
    #[error("the domain has {got} dimensions, the network takes {expected} inputs")]
    Shape { got: usize, expected: usize },
    #[error("the domain must be a bounded box: input {index} is [{lo}, {hi}]")]
    Unbounded { index: usize, lo: f64, hi: f64 },
    #[error("HiGHS failed: {0}")]
    Solver(String),
}

/// Checks `constraint` on every x of `domain` ∩ its condition, within `timeout` overall.
/// When a polytope is reachable, up to `points_per_polytope` violating inputs are
/// collected from distinct activation patterns (each further one excluded by a no-good
/// cut on the binaries), like the vertices of several unsafe regions.
pub fn verify_constraint(
    net: &ReluNet,
    constraint: &Constraint,
    domain: &InputSet,
    timeout: Option<Duration>,
    points_per_polytope: usize,
) -> Result<MilpOutcome, MilpError> {
    let started = Instant::now();
    let mut outcome = MilpOutcome {
        verdict: MilpVerdict::Safe,
        points: Vec::new(),
        binaries: 0,
        seconds: 0.0,
    };
    let Some((lower, upper)) = checked_box(net, constraint, domain)? else {
        // The condition misses the domain: nothing to check.
        return Ok(outcome);
    };
    // The big-M bounds, computed when the first MILP is needed (not when an attack
    // already found violations).
    let mut bounds = None;
    let left = || match timeout {
        None => Some(None),
        Some(t) => t
            .checked_sub(started.elapsed())
            .filter(|d| !d.is_zero())
            .map(Some),
    };
    let mut violating = Vec::new();
    let mut near = Vec::new();
    let mut undecided = false;
    for polytope in &constraint.unsafe_set {
        if left().is_none() {
            undecided = true;
            break;
        }
        let corners = (lower.as_slice(), upper.as_slice());
        let mut attacked = attack(
            net,
            constraint,
            polytope,
            corners,
            domain,
            points_per_polytope,
        );
        // The attack's deepest safe point stands in for a MILP that ends without one.
        let mut closest = None;
        if attacked.is_empty() {
            let signed = sign_attack(
                net,
                constraint,
                polytope,
                corners,
                domain,
                points_per_polytope,
            );
            attacked = signed.violating;
            closest = signed.deepest;
        }
        if !attacked.is_empty() {
            violating.extend(attacked);
            continue;
        }
        // Tightening takes at most a quarter of the time left: it pays for itself many
        // times over in the MILP, but must leave the MILP time to run.
        let bounds = bounds.get_or_insert_with(|| {
            let deadline = left().flatten().map(|t| Instant::now() + t / 4);
            let symbolic = box_bounds(net, &lower, &upper);
            tighten(net, &lower, &upper, &domain.constraints, symbolic, deadline)
        });
        // The MILP gets what the attacks and the tightening left.
        let Some(time) = left() else {
            undecided = true;
            break;
        };
        let mut model = Model::build(net, bounds, &lower, &upper, &domain.constraints, polytope);
        outcome.binaries = outcome.binaries.max(model.binaries);
        let first_started = Instant::now();
        let mut depth = model.solve(time)?;
        // Further patterns get a few times the first solve's time: they only add samples.
        let budget = first_started.elapsed() * 4 + Duration::from_millis(500);
        let mut found = 0;
        loop {
            match depth {
                Depth::Unreachable => break,
                Depth::Undecided(x) => {
                    if found == 0 {
                        undecided = true;
                    }
                    near.extend(x.or(closest.take()));
                    break;
                }
                Depth::Reached(x) => {
                    found += 1;
                    if constraint.violated_by(&x, &net.forward(&x)) {
                        violating.push(x);
                    } else {
                        near.push(x);
                    }
                }
            }
            if found >= points_per_polytope || !model.exclude_last_pattern()? {
                break;
            }
            let Some(time) = left() else { break };
            let time = Some(time.map_or(budget, |t| t.min(budget)));
            depth = model.solve(time)?;
        }
    }
    outcome.verdict = if !violating.is_empty() {
        MilpVerdict::Unsafe
    } else if undecided || !near.is_empty() {
        MilpVerdict::Unknown
    } else {
        MilpVerdict::Safe
    };
    outcome.points = violating;
    outcome.points.extend(near);
    outcome.seconds = started.elapsed().as_secs_f64();
    Ok(outcome)
}

/// Random inputs tried by the attack that runs before each MILP.
const ATTACK_SAMPLES: usize = 2000;

/// Violations found without the MILP by the reachability verifier's attack (random and
/// face-pinned samples, then gradient ascent), for polytopes over the outputs only: on a
/// wide box they are often plentiful, and each costs milliseconds instead of a solve.
/// Returns up to `count` points, each re-evaluated on the network; none for
/// input-dependent polytopes.
fn attack(
    net: &ReluNet,
    constraint: &Constraint,
    polytope: &[JointHalfSpace],
    (lower, upper): (&[f64], &[f64]),
    domain: &InputSet,
    count: usize,
) -> Vec<Vec<f64>> {
    // The polytope over the box as a verifier property; input-dependent ones are none.
    let single = Constraint {
        name: constraint.name.clone(),
        condition: InputSet {
            lower: lower.to_vec(),
            upper: upper.to_vec(),
            constraints: domain.constraints.clone(),
        },
        unsafe_set: vec![polytope.to_vec()],
    };
    let Ok(property) = single.to_property() else {
        return Vec::new();
    };
    let mut found: Vec<Vec<f64>> = Vec::new();
    for seed in 0..count as u64 {
        let Some(c) = falsify::attack(net, &property, ATTACK_SAMPLES, seed) else {
            break;
        };
        let real = property.input.contains(&c.input)
            && constraint.violated_by(&c.input, &net.forward(&c.input));
        if real && !found.contains(&c.input) {
            found.push(c.input);
        }
    }
    found
}

/// Weights visited by the signed-gradient attack (start points × steps × weights, each
/// step a forward and a backward pass): a budget of seconds on one core, so the attack's
/// cost does not grow with the network. Violations on a wide box can be rare, so small
/// networks get thousands of starts.
const SIGN_BUDGET: usize = 1_600_000_000;
/// Fewest and most start points, whatever the network's size.
const SIGN_STARTS: std::ops::RangeInclusive<usize> = 200..=5000;
/// Steps from each start.
const SIGN_STEPS: usize = 100;

/// Violations found by projected signed-gradient ascent on the depth in `polytope` (the
/// L∞ attack of adversarial-example work) from random starts: every input moves by a
/// share of its range at each step, the share decaying from 10 % to 0.5 %. Over a wide
/// box the maximum of a ReLU network sits at or near corners, which this reaches in a
/// few steps; `falsify`'s normalised ascent, built for the thin slivers of ACAS Xu, moves
/// mostly the one input the depth depends on most. On the prosthesis policy's 40-input
/// box it missed a violation of 2.5° that this finds in 0.6 s (HiGHS missed it too, in
/// 120 s). Works for input-dependent polytopes too.
fn sign_attack(
    net: &ReluNet,
    constraint: &Constraint,
    polytope: &[JointHalfSpace],
    (lower, upper): (&[f64], &[f64]),
    domain: &InputSet,
    count: usize,
) -> SignAttack {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let width: Vec<f64> = lower.iter().zip(upper).map(|(l, u)| u - l).collect();
    // depth(x) = min_h rhs_h − a_h·x − b_h·y(x); its gradient is that of the argmin h.
    let binding = |x: &[f64], y: &[f64]| {
        polytope
            .iter()
            .min_by(|g, h| g.slack(x, y).total_cmp(&h.slack(x, y)))
            .expect("a polytope has half-spaces")
    };
    let weights: usize = net.layers().iter().map(|l| l.weights.len()).sum();
    let starts = (SIGN_BUDGET / (SIGN_STEPS * weights.max(1)))
        .clamp(*SIGN_STARTS.start(), *SIGN_STARTS.end());
    let mut found: Vec<Vec<f64>> = Vec::new();
    let mut deepest: Option<(f64, Vec<f64>)> = None;
    for _ in 0..starts {
        let mut x: Vec<f64> = lower
            .iter()
            .zip(upper)
            .map(|(&l, &u)| if l < u { rng.random_range(l..=u) } else { l })
            .collect();
        // The deepest point of the path: the worst violation is the most useful sample.
        let mut best: Option<(f64, Vec<f64>)> = None;
        for step in 0..SIGN_STEPS {
            let y = net.forward(&x);
            let h = binding(&x, &y);
            let depth = h.slack(&x, &y);
            if best.as_ref().is_none_or(|(d, _)| depth > *d) {
                best = Some((depth, x.clone()));
            }
            let through_output = input_gradient(net, &x, &h.output);
            let share = 0.1 * (1.0 - step as f64 / SIGN_STEPS as f64) + 0.005;
            for (i, xi) in x.iter_mut().enumerate() {
                let ascent = -h.input[i] - through_output[i];
                if ascent != 0.0 {
                    *xi = (*xi + share * width[i] * ascent.signum()).clamp(lower[i], upper[i]);
                }
            }
        }
        let Some((depth, x)) = best.filter(|(_, x)| domain.contains(x)) else {
            continue;
        };
        if constraint.violated_by(&x, &net.forward(&x)) {
            if !found.contains(&x) {
                found.push(x);
            }
        } else if deepest.as_ref().is_none_or(|(d, _)| depth > *d) {
            deepest = Some((depth, x));
        }
        if found.len() >= count {
            break;
        }
    }
    SignAttack {
        violating: found,
        deepest: deepest.map(|(_, x)| x),
    }
}

/// What the signed-gradient attack found.
struct SignAttack {
    /// Up to `count` violations, each re-evaluated on the network and inside the domain.
    violating: Vec<Vec<f64>>,
    /// The deepest safe point in the domain: the MILP loop's sample when the MILP ends
    /// without a verdict or a point (with the cutoff it keeps no safe incumbents), so
    /// that the next patch pushes the network away from the unsafe set where it is closest.
    deepest: Option<Vec<f64>>,
}

/// Lower and upper corners of a box.
type Corners = (Vec<f64>, Vec<f64>);

/// The box `domain ∩ condition`, or `None` when it is empty.
fn checked_box(
    net: &ReluNet,
    constraint: &Constraint,
    domain: &InputSet,
) -> Result<Option<Corners>, MilpError> {
    if domain.dim() != net.input_dim() {
        return Err(MilpError::Shape {
            got: domain.dim(),
            expected: net.input_dim(),
        });
    }
    let c = &constraint.condition;
    let lower: Vec<f64> = domain
        .lower
        .iter()
        .zip(&c.lower)
        .map(|(a, b)| a.max(*b))
        .collect();
    let upper: Vec<f64> = domain
        .upper
        .iter()
        .zip(&c.upper)
        .map(|(a, b)| a.min(*b))
        .collect();
    if let Some(index) = (0..lower.len()).find(|&i| !(lower[i].is_finite() && upper[i].is_finite()))
    {
        return Err(MilpError::Unbounded {
            index,
            lo: lower[index],
            hi: upper[index],
        });
    }
    Ok(lower
        .iter()
        .zip(&upper)
        .all(|(lo, hi)| lo <= hi)
        .then_some((lower, upper)))
}

/// How deep into an unsafe polytope the network reaches.
enum Depth {
    /// Proved: the depth is negative everywhere.
    Unreachable,
    /// The solver's maximiser has depth ≥ −tolerance.
    Reached(Vec<f64>),
    /// Time limit without a proof either way (with the best point, if any).
    Undecided(Option<Vec<f64>>),
}

/// The MILP for one polytope, kept between solves so no-good cuts can be added.
struct Model {
    /// `None` only while a solve is under way.
    model: Option<highs::Model>,
    inputs: Vec<Col>,
    lower: Vec<f64>,
    upper: Vec<f64>,
    /// The ReLU binaries, and their values in the last solution.
    phis: Vec<Col>,
    last_pattern: Option<Vec<bool>>,
    binaries: usize,
    /// The proof threshold: the depth bound must be below `−threshold`.
    threshold: f64,
}

impl Model {
    fn build(
        net: &ReluNet,
        bounds: &[Vec<Interval>],
        lower: &[f64],
        upper: &[f64],
        domain_cuts: &[crate::spec::HalfSpace],
        polytope: &[JointHalfSpace],
    ) -> Self {
        let mut problem = RowProblem::default();
        let inputs: Vec<Col> = lower
            .iter()
            .zip(upper)
            .map(|(&lo, &hi)| problem.add_column(0.0, lo..=hi))
            .collect();
        for h in domain_cuts {
            let terms: Vec<(Col, f64)> = inputs
                .iter()
                .copied()
                .zip(h.coeffs.iter().copied())
                .collect();
            problem.add_row(..=h.rhs, terms);
        }
        // Each layer's values: a column, or `None` for an always-inactive ReLU (0).
        let mut values: Vec<Option<Col>> = inputs.iter().copied().map(Some).collect();
        let mut phis = Vec::new();
        let last = net.layers().len() - 1;
        for (depth, layer) in net.layers().iter().enumerate() {
            let mut next = Vec::with_capacity(layer.outputs());
            for (j, &b) in bounds[depth].iter().enumerate() {
                if depth < last && b.hi <= 0.0 {
                    next.push(None);
                    continue;
                }
                // z − Σ w·value = bias, with z a column inside its interval.
                let z = problem.add_column(0.0, b.lo..=b.hi);
                let bias = layer.bias[j];
                problem.add_row(bias..=bias, pre_activation_row(layer, j, &values, z));
                if depth == last || b.lo >= 0.0 {
                    next.push(Some(z));
                    continue;
                }
                // a = relu(z): a ≥ z, a ≤ z − lo·(1 − φ), a ≤ hi·φ, a ≥ 0.
                let a = problem.add_column(0.0, 0.0..=b.hi);
                let phi = problem.add_integer_column(0.0, 0.0..=1.0);
                phis.push(phi);
                problem.add_row(0.0.., [(a, 1.0), (z, -1.0)]);
                problem.add_row(..=-b.lo, [(a, 1.0), (z, -1.0), (phi, -b.lo)]);
                problem.add_row(..=0.0, [(a, 1.0), (phi, -b.hi)]);
                next.push(Some(a));
            }
            values = next;
        }
        // t ≤ rhs − x·a − y·b for every half-space; maximise t, capped just inside the
        // polytope so that the solver stops at the first clear violation.
        let scale = 1.0 + polytope.iter().map(|h| h.rhs.abs()).fold(0.0, f64::max);
        // HiGHS minimises −t, so that its objective bound (below) is a cutoff on −t.
        let t = problem.add_column(-1.0, ..=DEPTH_CAP * scale);
        for h in polytope {
            let mut row = vec![(t, 1.0)];
            row.extend(
                inputs
                    .iter()
                    .copied()
                    .zip(h.input.iter().copied())
                    .filter(|(_, a)| *a != 0.0),
            );
            row.extend(
                values
                    .iter()
                    .zip(&h.output)
                    .filter_map(|(v, &b)| v.filter(|_| b != 0.0).map(|c| (c, b))),
            );
            problem.add_row(..=h.rhs, row);
        }
        let threshold = TOLERANCE * scale;
        let mut model = problem.optimise(Sense::Minimise);
        model.make_quiet();
        model.set_option("threads", 1);
        // Only t ≥ −threshold matters: every node whose bound proves t < −threshold is
        // pruned at once, not explored for the best non-violating point.
        model.set_option("objective_bound", threshold);
        Self {
            model: Some(model),
            inputs,
            lower: lower.to_vec(),
            upper: upper.to_vec(),
            binaries: phis.len(),
            phis,
            last_pattern: None,
            threshold,
        }
    }

    fn solve(&mut self, time_limit: Option<Duration>) -> Result<Depth, MilpError> {
        let mut model = self.model.take().expect("no solve under way");
        model.set_option(
            "time_limit",
            time_limit.map_or(f64::INFINITY, |t| t.as_secs_f64()),
        );
        let solved = model
            .try_solve()
            .map_err(|e| MilpError::Solver(format!("{e:?}")))?;
        let status = solved.status();
        let feasible = solved.primal_solution_status() == HighsSolutionStatus::Feasible;
        let point = feasible.then(|| {
            let columns = solved.get_solution().columns().to_vec();
            self.last_pattern = Some(self.phis.iter().map(|c| columns[c.index()] > 0.5).collect());
            // Within the solver's feasibility tolerance a value may lie just outside its
            // bounds: clamp it back into the domain.
            let x: Vec<f64> = self
                .inputs
                .iter()
                .zip(self.lower.iter().zip(&self.upper))
                .map(|(c, (&lo, &hi))| columns[c.index()].clamp(lo, hi))
                .collect();
            (x, -solved.objective_value())
        });
        // Without binaries the model is an LP whose optimum is the bound.
        let bound = if self.phis.is_empty() {
            (status == HighsModelStatus::Optimal).then(|| -solved.objective_value())
        } else {
            solved.double_info_value(c"mip_dual_bound").ok().map(|b| -b)
        };
        self.model = Some(highs::Model::from(solved));
        match status {
            // Infeasible once the cutoff prunes every node: t < −threshold everywhere.
            HighsModelStatus::Infeasible | HighsModelStatus::ObjectiveBound => {
                Ok(Depth::Unreachable)
            }
            HighsModelStatus::Optimal | HighsModelStatus::ReachedTimeLimit => {
                if bound.is_some_and(|b| b < -self.threshold) {
                    return Ok(Depth::Unreachable);
                }
                Ok(match point {
                    Some((x, depth)) if depth >= -self.threshold => Depth::Reached(x),
                    Some((x, _)) => Depth::Undecided(Some(x)),
                    None => Depth::Undecided(None),
                })
            }
            other => Err(MilpError::Solver(format!("ended with status {other:?}"))),
        }
    }

    /// Cuts off the last solution's activation pattern (`Σ_{φ=0} φ + Σ_{φ=1} (1 − φ) ≥ 1`);
    /// false when there is no pattern to cut (no binaries, or no solution yet).
    fn exclude_last_pattern(&mut self) -> Result<bool, MilpError> {
        let Some(pattern) = self.last_pattern.take().filter(|p| !p.is_empty()) else {
            return Ok(false);
        };
        let ones = pattern.iter().filter(|&&on| on).count() as f64;
        let terms: Vec<(Col, f64)> = self
            .phis
            .iter()
            .zip(&pattern)
            .map(|(&c, &on)| (c, if on { -1.0 } else { 1.0 }))
            .collect();
        self.model
            .as_mut()
            .expect("no solve under way")
            .try_add_row(1.0 - ones.., terms)
            .map_err(|e| MilpError::Solver(format!("adding a no-good cut: {e:?}")))?;
        Ok(true)
    }
}
