//! Patching the actor of a training run: `saferl patch --run` (into a new run directory)
//! and the end of `saferl train` with `[patch] enabled = true` (into the run itself).
//!
//! Both verify the actor first (exact reachability on every property, mapped onto the
//! pre-tanh outputs), seed the repair samples with the vertices of its unsafe regions and
//! with replay-buffer states, run the patch-and-verify loop, and measure the patched
//! actor on held-out buffer states and on greedy episodes.

use super::patch_log::round_scalars;
use super::patch_net::JobReport;
use crate::config::{Config, ConfigError, VerifierKind};
use crate::data::Dataset;
use crate::data::Sample;
use crate::nn::nnet::NnetError;
use crate::nn::{Policy, ReluNet};
use crate::repair::patch::actor::{Draw, buffer_samples, vertex_samples};
use crate::repair::patch::metrics::test_metrics;
use crate::repair::patch::{LoopError, Round, Verifier, repair_loop};
use crate::rl::eval::{EvalReport, Stream, episode_seed, evaluate};
use crate::session::log::Metrics;
use crate::session::run::{Run, RunError};
use crate::spec::{InputSet, Property};
use crate::verify::reach::{self, Mode, Options, ReachError, ReachResult};
use indicatif::ProgressBar;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The patched actor's file in a run directory.
pub const PATCHED_ACTOR: &str = "patched-actor.nnet";
/// The last round's repair samples (inputs, then target outputs: `patch --data` reads it).
pub const PATCH_SAMPLES: &str = "patch-samples.csv";

/// What patching an actor did: the `patch --net` report plus the actor's own measures.
#[derive(Debug, Clone, Serialize)]
pub struct ActorPatchReport {
    /// Verdict per property on the actor before the patch.
    pub verdicts_before: Vec<(String, String)>,
    pub unsafe_regions_before: usize,
    /// Initial repair samples: unsafe-region vertices of the actor, replay-buffer states.
    pub vertex_samples: usize,
    pub buffer_samples: usize,
    /// Mean |action after − action before| over the test states, in action units (the
    /// report's `test.mae` is over the pre-tanh outputs).
    pub test_action_mae: f64,
    /// Greedy episodes (`train.eval_episodes`, evaluation seeds) before and after.
    pub eval_before: EvalReport,
    pub eval_after: EvalReport,
    #[serde(flatten)]
    pub patch: JobReport,
}

/// Why an actor could not be patched.
#[derive(Debug, thiserror::Error)]
pub enum ActorPatchError {
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("the config has no [[property]]: nothing to patch the actor for")]
    NoProperties,
    #[error("{}", crate::config::patch::DATA_VERIFIER_NEEDS_A_DATASET)]
    DataVerifier,
    #[error("verifying the actor before patching it, property `{property}`: {source}")]
    Reach {
        property: String,
        source: ReachError,
    },
    #[error(transparent)]
    Loop(#[from] LoopError),
    #[error(transparent)]
    Nnet(#[from] NnetError),
    #[error("writing {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> ActorPatchError + '_ {
    move |source| ActorPatchError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Patches `policy`, the actor of `network` (a path, for the report), with the settings
/// and properties of `run`'s config, on the visited `states`. Writes the patched actor
/// and the repair samples into `run.dir` and the round scalars to `metrics` (indexed by
/// round); `on_round` sees each round as it ends.
pub fn patch_actor(
    run: &Run,
    network: PathBuf,
    policy: &Policy,
    states: Vec<Vec<f64>>,
    metrics: &mut Metrics,
    progress: &ProgressBar,
    on_round: &mut dyn FnMut(&Round),
) -> Result<ActorPatchReport, ActorPatchError> {
    let started = Instant::now();
    let settings = &run.config.patch;
    let net = &policy.net;
    let constraints = run.patch_constraints()?;
    if constraints.is_empty() {
        return Err(ActorPatchError::NoProperties);
    }
    // A run's properties have bounded boxes and output-only unsafe sets: all verifiable.
    let properties: Vec<_> = constraints
        .iter()
        .filter_map(|c| c.to_property().ok())
        .collect();

    progress.set_message("patch: verifying the actor");
    let timeout = settings.verify_timeout.map(Duration::from_secs_f64);
    let mut verdicts_before = Vec::new();
    let mut unsafe_regions_before = 0;
    let mut vertices = Vec::new();
    for property in &properties {
        // The regions can hold millions of vertices: keep only the chosen ones.
        let result = all_regions(net, property, timeout, progress)?;
        verdicts_before.push((property.name.clone(), result.verdict.to_string()));
        unsafe_regions_before += result.regions.len();
        vertices.extend(vertex_samples(
            net,
            property,
            &result.regions,
            settings.max_new_samples,
        ));
    }
    let split = buffer_samples(
        net,
        states,
        &constraints,
        &Draw {
            repair: settings.samples,
            test: settings.test,
            domain_share: settings.violating_share,
            seed: settings.seed,
        },
    );
    let (vertex_count, buffer_count) = (vertices.len(), split.repair.len());
    let mut samples = vertices;
    samples.extend(split.repair);

    progress.set_message("patch: solving and verifying");
    let verifier = match settings.verifier {
        VerifierKind::Reach => Verifier::Reach,
        VerifierKind::Off => Verifier::Off,
        VerifierKind::Milp => Verifier::Milp {
            domain: hull(&properties).ok_or(ActorPatchError::NoProperties)?,
        },
        VerifierKind::Data => return Err(ActorPatchError::DataVerifier),
    };
    let options = settings.loop_options(net.layers().len(), verifier);
    let mut log_error = None;
    let outcome = repair_loop(net, samples, &constraints, &options, &mut |round| {
        for (tag, value) in round_scalars(round) {
            if let Err(e) = metrics.scalar(tag, value, round.round as u64) {
                log_error.get_or_insert(e);
            }
        }
        on_round(round);
    })?;
    if let Some(e) = log_error {
        return Err(io_error(&run.dir)(e));
    }
    let patched = Policy {
        net: outcome.net.clone(),
        scaling: policy.scaling.clone(),
    };
    let patched_path = run.dir.join(PATCHED_ACTOR);
    run.write_policy(&patched, &patched_path)?;
    write_samples(&run.dir.join(PATCH_SAMPLES), &outcome.samples)?;

    progress.set_message("patch: measuring");
    let test_inputs: Vec<Vec<f64>> = split.test.into_iter().map(|s| s.input).collect();
    let test = test_metrics(net, &outcome.net, &test_inputs, &constraints);
    let last_round = outcome.rounds.len() as u64;
    let verified = f64::from(u8::from(outcome.verified));
    metrics
        .scalar("patch/verified", verified, last_round)
        .and_then(|()| metrics.flush())
        .map_err(io_error(&run.dir))?;
    Ok(ActorPatchReport {
        verdicts_before,
        unsafe_regions_before,
        vertex_samples: vertex_count,
        buffer_samples: buffer_count,
        test_action_mae: action_mae(policy, &patched, &test_inputs),
        eval_before: greedy(run, policy)?,
        eval_after: greedy(run, &patched)?,
        patch: JobReport::new(
            network,
            patched_path,
            options.patch.layer,
            &outcome,
            test,
            started.elapsed().as_secs_f64(),
        ),
    })
}

/// The smallest box holding every property's input box: the MILP verifier's domain
/// (each constraint's own box then limits its check).
fn hull(properties: &[Property]) -> Option<InputSet> {
    let (first, rest) = properties.split_first()?;
    let mut hull = InputSet {
        constraints: vec![],
        ..first.input.clone()
    };
    for p in rest {
        for i in 0..hull.dim() {
            hull.lower[i] = hull.lower[i].min(p.input.lower[i]);
            hull.upper[i] = hull.upper[i].max(p.input.upper[i]);
        }
    }
    Some(hull)
}

/// Exact reachability of `net` on `property`, exploring every unsafe region.
fn all_regions(
    net: &ReluNet,
    property: &Property,
    timeout: Option<Duration>,
    progress: &ProgressBar,
) -> Result<ReachResult, ActorPatchError> {
    let options = Options {
        mode: Mode::AllRegions,
        timeout,
        progress: Some(progress.clone()),
        ..Options::default()
    };
    reach::verify(net, property, &options).map_err(|source| ActorPatchError::Reach {
        property: property.name.clone(),
        source,
    })
}

/// The inputs and targets of `samples` as CSV (the format `saferl patch --data` reads).
fn write_samples(path: &Path, samples: &[Sample]) -> Result<(), ActorPatchError> {
    let (inputs, targets) = samples
        .iter()
        .map(|s| (s.input.clone(), s.target.clone()))
        .unzip();
    // The loop's samples all have the network's shapes, so the dataset is consistent.
    let csv = Dataset::new(inputs, targets)
        .map(|d| d.to_csv())
        .unwrap_or_default();
    crate::atomic::write(path, csv.as_bytes()).map_err(io_error(path))
}

/// Mean absolute action difference over `inputs` and actions.
fn action_mae(before: &Policy, after: &Policy, inputs: &[Vec<f64>]) -> f64 {
    let (mut sum, mut count) = (0.0, 0usize);
    for x in inputs {
        for (a, b) in before.act(x).iter().zip(after.act(x)) {
            sum += (a - b).abs();
            count += 1;
        }
    }
    if count == 0 { 0.0 } else { sum / count as f64 }
}

/// `policy`'s greedy episodes on `run`'s evaluation seeds.
fn greedy(run: &Run, policy: &Policy) -> Result<EvalReport, RunError> {
    let seed = run.config.seed;
    let seeds =
        (0..run.config.train.eval_episodes as u64).map(|i| episode_seed(seed, Stream::Eval, i));
    Ok(evaluate(
        policy,
        run.env().as_mut(),
        &run.properties()?,
        seeds,
    ))
}

/// `saferl patch --run`: the source run, and what the command line overrides.
#[derive(Debug, Clone)]
pub struct RunInput {
    pub source: PathBuf,
    /// A config replacing the source run's own (same environment and actor).
    pub config: Option<PathBuf>,
    /// The new run directory.
    pub out: PathBuf,
    pub layer: Option<usize>,
    pub samples: Option<usize>,
    pub max_rounds: Option<usize>,
    pub seed: Option<u64>,
}

/// Patches the actor of the latest checkpoint of `input.source` into the new run
/// directory `input.out`: resolved `config.toml`, `patched-actor.nnet`,
/// `patch-samples.csv`, round scalars and `report.json`.
pub fn patch_run(
    input: &RunInput,
    progress: &ProgressBar,
    on_round: &mut dyn FnMut(&Round),
) -> Result<ActorPatchReport, ActorPatchError> {
    let source = Run::open(&input.source)?;
    let mut config = match &input.config {
        Some(path) => Config::load(path)?,
        None => source.config.clone(),
    };
    let patch = &mut config.patch;
    patch.layer = Some(
        input
            .layer
            .or(patch.layer)
            .unwrap_or(config.actor.hidden.len()),
    );
    patch.samples = input.samples.unwrap_or(patch.samples);
    patch.max_rounds = input.max_rounds.unwrap_or(patch.max_rounds);
    patch.seed = input.seed.unwrap_or(patch.seed);
    config.validate().map_err(|message| ConfigError::Invalid {
        path: input
            .config
            .clone()
            .unwrap_or_else(|| source.dir.join("config.toml")),
        message: format!("{message} (with the command-line options)"),
    })?;
    let with_config = Run {
        dir: source.dir.clone(),
        config: config.clone(),
    };
    with_config.patch_constraints()?;
    progress.set_message(format!("loading {}", source.checkpoint_path().display()));
    let (agent, checkpoint) = with_config.load_agent()?;
    let run = Run::create(&input.out, config)?;
    let mut metrics = Metrics::open(&run.dir, None).map_err(io_error(&run.dir))?;
    let states = checkpoint.buffer.observations().collect();
    let report = patch_actor(
        &run,
        source.checkpoint_path(),
        &agent.policy(),
        states,
        &mut metrics,
        progress,
        on_round,
    )?;
    let path = run.dir.join("report.json");
    let json = serde_json::to_string_pretty(&report).expect("a report serializes");
    crate::atomic::write(&path, json.as_bytes()).map_err(io_error(&path))?;
    Ok(report)
}

/// The terminal summary of a patched actor.
pub fn report_line(report: &ActorPatchReport) -> String {
    let p = &report.patch;
    let verdicts = |v: &[(String, String)]| {
        v.iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let after = p
        .rounds
        .last()
        .map_or_else(String::new, |r| verdicts(&r.verdicts));
    format!(
        "patch: {} after {} round(s) ({} -> {}); layer {}, {} repair samples, δ {:.4}; test ({} states): action MAE {:.4}, introduced bugs {}/{}; greedy return {:.2} -> {:.2}; {:.1} s; {}",
        if p.verified {
            "verified safe"
        } else {
            "NOT verified safe"
        },
        p.rounds.len(),
        verdicts(&report.verdicts_before),
        after,
        p.layer,
        p.repair_samples,
        p.delta,
        p.test.samples,
        report.test_action_mae,
        p.test.introduced,
        p.test.originally_safe,
        report.eval_before.return_mean,
        report.eval_after.return_mean,
        p.runtime_s,
        p.patched_network.display()
    )
}
