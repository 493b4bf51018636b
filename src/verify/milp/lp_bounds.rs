//! Tighter big-M bounds for the MILP verifier: optimization-based bound tightening.
//!
//! The symbolic intervals of [`box_bounds`](crate::verify::bounds::box_bounds) leave most ReLUs
//! of the prosthesis policy unstable over the test data's bounding box, so the MILP has a
//! binary per neuron and a weak relaxation, and HiGHS can run out of time without a
//! verdict. Here every unstable pre-activation (and every output) is minimised and
//! maximised by a linear program over the triangle relaxation of the layers before it,
//! layer by layer, each layer's relaxation built from the bounds just tightened. Neurons
//! whose new interval excludes 0 lose their binary; the others get a smaller big-M.
//! That is what lets the MILP prove ACAS Xu properties at all (networks 2_3 and 1_1,
//! property 4: 3.1 s and 32 s, against `unknown` after 60 s with symbolic bounds). On the
//! prosthesis policy's wide box it stabilises nothing (≈ 0.6 s spent).
//!
//! Soundness: an LP optimum is only as exact as the solver's tolerances, so the bound is
//! not read off the solver. It is recomputed from HiGHS's row duals as a Lagrangian
//! bound, which is valid for *any* multipliers (a multiplier whose sign would need an
//! infinite row bound is set to 0), evaluated over the column bounds and widened against
//! rounding. Bounds only ever shrink (intersected with the given ones); an LP that fails
//! or runs past the deadline leaves its neuron's bounds as they were.

use crate::nn::{Layer, ReluNet};
use crate::spec::HalfSpace;
use crate::verify::bounds::Interval;
use highs::{Col, HighsModelStatus, RowProblem, Sense};
use std::time::Instant;

/// Tightens `bounds` (sound pre-activation intervals of every layer of `net` over the box
/// `[lower, upper]` ∩ `cuts`, the last entry bounding the output) until `deadline`.
pub fn tighten(
    net: &ReluNet,
    lower: &[f64],
    upper: &[f64],
    cuts: &[HalfSpace],
    mut bounds: Vec<Vec<Interval>>,
    deadline: Option<Instant>,
) -> Vec<Vec<Interval>> {
    let mut lp = Relaxation::new();
    let inputs: Vec<Col> = lower
        .iter()
        .zip(upper)
        .map(|(&lo, &hi)| lp.add_column(lo, hi))
        .collect();
    for h in cuts {
        lp.add_row(
            f64::NEG_INFINITY,
            h.rhs,
            inputs.iter().copied().zip(h.coeffs.iter().copied()),
        );
    }
    let mut values: Vec<Option<Col>> = inputs.into_iter().map(Some).collect();
    let last = net.layers().len() - 1;
    for (depth, layer) in net.layers().iter().enumerate() {
        let mut zs = Vec::with_capacity(layer.outputs());
        for (j, b) in bounds[depth].iter().enumerate() {
            // z inside its (sound) interval.
            let z = lp.add_column(b.lo, b.hi);
            lp.add_row(
                layer.bias[j],
                layer.bias[j],
                pre_activation_row(layer, j, &values, z),
            );
            zs.push(z);
        }
        for (j, &z) in zs.iter().enumerate() {
            let b = bounds[depth][j];
            let unstable = b.lo < 0.0 && b.hi > 0.0;
            if !(unstable || depth == last) || deadline.is_some_and(|d| Instant::now() >= d) {
                continue;
            }
            let lo = lp.minimum(z, 1.0).map_or(b.lo, |v| v.max(b.lo));
            let hi = lp.minimum(z, -1.0).map_or(b.hi, |v| (-v).min(b.hi));
            if lo <= hi {
                bounds[depth][j] = Interval { lo, hi };
                lp.set_bounds(z, lo, hi);
            }
        }
        if depth == last {
            break;
        }
        values = zs
            .iter()
            .zip(&bounds[depth])
            .map(|(&z, b)| lp.relu(z, *b))
            .collect();
    }
    bounds
}

/// The terms of `z − Σ_i w_ji·value_i` (= bias_j) for neuron `j` of `layer`, whose
/// inputs are `values` (`None`: an input fixed at 0, such as an always-inactive ReLU).
/// Shared with the MILP verifier, which builds the same affine rows.
pub(super) fn pre_activation_row(
    layer: &Layer,
    j: usize,
    values: &[Option<Col>],
    z: Col,
) -> Vec<(Col, f64)> {
    let mut row: Vec<(Col, f64)> = values
        .iter()
        .zip(layer.weights.row(j).iter())
        .filter_map(|(v, &w)| v.filter(|_| w != 0.0).map(|c| (c, -w)))
        .collect();
    row.push((z, 1.0));
    row
}

/// An LP kept in HiGHS and mirrored here, so that a Lagrangian bound can be computed
/// from the duals without trusting the solver's objective.
struct Relaxation {
    /// `None` only while a solve is under way.
    model: Option<highs::Model>,
    columns: Vec<(f64, f64)>,
    rows: Vec<Row>,
}

/// `lo ≤ Σ a·x ≤ hi`.
struct Row {
    lo: f64,
    hi: f64,
    terms: Vec<(usize, f64)>,
}

impl Relaxation {
    fn new() -> Self {
        let mut relaxation = Self {
            model: None,
            columns: Vec::new(),
            rows: Vec::new(),
        };
        relaxation.model = Some(relaxation.rebuilt());
        relaxation
    }

    fn model(&mut self) -> &mut highs::Model {
        self.model.as_mut().expect("no solve under way")
    }

    fn add_column(&mut self, lo: f64, hi: f64) -> Col {
        self.columns.push((lo, hi));
        self.model().add_col(0.0, lo..=hi, [])
    }

    fn add_row(&mut self, lo: f64, hi: f64, terms: impl IntoIterator<Item = (Col, f64)>) {
        let terms: Vec<(Col, f64)> = terms.into_iter().filter(|(_, a)| *a != 0.0).collect();
        self.rows.push(Row {
            lo,
            hi,
            terms: terms.iter().map(|(c, a)| (c.index(), *a)).collect(),
        });
        self.model().add_row(lo..=hi, terms);
    }

    fn set_bounds(&mut self, col: Col, lo: f64, hi: f64) {
        self.columns[col.index()] = (lo, hi);
        self.model().change_column_bounds(col, lo..=hi);
    }

    /// The value of `max(z, 0)` in the relaxation: `None` for a neuron that is always
    /// inactive, `z` itself for one always active, else a column `a` with `a ≥ 0`,
    /// `a ≥ z` and `a ≤ hi·(z − lo)/(hi − lo)` (the triangle).
    fn relu(&mut self, z: Col, b: Interval) -> Option<Col> {
        if b.hi <= 0.0 {
            return None;
        }
        if b.lo >= 0.0 {
            return Some(z);
        }
        let a = self.add_column(0.0, b.hi);
        self.add_row(0.0, f64::INFINITY, [(a, 1.0), (z, -1.0)]);
        self.add_row(
            f64::NEG_INFINITY,
            -b.hi * b.lo,
            [(a, b.hi - b.lo), (z, -b.hi)],
        );
        Some(a)
    }

    /// A sound lower bound on `sign·col` over the relaxation, `None` if the LP fails.
    fn minimum(&mut self, col: Col, sign: f64) -> Option<f64> {
        let mut model = self.model.take().expect("no solve under way");
        model.change_column_cost(col, sign);
        let solved = model.try_solve();
        let (duals, optimal) = match &solved {
            Ok(s) => (
                s.get_solution().dual_rows().to_vec(),
                s.status() == HighsModelStatus::Optimal,
            ),
            Err(_) => (Vec::new(), false),
        };
        let mut model = match solved {
            Ok(s) => highs::Model::from(s),
            // The model is gone with the failed solve: rebuild it from the mirror.
            Err(_) => self.rebuilt(),
        };
        model.change_column_cost(col, 0.0);
        self.model = Some(model);
        let mut cost = vec![0.0; self.columns.len()];
        cost[col.index()] = sign;
        (optimal && duals.len() == self.rows.len()).then(|| self.lagrangian_bound(&cost, &duals))?
    }

    /// `min c·x ≥ Σ_k min_{x_k} (c − Aᵀy)_k·x_k + Σ_i min_{s_i ∈ [lo_i, hi_i]} y_i·s_i`
    /// for any `y`; `None` if a column with a non-zero reduced cost is unbounded.
    fn lagrangian_bound(&self, cost: &[f64], duals: &[f64]) -> Option<f64> {
        let mut reduced = cost.to_vec();
        let mut total = 0.0;
        let mut magnitude = 0.0;
        for (row, &y) in self.rows.iter().zip(duals) {
            // y·s over the row's range: only the side the sign of y points to counts.
            let side = if y > 0.0 { row.lo } else { row.hi };
            if y == 0.0 || !side.is_finite() {
                continue;
            }
            total += y * side;
            magnitude += (y * side).abs();
            for &(k, a) in &row.terms {
                reduced[k] -= y * a;
            }
        }
        for (&r, &(lo, hi)) in reduced.iter().zip(&self.columns) {
            if r == 0.0 {
                continue;
            }
            let term = if r > 0.0 { r * lo } else { r * hi };
            if !term.is_finite() {
                return None;
            }
            total += term;
            magnitude += term.abs();
        }
        Some(total - 1e-9 * (1.0 + magnitude))
    }

    fn rebuilt(&self) -> highs::Model {
        let mut problem = RowProblem::default();
        let cols: Vec<Col> = self
            .columns
            .iter()
            .map(|&(lo, hi)| problem.add_column(0.0, lo..=hi))
            .collect();
        for row in &self.rows {
            problem.add_row(
                row.lo..=row.hi,
                row.terms.iter().map(|&(k, a)| (cols[k], a)),
            );
        }
        let mut model = problem.optimise(Sense::Minimise);
        model.make_quiet();
        model.set_option("threads", 1);
        model
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::random_net;
    use crate::verify::bounds::box_bounds;
    use rand::{Rng, SeedableRng};

    #[test]
    fn the_lagrangian_bound_matches_the_lp_optimum_on_an_affine_layer() {
        // min/max of w·x + b over a box is Σ min/max(w·lo, w·hi) + b: the bound from the
        // duals must reproduce it, which it only does with the right dual signs.
        let mut lp = Relaxation::new();
        let (lower, upper) = ([-1.0, 0.5, -3.0], [2.0, 1.5, -1.0]);
        let x: Vec<Col> = (0..3).map(|i| lp.add_column(lower[i], upper[i])).collect();
        let (w, b) = ([1.5, -2.0, 0.25], 0.3);
        let z = lp.add_column(-100.0, 100.0);
        let mut row: Vec<(Col, f64)> = x.iter().copied().zip(w.iter().map(|w| -w)).collect();
        row.push((z, 1.0));
        lp.add_row(b, b, row);
        let range = |pick: fn(f64, f64) -> f64| -> f64 {
            (0..3)
                .map(|i| pick(w[i] * lower[i], w[i] * upper[i]))
                .sum::<f64>()
                + b
        };
        let min = lp.minimum(z, 1.0).unwrap();
        let max = -lp.minimum(z, -1.0).unwrap();
        assert!(
            (min - range(f64::min)).abs() < 1e-6,
            "{min} vs {}",
            range(f64::min)
        );
        assert!(
            (max - range(f64::max)).abs() < 1e-6,
            "{max} vs {}",
            range(f64::max)
        );
        assert!(
            min <= range(f64::min) && max >= range(f64::max),
            "not sound"
        );
    }

    #[test]
    fn tightened_bounds_hold_every_sampled_input_and_beat_the_symbolic_ones() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let mut stabilised = 0;
        for _ in 0..20 {
            let net = random_net(&mut rng, &[6, 12, 12, 12, 2]);
            let lower: Vec<f64> = (0..6).map(|_| rng.random_range(-2.0..0.0)).collect();
            let upper: Vec<f64> = lower
                .iter()
                .map(|l| l + rng.random_range(0.5..2.0))
                .collect();
            // One cut through the box: x0 + x1 ≤ midpoint sum.
            let cut = HalfSpace {
                coeffs: [1.0, 1.0, 0.0, 0.0, 0.0, 0.0].to_vec(),
                rhs: (lower[0] + upper[0] + lower[1] + upper[1]) / 2.0,
            };
            let symbolic = box_bounds(&net, &lower, &upper);
            let tight = tighten(
                &net,
                &lower,
                &upper,
                std::slice::from_ref(&cut),
                symbolic.clone(),
                None,
            );
            for (t, s) in tight.iter().flatten().zip(symbolic.iter().flatten()) {
                assert!(s.lo <= t.lo && t.hi <= s.hi, "{t:?} looser than {s:?}");
            }
            let unstable = |b: &[Vec<Interval>]| {
                b[..b.len() - 1]
                    .iter()
                    .flatten()
                    .filter(|i| i.lo < 0.0 && i.hi > 0.0)
                    .count()
            };
            stabilised += unstable(&symbolic) - unstable(&tight);
            let mut inside = 0;
            while inside < 300 {
                let x: Vec<f64> = lower
                    .iter()
                    .zip(&upper)
                    .map(|(&l, &u)| rng.random_range(l..=u))
                    .collect();
                if x[0] + x[1] > cut.rhs {
                    continue;
                }
                inside += 1;
                for (depth, pre) in net.pre_activations(0, &x).iter().enumerate() {
                    for (j, v) in pre.iter().enumerate() {
                        assert!(
                            tight[depth][j].contains(*v),
                            "{v} outside {:?}",
                            tight[depth][j]
                        );
                    }
                }
            }
        }
        assert!(
            stabilised >= 20,
            "only {stabilised} ReLUs stabilised over 20 nets"
        );
    }
}
