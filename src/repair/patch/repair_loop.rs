//! Repair with a sound verifier in the loop (certified-repair paper, Alg. 1).
//!
//! patch → verify the patched network on every property by exact reachability → if a
//! property is violated, add the vertices of its unsafe input regions (targets: the
//! original network's outputs there) to the repair samples and patch the latest network
//! again → stop when every property is proved safe or after `max_rounds`. The patch
//! guarantees the samples; the verifier's "safe" is what extends the guarantee to the
//! whole domain, so `verified` is true only on the verifier's word.

use super::{Constraint, PatchError, PatchOptions, PatchResult, PatchStatus, Sample, patch};
use crate::nn::ReluNet;
use crate::reach::{self, Mode, Options, ReachError, Verdict};
use std::time::{Duration, Instant};

/// Loop settings.
#[derive(Debug, Clone)]
pub struct LoopOptions {
    pub patch: PatchOptions,
    /// Most patch-and-verify rounds.
    pub max_rounds: usize,
    /// Time limit of each property's verification.
    pub verify_timeout: Option<Duration>,
    /// Most unsafe-region vertices added per round (spread evenly over those found).
    pub max_new_samples: usize,
}

/// What one round did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Round {
    pub round: usize,
    pub samples: usize,
    pub status: PatchStatus,
    pub objective: f64,
    pub gap: f64,
    /// Largest weight change with respect to the original network.
    pub delta: f64,
    pub patch_seconds: f64,
    pub verify_seconds: f64,
    /// Verdict per verifiable constraint, in order.
    pub verdicts: Vec<(String, String)>,
    pub unsafe_regions: usize,
    pub new_samples: usize,
}

/// The loop's outcome.
#[derive(Debug, Clone)]
pub struct LoopResult {
    pub net: ReluNet,
    /// The last patch.
    pub last: PatchResult,
    pub rounds: Vec<Round>,
    /// Every constraint was proved safe by the verifier on the final network.
    pub verified: bool,
    /// Constraints the verifier cannot check, with the reason.
    pub unverifiable: Vec<(String, String)>,
    /// All repair samples used in the last round.
    pub samples: Vec<Sample>,
}

/// Why the loop stopped without a result.
#[derive(Debug, thiserror::Error)]
pub enum LoopError {
    #[error("round {round}: {source}")]
    Patch { round: usize, source: PatchError },
    #[error("round {round}: verifying `{constraint}`: {source}")]
    Verify {
        round: usize,
        constraint: String,
        source: ReachError,
    },
}

/// Runs Alg. 1 from `net`; `on_round` sees every round as it ends (for logging).
pub fn repair_loop(
    net: &ReluNet,
    samples: Vec<Sample>,
    constraints: &[Constraint],
    options: &LoopOptions,
    on_round: &mut dyn FnMut(&Round),
) -> Result<LoopResult, LoopError> {
    let mut samples = samples;
    let mut properties = Vec::new();
    let mut unverifiable = Vec::new();
    for c in constraints {
        match c.to_property() {
            Ok(p) => properties.push(p),
            Err(reason) => unverifiable.push((c.name.clone(), reason)),
        }
    }
    let mut current = net.clone();
    let mut rounds = Vec::new();
    let max_rounds = options.max_rounds.max(1);
    for round in 1..=max_rounds {
        let result = patch(&current, &samples, constraints, &options.patch)
            .map_err(|source| LoopError::Patch { round, source })?;
        current = result.net.clone();
        let verify_started = Instant::now();
        let mut verdicts = Vec::new();
        let mut vertices = Vec::new();
        let mut regions = 0;
        let mut all_safe = unverifiable.is_empty();
        for property in &properties {
            let reach_options = Options {
                mode: Mode::AllRegions,
                timeout: options.verify_timeout,
                ..Options::default()
            };
            let outcome = reach::verify(&current, property, &reach_options).map_err(|source| {
                LoopError::Verify {
                    round,
                    constraint: property.name.clone(),
                    source,
                }
            })?;
            all_safe &= outcome.verdict == Verdict::Safe;
            regions += outcome.regions.len();
            vertices.extend(outcome.regions.into_iter().flat_map(|r| r.vertices));
            verdicts.push((property.name.clone(), outcome.verdict.to_string()));
        }
        let fresh = new_samples(net, &samples, vertices, options.max_new_samples);
        let record = Round {
            round,
            samples: samples.len(),
            status: result.status,
            objective: result.objective,
            gap: result.gap,
            delta: super::solve::weight_change(net, &current, options.patch.layer),
            patch_seconds: result.seconds,
            verify_seconds: verify_started.elapsed().as_secs_f64(),
            verdicts,
            unsafe_regions: regions,
            new_samples: fresh.len(),
        };
        on_round(&record);
        rounds.push(record);
        let stuck = fresh.is_empty();
        samples.extend(fresh);
        if all_safe || stuck || round == max_rounds {
            return Ok(LoopResult {
                net: current,
                last: result,
                rounds,
                verified: all_safe,
                unverifiable,
                samples,
            });
        }
    }
    unreachable!("the last round returns")
}

/// Vertices not already among the samples (up to `limit`, spread evenly), each with the
/// original network's output as its target.
fn new_samples(
    original: &ReluNet,
    samples: &[Sample],
    vertices: Vec<Vec<f64>>,
    limit: usize,
) -> Vec<Sample> {
    let is_known = |v: &[f64], known: &[Sample]| {
        known.iter().any(|s| {
            s.input
                .iter()
                .zip(v)
                .all(|(a, b)| (a - b).abs() <= 1e-9 * (1.0 + a.abs()))
        })
    };
    let mut unique: Vec<Sample> = Vec::new();
    for v in vertices {
        if !is_known(&v, samples) && !is_known(&v, &unique) {
            unique.push(Sample {
                target: original.forward(&v),
                input: v,
            });
        }
    }
    if unique.len() <= limit {
        return unique;
    }
    let step = unique.len() as f64 / limit as f64;
    (0..limit)
        .map(|i| unique[(i as f64 * step) as usize].clone())
        .collect()
}
