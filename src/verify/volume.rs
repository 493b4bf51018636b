//! How much of a property's input box is unsafe, estimated by uniform sampling over the
//! unsafe regions that exact reachability found.

use super::reach::UnsafeRegion;
use crate::spec::Property;
use rand::{Rng, SeedableRng};
use serde::Serialize;

/// Share of the input box that is unsafe, estimated by uniform sampling.
#[derive(Debug, Clone, Serialize)]
pub struct VolumeEstimate {
    pub fraction: f64,
    /// Half-width of the 95 % (Wilson) confidence interval.
    pub ci95: f64,
    pub samples: usize,
}

/// Estimates the share of `property`'s input set covered by `regions` from `samples`
/// uniform points of its box.
pub fn unsafe_volume(
    property: &Property,
    regions: &[UnsafeRegion],
    samples: usize,
) -> VolumeEstimate {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let input = &property.input;
    let boxes: Vec<(Vec<f64>, Vec<f64>)> = regions.iter().map(bounding_box).collect();
    let mut hits = 0usize;
    for _ in 0..samples {
        let x: Vec<f64> = input
            .lower
            .iter()
            .zip(&input.upper)
            .map(|(&l, &u)| if l < u { rng.random_range(l..=u) } else { l })
            .collect();
        let inside = regions.iter().zip(&boxes).any(|(region, (lo, hi))| {
            x.iter()
                .zip(lo.iter().zip(hi))
                .all(|(v, (l, h))| l <= v && v <= h)
                && region.contains(&x, 1e-12)
        });
        hits += usize::from(inside);
    }
    let n = samples.max(1) as f64;
    let p = hits as f64 / n;
    // Wilson score interval at 95 %.
    let z = 1.96f64;
    let denominator = 1.0 + z * z / n;
    let center = (p + z * z / (2.0 * n)) / denominator;
    let half = z * ((p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt()) / denominator;
    VolumeEstimate {
        fraction: p,
        ci95: half.max((center - p).abs()),
        samples,
    }
}

fn bounding_box(region: &UnsafeRegion) -> (Vec<f64>, Vec<f64>) {
    let dim = region.vertices.first().map_or(0, Vec::len);
    let mut lo = vec![f64::INFINITY; dim];
    let mut hi = vec![f64::NEG_INFINITY; dim];
    for v in &region.vertices {
        for i in 0..dim {
            lo[i] = lo[i].min(v[i]);
            hi[i] = hi[i].max(v[i]);
        }
    }
    (lo, hi)
}
