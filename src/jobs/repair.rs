//! `saferl repair`: the paper's offline setting. A trained agent (a run's latest
//! checkpoint with its replay buffer, or a bare `.nnet` actor whose critic is first trained
//! on fresh experience) is repaired in a new run directory until verified safe with its
//! return kept.
//!
//! Once the agent is taken over (and its critic warmed up), the job checkpoints it and
//! records itself in `repair-job.json`; from then on `saferl repair --resume` continues it
//! from the latest checkpoint, like `saferl train --resume`.

use crate::nn::ReluNet;
use crate::repair::penalized::{RoundReport, RoundResult};
use crate::rl::{Ddpg, Noise, ReplayBuffer, Transition};
use crate::session::checkpoint::{Checkpoint, Counters};
use crate::session::run::{Run, RunError};
use crate::session::trainer::Trainer;
use indicatif::ProgressBar;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What a repair job repairs, recorded in its run directory for `--resume`.
const JOB_FILE: &str = "repair-job.json";
/// The summary of a finished job.
const SUMMARY_FILE: &str = "repair.json";

/// The contents of [`JOB_FILE`]: what the summary needs that the checkpoint lacks.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Job {
    source: PathBuf,
    warmup_s: f64,
}

/// What `saferl repair` reports (also written to `repair.json`).
#[derive(Debug, Clone, Serialize)]
pub struct RepairSummary {
    /// The run or network repaired.
    pub source: PathBuf,
    /// Verdict per property before repair, `name=verdict …`.
    pub verdicts_before: String,
    /// The round, or `None` when the actor was already verified safe.
    pub round: Option<RoundReport>,
    /// Verdict per property after repair.
    pub verdicts_after: String,
    pub verified_after: bool,
    /// Critic warm-up (`--net` only).
    pub warmup_s: f64,
    /// Warm-up plus repair: the round's own time, which a resumed round carries over
    /// (without a round, the safety check's).
    pub wall_time_s: f64,
    /// The repaired actor.
    pub actor: PathBuf,
}

/// Repairs the agent of `checkpoint`, the latest of the run in `source` (actor, critic,
/// optimizer state, replay buffer), in the new run `run`.
pub fn repair_run(
    source: &Path,
    checkpoint: Checkpoint,
    run: Run,
    progress: &ProgressBar,
) -> Result<RepairSummary, RunError> {
    let mut agent = run.new_agent(&mut ChaCha8Rng::seed_from_u64(run.config.seed));
    agent
        .restore(&checkpoint.agent)
        .map_err(|source_error| RunError::State {
            path: source.join("checkpoint.bin"),
            source: source_error,
        })?;
    let trainer = Trainer::from_parts(
        run,
        agent,
        checkpoint.buffer,
        checkpoint.noise,
        checkpoint.rng,
        checkpoint.counters,
    )?;
    let job = Job {
        source: source.to_path_buf(),
        warmup_s: 0.0,
    };
    start(trainer, job, progress)
}

/// Repairs the actor `net` in the new run `run`: a fresh critic is first trained with the
/// actor frozen on `repair.critic_warmup_episodes` episodes of its own (noisy) experience,
/// which also become the replay buffer repair draws from.
pub fn repair_net(
    net_path: &Path,
    net: &ReluNet,
    run: Run,
    progress: &ProgressBar,
) -> Result<RepairSummary, RunError> {
    check_actor_shape(net_path, net, &run)?;
    let mut rng = ChaCha8Rng::seed_from_u64(run.config.seed);
    let mut agent = run.new_agent(&mut rng);
    agent
        .replace_actor(net)
        .map_err(|e| RunError::Invalid(format!("{}: {e}", net_path.display())))?;
    // The actor is frozen while the critic learns.
    agent.set_learning_rates(0.0, run.config.train.critic_lr);
    let env_dims = {
        let env = run.env();
        (env.observation_bounds().dim(), env.action_bounds().dim())
    };
    let mut buffer = ReplayBuffer::new(run.config.train.buffer_capacity, env_dims.0, env_dims.1);
    let mut noise = Noise::new(&run.config.noise, env_dims.1);
    progress.set_message("training the critic on fresh experience");
    let warmup = Instant::now();
    let counters = warm_up_critic(&run, &mut agent, &mut buffer, &mut noise, &mut rng);
    let warmup_s = warmup.elapsed().as_secs_f64();
    // Back to the training learning rates; repair rounds switch to their own.
    agent.set_learning_rates(run.config.train.actor_lr, run.config.train.critic_lr);
    let trainer = Trainer::from_parts(run, agent, buffer, noise, rng, counters)?;
    let job = Job {
        source: net_path.to_path_buf(),
        warmup_s,
    };
    start(trainer, job, progress)
}

/// Continues the repair job in `run` from its latest checkpoint (logs written after it
/// are rolled back) to the same outputs as an uninterrupted job.
pub fn resume(run: Run, progress: &ProgressBar) -> Result<RepairSummary, RunError> {
    let job = read_job(&run.dir)?;
    let summary = run.dir.join(SUMMARY_FILE);
    if summary.exists() {
        return Err(RunError::Invalid(format!(
            "{}: this repair has finished ({} exists)",
            run.dir.display(),
            summary.display()
        )));
    }
    let (agent, checkpoint) = run.load_agent()?;
    let trainer = Trainer::from_checkpoint(run, agent, checkpoint)?;
    complete(trainer, &job, progress)
}

/// Whether `dir` holds a repair job that has not finished (which `saferl train --resume`
/// would wrongly continue as a training run).
pub fn is_unfinished(dir: &Path) -> bool {
    dir.join(JOB_FILE).exists() && !dir.join(SUMMARY_FILE).exists()
}

/// Checkpoints the agent just taken over, then records the job: from here on the job
/// can be resumed.
fn start(
    mut trainer: Trainer,
    job: Job,
    progress: &ProgressBar,
) -> Result<RepairSummary, RunError> {
    trainer.checkpoint()?;
    let path = trainer.opened_run().dir.join(JOB_FILE);
    let json = serde_json::to_string_pretty(&job).expect("a job serializes");
    crate::atomic::write(&path, json.as_bytes()).map_err(|e| RunError::io(&path, e))?;
    complete(trainer, &job, progress)
}

fn read_job(dir: &Path) -> Result<Job, RunError> {
    let path = dir.join(JOB_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => RunError::Invalid(format!(
            "{} has no {JOB_FILE}: it is not a `saferl repair` run, or one stopped before its first checkpoint (start it again)",
            dir.display()
        )),
        _ => RunError::io(&path, e),
    })?;
    serde_json::from_str(&text).map_err(|e| RunError::Invalid(format!("{}: {e}", path.display())))
}

/// Checks that `net` has the shape of `run`'s actor (inputs and layer widths).
pub fn check_actor_shape(net_path: &Path, net: &ReluNet, run: &Run) -> Result<(), RunError> {
    let env = run.env();
    let mut expected = run.config.actor.hidden.clone();
    expected.push(env.action_bounds().dim());
    let got: Vec<usize> = net.layers().iter().map(|l| l.outputs()).collect();
    let inputs = env.observation_bounds().dim();
    if net.input_dim() != inputs || got != expected {
        return Err(RunError::Invalid(format!(
            "{}: the network has {} inputs and layer widths {got:?}; the config's actor has {inputs} inputs and {expected:?}",
            net_path.display(),
            net.input_dim(),
        )));
    }
    Ok(())
}

/// Noisy episodes of the frozen actor (`agent` learns with actor rate 0), one critic
/// update per step once a batch is available.
fn warm_up_critic(
    run: &Run,
    agent: &mut Ddpg,
    buffer: &mut ReplayBuffer,
    noise: &mut Noise,
    rng: &mut ChaCha8Rng,
) -> Counters {
    use crate::rl::eval::{Stream, episode_seed};
    let t = &run.config.train;
    let mut env = run.env();
    let mut counters = Counters::default();
    for episode in 0..run.config.repair.critic_warmup_episodes as u64 {
        let mut observation = env.reset(episode_seed(run.config.seed, Stream::Train, episode));
        loop {
            let greedy = agent.act_normalized(&observation);
            let normalized: Vec<f64> = greedy
                .iter()
                .zip(noise.sample(rng))
                .map(|(a, n)| (a + n).clamp(-1.0, 1.0))
                .collect();
            let step = env.step(&agent.scaling().to_env(&normalized));
            buffer.push(&Transition {
                observation: &observation,
                action: &normalized,
                reward: step.reward,
                next_observation: &step.observation,
                terminal: step.terminated,
            });
            counters.env_steps += 1;
            if buffer.len() >= t.batch_size {
                agent.update(&buffer.sample(t.batch_size, rng));
                counters.updates += 1;
            }
            if step.terminated || step.truncated {
                break;
            }
            observation = step.observation;
        }
        noise.end_episode();
        counters.episodes += 1;
    }
    counters
}

/// The job's round: the one under way, the one a crash interrupted before the outputs
/// were written, or (in a job just started) a new one if the actor is not verified safe.
fn round_result(trainer: &mut Trainer, progress: &ProgressBar) -> Result<RoundResult, RunError> {
    let state = trainer.repair_state();
    let report = if state.round.is_some() {
        trainer.continue_repair_round(progress)?
    } else if let Some(report) = &state.last_round {
        report.clone()
    } else {
        return trainer.repair_round(progress);
    };
    Ok(RoundResult {
        verdicts_before: report.verdicts_before.clone(),
        report: Some(report),
    })
}

/// Runs the job's round to its end, then writes the repaired actor and `repair.json`.
fn complete(
    mut trainer: Trainer,
    job: &Job,
    progress: &ProgressBar,
) -> Result<RepairSummary, RunError> {
    let session = Instant::now();
    let result = round_result(&mut trainer, progress)?;
    let run = trainer.opened_run().clone();
    let (verdicts_after, verified_after) = match &result.report {
        Some(report) => (report.verdicts.clone(), report.verified),
        None => (result.verdicts_before.clone(), true),
    };
    let actor = run.dir.join("repaired-actor.nnet");
    run.write_policy(&trainer.agent().policy(), &actor)
        .map_err(|e| RunError::Invalid(e.to_string()))?;
    let repair_s = result
        .report
        .as_ref()
        .map_or_else(|| session.elapsed().as_secs_f64(), |r| r.wall_s);
    let summary = RepairSummary {
        source: job.source.clone(),
        verdicts_before: result.verdicts_before,
        round: result.report,
        verdicts_after,
        verified_after,
        warmup_s: job.warmup_s,
        wall_time_s: job.warmup_s + repair_s,
        actor,
    };
    let path = run.dir.join(SUMMARY_FILE);
    let json = serde_json::to_string_pretty(&summary).expect("summary serializes");
    crate::atomic::write(&path, json.as_bytes()).map_err(|e| RunError::io(&path, e))?;
    Ok(summary)
}
