//! Soundness, exactness and completeness of the verifier on small random networks,
//! including very degenerate ones (integer weights: hyperplanes through box corners,
//! coinciding hyperplanes, non-simple vertices).

mod reach_common;

use rand::Rng;
use saferl::nn::ReluNet;
use saferl::spec::{HalfSpace, Property, UnsafeSet};
use saferl::verify::reach::{self, Mode, Options, ReachResult, UnsafeRegion, Verdict, falsify};

use reach_common::*;

/// Thresholds near and beyond the sampled maximum: safe and unsafe verdicts both occur.
const MOSTLY_SAFE: [f64; 4] = [0.9, 1.02, 1.1, 1.3];
/// Thresholds inside the sampled range: many unsafe regions.
const MOSTLY_UNSAFE: [f64; 4] = [0.3, 0.6, 0.9, 1.0];

fn run(net: &ReluNet, property: &Property, mode: Mode, filter: bool) -> ReachResult {
    let options = Options {
        mode,
        filter,
        attack_samples: 0, // test the exact search itself
        threads: 2,
        ..Options::default()
    };
    reach::verify(net, property, &options).unwrap()
}

/// A random network and a property with thresholds at one of the `quantiles` of sampled
/// outputs; every fourth one pins an input to a value, every fifth one cuts the box.
fn instance(seed: u64, degenerate: bool, quantiles: [f64; 4]) -> (ReluNet, Property) {
    let mut rng = rng(seed);
    let sizes = random_sizes(&mut rng);
    let net = if degenerate {
        integer_net(&mut rng, &sizes)
    } else {
        random_net(&mut rng, &sizes)
    };
    let mut input = unit_box(sizes[0]);
    if seed % 4 == 3 {
        input.lower[0] = 0.25;
        input.upper[0] = 0.25;
    }
    if seed % 5 == 4 {
        // A slanted cut through the box: the input set is a general polytope.
        let coeffs: Vec<f64> = (0..sizes[0]).map(|_| rng.random_range(-1.0..1.0)).collect();
        input.constraints.push(HalfSpace { coeffs, rhs: 0.2 });
    }
    let q = quantiles[(seed / 4 % 4) as usize];
    let property = quantile_property(&net, input, &mut rng, q);
    (net, property)
}

#[test]
fn safe_verdicts_survive_falsification() {
    let (mut safe, mut unsafe_) = (0, 0);
    for seed in 0..48 {
        let (net, property) = instance(seed, seed % 3 == 2, MOSTLY_SAFE);
        let with = run(&net, &property, Mode::FirstCounterexample, true);
        let without = run(&net, &property, Mode::FirstCounterexample, false);
        assert_eq!(
            with.verdict, without.verdict,
            "seed {seed}: the filter changed the verdict"
        );
        match with.verdict {
            Verdict::Safe => {
                safe += 1;
                let attack = falsify::attack(&net, &property, 20_000, seed);
                assert!(
                    attack.is_none(),
                    "seed {seed}: 'safe' but the attack found {attack:?}"
                );
            }
            Verdict::Unsafe => {
                unsafe_ += 1;
                let cex = with.counterexample.unwrap();
                assert_eq!(net.forward(&cex.input), cex.output);
                assert!(property.violated_by(&cex.input, &cex.output), "seed {seed}");
            }
            Verdict::Unknown => panic!("seed {seed}: unknown ({:?})", with.note),
        }
    }
    assert!(
        safe >= 12 && unsafe_ >= 12,
        "too one-sided: {safe} safe, {unsafe_} unsafe"
    );
}

/// Random points of a region: convex combinations of its vertices.
fn points_in(region: &UnsafeRegion, rng: &mut impl Rng, n: usize) -> Vec<Vec<f64>> {
    (0..n)
        .map(|_| {
            let w: Vec<f64> = region
                .vertices
                .iter()
                .map(|_| -rng.random::<f64>().max(1e-300).ln())
                .collect();
            let total: f64 = w.iter().sum();
            let mut x = vec![0.0; region.vertices[0].len()];
            for (v, wi) in region.vertices.iter().zip(&w) {
                for (xk, vk) in x.iter_mut().zip(v) {
                    *xk += wi / total * vk;
                }
            }
            x
        })
        .collect()
}

fn map_error(region: &UnsafeRegion, x: &[f64], y: &[f64]) -> f64 {
    let mapped = region
        .output_map
        .affine(&nalgebra::DVector::from_column_slice(x));
    mapped
        .iter()
        .zip(y)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max)
}

#[test]
fn regions_are_exact_and_complete() {
    let mut regions_seen = 0;
    for seed in 100..140 {
        let (net, property) = instance(seed, seed % 2 == 0, MOSTLY_UNSAFE);
        let result = run(&net, &property, Mode::AllRegions, true);
        assert_ne!(
            result.verdict,
            Verdict::Unknown,
            "seed {seed}: {:?}",
            result.note
        );
        assert_eq!(result.verdict == Verdict::Safe, result.regions.is_empty());
        let mut rng = rng(seed);
        // Exact: every point of a region is unsafe for the region's disjunct.
        for region in &result.regions {
            regions_seen += 1;
            for x in points_in(region, &mut rng, 20) {
                let y = net.forward(&x);
                assert!(
                    map_error(region, &x, &y) < 1e-9,
                    "seed {seed}: map differs at {x:?}"
                );
                for h in &property.unsafe_set.disjuncts[region.disjunct] {
                    assert!(
                        h.slack(&y) >= -1e-9 * (1.0 + h.rhs.abs()),
                        "seed {seed}: {x:?} safe"
                    );
                }
            }
        }
        // Complete: every unsafe point found by sampling lies in a region.
        for x in samples(&mut rng, &property.input, 3000) {
            let y = net.forward(&x);
            if property.violated_by(&x, &y) {
                let covered = result.regions.iter().any(|r| {
                    r.contains(&x, 1e-9)
                        && property.unsafe_set.disjuncts[r.disjunct]
                            .iter()
                            .all(|h| h.contains(&y))
                });
                assert!(covered, "seed {seed}: unsafe point {x:?} is in no region");
            }
        }
    }
    assert!(
        regions_seen > 1000,
        "only {regions_seen} regions: the test saw too little"
    );
}

/// Area of a convex polygon from its (unordered) vertices.
fn polygon_area(points: &[Vec<f64>]) -> f64 {
    let n = points.len() as f64;
    let c = [
        points.iter().map(|p| p[0]).sum::<f64>() / n,
        points.iter().map(|p| p[1]).sum::<f64>() / n,
    ];
    let mut sorted: Vec<&Vec<f64>> = points.iter().collect();
    sorted.sort_by(|a, b| {
        let angle = |p: &Vec<f64>| (p[1] - c[1]).atan2(p[0] - c[0]);
        angle(a).total_cmp(&angle(b))
    });
    let mut area = 0.0;
    for i in 0..sorted.len() {
        let (p, q) = (sorted[i], sorted[(i + 1) % sorted.len()]);
        area += p[0] * q[1] - q[0] * p[1];
    }
    area.abs() / 2.0
}

/// With every output unsafe, the regions are the linear regions of the network: they must
/// tile the input box (areas add up, for two inputs) and carry the network's exact map.
#[test]
fn linear_regions_tile_the_input_box() {
    for seed in 200..230 {
        let mut rng = rng(seed);
        let mut sizes = random_sizes(&mut rng);
        if seed % 2 == 0 {
            sizes[0] = 2;
        }
        let net = if seed % 3 == 0 {
            integer_net(&mut rng, &sizes)
        } else {
            random_net(&mut rng, &sizes)
        };
        let property = Property {
            name: "everything".into(),
            input: unit_box(sizes[0]),
            unsafe_set: UnsafeSet {
                disjuncts: vec![vec![]],
            },
        };
        let result = run(&net, &property, Mode::AllRegions, false);
        assert_eq!(result.verdict, Verdict::Unsafe);
        if sizes[0] == 2 {
            let area: f64 = result
                .regions
                .iter()
                .map(|r| polygon_area(&r.vertices))
                .sum();
            assert!(
                (area - 4.0).abs() < 1e-9,
                "seed {seed}: regions cover an area of {area}, not 4"
            );
        }
        for x in samples(&mut rng, &property.input, 2000) {
            let y = net.forward(&x);
            let containing: Vec<&UnsafeRegion> = result
                .regions
                .iter()
                .filter(|r| r.contains(&x, 1e-9))
                .collect();
            assert!(!containing.is_empty(), "seed {seed}: {x:?} is in no region");
            for r in containing {
                assert!(
                    map_error(r, &x, &y) < 1e-7,
                    "seed {seed}: wrong map at {x:?}"
                );
            }
        }
    }
}

/// The filter may only drop sets: with and without it, the same regions come out.
#[test]
fn filter_does_not_change_the_regions() {
    for seed in 300..320 {
        let (net, property) = instance(seed, seed % 2 == 1, MOSTLY_UNSAFE);
        let with = run(&net, &property, Mode::AllRegions, true);
        let without = run(&net, &property, Mode::AllRegions, false);
        assert!(with.stats.sets <= without.stats.sets);
        let volume = |r: &ReachResult| r.regions.iter().map(|g| g.vertices.len()).sum::<usize>();
        assert_eq!(with.regions.len(), without.regions.len(), "seed {seed}");
        assert_eq!(volume(&with), volume(&without), "seed {seed}");
    }
}
