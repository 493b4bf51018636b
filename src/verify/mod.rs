//! Verification: is a network safe on a property, and where is it not?
//!
//! - [`reach`]: exact reachability: every unsafe input region (for few inputs);
//! - [`milp`]: the MILP check (HiGHS branch and bound on the big-M encoding, bounds
//!   tightened by LPs), complete over wide boxes of many inputs;
//! - [`bounds`]: sound interval bounds of every neuron over a box, which the MILP check
//!   and the patch's encoding both need;
//! - [`volume`]: the unsafe share of an input box, estimated from the regions.
//!
//! A VNNLIB file may hold several input regions (one [`Property`] each); the file's
//! verdict is unsafe if any part is, safe only if every part is proved safe.

pub mod bounds;
pub mod milp;
pub mod reach;
pub mod volume;

pub use volume::{VolumeEstimate, unsafe_volume};

use crate::nn::ReluNet;
use crate::spec::{Constraint, Property};
use indicatif::ProgressBar;
use milp::{MilpError, MilpVerdict, verify_constraint};
use reach::{Mode, Options, ReachError, UnsafeRegion, Verdict};
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
