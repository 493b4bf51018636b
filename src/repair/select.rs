//! Which unsafe vertices a repair pass starts episodes from.
//!
//! The paper's code kept the first vertex of each unsafe region only. Here every vertex
//! of every region is used when they fit under the cap; otherwise the regions are taken
//! round-robin (vertex 1 of every region, then vertex 2 of every region, …), so a cap
//! still covers every region before it spends a second point on any, and never leaves a
//! region out.

use crate::reach::UnsafeRegion;
use crate::spec::InputSet;
use rand::Rng;
use rand::seq::SliceRandom;

/// Distinct vertices of `regions`, clamped into `input`'s box (vertices can lie a rounding
/// error outside it): one of every region, then more round-robin up to `cap` in all.
/// Every region gets a vertex even when there are more regions than `cap`.
pub fn select_vertices(regions: &[UnsafeRegion], input: &InputSet, cap: usize) -> Vec<Vec<f64>> {
    let cap = cap.max(regions.len());
    let mut chosen: Vec<Vec<f64>> = Vec::new();
    let deepest = regions.iter().map(|r| r.vertices.len()).max().unwrap_or(0);
    'rounds: for k in 0..deepest {
        for region in regions {
            if chosen.len() >= cap {
                break 'rounds;
            }
            if let Some(vertex) = region.vertices.get(k) {
                let vertex = clamp(vertex, input);
                if !chosen.contains(&vertex) {
                    chosen.push(vertex);
                }
            }
        }
    }
    chosen
}

/// The start states of one pass: each property's selection, all shuffled together.
pub fn start_states(
    selections: impl IntoIterator<Item = Vec<Vec<f64>>>,
    rng: &mut impl Rng,
) -> Vec<Vec<f64>> {
    let mut states: Vec<Vec<f64>> = selections.into_iter().flatten().collect();
    states.shuffle(rng);
    states
}

fn clamp(x: &[f64], input: &InputSet) -> Vec<f64> {
    x.iter()
        .zip(input.lower.iter().zip(&input.upper))
        .map(|(v, (lo, hi))| v.clamp(*lo, *hi))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::Layer;
    use nalgebra::{DMatrix, DVector};

    fn region(vertices: Vec<Vec<f64>>) -> UnsafeRegion {
        UnsafeRegion {
            output_vertices: vertices.clone(),
            vertices,
            constraints: Vec::new(),
            output_map: Layer {
                weights: DMatrix::zeros(1, 2),
                bias: DVector::zeros(1),
            },
            disjunct: 0,
        }
    }

    fn unit_box() -> InputSet {
        InputSet {
            lower: vec![0.0, 0.0],
            upper: vec![1.0, 1.0],
            constraints: Vec::new(),
        }
    }

    #[test]
    fn a_cap_covers_every_region_before_repeating_one() {
        let regions = vec![
            region(vec![vec![0.0, 0.0], vec![0.1, 0.0], vec![0.2, 0.0]]),
            region(vec![vec![0.5, 0.5], vec![0.6, 0.5]]),
            region(vec![vec![0.9, 0.9]]),
        ];
        let three = select_vertices(&regions, &unit_box(), 3);
        assert_eq!(three, vec![vec![0.0, 0.0], vec![0.5, 0.5], vec![0.9, 0.9]]);
        // A cap below the number of regions still gives every region a vertex.
        assert_eq!(select_vertices(&regions, &unit_box(), 1), three);
        let five = select_vertices(&regions, &unit_box(), 5);
        assert_eq!(five[3..], [vec![0.1, 0.0], vec![0.6, 0.5]]);
        // Under the cap: every vertex, once.
        assert_eq!(select_vertices(&regions, &unit_box(), 100).len(), 6);
    }

    #[test]
    fn shared_vertices_are_taken_once_and_clamped_into_the_box() {
        let regions = vec![
            region(vec![vec![1.0 + 1e-12, 0.5], vec![0.0, 0.0]]),
            region(vec![vec![1.0, 0.5], vec![0.0, -1e-13]]),
        ];
        let chosen = select_vertices(&regions, &unit_box(), 10);
        assert_eq!(chosen, vec![vec![1.0, 0.5], vec![0.0, 0.0]]);
    }
}
