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
use super::solve::{
    Candidate, configure, feasible_after_cuts, patched_net, relative_gap, remaining_seconds,
    solve_fixed_lp, solve_fixed_qp, violated_cuts, with_cuts, with_initial_cuts,
};
use super::start::{descent, local_search};
use super::{PatchError, PatchStatus};
use crate::nn::ReluNet;
use highs::{HighsModelStatus, HighsSolutionStatus, Sense};
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
