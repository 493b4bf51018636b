//! `saferl repair`: the paper's offline setting. A trained agent (a run's latest
//! checkpoint with its replay buffer, or a bare `.nnet` actor whose critic is first trained
//! on fresh experience) is repaired in a new run directory until verified safe with its
//! return kept.

use super::agent::{state_with_actor, with_learning_rates};
use super::round::RoundReport;
use crate::checkpoint::{Checkpoint, Counters};
use crate::nn::ReluNet;
use crate::rl::{Ddpg, Noise, ReplayBuffer, Transition};
use crate::run::{Run, RunError};
use crate::train::Trainer;
use indicatif::ProgressBar;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

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
    /// Critic warm-up (`--net` only) and total wall time.
    pub warmup_s: f64,
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
    let started = Instant::now();
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
    finish(trainer, source, 0.0, started, progress)
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
    let started = Instant::now();
    check_actor_shape(net_path, net, &run)?;
    let mut rng = ChaCha8Rng::seed_from_u64(run.config.seed);
    let fresh = run.new_agent(&mut rng);
    let state = state_with_actor(&run, &fresh, net);
    let mut agent = with_learning_rates(&run, &state, 0.0, run.config.train.critic_lr)
        .map_err(|e| RunError::Invalid(format!("{}: {e}", net_path.display())))?;
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
    let mut trained = run.new_agent(&mut ChaCha8Rng::seed_from_u64(run.config.seed));
    trained
        .restore(&agent.state())
        .map_err(|e| RunError::Invalid(e.to_string()))?;
    let trainer = Trainer::from_parts(run, trained, buffer, noise, rng, counters)?;
    finish(trainer, net_path, warmup_s, started, progress)
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
    use crate::eval::{Stream, episode_seed};
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

/// Runs the repair round, then writes the repaired actor and `repair.json`.
fn finish(
    mut trainer: Trainer,
    source: &Path,
    warmup_s: f64,
    started: Instant,
    progress: &ProgressBar,
) -> Result<RepairSummary, RunError> {
    let result = trainer.repair_round(progress)?;
    let run = trainer.opened_run().clone();
    let (verdicts_after, verified_after) = match &result.report {
        Some(report) => (report.verdicts.clone(), report.verified),
        None => (result.verdicts_before.clone(), true),
    };
    let actor = run.dir.join("repaired-actor.nnet");
    run.write_policy(&trainer.agent().policy(), &actor)
        .map_err(|e| RunError::Invalid(e.to_string()))?;
    let summary = RepairSummary {
        source: source.to_path_buf(),
        verdicts_before: result.verdicts_before,
        round: result.report,
        verdicts_after,
        verified_after,
        warmup_s,
        wall_time_s: started.elapsed().as_secs_f64(),
        actor,
    };
    let path = run.dir.join("repair.json");
    let json = serde_json::to_string_pretty(&summary).expect("summary serializes");
    crate::atomic::write(&path, json.as_bytes()).map_err(|e| RunError::io(&path, e))?;
    Ok(summary)
}
