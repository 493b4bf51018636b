//! The training loop: environment → DDPG → logs and checkpoints.

use super::checkpoint::{Checkpoint, Counters};
use super::log::Metrics;
use super::repair_log;
use super::run::{Run, RunError};
use crate::repair::penalized::{Advance, RepairState, Repairer, RoundReport, RoundResult};
use crate::rl::eval::{EvalReport, Stream, episode_seed, evaluate, violates};
use crate::rl::{Ddpg, Noise, ReplayBuffer, Transition};
use crate::spec::Property;
use indicatif::ProgressBar;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use saferl_envs::Env;
use serde::Serialize;
use std::time::{Duration, Instant};

/// What finished training reports.
#[derive(Debug, Clone, Serialize)]
pub struct TrainStats {
    pub episodes: u64,
    pub env_steps: u64,
    pub updates: u64,
    pub wall_time_s: f64,
    pub final_eval: EvalReport,
}

/// A run being trained: all the state a checkpoint holds, plus the live logs.
pub struct Trainer {
    run: Run,
    env: Box<dyn Env>,
    agent: Ddpg,
    buffer: ReplayBuffer,
    noise: Noise,
    rng: ChaCha8Rng,
    counters: Counters,
    best_eval_return: Option<f64>,
    properties: Vec<Property>,
    metrics: Metrics,
    repair: RepairState,
}

/// Sums over one episode, for its log line.
#[derive(Default)]
struct EpisodeStats {
    total_return: f64,
    steps: u64,
    violations: u64,
    updates: u64,
    critic_loss: f64,
    actor_loss: f64,
    update_time: Duration,
    wall_time: Duration,
}

impl Trainer {
    /// Starts a new run in `run.dir`.
    pub fn start(run: Run) -> Result<Self, RunError> {
        let mut rng = ChaCha8Rng::seed_from_u64(run.config.seed);
        let agent = run.new_agent(&mut rng);
        let env = run.env();
        let buffer = ReplayBuffer::new(
            run.config.train.buffer_capacity,
            env.observation_bounds().dim(),
            env.action_bounds().dim(),
        );
        let noise = Noise::new(&run.config.noise, env.action_bounds().dim());
        Self::from_parts(run, agent, buffer, noise, rng, Counters::default())
    }

    /// A trainer for `run` holding the given agent, experience and progress (no repair
    /// yet): how `saferl repair` takes over an agent trained elsewhere.
    pub fn from_parts(
        run: Run,
        agent: Ddpg,
        buffer: ReplayBuffer,
        noise: Noise,
        rng: ChaCha8Rng,
        counters: Counters,
    ) -> Result<Self, RunError> {
        let properties = run.properties()?;
        let env = run.env();
        let repair = RepairState::new(
            run.config.repair.buffer_capacity,
            env.observation_bounds().dim(),
            env.action_bounds().dim(),
        );
        let metrics = Metrics::open(&run.dir, None).map_err(|e| RunError::io(&run.dir, e))?;
        Ok(Self {
            env,
            agent,
            buffer,
            noise,
            rng,
            counters,
            best_eval_return: None,
            properties,
            metrics,
            repair,
            run,
        })
    }

    /// Continues `run` from its latest checkpoint (which must be short of `train.episodes`).
    pub fn resume(run: Run) -> Result<Self, RunError> {
        let (agent, checkpoint) = run.load_agent()?;
        let done = checkpoint.counters.episodes;
        // A run that stopped inside its final repair round still has that round to finish.
        if done >= run.config.train.episodes as u64 && checkpoint.repair.round.is_none() {
            return Err(RunError::Invalid(format!(
                "{} has already trained {done} episodes (train.episodes = {}): pass --episodes N with N > {done} to train longer",
                run.dir.display(),
                run.config.train.episodes
            )));
        }
        Self::from_checkpoint(run, agent, checkpoint)
    }

    /// A trainer continuing `run` from `checkpoint` (its latest, holding `agent`): the logs
    /// written after that checkpoint are rolled back, since that work is redone.
    pub fn from_checkpoint(
        run: Run,
        agent: Ddpg,
        checkpoint: Checkpoint,
    ) -> Result<Self, RunError> {
        let properties = run.properties()?;
        let env_steps = checkpoint.counters.env_steps;
        let covered = |tag: &str, step: u64| {
            repair_log::scalar_covered(tag, step, env_steps, &checkpoint.repair)
        };
        let metrics =
            Metrics::open(&run.dir, Some(&covered)).map_err(|e| RunError::io(&run.dir, e))?;
        repair_log::roll_back(&run.dir, &checkpoint.repair)
            .map_err(|e| RunError::io(&repair_log::jsonl_path(&run.dir), e))?;
        Ok(Self {
            env: run.env(),
            agent,
            buffer: checkpoint.buffer,
            noise: checkpoint.noise,
            rng: checkpoint.rng,
            counters: checkpoint.counters,
            best_eval_return: checkpoint.best_eval_return,
            properties,
            metrics,
            repair: checkpoint.repair,
            run,
        })
    }

    pub fn counters(&self) -> Counters {
        self.counters
    }

    pub fn agent(&self) -> &Ddpg {
        &self.agent
    }

    /// Trains until the config's episode count, checkpointing on the way.
    pub fn run(&mut self, progress: &ProgressBar) -> Result<TrainStats, RunError> {
        let started = Instant::now();
        let total = self.run.config.train.episodes as u64;
        progress.set_length(total);
        progress.set_position(self.counters.episodes);
        if self.repair.round.is_some() {
            // Resumed in the middle of a repair round: finish it first.
            self.continue_repair_round(progress)?;
        }
        while self.counters.episodes < total {
            let stats = self.episode();
            self.counters.episodes += 1;
            self.log_episode(&stats)?;
            let t = &self.run.config.train;
            let episode = self.counters.episodes;
            if t.eval_every > 0 && episode.is_multiple_of(t.eval_every as u64) && episode < total {
                let report = self.evaluate_greedy(t.eval_episodes);
                self.log_eval(&report)?;
                self.keep_if_best(&report)?;
                progress.set_message(format!("eval return {:.1}", report.return_mean));
            }
            let r = &self.run.config.repair;
            let due = episode.is_multiple_of(r.every_episodes as u64) || episode == total;
            if r.enabled && due && episode >= r.start_episode as u64 {
                self.repair_round(progress)?;
            }
            if episode.is_multiple_of(self.run.config.train.checkpoint_every as u64)
                || episode == total
            {
                self.checkpoint()?;
            }
            progress.inc(1);
        }
        let final_eval = self.evaluate_greedy(self.run.config.train.eval_episodes);
        self.log_eval(&final_eval)?;
        self.keep_if_best(&final_eval)?;
        self.metrics
            .flush()
            .map_err(|e| RunError::io(&self.run.dir, e))?;
        Ok(TrainStats {
            episodes: self.counters.episodes,
            env_steps: self.counters.env_steps,
            updates: self.counters.updates,
            wall_time_s: started.elapsed().as_secs_f64(),
            final_eval,
        })
    }

    /// One training episode: act with exploration, store, update.
    fn episode(&mut self) -> EpisodeStats {
        let t = self.run.config.train.clone();
        let seed = episode_seed(self.run.config.seed, Stream::Train, self.counters.episodes);
        let mut observation = self.env.reset(seed);
        let mut stats = EpisodeStats::default();
        let started = Instant::now();
        let act_dim = self.agent.act_dim();
        loop {
            let normalized: Vec<f64> = if self.counters.env_steps < t.warmup_steps as u64 {
                (0..act_dim)
                    .map(|_| self.rng.random_range(-1.0..=1.0))
                    .collect()
            } else {
                let greedy = self.agent.act_normalized(&observation);
                let noise = self.noise.sample(&mut self.rng);
                greedy
                    .iter()
                    .zip(&noise)
                    .map(|(a, n)| (a + n).clamp(-1.0, 1.0))
                    .collect()
            };
            let action = self.agent.scaling().to_env(&normalized);
            stats.violations += u64::from(violates(&self.properties, &observation, &action));
            let step = self.env.step(&action);
            self.buffer.push(&Transition {
                observation: &observation,
                action: &normalized,
                reward: step.reward,
                next_observation: &step.observation,
                terminal: step.terminated,
            });
            self.counters.env_steps += 1;
            stats.steps += 1;
            stats.total_return += step.reward;
            if self.buffer.len() >= t.learning_starts.max(t.batch_size) {
                let clock = Instant::now();
                for _ in 0..t.updates_per_step {
                    let batch = self.buffer.sample(t.batch_size, &mut self.rng);
                    let losses = self.agent.update(&batch);
                    stats.critic_loss += f64::from(losses.critic);
                    stats.actor_loss += f64::from(losses.actor);
                    stats.updates += 1;
                }
                stats.update_time += clock.elapsed();
                self.counters.updates += t.updates_per_step as u64;
            }
            if step.terminated || step.truncated {
                break;
            }
            observation = step.observation;
        }
        self.noise.end_episode();
        stats.wall_time = started.elapsed();
        stats
    }

    fn log_episode(&mut self, stats: &EpisodeStats) -> Result<(), RunError> {
        let step = self.counters.env_steps;
        let mut scalars = vec![
            ("train/episode_return", stats.total_return),
            ("train/episode_length", stats.steps as f64),
            ("train/noise_sigma", self.noise.sigma()),
            (
                "safety/violation_rate",
                stats.violations as f64 / stats.steps.max(1) as f64,
            ),
            // Acting, stepping and learning together: the rate a user waits on.
            (
                "perf/env_steps_per_s",
                stats.steps as f64 / stats.wall_time.as_secs_f64().max(1e-9),
            ),
        ];
        if stats.updates > 0 {
            let n = stats.updates as f64;
            let secs = stats.update_time.as_secs_f64().max(1e-9);
            scalars.extend([
                ("loss/critic", stats.critic_loss / n),
                ("loss/actor", stats.actor_loss / n),
                ("perf/updates_per_s", n / secs),
            ]);
        }
        self.write(&scalars, step)
    }

    fn log_eval(&mut self, report: &EvalReport) -> Result<(), RunError> {
        let mut scalars = vec![
            ("eval/return_mean", report.return_mean),
            ("eval/return_std", report.return_std),
            ("eval/violation_rate", report.violation_rate),
        ];
        scalars.extend(report.success_rate.map(|rate| ("eval/success_rate", rate)));
        self.write(&scalars, self.counters.env_steps)
    }

    /// DDPG often peaks and then degrades: keep the actor of the best evaluation so far.
    fn keep_if_best(&mut self, report: &EvalReport) -> Result<(), RunError> {
        if self
            .best_eval_return
            .is_some_and(|best| best >= report.return_mean)
        {
            return Ok(());
        }
        let path = self.run.best_actor_path();
        self.run
            .write_policy(&self.agent.policy(), &path)
            .map_err(|e| RunError::Invalid(e.to_string()))?;
        self.best_eval_return = Some(report.return_mean);
        Ok(())
    }

    fn write(&mut self, scalars: &[(&str, f64)], step: u64) -> Result<(), RunError> {
        for (tag, value) in scalars {
            self.metrics
                .scalar(tag, *value, step)
                .map_err(|e| RunError::io(&self.run.dir, e))?;
        }
        Ok(())
    }

    /// Greedy episodes on evaluation seeds (they never touch the training RNG).
    pub fn evaluate_greedy(&mut self, episodes: usize) -> EvalReport {
        let policy = self.agent.policy();
        let seed = self.run.config.seed;
        evaluate(
            &policy,
            self.env.as_mut(),
            &self.properties,
            (0..episodes as u64).map(|i| episode_seed(seed, Stream::Eval, i)),
        )
    }

    /// A repair round: exact reachability of the actor on every property; if it is not
    /// proved safe, penalized passes from its unsafe vertices until it is (see
    /// [`crate::repair::penalized::round`]), checkpointing after every pass.
    pub fn repair_round(&mut self, progress: &ProgressBar) -> Result<RoundResult, RunError> {
        progress.set_message("verifying");
        let mut repairer = Repairer {
            options: &self.run.config.repair,
            seed: self.run.config.seed,
            env: self.env.as_mut(),
            properties: &self.properties,
        };
        let check = repairer
            .check(&self.agent.policy())
            .map_err(|e| RunError::Invalid(format!("repair: {e}")))?;
        let scalars = repair_log::safety_scalars(&check);
        if check.verified() {
            self.write(&scalars, self.counters.env_steps)?;
            progress.println(format!(
                "episode {}: verified safe ({}, {:.1} s)",
                self.counters.episodes,
                check.verdicts(),
                check.seconds
            ));
            return Ok(RoundResult {
                verdicts_before: check.verdicts(),
                report: None,
            });
        }
        progress.set_message("measuring the return before repair");
        repairer.open(&self.agent, &check, &mut self.repair);
        self.write(&scalars, self.counters.env_steps)?;
        self.checkpoint()?;
        let report = self.continue_repair_round(progress)?;
        Ok(RoundResult {
            verdicts_before: check.verdicts(),
            report: Some(report),
        })
    }

    /// Runs the open repair round to its end.
    ///
    /// # Panics
    /// If no round is open.
    pub fn continue_repair_round(
        &mut self,
        progress: &ProgressBar,
    ) -> Result<RoundReport, RunError> {
        loop {
            if let Some(round) = &self.repair.round {
                progress.set_message(format!(
                    "repairing: round {}, pass {} ({:?})",
                    self.repair.rounds + 1,
                    round.passes + round.replay_rounds + 1,
                    round.phase
                ));
            }
            let mut repairer = Repairer {
                options: &self.run.config.repair,
                seed: self.run.config.seed,
                env: self.env.as_mut(),
                properties: &self.properties,
            };
            let advance = repairer
                .advance(
                    &mut self.agent,
                    &self.buffer,
                    &mut self.repair,
                    &mut self.rng,
                )
                .map_err(|e| RunError::Invalid(format!("repair: {e}")))?;
            let dir = self.run.dir.clone();
            match advance {
                Advance::Pass(pass) => {
                    self.write(&repair_log::pass_scalars(&pass), pass.pass)?;
                    repair_log::append_pass(&dir, &pass)
                        .map_err(|e| RunError::io(&repair_log::jsonl_path(&dir), e))?;
                    self.checkpoint()?;
                }
                Advance::Done(report) => {
                    self.write(&repair_log::round_scalars(&report), self.counters.env_steps)?;
                    repair_log::append_round(&dir, &report)
                        .map_err(|e| RunError::io(&repair_log::jsonl_path(&dir), e))?;
                    progress.println(repair_log::round_line(&report));
                    self.checkpoint()?;
                    return Ok(*report);
                }
            }
        }
    }

    /// The states of the replay buffer (the patch's samples of what the agent has seen).
    pub fn replay_states(&self) -> Vec<Vec<f64>> {
        self.buffer.observations().collect()
    }

    /// The live logs, for jobs that add their own scalars to the run.
    pub fn metrics(&mut self) -> &mut Metrics {
        &mut self.metrics
    }

    /// The run this trainer writes to.
    pub fn opened_run(&self) -> &Run {
        &self.run
    }

    /// Repair progress: the round under way and the last one finished.
    pub fn repair_state(&self) -> &RepairState {
        &self.repair
    }

    /// Flushes the logs and writes the checkpoint.
    pub fn checkpoint(&mut self) -> Result<(), RunError> {
        self.metrics
            .flush()
            .map_err(|e| RunError::io(&self.run.dir, e))?;
        let checkpoint = Checkpoint {
            counters: self.counters,
            agent: self.agent.state(),
            buffer: self.buffer.clone(),
            noise: self.noise.clone(),
            rng: self.rng.clone(),
            best_eval_return: self.best_eval_return,
            repair: self.repair.clone(),
        };
        checkpoint.save(&self.run.checkpoint_path())?;
        Ok(())
    }
}
