//! Repair with a sound verifier in the loop (certified-repair paper, Alg. 1).
//!
//! patch → verify the patched network on every constraint → if one is violated, add the
//! verifier's counterexamples (targets: the original network's outputs there, or a
//! dataset's labels when the data check found them) to the
//! repair samples and patch again → stop when every constraint is proved safe or after
//! `max_rounds`. The patch guarantees the samples; the verifier's "safe" is what extends
//! the guarantee to the whole domain, so `verified` is true only on the verifier's word.
//!
//! Every round patches the *original* network with all samples gathered so far, not the
//! previous round's patch: the weight change and the loss stay measured against the
//! network the user trusts, instead of drifting as patches pile up.
//!
//! Two verifiers: exact reachability ([`Verifier::Reach`]: every unsafe region, whose
//! vertices all become samples; for small input dimensions and output-only unsafe sets)
//! and the MILP check of [`crate::verify::milp`] ([`Verifier::Milp`]: any constraint kind
//! over a bounded domain such as the data's bounding box; one counterexample per
//! constraint and round).

use super::{PatchError, PatchOptions, PatchResult, PatchStatus, patch_near};
use crate::data::Sample;
use crate::nn::ReluNet;
use crate::repair::select::select_vertices;
use crate::spec::Constraint;
use crate::spec::{InputSet, Property};
use crate::verify::milp::{MilpError, MilpVerdict, verify_constraint};
use crate::verify::reach::{self, Mode, Options, ReachError, Verdict};
use std::time::{Duration, Instant};

/// Loop settings.
#[derive(Debug, Clone)]
pub struct LoopOptions {
    pub patch: PatchOptions,
    /// Most patch-and-verify rounds.
    pub max_rounds: usize,
    /// Time limit of each property's verification in the first round.
    pub verify_timeout: Option<Duration>,
    /// Cap of the escalating time limit: after a round whose verification ended without a
    /// verdict and without a violation, the next round's time limit doubles, up to this.
    /// A patch near convergence is often safe but slow to prove, and each unknown round
    /// otherwise
    /// adds a near sample and raises the loss without getting closer to a proof. A round
    /// left with nothing to add verifies the same patch again with the doubled limit
    /// instead of ending the loop. `None` (or a cap at `verify_timeout`) keeps the time
    /// limit fixed.
    pub verify_timeout_max: Option<Duration>,
    /// Most unsafe-region vertices added per round (spread evenly over those found).
    pub max_new_samples: usize,
    pub verifier: Verifier,
}

/// Counterexamples the MILP verifier collects per unsafe polytope and round, each from a
/// different activation pattern: one per round converges slowly, many cost a solve each.
const MILP_POINTS_PER_POLYTOPE: usize = 10;

/// Which verifier closes the loop.
#[derive(Debug, Clone)]
pub enum Verifier {
    /// Exact reachability on each constraint's condition box (it must be bounded and the
    /// unsafe set over outputs only; other constraints are reported unverifiable).
    Reach,
    /// The MILP check over `domain` ∩ each constraint's condition.
    Milp { domain: InputSet },
    /// A falsifier over a finite labelled set (a dataset's rows): violating rows join the
    /// samples with their labels as targets, like the first repair samples drawn from the
    /// same data; the loop stops when none violates Ψ, never with `verified`.
    Data { rows: Vec<Sample> },
    /// No verification: one patch, guaranteed on the repair samples only (the paper's
    /// Table 1 setting).
    Off,
}

impl Verifier {
    /// Whether "nothing found" is a proof over the constraint's domain.
    fn proves(&self) -> bool {
        matches!(self, Self::Reach | Self::Milp { .. })
    }

    /// Whether a round that found `found` violations replaces the kept patch, which
    /// found `kept`. The data check counts every violating point of a fixed set, so its
    /// counts compare rounds: a later round can do worse (its patch is re-solved from
    /// the original under a time limit), and the best one is kept. The other verifiers'
    /// counts are not comparable across rounds (regions of different sizes, at most
    /// [`MILP_POINTS_PER_POLYTOPE`] points), so the latest patch — the one built from
    /// the most counterexamples — is kept.
    fn prefers(&self, found: usize, kept: usize) -> bool {
        match self {
            Self::Data { .. } => found <= kept,
            Self::Reach | Self::Milp { .. } | Self::Off => true,
        }
    }
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
    /// The verification's time limit per constraint (escalated after undecided rounds;
    /// the last one, when the same patch was verified again).
    pub verify_timeout: Option<f64>,
    /// Verdict per verifiable constraint, in order.
    pub verdicts: Vec<(String, String)>,
    /// Unsafe regions found (reachability), or violating points found (MILP verifier).
    pub unsafe_regions: usize,
    pub new_samples: usize,
}

/// The loop's outcome.
#[derive(Debug, Clone)]
pub struct LoopResult {
    pub net: ReluNet,
    /// The patch returned: the last round's, unless that one failed or (data check)
    /// violated more points than an earlier round's (see `round`).
    pub last: PatchResult,
    /// The round whose patch is returned.
    pub round: usize,
    pub rounds: Vec<Round>,
    /// Every constraint was proved safe by the verifier on the final network.
    pub verified: bool,
    /// Constraints the verifier cannot check, with the reason.
    pub unverifiable: Vec<(String, String)>,
    /// All repair samples the returned patch was built from.
    pub samples: Vec<Sample>,
    /// Why the loop ended early: a later round's patch failed (no feasible patch within
    /// the time limit, or infeasible), so the previous round's patch is the result.
    pub stopped: Option<String>,
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
    #[error("round {round}: verifying `{constraint}` by MILP: {source}")]
    Milp {
        round: usize,
        constraint: String,
        source: MilpError,
    },
}

/// What one verification of all constraints found.
struct Checked {
    verdicts: Vec<(String, String)>,
    /// Inputs at which the patched network violates (or nearly violates) a constraint,
    /// with their targets.
    counterexamples: Vec<Sample>,
    unsafe_regions: usize,
    all_safe: bool,
    /// Some constraint was neither proved nor violated (time limit).
    undecided: bool,
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
    match options.verifier {
        Verifier::Reach => {
            for c in constraints {
                match c.to_property() {
                    Ok(p) => properties.push(p),
                    Err(reason) => unverifiable.push((c.name.clone(), reason)),
                }
            }
        }
        Verifier::Off => unverifiable.extend(
            constraints
                .iter()
                .map(|c| (c.name.clone(), "verification is off".to_string())),
        ),
        Verifier::Milp { .. } | Verifier::Data { .. } => {}
    }
    let mut rounds = Vec::new();
    let max_rounds = options.max_rounds.max(1);
    // The patch to return if the loop ends now: (patch, its round, the samples it was
    // built from, the violations the verifier found on it).
    let mut kept: Option<(PatchResult, usize, usize, usize)> = None;
    // The previous round's patch satisfies all but the new samples: its activation
    // pattern is a second start when the original's cannot take the new ones.
    let mut hint: Option<ReluNet> = None;
    let finish = |kept: (PatchResult, usize, usize, usize),
                  mut samples: Vec<Sample>,
                  rounds: Vec<Round>,
                  verified: bool,
                  stopped: Option<String>| {
        let (last, round, count, _) = kept;
        samples.truncate(count);
        LoopResult {
            net: last.net.clone(),
            last,
            round,
            rounds,
            verified,
            unverifiable: unverifiable.clone(),
            samples,
            stopped,
        }
    };
    let mut verify_timeout = options.verify_timeout;
    for round in 1..=max_rounds {
        let result = match patch_near(net, &samples, constraints, &options.patch, hint.as_ref()) {
            Ok(result) => result,
            // A failed later round loses nothing: the kept patch still holds on the
            // samples it was given.
            Err(source) if kept.is_some() => {
                let stopped = Some(format!("round {round}: {source}"));
                return Ok(finish(
                    kept.expect("checked"),
                    samples,
                    rounds,
                    false,
                    stopped,
                ));
            }
            Err(source) => return Err(LoopError::Patch { round, source }),
        };
        let current = &result.net;
        let verify_started = Instant::now();
        let verify = |timeout| match &options.verifier {
            // With verification off there are no properties: nothing is checked.
            Verifier::Reach | Verifier::Off => {
                check_by_reach(net, current, &properties, timeout, options, round)
            }
            Verifier::Milp { domain } => {
                check_by_milp(net, current, constraints, domain, timeout, round)
            }
            Verifier::Data { rows } => Ok(check_on_data(current, constraints, rows)),
        };
        // Undecided with nothing to add would end the loop unverified: the same patch is
        // verified again with the escalated time limit instead, while the cap allows.
        let (checked, fresh) = loop {
            let mut checked = verify(verify_timeout)?;
            let fresh = new_samples(
                &samples,
                std::mem::take(&mut checked.counterexamples),
                options.max_new_samples,
            );
            let longer = escalated(verify_timeout, options.verify_timeout_max);
            if !(checked.inconclusive() && fresh.is_empty()) || longer == verify_timeout {
                break (checked, fresh);
            }
            verify_timeout = longer;
        };
        let all_safe = checked.all_safe && unverifiable.is_empty();
        let inconclusive = checked.inconclusive();
        let regions = checked.unsafe_regions;
        let verdicts = checked.verdicts;
        let record = Round {
            round,
            samples: samples.len(),
            status: result.status,
            objective: result.objective,
            gap: result.gap,
            delta: result.delta,
            patch_seconds: result.seconds,
            verify_seconds: verify_started.elapsed().as_secs_f64(),
            verify_timeout: verify_timeout.map(|t| t.as_secs_f64()),
            verdicts,
            unsafe_regions: regions,
            new_samples: fresh.len(),
        };
        on_round(&record);
        rounds.push(record);
        if inconclusive {
            verify_timeout = escalated(verify_timeout, options.verify_timeout_max);
        }
        let stuck = fresh.is_empty();
        hint = Some(result.net.clone());
        if kept
            .as_ref()
            .is_none_or(|k| options.verifier.prefers(regions, k.3))
        {
            kept = Some((result, round, samples.len(), regions));
        }
        samples.extend(fresh);
        if all_safe || stuck || round == max_rounds {
            // A safe round's patch is always the one kept, so `verified` is about it.
            let verified = all_safe && options.verifier.proves();
            return Ok(finish(
                kept.expect("set above"),
                samples,
                rounds,
                verified,
                None,
            ));
        }
    }
    unreachable!("the last round returns")
}

impl Checked {
    /// Before any constraint is checked: safe until one is not.
    fn nothing_found() -> Self {
        Self {
            verdicts: Vec::new(),
            counterexamples: Vec::new(),
            unsafe_regions: 0,
            all_safe: true,
            undecided: false,
        }
    }

    /// Neither proved nor violated: what a longer time limit may settle.
    fn inconclusive(&self) -> bool {
        self.undecided && self.unsafe_regions == 0
    }
}

/// Every unsafe region of every property of `net` (the patch of `original`), by exact
/// reachability.
fn check_by_reach(
    original: &ReluNet,
    net: &ReluNet,
    properties: &[Property],
    timeout: Option<Duration>,
    options: &LoopOptions,
    round: usize,
) -> Result<Checked, LoopError> {
    let mut checked = Checked::nothing_found();
    for property in properties {
        let reach_options = Options {
            mode: Mode::AllRegions,
            timeout,
            ..Options::default()
        };
        let outcome =
            reach::verify(net, property, &reach_options).map_err(|source| LoopError::Verify {
                round,
                constraint: property.name.clone(),
                source,
            })?;
        checked.all_safe &= outcome.verdict == Verdict::Safe;
        checked.undecided |= outcome.verdict == Verdict::Unknown;
        checked.unsafe_regions += outcome.regions.len();
        // An unsafe actor's regions can hold millions of vertices: keep at most
        // `max_new_samples` per property, one of every region first (successive rounds
        // take successive regions when there are more).
        let vertices = select_vertices(
            &outcome.regions,
            &property.input,
            options.max_new_samples,
            round as u64 - 1,
        );
        checked
            .counterexamples
            .extend(vertices.into_iter().map(|v| keeping(original, v)));
        checked
            .verdicts
            .push((property.name.clone(), outcome.verdict.to_string()));
    }
    Ok(checked)
}

/// One MILP check per constraint of `net` (the patch of `original`) over `domain`.
fn check_by_milp(
    original: &ReluNet,
    net: &ReluNet,
    constraints: &[Constraint],
    domain: &InputSet,
    timeout: Option<Duration>,
    round: usize,
) -> Result<Checked, LoopError> {
    let mut checked = Checked::nothing_found();
    for c in constraints {
        let outcome = verify_constraint(net, c, domain, timeout, MILP_POINTS_PER_POLYTOPE)
            .map_err(|source| LoopError::Milp {
                round,
                constraint: c.name.clone(),
                source,
            })?;
        let verdict = match outcome.verdict {
            MilpVerdict::Safe => "safe",
            MilpVerdict::Unsafe => "unsafe",
            MilpVerdict::Unknown => "unknown",
        };
        if outcome.verdict == MilpVerdict::Unsafe {
            checked.unsafe_regions += outcome.points.len();
        }
        checked
            .counterexamples
            .extend(outcome.points.into_iter().map(|x| keeping(original, x)));
        checked.all_safe &= outcome.verdict == MilpVerdict::Safe;
        checked.undecided |= outcome.verdict == MilpVerdict::Unknown;
        checked.verdicts.push((c.name.clone(), verdict.to_string()));
    }
    Ok(checked)
}

/// The next round's time limit after an undecided one: twice `current`, at most `cap`
/// (never below `current`; without a cap or a current limit, unchanged).
fn escalated(current: Option<Duration>, cap: Option<Duration>) -> Option<Duration> {
    match (current, cap) {
        (Some(t), Some(cap)) => Some((t * 2).min(cap).max(t)),
        _ => current,
    }
}

/// Every row of `rows` at which `net` violates a constraint.
fn check_on_data(net: &ReluNet, constraints: &[Constraint], rows: &[Sample]) -> Checked {
    let mut checked = Checked::nothing_found();
    let outputs: Vec<Vec<f64>> = rows.iter().map(|r| net.forward(&r.input)).collect();
    for c in constraints {
        let violating: Vec<&Sample> = rows
            .iter()
            .zip(&outputs)
            .filter(|(r, y)| c.violated_by(&r.input, y))
            .map(|(r, _)| r)
            .collect();
        checked.all_safe &= violating.is_empty();
        checked.unsafe_regions += violating.len();
        let verdict = if violating.is_empty() {
            format!("no violation on {} data points", rows.len())
        } else {
            format!(
                "violated on {} of {} data points",
                violating.len(),
                rows.len()
            )
        };
        checked.verdicts.push((c.name.clone(), verdict));
        checked
            .counterexamples
            .extend(violating.into_iter().cloned());
    }
    checked
}

/// A counterexample without a label: its target keeps the original network's behaviour.
fn keeping(original: &ReluNet, input: Vec<f64>) -> Sample {
    Sample {
        target: original.forward(&input),
        input,
    }
}

/// Counterexamples not already among the samples (up to `limit`, spread evenly).
fn new_samples(samples: &[Sample], found: Vec<Sample>, limit: usize) -> Vec<Sample> {
    let is_known = |v: &[f64], known: &[Sample]| {
        known.iter().any(|s| {
            s.input
                .iter()
                .zip(v)
                .all(|(a, b)| (a - b).abs() <= 1e-9 * (1.0 + a.abs()))
        })
    };
    let mut unique: Vec<Sample> = Vec::new();
    for sample in found {
        if !is_known(&sample.input, samples) && !is_known(&sample.input, &unique) {
            unique.push(sample);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::Layer;
    use crate::spec::InputSet;
    use crate::spec::constraint::parse_joint_inequality;
    use nalgebra::{DMatrix, DVector};

    #[test]
    fn data_check_counterexamples_keep_their_labels_and_others_the_original_outputs() {
        // y = x, Ψ: y0 < 1; the rows' labels are all 0.5.
        let net = ReluNet::new(vec![Layer {
            weights: DMatrix::from_row_slice(1, 1, &[1.0]),
            bias: DVector::from_column_slice(&[0.0]),
        }])
        .unwrap();
        let cap = Constraint {
            name: "below-one".into(),
            condition: InputSet {
                lower: vec![f64::NEG_INFINITY],
                upper: vec![f64::INFINITY],
                constraints: vec![],
            },
            unsafe_set: vec![vec![parse_joint_inequality("y0 >= 1", 1, 1).unwrap()]],
        };
        let rows: Vec<Sample> = [0.0, 1.5, 3.0]
            .iter()
            .map(|&x| Sample {
                input: vec![x],
                target: vec![0.5],
            })
            .collect();
        let checked = check_on_data(&net, std::slice::from_ref(&cap), &rows);
        assert!(!checked.all_safe);
        assert_eq!(checked.counterexamples, rows[1..].to_vec());
        let fresh = new_samples(&rows[..2], checked.counterexamples, 10);
        assert_eq!(fresh, rows[2..].to_vec(), "known rows are not added again");
        assert_eq!(keeping(&net, vec![3.0]).target, vec![3.0]);
    }

    #[test]
    fn an_undecided_round_doubles_the_next_time_limit_up_to_the_cap() {
        let s = Duration::from_secs;
        assert_eq!(escalated(Some(s(30)), Some(s(480))), Some(s(60)));
        assert_eq!(escalated(Some(s(300)), Some(s(480))), Some(s(480)));
        assert_eq!(escalated(Some(s(480)), Some(s(480))), Some(s(480)));
        assert_eq!(escalated(Some(s(30)), None), Some(s(30)));
        assert_eq!(escalated(None, Some(s(480))), None);
    }
}
