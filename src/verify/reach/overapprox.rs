//! The over-approximation filter: drop a set whose outputs provably avoid the unsafe set.
//!
//! Most sets of an exact analysis never come near the unsafe outputs; computing their exact
//! pieces is wasted work (the paper's section 5 reports a five-fold speed-up from filtering).
//! The paper's "vzono" is DeepZ with the set's vertices as base points. This filter is at
//! least as tight and as cheap:
//!
//! - the current layer's pre-activations are exact affine functions of the input; their
//!   bounds are exact (extremes over the set's vertices);
//! - later layers carry symbolic lower/upper linear functions of the input (symbolic
//!   intervals, with the ReLU relaxation `α·x ≤ relu(x) ≤ λ(x − l)`, `λ = u/(u − l)`,
//!   `α ∈ {0, 1}` whichever side is larger), concretized exactly over the vertices instead
//!   of over a box, and intersected with plain interval arithmetic;
//! - each unsafe half-space `a·y <= c` is then bounded backward through the network
//!   (CROWN-style: per neuron the lower or the upper relaxation, by the sign of its
//!   coefficient), which keeps the correlations between outputs such as `y0 − y1`.
//!
//! A disjunct is ruled out when one of its half-spaces' lower bound of `a·y − c` clears the
//! margin; rounding in these sums is far below it.

use nalgebra::{DMatrix, DVector};

use super::region::margin;
use crate::nn::{Layer, ReluNet};
use crate::spec::Property;

/// Precomputed pieces of the filter for one network and property.
pub struct Filter<'a> {
    layers: &'a [Layer],
    /// Positive and negative parts of every layer's weights.
    positive: Vec<DMatrix<f64>>,
    negative: Vec<DMatrix<f64>>,
    /// Per disjunct: its half-spaces as columns `a` (outputs × rows) and `c + margin`.
    disjuncts: Vec<(DMatrix<f64>, DVector<f64>)>,
}

/// A set as the search holds it: its vertices, the current layer's values at them, and
/// the map to that layer.
pub struct At<'a> {
    pub vertices: &'a DMatrix<f64>,
    /// `vertices · mt` (the pre-activations less the bias).
    pub values: &'a DMatrix<f64>,
    pub layer: usize,
    /// Which neurons of `layer` are decided (their columns hold post-activations).
    pub decided: &'a [bool],
    pub mt: &'a DMatrix<f64>,
    pub bias: &'a DVector<f64>,
}

/// What the filter learned about a set.
pub struct Filtered {
    /// The unsafe disjuncts it could not rule out.
    pub alive: Vec<usize>,
    /// Per neuron of the current layer, the total weight of its post-activation in the
    /// backward bounds of the surviving disjuncts: how much its relaxation loosens them.
    pub influence: Vec<f64>,
}

/// Pre-activation bounds of one hidden layer, and which neurons are decided (none if empty).
struct LayerBounds {
    lower: Vec<f64>,
    upper: Vec<f64>,
    decided: Vec<bool>,
}

impl LayerBounds {
    /// Whether neuron `j` already holds its exact post-activation (no relaxation).
    fn decided(&self, j: usize) -> bool {
        self.decided.get(j).copied().unwrap_or(false)
    }
}

impl<'a> Filter<'a> {
    pub fn new(net: &'a ReluNet, property: &Property, tolerance: f64) -> Self {
        let layers = net.layers();
        let outputs = net.output_dim();
        let disjuncts = property
            .unsafe_set
            .disjuncts
            .iter()
            .map(|rows| {
                let a = DMatrix::from_fn(outputs, rows.len(), |o, r| rows[r].coeffs[o]);
                let c = DVector::from_fn(rows.len(), |r, _| {
                    rows[r].rhs + margin(tolerance, rows[r].rhs)
                });
                (a, c)
            })
            .collect();
        Self {
            layers,
            positive: layers
                .iter()
                .map(|l| l.weights.map(|w| w.max(0.0)))
                .collect(),
            negative: layers
                .iter()
                .map(|l| l.weights.map(|w| w.min(0.0)))
                .collect(),
            disjuncts,
        }
    }

    /// The disjuncts among `alive` that the relaxation cannot rule out for the set `at`,
    /// and how much each neuron of the current layer matters to them.
    pub fn alive(&self, at: &At<'_>, alive: &[usize]) -> Filtered {
        let bounds = self.forward(at);
        let mut influence = vec![0.0; at.bias.len()];
        let mut survivors = Vec::new();
        for &k in alive {
            let (lower, weights) = self.lower_bounds(at, &bounds, k);
            if lower.iter().all(|&b| b <= 0.0) {
                survivors.push(k);
                for (total, row) in influence.iter_mut().zip(weights.row_iter()) {
                    *total += row.iter().map(|c| c.abs()).sum::<f64>();
                }
            }
        }
        Filtered {
            alive: survivors,
            influence,
        }
    }

    /// Pre-activation bounds of every hidden layer from `layer` on.
    fn forward(&self, at: &At<'_>) -> Vec<LayerBounds> {
        let (vertices, mt, bias) = (at.vertices, at.mt, at.bias);
        let dim = mt.nrows();
        let (lower, upper) = extremes(at.values, bias);
        let first = LayerBounds {
            lower,
            upper,
            decided: at.decided.to_vec(),
        };
        // Symbolic bounds: one row per neuron, `dim` input coefficients then a constant.
        let exact = affine_rows(mt, bias);
        let (mut lo, mut up) = relax(&exact, &exact, &first);
        let mut all = vec![first];
        let last = self.layers.len() - 1;
        for next in at.layer + 1..last {
            let (pos, neg) = (&self.positive[next], &self.negative[next]);
            let mut pre_lo = pos * &lo + neg * &up;
            let mut pre_up = pos * &up + neg * &lo;
            for (i, b) in self.layers[next].bias.iter().enumerate() {
                pre_lo[(i, dim)] += b;
                pre_up[(i, dim)] += b;
            }
            // Symbolic bounds concretized over the vertices, tightened by interval
            // arithmetic on the previous layer's bounds (neither dominates the other).
            let (below, above) = intervals(&self.layers[next], pos, neg, &all[all.len() - 1]);
            let bounds = LayerBounds {
                lower: lowest(vertices, &pre_lo)
                    .iter()
                    .zip(&below)
                    .map(|(s, i)| s.max(*i))
                    .collect(),
                upper: lowest(vertices, &-&pre_up)
                    .iter()
                    .zip(&above)
                    .map(|(s, i)| (-s).min(*i))
                    .collect(),
                decided: Vec::new(),
            };
            (lo, up) = relax(&pre_lo, &pre_up, &bounds);
            all.push(bounds);
        }
        all
    }

    /// For each half-space `a·y <= c` of disjunct `k`, a lower bound of `a·y − c − margin`
    /// over the set (CROWN-style backward pass, concretized over the vertices); also the
    /// bounds' coefficients on the current layer's post-activations (neurons × half-spaces).
    fn lower_bounds(
        &self,
        at: &At<'_>,
        bounds: &[LayerBounds],
        k: usize,
    ) -> (Vec<f64>, DMatrix<f64>) {
        let layer = at.layer;
        let (a, c) = &self.disjuncts[k];
        // Lower bounds of `a·y − c` as `coeffs · (layer values) + constant`.
        let mut coeffs = a.clone();
        let mut constant = -c.clone();
        let mut weights = DMatrix::zeros(0, 0);
        for index in (layer + 1..self.layers.len()).rev() {
            let l = &self.layers[index];
            constant += coeffs.tr_mul(&l.bias);
            coeffs = l.weights.tr_mul(&coeffs);
            if index == layer + 1 {
                weights = coeffs.clone();
            }
            backward_relu(&mut coeffs, &mut constant, &bounds[index - 1 - layer]);
        }
        constant += coeffs.tr_mul(at.bias);
        let normals = at.mt * &coeffs;
        let values = at.vertices * &normals;
        let lower = (0..values.ncols())
            .map(|r| lowest_of(values.column(r).as_slice()) + constant[r])
            .collect();
        (lower, weights)
    }
}

/// Exact bounds of the affine functions: `values` holds `mt[:, j]·v` per vertex `v` (rows)
/// and neuron `j` (columns).
fn extremes(values: &DMatrix<f64>, bias: &DVector<f64>) -> (Vec<f64>, Vec<f64>) {
    values
        .column_iter()
        .zip(bias.iter())
        .map(|(column, b)| {
            let column = column.as_slice();
            (lowest_of(column) + b, highest_of(column) + b)
        })
        .unzip()
}

/// The smallest value; NaN never occurs (every input is finite).
fn lowest_of(values: &[f64]) -> f64 {
    extreme_of(values, f64::INFINITY, |v, best| v < best)
}

/// The largest value; see [`lowest_of`].
fn highest_of(values: &[f64]) -> f64 {
    extreme_of(values, f64::NEG_INFINITY, |v, best| v > best)
}

/// The value `better` prefers over all others, kept in four running lanes so that the
/// loop vectorizes.
#[inline(always)]
fn extreme_of(values: &[f64], start: f64, better: impl Fn(f64, f64) -> bool) -> f64 {
    let mut lanes = [start; 4];
    let chunks = values.chunks_exact(4);
    let tail = chunks.remainder();
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane = if better(v, *lane) { v } else { *lane };
        }
    }
    tail.iter()
        .chain(&lanes)
        .fold(start, |best, &v| if better(v, best) { v } else { best })
}

/// The functions `x ↦ mt[:, j]·x + bias[j]` as rows `[normal, constant]`.
fn affine_rows(mt: &DMatrix<f64>, bias: &DVector<f64>) -> DMatrix<f64> {
    let dim = mt.nrows();
    DMatrix::from_fn(mt.ncols(), dim + 1, |j, k| {
        if k < dim { mt[(k, j)] } else { bias[j] }
    })
}

/// Lowest value of each symbolic row `[normal, constant]` over the vertices.
fn lowest(vertices: &DMatrix<f64>, rows: &DMatrix<f64>) -> Vec<f64> {
    let dim = vertices.ncols();
    let values = vertices * rows.columns(0, dim).transpose();
    (0..rows.nrows())
        .map(|j| lowest_of(values.column(j).as_slice()) + rows[(j, dim)])
        .collect()
}

/// Interval bounds of a layer's pre-activations from the previous layer's bounds (whose
/// decided neurons already hold post-activation bounds).
fn intervals(
    layer: &Layer,
    positive: &DMatrix<f64>,
    negative: &DMatrix<f64>,
    previous: &LayerBounds,
) -> (Vec<f64>, Vec<f64>) {
    let post = |bound: &[f64]| {
        DVector::from_iterator(
            bound.len(),
            bound
                .iter()
                .enumerate()
                .map(|(j, &b)| if previous.decided(j) { b } else { b.max(0.0) }),
        )
    };
    let (low, high) = (post(&previous.lower), post(&previous.upper));
    let below = positive * &low + negative * &high + &layer.bias;
    let above = positive * &high + negative * &low + &layer.bias;
    (below.as_slice().to_vec(), above.as_slice().to_vec())
}

/// Symbolic post-activation bounds from pre-activation ones. Decided neurons already hold
/// their post-activation and pass through.
fn relax(
    lo: &DMatrix<f64>,
    up: &DMatrix<f64>,
    bounds: &LayerBounds,
) -> (DMatrix<f64>, DMatrix<f64>) {
    let (mut post_lo, mut post_up) = (lo.clone(), up.clone());
    let dim = lo.ncols() - 1;
    for j in (0..lo.nrows()).filter(|&j| !bounds.decided(j)) {
        let (l, u) = (bounds.lower[j], bounds.upper[j]);
        if l >= 0.0 {
            continue;
        }
        if u <= 0.0 {
            post_lo.row_mut(j).fill(0.0);
            post_up.row_mut(j).fill(0.0);
            continue;
        }
        let slope = u / (u - l);
        post_lo
            .row_mut(j)
            .scale_mut(if u >= -l { 1.0 } else { 0.0 });
        post_up.row_mut(j).scale_mut(slope);
        post_up[(j, dim)] -= slope * l;
    }
    (post_lo, post_up)
}

/// Replaces coefficients on a layer's post-activations by coefficients on its
/// pre-activations, keeping a lower bound: for a positive coefficient the lower relaxation
/// `α·x` (α = 1 when the neuron is mostly active, else 0), for a negative one the upper
/// relaxation `λ(x − l)`.
fn backward_relu(coeffs: &mut DMatrix<f64>, constant: &mut DVector<f64>, bounds: &LayerBounds) {
    for j in (0..coeffs.nrows()).filter(|&j| !bounds.decided(j)) {
        let (l, u) = (bounds.lower[j], bounds.upper[j]);
        if l >= 0.0 {
            continue;
        }
        if u <= 0.0 {
            coeffs.row_mut(j).fill(0.0);
            continue;
        }
        let slope = u / (u - l);
        let alpha = if u >= -l { 1.0 } else { 0.0 };
        for r in 0..coeffs.ncols() {
            let c = coeffs[(j, r)];
            if c >= 0.0 {
                coeffs[(j, r)] = alpha * c;
            } else {
                coeffs[(j, r)] = slope * c;
                constant[r] -= slope * c * l;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::random_net;
    use crate::spec::{HalfSpace, InputSet, UnsafeSet};
    use crate::verify::reach::polytope::Polytope;
    use rand::{Rng, SeedableRng};

    /// Every sampled point respects the filter's intermediate bounds and output lower
    /// bounds, also when some neurons of the current layer are already decided.
    #[test]
    fn bounds_contain_every_sampled_value() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut with_decided = 0;
        for trial in 0..40 {
            let net = random_net(&mut rng, &[3, 8, 8, 8, 2]);
            let width = if trial % 2 == 0 { 1.0 } else { 0.01 };
            let centre: Vec<f64> = (0..3).map(|_| rng.random_range(-1.0..1.0)).collect();
            let lower: Vec<f64> = centre.iter().map(|c| c - width).collect();
            let upper: Vec<f64> = centre.iter().map(|c| c + width).collect();
            let property = Property {
                name: "t".into(),
                input: InputSet {
                    lower: lower.clone(),
                    upper: upper.clone(),
                    constraints: vec![],
                },
                unsafe_set: UnsafeSet {
                    disjuncts: vec![vec![
                        HalfSpace {
                            coeffs: vec![1.0, -1.0],
                            rhs: 0.3,
                        },
                        HalfSpace {
                            coeffs: vec![-1.0, 0.0],
                            rhs: -0.1,
                        },
                    ]],
                },
            };
            let filter = Filter::new(&net, &property, 0.0);
            let poly = Polytope::from_box(&lower, &upper);
            let first = &net.layers()[0];
            let mut mt = first.weights.transpose();
            let mut bias = first.bias.clone();
            // Decide the leading first-layer neurons that are stable on the box, as the
            // search would (post-activation rows: zero when inactive).
            let vertices = poly.vertex_matrix();
            let mut decided = 0;
            for j in 0..bias.len() {
                let v = vertices.clone() * mt.column(j)
                    + DVector::from_element(vertices.nrows(), bias[j]);
                if v.max() <= 0.0 {
                    mt.column_mut(j).fill(0.0);
                    bias[j] = 0.0;
                } else if v.min() < 0.0 {
                    break;
                }
                decided += 1;
            }
            with_decided += usize::from(decided > 0);
            let values = &vertices * &mt;
            let mask: Vec<bool> = (0..bias.len()).map(|j| j < decided).collect();
            let at = At {
                vertices: &vertices,
                values: &values,
                layer: 0,
                decided: &mask,
                mt: &mt,
                bias: &bias,
            };
            let bounds = filter.forward(&at);
            let (lower_bounds, _) = filter.lower_bounds(&at, &bounds, 0);
            for _ in 0..500 {
                let x: Vec<f64> = (0..3)
                    .map(|k| rng.random_range(lower[k]..=upper[k]))
                    .collect();
                let mut value = DVector::from_column_slice(&x);
                for (index, layer) in net.layers().iter().enumerate() {
                    value = layer.affine(&value);
                    if index + 1 == net.layers().len() {
                        break;
                    }
                    // Decided neurons hold post-activations: their bounds are not pre-activation ones.
                    let skip = if index == 0 { decided } else { 0 };
                    let b = &bounds[index];
                    for (j, v) in value.iter().enumerate().skip(skip) {
                        assert!(
                            b.lower[j] - 1e-9 <= *v && *v <= b.upper[j] + 1e-9,
                            "trial {trial}"
                        );
                    }
                    value.apply(|v| *v = v.max(0.0));
                }
                for (h, bound) in property.unsafe_set.disjuncts[0].iter().zip(&lower_bounds) {
                    let exact = -h.slack(value.as_slice());
                    assert!(
                        *bound <= exact + 1e-9,
                        "trial {trial}: bound {bound} > {exact}"
                    );
                }
            }
        }
        assert!(
            with_decided >= 5,
            "only {with_decided} trials had decided neurons"
        );
    }
}
