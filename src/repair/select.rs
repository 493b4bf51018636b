//! Which unsafe vertices a repair pass starts episodes from.
//!
//! The paper's code kept the first vertex of each unsafe region only. Here every vertex
//! of every region is used when they fit under the cap; otherwise the regions are taken
//! round-robin (vertex 1 of every region, then vertex 2 of every region, …), so a cap
//! covers every region before it spends a second point on any. The cap is hard (a pass
//! costs one short episode per point): when there are more regions than points, each
//! pass starts where the previous one stopped, so successive passes cover them all.

use crate::spec::InputSet;
use crate::verify::reach::UnsafeRegion;
use rand::Rng;
use rand::seq::SliceRandom;

/// At most `cap` distinct vertices of `regions`, clamped into `input`'s box (vertices can
/// lie a rounding error outside it): one of every region, then more round-robin. With
/// more regions than `cap`, pass number `pass` takes the regions from `pass · cap` on
/// (cyclically), so consecutive passes take consecutive regions.
pub fn select_vertices(
    regions: &[UnsafeRegion],
    input: &InputSet,
    cap: usize,
    pass: u64,
) -> Vec<Vec<f64>> {
    let mut chosen: Vec<Vec<f64>> = Vec::new();
    if regions.is_empty() {
        return chosen;
    }
    let first = (pass as usize).wrapping_mul(cap) % regions.len();
    let rotated: Vec<&UnsafeRegion> = regions[first..].iter().chain(&regions[..first]).collect();
    let deepest = regions.iter().map(|r| r.vertices.len()).max().unwrap_or(0);
    'rounds: for k in 0..deepest {
        for region in &rotated {
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
        let three = select_vertices(&regions, &unit_box(), 3, 0);
        assert_eq!(three, vec![vec![0.0, 0.0], vec![0.5, 0.5], vec![0.9, 0.9]]);
        // A cap below the number of regions is hard, and consecutive passes take
        // consecutive regions, so they cover every region.
        let passes: Vec<Vec<Vec<f64>>> = (0..3)
            .map(|pass| select_vertices(&regions, &unit_box(), 1, pass))
            .collect();
        assert_eq!(
            passes,
            [[three[0].clone()], [three[1].clone()], [three[2].clone()]]
        );
        let two = select_vertices(&regions, &unit_box(), 2, 1);
        assert_eq!(two, vec![vec![0.9, 0.9], vec![0.0, 0.0]]);
        let five = select_vertices(&regions, &unit_box(), 5, 0);
        assert_eq!(five[3..], [vec![0.1, 0.0], vec![0.6, 0.5]]);
        // Under the cap: every vertex, once.
        assert_eq!(select_vertices(&regions, &unit_box(), 100, 0).len(), 6);
    }

    #[test]
    fn shared_vertices_are_taken_once_and_clamped_into_the_box() {
        let regions = vec![
            region(vec![vec![1.0 + 1e-12, 0.5], vec![0.0, 0.0]]),
            region(vec![vec![1.0, 0.5], vec![0.0, -1e-13]]),
        ];
        let chosen = select_vertices(&regions, &unit_box(), 10, 0);
        assert_eq!(chosen, vec![vec![1.0, 0.5], vec![0.0, 0.0]]);
    }
}
