//! Properties over a policy's actions restated over its pre-tanh network outputs.
//!
//! A run's properties bound actions `a = offset + scale·tanh(y)`; the verifiers and the
//! patch work on the piecewise-linear network `y`, so each property is restated over `y`
//! with the exact monotone mapping of [`ActionScaling::pre_tanh`].

use super::{ActionScaling, NotMonotoneMappable};
use crate::spec::{Constraint, Property, UnsafeSet};

/// `property` over a policy's actions, restated over its pre-tanh network outputs.
///
/// Exact for unsafe sets made of one-action bounds (the common case: "side thrust ≥ 0
/// and gimbal ≥ 0"); a disjunct that no output can reach is dropped.
pub fn pre_tanh_property(
    property: &Property,
    scaling: &ActionScaling,
) -> Result<Property, NotMonotoneMappable> {
    let mut disjuncts = Vec::new();
    for conjunction in &property.unsafe_set.disjuncts {
        let mut mapped = Vec::new();
        for (index, half_space) in conjunction.iter().enumerate() {
            if let Some(h) = scaling.pre_tanh(half_space, index)? {
                mapped.push(h);
            }
        }
        let impossible = mapped
            .iter()
            .any(|h| h.coeffs.iter().all(|&c| c == 0.0) && h.rhs < 0.0);
        if !impossible {
            disjuncts.push(mapped);
        }
    }
    Ok(Property {
        name: property.name.clone(),
        input: property.input.clone(),
        unsafe_set: UnsafeSet { disjuncts },
    })
}

/// A property whose unsafe set has no exact counterpart on the pre-tanh outputs.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("property `{property}`: {source}")]
pub struct MappingError {
    pub property: String,
    pub source: NotMonotoneMappable,
}

/// The properties (over actions) as patch constraints over the pre-tanh outputs.
pub fn actor_constraints(
    properties: &[Property],
    scaling: &ActionScaling,
) -> Result<Vec<Constraint>, MappingError> {
    properties
        .iter()
        .map(|p| {
            pre_tanh_property(p, scaling)
                .map(|mapped| Constraint::from_property(&mapped))
                .map_err(|source| MappingError {
                    property: p.name.clone(),
                    source,
                })
        })
        .collect()
}
