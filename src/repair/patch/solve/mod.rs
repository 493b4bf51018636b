//! The HiGHS toolkit of the patch search: candidates and their honest score, solver
//! settings, tangent cuts of the squared error, and the fixed-pattern LP and QP.
//!
//! Below both the starts (`super::start`) and the search (`super::search`), so that
//! either can use it without a cycle.

use super::PatchError;
use super::encode::{Binaries, Encoding, Spec};
use crate::nn::ReluNet;
use highs::{HessianFormat, HighsModelStatus, Model, Sense};
use std::time::{Duration, Instant};

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
            crate::repair::patch::violations(&net, spec.samples, spec.constraints).len(),
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
pub fn violated_cuts(
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
pub fn with_cuts(
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
/// point method: on hidden layers with thousands of fixed binaries the dual simplex is
/// several times slower, and its warm start does not help the cut-extended re-solves
/// (measurements: docs/results.md).
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
pub fn feasible_after_cuts(spec: &Spec, encoding: &Encoding, mut columns: Vec<f64>) -> Vec<f64> {
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
pub fn solve_fixed_qp(
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
pub fn patched_net(spec: &Spec, encoding: &Encoding, columns: &[f64]) -> ReluNet {
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
