//! Safety properties: "for every input in this polytope, the output must avoid this set".
//!
//! One representation serves the whole project: the trainer's violation rate, the
//! verifier and the repair loops all read [`Property`]. It is parsed from the TOML run
//! configs (see [`linear`]) and from VNNLIB files.

pub mod constraint;
pub mod linear;
pub mod vnnlib;

pub use constraint::{Constraint, JointHalfSpace};

/// The half-space `coeffs · v <= rhs` over a vector `v` (inputs or outputs).
#[derive(Debug, Clone, PartialEq)]
pub struct HalfSpace {
    pub coeffs: Vec<f64>,
    pub rhs: f64,
}

impl HalfSpace {
    /// How far `v` is inside the half-space: `rhs - coeffs·v` (≥ 0 inside).
    pub fn slack(&self, v: &[f64]) -> f64 {
        self.rhs - self.coeffs.iter().zip(v).map(|(a, x)| a * x).sum::<f64>()
    }

    pub fn contains(&self, v: &[f64]) -> bool {
        self.slack(v) >= 0.0
    }
}

/// The set of inputs a property talks about: a box, optionally cut by extra half-spaces.
#[derive(Debug, Clone, PartialEq)]
pub struct InputSet {
    pub lower: Vec<f64>,
    pub upper: Vec<f64>,
    pub constraints: Vec<HalfSpace>,
}

impl InputSet {
    pub fn dim(&self) -> usize {
        self.lower.len()
    }

    /// The smallest box holding every point (`None` without points): the domain a
    /// data-driven network is verified on.
    pub fn bounding_box<'a>(points: impl IntoIterator<Item = &'a [f64]>) -> Option<Self> {
        let mut points = points.into_iter();
        let first = points.next()?;
        let (mut lower, mut upper) = (first.to_vec(), first.to_vec());
        for x in points {
            for (i, &v) in x.iter().enumerate() {
                lower[i] = lower[i].min(v);
                upper[i] = upper[i].max(v);
            }
        }
        Some(Self {
            lower,
            upper,
            constraints: Vec::new(),
        })
    }

    pub fn contains(&self, x: &[f64]) -> bool {
        x.len() == self.dim()
            && x.iter()
                .zip(self.lower.iter().zip(&self.upper))
                .all(|(v, (lo, hi))| lo <= v && v <= hi)
            && self.constraints.iter().all(|h| h.contains(x))
    }
}

/// The unsafe outputs: a union of polytopes, each a conjunction of half-spaces.
#[derive(Debug, Clone, PartialEq)]
pub struct UnsafeSet {
    pub disjuncts: Vec<Vec<HalfSpace>>,
}

impl UnsafeSet {
    pub fn contains(&self, y: &[f64]) -> bool {
        self.disjuncts
            .iter()
            .any(|conj| conj.iter().all(|h| h.contains(y)))
    }
}

/// A named safety property: no input in `input` may produce an output in `unsafe_set`.
#[derive(Debug, Clone, PartialEq)]
pub struct Property {
    pub name: String,
    pub input: InputSet,
    pub unsafe_set: UnsafeSet,
}

impl Property {
    /// True when the pair (input, output) is a violation of this property.
    pub fn violated_by(&self, input: &[f64], output: &[f64]) -> bool {
        self.input.contains(input) && self.unsafe_set.contains(output)
    }
}
