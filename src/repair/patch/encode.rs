//! The NNRepLayer model (paper section 3) as a HiGHS problem.
//!
//! Variables: the free rows of the repaired layer's weights and bias (each within
//! `±max_change` of its original value), δ ≥ |change| of each of them, and per sample the
//! activations of the layers after it and the outputs y. A ReLU whose sign the sound
//! bounds fix needs no binary (active: `x = z`; inactive: `x = 0`); only the others get
//! the big-M encoding `x ≥ z, x ≤ z − lo·(1 − φ), x ≤ hi·φ, x ≥ 0`. The input of the
//! repaired layer is data, so every row is linear.
//!
//! The same builder makes the outer-approximation MILP (binaries free, an epigraph
//! variable per squared error) and the final convex QP (binaries fixed, quadratic
//! objective); it creates the binaries in the same order both times, so a MILP solution
//! fixes the QP's binaries by position.

use super::PatchError;
use crate::data::Sample;
use crate::nn::ReluNet;
use crate::spec::{Constraint, JointHalfSpace};
use crate::verify::bounds::{Interval, pre_activation_bounds};
use highs::{Col, RowProblem};

/// Everything the model is built from.
pub struct Spec<'a> {
    pub net: &'a ReluNet,
    pub layer: usize,
    /// Which rows (neurons) of the repaired layer may change.
    pub free_rows: &'a [bool],
    pub samples: &'a [Sample],
    pub constraints: &'a [Constraint],
    /// Weight of δ in the objective.
    pub lambda: f64,
    /// Largest change of any single weight or bias (bounds δ, makes big-M finite).
    pub max_change: f64,
    /// Relative margin by which unsafe sets are avoided, so rounding cannot undo it.
    pub margin: f64,
    /// Absolute distance by which samples must stay out of the unsafe sets.
    pub clearance: f64,
}

impl Spec<'_> {
    /// How far past a half-space's right-hand side `rhs` an output must lie to have left
    /// it: the clearance plus the relative margin.
    pub fn leave_distance(&self, rhs: f64) -> f64 {
        self.clearance + self.margin * (1.0 + rhs.abs())
    }
}

/// Whether the ReLU binaries are decision variables (MILP) or fixed, and with which
/// objective: epigraph variables for tangent cuts, or the quadratic one (QP).
pub enum Binaries<'a> {
    Free,
    Fixed(&'a [f64]),
    /// Fixed, with the epigraph objective: an LP the caller refines with cuts.
    FixedEpigraph(&'a [f64]),
}

/// `Σ coeff·col + constant`.
#[derive(Debug, Clone, Default)]
struct Expr {
    terms: Vec<(Col, f64)>,
    constant: f64,
}

impl Expr {
    fn constant(value: f64) -> Self {
        Self {
            terms: Vec::new(),
            constant: value,
        }
    }
}

/// Where a ReLU binary sits: sample, layer after the repaired one (0 = its own outputs)
/// and neuron. Local search frees the binaries whose pre-activation is near zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Site {
    pub sample: usize,
    pub depth: usize,
    pub node: usize,
}

/// A built model and where its variables are.
pub struct Encoding {
    pub problem: RowProblem,
    /// Per row of the repaired layer: its weight columns and bias column, if free.
    pub rows: Vec<Option<(Vec<Col>, Col)>>,
    /// Per sample: the output columns.
    pub outputs: Vec<Vec<Col>>,
    /// Per sample: the epigraph columns of the squared errors (MILP only).
    pub errors: Vec<Vec<Col>>,
    /// Per sample: sound bounds on the outputs.
    pub output_bounds: Vec<Vec<Interval>>,
    /// ReLU and disjunction binaries, in creation order.
    pub binaries: Vec<Col>,
    /// Per binary, its value for the original network: each ReLU's original phase and,
    /// for the half-space to leave, the one the original output is closest to leaving.
    /// Fixing these gives the QP of a pattern-preserving patch, a good first incumbent.
    pub original_binaries: Vec<f64>,
    /// Per binary, its ReLU (`None` for a disjunction's choice).
    pub sites: Vec<Option<Site>>,
}

struct Builder<'a, 'b> {
    problem: RowProblem,
    binaries: Vec<Col>,
    original_binaries: Vec<f64>,
    sites: Vec<Option<Site>>,
    fixed: &'b Binaries<'a>,
}

impl Builder<'_, '_> {
    fn binary(&mut self, original: bool, site: Option<Site>) -> Col {
        self.original_binaries.push(f64::from(u8::from(original)));
        self.sites.push(site);
        let col = match self.fixed {
            Binaries::Free => self.problem.add_integer_column(0.0, 0.0..=1.0),
            Binaries::Fixed(values) | Binaries::FixedEpigraph(values) => {
                let v = values[self.binaries.len()].round();
                self.problem.add_column(0.0, v..=v)
            }
        };
        self.binaries.push(col);
        col
    }

    /// Adds `lo <= expr <= hi` (the constant moved to the bounds).
    fn row(&mut self, lo: f64, hi: f64, expr: &Expr) {
        let (lo, hi) = (lo - expr.constant, hi - expr.constant);
        self.problem.add_row(lo..=hi, &expr.terms);
    }

    /// `max(pre, 0)` as an expression, given sound bounds on `pre` and its value in the
    /// original network.
    fn relu(&mut self, pre: Expr, bound: Interval, original: f64, site: Site) -> Expr {
        if pre.terms.is_empty() {
            return Expr::constant(pre.constant.max(0.0));
        }
        if bound.hi <= 0.0 {
            return Expr::constant(0.0);
        }
        let x = self.problem.add_column(0.0, 0.0..=bound.hi);
        let mut x_minus_pre = Expr {
            terms: vec![(x, 1.0)],
            constant: -pre.constant,
        };
        x_minus_pre
            .terms
            .extend(pre.terms.iter().map(|&(c, a)| (c, -a)));
        if bound.lo >= 0.0 {
            self.row(0.0, 0.0, &x_minus_pre);
        } else {
            let phi = self.binary(original > 0.0, Some(site));
            // x ≥ pre
            self.row(0.0, f64::INFINITY, &x_minus_pre);
            // x ≤ pre − lo·(1 − φ)  ⇔  x − pre − lo·φ ≤ −lo
            let mut upper = x_minus_pre.clone();
            upper.terms.push((phi, -bound.lo));
            self.row(f64::NEG_INFINITY, -bound.lo, &upper);
            // x ≤ hi·φ
            self.problem.add_row(..=0.0, [(x, 1.0), (phi, -bound.hi)]);
        }
        Expr {
            terms: vec![(x, 1.0)],
            constant: 0.0,
        }
    }
}

impl Encoding {
    /// Builds the model. `Binaries::Free` gives the MILP with one epigraph variable per
    /// squared error (cost 1, cuts added by the caller); `Binaries::Fixed` gives the
    /// continuous problem whose quadratic objective the caller passes as a Hessian on the
    /// outputs (their linear cost `−2t` is set here).
    pub fn build(spec: &Spec, binaries: Binaries) -> Result<Self, PatchError> {
        let net = spec.net;
        let repaired = &net.layers()[spec.layer];
        let quadratic = matches!(binaries, Binaries::Fixed(_));
        let mut b = Builder {
            problem: RowProblem::default(),
            binaries: Vec::new(),
            original_binaries: Vec::new(),
            sites: Vec::new(),
            fixed: &binaries,
        };
        let delta = b.problem.add_column(spec.lambda, 0.0..=spec.max_change);
        let mut rows = Vec::with_capacity(repaired.outputs());
        for j in 0..repaired.outputs() {
            if !spec.free_rows[j] {
                rows.push(None);
                continue;
            }
            let original: Vec<f64> = repaired
                .weights
                .row(j)
                .iter()
                .copied()
                .chain(std::iter::once(repaired.bias[j]))
                .collect();
            let mut cols: Vec<Col> = original
                .iter()
                .map(|&w| {
                    let col = b
                        .problem
                        .add_column(0.0, (w - spec.max_change)..=(w + spec.max_change));
                    // |col − w| ≤ δ
                    b.problem.add_row(..=w, [(col, 1.0), (delta, -1.0)]);
                    b.problem.add_row(w.., [(col, 1.0), (delta, 1.0)]);
                    col
                })
                .collect();
            let bias = cols.pop().expect("the bias column");
            rows.push(Some((cols, bias)));
        }

        let prefix = &net.layers()[..spec.layer];
        let mut outputs = Vec::with_capacity(spec.samples.len());
        let mut errors = Vec::with_capacity(spec.samples.len());
        let mut output_bounds = Vec::with_capacity(spec.samples.len());
        for (n, sample) in spec.samples.iter().enumerate() {
            let layer_input = crate::nn::activations_before(prefix, &sample.input);
            let bounds = pre_activation_bounds(
                net,
                spec.layer,
                &layer_input,
                spec.free_rows,
                spec.max_change,
            );
            let mut pre: Vec<Expr> = (0..repaired.outputs())
                .map(|j| match &rows[j] {
                    Some((weights, bias)) => Expr {
                        terms: weights
                            .iter()
                            .zip(&layer_input)
                            .filter(|(_, a)| **a != 0.0)
                            .map(|(&c, &a)| (c, a))
                            .chain(std::iter::once((*bias, 1.0)))
                            .collect(),
                        constant: 0.0,
                    },
                    None => Expr::constant(
                        repaired
                            .weights
                            .row(j)
                            .dot(&nalgebra::RowDVector::from_row_slice(&layer_input))
                            + repaired.bias[j],
                    ),
                })
                .collect();
            let original = net.pre_activations(spec.layer, &layer_input);
            for (depth, next) in net.layers()[spec.layer + 1..].iter().enumerate() {
                let post: Vec<Expr> = pre
                    .into_iter()
                    .zip(bounds[depth].iter().zip(&original[depth]))
                    .enumerate()
                    .map(|(node, (p, (&bound, &value)))| {
                        let site = Site {
                            sample: n,
                            depth,
                            node,
                        };
                        b.relu(p, bound, value, site)
                    })
                    .collect();
                pre = (0..next.outputs())
                    .map(|j| affine_of(next.weights.row(j).iter().copied(), next.bias[j], &post))
                    .collect();
            }
            let y_bounds = bounds.last().expect("the output bounds").clone();
            let mut y_cols = Vec::with_capacity(y_bounds.len());
            let mut s_cols = Vec::new();
            for (j, (expr, bound)) in pre.iter().zip(&y_bounds).enumerate() {
                let target = sample.target[j];
                let cost = if quadratic { -2.0 * target } else { 0.0 };
                let y = b.problem.add_column(cost, bound.lo..=bound.hi);
                let mut y_minus = Expr {
                    terms: vec![(y, 1.0)],
                    constant: -expr.constant,
                };
                y_minus
                    .terms
                    .extend(expr.terms.iter().map(|&(c, a)| (c, -a)));
                b.row(0.0, 0.0, &y_minus);
                y_cols.push(y);
                if !quadratic {
                    s_cols.push(b.problem.add_column(1.0, 0.0..));
                }
            }
            for constraint in spec.constraints {
                if constraint.applies_to(&sample.input, 1e-9) {
                    let outputs = SampleOutputs {
                        cols: &y_cols,
                        bounds: &y_bounds,
                        original: original.last().expect("the original outputs"),
                    };
                    avoid_unsafe_set(&mut b, spec, constraint, n, sample, &outputs)?;
                }
            }
            outputs.push(y_cols);
            errors.push(s_cols);
            output_bounds.push(y_bounds);
        }
        Ok(Self {
            problem: b.problem,
            rows,
            outputs,
            errors,
            output_bounds,
            binaries: b.binaries,
            original_binaries: b.original_binaries,
            sites: b.sites,
        })
    }
}

/// `Σ w_i · post_i + bias`, merging constants.
fn affine_of(weights: impl Iterator<Item = f64>, bias: f64, post: &[Expr]) -> Expr {
    let mut out = Expr::constant(bias);
    for (w, p) in weights.zip(post) {
        if w == 0.0 {
            continue;
        }
        out.constant += w * p.constant;
        out.terms.extend(p.terms.iter().map(|&(c, a)| (c, w * a)));
    }
    out
}

/// One sample's output columns, their sound bounds and the original network's outputs.
struct SampleOutputs<'a> {
    cols: &'a [Col],
    bounds: &'a [Interval],
    original: &'a [f64],
}

/// Rows making sample `n`'s output avoid every unsafe polytope of `constraint`: for each
/// polytope, at least one of its half-spaces must be violated by a margin (one binary per
/// candidate half-space when there are several).
fn avoid_unsafe_set(
    b: &mut Builder,
    spec: &Spec,
    constraint: &Constraint,
    n: usize,
    sample: &Sample,
    outputs: &SampleOutputs,
) -> Result<(), PatchError> {
    let (y, y_bounds, original_y) = (outputs.cols, outputs.bounds, outputs.original);
    'polytope: for (d, polytope) in constraint.unsafe_set.iter().enumerate() {
        // Half-spaces h·y ≤ r; leaving one means h·y ≥ r + clearance + margin.
        let mut candidates = Vec::new();
        for h in polytope {
            let rhs = h.output_rhs(&sample.input);
            let need = rhs + spec.leave_distance(rhs);
            let (lo, hi) =
                h.output
                    .iter()
                    .zip(y_bounds)
                    .fold((0.0, 0.0), |(lo, hi), (a, bound)| {
                        let (p, q) = (a * bound.lo, a * bound.hi);
                        (lo + p.min(q), hi + p.max(q))
                    });
            if lo >= need {
                continue 'polytope; // always left: this polytope is never reached
            }
            if hi >= need {
                candidates.push((h, need, lo));
            }
        }
        let terms = |h: &JointHalfSpace| -> Vec<(Col, f64)> {
            h.output
                .iter()
                .zip(y)
                .filter(|(a, _)| **a != 0.0)
                .map(|(&a, &c)| (c, a))
                .collect()
        };
        match candidates.as_slice() {
            [] => {
                return Err(PatchError::Infeasible(format!(
                    "sample {n} cannot leave unsafe polytope {d} of constraint `{}` with any weight change of at most the allowed maximum",
                    constraint.name
                )));
            }
            [(h, need, _)] => b.problem.add_row(*need.., terms(h)),
            _ => {
                // The original network is closest to leaving through this half-space.
                let slack = |h: &JointHalfSpace, need: f64| {
                    h.output
                        .iter()
                        .zip(original_y)
                        .map(|(a, v)| a * v)
                        .sum::<f64>()
                        - need
                };
                let closest = (0..candidates.len())
                    .max_by(|&i, &k| {
                        let (hi, ni, _) = candidates[i];
                        let (hk, nk, _) = candidates[k];
                        slack(hi, ni).total_cmp(&slack(hk, nk))
                    })
                    .expect("several candidates");
                let choices: Vec<Col> = (0..candidates.len())
                    .map(|i| b.binary(i == closest, None))
                    .collect();
                b.problem.add_row(1.0.., choices.iter().map(|&c| (c, 1.0)));
                for ((h, need, lo), choice) in candidates.iter().zip(choices) {
                    // h·y ≥ need − (need − lo)·(1 − u)  ⇔  h·y − (need − lo)·u ≥ lo
                    let mut row = terms(h);
                    row.push((choice, -(need - lo)));
                    b.problem.add_row(*lo.., row);
                }
            }
        }
    }
    Ok(())
}
