//! The `saferl patch --net … --config … --data …` job: read, split, run the
//! patch-and-verify loop, measure on held-out data, write the patched network and a
//! report into an output directory (with the resolved config and per-round scalars).

use super::patch_log::round_scalars;
use crate::config::ConfigError;
use crate::config::{PatchConfig, VerifierKind};
use crate::data::samples::{DataError, Split, read_samples, split};
use crate::nn::nnet::{NnetError, NnetFile, read_nnet, write_nnet};
use crate::repair::patch::metrics::{TestMetrics, test_metrics};
use crate::repair::patch::{LoopError, LoopResult, Round, Verifier, repair_loop};
use crate::session::log::Metrics;
use crate::spec::InputSet;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The job's inputs; `Option`s override the config.
#[derive(Debug, Clone)]
pub struct JobInput {
    pub net: PathBuf,
    pub config: PathBuf,
    pub data: PathBuf,
    /// Held-out test samples; without it they are drawn from `data`.
    pub test_data: Option<PathBuf>,
    pub out: PathBuf,
    pub layer: Option<usize>,
    pub max_rounds: Option<usize>,
    pub samples: Option<usize>,
    pub seed: Option<u64>,
}

/// What `saferl patch` prints as JSON and writes to `report.json`.
#[derive(Debug, Clone, Serialize)]
pub struct JobReport {
    pub network: PathBuf,
    pub patched_network: PathBuf,
    pub layer: usize,
    pub repair_samples: usize,
    pub runtime_s: f64,
    pub status: String,
    pub objective: f64,
    pub lower_bound: f64,
    pub gap: f64,
    /// Largest weight change with respect to the original network.
    pub delta: f64,
    pub binaries: usize,
    pub oa_iterations: usize,
    /// Repair samples still violating Ψ on the patched network (re-evaluated).
    pub repair_violations: usize,
    /// Every constraint proved safe by the verifier on its domain (each condition box
    /// for reachability; `verification_domain` ∩ each condition for the MILP verifier).
    pub verified: bool,
    /// The box the MILP verifier covers (the held-out data's bounding box), so a verdict
    /// can be re-checked independently; `None` for the other verifiers.
    pub verification_domain: Option<Domain>,
    /// Why the loop ended early, keeping the previous round's patch (see
    /// [`LoopResult::stopped`]).
    pub stopped: Option<String>,
    /// The round whose patch is reported (see [`LoopResult::round`]).
    pub result_round: usize,
    /// Constraints the verifier cannot check, with the reason.
    pub unverifiable: Vec<(String, String)>,
    pub rounds: Vec<Round>,
    pub test: TestMetrics,
}

/// An input box, as reported.
#[derive(Debug, Clone, Serialize)]
pub struct Domain {
    pub lower: Vec<f64>,
    pub upper: Vec<f64>,
}

impl JobReport {
    /// The report of the loop's `outcome` on `network` (layer `layer` repaired), with its
    /// patched network written to `patched_network`.
    pub fn new(
        network: PathBuf,
        patched_network: PathBuf,
        layer: usize,
        outcome: &LoopResult,
        test: TestMetrics,
        runtime_s: f64,
    ) -> Self {
        let last = &outcome.last;
        Self {
            network,
            patched_network,
            layer,
            repair_samples: outcome.samples.len(),
            runtime_s,
            status: last.status.to_string(),
            objective: last.objective,
            lower_bound: last.lower_bound,
            gap: last.gap,
            delta: last.delta,
            binaries: last.binaries,
            oa_iterations: last.iterations,
            repair_violations: last.violations.len(),
            verified: outcome.verified,
            verification_domain: None,
            stopped: outcome.stopped.clone(),
            result_round: outcome.round,
            unverifiable: outcome.unverifiable.clone(),
            rounds: outcome.rounds.clone(),
            test,
        }
    }
}

/// Why the job failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Nnet(#[from] NnetError),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Loop(#[from] LoopError),
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("writing {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Runs the job; `on_round` sees each round as it ends.
pub fn run(input: &JobInput, on_round: &mut dyn FnMut(&Round)) -> Result<JobReport, JobError> {
    let started = Instant::now();
    let mut config = PatchConfig::load(&input.config)?;
    let settings = &mut config.patch;
    if let Some(layer) = input.layer {
        settings.layer = Some(layer);
    }
    if let Some(rounds) = input.max_rounds {
        settings.max_rounds = rounds;
    }
    if let Some(samples) = input.samples {
        settings.samples = samples;
    }
    if let Some(seed) = input.seed {
        settings.seed = seed;
    }
    // The command line's overrides pass the same checks as the file's values.
    settings.validate().map_err(|message| JobError::Invalid {
        path: input.config.clone(),
        message: format!("after the command-line overrides: {message}"),
    })?;
    let file = read_nnet(&input.net)?;
    let net = &file.net;
    let constraints = config
        .constraints(net.input_dim(), net.output_dim())
        .map_err(|message| JobError::Invalid {
            path: input.config.clone(),
            message,
        })?;
    let settings = &config.patch;
    let data = read_samples(&input.data, net.input_dim(), net.output_dim())?;
    let mut sets = match &input.test_data {
        None => split(
            net,
            data,
            &constraints,
            settings.samples,
            settings.test,
            settings.violating_share,
            settings.seed,
        ),
        Some(path) => {
            let mut test = read_samples(path, net.input_dim(), net.output_dim())?;
            test.shuffle(&mut ChaCha8Rng::seed_from_u64(settings.seed));
            test.truncate(settings.test);
            let pool = data.clone();
            let repair = split(
                net,
                data,
                &constraints,
                settings.samples,
                0,
                settings.violating_share,
                settings.seed,
            )
            .repair;
            Split { repair, test, pool }
        }
    };
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| JobError::Io { path, source }
    };
    std::fs::create_dir_all(&input.out).map_err(io(&input.out))?;
    let mut resolved = config.clone();
    resolved.patch.layer = Some(settings.layer.unwrap_or(net.layers().len() - 1));
    let toml_text = toml::to_string_pretty(&resolved).expect("a PatchConfig serializes");
    let config_path = input.out.join("patch.toml");
    crate::atomic::write(&config_path, toml_text.as_bytes()).map_err(io(&config_path))?;

    let verifier = match settings.verifier {
        VerifierKind::Reach => Verifier::Reach,
        VerifierKind::Off => Verifier::Off,
        VerifierKind::Data => Verifier::Data {
            rows: std::mem::take(&mut sets.pool),
        },
        VerifierKind::Milp => Verifier::Milp {
            domain: InputSet::bounding_box(sets.test.iter().map(|s| s.input.as_slice()))
                .ok_or_else(|| JobError::Invalid {
                    path: input.data.clone(),
                    message: "no held-out test samples to take the verification domain from".into(),
                })?,
        },
    };
    let options = settings.loop_options(net.layers().len(), verifier);
    let mut metrics = Metrics::open(&input.out, None).map_err(io(&input.out))?;
    let mut log_error = None;
    let outcome = repair_loop(
        net,
        sets.repair.clone(),
        &constraints,
        &options,
        &mut |round| {
            let step = round.round as u64;
            for (tag, value) in round_scalars(round) {
                if let Err(e) = metrics.scalar(tag, value, step) {
                    log_error.get_or_insert(e);
                }
            }
            on_round(round);
        },
    )?;
    metrics.flush().map_err(io(&input.out))?;
    if let Some(e) = log_error {
        return Err(io(&input.out)(e));
    }
    let test_inputs: Vec<Vec<f64>> = sets.test.iter().map(|s| s.input.clone()).collect();
    let test = test_metrics(net, &outcome.net, &test_inputs, &constraints);
    let patched_path = input.out.join("patched.nnet");
    write_nnet(
        &patched_path,
        &NnetFile {
            net: outcome.net.clone(),
            normalization: file.normalization.clone(),
            comments: vec![format!(
                "{} patched by saferl (NNRepLayer, layer {})",
                input.net.display(),
                options.patch.layer
            )],
        },
    )?;
    let mut report = JobReport::new(
        input.net.clone(),
        patched_path,
        options.patch.layer,
        &outcome,
        test,
        started.elapsed().as_secs_f64(),
    );
    if let Verifier::Milp { domain } = &options.verifier {
        report.verification_domain = Some(Domain {
            lower: domain.lower.clone(),
            upper: domain.upper.clone(),
        });
    }
    let report_path = input.out.join("report.json");
    let json = serde_json::to_string_pretty(&report).expect("a report serializes");
    crate::atomic::write(&report_path, json.as_bytes()).map_err(io(&report_path))?;
    Ok(report)
}
