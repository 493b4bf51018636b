//! Verifying a network against a property file: the `saferl verify` job.
//!
//! A VNNLIB file may hold several input regions (one [`Property`] each); the file's
//! verdict is unsafe if any part is, safe only if every part is proved safe.

use crate::nn::{ActionScaling, NotMonotoneMappable, ReluNet};
use crate::reach::{self, Mode, Options, ReachError, UnsafeRegion, Verdict};
use crate::repair::patch::Constraint;
use crate::repair::patch::milp_verify::{MilpError, MilpVerdict, verify_constraint};
use crate::spec::Property;
use crate::spec::UnsafeSet;
use indicatif::ProgressBar;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use std::time::{Duration, Instant};

/// The answer for a whole property file, in the shape `saferl verify --json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub result: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counterexample: Option<CounterexampleJson>,
    pub stats: StatsJson,
    /// Unsafe share of the file's first input region (with `--regions`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unsafe_volume: Option<VolumeEstimate>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CounterexampleJson {
    pub input: Vec<f64>,
    pub output: Vec<f64>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct StatsJson {
    pub time_s: f64,
    /// ReLU binaries of the largest MILP (`--method milp`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub milp_binaries: Option<usize>,
    pub sets: u64,
    pub peak_sets: u64,
    pub regions: usize,
    pub region_vertices: usize,
}

/// Share of the input box that is unsafe, estimated by uniform sampling.
#[derive(Debug, Clone, Serialize)]
pub struct VolumeEstimate {
    pub fraction: f64,
    /// Half-width of the 95 % (Wilson) confidence interval.
    pub ci95: f64,
    pub samples: usize,
}

/// Verifies every part of a property file. With `all_regions`, explores everything and
/// returns the unsafe regions too. `progress` shows how far the search has got.
pub fn verify_parts(
    net: &ReluNet,
    parts: &[Property],
    timeout: Option<Duration>,
    all_regions: bool,
    progress: &ProgressBar,
) -> Result<(Report, Vec<UnsafeRegion>), ReachError> {
    let started = Instant::now();
    let mut verdicts = Vec::new();
    let mut counterexample = None;
    let mut stats = StatsJson::default();
    let mut regions = Vec::new();
    for part in parts {
        let remaining = timeout.map(|t| t.saturating_sub(started.elapsed()));
        let options = Options {
            mode: if all_regions {
                Mode::AllRegions
            } else {
                Mode::FirstCounterexample
            },
            timeout: remaining,
            progress: Some(progress.clone()),
            ..Options::default()
        };
        let result = reach::verify(net, part, &options)?;
        stats.sets += result.stats.sets;
        stats.peak_sets = stats.peak_sets.max(result.stats.peak_live_sets);
        verdicts.push(result.verdict);
        if counterexample.is_none()
            && let Some(c) = result.counterexample
        {
            counterexample = Some(CounterexampleJson {
                input: c.input,
                output: c.output,
            });
        }
        regions.extend(result.regions);
        if result.verdict == Verdict::Unsafe && !all_regions {
            break;
        }
    }
    stats.time_s = started.elapsed().as_secs_f64();
    stats.regions = regions.len();
    stats.region_vertices = regions.iter().map(|r| r.vertices.len()).sum();
    let report = Report {
        result: Verdict::combine(verdicts).to_string(),
        counterexample,
        stats,
        unsafe_volume: None,
    };
    Ok((report, regions))
}

/// Verifies every part of a property file by the MILP verifier (HiGHS branch and bound
/// on the big-M encoding, bounds tightened by LPs): complete like reachability, but its
/// cost grows with the unstable ReLUs instead of the linear regions, which explode on
/// wide boxes of many inputs. A counterexample is re-evaluated on the network.
pub fn verify_parts_by_milp(
    net: &ReluNet,
    parts: &[Property],
    timeout: Option<Duration>,
) -> Result<Report, MilpError> {
    let started = Instant::now();
    let mut verdicts = Vec::new();
    let mut counterexample = None;
    let mut binaries = 0;
    for part in parts {
        let remaining = timeout.map(|t| t.saturating_sub(started.elapsed()));
        if remaining.is_some_and(|t| t.is_zero()) {
            verdicts.push(Verdict::Unknown);
            break;
        }
        let constraint = Constraint::from_property(part);
        let outcome = verify_constraint(net, &constraint, &part.input, remaining, 1)?;
        binaries = binaries.max(outcome.binaries);
        verdicts.push(match outcome.verdict {
            MilpVerdict::Safe => Verdict::Safe,
            MilpVerdict::Unknown => Verdict::Unknown,
            MilpVerdict::Unsafe => Verdict::Unsafe,
        });
        if outcome.verdict == MilpVerdict::Unsafe {
            // Unsafe points come first, each already re-evaluated.
            let input = outcome.points[0].clone();
            counterexample = Some(CounterexampleJson {
                output: net.forward(&input),
                input,
            });
            break;
        }
    }
    Ok(Report {
        result: Verdict::combine(verdicts).to_string(),
        counterexample,
        stats: StatsJson {
            time_s: started.elapsed().as_secs_f64(),
            milp_binaries: Some(binaries),
            ..StatsJson::default()
        },
        unsafe_volume: None,
    })
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
