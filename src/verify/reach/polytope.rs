//! Convex polytopes as vertices plus vertex×facet incidence (the FVIM representation).
//!
//! Exact reachability needs, for every set, exact bounds of linear functions (to decide a
//! neuron's phase) and exact splits by hyperplanes. With the vertices at hand a bound is a
//! maximum over vertices (no LP), and a split only needs the edges that cross the
//! hyperplane. Edges are found from the incidence: a vertex records which constraints are
//! tight at it, and two vertices span an edge iff the constraints tight at both have rank
//! `dim − 1`.
//!
//! Degeneracy is handled rather than assumed away:
//! - a vertex on the splitting hyperplane (within a rounding tolerance) belongs to both
//!   sides and becomes tight at the new facet;
//! - adjacency is decided by the *rank* of the common tight constraints, which is correct for
//!   non-simple polytopes (more than `dim` facets through a vertex). The cheap count test
//!   "shares `dim − 1` facets" is only trusted when one endpoint is simple (exactly `dim`
//!   tight facets), where it is equivalent;
//! - every doubt errs towards "adjacent": a spurious pair only adds a point that lies inside
//!   the polytope (on the segment between two of its points), never removes volume.
//!
//! Constraints tight at fewer than `dim` points cannot be facets and are dropped after each
//! split, so the incidence rows stay a few machine words long.

use std::sync::Arc;

use nalgebra::DMatrix;

/// Relative tolerance under which a vertex counts as lying on a hyperplane: rounding noise
/// of a dot product, far below any geometry that matters.
const ON_TOLERANCE: f64 = 1e-12;
/// Relative pivot tolerance of the rank test; small, so that doubt counts as "full rank"
/// (adjacent), the safe side.
const RANK_TOLERANCE: f64 = 1e-12;

/// The half-space `normal · z <= rhs`, valid for every point of the polytope.
#[derive(Debug, Clone, PartialEq)]
pub struct Facet {
    pub normal: Vec<f64>,
    pub rhs: f64,
}

/// A full-dimensional convex polytope in `dim` coordinates.
#[derive(Debug, Clone)]
pub struct Polytope {
    dim: usize,
    /// `n_vertices × dim`, row-major.
    vertices: Vec<f64>,
    /// Incidence bit rows: bit `f` of row `v` is set iff facet `f` is tight at vertex `v`.
    words: usize,
    incidence: Vec<u64>,
    facets: Vec<Arc<Facet>>,
    /// Largest `|z_k|` over the vertices, per coordinate: the scale of rounding errors.
    extent: Vec<f64>,
}

/// Where a polytope lies relative to a hyperplane `h(z) = normal·z + offset = 0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// `h <= 0` on the whole polytope (up to rounding).
    NonPositive,
    /// `h >= 0` on the whole polytope (up to rounding), and `h > 0` somewhere.
    NonNegative,
    /// `h < 0` at some vertex and `h > 0` at another.
    Straddles,
}

/// A polytope split by a hyperplane `h(z) = normal·z + offset = 0`.
#[derive(Debug)]
pub enum Split {
    /// `h <= 0` on the whole polytope (up to rounding).
    NonPositive,
    /// `h >= 0` on the whole polytope (up to rounding), and `h > 0` somewhere.
    NonNegative,
    /// The hyperplane cuts the interior: the parts with `h <= 0` and `h >= 0`.
    Both {
        neg: Box<Polytope>,
        pos: Box<Polytope>,
    },
}

impl Polytope {
    /// The box `lower <= z <= upper`; every side must have positive width.
    ///
    /// # Panics
    /// If the bounds differ in length, are not finite, or a side is not positive: callers
    /// remove fixed coordinates first.
    pub fn from_box(lower: &[f64], upper: &[f64]) -> Self {
        let dim = lower.len();
        assert_eq!(upper.len(), dim, "Polytope::from_box: bound lengths");
        assert!(
            lower
                .iter()
                .zip(upper)
                .all(|(l, u)| l.is_finite() && u.is_finite() && l < u),
            "Polytope::from_box: every side needs finite bounds with lower < upper"
        );
        let mut facets = Vec::with_capacity(2 * dim);
        for k in 0..dim {
            // Facet 2k: z_k >= lower_k, facet 2k + 1: z_k <= upper_k.
            let mut normal = vec![0.0; dim];
            normal[k] = -1.0;
            facets.push(Arc::new(Facet {
                normal: normal.clone(),
                rhs: -lower[k],
            }));
            normal[k] = 1.0;
            facets.push(Arc::new(Facet {
                normal,
                rhs: upper[k],
            }));
        }
        let words = words_for(facets.len());
        let count = 1usize << dim;
        let mut vertices = Vec::with_capacity(count * dim);
        let mut incidence = vec![0u64; count * words];
        for corner in 0..count {
            for k in 0..dim {
                let high = (corner >> k) & 1;
                vertices.push(if high == 1 { upper[k] } else { lower[k] });
                let facet = 2 * k + high;
                incidence[corner * words + facet / 64] |= 1 << (facet % 64);
            }
        }
        Self {
            extent: extent(&vertices, dim),
            dim,
            vertices,
            words,
            incidence,
            facets,
        }
    }

    pub fn num_vertices(&self) -> usize {
        self.incidence.len() / self.words.max(1)
    }

    pub fn vertex(&self, i: usize) -> &[f64] {
        &self.vertices[i * self.dim..(i + 1) * self.dim]
    }

    /// The constraints that may be facets (every true facet is among them).
    pub fn facets(&self) -> &[Arc<Facet>] {
        &self.facets
    }

    /// The mean of the vertices: a point of the polytope (inside if it is full-dimensional).
    pub fn centroid(&self) -> Vec<f64> {
        let n = self.num_vertices() as f64;
        let mut c = vec![0.0; self.dim];
        for i in 0..self.num_vertices() {
            for (ck, vk) in c.iter_mut().zip(self.vertex(i)) {
                *ck += vk / n;
            }
        }
        c
    }

    /// Approximate heap size, for memory statistics.
    pub fn bytes(&self) -> usize {
        8 * (self.vertices.len() + self.incidence.len())
            + self.facets.len() * (16 + 8 * (self.dim + 1))
    }

    /// `normal·z + offset` at every vertex.
    pub fn values(&self, normal: &[f64], offset: f64) -> Vec<f64> {
        if self.dim == 0 {
            return vec![offset];
        }
        self.vertices
            .chunks_exact(self.dim)
            .map(|z| offset + normal.iter().zip(z).map(|(a, b)| a * b).sum::<f64>())
            .collect()
    }

    /// The vertices as a `num_vertices × dim` matrix, for batched evaluation.
    pub fn vertex_matrix(&self) -> DMatrix<f64> {
        DMatrix::from_row_slice(self.num_vertices(), self.dim, &self.vertices)
    }

    /// Splits by the hyperplane `normal·z + offset = 0`.
    pub fn split(&self, normal: &[f64], offset: f64) -> Split {
        self.split_values(&self.values(normal, offset), normal, offset)
    }

    /// [`Polytope::split`] when the hyperplane's `values` at the vertices are known
    /// (computed in one batch for a whole layer).
    pub fn split_values(&self, values: &[f64], normal: &[f64], offset: f64) -> Split {
        match self.side(values, normal, offset) {
            Side::NonPositive => Split::NonPositive,
            Side::NonNegative => Split::NonNegative,
            Side::Straddles => self.cut(normal, offset, values, self.tolerance(normal, offset)),
        }
    }

    /// Which side of the hyperplane the polytope lies on, from the `values` of
    /// `normal·z + offset` at the vertices, without cutting.
    pub fn side(&self, values: &[f64], normal: &[f64], offset: f64) -> Side {
        let tol = self.tolerance(normal, offset);
        let any_neg = values.iter().any(|&v| v < -tol);
        let any_pos = values.iter().any(|&v| v > tol);
        match (any_neg, any_pos) {
            (true, true) => Side::Straddles,
            (false, true) => Side::NonNegative,
            // All within rounding of the hyperplane only if `normal` is ~0: `h` is ~0.
            (_, false) => Side::NonPositive,
        }
    }

    /// Below this `|h|` a vertex lies on the hyperplane: the rounding scale of `h`.
    fn tolerance(&self, normal: &[f64], offset: f64) -> f64 {
        let scale = offset.abs()
            + normal
                .iter()
                .zip(&self.extent)
                .map(|(a, e)| (a * e).abs())
                .sum::<f64>();
        ON_TOLERANCE * scale
    }

    /// The part with `normal·z + offset <= 0`, or `None` if it has no interior point (the
    /// polytope only touches the half-space, up to rounding).
    pub fn intersect(&self, normal: &[f64], offset: f64) -> Option<Polytope> {
        match self.split(normal, offset) {
            Split::NonPositive => Some(self.clone()),
            Split::NonNegative => None,
            Split::Both { neg, .. } => Some(*neg),
        }
    }

    fn cut(&self, normal: &[f64], offset: f64, values: &[f64], tol: f64) -> Split {
        let new_facet = self.facets.len();
        let words = words_for(new_facet + 1);
        let (neg, pos): (Vec<usize>, Vec<usize>) = {
            let neg = (0..values.len()).filter(|&i| values[i] < -tol).collect();
            let pos = (0..values.len()).filter(|&i| values[i] > tol).collect();
            (neg, pos)
        };
        let on: Vec<usize> = (0..values.len())
            .filter(|&i| values[i].abs() <= tol)
            .collect();
        let mut fresh = Points::new(self.dim, words);
        for (u, v) in self.crossing_edges(&neg, &pos) {
            let t = values[u] / (values[u] - values[v]);
            let (pu, pv) = (self.vertex(u), self.vertex(v));
            let point = pu.iter().zip(pv).map(|(a, b)| a + t * (b - a));
            fresh.push_common(point, self.row(u), self.row(v), new_facet);
        }
        let side = |keep: &[usize], normal: Vec<f64>, rhs: f64| {
            let mut points = Points::new(self.dim, words);
            for &i in keep {
                points.push(self.vertex(i).iter().copied(), self.row(i), None);
            }
            for &i in &on {
                points.push(self.vertex(i).iter().copied(), self.row(i), Some(new_facet));
            }
            points.extend(&fresh);
            let mut facets = self.facets.clone();
            facets.push(Arc::new(Facet { normal, rhs }));
            points.into_polytope(facets)
        };
        Split::Both {
            neg: Box::new(side(&neg, normal.to_vec(), -offset)),
            pos: Box::new(side(&pos, normal.iter().map(|a| -a).collect(), offset)),
        }
    }

    fn row(&self, i: usize) -> &[u64] {
        &self.incidence[i * self.words..(i + 1) * self.words]
    }

    /// The pairs (`u` in `neg`, `v` in `pos`) that span an edge; errs towards more pairs.
    ///
    /// Between two simple vertices (exactly `dim` tight facets) an edge is a shared set of
    /// `dim − 1` facets, so those pairs are matched by hashing each vertex's `dim` subsets
    /// of size `dim − 1`: linear in the number of vertices instead of quadratic. Pairs with
    /// a non-simple end (rare: vertices that lay on an earlier cut) are tested one by one.
    fn crossing_edges(&self, neg: &[usize], pos: &[usize]) -> Vec<(usize, usize)> {
        let counts: Vec<u32> = (0..self.num_vertices())
            .map(|i| self.row(i).iter().map(|w| w.count_ones()).sum())
            .collect();
        let simple = |i: usize| counts[i] as usize == self.dim;
        let table = KeyTable::new(
            pos.iter()
                .filter(|&&v| simple(v))
                .flat_map(|&v| bits(self.row(v)).map(move |f| (subset_hash(self.row(v), f), v))),
        );
        let mut edges = Vec::new();
        for &u in neg.iter().filter(|&&u| simple(u)) {
            let row = self.row(u);
            for f in bits(row) {
                for v in table.get(subset_hash(row, f)) {
                    let contains = row.iter().zip(self.row(v)).enumerate().all(|(w, (a, b))| {
                        let key = if w == f / 64 {
                            a & !(1 << (f % 64))
                        } else {
                            *a
                        };
                        key & !b == 0
                    });
                    if contains {
                        edges.push((u, v));
                    }
                }
            }
        }
        let mut common = vec![0u64; self.words];
        let non_simple = |side: &[usize]| -> Vec<usize> {
            side.iter().copied().filter(|&i| !simple(i)).collect()
        };
        let (odd_neg, odd_pos) = (non_simple(neg), non_simple(pos));
        let pairs = odd_neg
            .iter()
            .flat_map(|&u| pos.iter().map(move |&v| (u, v)))
            .chain(
                neg.iter()
                    .filter(|&&u| simple(u))
                    .flat_map(|&u| odd_pos.iter().map(move |&v| (u, v))),
            );
        for (u, v) in pairs {
            if self.adjacent(u, v, &counts, &mut common) {
                edges.push((u, v));
            }
        }
        edges
    }

    /// Whether `u` and `v` may span an edge; errs towards `true`.
    fn adjacent(&self, u: usize, v: usize, counts: &[u32], common: &mut [u64]) -> bool {
        let mut shared = 0;
        for ((c, a), b) in common.iter_mut().zip(self.row(u)).zip(self.row(v)) {
            *c = a & b;
            shared += c.count_ones() as usize;
        }
        if shared + 1 < self.dim {
            return false;
        }
        // A simple vertex's `dim` tight facets are independent, so any `dim − 1` of them
        // span a line: the count test is exact there.
        if counts[u] as usize == self.dim || counts[v] as usize == self.dim {
            return true;
        }
        let rows: Vec<&[f64]> = bits(common)
            .map(|f| self.facets[f].normal.as_slice())
            .collect();
        rank(&rows, self.dim) + 1 >= self.dim
    }
}

/// Points with incidence rows, collected while building a polytope.
struct Points {
    dim: usize,
    words: usize,
    coords: Vec<f64>,
    incidence: Vec<u64>,
}

impl Points {
    fn new(dim: usize, words: usize) -> Self {
        Self {
            dim,
            words,
            coords: Vec::new(),
            incidence: Vec::new(),
        }
    }

    /// Adds a point; `row` may be shorter than `words` (it is zero-extended).
    fn push(&mut self, point: impl Iterator<Item = f64>, row: &[u64], extra: Option<usize>) {
        self.coords.extend(point);
        let start = self.incidence.len();
        self.incidence.extend(row.iter().copied());
        self.incidence.resize(start + self.words, 0);
        if let Some(f) = extra {
            self.incidence[start + f / 64] |= 1 << (f % 64);
        }
    }

    /// Adds a point on the edge between two vertices: tight where both ends are, and at
    /// the cutting facet `extra`.
    fn push_common(
        &mut self,
        point: impl Iterator<Item = f64>,
        a: &[u64],
        b: &[u64],
        extra: usize,
    ) {
        self.coords.extend(point);
        let start = self.incidence.len();
        self.incidence.extend(a.iter().zip(b).map(|(x, y)| x & y));
        self.incidence.resize(start + self.words, 0);
        self.incidence[start + extra / 64] |= 1 << (extra % 64);
    }

    fn extend(&mut self, other: &Points) {
        self.coords.extend_from_slice(&other.coords);
        self.incidence.extend_from_slice(&other.incidence);
    }

    /// Keeps the constraints tight at `dim` or more points (no other can be a facet) and
    /// renumbers the incidence bits accordingly.
    fn into_polytope(self, facets: Vec<Arc<Facet>>) -> Polytope {
        let n = self.incidence.len() / self.words;
        let mut tight = vec![0usize; facets.len()];
        for i in 0..n {
            for f in bits(&self.incidence[i * self.words..(i + 1) * self.words]) {
                tight[f] += 1;
            }
        }
        let kept: Vec<usize> = (0..facets.len())
            .filter(|&f| tight[f] >= self.dim)
            .collect();
        if kept.len() == facets.len() {
            return Polytope {
                extent: extent(&self.coords, self.dim),
                dim: self.dim,
                vertices: self.coords,
                words: self.words,
                incidence: self.incidence,
                facets,
            };
        }
        let words = words_for(kept.len());
        let mut renumber = vec![usize::MAX; facets.len()];
        for (new, &f) in kept.iter().enumerate() {
            renumber[f] = new;
        }
        let mut incidence = vec![0u64; n * words];
        for i in 0..n {
            let old = &self.incidence[i * self.words..(i + 1) * self.words];
            let row = &mut incidence[i * words..(i + 1) * words];
            for new in bits(old).map(|f| renumber[f]).filter(|&f| f != usize::MAX) {
                row[new / 64] |= 1 << (new % 64);
            }
        }
        Polytope {
            extent: extent(&self.coords, self.dim),
            dim: self.dim,
            vertices: self.coords,
            words,
            incidence,
            facets: kept.iter().map(|&f| Arc::clone(&facets[f])).collect(),
        }
    }
}

/// An open-addressing multimap from facet-subset hashes to vertices, rebuilt per split.
struct KeyTable {
    mask: usize,
    /// `(hash, vertex + 1)`; vertex 0 marks an empty slot.
    slots: Vec<(u64, usize)>,
}

impl KeyTable {
    fn new(entries: impl Iterator<Item = (u64, usize)>) -> Self {
        let entries: Vec<(u64, usize)> = entries.collect();
        let size = (2 * entries.len()).next_power_of_two().max(4);
        let mut table = Self {
            mask: size - 1,
            slots: vec![(0, 0); size],
        };
        for (hash, v) in entries {
            let mut i = hash as usize & table.mask;
            while table.slots[i].1 != 0 {
                i = (i + 1) & table.mask;
            }
            table.slots[i] = (hash, v + 1);
        }
        table
    }

    /// The vertices stored under `hash`.
    fn get(&self, hash: u64) -> impl Iterator<Item = usize> + '_ {
        let mut i = hash as usize & self.mask;
        std::iter::from_fn(move || {
            loop {
                let (h, v) = self.slots[i];
                if v == 0 {
                    return None;
                }
                i = (i + 1) & self.mask;
                if h == hash {
                    return Some(v - 1);
                }
            }
        })
    }
}

/// A hash of the incidence row without facet `skip` (FxHash-style, splitmix finalizer).
fn subset_hash(row: &[u64], skip: usize) -> u64 {
    let h = row.iter().enumerate().fold(0u64, |h, (w, &word)| {
        let word = if w == skip / 64 {
            word & !(1 << (skip % 64))
        } else {
            word
        };
        (h.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95)
    });
    // Multiplication only mixes upwards; fold the high bits down for the table index.
    let h = (h ^ (h >> 31)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^ (h >> 32)
}

fn extent(coords: &[f64], dim: usize) -> Vec<f64> {
    let mut out = vec![0.0f64; dim];
    for z in coords.chunks_exact(dim.max(1)) {
        for (e, v) in out.iter_mut().zip(z) {
            *e = e.max(v.abs());
        }
    }
    out
}

fn words_for(facets: usize) -> usize {
    facets.div_ceil(64).max(1)
}

/// Indices of the set bits.
fn bits(row: &[u64]) -> impl Iterator<Item = usize> + '_ {
    row.iter().enumerate().flat_map(|(w, &word)| {
        let mut rest = word;
        std::iter::from_fn(move || {
            (rest != 0).then(|| {
                let b = rest.trailing_zeros() as usize;
                rest &= rest - 1;
                w * 64 + b
            })
        })
    })
}

/// Numerical rank of the rows (each of length `dim`), by Gaussian elimination with
/// partial pivoting on rows scaled to unit max-norm. Stops early once full.
fn rank(rows: &[&[f64]], dim: usize) -> usize {
    let mut m: Vec<Vec<f64>> = rows
        .iter()
        .map(|r| {
            let max = r.iter().fold(0.0f64, |a, x| a.max(x.abs()));
            r.iter()
                .map(|x| if max > 0.0 { x / max } else { 0.0 })
                .collect()
        })
        .collect();
    let mut rank = 0;
    for col in 0..dim {
        if rank == m.len() {
            break;
        }
        let pivot = (rank..m.len())
            .max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs()))
            .unwrap_or(rank);
        if m[pivot][col].abs() <= RANK_TOLERANCE {
            continue;
        }
        m.swap(rank, pivot);
        let (top, below) = m.split_at_mut(rank + 1);
        let p = &top[rank];
        for r in below.iter_mut() {
            let factor = r[col] / p[col];
            if factor != 0.0 {
                for (rk, pk) in r[col..].iter_mut().zip(&p[col..]) {
                    *rk -= factor * pk;
                }
            }
        }
        rank += 1;
    }
    rank
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted_vertices(p: &Polytope) -> Vec<Vec<f64>> {
        let mut v: Vec<Vec<f64>> = (0..p.num_vertices())
            .map(|i| p.vertex(i).to_vec())
            .collect();
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v
    }

    #[test]
    fn box_has_corners_and_facets() {
        let p = Polytope::from_box(&[0.0, -1.0, 2.0], &[1.0, 1.0, 3.0]);
        assert_eq!(p.num_vertices(), 8);
        assert_eq!(p.facets().len(), 6);
        for i in 0..8 {
            assert_eq!(p.row(i).iter().map(|w| w.count_ones()).sum::<u32>(), 3);
        }
    }

    #[test]
    fn split_square_through_two_corners() {
        // x0 - x1 = 0 passes exactly through the corners (0,0) and (1,1): degenerate.
        let p = Polytope::from_box(&[0.0, 0.0], &[1.0, 1.0]);
        let Split::Both { neg, pos } = p.split(&[1.0, -1.0], 0.0) else {
            panic!("expected a split")
        };
        let expected_neg = vec![vec![0.0, 0.0], vec![0.0, 1.0], vec![1.0, 1.0]];
        assert_eq!(sorted_vertices(&neg), expected_neg);
        assert_eq!(
            sorted_vertices(&pos),
            vec![vec![0.0, 0.0], vec![1.0, 0.0], vec![1.0, 1.0]]
        );
        // A triangle has three facets.
        assert_eq!(neg.facets().len(), 3);
    }

    #[test]
    fn split_cube_generic_and_through_a_non_simple_vertex() {
        let p = Polytope::from_box(&[-1.0; 3], &[1.0; 3]);
        // Plane z0 + z1 + z2 = 0 cuts six edges: a hexagonal section.
        let Split::Both { neg, pos } = p.split(&[1.0, 1.0, 1.0], 0.0) else {
            panic!("expected a split")
        };
        assert_eq!(neg.num_vertices(), 4 + 6);
        assert_eq!(pos.num_vertices(), 4 + 6);
        // Cut the negative part again through the non-simple situation: the plane z0 = z1
        // passes through two of the section's vertices and two cube corners.
        let Split::Both { neg: a, pos: b } = neg.split(&[1.0, -1.0, 0.0], 0.0) else {
            panic!("expected a split")
        };
        for part in [&a, &b] {
            for i in 0..part.num_vertices() {
                let v = part.vertex(i);
                assert!(v.iter().sum::<f64>() <= 1e-12);
            }
        }
        // Each part must be convex hulls covering the half: check sample points.
        let inside = |q: &Polytope, x: &[f64]| {
            q.facets()
                .iter()
                .all(|f| f.normal.iter().zip(x).map(|(a, b)| a * b).sum::<f64>() <= f.rhs + 1e-12)
        };
        for i in 0..=10 {
            for j in 0..=10 {
                for k in 0..=10 {
                    let x = [
                        i as f64 / 5.0 - 1.0,
                        j as f64 / 5.0 - 1.0,
                        k as f64 / 5.0 - 1.0,
                    ];
                    if x.iter().sum::<f64>() <= 0.0 {
                        assert!(inside(&a, &x) || inside(&b, &x), "{x:?} lost");
                    }
                }
            }
        }
    }

    #[test]
    fn rank_detects_dependence() {
        let a = [1.0, 0.0, 0.0];
        let b = [0.0, 2.0, 0.0];
        let c = [1.0, 1.0, 0.0];
        assert_eq!(rank(&[&a, &b, &c], 3), 2);
        assert_eq!(rank(&[&a, &b], 3), 2);
        assert_eq!(rank(&[&a, &a], 3), 1);
    }

    #[test]
    fn intersect_keeps_the_non_positive_side() {
        let p = Polytope::from_box(&[0.0, 0.0], &[1.0, 1.0]);
        let q = p.intersect(&[1.0, 1.0], -0.5).unwrap();
        assert_eq!(
            sorted_vertices(&q),
            vec![vec![0.0, 0.0], vec![0.0, 0.5], vec![0.5, 0.0]]
        );
        assert!(p.intersect(&[1.0, 1.0], 0.0).is_none());
        assert_eq!(p.intersect(&[1.0, 1.0], -2.0).unwrap().num_vertices(), 4);
    }

    /// Vertices of `{z : a·z <= b for all (a, b)}` by brute force: every `dim`-subset of
    /// constraints with a unique solution that satisfies all constraints.
    fn brute_force_vertices(cons: &[(Vec<f64>, f64)], dim: usize) -> Vec<Vec<f64>> {
        use nalgebra::{DMatrix, DVector};
        let mut out: Vec<Vec<f64>> = Vec::new();
        let mut pick = (0..dim).collect::<Vec<usize>>();
        loop {
            let a = DMatrix::from_fn(dim, dim, |r, c| cons[pick[r]].0[c]);
            let b = DVector::from_fn(dim, |r, _| cons[pick[r]].1);
            if a.determinant().abs() > 1e-9
                && let Some(x) = a.lu().solve(&b)
            {
                let x: Vec<f64> = x.iter().copied().collect();
                let feasible = cons
                    .iter()
                    .all(|(n, r)| n.iter().zip(&x).map(|(p, q)| p * q).sum::<f64>() <= r + 1e-9);
                let known = out.iter().any(|v| dist(v, &x) < 1e-9);
                if feasible && !known {
                    out.push(x);
                }
            }
            // Next combination in lexicographic order.
            let mut i = dim;
            loop {
                if i == 0 {
                    return out;
                }
                i -= 1;
                if pick[i] < cons.len() - dim + i {
                    pick[i] += 1;
                    for j in i + 1..dim {
                        pick[j] = pick[j - 1] + 1;
                    }
                    break;
                }
            }
        }
    }

    fn dist(a: &[f64], b: &[f64]) -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max)
    }

    /// Random cut sequences, many of them degenerate (integer hyperplanes through corners
    /// and earlier cut points of an integer box; hyperplanes through existing vertices):
    /// the vertex set must equal a brute-force enumeration of the accumulated constraints.
    #[test]
    fn vertices_match_brute_force_enumeration_under_degenerate_cuts() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for trial in 0..800 {
            let dim = 2 + trial % 4;
            let mut p = Polytope::from_box(&vec![-1.0; dim], &vec![1.0; dim]);
            let mut cons: Vec<(Vec<f64>, f64)> = p
                .facets()
                .iter()
                .map(|f| (f.normal.clone(), f.rhs))
                .collect();
            for _ in 0..10 {
                let (normal, offset): (Vec<f64>, f64) = match rng.random_range(0..3) {
                    0 => {
                        let n: Vec<f64> =
                            (0..dim).map(|_| rng.random_range(-1..=1) as f64).collect();
                        (n, rng.random_range(-1..=1) as f64)
                    }
                    1 => {
                        let n: Vec<f64> = (0..dim).map(|_| rng.random_range(-1.0..1.0)).collect();
                        let v = p.vertex(rng.random_range(0..p.num_vertices())).to_vec();
                        let off = -n.iter().zip(&v).map(|(a, b)| a * b).sum::<f64>();
                        (n, off)
                    }
                    _ => {
                        let n: Vec<f64> = (0..dim).map(|_| rng.random_range(-1.0..1.0)).collect();
                        let c = p.centroid();
                        let off = -n.iter().zip(&c).map(|(a, b)| a * b).sum::<f64>();
                        (n, off)
                    }
                };
                if let Split::Both { neg, pos } = p.split(&normal, offset) {
                    if rng.random_bool(0.5) {
                        p = *neg;
                        cons.push((normal, -offset));
                    } else {
                        p = *pos;
                        cons.push((normal.iter().map(|a| -a).collect(), offset));
                    }
                }
            }
            let expected = brute_force_vertices(&cons, dim);
            let ours: Vec<Vec<f64>> = (0..p.num_vertices())
                .map(|i| p.vertex(i).to_vec())
                .collect();
            for v in &expected {
                assert!(
                    ours.iter().any(|o| dist(o, v) < 1e-9),
                    "trial {trial}: vertex {v:?} missing from {ours:?}"
                );
            }
            assert_eq!(
                ours.len(),
                expected.len(),
                "trial {trial}: redundant points"
            );
            for o in &ours {
                assert!(
                    expected.iter().any(|v| dist(o, v) < 1e-9),
                    "trial {trial}: {o:?} is not a vertex of {expected:?}"
                );
            }
        }
    }
}
