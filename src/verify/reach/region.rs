//! From a final set (one linear piece of the network) to an unsafe input region.
//!
//! On a final set the network is the affine map `y = Mᵀz + b`, so the inputs whose outputs
//! lie in an unsafe polytope `A·y <= c` form the polytope cut by `(A·Mᵀ)·z <= c − A·b`.
//! Each half-space is widened by the margin so that rounding errs towards unsafe; the
//! region's centroid (then its vertices) is checked with the real network to confirm a
//! counterexample before one is reported.

use nalgebra::{DMatrix, DVector};

use super::domain::Domain;
use super::polytope::Polytope;
use super::{Counterexample, UnsafeRegion, falsify};
use crate::nn::{Layer, ReluNet};
use crate::spec::Property;

/// Builds unsafe regions for one property.
pub struct Finisher<'a> {
    net: &'a ReluNet,
    property: &'a Property,
    domain: &'a Domain,
    tolerance: f64,
}

/// An unsafe region, with a confirmed counterexample inside it if one was found.
pub struct Found {
    pub region: UnsafeRegion,
    pub counterexample: Option<Counterexample>,
}

/// The margin added to the right-hand side `rhs` of an unsafe half-space.
pub fn margin(tolerance: f64, rhs: f64) -> f64 {
    tolerance * (1.0 + rhs.abs())
}

impl<'a> Finisher<'a> {
    pub fn new(
        net: &'a ReluNet,
        property: &'a Property,
        domain: &'a Domain,
        tolerance: f64,
    ) -> Self {
        Self {
            net,
            property,
            domain,
            tolerance,
        }
    }

    /// The part of `poly` whose output (by the map `mt`, `bias`) lies in unsafe disjunct `k`,
    /// or `None` if there is none beyond the margin.
    pub fn region(
        &self,
        poly: &Polytope,
        mt: &DMatrix<f64>,
        bias: &DVector<f64>,
        k: usize,
    ) -> Option<Found> {
        let mut part = std::borrow::Cow::Borrowed(poly);
        for h in &self.property.unsafe_set.disjuncts[k] {
            let a = DVector::from_column_slice(&h.coeffs);
            let normal = mt * &a;
            let offset = a.dot(bias) - h.rhs - margin(self.tolerance, h.rhs);
            part = std::borrow::Cow::Owned(part.intersect(normal.as_slice(), offset)?);
        }
        let region = self.describe(&part, mt, bias, k);
        let counterexample = self.confirm(&part);
        Some(Found {
            region,
            counterexample,
        })
    }

    fn describe(
        &self,
        poly: &Polytope,
        mt: &DMatrix<f64>,
        bias: &DVector<f64>,
        k: usize,
    ) -> UnsafeRegion {
        let outputs = mt.ncols();
        let inputs = self.domain.base.len();
        let mut weights = DMatrix::zeros(outputs, inputs);
        for (r, &i) in self.domain.free.iter().enumerate() {
            for o in 0..outputs {
                weights[(o, i)] = mt[(r, o)];
            }
        }
        let output_map = Layer {
            weights,
            bias: bias.clone(),
        };
        let vertices: Vec<Vec<f64>> = (0..poly.num_vertices())
            .map(|i| self.domain.embed(poly.vertex(i)))
            .collect();
        let output_vertices = vertices
            .iter()
            .map(|x| {
                output_map
                    .affine(&DVector::from_column_slice(x))
                    .as_slice()
                    .to_vec()
            })
            .collect();
        let mut constraints: Vec<_> = poly
            .facets()
            .iter()
            .map(|f| self.domain.embed_half_space(&f.normal, f.rhs))
            .collect();
        constraints.extend(self.domain.fixed_half_spaces());
        UnsafeRegion {
            vertices,
            constraints,
            output_vertices,
            output_map,
            disjunct: k,
        }
    }

    /// Evaluates the network at the centroid of `poly`: one forward pass, far cheaper than
    /// a set's exact processing. Returns how deep the output is in the unsafe set (see
    /// [`falsify::depth`]; used to explore the more promising child first) and the
    /// centroid if it is a counterexample.
    pub fn probe(&self, poly: &Polytope) -> (f64, Option<Counterexample>) {
        let input = self.clamp(self.domain.embed(&poly.centroid()));
        let output = self.net.forward(&input);
        let depth = falsify::depth(self.property, &output);
        let cex = self
            .property
            .violated_by(&input, &output)
            .then_some(Counterexample { input, output });
        (depth, cex)
    }

    fn check(&self, z: Vec<f64>) -> Option<Counterexample> {
        let input = self.clamp(self.domain.embed(&z));
        let output = self.net.forward(&input);
        self.property
            .violated_by(&input, &output)
            .then_some(Counterexample { input, output })
    }

    /// A point of the region that the network really maps into the unsafe set.
    fn confirm(&self, poly: &Polytope) -> Option<Counterexample> {
        let centroid = poly.centroid();
        let candidates =
            std::iter::once(centroid.clone()).chain((0..poly.num_vertices()).flat_map(|i| {
                let v = poly.vertex(i).to_vec();
                let mid = v
                    .iter()
                    .zip(&centroid)
                    .map(|(a, b)| 0.5 * (a + b))
                    .collect();
                [mid, v]
            }));
        candidates.into_iter().find_map(|z| self.check(z))
    }

    /// Rounding can put a vertex a hair outside the input box; pull it back in.
    fn clamp(&self, mut x: Vec<f64>) -> Vec<f64> {
        let input = &self.property.input;
        for (v, (lo, hi)) in x.iter_mut().zip(input.lower.iter().zip(&input.upper)) {
            *v = v.clamp(*lo, *hi);
        }
        x
    }
}
