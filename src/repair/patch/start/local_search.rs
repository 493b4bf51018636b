//! Large-neighbourhood search over activation patterns, between the pattern-preserving
//! incumbent and the full MILP.
//!
//! With thousands of ReLU binaries (a hidden layer, 150 samples) HiGHS's branch and bound
//! rarely improves the first incumbent within minutes. But a better patch usually differs
//! from the incumbent only in ReLUs that sit near their switching point: this search fixes
//! every other binary to the incumbent's phase, leaves the `k` ReLUs with the smallest
//! |pre-activation| free, solves that small MILP, and re-optimises the weights for the
//! pattern it returns (the fixed-pattern LP). An improvement moves the centre; a failure
//! doubles `k`. Every candidate is re-evaluated on the real network, so the search can
//! only improve the returned patch; the optimality gap still comes from the full MILP.

use crate::nn::ReluNet;
use crate::nn::activations_before;
use crate::repair::patch::PatchError;
use crate::repair::patch::encode::{Encoding, Spec};
use crate::repair::patch::solve::{
    Candidate, configure, remaining_seconds, solve_fixed_lp, tangent, with_initial_cuts,
};
use highs::{HighsModelStatus, HighsSolutionStatus, RowProblem, Sense};
use std::time::{Duration, Instant};

/// Share of the ReLU binaries left free in the first neighbourhood.
const FIRST_SHARE: f64 = 0.05;
/// Relative objective decrease that counts as progress at the same neighbourhood size.
const MIN_STEP: f64 = 1e-3;
/// Longest single neighbourhood MILP.
const STEP_SECONDS: f64 = 10.0;

/// Improves `start` for at most `budget` (unbounded: until a neighbourhood holding half
/// of the binaries brings nothing); returns the best candidate found, `start` if none.
pub fn improve(
    spec: &Spec,
    encoding: &Encoding,
    start: Candidate,
    budget: Option<Duration>,
) -> Result<Candidate, PatchError> {
    let started = Instant::now();
    let remaining = || budget.map(|t| t.saturating_sub(started.elapsed()));
    let relus = encoding.sites.iter().flatten().count();
    if relus == 0 {
        return Ok(start);
    }
    let base = with_initial_cuts(spec, encoding);
    let mut best = start;
    let mut free = ((relus as f64 * FIRST_SHARE).ceil() as usize).max(1);
    while free <= relus / 2 {
        let Some(seconds) = remaining_seconds(remaining()) else {
            break;
        };
        let pre = sample_pre_activations(spec, &best.net);
        // The `free` ReLUs nearest their switching point stay free; disjunction choices too.
        let mut order: Vec<(usize, f64)> = encoding
            .sites
            .iter()
            .enumerate()
            .filter_map(|(i, site)| site.map(|s| (i, pre[s.sample][s.depth][s.node].abs())))
            .collect();
        order.sort_by(|a, b| a.1.total_cmp(&b.1));
        let mut is_free = vec![true; encoding.binaries.len()];
        for &(i, _) in &order[free..] {
            is_free[i] = false;
        }
        let neighbourhood = Neighbourhood {
            base: &base,
            pre: &pre,
            is_free: &is_free,
            // The cut objective underestimates the true one, so the centre's true
            // objective is a valid cutoff: nothing above it can improve on the centre.
            cutoff: Some(best.score.1),
            seconds: seconds.min(STEP_SECONDS),
        };
        let mut improved = false;
        if let Some(pattern) = neighbourhood.solve(spec, encoding)?
            && let Some((net, lp_columns)) = solve_fixed_lp(spec, &pattern, remaining())?
        {
            let candidate = Candidate::new(spec, net, Some(lp_columns));
            // Fewer violated samples, or an objective lower by a meaningful step
            // (tiny steps would keep the neighbourhood from ever growing).
            let (violations, objective) = candidate.score;
            improved = violations < best.score.0
                || violations == best.score.0
                    && objective < best.score.1 - MIN_STEP * best.score.1.abs();
            if candidate.score < best.score {
                best = candidate;
            }
        }
        if !improved {
            free *= 2;
        }
    }
    Ok(best)
}

/// A start from `net`'s activation pattern when some repair samples are new to it (the
/// loop's next round: `net` is the previous patch, the new samples are its
/// counterexamples): the ReLUs of the samples `net` violates are left free, all others
/// fixed to `net`'s phases, and the weights re-optimised for the pattern that small MILP
/// returns. Fixing the new samples' phases too can leave no patch at all: a sample may
/// need a ReLU the previous patch has off.
/// `None` if nothing feasible was found within `budget`.
pub fn mend(
    spec: &Spec,
    encoding: &Encoding,
    net: &ReluNet,
    budget: Option<Duration>,
) -> Result<Option<Candidate>, PatchError> {
    let started = Instant::now();
    let remaining = || budget.map(|t| t.saturating_sub(started.elapsed()));
    let pre = sample_pre_activations(spec, net);
    let mut pattern = phases_of(encoding, &pre);
    let violated: Vec<usize> =
        crate::repair::patch::violations(net, spec.samples, spec.constraints)
            .iter()
            .map(|v| v.sample)
            .collect();
    if !violated.is_empty() {
        let Some(seconds) = remaining_seconds(remaining()) else {
            return Ok(None);
        };
        let is_free: Vec<bool> = encoding
            .sites
            .iter()
            .map(|site| site.is_none_or(|s| violated.contains(&s.sample)))
            .collect();
        let base = with_initial_cuts(spec, encoding);
        let neighbourhood = Neighbourhood {
            base: &base,
            pre: &pre,
            is_free: &is_free,
            cutoff: None,
            // Half the budget: the MILP keeps improving its pattern until its limit, and
            // the fixed-pattern LP that turns the pattern into weights needs the rest.
            seconds: seconds / 2.0,
        };
        match neighbourhood.solve(spec, encoding)? {
            Some(found) => pattern = found,
            None => return Ok(None),
        }
    }
    Ok(solve_fixed_lp(spec, &pattern, remaining())?
        .map(|(net, columns)| Candidate::new(spec, net, Some(columns))))
}

/// One small MILP: the binaries not marked free fixed to the phases of `pre`.
struct Neighbourhood<'a> {
    /// The full MILP with its initial cuts.
    base: &'a RowProblem,
    /// The centre's per-sample pre-activations (see [`sample_pre_activations`]).
    pre: &'a [Vec<Vec<f64>>],
    is_free: &'a [bool],
    /// Objective above which no solution is wanted.
    cutoff: Option<f64>,
    seconds: f64,
}

impl Neighbourhood<'_> {
    /// The binaries' values of the best solution found, if any.
    fn solve(&self, spec: &Spec, encoding: &Encoding) -> Result<Option<Vec<f64>>, PatchError> {
        let phase = phases_of(encoding, self.pre);
        let mut problem = self.base.clone();
        for (i, &free) in self.is_free.iter().enumerate() {
            if !free {
                problem.change_column_bounds(encoding.binaries[i], phase[i]..=phase[i]);
            }
        }
        // Tangents at the centre make the MILP's objective exact there.
        for (n, sample) in spec.samples.iter().enumerate() {
            let y = self.pre[n].last().expect("the outputs");
            for (j, &t) in sample.target.iter().enumerate() {
                let (lower, terms) = tangent(encoding, n, j, y[j], t);
                problem.add_row(lower.., terms);
            }
        }
        let mut model = problem.optimise(Sense::Minimise);
        configure(&mut model, self.seconds, None);
        if let Some(cutoff) = self.cutoff {
            model.set_option("objective_bound", cutoff);
        }
        let solved = model
            .try_solve()
            .map_err(|e| PatchError::Solver(format!("local-search MILP: {e:?}")))?;
        let found = matches!(
            solved.status(),
            HighsModelStatus::Optimal | HighsModelStatus::ReachedTimeLimit
        ) && solved.primal_solution_status() == HighsSolutionStatus::Feasible;
        if !found {
            return Ok(None);
        }
        let solution = solved.get_solution();
        let columns = solution.columns();
        Ok(Some(
            encoding
                .binaries
                .iter()
                .map(|c| columns[c.index()])
                .collect(),
        ))
    }
}

/// Per sample, `net`'s pre-activations of the layers from the repaired one on.
fn sample_pre_activations(spec: &Spec, net: &ReluNet) -> Vec<Vec<Vec<f64>>> {
    let prefix = &spec.net.layers()[..spec.layer];
    spec.samples
        .iter()
        .map(|s| net.pre_activations(spec.layer, &activations_before(prefix, &s.input)))
        .collect()
}

/// The binaries' values for the activation pattern of the per-sample pre-activations
/// `pre` (see [`sample_pre_activations`]; a disjunction's choice keeps the original
/// network's).
fn phases_of(encoding: &Encoding, pre: &[Vec<Vec<f64>>]) -> Vec<f64> {
    encoding
        .sites
        .iter()
        .zip(&encoding.original_binaries)
        .map(|(site, &original)| match site {
            Some(s) => f64::from(u8::from(pre[s.sample][s.depth][s.node] > 0.0)),
            None => original,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::Layer;
    use crate::repair::patch::encode::Binaries;
    use crate::repair::patch::{Constraint, Sample};
    use crate::spec::InputSet;
    use crate::spec::constraint::parse_joint_inequality;
    use nalgebra::{DMatrix, DVector};

    /// y = relu(w·x + b) + 0 (one hidden ReLU; the hidden layer is repaired).
    fn net(w: f64, b: f64) -> ReluNet {
        ReluNet::new(vec![
            Layer {
                weights: DMatrix::from_row_slice(1, 1, &[w]),
                bias: DVector::from_column_slice(&[b]),
            },
            Layer {
                weights: DMatrix::from_row_slice(1, 1, &[1.0]),
                bias: DVector::from_column_slice(&[0.0]),
            },
        ])
        .unwrap()
    }

    #[test]
    fn mend_frees_the_relus_of_the_samples_the_hint_violates() {
        // Ψ: y > 0.5. At x = 1 the hint's ReLU is off (y = 0): with its phase fixed no
        // patch exists; freed, raising w and b by up to 0.5 switches it on.
        let original = net(1.0, -0.2);
        let hint = net(1.0, -1.1);
        let above_half = Constraint {
            name: "above-half".into(),
            condition: InputSet {
                lower: vec![f64::NEG_INFINITY],
                upper: vec![f64::INFINITY],
                constraints: vec![],
            },
            unsafe_set: vec![vec![parse_joint_inequality("y0 <= 0.5", 1, 1).unwrap()]],
        };
        let samples = [Sample {
            input: vec![1.0],
            target: vec![0.8],
        }];
        let constraints = [above_half];
        let spec = Spec {
            net: &original,
            layer: 0,
            free_rows: &[true],
            samples: &samples,
            constraints: &constraints,
            lambda: 0.0,
            max_change: 0.5,
            margin: 0.0,
            clearance: 0.0,
        };
        let encoding = Encoding::build(&spec, Binaries::Free).unwrap();
        let hint_pattern = phases_of(&encoding, &sample_pre_activations(&spec, &hint));
        assert_eq!(hint_pattern, vec![0.0]);
        assert!(
            solve_fixed_lp(&spec, &hint_pattern, None)
                .unwrap()
                .is_none()
        );
        let mended = mend(&spec, &encoding, &hint, None)
            .unwrap()
            .expect("a start");
        assert_eq!(mended.score.0, 0, "no violated sample");
        let y = mended.net.forward(&[1.0])[0];
        // The tangent-cut LP approximates the square: near the target, not exactly on it.
        assert!((y - 0.8).abs() < 1e-2, "the target is reachable: {y}");
    }
}
