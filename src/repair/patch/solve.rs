//! Outer approximation of the MIQP with HiGHS (which refuses MIQPs outright).
//!
//! Each squared error `(y − t)²` gets an epigraph variable `s` and tangent cuts
//! `s ≥ e² + 2e·(y − ŷ)` (`e = ŷ − t`), which underestimate the convex square, so the
//! MILP is a relaxation: its dual bound is a valid lower bound on the MIQP optimum. After
//! each MILP solve the binaries are fixed and the convex QP with the true objective is
//! solved (without binaries the LP's own solution competes: it has the QP's feasible
//! set): any such solution is feasible, so the best one is an upper bound. Cuts at the
//! MILP's outputs are added and the MILP re-solved until the gap closes, no cut is
//! violated, the iteration budget ends or the time limit is reached. The reported
//! objective is recomputed on the patched network itself, never taken from the solver.

use super::encode::{Binaries, Encoding, Spec};
use super::{PatchError, PatchStatus};
use super::{descent, local_search};
use crate::nn::ReluNet;
use highs::{HessianFormat, HighsModelStatus, HighsSolutionStatus, Model, Sense};
use std::time::{Duration, Instant};

/// Solver settings.
pub struct SolveOptions<'a> {
    pub time_limit: Option<Duration>,
    /// Stop when (upper − lower) / upper is at most this.
    pub gap: f64,
    /// Most MILP solves.
    pub iterations: usize,
    /// A network whose activation pattern is tried as a start besides the original's.
    pub hint: Option<&'a ReluNet>,
}

/// The best patch found and how good it is known to be.
pub struct Solved {
    pub net: ReluNet,
    pub status: PatchStatus,
    /// Objective of `net` (recomputed with `ReluNet::forward`).
    pub objective: f64,
    /// Proven lower bound on the optimum.
    pub lower_bound: f64,
    pub iterations: usize,
    pub binaries: usize,
}

/// Solves the patch problem by outer approximation.
pub fn solve(spec: &Spec, options: &SolveOptions) -> Result<Solved, PatchError> {
    let started = Instant::now();
    let remaining = || {
        options
            .time_limit
            .map(|t| t.saturating_sub(started.elapsed()))
    };
    let encoding = Encoding::build(spec, Binaries::Free)?;
    let mut model = with_initial_cuts(spec, &encoding).optimise(Sense::Minimise);
    let mut best: Option<Candidate> = None;
    // First incumbent: the patch that keeps every sample's original activation pattern
    // (an LP refined by tangent cuts; a third of the time at most), or the hint's pattern
    // mended on the samples the hint violates when that one is better (or the only
    // feasible one), or, when neither holds the samples, the pattern gradient descent
    // ends in, mended the same way. Under a time limit
    // the MILP's own incumbents can be far worse. Local search over activation patterns
    // then improves it (up to two thirds of the time), and the best one starts the MILP:
    // the LP has the MILP's columns with the binaries fixed, so its solution is feasible
    // there and gives the branch and bound a cutoff from the start.
    let mut start: Option<Candidate> = None;
    if !encoding.binaries.is_empty() {
        let share = if options.hint.is_some() { 6 } else { 3 };
        let lp_time = options.time_limit.map(|t| t / share);
        if let Some((net, columns)) = solve_fixed_lp(spec, &encoding.original_binaries, lp_time)? {
            start = Some(Candidate::new(spec, net, Some(columns)));
        }
        if let Some(hint) = options.hint
            && let Some(mended) = local_search::mend(spec, &encoding, hint, lp_time)?
            && start.as_ref().is_none_or(|s| mended.score < s.score)
        {
            start = Some(mended);
        }
        if start.is_none() {
            // Neither pattern holds the samples: descend to one that does (a sixth of
            // the time at most) and mend it like a hint.
            let descended = descent::descend(spec, options.time_limit.map(|t| t / 6));
            start = local_search::mend(spec, &encoding, &descended, lp_time)?;
        }
    }
    if let Some(start) = start {
        let budget = options
            .time_limit
            .map(|t| (t * 2 / 3).saturating_sub(started.elapsed()));
        let improved = local_search::improve(spec, &encoding, start, budget)?;
        if let Some(columns) = &improved.columns {
            // Only a hint, so a refusal is ignored.
            let start = feasible_after_cuts(spec, &encoding, columns.clone());
            let _ = model.try_set_solution(Some(&start), None, None, None);
        }
        best = Some(improved);
    }
    let mut lower_bound = f64::NEG_INFINITY;
    let mut iterations = 0;
    let mut timed_out = false;
    let mut proven = false;
    while iterations < options.iterations {
        let Some(time) = remaining_seconds(remaining()) else {
            timed_out = true;
            break;
        };
        configure(&mut model, time, Some(options.gap * 0.5));
        let solved = model
            .try_solve()
            .map_err(|e| PatchError::Solver(format!("MILP: {e:?}")))?;
        iterations += 1;
        match solved.status() {
            HighsModelStatus::Infeasible | HighsModelStatus::UnboundedOrInfeasible => {
                // Every column is bounded (the epigraph ones below, with positive cost),
                // so "unbounded or infeasible" can only be infeasible.
                return Err(PatchError::Infeasible(
                    "no weight change within the allowed maximum satisfies the constraints on every sample".into(),
                ));
            }
            HighsModelStatus::Optimal | HighsModelStatus::ReachedTimeLimit => {}
            other => {
                return Err(PatchError::Solver(format!(
                    "MILP ended with status {other:?}"
                )));
            }
        }
        // A MILP's dual bound; without binaries the model is an LP whose optimum is the bound.
        let bound = if encoding.binaries.is_empty() {
            (solved.status() == HighsModelStatus::Optimal).then(|| solved.objective_value())
        } else {
            solved.double_info_value(c"mip_dual_bound").ok()
        };
        if let Some(bound) = bound.filter(|b| b.is_finite()) {
            lower_bound = lower_bound.max(bound);
        }
        timed_out = solved.status() == HighsModelStatus::ReachedTimeLimit;
        if solved.primal_solution_status() != HighsSolutionStatus::Feasible {
            break;
        }
        let columns = solved.get_solution().columns().to_vec();
        let fixed: Vec<f64> = encoding
            .binaries
            .iter()
            .map(|c| columns[c.index()])
            .collect();
        // Without binaries the MILP is an LP over the QP's own feasible set: its solution
        // is a candidate too and the cuts converge to the QP's optimum, so the QP only
        // gets a few seconds (HiGHS's QP solver stalled for minutes on last-layer patches
        // with many counterexamples).
        let qp_time = if encoding.binaries.is_empty() {
            let cap = Duration::from_secs_f64(QP_SECONDS_WITHOUT_BINARIES);
            Some(remaining().map_or(cap, |t| t.min(cap)))
        } else {
            remaining()
        };
        let lp = Candidate::new(spec, patched_net(spec, &encoding, &columns), None);
        let candidate = match solve_fixed_qp(spec, &fixed, qp_time)? {
            Some(qp) => {
                let qp = Candidate::new(spec, qp, None);
                if qp.score <= lp.score { qp } else { lp }
            }
            None => lp,
        };
        if best.as_ref().is_none_or(|b| candidate.score < b.score) {
            best = Some(candidate);
        }
        let upper = best.as_ref().map_or(f64::INFINITY, |b| b.score.1);
        if relative_gap(upper, lower_bound) <= options.gap || timed_out {
            break;
        }
        let cuts = violated_cuts(spec, &encoding, &columns);
        if cuts.is_empty() {
            // The MILP optimum's epigraph values are exact: it solves the MIQP.
            proven = solved.status() == HighsModelStatus::Optimal;
            break;
        }
        model = with_cuts(solved, cuts)?;
        // Warm start: this solution, with each epigraph value raised to its square, is
        // feasible for the cut model. Only a hint, so a refusal is ignored.
        let warm = feasible_after_cuts(spec, &encoding, columns);
        let _ = model.try_set_solution(Some(&warm), None, None, None);
    }
    let Some(Candidate {
        net,
        score: (_, objective),
        ..
    }) = best
    else {
        return Err(PatchError::NoSolution {
            seconds: started.elapsed().as_secs_f64(),
        });
    };
    let gap = relative_gap(objective, lower_bound);
    let status = if gap <= options.gap || proven {
        PatchStatus::Optimal
    } else if timed_out {
        PatchStatus::TimeLimit
    } else {
        PatchStatus::FeasibleWithGap
    };
    Ok(Solved {
        net,
        status,
        objective,
        lower_bound: lower_bound.min(objective),
        iterations,
        binaries: encoding.binaries.len(),
    })
}

/// Time cap of the QP when there are no binaries (see [`solve`]).
const QP_SECONDS_WITHOUT_BINARIES: f64 = 5.0;

/// A patch found on the way, ranked by [`score`].
pub struct Candidate {
    pub net: ReluNet,
    pub score: (usize, f64),
    /// Its columns in the MILP's layout, when it came from the fixed-pattern LP.
    pub columns: Option<Vec<f64>>,
}

impl Candidate {
    /// `net` scored once: violated repair samples first (re-evaluated on the network;
    /// solver tolerances could leave some), then the objective; lower is better.
    pub fn new(spec: &Spec, net: ReluNet, columns: Option<Vec<f64>>) -> Self {
        let score = (
            super::violations(&net, spec.samples, spec.constraints).len(),
            honest_objective(spec, &net),
        );
        Self {
            net,
            score,
            columns,
        }
    }
}

/// Absolute gap below which a patch counts as optimal (HiGHS's default `mip_abs_gap`):
/// without it an objective of ≈ 0 (an already safe network) reports a 100 % gap.
const ABSOLUTE_GAP: f64 = 1e-6;

/// `(upper − lower) / |upper|`, 0 when the bounds are within [`ABSOLUTE_GAP`].
pub fn relative_gap(upper: f64, lower: f64) -> f64 {
    if upper - lower <= ABSOLUTE_GAP {
        return 0.0;
    }
    (upper - lower) / upper.abs().max(1e-9)
}

pub fn remaining_seconds(remaining: Option<Duration>) -> Option<f64> {
    match remaining {
        None => Some(f64::INFINITY),
        Some(d) if d.is_zero() => None,
        Some(d) => Some(d.as_secs_f64()),
    }
}

pub fn configure(model: &mut Model, seconds: f64, gap: Option<f64>) {
    model.make_quiet();
    model.set_option("threads", 1);
    if seconds.is_finite() {
        model.set_option("time_limit", seconds);
    }
    if let Some(gap) = gap {
        model.set_option("mip_rel_gap", gap);
    }
}

/// The cut `s_nj ≥ e² + 2e·(y_nj − at)` with `e = at − t`, as `s − 2e·y ≥ −e² − 2e·t`.
pub fn tangent(
    encoding: &Encoding,
    n: usize,
    j: usize,
    at: f64,
    t: f64,
) -> (f64, Vec<(highs::Col, f64)>) {
    let e = at - t;
    (
        -e * e - 2.0 * e * t,
        vec![
            (encoding.errors[n][j], 1.0),
            (encoding.outputs[n][j], -2.0 * e),
        ],
    )
}

/// Tangent cuts at the MILP's outputs wherever its epigraph value underestimates the
/// square by more than a small tolerance.
fn violated_cuts(
    spec: &Spec,
    encoding: &Encoding,
    columns: &[f64],
) -> Vec<(f64, Vec<(highs::Col, f64)>)> {
    let mut cuts = Vec::new();
    for (n, sample) in spec.samples.iter().enumerate() {
        for (j, &t) in sample.target.iter().enumerate() {
            let y = columns[encoding.outputs[n][j].index()];
            let s = columns[encoding.errors[n][j].index()];
            let square = (y - t) * (y - t);
            if square - s > 1e-6 * (1.0 + square) {
                cuts.push(tangent(encoding, n, j, y, t));
            }
        }
    }
    cuts
}

/// A solved model, made solvable again with `cuts` added.
fn with_cuts(
    solved: highs::SolvedModel,
    cuts: Vec<(f64, Vec<(highs::Col, f64)>)>,
) -> Result<Model, PatchError> {
    let mut model = Model::from(solved);
    for (lower, terms) in cuts {
        model
            .try_add_row(lower.., terms)
            .map_err(|e| PatchError::Solver(format!("adding a cut: {e:?}")))?;
    }
    Ok(model)
}

/// The model with tangent cuts at each sample's target, original output and output bounds.
pub fn with_initial_cuts(spec: &Spec, encoding: &Encoding) -> highs::RowProblem {
    let mut problem = encoding.problem.clone();
    for (n, sample) in spec.samples.iter().enumerate() {
        let original = spec.net.forward(&sample.input);
        for (j, (&t, &y)) in sample.target.iter().zip(&original).enumerate() {
            let bound = encoding.output_bounds[n][j];
            let mut points = vec![t, y.clamp(bound.lo, bound.hi)];
            points.extend([bound.lo, bound.hi].iter().filter(|v| v.is_finite()));
            for at in points {
                let (lower, terms) = tangent(encoding, n, j, at, t);
                problem.add_row(lower.., terms);
            }
        }
    }
    problem
}

/// Most cutting-plane rounds of [`solve_fixed_lp`].
const LP_CUT_ROUNDS: usize = 30;

/// The best patch with the binaries fixed, by tangent cuts on an LP (HiGHS's LP solvers
/// are far faster and steadier than its QP solver on these models), and the LP's columns
/// (laid out as the MILP's); `None` if no LP optimum. The LPs are solved by the interior
/// point method: on a hidden layer's (layer 1 of the prosthesis rate policy, 150 samples,
/// 9 600 fixed binaries) it takes 3–5 s per solve where the dual simplex took 23 s for
/// the first and 79 s for the next, cut-extended one (its warm start does not help).
pub fn solve_fixed_lp(
    spec: &Spec,
    binaries: &[f64],
    remaining: Option<Duration>,
) -> Result<Option<(ReluNet, Vec<f64>)>, PatchError> {
    let started = Instant::now();
    let encoding = Encoding::build(spec, Binaries::FixedEpigraph(binaries))?;
    let mut model = with_initial_cuts(spec, &encoding).optimise(Sense::Minimise);
    let mut last = None;
    for _ in 0..LP_CUT_ROUNDS {
        let left = remaining.map(|t| t.saturating_sub(started.elapsed()));
        let Some(seconds) = remaining_seconds(left) else {
            break;
        };
        configure(&mut model, seconds, None);
        model.set_option("solver", "ipm");
        let solved = model
            .try_solve()
            .map_err(|e| PatchError::Solver(format!("fixed-pattern LP: {e:?}")))?;
        if solved.status() != HighsModelStatus::Optimal {
            break;
        }
        let columns = solved.get_solution().columns().to_vec();
        let cuts = violated_cuts(spec, &encoding, &columns);
        last = Some((patched_net(spec, &encoding, &columns), columns));
        if cuts.is_empty() {
            break;
        }
        model = with_cuts(solved, cuts)?;
    }
    Ok(last)
}

/// `columns` with every epigraph variable raised to its exact square.
fn feasible_after_cuts(spec: &Spec, encoding: &Encoding, mut columns: Vec<f64>) -> Vec<f64> {
    for (n, sample) in spec.samples.iter().enumerate() {
        for (j, &t) in sample.target.iter().enumerate() {
            let y = columns[encoding.outputs[n][j].index()];
            let s = &mut columns[encoding.errors[n][j].index()];
            *s = s.max((y - t) * (y - t));
        }
    }
    columns
}

/// Solves the convex QP with the binaries fixed; `None` if HiGHS finds no optimum.
fn solve_fixed_qp(
    spec: &Spec,
    binaries: &[f64],
    remaining: Option<Duration>,
) -> Result<Option<ReluNet>, PatchError> {
    let Some(seconds) = remaining_seconds(remaining) else {
        return Ok(None);
    };
    let encoding = Encoding::build(spec, Binaries::Fixed(binaries))?;
    let columns = encoding.problem.num_cols();
    let mut is_output = vec![false; columns];
    for c in encoding.outputs.iter().flatten() {
        is_output[c.index()] = true;
    }
    let mut model = encoding.problem.clone().optimise(Sense::Minimise);
    configure(&mut model, seconds, None);
    // Σ (y − t)² = Σ y² − 2t·y + const: Hessian 2 on every output column.
    let hessian = is_output
        .iter()
        .enumerate()
        .map(|(c, &out)| if out { vec![(c, 2.0)] } else { vec![] });
    model
        .try_pass_hessian(HessianFormat::Triangular, hessian)
        .map_err(|e| PatchError::Solver(format!("QP Hessian: {e}")))?;
    // A failed QP only loses this upper-bound candidate: the caller falls back on the
    // MILP's own weights.
    let Ok(solved) = model.try_solve() else {
        return Ok(None);
    };
    if solved.status() != HighsModelStatus::Optimal {
        return Ok(None);
    }
    let solution = solved.get_solution();
    Ok(Some(patched_net(spec, &encoding, solution.columns())))
}

/// The network with the repaired layer's free rows read from a solution.
fn patched_net(spec: &Spec, encoding: &Encoding, columns: &[f64]) -> ReluNet {
    let mut layers = spec.net.clone().into_layers();
    let layer = &mut layers[spec.layer];
    for (j, row) in encoding.rows.iter().enumerate() {
        if let Some((weights, bias)) = row {
            for (i, c) in weights.iter().enumerate() {
                layer.weights[(j, i)] = columns[c.index()];
            }
            layer.bias[j] = columns[bias.index()];
        }
    }
    ReluNet::new(layers).expect("patching keeps the shapes")
}

/// Σ ‖net(x) − t‖² + λ·δ on the real network.
pub fn honest_objective(spec: &Spec, net: &ReluNet) -> f64 {
    let squares: f64 = spec
        .samples
        .iter()
        .map(|s| {
            net.forward(&s.input)
                .iter()
                .zip(&s.target)
                .map(|(y, t)| (y - t) * (y - t))
                .sum::<f64>()
        })
        .sum();
    squares + spec.lambda * weight_change(spec.net, net, spec.layer)
}

/// Largest absolute change of any weight or bias of `layer`.
pub fn weight_change(original: &ReluNet, patched: &ReluNet, layer: usize) -> f64 {
    let (a, b) = (&original.layers()[layer], &patched.layers()[layer]);
    a.weights
        .iter()
        .zip(b.weights.iter())
        .chain(a.bias.iter().zip(b.bias.iter()))
        .map(|(p, q)| (p - q).abs())
        .fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::relative_gap;

    #[test]
    fn gap_is_relative_except_near_zero_objectives() {
        assert_eq!(relative_gap(10.0, 9.0), 0.1);
        assert_eq!(relative_gap(9.0, 10.0), 0.0);
        assert_eq!(relative_gap(1e-12, -1e-8), 0.0, "an already safe network");
        assert!(relative_gap(1e-3, 0.0) > 0.99);
    }
}
