//! Helpers shared by the integration tests: random networks and properties, data paths.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::PathBuf;

use nalgebra::{DMatrix, DVector};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use saferl::nn::{Layer, ReluNet};
use saferl::spec::{HalfSpace, InputSet, Property, UnsafeSet};

/// A file of the repository's data directory (`data/` in the crate root). The data is part
/// of the repository: a missing file is an error, never a reason to skip.
pub fn repo_data(rel: &str) -> PathBuf {
    let path = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/data")).join(rel);
    assert!(path.exists(), "{} is missing", path.display());
    path
}

pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// A random fully connected ReLU network with Gaussian-ish weights.
pub fn random_net(rng: &mut ChaCha8Rng, sizes: &[usize]) -> ReluNet {
    let layers = sizes
        .windows(2)
        .map(|w| Layer {
            weights: DMatrix::from_fn(w[1], w[0], |_, _| rng.random_range(-1.0..1.0)),
            bias: DVector::from_fn(w[1], |_, _| rng.random_range(-0.5..0.5)),
        })
        .collect();
    ReluNet::new(layers).unwrap()
}

/// A very degenerate network: weights and biases in {-1, 0, 1}, so hyperplanes pass
/// through box corners, coincide and meet in non-simple vertices.
pub fn integer_net(rng: &mut ChaCha8Rng, sizes: &[usize]) -> ReluNet {
    let layers = sizes
        .windows(2)
        .map(|w| Layer {
            weights: DMatrix::from_fn(w[1], w[0], |_, _| rng.random_range(-1..=1) as f64),
            bias: DVector::from_fn(w[1], |_, _| rng.random_range(-1..=1) as f64),
        })
        .collect();
    ReluNet::new(layers).unwrap()
}

/// Random architecture: 2–4 inputs, 2–3 hidden layers of 5–10, 2 outputs.
pub fn random_sizes(rng: &mut ChaCha8Rng) -> Vec<usize> {
    let mut sizes = vec![rng.random_range(2..=4)];
    for _ in 0..rng.random_range(2..=3) {
        sizes.push(rng.random_range(5..=10));
    }
    sizes.push(2);
    sizes
}

pub fn unit_box(dim: usize) -> InputSet {
    InputSet {
        lower: vec![-1.0; dim],
        upper: vec![1.0; dim],
        constraints: vec![],
    }
}

/// Uniform samples of a box.
pub fn samples(rng: &mut ChaCha8Rng, input: &InputSet, n: usize) -> Vec<Vec<f64>> {
    (0..n)
        .map(|_| {
            input
                .lower
                .iter()
                .zip(&input.upper)
                .map(|(&l, &u)| if l < u { rng.random_range(l..=u) } else { l })
                .collect()
        })
        .collect()
}

/// A property whose unsafe set is `y0 >= t` or `y1 − y0 >= s`, with thresholds at the
/// given quantiles of sampled outputs (quantiles near or above 1 give mostly safe ones).
pub fn quantile_property(net: &ReluNet, input: InputSet, rng: &mut ChaCha8Rng, q: f64) -> Property {
    let outputs: Vec<Vec<f64>> = samples(rng, &input, 400)
        .iter()
        .map(|x| net.forward(x))
        .collect();
    let threshold = |f: &dyn Fn(&[f64]) -> f64| {
        let mut v: Vec<f64> = outputs.iter().map(|y| f(y)).collect();
        v.sort_by(f64::total_cmp);
        let (lo, hi) = (v[0], v[v.len() - 1]);
        lo + q * (hi - lo)
    };
    let t0 = threshold(&|y| y[0]);
    let t1 = threshold(&|y| y[1] - y[0]);
    Property {
        name: format!("q{q}"),
        input,
        unsafe_set: UnsafeSet {
            disjuncts: vec![
                vec![HalfSpace {
                    coeffs: vec![-1.0, 0.0],
                    rhs: -t0,
                }],
                vec![HalfSpace {
                    coeffs: vec![1.0, -1.0],
                    rhs: -t1,
                }],
            ],
        },
    }
}
