//! `saferl verify`: the unsafe regions of a search, in the JSON form `--regions` writes.

use crate::verify::reach::UnsafeRegion;

/// The unsafe regions as JSON: vertices, half-space form and output image.
pub fn regions_json(regions: &[UnsafeRegion]) -> serde_json::Value {
    serde_json::Value::Array(
        regions
            .iter()
            .map(|r| {
                serde_json::json!({
                    "vertices": r.vertices,
                    "constraints": r.constraints.iter()
                        .map(|h| serde_json::json!({"coeffs": h.coeffs, "rhs": h.rhs}))
                        .collect::<Vec<_>>(),
                    "output_vertices": r.output_vertices,
                    "unsafe_disjunct": r.disjunct,
                })
            })
            .collect(),
    )
}
